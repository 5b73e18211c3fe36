"""Pure planning of a generated client: profile and the transactions that put the client's
book in place (``book_generator`` posts them).

Invariants:
- one client's plan is a function of (reference day, seed, client number) only: its own
  ``random.Random`` keyed by seed and number, integer draws only, sorted choices, so the same
  inputs give the same command ids, transactions and profile on every platform and process,
  and client n is the same whatever the book's size;
- contracts open on trading days within the last ``LOOKBACK_TRADING_DAYS`` before the book's
  date, at prices derived from that day's reference prices, sized so that at those prices the
  maintenance ratio comes out as planned (most 200-400%, a tail at 150/140/130%, a few
  below); the plan records that ratio exactly;
- every amount is integer fen, li or shares; quantities respect the security's lot rule.
"""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, timedelta
from fractions import Fraction
from functools import cache
from typing import TypeVar

from liangrong.book.accounts import ClientProfile
from liangrong.domain import operations as ops
from liangrong.domain.calendar import TradingCalendar
from liangrong.domain.contract_opening import ContractRequest, contract_terms
from liangrong.domain.contracts import ContractKind
from liangrong.domain.fees import FeeSchedule, trade_fees
from liangrong.domain.journal import Transaction
from liangrong.domain.lists import DailyLists
from liangrong.domain.margin import simple_interest
from liangrong.domain.money import trade_amount_fen
from liangrong.domain.orders import Side
from liangrong.domain.parameters import Lines
from liangrong.domain.pretrade_state import AccountStatus
from liangrong.domain.rule_book import RuleBook, lines_for
from liangrong.domain.securities import Security, Status
from liangrong.sim.client_names import client_name
from liangrong.sim.draws import choose_weighted, pick_in_buckets
from liangrong.sim.fee_seed import fee_schedule_on
from liangrong.sim.reference_day import ReferenceDay

LOOKBACK_TRADING_DAYS = 60
NO_CONCENTRATION_LIMIT = 10_001  # above 100%: the check can never trigger
E4 = 10_000

# (low, high, weight): integer draws only.  Own funds in fen: 50k CNY .. 50M CNY.
_EQUITY_FEN = (
    (50_000_00, 200_000_00, 35),
    (200_000_00, 1_000_000_00, 40),
    (1_000_000_00, 5_000_000_00, 20),
    (5_000_000_00, 50_000_000_00, 5),
)
# Planned maintenance ratio in basis points of 1 (20_000 = 200%).
_RATIO_BP = (
    (20_000, 40_000, 66),
    (40_000, 80_000, 12),
    (15_000, 20_000, 10),
    (14_000, 15_000, 4),
    (13_000, 14_000, 4),
    (11_500, 13_000, 3),
    (10_500, 11_500, 1),
)
_STYLES = (("none", 12), ("financing", 58), ("short", 10), ("both", 20))
_FINANCING_CONTRACTS = ((1, 45), (2, 30), (3, 15), (4, 10))
_SHORT_CONTRACTS = ((1, 70), (2, 30))
LOW_RATIO_BP = 15_000  # below this the client got there through a loss: prices moved against


