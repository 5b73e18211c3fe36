"""One trading day's market view for the book: the firm's lists, ratios, halts and prices
turned into the ``SecurityState`` the checks read.

Invariant: a security's margin ratios are the firm's for that day as the rule book gives
them (never below the exchange floor); a security not on the firm's lists has haircut 0 and
is no target, whatever the exchange's lists say.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from fractions import Fraction

from liangrong.domain.concentration import ConcentrationRule, concentration_class
from liangrong.domain.contracts import ContractKind
from liangrong.domain.fees import FeeSchedule
from liangrong.domain.lists import DailyLists
from liangrong.domain.money import scaled_ratio
from liangrong.domain.pretrade_state import SecurityState
from liangrong.domain.rule_book import RuleBook, margin_ratio
from liangrong.domain.securities import Security, Status


@dataclass(frozen=True, slots=True)
class Halts:
    """Exchange halts in force on the day (REF-7): symbols whose margin buys or short sales
    the exchange suspended."""

    financing: frozenset[str] = frozenset()
    short: frozenset[str] = frozenset()


NO_HALTS = Halts()


@dataclass(slots=True)
class MarketDay:
    trading_date: date
    rule_book: RuleBook
    firm_lists: DailyLists
    fees: FeeSchedule
    securities: dict[str, SecurityState] = field(default_factory=dict)
    prices_li: dict[str, int] = field(default_factory=dict)  # the latest trade (valuation)
    prices_at: str = ""  # the time of ``prices_li``
    concentration_rule: ConcentrationRule | None = None  # the firm's tiers in force (RISK-10)

    def haircut(self, symbol: str) -> Fraction:
        return self.firm_lists.haircut(symbol) or Fraction(0)

    def set_price(self, symbol: str, price_li: int) -> None:
        self.prices_li[symbol] = price_li
        state = self.securities.get(symbol)
        if state is not None:
            state.last_price_li = price_li


def build_market_day(
    trading_date: date,
    master: Iterable[Security],
    firm_lists: DailyLists,
    rule_book: RuleBook,
    fees: FeeSchedule,
    previous_close_li: Mapping[str, int],
    limits_li: Mapping[str, tuple[int, int]],
    halts: Halts = NO_HALTS,
    money_market: frozenset[str] = frozenset(),
) -> MarketDay:
    """The day's view; ``limits_li``: symbol -> (limit down, limit up) as the exchange set."""
    day = MarketDay(trading_date, rule_book, firm_lists, fees)
    for security in master:
        symbol = security.symbol
        close = previous_close_li.get(symbol)
        if close is None or security.status is Status.DELISTED:
            continue
        down, up = limits_li.get(symbol, (1, 10**12))
        haircut = firm_lists.haircut(symbol)
        day.securities[symbol] = SecurityState(
            symbol=symbol,
            lot_minimum=security.lot.minimum,
            lot_step=security.lot.step,
            tick_li=security.tick_li,
            financing_target=symbol in firm_lists.financing_targets,
            short_target=symbol in firm_lists.short_targets,
            collateral=haircut is not None,
            haircut_bp=scaled_ratio(haircut or Fraction(0)),
            financing_margin_bp=_ratio_bp(rule_book, ContractKind.FINANCING, symbol, trading_date),
            short_margin_bp=_ratio_bp(rule_book, ContractKind.SHORT, symbol, trading_date),
            financing_halted=symbol in halts.financing,
            short_halted=symbol in halts.short,
            suspended=security.status is Status.SUSPENDED,
            last_price_li=close,
            limit_up_li=up,
            limit_down_li=down,
            money_market=symbol in money_market,
            concentration_class=concentration_class(security.board, security.kind),
        )
        day.prices_li[symbol] = close
    return day


def _ratio_bp(book: RuleBook, kind: ContractKind, symbol: str, on: date) -> int:
    return scaled_ratio(margin_ratio(book, kind, symbol, on).ratio)
