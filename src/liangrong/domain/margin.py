"""The margin formulas of one credit account: ratios, available margin and what follows.

Formulas are the exchange definitions (spec: domain-notes §1; RISK-1, -3, -4, -5, -8).
Units: amounts in integer fen, prices in integer li, quantities in shares; haircuts and
ratios are exact ``Fraction``s.  Sums of values are exact ``Fraction``s in fen (a value
``quantity × price_li`` is in li and may be a fraction of a fen).  Every decision compares
exact values; a result becomes whole fen only at the end, by the rule its docstring names:
what the client may use or take rounds down, what the client must add or pay rounds up.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from fractions import Fraction
from itertools import pairwise

from liangrong.domain.money import LI_PER_FEN, Rounding, round_fraction

ZERO = Fraction(0)
ONE = Fraction(1)


# --- the snapshot ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Holding:
    """Securities held as collateral, not bought on margin."""

    security: str
    quantity: int
    price_li: int
    haircut: Fraction


@dataclass(frozen=True, slots=True)
class FinancedPosition:
    """Securities bought on margin and still held, against their open financing."""

    security: str
    quantity: int
    amount_fen: int  # financing principal still owed (the historic amount, not today's value)
    price_li: int
    haircut: Fraction
    margin_ratio: Fraction


@dataclass(frozen=True, slots=True)
class ShortPosition:
    """An open short; its sale proceeds are part of the account's cash and stay locked."""

    security: str
    quantity: int
    sale_amount_fen: int
    price_li: int
    haircut: Fraction
    margin_ratio: Fraction


@dataclass(frozen=True, slots=True)
class Account:
    """One credit account at one moment: everything the formulas read."""

    cash_fen: int  # includes the locked short-sale proceeds
    other_collateral_fen: int = 0
    interest_and_fees_fen: int = 0  # accrued and unpaid: debt
    holdings: tuple[Holding, ...] = ()
    financing: tuple[FinancedPosition, ...] = ()
    shorts: tuple[ShortPosition, ...] = ()


class RatioStatus(Enum):
    """The lowest line the maintenance ratio is below; SAFE when below none or no debt."""

    SAFE = "safe"
    ATTENTION = "attention"
    WARNING = "warning"
    LIQUIDATION = "liquidation"
    EMERGENCY = "emergency"


@dataclass(frozen=True, slots=True, kw_only=True)
class Lines:
    """The firm's (or the client's agreed) lines on the maintenance ratio; rule data, not law."""

    attention: Fraction | None = None
    warning: Fraction
    liquidation: Fraction
    emergency: Fraction | None = None
    withdrawal: Fraction | None = None  # RISK-8; not a status line

    def __post_init__(self) -> None:
        # A status is only meaningful when the lines nest: emergency < liquidation < ...
        ordered = [self.emergency, self.liquidation, self.warning, self.attention]
        present = [line for line in ordered if line is not None]
        if any(line <= 0 for line in present):
            raise ValueError("lines must be positive")
        if any(low >= high for low, high in pairwise(present)):
            raise ValueError("lines must rise: emergency < liquidation < warning < attention")


# --- values ---------------------------------------------------------------------------------


def _fen(value_li: Fraction | int) -> Fraction:
    return Fraction(value_li) / LI_PER_FEN


def _longs(account: Account) -> tuple[Holding | FinancedPosition, ...]:
    return (*account.holdings, *account.financing)


def securities_value(account: Account) -> Fraction:
    """Market value of every security in the credit securities account, in fen."""
    held = sum(h.quantity * h.price_li for h in account.holdings)
    bought = sum(f.quantity * f.price_li for f in account.financing)
    return _fen(held + bought)


def total_assets(account: Account) -> Fraction:
    """Cash (with locked proceeds) + all securities at market + other collateral; no haircut."""
    return account.cash_fen + securities_value(account) + account.other_collateral_fen


def cash_and_securities(account: Account) -> Fraction:
    """The assets the withdrawal rule counts: total assets without other collateral."""
    return account.cash_fen + securities_value(account)


def total_debt(account: Account) -> Fraction:
    """Financing principal + shorts at today's price + interest and fees, in fen."""
    financing = sum(f.amount_fen for f in account.financing)
    shorts = _fen(sum(s.quantity * s.price_li for s in account.shorts))
    return financing + shorts + account.interest_and_fees_fen


def _ratio(assets: Fraction, debt: Fraction) -> Fraction | None:
    # No debt means no ratio (infinite), never a call.
    return None if debt == 0 else assets / debt


def maintenance_ratio(account: Account) -> Fraction | None:
    """RISK-1: total assets ÷ total debt, exact; None when there is no debt."""
    return _ratio(total_assets(account), total_debt(account))


