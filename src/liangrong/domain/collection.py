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

What a contract owes by component: the ledger keeps one charges account per contract, so the
split is the contract's history replayed (``split_owed``): each accrual adds its split by
kind (its ``charges_accrued`` event), each payment takes its split (``charges_collected``)
or, without one, takes the components in the order, which is how every allocation here
takes a contract's charges.  A contract that can only ever have owed its own kind of charge
(``history_needed`` false: never past its maturity, a financing still owing principal) owes
it all in that component, with no history read.

Invariants: an allocation never takes more than is owed on any component, never more than
the cash offered, and follows the order exactly (nothing later is paid while anything
earlier is unpaid); with a single kind of charge it equals ``contracts.allocate_repayment``;
a replayed split always sums to what the ledger says is owed.
"""

from __future__ import annotations

import calendar as _gregorian
from collections.abc import Collection, Iterable, Iterator, Mapping, Sequence
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
from liangrong.domain.interest import ChargeKind
from liangrong.domain.journal import Transaction
from liangrong.domain.operations import CONTRACTS_PER_LEG, ChargeAccrual, pending_legs


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


def own_component(kind: ContractKind) -> Component:
    """The component of a contract's own charge: a financing's interest, a short's fee."""
    return Component.INTEREST if kind is ContractKind.FINANCING else Component.FEES


COMPONENT_OF_CHARGE = {
    ChargeKind.INTEREST: Component.INTEREST,
    ChargeKind.LENDING_FEE: Component.FEES,
    ChargeKind.MANAGEMENT_FEE: Component.FEES,
    ChargeKind.PENALTY: Component.PENALTY,
}
CHARGE_COMPONENTS = (Component.FEES, Component.PENALTY, Component.INTEREST)


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


@dataclass(frozen=True, slots=True)
class CollectionPolicy:
    """The firm's collection policy: when charges are collected, and in what order cash is
    allocated (on the schedule and on every repayment).  A dated firm parameter."""

    schedule: CollectionSchedule
    order: CollectionOrder = field(default_factory=CollectionOrder)


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

    def with_charges(self, owed: Mapping[Component, int]) -> ContractDebt:
        return replace(
            self,
            fees_fen=owed.get(Component.FEES, 0),
            penalty_fen=owed.get(Component.PENALTY, 0),
            interest_fen=owed.get(Component.INTEREST, 0),
        )

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


# ------------------------------------------------------------------ what is owed by component


COLLECTED_EVENT = "charges_collected"
ACCRUED_EVENT = "charges_accrued"


def collected_events(lines: Iterable[CollectionLine]) -> tuple[dict[str, object], ...]:
    """One ``charges_collected`` event per line: what it took, by component (non-zero)."""
    events = []
    for line in lines:
        event: dict[str, object] = {"type": COLLECTED_EVENT, "contract_id": line.contract_id}
        for name, amount in (
            ("fees", line.fees_fen),
            ("penalty", line.penalty_fen),
            ("interest", line.interest_fen),
            ("principal", line.principal_fen),
        ):
            if amount:
                event[name] = amount
        events.append(event)
    return tuple(events)


@dataclass(frozen=True, slots=True)
class ChargeMove:
    """One change of a contract's charges owed, in journal order: ``owed_fen`` more owed (an
    accrual) or, negative, paid; ``split`` by component when the transaction recorded it."""

    owed_fen: int
    split: Mapping[Component, int] | None = None


def charge_move(
    contract_id: str,
    owed_fen: int,
    events: Iterable[Mapping[str, object]],
    types: Collection[str] = (ACCRUED_EVENT, COLLECTED_EVENT),
) -> ChargeMove:
    """The move of one transaction on a contract's charges account, with the split its
    events record for the contract (``charges_accrued`` by kind, ``charges_collected``; of
    ``types`` only: a repayment that posts the contract's pending charges records both,
    one for each of its two moves)."""
    for event in events:
        if event.get("contract_id") != contract_id or event.get("type") not in types:
            continue
        if event.get("type") == ACCRUED_EVENT:
            split: dict[Component, int] = {}
            for kind, component in COMPONENT_OF_CHARGE.items():
                amount = event.get(kind.value, 0)
                assert isinstance(amount, int)
                split[component] = split.get(component, 0) + amount
            return ChargeMove(owed_fen, split)
        if event.get("type") == COLLECTED_EVENT:
            taken = {c: event.get(c.value, 0) for c in CHARGE_COMPONENTS}
            return ChargeMove(owed_fen, {c: n for c, n in taken.items() if isinstance(n, int)})
    return ChargeMove(owed_fen)


