"""Lot rules, ticks, boards and symbols of the securities master (REF-1)."""

from __future__ import annotations

from datetime import date

import pytest

from liangrong.domain.securities import (
    BOARD_LOT,
    BOND_LOT,
    STAR_LOT,
    Board,
    Exchange,
    Kind,
    Security,
    Status,
    board_of,
    lot_rule,
    tick_li,
)


def _security(code: str, exchange: Exchange, kind: Kind = Kind.STOCK) -> Security:
    board = board_of(code, exchange) if kind is Kind.STOCK else Board.NONE
    return Security(
        code=code, exchange=exchange, name="x", board=board, kind=kind, total_shares=1000,
        float_shares=500, listing_date=date(2020, 1, 2), registration_ipo=False,
        status=Status.NORMAL, large_cap_constituent=False,
    )


@pytest.mark.parametrize(("quantity", "allowed"), [(100, True), (200, True), (150, False),
                                                    (99, False), (0, False), (1000, True)])
def test_main_board_lots_of_100(quantity: int, allowed: bool) -> None:
    assert lot_rule(Board.SSE_MAIN, Kind.STOCK) == BOARD_LOT
    assert BOARD_LOT.allows(quantity) is allowed


@pytest.mark.parametrize(("quantity", "allowed"), [(199, False), (200, True), (201, True),
                                                    (257, True), (100, False)])
def test_star_200_minimum_then_single_shares(quantity: int, allowed: bool) -> None:
    assert lot_rule(Board.STAR, Kind.STOCK) == STAR_LOT
    assert STAR_LOT.allows(quantity) is allowed


def test_bonds_trade_in_steps_of_ten_pieces() -> None:
    for kind in (Kind.GOVERNMENT_BOND, Kind.OTHER_BOND):
        assert lot_rule(Board.NONE, kind) == BOND_LOT
    assert BOND_LOT.allows(10) and BOND_LOT.allows(30)
    assert not BOND_LOT.allows(15) and not BOND_LOT.allows(5)


def test_funds_and_chinext_use_board_lots() -> None:
    assert lot_rule(Board.NONE, Kind.ETF) == BOARD_LOT
    assert lot_rule(Board.CHINEXT, Kind.STOCK) == BOARD_LOT


def test_floor_rounds_down_to_an_allowed_quantity() -> None:
    assert BOARD_LOT.floor(1_250) == 1_200
    assert BOARD_LOT.floor(99) == 0
    assert STAR_LOT.floor(199) == 0
    assert STAR_LOT.floor(333) == 333
    assert BOND_LOT.floor(27) == 20


@pytest.mark.parametrize(
    ("code", "exchange", "board"),
    [
        ("600000", Exchange.SH, Board.SSE_MAIN),
        ("601318", Exchange.SH, Board.SSE_MAIN),
        ("605499", Exchange.SH, Board.SSE_MAIN),
        ("688981", Exchange.SH, Board.STAR),
        ("689009", Exchange.SH, Board.STAR),
        ("000001", Exchange.SZ, Board.SZSE_MAIN),
        ("002594", Exchange.SZ, Board.SZSE_MAIN),
        ("300750", Exchange.SZ, Board.CHINEXT),
        ("301236", Exchange.SZ, Board.CHINEXT),
        ("302132", Exchange.SZ, Board.CHINEXT),
    ],
)
def test_board_from_code_prefix(code: str, exchange: Exchange, board: Board) -> None:
    assert board_of(code, exchange) is board


def test_symbol_lot_and_tick() -> None:
    star = _security("688981", Exchange.SH)
    assert star.symbol == "688981.SH"
    assert star.lot == STAR_LOT
    assert star.tick_li == 10 == tick_li(Kind.STOCK)
    etf = _security("159919", Exchange.SZ, Kind.ETF)
    assert etf.symbol == "159919.SZ"
    assert etf.tick_li == 1


def test_security_refuses_bad_code_or_float_above_total() -> None:
    with pytest.raises(AssertionError):
        _security("60000", Exchange.SH)
    good = _security("600000", Exchange.SH)
    with pytest.raises(AssertionError):
        Security(**{**{f: getattr(good, f) for f in Security.__slots__}, "float_shares": 2000})
