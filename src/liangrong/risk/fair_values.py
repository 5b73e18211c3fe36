"""The day's fair values (RISK-2), computed for every rule in use and fed to the risk engine.

Given the securities' statuses, the securities removed from the firm's collateral list and
those in transit from a rights event, the last closes and the index levels, ``plan``
values every security that needs a fair value under each rule in use: the firm's and every
rule a client's agreement names (``domain.fair_value``).  ``feed`` gives the engine the
firm's values (``RiskEngine.on_fair_value``: the arrays hold one valuation price per
security, recorded with its rule's name) and returns the securities no rule values any
more to the market price.

Clients whose agreement names another rule: the arrays' screen uses the firm's price for
them too; ``client_account`` is their exact account at their own rule's prices, and
``clients_off_firm_rule`` names those among them who hold or owe a security the rules value
differently, so their decisions can be taken on ``client_account``.

Invariants: a security needing a fair value without the inputs its rule needs (no close,
no index level) is reported in ``FairValuePlan.missing`` with the reason and left at the
market price, never valued by a guess; index levels are exact (floats from a data file
are read through their decimal text); the engine receives the rule's name with each price.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from fractions import Fraction
from types import MappingProxyType

import numpy as np

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
from liangrong.risk.book_arrays import BookArrays
from liangrong.risk.engine import RiskEngine
from liangrong.risk.statuses import StatusChange
from liangrong.risk.views import exact_account

IndexLevels = Mapping[date, Fraction]  # one index: trading day -> level (close)


@dataclass(frozen=True, slots=True)
class LastClose:
    """A security's last close: before a suspension, the close of its last trading day."""

    day: date
    close_li: int


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


def feed(engine: RiskEngine, at: datetime, fair: FairValuePlan) -> list[StatusChange]:
    """Value the firm's fair values in the engine from ``at`` on, and return to the market
    price every security a rule valued before and none values now; the status changes."""
    changes: list[StatusChange] = []
    firm = fair.firm_values()
    sec = engine.book.securities
    for symbol, value in firm.items():
        if _valued_so(engine.book, value):
            continue  # no event: nothing would move
        changes += engine.on_fair_value(at, symbol, value.price_li, value.rule_name)
    ruled = np.flatnonzero(sec.rule[: sec.n] != 0).tolist()
    for symbol in sorted(sec.symbols[s] for s in ruled):
        if symbol not in firm:
            changes += engine.on_fair_value(at, symbol, None)
    return changes


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
    """The client's exact account at the prices of the client's own rule.

    The arrays value at the firm's rule; where the client's agreement names another, each
    position in a security that rule values is repriced."""
    account = exact_account(book, book.account_of(client_id))
    own = fair.for_client(client_id)
    if client_id not in fair.client_rules:
        return account

    def price(symbol: str, current: int) -> int:
        value = own.get(symbol)
        if value is not None:
            return value.price_li
        # The firm's rule valued it but the client's cannot (inputs missing): market price.
        return _market(book, symbol) if symbol in fair.firm_values() else current

    return replace(
        account,
        holdings=tuple(
            replace(h, price_li=price(h.security, h.price_li)) for h in account.holdings
        ),
        financing=tuple(
            replace(f, price_li=price(f.security, f.price_li)) for f in account.financing
        ),
        shorts=tuple(replace(s, price_li=price(s.security, s.price_li)) for s in account.shorts),
    )


def _market(book: BookArrays, symbol: str) -> int:
    sec = book.securities
    s = sec.index[symbol]
    return int(sec.market_li[s]) or int(sec.value_li[s])


def clients_off_firm_rule(book: BookArrays, fair: FairValuePlan) -> list[str]:
    """Clients whose own rule prices some security they hold or owe differently from the
    arrays (their decisions are taken on ``client_account``), sorted."""
    firm = fair.firm_values()
    found = []
    for client_id in sorted(fair.client_rules):
        if client_id not in book.accounts.index:
            continue
        own = fair.for_client(client_id)
        account = exact_account(book, book.account_of(client_id))
        symbols = {h.security for h in account.holdings}
        symbols |= {f.security for f in account.financing} | {x.security for x in account.shorts}
        differs = (
            (own[s].price_li if s in own else None) != (firm[s].price_li if s in firm else None)
            for s in symbols
        )
        if any(differs):
            found.append(client_id)
    return found
