"""The end of day (issue #5): each step's effects on a hand-built book whose figures are
computed here independently (CON-2…CON-4, CLI-6, REP-1, RISK-6, ACC-7), resumption after
every step and from inside a step, idempotency, status and the command; and the vectorised
accrual against ``interest.accrue_day`` on random contracts."""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from fractions import Fraction as F
from pathlib import Path

import numpy as np
import pytest
import typer
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, select, text
from sqlalchemy.exc import DBAPIError
from typer.testing import CliRunner

from conftest import make_sqlite_engine
from liangrong.cli import eod as eod_cli
from liangrong.domain import operations as ops
from liangrong.domain.contracts import Allocation, ContractKind, ContractTerms
from liangrong.domain.default_records import DefaultKind, RecordStatus
from liangrong.domain.exchange_report import ReportRefused
from liangrong.domain.interest import (
    ChargeKind,
    ChargePolicy,
    DayRates,
    RateBasis,
    SameDayUse,
    accrue_day,
    start_accrual,
)
from liangrong.domain.margin import simple_interest
from liangrong.domain.money import Rounding, round_fraction
from liangrong.domain.recorded_defaults import DefaultCure, DefaultEntry, DefaultWithdrawal
from liangrong.eod import accrual_kernel as kernel
from liangrong.eod.accrual import accrue_step
from liangrong.eod.context import EodContext, StepRun
from liangrong.eod.files import day_dir
from liangrong.eod.owed import PendingNotCarried
from liangrong.eod.runner import EodRefused, run, status
from liangrong.eod.settings import EodSettings
from liangrong.eod.steps import STEP_NAMES
from liangrong.ledger import schema as s
from liangrong.ledger.columns import load_debt_rows
from liangrong.ledger.digest import journal_digest
from liangrong.ledger.engine import open_engine
from liangrong.ledger.journal import CreditAccountOpening, Ledger, last_seq
from liangrong.reports.exchange_files import default_file_names, read_default_records_csv
from liangrong.sim.demo_loader import load_demo
from liangrong.sim.session import CST
from liangrong.store.accrual_state import (
    KindColumns,
    load_accruals,
    stored_accruals,
    write_accruals,
)
from liangrong.store.closing_prices import ClosingPriceConflict, save_closing_prices
from liangrong.store.eod_records import (
    LAST_TRADING_DAY,
    RESUMED,
    SUSPENDED,
    ContractEvent,
    ExtensionRequestRecord,
    SecurityTermEvent,
    StepConflict,
    StepRecord,
    completed_steps,
    load_contract_events,
    record_step,
    save_contract_events,
    save_extension_request,
    save_security_events,
)
from liangrong.store.eod_tables import EOD_APPEND_ONLY_TABLES, eod_steps
from liangrong.store.migrate import upgrade
from liangrong.store.recorded_defaults import cure_default, record_default, withdraw_default

D, PREVIOUS, NEXT = date(2026, 11, 20), date(2026, 11, 19), date(2026, 11, 23)
THROUGH = date(2026, 11, 17)  # charges before the end of day cover contracts through here
FINANCING_RATE, LENDING_RATE, PENALTY_RATE = F("0.0835"), F("0.1035"), F("0.18")
RULES = "exchange:2026-01-14/firm:2026-01-14"
CLIENTS = ("C1", "C2", "C3", "C4", "C5")
LAST_DAY = date(2026, 12, 31)  # 600000.SH's last trading day (its delisting)


def _clock() -> datetime:
    return datetime(2026, 11, 20, 8, 0, tzinfo=CST)


def _terms(
    contract_id: str, client: str, security: str, quantity: int, amount_fen: int,
    price_li: int, used: date, maturity: date, kind: ContractKind = ContractKind.FINANCING,
) -> ContractTerms:  # fmt: skip
    rate = FINANCING_RATE if kind is ContractKind.FINANCING else LENDING_RATE
    return ContractTerms(
        contract_id, kind, client, security, quantity, amount_fen, price_li, used, used,
        maturity, False, F(1), RULES, rate,
    )  # fmt: skip


F1 = _terms("F1", "C1", "600000.SH", 10_000, 10_000_000, 10_000, date(2026, 11, 18),
            date(2027, 5, 18))  # fmt: skip
F2 = _terms("F2", "C2", "600000.SH", 5_000, 5_000_000, 10_000, date(2026, 5, 19),
            date(2026, 11, 19))  # fmt: skip
S3 = _terms("S3", "C3", "600036.SH", 1_000, 4_000_000, 40_000, D, date(2026, 11, 25),
            ContractKind.SHORT)  # fmt: skip
F4 = _terms("F4", "C4", "600000.SH", 2_000, 2_000_000, 10_000, D, date(2027, 5, 20))
F5 = _terms("F5", "C5", "000001.SZ", 3_000, 3_000_000, 10_000, date(2026, 5, 19),
            date(2026, 11, 19))  # fmt: skip