def cash_and_securities_ratio(account: Account) -> Fraction | None:
    """The ratio the withdrawal rule reads (RISK-8): other collateral left out."""
    return _ratio(cash_and_securities(account), total_debt(account))


def ratio_status(ratio: Fraction | None, lines: Lines) -> RatioStatus:
    """RISK-5: the lowest line the ratio is strictly below ("below" excludes the bound)."""
    if ratio is None:
        return RatioStatus.SAFE
    lowest_first = (
        (RatioStatus.EMERGENCY, lines.emergency),
        (RatioStatus.LIQUIDATION, lines.liquidation),
        (RatioStatus.WARNING, lines.warning),
        (RatioStatus.ATTENTION, lines.attention),
    )
    for status, line in lowest_first:
        if line is not None and ratio < line:
            return status
    return RatioStatus.SAFE


def account_status(account: Account, lines: Lines) -> RatioStatus:
    return ratio_status(maintenance_ratio(account), lines)


# --- available margin (RISK-3) and new business (RISK-4) -------------------------------------


def _floating(result: Fraction, haircut: Fraction) -> Fraction:
    # Profits count only after haircut; losses count in full.
    return result * haircut if result > 0 else result


def available_margin(account: Account) -> Fraction:
    """RISK-3 exact, in fen; negative means no new business.

    A position partly closed is given with what remains open; the part already repaid is
    an ordinary holding again, so it returns to collateral in proportion by construction.
    Other collateral is not margin: the exchange defines the available margin from cash,
    securities and floating profit only (SSE member guide ch. 5 §4); it counts in the
    maintenance ratio alone (``total_assets``).
    """
    collateral = sum((h.quantity * h.price_li * h.haircut for h in account.holdings), ZERO)
    total = account.cash_fen + _fen(collateral)
    for f in account.financing:
        total += _floating(_fen(f.quantity * f.price_li) - f.amount_fen, f.haircut)
        total -= f.amount_fen * f.margin_ratio  # on the historic amount
    for s in account.shorts:
        current = _fen(s.quantity * s.price_li)
        total += _floating(s.sale_amount_fen - current, s.haircut)
        total -= s.sale_amount_fen  # the proceeds sit in cash but are not margin
        total -= current * s.margin_ratio  # on today's value
    return total - account.interest_and_fees_fen


def margin_required(value_fen: Fraction | int, margin_ratio: Fraction) -> Fraction:
    """RISK-4: margin a new margin buy or short sale of this value uses (value × ratio)."""
    return value_fen * margin_ratio


def margin_suffices(available: Fraction, value_fen: Fraction | int, margin_ratio: Fraction) -> bool:
    """ORD-3.12: the margin used by a new trade may reach, never exceed, what is available."""
    return margin_required(value_fen, margin_ratio) <= available


@dataclass(frozen=True, slots=True)
class Capacity:
    """The most new business the available margin supports."""

    value_fen: Fraction  # exact: available ÷ margin ratio, never negative
    quantity: int  # shares at the given price, floored to the lot


def _capacity(available: Fraction, margin_ratio: Fraction, price_li: int, lot: int) -> Capacity:
    if margin_ratio <= 0 or price_li <= 0 or lot <= 0:
        raise ValueError("margin ratio, price and lot must be positive")
    value = max(available / margin_ratio, ZERO)
    lots = (value * LI_PER_FEN) // (price_li * lot)  # Fraction // int floors exactly
    return Capacity(value_fen=value, quantity=int(lots) * lot)


def max_financing(available: Fraction, margin_ratio: Fraction, price_li: int, lot: int) -> Capacity:
    """Max financing value = available ÷ r_f; quantity floored to the lot; never negative.

    Credit limits and the firm's financing pool bound it further; they are not in a snapshot.
    """
    return _capacity(available, margin_ratio, price_li, lot)


def max_short(available: Fraction, margin_ratio: Fraction, price_li: int, lot: int) -> Capacity:
    """Max short quantity = available ÷ (r_s × price), floored to the lot; never negative."""
    return _capacity(available, margin_ratio, price_li, lot)


# --- withdrawal (RISK-8) --------------------------------------------------------------------


def locked_proceeds(account: Account) -> int:
    """Short-sale proceeds: part of cash but never withdrawable while the short is open."""
    return sum(s.sale_amount_fen for s in account.shorts)


def withdrawable_cash(account: Account, withdrawal_line: Fraction) -> int:
    """Cash the client may take out, in fen, rounded down.

    With debt: only while the cash-and-securities ratio is strictly above the line, and
    only so much that it stays at or above the line after.  Without debt: all free cash.
    Locked short proceeds are never withdrawable.
    """
    free_cash = max(account.cash_fen - locked_proceeds(account), 0)
    debt = total_debt(account)
    if debt == 0:
        return free_cash
    assets = cash_and_securities(account)
    if assets <= withdrawal_line * debt:  # ratio not strictly above the line
        return 0
    surplus = round_fraction(assets - withdrawal_line * debt, Rounding.DOWN)
    return min(free_cash, surplus)


