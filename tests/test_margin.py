"""The margin formulas (RISK-1, -3, -4, -5, -8): hand-computed figures, exact line
boundaries at one fen either side, and properties of the derived quantities."""

from __future__ import annotations

from dataclasses import replace
from fractions import Fraction as F
from typing import TypeVar

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from liangrong.domain.margin import (
    Account,
    Capacity,
    FinancedPosition,
    Holding,
    Lines,
    NoSolution,
    PriceAtLine,
    RatioStatus,
    ShortPosition,
    account_status,
    available_margin,
    cash_and_securities_ratio,
    locked_proceeds,
    maintenance_ratio,
    margin_required,
    margin_suffices,
    max_financing,
    max_short,
    price_at_line,
    ratio_status,
    repay_to,
    simple_interest,
    top_up_to,
    total_assets,
    total_debt,
    withdrawable_cash,
)

YUAN = 100  # fen
PRICE = 1000  # li per yuan
LINES = Lines(attention=F("1.5"), warning=F("1.4"), liquidation=F("1.3"), emergency=F("1.1"))
WITHDRAWAL = F(3)


def issue_example(**changes: object) -> Account:
    account = Account(
        cash_fen=150_000 * YUAN,
        holdings=(Holding("600000", 5000, 20 * PRICE, F("0.7")),),
        financing=(FinancedPosition("000001", 20000, 200_000 * YUAN, 10 * PRICE, F("0.5"), F(1)),),
        shorts=(ShortPosition("600036", 1000, 25_000 * YUAN, 25 * PRICE, F("0.7"), F(1)),),
    )
    return replace(account, **changes)  # type: ignore[arg-type]


def financed_only(cash_fen: int, *, other_fen: int = 0) -> Account:
    """Debt 100,000 yuan against 10,000 shares at 10 yuan: ratio = (cash + 100,000) / 100,000."""
    position = FinancedPosition("000001", 10_000, 100_000 * YUAN, 10 * PRICE, F("0.5"), F(1))
    return Account(cash_fen=cash_fen, other_collateral_fen=other_fen, financing=(position,))


# --- the issue's example --------------------------------------------------------------------


def test_issue_example_figures() -> None:
    account = issue_example()
    assert total_assets(account) == 450_000 * YUAN
    assert total_debt(account) == 225_000 * YUAN
    assert maintenance_ratio(account) == 2
    assert available_margin(account) == -30_000 * YUAN
    assert account_status(account, LINES) is RatioStatus.SAFE
    assert locked_proceeds(account) == 25_000 * YUAN


def test_interest_and_other_collateral_count() -> None:
    account = issue_example(other_collateral_fen=50_000 * YUAN, interest_and_fees_fen=25_000 * YUAN)
    assert total_assets(account) == 500_000 * YUAN
    assert total_debt(account) == 250_000 * YUAN
    assert cash_and_securities_ratio(account) == F(450, 250)
    # other collateral is not margin; interest and fees are taken off it
    assert available_margin(account) == -55_000 * YUAN


def test_no_debt_has_no_ratio_and_is_safe() -> None:
    account = Account(cash_fen=1_000 * YUAN)
    assert maintenance_ratio(account) is None
    assert ratio_status(None, LINES) is RatioStatus.SAFE
    assert withdrawable_cash(account, WITHDRAWAL) == 1_000 * YUAN


def test_sub_fen_values_stay_exact() -> None:
    account = Account(cash_fen=0, holdings=(Holding("688001", 1, 10_001, F(1)),))
    assert total_assets(account) == F(10_001, 10)  # 10.001 yuan = 1000.1 fen


# --- available margin (RISK-3) --------------------------------------------------------------


def _mixed(financed_price_li: int, short_price_li: int) -> Account:
    return Account(
        cash_fen=150_000 * YUAN,
        interest_and_fees_fen=1_000 * YUAN,
        holdings=(Holding("600000", 5000, 20 * PRICE, F("0.7")),),
        financing=(
            FinancedPosition("000001", 20000, 200_000 * YUAN, financed_price_li, F("0.5"), F(1)),
        ),
        shorts=(ShortPosition("600036", 1000, 25_000 * YUAN, short_price_li, F("0.7"), F(1)),),
    )


def test_available_margin_profits_count_after_haircut() -> None:
    # 150,000 + 70,000 + 40,000×0.5 + 5,000×0.7 − 25,000 − 200,000 − 20,000 − 1,000
    assert available_margin(_mixed(12 * PRICE, 20 * PRICE)) == -2_500 * YUAN


