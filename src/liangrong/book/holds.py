"""Applying and releasing what open orders hold, on the client's figures, the pools and the
firm-level room (RISK-11).

Invariants: ``hold`` followed by ``release`` of the same reservation leaves every figure as
it was; the book calls ``release`` for exactly what it held, split by fill proportion.  The
firm's room is held differently: an order holds its whole ``FirmUse`` from acceptance, its
filled part stays held (the fill is a real exposure the room has not counted yet) until the
desk's next evaluation starts a fresh room from the book's exposures, and a cancel, expiry
or exchange rejection releases ``unfilled_use``: what the rest of the order could still
add (the shares left; the money of the use less what the fills added).  So a fill is never
counted twice (the fresh room holds only ``unfilled_use`` of the orders still open, the
exposures hold the fills) and never missed (until then it stays held).
"""

from __future__ import annotations

from dataclasses import dataclass, fields

from liangrong.book.accounts import Held
from liangrong.domain.firm_limits import FirmUse
from liangrong.domain.pretrade_state import AccountState, FirmState
from liangrong.domain.reservations import Reservation

_FIELDS = tuple(f.name for f in fields(Reservation))


def scaled(reservation: Reservation, numerator: int, denominator: int) -> Reservation:
    """The share of a reservation that ``numerator`` of ``denominator`` shares take
    (rounded down, so the last fill's share is whatever is left)."""
    assert 0 <= numerator <= denominator and denominator > 0
    return Reservation(
        **{name: getattr(reservation, name) * numerator // denominator for name in _FIELDS}
    )


def minus(left: Reservation, right: Reservation) -> Reservation:
    return Reservation(**{name: getattr(left, name) - getattr(right, name) for name in _FIELDS})


def unfilled_use(use: FirmUse, filled: int, quantity: int, filled_fen: int) -> FirmUse:
    """The part of an order's firm use its unfilled shares can still add: the shares left,
    and the money left of the use after what the fills added (``filled_fen``: their
    financing, amount + fees, or their short amount).  Fills at or inside the order's price
    add at most the use in all (fees are charged on the cumulative value), so the money
    left bounds what the rest can add; never below 0."""
    assert 0 <= filled <= quantity and quantity > 0
    if filled == 0:
        return use

    def left(shares: int) -> int:  # each share figure of a use is 0 or the order's quantity
        return shares - shares * filled // quantity

    return FirmUse(
        use.symbol,
        max(use.financing_fen - filled_fen, 0) if use.financing_fen else 0,
        max(use.lending_fen - filled_fen, 0) if use.lending_fen else 0,
        left(use.financed_shares),
        left(use.short_shares),
        left(use.intake_shares),
    )


def is_empty(reservation: Reservation) -> bool:
    return not any(getattr(reservation, name) for name in _FIELDS)


@dataclass(slots=True)
class HoldTarget:
    held: Held
    state: AccountState
    firm: FirmState
    symbol: str


def apply(target: HoldTarget, reservation: Reservation, sign: int) -> None:
    """Add (sign 1) or remove (sign -1) a reservation everywhere it counts."""
    held, state, firm, symbol = target.held, target.state, target.firm, target.symbol
    r = reservation
    held.margin_e4li += sign * r.margin_e4li
    held.cash_fen += sign * r.cash_fen
    held.locked_fen += sign * r.locked_cash_fen
    held.financing_fen += sign * r.financing_fen
    held.short_value_fen += sign * r.short_value_fen
    held.sell_shares[symbol] = held.sell_shares.get(symbol, 0) + sign * r.sell_shares
    held.cover_shares[symbol] = held.cover_shares.get(symbol, 0) + sign * r.cover_shares
    state.reserved_margin_e4li += sign * r.margin_e4li
    state.cash_free_fen -= sign * r.cash_fen
    state.cash_locked_fen -= sign * r.locked_cash_fen
    state.limits.financing_used_fen += sign * r.financing_fen
    state.limits.short_used_fen += sign * r.short_value_fen
    position = state.positions.get(symbol)
    if position is not None:
        position.reserved_for_sale += sign * r.sell_shares
        position.reserved_for_cover += sign * r.cover_shares
    firm.financing_pool_available_fen -= sign * r.financing_fen
    if r.pool_shares:
        pool = firm.lending_pool_available
        pool[symbol] = pool.get(symbol, 0) - sign * r.pool_shares