def build_store(path: Path) -> None:
    """Demo reference data and five clients: a running financing with an extension request
    on a security about to delist (F1), an overdue one (F2), a short near its maturity (S3),
    a financing used and repaid the same day (F4), one whose maturity a suspension holds
    (F5)."""
    engine = open_engine(f"sqlite:///{path}")
    upgrade(engine)
    build_book(engine)
    engine.dispose()  # the last connection closing checkpoints the WAL into the file


def build_book(engine: Engine) -> None:
    """``build_store``'s book on a migrated store of either backend."""
    # The store starts without the demo firm's collection policy: 11-20 is its collection
    # day, which would take F2's matured principal from C2's cash before it could be found
    # overdue (the next_day step's demo source records the policy for the days after;
    # collection on the schedule: test_collection_eod.py).
    load_demo(engine, D, clock=_clock, collection_policy=False)
    ticks = iter(range(10**6))
    ledger = Ledger(engine, lambda: _clock() + timedelta(microseconds=next(ticks)))
    ledger.open_credit_accounts(
        [
            CreditAccountOpening(f"open:{c}:{x}", c, x, f"客户{c}", f"客户{c}", date(2026, 1, 5))
            for c in CLIENTS
            for x in ("SH", "SZ")
        ]
    )
    txns = [
        ops.fund_pool("pool:cny", date(2026, 1, 5), "CNY", 10**11),
        ops.fund_pool("pool:600036", date(2026, 1, 5), "600036.SH", 100_000),
        *(ops.deposit_cash(f"cash:{c}", date(2026, 1, 6), c, 100_000_000) for c in CLIENTS),
        ops.open_financing("open:F1", F1),
        ops.open_financing("open:F2", F2),
        ops.open_short("open:S3", S3),
        ops.open_financing("open:F4", F4),
        ops.repay_financing("repay:F4", D, "C4", [Allocation("F4", 0, 2_000_000)]),
        ops.open_financing("open:F5", F5),
    ]  # fmt: skip
    ledger.post_batch(txns)
    stamp = "2026-11-20T08:00:00.000000+08:00"
    save_extension_request(
        engine, ExtensionRequestRecord("R1", "F1", "C1", D, None, date(2027, 9, 30)), stamp
    )
    save_security_events(
        engine,
        [
            SecurityTermEvent("susp:000001", "000001.SZ", SUSPENDED, date(2026, 11, 16), "notice"),
            SecurityTermEvent("resume:000001", "000001.SZ", RESUMED, D, "notice"),
            SecurityTermEvent("ltd:600000", "600000.SH", LAST_TRADING_DAY, LAST_DAY, "notice"),
        ],
        stamp,
    )  # fmt: skip


