"""Daily lists (REF-2, REF-3): financing targets, short targets and collateral with haircuts,
one set per layer (exchange, firm) per trading date, published before the open.

Invariants:
- a haircut is an exact ``Fraction`` in [0, 1] (0.7: 70% of the value counts as margin);
- the lists in force on a date are the latest published on or before it, per layer;
- a firm's lists are a subset of the exchange's lists in force on their date and no firm
  haircut is above the exchange's: refused on publication; and if the exchange later removes
  or lowers something, reading the firm's lists applies the exchange's (and reports it), so
  a firm list never runs looser than the exchange's;
- an exchange haircut never exceeds ``haircut_cap`` (kind, index membership, status, P/E);
- list events: a stock put under risk warning, or whose issuer announces delisting, leaves
  both target lists that day and its haircut is 0 from that day; a registration-system IPO is
  a target from its first trading day and rejoins the targets the day its warning is lifted;
- nothing here closes a contract: a contract opened before a removal stays valid until it
  is repaid (REF-3), and the daily report keeps the security until then (REP-1).
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import date
from enum import Enum
from fractions import Fraction
from types import MappingProxyType

from liangrong.domain.parameters import ExchangeRules
from liangrong.domain.rule_codes import (
    RuleCode,
    RuleRefused,
    Violation,
    percent_text,
    refuse_if_any,
)
from liangrong.domain.securities import Kind, Security, Status

PeRatios = Mapping[str, Fraction | None]  # static P/E by symbol; None: not a stock or unknown

# A security in one of these states may not be a target (S0 ch4 §4).
NOT_TARGET_STATUSES = frozenset({Status.RISK_WARNING, Status.DELISTING_PERIOD, Status.DELISTED})


class ListLayer(Enum):
    EXCHANGE = "exchange"
    FIRM = "firm"


@dataclass(frozen=True, slots=True)
class DailyLists:
    """One layer's lists for one trading date.  ``collateral``: symbol -> haircut."""

    trading_date: date
    layer: ListLayer
    financing_targets: frozenset[str]
    short_targets: frozenset[str]
    collateral: Mapping[str, Fraction]

    def __post_init__(self) -> None:
        object.__setattr__(self, "collateral", MappingProxyType(dict(self.collateral)))
        refuse_if_any(
            [
                Violation(RuleCode.HAIRCUT_OUT_OF_RANGE, value=str(h), symbol=symbol)
                for symbol, h in sorted(self.collateral.items())
                if not 0 <= h <= 1
            ]
        )

    def haircut(self, symbol: str) -> Fraction | None:
        """The haircut, or None when the security is not collateral."""
        return self.collateral.get(symbol)


def haircut_cap(
    security: Security, pe: Fraction | None, rules: ExchangeRules, cash_product: bool = False
) -> Fraction:
    """The exchange's highest haircut for a security on a day (S0 ch4 §2, domain-notes §2).

    0 for risk warning, delisting and delisted; for a stock, 0 too when the P/E rule is in
    force and its static P/E is at or above the limit, negative, or unknown (``pe`` None: a
    stock that cannot show it qualifies gets the stricter value).  ``cash_product``: a money
    fund or cash product, which has the government bond cap.
    """
    caps = rules.haircut_caps
    if security.status in NOT_TARGET_STATUSES:
        return Fraction(0)
    if security.kind is Kind.STOCK:
        limit = rules.zero_haircut_pe_from
        if limit is not None and (pe is None or pe < 0 or pe >= limit):
            return Fraction(0)
        return caps.large_cap_stock if security.large_cap_constituent else caps.other_stock
    if security.kind is Kind.GOVERNMENT_BOND or cash_product:
        return caps.government_bond_or_cash
    if security.kind is Kind.ETF:
        return caps.etf
    return caps.other_fund_or_bond


def collateral_haircuts(
    symbols: Iterable[str],
    master: Mapping[str, Security],
    pe: PeRatios,
    rules: ExchangeRules,
    cash_products: Collection[str] = frozenset(),
) -> dict[str, Fraction]:
    """Each symbol's exchange haircut: its cap under ``rules``."""
    return {
        s: haircut_cap(master[s], pe.get(s), rules, s in cash_products) for s in sorted(symbols)
    }


def check_exchange_lists(
    lists: DailyLists,
    securities: Iterable[Security],
    pe: PeRatios,
    rules: ExchangeRules,
    cash_products: Collection[str] = frozenset(),
) -> list[Violation]:
    """Unknown securities, ineligible targets and haircuts above the rule cap."""
    master = {s.symbol: s for s in securities}
    on = lists.trading_date
    named = lists.financing_targets | lists.short_targets | lists.collateral.keys()
    found = [Violation(RuleCode.UNKNOWN_SECURITY, symbol=s) for s in sorted(named - master.keys())]
    for symbol in sorted((lists.financing_targets | lists.short_targets) & master.keys()):
        status = master[symbol].status
        if status in NOT_TARGET_STATUSES:
            found.append(Violation(RuleCode.TARGET_NOT_ELIGIBLE, "", status.value, "", on, symbol))
    for symbol, haircut in sorted(lists.collateral.items()):
        if symbol not in master:
            continue
        cap = haircut_cap(master[symbol], pe.get(symbol), rules, symbol in cash_products)
        if haircut > cap:
            found.append(
                Violation(
                    RuleCode.EXCHANGE_HAIRCUT_ABOVE_CAP,
                    "haircut",
                    percent_text(haircut),
                    percent_text(cap),
                    on,
                    symbol,
                )
            )
    return found


