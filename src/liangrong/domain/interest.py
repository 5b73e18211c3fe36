"""Daily interest, lending fees, penalty interest and management fees on debt contracts
(CON-4, CON-5; S1 art. 72-73, S3 fee formulas, domain notes §1).

Rules:
- a charge accrues for every calendar day, weekends and holidays too, on what the contract
  owes at the end of that day: a financing's principal × rate ÷ 360, a short's quantity ×
  its sale price × fee rate ÷ 360.  End-of-day balances give "the start day counted, the
  repayment day not" by themselves: the day of use ends owing, the day of repayment does not;
- a contract used and wholly repaid on the same day (nothing owed at day end) pays one day
  on the amount used: at its own rate, or at the management fee rate where the firm's policy
  (or the agreement) says so (S1 art. 73);
- from the day after its maturity a debt still owed is overdue and pays penalty interest at
  the penalty rate on the same base, in addition to its rate or instead of it (policy); a
  contract whose maturity a suspension postpones (``contract_lifecycle``) is not overdue;
- a day's rates are the client's agreed rates over the firm's base rates, each as in force
  that day (``rule_book.terms_for``), so a rate change reaches open contracts from its
  effective date; a firm whose agreements fix the rate at opening uses ``RateBasis.CONTRACT``.

Rounding rule, and why.  Per contract and kind of charge, the exact amount of the current
period (since the last settlement), ``E = Σ base_d × rate_d ÷ 360`` (积数 × rate ÷ 360), is
kept unrounded as a ``Fraction``; the amount booked to date is ``B = round_half_up(E)`` and a
day's posting is the difference of ``B`` after and before that day.  So the postings of a
period always add up to ``round_half_up(E)``: the figure vendor systems compute once from the
balance-days at settlement, and, for a constant balance and rate, ``margin.simple_interest``.
The error stays below half a fen over the whole period, whatever its length.  Rounding each
day on its own would not: seven days of 4,638.89 fen are 32,473 fen rounded daily but 32,472
in the closed form.  Because ``B`` never decreases, no posting is negative (some are 0 for
tiny balances).  Settlement (collection day, or the contract closed) ends the period: the
sub-fen residue ``E − B`` is dropped there, as the vendor's once-rounded settlement drops it.

Invariants: all arithmetic is exact (bases in li, amounts in ``Fraction`` fen until booked);
``accrued_over`` (segments of constant balance and rates × their day counts) equals the sum of
``accrue_day`` postings over the same period for every kind of charge.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from enum import Enum
from fractions import Fraction
from itertools import pairwise
from types import MappingProxyType
from typing import TypeVar

from liangrong.domain.contracts import ContractKind, ContractTerms
from liangrong.domain.money import LI_PER_FEN, Rounding, round_fraction
from liangrong.domain.rule_book import RuleBook, terms_for

# Every annual rate of the rule book is on the 360-day basis (``parameters.FirmPolicy``): a
# unit of the rate fields, like fen for amounts, not a rule value that changes.
DAYS_PER_YEAR = 360
_ONE_DAY = timedelta(days=1)


class ChargeKind(Enum):
    INTEREST = "interest"  # 融资利息
    LENDING_FEE = "lending_fee"  # 融券费用
    PENALTY = "penalty"  # 罚息
    MANAGEMENT_FEE = "management_fee"  # 管理费


class SameDayUse(Enum):
    """What a contract used and wholly repaid within one day pays (one day either way)."""

    ONE_DAY_AT_RATE = "one_day_at_rate"  # one day of interest or lending fee
    MANAGEMENT_FEE = "management_fee"  # one day at the management fee rate (S1 art. 73)


class RateBasis(Enum):
    IN_FORCE = "in_force"  # the client's rate in force each day: changes reach open contracts
    CONTRACT = "contract"  # the rate fixed in the contract at opening (``annual_rate``)


class ChargePosting(Enum):
    """Where the end of day books each day's charges (``docs/charges-subledger.md``); what
    a client owes is the same either way."""

    DAILY = "daily"  # on each contract's charges account, every day
    # in the accrual state as pending (积数 style), one control posting a day; a contract's
    # pending reaches its account when a repayment pays its charges or it settles
    SUBLEDGER = "subledger"


@dataclass(frozen=True, slots=True)
class ChargePolicy:
    """The firm's charging choices, dated like any firm parameter (``Version[ChargePolicy]``).

    Rates are annual on the 360-day basis; the penalty rate is the rule book's."""

    same_day_use: SameDayUse
    management_fee_rate: Fraction
    penalty_in_addition: bool  # True: overdue debt pays its rate and the penalty
    rate_basis: RateBasis
    posting: ChargePosting = ChargePosting.DAILY

    def __post_init__(self) -> None:
        if self.management_fee_rate < 0:
            raise ValueError("the management fee rate is never negative")


