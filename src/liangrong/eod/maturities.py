"""Step ``maturities``: the day's extension requests decided, then every contract still owed
checked against its term (CON-1, CON-2, CLI-6 contract expiry; ``contract_lifecycle``).

- each pending request (recorded, requested on or before the day, not yet decided) is
  decided with the client's ratio at the close, its forced liquidations, its defaults the
  firm recorded as malicious (occurred on or before the day, cured or not, not withdrawn
  as recorded in error by then: ``recorded_defaults.malicious_records``) and the rule
  book's limits, and recorded with every finding and the malicious records' ids
  (``extension_decided``; granted ones change the term from then on);
- a contract inside its notice window gets its expiry notice (one per maturity);
- a contract owed after its maturity is overdue: the trigger is recorded once per maturity
  (``overdue``; penalty interest and the liquidation from the next trading day follow from
  it); an overdue contract found repaid is recorded as cleared (``overdue_cleared``).

Invariants: every record has a deterministic id (``extension:{request}``,
``expiry:{contract}:{maturity}``, ``overdue:{contract}:{maturity}``,
``cleared:{contract}:{maturity}``), so a rerun adds only what an interrupted run had not
recorded, in the same order; only contracts whose maturity falls inside the notice horizon,
or that are overdue, suspended over their maturity or on record as overdue, are examined
one by one (the rest are running, whatever else they are); the recorded events read back
are the kinds that change a term or open and clear an overdue trigger, never the expiry
notices, which grow with every day kept (index ``ix_contract_events_kind_date``).
"""

from __future__ import annotations

from collections.abc import Set as AbstractSet
from fractions import Fraction

import numpy as np

from liangrong.book.accounts import margin_account
from liangrong.book.loader import load_mirrors
from liangrong.domain import margin
from liangrong.domain.contract_lifecycle import (
    ContractStatus,
    ExtensionLimits,
    ExtensionRequest,
    Standing,
    check_on,
    decide_extension,
)
from liangrong.domain.recorded_defaults import malicious_records
from liangrong.domain.rule_book import terms_for
from liangrong.eod.book_view import load_terms
from liangrong.eod.context import Digest, EodContext, StepOutcome, StepRun
from liangrong.eod.contract_terms import (
    EXPIRY_NOTICE,
    EXTENSION_DECIDED,
    OVERDUE,
    OVERDUE_CLEARED,
    TERM_KINDS,
    TermEvents,
    cleared_id,
    load_term_events,
    overdue_id,
    suspensions_on,
)
from liangrong.store.eod_records import (
    ContractEvent,
    ExtensionRequestRecord,
    load_contract_events,
    load_extension_requests,
    load_security_events,
    recorded_event_ids,
    save_contract_events,
)
from liangrong.store.recorded_defaults import load_recorded_defaults
from liangrong.store.risk_records import liquidation_history

_BATCH = 2_000
# what the checks read back: expiry notices, most of the events, would only grow the read
_CHECKED_KINDS = TERM_KINDS | {OVERDUE, OVERDUE_CLEARED}


def ratios_at_close(ctx: EodContext, clients: list[str]) -> dict[str, Fraction | None]:
    """Each client's maintenance ratio at the day's closes (None: no debt)."""
    market = ctx.closing_market()
    mirrors = load_mirrors(ctx.engine, clients)
    return {c: margin.maintenance_ratio(margin_account(mirrors[c], market)) for c in clients}


def _decide(run: StepRun, pending: list[tuple[int, ExtensionRequestRecord]]) -> list[ContractEvent]:
    """Decide and record each request in turn (a later request sees an earlier grant);
    ``pending``: (position among all requests, request), the position fixing its moment."""
    ctx = run.ctx
    ref, policy = ctx.reference(), ctx.settings.policy.lifecycle_on(ctx.day)
    clients = sorted({r.client_id for _, r in pending})
    ratios = ratios_at_close(ctx, clients)
    recorded = load_recorded_defaults(ctx.engine, clients=clients, through=ctx.day)
    terms = load_terms(ctx.engine, [r.contract_id for _, r in pending])
    events = load_term_events(ctx.engine, through=ctx.day)
    decided: list[ContractEvent] = []
    for position, request in pending:
        contract = terms[request.contract_id]
        liquidations = tuple(
            run_record.trading_date
            for run_record in liquidation_history(ctx.engine, request.client_id)
        )
        malicious = malicious_records(recorded, request.client_id, ctx.day)
        standing = Standing(
            ratios[request.client_id], liquidations, bool(malicious), request.committee_approval
        )
        limits = ExtensionLimits.from_terms(
            terms_for(ref.rule_book, request.client_id, ctx.day), request.agreement_end
        )
        decision = decide_extension(
            ExtensionRequest(request.contract_id, request.requested_on, request.new_maturity),
            events.term(contract),
            standing,
            limits,
            ref.calendar,
            policy,
        )
        event = ContractEvent(
            _decision_id(request), contract.contract_id, contract.client_id,
            ctx.day, EXTENSION_DECIDED, decision.new_maturity,
            {**decision.to_event(), "request_id": request.request_id,
             "malicious_records": malicious},
        )  # fmt: skip
        save_contract_events(ctx.records_engine(), [event], run.stamp(position))
        events.add(event)  # the client's next request sees this one's grant
        decided.append(event)
    return decided