def check_firm_lists(firm: DailyLists, exchange: DailyLists) -> list[Violation]:
    """The firm's lists against the exchange's in force on the firm's date (REF-2)."""
    on = firm.trading_date
    found = [
        Violation(code, on=on, symbol=symbol)
        for code, mine, theirs in (
            (
                RuleCode.FIRM_FINANCING_TARGET_NOT_IN_EXCHANGE_LIST,
                firm.financing_targets,
                exchange.financing_targets,
            ),
            (
                RuleCode.FIRM_SHORT_TARGET_NOT_IN_EXCHANGE_LIST,
                firm.short_targets,
                exchange.short_targets,
            ),
            (
                RuleCode.FIRM_COLLATERAL_NOT_IN_EXCHANGE_LIST,
                firm.collateral.keys(),
                exchange.collateral.keys(),
            ),
        )
        for symbol in sorted(set(mine) - set(theirs))
    ]
    for symbol, haircut in sorted(firm.collateral.items()):
        cap = exchange.collateral.get(symbol)
        if cap is not None and haircut > cap:
            found.append(
                Violation(
                    RuleCode.FIRM_HAIRCUT_ABOVE_CAP,
                    "haircut",
                    percent_text(haircut),
                    percent_text(cap),
                    on,
                    symbol,
                )
            )
    return found


def restrict_to_exchange(firm: DailyLists, exchange: DailyLists) -> DailyLists:
    """The firm's lists cut down to the exchange's: subsets, haircuts at most the exchange's."""
    collateral = {
        s: min(h, exchange.collateral[s])
        for s, h in firm.collateral.items()
        if s in exchange.collateral
    }
    return replace(
        firm,
        financing_targets=firm.financing_targets & exchange.financing_targets,
        short_targets=firm.short_targets & exchange.short_targets,
        collateral=collateral,
    )


# --------------------------------------------------------------------------- list events


class ListEventKind(Enum):
    """What changes the exchange's lists on a day (S0 ch4 §4)."""

    RISK_WARNING_IMPOSED = "risk_warning_imposed"  # leaves the targets that day
    RISK_WARNING_LIFTED = "risk_warning_lifted"  # a registration-system IPO rejoins that day
    DELISTING_ANNOUNCED = "delisting_announced"  # leaves the targets on the announcement day
    REGISTRATION_IPO_LISTED = "registration_ipo_listed"  # a target from its first trading day
    TARGET_ADDED = "target_added"  # regular or temporary adjustment by the exchange
    TARGET_REMOVED = "target_removed"
    COLLATERAL_ADDED = "collateral_added"
    COLLATERAL_REMOVED = "collateral_removed"
    DELISTED = "delisted"  # off every list


@dataclass(frozen=True, slots=True)
class ListEvent:
    symbol: str
    kind: ListEventKind


def _check_event(event: ListEvent, security: Security, trading_date: date) -> None:
    """The master must already show the state the event announces; else the caller erred."""
    kind, status = event.kind, security.status
    consistent = {
        ListEventKind.RISK_WARNING_IMPOSED: status in NOT_TARGET_STATUSES,
        # the master records an announced delisting as the delisting process
        ListEventKind.DELISTING_ANNOUNCED: status in NOT_TARGET_STATUSES,
        ListEventKind.RISK_WARNING_LIFTED: status not in NOT_TARGET_STATUSES,
        ListEventKind.REGISTRATION_IPO_LISTED: security.registration_ipo
        and security.listing_date == trading_date,
        ListEventKind.DELISTED: status is Status.DELISTED,
    }.get(kind, True)
    if not consistent:
        raise ValueError(
            f"{kind.value} for {security.symbol} on {trading_date} disagrees with the master "
            f"(status {status.value}, listed {security.listing_date}, "
            f"registration IPO {security.registration_ipo})"
        )


_TARGET_ADDS = {ListEventKind.REGISTRATION_IPO_LISTED, ListEventKind.TARGET_ADDED}
_TARGET_REMOVALS = {
    ListEventKind.RISK_WARNING_IMPOSED,
    ListEventKind.DELISTING_ANNOUNCED,
    ListEventKind.TARGET_REMOVED,
    ListEventKind.DELISTED,
}
_COLLATERAL_ADDS = {ListEventKind.REGISTRATION_IPO_LISTED, ListEventKind.COLLATERAL_ADDED}
_COLLATERAL_REMOVALS = {ListEventKind.COLLATERAL_REMOVED, ListEventKind.DELISTED}