def test_available_margin_losses_count_in_full() -> None:
    # 150,000 + 70,000 − 40,000 − 5,000 − 25,000 − 200,000 − 30,000 − 1,000
    # (the short's margin is on today's value, 30 yuan × 1000)
    assert available_margin(_mixed(8 * PRICE, 30 * PRICE)) == -81_000 * YUAN


def test_financing_margin_is_on_the_historic_amount() -> None:
    account = Account(
        cash_fen=500_000 * YUAN,
        holdings=(Holding("600000", 10_000, 10 * PRICE, F("0.6")),),
        financing=(
            FinancedPosition("000001", 10_000, 100_000 * YUAN, 11 * PRICE, F("0.5"), F("0.8")),
        ),
    )
    # 500,000 + 60,000 + 10,000×0.5 − 100,000×0.8
    assert available_margin(account) == 485_000 * YUAN


# --- new business (RISK-4) ------------------------------------------------------------------


def test_margin_required_and_the_bound_is_inclusive() -> None:
    assert margin_required(100_000 * YUAN, F("0.8")) == 80_000 * YUAN
    assert margin_suffices(F(80_000 * YUAN), 100_000 * YUAN, F("0.8"))
    assert not margin_suffices(F(80_000 * YUAN - 1), 100_000 * YUAN, F("0.8"))


@pytest.mark.parametrize(
    ("price_li", "ratio", "lot", "quantity"),
    [
        (10 * PRICE, F(1), 100, 48_500),
        (9_990, F(1), 100, 48_500),  # 48,548.5 shares floor to 48,500
        (33_330, F(1), 100, 14_500),  # 14,551.4 → 14,500
        (33_330, F(1), 1, 14_551),
        (25 * PRICE, F("1.2"), 100, 16_100),  # 404,166.67 / 25 = 16,166.7 → 16,100
    ],
)
def test_max_financing_floors_to_the_lot(price_li: int, ratio: F, lot: int, quantity: int) -> None:
    capacity = max_financing(F(485_000 * YUAN), ratio, price_li, lot)
    assert capacity == Capacity(value_fen=485_000 * YUAN / ratio, quantity=quantity)


def test_max_short_at_the_lot_boundary() -> None:
    one_lot = F(100 * 25 * YUAN) * F("1.2")  # margin for exactly one lot at 25 yuan
    assert max_short(one_lot, F("1.2"), 25 * PRICE, 100).quantity == 100
    assert max_short(one_lot - 1, F("1.2"), 25 * PRICE, 100).quantity == 0
    assert max_short(one_lot * 2 - 1, F("1.2"), 25 * PRICE, 100).quantity == 100


def test_max_business_is_never_negative() -> None:
    assert max_financing(F(-30_000 * YUAN), F(1), 10 * PRICE, 100) == Capacity(F(0), 0)
    assert max_short(F(-1), F(1), 10 * PRICE, 100) == Capacity(F(0), 0)


def test_max_business_refuses_non_positive_inputs() -> None:
    with pytest.raises(ValueError):
        max_financing(F(1), F(1), 0, 100)


# --- status lines (RISK-5): exactly at, one fen below, one fen above ---------------------------


@pytest.mark.parametrize(
    ("line", "at_or_above", "below"),
    [
        (F("1.5"), RatioStatus.SAFE, RatioStatus.ATTENTION),
        (F("1.4"), RatioStatus.ATTENTION, RatioStatus.WARNING),
        (F("1.3"), RatioStatus.WARNING, RatioStatus.LIQUIDATION),
        (F("1.1"), RatioStatus.LIQUIDATION, RatioStatus.EMERGENCY),
    ],
)
def test_status_boundary_at_each_line(
    line: F, at_or_above: RatioStatus, below: RatioStatus
) -> None:
    cash_at_line = int((line - 1) * 100_000 * YUAN)
    at = financed_only(cash_at_line)
    assert maintenance_ratio(at) == line  # exactly on the line: "below" excludes it
    assert account_status(at, LINES) is at_or_above
    assert account_status(financed_only(cash_at_line - 1), LINES) is below
    assert account_status(financed_only(cash_at_line + 1), LINES) is at_or_above


def test_status_boundary_with_other_collateral() -> None:
    # 1 fen less of other collateral crosses the liquidation line too (it counts in RISK-1).
    assert account_status(financed_only(0, other_fen=30_000 * YUAN), LINES) is RatioStatus.WARNING
    below = financed_only(0, other_fen=30_000 * YUAN - 1)
    assert account_status(below, LINES) is RatioStatus.LIQUIDATION