@dataclass(frozen=True, slots=True)
class DayRates:
    """The annual rates that apply to one contract on one day."""

    rate: Fraction  # financing interest rate or lending fee rate, by the contract's kind
    penalty_rate: Fraction
    management_fee_rate: Fraction

    def __post_init__(self) -> None:
        if min(self.rate, self.penalty_rate, self.management_fee_rate) < 0:
            raise ValueError("rates are never negative")


def rates_on(book: RuleBook, terms: ContractTerms, day: date, policy: ChargePolicy) -> DayRates:
    """The contract's rates on ``day``: the client's agreed rates over the firm's base rates."""
    in_force = terms_for(book, terms.client_id, day)
    if policy.rate_basis is RateBasis.CONTRACT:
        rate = terms.annual_rate
    elif terms.kind is ContractKind.FINANCING:
        rate = in_force.financing_rate
    else:
        rate = in_force.lending_fee_rate
    return DayRates(rate, in_force.penalty_rate, policy.management_fee_rate)


def rate_steps(
    book: RuleBook, terms: ContractTerms, start: date, end: date, policy: ChargePolicy
) -> tuple[tuple[date, DayRates], ...]:
    """The contract's rates over ``[start, end)`` as steps ``(from this day, rates)``.

    Rates change only when a firm or client version takes effect, so only those days are
    read; consecutive equal steps are merged."""
    assert start < end
    client = book.clients.get(terms.client_id)
    effective = [v.effective for v in book.firm.versions]
    effective += [v.effective for v in client.versions] if client is not None else []
    days = sorted({start} | {day for day in effective if start < day < end})
    steps: list[tuple[date, DayRates]] = []
    for day in days:
        rates = rates_on(book, terms, day, policy)
        if not steps or steps[-1][1] != rates:
            steps.append((day, rates))
    return tuple(steps)


# --------------------------------------------------------------------------- one day


def base_li(terms: ContractTerms, principal: int) -> int:
    """The charge base in li: a financing's principal (fen), a short's quantity at sale price."""
    if terms.kind is ContractKind.FINANCING:
        return principal * LI_PER_FEN
    return principal * terms.price_li


def used_base_li(terms: ContractTerms) -> int:
    """The amount used when the contract opened: what same-day use pays one day on."""
    principal = terms.amount_fen if terms.kind is ContractKind.FINANCING else terms.quantity
    return base_li(terms, principal)


def _own_kind(terms: ContractTerms) -> ChargeKind:
    return ChargeKind.INTEREST if terms.kind is ContractKind.FINANCING else ChargeKind.LENDING_FEE


def _one_day_fen(base: int, annual_rate: Fraction) -> Fraction:
    return base * annual_rate / (DAYS_PER_YEAR * LI_PER_FEN)


