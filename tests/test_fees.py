"""Fees on fills (ORD-6): commission with its minimum, stamp duty on sales, transfer fee."""

from __future__ import annotations

from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from liangrong.domain.fees import FeeSchedule, fill_fees, trade_fees
from liangrong.domain.orders import Side
from liangrong.sim.fee_seed import fee_schedule_on

NOW = fee_schedule_on(date(2026, 3, 2))


def test_a_sale_pays_stamp_duty_and_a_buy_does_not() -> None:
    value_li = 100_000_000  # 100,000.000 yuan
    sale, buy = trade_fees(Side.SELL, value_li, NOW), trade_fees(Side.BUY, value_li, NOW)
    assert (sale.commission_fen, sale.stamp_duty_fen, sale.transfer_fee_fen) == (25_00, 50_00, 1_00)
    assert buy.stamp_duty_fen == 0 and buy.total_fen == 26_00


def test_the_commission_minimum_applies_once_per_order() -> None:
    small = trade_fees(Side.BUY, 1_000_000, NOW)  # 1,000 yuan: 0.25 commission -> 5.00
    assert small.commission_fen == 5_00


@pytest.mark.parametrize(
    ("on", "stamp_fen"),
    [(date(2023, 8, 25), 100_00), (date(2023, 8, 28), 50_00), (date(2026, 3, 2), 50_00)],
)
def test_stamp_duty_is_a_dated_parameter(on: date, stamp_fen: int) -> None:
    assert trade_fees(Side.SELL, 100_000_000, fee_schedule_on(on)).stamp_duty_fen == stamp_fen


@given(st.lists(st.integers(1, 10**9), min_size=1, max_size=12))
def test_partial_fills_pay_exactly_the_fees_of_the_whole(fill_values: list[int]) -> None:
    schedule = FeeSchedule(250, 5_00, 500, 10)
    paid = 0
    before = 0
    for value in fill_values:
        paid += fill_fees(Side.SELL, before, value, schedule).total_fen
        before += value
    assert paid == trade_fees(Side.SELL, before, schedule).total_fen