@dataclass(frozen=True)
class Choices:
    """What generated clients may hold, computed once per book (sorted: no set order leaks)."""

    trading_date: date
    calendar: TradingCalendar
    rule_book: RuleBook
    firm_lists: DailyLists
    securities: dict[str, Security]
    prices_li: dict[str, int]
    lines: Lines
    financing: tuple[str, ...] = field(init=False)
    shorts: tuple[str, ...] = field(init=False)
    collateral: tuple[str, ...] = field(init=False)
    past_days: tuple[date, ...] = field(init=False)  # newest first

    def __post_init__(self) -> None:
        tradable = {
            symbol
            for symbol, security in self.securities.items()
            if security.status is not Status.SUSPENDED
            and symbol in self.prices_li
            and (self.firm_lists.haircut(symbol) or 0) > 0
        }
        lists = self.firm_lists
        set_ = object.__setattr__
        set_(self, "financing", tuple(sorted(tradable & lists.financing_targets)))
        set_(self, "shorts", tuple(sorted(tradable & lists.short_targets)))
        set_(self, "collateral", tuple(sorted(tradable)))
        days = [self.calendar.previous_trading_day(self.trading_date)]
        while len(days) < LOOKBACK_TRADING_DAYS:
            days.append(self.calendar.previous_trading_day(days[-1]))
        set_(self, "past_days", tuple(days))

    @classmethod
    def from_reference(cls, ref: ReferenceDay) -> Choices:
        lines = lines_for(ref.rule_book, None, ref.trading_date).lines
        return cls(
            ref.trading_date,
            ref.calendar,
            ref.rule_book,
            ref.firm_lists,
            ref.securities,
            ref.previous_close_li,
            lines,
        )


@dataclass(frozen=True, slots=True)
class ClientPlan:
    profile: ClientProfile
    opened_on: date
    transactions: tuple[Transaction, ...]
    ratio: Fraction | None  # maintenance ratio at the book date's prices; None: no debt
    contracts: int
    financing_fen: int  # what the contracts took from the financing pool
    short_shares: dict[str, int]  # what they took from the lending pool


T = TypeVar("T")


def client_id(number: int) -> str:
    return f"C{number:06d}"


@cache
def _fees(on: date) -> FeeSchedule:
    return fee_schedule_on(on)