def pending_move(contract_id: str, pending: Mapping[str, int]) -> ChargeMove:
    """The move of a contract's pending charges (``interest.ChargeKind`` value -> fen), as
    posting them records it: an accrual split by kind."""
    return charge_move(contract_id, sum(pending.values()), (_pending_event(contract_id, pending),))


def _pending_event(contract_id: str, pending: Mapping[str, int]) -> dict[str, object]:
    return {"type": ACCRUED_EVENT, "contract_id": contract_id, **pending}


def pending_to_post(
    client_id: str, pending: Mapping[str, Mapping[str, int]]
) -> tuple[ChargeAccrual, ...]:
    """The postings of all of each contract's pending charges (contract -> kind -> fen), for
    a repayment of their charges to carry in its own transaction (``with_pending_posted``):
    one leg per ``CONTRACTS_PER_LEG`` contracts, in contract order."""
    cids = sorted(pending)
    assert all(pending[c] and min(pending[c].values()) > 0 for c in cids), pending
    return tuple(
        ChargeAccrual(
            f"pending:{part[0]}",
            client_id,
            part,
            [sum(pending[cid].values()) for cid in part],
            [_pending_event(cid, pending[cid]) for cid in part],
        )
        for part in (
            cids[i : i + CONTRACTS_PER_LEG] for i in range(0, len(cids), CONTRACTS_PER_LEG)
        )
    )


def with_pending_posted(txn: Transaction, postings: Sequence[ChargeAccrual]) -> Transaction:
    """``txn`` (a repayment) carrying ``postings`` of pending charges: their legs first,
    their events before its own, so the charges it pays are on the contracts when it pays
    them and a crash leaves both or neither (``docs/charges-subledger.md``)."""
    if not postings:
        return txn
    legs, events = pending_legs(postings)
    return replace(txn, legs=(*legs, *txn.legs), events=(*map(dict, events), *txn.events))


def history_needed(kind: ContractKind, principal: int, maturity: date, day: date) -> bool:
    """Whether the contract may owe more than its own kind of charge on ``day``: penalty
    accrues only past the maturity, the management fee only on a financing repaid the day
    it was used (so owing no principal).  Otherwise all it owes is its own component."""
    return maturity < day or (kind is ContractKind.FINANCING and principal <= 0)


def split_owed(
    moves: Iterable[ChargeMove],
    owed_fen: int,
    own: Component,
    components: Sequence[Component] = DEFAULT_COMPONENTS,
) -> dict[Component, int]:
    """What a contract owes by charge component, from its history: each accrual adds its
    split (unrecorded: its own component), each payment takes its recorded split or, without
    one, the components in ``components`` order.  The result sums to ``owed_fen`` (the
    ledger's balance): a history that does not (moves left out) is closed as the ledger
    says, a shortfall added to ``own``, an excess taken in order."""
    order = [c for c in components if c is not Component.PRINCIPAL]
    owed = dict.fromkeys(CHARGE_COMPONENTS, 0)
    for move in moves:
        if move.split is not None and sum(move.split.values()) == abs(move.owed_fen):
            sign = 1 if move.owed_fen > 0 else -1
            for component, amount in move.split.items():
                owed[component] += sign * amount
        elif move.owed_fen > 0:
            owed[own] += move.owed_fen
        else:
            _take_in_order(owed, -move.owed_fen, order)
    if any(n < 0 for n in owed.values()):  # a recorded split the history cannot carry
        total = sum(owed.values())
        owed = dict.fromkeys(CHARGE_COMPONENTS, 0)
        owed[own] = total
    gap = owed_fen - sum(owed.values())
    if gap > 0:
        owed[own] += gap
    elif gap < 0:
        _take_in_order(owed, -gap, order)
    return {c: n for c, n in owed.items() if n}


def _take_in_order(owed: dict[Component, int], amount: int, order: Sequence[Component]) -> None:
    for component in order:
        take = min(owed[component], amount)
        owed[component] -= take
        amount -= take
    if amount:  # paid beyond the recorded history: the own component goes below zero
        owed[order[-1]] -= amount
