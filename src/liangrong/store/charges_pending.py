"""Pending charges: booked by the end of day, not yet posted to their contracts
(``docs/charges-subledger.md``).  What a client owes on a contract's charges is its charges
account plus its pending; every reader of that figure adds this module's answer.

The pending stands in the accrual state of the latest date whose accrual completed (or has
begun posting: ``live_accrual_date``), as of the journal position that state records.
Posting the pending (``Purpose.CHARGE_POSTING``) always takes the whole of a contract's
pending, every kind at once, so after that position a contract has had either nothing posted
or all of it.

Invariants: a contract's pending is never negative; what was posted since the position is
nothing or the whole pending, else the store is damaged (``PendingChargesDamaged``), never
read as something in between.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from functools import cached_property
from itertools import chain, compress, repeat
from operator import add
from typing import NamedTuple

import numpy as np
from sqlalchemy import Connection, and_, exists, func, select

from liangrong.domain import accounts as acc
from liangrong.domain.purposes import Purpose
from liangrong.ledger import schema as s
from liangrong.store.accrual_state import AccrualSnapshot, PendingState, load_pending_of
from liangrong.store.eod_tables import eod_accrual_states, eod_steps

ACCRUAL_STEP = "accrue"  # the end of day's step that writes the state (``eod.accrual``)


class PendingChargesDamaged(RuntimeError):
    """A contract's postings since the state's position are neither none nor its pending."""


class KindPending(NamedTuple):
    """The contracts with something pending of one kind, and how much (fen, positive)."""

    contract_ids: list[str]
    fen: list[int]


@dataclass(frozen=True)
class PendingCharges:
    """Each contract's pending charges by kind (``interest.ChargeKind`` value), fen; a
    contract with nothing pending is absent.  Held by kind, as the state stores it (the
    accrual walks millions of contracts: columns, row by row in C), and by contract when
    a reader asks (each contract's kinds, in the order of the kinds, then of the rows)."""

    kinds: Mapping[str, KindPending]

    @cached_property
    def by_contract(self) -> Mapping[str, Mapping[str, int]]:
        """Each contract's pending by kind (read only: one map shared by every reader)."""
        found: dict[str, dict[str, int]] = {}
        for kind, (ids, fens) in self.kinds.items():
            for cid, fen in zip(ids, fens, strict=True):
                found.setdefault(cid, {})[kind] = fen
        return found

    def contracts(self) -> list[str]:
        """The contracts with anything pending, each once, in ``by_contract``'s order."""
        return list(dict.fromkeys(chain.from_iterable(ids for ids, _ in self.kinds.values())))

    def totals(self) -> dict[str, int]:
        """Each contract's pending over every kind (fen), by contract id (a new map, in
        ``by_contract``'s order)."""
        total: dict[str, int] = {}
        for ids, fens in self.kinds.values():
            total.update(zip(ids, map(add, map(total.get, ids, repeat(0)), fens), strict=True))
        return total


NOTHING_PENDING = PendingCharges({})


def settled_accrual_date(conn: Connection, before: date | None = None) -> date | None:
    """The latest date (before ``before``, if given) whose accrual completed and left its
    state (the accrual resumes from it; readers of the pending now take ``live_accrual_date``)."""
    a = eod_accrual_states
    stored = exists().where(a.c.trading_date == eod_steps.c.trading_date)
    query = select(func.max(eod_steps.c.trading_date)).where(
        and_(eod_steps.c.step == ACCRUAL_STEP, stored)
    )
    if before is not None:
        query = query.where(eod_steps.c.trading_date < before)
    found: date | None = conn.execute(query).scalar()
    return found


def last_accrual_begun(conn: Connection) -> date | None:
    """The latest date whose accrual completed or has begun (it wrote its state): a
    dated posting, or a posting of the pending dated earlier, would come after it."""
    states, steps = eod_accrual_states.c, eod_steps.c
    dates = [
        conn.execute(select(func.max(states.trading_date))).scalar(),
        conn.execute(
            select(func.max(steps.trading_date)).where(steps.step == ACCRUAL_STEP)
        ).scalar(),
    ]
    return max((d for d in dates if d is not None), default=None)


def live_accrual_date(conn: Connection) -> date | None:
    """The date whose state the pending now stands in: the latest whose accrual completed,
    or a later one whose accrual has begun posting (its first transaction after the state's
    position is in the journal: from then on the journal holds postings of that state's
    pending, which the state before it does not know).  So a reader during an accrual, or
    after a crash in the middle of one, reads the state its postings belong to."""
    completed = settled_accrual_date(conn)
    a, t = eod_accrual_states, s.journal_transactions
    newest = conn.execute(
        select(a.c.trading_date, a.c.journal_seq).order_by(a.c.trading_date.desc()).limit(1)
    ).first()
    if newest is None or (completed is not None and newest.trading_date <= completed):
        return completed
    prefix = f"eod:{newest.trading_date.isoformat()}:charges"
    begun = select(t.c.seq).where(
        t.c.seq > newest.journal_seq,
        t.c.command_id >= prefix,
        t.c.command_id < s.prefix_end(prefix),
    )
    return newest.trading_date if conn.execute(begun.limit(1)).first() else completed


def posted_pending_since(conn: Connection, position: int) -> dict[str, int]:
    """What was posted of pending charges to each contract after journal seq ``position``
    (fen, by contract id; the accrual's own postings on a rerun)."""
    return _posted_since(conn, position, None)


def pending_charges(conn: Connection, clients: Mapping[str, str]) -> PendingCharges:
    """The pending charges now of the contracts ``clients`` names (contract id → its
    client's id): the parts that hold them only."""
    day = live_accrual_date(conn)
    if day is None or not clients:
        return NOTHING_PENDING
    return _pending_in(conn, day, clients)


def book_pending(conn: Connection) -> PendingCharges:
    """The whole book's pending charges now: every part with anything pending, and every
    posting of pending since the state's position (the journal's tail, by its key)."""
    day = live_accrual_date(conn)
    return NOTHING_PENDING if day is None else _pending_in(conn, day, None)


def carried_pending(conn: Connection, snapshot: AccrualSnapshot, through: int) -> PendingCharges:
    """The pending of a whole ``snapshot`` as of journal seq ``through`` (the next accrual
    carries it from the position it records, which a rerun keeps: its own postings of
    pending, later, are not taken off again)."""
    return _after_postings(conn, PendingState.of(snapshot), None, through)


class AccrualStatePruned(LookupError):
    """The state a past close's pending charges stand in is no longer kept."""


def pending_at_close(conn: Connection, day: date, clients: Mapping[str, str]) -> PendingCharges:
    """The pending charges at the close of ``day`` of the contracts ``clients`` names
    (contract id → client id): the state of the latest accrual completed on or before it,
    less what was posted since its position and dated up to ``day`` (the end of day's own
    postings are dated ``day``; the next session's, later)."""
    stepped = select(func.max(eod_steps.c.trading_date)).where(
        eod_steps.c.step == ACCRUAL_STEP, eod_steps.c.trading_date <= day
    )
    state_day: date | None = conn.execute(stepped).scalar()
    if state_day is None or not clients:
        return NOTHING_PENDING
    if state_day != settled_accrual_date(conn, before=state_day + timedelta(days=1)):
        a = eod_accrual_states
        later = select(a.c.trading_date).where(a.c.trading_date > state_day).limit(1)
        if conn.execute(later).first() is not None:  # kept after it, so it was dropped
            raise AccrualStatePruned(
                f"the accrual state of {state_day} is no longer kept (EodSettings."
                "accrual_states_kept_days): the charges pending at that close are unknown"
            )
        return NOTHING_PENDING  # the book carried nothing that day
    return _pending_in(conn, state_day, clients, day)


def contract_clients(conn: Connection, contract_ids: Collection[str]) -> dict[str, str]:
    """Whose each of ``contract_ids`` is (contract id → client id; a few, by key)."""
    c = s.contracts
    found: dict[str, str] = {}
    for chunk in s.key_chunks(sorted(contract_ids)):
        query = select(c.c.contract_id, c.c.client_id).where(c.c.contract_id.in_(chunk))
        found.update((str(cid), str(client)) for cid, client in conn.execute(query))
    return found


def _pending_in(
    conn: Connection,
    day: date,
    clients: Mapping[str, str] | None,
    through: int | date | None = None,
) -> PendingCharges:
    """The pending of ``day``'s state (of the contracts ``clients`` names, or every one)
    after what was posted since its position (up to ``through``, see ``_posted_since``)."""
    return _after_postings(conn, load_pending_of(conn, day, clients), clients, through)


def _after_postings(
    conn: Connection,
    state: PendingState,
    clients: Mapping[str, str] | None,
    through: int | date | None,
) -> PendingCharges:
    """The state's pending less what was posted since its position: read by the charges
    accounts' key for the contracts ``clients`` names, else by the journal's."""
    pending = _pending_of(state)
    if not pending.kinds:
        return NOTHING_PENDING
    accounts = None
    if clients is not None:
        accounts = {acc.charges_debt(clients[cid], cid): cid for cid in pending.contracts()}
    posted = _posted_since(conn, state.position, accounts, through)
    return _left(pending, posted, state.position)


def _pending_of(state: PendingState) -> PendingCharges:
    """The state's non-zero pending; refused if negative (the first such row named)."""
    kinds: dict[str, KindPending] = {}
    for kind, (ids, fen) in state.kinds.items():
        negative = np.flatnonzero(fen < 0)
        if len(negative):
            row = int(negative[0])
            cid = ids[row]
            raise PendingChargesDamaged(f"{cid} has {int(fen[row])} fen of {kind} pending")
        held = fen > 0
        if held.any():
            kinds[kind] = KindPending(list(compress(ids, held.tolist())), fen[held].tolist())
    return PendingCharges(kinds)


def _left(pending: PendingCharges, posted: Mapping[str, int], position: int) -> PendingCharges:
    """The pending less what was posted since ``position``: all of a contract's or none."""
    if not posted:
        return pending
    totals = pending.totals()
    for cid, fen in posted.items():
        owed = totals.get(cid, 0)
        if fen != owed:
            raise PendingChargesDamaged(
                f"{cid}: {fen} fen posted since seq {position}, {owed} pending"
            )
    kinds: dict[str, KindPending] = {}
    for kind, (ids, fens) in pending.kinds.items():
        kept = [not done for done in map(posted.__contains__, ids)]
        if any(kept):
            kinds[kind] = KindPending(list(compress(ids, kept)), list(compress(fens, kept)))
    return PendingCharges(kinds)


def _posted_since(
    conn: Connection,
    position: int,
    accounts: Mapping[str, str] | None,
    through: int | date | None = None,
) -> dict[str, int]:
    """What was posted to each contract's charges account since ``position`` by posting
    its pending (fen, positive), for the contracts with anything posted: of ``accounts``
    (charges account → contract id), by the accounts' key; None: of every contract, by the
    journal's key from ``position`` on.  ``through``: only up to this seq (an int), or
    only what is dated up to this business date."""
    p, t = s.journal_postings, s.journal_transactions
    rows = select(p.c.account, p.c.amount).where(
        p.c.purpose == Purpose.CHARGE_POSTING.value,
        p.c.txn_seq > position,
        p.c.account != acc.CHARGES_ACCRUED,
    )
    if isinstance(through, date):
        dated = select(t.c.seq).where(t.c.seq > position, t.c.business_date <= through)
        rows = rows.where(p.c.txn_seq.in_(dated))
    elif through is not None:
        rows = rows.where(p.c.txn_seq <= through)
    if accounts is None:
        # Materialized first: grouped at once, SQLite walks the whole journal by the
        # account index instead of the tail by its key (16 s at 1M accounts, not 0.1).
        tail = rows.cte("tail").prefix_with("MATERIALIZED")
        queries = [select(tail.c.account, func.sum(tail.c.amount)).group_by(tail.c.account)]
    else:
        queries = [
            rows.with_only_columns(p.c.account, func.sum(p.c.amount))
            .where(p.c.account.in_(chunk))
            .group_by(p.c.account)
            for chunk in s.key_chunks(sorted(accounts))
        ]
    posted: dict[str, int] = {}
    for query in queries:
        for account, total in conn.execute(query):
            if total:
                posted[_contract_of(account, accounts)] = -int(total)
    return posted


def _contract_of(account: str, accounts: Mapping[str, str] | None) -> str:
    if accounts is not None:
        return accounts[account]
    parsed = acc.parse_account(account)
    if parsed is None or parsed.contract_id is None:
        raise PendingChargesDamaged(f"pending posted to {account}, not a contract's charges")
    return parsed.contract_id
