"""Step ``collect``: charges collected on the firm's schedule (CON-6; S1 art. 73 定期扣收).

On a day the collection policy in force (``store.collections``, a dated firm parameter)
names, every client owing something due pays it from the free cash of its credit cash
account: every charge, and the principal of financing contracts at or past their maturity in
force (``collection.collect_on_schedule``), in the policy's order (fees → penalty →
interest → principal by default, nearest maturity first).  What the cash cannot pay stays
owed.  Any other day the step only reads the policy and the calendar.

Posting: ``operations.repay_financing`` (the book's direct cash repayment: the journal kind
``direct_repayment``, so the exchange report counts a principal collected as a direct
repayment) with one ``charges_collected`` event per contract (what it took, by component),
one transaction per client (split every 240 contracts: at most 16 legs), command id
``eod:{date}:collect:{client}[:{part}]``, in batches at the step's moments.  A contract
whose charges it pays has all its pending charges posted in the same transaction first
(``collection.with_pending_posted``, ``docs/charges-subledger.md``), and its split by
component counts them last.  Then every other contract's pending charges are posted to it
(design step 3: the contracts' own accounts hold every charge on the collection day), one
transaction per client and 48 contracts, command id
``eod:{date}:pending-posted:{client}[:{part}]`` (``accrual_pending.postings_by_client``).

Invariants, for crash safety: the inputs are the ledger as it stood before the step (the
balances less this step's own committed postings, found by their command ids; the charges
history without them; the pending charges with what it posted of them, with its
collection or after it), so a rerun
computes the very same transactions; a batch already
committed replays (nothing changes, the clock is not read); the digest is of the
transactions computed, so it is the same however often the step was interrupted.  A client
whose cash covers everything due pays it all (exactly what the allocation gives, without
building it); the others go through ``collection.collect_on_schedule``.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, replace
from datetime import date, timedelta

import numpy as np
from sqlalchemy import Engine

from liangrong.domain import operations as ops
from liangrong.domain.collection import (
    CollectionLine,
    CollectionPolicy,
    Component,
    ContractDebt,
    collect_on_schedule,
    collected_events,
    history_needed,
    own_component,
    pending_move,
    pending_to_post,
    split_owed,
    with_pending_posted,
)
from liangrong.domain.contracts import ContractKind, ContractTerms
from liangrong.domain.journal import MAX_LEGS, Transaction
from liangrong.domain.versions import Version
from liangrong.eod.accrual import batched
from liangrong.eod.accrual_pending import postings_by_client
from liangrong.eod.book_view import ContractColumns, kind_of, load_terms
from liangrong.eod.context import Digest, StepOutcome, StepRun
from liangrong.eod.owed import Owed
from liangrong.ledger.journal import Ledger
from liangrong.store.calendar_loads import load_calendar
from liangrong.store.charges_pending import book_pending
from liangrong.store.collections import (
    charge_histories,
    collection_pending_posted,
    collection_prefix,
    free_cash_by_client,
    load_collection_policies,
    pending_posting_prefix,
    posted_collections,
)
from liangrong.store.contract_terms import TermEvents, load_term_events

STEP = "collect"
# pending legs + charge legs + principal legs <= 16
PART_LINES = (MAX_LEGS // 3) * ops.CONTRACTS_PER_LEG
_COMPONENTS = tuple(Component)


@dataclass
class _Before:
    """The ledger before the step: owed by contract, free cash by client."""

    principal: dict[str, int]
    charges: dict[str, int]
    clients: dict[str, str]
    cash: dict[str, int]


def _before(run: StepRun) -> _Before:
    """The balances less this step's own committed postings (a rerun's inputs = the first
    run's)."""
    engine, day = run.ctx.engine, run.ctx.day
    owed: Owed = run.ctx.owed()
    state = _Before(dict(owed.principal), dict(owed.charges), dict(owed.clients), {})
    state.cash = free_cash_by_client(engine)
    with engine.connect() as conn:
        own = posted_collections(conn, day)
    for account, amount in own.items():
        parts = account.split(":")
        if parts[0] == "client":
            _, client, kind, contract = parts
            into = state.charges if kind == "charges" else state.principal
            into[contract] = into.get(contract, 0) + amount  # owed = -balance
            state.clients[contract] = client
        elif len(parts) == 3 and parts[:2] == ["firm", "collateral_cash"]:
            state.cash[parts[2]] = state.cash.get(parts[2], 0) - amount
    return state


