"""The end of day's ``stress`` step (RISK-12): the firm's scenario set in force (dated
reference data) run over the book at the close, each scenario's result stored (append-only,
idempotent by date and scenario) and written to ``stress_{date}.csv``; on SQLite.

- every stored figure equals the exact formulas (``domain.margin``) on each account
  repriced at the scenario's prices, the suspended holding valued at its last traded close
  (RISK-2), not at a close recorded while it was suspended;
- a rerun changes nothing; a run killed after the records were saved and before the file
  was written, then completed, leaves the uninterrupted run's records and bytes;
- no scenario set in force: the book as it is only; the sets' own refusals; the tables
  match their migration and refuse rewrites.
"""

from __future__ import annotations

import csv
import io
import shutil
from dataclasses import replace
from datetime import date, datetime, timedelta
from fractions import Fraction as F
from pathlib import Path
from typing import Any

import pytest
import typer
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine, select, text
from sqlalchemy.exc import DBAPIError
from typer.testing import CliRunner

from conftest import make_sqlite_engine
from liangrong.cli import stress as stress_cli
from liangrong.cli import stress_history
from liangrong.domain import margin
from liangrong.domain import operations as ops
from liangrong.domain.contracts import ContractKind, ContractTerms
from liangrong.domain.stress import FACTOR_SCALE, ScenarioError
from liangrong.domain.versions import Version
from liangrong.eod import stress_step as step_module
from liangrong.eod.context import EodContext, StepRun
from liangrong.eod.runner import run
from liangrong.eod.settings import EodSettings
from liangrong.eod.steps import STEP_NAMES
from liangrong.ledger import schema as s
from liangrong.ledger.engine import open_engine
from liangrong.ledger.journal import CreditAccountOpening, Ledger
from liangrong.risk.loader import load_book
from liangrong.risk.statuses import rule_book_lines
from liangrong.risk.stress import LINE_NAMES
from liangrong.risk.views import exact_account
from liangrong.sim.demo_loader import load_demo
from liangrong.sim.reference_day import load_reference_day
from liangrong.sim.session import CST
from liangrong.sim.stress_seed import (
    DEMO_SCENARIOS,
    build_scenarios,
    seed_stress_scenarios,
    stress_market,
)
from liangrong.store.closing_prices import save_closing_prices
from liangrong.store.eod_records import SUSPENDED, SecurityTermEvent, save_security_events
from liangrong.store.migrate import upgrade
from liangrong.store.stress_records import (
    STRESS_APPEND_ONLY_TABLES,
    ScenarioSetConflict,
    StressRunConflict,
    load_stress_runs,
    save_scenario_sets,
    save_stress_runs,
    scenario_set_on,
)

D = date(2026, 11, 20)
LONG, SUSP = "600000.SH", "600036.SH"
SUSPENDED_FROM = date(2026, 11, 18)
LAST_TRADED_LI, STALE_LI = 42_000, 45_000  # SUSP's close on the 17th; a quote while suspended
CLOSES = {  # trading day -> closes recorded by the sessions
    date(2026, 11, 16): {LONG: 11_500, SUSP: 41_000},
    date(2026, 11, 17): {LONG: 11_800, SUSP: LAST_TRADED_LI},
    date(2026, 11, 18): {LONG: 11_900, SUSP: LAST_TRADED_LI},
    date(2026, 11, 19): {LONG: 12_100, SUSP: LAST_TRADED_LI},
    D: {LONG: 12_000, SUSP: STALE_LI},
}
PRICES = {LONG: 12_000, SUSP: LAST_TRADED_LI}  # what values the book at the close
TEST_SET = Version(
    "test-2026", date(2026, 1, 5), ("uniform:-10", f"security:{SUSP}:-50", "2015"), "test"
)
RATE = F("0.0835")


def _clock() -> datetime:
    return datetime(2026, 11, 20, 8, 0, tzinfo=CST)


def _terms(cid: str, client: str, kind: ContractKind, symbol: str, qty: int, fen: int, li: int):
    rate = RATE if kind is ContractKind.FINANCING else F("0.1035")
    return ContractTerms(
        cid, kind, client, symbol, qty, fen, li, D, D, date(2027, 5, 20), False, F(1),
        "exchange:2026-01-14/firm:2026-01-14", rate,
    )  # fmt: skip


