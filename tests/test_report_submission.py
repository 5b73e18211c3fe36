"""The exchange's intake of members' daily submissions (REP-1, REP-2; S0 ch6): reviewed
against the previous trading day's report of record, judged on time / late / overdue under
the dated window, a resubmission before the cut-off overwriting, a refused one recording
nothing; on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta, timezone
from pathlib import Path

import pytest
import typer
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine, text
from sqlalchemy.exc import DBAPIError
from typer.testing import CliRunner

from liangrong.cli import report as report_cli
from liangrong.domain.default_records import DefaultKind, DefaultRecordRow, RecordStatus
from liangrong.domain.exchange_report import (
    DebtFigures,
    ExchangeReport,
    ReportRow,
    SubmissionStatus,
    SubmissionWindow,
    SubmittedReport,
)
from liangrong.domain.versions import Version
from liangrong.eod.files import day_dir
from liangrong.ledger import schema as s
from liangrong.market.intake import Refusal, SubmissionRefused, receive
from liangrong.reports.exchange_files import (
    default_records_csv,
    report_csv,
    write_default_files,
    write_report_files,
)
from liangrong.sim.demo_loader import load_shipped_calendar_into
from liangrong.store.report_submissions import (
    EXCHANGE_SUBMISSION_WINDOW,
    SUBMISSION_APPEND_ONLY_TABLES,
    SubmissionConflict,
    SubmissionWindowConflict,
    load_submission_windows,
    load_submissions,
    of_record,
    save_submission_windows,
    seed_submission_window,
)

CST = timezone(timedelta(hours=8))
THURSDAY, FRIDAY, MONDAY = date(2026, 11, 19), date(2026, 11, 20), date(2026, 11, 23)
SEC, OTHER = "600000.SH", "600036.SH"


def _clock() -> datetime:
    return datetime(2026, 11, 21, 8, 0, tzinfo=UTC)


@pytest.fixture
def intake(store: Engine) -> Engine:
    load_shipped_calendar_into(store, clock=_clock)
    seed_submission_window(store, clock=_clock)
    return store


def at(day: date, hour: int, minute: int = 0, second: int = 0, micro: int = 0) -> datetime:
    return datetime(day.year, day.month, day.day, hour, minute, second, micro, tzinfo=CST)


def row(day: date, security: str, financing: DebtFigures) -> ReportRow:
    return ReportRow(day, security, financing, DebtFigures(), None, 0, True)


def daily_file(day: date, *rows: ReportRow) -> bytes:
    return report_csv(ExchangeReport(day, rows, None), "SH")


THURSDAY_FILE = daily_file(
    THURSDAY, row(THURSDAY, SEC, DebtFigures(new=1_000_000, balance=1_000_000))
)
# Friday: 500,000 bought, 200,000 repaid directly: 1,300,000
FRIDAY_FILE = daily_file(
    FRIDAY, row(FRIDAY, SEC, DebtFigures(new=500_000, direct=200_000, balance=1_300_000))
)


def submit(
    engine: Engine, day: date, content: bytes, moment: datetime,
    report: SubmittedReport = SubmittedReport.DAILY, exchange: str = "SH",
):  # type: ignore[no-untyped-def]  # fmt: skip
    return receive(engine, report, exchange, day, f"file_{day:%Y%m%d}.csv", content, moment,
                   "ops1", clock=_clock)  # fmt: skip


def test_an_on_time_resubmission_replaces_the_earlier_and_a_late_one_does_not(
    intake: Engine,
) -> None:
    first = submit(intake, THURSDAY, THURSDAY_FILE, at(THURSDAY, 21))
    assert (first.status, first.of_record, first.new) == (SubmissionStatus.ON_TIME, True, True)
    # the exchange held no earlier report: the identities could not be checked
    assert not first.submission.identities_checked
    friday = submit(intake, FRIDAY, FRIDAY_FILE, at(FRIDAY, 21))
    assert friday.submission.identities_checked and friday.of_record
    # a second security bought the same day, resubmitted a microsecond before 22:00
    corrected = daily_file(
        FRIDAY,
        row(FRIDAY, SEC, DebtFigures(new=500_000, direct=200_000, balance=1_300_000)),
        row(FRIDAY, OTHER, DebtFigures(new=70_000, balance=70_000)),
    )
    last = submit(intake, FRIDAY, corrected, at(FRIDAY, 21, 59, 59, 999_999))
    assert (last.status, last.of_record) == (SubmissionStatus.ON_TIME, True)
    late = submit(intake, FRIDAY, corrected, at(FRIDAY, 22))  # 22:00:00 is after the cut-off
    assert (late.status, late.of_record) == (SubmissionStatus.LATE, False)
    held = load_submissions(intake, FRIDAY, SubmittedReport.DAILY, "SH")
    assert [h.decision.status for h in held] == [
        SubmissionStatus.ON_TIME, SubmissionStatus.ON_TIME, SubmissionStatus.LATE,
    ]  # fmt: skip
    chosen = of_record(held)
    assert chosen is not None and chosen.content == corrected
    assert chosen.decision.submitted_at == at(FRIDAY, 21, 59, 59, 999_999)
    assert chosen.submitted_by == "ops1" and chosen.file_name == "file_20261120.csv"


def test_a_late_submission_counts_only_without_an_on_time_one_until_the_next_morning(
    intake: Engine,
) -> None:
    late = submit(intake, FRIDAY, FRIDAY_FILE, at(FRIDAY, 23, 30))
    assert (late.status, late.of_record) == (SubmissionStatus.LATE, True)
    # the next trading day is Monday: the weekend is still late, 11:00 on Monday is not
    sunday = submit(intake, FRIDAY, FRIDAY_FILE, at(date(2026, 11, 22), 12))
    assert (sunday.status, sunday.of_record) == (SubmissionStatus.LATE, True)
    overdue = submit(intake, FRIDAY, FRIDAY_FILE, at(MONDAY, 11))
    assert (overdue.status, overdue.of_record) == (SubmissionStatus.OVERDUE, False)
    # the late deadline is judged in the exchange's time: 03:00 UTC is 11:00 in Beijing
    in_utc = submit(intake, FRIDAY, FRIDAY_FILE, datetime(2026, 11, 23, 2, 59, tzinfo=UTC))
    assert (in_utc.status, in_utc.of_record) == (SubmissionStatus.LATE, True)


def test_the_review_refuses_a_broken_identity_and_records_nothing(intake: Engine) -> None:
    submit(intake, THURSDAY, THURSDAY_FILE, at(THURSDAY, 20))
    wrong = daily_file(
        FRIDAY, row(FRIDAY, SEC, DebtFigures(new=500_000, direct=200_000, balance=1_300_001))
    )
    with pytest.raises(SubmissionRefused) as refused:
        submit(intake, FRIDAY, wrong, at(FRIDAY, 21))
    assert refused.value.code is Refusal.REVIEW_FAILED
    assert refused.value.reasons == [
        "FINANCING_IDENTITY: financing balance != yesterday + buys - repaid 600000.SH: "
        "1300001 != 1300000"
    ]
    # a security open at Thursday's close left out of Friday's report
    dropped = daily_file(FRIDAY, row(FRIDAY, OTHER, DebtFigures(new=1, balance=1)))
    with pytest.raises(SubmissionRefused, match="DROPPED_OPEN_SECURITY"):
        submit(intake, FRIDAY, dropped, at(FRIDAY, 21))
    assert load_submissions(intake, FRIDAY) == []


def test_without_the_previous_days_report_every_check_but_the_identities_runs(
    intake: Engine,
) -> None:
    unchecked = daily_file(
        FRIDAY, row(FRIDAY, SEC, DebtFigures(new=500_000, direct=200_000, balance=1_300_001))
    )
    received = submit(intake, FRIDAY, unchecked, at(FRIDAY, 21))
    assert received.of_record and not received.submission.identities_checked
    negative = daily_file(FRIDAY, row(FRIDAY, OTHER, DebtFigures(new=-5, balance=0)))
    with pytest.raises(SubmissionRefused, match="NEGATIVE_FIGURE"):
        submit(intake, FRIDAY, negative, at(FRIDAY, 21, 5))
    # Thursday's file handed in as Friday's: rows of another date
    with pytest.raises(SubmissionRefused, match="WRONG_DATE"):
        submit(intake, FRIDAY, THURSDAY_FILE, at(FRIDAY, 21, 10))
    assert len(load_submissions(intake, FRIDAY)) == 1


@pytest.mark.parametrize(
    ("day", "moment", "exchange", "content", "code"),
    [
        (FRIDAY, at(FRIDAY, 21), "NY", FRIDAY_FILE, Refusal.UNKNOWN_EXCHANGE),
        (date(2026, 11, 21), at(date(2026, 11, 21), 21), "SH", FRIDAY_FILE,
         Refusal.NOT_A_TRADING_DAY),
        (FRIDAY, at(THURSDAY, 23), "SH", FRIDAY_FILE, Refusal.BEFORE_THE_DATE),
        (FRIDAY, at(FRIDAY, 21), "SH", b"\xff\xfe not a report", Refusal.UNREADABLE),
        (FRIDAY, at(FRIDAY, 21), "SH", b"a,b\n1,2\n", Refusal.UNREADABLE),
        (FRIDAY, at(FRIDAY, 21), "SH", FRIDAY_FILE.replace(b"\n", b"\x00\n"), Refusal.UNREADABLE),
        (FRIDAY, at(FRIDAY, 21), "SH", FRIDAY_FILE[:-9], Refusal.UNREADABLE),
        (date(2009, 6, 1), at(date(2009, 6, 1), 21), "SH", FRIDAY_FILE, Refusal.NO_WINDOW),
    ],
)  # fmt: skip
def test_each_refusal_has_its_code_and_records_nothing(
    intake: Engine, day: date, moment: datetime, exchange: str, content: bytes, code: Refusal
) -> None:
    with pytest.raises(SubmissionRefused) as refused:
        submit(intake, day, content, moment, exchange=exchange)
    assert refused.value.code is code and refused.value.reasons
    assert load_submissions(intake, day) == []


def test_the_same_submission_again_changes_nothing_and_another_file_then_is_refused(
    intake: Engine,
) -> None:
    assert submit(intake, FRIDAY, FRIDAY_FILE, at(FRIDAY, 21)).new
    again = submit(intake, FRIDAY, FRIDAY_FILE, at(FRIDAY, 21))
    assert not again.new and again.of_record
    other = daily_file(FRIDAY, row(FRIDAY, SEC, DebtFigures(new=9, balance=9)))
    with pytest.raises(SubmissionConflict):
        submit(intake, FRIDAY, other, at(FRIDAY, 21))
    assert len(load_submissions(intake, FRIDAY)) == 1
    with pytest.raises(ValueError, match="time zone"):
        submit(intake, FRIDAY, FRIDAY_FILE, datetime(2026, 11, 20, 21))


def _default_row(day: date, event_id: str) -> DefaultRecordRow:
    return DefaultRecordRow(day, event_id, "C1", "客户C1", DefaultKind.OVERDUE_DEBT, THURSDAY,
                            1_000, RecordStatus.CONTINUING, "F1 maturity 2026-11-19")  # fmt: skip


def test_default_records_are_submitted_to_each_exchange_and_reviewed(intake: Engine) -> None:
    empty = default_records_csv([])
    for exchange in ("SH", "SZ"):
        received = submit(intake, FRIDAY, empty, at(FRIDAY, 21), SubmittedReport.DEFAULTS,
                          exchange)  # fmt: skip
        assert received.of_record
    listed = default_records_csv([_default_row(FRIDAY, "overdue:F1")])
    assert submit(intake, FRIDAY, listed, at(FRIDAY, 21, 30), SubmittedReport.DEFAULTS).of_record
    stale = default_records_csv([_default_row(THURSDAY, "overdue:F1")])
    with pytest.raises(SubmissionRefused, match="is of 2026-11-19"):
        submit(intake, FRIDAY, stale, at(FRIDAY, 21, 40), SubmittedReport.DEFAULTS)
    twice = default_records_csv([_default_row(FRIDAY, "x"), _default_row(FRIDAY, "x")])
    with pytest.raises(SubmissionRefused, match="record x twice"):
        submit(intake, FRIDAY, twice, at(FRIDAY, 21, 50), SubmittedReport.DEFAULTS)
    held = load_submissions(intake, FRIDAY, SubmittedReport.DEFAULTS)
    assert [(h.exchange, h.decision.submitted_at.hour) for h in held] == [
        ("SH", 13),
        ("SH", 13),
        ("SZ", 13),
    ]  # fmt: skip  (stored in UTC: 21:00 and 21:30 in Beijing)
    assert load_submissions(intake, FRIDAY, SubmittedReport.DAILY) == []


def test_the_window_is_a_dated_parameter(intake: Engine) -> None:
    stricter = Version("test-2026-11-20", FRIDAY, SubmissionWindow(time(21), time(10)), "test")
    assert save_submission_windows(intake, [stricter], clock=_clock) == 1
    assert save_submission_windows(intake, [stricter, EXCHANGE_SUBMISSION_WINDOW],
                                   clock=_clock) == 0  # fmt: skip
    assert [v.version_id for v in load_submission_windows(intake).versions] == [
        EXCHANGE_SUBMISSION_WINDOW.version_id, "test-2026-11-20",
    ]  # fmt: skip
    assert submit(intake, THURSDAY, THURSDAY_FILE, at(THURSDAY, 21, 30)).status is (
        SubmissionStatus.ON_TIME
    )
    assert submit(intake, FRIDAY, FRIDAY_FILE, at(FRIDAY, 21, 30)).status is SubmissionStatus.LATE
    changed = Version(stricter.version_id, FRIDAY, SubmissionWindow(time(20), time(10)), "test")
    with pytest.raises(SubmissionWindowConflict):
        save_submission_windows(intake, [changed], clock=_clock)


def test_the_migration_creates_the_tables_and_protects_them(intake: Engine) -> None:
    with intake.connect() as conn:
        diffs = compare_metadata(MigrationContext.configure(conn), s.metadata)
    assert [d for d in diffs if any(t in str(d) for t in SUBMISSION_APPEND_ONLY_TABLES)] == []
    submit(intake, FRIDAY, FRIDAY_FILE, at(FRIDAY, 21))
    for statement in (
        "UPDATE report_submissions SET status = 'on_time'",
        "DELETE FROM report_submissions",
        "UPDATE submission_windows SET source = 'x'",
    ):
        with pytest.raises(DBAPIError, match="append-only"), intake.begin() as conn:
            conn.execute(text(statement))


# --------------------------------------------------------------------------- the command


def _invoke(*args: str):  # type: ignore[no-untyped-def]
    app = typer.Typer()
    report_cli.register(app)
    return CliRunner().invoke(app, list(args), env={"COLUMNS": "250"})


def test_the_command_submits_the_days_files_from_the_reports_folder(
    tmp_path: Path,
) -> None:
    url = f"sqlite:///{tmp_path / 'store.sqlite'}"
    from liangrong.cli.store_option import open_store

    engine = open_store(url)
    load_shipped_calendar_into(engine, clock=_clock)
    seed_submission_window(engine, clock=_clock)
    reports = tmp_path / "reports"
    folder = day_dir(reports, FRIDAY)
    report = ExchangeReport(FRIDAY, (row(FRIDAY, SEC, DebtFigures(new=5, balance=5)),), None)
    write_report_files(folder, report)
    write_default_files(folder, FRIDAY, [])
    common = ("--reports", str(reports), "--store", url, "--user", "ops1")
    done = _invoke("report", "submit", "2026-11-20", "--exchange", "SH",
                   "--at", "2026-11-20T21:00+08:00", *common)  # fmt: skip
    assert done.exit_code == 0, done.output
    assert "daily:SH:2026-11-20:2026-11-20T13:00:00.000000+00:00: on_time" in done.output
    assert "of record" in done.output and "identities not checked" in done.output
    late = _invoke("report", "submit", "2026-11-20", "--exchange", "SZ", "--report", "defaults",
                   "--at", "2026-11-20T22:05+08:00", *common)  # fmt: skip
    assert late.exit_code == 0 and "late" in late.output, late.output
    missing = _invoke("report", "submit", "2026-11-19", "--exchange", "SH", *common)
    assert missing.exit_code == 1 and "no file to submit" in missing.output
    naive = _invoke("report", "submit", "2026-11-20", "--exchange", "SH",
                    "--at", "2026-11-20T21:00", *common)  # fmt: skip
    assert naive.exit_code == 2 and "no UTC offset" in naive.output
    refused = _invoke("report", "submit", "2026-11-20", "--exchange", "XX",
                      "--at", "2026-11-20T21:00+08:00", *common)  # fmt: skip
    assert refused.exit_code == 2 and "'XX' is not one of 'SH', 'SZ'" in refused.output
    none = _invoke("report", "submit", "2026-11-20", "--exchange", "SZ",
                    "--at", "2026-11-20T21:00+08:00", *common)  # fmt: skip
    # no business at SZ: its file has no rows, and is still submitted (S0 ch6 §1)
    assert none.exit_code == 0 and "on_time" in none.output, none.output
    listed = _invoke("report", "submissions", "2026-11-20", "--store", url)
    assert listed.exit_code == 0, listed.output
    lines = [line for line in listed.output.splitlines() if "ops1" in line]
    assert len(lines) == 3 and all(line.lstrip("│ ").startswith("*") for line in lines)
    assert "daily" in lines[0] and "SH" in lines[0] and "on_time" in lines[0]
    assert "daily" in lines[1] and "SZ" in lines[1] and "on_time" in lines[1]
    assert "defaults" in lines[2] and "late" in lines[2]
    assert len(load_submissions(engine, FRIDAY)) == 3
