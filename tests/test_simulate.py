"""A seeded session: byte-identical journals from two fresh stores, counts that add up, the
same journal on PostgreSQL, and ``liangrong simulate`` and ``liangrong demo`` running one."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import pytest
import typer
from sqlalchemy import Engine
from typer.testing import CliRunner

from cli_helpers import cli_app
from conftest import make_sqlite_engine
from liangrong.cli import demo as demo_cli
from liangrong.cli import simulate as simulate_cli
from liangrong.domain.margin import RatioStatus
from liangrong.ledger.digest import journal_digest, journal_lines
from liangrong.ledger.projections import conservation_breaks, rebuild
from liangrong.sim.calendar_data import load_shipped_calendar
from liangrong.sim.index_history import load_window
from liangrong.sim.session import SessionConfig, SessionRefused, SessionSummary, run_session
from liangrong.sim.simulated_index import (
    INDEX_NAME,
    day_number,
    index_move,
    known_levels,
    simulated_close,
)
from liangrong.store.index_closes import SIMULATED, load_index_closes
from sim_helpers import DAY

# Busier clients than the default, so that two minutes show many kinds of refusal.
CONFIG = SessionConfig(clients=200, minutes=2, seed=11, on=DAY, actions_per_client_hour=40)


@pytest.fixture(scope="module")
def two_runs(tmp_path_factory: pytest.TempPathFactory):
    runs = []
    for name in ("first", "second"):
        engine = make_sqlite_engine(tmp_path_factory.mktemp(name))
        runs.append((engine, run_session(engine, CONFIG)))
    yield runs
    for engine, _ in runs:
        engine.dispose()


def test_two_runs_write_byte_identical_journals(two_runs) -> None:
    (first, one), (second, two) = two_runs
    assert list(journal_lines(first)) == list(journal_lines(second))
    assert one.journal == two.journal == journal_digest(first)
    assert one.journal is not None and one.journal.transactions > 1_000
    assert {**vars(one), "timings": {}, "journal": None} == {
        **vars(two),
        "timings": {},
        "journal": None,
    }


def test_another_seed_writes_another_journal(tmp_path: Path, two_runs) -> None:
    engine = make_sqlite_engine(tmp_path)
    other = run_session(engine, SessionConfig(clients=50, minutes=1, seed=12, on=DAY))
    assert other.journal != two_runs[0][1].journal
    engine.dispose()


def test_the_counts_add_up(two_runs) -> None:
    engine, summary = two_runs[0]
    s: SessionSummary = summary
    assert s.snapshots == CONFIG.minutes * 20
    assert s.orders == s.accepted + sum(s.refused.values()) > 0
    assert s.requests == sum(s.requests_done.values()) + sum(s.requests_refused.values()) > 0
    sent = s.accepted + s.forced_orders  # the clients' and the desk's forced orders
    assert 0 < s.filled_orders <= sent and s.accepted <= s.orders and s.fills >= s.filled_orders
    # Every accepted order ended one way: filled, cancelled, expired or refused downstream.
    rejected = sum(s.exchange_rejected.values())
    assert sent == s.filled_orders + s.cancelled + s.expired + rejected
    assert sum(s.statuses.values()) == CONFIG.clients
    # The risk engine, kept in step all day, places every account where the exact
    # computation over the book's own figures does.
    assert sum(s.risk_timeline[-1][1].values()) == CONFIG.clients
    assert s.engine_statuses == {status.value: s.statuses[status.value] for status in RatioStatus}
    assert s.liquidations > 0 and s.forced_orders > 0  # the generated book has accounts
    assert sum(s.calls.values()) > 0  # below the emergency and liquidation lines
    assert set(s.statuses) <= {status.value for status in RatioStatus}
    assert len(s.refused) >= 8  # the mistakes and the limits show many codes
    assert conservation_breaks(engine) == {}
    assert rebuild(engine).identical


def test_the_close_records_the_simulated_index_level(two_runs) -> None:
    engine, _ = two_runs[0]
    calendar = load_shipped_calendar()
    (close,) = load_index_closes(engine, INDEX_NAME)
    assert (close.trading_date, close.source) == (DAY, SIMULATED)
    assert close.recorded_at == f"{DAY.isoformat()}T15:00:00+08:00"
    assert close == simulated_close(engine, calendar, DAY, close.recorded_at)  # as recomputed
    previous = max(d for d in known_levels(engine) if d < DAY)  # the history's last close
    move = index_move(load_window(), day_number(calendar, DAY))
    assert abs(close.level - known_levels(engine)[previous] * move) <= Fraction(1, 200)


def test_a_store_runs_one_session_a_day(two_runs) -> None:
    engine, _ = two_runs[0]
    with pytest.raises(SessionRefused, match="already holds a session of 2026-11-20"):
        run_session(engine, CONFIG)


def test_the_journal_is_the_same_on_both_backends(store: Engine, tmp_path: Path) -> None:
    config = SessionConfig(clients=40, minutes=1, seed=5, on=DAY)
    here = run_session(store, config)
    reference = make_sqlite_engine(tmp_path)
    assert run_session(reference, config).journal == here.journal
    reference.dispose()


# ------------------------------------------------------------------------------------- CLI


def make_app() -> typer.Typer:
    return cli_app(simulate_cli, demo_cli)


def invoke(*args: str):
    return CliRunner().invoke(make_app(), list(args), env={"COLUMNS": "200"})


def test_simulate_prints_the_summary_and_the_digest(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/sim.sqlite"
    args = ("simulate", "--clients", "60", "--minutes", "1", "--seed", "3", "--date", "2026-11-21")
    result = invoke(*args, "--store", url)
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert "Session 2026-11-20: 60 clients, 1 min, seed 3" in out  # Saturday: Friday's
    assert "Refusals by code" in out and "Accounts against their lines" in out
    assert "journal sha256: " in out and "timings:" in result.stderr
    again = invoke(*args, "--store", url)
    assert again.exit_code == 1 and "already holds a session" in again.stderr
    other = invoke("simulate", "--clients", "61", "--date", "2026-11-23", "--store", url)
    assert other.exit_code == 1 and "60 clients generated with seed 3" in other.stderr


def test_the_demo_runs_a_session_after_the_reference_data(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/demo.sqlite"
    args = ("demo", "--date", "2026-03-02", "--clients", "40", "--minutes", "1", "--store", url)
    first = invoke(*args)
    assert first.exit_code == 0, first.output
    assert "Securities master: 812" in first.stdout
    assert "Session 2026-03-02: 40 clients, 1 min, seed 1" in first.stdout
    second = invoke(*args)
    assert second.exit_code == 0 and "no session" in second.stderr
    assert "Session 2026-03-02" not in second.stdout