Due = tuple[int, int, int]  # (contract index, charges owed, principal due), fen


@dataclass
class _Plan:
    engine: Engine
    day: date
    policy: CollectionPolicy
    cols: ContractColumns
    maturity: np.ndarray  # in force, ordinal
    due_by_client: dict[str, list[Due]]  # contracts with something due, in id order
    due_fen: dict[str, int]  # each client's total due
    before: _Before
    splits: dict[str, dict[Component, int]]  # contracts that may owe more than one component
    terms_events: TermEvents
    pending: dict[str, Mapping[str, int]]  # before the step: contract -> kind -> fen


def _plan(run: StepRun, policy: CollectionPolicy) -> _Plan:
    engine, day = run.ctx.engine, run.ctx.day
    before = _before(run)
    payers = {client for client, fen in before.cash.items() if fen > 0}
    owing = {cid for cid, n in before.charges.items() if n > 0}
    owing |= {cid for cid, n in before.principal.items() if n > 0}
    wanted = {cid for cid in owing if before.clients.get(cid) in payers}
    cols = run.ctx.contract_columns(wanted)
    events = load_term_events(engine, through=day - timedelta(days=1))
    maturity = cols.maturity.copy()
    for cid, i in cols.placed(sorted(events.contracts() & wanted)):
        maturity[i] = events.maturity(cid, date.fromordinal(int(maturity[i])))[0].toordinal()
    today = day.toordinal()
    due_by_client: dict[str, list[Due]] = defaultdict(list)
    due_fen: dict[str, int] = defaultdict(int)
    history: dict[str, str] = {}
    kinds: dict[str, ContractKind] = {}
    financing, ends = cols.financing.tolist(), maturity.tolist()
    for i, cid in enumerate(cols.ids):
        if cid not in wanted:
            continue
        charges = max(before.charges.get(cid, 0), 0)
        principal = max(before.principal.get(cid, 0), 0)
        due_principal = principal if financing[i] and ends[i] <= today else 0
        if charges or due_principal:
            client = cols.clients[i]
            due_by_client[client].append((i, charges, due_principal))
            due_fen[client] += charges + due_principal
            kind = kind_of(financing[i])
            if charges and history_needed(kind, principal, date.fromordinal(ends[i]), day):
                history[cid], kinds[cid] = client, kind
    moves = charge_histories(engine, history, leave_out=day)
    with engine.connect() as conn:  # what is pending now and what this step posted of it
        pending = {**book_pending(conn).by_contract, **collection_pending_posted(conn, day)}
    splits = {
        cid: split_owed(
            [*moves.get(cid, []), *([pending_move(cid, pending[cid])] if cid in pending else [])],
            before.charges[cid],
            own_component(kinds[cid]),
            policy.order.components,
        )
        for cid in sorted(history)
    }
    return _Plan(
        engine, day, policy, cols, maturity, dict(due_by_client), dict(due_fen), before, splits,
        events, pending,
    )  # fmt: skip


def _line(plan: _Plan, due: Due) -> CollectionLine:
    """Everything due on one contract."""
    i, charges, principal = due
    cid = plan.cols.ids[i]
    split = plan.splits.get(cid)
    if split is None:  # all its own kind of charge
        if plan.cols.financing[i]:
            return CollectionLine(cid, interest_fen=charges, principal_fen=principal)
        return CollectionLine(cid, fees_fen=charges, principal_fen=principal)
    return CollectionLine(
        cid,
        split.get(Component.FEES, 0),
        split.get(Component.PENALTY, 0),
        split.get(Component.INTEREST, 0),
        principal,
    )


def _lines(plan: _Plan, client: str, terms: dict[str, ContractTerms]) -> list[CollectionLine]:
    """What the client pays: everything due when its cash covers it (what the allocation
    gives then, in contract order), else the allocation of its cash."""
    dues = plan.due_by_client[client]
    cash = plan.before.cash[client]
    if cash >= plan.due_fen[client]:
        maturity, used = plan.maturity, plan.cols.used
        ordered = sorted(dues, key=lambda d: (int(maturity[d[0]]), int(used[d[0]])))
        return [_line(plan, due) for due in ordered]
    debts = []
    for due in dues:
        line, cid = _line(plan, due), plan.cols.ids[due[0]]
        debts.append(
            ContractDebt(
                plan.terms_events.in_force(terms[cid]),
                line.fees_fen,
                line.penalty_fen,
                line.interest_fen,
                max(plan.before.principal.get(cid, 0), 0),
            )
        )
    return collect_on_schedule(debts, cash, plan.day, plan.policy.order)