def _examined(
    ctx: EodContext, owed: AbstractSet[str], events: TermEvents, on_record: set[str]
) -> list[str]:
    """Contracts that may be expiring, due, overdue or waiting for a resumption today."""
    cols = ctx.contract_columns(owed)
    calendar, policy = ctx.reference().calendar, ctx.settings.policy.lifecycle_on(ctx.day).value
    horizon = calendar.add_trading_days(ctx.day, policy.expiry_notice_trading_days).toordinal()
    near = np.flatnonzero(cols.maturity <= horizon).tolist()
    moved = {cid for cid, _ in cols.placed(events.contracts())}
    picked = {cols.ids[i] for i in near} | moved | on_record
    suspended = suspensions_on(load_security_events(ctx.engine), ctx.day)
    if suspended:
        picked |= {cid for cid, x in zip(cols.ids, cols.securities, strict=True) if x in suspended}
    return sorted(picked)


def _checks(run: StepRun) -> list[ContractEvent]:
    ctx = run.ctx
    owed = ctx.owed()  # kept for the steps after (statuses, reports) while nothing posts
    owing = owed.owing
    recorded = load_contract_events(ctx.engine, kinds=_CHECKED_KINDS, through=ctx.day)
    overdue = {cleared_id(e.event_id): e for e in recorded if e.kind == OVERDUE}
    cleared = {e.event_id for e in recorded if e.kind == OVERDUE_CLEARED}
    events = TermEvents(recorded)
    on_record = {e.contract_id for key, e in overdue.items() if key not in cleared}
    examined = _examined(ctx, owing, events, on_record)
    terms = load_terms(ctx.engine, examined)
    suspended = suspensions_on(load_security_events(ctx.engine), ctx.day)
    policy = ctx.settings.policy.lifecycle_on(ctx.day).value
    calendar = ctx.reference().calendar
    found: list[ContractEvent] = []
    for cid in examined:
        contract = terms[cid]
        term = events.term(contract)
        owes = cid in owing
        check = check_on(
            contract, term, ctx.day, owes, calendar, policy, suspended.get(contract.security)
        )
        if check.notice is not None:
            n = check.notice
            found.append(
                ContractEvent(
                    n.notice_id, cid, n.client_id, ctx.day, EXPIRY_NOTICE, n.maturity,
                    {"trading_days_left": n.trading_days_left, "provisional": n.provisional},
                )
            )  # fmt: skip
        if check.trigger is not None:
            t = check.trigger
            found.append(
                ContractEvent(
                    overdue_id(cid, term.maturity), cid, t.client_id, ctx.day,
                    OVERDUE, term.maturity,
                    {"overdue_since": t.overdue_since.isoformat(),
                     "liquidate_from": t.liquidate_from.isoformat(), "reason": t.reason.value,
                     "kind": contract.kind.value, "security": contract.security,
                     "principal": owed.principal_of(cid),
                     "charges_fen": owed.charges_of(cid)},
                )
            )  # fmt: skip
        if check.status is ContractStatus.CLOSED:
            found.extend(
                ContractEvent(
                    key, cid, contract.client_id, ctx.day, OVERDUE_CLEARED, e.maturity,
                    {"overdue_event": e.event_id},
                )
                for key, e in sorted(overdue.items())
                if e.contract_id == cid and key not in cleared
            )  # fmt: skip
    return found


def _decision_id(request: ExtensionRequestRecord) -> str:
    return f"extension:{request.request_id}"


def maturities_step(run: StepRun) -> StepOutcome:
    ctx = run.ctx
    due = [
        (position, r)
        for position, r in enumerate(load_extension_requests(ctx.engine))
        if r.requested_on <= ctx.day
    ]
    decided = recorded_event_ids(ctx.engine, (_decision_id(r) for _, r in due))
    pending = [(position, r) for position, r in due if _decision_id(r) not in decided]
    if pending:
        _decide(run, pending)
    found = _checks(run)
    for number, start in enumerate(range(0, len(found), _BATCH)):
        records, batch = ctx.records_engine(), found[start : start + _BATCH]
        save_contract_events(records, batch, run.stamp(10_000 + number))
        run.progress(min(start + _BATCH, len(found)), len(found))
    digest = Digest()
    today = load_contract_events(ctx.engine, on=ctx.day)
    for event in today:
        digest.line(event.event_id, event.kind, event.maturity, sorted(event.payload.items()))
    counts = {
        kind: sum(1 for e in today if e.kind == kind) for kind in sorted({e.kind for e in today})
    }
    run.progress(1, 1)
    return StepOutcome(digest.hexdigest(), {"events": counts})
