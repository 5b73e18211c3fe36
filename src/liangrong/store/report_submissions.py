"""The members' report submissions to the exchanges (REP-1, REP-2; S0 ch6), migration
``0015_report_submissions``:

- ``submission_windows``: the exchanges' dated deadlines (``SubmissionWindow`` versions, a
  ``DatedVersions`` table): on time before 22:00 of the trading date, completed late before
  11:00 of the next trading day;
- ``report_submissions``: each submission the exchange accepted (passed its review), with
  the file as submitted, when, by whom, and the status judged at that instant.

Invariants:
- both tables are append-only (the database refuses UPDATE and DELETE); "a resubmission
  overwrites" is how they are read, never a rewrite: the submission of record of a report,
  exchange and date is the last on time, else the last late, else the last overdue
  (``domain.exchange_report.submission_of_record``);
- a submission's id is (report, exchange, trading date, the instant submitted in UTC):
  recording it again with the same file changes nothing, with another file is refused
  (``SubmissionConflict``);
- the stored decision is the one judged when it was submitted, under the window then in
  force; a later window version never re-judges it.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import (
    Boolean,
    Column,
    Date,
    Engine,
    Row,
    String,
    Table,
    Text,
    UniqueConstraint,
    select,
)

from liangrong.domain.exchange_report import (
    SubmissionDecision,
    SubmissionStatus,
    SubmissionWindow,
    SubmittedReport,
    submission_of_record,
)
from liangrong.domain.versions import History, Version
from liangrong.ledger.schema import metadata
from liangrong.store.dated_versions import DatedVersions, dated_table
from liangrong.store.reference import Clock, ReferenceConflict, stamp, write_lock

submission_windows = dated_table("submission_windows")
report_submissions = Table(
    "report_submissions",
    metadata,
    Column("submission_id", String(96), primary_key=True),
    Column("report", String(16), nullable=False),
    Column("exchange", String(8), nullable=False),
    Column("trading_date", Date, nullable=False),
    Column("submitted_at", String(40), nullable=False),  # ISO 8601, UTC
    Column("status", String(16), nullable=False),
    Column("cut_off_at", String(40), nullable=False),
    Column("late_deadline_at", String(40), nullable=False),
    Column("file_name", String(96), nullable=False),
    Column("digest", String(64), nullable=False),  # sha256 of the file's bytes
    Column("content", Text, nullable=False),  # the file as submitted (UTF-8 CSV)
    Column("identities_checked", Boolean, nullable=False),
    Column("submitted_by", String(64), nullable=False),
    Column("recorded_at", String(32), nullable=False),
    UniqueConstraint(
        "report", "exchange", "trading_date", "submitted_at", name="uq_report_submissions_at"
    ),
)
SUBMISSION_APPEND_ONLY_TABLES = ("submission_windows", "report_submissions")

# S0 ch6 §1: reported before 22:00 each trading day; a member that cannot completes it
# before 11:00 of the next trading day.  The guide carries no date: in force since the
# business began (2010-03-31).
EXCHANGE_SUBMISSION_WINDOW = Version(
    "sse-guide-ch6",
    date(2010, 3, 31),
    SubmissionWindow(time(22, 0), time(11, 0)),
    "上交所融资融券会员业务指南 第六章 一: 每个交易日22:00前报送, 次一交易日上午11点前完成补充报送",
)


class SubmissionConflict(ReferenceConflict):
    """A submission id recorded with another file."""


def encode_window(window: SubmissionWindow) -> str:
    offset_minutes = window.utc_offset // timedelta(minutes=1)
    document = {
        "cut_off": window.cut_off.isoformat(),
        "late_deadline": window.late_deadline.isoformat(),
        "utc_offset_minutes": offset_minutes,
    }
    return json.dumps(document, sort_keys=True, separators=(",", ":"))


def decode_window(text: str) -> SubmissionWindow:
    document = json.loads(text)
    return SubmissionWindow(
        time.fromisoformat(document["cut_off"]),
        time.fromisoformat(document["late_deadline"]),
        timedelta(minutes=int(document["utc_offset_minutes"])),
    )


class SubmissionWindowConflict(ReferenceConflict):
    """A submission window version id recorded with another date, value or source."""


_WINDOWS = DatedVersions(
    submission_windows, "submission window", encode_window, decode_window,
    SubmissionWindowConflict,
)  # fmt: skip


def save_submission_windows(
    engine: Engine, versions: Iterable[Version[SubmissionWindow]], *, clock: Clock
) -> int:
    return _WINDOWS.save(engine, versions, clock=clock)


def load_submission_windows(engine: Engine) -> History[SubmissionWindow]:
    return _WINDOWS.history(engine)


def seed_submission_window(engine: Engine, *, clock: Clock) -> int:
    """The exchange's window from the guide (idempotent)."""
    return save_submission_windows(engine, [EXCHANGE_SUBMISSION_WINDOW], clock=clock)


