"""Reading and rebuilding the projections (balances, contracts) from the journal."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from sqlalchemy import Connection, Engine, func, select, text

from liangrong.domain import accounts as acc
from liangrong.domain.contracts import ContractBalance, ContractKind, ContractTerms
from liangrong.ledger import schema as s
from liangrong.ledger.journal import contract_row, decode_events, read_balances, upsert_balances


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
    contract_rows = conn.execute(
        select(
            s.contracts.c.contract_id, s.contracts.c.opened_seq, s.contracts.c.terms_json
        ).order_by(s.contracts.c.contract_id)
    )
    for contract_id, seq, terms in contract_rows:
        digest.update(f"C\t{contract_id}\t{seq}\t{terms}\n".encode())
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


def conservation_breaks(engine: Engine) -> dict[str, int]:
    """Assets whose postings or balances do not sum to zero (empty when the book conserves)."""
    with engine.connect() as conn:
        rows = conn.execute(
            select(s.journal_postings.c.asset, func.sum(s.journal_postings.c.amount)).group_by(
                s.journal_postings.c.asset
            )
        )
        breaks = {f"journal:{asset}": int(total) for asset, total in rows if total != 0}
        rows = conn.execute(
            select(s.balances.c.asset, func.sum(s.balances.c.amount)).group_by(s.balances.c.asset)
        )
        breaks.update({f"balances:{asset}": int(total) for asset, total in rows if total != 0})
    return breaks
