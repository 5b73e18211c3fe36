"""``interest.accrue_day`` over every contract at once, in exact integers (numpy).

Each contract's exact charges of a day are ``base_li × rate ÷ 3600`` fen (``interest``'s
``_one_day_fen``).  With every rate in play written over one common denominator ``L``
(``rate = n ÷ L``), a day's exact amount is the integer ``base_li × n`` in units of
``1 ÷ U`` fen, ``U = 3600 × L``.  Per contract and kind of charge the state is what was
booked (fen) and the residue ``exact − booked`` (units), always in ``[−U/2, U/2)``; a day adds
its units to the residue and books ``round_half_up(residue ÷ U)``, exactly what
``Accrued.plus`` books from the running exact sum, because the booked amount is an integer.

Rules, as ``interest.exact_day_charges``: nothing before the day of use; a contract owing
nothing at day end pays one day on the amount used if that was its day of use (at its own
rate, or the management fee rate), else nothing; owing, it pays its own charge at its rate
up to its maturity and, after it, penalty at the penalty rate (and its own charge too when
the policy adds the penalty); a maturity a suspension postpones (no new date yet) is never
passed (``NO_MATURITY``).

Invariants: integer arithmetic only (int64, refused before it could overflow); for every
contract, day and kind the booked amounts equal ``interest.accrue_day``'s postings (the
tests compare them on random contracts, balances, rates and policies).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date
from fractions import Fraction
from math import lcm

import numpy as np
import numpy.typing as npt

from liangrong.domain.interest import DAYS_PER_YEAR, ChargeKind
from liangrong.domain.money import LI_PER_FEN

Ints = npt.NDArray[np.int64]
Bools = npt.NDArray[np.bool_]
KINDS = (ChargeKind.INTEREST, ChargeKind.LENDING_FEE, ChargeKind.PENALTY, ChargeKind.MANAGEMENT_FEE)
INTEREST, LENDING_FEE, PENALTY, MANAGEMENT_FEE = range(len(KINDS))
UNIT_PER_L = DAYS_PER_YEAR * LI_PER_FEN  # U = 3600 × L
NO_MATURITY = date.max.toordinal()  # a suspension postpones it, no new date yet
_LIMIT = 2**62


def common_denominator(rates: object) -> int:
    """The least common denominator of some rates (``Fraction``s)."""
    result = 1
    for rate in rates:  # type: ignore[attr-defined]
        assert isinstance(rate, Fraction) and rate >= 0
        result = lcm(result, rate.denominator)
    return result


def scaled(rate: Fraction, denominator: int) -> int:
    """``rate × denominator`` (an integer when the denominator is a common one)."""
    value = rate * denominator
    assert value.denominator == 1, (rate, denominator)
    return value.numerator


@dataclass(frozen=True)
class Contracts:
    """The contracts to accrue, as columns (one entry per contract)."""

    financing: Bools  # False: a short
    used: Ints  # day of use (ordinal)
    start: Ints  # first day this run accrues (ordinal)
    maturity: Ints  # maturity in force (ordinal; NO_MATURITY while a suspension postpones it)
    price_li: Ints  # a short's sale price; unused for financing
    used_base_li: Ints  # what same-day use pays one day on

    @property
    def size(self) -> int:
        return len(self.used)

    def base_li(self, owed: Ints) -> Ints:
        """The day's charge base: a financing's principal in li, a short's quantity × price."""
        return np.where(self.financing, owed * LI_PER_FEN, owed * self.price_li)


@dataclass(frozen=True)
class DayRates:
    """One day's rates over the common denominator: per contract (own, penalty) and the
    policy's management fee and choices."""

    own: Ints  # interest or lending fee rate × L
    penalty: Ints
    management_fee: int
    same_day_management: bool  # same-day use pays the management fee (else its own rate)
    penalty_in_addition: bool


@dataclass
class AccrualState:
    """Booked fen and residue units per contract and kind (``KINDS`` order)."""

    unit: int
    booked: Ints  # (n, 4)
    residue: Ints  # (n, 4), in 1/unit fen

    @staticmethod
    def empty(size: int, unit: int) -> AccrualState:
        zeros = np.zeros((size, len(KINDS)), dtype=np.int64)
        return AccrualState(unit, zeros, zeros.copy())

    def rescaled(self, unit: int) -> AccrualState:
        """The same exact state over a finer unit (a multiple of this one)."""
        assert unit % self.unit == 0, (unit, self.unit)
        return AccrualState(unit, self.booked, self.residue * (unit // self.unit))


Changes = Mapping[int, tuple[npt.NDArray[np.intp], Ints]]  # day -> (contracts, owed delta)


def accrue(
    contracts: Contracts,
    state: AccrualState,
    owed_before: Ints,
    changes: Changes,
    days: range,
    rates_on: Callable[[int], DayRates],
) -> tuple[AccrualState, Ints, Ints]:
    """Accrue ``days`` (ordinals): the new state, what was booked per contract and kind,
    and what each contract owes at the end of the last day.  ``owed_before``: owed at the
    end of the day before the first; ``changes``: each day's movements of what is owed."""
    unit = state.unit
    owed = owed_before.astype(np.int64, copy=True)
    booked, residue = state.booked.copy(), state.residue.copy()
    posted = np.zeros_like(booked)
    own_column = np.where(contracts.financing, INTEREST, LENDING_FEE)
    rows = np.arange(contracts.size)
    for day in days:
        if day in changes:
            index, delta = changes[day]
            np.add.at(owed, index, delta)
        rates = rates_on(day)
        units = _day_units(contracts, owed, day, rates, unit)
        if units is None:
            continue
        own, penalty, management = units
        day_units = np.zeros_like(booked)
        day_units[rows, own_column] = own
        day_units[:, PENALTY] = penalty
        day_units[:, MANAGEMENT_FEE] = management
        total = residue + day_units
        book = np.floor_divide(2 * total + unit, 2 * unit)
        residue = total - book * unit
        booked += book
        posted += book
    return AccrualState(unit, booked, residue), posted, owed


def _day_units(
    contracts: Contracts, owed: Ints, day: int, rates: DayRates, unit: int
) -> tuple[Ints, Ints, Ints] | None:
    """The day's exact charges in units: (own, penalty, management fee) per contract."""
    active = contracts.start <= day
    if not active.any():
        return None
    base = contracts.base_li(owed)
    _guard(max(int(base.max(initial=0)), int(contracts.used_base_li.max(initial=0))), rates, unit)
    owing = active & (owed > 0) & (contracts.used <= day)
    overdue = owing & (contracts.maturity < day)
    running = owing & ~overdue
    same_day = active & (owed == 0) & (contracts.used == day)
    charged_own = running | (overdue & rates.penalty_in_addition)
    own = np.where(charged_own, base * rates.own, 0)
    penalty = np.where(overdue, base * rates.penalty, 0)
    if rates.same_day_management:
        management = np.where(same_day, contracts.used_base_li * rates.management_fee, 0)
    else:
        management = np.zeros_like(own)
        own = own + np.where(same_day, contracts.used_base_li * rates.own, 0)
    return own, penalty, management


def _guard(largest_base: int, rates: DayRates, unit: int) -> None:
    """Refuse a day whose products could leave int64 (never near for real books)."""
    largest_rate = max(
        int(rates.own.max(initial=0)), int(rates.penalty.max(initial=0)), rates.management_fee
    )
    if 2 * (largest_base * largest_rate * 2 + unit) >= _LIMIT:
        raise OverflowError("accrual amounts beyond exact int64 arithmetic")
