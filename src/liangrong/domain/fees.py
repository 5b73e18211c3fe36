"""Trading fees and taxes on a fill: commission, stamp duty, transfer fee (ORD-6).

Rates are in parts per million (ppm) so every published rate is a whole number
(0.001% transfer fee = 10 ppm).  Each fee rounds half-up to the fen; an order's partial
fills pay increments of the order's cumulative fees (``fill_fees``).  Invariant: the rates
are dated values handed in (``FeeSchedule`` versions), never constants here; a buy never
pays stamp duty.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

from liangrong.domain.money import LI_PER_FEN, Rounding, round_fraction
from liangrong.domain.orders import Side

PPM = 1_000_000


@dataclass(frozen=True, slots=True)
class FeeSchedule:
    commission_ppm: int  # the firm's commission on value, both sides
    commission_minimum_fen: int  # per order fill, e.g. 5 yuan
    stamp_duty_sell_ppm: int  # tax on sales (500 ppm = 0.05% since 2023-08-28)
    transfer_fee_ppm: int  # CSDC transfer fee on value, both sides (10 ppm since 2022-04-29)

    def __post_init__(self) -> None:
        assert min(self.commission_ppm, self.stamp_duty_sell_ppm, self.transfer_fee_ppm) >= 0
        assert self.commission_minimum_fen >= 0


@dataclass(frozen=True, slots=True)
class Fees:
    commission_fen: int
    stamp_duty_fen: int
    transfer_fee_fen: int

    @property
    def total_fen(self) -> int:
        return self.commission_fen + self.stamp_duty_fen + self.transfer_fee_fen


def _fee(value_li: int, ppm: int) -> int:
    return round_fraction(Fraction(value_li * ppm, PPM * LI_PER_FEN), Rounding.HALF_UP)


def trade_fees(side: Side, value_li: int, schedule: FeeSchedule) -> Fees:
    """Fees on a fill of ``value_li`` (quantity × price)."""
    assert value_li >= 0
    commission = max(_fee(value_li, schedule.commission_ppm), schedule.commission_minimum_fen)
    stamp = _fee(value_li, schedule.stamp_duty_sell_ppm) if side is Side.SELL else 0
    return Fees(commission, stamp, _fee(value_li, schedule.transfer_fee_ppm))


def fill_fees(side: Side, filled_before_li: int, fill_value_li: int, schedule: FeeSchedule) -> Fees:
    """Fees a fill pays: the order's fees on its cumulative value less what earlier fills paid.

    So the minimum commission applies once per order, rounding never accumulates across
    partial fills, and the fees of all fills equal ``trade_fees`` of the whole filled value."""
    before = trade_fees(side, filled_before_li, schedule) if filled_before_li else Fees(0, 0, 0)
    after = trade_fees(side, filled_before_li + fill_value_li, schedule)
    return Fees(
        after.commission_fen - before.commission_fen,
        after.stamp_duty_fen - before.stamp_duty_fen,
        after.transfer_fee_fen - before.transfer_fee_fen,
    )


def fee_reserve_fen(side: Side, value_li: int, schedule: FeeSchedule) -> int:
    """What an order of ``value_li`` reserves for fees: exactly what its fills can charge."""
    return trade_fees(side, value_li, schedule).total_fen