# --- restoring a ratio ------------------------------------------------------------------------


class NoSolution(Enum):
    """Why a derived quantity has no answer; the value is a stable code."""

    NOT_ABOVE_ONE = "ratio_not_above_one"  # repaying cannot raise a ratio at or under 100%
    NOT_ENOUGH_TO_SELL = "not_enough_to_sell"  # more than the cash and securities held
    NO_POSITION = "no_position"  # the security is not in the account
    PRICE_DOES_NOT_MOVE_RATIO = "price_does_not_move_ratio"
    NO_POSITIVE_PRICE = "no_positive_price"


def top_up_to(account: Account, target: Fraction) -> int:
    """Collateral value to add to reach ``target``: x = T·D − A, rounded up; 0 if there."""
    assets, debt = total_assets(account), total_debt(account)
    if debt == 0 or assets >= target * debt:
        return 0
    return round_fraction(target * debt - assets, Rounding.UP)


def repay_to(account: Account, target: Fraction) -> int | NoSolution:
    """Value of securities to sell and repay debt with to reach ``target``, rounded up.

    Selling x and repaying x gives (A − x) ÷ (D − x) = T, so x = (T·D − A) ÷ (T − 1).
    That ratio rises with x only when A > D: at or under 100% (which includes every
    target T ≤ 1 not already met) repaying cannot help, and the answer is NOT_ABOVE_ONE.
    """
    assets, debt = total_assets(account), total_debt(account)
    if debt == 0 or assets >= target * debt:
        return 0
    if target <= 1 or assets <= debt:
        return NoSolution.NOT_ABOVE_ONE
    exact = (target * debt - assets) / (target - 1)
    if exact > cash_and_securities(account):  # other collateral cannot be sold to repay
        return NoSolution.NOT_ENOUGH_TO_SELL
    return round_fraction(exact, Rounding.UP)


@dataclass(frozen=True, slots=True)
class PriceAtLine:
    """The price of one security at which the maintenance ratio equals the line."""

    price_li: Fraction  # exact
    falls: bool  # True: the ratio reaches the line as the price falls to it; False: rises

    def safe_price_li(self) -> int:
        """The last whole-li price, coming from the safe side, at which the ratio is still
        at or above the line: rounded up when a fall hurts, down when a rise hurts; one li
        further the ratio is below the line.  Alerts set there fire no later than exact."""
        return round_fraction(self.price_li, Rounding.UP if self.falls else Rounding.DOWN)


def price_at_line(account: Account, security: str, line: Fraction) -> PriceAtLine | NoSolution:
    """Solve A0 + q_long·p = L·(D0 + q_short·p) for the price p of ``security``, all else fixed.

    The long quantity (holdings and financed positions) counts in assets, the short
    quantity in debt; every position in the security is revalued at the same p.
    """
    longs = [p for p in _longs(account) if p.security == security]
    shorts = [s for s in account.shorts if s.security == security]
    if not longs and not shorts:
        return NoSolution.NO_POSITION
    long_qty = sum(p.quantity for p in longs)
    short_qty = sum(s.quantity for s in shorts)
    # In li from here on; A0 and D0 leave out the security's own positions.
    other_long = sum(p.quantity * p.price_li for p in _longs(account) if p.security != security)
    other_short = sum(s.quantity * s.price_li for s in account.shorts if s.security != security)
    assets0 = (account.cash_fen + account.other_collateral_fen) * LI_PER_FEN + other_long
    owed_fen = sum(f.amount_fen for f in account.financing) + account.interest_and_fees_fen
    debt0 = owed_fen * LI_PER_FEN + other_short
    slope = long_qty - line * short_qty  # d(A − L·D)/dp
    if slope == 0:
        return NoSolution.PRICE_DOES_NOT_MOVE_RATIO
    price = (line * debt0 - assets0) / slope
    if price <= 0:
        return NoSolution.NO_POSITIVE_PRICE
    return PriceAtLine(price_li=price, falls=slope > 0)


# --- interest ----------------------------------------------------------------------------------


def simple_interest(principal_fen: int, annual_rate: Fraction, days: int, basis: int = 360) -> int:
    """principal × rate × days ÷ basis, rounded half-up to the fen once (as 积数 settlement)."""
    if basis <= 0 or days < 0:
        raise ValueError("basis must be positive and days not negative")
    return round_fraction(principal_fen * annual_rate * days / basis, Rounding.HALF_UP)