def test_lines_are_optional_and_must_nest() -> None:
    lines = Lines(warning=F("1.4"), liquidation=F("1.3"))
    assert ratio_status(F("1.45"), lines) is RatioStatus.SAFE
    assert ratio_status(F("1.35"), lines) is RatioStatus.WARNING
    with pytest.raises(ValueError):
        Lines(warning=F("1.3"), liquidation=F("1.3"))
    with pytest.raises(ValueError):
        Lines(attention=F("1.4"), warning=F("1.4"), liquidation=F("1.3"))
    with pytest.raises(ValueError):
        Lines(warning=F("1.4"), liquidation=F("1.3"), emergency=F(0))


# --- withdrawal (RISK-8) ----------------------------------------------------------------------


def test_withdrawal_boundary_at_300_percent() -> None:
    at = financed_only(200_000 * YUAN)  # (200,000 + 100,000) / 100,000 = 300% exactly
    assert cash_and_securities_ratio(at) == 3
    assert withdrawable_cash(at, WITHDRAWAL) == 0  # must be strictly above before
    assert withdrawable_cash(financed_only(200_000 * YUAN - 1), WITHDRAWAL) == 0
    assert withdrawable_cash(financed_only(200_000 * YUAN + 1), WITHDRAWAL) == 1


def test_withdrawal_ignores_other_collateral() -> None:
    rich = financed_only(200_000 * YUAN, other_fen=1_000_000 * YUAN)
    assert maintenance_ratio(rich) == 13
    assert withdrawable_cash(rich, WITHDRAWAL) == 0


def test_withdrawal_keeps_short_proceeds_locked() -> None:
    short = ShortPosition("600036", 1000, 25_000 * YUAN, 25 * PRICE, F("0.7"), F(1))
    by_ratio = Account(cash_fen=1_000_000 * YUAN, shorts=(short,))
    # surplus over 300%: 1,000,000 − 3 × 25,000 = 925,000 < free cash 975,000
    assert withdrawable_cash(by_ratio, WITHDRAWAL) == 925_000 * YUAN
    holding = Holding("600000", 100_000, 10 * PRICE, F("0.7"))
    by_cash = Account(cash_fen=100_000 * YUAN, holdings=(holding,), shorts=(short,))
    # surplus is 1,025,000 but only 75,000 of the cash is free
    assert withdrawable_cash(by_cash, WITHDRAWAL) == 75_000 * YUAN


# --- top up, repay, price at line -------------------------------------------------------------


def at_130() -> Account:
    position = FinancedPosition("000001", 20_000, 100_000 * YUAN, 6 * PRICE, F("0.5"), F(1))
    return Account(cash_fen=10_000 * YUAN, financing=(position,))  # 130,000 / 100,000


def test_top_up_and_repay_hand_computed() -> None:
    assert top_up_to(at_130(), F("1.5")) == 20_000 * YUAN  # 1.5 × 100,000 − 130,000
    assert repay_to(at_130(), F("1.5")) == 40_000 * YUAN  # (150,000 − 130,000) / 0.5
    assert top_up_to(at_130(), F("1.3")) == 0  # already there: reaching includes the bound
    assert repay_to(at_130(), F("1.3")) == 0
    assert top_up_to(Account(cash_fen=0), F(2)) == 0


def test_repay_cannot_help_at_or_under_100_percent() -> None:
    under = replace(at_130(), cash_fen=0)  # 120,000 / 100,000
    assert repay_to(under, F("0.9")) == 0
    assert repay_to(under, F(1)) == 0
    sunk = _at_price(4_500)  # 90,000 / 100,000
    assert repay_to(sunk, F("0.95")) is NoSolution.NOT_ABOVE_ONE
    assert repay_to(sunk, F("1.5")) is NoSolution.NOT_ABOVE_ONE
    assert repay_to(_at_price(5 * PRICE), F("1.5")) is NoSolution.NOT_ABOVE_ONE  # exactly 100%


def _at_price(price_li: int) -> Account:
    position = FinancedPosition("000001", 20_000, 100_000 * YUAN, price_li, F("0.5"), F(1))
    return Account(cash_fen=0, financing=(position,))


def test_repay_cannot_sell_other_collateral() -> None:
    small = FinancedPosition("000001", 1_000, 100_000 * YUAN, 10 * PRICE, F("0.5"), F(1))
    account = Account(cash_fen=0, other_collateral_fen=120_000 * YUAN, financing=(small,))
    assert repay_to(account, F("1.5")) is NoSolution.NOT_ENOUGH_TO_SELL  # needs 40,000 of 10,000


def test_price_at_line_single_financed_holding() -> None:
    account = Account(
        cash_fen=0,
        financing=(FinancedPosition("000001", 20_000, 200_000 * YUAN, 10 * PRICE, F("0.5"), F(1)),),
    )
    assert price_at_line(account, "000001", F("1.3")) == PriceAtLine(F(13 * PRICE), falls=True)


