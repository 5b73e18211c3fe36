"""The day's fair values where they are decided (RISK-2): the simulated CSI 300 closes the
INDEX_MOVED rule reads for days the shipped history does not cover, the store-built plan of
a day, the desk's evaluations at each client's fair values, and the end of day's statuses
step, which values the book at them and evaluates the firm's limits (RISK-11)."""

from __future__ import annotations

import shutil
from datetime import date, datetime
from fractions import Fraction
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, select, text

from liangrong.domain.fair_value import FairValueRule
from liangrong.domain.firm_limits import (
    FirmCapital,
    FirmLimitRule,
    Indicator,
    Level,
    WarningShares,
)
from liangrong.domain.margin import RatioStatus
from liangrong.domain.money import Rounding, round_fraction
from liangrong.domain.parameters import ClientAgreement
from liangrong.domain.versions import Version
from liangrong.eod.runner import run
from liangrong.eod.settings import EodSettings
from liangrong.ledger.engine import open_engine
from liangrong.risk.loader import load_book
from liangrong.risk.views import exact_account
from liangrong.sim.calendar_data import load_shipped_calendar
from liangrong.sim.fair_value_day import day_fair_values
from liangrong.sim.index_history import load_csi300, load_window
from liangrong.sim.reference_day import load_reference_day, price_simulator
from liangrong.sim.session import CST
from liangrong.sim.simulated_index import (
    INDEX_NAME,
    day_number,
    index_move,
    known_levels,
    simulated_close,
)
from liangrong.store import risk_records as records
from liangrong.store.firm_alerts import load_firm_alerts, save_firm_limit_versions
from liangrong.store.index_closes import (
    PUBLISHED,
    SIMULATED,
    IndexClose,
    IndexCloseConflict,
    load_index_closes,
    save_index_closes,
)
from liangrong.store.migrate import upgrade
from liangrong.store.risk_tables import call_events, status_events
from liangrong.store.rule_versions import save_rule_versions
from test_stress_eod import LAST_TRADED_LI, SUSP, D, build_store

STAMP = "2026-01-05T15:00:00+08:00"


def _decimal(value: float) -> Fraction:
    return Fraction(repr(float(value)))  # the CSV's own digits, as the history reads them


def _point(level: Fraction) -> Fraction:
    return Fraction(round_fraction(level * 100, Rounding.HALF_UP), 100)


# --- the simulated index ------------------------------------------------------------------


def test_each_day_replays_its_years_day_move_exactly() -> None:
    calendar = load_shipped_calendar()
    first = calendar.next_trading_day(date(2025, 12, 31))
    second = calendar.next_trading_day(first)
    assert (day_number(calendar, first), day_number(calendar, second)) == (0, 1)
    assert day_number(calendar, date(2026, 11, 20)) == calendar.trading_days_between(
        first, date(2026, 11, 20)
    )
    window = load_window()
    closes = [_decimal(c) for c in window.close[:3]]
    assert index_move(window, 0) == closes[1] / closes[0]
    assert index_move(window, 1) == closes[2] / closes[1]
    assert index_move(window, len(window) - 1) == index_move(window, 0)  # wraps
    # The simulator moves the market by that very move on that day.
    assert float(index_move(window, 1)) - 1 == pytest.approx(window.returns[1], abs=1e-15)


def test_the_simulated_index_chains_from_the_history_then_the_store(tmp_path: Path) -> None:
    store = open_engine(f"sqlite:///{tmp_path / 'store.sqlite'}")
    upgrade(store)
    calendar = load_shipped_calendar()
    history = load_csi300()
    assert history.dates[-1] == date(2025, 12, 31)
    first = calendar.next_trading_day(date(2025, 12, 31))
    second = calendar.next_trading_day(first)
    window = load_window()
    c1 = simulated_close(store, calendar, first, STAMP)
    assert c1 == IndexClose(
        INDEX_NAME, first, _point(_decimal(history.close[-1]) * index_move(window, 0)),
        SIMULATED, STAMP,
    )  # fmt: skip
    assert save_index_closes(store, [c1]) == 1
    assert save_index_closes(store, [c1]) == 0  # the same level again: nothing new
    c2 = simulated_close(store, calendar, second, STAMP)
    assert c2.level == _point(c1.level * index_move(window, 1))
    save_index_closes(store, [c2])
    assert load_index_closes(store, INDEX_NAME) == [c1, c2]
    assert known_levels(store)[second] == c2.level
    with pytest.raises(IndexCloseConflict):
        save_index_closes(store, [IndexClose(INDEX_NAME, first, c1.level + 1, PUBLISHED, STAMP)])
    assert load_index_closes(store, INDEX_NAME) == [c1, c2]
    with pytest.raises(Exception, match="append-only"), store.begin() as conn:
        conn.execute(text("UPDATE index_closes SET level = '1'"))
    with pytest.raises(ValueError, match="positive"):
        IndexClose(INDEX_NAME, first, Fraction(0), SIMULATED, STAMP)


# --- the day's plan from the store --------------------------------------------------------


@pytest.fixture(scope="module")
def prepared(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The stress test's store (C2 owes 100,000 yuan on 3,000 SUSP, suspended since the
    18th, last traded at 42.000), C2's agreement naming INDEX_MOVED."""
    path = tmp_path_factory.mktemp("fair-day") / "prepared.sqlite"
    build_store(path)
    engine = open_engine(f"sqlite:///{path}")
    agreement = ClientAgreement("C2", fair_value_rule=FairValueRule.INDEX_MOVED)
    version = Version("C2@2026-01-05", date(2026, 1, 5), agreement, "test agreement")
    save_rule_versions(engine, [version], clock=lambda: datetime(2026, 11, 20, 8, tzinfo=CST))
    engine.dispose()
    return path


