"""Emergency drills (GOV-6): each runs on copies of a real store (a generated book after a
short seeded session) and records its result in that store; the end-of-day drill kills the
real command with SIGKILL and compares the rerun with an uninterrupted run."""

from __future__ import annotations

import shutil
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from conftest import drop_postgres, make_postgres_engine, session_store
from liangrong.cli import _register, app
from liangrong.drills.eod_kill_drill import DrillRefused, drill_day, eod_kill_drill
from liangrong.drills.restore_drill import restore_drill
from liangrong.ledger.digest import journal_digest
from liangrong.ledger.engine import open_engine
from liangrong.sim.session import SessionConfig
from liangrong.store.drill_records import load_drills
from sim_helpers import DAY

_register()


def _clock():
    start, ticks = datetime(2026, 11, 20, 17, 0, tzinfo=UTC), iter(range(10**9))
    return lambda: start + timedelta(milliseconds=next(ticks))


@pytest.fixture(scope="module")
def prepared(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("drills") / "prepared.sqlite"
    engine = session_store(path, SessionConfig(clients=60, minutes=3, seed=5, on=DAY))
    engine.dispose()
    return path


@pytest.fixture
def store_url(prepared: Path, tmp_path: Path) -> str:
    shutil.copy(prepared, tmp_path / "store.sqlite")
    return f"sqlite:///{tmp_path / 'store.sqlite'}"


def _work(tmp_path: Path, name: str) -> Path:
    (tmp_path / name).mkdir()
    return tmp_path / name


def test_the_restore_drill_passes_and_is_recorded(store_url: str, tmp_path: Path) -> None:
    run = restore_drill(store_url, _work(tmp_path, "w"), performed_by="ops1", clock=_clock())

    assert run.problems == []
    drills = load_drills(open_engine(store_url))
    assert [(d.kind, d.performed_by, d.passed) for d in drills] == [("restore", "ops1", True)]
    figures = drills[0].figures
    assert figures["problems"] == [] and figures["rows"] > 5_000
    assert figures["journal_sha256"] == journal_digest(open_engine(store_url)).sha256
    restored = open_engine(f"sqlite:///{tmp_path / 'w' / 'drill-restored.sqlite'}")
    assert journal_digest(restored) == journal_digest(open_engine(store_url))


@pytest.mark.postgres
def test_the_restore_drill_into_postgresql(store_url: str, tmp_path: Path) -> None:
    engine, name = make_postgres_engine()
    try:
        target = engine.url.render_as_string(False)
        run = restore_drill(store_url, _work(tmp_path, "w"), performed_by="ops1",
                            clock=_clock(), target_url=target)  # fmt: skip
        assert run.problems == []
        assert journal_digest(engine) == journal_digest(open_engine(store_url))
    finally:
        drop_postgres(engine, name)


def test_the_end_of_day_kill_drill_passes_and_is_recorded(store_url: str, tmp_path: Path) -> None:
    run = eod_kill_drill(store_url, _work(tmp_path, "w"), day=DAY, kills=3, seed=2,
                         performed_by="ops1", clock=_clock())  # fmt: skip

    assert run.problems == []
    figures = load_drills(open_engine(store_url))[0].figures
    assert figures["day"] == DAY.isoformat() and len(figures["kill_points"]) == 3
    assert any(point["killed"] for point in figures["kill_points"])
    assert figures["report_files"] > 5
    assert figures["rerun_ms"] > 0 and figures["clean_run_ms"] > 0


def test_a_drill_whose_end_of_day_fails_is_recorded_as_failed(store_url, tmp_path) -> None:
    day = date(2026, 11, 19)  # a trading day without the reference data the end of day needs
    run = eod_kill_drill(store_url, _work(tmp_path, "w"), day=day, kills=1, seed=1,
                         performed_by="ops1", clock=_clock())  # fmt: skip

    assert "the uninterrupted end of day exited 1" in run.problems
    (record,) = load_drills(open_engine(store_url))
    assert not record.passed and record.figures["problems"] == run.problems


def test_a_drill_that_cannot_run_is_refused_and_not_recorded(store_url, tmp_path) -> None:
    with pytest.raises(DrillRefused, match="not a trading day"):
        eod_kill_drill(store_url, _work(tmp_path, "w"), day=date(2026, 11, 21), kills=1,
                       seed=1, performed_by="ops1", clock=_clock())  # fmt: skip
    with pytest.raises(DrillRefused, match="no completed end of day"):
        drill_day(store_url)
    assert load_drills(open_engine(store_url)) == []


def test_the_drill_commands(store_url: str, tmp_path: Path) -> None:
    runner = CliRunner()
    done = runner.invoke(app, ["drill", "restore", "--user", "ops2", "--store", store_url])
    assert done.exit_code == 0, done.output
    assert "passed" in done.output
    refused = runner.invoke(app, ["drill", "eod-kill", "2026-11-21", "--store", store_url])
    assert refused.exit_code == 1
    listed = runner.invoke(app, ["drill", "list", "--store", store_url])
    assert listed.exit_code == 0
    assert "restore" in listed.output and "ops2" in listed.output and "passed" in listed.output
