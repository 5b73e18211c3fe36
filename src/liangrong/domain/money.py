"""Integer money, prices and exact ratios, and their conversion from decimal text.

Units: amounts in fen (0.01 CNY), prices in li (0.001 CNY), quantities in shares.
A value ``quantity × price_li`` is in li; 10 li = 1 fen.  Decisions compare exact
``Fraction``s; rounding to the fen happens once, at the edge, by a named rule.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from enum import Enum
from fractions import Fraction

LI_PER_FEN = 10
FEN_PER_YUAN = 100
LI_PER_YUAN = 1000


class Rounding(Enum):
    """How a fraction of a fen becomes a fen; each use names its rule."""

    DOWN = "down"  # toward minus infinity: what the client may use or take
    UP = "up"  # toward plus infinity: what the client must add or pay
    HALF_UP = "half_up"  # interest and fees, as vendor systems settle them


class MoneyFormatError(ValueError):
    """A decimal text is not a valid amount, price, quantity or ratio."""


def _decimal(text: str | int | float | Decimal, what: str) -> Decimal:
    if isinstance(text, bool):
        raise MoneyFormatError(f"{what}: expected a number, got a boolean")
    if isinstance(text, float):
        # repr of a float is the shortest text that round-trips: 0.7 stays 0.7.
        text = repr(text)
    try:
        value = Decimal(text)
    except (InvalidOperation, TypeError) as exc:
        raise MoneyFormatError(f"{what}: {text!r} is not a decimal number") from exc
    if not value.is_finite():
        raise MoneyFormatError(f"{what}: {text!r} is not a finite number")
    return value


def _scaled(text: str | int | float | Decimal, scale: int, what: str) -> int:
    value = _decimal(text, what) * scale
    if value != value.to_integral_value():
        raise MoneyFormatError(f"{what}: {text!r} has more decimals than 1/{scale} allows")
    return int(value)


def yuan_to_fen(text: str | int | float | Decimal, what: str = "amount") -> int:
    """Exact conversion; more than two decimals is an error, never a silent rounding."""
    return _scaled(text, FEN_PER_YUAN, what)


def yuan_to_li(text: str | int | float | Decimal, what: str = "price") -> int:
    """Exact conversion of a price; more than three decimals is an error."""
    return _scaled(text, LI_PER_YUAN, what)


def parse_quantity(text: str | int | float | Decimal, what: str = "quantity") -> int:
    """Whole shares only."""
    return _scaled(text, 1, what)


def parse_ratio(text: str | int | float | Decimal, what: str = "ratio") -> Fraction:
    """A decimal ratio (1.3 = 130%) as an exact fraction."""
    return Fraction(_decimal(text, what))


def fen_to_yuan_text(amount_fen: int) -> str:
    """``12345`` -> ``"123.45"``; exact."""
    sign = "-" if amount_fen < 0 else ""
    whole, part = divmod(abs(amount_fen), FEN_PER_YUAN)
    return f"{sign}{whole}.{part:02d}"


def li_to_yuan_text(price_li: int) -> str:
    """``10001`` -> ``"10.001"``; exact."""
    sign = "-" if price_li < 0 else ""
    whole, part = divmod(abs(price_li), LI_PER_YUAN)
    return f"{sign}{whole}.{part:03d}"


def round_fraction(value: Fraction, rounding: Rounding) -> int:
    """Round an exact value to an integer by the named rule."""
    if rounding is Rounding.DOWN:
        return value.numerator // value.denominator
    if rounding is Rounding.UP:
        return -((-value.numerator) // value.denominator)
    # half up, symmetric: 0.5 away from zero
    sign = -1 if value < 0 else 1
    magnitude = abs(value)
    return sign * int(
        (magnitude + Fraction(1, 2)).numerator // (magnitude + Fraction(1, 2)).denominator
    )


def li_to_fen(value_li: Fraction | int, rounding: Rounding) -> int:
    """A value in li (possibly fractional) to whole fen by the named rule."""
    return round_fraction(Fraction(value_li) / LI_PER_FEN, rounding)


def value_li(quantity: int, price_li: int) -> int:
    """Market value of a position, exact, in li."""
    return quantity * price_li


def ratio_text(value: Fraction, places: int = 6) -> str:
    """A ratio for display, truncated (never rounded up across a line) to ``places``."""
    scale = 10**places
    scaled = round_fraction(value * scale, Rounding.DOWN)
    sign = "-" if scaled < 0 else ""
    whole, part = divmod(abs(scaled), scale)
    return f"{sign}{whole}.{part:0{places}d}"


RATIO_SCALE = 10_000  # hot-path ratios in units of 0.01% (basis points): exact for every rule value


def scaled_ratio(value: Fraction) -> int:
    """A ratio as an integer number of basis points; refuses one that is not exact there,
    so an integer comparison on the hot path decides exactly as the Fraction would."""
    scaled = value * RATIO_SCALE
    if scaled.denominator != 1:
        raise MoneyFormatError(f"ratio {value} is not a whole number of basis points")
    return scaled.numerator


def trade_amount_fen(quantity: int, price_li: int) -> int:
    """A trade's amount (成交金额) in fen: ``quantity × price_li / 10`` rounded half up.

    Both arguments are non-negative (an order's quantity and price), so half up is
    ``(value + 5) // 10`` exactly; integer only, because the front-end checks call it on
    every order."""
    return (quantity * price_li + 5) // LI_PER_FEN