def build_store(path: Path, scenario_set: bool = True) -> None:
    """C1 owes 100,000 yuan on 10,000 LONG with 30,000 of cash (150% at 12.000); C2 owes
    100,000 on 3,000 SUSP with 10,000 of cash (136% at its last traded 42.000, 145% at the
    quote of a suspended day); C3 is short 1,000 LONG sold at 12.000 with 5,000 of cash;
    C4 owes nothing."""
    engine = open_engine(f"sqlite:///{path}")
    upgrade(engine)
    # The store starts without the demo firm's collection policy: 11-20 is its collection
    # day, and the figures here are computed on the clients' cash as deposited (the next_day
    # step's demo source records the policy for the days after).
    load_demo(engine, D, clock=_clock, stress_scenarios=scenario_set, collection_policy=False)
    ticks = iter(range(10**6))
    ledger = Ledger(engine, lambda: _clock() + timedelta(microseconds=next(ticks)))
    clients = ("C1", "C2", "C3", "C4")
    ledger.open_credit_accounts(
        [
            CreditAccountOpening(f"open:{c}:{x}", c, x, f"客户{c}", f"客户{c}", date(2026, 1, 5))
            for c in clients
            for x in ("SH", "SZ")
        ]
    )
    fin, short = ContractKind.FINANCING, ContractKind.SHORT
    ledger.post_batch(
        [
            ops.fund_pool("pool:cny", date(2026, 1, 5), "CNY", 10**11),
            ops.fund_pool("pool:long", date(2026, 1, 5), LONG, 100_000),
            ops.deposit_cash("cash:C1", D, "C1", 3_000_000),
            ops.deposit_cash("cash:C2", D, "C2", 1_000_000),
            ops.deposit_cash("cash:C3", D, "C3", 500_000),
            ops.deposit_cash("cash:C4", D, "C4", 5_000_000),
            ops.open_financing("F1", _terms("F1", "C1", fin, LONG, 10_000, 10_000_000, 10_000)),
            ops.open_financing("F2", _terms("F2", "C2", fin, SUSP, 3_000, 10_000_000, 40_000)),
            ops.open_short("S3", _terms("S3", "C3", short, LONG, 1_000, 1_200_000, 12_000)),
        ]
    )
    for day, closes in CLOSES.items():
        save_closing_prices(engine, day, closes)
    stamp = "2026-11-20T08:00:00.000000+08:00"
    event = SecurityTermEvent("susp:600036", SUSP, SUSPENDED, SUSPENDED_FROM, "notice")
    save_security_events(engine, [event], stamp)
    if scenario_set:
        save_scenario_sets(engine, [TEST_SET], clock=_clock)
    engine.dispose()


