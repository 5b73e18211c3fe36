"""The ledger's write path: idempotent, checked, atomic posting of transactions."""

from __future__ import annotations

import json
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import Connection, Engine, select, text

from liangrong.domain import accounts as acc
from liangrong.domain import journal as dj
from liangrong.domain import moves
from liangrong.domain.journal import BalanceKey, Transaction
from liangrong.domain.moves import MoveBatch, Opening, PreparedMoves
from liangrong.domain.rejections import LedgerCode, Rejection
from liangrong.ledger import schema as s

Clock = Callable[[], datetime]
MAX_BATCH_TRANSACTIONS = 10_000
MAX_CACHED_BALANCES = 2_000_000


@dataclass(frozen=True, slots=True)
class PostResult:
    command_id: str
    seq: int
    replayed: bool  # True: this id was already applied with the same payload; nothing changed


@dataclass(frozen=True, slots=True)
class CreditAccountOpening:
    """One credit securities account to open (``Ledger.open_credit_accounts``)."""

    command_id: str
    client_id: str
    exchange: str
    holder_name: str
    ordinary_holder_name: str
    opened_on: date

    @property
    def content(self) -> tuple[str, str, str, date]:
        """What a replay of the command must repeat."""
        return (self.client_id, self.exchange, self.holder_name, self.opened_on)

    def check_shape(self) -> None:
        if self.holder_name != self.ordinary_holder_name:
            raise Rejection(
                LedgerCode.HOLDER_NAME_MISMATCH,
                f"{self.holder_name!r} != {self.ordinary_holder_name!r}",
            )
        if self.exchange not in ("SH", "SZ"):
            raise Rejection(LedgerCode.INVALID_COMMAND, f"exchange {self.exchange!r}")