# --------------------------------------------------------------------------- submissions


@dataclass(frozen=True, slots=True)
class Submission:
    """One accepted submission: the file and the decision judged when it arrived."""

    report: SubmittedReport
    exchange: str
    decision: SubmissionDecision
    file_name: str
    content: bytes
    identities_checked: bool  # the exchange held the previous trading day's report
    submitted_by: str

    @property
    def trading_date(self) -> date:
        return self.decision.trading_date

    @property
    def submission_id(self) -> str:
        at = _utc_text(self.decision.submitted_at)
        return f"{self.report.value}:{self.exchange}:{self.trading_date.isoformat()}:{at}"

    @property
    def digest(self) -> str:
        return hashlib.sha256(self.content).hexdigest()


def _utc_text(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


def _row(submission: Submission, recorded_at: str) -> dict[str, object]:
    d = submission.decision
    return {
        "submission_id": submission.submission_id,
        "report": submission.report.value,
        "exchange": submission.exchange,
        "trading_date": submission.trading_date,
        "submitted_at": _utc_text(d.submitted_at),
        "status": d.status.value,
        "cut_off_at": d.cut_off_at.isoformat(),
        "late_deadline_at": d.late_deadline_at.isoformat(),
        "file_name": submission.file_name,
        "digest": submission.digest,
        "content": submission.content.decode("utf-8"),
        "identities_checked": submission.identities_checked,
        "submitted_by": submission.submitted_by,
        "recorded_at": recorded_at,
    }


def record_submission(engine: Engine, submission: Submission, *, clock: Clock) -> bool:
    """Record an accepted submission; False when it was recorded before (same file)."""
    t = report_submissions
    with write_lock(engine) as conn:
        found = conn.execute(
            select(t.c.digest).where(t.c.submission_id == submission.submission_id)
        ).first()
        if found is not None:
            if found.digest != submission.digest:
                raise SubmissionConflict(
                    f"submission {submission.submission_id} is recorded with another file"
                )
            return False
        conn.execute(t.insert(), [_row(submission, stamp(clock))])
    return True


def _submission(row: Row[Any]) -> Submission:
    r = row._mapping
    decision = SubmissionDecision(
        r["trading_date"],
        datetime.fromisoformat(r["submitted_at"]),
        SubmissionStatus(r["status"]),
        datetime.fromisoformat(r["cut_off_at"]),
        datetime.fromisoformat(r["late_deadline_at"]),
    )
    return Submission(
        SubmittedReport(r["report"]), r["exchange"], decision, r["file_name"],
        str(r["content"]).encode("utf-8"), bool(r["identities_checked"]), r["submitted_by"],
    )  # fmt: skip


def load_submissions(
    engine: Engine,
    trading_date: date,
    report: SubmittedReport | None = None,
    exchange: str | None = None,
) -> list[Submission]:
    """The accepted submissions of a trading date, oldest first (by report, exchange)."""
    t = report_submissions
    query = select(t).where(t.c.trading_date == trading_date)
    if report is not None:
        query = query.where(t.c.report == report.value)
    if exchange is not None:
        query = query.where(t.c.exchange == exchange)
    with engine.connect() as conn:
        rows = conn.execute(query.order_by(t.c.report, t.c.exchange, t.c.submitted_at)).all()
    return [_submission(row) for row in rows]


def of_record(submissions: list[Submission]) -> Submission | None:
    """The one the exchange uses among one report's, exchange's and date's submissions."""
    chosen = submission_of_record(s.decision for s in submissions)
    return next((s for s in submissions if s.decision == chosen), None)


def of_record_ids(submissions: Iterable[Submission]) -> set[str]:
    """The ids of the ones of record among any submissions: one per report, exchange and
    trading date that has any."""
    groups: dict[tuple[SubmittedReport, str, date], list[Submission]] = {}
    for s in submissions:
        groups.setdefault((s.report, s.exchange, s.trading_date), []).append(s)
    chosen = (of_record(group) for group in groups.values())
    return {c.submission_id for c in chosen if c is not None}
