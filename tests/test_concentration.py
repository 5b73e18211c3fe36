"""Client-level concentration (RISK-10, ORD-3 item 10): the firm's tiered rule and the
exact share of one security in a client's collateral.

- ``cap_for`` at each tier's bound −ε / at / +ε, for every class; no debt takes the top tier.
- The rule is refused when it has no tier from 0, tiers out of order, a cap outside
  [0, 10_000], a missing class, or a cap that loosens at a lower ratio.
- Dated: the version in force on a day is read; none before the first.
- The share is exact (financed and free parts of a security together; cash, locked cash
  and other collateral in the base); a cap is reached at value × 10_000 = cap × base, not
  one li below.
- The cap feeds the front-end check: a margin buy is refused exactly when the share already
  reaches the cap at the account's ratio, and "no cap" never refuses.
"""

from __future__ import annotations

from datetime import date
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from liangrong.domain import margin
from liangrong.domain.concentration import (
    UNCAPPED_BP,
    Concentration,
    ConcentrationClass,
    ConcentrationRule,
    ConcentrationTier,
    account_concentrations,
    check_limit_bp,
    collateral_base_li,
    concentration_class,
    concentration_rule_on,
    concentrations_reaching_caps,
    effective_cap_bp,
    reaches_cap,
    share_of_collateral,
)
from liangrong.domain.order_codes import OrderCode
from liangrong.domain.orders import OrderKind
from liangrong.domain.pretrade import Reservation, check_order
from liangrong.domain.rule_book import NoRuleInForce
from liangrong.domain.rule_codes import RuleCode, RuleRefused
from liangrong.domain.securities import Board, Kind
from liangrong.domain.versions import History, Version
from pretrade_helpers import FEES, MAIN, account, firm, holding, order, security

MAIN_STOCK = ConcentrationClass.MAIN_BOARD_STOCK
GROWTH = ConcentrationClass.GROWTH_BOARD_STOCK
FUND = ConcentrationClass.FUND
BOND = ConcentrationClass.BOND


def tier(
    from_ratio: Fraction, main: int | None, growth: int | None, fund: int | None
) -> ConcentrationTier:
    return ConcentrationTier(from_ratio, {MAIN_STOCK: main, GROWTH: growth, FUND: fund, BOND: None})


# A firm's rule: the thinner the account, the tighter the cap; growth boards tighter.
RULE = ConcentrationRule(
    (
        tier(Fraction(0), 3_000, 2_000, 6_000),
        tier(Fraction(3, 2), 5_000, 3_000, 8_000),
        tier(Fraction(2), 7_000, 5_000, None),
        tier(Fraction(3), None, None, None),
    )
)
EPS = Fraction(1, 10**9)


@pytest.mark.parametrize(
    ("bound", "below", "at"),
    [
        (Fraction(3, 2), (3_000, 2_000, 6_000), (5_000, 3_000, 8_000)),
        (Fraction(2), (5_000, 3_000, 8_000), (7_000, 5_000, None)),
        (Fraction(3), (7_000, 5_000, None), (None, None, None)),
    ],
)
def test_cap_for_at_each_tier_bound(
    bound: Fraction, below: tuple[int | None, ...], at: tuple[int | None, ...]
) -> None:
    classes = (MAIN_STOCK, GROWTH, FUND)
    assert tuple(RULE.cap_for(bound - EPS, c) for c in classes) == below
    assert tuple(RULE.cap_for(bound, c) for c in classes) == at  # "达到" includes the bound
    assert tuple(RULE.cap_for(bound + EPS, c) for c in classes) == at
    assert RULE.cap_for(bound, BOND) is None


def test_lowest_ratios_and_no_debt() -> None:
    assert RULE.cap_for(Fraction(0), MAIN_STOCK) == 3_000
    assert RULE.cap_for(Fraction(1, 2), GROWTH) == 2_000  # below 100%: the strictest tier
    assert RULE.cap_for(None, MAIN_STOCK) is None  # no debt: the top tier
    assert RULE.caps_for(None)[FUND] is None
    assert dict(RULE.caps_for(Fraction(7, 4))) == {
        MAIN_STOCK: 5_000,
        GROWTH: 3_000,
        FUND: 8_000,
        BOND: None,
    }


@pytest.mark.parametrize(
    ("board", "kind", "expected"),
    [
        (Board.SSE_MAIN, Kind.STOCK, MAIN_STOCK),
        (Board.SZSE_MAIN, Kind.STOCK, MAIN_STOCK),
        (Board.STAR, Kind.STOCK, GROWTH),
        (Board.CHINEXT, Kind.STOCK, GROWTH),
        (Board.NONE, Kind.ETF, FUND),
        (Board.NONE, Kind.OTHER_FUND, FUND),
        (Board.NONE, Kind.GOVERNMENT_BOND, BOND),
        (Board.NONE, Kind.OTHER_BOND, BOND),
    ],
)
def test_concentration_class(board: Board, kind: Kind, expected: ConcentrationClass) -> None:
    assert concentration_class(board, kind) is expected