class Ledger:
    """The journal over one store.  Not thread-safe; one writer per process."""

    def __init__(self, engine: Engine, clock: Clock) -> None:
        self.engine = engine
        self._clock = clock
        self._open_clients: set[str] = set()
        # Balances as of journal seq ``_cache_seq``; valid only while no other writer has
        # appended since (checked under the write lock before every use).
        self._balance_cache: dict[BalanceKey, int] = {}
        self._cache_seq: int | None = None

    # -- credit accounts (ACC-2) ---------------------------------------------------------
    def open_credit_account(
        self,
        command_id: str,
        client_id: str,
        exchange: str,
        holder_name: str,
        ordinary_holder_name: str,
        opened_on: date,
    ) -> bool:
        """Open a client's credit securities account on one exchange (and with the first one,
        the credit cash account).  Returns False when this command was already applied."""
        if holder_name != ordinary_holder_name:
            raise Rejection(
                LedgerCode.HOLDER_NAME_MISMATCH, f"{holder_name!r} != {ordinary_holder_name!r}"
            )
        if exchange not in ("SH", "SZ"):
            raise Rejection(LedgerCode.INVALID_COMMAND, f"exchange {exchange!r}")
        with self.engine.begin() as conn:
            row = conn.execute(
                select(s.credit_accounts).where(s.credit_accounts.c.command_id == command_id)
            ).first()
            if row is not None:
                same = (row.client_id, row.exchange, row.holder_name, row.opened_on) == (
                    client_id,
                    exchange,
                    holder_name,
                    opened_on,
                )
                if not same:
                    raise Rejection(LedgerCode.IDEMPOTENCY_CONFLICT, command_id)
                return False
            names = conn.execute(
                select(s.credit_accounts.c.exchange, s.credit_accounts.c.holder_name).where(
                    s.credit_accounts.c.client_id == client_id
                )
            ).all()
            if any(ex == exchange for ex, _ in names):
                raise Rejection(LedgerCode.CREDIT_ACCOUNT_EXISTS, f"{client_id} on {exchange}")
            if any(name != holder_name for _, name in names):
                raise Rejection(LedgerCode.HOLDER_NAME_MISMATCH, f"{client_id} has another name")
            conn.execute(
                s.credit_accounts.insert().values(
                    client_id=client_id,
                    exchange=exchange,
                    holder_name=holder_name,
                    command_id=command_id,
                    opened_on=opened_on,
                    recorded_at=self._now(),
                )
            )
        self._open_clients.add(client_id)
        return True

    def open_credit_accounts(self, openings: Sequence[CreditAccountOpening]) -> int:
        """Open many credit accounts in one transaction, with every check of
        ``open_credit_account``: all or none.  A command already applied with the same
        content is skipped; returns how many accounts were new."""
        for opening in openings:
            opening.check_shape()
        with self.engine.begin() as conn:
            applied = {
                row.command_id: (row.client_id, row.exchange, row.holder_name, row.opened_on)
                for row in _credit_rows(conn, "command_id", [o.command_id for o in openings])
            }
            stored = _credit_rows(conn, "client_id", [o.client_id for o in openings])
            accounts = {(row.client_id, row.exchange) for row in stored}
            names = {row.client_id: row.holder_name for row in stored}
            new: list[CreditAccountOpening] = []
            for o in openings:
                if o.command_id in applied:
                    if applied[o.command_id] != o.content:
                        raise Rejection(LedgerCode.IDEMPOTENCY_CONFLICT, o.command_id)
                    continue
                if (o.client_id, o.exchange) in accounts:
                    raise Rejection(
                        LedgerCode.CREDIT_ACCOUNT_EXISTS, f"{o.client_id} on {o.exchange}"
                    )
                if names.setdefault(o.client_id, o.holder_name) != o.holder_name:
                    raise Rejection(
                        LedgerCode.HOLDER_NAME_MISMATCH, f"{o.client_id} has another name"
                    )
                accounts.add((o.client_id, o.exchange))
                applied[o.command_id] = o.content  # a repeat later in the batch is a replay
                new.append(o)
            if new:
                recorded_at = self._now()
                conn.execute(
                    s.credit_accounts.insert(),
                    [
                        {
                            "client_id": o.client_id,
                            "exchange": o.exchange,
                            "holder_name": o.holder_name,
                            "command_id": o.command_id,
                            "opened_on": o.opened_on,
                            "recorded_at": recorded_at,
                        }
                        for o in new
                    ],
                )
        self._open_clients.update(o.client_id for o in openings)
        return len(new)

    def _open_check(self, conn: Connection, txns: Sequence[Transaction]) -> Callable[[str], bool]:
        """Whether a client's credit account is open, for one batch: the first client not
        yet known makes one bulk query for every client the batch names (not one each)."""
        asked_batch = False

        def is_open(client_id: str) -> bool:
            nonlocal asked_batch
            if client_id in self._open_clients:
                return True
            named = {client_id}
            if not asked_batch:
                asked_batch = True
                named |= _clients_named(txns)
            self._learn_open(conn, named)
            return client_id in self._open_clients

        return is_open

    def _learn_open(self, conn: Connection, client_ids: Iterable[str]) -> None:
        """Remember which of these clients have a credit account (one query per chunk).
        Only open clients are remembered: an account, once opened, is never removed from
        ``credit_accounts`` (append-only), so the set never holds a client that is not open;
        a client opened later by another writer is simply not in it yet and is asked for."""
        unknown = sorted({c for c in client_ids if c not in self._open_clients})
        if len(unknown) > s.KEY_CHUNK:  # a large batch's: one range of the key, not chunks
            mark = s.marker(conn)
            asks: list[tuple[str, tuple[str, ...]]] = [
                (f"client_id >= {mark} AND client_id <= {mark}", (unknown[0], unknown[-1]))
            ]
        else:
            asks = [
                (f"client_id IN ({s.markers(conn, len(chunk))})", tuple(chunk))
                for chunk in s.key_chunks(unknown)
            ]
        for where, keys in asks:
            sql = f"SELECT DISTINCT client_id FROM credit_accounts WHERE {where}"
            cursor = conn.exec_driver_sql(sql, keys).cursor  # maybe many rows: driver tuples
            assert cursor is not None
            self._open_clients.update(client for (client,) in cursor.fetchall())

    # -- posting ---------------------------------------------------------------------------
    def post(self, txn: Transaction) -> PostResult:
        return self.post_batch([txn])[0]

    def post_batch(self, txns: Sequence[Transaction]) -> list[PostResult]:
        """Post every transaction or none (one commit).  A replayed id changes nothing."""
        if len(txns) > MAX_BATCH_TRANSACTIONS:
            raise Rejection(LedgerCode.INVALID_COMMAND, f"batch above {MAX_BATCH_TRANSACTIONS}")
        with self.engine.begin() as conn:
            self._lock(conn)
            results, new_balances, last_seq = self._post_locked(conn, txns)
        self._remember(new_balances, last_seq)
        return results

    def post_moves(self, batch: MoveBatch) -> list[PostResult]:
        """Post a batch of simple moves, all or none: what ``post_batch`` would do with
        ``batch.transactions()`` (the same checks, rows and results), proved column by
        column.  A batch the columns do not prove (a replay, a rejection, a shape they do
        not cover) is posted one by one, which says exactly what is wrong."""
        return self._post_columns(
            len(batch), lambda conn: moves.prepare(batch, last_seq(conn) + 1), batch.transactions
        )

    def post_prepared(self, prepared: PreparedMoves) -> list[PostResult]:
        """``post_moves`` of the batch ``prepared`` was made from (``moves.prepare``, run
        anywhere, ahead of time): the rows are renumbered if the journal moved since, and a
        batch they do not prove is rebuilt and posted one by one."""
        return self._post_columns(
            len(prepared.headers), lambda conn: prepared, lambda: prepared.batch().transactions()
        )

    def _post_columns(
        self,
        size: int,
        prepare: Callable[[Connection], PreparedMoves],
        one_by_one: Callable[[], Sequence[Transaction]],
    ) -> list[PostResult]:
        """A batch's prepared rows posted under the lock, or, when they prove nothing, its
        transactions one by one."""
        if size > MAX_BATCH_TRANSACTIONS:
            raise Rejection(LedgerCode.INVALID_COMMAND, f"batch above {MAX_BATCH_TRANSACTIONS}")
        with self.engine.begin() as conn:
            self._lock(conn)
            posted = self._post_prepared_locked(conn, prepare(conn))
            if posted is None:
                posted = self._post_locked(conn, one_by_one())
            results, new_balances, seq = posted
        self._remember(new_balances, seq)
        return results

    def _remember(self, new_balances: dict[BalanceKey, int], seq: int) -> None:
        # Committed: only now may the cache learn the new balances.
        if len(self._balance_cache) > MAX_CACHED_BALANCES:
            self._balance_cache.clear()
        self._balance_cache.update(new_balances)
        self._cache_seq = seq

    def _lock(self, conn: Connection) -> None:
        # SQLite took the write lock at BEGIN IMMEDIATE; PostgreSQL needs it said.
        if conn.dialect.name == "postgresql":
            conn.execute(text("SELECT pg_advisory_xact_lock(7171)"))

    def _post_locked(
        self, conn: Connection, txns: Sequence[Transaction]
    ) -> tuple[list[PostResult], dict[BalanceKey, int], int]:
        known = self._known_commands(conn, [t.command_id for t in txns])
        seq = self._synced_seq(conn)
        pending: list[tuple[int, Transaction, str, str]] = []
        results: list[PostResult] = []
        batch_ids: dict[str, tuple[int, str]] = {}
        is_open = self._open_check(conn, txns)
        for txn in txns:
            events_json = txn.events_json()
            digest = txn.payload_digest(events_json)
            previous = known.get(txn.command_id) or batch_ids.get(txn.command_id)
            if previous is not None:
                if previous[1] != digest:
                    raise Rejection(LedgerCode.IDEMPOTENCY_CONFLICT, txn.command_id)
                results.append(PostResult(txn.command_id, previous[0], True))
                continue
            dj.validate(txn, is_open)
            seq += 1
            batch_ids[txn.command_id] = (seq, digest)
            pending.append((seq, txn, digest, events_json))
            results.append(PostResult(txn.command_id, seq, False))
        new_balances: dict[BalanceKey, int] = {}
        if pending:
            new_balances = self._apply_all(conn, [t for _, t, _, _ in pending])
            self._write(
                conn,
                [_header(*item) for item in pending],
                list(_posting_rows(pending)),
                new_balances,
                moves.openings_of((seq, txn.events) for seq, txn, _, _ in pending),
            )
        return results, new_balances, seq

    def _post_prepared_locked(
        self, conn: Connection, prepared: PreparedMoves
    ) -> tuple[list[PostResult], dict[BalanceKey, int], int] | None:
        """``_post_locked`` for a prepared batch, or ``None`` when its columns prove
        nothing."""
        clients = prepared.clients
        if clients is None or self._known_commands(conn, prepared.command_ids):
            return None
        self._learn_open(conn, clients)
        if not clients <= self._open_clients:
            return None
        prepared = prepared.renumbered(self._synced_seq(conn) + 1)
        current = self._balances_of(conn, prepared.at_risk)
        balances = moves.apply_risky(prepared.risky, prepared.signs, current.__getitem__)
        if balances is None:
            return None
        self._write(conn, prepared.headers, prepared.postings, balances, prepared.openings)
        add_to_balances(conn, prepared.totals)
        cache = self._balance_cache  # valid at ``first - 1``: what it holds plus the change
        known = {
            key: cache[key] + change for key, change in prepared.totals.items() if key in cache
        }
        results = [PostResult(cid, seq, False) for seq, cid, *_ in prepared.headers]
        return results, balances | known, prepared.headers[-1][0]

    def _known_commands(self, conn: Connection, ids: list[str]) -> dict[str, tuple[int, str]]:
        found: dict[str, tuple[int, str]] = {}
        for chunk in s.key_chunks(sorted(set(ids))):
            rows = conn.exec_driver_sql(
                "SELECT command_id, seq, payload_digest FROM journal_transactions "
                f"WHERE command_id IN ({s.markers(conn, len(chunk))})",
                tuple(chunk),
            )
            found.update({cid: (seq, digest) for cid, seq, digest in rows})
        return found

    def _synced_seq(self, conn: Connection) -> int:
        """The journal's last sequence number; the balance cache is dropped if it is not
        the one the cache was learnt at (another writer, or a failed batch, came between)."""
        seq = last_seq(conn)
        if seq != self._cache_seq:
            self._balance_cache.clear()
            self._cache_seq = seq
        return seq

    def _balances_of(self, conn: Connection, keys: Collection[BalanceKey]) -> dict[BalanceKey, int]:
        """The current balance of every key (zero when absent): cached, else read."""
        cache = self._balance_cache
        current = {key: cache[key] for key in keys if key in cache}
        missing = [key for key in keys if key not in cache]
        fetched = read_balances(conn, missing)
        current.update({key: fetched.get(key, 0) for key in missing})
        return current

    def _apply_all(self, conn: Connection, txns: Sequence[Transaction]) -> dict[BalanceKey, int]:
        changes = [dj.net_changes(txn) for txn in txns]
        keys = {key for change in changes for key in change}
        current = self._balances_of(conn, keys)
        for change in changes:
            current.update(dj.apply_changes(change, current.__getitem__))
        return {key: current[key] for key in keys if key in current}

    def _write(
        self,
        conn: Connection,
        headers: Sequence[tuple[int, str, str, date, str, str]],
        postings: Sequence[tuple[object, ...]],
        new: dict[BalanceKey, int],
        openings: Iterable[Opening],
    ) -> None:
        """The transactions (seq, id, digest, date, kind, events JSON), their postings, the
        new balances and the contracts opened (each ``contract_opened`` event with its
        transaction's seq)."""
        recorded_at = self._now()
        days = {on: on.isoformat() for on in {header[3] for header in headers}}  # one or few
        txn_rows = [
            (seq, cid, digest, days[on], kind, events_json, recorded_at)
            for seq, cid, digest, on, kind, events_json in headers
        ]
        insert_rows(conn, "journal_transactions", _TXN_COLUMNS, txn_rows)
        insert_rows(conn, "journal_postings", _POSTING_COLUMNS, postings)
        upsert_balances(conn, new)
        contract_rows = [contract_row(seq, event) for seq, event in openings]
        if contract_rows:
            conn.execute(s.contracts.insert(), contract_rows)

    def _now(self) -> str:
        return self._clock().isoformat(timespec="microseconds")


