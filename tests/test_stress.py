"""Stress tests (RISK-12): scenario factors, the whole-book pass, executors, the command.

- Each scenario kind on a four-account book worked by hand (ratios at a line and at 100%
  included), and on a generated book against ``domain.margin``'s exact figures of every
  account repriced at the stressed prices.
- The local pool, dask (a LocalCluster of threads) and an inline run give identical results,
  whatever the chunking.
- ``liangrong stress run`` on a generated store prints the figures and writes the chart.
"""

from __future__ import annotations

import sys
from datetime import UTC, date, datetime, timedelta
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
import typer
from hypothesis import given
from hypothesis import strategies as st
from typer.testing import CliRunner

from cli_helpers import cli_app
from conftest import make_sqlite_engine
from liangrong.cli import stress as stress_cli
from liangrong.domain import margin
from liangrong.domain import stress as scenarios
from liangrong.domain.rule_book import terms_for
from liangrong.domain.securities import Board
from liangrong.domain.stress import FACTOR_SCALE, ScenarioError, parse_scenario
from liangrong.ledger.journal import Ledger
from liangrong.risk.book_arrays import BookArrays
from liangrong.risk.executors import LocalPoolExecutor, dask_executor
from liangrong.risk.layout import BookData, ContractData
from liangrong.risk.loader import load_book
from liangrong.risk.statuses import rule_book_lines
from liangrong.risk.stress import (
    BP,
    EXACT_LIMIT_LI,
    LIQUIDATION,
    ExactnessLimit,
    ScenarioResult,
    StressBook,
    _ratio_bp,
    liquidity,
    ratio_percentile,
    run_stress,
    scenario_prices,
    stress_book,
)
from liangrong.risk.views import exact_account
from liangrong.sim.book_generator import generate_book
from liangrong.sim.reference_day import load_reference_day
from sim_helpers import DAY, load_reference, reference_clock

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))

from revaluation import SECURITIES, START, generate

SYMBOLS = ["600000.SH", "688001.SH", "000001.SZ"]
BOARDS = [Board.SSE_MAIN, Board.STAR, Board.SZSE_MAIN]
VOLUME = np.array([3_000.0, 1_000.0, 500.0])  # shares a day
LINES = margin.Lines(attention=Fraction(3, 2), warning=Fraction(7, 5), liquidation=Fraction(13, 10))
TARGET = Fraction(3, 2)
T0 = datetime(2026, 3, 2, 7, 0, tzinfo=UTC)
YUAN = 1_000  # li


# --- scenario factors -------------------------------------------------------------------------


def test_scenario_texts_and_their_factors() -> None:
    uniform = scenarios.shock(parse_scenario("uniform:-10"))
    assert uniform.factor_e9("600000.SH", Board.SSE_MAIN) == 900_000_000
    assert scenarios.shock(parse_scenario("uniform:+7.5")).default_e9 == 1_075_000_000
    star = scenarios.shock(parse_scenario("board:STAR:-20"))
    assert star.factor_e9("688001.SH", Board.STAR) == 800_000_000
    assert star.factor_e9("600000.SH", Board.SSE_MAIN) == FACTOR_SCALE
    assert parse_scenario("board:chinext:-5").board is Board.CHINEXT
    one = scenarios.shock(parse_scenario("security:600000.sh:-30"))
    assert one.factor_e9("600000.SH", Board.SSE_MAIN) == 700_000_000
    assert one.factor_e9("600036.SH", Board.SSE_MAIN) == FACTOR_SCALE
    assert scenarios.shock(parse_scenario("uniform:-100")).default_e9 == 0
    window = parse_scenario("history:2015-06-12:2015-08-26")
    assert (window.first, window.last) == (date(2015, 6, 12), date(2015, 8, 26))
    assert parse_scenario("2008").preset == "2008"


@pytest.mark.parametrize(
    "text",
    [
        "uniform:-101",
        "uniform:-0.00000001",  # finer than a billionth
        "uniform:ten",
        "board:MOON:-5",
        "security:600000.SH",
        "history:2015-08-26:2015-06-12",
        "history:2015-13-01:2015-14-01",
        "crash",
    ],
)
def test_unreadable_scenarios_are_refused(text: str) -> None:
    with pytest.raises(ScenarioError):
        parse_scenario(text)


