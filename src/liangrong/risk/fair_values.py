"""The day's fair values (RISK-2), computed for every rule in use and fed to the risk engine.

Given the securities' statuses, the securities removed from the firm's collateral list and
those in transit from a rights event, the last closes and the index levels, ``plan``
values every security that needs a fair value under each rule in use: the firm's and every
rule a client's agreement names (``domain.fair_value``).  The last closes come from the
store (``store_closes``: a suspended security's last close before its suspension began,
however long ago; any other's latest close on or before the day).

``feed`` gives the engine the day's values as one event (``RiskEngine.on_fair_values``):
the firm's rule's prices for the arrays (one valuation price per security, recorded with
its rule's name; the securities no rule values any more back to the market price), and
for every client whose agreement names another rule its own prices (``client_prices``):
the engine decides those of its accounts that hold a security the two rules value
differently exactly at their own prices.  ``client_account`` is such a client's exact
account at its own prices (what the engine decides on); ``clients_off_firm_rule`` names
the clients concerned.  ``firm_changes`` serves a reader of the arrays without an engine
(the stress step).

Invariants: a security needing a fair value without the inputs its rule needs (no close,
no index level, no known last trading day for a rule that reads the index since then) is
reported in ``FairValuePlan.missing`` with the reason and left at the market price, never
valued by a guess; index levels are exact (floats from a data file are read through their
decimal text); the engine receives the rule's name with each price.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from fractions import Fraction
from types import MappingProxyType

import numpy as np
from sqlalchemy import Engine

from liangrong.domain import margin
from liangrong.domain.fair_value import (
    FairValue,
    FairValueError,
    FairValueReason,
    FairValueRule,
    ReferenceClose,
    fair_value,
    reasons_for,
    rule_in_force,
)
from liangrong.domain.lists import DailyLists
from liangrong.domain.money import parse_ratio
from liangrong.domain.rule_book import NoRuleInForce, RuleBook
from liangrong.domain.securities import Status
from liangrong.risk.book_arrays import BookArrays, Valuation
from liangrong.risk.engine import RiskEngine
from liangrong.risk.statuses import OwnPrices, StatusChange, repriced
from liangrong.risk.views import exact_account
from liangrong.store.closing_prices import last_closes, last_closes_before

IndexLevels = Mapping[date, Fraction]  # one index: trading day -> level (close)
_NOT_TRADING = frozenset({Status.SUSPENDED, Status.DELISTED})  # no close of their own


@dataclass(frozen=True, slots=True)
class LastClose:
    """A security's last close: before a suspension, the close of its last trading day.

    ``day_known`` False: a suspended security whose suspension has no recorded start; its
    recorded closes repeat its last traded one, so the price is right but ``day`` may be
    later than its last trading day, and a rule reading the index since then cannot use it.
    """

    day: date
    close_li: int
    day_known: bool = True


@dataclass(frozen=True, slots=True)
class FairValueInputs:
    """What one day's fair values are computed from."""

    day: date  # the valuation day: index levels are read on it (or the latest before)
    statuses: Mapping[str, Status]  # symbol -> status on ``day`` (the securities master)
    last_closes: Mapping[str, LastClose]
    indexes: Mapping[str, IndexLevels]  # index name -> its levels
    default_index: str  # the index of a security ``index_of`` does not name
    index_of: Mapping[str, str] = field(default_factory=dict)  # symbol -> index name
    removed_from_list: frozenset[str] = frozenset()  # off the collateral list since the last
    # symbol in transit -> the listed symbol whose close values it (itself, for bonus shares)
    in_transit: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class FairValuePlan:
    """The day's fair values under each rule in use, and who uses which rule."""

    day: date
    firm_rule: FairValueRule
    values: Mapping[FairValueRule, Mapping[str, FairValue]]
    client_rules: Mapping[str, FairValueRule]  # only clients whose rule is not the firm's
    missing: Mapping[str, str]  # symbol -> why no rule could value it (stays at market)

    def firm_values(self) -> Mapping[str, FairValue]:
        return self.values[self.firm_rule]

    def for_client(self, client_id: str) -> Mapping[str, FairValue]:
        return self.values[self.client_rules.get(client_id, self.firm_rule)]


