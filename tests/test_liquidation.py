"""The forced-liquidation planner (RISK-7): hand-computed plans with exact fees, lots, skipped
securities, shorts, recovery cases and the repay modes; and properties checked by executing
each plan on an independent exact model valued through ``domain.margin``."""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from datetime import date
from fractions import Fraction as F

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger_helpers import financing_terms, short_terms
from liangrong.domain.contracts import (
    ComponentOrder,
    ContractBalance,
    ContractOrder,
    RepaymentOrder,
)
from liangrong.domain.fees import FeeSchedule, trade_fees
from liangrong.domain.liquidation import (
    CashRepayment,
    LiquidationInput,
    LiquidationMode,
    LiquidationPlan,
    LiquidationPolicy,
    LiquidationReason,
    LongPosition,
    PlannedOrder,
    RepayRequirement,
    SaleKey,
    ShortObligation,
    ShortPriority,
    Skipped,
    SkipReason,
    default_mode,
    plan_liquidation,
    requirement_for,
)
from liangrong.domain.margin import (
    Account,
    FinancedPosition,
    Holding,
    ShortPosition,
    maintenance_ratio,
    top_up_to,
    total_assets,
)
from liangrong.domain.money import trade_amount_fen
from liangrong.domain.orders import OrderKind, Side
from liangrong.domain.reservations import lot_allows, sale_lot_allows
from liangrong.domain.securities import BOARD_LOT, STAR_LOT, LotRule

# Commission 0.025% (min 5 yuan), stamp duty 0.05% on sales, transfer fee 0.001%.
FEES = FeeSchedule(
    commission_ppm=250, commission_minimum_fen=500, stamp_duty_sell_ppm=500, transfer_fee_ppm=10
)
TARGET = F("1.5")
POLICY = LiquidationPolicy(TARGET)
MISSED = LiquidationReason.CALL_MISSED
YUAN = 100  # fen
PRICE = 1000  # li per yuan


def account(**fields: object) -> LiquidationInput:
    base: dict[str, object] = {
        "client_id": "C001",
        "reason": MISSED,
        "cash_free_fen": 0,
        "cash_locked_fen": 0,
        "financing_owed_fen": 0,
    }
    return LiquidationInput(**{**base, **fields})  # type: ignore[arg-type]


def long(symbol: str, quantity: int, price_yuan: int = 10, **fields: object) -> LongPosition:
    base: dict[str, object] = {"sellable": quantity, "lot": BOARD_LOT}
    merged = {**base, **fields}
    return LongPosition(symbol, quantity, price_li=price_yuan * PRICE, **merged)  # type: ignore[arg-type]


# --- hand-computed plans ---------------------------------------------------------------------


def test_one_financed_position_below_130_restored_to_150_in_whole_lots() -> None:
    # 10,000 shares at 10 yuan against 80,000 yuan of financing: 100,000 / 80,000 = 125%.
    # Without fees 4,000 shares would do: (100,000 − 40,000) / (80,000 − 40,000) = 150%.
    # With fees 4,000 shares (40,000 yuan) pay commission 10.00 + stamp 20.00 + transfer
    # 0.40 = 3,040 fen, repay 3,996,960 fen and leave 6,000,000 / 4,003,040 < 150%; so one lot
    # more: 4,100 shares pay 1,025 + 2,050 + 41 = 3,116 fen and repay 4,096,884 fen.
    a = account(
        financing_owed_fen=80_000 * YUAN,
        longs=(long("600000.SH", 10_000, financed=True),),
    )
    plan = plan_liquidation(a, POLICY, FEES)
    assert plan.steps == (
        PlannedOrder(
            OrderKind.FORCED_SELL,
            "600000.SH",
            4_100,
            10_000,
            MISSED,
            4_100_000,
            3_116,
            repays_fen=4_096_884,
        ),
    )
    assert plan.ratio_before == F(5, 4)
    assert plan.ratio_after == F(5_900_000, 3_903_116) >= TARGET
    assert F(6_000_000, 8_000_000 - 3_996_960) < TARGET  # one lot fewer falls short
    assert plan.reached and plan.recovery is None and plan.skipped == ()
    assert plan.sold_value_fen == 4_100_000


