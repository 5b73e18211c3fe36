"""The exchange's intake of a member's daily submissions (S0 ch6; REP-1, REP-2): the file
is read, reviewed (审核) and, when it passes, recorded with the status of the instant it
arrived (on time, late, overdue) under the window in force on its trading date.

Review: the daily report's rows (``domain.exchange_report.review_rows``) against the
member's report of record of the previous trading day at this exchange (without one, every
check but the identities); the default records' rows, all of the trading date with unique
ids (``domain.default_records.review_default_rows``).  A refused submission raises
``SubmissionRefused`` with a code and every reason, and records nothing.

Invariants: the exchange never reads the member's ledger here, only submitted files; the
one of record is the last on time (a resubmission before the cut-off overwrites), a late
one counts only when none came on time (``store.report_submissions.of_record``).
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from datetime import date, datetime
from enum import Enum

from sqlalchemy import Engine

from liangrong.domain.default_records import review_default_rows
from liangrong.domain.exchange_report import (
    ReportRow,
    SubmissionStatus,
    SubmittedReport,
    judge_submission,
    review_rows,
)
from liangrong.reports.exchange_files import EXCHANGES, read_default_records_csv, read_report_csv
from liangrong.store.calendar_loads import load_calendar
from liangrong.store.reference import Clock
from liangrong.store.report_submissions import (
    Submission,
    load_submission_windows,
    load_submissions,
    of_record,
    of_record_ids,
    record_submission,
)

# What reading a file that is not the report's layout raises (a decoding error is a ValueError).
_UNREADABLE = (ValueError, KeyError, IndexError, csv.Error)


class Refusal(Enum):
    UNKNOWN_EXCHANGE = "no such exchange"
    UNREADABLE = "the file cannot be read as the report's layout"
    NOT_A_TRADING_DAY = "not a trading day"
    NO_WINDOW = "no submission window in force"
    BEFORE_THE_DATE = "submitted before its trading date"
    REVIEW_FAILED = "the review found errors"  # 审核不通过


class SubmissionRefused(ValueError):
    def __init__(self, code: Refusal, reasons: list[str]) -> None:
        self.code, self.reasons = code, reasons
        super().__init__(f"{code.name}: {code.value}: " + "; ".join(reasons))


@dataclass(frozen=True, slots=True)
class Received:
    submission: Submission
    new: bool  # False: this very submission was recorded before
    of_record: bool  # it is now the one the exchange uses for its date

    @property
    def status(self) -> SubmissionStatus:
        return self.submission.decision.status


def _daily_rows(exchange: str, content: bytes) -> tuple[ReportRow, ...]:
    try:
        return read_report_csv(content, exchange)
    except _UNREADABLE as exc:
        raise SubmissionRefused(Refusal.UNREADABLE, [str(exc)]) from None


def _previous_rows(
    engine: Engine, exchange: str, previous_day: date
) -> tuple[ReportRow, ...] | None:
    earlier = of_record(load_submissions(engine, previous_day, SubmittedReport.DAILY, exchange))
    return None if earlier is None else read_report_csv(earlier.content, exchange)


def _review_daily(
    engine: Engine, exchange: str, day: date, previous_day: date, content: bytes
) -> tuple[list[str], bool]:
    rows = _daily_rows(exchange, content)
    previous = _previous_rows(engine, exchange, previous_day)
    found = review_rows(day, previous, rows)
    return [f"{v.code.name}: {v.message_en}" for v in found], previous is not None


def _review_defaults(day: date, content: bytes) -> list[str]:
    try:
        rows = read_default_records_csv(content)
    except _UNREADABLE as exc:
        raise SubmissionRefused(Refusal.UNREADABLE, [str(exc)]) from None
    return review_default_rows(day, rows)


def receive(
    engine: Engine,
    report: SubmittedReport,
    exchange: str,
    day: date,
    file_name: str,
    content: bytes,
    submitted_at: datetime,
    submitted_by: str,
    *,
    clock: Clock,
) -> Received:
    """Review a member's file for ``day`` and record it when it passes."""
    if submitted_at.utcoffset() is None:
        raise ValueError("submitted_at needs a time zone")
    if exchange not in EXCHANGES:
        raise SubmissionRefused(Refusal.UNKNOWN_EXCHANGE, [f"{exchange!r}: one of {EXCHANGES}"])
    calendar = load_calendar(engine)
    if not calendar.is_trading_day(day):
        raise SubmissionRefused(Refusal.NOT_A_TRADING_DAY, [day.isoformat()])
    try:
        decision = judge_submission(
            day, submitted_at, calendar.next_trading_day(day), load_submission_windows(engine)
        )
    except LookupError as exc:
        raise SubmissionRefused(Refusal.NO_WINDOW, [str(exc)]) from None
    except ValueError as exc:
        raise SubmissionRefused(Refusal.BEFORE_THE_DATE, [str(exc)]) from None
    checked = False
    if report is SubmittedReport.DAILY:
        reasons, checked = _review_daily(
            engine, exchange, day, calendar.previous_trading_day(day), content
        )
    else:
        reasons = _review_defaults(day, content)
    if reasons:
        raise SubmissionRefused(Refusal.REVIEW_FAILED, reasons)
    submission = Submission(report, exchange, decision, file_name, content, checked, submitted_by)
    new = record_submission(engine, submission, clock=clock)
    held = load_submissions(engine, day, report, exchange)
    return Received(submission, new, submission.submission_id in of_record_ids(held))