def test_a_replay_compounds_the_index_through_the_beta() -> None:
    closes = [Fraction(100), Fraction(90), Fraction(99)]  # -10%, then +10%
    # β 1.5: 0.85 × 1.15 = 0.9775; β 1: 0.9 × 1.1 = 0.99; β 0: unmoved.
    assert scenarios.replay_factor_e9(closes, 15_000) == 977_500_000
    assert scenarios.replay_factor_e9(closes, 10_000) == 990_000_000
    assert scenarios.replay_factor_e9(closes, 0) == FACTOR_SCALE
    # 2/3 rounds half up to the billionth; a day below -100% leaves nothing.
    assert scenarios.replay_factor_e9([Fraction(3), Fraction(2)], 10_000) == 666_666_667
    assert scenarios.replay_factor_e9([Fraction(100), Fraction(90)], 100_000) == 0
    assert scenarios.replay_factor_e9([Fraction(100), Fraction(90)], 200_000) == 0
    replayed = scenarios.replay("r", closes, {"600000.SH": 15_000})
    assert replayed.factor_e9("600000.SH", Board.SSE_MAIN) == 977_500_000
    assert replayed.factor_e9("000001.SZ", Board.SZSE_MAIN) == 990_000_000  # no beta: β = 1


@given(st.lists(st.integers(50_000, 200_000), min_size=2, max_size=40))
def test_a_beta_of_one_follows_the_index(points: list[int]) -> None:
    closes = [Fraction(p, 1000) for p in points]
    exact = closes[-1] / closes[0] * FACTOR_SCALE
    # One rounding of at most half a billionth a day, carried by later days' moves (≤ 4x).
    assert abs(scenarios.replay_factor_e9(closes, 10_000) - exact) <= 2 * len(closes)


# --- a book worked by hand ------------------------------------------------------------------


def _ints(*values: int) -> np.ndarray:
    return np.asarray(values, dtype=np.int64)


def hand_book() -> BookArrays:
    """At 10 yuan a share:
    C1 holds 1,000 × 600000.SH, owes 7,000 yuan: 10,000 ÷ 7,000 = 142.86%;
    C2 holds 1,000 × 688001.SH and 1,000 yuan, owes 6,000: 11,000 ÷ 6,000 = 183.33%;
    C3 is short 1,000 × 000001.SZ with 20,000 yuan of cash: 20,000 ÷ 10,000 = 200%;
    C4 has 5,000 yuan and no debt."""
    day = date(2026, 2, 2).toordinal()
    financing = ContractData(
        account=np.asarray([0, 1], dtype=np.intp),
        security=np.asarray([0, 1], dtype=np.intp),
        ids=["F1", "F2"],
        outstanding=_ints(700_000, 600_000),
        charges=_ints(0, 0),
        ratio_bp=_ints(10_000, 10_000),
        open=_ints(day, day),
        price_li=_ints(10_000, 10_000),
        bought=_ints(1_000, 1_000),
        amount=_ints(1_000_000, 1_000_000),
    )
    shorts = ContractData(
        account=np.asarray([2], dtype=np.intp),
        security=np.asarray([2], dtype=np.intp),
        ids=["S1"],
        outstanding=_ints(1_000),
        charges=_ints(0),
        ratio_bp=_ints(10_000),
        open=_ints(day),
        price_li=_ints(10_000),
    )
    book = BookArrays(
        BookData(
            client_ids=["C1", "C2", "C3", "C4"],
            symbols=SYMBOLS,
            cash_fen=_ints(0, 100_000, 2_000_000, 500_000),
            position_account=np.asarray([0, 1], dtype=np.intp),
            position_security=np.asarray([0, 1], dtype=np.intp),
            position_quantity=_ints(1_000, 1_000),
            financing=financing,
            shorts=shorts,
        )
    )
    book.set_price_array(T0, np.arange(3, dtype=np.intp), _ints(10_000, 10_000, 10_000))
    return book


def hand_stress(client_lines: dict[str, margin.Lines] | None = None) -> StressBook:
    return stress_book(hand_book(), BOARDS, VOLUME, LINES, TARGET, client_lines)


