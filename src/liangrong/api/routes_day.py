"""The day and the service itself: the market's progress, the end of day's steps and its
report files (REP-1, REP-2), users and their keys, the audit log (GOV-6).
"""

from __future__ import annotations

from dataclasses import asdict
from datetime import date
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query
from fastapi.responses import FileResponse

from liangrong.api.access import Caller, allow
from liangrong.api.market import EodNotReady
from liangrong.api.problems import CONFLICT, NOT_FOUND, PROBLEM_RESPONSES, Problem
from liangrong.api.schemas import (
    DATE_PATTERN,
    AuditOut,
    EodOut,
    KeyOut,
    MarketOut,
    ReportFileOut,
    StepOut,
    UserIn,
    UserOut,
)
from liangrong.domain.access import Action, Role, granted
from liangrong.eod.files import day_dir
from liangrong.eod.runner import status
from liangrong.store.api_access import UserConflict, audit_entries

router = APIRouter(prefix="/api/v1", responses=PROBLEM_RESPONSES)
DatePath = Annotated[str, Path(pattern=DATE_PATTERN, description="YYYY-MM-DD")]
FILE_PATTERN = r"^[A-Za-z0-9_.-]{1,96}$"


def parse_day(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise Problem(404, NOT_FOUND, f"{text} is not a date") from None


@router.get("/me", response_model=UserOut, tags=["service"])
def me(caller: Annotated[Caller, Depends(allow(Action.READ_ACCOUNTS))]) -> UserOut:
    """Who the key belongs to and what their role may do."""
    user = caller.user
    actions = sorted(a.value for a in granted(user.role))
    return UserOut(user_id=user.user_id, role=user.role.value, client_id=user.client_id,
                   actions=actions)  # fmt: skip


@router.get("/market", response_model=MarketOut, tags=["service"])
def market(caller: Annotated[Caller, Depends(allow(Action.READ_ACCOUNTS))]) -> MarketOut:
    """The session's progress: the simulated time, snapshots taken, whether it closed."""
    live = caller.service.market
    with live.lock:
        session = live.session
        return MarketOut(
            trading_date=session.day.isoformat(), at=session.at.isoformat(),
            snapshots=session.summary.snapshots, total_snapshots=session.total_snapshots,
            closed=session.closed, failure=live.state.failure,
        )  # fmt: skip


def _eod(caller: Caller, day: date) -> EodOut:
    steps = [
        StepOut(
            step=s.name,
            title=s.title,
            position=s.position,
            completed_at=s.record.completed_at if s.record else None,
            digest=s.record.digest if s.record else None,
        )
        for s in status(caller.service.engine, day)
    ]
    return EodOut(
        trading_date=day.isoformat(), complete=all(s.completed_at for s in steps), steps=steps,
        reports_dir=str(day_dir(caller.service.reports_dir, day)),
    )  # fmt: skip


@router.get("/eod/{day}", response_model=EodOut, tags=["end of day"])
def eod_status(day: DatePath, caller: Annotated[Caller, Depends(allow(Action.READ_EOD))]) -> EodOut:
    """Which of the day's end-of-day steps are recorded, with their digests."""
    return _eod(caller, parse_day(day))


@router.post("/eod/{day}", response_model=EodOut, tags=["end of day"])
def eod_run(day: DatePath, caller: Annotated[Caller, Depends(allow(Action.RUN_EOD))]) -> EodOut:
    """Run the service's day's remaining end-of-day steps (after the close)."""
    on = parse_day(day)
    live = caller.service.market
    caller.request.state.subject = day
    if on != live.session.day:
        raise Problem(409, CONFLICT, f"this service runs {live.session.day}, not {on}")
    try:
        live.run_eod()
    except EodNotReady as exc:
        raise Problem(409, CONFLICT, str(exc)) from None
    return _eod(caller, on)


@router.get("/reports/{day}", response_model=list[ReportFileOut], tags=["end of day"])
def report_files(
    day: DatePath, caller: Annotated[Caller, Depends(allow(Action.READ_EOD))]
) -> list[ReportFileOut]:
    """The day's files: the exchange report (CSV UTF-8 and GB18030, XLSX), default records,
    reconciliation."""
    folder = day_dir(caller.service.reports_dir, parse_day(day))
    if not folder.is_dir():
        raise Problem(404, NOT_FOUND, f"no report files for {day}")
    return [
        ReportFileOut(name=p.name, bytes=p.stat().st_size)
        for p in sorted(folder.iterdir())
        if p.is_file() and not p.name.startswith(".")
    ]


@router.get("/reports/{day}/{name}", response_class=FileResponse, tags=["end of day"])
def report_file(
    day: DatePath,
    name: Annotated[str, Path(pattern=FILE_PATTERN)],
    caller: Annotated[Caller, Depends(allow(Action.READ_EOD))],
) -> FileResponse:
    """One file of the day, as written."""
    folder = day_dir(caller.service.reports_dir, parse_day(day))
    path = folder / name
    if name.startswith(".") or path.parent != folder or not path.is_file():
        raise Problem(404, NOT_FOUND, f"no file {name} for {day}")
    return FileResponse(path, filename=name)


@router.post("/users", response_model=KeyOut, status_code=201, tags=["service"])
def create_user(
    body: UserIn, caller: Annotated[Caller, Depends(allow(Action.MANAGE_USERS))]
) -> KeyOut:
    """A new user with a role and an API key, shown once."""
    role = Role(body.role)
    caller.request.state.subject = body.user_id
    try:
        issued = caller.service.issue(body.user_id, role, body.client_id)
    except UserConflict as exc:
        raise Problem(409, CONFLICT, str(exc)) from None
    actions = sorted(a.value for a in granted(role))
    return KeyOut(user_id=issued.user_id, role=role.value, client_id=issued.client_id,
                  actions=actions, api_key=issued.key)  # fmt: skip


@router.get("/audit", response_model=list[AuditOut], tags=["service"])
def audit(
    caller: Annotated[Caller, Depends(allow(Action.READ_AUDIT))],
    after_seq: Annotated[int, Query(ge=0, le=2**62)] = 0,
    limit: Annotated[int, Query(ge=1, le=1_000)] = 100,
) -> list[AuditOut]:
    """The audit log from ``after_seq`` on, oldest first."""
    entries = audit_entries(caller.service.engine, after_seq, limit)
    return [AuditOut(**asdict(e)) for e in entries]