def _round_up(amount: int, unit: int = 1_000_000) -> int:
    return max(unit, -(-amount // unit) * unit)  # credit limits in steps of 10,000 CNY


@dataclass
class _Draft:
    """One client's plan as it is built."""

    client: str
    txns: list[Transaction] = field(default_factory=list)
    financed_value_li: int = 0
    locked_fen: int = 0
    debt_li: int = 0  # financing principal and interest, shorts at today's price (li)
    financing_fen: int = 0
    short_value_fen: int = 0
    short_shares: Counter[str] = field(default_factory=Counter)
    holdings: Counter[str] = field(default_factory=Counter)
    contracts: int = 0


def _financing(rng: random.Random, c: Choices, d: _Draft, budget_fen: int, low: bool) -> None:
    for _ in range(5):  # a cheaper stock when a lot of this one is above the budget
        symbol = c.financing[rng.randrange(len(c.financing))]
        security, now = c.securities[symbol], c.prices_li[symbol]
        tick = security.tick_li
        drift = rng.randint(1050, 1300) if low else rng.randint(880, 1150)  # per mille
        then = max(tick, now * drift // 1000 // tick * tick)
        quantity = security.lot.floor(budget_fen * 10 // then)
        if quantity:
            break
    else:
        return
    opened = c.past_days[rng.randrange(len(c.past_days))]
    fees = trade_fees(Side.BUY, quantity * then, _fees(opened))
    principal = trade_amount_fen(quantity, then) + fees.total_fen
    d.contracts += 1
    contract = f"F-{d.client}-{d.contracts}"
    request = ContractRequest(
        contract, ContractKind.FINANCING, d.client, symbol, quantity, principal, then, opened,
        haircut=c.firm_lists.haircut(symbol),
    )  # fmt: skip
    terms = contract_terms(c.rule_book, c.calendar, request)
    d.txns.append(ops.open_financing(f"book:{d.client}:{contract}", terms, fees))
    interest = simple_interest(principal, terms.annual_rate, (c.trading_date - opened).days)
    if interest > 0:  # accrued and unpaid through yesterday: part of the debt
        accrual = c.past_days[0]
        d.txns.append(
            ops.accrue_charges(
                f"book:{d.client}:{contract}:interest", accrual, d.client, contract, interest
            )
        )
    d.financed_value_li += quantity * now
    d.debt_li += (principal + interest) * 10
    d.financing_fen += principal
    d.holdings[symbol] += quantity


def _short(rng: random.Random, c: Choices, d: _Draft, budget_fen: int, low: bool) -> None:
    symbol = c.shorts[rng.randrange(len(c.shorts))]
    security, now = c.securities[symbol], c.prices_li[symbol]
    tick = security.tick_li
    drift = rng.randint(1050, 1250) if low else rng.randint(880, 1120)
    sold_at = max(tick, now * 1000 // drift // tick * tick)  # low: the price rose since
    quantity = security.lot.floor(budget_fen * 10 // now)
    if not quantity:
        return
    opened = c.past_days[rng.randrange(len(c.past_days))]
    proceeds = trade_amount_fen(quantity, sold_at)
    fees = trade_fees(Side.SELL, quantity * sold_at, _fees(opened))
    d.contracts += 1
    contract = f"S-{d.client}-{d.contracts}"
    request = ContractRequest(
        contract, ContractKind.SHORT, d.client, symbol, quantity, proceeds, sold_at, opened,
        haircut=c.firm_lists.haircut(symbol),
    )  # fmt: skip
    terms = contract_terms(c.rule_book, c.calendar, request)
    d.txns.append(ops.open_short(f"book:{d.client}:{contract}", terms, fees))
    d.locked_fen += proceeds - fees.total_fen
    d.debt_li += quantity * now
    d.short_value_fen += proceeds
    d.short_shares[symbol] += quantity


def _collateral(rng: random.Random, c: Choices, value_fen: int) -> tuple[Counter[str], int]:
    """Securities worth about ``value_fen`` (concentrated in one for a quarter of clients) and
    the value lot rounding left over, which the client holds as cash instead."""
    concentrated = rng.randrange(4) == 0
    count = rng.randint(1, 3) if concentrated else rng.randint(1, 6)
    weights = [rng.randint(1, 10) for _ in range(count)]
    if concentrated:
        weights[0] = sum(weights[1:]) * rng.randint(3, 12) + 1
    total, left_li = sum(weights), value_fen * 10
    picked: Counter[str] = Counter()
    for weight in weights:
        symbol = c.collateral[rng.randrange(len(c.collateral))]
        security, price = c.securities[symbol], c.prices_li[symbol]
        quantity = security.lot.floor(value_fen * 10 * weight // total // price)
        picked[symbol] += quantity
        left_li -= quantity * price
    return +picked, left_li // 10


def plan_client(c: Choices, seed: int, number: int) -> ClientPlan:
    """One client's profile and the transactions that put the client's book in place."""
    rng = random.Random(f"book:{seed}:{number}")
    client = client_id(number)
    name = client_name(rng)
    equity = pick_in_buckets(rng, _EQUITY_FEN)
    style = choose_weighted(rng, _STYLES)
    ratio_bp = pick_in_buckets(rng, _RATIO_BP)
    low = ratio_bp < LOW_RATIO_BP
    d = _Draft(client)
    if style != "none":
        debt = equity * E4 // (ratio_bp - E4)  # own funds = (ratio - 1) x debt
        financing_share = {"financing": 100, "short": 0}.get(style, rng.randint(50, 85))
        financing_budget = debt * financing_share // 100
        count = choose_weighted(rng, _FINANCING_CONTRACTS) if financing_budget else 0
        for _ in range(count):
            _financing(rng, c, d, financing_budget // count, low)
        short_budget = debt - financing_budget
        count = choose_weighted(rng, _SHORT_CONTRACTS) if short_budget else 0
        for _ in range(count):
            _short(rng, c, d, short_budget // count, low)
    contract_txns, d.txns = d.txns, []
    if d.debt_li:
        wanted_li = ratio_bp * d.debt_li // E4 - d.financed_value_li - d.locked_fen * 10
        other = max(0, wanted_li // 10)
    else:
        other = equity
    cash = other * rng.randint(0, 60) // 100
    securities, leftover = _collateral(rng, c, other - cash)
    cash += leftover
    funded = c.past_days[-1]
    if cash > 0:
        d.txns.append(ops.deposit_cash(f"book:{client}:deposit", funded, client, cash))
    for symbol, quantity in sorted(securities.items()):
        d.txns.append(
            ops.transfer_collateral_in(
                f"book:{client}:in:{symbol}", funded, client, symbol, quantity
            )
        )
        d.holdings[symbol] += quantity
    held_li = sum(q * c.prices_li[s] for s, q in securities.items())
    assets_li = (cash + d.locked_fen) * 10 + held_li + d.financed_value_li
    ratio = Fraction(assets_li, d.debt_li) if d.debt_li else None
    profile = _profile(rng, c, d, name, ratio, (assets_li - d.debt_li) // 10)
    opened_on = funded - timedelta(days=rng.randint(0, 1500))
    return ClientPlan(
        profile=profile,
        opened_on=opened_on - timedelta(days=max(0, opened_on.weekday() - 4)),
        transactions=(*d.txns, *contract_txns),
        ratio=ratio,
        contracts=d.contracts,
        financing_fen=d.financing_fen,
        short_shares=dict(d.short_shares),
    )


def _profile(
    rng: random.Random, c: Choices, d: _Draft, name: str, ratio: Fraction | None, equity: int
) -> ClientProfile:
    """Credit limits scaled to the client's own funds and use (some near them), an optional
    concentration limit, a few insiders, lock-up holders and restricted shares."""
    equity = max(equity, 0)
    financing = _round_up(max(d.financing_fen * rng.randint(100, 160) // 100,
                              equity * rng.randint(50, 200) // 100))  # fmt: skip
    no_shorts = not d.short_value_fen and rng.randrange(4) == 0
    short = 0 if no_shorts else _round_up(max(d.short_value_fen * rng.randint(100, 160) // 100,
                                              equity * rng.randint(20, 100) // 100))  # fmt: skip
    used = d.financing_fen + d.short_value_fen
    total = _round_up(max(used, (financing + short) * rng.randint(70, 100) // 100))
    concentration = rng.randint(30, 50) * 100 if rng.randrange(4) == 0 else NO_CONCENTRATION_LIMIT
    held = sorted(d.holdings)
    insider: frozenset[str] = frozenset()
    if rng.randrange(100) == 0:
        targets = [symbol for symbol in held if symbol in c.financing] or list(c.financing)
        insider = frozenset({targets[rng.randrange(len(targets))]})
    lockup = frozenset({c.shorts[rng.randrange(len(c.shorts))]}) if rng.randrange(200) == 0 else (
        frozenset()
    )  # fmt: skip
    restricted: dict[str, int] = {}
    if held and rng.randrange(100) < 3:
        symbol = held[rng.randrange(len(held))]
        part = d.holdings[symbol] * rng.randint(20, 100) // 100
        restricted[symbol] = c.securities[symbol].lot.floor(part) or d.holdings[symbol]
    return ClientProfile(
        client_id=d.client,
        name=name,
        financing_limit_fen=financing,
        short_limit_fen=short,
        total_limit_fen=total,
        concentration_limit_bp=concentration,
        status=_status(ratio, c.lines),
        insider_symbols=insider,
        lockup_symbols=lockup,
        restricted_shares=restricted,
    )


def _status(ratio: Fraction | None, lines: Lines) -> AccountStatus:
    """Below the liquidation line: restricted (RISK-6); below the emergency line: already
    in forced liquidation.  The risk engine will own this; the book reads it."""
    if ratio is None or ratio >= lines.liquidation:
        return AccountStatus.NORMAL
    if lines.emergency is not None and ratio < lines.emergency:
        return AccountStatus.LIQUIDATION
    return AccountStatus.CALL_RESTRICTED


def plan_book(ref: ReferenceDay, seed: int, clients: int) -> list[ClientPlan]:
    choices = Choices.from_reference(ref)
    return [plan_client(choices, seed, number) for number in range(1, clients + 1)]