def _same_day_use(
    terms: ContractTerms, rates: DayRates, policy: ChargePolicy
) -> dict[ChargeKind, Fraction]:
    """Used and wholly repaid on the day of use: one day on the amount used."""
    if policy.same_day_use is SameDayUse.MANAGEMENT_FEE:
        kind, rate = ChargeKind.MANAGEMENT_FEE, rates.management_fee_rate
    else:
        kind, rate = _own_kind(terms), rates.rate
    return {kind: _one_day_fen(used_base_li(terms), rate)}


def exact_day_charges(
    terms: ContractTerms,
    day: date,
    eod_principal: int,
    maturity: date | None,
    rates: DayRates,
    policy: ChargePolicy,
) -> dict[ChargeKind, Fraction]:
    """The exact (unrounded) charges of one calendar day, in fen, by kind.

    ``eod_principal``: what the contract owes at the end of ``day`` (fen for a financing,
    shares for a short); ``maturity``: the contract's maturity as it stands that day, None
    while a suspension postpones it with no new date yet (nothing is overdue then)."""
    assert eod_principal >= 0
    if day < terms.used_date:
        return {}
    own = _own_kind(terms)
    if eod_principal == 0:
        return _same_day_use(terms, rates, policy) if day == terms.used_date else {}
    base = base_li(terms, eod_principal)
    if maturity is None or day <= maturity:
        return {own: _one_day_fen(base, rates.rate)}
    charges = {ChargeKind.PENALTY: _one_day_fen(base, rates.penalty_rate)}
    if policy.penalty_in_addition:
        charges[own] = _one_day_fen(base, rates.rate)
    return charges


# --------------------------------------------------------------------------- running state


@dataclass(frozen=True, slots=True)
class Accrued:
    """One kind of charge on one contract in the current period: exact and booked."""

    exact_fen: Fraction = Fraction(0)  # Σ base × rate ÷ 360, never rounded
    booked_fen: int = 0  # round_half_up(exact_fen): the sum of the postings so far

    def plus(self, exact_fen: Fraction) -> tuple[Accrued, int]:
        """The state after one more day's exact amount, and that day's posting."""
        exact = self.exact_fen + exact_fen
        booked = round_fraction(exact, Rounding.HALF_UP)
        return Accrued(exact, booked), booked - self.booked_fen


_NOTHING = Accrued()


@dataclass(frozen=True, slots=True)
class ContractAccrual:
    """A contract's charges in the current period, from ``since`` (the day after the last
    settlement, or the day of use) up to ``through`` (the last day accrued; None: none yet)."""

    contract_id: str
    since: date
    through: date | None = None
    by_kind: Mapping[ChargeKind, Accrued] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "by_kind", MappingProxyType(dict(self.by_kind)))

    def booked_fen(self, kind: ChargeKind) -> int:
        return self.by_kind.get(kind, _NOTHING).booked_fen

    def exact_fen(self, kind: ChargeKind) -> Fraction:
        return self.by_kind.get(kind, _NOTHING).exact_fen

    @property
    def next_day(self) -> date:
        return self.since if self.through is None else self.through + _ONE_DAY

    def settled(self) -> ContractAccrual:
        """The period is settled: a new one starts the next day, the sub-fen residue dropped."""
        return ContractAccrual(self.contract_id, self.next_day)


def start_accrual(terms: ContractTerms) -> ContractAccrual:
    """A new contract accrues from the day the money or securities were used."""
    return ContractAccrual(terms.contract_id, terms.used_date)


@dataclass(frozen=True, slots=True)
class DayCharges:
    """One day's postings for one contract, by kind (only kinds with a posting above 0)."""

    contract_id: str
    day: date
    amounts_fen: Mapping[ChargeKind, int]

    def __post_init__(self) -> None:
        object.__setattr__(self, "amounts_fen", MappingProxyType(dict(self.amounts_fen)))

    @property
    def total_fen(self) -> int:
        """What ``operations.accrue_charges`` posts for the day (nothing when 0)."""
        return sum(self.amounts_fen.values())


