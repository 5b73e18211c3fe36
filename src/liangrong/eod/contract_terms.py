"""Each contract's term in force (opening maturity, then every granted extension and every
suspension or delisting change recorded by earlier end-of-day steps) and the securities'
suspensions and last trading days.

Invariants: a term is the opening term folded with its contract's recorded term events in
the order recorded (``contract_events`` seq), so it is the same on every read; events of a
kind that does not change the term are ignored here.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from datetime import date
from typing import Any

from liangrong.domain.contract_lifecycle import Suspension, Term, opening_term
from liangrong.domain.contracts import ContractTerms
from liangrong.store.eod_records import (
    LAST_TRADING_DAY,
    RESUMED,
    SUSPENDED,
    ContractEvent,
    SecurityTermEvent,
)

EXTENSION_DECIDED = "extension_decided"
TERM_CHANGED = "term_changed"
EXPIRY_NOTICE = "expiry_notice"
OVERDUE = "overdue"
OVERDUE_CLEARED = "overdue_cleared"
TERM_KINDS = frozenset({EXTENSION_DECIDED, TERM_CHANGED})


class TermEvents:
    """The recorded term events of every contract that has some."""

    def __init__(self, events: Iterable[ContractEvent]) -> None:
        self._by_contract: dict[str, list[ContractEvent]] = defaultdict(list)
        for event in events:
            if event.kind in TERM_KINDS:
                self._by_contract[event.contract_id].append(event)

    def contracts(self) -> frozenset[str]:
        return frozenset(self._by_contract)

    def term(self, terms: ContractTerms) -> Term:
        term = opening_term(terms)
        for event in self._by_contract.get(terms.contract_id, ()):
            term = _applied(term, event.payload)
        return term

    def maturity(self, contract_id: str, opening: date) -> tuple[date, int]:
        """(maturity, extensions) in force, from the opening maturity alone."""
        term = Term(contract_id, opening, opening)
        for event in self._by_contract.get(contract_id, ()):
            term = _applied(term, event.payload)
        return term.maturity, term.extensions


def _applied(term: Term, payload: Mapping[str, Any]) -> Term:
    if payload["type"] == EXTENSION_DECIDED:
        if not payload["granted"]:
            return term
        return Term(
            term.contract_id,
            term.maturity,
            date.fromisoformat(str(payload["new_maturity"])),
            bool(payload["provisional"]),
            term.extensions + 1,
        )
    new = date.fromisoformat(str(payload["new_maturity"]))
    return Term(term.contract_id, term.started, new, bool(payload["provisional"]), term.extensions)


def suspensions_on(events: Sequence[SecurityTermEvent], day: date) -> dict[str, Suspension]:
    """Each security's latest suspension begun on or before ``day``, with its resumption when
    one is recorded (the first trading day again, possibly announced ahead)."""
    found: dict[str, Suspension] = {}
    for event in sorted(events, key=lambda e: (e.symbol, e.on, e.kind)):
        if event.kind == SUSPENDED and event.on <= day:
            found[event.symbol] = Suspension(event.symbol, event.on)
        elif event.kind == RESUMED:
            current = found.get(event.symbol)
            if (
                current is not None
                and current.resumed_on is None
                and event.on > current.suspended_from
            ):
                found[event.symbol] = Suspension(event.symbol, current.suspended_from, event.on)
    return found


def last_trading_days(events: Sequence[SecurityTermEvent]) -> dict[str, date]:
    """Announced last trading days (the latest announcement of a security stands)."""
    found: dict[str, date] = {}
    for event in sorted(events, key=lambda e: (e.on, e.event_id)):
        if event.kind == LAST_TRADING_DAY:
            found[event.symbol] = event.on
    return found


def overdue_id(contract_id: str, maturity: date) -> str:
    return f"{OVERDUE}:{contract_id}:{maturity.isoformat()}"


def cleared_id(overdue_event_id: str) -> str:
    """The id of the record that an overdue contract was repaid."""
    return "cleared:" + overdue_event_id.split(":", 1)[1]


def postponed(suspension: Suspension | None, maturity: date) -> bool:
    """A suspension holds the maturity: the contract waits, neither due nor overdue."""
    return suspension is not None and suspension.postpones(maturity)