def test_star_lots_sell_to_the_share_above_200() -> None:
    # Same account on STAR (200 shares minimum, then 1-share steps): 4,010 shares pay
    # 1,003 + 2,005 + 40 = 3,048 fen; 4,009 pay 1,002 + 2,005 + 40 = 3,047 fen, and
    # (10,000,000 − 4,009,000) / (8,000,000 − 4,009,000 + 3,047) = 5,991,000 / 3,994,047 < 150%.
    a = account(
        financing_owed_fen=80_000 * YUAN,
        longs=(long("688001.SH", 10_000, financed=True, lot=STAR_LOT),),
    )
    (order,) = plan_liquidation(a, POLICY, FEES).orders
    assert (order.quantity, order.fees_fen, order.repays_fen) == (4_010, 3_048, 4_006_952)
    assert F(5_991_000, 3_994_047) < TARGET
    assert F(5_990_000, 8_000_000 - 4_006_952) >= TARGET


@pytest.mark.parametrize(
    ("flag", "why"), [("suspended", SkipReason.SUSPENDED), ("limit_down", SkipReason.LIMIT_DOWN)]
)
def test_a_blocked_security_is_skipped_and_the_next_one_sold(flag: str, why: SkipReason) -> None:
    # The financed holding would go first; blocked, the collateral holding is sold instead.
    # Assets 110,000 yuan (1,000 + 10,000 shares at 10) against 80,000: 137.5%.
    # Selling q shares of B: 11,000,000 − 1,000q ≥ 1.5 × (8,000,000 − 1,000q + fees) needs
    # 500q ≥ 1,000,000 + 1.5 × fees: 2,000 shares (fees 1,520) fall short, 2,100 do
    # (fees 525 + 1,050 + 21 = 1,596: 500 × 2,100 = 1,050,000 ≥ 1,002,394).
    a = account(
        financing_owed_fen=80_000 * YUAN,
        longs=(
            long("600000.SH", 1_000, financed=True, **{flag: True}),
            long("000001.SZ", 10_000),
        ),
    )
    plan = plan_liquidation(a, POLICY, FEES)
    assert [(o.symbol, o.quantity, o.fees_fen) for o in plan.orders] == [
        ("000001.SZ", 2_100, 1_596)
    ]
    assert plan.skipped == (Skipped("600000.SH", Side.SELL, why),)
    assert plan.reached and plan.ratio_after is not None and plan.ratio_after >= TARGET


def test_restricted_shares_are_not_sold_and_an_odd_part_goes_in_one_order() -> None:
    # 150 shares of which none sellable (restricted): skipped.  The other holding has 250
    # sellable: 50 (the odd part) is allowed alone, and it is all that is needed.
    a = account(
        financing_owed_fen=2_000 * YUAN,
        longs=(
            long("600000.SH", 150, sellable=0, financed=True),
            long("000001.SZ", 250, price_yuan=10),
        ),
    )
    plan = plan_liquidation(a, POLICY, FEES)
    # Assets 4,000 yuan against 2,000: 200% already.  Raise the debt to 2,700 yuan: 148.1%.
    assert plan.steps == ()
    plan = plan_liquidation(replace(a, financing_owed_fen=2_700 * YUAN), POLICY, FEES)
    (order,) = plan.orders
    assert (order.symbol, order.quantity) == ("000001.SZ", 50)
    assert sale_lot_allows(50, 250, 100, 100)
    assert plan.skipped == (Skipped("600000.SH", Side.SELL, SkipReason.NOT_SELLABLE),)


def _shorts_account() -> LiquidationInput:
    # Free cash 10,000 yuan, locked proceeds 100,000, collateral 5,000 shares at 10, financing
    # 10,000 yuan, a short of 10,000 shares now at 12: assets 160,000, debt 130,000 (123.1%).
    return account(
        cash_free_fen=10_000 * YUAN,
        cash_locked_fen=100_000 * YUAN,
        financing_owed_fen=10_000 * YUAN,
        longs=(long("000001.SZ", 5_000),),
        shorts=(ShortObligation("600036.SH", 10_000, 10_000, 12_000, BOARD_LOT),),
    )


