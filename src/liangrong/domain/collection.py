"""Collecting charges and repayments: when, and in what order (CON-4, CON-6; S1 art. 73).

Charges accrued daily (``interest``) are collected on the firm's schedule (monthly on a set
day, or only in some months, e.g. quarterly) and whenever the client repays.  Cash is
allocated in the configured order of components, fees → penalty → interest → principal by
default, and among contracts nearest maturity first (``contracts.RepaymentOrder``):
- ``ComponentOrder.CHARGES_THEN_PRINCIPAL``: each component across every contract before the
  next component (all fees, then all penalty, ...);
- ``ComponentOrder.PER_CONTRACT``: each contract's components in turn, contract by contract.
On a collection day only what is due is taken: every charge, and the principal of financing
contracts at or past their maturity; a repayment may also repay principal early.  A short's
principal is shares, repaid by returns (``contracts.allocate_return``), never by cash here;
its fees and penalty are cash and are collected like a financing's.  Collection takes what
the daily accrual has booked; once a contract's charges are settled (collected on schedule,
or the contract repaid), its accrual period ends (``interest.ContractAccrual.settled``).

Invariants: an allocation never takes more than is owed on any component, never more than
the cash offered, and follows the order exactly (nothing later is paid while anything
earlier is unpaid); with a single kind of charge it equals ``contracts.allocate_repayment``.
"""

from __future__ import annotations

import calendar as _gregorian
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace
from datetime import date
from enum import Enum

from liangrong.domain.calendar import TradingCalendar
from liangrong.domain.contracts import (
    Allocation,
    ComponentOrder,
    ContractBalance,
    ContractKind,
    ContractTerms,
    RepaymentOrder,
    sort_contracts,
)


class Component(Enum):
    FEES = "fees"  # lending fees and management fees
    PENALTY = "penalty"
    INTEREST = "interest"
    PRINCIPAL = "principal"  # financing principal (fen)


DEFAULT_COMPONENTS = (Component.FEES, Component.PENALTY, Component.INTEREST, Component.PRINCIPAL)


@dataclass(frozen=True, slots=True)
class CollectionOrder:
    """The firm's allocation order (a firm parameter, dated with the firm's policy)."""

    components: tuple[Component, ...] = DEFAULT_COMPONENTS
    repayment: RepaymentOrder = field(default_factory=RepaymentOrder)

    def __post_init__(self) -> None:
        if sorted(c.value for c in self.components) != sorted(c.value for c in Component):
            raise ValueError(f"the order names each component once: {self.components}")


class Roll(Enum):
    """Where a collection day that is not a trading day moves."""

    FORWARD = "forward"  # to the next trading day
    BACKWARD = "backward"  # to the trading day before


@dataclass(frozen=True, slots=True)
class CollectionSchedule:
    """Collect on ``day_of_month`` (the month's last day when shorter) of the listed months,
    moved to a trading day by ``roll``.  Dated like any firm parameter."""

    day_of_month: int
    roll: Roll
    months: frozenset[int] = frozenset(range(1, 13))  # {3, 6, 9, 12}: quarterly

    def __post_init__(self) -> None:
        if not 1 <= self.day_of_month <= 31 or not self.months <= frozenset(range(1, 13)):
            raise ValueError("a collection day is 1..31 in months 1..12")
        if not self.months:
            raise ValueError("collect in at least one month")

    def date_in(self, year: int, month: int, calendar: TradingCalendar) -> date | None:
        """The collection day of that month, None if the month collects nothing."""
        if month not in self.months:
            return None
        last = _gregorian.monthrange(year, month)[1]
        nominal = date(year, month, min(self.day_of_month, last))
        if self.roll is Roll.FORWARD:
            return calendar.on_or_after(nominal)
        return calendar.on_or_before(nominal)

    def dates_between(self, start: date, end: date, calendar: TradingCalendar) -> list[date]:
        """Collection days in ``[start, end]``."""
        found = []
        # a rolled day may leave its month: look one month either side
        for year, month in _months(start, end):
            day = self.date_in(year, month, calendar)
            if day is not None and start <= day <= end and day not in found:
                found.append(day)
        return sorted(found)

    def is_collection_day(self, day: date, calendar: TradingCalendar) -> bool:
        return day in self.dates_between(day, day, calendar)


