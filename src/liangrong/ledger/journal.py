"""The ledger's write path: idempotent, checked, atomic posting of transactions."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import Connection, Engine, select, text, tuple_
from sqlalchemy.dialects import postgresql, sqlite

from liangrong.domain import journal as dj
from liangrong.domain.contracts import ContractTerms
from liangrong.domain.journal import BalanceKey, Transaction
from liangrong.domain.rejections import LedgerCode, Rejection
from liangrong.ledger import schema as s

Clock = Callable[[], datetime]
MAX_BATCH_TRANSACTIONS = 10_000
_KEY_CHUNK = 400  # keeps IN-lists well below every driver's parameter limit


@dataclass(frozen=True, slots=True)
class PostResult:
    command_id: str
    seq: int
    replayed: bool  # True: this id was already applied with the same payload; nothing changed


class Ledger:
    """The journal over one store.  Not thread-safe; one writer per process."""

    def __init__(self, engine: Engine, clock: Clock) -> None:
        self.engine = engine
        self._clock = clock
        self._open_clients: set[str] = set()

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

    def _is_open(self, conn: Connection, client_id: str) -> bool:
        if client_id in self._open_clients:
            return True
        found = conn.execute(
            select(s.credit_accounts.c.client_id)
            .where(s.credit_accounts.c.client_id == client_id)
            .limit(1)
        ).first()
        if found is not None:
            self._open_clients.add(client_id)
        return found is not None

    # -- posting ---------------------------------------------------------------------------
    def post(self, txn: Transaction) -> PostResult:
        return self.post_batch([txn])[0]

    def post_batch(self, txns: Sequence[Transaction]) -> list[PostResult]:
        """Post every transaction or none (one commit).  A replayed id changes nothing."""
        if len(txns) > MAX_BATCH_TRANSACTIONS:
            raise Rejection(LedgerCode.INVALID_COMMAND, f"batch above {MAX_BATCH_TRANSACTIONS}")
        with self.engine.begin() as conn:
            self._lock(conn)
            return self._post_locked(conn, txns)

    def _lock(self, conn: Connection) -> None:
        # SQLite took the write lock at BEGIN IMMEDIATE; PostgreSQL needs it said.
        if conn.dialect.name == "postgresql":
            conn.execute(text("SELECT pg_advisory_xact_lock(7171)"))

    def _post_locked(self, conn: Connection, txns: Sequence[Transaction]) -> list[PostResult]:
        known = self._known_commands(conn, [t.command_id for t in txns])
        seq = self._last_seq(conn)
        pending: list[tuple[int, Transaction, str]] = []
        results: list[PostResult] = []
        batch_ids: dict[str, tuple[int, str]] = {}
        for txn in txns:
            digest = txn.payload_digest()
            previous = known.get(txn.command_id) or batch_ids.get(txn.command_id)
            if previous is not None:
                if previous[1] != digest:
                    raise Rejection(LedgerCode.IDEMPOTENCY_CONFLICT, txn.command_id)
                results.append(PostResult(txn.command_id, previous[0], True))
                continue
            dj.validate(txn, lambda client: self._is_open(conn, client))
            seq += 1
            batch_ids[txn.command_id] = (seq, digest)
            pending.append((seq, txn, digest))
            results.append(PostResult(txn.command_id, seq, False))
        if pending:
            new_balances = self._apply_all(conn, [t for _, t, _ in pending])
            self._write(conn, pending, new_balances)
        return results

    def _known_commands(self, conn: Connection, ids: list[str]) -> dict[str, tuple[int, str]]:
        table = s.journal_transactions
        found: dict[str, tuple[int, str]] = {}
        for chunk in _chunks(sorted(set(ids)), _KEY_CHUNK):
            rows = conn.execute(
                select(table.c.command_id, table.c.seq, table.c.payload_digest).where(
                    table.c.command_id.in_(chunk)
                )
            )
            found.update({cid: (seq, digest) for cid, seq, digest in rows})
        return found

    def _last_seq(self, conn: Connection) -> int:
        value = conn.execute(
            text("SELECT COALESCE(MAX(seq), 0) FROM journal_transactions")
        ).scalar_one()
        return int(value)

    def _apply_all(self, conn: Connection, txns: Sequence[Transaction]) -> dict[BalanceKey, int]:
        keys = {key for txn in txns for key in dj.net_changes(txn)}
        current = read_balances(conn, keys)
        for txn in txns:
            current.update(dj.apply(txn, lambda key: current.get(key, 0)))
        return {key: current[key] for key in keys if key in current}

    def _write(
        self,
        conn: Connection,
        pending: Sequence[tuple[int, Transaction, str]],
        new: dict[BalanceKey, int],
    ) -> None:
        recorded_at = self._now()
        conn.execute(
            s.journal_transactions.insert(),
            [
                {
                    "seq": seq,
                    "command_id": txn.command_id,
                    "payload_digest": digest,
                    "business_date": txn.business_date,
                    "kind": txn.kind,
                    "events_json": dj.canonical_json([dict(e) for e in txn.events]),
                    "recorded_at": recorded_at,
                }
                for seq, txn, digest in pending
            ],
        )
        conn.execute(s.journal_postings.insert(), list(_posting_rows(pending)))
        upsert_balances(conn, new)
        contract_rows = list(_contract_rows(pending))
        if contract_rows:
            conn.execute(s.contracts.insert(), contract_rows)

    def _now(self) -> str:
        return self._clock().isoformat(timespec="microseconds")


def _chunks(items: Sequence[str], size: int) -> Iterable[Sequence[str]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _posting_rows(pending: Sequence[tuple[int, Transaction, str]]) -> Iterable[dict[str, object]]:
    for seq, txn, _ in pending:
        line = 0
        for leg_no, leg in enumerate(txn.legs):
            for posting in leg.postings:
                line += 1
                yield {
                    "txn_seq": seq,
                    "line_no": line,
                    "leg_no": leg_no,
                    "purpose": leg.purpose.value,
                    "account": posting.account,
                    "asset": posting.asset,
                    "amount": posting.amount,
                }


def _contract_rows(pending: Sequence[tuple[int, Transaction, str]]) -> Iterable[dict[str, object]]:
    for seq, txn, _ in pending:
        for event in txn.events:
            if event.get("type") == "contract_opened":
                yield contract_row(seq, event)


def contract_row(seq: int, event: dict[str, object] | object) -> dict[str, object]:
    assert isinstance(event, dict)
    terms = ContractTerms.from_event(event)
    return {
        "contract_id": terms.contract_id,
        "client_id": terms.client_id,
        "kind": terms.kind.value,
        "security": terms.security,
        "opened_seq": seq,
        "terms_json": dj.canonical_json(event),
    }


def read_balances(conn: Connection, keys: Iterable[BalanceKey]) -> dict[BalanceKey, int]:
    table = s.balances
    result: dict[BalanceKey, int] = {}
    ordered = sorted(keys)
    for start in range(0, len(ordered), _KEY_CHUNK):
        chunk = ordered[start : start + _KEY_CHUNK]
        rows = conn.execute(
            select(table.c.account, table.c.asset, table.c.amount).where(
                tuple_(table.c.account, table.c.asset).in_(chunk)
            )
        )
        result.update({(account, asset): amount for account, asset, amount in rows})
    return result


def upsert_balances(conn: Connection, new: dict[BalanceKey, int]) -> None:
    if not new:
        return
    rows = [{"account": a, "asset": b, "amount": v} for (a, b), v in sorted(new.items())]
    insert = postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert
    statement = insert(s.balances)
    statement = statement.on_conflict_do_update(
        index_elements=[s.balances.c.account, s.balances.c.asset],
        set_={"amount": statement.excluded.amount},
    )
    conn.execute(statement, rows)


def decode_events(events_json: str) -> list[dict[str, object]]:
    value = json.loads(events_json)
    assert isinstance(value, list)
    return value
