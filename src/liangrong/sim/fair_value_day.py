"""A trading day's fair values (RISK-2) from the store: what the session's desk opens with
and what the end of day values the book at the close with.

Every security needing a fair value on the day (suspended, under risk warning, off the
firm's collateral list since the previous trading day) is valued by the firm's rule and by
each rule the given clients' agreements name (``risk.fair_values.plan``).  A security is
suspended when the master says so or a suspension on record (the end of day's
``term_rules`` events) is in force on the day; its reference close is its last close before
the recorded suspension began (``store_closes``).  Index levels: the shipped CSI 300
history and the closes recorded in the store (``simulated_index.known_levels``).

Invariant: a function of the store and the reference day; nothing is valued by a guess (a
security its rule cannot value is in ``FairValuePlan.missing``, at the market price).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from sqlalchemy import Engine

from liangrong.domain.fair_value import FairValueRule
from liangrong.domain.securities import Status
from liangrong.risk.fair_values import (
    FairValueInputs,
    FairValuePlan,
    plan,
    removed_from_list,
    rules_in_force,
    store_closes,
)
from liangrong.sim.reference_day import ReferenceDay
from liangrong.sim.simulated_index import INDEX_NAME, known_levels
from liangrong.store.eod_records import load_security_events, suspensions_on
from liangrong.store.list_publications import load_list_store


def day_fair_values(
    store: Engine, ref: ReferenceDay, clients: Sequence[str] = ()
) -> FairValuePlan:
    """The fair values of ``ref``'s trading day under the firm's rule and ``clients``'."""
    day = ref.trading_date
    previous = ref.calendar.previous_trading_day(day)
    try:
        before = load_list_store(store, previous, previous).firm_lists_on(previous).lists
    except LookupError:
        before = None  # no lists the day before: nothing was removed since
    suspended = {
        symbol: s.suspended_from
        for symbol, s in suspensions_on(load_security_events(store), day).items()
        if s.resumed_on is None or s.resumed_on > day
    }
    # The master is the current state; a suspension on record for the day suspends too.
    statuses = {s.symbol: s.status for s in ref.master}
    statuses.update({symbol: Status.SUSPENDED for symbol in suspended})
    inputs = FairValueInputs(
        day=day,
        statuses=statuses,
        last_closes={},
        indexes={INDEX_NAME: known_levels(store)},
        default_index=INDEX_NAME,
        removed_from_list=removed_from_list(before, ref.firm_lists),
    )
    closes = store_closes(store, inputs, suspended)
    firm, agreed = rules_in_force(ref.rule_book, clients, day)
    rules: dict[str, FairValueRule | None] = dict(agreed)
    return plan(replace(inputs, last_closes=closes), firm, rules)