def _months(start: date, end: date) -> Iterator[tuple[int, int]]:
    index = start.year * 12 + start.month - 2
    while index <= end.year * 12 + end.month:
        yield divmod(index, 12)[0], divmod(index, 12)[1] + 1
        index += 1


# --------------------------------------------------------------------------- allocation


@dataclass(frozen=True, slots=True)
class ContractDebt:
    """What one contract owes now, by component.  ``terms`` carry the maturity in force
    (after extensions, suspension or delisting), which orders the contracts."""

    terms: ContractTerms
    fees_fen: int = 0
    penalty_fen: int = 0
    interest_fen: int = 0
    principal: int = 0  # fen for a financing, shares for a short

    def __post_init__(self) -> None:
        owed = (self.fees_fen, self.penalty_fen, self.interest_fen, self.principal)
        if min(owed) < 0:
            raise ValueError(f"{self.terms.contract_id}: nothing is owed below zero")

    def owed(self, component: Component) -> int:
        """Cash owed on ``component`` (a short's principal is shares: no cash owed)."""
        if component is Component.PRINCIPAL:
            return self.principal if self.terms.kind is ContractKind.FINANCING else 0
        return {
            Component.FEES: self.fees_fen,
            Component.PENALTY: self.penalty_fen,
            Component.INTEREST: self.interest_fen,
        }[component]

    @property
    def charges_fen(self) -> int:
        return self.fees_fen + self.penalty_fen + self.interest_fen

    def balance(self) -> ContractBalance:
        return ContractBalance(self.terms, self.principal, self.charges_fen)

    def due_on(self, day: date) -> ContractDebt:
        """What a collection on ``day`` may take: every charge; principal only once due."""
        return self if day >= self.terms.maturity else replace(self, principal=0)


@dataclass(frozen=True, slots=True)
class CollectionLine:
    """What one allocation takes from one contract, by component."""

    contract_id: str
    fees_fen: int = 0
    penalty_fen: int = 0
    interest_fen: int = 0
    principal_fen: int = 0

    @property
    def charges_fen(self) -> int:
        return self.fees_fen + self.penalty_fen + self.interest_fen

    @property
    def total_fen(self) -> int:
        return self.charges_fen + self.principal_fen

    def allocation(self) -> Allocation:
        """As ``operations.repayment_legs`` posts it (one charges account per contract)."""
        return Allocation(self.contract_id, self.charges_fen, self.principal_fen)


_FIELD = {
    Component.FEES: "fees_fen",
    Component.PENALTY: "penalty_fen",
    Component.INTEREST: "interest_fen",
    Component.PRINCIPAL: "principal_fen",
}


def allocate(
    debts: Sequence[ContractDebt], amount_fen: int, order: CollectionOrder
) -> list[CollectionLine]:
    """Split ``amount_fen`` among the contracts' components in the stated order; what is
    left over stays with the client.  Lines come in contract order, empty ones left out."""
    assert amount_fen >= 0
    by_id = {d.terms.contract_id: d for d in debts}
    assert len(by_id) == len(debts), "one debt per contract"
    ordered = [
        by_id[b.terms.contract_id]
        for b in sort_contracts([d.balance() for d in debts], order.repayment.contracts)
    ]
    if order.repayment.components is ComponentOrder.CHARGES_THEN_PRINCIPAL:
        steps = [(d, c) for c in order.components for d in ordered]
    else:
        steps = [(d, c) for d in ordered for c in order.components]
    taken: dict[str, dict[Component, int]] = {d.terms.contract_id: {} for d in ordered}
    left = amount_fen
    for debt, component in steps:
        take = min(debt.owed(component), left)
        if take > 0:
            taken[debt.terms.contract_id][component] = take
            left -= take
    return [
        CollectionLine(cid, **{_FIELD[c]: n for c, n in parts.items()})
        for cid, parts in taken.items()
        if parts
    ]


def collect_on_schedule(
    debts: Sequence[ContractDebt], cash_fen: int, day: date, order: CollectionOrder
) -> list[CollectionLine]:
    """A scheduled collection: what is due on ``day`` out of the client's free cash."""
    return allocate([d.due_on(day) for d in debts], cash_fen, order)


def collect_on_repayment(
    debts: Sequence[ContractDebt], amount_fen: int, order: CollectionOrder
) -> list[CollectionLine]:
    """A repayment (direct, or a sale's proceeds): charges first, then principal, early too."""
    return allocate(debts, amount_fen, order)