def one(book: StressBook, scenario: scenarios.Scenario) -> ScenarioResult:
    return run_stress(book, [scenario], LocalPoolExecutor(1))[0]


def text(spec: str) -> scenarios.Scenario:
    return scenarios.shock(parse_scenario(spec))


def shares(result: ScenarioResult) -> tuple[list[int], list[int]]:
    return result.sold_shares.tolist(), result.covered_shares.tolist()


def test_uniform_shock_by_hand() -> None:
    book = hand_stress()
    assert book.stressed == 3 and book.total_accounts == 4  # C4 owes nothing, ever
    r = one(book, text("uniform:-10"))
    # C1 9,000 ÷ 7,000 = 128.57%: below every line; C2 166.67%; C3 20,000 ÷ 9,000 = 222.2%.
    assert np.flatnonzero(r.ratio_histogram).tolist() == [128, 166, 222]
    assert r.no_debt == 1
    assert r.below_accounts == (1, 1, 1, 0)
    assert r.below_debt_li == (7_000 * YUAN, 7_000 * YUAN, 7_000 * YUAN, 0)
    assert (r.shortfall_accounts, r.shortfall_li) == (0, 0)
    # C1 sells x = (1.5 × 7,000 − 9,000) ÷ 0.5 = 3,000 yuan: a third of its shares.
    assert r.liquidated_accounts == 1
    assert shares(r) == ([333, 0, 0], [0, 0, 0])
    assert (r.sale_value_li, r.cover_value_li) == (333 * 9 * YUAN, 0)
    assert ratio_percentile(r, Fraction(1, 2)) == 166


def test_a_ratio_exactly_at_a_line_is_not_below_it() -> None:
    r = one(hand_stress(), text("uniform:-9"))  # C1: 9,100 ÷ 7,000 = 130% exactly
    assert r.below_accounts == (1, 1, 0, 0)
    assert r.liquidated_accounts == 0 and r.sold_shares.sum() == 0


def test_board_shock_by_hand_and_a_ratio_of_exactly_100() -> None:
    r = one(hand_stress(), text("board:STAR:-50"))
    # C2: (5,000 + 1,000) ÷ 6,000 = 100% exactly: below three lines, yet no shortfall.
    assert r.below_accounts == (2, 1, 1, 0)
    assert r.below_debt_li == (13_000 * YUAN, 6_000 * YUAN, 6_000 * YUAN, 0)
    assert (r.shortfall_accounts, r.shortfall_li) == (0, 0)
    assert shares(r) == ([0, 1_000, 0], [0, 0, 0])  # cannot be restored: sells everything
    assert r.sale_value_li == 5_000 * YUAN


def test_security_shock_by_hand_leaves_a_shortfall() -> None:
    book = hand_stress()
    r = one(book, text("security:000001.SZ:+150"))
    # C3 owes 1,000 × 25 = 25,000 yuan against 20,000 of cash: 80%, 5,000 yuan short.
    assert r.below_accounts == (2, 1, 1, 0)
    assert r.below_debt_li == (32_000 * YUAN, 25_000 * YUAN, 25_000 * YUAN, 0)
    assert (r.shortfall_accounts, r.shortfall_li) == (1, 5_000 * YUAN)
    assert shares(r) == ([0, 0, 0], [0, 0, 1_000])
    assert r.cover_value_li == 25_000 * YUAN
    seen = liquidity(book, r)
    assert (seen.securities, seen.over_a_day) == (1, 1)
    assert seen.worst == (("000001.SZ", 1_000, 2.0),)  # 1,000 shares of a 500-share day


def test_historical_replay_by_hand() -> None:
    closes = [Fraction(100), Fraction(90)]
    scenario = scenarios.replay("dip", closes, {"600000.SH": 15_000, "688001.SH": 0})
    book = hand_stress()
    assert scenario_prices(book, [scenario]).tolist() == [[8_500, 10_000, 9_000]]
    r = one(book, scenario)
    assert np.flatnonzero(r.ratio_histogram).tolist() == [121, 183, 222]
    assert r.below_accounts == (1, 1, 1, 0)
    # C1 sells (1.5 × 7,000 − 8,500) ÷ 0.5 = 4,000 of its 8,500 yuan: 470.6 shares.
    assert shares(r) == ([471, 0, 0], [0, 0, 0])
    assert r.sale_value_li == 471 * 8_500