def _copy(prepared: Path, folder: Path) -> Engine:
    shutil.copy(prepared, folder / "store.sqlite")
    return open_engine(f"sqlite:///{folder / 'store.sqlite'}")


def _levels(engine: Engine, then: Fraction, now: Fraction) -> None:
    before = date(2026, 11, 17)  # SUSP's last trading day
    save_index_closes(
        engine,
        [
            IndexClose(INDEX_NAME, before, then, PUBLISHED, STAMP),
            IndexClose(INDEX_NAME, D, now, PUBLISHED, STAMP),
        ],
    )


def test_index_moved_reads_the_recorded_levels_of_a_day_past_the_history(
    prepared: Path, tmp_path: Path
) -> None:
    engine = _copy(prepared, tmp_path)
    ref = load_reference_day(engine, D)
    missing = day_fair_values(engine, ref, ["C2"])
    assert missing.client_rules == {"C2": FairValueRule.INDEX_MOVED}
    assert missing.firm_values()[SUSP].price_li == LAST_TRADED_LI  # the firm's LAST_CLOSE
    assert SUSP not in missing.for_client("C2")  # no level on the 17th: never a guess
    assert missing.missing[SUSP] == f"index_moved: no level of {INDEX_NAME} on 2026-11-17"
    _levels(engine, Fraction(4_000), Fraction("3800.5"))
    fair = day_fair_values(engine, ref, ["C2"])
    value = fair.for_client("C2")[SUSP]
    expected = round_fraction(LAST_TRADED_LI * Fraction("3800.5") / 4_000, Rounding.HALF_UP)
    assert (value.price_li, value.rule_name) == (expected, "index_moved") == (39_905, "index_moved")
    assert fair.firm_values()[SUSP].price_li == LAST_TRADED_LI and SUSP not in fair.missing
    # The others needing a fair value (risk warnings of the demo master) have no close in
    # this small store: named, left at the market price.
    assert all(why.endswith(f"no last close of {s}") for s, why in fair.missing.items())


# --- the end of day's statuses step -------------------------------------------------------


def test_the_statuses_step_decides_at_the_fair_values_and_evaluates_the_firm_limits(
    prepared: Path, tmp_path: Path
) -> None:
    engine = _copy(prepared, tmp_path)
    _levels(engine, Fraction(4_000), Fraction(3_800))  # C2's rule: 42.000 x 0.95 = 39.900
    # Net capital so small that 100,000 yuan of financing to one client breaches 5% of it.
    rule = FirmLimitRule(
        {Indicator.CLIENT_FINANCING_TO_NET_CAPITAL: Fraction(1, 20)},
        WarningShares(Fraction(4, 5), Fraction(9, 10)),
    )
    save_firm_limit_versions(
        engine,
        [Version("nc-test", D, FirmCapital(100_000_000), "test report")],
        [Version("limits-test", D, rule, "test rule")],
        clock=lambda: datetime(2026, 11, 20, 8, tzinfo=CST),
    )
    report = run(engine, D, EodSettings(tmp_path / "reports"), stop_after="statuses")
    summary = report.records["statuses"].summary
    assert summary["fair_values"] == 1 and summary["clients_on_own_rule"] == 1
    assert SUSP not in summary["fair_values_missing"]
    # C2 holds 3,000 SUSP and 10,000 yuan against 100,000 yuan and the day's interest: 145%
    # at the close (45.000, a quote of a suspended day), 136% at the firm's last close,
    # below the 130% liquidation line at its own rule's 39.900.
    book = load_book(engine)
    owed_fen = 10_000_000 + exact_account(book, book.account_of("C2")).interest_and_fees_fen
    expected = Fraction(1_000_000 + 3_000 * 39_900 // 10, owed_fen)
    with engine.connect() as conn:
        t = status_events.c
        rows = conn.execute(
            select(t.old, t.new, t.ratio).where(t.client_id == "C2").order_by(t.seq)
        ).all()
    assert [(r.old, r.new) for r in rows] == [("safe", "attention"), ("attention", "liquidation")]
    assert Fraction(rows[-1].ratio) == expected < Fraction(13, 10)
    # The desk's settlement evaluation took the same figure: a call from the liquidation line.
    (event,) = [e for e in day_call_events_of(engine) if e.client_id == "C2"]
    assert Fraction(event.ratio) == expected and event.line == "1.3"
    assert records.latest_statuses(engine)["C2"] == RatioStatus.LIQUIDATION.value
    alerts = {(a.indicator, a.subject, a.level) for a in load_firm_alerts(engine, D)}
    indicator = Indicator.CLIENT_FINANCING_TO_NET_CAPITAL
    assert alerts == {(indicator, "C1", Level.BREACH), (indicator, "C2", Level.BREACH)}
    assert summary["firm_limits"] == {"BREACH": 2}


def day_call_events_of(engine: Engine) -> list[Any]:
    with engine.connect() as conn:
        t = call_events.c
        query = select(t.client_id, t.ratio, t.line).where(t.evaluated_on == D)
        return list(conn.execute(query))


def test_the_simulator_replays_the_move_of_the_day_it_starts_on(
    prepared: Path, tmp_path: Path
) -> None:
    engine = _copy(prepared, tmp_path)
    calendar = load_shipped_calendar()
    returns = load_window().returns
    sim = price_simulator(load_reference_day(engine, D), seed=7)
    assert sim.open_day().index_return == returns[day_number(calendar, D) % len(returns)]
