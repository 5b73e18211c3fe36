"""Each contract's term in force and its open overdue triggers, from the recorded contract
events (``contract_events``; written by the end of day's maturities and term-rules steps).

The term in force is the opening term (``ContractTerms``: day of use, opening maturity)
folded with the contract's granted extensions and its suspension or delisting term changes.
Everything that orders repayments or decides what is due (the book, the desk, the
statements, the end of day) reads it from here, so they agree on one maturity.

Invariants:
- a term is the opening term folded with its contract's term events in the order recorded
  (``seq``), so it is the same on every read; a refused extension changes nothing; events
  of a kind that does not change the term are ignored;
- each reader loads the events of the kinds it needs in one query, whatever the number of
  contracts (no query per contract);
- an overdue trigger stays open until its ``overdue_cleared`` record (``cleared_id``) is
  stored: a contract repaid since is cleared by the next end of day, never here.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import Engine

from liangrong.domain.contract_lifecycle import Term, opening_term, terms_with
from liangrong.domain.contracts import ContractTerms
from liangrong.store.eod_records import ContractEvent, load_contract_events

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
            self.add(event)

    def add(self, event: ContractEvent) -> None:
        """Fold in an event recorded after those already held (others' kinds are ignored)."""
        if event.kind in TERM_KINDS:
            self._by_contract[event.contract_id].append(event)

    def contracts(self) -> frozenset[str]:
        return frozenset(self._by_contract)

    def term(self, terms: ContractTerms) -> Term:
        term = opening_term(terms)
        for event in self._by_contract.get(terms.contract_id, ()):
            term = _applied(term, event.payload)
        return term

    def in_force(self, terms: ContractTerms) -> ContractTerms:
        """The contract's terms with the maturity in force (the same object when no term
        event is recorded for it)."""
        if terms.contract_id not in self._by_contract:
            return terms
        return terms_with(terms, self.term(terms))

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


def load_term_events(engine: Engine, through: date | None = None) -> TermEvents:
    """Every contract's term events (dated on or before ``through``, if given), one query."""
    return TermEvents(load_contract_events(engine, kinds=TERM_KINDS, through=through))


# --------------------------------------------------------------------------- overdue


def overdue_id(contract_id: str, maturity: date) -> str:
    return f"{OVERDUE}:{contract_id}:{maturity.isoformat()}"


def cleared_id(overdue_event_id: str) -> str:
    """The id of the record that an overdue contract was repaid."""
    return "cleared:" + overdue_event_id.split(":", 1)[1]


@dataclass(frozen=True, slots=True)
class OverdueTrigger:
    """An overdue contract not cleared, as its trigger was recorded (``eod.maturities``)."""

    event_id: str
    contract_id: str
    client_id: str
    liquidate_from: date  # the first trading day the liquidation may start
    reason: str  # a ``LiquidationReason`` value


def open_overdue(engine: Engine, on: date) -> list[OverdueTrigger]:
    """The overdue triggers recorded on or before ``on`` without a cleared record, in the
    order recorded (one query)."""
    events = load_contract_events(engine, kinds=(OVERDUE, OVERDUE_CLEARED), through=on)
    cleared = {e.event_id for e in events if e.kind == OVERDUE_CLEARED}
    return [
        _trigger(e) for e in events if e.kind == OVERDUE and cleared_id(e.event_id) not in cleared
    ]


def _trigger(event: ContractEvent) -> OverdueTrigger:
    liquidate_from = date.fromisoformat(str(event.payload["liquidate_from"]))
    reason = str(event.payload["reason"])
    return OverdueTrigger(
        event.event_id, event.contract_id, event.client_id, liquidate_from, reason
    )