def accrue_day(
    state: ContractAccrual,
    terms: ContractTerms,
    eod_principal: int,
    maturity: date | None,
    rates: DayRates,
    policy: ChargePolicy,
) -> tuple[ContractAccrual, DayCharges]:
    """Accrue the next day of the period (``state.next_day``): new state and its postings."""
    assert state.contract_id == terms.contract_id
    day = state.next_day
    exact = exact_day_charges(terms, day, eod_principal, maturity, rates, policy)
    by_kind = dict(state.by_kind)
    postings: dict[ChargeKind, int] = {}
    for kind, amount in exact.items():
        by_kind[kind], posted = by_kind.get(kind, _NOTHING).plus(amount)
        if posted:
            postings[kind] = posted
    new = ContractAccrual(state.contract_id, state.since, day, by_kind)
    return new, DayCharges(terms.contract_id, day, postings)


# --------------------------------------------------------------------------- step functions

V = TypeVar("V")


def _at(steps: Sequence[tuple[date, V]], day: date) -> V:
    """The value of a step function ``(from this day on, value)`` on ``day``."""
    index = bisect_right(steps, day, key=lambda step: step[0]) - 1
    if index < 0:
        raise ValueError(f"no step covers {day}")
    return steps[index][1]


def principal_at(balances: Sequence[tuple[date, int]], day: date) -> int:
    """End-of-day principal on ``day`` from steps ``(from this day on, principal)``."""
    return _at(balances, day)


def rates_at(rates: Sequence[tuple[date, DayRates]], day: date) -> DayRates:
    return _at(rates, day)


def accrue_days(
    state: ContractAccrual,
    terms: ContractTerms,
    through: date,
    balances: Sequence[tuple[date, int]],
    maturity: date | None,
    rates: Sequence[tuple[date, DayRates]],
    policy: ChargePolicy,
) -> tuple[ContractAccrual, list[DayCharges]]:
    """Accrue every day from ``state.next_day`` through ``through``: the end-of-day run of a
    trading day also accrues the weekend or holiday before it, one posting per day."""
    days: list[DayCharges] = []
    while state.next_day <= through:
        day = state.next_day
        principal, day_rates = principal_at(balances, day), rates_at(rates, day)
        state, charges = accrue_day(state, terms, principal, maturity, day_rates, policy)
        days.append(charges)
    return state, days


# --------------------------------------------------------------------------- closed form


def accrued_over(
    terms: ContractTerms,
    start: date,
    end: date,
    balances: Sequence[tuple[date, int]],
    maturity: date | None,
    rates: Sequence[tuple[date, DayRates]],
    policy: ChargePolicy,
) -> dict[ChargeKind, int]:
    """The charges of the period ``[start, end)`` in closed form, rounded once per kind:
    each stretch of constant balance, rates and overdue state × its number of days (积数)."""
    assert start <= end
    cuts = {start, end, terms.used_date, terms.used_date + _ONE_DAY}
    cuts |= {maturity + _ONE_DAY} if maturity is not None else set()
    cuts |= {day for day, _ in balances} | {day for day, _ in rates}
    edges = sorted(day for day in cuts if start <= day <= end)
    exact: dict[ChargeKind, Fraction] = {}
    for first, stop in pairwise(edges):
        principal, day_rates = principal_at(balances, first), rates_at(rates, first)
        one_day = exact_day_charges(terms, first, principal, maturity, day_rates, policy)
        for kind, amount in one_day.items():
            exact[kind] = exact.get(kind, Fraction(0)) + amount * (stop - first).days
    return {kind: round_fraction(amount, Rounding.HALF_UP) for kind, amount in exact.items()}


def totals_by_kind(days: Iterable[DayCharges]) -> dict[ChargeKind, int]:
    """The postings of many days added up by kind (kinds that posted nothing left out)."""
    totals: dict[ChargeKind, int] = {}
    for day in days:
        for kind, amount in day.amounts_fen.items():
            totals[kind] = totals.get(kind, 0) + amount
    return totals
