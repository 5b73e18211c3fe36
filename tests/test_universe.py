"""The demo universe: real CSI names, seeded generated attributes, determinism."""

from __future__ import annotations

from collections import Counter
from datetime import date

import pytest

from liangrong.domain.securities import Board, Kind, Status
from liangrong.sim.universe import (
    CHINEXT_REGISTRATION,
    DEFAULT_SEED,
    STOCK_GENERATED,
    DemoUniverse,
    UniverseFileError,
    load_demo_universe,
    parse_universe,
    read_universe_rows,
)


@pytest.fixture(scope="module")
def universe() -> DemoUniverse:
    return load_demo_universe()


def test_800_real_csi_members(universe: DemoUniverse) -> None:
    rows = read_universe_rows()
    assert len(rows) == 800
    assert len(universe.csi300) == 300 and len(universe.csi500) == 500
    assert not universe.csi300 & universe.csi500
    stocks = [s for s in universe.securities if s.kind is Kind.STOCK]
    assert len(stocks) == 800
    assert len(set(universe.symbols)) == len(universe.securities)


@pytest.mark.parametrize(
    ("symbol", "name", "board"),
    [("000001.SZ", "平安银行", Board.SZSE_MAIN), ("600519.SH", "贵州茅台", Board.SSE_MAIN),
     ("300750.SZ", "宁德时代", Board.CHINEXT), ("688981.SH", "中芯国际", Board.STAR)],
)
def test_real_chinese_names(universe: DemoUniverse, symbol: str, name: str, board: Board) -> None:
    security = universe.security(symbol)
    assert security.name == name and security.board is board
    assert security.large_cap_constituent is (symbol in universe.csi300)


def test_deterministic_for_a_seed(universe: DemoUniverse) -> None:
    again = load_demo_universe(DEFAULT_SEED)
    assert again == universe
    assert repr(again) == repr(universe)
    assert load_demo_universe(DEFAULT_SEED + 1) != universe


def test_generated_flags(universe: DemoUniverse) -> None:
    for security in universe.securities:
        assert {"total_shares", "float_shares", "listing_date", "status"} <= security.generated
        if security.kind is Kind.STOCK:
            assert security.generated == STOCK_GENERATED
        if security.kind in (Kind.GOVERNMENT_BOND, Kind.OTHER_BOND):
            assert {"code", "name"} <= security.generated


def test_shares_prices_and_ratios_are_plausible(universe: DemoUniverse) -> None:
    for security in universe.securities:
        assert 0 < security.float_shares <= security.total_shares
        price = universe.price_li[security.symbol]
        assert price > 0 and price % security.tick_li == 0
        if security.kind is Kind.STOCK:
            assert 1_000 <= price <= 2_000_000
            assert universe.pe_ratio[security.symbol] is not None
        else:
            assert universe.pe_ratio[security.symbol] is None


def test_listing_before_opt_in_and_registration_flag(universe: DemoUniverse) -> None:
    for security in universe.securities:
        if security.kind is not Kind.STOCK:
            assert not security.registration_ipo
            continue
        opt_in = universe.index_opt_in.get(security.symbol, date(2024, 1, 1))
        assert security.listing_date < opt_in
        if security.board is Board.STAR:
            assert security.registration_ipo and security.listing_date >= date(2019, 7, 22)
        if security.board is Board.CHINEXT:
            assert security.registration_ipo is (security.listing_date >= CHINEXT_REGISTRATION)


def test_placeholder_opt_in_dates_are_not_passed_on(universe: DemoUniverse) -> None:
    rows = {r.symbol: r for r in read_universe_rows()}
    assert rows["688002.SH"].opt_in_is_placeholder  # source: 2007-01-15, listed 2019
    assert "688002.SH" not in universe.index_opt_in
    assert universe.security("688002.SH").listing_date >= date(2019, 7, 22)
    assert universe.index_opt_in["000001.SZ"] == date(2005, 4, 8)
    assert len(universe.index_opt_in) == 800 - sum(r.opt_in_is_placeholder for r in rows.values())


def test_rule_exercising_statuses_and_ratios(universe: DemoUniverse) -> None:
    statuses = Counter(s.status for s in universe.securities)
    assert statuses[Status.RISK_WARNING] == 3
    assert statuses[Status.DELISTING_PERIOD] == 1
    assert statuses[Status.SUSPENDED] == 1
    ratios = [r for r in universe.pe_ratio.values() if r is not None]
    assert sum(r > 300 for r in ratios) == 2
    assert sum(r == 300 for r in ratios) == 1
    assert sum(r < 0 for r in ratios) == 2


def test_etfs_and_bonds(universe: DemoUniverse) -> None:
    etf = universe.security("510300.SH")
    assert etf.kind is Kind.ETF and etf.name == "华泰柏瑞沪深300ETF" and etf.board is Board.NONE
    assert universe.money_market == frozenset({"511880.SH"})
    assert universe.security("159915.SZ").name == "易方达创业板ETF"
    kinds = Counter(s.kind for s in universe.securities)
    assert kinds[Kind.ETF] == 7 and kinds[Kind.GOVERNMENT_BOND] >= 2 and kinds[Kind.OTHER_BOND] >= 1
    assert universe.security("019547.SH").lot.minimum == 10


def test_malformed_universe_file_names_the_line() -> None:
    good = "code,exchange,name,csi300,csi500,index_opt_in\n000001,SZ,平安银行,1,0,2005-04-08\n"
    assert parse_universe(good)[0].symbol == "000001.SZ"
    with pytest.raises(UniverseFileError, match="line 3"):
        parse_universe(good + "000002,XX,万科Ａ,1,0,2005-04-08\n")
    with pytest.raises(UniverseFileError, match="line 1"):
        parse_universe("code,name\n")