def last_seq(conn: Connection) -> int:
    """The sequence number of the journal's last transaction (0 when it is empty): the
    ledger's state, since only a posting changes it."""
    value = conn.execute(text("SELECT COALESCE(MAX(seq), 0) FROM journal_transactions"))
    return int(value.scalar_one())


def _clients_named(txns: Sequence[Transaction]) -> set[str]:
    clients: set[str] = set()
    for txn in txns:
        for posting in txn.postings():
            parsed = acc.parse_account(posting.account)
            if parsed is not None and parsed.client_id is not None:
                clients.add(parsed.client_id)
    return clients


def _credit_rows(conn: Connection, column: str, keys: Iterable[str]) -> list[Any]:
    """Stored credit accounts whose ``column`` is one of ``keys`` (chunked IN lists)."""
    table = s.credit_accounts
    rows: list[Any] = []
    for chunk in s.key_chunks(sorted(set(keys))):
        rows.extend(conn.execute(select(table).where(table.c[column].in_(chunk))))
    return rows


_TXN_COLUMNS = (
    "seq",
    "command_id",
    "payload_digest",
    "business_date",
    "kind",
    "events_json",
    "recorded_at",
)
_POSTING_COLUMNS = ("txn_seq", "line_no", "leg_no", "purpose", "account", "asset", "amount")