def next_exchange_lists(
    previous: DailyLists,
    trading_date: date,
    securities: Iterable[Security],
    pe: PeRatios,
    rules: ExchangeRules,
    events: Iterable[ListEvent] = (),
    cash_products: Collection[str] = frozenset(),
) -> DailyLists:
    """The exchange's lists for ``trading_date`` from the previous day's and the day's events.

    ``securities`` is the master as of ``trading_date`` (statuses after the day's events)
    and ``rules`` the exchange rules in force that day.  Events apply in order.  Whatever
    the events, a security whose status forbids it is not a target, and every haircut is
    the cap for that day (so a warning or delisting makes it 0 the same day).
    """
    if trading_date <= previous.trading_date:
        raise ValueError(f"{trading_date} is not after {previous.trading_date}")
    master = {s.symbol: s for s in securities}
    targets = {
        "financing": set(previous.financing_targets),
        "short": set(previous.short_targets),
    }
    collateral = set(previous.collateral)
    events = tuple(events)
    named = {e.symbol for e in events} | targets["financing"] | targets["short"] | collateral
    refuse_if_any(
        [Violation(RuleCode.UNKNOWN_SECURITY, symbol=s) for s in sorted(named - master.keys())]
    )
    for event in events:
        security = master[event.symbol]
        _check_event(event, security, trading_date)
        adds = event.kind in _TARGET_ADDS or (
            event.kind is ListEventKind.RISK_WARNING_LIFTED and security.registration_ipo
        )
        for side in targets.values():
            if adds:
                side.add(event.symbol)
            elif event.kind in _TARGET_REMOVALS:
                side.discard(event.symbol)
        if event.kind in _COLLATERAL_ADDS:
            collateral.add(event.symbol)
        elif event.kind in _COLLATERAL_REMOVALS:
            collateral.discard(event.symbol)
    allowed = {s for s, security in master.items() if security.status not in NOT_TARGET_STATUSES}
    return DailyLists(
        trading_date,
        ListLayer.EXCHANGE,
        frozenset(targets["financing"] & allowed),
        frozenset(targets["short"] & allowed),
        collateral_haircuts(collateral, master, pe, rules, cash_products),
    )


# --------------------------------------------------------------------------- the store


@dataclass(frozen=True, slots=True)
class FirmListsReading:
    """The firm's lists as they apply on a day, with what the exchange's lists overrode."""

    lists: DailyLists
    firm_published: date
    exchange_published: date
    adjustments: tuple[Violation, ...]  # each firm entry the exchange's lists cut or lowered


def _latest(versions: tuple[DailyLists, ...], on: date) -> DailyLists | None:
    index = bisect_right(versions, on, key=lambda lists: lists.trading_date)
    return versions[index - 1] if index else None


@dataclass(frozen=True, slots=True)
class ListStore:
    """Published lists per layer, by trading date; append-only."""

    exchange: tuple[DailyLists, ...] = ()
    firm: tuple[DailyLists, ...] = ()

    def published(self, lists: DailyLists) -> ListStore:
        """Add one publication; a firm's must fit the exchange's lists in force that day."""
        mine = self.exchange if lists.layer is ListLayer.EXCHANGE else self.firm
        on = lists.trading_date
        if mine and on <= mine[-1].trading_date:
            last = mine[-1].trading_date.isoformat()
            raise RuleRefused([Violation(RuleCode.LISTS_DATE_NOT_AFTER_LAST, limit=last, on=on)])
        if lists.layer is ListLayer.EXCHANGE:
            return replace(self, exchange=(*self.exchange, lists))
        exchange = self.lists_on(ListLayer.EXCHANGE, on)
        if exchange is None:
            raise RuleRefused([Violation(RuleCode.NO_EXCHANGE_LISTS_IN_FORCE, on=on)])
        refuse_if_any(check_firm_lists(lists, exchange))
        return replace(self, firm=(*self.firm, lists))

    def lists_on(self, layer: ListLayer, on: date) -> DailyLists | None:
        """The latest lists of ``layer`` published on or before ``on``, as published."""
        return _latest(self.exchange if layer is ListLayer.EXCHANGE else self.firm, on)

    def firm_lists_on(self, on: date) -> FirmListsReading:
        """The firm's lists for ``on``, cut to the exchange's lists in force that day."""
        firm, exchange = self.lists_on(ListLayer.FIRM, on), self.lists_on(ListLayer.EXCHANGE, on)
        if firm is None or exchange is None:
            raise LookupError(f"no {'firm' if firm is None else 'exchange'} lists on {on}")
        adjustments = tuple(check_firm_lists(replace(firm, trading_date=on), exchange))
        lists = restrict_to_exchange(replace(firm, trading_date=on), exchange)
        return FirmListsReading(lists, firm.trading_date, exchange.trading_date, adjustments)
