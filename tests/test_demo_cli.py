"""``liangrong demo`` and ``liangrong calendar`` on a real SQLite store: what they print,
idempotent second runs, the list versioning the seeded events make visible."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
import typer
from click.testing import Result
from sqlalchemy import func, select, text
from typer.testing import CliRunner

from cli_helpers import cli_app
from liangrong.cli import calendar as calendar_cli
from liangrong.cli import demo as demo_cli
from liangrong.cli.demo_summary import Section, build_summary
from liangrong.ledger.engine import open_engine
from liangrong.sim.demo_scenario import seeded_events
from liangrong.sim.universe import load_demo_universe

TABLES = (
    "securities",
    "reference_prices",
    "calendar_loads",
    "calendar_sessions",
    "rule_versions",
    "list_publications",
    "list_entries",
)


def make_app() -> typer.Typer:
    return cli_app(demo_cli, calendar_cli)


def invoke(*args: str) -> Result:
    # A wide terminal, so that no table cell is wrapped in the middle of what we look for.
    result = CliRunner().invoke(make_app(), list(args), env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    return result


def row_counts(url: str) -> dict[str, int]:
    engine = open_engine(url)
    with engine.connect() as conn:
        counts = {
            t: conn.execute(select(func.count()).select_from(text(t))).scalar_one() for t in TABLES
        }
    engine.dispose()
    return counts


def line_cells(out: str, label: str) -> list[str]:
    """The cells of the table line whose first cell is ``label``."""
    for line in out.splitlines():
        cells = [cell.strip() for cell in line.strip("│ ").split("│")]
        if cells[0] == label:
            return cells
    raise AssertionError(f"no line {label!r} in:\n{out}")


def section(sections: tuple[Section, ...], title: str) -> Section:
    return next(s for s in sections if s.title.startswith(title))


@pytest.fixture(scope="module")
def march(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, Result, Result]:
    """One store, the demo run twice for Monday 2026-03-02."""
    url = f"sqlite:///{tmp_path_factory.mktemp('demo')}/demo.sqlite"
    first = invoke("demo", "--no-session", "--date", "2026-03-02", "--store", url)
    second = invoke("demo", "--no-session", "--date", "2026-03-02", "--store", url)
    return url, first, second


def test_the_demo_prints_the_day_the_lists_and_the_rules(
    march: tuple[str, Result, Result],
) -> None:
    _, first, _ = march
    out = first.stdout
    assert "2026-03-02 (Monday)" in out
    assert "trading day" in out and "no: inside the loaded calendar" in out
    assert "2024-01-01..2026-12-31" in out
    assert "Securities master: 812" in out
    for board, count in (("sse_main", 375), ("star", 92), ("szse_main", 229), ("chinext", 104)):
        assert f"│ {board} " in out and f"│ {count} " in out
    assert "exchange:2026-01-14/firm:2026-01-14" in out
    # the floor of 100% from 2026-01-14; the firm's lines and rates
    for label, *shown in (
        ("financing margin ratio floor", "100%", "2026-01-14"),
        ("short margin ratio floor", "100%", "2024-07-22"),
        ("attention line", "150%"),
        ("warning line", "140%"),
        ("liquidation line", "130%"),
        ("financing rate (annual, /360)", "8.35%"),
    ):
        cells = line_cells(out, label)
        assert cells[1:] == shown, cells
    assert "restore to 150% within T+2" in out


def test_the_summary_rows_show_the_floor_dates_and_the_seeded_list_changes(
    march: tuple[str, Result, Result],
) -> None:
    url, _, _ = march
    engine = open_engine(url)
    sections = build_summary(demo_cli.read_state(engine, date(2026, 3, 2)))
    engine.dispose()
    exchange = {row[0]: row[1:] for row in section(sections, "Exchange rules").rows}
    assert exchange["financing margin ratio floor"] == ("100%", "2026-01-14")
    assert exchange["short margin ratio floor"] == ("100%", "2024-07-22")
    assert exchange["minimum maintenance ratio"] == ("none", "2019-08-09")
    assert exchange["haircut 0 from static P/E"] == ("300", "2016-01-01")
    lists = {row[0]: row[1:] for row in section(sections, "Lists in force").rows}
    assert lists["published"] == ("2026-03-02", "2026-03-02")
    assert lists["financing targets"] == ("800", "795")
    assert lists["collateral"] == ("812", "812")
    warned, delisted = (e.symbol for e in reversed(seeded_events(load_demo_universe())))
    changes = section(sections, "List changes on 2026-03-02 vs 2026-02-27").rows
    assert {(layer, security.split()[0]) for layer, security, _ in changes} == {
        ("exchange", warned),
        ("firm", warned),
    }
    exchange_change = next(c for layer, _, c in changes if layer == "exchange")
    assert "left financing targets" in exchange_change and "-> 0%" in exchange_change
    status = {row[0]: row for row in section(sections, "By status").rows}
    assert warned in status["risk_warning"][2] and delisted in status["delisting_period"][2]


def test_a_second_run_loads_nothing_and_prints_the_same(
    march: tuple[str, Result, Result],
) -> None:
    url, first, second = march
    assert "recorded 812 securities" in first.stderr
    assert "nothing new" in second.stderr
    assert second.stdout == first.stdout
    assert row_counts(url) == {
        "securities": 812,
        "reference_prices": 812,
        "calendar_loads": 1,
        "calendar_sessions": 727,
        "rule_versions": 11,
        "list_publications": 10,  # five trading days, exchange and firm
        "list_entries": 10 * 812,  # everything listed is collateral: one entry each
    }


def test_a_saturday_shows_the_friday_lists(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/demo.sqlite"
    out = invoke("demo", "--no-session", "--date", "2026-11-21", "--store", url).stdout
    assert "2026-11-21 (Saturday)" in out
    assert "no: 2026-11-20 (Friday) is in force" in out
    assert "List changes on 2026-11-20 vs 2026-11-19" in out
    assert "│ published" in out and "2026-11-20" in out


def test_calendar_load_extends_the_horizon_and_the_demo_sees_it(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/cal.sqlite"
    sessions = ["2027-01-04", "2027-01-05", "2027-03-01", "2027-03-02"]
    year = tmp_path / "2027.csv"
    year.write_text("session\n" + "\n".join(sessions) + "\n", encoding="utf-8")
    loaded = invoke("calendar", "load", str(year), "--store", url).stdout
    assert "2027-01-01..2027-12-31, 4 sessions (load #2)" in loaded
    assert "days after 2027-12-31 are provisional" in loaded
    again = invoke("calendar", "load", str(year), "--store", url).stdout
    assert again.startswith("nothing new")
    shown = invoke("calendar", "show", "--year", "2027", "--store", url).stdout
    assert "2027-03 │ 2 " in shown and "(shipped; XSHG 2024-2026)" in shown

    out = invoke("demo", "--no-session", "--date", "2027-03-01", "--store", url).stdout
    assert "no: inside the loaded calendar" in out
    beyond = invoke("demo", "--no-session", "--date", "2028-01-03", "--store", url).stdout
    assert "yes: outside the loaded calendar" in beyond


def test_a_malformed_calendar_file_exits_2(tmp_path: Path) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("session\n2027-02-30\n", encoding="utf-8")
    url = f"sqlite:///{tmp_path}/bad.sqlite"
    result = CliRunner().invoke(make_app(), ["calendar", "load", str(bad), "--store", url])
    assert result.exit_code == 2
    assert "line 2" in result.stderr