def insert_rows(
    conn: Connection, table: str, columns: Sequence[str], rows: Sequence[tuple[object, ...]]
) -> None:
    """Plain DBAPI executemany: the hot path skips per-row statement compilation."""
    if not rows:
        return
    marker = s.marker(conn)
    sql = (
        f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join([marker] * len(columns))})"
    )
    conn.exec_driver_sql(sql, list(rows))


def _posting_rows(
    pending: Sequence[tuple[int, Transaction, str, str]],
) -> Iterable[tuple[object, ...]]:
    for seq, txn, _, _ in pending:
        line = 0
        for leg_no, leg in enumerate(txn.legs):
            purpose = leg.purpose.value
            for posting in leg.postings:
                line += 1
                yield (seq, line, leg_no, purpose, posting.account, posting.asset, posting.amount)


def _header(
    seq: int, txn: Transaction, digest: str, events_json: str
) -> tuple[int, str, str, date, str, str]:
    return (seq, txn.command_id, digest, txn.business_date, txn.kind, events_json)


def contract_row(seq: int, event: Mapping[str, object]) -> dict[str, object]:
    """The contracts projection's row for a ``contract_opened`` event.  The event was written
    by ``ContractTerms.to_event`` (checked on construction), so it is copied, not re-parsed:
    its JSON, and the fields the term columns copy as they are."""
    return {
        "contract_id": str(event["contract_id"]),
        "client_id": str(event["client_id"]),
        "kind": str(event["kind"]),
        "security": str(event["security"]),
        "opened_seq": seq,
        "terms_json": dj.canonical_json(event),
        **{name: event[name] for name in s.CONTRACT_TERM_COLUMNS},
    }


