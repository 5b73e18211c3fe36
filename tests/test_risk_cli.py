"""``liangrong risk summary|account|calls`` and ``liquidate plan`` over a store that ran a
seeded session: what they print is what the desk recorded and what the engine computes."""

from __future__ import annotations

from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from conftest import make_sqlite_engine
from liangrong.cli import risk as risk_cli
from liangrong.domain.margin import RatioStatus
from liangrong.domain.margin_calls import CallState
from liangrong.sim.desk_view import open_desk
from liangrong.sim.session import SessionConfig, run_session
from liangrong.store import risk_records as records
from sim_helpers import DAY

CONFIG = SessionConfig(clients=200, minutes=2, seed=11, on=DAY, actions_per_client_hour=40)


@pytest.fixture(scope="module")
def session_store(tmp_path_factory: pytest.TempPathFactory):
    folder: Path = tmp_path_factory.mktemp("risk")
    engine = make_sqlite_engine(folder)
    summary = run_session(engine, CONFIG)
    url = str(engine.url)
    yield engine, url, summary
    engine.dispose()


def invoke(*args: str):
    app = typer.Typer()

    @app.callback()
    def root() -> None:
        """test root"""

    risk_cli.register(app)
    return CliRunner().invoke(app, list(args), env={"COLUMNS": "220"})


def test_summary_counts_every_account_once(session_store) -> None:
    engine, url, _ = session_store
    result = invoke("risk", "summary", "--date", DAY.isoformat(), "--store", url)
    assert result.exit_code == 0, result.output
    desk, _ = open_desk(engine, DAY)
    counts = desk.risk.statuses.counts()
    assert sum(counts.values()) == CONFIG.clients
    for status in RatioStatus:
        assert f"│ {status.value:<11} │ {counts[status]:<8,} │" in result.stdout
    assert "Accounts by class" in result.stdout and "substandard 次级类" in result.stdout
    assert "Top client concentrations" in result.stdout
    open_calls = [r for r in records.latest_calls(engine).values() if r.call is not None]
    assert f"open calls: {len(open_calls):,}" in result.stdout


def test_calls_lists_the_recorded_calls(session_store) -> None:
    engine, url, summary = session_store
    result = invoke("risk", "calls", "--store", url)
    assert result.exit_code == 0, result.output
    recorded = [r for r in records.latest_calls(engine).values() if r.call is not None]
    assert (
        recorded
        and len(recorded)
        == summary.calls["open"] + summary.calls["emergency"] + (summary.calls["missed"])
    )
    for record in recorded:
        assert record.client_id in result.stdout
    assert "Notices" in result.stdout


def test_account_shows_its_status_changes_and_notices(session_store) -> None:
    engine, url, _ = session_store
    client = next(
        r.client_id for r in records.latest_calls(engine).values() if r.state is CallState.OPEN
    )
    result = invoke("risk", "account", client, "--date", DAY.isoformat(), "--store", url)
    assert result.exit_code == 0, result.output
    assert "account status call_restricted" in result.stdout
    assert "Status changes" in result.stdout and "call" in result.stdout
    unknown = invoke("risk", "account", "NOBODY", "--date", DAY.isoformat(), "--store", url)
    assert unknown.exit_code == 1 and "no client NOBODY" in unknown.stderr


def test_liquidate_plan_prints_without_recording_then_executes(session_store) -> None:
    engine, url, _ = session_store
    client = next(
        r.client_id for r in records.latest_calls(engine).values() if r.state is CallState.OPEN
    )
    runs_before = len(records.liquidation_history(engine))
    shown = invoke("liquidate", "plan", client, "--date", DAY.isoformat(), "--store", url)
    assert shown.exit_code == 0, shown.output
    assert f"plan for {client}" in shown.stdout and "Steps" in shown.stdout
    assert len(records.liquidation_history(engine)) == runs_before  # a plan records nothing
    done = invoke(
        "liquidate", "plan", client, "--execute", "--date", DAY.isoformat(), "--store", url
    )
    assert done.exit_code == 0, done.output
    (run,) = [r for r in records.liquidation_history(engine) if r.client_id == client]
    assert f"run {run.run_id} recorded" in done.stdout
    desk, _ = open_desk(engine, DAY)
    ratio = desk.ratio(client)[1]
    assert run.reached and (ratio is None or ratio >= run.ratio_planned)


def test_a_court_order_liquidates_everything_owed_with_its_reason(session_store) -> None:
    engine, url, _ = session_store
    desk, _ = open_desk(engine, DAY)
    calls = records.latest_calls(engine)
    client = next(
        c for c in sorted(desk.book.profiles)
        if c not in calls and any(k.is_open for k in desk.book.mirrors[c].contracts.values())
    )  # fmt: skip
    args = ("liquidate", "plan", client, "--date", DAY.isoformat(), "--store", url)
    shown = invoke(*args, "--reason", "judicial_enforcement")
    assert shown.exit_code == 0, shown.output
    assert f"plan for {client} (judicial_enforcement, repay_all)" in shown.stdout
    assert "(call_missed, restore_target)" in invoke(*args).stdout  # nothing on record
    refused = invoke(*args, "--reason", "a_whim")
    assert refused.exit_code == 2 and "a_whim" in refused.output
    done = invoke(*args, "--execute", "--reason", "judicial_enforcement")
    assert done.exit_code == 0, done.output
    (run,) = [r for r in records.liquidation_history(engine) if r.client_id == client]
    assert (run.reason, run.mode) == ("judicial_enforcement", "repay_all")