def _short_clients(plan: _Plan) -> list[str]:
    """Clients whose cash does not cover everything due (their contracts' terms are read)."""
    return sorted(c for c, due in plan.due_fen.items() if plan.before.cash.get(c, 0) < due)


def _transactions(
    plan: _Plan, digest: Digest, totals: dict[Component, int], posted: dict[str, int]
) -> Iterator[Transaction]:
    """Each paying client's transactions in client order, built as they are posted; then
    the postings of the pending charges the collection did not take (``posted``: fen of
    pending posted, by contract)."""
    yield from _collections(plan, digest, totals, posted)
    rest = {cid: plan.pending[cid] for cid in sorted(plan.pending.keys() - posted.keys())}
    for cid, kinds in rest.items():
        posted[cid] = sum(kinds.values())
        digest.line("pending posted", cid, *(f"{k}={v}" for k, v in sorted(kinds.items())))
    prefix = pending_posting_prefix(plan.day)
    yield from postings_by_client(prefix, plan.day, rest, plan.before.clients)


def _collections(
    plan: _Plan, digest: Digest, totals: dict[Component, int], posted: dict[str, int]
) -> Iterator[Transaction]:
    """Each paying client's transactions in client order, built as they are posted."""
    short = _short_clients(plan)
    wanted = [plan.cols.ids[due[0]] for client in short for due in plan.due_by_client[client]]
    terms = load_terms(plan.engine, wanted)
    prefix = collection_prefix(plan.day)
    for client in sorted(plan.due_by_client):
        lines = _lines(plan, client, terms)
        for part, start in enumerate(range(0, len(lines), PART_LINES)):
            chunk = lines[start : start + PART_LINES]
            command = prefix + client + (f":{part}" if part else "")
            for line in chunk:
                amounts = (line.fees_fen, line.penalty_fen, line.interest_fen, line.principal_fen)
                digest.line(command, line.contract_id, *amounts)
                for component, amount in zip(_COMPONENTS, amounts, strict=True):
                    totals[component] += amount
            paid = [x.allocation() for x in chunk]
            txn = ops.repay_financing(command, plan.day, client, paid)
            pending = {
                a.contract_id: plan.pending[a.contract_id]
                for a in paid
                if a.charges_fen > 0 and a.contract_id in plan.pending
            }
            txn = replace(txn, events=collected_events(chunk))
            posted.update((cid, sum(kinds.values())) for cid, kinds in pending.items())
            yield with_pending_posted(txn, pending_to_post(client, pending))


def _policy_on(run: StepRun) -> Version[CollectionPolicy] | None:
    """The policy version in force if the day is one of its collection days (the cheap
    check every day makes)."""
    version = load_collection_policies(run.ctx.engine).version_at(run.ctx.day)
    if version is None:
        return None
    calendar = load_calendar(run.ctx.engine)
    return version if version.value.schedule.is_collection_day(run.ctx.day, calendar) else None


def collect_step(run: StepRun) -> StepOutcome:
    day = run.ctx.day
    digest = Digest()
    version = _policy_on(run)
    if version is None:
        digest.line("no collection", day.isoformat())
        run.progress(1, 1)
        return StepOutcome(digest.hexdigest(), {"collection_day": False})
    digest.line("collection", day.isoformat(), version.version_id)
    plan = _plan(run, version.value)
    estimate = sum(-(-len(dues) // PART_LINES) for dues in plan.due_by_client.values())
    totals = dict.fromkeys(_COMPONENTS, 0)
    clock = run.clock()
    ledger = Ledger(run.ctx.engine, clock)
    posted = 0
    pending_posted: dict[str, int] = {}
    txns = _transactions(plan, digest, totals, pending_posted)
    for number, batch in enumerate(batched(txns, run.ctx.settings.batch_transactions)):
        clock.set(run.moment(1 + number))
        ledger.post_batch(batch)
        posted += len(batch)
        run.progress(posted, max(estimate, posted))
    run.progress(posted, posted)
    return StepOutcome(
        digest.hexdigest(),
        {
            "collection_day": True,
            "policy": version.version_id,
            "clients": len(plan.due_by_client),
            "transactions": posted,
            "collected_fen": {c.value: n for c, n in totals.items()},
            "pending_posted": {
                "contracts": len(pending_posted),
                "fen": sum(pending_posted.values()),
            },
        },
    )
