"""Reading and rebuilding the projections (balances, contracts) from the journal."""

from __future__ import annotations

import hashlib
import json
from bisect import bisect_left, bisect_right
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Engine, func, select, text

from liangrong.domain import accounts as acc
from liangrong.domain.contracts import ContractBalance, ContractKind, ContractTerms
from liangrong.ledger import schema as s
from liangrong.ledger.journal import contract_row, decode_events, read_balances, upsert_balances

SAMPLES_PER_PART = 64  # transactions sampled per range (``sampled_posting_ranges``)


@dataclass(frozen=True, slots=True)
class RebuildResult:
    digest_before: str
    digest_after: str
    transactions: int
    balances: int
    contracts: int

    @property
    def identical(self) -> bool:
        return self.digest_before == self.digest_after


def projection_digest(conn: Connection) -> str:
    """SHA-256 over the projections in a canonical order: equal digests, equal bytes.

    A zero balance is the same as no row (a key that returned to zero, or one a transaction
    moved in and out of at once), so zero rows are left out of the digest."""
    digest = hashlib.sha256()
    rows = conn.execute(
        select(s.balances.c.account, s.balances.c.asset, s.balances.c.amount)
        .where(s.balances.c.amount != 0)
        .order_by(s.balances.c.account, s.balances.c.asset)
    )
    for account, asset, amount in rows:
        digest.update(f"B\t{account}\t{asset}\t{amount}\n".encode())
    c = s.contracts.c
    term_columns = [c[name] for name in s.CONTRACT_TERM_COLUMNS]
    contract_rows = conn.execute(
        select(c.contract_id, c.opened_seq, c.terms_json, *term_columns).order_by(c.contract_id)
    )
    for contract_id, seq, terms, *copied in contract_rows:  # copies that differ are damage
        fields = "\t".join(map(str, copied))
        digest.update(f"C\t{contract_id}\t{seq}\t{terms}\t{fields}\n".encode())
    return digest.hexdigest()


def rebuild(engine: Engine) -> RebuildResult:
    """Recompute balances and contracts from the journal alone, under the write lock."""
    with engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(text("SELECT pg_advisory_xact_lock(7171)"))
        before = projection_digest(conn)
        conn.execute(s.balances.delete())
        conn.execute(s.contracts.delete())
        postings = s.journal_postings
        sums = conn.execute(
            select(postings.c.account, postings.c.asset, func.sum(postings.c.amount)).group_by(
                postings.c.account, postings.c.asset
            )
        )
        new = {(account, asset): int(total) for account, asset, total in sums if total != 0}
        upsert_balances(conn, new)
        contract_rows = []
        txns = conn.execute(
            select(s.journal_transactions.c.seq, s.journal_transactions.c.events_json).order_by(
                s.journal_transactions.c.seq
            )
        )
        count = 0
        for seq, events_json in txns:
            count += 1
            for event in decode_events(events_json):
                if event.get("type") == "contract_opened":
                    contract_rows.append(contract_row(seq, event))
        if contract_rows:
            conn.execute(s.contracts.insert(), contract_rows)
        after = projection_digest(conn)
    return RebuildResult(before, after, count, len(new), len(contract_rows))


def balance(engine: Engine, account: str, asset: str) -> int:
    with engine.connect() as conn:
        return read_balances(conn, [(account, asset)]).get((account, asset), 0)


def balances_under(engine: Engine, prefix: str) -> dict[tuple[str, str], int]:
    """Non-zero balances of every account whose name starts with ``prefix`` (a roll-up)."""
    with engine.connect() as conn:
        rows = conn.execute(
            select(s.balances.c.account, s.balances.c.asset, s.balances.c.amount).where(
                s.balances.c.account.startswith(prefix, autoescape=True), s.balances.c.amount != 0
            )
        )
        return {(account, asset): amount for account, asset, amount in rows}


def contract_balances(engine: Engine, client_id: str) -> list[ContractBalance]:
    """Every contract of a client with what is still owed on it, from the balances."""
    with engine.connect() as conn:
        terms = [
            ContractTerms.from_event(decode_events(f"[{row.terms_json}]")[0])
            for row in conn.execute(select(s.contracts).where(s.contracts.c.client_id == client_id))
        ]
        keys: list[tuple[str, str]] = []
        for t in terms:
            keys.extend(_debt_keys(t))
        owed = read_balances(conn, keys)
    result = []
    for t in terms:
        principal_key, charges_key = _debt_keys(t)
        result.append(ContractBalance(t, -owed.get(principal_key, 0), -owed.get(charges_key, 0)))
    return sorted(result, key=lambda c: c.terms.contract_id)


def _debt_keys(t: ContractTerms) -> tuple[tuple[str, str], tuple[str, str]]:
    if t.kind is ContractKind.FINANCING:
        principal = (acc.financing_debt(t.client_id, t.contract_id), acc.CASH_ASSET)
    else:
        principal = (acc.short_debt(t.client_id, t.contract_id), t.security)
    return principal, (acc.charges_debt(t.client_id, t.contract_id), acc.CASH_ASSET)