def test_price_at_line_issue_example() -> None:
    result = price_at_line(issue_example(), "000001", F("1.3"))
    assert result == PriceAtLine(F(2125), falls=True)  # (1.3 × 225,000 − 250,000) / 20,000
    short = price_at_line(issue_example(), "600036", F("1.3"))
    assert isinstance(short, PriceAtLine) and not short.falls
    assert short.price_li == F(190_000 * PRICE, 1300)  # (450,000 − 260,000) / 1,300
    assert short.safe_price_li() == 146_153


def test_price_at_line_rounds_to_the_safe_side() -> None:
    long = Account(
        cash_fen=0,
        financing=(FinancedPosition("000001", 3_000, 20_000 * YUAN, 10 * PRICE, F("0.5"), F(1)),),
    )
    result = price_at_line(long, "000001", F("1.3"))
    assert isinstance(result, PriceAtLine) and result.safe_price_li() == 8_667  # 8.6666… up
    short = Account(
        cash_fen=50_000 * YUAN,
        shorts=(ShortPosition("600036", 1000, 25_000 * YUAN, 25 * PRICE, F("0.7"), F(1)),),
    )
    result = price_at_line(short, "600036", F("1.3"))
    assert isinstance(result, PriceAtLine) and result.safe_price_li() == 38_461  # 38.4615… down


def test_price_at_line_without_a_solution() -> None:
    assert price_at_line(issue_example(), "999999", F("1.3")) is NoSolution.NO_POSITION
    hedged = Account(
        cash_fen=10_000 * YUAN,
        holdings=(Holding("600036", 1000, 25 * PRICE, F("0.7")),),
        shorts=(ShortPosition("600036", 1000, 25_000 * YUAN, 25 * PRICE, F("0.7"), F(1)),),
    )
    assert price_at_line(hedged, "600036", F(1)) is NoSolution.PRICE_DOES_NOT_MOVE_RATIO
    rich = Account(
        cash_fen=1_000_000 * YUAN,
        financing=(FinancedPosition("000001", 100, 1_000 * YUAN, 10 * PRICE, F("0.5"), F(1)),),
    )
    assert price_at_line(rich, "000001", F("1.3")) is NoSolution.NO_POSITIVE_PRICE


# --- interest ---------------------------------------------------------------------------------


def test_simple_interest_half_up() -> None:
    assert simple_interest(200_000 * YUAN, F("0.0835"), 7) == 32_472  # 324.7222…
    assert simple_interest(100 * YUAN, F("0.018"), 1) == 1  # exactly half a fen: up
    assert simple_interest(100 * YUAN, F("0.0179"), 1) == 0  # 0.497 fen
    assert simple_interest(100 * YUAN, F("0.0365"), 1, basis=365) == 1
    with pytest.raises(ValueError):
        simple_interest(1, F(1), 1, basis=0)


# --- properties -------------------------------------------------------------------------------

haircuts = st.integers(0, 100).map(lambda n: F(n, 100))
ratios = st.integers(50, 200).map(lambda n: F(n, 100))
prices = st.integers(1, 500_000)
quantities = st.integers(0, 200_000)
holdings = st.builds(Holding, st.sampled_from(["S", "H"]), quantities, prices, haircuts)
financed = st.builds(
    FinancedPosition,
    st.sampled_from(["S", "F"]),
    quantities,
    st.integers(0, 10**10),
    prices,
    haircuts,
    ratios,
)
shorts = st.builds(
    ShortPosition,
    st.sampled_from(["S", "T"]),
    quantities,
    st.integers(0, 10**9),
    prices,
    haircuts,
    ratios,
)


@st.composite
def accounts(draw: st.DrawFn) -> Account:
    short_list = tuple(draw(st.lists(shorts, max_size=3)))
    # the proceeds sit in cash, so cash is at least their sum
    proceeds = sum(s.sale_amount_fen for s in short_list)
    return Account(
        cash_fen=proceeds + draw(st.integers(0, 10**10)),
        other_collateral_fen=draw(st.integers(0, 10**9)),
        interest_and_fees_fen=draw(st.integers(0, 10**7)),
        holdings=tuple(draw(st.lists(holdings, max_size=3))),
        financing=tuple(draw(st.lists(financed, max_size=3))),
        shorts=short_list,
    )


def with_cash(account: Account, delta_fen: int) -> Account:
    return replace(account, cash_fen=account.cash_fen + delta_fen)


targets = st.integers(101, 400).map(lambda n: F(n, 100))


