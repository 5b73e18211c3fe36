"""The securities master: what a security is, where it trades and how it may be ordered.

Invariants: a code is unique per exchange; lot rules depend only on board and kind;
generated attributes (no offline source has them) are flagged so nobody mistakes them
for published data.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from enum import Enum


class Exchange(Enum):
    SH = "SH"  # Shanghai Stock Exchange
    SZ = "SZ"  # Shenzhen Stock Exchange


class Board(Enum):
    SSE_MAIN = "sse_main"
    STAR = "star"  # 科创板
    SZSE_MAIN = "szse_main"
    CHINEXT = "chinext"  # 创业板
    NONE = "none"  # funds and bonds are not on a stock board


class Kind(Enum):
    STOCK = "stock"
    ETF = "etf"
    OTHER_FUND = "other_fund"
    GOVERNMENT_BOND = "government_bond"
    OTHER_BOND = "other_bond"


class Status(Enum):
    NORMAL = "normal"
    SUSPENDED = "suspended"
    RISK_WARNING = "risk_warning"  # ST / *ST
    DELISTING_PERIOD = "delisting_period"  # 退市整理期
    DELISTED = "delisted"


@dataclass(frozen=True, slots=True)
class LotRule:
    """Quantity rule for an order: at least ``minimum``, then in steps of ``step``."""

    minimum: int
    step: int

    def allows(self, quantity: int) -> bool:
        return quantity >= self.minimum and (quantity - self.minimum) % self.step == 0

    def floor(self, quantity: int) -> int:
        """Largest allowed quantity not above ``quantity``, or 0 if none."""
        if quantity < self.minimum:
            return 0
        return self.minimum + (quantity - self.minimum) // self.step * self.step


BOARD_LOT = LotRule(minimum=100, step=100)
STAR_LOT = LotRule(minimum=200, step=1)
# Bonds trade in 张 (100 CNY face): SSE 1 手 = 10 张, SZSE 10 张 steps.
BOND_LOT = LotRule(minimum=10, step=10)


def lot_rule(board: Board, kind: Kind) -> LotRule:
    """Lot rule for credit orders (ORD-3 item 4)."""
    if kind in (Kind.GOVERNMENT_BOND, Kind.OTHER_BOND):
        return BOND_LOT
    if kind is Kind.STOCK and board is Board.STAR:
        return STAR_LOT
    return BOARD_LOT


def tick_li(kind: Kind) -> int:
    """Price tick in li: stocks 0.01 CNY, funds and bonds 0.001 CNY."""
    return 10 if kind is Kind.STOCK else 1


@dataclass(frozen=True, slots=True)
class Security:
    code: str  # six digits, e.g. "600000"
    exchange: Exchange
    name: str
    board: Board
    kind: Kind
    total_shares: int
    float_shares: int
    listing_date: date
    registration_ipo: bool
    status: Status
    large_cap_constituent: bool  # SSE 180 / SZSE 100 member: haircut cap 70% instead of 65%
    generated: frozenset[str] = frozenset()  # names of attributes that were generated

    @property
    def symbol(self) -> str:
        """Exchange-qualified code, the asset name in the ledger: ``600000.SH``."""
        return f"{self.code}.{self.exchange.value}"

    @property
    def lot(self) -> LotRule:
        return lot_rule(self.board, self.kind)

    @property
    def tick_li(self) -> int:
        return tick_li(self.kind)

    def __post_init__(self) -> None:
        assert len(self.code) == 6 and self.code.isdigit(), self.code
        assert 0 <= self.float_shares <= self.total_shares, self.code


def board_of(code: str, exchange: Exchange) -> Board:
    """Board of an A-share stock from its code prefix."""
    if exchange is Exchange.SH:
        return Board.STAR if code.startswith("688") or code.startswith("689") else Board.SSE_MAIN
    # 302 is ChiNext too: codes changed after a merger (e.g. 302132 中航成飞, once 300114).
    return Board.CHINEXT if code.startswith(("300", "301", "302")) else Board.SZSE_MAIN