# One pass: each key's postings summed and its balance looked up; the differences come
# back as one JSON array, with the count of the keys' non-zero balances.  A non-zero balance
# whose key has no postings is not among those keys: the range holds more non-zero balances
# than that count only when there is one (a balance written around the ledger).
_JOURNAL_AGAINST_BALANCES = """
WITH journal AS (
    SELECT account, asset, SUM(amount) AS total FROM journal_postings
    WHERE {journal_range}
    GROUP BY account, asset
)
SELECT COUNT(*) FILTER (WHERE b.amount <> 0),
       {json_array}({json_row}(j.account, j.asset, j.total, b.amount))
           FILTER (WHERE j.total <> COALESCE(b.amount, 0))
FROM journal j LEFT JOIN balances b ON b.account = j.account AND b.asset = j.asset
"""
_NON_ZERO_BALANCES = "SELECT COUNT(*) FROM balances b WHERE {balance_range} AND b.amount <> 0"
# Both halves, for a range that has such a balance: the journal's sums are materialised once
# and serve both, so a balance row with no postings is looked up among the sums, not among
# the postings (an account such as the market's holds hundreds of assets over millions of
# postings).
_DIFFERENCES = """
WITH journal AS MATERIALIZED (
    SELECT account, asset, SUM(amount) AS total FROM journal_postings
    WHERE {journal_range}
    GROUP BY account, asset
)
SELECT j.account, j.asset, j.total, b.amount
FROM journal j LEFT JOIN balances b ON b.account = j.account AND b.asset = j.asset
WHERE j.total <> COALESCE(b.amount, 0)
UNION ALL
SELECT b.account, b.asset, 0, b.amount FROM balances b
WHERE {balance_range} AND b.amount <> 0
  AND NOT EXISTS (SELECT 1 FROM journal j WHERE j.account = b.account AND j.asset = b.asset)
"""


BalanceDifference = tuple[str, str, int, int | None]  # account, asset, journal, projection


def balance_differences(
    conn: Connection, low: str = "", high: str | None = None
) -> list[BalanceDifference]:
    """Every key of the accounts in ``[low, high)`` (``high`` None: no end) whose balance
    in the projection is not the sum of its postings in the journal: (account, asset, the
    journal's sum, the projection's balance or None when it has no row).  The store does
    the sums and the comparison; only differences come back."""
    marker = s.marker(conn)
    bounds: tuple[str, ...] = (low,) if high is None else (low, high)

    def within(column: str) -> str:
        below = "" if high is None else f" AND {column} < {marker}"
        return f"{column} >= {marker}{below}"

    sqlite = conn.dialect.name == "sqlite"
    query = _JOURNAL_AGAINST_BALANCES.format(
        journal_range=within("account"),
        json_array="json_group_array" if sqlite else "json_agg",
        json_row="json_array" if sqlite else "json_build_array",
    )
    matched, found = conn.exec_driver_sql(query, bounds).one()
    non_zero = _NON_ZERO_BALANCES.format(balance_range=within("b.account"))
    if int(conn.exec_driver_sql(non_zero, bounds).scalar_one()) == int(matched):
        rows = json.loads(found) if isinstance(found, str) else (found or [])
    else:  # a non-zero balance with no postings: both halves, by key
        query = _DIFFERENCES.format(
            journal_range=within("account"), balance_range=within("b.account")
        )
        rows = conn.exec_driver_sql(query, bounds + bounds).all()
    return [(str(a), str(b), int(total), None if amount is None else int(amount))
            for a, b, total, amount in rows]  # fmt: skip


JOURNAL_POSTINGS = "journal_postings"  # a table with an account index, as balances has