def test_clients_own_lines_and_the_emergency_line() -> None:
    own = margin.Lines(
        attention=Fraction(2),
        warning=Fraction(19, 10),
        liquidation=Fraction(9, 5),
        emergency=Fraction(11, 10),
    )
    book = hand_stress({"C2": own})
    before = one(book, scenarios.Scenario("before", scenarios.UNCHANGED))
    assert before.below_accounts == (2, 1, 0, 0)  # C1 < 150%; C2 183% < its 200% and 190%
    after = one(book, text("board:STAR:-50"))  # C2 at 100%: below its emergency line too
    assert after.below_accounts == (2, 1, 1, 1)


# --- exactness against the domain formulas --------------------------------------------------


@given(
    st.integers(0, EXACT_LIMIT_LI - 1),
    st.integers(1, EXACT_LIMIT_LI - 1),
    st.integers(1, 10**6),
    st.integers(0, 2 * 10**6),
)
def test_the_ratio_floor_is_exact(assets: int, debt: int, unit: int, ratio_bp: int) -> None:
    cap = 100_002
    tied_debt = BP * unit
    tied_assets = ratio_bp * unit  # exactly ratio_bp basis points
    a = np.asarray([assets, tied_assets, 0], dtype=np.int64)
    d = np.asarray([debt, tied_debt, debt], dtype=np.int64)
    got = _ratio_bp(a, d, d > 0, cap).tolist()
    for value, expected in zip(got, (a * BP // d).tolist(), strict=True):
        assert value == expected if expected < cap - 1 else value >= cap - 1


def test_an_account_too_large_for_the_exact_path_is_refused() -> None:
    book = hand_book()
    book.set_price_array(
        T0 + timedelta(seconds=1), np.asarray([0], dtype=np.intp), _ints(EXACT_LIMIT_LI)
    )
    with pytest.raises(ExactnessLimit):
        one(stress_book(book, BOARDS, VOLUME, LINES, TARGET), text("uniform:-1"))


def generated_book() -> tuple[BookArrays, StressBook]:
    generated = generate(400, 3_200, seed=7)
    book = BookArrays(generated.data)
    book.set_price_array(START, np.arange(SECURITIES, dtype=np.intp), generated.prices_li)
    boards = [BOARDS[s % 3] for s in range(SECURITIES)]
    return book, stress_book(book, boards, np.full(SECURITIES, 1e5), LINES, TARGET)


def test_every_figure_equals_the_exact_formulas_of_the_repriced_accounts() -> None:
    book, stressed = generated_book()
    rng = np.random.default_rng(5)
    drawn = rng.integers(0, 25_000, SECURITIES).tolist()
    betas = dict(zip(stressed.symbols, drawn, strict=True))
    closes = [Fraction(3_000), Fraction(2_700), Fraction(2_850), Fraction(2_100)]
    tested = [
        text("uniform:-23"),
        text("board:STAR:-37.5"),
        scenarios.replay("fall", closes, betas),
    ]
    results = run_stress(stressed, tested, LocalPoolExecutor(1))
    lines = (LINES.attention, LINES.warning, LINES.liquidation)
    for k, (scenario, result) in enumerate(zip(tested, results, strict=True)):
        prices = scenario_prices(stressed, [scenario])[0]
        book.set_price_array(
            START + timedelta(minutes=k + 1), np.arange(SECURITIES, dtype=np.intp), prices
        )
        below, debt_below = [0, 0, 0], [Fraction(0)] * 3
        shortfall, short_accounts, no_debt = Fraction(0), 0, 0
        for a in range(book.n_accounts):
            account = exact_account(book, a)
            ratio = margin.maintenance_ratio(account)
            debt, assets = margin.total_debt(account), margin.total_assets(account)
            if ratio is None:
                no_debt += 1
                continue
            for j, line in enumerate(lines):
                if line is not None and ratio < line:
                    below[j] += 1
                    debt_below[j] += debt
            if assets < debt:
                short_accounts += 1
                shortfall += debt - assets
        assert result.no_debt == no_debt
        assert list(result.below_accounts[:3]) == below
        assert [Fraction(v, 10) for v in result.below_debt_li[:3]] == debt_below
        assert (result.shortfall_accounts, Fraction(result.shortfall_li, 10)) == (
            short_accounts,
            shortfall,
        )
        assert below[LIQUIDATION] > 0  # the scenarios do bite


# --- executors ------------------------------------------------------------------------------


def many_scenarios() -> list[scenarios.Scenario]:
    closes = [Fraction(100), Fraction(93), Fraction(88), Fraction(95)]
    betas = {"600000.SH": 12_000, "000001.SZ": 8_000}
    return [
        *(text(f"uniform:{-p}") for p in range(0, 40, 3)),
        text("board:SZSE_MAIN:-30"),
        text("security:000001.SZ:+120"),
        scenarios.replay("replay", closes, betas),
    ]


def test_every_executor_gives_identical_results() -> None:
    _, book = generated_book()
    tested = many_scenarios()
    inline = [r.fingerprint() for r in run_stress(book, tested, LocalPoolExecutor(1))]
    pooled = run_stress(book, tested, LocalPoolExecutor(2), chunk_size=2)
    with dask_executor(workers=2, processes=False) as executor:
        remote = run_stress(book, tested, executor, chunk_size=5)
    assert [r.fingerprint() for r in pooled] == inline
    assert [r.fingerprint() for r in remote] == inline
    assert [r.name for r in remote] == [s.name for s in tested]  # in scenario order
    assert len(set(inline)) == len(inline)  # and the scenarios do differ


# --- the command ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory):
    folder = tmp_path_factory.mktemp("stress")
    engine = make_sqlite_engine(folder)
    load_reference(engine)
    ticks = iter(range(10**9))

    def clock() -> datetime:
        return reference_clock() + timedelta(microseconds=next(ticks))

    generate_book(Ledger(engine, clock), load_reference_day(engine, DAY), 3, 40, clock=clock)
    yield engine, str(engine.url), folder
    engine.dispose()


def make_app() -> typer.Typer:
    return cli_app(stress_cli)


def _cells(output: str, title: str, label: str) -> list[str]:
    table = output[output.index(title) :]
    row = next(line for line in table.splitlines() if label in line)
    return [cell.strip() for cell in row.split("│")[1:-1]]


def test_stress_run_prints_each_scenario_and_charts_the_ratios(store) -> None:
    engine, url, folder = store
    png = folder / "ratios.png"
    args = ["stress", "run", "uniform:-10", "board:STAR:-20", "2015", "--date", "2026-11-20"]
    result = CliRunner().invoke(
        make_app(), [*args, "--store", url, "--png", str(png)], env={"COLUMNS": "200"}
    )
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert "2015 (2015-06-05 → 2015-08-26)" in out  # the preset runs to the trough
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 10_000

    # The after column of uniform:-10, against the exact formulas on the repriced book.
    ref = load_reference_day(engine, DAY)
    book = load_book(engine)
    prices = {s: (p * 9 + 5) // 10 for s, p in ref.previous_close_li.items()}
    book.set_prices(datetime(2026, 11, 20, 7, tzinfo=UTC), prices)
    firm, own = rule_book_lines(ref.rule_book, DAY, list(book.accounts.ids))
    below, owed = 0, Fraction(0)
    for a, client in enumerate(book.accounts.ids):
        account = exact_account(book, a)
        ratio = margin.maintenance_ratio(account)
        if ratio is not None and ratio < own.get(client, firm).liquidation:
            below += 1
            owed += margin.total_debt(account)
    assert below > 0
    cells = _cells(out, "uniform:-10", "below liquidation")
    yuan = (owed / 100 + Fraction(1, 2)).__floor__()
    assert cells[2] == f"{below:,} / {yuan:,}"
    assert f"call target {float(terms_for(ref.rule_book, None, DAY).call_target) * 100:g}%" in out


def test_stress_run_refuses_an_unknown_scenario(store) -> None:
    _, url, _ = store
    result = CliRunner().invoke(make_app(), ["stress", "run", "crash", "--store", url])
    assert result.exit_code == 2
    assert "unknown scenario" in result.output