# --- validation -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("tiers", "field"),
    [
        ((), "tiers"),
        ((tier(Fraction(1), 3_000, 2_000, 6_000),), "tiers[0].from_ratio"),
        (
            (tier(Fraction(0), 3_000, 2_000, 6_000), tier(Fraction(0), 3_000, 2_000, 6_000)),
            "tiers[1].from_ratio",
        ),
        ((tier(Fraction(0), 10_001, 2_000, 6_000),), "tiers[0].caps_bp.main_board_stock"),
        ((tier(Fraction(0), 3_000, -1, 6_000),), "tiers[0].caps_bp.growth_board_stock"),
        (
            (ConcentrationTier(Fraction(0), {MAIN_STOCK: 1, GROWTH: 1, FUND: 1}),),
            "tiers[0].caps_bp.bond",
        ),
        (  # a lower ratio may not loosen a cap: 6,000 below 5,000
            (tier(Fraction(0), 6_000, 2_000, 6_000), tier(Fraction(2), 5_000, 2_000, 6_000)),
            "tiers[0].caps_bp.main_board_stock",
        ),
        (  # nor lift it altogether
            (tier(Fraction(0), 3_000, None, 6_000), tier(Fraction(2), 5_000, 2_000, 6_000)),
            "tiers[0].caps_bp.growth_board_stock",
        ),
    ],
)
def test_invalid_rules_are_refused(tiers: tuple[ConcentrationTier, ...], field: str) -> None:
    with pytest.raises(RuleRefused) as refused:
        ConcentrationRule(tiers)
    assert refused.value.code is RuleCode.VALUE_OUT_OF_RANGE
    assert [v.field for v in refused.value.violations] == [field]


def test_equal_caps_and_the_full_range_are_accepted() -> None:
    rule = ConcentrationRule(
        (tier(Fraction(0), 0, 0, 10_000), tier(Fraction(13, 10), 0, 10_000, 10_000))
    )
    assert rule.cap_for(Fraction(13, 10), GROWTH) == 10_000
    assert rule.cap_for(Fraction(13, 10) - EPS, GROWTH) == 0


def test_the_rule_in_force_on_a_day() -> None:
    looser = ConcentrationRule((tier(Fraction(0), 5_000, 4_000, None),))
    history = History(
        (
            Version("c1", date(2026, 1, 5), RULE, "credit committee 2026-01"),
            Version("c2", date(2026, 3, 2), looser, "credit committee 2026-02"),
        )
    )
    assert concentration_rule_on(history, date(2026, 3, 1)) is RULE
    assert concentration_rule_on(history, date(2026, 3, 2)) is looser
    with pytest.raises(NoRuleInForce):
        concentration_rule_on(history, date(2026, 1, 4))


def test_effective_cap_is_the_stricter_and_none_reaches_the_check_as_uncapped() -> None:
    assert effective_cap_bp(5_000, 4_000) == 4_000
    assert effective_cap_bp(3_000, 4_000) == 3_000
    assert effective_cap_bp(None, 4_000) == 4_000
    assert effective_cap_bp(5_000, None) == 5_000
    assert effective_cap_bp(None, None) is None
    assert check_limit_bp(None) == UNCAPPED_BP == 10_001
    assert check_limit_bp(2_500) == 2_500


# --- the measure --------------------------------------------------------------------------------

H = Fraction(7, 10)
R = Fraction(1)


def test_share_is_exact_over_cash_locked_cash_other_collateral_and_both_parts() -> None:
    a = margin.Account(
        cash_fen=1_000,  # free and locked proceeds together
        other_collateral_fen=500,
        holdings=(margin.Holding(MAIN, 100, 10_000, H), margin.Holding("000001.SZ", 50, 2_000, H)),
        financing=(margin.FinancedPosition(MAIN, 200, 1_500_000, 10_000, H, R),),
    )
    base = 15_000 + 3_000_000 + 100_000
    assert collateral_base_li(a) == base
    found = account_concentrations(a)
    assert found == (
        Concentration(MAIN, 3_000_000, base),
        Concentration("000001.SZ", 100_000, base),
    )
    assert found[0].share == Fraction(3_000_000, base)
    assert sum(c.share or 0 for c in found) == Fraction(3_100_000, base)
    assert Concentration(MAIN, 0, 0).share is None  # no collateral: no share


@pytest.mark.parametrize(("offset", "reached"), [(-1, False), (0, True), (1, True)])
def test_a_cap_is_reached_at_the_bound(offset: int, reached: bool) -> None:
    # 3,000 bp of a base of 1,000,000 li is 300,000 li.
    assert reaches_cap(300_000 + offset, 1_000_000, 3_000) is reached


