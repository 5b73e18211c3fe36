"""Debt contracts (CON-1) and the order in which repayments reduce them (CON-6, ORD-4).

A financing contract is opened by a margin buy, a short contract by a short sale.  Each
records the margin ratio and rule version it was opened under, its rate and its maturity,
which is at most the maximum term (in months) after the day the money or securities were
actually used.  Outstanding amounts are not stored here: they are the balances of the
contract's debt accounts in the ledger.  Invariant: an allocation never takes more than is
owed, never more than is offered, and follows the stated order exactly.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from enum import Enum
from fractions import Fraction
from functools import lru_cache
from typing import Protocol


class ContractKind(Enum):
    FINANCING = "financing"
    SHORT = "short"


class MaturityCalendar(Protocol):
    def maturity_date(self, start: date, months: int) -> date: ...

    def is_provisional(self, d: date) -> bool: ...


@dataclass(frozen=True, slots=True)
class ContractTerms:
    """Terms fixed at opening.  For a financing: ``amount_fen`` is the principal.  For a short:
    ``amount_fen`` is the sale proceeds (locked) and ``price_li`` the sale price."""

    contract_id: str
    kind: ContractKind
    client_id: str
    security: str  # ledger asset, e.g. "600000.SH"
    quantity: int
    amount_fen: int
    price_li: int
    open_date: date
    used_date: date
    maturity: date
    maturity_provisional: bool  # the maturity fell past the loaded calendar horizon
    margin_ratio: Fraction
    rule_version: str
    annual_rate: Fraction  # financing interest rate or lending fee rate

    def __post_init__(self) -> None:
        assert self.quantity > 0 and self.amount_fen > 0 and self.price_li > 0, self.contract_id
        assert self.open_date <= self.used_date <= self.maturity, self.contract_id
        assert self.margin_ratio > 0 and self.annual_rate >= 0, self.contract_id

    def to_event(self) -> dict[str, object]:
        return {
            "type": "contract_opened",
            "contract_id": self.contract_id,
            "kind": self.kind.value,
            "client_id": self.client_id,
            "security": self.security,
            "quantity": self.quantity,
            "amount_fen": self.amount_fen,
            "price_li": self.price_li,
            "open_date": self.open_date.isoformat(),
            "used_date": self.used_date.isoformat(),
            "maturity": self.maturity.isoformat(),
            "maturity_provisional": self.maturity_provisional,
            "margin_ratio": str(self.margin_ratio),
            "rule_version": self.rule_version,
            "annual_rate": str(self.annual_rate),
        }

    @staticmethod
    def from_event(event: Mapping[str, object]) -> ContractTerms:
        def text(key: str) -> str:
            return str(event[key])

        def number(key: str) -> int:
            value = event[key]
            assert isinstance(value, int), key
            return value

        return ContractTerms(
            contract_id=text("contract_id"),
            kind=ContractKind(text("kind")),
            client_id=text("client_id"),
            security=text("security"),
            quantity=number("quantity"),
            amount_fen=number("amount_fen"),
            price_li=number("price_li"),
            open_date=date.fromisoformat(text("open_date")),
            used_date=date.fromisoformat(text("used_date")),
            maturity=date.fromisoformat(text("maturity")),
            maturity_provisional=bool(event["maturity_provisional"]),
            margin_ratio=_fraction(text("margin_ratio")),
            rule_version=text("rule_version"),
            annual_rate=_fraction(text("annual_rate")),
        )


@lru_cache(maxsize=1024)
def _fraction(text: str) -> Fraction:
    """A ratio's text parsed once (a book's contracts share a few ratios and rates)."""
    return Fraction(text)


def maturity_for(
    calendar: MaturityCalendar, used_date: date, max_term_months: int
) -> tuple[date, bool]:
    """The latest maturity the rules allow, and whether it rests on provisional calendar days."""
    assert max_term_months > 0
    maturity = calendar.maturity_date(used_date, max_term_months)
    return maturity, calendar.is_provisional(maturity)


@dataclass(frozen=True, slots=True)
class ContractBalance:
    """A contract as the ledger sees it now: what is still owed on it."""

    terms: ContractTerms
    principal_outstanding: int  # fen for financing, shares for a short
    charges_outstanding_fen: int  # interest, fees and penalty accrued and unpaid

    @property
    def is_open(self) -> bool:
        return self.principal_outstanding > 0 or self.charges_outstanding_fen > 0


class ContractOrder(Enum):
    NEAREST_MATURITY = "nearest_maturity"  # default (firm parameter)
    OLDEST_FIRST = "oldest_first"


class ComponentOrder(Enum):
    CHARGES_THEN_PRINCIPAL = "charges_then_principal"  # all charges first, then principal
    PER_CONTRACT = "per_contract"  # each contract's charges then its principal, in turn


@dataclass(frozen=True, slots=True)
class RepaymentOrder:
    contracts: ContractOrder = ContractOrder.NEAREST_MATURITY
    components: ComponentOrder = ComponentOrder.CHARGES_THEN_PRINCIPAL


@dataclass(frozen=True, slots=True)
class Allocation:
    contract_id: str
    charges_fen: int
    principal: int  # fen for financing, shares for a short


def sort_contracts(
    contracts: Sequence[ContractBalance], order: ContractOrder
) -> list[ContractBalance]:
    def key(c: ContractBalance) -> tuple[date, date, str]:
        t = c.terms
        first = t.maturity if order is ContractOrder.NEAREST_MATURITY else t.open_date
        return (first, t.open_date, t.contract_id)

    return sorted(contracts, key=key)


def allocate_repayment(
    contracts: Sequence[ContractBalance], amount: int, order: RepaymentOrder
) -> list[Allocation]:
    """Split a cash repayment (fen) among contracts' charges and principal in the stated order.

    What exceeds everything owed is left unallocated (the caller keeps it as cash)."""
    assert amount >= 0
    ordered = [c for c in sort_contracts(contracts, order.contracts) if c.is_open]
    charges: dict[str, int] = {}
    principal: dict[str, int] = {}
    left = amount
    if order.components is ComponentOrder.CHARGES_THEN_PRINCIPAL:
        for c in ordered:
            left = _take(charges, c.terms.contract_id, c.charges_outstanding_fen, left)
        for c in ordered:
            left = _take(principal, c.terms.contract_id, c.principal_outstanding, left)
    else:
        for c in ordered:
            left = _take(charges, c.terms.contract_id, c.charges_outstanding_fen, left)
            left = _take(principal, c.terms.contract_id, c.principal_outstanding, left)
    return _allocations(ordered, charges, principal)


def allocate_return(
    contracts: Sequence[ContractBalance], quantity: int, order: ContractOrder
) -> list[Allocation]:
    """Split returned shares of one security among its short contracts in order."""
    assert quantity >= 0
    securities = {c.terms.security for c in contracts}
    assert len(securities) <= 1, "a return repays shorts of one security"
    principal: dict[str, int] = {}
    left = quantity
    ordered = [c for c in sort_contracts(contracts, order) if c.principal_outstanding > 0]
    for c in ordered:
        left = _take(principal, c.terms.contract_id, c.principal_outstanding, left)
    return _allocations(ordered, {}, principal)


def _take(into: dict[str, int], contract_id: str, owed: int, left: int) -> int:
    taken = min(owed, left)
    if taken > 0:
        into[contract_id] = into.get(contract_id, 0) + taken
    return left - taken


def _allocations(
    ordered: Sequence[ContractBalance], charges: dict[str, int], principal: dict[str, int]
) -> list[Allocation]:
    result = []
    for c in ordered:
        cid = c.terms.contract_id
        if charges.get(cid, 0) or principal.get(cid, 0):
            result.append(Allocation(cid, charges.get(cid, 0), principal.get(cid, 0)))
    return result
