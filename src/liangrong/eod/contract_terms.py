"""The securities' suspensions and last trading days, and (from ``store.contract_terms``)
each contract's term in force: opening maturity, then every granted extension and every
suspension or delisting change recorded by earlier end-of-day steps.

Invariants: a term is the opening term folded with its contract's recorded term events in
the order recorded (``contract_events`` seq), so it is the same on every read (one fold, in
``store.contract_terms``, for the end of day, the book and the desk alike); a suspension is
the latest one begun on or before the day, with its first later resumption.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

from liangrong.domain.contract_lifecycle import Suspension
from liangrong.store.contract_terms import (
    EXPIRY_NOTICE,
    EXTENSION_DECIDED,
    OVERDUE,
    OVERDUE_CLEARED,
    TERM_CHANGED,
    TERM_KINDS,
    TermEvents,
    cleared_id,
    load_term_events,
    overdue_id,
)
from liangrong.store.eod_records import LAST_TRADING_DAY, SecurityTermEvent, suspensions_on

# The contract-event kinds, the term in force and the overdue ids live in the store layer
# (``store.contract_terms``: the book and the desk read them too), the suspensions in
# ``store.eod_records`` (the session's fair values read them): re-exported for the steps.
__all__ = [
    "EXPIRY_NOTICE",
    "EXTENSION_DECIDED",
    "OVERDUE",
    "OVERDUE_CLEARED",
    "TERM_CHANGED",
    "TERM_KINDS",
    "TermEvents",
    "cleared_id",
    "last_trading_days",
    "load_term_events",
    "overdue_id",
    "postponed",
    "suspensions_on",
]


def last_trading_days(events: Sequence[SecurityTermEvent]) -> dict[str, date]:
    """Announced last trading days (the latest announcement of a security stands)."""
    found: dict[str, date] = {}
    for event in sorted(events, key=lambda e: (e.on, e.event_id)):
        if event.kind == LAST_TRADING_DAY:
            found[event.symbol] = event.on
    return found


def postponed(suspension: Suspension | None, maturity: date) -> bool:
    """A suspension holds the maturity: the contract waits, neither due nor overdue."""
    return suspension is not None and suspension.postpones(maturity)