def test_shorts_driving_the_shortfall_are_covered_first_with_locked_proceeds() -> None:
    # Shorts (120,000) are most of the debt: cover first.  Covering q at 12 needs
    # 160,000 − 12q − fees ≥ 1.5 × (130,000 − 12q): 5,800 shares (fees 1,740 + 70) leave
    # 9,038,190 / 6,040,000 < 150%; 5,900 cost 7,080,000 + 1,770 + 71 = 7,081,841 fen, all
    # from the locked proceeds.  Nothing is sold.
    plan = plan_liquidation(_shorts_account(), POLICY, FEES)
    assert plan.steps == (
        PlannedOrder(
            OrderKind.FORCED_BUY,
            "600036.SH",
            5_900,
            12_000,
            MISSED,
            7_080_000,
            1_841,
            from_locked_fen=7_081_841,
        ),
    )
    assert plan.ratio_before == F(16, 13)
    assert plan.ratio_after == F(16_000_000 - 7_081_841, 13_000_000 - 7_080_000) >= TARGET
    assert F(9_038_190, 6_040_000) < TARGET
    assert plan.sold_value_fen == 0


def test_shorts_last_repays_financing_with_free_cash_first() -> None:
    # Free cash repays the 10,000 yuan of financing (150,000 / 120,000 = 125%), then
    # 5,100 shares are covered: 6,120,000 + 1,530 + 61 = 6,121,591 fen from locked proceeds.
    plan = plan_liquidation(
        _shorts_account(), LiquidationPolicy(TARGET, shorts=ShortPriority.LAST), FEES
    )
    assert plan.steps == (
        CashRepayment(1_000_000, 1_000_000, 0, MISSED),
        PlannedOrder(
            OrderKind.FORCED_BUY,
            "600036.SH",
            5_100,
            12_000,
            MISSED,
            6_120_000,
            1_591,
            from_locked_fen=6_121_591,
        ),
    )
    assert plan.reached


def test_a_short_at_limit_up_is_skipped_and_collateral_sold_only_as_far_as_it_helps() -> None:
    a = replace(
        _shorts_account(),
        shorts=(ShortObligation("600036.SH", 10_000, 10_000, 12_000, BOARD_LOT, limit_up=True),),
    )
    plan = plan_liquidation(a, POLICY, FEES)
    # The free cash repays the financing; no cash debt is left and the short cannot be
    # covered, so selling the collateral would not help: nothing is sold.
    assert plan.steps == (CashRepayment(1_000_000, 1_000_000, 0, MISSED),)
    assert plan.skipped == (Skipped("600036.SH", Side.BUY, SkipReason.LIMIT_UP),)
    assert not plan.reached and plan.recovery is None  # assets 150,000 > debt 120,000


def test_nothing_liquidatable_left_opens_a_recovery_case_with_the_exact_shortfall() -> None:
    # 8,000 shares at 10 against 100,000 yuan of financing (80%): all are sold; fees
    # 2,000 + 4,000 + 80 = 6,080 fen; 7,993,920 repaid; 2,006,080 fen of debt is left.
    a = account(
        financing_owed_fen=100_000 * YUAN,
        longs=(long("600000.SH", 8_000, financed=True),),
    )
    plan = plan_liquidation(a, POLICY, FEES)
    (order,) = plan.orders
    assert (order.quantity, order.repays_fen) == (8_000, 7_993_920)
    assert plan.ratio_after == 0 and not plan.reached
    assert plan.recovery is not None
    assert plan.recovery.shortfall_fen == 2_006_080
    assert (plan.recovery.debt_fen, plan.recovery.assets_fen) == (F(2_006_080), F(0))
    assert not plan.recovery.positions_left


def test_a_suspended_holding_left_shrinks_the_shortfall_and_keeps_the_case_open() -> None:
    a = account(
        financing_owed_fen=100_000 * YUAN,
        longs=(long("600000.SH", 8_000, financed=True), long("000002.SZ", 100, suspended=True)),
    )
    plan = plan_liquidation(a, POLICY, FEES)
    assert plan.recovery is not None
    assert plan.recovery.shortfall_fen == 2_006_080 - 100_000  # 100 shares at 10 still held
    assert plan.recovery.positions_left


