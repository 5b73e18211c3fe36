"""Step ``term_rules``: the suspension and delisting rules applied to the terms of the
contracts still owed (CON-3; S2 art. 22-23, ``contract_lifecycle``).

- a security suspended on or before a contract's maturity and trading again after it: from
  its resumption day the maturity is postponed (``after_resumption``: the clock stopped
  while suspended, within the maximum term counted from the term's start);
- a security whose last trading day comes before a contract's maturity: the maturity
  becomes the trading day before the last trading day (``after_delisting``).

Invariants: each change is recorded once (``suspension:{contract}:{suspended from}``,
``delisting:{contract}:{last trading day}``) as a ``term_changed`` event that every later
reading of the term folds in; applying a rule to the term it produced changes nothing, so
a rerun adds only what an interrupted run had not recorded.
"""

from __future__ import annotations

from liangrong.domain.contract_lifecycle import TermChange, after_delisting, after_resumption
from liangrong.domain.rule_book import terms_for
from liangrong.eod.book_view import load_terms
from liangrong.eod.context import Digest, StepOutcome, StepRun
from liangrong.eod.contract_terms import (
    TERM_CHANGED,
    last_trading_days,
    load_term_events,
    suspensions_on,
)
from liangrong.store.eod_records import (
    ContractEvent,
    load_contract_events,
    load_security_events,
    save_contract_events,
)


def term_rules_step(run: StepRun) -> StepOutcome:
    ctx = run.ctx
    ref = ctx.reference()
    security_events = load_security_events(ctx.engine)
    resumed = {
        symbol: s
        for symbol, s in suspensions_on(security_events, ctx.day).items()
        if s.resumed_on is not None and s.resumed_on <= ctx.day
    }
    delisting = last_trading_days(security_events)
    found: list[ContractEvent] = []
    if resumed or delisting:
        owed = ctx.owed()
        owing = owed.owing
        cols = ctx.contract_columns(owing)
        affected = [
            cid
            for cid, symbol in zip(cols.ids, cols.securities, strict=True)
            if cid in owing and (symbol in resumed or symbol in delisting)
        ]
        terms = load_terms(ctx.engine, affected)
        events = load_term_events(ctx.engine, through=ctx.day)
        for cid in affected:
            contract = terms[cid]
            term = events.term(contract)
            symbol = contract.security
            changes: list[tuple[str, TermChange | None]] = []
            if symbol in resumed:
                suspension = resumed[symbol]
                months = terms_for(ref.rule_book, contract.client_id, ctx.day).max_term_months
                key = f"suspension:{cid}:{suspension.suspended_from.isoformat()}"
                changes.append((key, after_resumption(term, suspension, ref.calendar, months)))
            if symbol in delisting:
                last = delisting[symbol]
                key = f"delisting:{cid}:{last.isoformat()}"
                changes.append((key, after_delisting(term, symbol, last, ctx.day, ref.calendar)))
            for key, change in changes:
                if change is None:
                    continue
                found.append(
                    ContractEvent(
                        key, cid, contract.client_id, ctx.day, TERM_CHANGED,
                        change.new_maturity, change.to_event(),
                    )
                )  # fmt: skip
                term = change.applied(term)
    save_contract_events(ctx.engine, found, run.stamp())
    digest = Digest()
    changed = load_contract_events(ctx.engine, kinds=[TERM_CHANGED], on=ctx.day)
    for event in changed:
        digest.line(event.event_id, event.maturity, sorted(event.payload.items()))
    run.progress(1, 1)
    return StepOutcome(
        digest.hexdigest(),
        {"resumed": sorted(resumed), "delisting": sorted(delisting), "changes": len(changed)},
    )