@pytest.fixture(scope="module")
def prepared(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("stress-eod") / "prepared.sqlite"
    build_store(path)
    return path


def copy_of(prepared: Path, folder: Path) -> tuple[Engine, EodSettings]:
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copy(prepared, folder / "store.sqlite")
    engine = open_engine(f"sqlite:///{folder / 'store.sqlite'}")
    return engine, EodSettings(folder / "reports")


@pytest.fixture(scope="module")
def done(prepared: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    engine, settings = copy_of(prepared, tmp_path_factory.mktemp("done"))
    report = run(engine, D, settings, stop_after="stress")
    path = settings.reports_dir / "20261120" / "stress_20261120.csv"
    return {"engine": engine, "settings": settings, "report": report, "file": path}


# --- the exact figures, independently ---------------------------------------------------------


def _stressed(price_li: int, factor_e9: int) -> int:
    return (price_li * factor_e9 + FACTOR_SCALE // 2) // FACTOR_SCALE  # half up to the li


def _expected(engine: Engine, factors: dict[str, int]) -> dict[str, Any]:
    """Each account at the stressed prices through ``domain.margin``: the accounts and
    debt below each of its lines, and the shortfall of those whose assets fall short."""
    book = load_book(engine)
    ref = load_reference_day(engine, D)
    firm, own = rule_book_lines(ref.rule_book, D, list(book.accounts.ids))
    below, owed = [0] * 4, [0] * 4
    short_accounts = short_li = no_debt = 0
    for a, client in enumerate(book.accounts.ids):
        account = exact_account(book, a)
        price = {x: _stressed(PRICES[x], factors[x]) for x in PRICES}
        account = replace(
            account,
            holdings=tuple(replace(h, price_li=price[h.security]) for h in account.holdings),
            financing=tuple(replace(f, price_li=price[f.security]) for f in account.financing),
            shorts=tuple(replace(x, price_li=price[x.security]) for x in account.shorts),
        )
        ratio = margin.maintenance_ratio(account)
        if ratio is None:
            no_debt += 1
            continue
        lines = own.get(client, firm)
        debt_li = margin.total_debt(account) * 10
        assert debt_li.denominator == 1
        every = (lines.attention, lines.warning, lines.liquidation, lines.emergency)
        for j, line in enumerate(every):
            if line is not None and ratio < line:
                below[j], owed[j] = below[j] + 1, owed[j] + int(debt_li)
        if ratio < 1:
            short_accounts += 1
            short_li += int(debt_li - margin.total_assets(account) * 10)
    return {
        "below": tuple(below),
        "owed": tuple(owed),
        "shortfall": (short_accounts, short_li),
        "no_debt": no_debt,
    }


def _factors(engine: Engine) -> dict[str, dict[str, int]]:
    """Each scenario's factor for LONG and SUSP (the betas of the stress market)."""
    ref = load_reference_day(engine, D)
    market = stress_market(ref, [LONG, SUSP])
    built = build_scenarios(TEST_SET.value, market.betas_bp)
    found = {"before": {LONG: FACTOR_SCALE, SUSP: FACTOR_SCALE}}
    for b in built:
        found[b.scenario.name] = {
            x: b.scenario.factor_e9(x, ref.securities[x].board) for x in PRICES
        }
    return found


def test_each_scenario_is_stored_as_the_exact_formulas_give_it(done: dict[str, Any]) -> None:
    engine = done["engine"]
    records = load_stress_runs(engine, D, D)
    assert [(r.seq, r.scenario) for r in records] == [
        (0, "before"), (1, "uniform:-10"), (2, f"security:{SUSP}:-50"), (3, "2015"),
    ]  # fmt: skip
    assert {r.set_version for r in records} == {"test-2026"}
    assert {r.prices for r in records} == {"closes of 2026-11-20 (session)"}
    factors = _factors(engine)
    for record in records:
        expected = _expected(engine, factors[record.scenario])
        assert record.accounts == 4 and record.no_debt == expected["no_debt"] == 1
        assert record.below_accounts == expected["below"], record.scenario
        assert record.below_debt_li == expected["owed"], record.scenario
        assert (record.shortfall_accounts, record.shortfall_li) == expected["shortfall"]
    # The book as it is: C2 at 136% (its last traded 42.000) is under the warning line;
    # at the 45.000 quote of a suspended day it would be at 145%, above it.
    before = records[0]
    assert before.below_accounts[1] == 1 and before.below_accounts[2] == 0
    # SUSP halved to 21.000: C2's 73,000 yuan no longer cover its 100,000 and interest.
    halved = records[2]
    c2 = exact_account(load_book(engine), load_book(engine).account_of("C2"))
    debt_li = (10_000_000 + c2.interest_and_fees_fen) * 10
    assert (halved.shortfall_accounts, halved.shortfall_li) == (1, debt_li - 73_000_000)
    assert halved.liquidated_accounts == 1 and halved.detail["liquidation"] == [[SUSP, 3_000, 0]]
    assert halved.sale_value_li == 3_000 * 21_000
    assert records[3].detail["replayed"] == ["2015-06-05", "2015-08-26"]


def test_the_file_lists_the_stored_results(done: dict[str, Any]) -> None:
    rows = list(csv.DictReader(io.StringIO(done["file"].read_text(encoding="utf-8"))))
    records = load_stress_runs(done["engine"], D, D)
    assert [r["scenario"] for r in rows] == [r.scenario for r in records]
    for row, record in zip(rows, records, strict=True):
        assert row["fingerprint"] == record.fingerprint and row["set_version"] == "test-2026"
        for j, name in enumerate(LINE_NAMES):
            assert row[f"below_{name}"] == str(record.below_accounts[j])
            assert row[f"below_{name}_debt_yuan"] == _yuan_text(record.below_debt_li[j])
        assert row["shortfall_yuan"] == _yuan_text(record.shortfall_li)
        median = record.detail["percentiles"]["median"]
        assert row["ratio_median_pct"] == ("" if median is None else str(median))
    halved = rows[2]
    assert halved["below_liquidation"] == "1" and halved["liquidated_accounts"] == "1"
    assert halved["sale_value_yuan"] == "63000.000"
    assert rows[3]["replayed"] == "2015-06-05..2015-08-26"
    assert done["file"].read_bytes().endswith(b"\r\n")
    summary = done["report"].records["stress"].summary
    assert summary["scenario_set"] == "test-2026" and summary["scenarios"] == 3
    assert summary["fair_values"] >= 1 and SUSP not in summary["fair_values_missing"]


def test_a_rerun_records_nothing_and_writes_the_same_bytes(done: dict[str, Any]) -> None:
    engine, settings = done["engine"], done["settings"]
    before = done["file"].read_bytes()
    position = STEP_NAMES.index("stress")
    again = step_module.stress_step(
        StepRun(EodContext(engine, D, settings), "stress", position, lambda *_: None)
    )
    assert again.digest == done["report"].records["stress"].digest
    assert done["file"].read_bytes() == before
    assert len(load_stress_runs(engine, D, D)) == 4


def _state(engine: Engine, reports: Path) -> dict[str, Any]:
    with engine.connect() as conn:
        rows = sorted(tuple(r) for r in conn.execute(text("SELECT * FROM stress_runs")))
        steps = sorted(tuple(r) for r in conn.execute(text("SELECT * FROM eod_steps")))
    return {"rows": rows, "steps": steps, "file": (reports / "20261120" / "stress_20261120.csv")}


def test_a_run_killed_between_its_records_and_its_file_resumes_to_the_same_end(
    prepared: Path, done: dict[str, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    engine, settings = copy_of(prepared, tmp_path)
    written = step_module.write_atomic

    def killed(path: Path, data: bytes) -> Path:
        monkeypatch.setattr(step_module, "write_atomic", written)
        raise KeyboardInterrupt("killed after the records were committed")

    monkeypatch.setattr(step_module, "write_atomic", killed)
    with pytest.raises(KeyboardInterrupt):
        run(engine, D, settings, stop_after="stress")
    assert len(load_stress_runs(engine, D, D)) == 4  # committed, the file not written
    assert "stress" not in run(engine, D, settings, stop_after="next_day").ran
    resumed = run(engine, D, settings, stop_after="stress")
    assert resumed.ran == ["stress"]
    mine, theirs = (
        _state(engine, settings.reports_dir),
        _state(done["engine"], done["settings"].reports_dir),
    )
    assert mine["rows"] == theirs["rows"] and mine["steps"] == theirs["steps"]
    assert mine["file"].read_bytes() == theirs["file"].read_bytes()


def _without_scenarios(engine: Engine, next_day: date, clock: Any) -> None:
    load_demo(engine, next_day, clock=clock, stress_scenarios=False)


def test_without_a_scenario_set_the_book_as_it_is_is_still_recorded(tmp_path: Path) -> None:
    path = tmp_path / "bare.sqlite"
    build_store(path, scenario_set=False)
    engine, settings = copy_of(path, tmp_path / "copy")
    # The next day's reference data comes from a firm that has set no scenarios either.
    settings = replace(settings, reference_source=_without_scenarios)
    report = run(engine, D, settings, stop_after="stress")
    summary = report.records["stress"].summary
    assert (summary["scenario_set"], summary["scenarios"]) == (None, 0)
    (record,) = load_stress_runs(engine, D, D)
    assert (record.scenario, record.set_version, record.below_accounts[1]) == ("before", None, 1)


# --- the stored sets and runs -------------------------------------------------------------


def test_scenario_sets_are_dated_versions_recorded_once(tmp_path: Path) -> None:
    engine = make_sqlite_engine(tmp_path)
    assert seed_stress_scenarios(engine, clock=_clock) == 1
    assert seed_stress_scenarios(engine, clock=_clock) == 0
    assert scenario_set_on(engine, date(2023, 12, 29)) is None
    assert scenario_set_on(engine, D).value == DEMO_SCENARIOS
    assert save_scenario_sets(engine, [TEST_SET, TEST_SET], clock=_clock) == 1
    assert scenario_set_on(engine, D) == TEST_SET
    assert scenario_set_on(engine, date(2025, 12, 31)).version_id == "stress-2024"
    with pytest.raises(ScenarioSetConflict):
        save_scenario_sets(engine, [replace(TEST_SET, value=("uniform:-5",))], clock=_clock)
    with pytest.raises(ScenarioError, match="unknown scenario"):
        save_scenario_sets(engine, [Version("bad", D, ("crash:-10",), "x")], clock=_clock)
    with pytest.raises(ValueError):  # the same day as the set in force: not after it
        save_scenario_sets(
            engine, [Version("same", TEST_SET.effective, ("2008",), "x")], clock=_clock
        )
    assert scenario_set_on(engine, D) == TEST_SET  # nothing of a refused call was written


def test_a_result_recorded_with_other_figures_is_refused(done: dict[str, Any]) -> None:
    engine = done["engine"]
    record = load_stress_runs(engine, D, D)[1]
    assert save_stress_runs(engine, [record], "2026-11-20T17:00:00.000000+08:00") == 0
    with pytest.raises(StressRunConflict):
        save_stress_runs(engine, [replace(record, shortfall_li=record.shortfall_li + 1)], "x")


def test_the_migration_creates_the_tables_and_protects_them(tmp_path: Path) -> None:
    engine = make_sqlite_engine(tmp_path)
    with engine.connect() as conn:
        diffs = compare_metadata(MigrationContext.configure(conn), s.metadata)
    assert [d for d in diffs if any(t in str(d) for t in STRESS_APPEND_ONLY_TABLES)] == []
    seed_stress_scenarios(engine, clock=_clock)
    for statement in (
        "UPDATE stress_scenario_sets SET source = 'x'",
        "DELETE FROM stress_scenario_sets",
    ):
        with pytest.raises(DBAPIError, match="append-only"), engine.begin() as conn:
            conn.execute(text(statement))
    with engine.connect() as conn:
        assert (
            conn.execute(
                select(text("count(*)")).select_from(text("stress_scenario_sets"))
            ).scalar()
            == 1
        )
    assert LINE_NAMES == ("attention", "warning", "liquidation", "emergency")


def test_the_history_command_shows_the_stored_results(done: dict[str, Any]) -> None:
    app = typer.Typer()

    @app.callback()
    def root() -> None:
        """test root"""

    stress_cli.register(app)
    stress_history.register(app)
    url = str(done["engine"].url)
    runner = CliRunner()
    shown = runner.invoke(
        app, ["stress", "history", "--store", url, "--from", "2026-11-20"], env={"COLUMNS": "250"}
    )
    assert shown.exit_code == 0, shown.output
    record = load_stress_runs(done["engine"], D, D)[2]
    row = next(line for line in shown.output.splitlines() if "security:600036.SH:-50" in line)
    cells = [c.strip() for c in row.split("│")[1:-1]]
    assert cells == [
        "2026-11-20", record.scenario, "test-2026", "1",
        _yuan_text(record.below_debt_li[2]),
        "1", _yuan_text(record.shortfall_li), "1", "63000.000",
    ]  # fmt: skip
    one = runner.invoke(app, ["stress", "history", "--store", url, "--scenario", "2015"])
    assert one.exit_code == 0 and "2015" in one.output and "uniform" not in one.output
    none = runner.invoke(app, ["stress", "history", "--store", url, "--to", "2026-11-19"])
    assert none.exit_code == 0 and "no stored stress results" in none.output


def _yuan_text(value_li: int) -> str:
    return f"{value_li // 1000}.{value_li % 1000:03d}"
