"""What an accepted order or request holds until it fills or is cancelled, and the integer
helpers every front-end check shares (fees, lots, the concentration base).

Invariants:
- every field of a ``Reservation`` is a non-negative integer in the unit its name says
  (``_e4li`` = li × basis points, ``_fen``, shares);
- the check that returned it proved, against the state it read, that subtracting it from
  that state breaks no limit: ``used + reserved ≤ limit``, ``margin ≤ available``,
  ``pool ≥ 0``, ``cash ≥ 0``, ``sellable ≥ 0``; the book applies it under its single writer;
- the fee helper equals ``fees.fee_reserve_fen`` exactly (a test proves it) but uses no
  ``Fraction``, because it runs on every order.
"""

from __future__ import annotations

from dataclasses import dataclass

from liangrong.domain.fees import PPM, FeeSchedule
from liangrong.domain.money import LI_PER_FEN
from liangrong.domain.pretrade_state import AccountState, PositionState


@dataclass(frozen=True, slots=True)
class Reservation:
    """What an accepted order or request holds (all zero = holds nothing).

    - ``margin_e4li``: available margin used, li × basis points (compare with
      ``available_margin_li × 10_000 − reserved_margin_e4li``); margin buys and short sales;
    - ``cash_fen``: free cash (``cash_free_fen``) held to pay a buy, a repayment, a withdrawal
      or the part of a sale's fees its proceeds do not cover;
    - ``locked_cash_fen``: locked short-sale proceeds (``cash_locked_fen``) held by a permitted
      use: buying to cover, or buying a money-market fund (ORD-5);
    - ``financing_fen``: new financing, against the financing and total limits and the firm's
      financing pool (fees included: a margin buy finances its fees);
    - ``short_value_fen``: the short sale's amount, against the short and total limits;
    - ``pool_shares``: shares taken from the firm's lending pool for ``symbol``;
    - ``sell_shares``: shares of the position held back (``reserved_for_sale``) by a sale, a
      transfer out or a direct return;
    - ``cover_shares``: shares of the short held back (``reserved_for_cover``) by a buy to
      cover or a direct return.
    """

    margin_e4li: int = 0
    cash_fen: int = 0
    locked_cash_fen: int = 0
    financing_fen: int = 0
    short_value_fen: int = 0
    pool_shares: int = 0
    sell_shares: int = 0
    cover_shares: int = 0


NOTHING_HELD = Reservation()  # accepted, holds nothing: a deposit, a transfer in

# An account's position in a security it does not hold: read only, never written.
NO_POSITION = PositionState()

_FEE_DIVISOR = PPM * LI_PER_FEN  # a ppm rate on a value in li gives fen after this division
_FEE_HALF = _FEE_DIVISOR // 2  # half up on a non-negative value: (n + d/2) // d, d even


def order_fee_fen(sell: bool, value_li: int, fees: FeeSchedule) -> int:
    """The fees an order of ``value_li`` can be charged (== ``fees.fee_reserve_fen``):
    commission (at least the minimum), stamp duty on sales, transfer fee; each half up."""
    commission = (value_li * fees.commission_ppm + _FEE_HALF) // _FEE_DIVISOR
    if commission < fees.commission_minimum_fen:
        commission = fees.commission_minimum_fen
    transfer = (value_li * fees.transfer_fee_ppm + _FEE_HALF) // _FEE_DIVISOR
    if sell:
        stamp = (value_li * fees.stamp_duty_sell_ppm + _FEE_HALF) // _FEE_DIVISOR
        return commission + transfer + stamp
    return commission + transfer


def lot_allows(quantity: int, minimum: int, step: int) -> bool:
    """A buy, margin buy or short sale: at least ``minimum``, then whole ``step``s (ORD-3
    item 4: 100 shares; STAR 200 then 1; bonds by their rule)."""
    return quantity >= minimum and (quantity - minimum) % step == 0


def sale_lot_allows(quantity: int, sellable: int, minimum: int, step: int) -> bool:
    """A sale from a holding: whole lots, or the holding's odd part in one order with or
    without whole lots (SSE rules: a balance under one lot is sold in one go).

    The odd part is the sellable balance itself when it is under ``minimum`` (STAR: under
    200 shares), else ``sellable % step``.  ``quantity ≤ sellable`` is checked before."""
    if quantity >= minimum and (quantity - minimum) % step == 0:
        return True
    odd = sellable if sellable < minimum else sellable % step
    if odd == 0 or quantity < odd:
        return False
    rest = quantity - odd
    return rest == 0 or (rest >= minimum and (rest - minimum) % step == 0)


def concentration_base_li(account: AccountState) -> int:
    """The denominator of one security's share of the client's collateral (ORD-3 item 10):
    every security at its valuation price plus all cash, free and locked, because the
    collateral (担保物) is the cash and the securities in the credit account (glossary)."""
    return account.collateral_value_li + (account.cash_free_fen + account.cash_locked_fen) * (
        LI_PER_FEN
    )