def test_repay_all_mode_for_judicial_enforcement_even_above_the_target() -> None:
    # 202%: a court order still requires every debt repaid.  Financed holding first: 5,000
    # shares repay 5,000,000 − (1,250 + 2,500 + 50) = 4,996,200; free cash pays the 3,800 left.
    a = account(
        reason=LiquidationReason.JUDICIAL_ENFORCEMENT,
        cash_free_fen=1_000 * YUAN,
        financing_owed_fen=50_000 * YUAN,
        longs=(long("600000.SH", 5_000, financed=True), long("000001.SZ", 5_000)),
    )
    assert default_mode(a.reason) is LiquidationMode.REPAY_ALL
    plan = plan_liquidation(a, POLICY, FEES)
    judicial = LiquidationReason.JUDICIAL_ENFORCEMENT
    assert plan.steps == (
        PlannedOrder(
            OrderKind.FORCED_SELL,
            "600000.SH",
            5_000,
            10_000,
            judicial,
            5_000_000,
            3_800,
            repays_fen=4_996_200,
        ),
        CashRepayment(3_800, 3_800, 0, judicial),
    )
    assert plan.ratio_before == F(101, 50) and plan.ratio_after is None
    assert plan.reached and plan.debt_after_fen == 0 and plan.target is None
    # The same account under a call restores nothing: it is already above the target.
    assert plan_liquidation(a, POLICY, FEES, LiquidationMode.RESTORE_TARGET).steps == ()


def test_repay_all_covers_every_short() -> None:
    a = replace(_shorts_account(), reason=LiquidationReason.EARLY_TERMINATION)
    plan = plan_liquidation(a, POLICY, FEES)
    assert plan.reached and plan.debt_after_fen == 0
    covered = sum(o.quantity for o in plan.orders if o.kind is OrderKind.FORCED_BUY)
    assert covered == 10_000


def test_expired_contract_is_repaid_in_the_allocation_order() -> None:
    early = financing_terms("F1", "C001", 3_000_000, maturity=date(2026, 9, 2))
    late = financing_terms("F2", "C001", 5_000_000, maturity=date(2026, 12, 2))
    short = short_terms("S1", "C001", 1_000, 1_200_000, maturity=date(2026, 12, 2))
    contracts = (
        ContractBalance(early, 3_000_000, 20_000),
        ContractBalance(late, 5_000_000, 10_000),
        ContractBalance(short, 1_000, 0),
    )
    # Charges first over all contracts (30,000), then F1's principal.
    assert requirement_for(contracts, frozenset({"F1"}), RepaymentOrder()) == RepayRequirement(
        3_030_000
    )
    per_contract = RepaymentOrder(ContractOrder.NEAREST_MATURITY, ComponentOrder.PER_CONTRACT)
    assert requirement_for(contracts, frozenset({"F1"}), per_contract).cash_fen == 3_020_000
    assert requirement_for(contracts, frozenset({"S1"}), per_contract).shares == {
        "600036.SH": 1_000
    }
    # 8,030,000 fen owed against 10,000 shares at 10 (124.5%): repay 3,030,000 fen only.
    a = account(
        reason=LiquidationReason.CONTRACT_EXPIRED,
        financing_owed_fen=8_030_000,
        longs=(long("600000.SH", 10_000, financed=True),),
    )
    required = requirement_for(contracts[:2], frozenset({"F1"}), RepaymentOrder())
    plan = plan_liquidation(a, POLICY, FEES, required=required)
    (order,) = plan.orders
    # 3,100 shares repay 3,100,000 − (775 + 1,550 + 31) = 3,097,644; 3,000 repay 2,997,720.
    assert (order.quantity, order.repays_fen) == (3_100, 3_097_644)
    assert plan.reached and plan.mode is LiquidationMode.REPAY_REQUIRED


def test_an_account_at_the_target_gets_an_empty_plan() -> None:
    # 12,000 shares at 10 against 80,000 yuan: exactly 150%, the bound included.
    a = account(financing_owed_fen=80_000 * YUAN, longs=(long("600000.SH", 12_000),))
    plan = plan_liquidation(a, POLICY, FEES)
    assert (plan.steps, plan.skipped, plan.reached) == ((), (), True)
    assert plan.ratio_before == plan.ratio_after == TARGET
    assert plan_liquidation(account(cash_free_fen=5), POLICY, FEES).ratio_before is None


