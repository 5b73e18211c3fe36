"""Pending charges: booked by the end of day, not yet posted to their contracts
(``docs/charges-subledger.md``).  What a client owes on a contract's charges is its charges
account plus its pending; every reader of that figure adds this module's answer.

The pending stands in the accrual state of the latest date whose accrual completed, as of the
journal position that state records.  Posting the pending (``Purpose.CHARGE_POSTING``) always
takes the whole of a contract's pending, every kind at once, so after that position a contract
has had either nothing posted or all of it.

Invariants: a contract's pending is never negative; what was posted since the position is
nothing or the whole pending, else the store is damaged (``PendingChargesDamaged``), never
read as something in between.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date

from sqlalchemy import Connection, and_, exists, func, select

from liangrong.domain import accounts as acc
from liangrong.domain.purposes import Purpose
from liangrong.ledger import schema as s
from liangrong.store.accrual_state import load_accruals_of
from liangrong.store.eod_tables import eod_accrual_states, eod_steps

ACCRUAL_STEP = "accrue"  # the end of day's step that writes the state (``eod.accrual``)


class PendingChargesDamaged(RuntimeError):
    """A contract's postings since the state's position are neither none nor its pending."""


@dataclass(frozen=True)
class PendingCharges:
    """Each contract's pending charges by kind (``interest.ChargeKind`` value), fen; a
    contract with nothing pending is absent."""

    by_contract: Mapping[str, Mapping[str, int]]

    def total_fen(self, contract_id: str) -> int:
        return sum(self.by_contract.get(contract_id, {}).values())


NOTHING_PENDING = PendingCharges({})


def settled_accrual_date(conn: Connection, before: date | None = None) -> date | None:
    """The latest date (before ``before``, if given) whose accrual completed and left its
    state (a state a crashed run wrote is not read until its step completes)."""
    a = eod_accrual_states
    stored = exists().where(a.c.trading_date == eod_steps.c.trading_date)
    query = select(func.max(eod_steps.c.trading_date)).where(
        and_(eod_steps.c.step == ACCRUAL_STEP, stored)
    )
    if before is not None:
        query = query.where(eod_steps.c.trading_date < before)
    found: date | None = conn.execute(query).scalar()
    return found


def pending_charges(conn: Connection, clients: Mapping[str, str]) -> PendingCharges:
    """The pending charges now of the contracts ``clients`` names (contract id → its
    client's id)."""
    day = settled_accrual_date(conn)
    if day is None or not clients:
        return NOTHING_PENDING
    snapshot = load_accruals_of(conn, day, clients, pending_only=True)
    by_contract: dict[str, dict[str, int]] = {}
    for kind, columns in snapshot.kinds.items():
        for cid, pending in zip(columns.contract_ids, columns.pending_fen.tolist(), strict=True):
            if pending < 0:
                raise PendingChargesDamaged(f"{cid} has {pending} fen of {kind} pending")
            if pending:
                by_contract.setdefault(cid, {})[kind] = pending
    posted = _posted_since(conn, snapshot.position, {cid: clients[cid] for cid in by_contract})
    for cid, fen in posted.items():
        if fen != sum(by_contract[cid].values()):
            raise PendingChargesDamaged(
                f"{cid}: {fen} fen posted since seq {snapshot.position}, "
                f"{sum(by_contract[cid].values())} pending"
            )
        del by_contract[cid]
    return PendingCharges(by_contract)


def _posted_since(conn: Connection, position: int, clients: Mapping[str, str]) -> dict[str, int]:
    """What was posted to each contract's charges account since ``position`` by posting
    its pending (fen, positive), for the contracts with anything posted."""
    p = s.journal_postings
    contract_of = {acc.charges_debt(client, cid): cid for cid, client in clients.items()}
    posted: dict[str, int] = {}
    for chunk in s.key_chunks(sorted(contract_of)):
        rows = conn.execute(
            select(p.c.account, func.sum(p.c.amount))
            .where(
                p.c.account.in_(chunk),
                p.c.purpose == Purpose.CHARGE_POSTING.value,
                p.c.txn_seq > position,
            )
            .group_by(p.c.account)
        )
        posted.update({contract_of[account]: -int(total) for account, total in rows if total})
    return posted