@pytest.fixture(scope="module")
def prepared(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("eod") / "prepared.sqlite"
    build_store(path)
    return path


@dataclass
class Copy:
    engine: Engine
    reports: Path

    def settings(self, batch: int = 2) -> EodSettings:
        return EodSettings(self.reports, batch_transactions=batch, accrued_through=THROUGH)


def copy_of(prepared: Path, folder: Path) -> Copy:
    folder.mkdir(parents=True, exist_ok=True)
    assert not Path(f"{prepared}-wal").exists()
    shutil.copy(prepared, folder / "store.sqlite")
    return Copy(open_engine(f"sqlite:///{folder / 'store.sqlite'}"), folder / "reports")


def outcome(copy: Copy) -> dict[str, object]:
    """Everything an end of day leaves: the journal, every file, the step records and the
    contract events, byte for byte."""
    with copy.engine.connect() as conn:
        steps = [tuple(r) for r in conn.execute(select(eod_steps).order_by(eod_steps.c.position))]
        events = [
            tuple(r) for r in conn.execute(text("SELECT * FROM contract_events ORDER BY seq"))
        ]
        calls = [tuple(r) for r in conn.execute(text("SELECT * FROM call_events ORDER BY seq"))]
    files = {p.name: p.read_bytes() for p in sorted(copy.reports.rglob("*")) if p.is_file()}
    return {
        "journal": journal_digest(copy.engine),
        "files": files,
        "steps": steps,
        "events": events,
        "calls": calls,
    }


@pytest.fixture(scope="module")
def baseline(prepared: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    copy = copy_of(prepared, tmp_path_factory.mktemp("baseline"))
    report = run(copy.engine, D, copy.settings())
    assert report.ran == list(STEP_NAMES) and report.complete
    result = outcome(copy)
    result["copy"] = copy
    return result


def charges_posted(engine: Engine, contract: str) -> dict[str, int]:
    """The day's accrual events of one contract, by kind, from the journal."""
    with engine.connect() as conn:
        rows = conn.execute(
            select(s.journal_transactions.c.events_json).where(
                s.journal_transactions.c.command_id.like(f"eod:{D.isoformat()}:charges:%")
            )
        ).scalars()
        events = [e for row in rows for e in json.loads(row) if e["contract_id"] == contract]
    assert len(events) == 1
    return {k: v for k, v in events[0].items() if k in {c.value for c in ChargeKind}}


# --------------------------------------------------------------------------- the steps


def test_accrual_books_each_contract_as_computed_by_hand(baseline) -> None:
    engine = baseline["copy"].engine
    # three days (18th-20th) of interest on 100,000.00 yuan at 8.35% / 360, rounded once
    assert charges_posted(engine, "F1") == {
        "interest": simple_interest(10_000_000, FINANCING_RATE, 3)
    }
    assert simple_interest(10_000_000, FINANCING_RATE, 3) == 6958
    # overdue from the 20th: penalty 18% / 360 on top of the interest
    assert charges_posted(engine, "F2") == {
        "interest": simple_interest(5_000_000, FINANCING_RATE, 3),
        "penalty": round_fraction(5_000_000 * PENALTY_RATE / 360, Rounding.HALF_UP),
    }
    # one day's lending fee on 1,000 shares sold at 40.000: 40,000.00 × 10.35% / 360
    assert charges_posted(engine, "S3") == {"lending_fee": 1150}
    # used and repaid the same day: one day's management fee on the amount used
    assert charges_posted(engine, "F4") == {
        "management_fee": round_fraction(2_000_000 * F("0.0835") / 360, Rounding.HALF_UP)
    }
    # suspended over its maturity: no penalty, interest only
    assert charges_posted(engine, "F5") == {
        "interest": simple_interest(3_000_000, FINANCING_RATE, 3)
    }


def test_maturities_extensions_and_term_rules_are_recorded_once(baseline) -> None:
    events = {e.event_id: e for e in load_contract_events(baseline["copy"].engine)}
    extension = events["extension:R1"]
    assert extension.payload["granted"] is True
    assert extension.maturity == date(2027, 9, 30)  # the agreement's end, before +6 months
    assert {f[0] for f in extension.payload["findings"]} >= {
        "RATIO_AT_HIGH_LINE",
        "WITHIN_AGREEMENT",
    }
    overdue = events["overdue:F2:2026-11-19"]
    assert overdue.payload["liquidate_from"] == "2026-11-20"
    assert overdue.payload["principal"] == 5_000_000
    assert events["expiry:S3:2026-11-25"].payload["trading_days_left"] == 3
    # the suspension held F5's maturity: postponed by the 3 days lost, no overdue record
    assert events["suspension:F5:2026-11-16"].maturity == date(2026, 11, 23)
    assert "overdue:F5:2026-11-19" not in events
    # the delisting shortens F1's extended term to the day before the last trading day
    assert events["delisting:F1:2026-12-31"].maturity == date(2026, 12, 30)
    # F4 owes its management fee: its term is shortened too
    assert events["delisting:F4:2026-12-31"].maturity == date(2026, 12, 30)
    assert set(events) == {
        "extension:R1", "overdue:F2:2026-11-19", "expiry:S3:2026-11-25",
        "suspension:F5:2026-11-16", "delisting:F1:2026-12-31", "delisting:F4:2026-12-31",
    }  # fmt: skip


def test_a_second_request_of_the_day_sees_the_first_ones_grant(
    prepared: Path, tmp_path: Path
) -> None:
    """Requests are decided in the order recorded, each on the term the ones before left:
    R1 extends F1 to the agreement's end, so R2, for the same contract that day, starts
    from that maturity as the contract's second extension."""
    copy = copy_of(prepared, tmp_path)
    request = ExtensionRequestRecord("R2", "F1", "C1", D, None, date(2027, 9, 30))
    save_extension_request(copy.engine, request, "2026-11-20T08:00:01.000000+08:00")
    assert run(copy.engine, D, copy.settings()).complete
    decided = {
        e.event_id: e.payload
        for e in load_contract_events(copy.engine)
        if e.kind == "extension_decided"
    }
    first, second = decided["extension:R1"], decided["extension:R2"]
    assert (first["granted"], first["old_maturity"], first["extension_number"]) == (
        True, "2027-05-18", 1
    )  # fmt: skip
    assert (second["old_maturity"], second["extension_number"]) == ("2027-09-30", 2)


def _record(copy: Copy, entry: DefaultEntry, cured_on: date | None = None) -> None:
    today = max(entry.occurred_on, D)
    assert record_default(copy.engine, entry, today=today, clock=_clock)
    if cured_on is not None:
        cure = DefaultCure(entry.record_id, cured_on, "risk1")
        assert cure_default(copy.engine, cure, today=today, clock=_clock)


def _default_rows(copy: Copy, day: date) -> list[tuple[str, str, DefaultKind, RecordStatus, int]]:
    data = (day_dir(copy.reports, day) / default_file_names(day)["utf-8"]).read_bytes()
    return [
        (r.event_id, r.client_name, r.kind, r.status, r.amount_owed_fen)
        for r in read_default_records_csv(data)
    ]


def test_a_malicious_default_on_record_refuses_the_extension(
    prepared: Path, baseline, tmp_path: Path
) -> None:
    """The same store as the baseline, where R1 is granted, with one record more: C1's
    default the firm judged malicious, cured before the request (it still counts, S1 art.
    60); a later malicious record and a plain one do not count on the day.  The same record
    withdrawn on the day as recorded in error refuses nothing: R1 is granted as in the
    baseline, and the day's file reports the withdrawal (on that day only)."""
    copy = copy_of(prepared, tmp_path)
    malicious = DefaultEntry("M-C1", "C1", DefaultKind.BAD_CREDIT, date(2026, 11, 2), 0,
                             "恶意拖欠他行贷款", True, "risk1")  # fmt: skip
    _record(copy, malicious, cured_on=date(2026, 11, 10))
    _record(copy, replace(malicious, record_id="PLAIN-C1", malicious=False))
    _record(copy, replace(malicious, record_id="LATER-C1", occurred_on=NEXT))
    assert run(copy.engine, D, copy.settings()).complete
    granted = next(
        e for e in load_contract_events(baseline["copy"].engine) if e.event_id == "extension:R1"
    ).payload
    refused = next(
        e for e in load_contract_events(copy.engine) if e.event_id == "extension:R1"
    ).payload
    assert (granted["granted"], granted["malicious_default"], granted["malicious_records"]) == (
        True, False, []
    )  # fmt: skip
    assert (refused["granted"], refused["new_maturity"], refused["malicious_default"]) == (
        False, None, True
    )  # fmt: skip
    assert refused["malicious_records"] == ["M-C1"]
    # every other finding as for the client without the record
    swapped = {"NO_MALICIOUS_DEFAULT": "MALICIOUS_DEFAULT"}
    assert [[swapped.get(n, n), d] for n, d in granted["findings"]] == refused["findings"]
    assert granted["maintenance_ratio"] == refused["maintenance_ratio"]
    withdrawn = copy_of(prepared, tmp_path / "withdrawn")
    _record(withdrawn, malicious, cured_on=date(2026, 11, 10))
    mistake = DefaultWithdrawal("M-C1", D, "risk2", "客户代码录错, 应为他人")
    assert withdraw_default(withdrawn.engine, mistake, today=D, clock=_clock)
    assert run(withdrawn.engine, D, withdrawn.settings()).complete
    regranted = next(
        e for e in load_contract_events(withdrawn.engine) if e.event_id == "extension:R1"
    ).payload
    assert regranted == granted
    on_file = [row[:4] for row in _default_rows(withdrawn, D)]
    assert on_file[0] == ("M-C1", "客户C1", DefaultKind.BAD_CREDIT, RecordStatus.WITHDRAWN)
    run(withdrawn.engine, NEXT, withdrawn.settings())
    assert "M-C1" not in [row[0] for row in _default_rows(withdrawn, NEXT)]


def test_recorded_defaults_are_in_the_default_record_file_by_date(
    prepared: Path, baseline, tmp_path: Path
) -> None:
    copy = copy_of(prepared, tmp_path)
    charges = DefaultEntry("OC-C3", "C3", DefaultKind.OVERDUE_CHARGES, D, 1_150, "", False,
                           "risk1")  # fmt: skip
    _record(copy, charges)  # new on the 20th
    other = DefaultEntry("OT-C2", "C2", DefaultKind.OTHER, date(2026, 11, 16), 0, "拒绝配合调查",
                         False, "risk1")  # fmt: skip
    _record(copy, other, cured_on=D)  # cured on the 20th
    earlier = DefaultEntry("BC-C4", "C4", DefaultKind.BAD_CREDIT, date(2026, 11, 18), 0,
                           "征信报告有逾期", False, "risk1")  # fmt: skip
    _record(copy, earlier)  # open since the 18th
    gone = replace(earlier, record_id="BC-C5", client_id="C5")
    _record(copy, gone, cured_on=date(2026, 11, 19))  # cured before the 20th: not listed
    _record(copy, replace(charges, record_id="OC-C1", client_id="C1", occurred_on=NEXT))
    run(copy.engine, D, copy.settings())
    overdue = ("overdue:F2:2026-11-19", "客户C2", DefaultKind.OVERDUE_DEBT,
               RecordStatus.NEW)  # fmt: skip
    assert [row[:4] for row in _default_rows(copy, D)] == [  # by client, date, id
        ("OT-C2", "客户C2", DefaultKind.OTHER, RecordStatus.CURED),
        overdue,
        ("OC-C3", "客户C3", DefaultKind.OVERDUE_CHARGES, RecordStatus.NEW),
        ("BC-C4", "客户C4", DefaultKind.BAD_CREDIT, RecordStatus.CONTINUING),
    ]
    assert _default_rows(copy, D)[2][4] == 1_150
    summary = completed_steps(copy.engine, D)["reports"].summary
    assert summary["default_records"] == 4
    run(copy.engine, NEXT, copy.settings())
    assert [row[:4] for row in _default_rows(copy, NEXT)] == [
        ("OC-C1", "客户C1", DefaultKind.OVERDUE_CHARGES, RecordStatus.NEW),
        (overdue[0], "客户C2", DefaultKind.OVERDUE_DEBT, RecordStatus.CONTINUING),
        ("OC-C3", "客户C3", DefaultKind.OVERDUE_CHARGES, RecordStatus.CONTINUING),
        ("BC-C4", "客户C4", DefaultKind.BAD_CREDIT, RecordStatus.CONTINUING),
    ]


def test_reports_and_reconciliation(baseline) -> None:
    files = baseline["files"]
    assert {
        "settlement_20261120.csv", "reconciliation_20261120.csv", "contract_events_20261120.csv",
        "margin_calls_20261120.csv", "rzrq_daily_SH_20261120.csv", "rzrq_daily_SZ_20261120.xlsx",
        "rzrq_default_20261120.csv",
    } <= set(files)  # fmt: skip
    lines = files["rzrq_daily_SH_20261120.csv"].decode().splitlines()
    by_code = {line.split(",")[1]: line.split(",") for line in lines[1:]}
    # 600000: F1 + F2 owed, F4 bought and repaid directly the same day
    assert by_code["600000"][2:9] == ["20000.00", "20000.00", "20000.00", "0.00", "0.00", "0.00",
                                      "150000.00"]  # fmt: skip
    assert by_code["600036"][9] == "1000" and by_code["600036"][15] == "1000"  # sold short
    defaults = files["rzrq_default_20261120.csv"].decode().splitlines()
    assert len(defaults) == 2 and "overdue:F2:2026-11-19" in defaults[1]
    amount = 5_000_000 + simple_interest(5_000_000, FINANCING_RATE, 3) + 2500
    assert f"{amount // 100}.{amount % 100:02d}" in defaults[1]
    reconciliation = files["reconciliation_20261120.csv"].decode().splitlines()[1:]
    # This hand-built store received no clearing or bank file: listed, never assumed ok.
    assert [line.split(",")[:2] for line in reconciliation] == [
        ["accrual", "ok"], ["balances", "ok"], ["bank", "missing"], ["clearing", "missing"],
        ["conservation", "ok"], ["contracts", "ok"], ["pending", "ok"], ["receivables", "ok"],
        ["report", "ok"],
    ]  # fmt: skip


def test_a_second_run_changes_nothing(baseline, tmp_path: Path) -> None:
    copy = baseline["copy"]
    again = run(copy.engine, D, copy.settings())
    assert again.ran == [] and again.skipped == list(STEP_NAMES)
    after = outcome(copy)
    assert {k: after[k] for k in ("journal", "files", "steps", "events", "calls")} == {
        k: baseline[k] for k in ("journal", "files", "steps", "events", "calls")
    }


def test_the_next_day_carries_the_exact_residue_over_the_weekend(
    prepared: Path, tmp_path: Path
) -> None:
    copy = copy_of(prepared, tmp_path)
    run(copy.engine, D, copy.settings())
    second = run(copy.engine, NEXT, copy.settings())
    assert second.complete
    assert second.records["accrue"].summary["resumed_from"] == D.isoformat()
    with copy.engine.connect() as conn:
        rows = conn.execute(
            select(s.journal_transactions.c.events_json).where(
                s.journal_transactions.c.command_id.like("eod:%:charges:C1")
            )
        ).scalars()
        booked = sum(e.get("interest", 0) for row in rows for e in json.loads(row))
    # Saturday, Sunday and Monday accrue on Monday; six days in all, rounded once in total
    assert booked == simple_interest(10_000_000, FINANCING_RATE, 6)
    # Monday's report stands on Friday's files: its identities held against them
    assert second.records["reports"].summary["previous"] == D.isoformat()
    differences = second.records["reconcile"].summary["differences"]
    assert differences == {**dict.fromkeys(differences, 0), "bank": 1, "clearing": 1}


def test_the_accrual_advances_the_kept_debts_instead_of_reading_them_again(
    prepared: Path, tmp_path: Path
) -> None:
    """On a routine day every contract accrued already has its charges row: the context's
    debt rows after the accrual are the ones it read, advanced by what was posted, and they
    equal a fresh reading (the first day's new rows are read again)."""
    copy = copy_of(prepared, tmp_path)
    run(copy.engine, D, copy.settings())
    run(copy.engine, NEXT, copy.settings(), stop_after="settle")
    ctx = EodContext(copy.engine, NEXT, copy.settings())
    read = ctx.debt_rows()
    accrue_step(StepRun(ctx, "accrue", STEP_NAMES.index("accrue"), lambda done, total: None))
    with copy.engine.connect() as conn:
        now = last_seq(conn)
    assert ctx.debts_stand_at() == now  # kept, not dropped to be read again
    advanced = ctx.debt_rows()
    assert advanced is not read and advanced.accounts is read.accounts
    with copy.engine.connect() as conn:
        fresh = load_debt_rows(conn)
    assert advanced == fresh and advanced.amounts != read.amounts
    ctx.close()


def test_an_accrual_never_drops_pending_charges_it_cannot_place(
    prepared: Path, tmp_path: Path
) -> None:
    """A state resumed from whose pending charges name a contract the book does not hold
    stops the step, unchanged: dropping them would leave the control account holding
    charges no contract owes."""
    copy = copy_of(prepared, tmp_path)
    run(copy.engine, D, copy.settings())
    state = load_accruals(copy.engine, D, unit=1)
    kind, columns = sorted(state.kinds.items())[0]
    ghost = KindColumns(
        [*columns.contract_ids, "ZZ-GHOST"], np.append(columns.booked_fen, 0),
        np.append(columns.residue, 0), np.append(columns.pending_fen, 5),
    )  # fmt: skip
    kinds = {**state.kinds, kind: ghost}
    write_accruals(copy.engine, stored_accruals(D, replace(state, kinds=kinds)))
    with copy.engine.connect() as conn:
        before = last_seq(conn)
    with pytest.raises(PendingNotCarried, match="ZZ-GHOST has 5 fen pending"):
        run(copy.engine, NEXT, copy.settings())
    assert "accrue" not in completed_steps(copy.engine, NEXT)
    with copy.engine.connect() as conn:
        assert last_seq(conn) == before


def test_reconciliation_lists_a_difference_and_fixes_nothing(
    prepared: Path, tmp_path: Path
) -> None:
    copy = copy_of(prepared, tmp_path)
    run(copy.engine, D, copy.settings(), stop_after="reports")
    account = "client:C1:charges:F1"
    with copy.engine.begin() as conn:  # the projection drifts from the journal by one fen
        conn.execute(text(f"UPDATE balances SET amount = amount + 1 WHERE account = '{account}'"))
    report = run(copy.engine, D, copy.settings())
    owed = simple_interest(10_000_000, FINANCING_RATE, 3)
    lines = (copy.reports / "20261120" / "reconciliation_20261120.csv").read_text().splitlines()
    assert f"balances,difference,{account} CNY,{-owed},{1 - owed}" in lines
    assert "receivables,difference,firm:receivable:charges CNY," in "\n".join(lines)
    assert report.records["reconcile"].summary["differences"]["balances"] == 1
    with copy.engine.connect() as conn:
        left = conn.execute(text(f"SELECT amount FROM balances WHERE account = '{account}'"))
        assert left.scalar_one() == 1 - owed  # listed, not repaired


def test_a_report_that_disagrees_with_the_ledger_stops_the_end_of_day(
    prepared: Path, tmp_path: Path
) -> None:
    copy = copy_of(prepared, tmp_path)
    run(copy.engine, D, copy.settings())
    run(copy.engine, NEXT, copy.settings(), stop_after="next_day")
    tampered = "UPDATE balances SET amount = amount - 100 WHERE account = 'client:C1:financing:F1'"
    with copy.engine.begin() as conn:  # F1's principal no longer what Friday's report says
        conn.execute(text(tampered))
    with pytest.raises(ReportRefused, match="LEDGER_MISMATCH"):
        run(copy.engine, NEXT, copy.settings())
    assert set(completed_steps(copy.engine, NEXT)) == set(STEP_NAMES[: STEP_NAMES.index("reports")])
    assert not list((copy.reports / "20261123").glob("rzrq_*"))


# --------------------------------------------------------------------------- resuming


@pytest.mark.parametrize("stop_after", STEP_NAMES[:-1])
def test_resuming_after_each_step_gives_the_uninterrupted_result(
    prepared: Path, baseline, tmp_path: Path, stop_after: str
) -> None:
    copy = copy_of(prepared, tmp_path)
    first = run(copy.engine, D, copy.settings(), stop_after=stop_after)
    assert first.ran == list(STEP_NAMES[: STEP_NAMES.index(stop_after) + 1])
    assert [s.done for s in status(copy.engine, D)] == [name in first.ran for name in STEP_NAMES]
    rest = run(copy.engine, D, copy.settings())
    assert rest.skipped == first.ran and rest.complete
    result = outcome(copy)
    for key in ("journal", "files", "steps", "events", "calls"):
        assert result[key] == baseline[key], key


class Crash(BaseException):
    """Stands for the process dying: nothing catches it."""


@pytest.mark.parametrize(("step", "after_calls"), [("accrue", 1), ("accrue", 3), ("maturities", 1)])
def test_a_step_interrupted_half_way_completes_without_duplicates(
    prepared: Path, baseline, tmp_path: Path, step: str, after_calls: int
) -> None:
    copy = copy_of(prepared, tmp_path)
    calls = 0

    def crash(name: str, done: int, total: int) -> None:
        nonlocal calls
        if name == step:
            calls += 1
            if calls == after_calls:
                raise Crash

    with pytest.raises(Crash):
        run(copy.engine, D, copy.settings(batch=1), crash)
    assert step not in completed_steps(copy.engine, D)
    run(copy.engine, D, copy.settings(batch=1))
    # batch sizes differ from the baseline's: the moments differ, the content may not
    with copy.engine.connect() as conn:
        commands = (
            conn.execute(
                select(s.journal_transactions.c.command_id).where(
                    s.journal_transactions.c.command_id.like("eod:%")
                )
            )
            .scalars()
            .all()
        )
    assert sorted(commands) == [f"eod:{D}:charges:{c}" for c in CLIENTS]
    result = outcome(copy)
    assert result["files"] == baseline["files"] and result["events"] == baseline["events"]
    assert [r[:2] + r[3:5] for r in result["steps"]] == [r[:2] + r[3:5] for r in baseline["steps"]]


def test_the_same_interruption_replays_to_the_same_bytes(prepared: Path, tmp_path: Path) -> None:
    """Same batches: an interrupted and resumed run writes the uninterrupted journal."""
    whole = copy_of(prepared, tmp_path / "whole")
    run(whole.engine, D, whole.settings(batch=1))
    broken = copy_of(prepared, tmp_path / "broken")
    with pytest.raises(Crash):
        run(broken.engine, D, broken.settings(batch=1), _crash_at("accrue", 2))
    run(broken.engine, D, broken.settings(batch=1))
    assert journal_digest(broken.engine) == journal_digest(whole.engine)


def test_a_routine_accrual_resumed_half_way_ends_as_the_uninterrupted_day(
    prepared: Path, tmp_path: Path
) -> None:
    """On a routine day the accrual advances the debts it read by what it posted; resumed
    after a crash, its first batches replay (the rows it read already hold them), so the
    steps after read the debts again: the same journal, files and records."""
    whole, broken = copy_of(prepared, tmp_path / "whole"), copy_of(prepared, tmp_path / "broken")
    for copy in (whole, broken):
        run(copy.engine, D, copy.settings(batch=1))
    run(whole.engine, NEXT, whole.settings(batch=1))
    with pytest.raises(Crash):
        run(broken.engine, NEXT, broken.settings(batch=1), _crash_at("accrue", 2))
    run(broken.engine, NEXT, broken.settings(batch=1))
    mine, theirs = outcome(broken), outcome(whole)
    for key in ("journal", "files", "steps", "events", "calls"):
        assert mine[key] == theirs[key], key


def _crash_at(step: str, count: int):
    seen = {"n": 0}

    def crash(name: str, done: int, total: int) -> None:
        if name == step:
            seen["n"] += 1
            if seen["n"] == count:
                raise Crash

    return crash


# --------------------------------------------------------------------------- refusals, command


def test_refuses_a_holiday_and_a_later_day_while_an_earlier_one_is_open(
    prepared: Path, tmp_path: Path
) -> None:
    copy = copy_of(prepared, tmp_path)
    with pytest.raises(EodRefused, match="not a trading day"):
        run(copy.engine, date(2026, 11, 21), copy.settings())
    run(copy.engine, D, copy.settings(), stop_after="accrue")
    with pytest.raises(EodRefused, match="2026-11-20 is incomplete"):
        run(copy.engine, NEXT, copy.settings())
    with pytest.raises(KeyError):
        run(copy.engine, D, copy.settings(), stop_after="nap")


def _invoke(*args: str):
    app = typer.Typer()

    @app.callback()
    def root() -> None:
        """test root"""

    eod_cli.register(app)
    return CliRunner().invoke(app, list(args), env={"COLUMNS": "200"})


def test_the_command_runs_and_reports_status(prepared: Path, baseline, tmp_path: Path) -> None:
    copy = copy_of(prepared, tmp_path)
    url = str(copy.engine.url)
    pending = _invoke("eod", "status", D.isoformat(), "--store", url)
    assert pending.exit_code == 0 and f"0/{len(STEP_NAMES)} steps recorded" in pending.output
    done = _invoke("eod", "run", D.isoformat(), "--store", url, "--reports", str(copy.reports))
    assert done.exit_code == 0, done.output
    # no generated book here: the command charges from each contract's day of use
    assert completed_steps(copy.engine, D)["accrue"].summary["first_day"] == "2026-05-19"
    shown = _invoke("eod", "status", D.isoformat(), "--store", url)
    assert f"{len(STEP_NAMES)}/{len(STEP_NAMES)} steps recorded" in shown.output
    assert completed_steps(copy.engine, D)["reports"].digest[:16] in shown.output
    refused = _invoke("eod", "run", "2026-11-21", "--store", url)
    assert refused.exit_code == 1 and "not a trading day" in refused.output


def test_the_migration_creates_the_eod_tables_and_protects_the_records(tmp_path: Path) -> None:
    engine = make_sqlite_engine(tmp_path)
    mine = {*EOD_APPEND_ONLY_TABLES, "eod_accrual_states"}
    with engine.connect() as conn:
        diffs = compare_metadata(MigrationContext.configure(conn), s.metadata)
    assert mine <= set(s.metadata.tables)
    assert [d for d in diffs if any(name in str(d) for name in mine)] == []
    record = StepRecord(D, "settle", 0, "2026-11-20T16:09:00.000000+08:00", "ab" * 32, {})
    assert record_step(engine, record) and not record_step(engine, record)
    with pytest.raises(StepConflict):
        record_step(engine, replace(record, digest="cd" * 32))
    stamp = record.completed_at
    load_demo(engine, D, clock=_clock)
    assert save_closing_prices(engine, D, {"600000.SH": 10_010}) == 1
    assert save_closing_prices(engine, D, {"600000.SH": 10_010}) == 0
    with pytest.raises(ClosingPriceConflict):
        save_closing_prices(engine, D, {"600000.SH": 10_020})
    event = ContractEvent("expiry:F1:2026-11-25", "F1", "C1", D, "expiry_notice", D, {"a": 1})
    assert save_contract_events(engine, [event, event], stamp) == 1
    save_extension_request(engine, ExtensionRequestRecord("R1", "F1", "C1", D, None, D), stamp)
    save_security_events(engine, [SecurityTermEvent("e", "600000.SH", SUSPENDED, D, "n")], stamp)
    for table in EOD_APPEND_ONLY_TABLES:
        with pytest.raises(DBAPIError, match="append-only"), engine.begin() as conn:
            conn.execute(text(f"DELETE FROM {table}"))
    engine.dispose()


# --------------------------------------------------------------------------- the kernel

POLICY_CHOICES = st.builds(
    ChargePolicy,
    st.sampled_from(list(SameDayUse)),
    st.sampled_from([F(0), F("0.02"), F("0.0835")]),
    st.booleans(),
    st.just(RateBasis.IN_FORCE),
)
RATES = st.sampled_from([F(0), F("0.0835"), F("0.1035"), F("0.055"), F(1, 3), F("0.18")])
DAYS = 6
START = date(2026, 11, 16)


@st.composite
def contracts(draw: st.DrawFn) -> tuple[ContractTerms, list[int], date | None]:
    financing = draw(st.booleans())
    used = START + timedelta(days=draw(st.integers(0, 3)))
    amount = draw(st.integers(1, 10**9))
    quantity, price = draw(st.integers(1, 10**6)), draw(st.integers(1, 10**6))
    maturity = used + timedelta(days=draw(st.integers(0, 4)))
    kind = ContractKind.FINANCING if financing else ContractKind.SHORT
    terms = _terms("K", "C", "600000.SH", quantity, amount, price, used, maturity, kind)
    # end-of-day principal per day, zero before use; sometimes repaid the day of use
    owed = [
        0 if START + timedelta(days=d) < used else draw(st.integers(0, 10**9)) for d in range(DAYS)
    ]
    held = draw(st.booleans())  # a suspension holds the maturity
    return terms, owed, None if held else maturity


@settings(max_examples=60, deadline=None)
@given(
    st.lists(contracts(), min_size=1, max_size=4),
    st.lists(st.tuples(RATES, RATES), min_size=DAYS, max_size=DAYS),
    POLICY_CHOICES,
)
def test_kernel_books_what_accrue_day_books(cases, day_rates, policy) -> None:
    n = len(cases)
    financing = np.array([t.kind is ContractKind.FINANCING for t, _, _ in cases])
    used = np.array([t.used_date.toordinal() for t, _, _ in cases], dtype=np.int64)
    maturities = [kernel.NO_MATURITY if m is None else m.toordinal() for _, _, m in cases]
    columns = kernel.Contracts(
        financing, used, used.copy(), np.array(maturities, dtype=np.int64),
        np.array([t.price_li for t, _, _ in cases], dtype=np.int64),
        np.array([t.amount_fen * 10 if t.kind is ContractKind.FINANCING else t.quantity * t.price_li
                  for t, _, _ in cases], dtype=np.int64),
    )  # fmt: skip
    every = [r for pair in day_rates for r in pair] + [policy.management_fee_rate]
    denominator = kernel.common_denominator(every)
    state = kernel.AccrualState.empty(n, kernel.UNIT_PER_L * denominator)
    domain = [start_accrual(t) for t, _, _ in cases]
    owed = np.zeros(n, dtype=np.int64)
    for d in range(DAYS):
        day = START + timedelta(days=d)
        own, penalty = day_rates[d]
        today = np.array([o[d] for _, o, _ in cases], dtype=np.int64)
        changes = {day.toordinal(): (np.arange(n, dtype=np.intp), today - owed)}

        def rates_on(_: int, own: F = own, penalty: F = penalty) -> kernel.DayRates:
            return kernel.DayRates(
                np.full(n, kernel.scaled(own, denominator), np.int64),
                np.full(n, kernel.scaled(penalty, denominator), np.int64),
                kernel.scaled(policy.management_fee_rate, denominator),
                policy.same_day_use is SameDayUse.MANAGEMENT_FEE,
                policy.penalty_in_addition,
            )

        day_range = range(day.toordinal(), day.toordinal() + 1)
        state, posted, owed = kernel.accrue(columns, state, owed, changes, day_range, rates_on)
        for i, (terms, path, maturity) in enumerate(cases):
            if day < terms.used_date:
                assert not posted[i].any()
                continue
            rates = DayRates(own, penalty, policy.management_fee_rate)
            domain[i], charges = accrue_day(domain[i], terms, path[d], maturity, rates, policy)
            expected = [charges.amounts_fen.get(k, 0) for k in kernel.KINDS]
            assert posted[i].tolist() == expected, (i, day)
    for i in range(n):
        assert state.booked[i].tolist() == [domain[i].booked_fen(k) for k in kernel.KINDS]
        exact = [domain[i].exact_fen(k) - domain[i].booked_fen(k) for k in kernel.KINDS]
        assert [F(int(r), state.unit) for r in state.residue[i]] == exact
