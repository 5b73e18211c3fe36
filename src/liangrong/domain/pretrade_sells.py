"""Front-end checks of orders that draw on a holding or a short: sales and covers.

Sales (collateral sell, sell to repay, forced sell), in precedence order:
- sell to repay needs open financing (NOTHING_TO_REPAY); a forced sell does not (the firm
  may sell to raise cash for a cover);
- quantity ≤ sellable = quantity − bought_today − restricted − reserved_for_sale (T+1 and
  reservations); when the shortfall lies within the restricted shares the code is
  RESTRICTED_SHARES (ORD-3 item 9), else INSUFFICIENT_POSITION;
- lots: whole lots, or the holding's odd part in one order (``sale_lot_allows``);
- while short this security (short_quantity > 0), a sale priced below the latest trade is
  refused (ORD-3 item 8) unless quantity ≤ quantity_held − short_quantity −
  reserved_for_sale: the shares beyond the short that no open sale holds yet.  Every open
  sale is counted against that excess, whatever its price: conservative, and it needs no
  per-order price in the state.  Only this credit account is seen; the client's other
  accounts are the order entry's to declare;
- the fees come out of the proceeds; free cash pays the part they do not cover (only
  possible when the minimum commission exceeds a tiny sale).

Covers (buy to cover, forced buy), in precedence order:
- NOTHING_TO_COVER when nothing is owed in this security; COVER_EXCEEDS_SHORT when quantity
  > short_quantity − reserved_for_cover; SAME_DAY_COVER when it exceeds what is coverable,
  short_quantity − short_opened_today − reserved_for_cover (shares sold short today return
  from T+1; open covers use the older shorts first);
- buy lots; cost = amount + buy fees, paid from locked short proceeds first (a permitted
  use, ORD-5), the rest from free cash (INSUFFICIENT_CASH).  The list membership is not
  checked: a contract opened before a removal stays valid (REF-3).

Invariant: read only; the returned ``Reservation`` is the only allocation.
"""

from __future__ import annotations

from liangrong.domain.fees import FeeSchedule
from liangrong.domain.order_codes import OrderCode
from liangrong.domain.orders import Order, OrderKind
from liangrong.domain.pretrade_state import AccountState, PositionState, SecurityState
from liangrong.domain.reservations import (
    NO_POSITION,
    Reservation,
    lot_allows,
    order_fee_fen,
    sale_lot_allows,
)

_C = OrderCode
_SELL_TO_REPAY = OrderKind.SELL_TO_REPAY


def holding_code(quantity: int, position: PositionState) -> OrderCode | None:
    """Why ``quantity`` shares cannot leave the position (a sale, transfer out, direct
    return), or None if they can."""
    sellable = (
        position.quantity - position.bought_today - position.restricted - position.reserved_for_sale
    )
    if quantity <= sellable:
        return None
    return _beyond_sellable(quantity, sellable, position.restricted)


def _beyond_sellable(quantity: int, sellable: int, restricted: int) -> OrderCode:
    if quantity <= sellable + restricted:
        return _C.RESTRICTED_SHARES  # only the restricted shares stand in the way
    return _C.INSUFFICIENT_POSITION


def short_code(quantity: int, position: PositionState) -> OrderCode | None:
    """Why ``quantity`` shares of the short cannot be repaid now, or None if they can."""
    short = position.short_quantity
    if short <= 0:
        return _C.NOTHING_TO_COVER
    open_short = short - position.reserved_for_cover
    if quantity > open_short:
        return _C.COVER_EXCEEDS_SHORT
    if quantity > open_short - position.short_opened_today:
        return _C.SAME_DAY_COVER
    return None


def check_sale(
    order: Order, account: AccountState, security: SecurityState, fees: FeeSchedule
) -> OrderCode | Reservation:
    """Collateral sell, sell to repay, forced sell (see the module docstring)."""
    if order.kind is _SELL_TO_REPAY and not account.has_open_financing:
        return _C.NOTHING_TO_REPAY
    position = account.positions.get(order.symbol, NO_POSITION)
    quantity = order.quantity
    held = position.quantity
    sellable = held - position.bought_today - position.restricted - position.reserved_for_sale
    if quantity > sellable:
        return _beyond_sellable(quantity, sellable, position.restricted)
    if not sale_lot_allows(quantity, sellable, security.lot_minimum, security.lot_step):
        return _C.LOT_SIZE
    price = order.price_li
    short = position.short_quantity
    if (
        short > 0
        and price < security.last_price_li
        and quantity > held - short - position.reserved_for_sale
    ):
        return _C.SELL_PRICE_BELOW_LAST_WHILE_SHORT
    value_li = quantity * price
    shortfall = order_fee_fen(True, value_li, fees) - (value_li + 5) // 10
    if shortfall > 0:
        if shortfall > account.cash_free_fen:
            return _C.INSUFFICIENT_CASH
        return Reservation(cash_fen=shortfall, sell_shares=quantity)
    return Reservation(sell_shares=quantity)


def check_cover(
    order: Order, account: AccountState, security: SecurityState, fees: FeeSchedule
) -> OrderCode | Reservation:
    """Buy to cover, forced buy (see the module docstring)."""
    position = account.positions.get(order.symbol, NO_POSITION)
    quantity = order.quantity
    code = short_code(quantity, position)
    if code is not None:
        return code
    if not lot_allows(quantity, security.lot_minimum, security.lot_step):
        return _C.LOT_SIZE
    value_li = quantity * order.price_li
    cost = (value_li + 5) // 10 + order_fee_fen(False, value_li, fees)
    locked = min(cost, account.cash_locked_fen)
    if cost - locked > account.cash_free_fen:
        return _C.INSUFFICIENT_CASH
    return Reservation(cash_fen=cost - locked, locked_cash_fen=locked, cover_shares=quantity)