def removed_from_list(before: DailyLists | None, today: DailyLists) -> frozenset[str]:
    """Securities that were collateral on the previous list and are not on today's."""
    if before is None:
        return frozenset()
    return frozenset(set(before.collateral) - set(today.collateral))


def index_levels(days: Sequence[date], closes: Iterable[float]) -> dict[date, Fraction]:
    """Exact levels from a data file's floats, each read through its shortest decimal text
    (the CSV's own digits), never through the float's binary value."""
    # float(): a numpy scalar's repr is not its digits
    pairs = zip(days, closes, strict=True)
    return {day: parse_ratio(float(close), "index level") for day, close in pairs}


def rules_in_force(
    book: RuleBook, client_ids: Iterable[str], on: date
) -> tuple[FairValueRule, dict[str, FairValueRule]]:
    """The firm's rule on ``on`` and each client's agreed rule where it names one."""
    firm = book.firm.version_at(on)
    if firm is None:
        raise NoRuleInForce(f"no firm policy on {on}")
    agreed: dict[str, FairValueRule] = {}
    for client_id in client_ids:
        version = book.client_version(client_id, on)
        if version is not None and version.value.fair_value_rule is not None:
            agreed[client_id] = version.value.fair_value_rule
    return firm.value.fair_value_rule, agreed


def _needing(inputs: FairValueInputs) -> dict[str, frozenset[FairValueReason]]:
    symbols = {*inputs.statuses, *inputs.removed_from_list, *inputs.in_transit}
    found = {}
    for symbol in sorted(symbols):
        reasons = reasons_for(
            inputs.statuses.get(symbol, Status.NORMAL),
            removed_from_list=symbol in inputs.removed_from_list,
            in_transit=symbol in inputs.in_transit,
        )
        if reasons:
            found[symbol] = reasons
    return found


def _level(levels: IndexLevels, day: date, exact_day: bool) -> Fraction | None:
    if exact_day:
        return levels.get(day)
    days = sorted(levels)
    i = bisect_right(days, day)
    return levels[days[i - 1]] if i else None


def _reference(inputs: FairValueInputs, symbol: str, rule: FairValueRule) -> ReferenceClose | str:
    """The reference close for ``symbol`` under ``rule``, or why there is none."""
    listed = inputs.in_transit.get(symbol, symbol)
    close = inputs.last_closes.get(listed)
    if close is None:
        return f"no last close of {listed}"
    if rule is FairValueRule.LAST_CLOSE:
        return ReferenceClose(close.close_li, close.day)
    if not close.day_known:
        return f"the suspension of {listed} has no recorded start"
    name = inputs.index_of.get(listed, inputs.default_index)
    levels = inputs.indexes.get(name, {})
    then = _level(levels, close.day, exact_day=True)
    now = _level(levels, inputs.day, exact_day=False)
    if then is None or now is None:
        return f"no level of {name} on {close.day if then is None else inputs.day}"
    return ReferenceClose(close.close_li, close.day, then, now)


def plan(
    inputs: FairValueInputs,
    firm_rule: FairValueRule,
    client_rules: Mapping[str, FairValueRule | None] | None = None,
) -> FairValuePlan:
    """Every security needing a fair value, valued under the firm's rule and every rule a
    client's agreement names (``client_rules``: None or absent keeps the firm's)."""
    own = {client: rule_in_force(rule, firm_rule) for client, rule in (client_rules or {}).items()}
    differing = {client: rule for client, rule in own.items() if rule is not firm_rule}
    needing = _needing(inputs)
    values: dict[FairValueRule, Mapping[str, FairValue]] = {}
    missing: dict[str, str] = {}
    for rule in sorted({firm_rule, *differing.values()}, key=lambda r: r.value):
        valued: dict[str, FairValue] = {}
        for symbol, reasons in needing.items():
            reference = _reference(inputs, symbol, rule)
            if isinstance(reference, str):
                missing.setdefault(symbol, f"{rule.value}: {reference}")
                continue
            try:
                valued[symbol] = fair_value(symbol, reasons, rule, reference)
            except FairValueError as exc:
                missing.setdefault(symbol, f"{rule.value}: {exc}")
        values[rule] = MappingProxyType(valued)
    return FairValuePlan(
        inputs.day,
        firm_rule,
        MappingProxyType(values),
        MappingProxyType(differing),
        MappingProxyType(missing),
    )