def read_balances(conn: Connection, keys: Iterable[BalanceKey]) -> dict[BalanceKey, int]:
    """Current balances of the given keys (absent keys are zero and left out)."""
    wanted = set(keys)
    found = read_account_balances(conn, {account for account, _ in wanted})
    return {key: amount for key, amount in found.items() if key in wanted}


def read_account_balances(conn: Connection, accounts: Iterable[str]) -> dict[BalanceKey, int]:
    """Current balances of every asset of the given accounts, by key (chunked IN lists on
    the primary key: a few accounts cost a few lookups, whatever the size of the book)."""
    result: dict[BalanceKey, int] = {}
    for chunk in s.key_chunks(sorted(set(accounts))):
        markers = s.markers(conn, len(chunk))
        rows = conn.exec_driver_sql(
            f"SELECT account, asset, amount FROM balances WHERE account IN ({markers})",
            tuple(chunk),
        )
        result.update({(a, b): v for a, b, v in rows})
    return result


def upsert_balances(conn: Connection, new: dict[BalanceKey, int]) -> None:
    """Set the given balances; the same SQL works on SQLite and PostgreSQL."""
    _write_balances(conn, new, "excluded.amount")


def add_to_balances(conn: Connection, changes: dict[BalanceKey, int]) -> None:
    """Add the given changes to the balances (a key not stored yet starts from zero)."""
    _write_balances(conn, changes, "balances.amount + excluded.amount")


def _write_balances(conn: Connection, values: dict[BalanceKey, int], new_amount: str) -> None:
    if not values:
        return
    marker = s.marker(conn)
    conn.exec_driver_sql(
        f"INSERT INTO balances (account, asset, amount) VALUES ({marker}, {marker}, {marker}) "
        f"ON CONFLICT (account, asset) DO UPDATE SET amount = {new_amount}",
        [(a, b, v) for (a, b), v in sorted(values.items())],
    )


def decode_events(events_json: str) -> list[dict[str, object]]:
    value = json.loads(events_json)
    assert isinstance(value, list)
    return value