def test_no_cap_or_no_base_is_never_reached() -> None:
    assert not reaches_cap(1_000_000, 1_000_000, None)
    assert not reaches_cap(0, 0, 0)
    assert not reaches_cap(1_000_000, 1_000_000, UNCAPPED_BP)
    assert reaches_cap(1_000_000, 1_000_000, 10_000)  # all in one security reaches 100%


def leveraged(extra_cash_fen: int) -> margin.Account:
    """Debt 1,000,000 fen; MAIN worth 1,000,000 fen; cash 500,000 + extra: the ratio is
    exactly 150% at extra = 0, and MAIN is 1,000,000 / 1,500,000 = 66.67% of it."""
    return margin.Account(
        cash_fen=500_000 + extra_cash_fen,
        financing=(margin.FinancedPosition(MAIN, 1_000, 1_000_000, 10_000, H, R),),
    )


def test_the_cap_follows_the_exact_ratio() -> None:
    classes = {MAIN: MAIN_STOCK}
    at_line = leveraged(0)
    assert margin.maintenance_ratio(at_line) == Fraction(3, 2)
    # At 150% the cap is 50%: 66.67% reaches it.  One fen lower the cap is 30%.
    assert [c.symbol for c in concentrations_reaching_caps(at_line, RULE, classes)] == [MAIN]
    below = leveraged(-1)
    assert RULE.tier_for(margin.maintenance_ratio(below)).from_ratio == 0
    assert concentrations_reaching_caps(below, RULE, classes)[0].symbol == MAIN
    # At 300% or more (cash 2,000,000: ratio 300%, share 33.33%) nothing is capped ...
    rich = leveraged(1_500_000)
    assert margin.maintenance_ratio(rich) == 3
    assert concentrations_reaching_caps(rich, RULE, classes) == ()
    # ... unless the client agreed a level of its own: 3,333 bp is reached, 3,334 is not.
    assert concentrations_reaching_caps(rich, RULE, classes, agreed_cap_bp=3_333) != ()
    assert concentrations_reaching_caps(rich, RULE, classes, agreed_cap_bp=3_334) == ()


# --- feeding the front-end check ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("ratio", "expected"),
    [
        (Fraction(3, 2) - EPS, OrderCode.CONCENTRATION_LIMIT),  # cap 30%: 40% reaches it
        (Fraction(3, 2), None),  # cap 50%: 40% + the buy stays below
        (Fraction(3, 2) + EPS, None),
    ],
)
def test_the_tier_of_the_ratio_feeds_the_margin_buy_check(
    ratio: Fraction, expected: OrderCode | None
) -> None:
    """The book sets ``concentration_limit_bp`` from the tier of the account's exact ratio;
    a holding of 40% of the collateral is refused below 150% and accepted from 150% on."""
    cap = RULE.cap_for(ratio, MAIN_STOCK)
    state = account(
        positions=holding(value_li=40_000_000),
        collateral_value_li=100_000_000,
        cash_free_fen=0,
        concentration_limit_bp=check_limit_bp(cap),
    )
    result = check_order(order(OrderKind.MARGIN_BUY, 100), state, security(), firm(), FEES)
    if expected is None:
        assert isinstance(result, Reservation)
    else:
        assert result is expected
    assert reaches_cap(40_000_000, 100_000_000, cap) is (expected is not None)


def test_an_uncapped_tier_never_refuses_the_margin_buy() -> None:
    cap = RULE.cap_for(None, MAIN_STOCK)  # no debt: the top tier, no cap
    state = account(
        positions=holding(value_li=1_000_000),
        collateral_value_li=1_000_000,
        cash_free_fen=10**9,
        concentration_limit_bp=check_limit_bp(cap),
    )
    result = check_order(order(OrderKind.MARGIN_BUY, 100), state, security(), firm(), FEES)
    assert isinstance(result, Reservation)


# --- properties -----------------------------------------------------------------------------


@settings(max_examples=300, deadline=None)
@given(ratio=st.one_of(st.none(), st.fractions(min_value=0, max_value=10, max_denominator=10**6)))
def test_cap_for_is_the_last_tier_the_ratio_reaches(ratio: Fraction | None) -> None:
    reached = [t for t in RULE.tiers if ratio is None or ratio >= t.from_ratio]
    for cls in ConcentrationClass:
        assert RULE.cap_for(ratio, cls) == reached[-1].caps_bp[cls]


@settings(max_examples=300, deadline=None)
@given(
    value=st.integers(0, 10**15),
    base=st.integers(0, 10**15),
    cap=st.one_of(st.none(), st.integers(0, 10_000)),
)
def test_reaches_cap_is_the_exact_share_comparison(value: int, base: int, cap: int | None) -> None:
    share = share_of_collateral(value, base)
    expected = cap is not None and share is not None and share >= Fraction(cap, 10_000)
    assert reaches_cap(value, base, cap) is expected
