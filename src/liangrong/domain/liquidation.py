"""The forced-liquidation planner (RISK-7; S1 art. 63, 66; S3 盯市 template art. 7).

Given what the book knows of one credit account today, ``plan_liquidation`` returns the
forced orders (and the direct repayment from free cash) that meet the goal with the least
sold, and the exact ratio before and after executing them at the planned prices, fees
included.

Economics (the book's fill rules, ``book.fills``): a forced sale's proceeds less its fees
(commission, stamp duty, transfer fee) arrive in free cash and repay financing (principal and
charges) first while any is open (ORD-4); what is left stays free.  A forced buy covers a
short: its amount plus commission and transfer fee are paid from the locked short proceeds
first (ORD-5), then from free cash; once no short is left the locked proceeds become free.
Free cash may repay financing, then other charges, directly (S1 art. 64 (2), (4)).

Execution order of a plan, which ``steps`` lists: the sales in priority order, then the
covers and direct repayments in the policy's order (covers first when shorts drive the
shortfall).  Each security is sold at most once and each short covered by at most one order.

Invariants:
- a sale never exceeds the sellable quantity and is whole lots or the holding's odd part in
  one order (``reservations.sale_lot_allows``); nothing is sold while suspended or at
  limit-down, nothing covered while suspended or at limit-up; a cover is whole lots and never
  exceeds what is owed and coverable; nothing else is bought; debt never rises;
- quantities are the least, lot by lot, that meet the goal, taken in priority order: a
  security later in the order is sold only when all before it, sold in full, do not suffice;
- after the plan either the goal is met or nothing liquidatable is left (no free cash with
  cash debt, no sale with positive net proceeds while debt can use it, no affordable cover);
- an account already at its goal gets an empty plan;
- every decision compares exact ``Fraction``s in fen; fees and amounts are the fills' own.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from enum import Enum
from fractions import Fraction
from types import MappingProxyType

from liangrong.domain.contracts import (
    Allocation,
    ContractBalance,
    ContractKind,
    ContractOrder,
    RepaymentOrder,
    allocate_repayment,
    allocate_return,
)
from liangrong.domain.fees import FeeSchedule, trade_fees
from liangrong.domain.money import LI_PER_FEN, Rounding, round_fraction, trade_amount_fen
from liangrong.domain.orders import OrderKind, Side
from liangrong.domain.reservations import sale_lot_allows
from liangrong.domain.securities import LotRule

ZERO = Fraction(0)


# --- inputs -------------------------------------------------------------------------------


class LiquidationReason(Enum):
    """Why the account is being liquidated (S1 art. 63, 66)."""

    CALL_MISSED = "call_missed"  # not restored to the target by the call's deadline
    EMERGENCY_LINE = "emergency_line"  # below the emergency line: at once
    CONTRACT_EXPIRED = "contract_expired"  # matured without (approved) extension
    JUDICIAL_ENFORCEMENT = "judicial_enforcement"  # preservation or enforcement by a court
    EARLY_TERMINATION = "early_termination"  # an agreed early-termination event


class LiquidationMode(Enum):
    RESTORE_TARGET = "restore_target"  # reach the policy's target ratio
    REPAY_ALL = "repay_all"  # repay every debt: financing, charges, every short
    REPAY_REQUIRED = "repay_required"  # repay the given amounts (an expired contract)


def default_mode(reason: LiquidationReason) -> LiquidationMode:
    """Calls restore the target; expiry repays the contract; courts and termination all."""
    if reason in (LiquidationReason.CALL_MISSED, LiquidationReason.EMERGENCY_LINE):
        return LiquidationMode.RESTORE_TARGET
    if reason is LiquidationReason.CONTRACT_EXPIRED:
        return LiquidationMode.REPAY_REQUIRED
    return LiquidationMode.REPAY_ALL


@dataclass(frozen=True, slots=True)
class LongPosition:
    """A security in the credit securities account, as the book sees it today."""

    symbol: str
    quantity: int  # held: all of it is valued
    sellable: int  # may be sold today (T+1, restrictions and open sales taken off)
    price_li: int  # planning price: the valuation and the order's price
    lot: LotRule
    financed: bool = False  # bought on margin, financing still open
    haircut: Fraction = ZERO
    liquidity: int = 0  # e.g. average daily turnover in fen: more liquid sells first
    suspended: bool = False
    limit_down: bool = False  # at limit-down: a sale there cannot be relied on to fill

    def __post_init__(self) -> None:
        if not 0 <= self.sellable <= self.quantity or self.price_li <= 0:
            raise ValueError(f"{self.symbol}: need 0 ≤ sellable ≤ quantity and a positive price")


@dataclass(frozen=True, slots=True)
class ShortObligation:
    """An open short in one security, all its contracts together."""

    symbol: str
    quantity: int  # owed
    coverable: int  # may be bought back today (not sold short today, not held by covers)
    price_li: int  # planning price: the debt's valuation and the order's price
    lot: LotRule
    suspended: bool = False
    limit_up: bool = False  # at limit-up: a buy there cannot be relied on to fill

    def __post_init__(self) -> None:
        if not 0 <= self.coverable <= self.quantity or self.price_li <= 0:
            raise ValueError(f"{self.symbol}: need 0 ≤ coverable ≤ quantity and a positive price")


@dataclass(frozen=True, slots=True, kw_only=True)
class LiquidationInput:
    """One credit account, built by the book from its mirror, positions and the market."""

    client_id: str
    reason: LiquidationReason
    cash_free_fen: int
    cash_locked_fen: int  # short-sale proceeds (ORD-5)
    financing_owed_fen: int  # principal + charges of the open financing contracts
    other_charges_fen: int = 0  # other interest and fees owed in cash (lending fees, penalty)
    other_collateral_fen: int = 0  # valued, never sold here (RISK-9)
    longs: tuple[LongPosition, ...] = ()
    shorts: tuple[ShortObligation, ...] = ()

    def __post_init__(self) -> None:
        amounts = (self.cash_locked_fen, self.financing_owed_fen, self.other_charges_fen)
        if self.cash_free_fen < 0 or min(amounts) < 0 or self.other_collateral_fen < 0:
            raise ValueError("cash, debts and other collateral are never negative")
        for group in (self.longs, self.shorts):
            if len({p.symbol for p in group}) != len(group):
                raise ValueError("one entry per symbol")


@dataclass(frozen=True, slots=True)
class RepayRequirement:
    """What REPAY_REQUIRED must repay: cash debt (financing first) and shares per symbol."""

    cash_fen: int = 0
    shares: Mapping[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "shares", MappingProxyType(dict(self.shares)))


def requirement_for(
    contracts: tuple[ContractBalance, ...], contract_ids: frozenset[str], order: RepaymentOrder
) -> RepayRequirement:
    """The least repayment that clears ``contract_ids`` under the firm's allocation order.

    Repayments are allocated in the stated order (ORD-4, CON-6), so clearing a contract means
    paying everything ahead of it too; with the default nearest-maturity order an expired
    contract comes first.  A short's shares are counted; its lending fees are cash charges
    the book settles with the cover.  Found by bisection on the allocation functions.
    """
    financing = [c for c in contracts if c.terms.kind is ContractKind.FINANCING]

    def cleared_cash(amount: int) -> frozenset[str]:
        return _cleared(allocate_repayment(financing, amount, order), financing)

    owed = sum(c.principal_outstanding + c.charges_outstanding_fen for c in financing)
    cash = _least_clearing(owed, cleared_cash, contract_ids)
    shares: dict[str, int] = {}
    wanted = [c for c in contracts if c.terms.contract_id in contract_ids]
    for symbol in sorted({c.terms.security for c in wanted if c.terms.kind is ContractKind.SHORT}):
        shorts = [
            c
            for c in contracts
            if c.terms.kind is ContractKind.SHORT and c.terms.security == symbol
        ]
        shares[symbol] = _least_clearing(
            sum(c.principal_outstanding for c in shorts),
            _return_clearing(shorts, order.contracts),
            contract_ids,
        )
    return RepayRequirement(cash, {s: q for s, q in shares.items() if q})


def _return_clearing(
    shorts: list[ContractBalance], order: ContractOrder
) -> Callable[[int], frozenset[str]]:
    return lambda quantity: _cleared(allocate_return(shorts, quantity, order), shorts)


def _cleared(allocations: list[Allocation], contracts: list[ContractBalance]) -> frozenset[str]:
    paid = {a.contract_id: a.charges_fen + a.principal for a in allocations}
    owed = {
        c.terms.contract_id: c.principal_outstanding
        + (c.charges_outstanding_fen if c.terms.kind is ContractKind.FINANCING else 0)
        for c in contracts
    }
    return frozenset(cid for cid, amount in owed.items() if paid.get(cid, 0) >= amount)


def _least_clearing(
    total: int, cleared: Callable[[int], frozenset[str]], wanted: frozenset[str]
) -> int:
    """The least amount at which every wanted contract is cleared (monotone in the amount)."""
    relevant = wanted & cleared(total)
    low, high = 0, total
    while low < high:
        middle = (low + high) // 2
        if relevant <= cleared(middle):
            high = middle
        else:
            low = middle + 1
    return low


class SaleKey(Enum):
    """One criterion of the sale order; the policy lists them most important first."""

    FINANCED_FIRST = "financed_first"  # securities bought on margin before collateral
    LOWEST_HAIRCUT = "lowest_haircut"  # what counts least as margin goes first
    HIGHEST_LIQUIDITY = "highest_liquidity"  # what the market absorbs best goes first
    LARGEST_VALUE = "largest_value"


class ShortPriority(Enum):
    """Who gets free cash first: covers or financing (locked proceeds only ever cover)."""

    WHEN_DRIVING = "when_driving"  # covers first when shorts are the larger part of the debt
    FIRST = "first"
    LAST = "last"


DEFAULT_SALE_ORDER = (SaleKey.FINANCED_FIRST, SaleKey.LOWEST_HAIRCUT, SaleKey.HIGHEST_LIQUIDITY)


@dataclass(frozen=True, slots=True)
class LiquidationPolicy:
    target: Fraction  # the ratio RESTORE_TARGET reaches (the call target, e.g. 150%)
    sale_order: tuple[SaleKey, ...] = DEFAULT_SALE_ORDER
    shorts: ShortPriority = ShortPriority.WHEN_DRIVING

    def __post_init__(self) -> None:
        # At or under 100% selling to repay cannot raise the ratio (domain-notes §1).
        if self.target <= 1:
            raise ValueError("the target ratio must be above 100%")


# --- outputs --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PlannedOrder:
    """A forced sell or forced buy (cover) at the planning price, with its exact effects."""

    kind: OrderKind
    symbol: str
    quantity: int
    price_li: int
    reason: LiquidationReason
    amount_fen: int  # trade amount (成交金额), half up as the fill's
    fees_fen: int
    repays_fen: int = 0  # a sale: financing repaid from its net proceeds (ORD-4)
    from_locked_fen: int = 0  # a cover: paid from locked proceeds (ORD-5)


@dataclass(frozen=True, slots=True)
class CashRepayment:
    """Free cash applied to the debt, financing first (a direct repayment by the firm)."""

    amount_fen: int
    financing_fen: int
    charges_fen: int
    reason: LiquidationReason


PlanStep = PlannedOrder | CashRepayment


class SkipReason(Enum):
    SUSPENDED = "suspended"
    LIMIT_DOWN = "limit_down"  # a sale
    LIMIT_UP = "limit_up"  # a cover
    NOT_SELLABLE = "not_sellable"  # nothing sellable in an allowed lot (T+1, restricted, held)
    NOT_COVERABLE = "not_coverable"  # nothing coverable in a whole lot (sold today, odd part)
    NO_PROCEEDS = "no_proceeds"  # the fees take all the proceeds of the largest sale
    NO_CASH = "no_cash"  # a cover the cash left cannot pay


@dataclass(frozen=True, slots=True)
class Skipped:
    symbol: str
    side: Side  # SELL: a holding not sold; BUY: a short not covered
    why: SkipReason


@dataclass(frozen=True, slots=True)
class RecoveryCase:
    """Debt left over assets once nothing liquidatable is left: a bad-debt recovery case."""

    client_id: str
    reason: LiquidationReason
    shortfall_fen: int  # debt − assets after the plan, rounded up
    debt_fen: Fraction
    assets_fen: Fraction
    positions_left: bool  # positions remain (blocked today): the shortfall is provisional


@dataclass(frozen=True, slots=True)
class LiquidationPlan:
    client_id: str
    reason: LiquidationReason
    mode: LiquidationMode
    target: Fraction | None  # None in the repay modes
    steps: tuple[PlanStep, ...]  # in execution order
    ratio_before: Fraction | None  # None: no debt
    ratio_after: Fraction | None
    assets_after_fen: Fraction
    debt_after_fen: Fraction
    reached: bool  # the goal is met after the plan
    skipped: tuple[Skipped, ...]  # every position that could not be traded today, and why
    recovery: RecoveryCase | None

    @property
    def orders(self) -> tuple[PlannedOrder, ...]:
        return tuple(s for s in self.steps if isinstance(s, PlannedOrder))

    @property
    def sold_value_fen(self) -> int:
        return sum(o.amount_fen for o in self.orders if o.kind is OrderKind.FORCED_SELL)


# --- the exact model --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _State:
    free: int
    locked: int
    financing: int
    charges: int
    held: tuple[int, ...]  # by index of ``longs``
    sellable: tuple[int, ...]
    owed: tuple[int, ...]  # by index of ``shorts``
    coverable: tuple[int, ...]
    repaid: int  # cash debt repaid by the plan so far
    covered: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class _Goal:
    target: Fraction | None
    cash_fen: int
    shares: tuple[int, ...]  # by index of ``shorts``


_Progression = tuple[int, int, int]  # first quantity, step, how many


def _sale_quantities(sellable: int, lot: LotRule) -> list[_Progression]:
    """Every quantity ``sale_lot_allows``: whole lots; the odd part alone; odd part + lots."""
    first, step = lot.minimum, lot.step
    found = []
    if sellable >= first:
        found.append((first, step, (sellable - first) // step + 1))
    odd = sellable if sellable < first else sellable % step
    if odd:
        found.append((odd, 1, 1))
        if sellable - odd >= first:
            found.append((odd + first, step, (sellable - odd - first) // step + 1))
    return found


def _cover_quantities(limit: int, lot: LotRule) -> _Progression | None:
    if limit < lot.minimum:
        return None
    return (lot.minimum, lot.step, (limit - lot.minimum) // lot.step + 1)


def _nth(p: _Progression, k: int) -> int:
    return p[0] + k * p[1]


def _least(p: _Progression, holds: Callable[[int], bool]) -> int | None:
    """The least quantity of ``p`` for which ``holds`` (monotone in the quantity), or None."""
    if not holds(_nth(p, p[2] - 1)):
        return None
    low, high = 0, p[2] - 1
    while low < high:
        middle = (low + high) // 2
        if holds(_nth(p, middle)):
            high = middle
        else:
            low = middle + 1
    return _nth(p, low)


class _Planner:
    def __init__(
        self, account: LiquidationInput, policy: LiquidationPolicy, fees: FeeSchedule
    ) -> None:
        self.account, self.policy, self.fees = account, policy, fees
        self.longs, self.shorts = account.longs, account.shorts
        self.fixed_fen = account.other_collateral_fen
        self.goal = _Goal(None, 0, tuple(0 for _ in self.shorts))
        self.shorts_first = False

    # valuation

    def assets(self, s: _State) -> Fraction:
        held = sum(q * p.price_li for q, p in zip(s.held, self.longs, strict=True))
        return s.free + s.locked + self.fixed_fen + Fraction(held, LI_PER_FEN)

    def debt(self, s: _State) -> Fraction:
        owed = sum(q * p.price_li for q, p in zip(s.owed, self.shorts, strict=True))
        return s.financing + s.charges + Fraction(owed, LI_PER_FEN)

    def ratio(self, s: _State) -> Fraction | None:
        debt = self.debt(s)
        return None if debt == 0 else self.assets(s) / debt

    def ratio_ok(self, s: _State) -> bool:
        target = self.goal.target
        return target is None or self.assets(s) >= target * self.debt(s)

    def cash_ok(self, s: _State) -> bool:
        return s.repaid >= self.goal.cash_fen

    def shares_ok(self, s: _State, j: int) -> bool:
        return s.covered[j] >= self.goal.shares[j]

    def met(self, s: _State) -> bool:
        shares = all(self.shares_ok(s, j) for j in range(len(self.shorts)))
        return shares and self.cash_ok(s) and self.ratio_ok(s)

    # the three moves

    def sale_net(self, i: int, quantity: int) -> tuple[int, int]:
        value_li = quantity * self.longs[i].price_li
        amount = trade_amount_fen(quantity, self.longs[i].price_li)
        return amount, trade_fees(Side.SELL, value_li, self.fees).total_fen

    def sell(self, s: _State, i: int, quantity: int) -> tuple[_State, PlannedOrder]:
        lot = self.longs[i].lot
        assert sale_lot_allows(quantity, s.sellable[i], lot.minimum, lot.step), quantity
        amount, fee = self.sale_net(i, quantity)
        net = amount - fee
        repay = min(max(net, 0), s.financing)  # ORD-4: financing first while open
        held, sellable = list(s.held), list(s.sellable)
        held[i] -= quantity
        sellable[i] -= quantity
        after = replace(
            s,
            free=s.free + net - repay,
            financing=s.financing - repay,
            held=tuple(held),
            sellable=tuple(sellable),
            repaid=s.repaid + repay,
        )
        p = self.longs[i]
        order = PlannedOrder(
            OrderKind.FORCED_SELL,
            p.symbol,
            quantity,
            p.price_li,
            self.account.reason,
            amount,
            fee,
            repays_fen=repay,
        )
        return after, order

    def cover_cost(self, j: int, quantity: int) -> tuple[int, int]:
        value_li = quantity * self.shorts[j].price_li
        amount = trade_amount_fen(quantity, self.shorts[j].price_li)
        return amount, trade_fees(Side.BUY, value_li, self.fees).total_fen

    def cover(self, s: _State, j: int, quantity: int) -> tuple[_State, PlannedOrder]:
        amount, fee = self.cover_cost(j, quantity)
        from_locked = min(s.locked, amount + fee)
        owed, coverable, covered = list(s.owed), list(s.coverable), list(s.covered)
        owed[j] -= quantity
        coverable[j] -= quantity
        covered[j] += quantity
        free, locked = s.free - (amount + fee - from_locked), s.locked - from_locked
        if not any(owed):  # the last short closed: the locked proceeds are free (ORD-5)
            free, locked = free + locked, 0
        after = replace(
            s,
            free=free,
            locked=locked,
            owed=tuple(owed),
            coverable=tuple(coverable),
            covered=tuple(covered),
        )
        q = self.shorts[j]
        order = PlannedOrder(
            OrderKind.FORCED_BUY,
            q.symbol,
            quantity,
            q.price_li,
            self.account.reason,
            amount,
            fee,
            from_locked_fen=from_locked,
        )
        return after, order

    def repay(self, s: _State, amount: int) -> tuple[_State, CashRepayment]:
        financing = min(amount, s.financing)
        after = replace(
            s,
            free=s.free - amount,
            financing=s.financing - financing,
            charges=s.charges - (amount - financing),
            repaid=s.repaid + amount,
        )
        return after, CashRepayment(amount, financing, amount - financing, self.account.reason)

    # blocked instruments

    def sale_block(self, s: _State, i: int) -> SkipReason | None:
        p = self.longs[i]
        if p.suspended:
            return SkipReason.SUSPENDED
        if p.limit_down:
            return SkipReason.LIMIT_DOWN
        quantities = _sale_quantities(s.sellable[i], p.lot)
        if not quantities:
            return SkipReason.NOT_SELLABLE
        amount, fee = self.sale_net(i, max(_nth(q, q[2] - 1) for q in quantities))
        return None if amount > fee else SkipReason.NO_PROCEEDS

    def cover_block(self, s: _State, j: int) -> SkipReason | None:
        q = self.shorts[j]
        if q.suspended:
            return SkipReason.SUSPENDED
        if q.limit_up:
            return SkipReason.LIMIT_UP
        if _cover_quantities(min(s.coverable[j], s.owed[j]), q.lot) is None:
            return SkipReason.NOT_COVERABLE
        return None

    def cheapest_cover(self, s: _State, j: int) -> int:
        return sum(self.cover_cost(j, self.shorts[j].lot.minimum))

    # cash moves: the least that meets the move's part of the goal, else the most possible

    def cover_move(self, s: _State, j: int) -> tuple[_State, PlannedOrder] | None:
        if self.cover_block(s, j) is not None or (self.ratio_ok(s) and self.shares_ok(s, j)):
            return None
        full = _cover_quantities(min(s.coverable[j], s.owed[j]), self.shorts[j].lot)
        assert full is not None
        budget = s.free + s.locked

        def affordable(quantity: int) -> bool:
            return sum(self.cover_cost(j, quantity)) <= budget

        if not affordable(full[0]):
            return None
        # The most lots the cash pays for: bisect on the (rising) cost.
        low, high = 0, full[2] - 1
        while low < high:
            middle = (low + high + 1) // 2
            low, high = (middle, high) if affordable(_nth(full, middle)) else (low, middle - 1)
        paid = (full[0], full[1], low + 1)

        def enough(quantity: int) -> bool:
            after = self.cover(s, j, quantity)[0]
            return self.ratio_ok(after) and self.shares_ok(after, j)

        quantity = _least(paid, enough)
        return self.cover(s, j, quantity if quantity is not None else _nth(paid, paid[2] - 1))

    def repay_move(self, s: _State) -> tuple[_State, CashRepayment] | None:
        most = min(s.free, s.financing + s.charges)
        if most <= 0 or (self.ratio_ok(s) and self.cash_ok(s)):
            return None
        needed = max(self.goal.cash_fen - s.repaid, 0)
        target = self.goal.target
        if target is not None and not self.ratio_ok(s):
            # Repaying x from cash: (A − x) ≥ T·(D − x)  ⇔  x ≥ (T·D − A) ÷ (T − 1).
            exact = (target * self.debt(s) - self.assets(s)) / (target - 1)
            needed = max(needed, round_fraction(exact, Rounding.UP))
        return self.repay(s, min(needed, most)) if needed > 0 else None

    def finish(self, s: _State) -> tuple[_State, list[PlanStep]]:
        """Spend the cash: covers (locked proceeds first) and direct repayment, in the order
        the policy gives; one cover per short, one repayment (a release of locked proceeds
        after the last cover may allow a second)."""
        steps: list[PlanStep] = []
        cover_order = sorted(
            range(len(self.shorts)),
            key=lambda j: (
                -self.shorts[j].quantity * self.shorts[j].price_li,
                self.shorts[j].symbol,
            ),
        )
        covers = [self._cover_of(j) for j in cover_order]
        repay: Callable[[_State], tuple[_State, PlanStep] | None] = self.repay_move
        moves = [*covers, repay] if self.shorts_first else [repay, *covers, repay]
        for move in moves:
            if self.met(s):
                break
            done = move(s)
            if done is not None:
                s = done[0]
                steps.append(done[1])
        return s, steps

    def _cover_of(self, j: int) -> Callable[[_State], tuple[_State, PlanStep] | None]:
        return lambda state: self.cover_move(state, j)

    def useful(self, s: _State) -> bool:
        """Whether more cash (a sale) could still serve an unmet part of the goal."""
        if s.financing + s.charges > 0 and not (self.ratio_ok(s) and self.cash_ok(s)):
            return True
        return any(
            self.cover_block(s, j) is None and not (self.ratio_ok(s) and self.shares_ok(s, j))
            for j in range(len(self.shorts))
        )

    def can_reduce_debt(self, s: _State) -> bool:
        """Whatever the goal: is any debt still reducible today?"""
        sale = any(self.sale_block(s, i) is None for i in range(len(self.longs)))
        cash = s.free + s.locked
        if s.financing + s.charges > 0 and (s.free > 0 or sale):
            return True
        return any(
            self.cover_block(s, j) is None and (sale or self.cheapest_cover(s, j) <= cash)
            for j in range(len(self.shorts))
        )

    # the plan

    def sale_order(self) -> list[int]:
        def key(i: int) -> tuple[object, ...]:
            p = self.longs[i]
            parts: dict[SaleKey, object] = {
                SaleKey.FINANCED_FIRST: not p.financed,
                SaleKey.LOWEST_HAIRCUT: p.haircut,
                SaleKey.HIGHEST_LIQUIDITY: -p.liquidity,
                SaleKey.LARGEST_VALUE: -p.quantity * p.price_li,
            }
            return (*(parts[k] for k in self.policy.sale_order), p.symbol)

        return sorted(range(len(self.longs)), key=key)

    def least_sale(self, s: _State, i: int) -> int:
        """The least allowed quantity after which the goal is met or no more cash is of use;
        the largest allowed quantity when none is."""

        def enough(quantity: int) -> bool:
            amount, fee = self.sale_net(i, quantity)
            if amount <= fee:  # a sale that raises nothing cannot help
                return False
            final = self.finish(self.sell(s, i, quantity)[0])[0]
            return self.met(final) or not self.useful(final)

        progressions = _sale_quantities(s.sellable[i], self.longs[i].lot)
        found = [q for q in (_least(p, enough) for p in progressions) if q is not None]
        return min(found) if found else max(_nth(p, p[2] - 1) for p in progressions)

    def plan(self, mode: LiquidationMode, required: RepayRequirement | None) -> LiquidationPlan:
        a = self.account
        start = _State(
            free=a.cash_free_fen,
            locked=a.cash_locked_fen,
            financing=a.financing_owed_fen,
            charges=a.other_charges_fen,
            held=tuple(p.quantity for p in self.longs),
            sellable=tuple(p.sellable for p in self.longs),
            owed=tuple(q.quantity for q in self.shorts),
            coverable=tuple(q.coverable for q in self.shorts),
            repaid=0,
            covered=tuple(0 for _ in self.shorts),
        )
        self.goal = self._goal(start, mode, required)
        short_value = sum(q.quantity * q.price_li for q in self.shorts)
        driving = Fraction(short_value, LI_PER_FEN) > start.financing + start.charges
        self.shorts_first = self.policy.shorts is ShortPriority.FIRST or (
            self.policy.shorts is ShortPriority.WHEN_DRIVING and driving
        )
        if self.met(start):
            return self._result(mode, start, start, [], [], reached=True)
        state = start
        final, cash_steps = self.finish(state)
        sales: list[PlanStep] = []
        for i in self.sale_order():
            if self.met(final) or not self.useful(final):
                break
            if self.sale_block(state, i) is not None:
                continue
            state, order = self.sell(state, i, self.least_sale(state, i))
            sales.append(order)
            final, cash_steps = self.finish(state)
        return self._result(mode, start, final, [*sales, *cash_steps], self._skipped(start, final))

    def _goal(self, s: _State, mode: LiquidationMode, required: RepayRequirement | None) -> _Goal:
        if mode is LiquidationMode.RESTORE_TARGET:
            return _Goal(self.policy.target, 0, tuple(0 for _ in self.shorts))
        if mode is LiquidationMode.REPAY_ALL:
            return _Goal(None, s.financing + s.charges, s.owed)
        if required is None:
            raise ValueError("REPAY_REQUIRED needs the requirement")
        symbols = {q.symbol for q in self.shorts}
        if not set(required.shares) <= symbols:
            raise ValueError(f"no short in {sorted(set(required.shares) - symbols)}")
        cash = min(required.cash_fen, s.financing + s.charges)
        shares = (min(required.shares.get(q.symbol, 0), q.quantity) for q in self.shorts)
        return _Goal(None, cash, tuple(shares))

    def _skipped(self, start: _State, final: _State) -> list[Skipped]:
        # Holdings as they stood (a sold one was tradable); shorts as they are left.
        skipped = []
        for i, p in enumerate(self.longs):
            why = self.sale_block(start, i) if p.quantity else None
            if why is not None:
                skipped.append(Skipped(p.symbol, Side.SELL, why))
        reached = self.met(final)
        for j, q in enumerate(self.shorts):
            why = self.cover_block(final, j) if final.owed[j] else None
            if why is None and final.owed[j] and not reached:
                unpaid = self.cheapest_cover(final, j) > final.free + final.locked
                why = SkipReason.NO_CASH if unpaid else None
            if why is not None:
                skipped.append(Skipped(q.symbol, Side.BUY, why))
        return skipped

    def _result(
        self,
        mode: LiquidationMode,
        start: _State,
        final: _State,
        steps: list[PlanStep],
        skipped: list[Skipped],
        reached: bool | None = None,
    ) -> LiquidationPlan:
        assert final.free >= 0 and final.locked >= 0, "a plan never overdraws the cash"
        met = self.met(final) if reached is None else reached
        assets, debt = self.assets(final), self.debt(final)
        recovery = None
        if not met and debt > assets and not self.can_reduce_debt(final):
            left = any(final.held) or any(final.owed)
            shortfall = round_fraction(debt - assets, Rounding.UP)
            recovery = RecoveryCase(
                self.account.client_id, self.account.reason, shortfall, debt, assets, left
            )
        return LiquidationPlan(
            client_id=self.account.client_id,
            reason=self.account.reason,
            mode=mode,
            target=self.goal.target,
            steps=tuple(steps),
            ratio_before=self.ratio(start),
            ratio_after=self.ratio(final),
            assets_after_fen=assets,
            debt_after_fen=debt,
            reached=met,
            skipped=tuple(skipped),
            recovery=recovery,
        )


def plan_liquidation(
    account: LiquidationInput,
    policy: LiquidationPolicy,
    fees: FeeSchedule,
    mode: LiquidationMode | None = None,
    required: RepayRequirement | None = None,
) -> LiquidationPlan:
    """The forced orders that meet the goal with the least sold (see the module docstring).

    ``mode`` defaults to ``default_mode(account.reason)``; REPAY_REQUIRED needs ``required``
    (``requirement_for`` computes it from the contracts to clear)."""
    chosen = default_mode(account.reason) if mode is None else mode
    return _Planner(account, policy, fees).plan(chosen, required)