def account_ranges(
    conn: Connection, parts: int, table: str = "balances"
) -> list[tuple[str, str | None]]:
    """About ``parts`` ranges of account names covering every name, about as many rows of
    ``table`` (``balances`` or ``journal_postings``) in each, so that ``balance_differences``
    or ``control_reads.balances_control`` can read them side by side.  Each cut is found by
    stepping that many rows along the table's account index from the one before.  An
    account with more rows than that is a range of its own, and such ranges come first
    (the longest parts start first); the others follow in order."""
    if table not in ("balances", JOURNAL_POSTINGS):
        raise ValueError(f"no account index to step along: {table}")
    count = int(conn.exec_driver_sql(f"SELECT COUNT(*) FROM {table}").scalar_one())
    step = max(1, -(-count // max(1, parts)))
    marker = s.marker(conn)
    stepped = (
        f"SELECT account FROM {table} WHERE account >= {marker} "
        f"ORDER BY account LIMIT 1 OFFSET {step}"
    )
    following = f"SELECT MIN(account) FROM {table} WHERE account > {marker}"

    def read(query: str) -> Callable[[str], str | None]:
        def found(low: str) -> str | None:
            name = conn.exec_driver_sql(query, (low,)).scalar()
            return None if name is None else str(name)

        return found

    return _ranges(read(stepped), read(following))


def sampled_posting_ranges(
    conn: Connection, parts: int, samples_per_part: int = SAMPLES_PER_PART
) -> list[tuple[str, str | None]]:
    """``account_ranges`` of the journal's postings, cut along a sample of them instead of
    the whole account index (tens of millions of entries, a second pass over the index the
    full check then reads): the postings of about ``parts × samples_per_part`` transactions
    spread evenly over the journal (every transaction when there are no more).  Any cuts
    cover every name once; the sample only evens out the parts.  The sample's names are
    put in order here, by code point: that is the store's order on SQLite (its binary
    collation); elsewhere the collation may differ, and the index is stepped along."""
    if conn.dialect.name != "sqlite":
        return account_ranges(conn, parts, JOURNAL_POSTINGS)
    through = conn.exec_driver_sql("SELECT MAX(txn_seq) FROM journal_postings").scalar()
    if through is None:
        return [("", None)]
    wanted = max(1, parts * samples_per_part)
    seqs = sorted({1 + (int(through) - 1) * i // max(1, wanted - 1) for i in range(wanted)})
    names: list[str] = []
    for chunk in s.key_chunks(seqs):
        rows = conn.exec_driver_sql(
            f"SELECT account FROM journal_postings "
            f"WHERE txn_seq IN ({s.markers(conn, len(chunk))})",
            tuple(chunk),
        )
        names += (str(account) for (account,) in rows)
    names.sort()
    step = max(1, -(-len(names) // max(1, parts)))

    def stepped(low: str) -> str | None:
        at = bisect_left(names, low) + step
        return names[at] if at < len(names) else None

    def following(low: str) -> str | None:
        at = bisect_right(names, low)
        return names[at] if at < len(names) else None

    return _ranges(stepped, following)


def _ranges(
    stepped: Callable[[str], str | None], following: Callable[[str], str | None]
) -> list[tuple[str, str | None]]:
    """The ranges cut at ``stepped(low)`` (the name a step past the first at or after
    ``low``, None past the end) from ``""``: an account filling a whole step is a range of
    its own up to ``following(low)`` (the next name), and such ranges come first."""
    ranges: list[tuple[str, str | None]] = []
    long: list[tuple[str, str | None]] = []
    low = ""
    while (cut := stepped(low)) is not None:
        if cut == low:  # an account with more rows than a step: a range of its own
            cut = following(low)
            long.append((low, cut))
            if cut is None:
                return long + ranges
        else:
            ranges.append((low, cut))
        low = cut
    return [*long, *ranges, (low, None)]


def conservation_breaks(engine: Engine) -> dict[str, int]:
    """Assets whose postings or balances do not sum to zero (empty when the book conserves)."""
    with engine.connect() as conn:
        return breaks_of(asset_totals(conn, JOURNAL), asset_totals(conn, BALANCES))


JOURNAL, BALANCES = "journal", "balances"


def asset_totals(conn: Connection, side: str) -> dict[str, int]:
    """Each asset's sum over the journal's postings (``JOURNAL``) or the balances."""
    table = s.journal_postings if side == JOURNAL else s.balances
    rows = conn.execute(select(table.c.asset, func.sum(table.c.amount)).group_by(table.c.asset))
    return {asset: int(total) for asset, total in rows}


def breaks_of(journal: dict[str, int], balances: dict[str, int]) -> dict[str, int]:
    """``conservation_breaks`` from each side's totals by asset."""
    breaks = {f"{JOURNAL}:{asset}": total for asset, total in journal.items() if total != 0}
    breaks.update({f"{BALANCES}:{asset}": total for asset, total in balances.items() if total})
    return breaks


CONTRACT_KEYS = ("contract_id", "client_id", "kind", "security")


def contract_fields(
    conn: Connection, fields: Sequence[str], opened: tuple[int, int] | None = None
) -> Iterator[Sequence[Any]]:
    """Every contract of the projection in the table's own order (opening order on SQLite),
    in batches of rows ``(contract_id, client_id, kind, security, *fields)``, the fields
    those of its opening terms that the table copies (``schema.CONTRACT_TERM_COLUMNS``):
    millions of contracts are read without parsing their terms' JSON.  ``opened``: only
    those opened by a transaction after the first seq, up to the second."""
    unknown = set(fields) - set(s.CONTRACT_TERM_COLUMNS)
    if unknown:
        raise ValueError(f"not a contracts term column: {sorted(unknown)}")
    query = f"SELECT {', '.join((*CONTRACT_KEYS, *fields))} FROM contracts"
    if opened is None:
        yield from s.driver_batches(conn, query)
    else:
        marker = s.marker(conn)
        where = f" WHERE opened_seq > {marker} AND opened_seq <= {marker}"
        yield from s.driver_batches(conn, query + where, opened)