@given(accounts(), st.integers(200, 400).map(lambda n: F(n, 100)))
def test_withdrawing_the_withdrawable_keeps_the_line(account: Account, line: F) -> None:
    amount = withdrawable_cash(account, line)
    free_cash = account.cash_fen - locked_proceeds(account)
    assert 0 <= amount <= free_cash
    after = cash_and_securities_ratio(with_cash(account, -amount))
    before = cash_and_securities_ratio(account)
    if before is None:
        assert amount == free_cash  # no debt: everything not locked
        return
    if amount > 0:
        assert before > line and after is not None and after >= line
    if before <= line:
        assert amount == 0
    elif amount < free_cash:  # bound by the line, not by the cash: 1 fen more breaks it
        one_more = cash_and_securities_ratio(with_cash(account, -amount - 1))
        assert one_more is not None and one_more < line


@given(accounts(), targets)
def test_top_up_reaches_the_target_and_one_fen_less_does_not(account: Account, target: F) -> None:
    amount = top_up_to(account, target)
    ratio = maintenance_ratio(with_cash(account, amount))
    assert ratio is None or ratio >= target
    if amount > 0:
        short_by_a_fen = maintenance_ratio(with_cash(account, amount - 1))
        assert short_by_a_fen is not None and short_by_a_fen < target


def _after_repaying(account: Account, amount: int) -> F | None:
    debt = total_debt(account) - amount
    return None if debt <= 0 else (total_assets(account) - amount) / debt


@given(accounts(), targets)
def test_repay_reaches_the_target_and_one_fen_less_does_not(account: Account, target: F) -> None:
    amount = repay_to(account, target)
    ratio = maintenance_ratio(account)
    if isinstance(amount, NoSolution):
        assert ratio is not None and ratio < target
        return
    after = _after_repaying(account, amount)
    assert after is None or after >= target
    if amount > 0:
        short_by_a_fen = _after_repaying(account, amount - 1)
        assert short_by_a_fen is not None and short_by_a_fen < target


@given(accounts(), st.integers(1, 10**6), ratios, st.sampled_from([1, 100, 200]))
def test_max_financing_uses_at_most_the_available_margin(
    account: Account, price_li: int, ratio: F, lot: int
) -> None:
    available = available_margin(account)
    capacity = max_financing(available, ratio, price_li, lot)
    assert capacity.quantity % lot == 0 and capacity.quantity >= 0
    value = F(capacity.quantity * price_li, 10)
    assert value <= capacity.value_fen
    if capacity.quantity > 0:
        assert margin_suffices(available, value, ratio)
    assert not margin_suffices(available, F((capacity.quantity + lot) * price_li, 10), ratio)


@given(accounts(), st.integers(1, 10**6), ratios)
def test_new_business_uses_value_times_ratio(account: Account, price_li: int, ratio: F) -> None:
    quantity = 100
    value_fen = quantity * price_li // 10  # 100 shares: a whole number of fen
    buy = FinancedPosition("NEW", quantity, value_fen, price_li, F("0.5"), ratio)
    bought = replace(account, financing=(*account.financing, buy))
    assert available_margin(bought) == available_margin(account) - value_fen * ratio
    sale = ShortPosition("NEW", quantity, value_fen, price_li, F("0.5"), ratio)
    sold = replace(with_cash(account, value_fen), shorts=(*account.shorts, sale))
    assert available_margin(sold) == available_margin(account) - value_fen * ratio


P = TypeVar("P", Holding, FinancedPosition, ShortPosition)


def _moved(positions: tuple[P, ...], security: str, price_li: int) -> tuple[P, ...]:
    return tuple(replace(p, price_li=price_li) if p.security == security else p for p in positions)


def _revalued(account: Account, security: str, price_li: int) -> Account:
    return replace(
        account,
        holdings=_moved(account.holdings, security, price_li),
        financing=_moved(account.financing, security, price_li),
        shorts=_moved(account.shorts, security, price_li),
    )


@given(accounts(), st.integers(105, 200).map(lambda n: F(n, 100)))
def test_price_at_line_is_the_last_safe_tick(account: Account, line: F) -> None:
    result = price_at_line(account, "S", line)
    assume(isinstance(result, PriceAtLine))
    assert isinstance(result, PriceAtLine)
    safe = result.safe_price_li()
    beyond = safe - 1 if result.falls else safe + 1
    assume(beyond > 0)
    at_safe = maintenance_ratio(_revalued(account, "S", safe))
    past = maintenance_ratio(_revalued(account, "S", beyond))
    assert at_safe is None or at_safe >= line
    assert past is not None and past < line