def test_policy_sale_order_decides_which_collateral_goes_first() -> None:
    base = account(
        financing_owed_fen=150_000 * YUAN,  # 200,000 / 150,000 = 133%
        longs=(
            long("600000.SH", 10_000, haircut=F("0.7"), liquidity=10**9),
            long("000001.SZ", 10_000, haircut=F("0.5"), liquidity=10**6),
        ),
    )
    by_haircut = plan_liquidation(base, POLICY, FEES)
    assert [o.symbol for o in by_haircut.orders] == ["000001.SZ"]
    liquid_first = LiquidationPolicy(TARGET, sale_order=(SaleKey.HIGHEST_LIQUIDITY,))
    assert [o.symbol for o in plan_liquidation(base, liquid_first, FEES).orders] == ["600000.SH"]


def test_invalid_inputs_are_refused() -> None:
    with pytest.raises(ValueError, match="target"):
        LiquidationPolicy(F(1))
    with pytest.raises(ValueError, match="sellable"):
        long("600000.SH", 100, sellable=200)
    with pytest.raises(ValueError, match="requirement"):
        plan_liquidation(
            account(financing_owed_fen=1), POLICY, FEES, LiquidationMode.REPAY_REQUIRED
        )


# --- an independent exact model and the properties ------------------------------------------


@dataclass
class Model:
    """The account as the book's fill rules would leave it, step by step."""

    source: LiquidationInput
    free: int
    locked: int
    financing: int
    charges: int
    held: dict[str, int]
    sellable: dict[str, int]
    owed: dict[str, int]
    coverable: dict[str, int]

    @staticmethod
    def of(a: LiquidationInput) -> Model:
        return Model(
            a,
            a.cash_free_fen,
            a.cash_locked_fen,
            a.financing_owed_fen,
            a.other_charges_fen,
            {p.symbol: p.quantity for p in a.longs},
            {p.symbol: p.sellable for p in a.longs},
            {q.symbol: q.quantity for q in a.shorts},
            {q.symbol: q.coverable for q in a.shorts},
        )

    def account(self) -> Account:
        a = self.source
        return Account(
            cash_fen=self.free + self.locked,
            other_collateral_fen=a.other_collateral_fen,
            interest_and_fees_fen=self.charges,
            holdings=tuple(
                Holding(p.symbol, self.held[p.symbol], p.price_li, p.haircut) for p in a.longs
            ),
            financing=(FinancedPosition("debt", 0, self.financing, 1, F(0), F(1)),),
            shorts=tuple(
                ShortPosition(q.symbol, self.owed[q.symbol], 0, q.price_li, F(0), F(1))
                for q in a.shorts
            ),
        )

    def debt(self) -> F:
        a = self.source
        shorts = sum(self.owed[q.symbol] * q.price_li for q in a.shorts)
        return self.financing + self.charges + F(shorts, 10)

    def apply(self, step: PlannedOrder | CashRepayment) -> None:
        if isinstance(step, CashRepayment):
            assert 0 < step.amount_fen <= min(self.free, self.financing + self.charges)
            financing = min(step.amount_fen, self.financing)
            self.free -= step.amount_fen
            self.financing -= financing
            self.charges -= step.amount_fen - financing
            return
        amount = trade_amount_fen(step.quantity, step.price_li)
        assert step.amount_fen == amount
        if step.kind is OrderKind.FORCED_SELL:
            p = next(p for p in self.source.longs if p.symbol == step.symbol)
            assert step.price_li == p.price_li and not (p.suspended or p.limit_down)
            assert 0 < step.quantity <= self.sellable[p.symbol]
            assert sale_lot_allows(
                step.quantity, self.sellable[p.symbol], p.lot.minimum, p.lot.step
            )
            fee = trade_fees(Side.SELL, step.quantity * step.price_li, FEES).total_fen
            repay = min(max(amount - fee, 0), self.financing)  # ORD-4
            assert (step.fees_fen, step.repays_fen) == (fee, repay)
            self.free += amount - fee - repay
            self.financing -= repay
            self.held[p.symbol] -= step.quantity
            self.sellable[p.symbol] -= step.quantity
            return
        assert step.kind is OrderKind.FORCED_BUY, "a plan buys nothing but covers"
        q = next(q for q in self.source.shorts if q.symbol == step.symbol)
        assert step.price_li == q.price_li and not (q.suspended or q.limit_up)
        assert 0 < step.quantity <= min(self.coverable[q.symbol], self.owed[q.symbol])
        assert lot_allows(step.quantity, q.lot.minimum, q.lot.step)
        cost = amount + trade_fees(Side.BUY, step.quantity * step.price_li, FEES).total_fen
        from_locked = min(self.locked, cost)
        assert step.from_locked_fen == from_locked
        self.locked -= from_locked
        self.free -= cost - from_locked
        self.owed[q.symbol] -= step.quantity
        self.coverable[q.symbol] -= step.quantity
        if not any(self.owed.values()):  # ORD-5: the last short closed releases the lock
            self.free, self.locked = self.free + self.locked, 0

    def can_sell(self) -> bool:
        for p in self.source.longs:
            left = self.sellable[p.symbol]
            if p.suspended or p.limit_down or left == 0:
                continue
            # The largest allowed sale of what is left: everything, when lots allow (they do).
            if sale_lot_allows(left, left, p.lot.minimum, p.lot.step):
                value = left * p.price_li
                if (
                    trade_amount_fen(left, p.price_li)
                    > trade_fees(Side.SELL, value, FEES).total_fen
                ):
                    return True
        return False

    def can_cover(self, with_sale: bool) -> bool:
        for q in self.source.shorts:
            limit = min(self.coverable[q.symbol], self.owed[q.symbol])
            if q.suspended or q.limit_up or limit < q.lot.minimum:
                continue
            least = q.lot.minimum
            cost = (
                trade_amount_fen(least, q.price_li)
                + trade_fees(Side.BUY, least * q.price_li, FEES).total_fen
            )
            if with_sale or cost <= self.free + self.locked:
                return True
        return False

    def liquidatable(self) -> bool:
        """Can any debt still be reduced today?"""
        cash_debt = self.financing + self.charges
        sale = self.can_sell()
        return (cash_debt > 0 and (self.free > 0 or sale)) or self.can_cover(sale)


