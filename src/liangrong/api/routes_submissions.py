"""The day's files handed to the exchanges' intake (REP-1, REP-2; ``market.intake``): a
submission at the session's own (simulated) time, and what the exchanges hold for a date.

Invariants: a refused submission is a 422 with the intake's code and every reason, and
records nothing; only the service's trading date may be submitted (its clock is that day's).
"""

from __future__ import annotations

from datetime import UTC, date
from typing import Annotated

from fastapi import APIRouter, Depends

from liangrong.api.access import Caller, allow
from liangrong.api.problems import CONFLICT, PROBLEM_RESPONSES, Problem
from liangrong.api.routes_day import DatePath, parse_day
from liangrong.api.schemas import SubmissionIn, SubmissionOut
from liangrong.domain.access import Action
from liangrong.domain.exchange_report import SubmittedReport
from liangrong.eod.files import day_dir
from liangrong.market.intake import SubmissionRefused, receive
from liangrong.reports.exchange_files import submission_file
from liangrong.store.report_submissions import Submission, load_submissions, of_record_ids

router = APIRouter(prefix="/api/v1", responses=PROBLEM_RESPONSES)


def _out(s: Submission, chosen: bool) -> SubmissionOut:
    d = s.decision
    return SubmissionOut(
        submission_id=s.submission_id, report=s.report.value, exchange=s.exchange,
        trading_date=s.trading_date.isoformat(),
        submitted_at=d.submitted_at.astimezone(UTC).isoformat(),
        status=d.status.value, file_name=s.file_name, sha256=s.digest,
        identities_checked=s.identities_checked, submitted_by=s.submitted_by,
        of_record=chosen,
    )  # fmt: skip


@router.post(
    "/submissions/{day}", response_model=SubmissionOut, status_code=201, tags=["end of day"]
)
def submit(
    day: DatePath,
    body: SubmissionIn,
    caller: Annotated[Caller, Depends(allow(Action.SUBMIT_REPORT))],
) -> SubmissionOut:
    """Submit the day's daily report or default records to one exchange, at the session's
    time; the exchange reviews it and records it on time, late or overdue."""
    on: date = parse_day(day)
    live = caller.service.market
    caller.request.state.subject = f"{body.report} {body.exchange} {day}"
    if on != live.session.day:
        raise Problem(409, CONFLICT, f"this service runs {live.session.day}, not {on}")
    report = SubmittedReport(body.report)
    path = submission_file(day_dir(caller.service.reports_dir, on), on, report, body.exchange)
    if not path.is_file():
        raise Problem(409, CONFLICT, f"no {body.report} file for {day}: run the end of day first")
    try:
        received = receive(
            caller.service.engine, report, body.exchange, on, path.name, path.read_bytes(),
            live.session.at, caller.user.user_id, clock=caller.service.now,
        )  # fmt: skip
    except SubmissionRefused as exc:
        raise Problem(422, exc.code.name, str(exc)) from None
    return _out(received.submission, received.of_record)


@router.get("/submissions/{day}", response_model=list[SubmissionOut], tags=["end of day"])
def submissions(
    day: DatePath, caller: Annotated[Caller, Depends(allow(Action.READ_EOD))]
) -> list[SubmissionOut]:
    """What the exchanges hold for a date, oldest first, each report's one of record marked."""
    found = load_submissions(caller.service.engine, parse_day(day))
    chosen = of_record_ids(found)
    return [_out(s, s.submission_id in chosen) for s in found]