def store_closes(
    store: Engine, inputs: FairValueInputs, suspended_from: Mapping[str, date]
) -> dict[str, LastClose]:
    """The last closes ``inputs`` needs, from the store's closing prices: for a security
    suspended on the day (``suspended_from``: the first day of each suspension in force)
    the last close strictly before its suspension began; for any other, and for a
    suspended one with no recorded start (``LastClose.day_known`` False), its latest close
    on or before the day (at the close, the day's own)."""
    listed = {inputs.in_transit.get(symbol, symbol) for symbol in _needing(inputs)}
    since = {symbol: suspended_from[symbol] for symbol in listed if symbol in suspended_from}
    found = {
        symbol: LastClose(close.trading_date, close.price_li)
        for symbol, close in last_closes_before(store, since).items()
    }
    untraded = {s for s, status in inputs.statuses.items() if status in _NOT_TRADING}
    latest = last_closes(store, listed - set(since), inputs.day, inclusive=True)
    for symbol, close in latest.items():
        found[symbol] = LastClose(close.trading_date, close.price_li, symbol not in untraded)
    return found


def client_prices(fair: FairValuePlan) -> dict[str, OwnPrices]:
    """Each client on another rule: every security its rule values differently from the
    firm's, at its rule's price (None: its rule cannot value it, the market price does).
    Clients on the same rule share one mapping."""
    firm = fair.firm_values()
    by_rule: dict[FairValueRule, OwnPrices] = {}
    for rule in set(fair.client_rules.values()):
        own = fair.values[rule]
        prices: dict[str, int | None] = {}
        for symbol in sorted({*own, *firm}):
            mine = own[symbol].price_li if symbol in own else None
            if mine != (firm[symbol].price_li if symbol in firm else None):
                prices[symbol] = mine
        by_rule[rule] = MappingProxyType(prices)
    return {client: by_rule[rule] for client, rule in sorted(fair.client_rules.items())}


def firm_changes(book: BookArrays, fair: FairValuePlan) -> dict[str, Valuation | None]:
    """What the arrays must change to hold the firm's values: (price, rule) for each value
    they do not hold yet, None for each security a rule valued before and none values now."""
    firm = fair.firm_values()
    changes: dict[str, Valuation | None] = {
        symbol: (value.price_li, value.rule_name)
        for symbol, value in firm.items()
        if not _valued_so(book, value)  # nothing would move
    }
    sec = book.securities
    ruled = np.flatnonzero(sec.rule[: sec.n] != 0).tolist()
    for symbol in sorted(sec.symbols[s] for s in ruled):
        if symbol not in firm:
            changes[symbol] = None
    return changes


def feed(engine: RiskEngine, at: datetime, fair: FairValuePlan) -> list[StatusChange]:
    """The day's fair values into the engine from ``at`` on, as one event: the firm's in
    the arrays, each other rule's for its clients; the status changes."""
    return engine.on_fair_values(at, firm_changes(engine.book, fair), client_prices(fair))


def _valued_so(book: BookArrays, value: FairValue) -> bool:
    sec = book.securities
    s = sec.index.get(value.symbol)
    if s is None:
        return False
    return (
        sec.rule_names[int(sec.rule[s])] == value.rule_name
        and int(sec.value_li[s]) == value.price_li
    )


def client_account(book: BookArrays, client_id: str, fair: FairValuePlan) -> margin.Account:
    """The client's exact account at the prices of the client's own rule (the arrays hold
    the firm's): what the engine decides such a client's status on."""
    account = exact_account(book, book.account_of(client_id))
    if client_id not in fair.client_rules:
        return account
    return repriced(book, account, client_prices(fair)[client_id])


def clients_off_firm_rule(book: BookArrays, fair: FairValuePlan) -> list[str]:
    """Clients whose own rule prices some security they hold or owe differently from the
    firm's (their decisions are taken on ``client_account``), sorted."""
    sec = book.securities
    found = []
    for client_id, prices in client_prices(fair).items():
        a = book.accounts.index.get(client_id)
        if a is None:
            continue
        held = book.securities_of(a)
        if any(sec.index.get(symbol) in held for symbol in prices):
            found.append(client_id)
    return found