def execute(a: LiquidationInput, plan: LiquidationPlan) -> Model:
    model = Model.of(a)
    debt = model.debt()
    for step in plan.steps:
        model.apply(step)
        assert model.free >= 0 and model.locked >= 0, "a plan never overdraws the cash"
        assert model.debt() <= debt, "a step never raises the debt"
        debt = model.debt()
    return model


_LOTS = st.sampled_from([BOARD_LOT, STAR_LOT, LotRule(10, 10)])
_RARE = st.sampled_from([False] * 7 + [True])


@st.composite
def _longs(draw: st.DrawFn, index: int) -> LongPosition:
    quantity = draw(st.integers(0, 40_000))
    return LongPosition(
        f"L{index}",
        quantity,
        draw(st.sampled_from([quantity, quantity, draw(st.integers(0, quantity))])),
        draw(st.integers(50, 300_000)),
        draw(_LOTS),
        financed=draw(st.booleans()),
        haircut=F(draw(st.integers(0, 10)), 10),
        liquidity=draw(st.integers(0, 10**9)),
        suspended=draw(_RARE),
        limit_down=draw(_RARE),
    )


@st.composite
def _shorts(draw: st.DrawFn, index: int) -> ShortObligation:
    quantity = draw(st.integers(1, 20_000))
    return ShortObligation(
        f"S{index}",
        quantity,
        draw(st.sampled_from([quantity, quantity, draw(st.integers(0, quantity))])),
        draw(st.integers(50, 300_000)),
        draw(_LOTS),
        suspended=draw(_RARE),
        limit_up=draw(_RARE),
    )


@st.composite
def accounts(draw: st.DrawFn) -> LiquidationInput:
    """Accounts around the lines: the financing is set so the ratio falls in [80%, 200%]."""
    longs = tuple(draw(_longs(i)) for i in range(draw(st.integers(0, 4))))
    shorts = tuple(draw(_shorts(i)) for i in range(draw(st.integers(0, 2))))
    a = account(
        cash_free_fen=draw(st.integers(0, 10**6)),
        # Locked proceeds: the shorts' sale value, the price having moved since.
        cash_locked_fen=sum(q.quantity * q.price_li for q in shorts)
        * draw(st.integers(60, 110))
        // 1000,
        other_charges_fen=draw(st.sampled_from([0, 0, 100, 5_000])),
        other_collateral_fen=draw(st.sampled_from([0, 0, draw(st.integers(0, 10**6))])),
        longs=longs,
        shorts=shorts,
    )
    model = Model.of(a).account()
    ratio = F(draw(st.sampled_from([*range(125, 201), *range(80, 125)])), 100)
    financing = total_assets(model) / ratio - Model.of(a).debt()
    return replace(a, financing_owed_fen=max(0, math.floor(financing)))


_POLICIES = st.builds(
    LiquidationPolicy,
    st.sampled_from([F("1.3"), F("1.5"), F(2)]),
    st.permutations(list(SaleKey)).map(tuple),
    st.sampled_from(list(ShortPriority)),
)


@settings(max_examples=300, deadline=None)
@given(accounts(), _POLICIES)
def test_a_plan_reaches_the_target_or_leaves_nothing_liquidatable(
    a: LiquidationInput, policy: LiquidationPolicy
) -> None:
    plan = plan_liquidation(a, policy, FEES)
    model = execute(a, plan)
    ratio = maintenance_ratio(model.account())
    assert ratio == plan.ratio_after and plan.ratio_before == maintenance_ratio(
        Model.of(a).account()
    )
    reached = ratio is None or ratio >= policy.target
    assert plan.reached == reached
    assert reached or not model.liquidatable()
    # One order per security and short; the recovery case exactly when debt exceeds assets.
    symbols = [o.symbol for o in plan.orders]
    assert len(symbols) == len(set(symbols))
    assets, debt = total_assets(model.account()), model.debt()
    if plan.recovery is not None:
        assert not reached and (plan.recovery.debt_fen, plan.recovery.assets_fen) == (debt, assets)
        assert plan.recovery.shortfall_fen == math.ceil(debt - assets)
        assert debt > assets
    elif not reached:
        assert debt <= assets  # short of the target, never of the debt


@settings(max_examples=150, deadline=None)
@given(accounts(), _POLICIES)
def test_repay_all_repays_everything_or_leaves_nothing_liquidatable(
    a: LiquidationInput, policy: LiquidationPolicy
) -> None:
    plan = plan_liquidation(a, policy, FEES, LiquidationMode.REPAY_ALL)
    model = execute(a, plan)
    assert plan.reached == (model.debt() == 0)
    assert plan.reached or not model.liquidatable()


@settings(max_examples=150, deadline=None)
@given(accounts(), _POLICIES)
def test_an_account_at_or_above_the_target_gets_an_empty_plan(
    a: LiquidationInput, policy: LiquidationPolicy
) -> None:
    # Top the free cash up to the target (x = T·D − A, rounded up): the plan is then empty.
    topped = replace(
        a, cash_free_fen=a.cash_free_fen + top_up_to(Model.of(a).account(), policy.target)
    )
    plan = plan_liquidation(topped, policy, FEES)
    assert (plan.steps, plan.skipped, plan.recovery, plan.reached) == ((), (), None, True)
    assert plan.ratio_before is None or plan.ratio_before >= policy.target


@settings(max_examples=200, deadline=None)
@given(
    st.integers(1, 50_000),
    st.integers(500, 200_000),
    st.sampled_from([BOARD_LOT, STAR_LOT]),
    st.integers(1, 5_000_000),
)
def test_least_sold_the_next_smaller_allowed_sale_falls_short(
    quantity: int, price_li: int, lot: LotRule, debt_fen: int
) -> None:
    a = account(
        financing_owed_fen=debt_fen,
        longs=(LongPosition("600000.SH", quantity, quantity, price_li, lot, financed=True),),
    )
    plan = plan_liquidation(a, POLICY, FEES)
    if not plan.reached or not plan.orders:
        return
    (order,) = plan.orders
    smaller = [
        q
        for q in range(order.quantity - 1, 0, -1)
        if sale_lot_allows(q, quantity, lot.minimum, lot.step)
    ][:1]
    for q in smaller:
        amount = trade_amount_fen(q, price_li)
        fee = trade_fees(Side.SELL, q * price_li, FEES).total_fen
        repay = min(max(amount - fee, 0), debt_fen)
        fewer = replace(order, quantity=q, amount_fen=amount, fees_fen=fee, repays_fen=repay)
        ratio = maintenance_ratio(execute(a, replace(plan, steps=(fewer,))).account())
        assert ratio is not None and ratio < TARGET
