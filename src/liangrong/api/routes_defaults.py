"""Default records a user keeps (CLI-5; ``domain.recorded_defaults``): recording a client's
bad credit, other default or overdue charges, curing it, withdrawing it as recorded in
error, and listing them.

Invariants: a refused record, cure or withdrawal is a 4xx with the domain's code and both
reasons, and writes nothing (the audit trail still logs the call); "today" is the service's
trading date, so nothing is dated after the day it runs; recording the same again is a 200
with the record as stored, a new one a 201; the withdrawer is the caller, never the user
who recorded it (four eyes).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Response

from liangrong.api.access import Caller, allow
from liangrong.api.problems import INVALID_REQUEST, NOT_FOUND, PROBLEM_RESPONSES, Problem
from liangrong.api.schemas import (
    CLIENT_PATTERN,
    DATE_PATTERN,
    DefaultCureIn,
    DefaultIn,
    DefaultOut,
    DefaultWithdrawalIn,
)
from liangrong.domain.access import Action
from liangrong.domain.default_records import DefaultKind
from liangrong.domain.money import MoneyFormatError, yuan_to_fen
from liangrong.domain.recorded_defaults import (
    DefaultCure,
    DefaultEntry,
    DefaultRefusal,
    DefaultRefused,
    DefaultWithdrawal,
    RecordedDefault,
    derived_id,
)
from liangrong.store.recorded_defaults import (
    cure_default,
    find_recorded_default,
    load_recorded_defaults,
    record_default,
    withdraw_default,
)

router = APIRouter(prefix="/api/v1", responses=PROBLEM_RESPONSES)
RecordPath = Annotated[str, Path(pattern=r"^[A-Za-z0-9_.:-]{1,96}$")]
_STATUS = {
    DefaultRefusal.UNKNOWN_CLIENT: 404,
    DefaultRefusal.UNKNOWN_RECORD: 404,
    DefaultRefusal.RECORDED_OTHERWISE: 409,
    DefaultRefusal.ALREADY_CURED: 409,
    DefaultRefusal.WITHDRAWN: 409,
    DefaultRefusal.ALREADY_WITHDRAWN: 409,
    DefaultRefusal.SAME_USER: 409,
}  # every other refusal: 422


def _refused(exc: DefaultRefused) -> Problem:
    code = exc.code
    reason = f"{code.en} ({exc.detail})"
    return Problem(_STATUS.get(code, 422), code.name, reason, code.zh)


def _date(text: str, field: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise Problem(422, INVALID_REQUEST, f"{field}: {text} is not a date") from None


def _out(r: RecordedDefault) -> DefaultOut:
    e, cure, w = r.entry, r.cure, r.withdrawal
    return DefaultOut(
        record_id=e.record_id, client_id=e.client_id, kind=e.kind.value,
        occurred_on=e.occurred_on.isoformat(), amount_owed_fen=e.amount_owed_fen, note=e.note,
        malicious=e.malicious, recorded_by=e.recorded_by, recorded_at=r.recorded_at,
        cured_on=cure.cured_on.isoformat() if cure else None,
        cured_by=cure.cured_by if cure else None, cure_note=cure.note if cure else None,
        cured_at=r.cured_at,
        withdrawn_on=w.withdrawn_on.isoformat() if w else None,
        withdrawn_by=w.withdrawn_by if w else None, withdrawal_reason=w.reason if w else None,
        withdrawn_at=r.withdrawn_at,
    )  # fmt: skip


def _stored(caller: Caller, record_id: str) -> DefaultOut:
    found = find_recorded_default(caller.service.engine, record_id)
    if found is None:  # a record just written or found is there: append-only
        raise Problem(404, NOT_FOUND, f"no record {record_id}")
    return _out(found)


def _written(
    caller: Caller,
    response: Response,
    write: Callable[..., bool],
    item: DefaultEntry | DefaultCure | DefaultWithdrawal,
    record_id: str,
) -> DefaultOut:
    """``write`` the record, cure or withdrawal as of the session's day: 201 when new, 200
    when it was there already (the same again), a problem when refused; the record as
    stored."""
    service = caller.service
    try:
        new = write(service.engine, item, today=service.market.session.day, clock=service.now)
    except DefaultRefused as exc:
        raise _refused(exc) from None
    if not new:
        response.status_code = 200
    return _stored(caller, record_id)


@router.post("/defaults", response_model=DefaultOut, status_code=201, tags=["risk"])
def record(
    body: DefaultIn,
    response: Response,
    caller: Annotated[Caller, Depends(allow(Action.RECORD_DEFAULT))],
) -> DefaultOut:
    """Record a client's bad credit (资信不良), other default or overdue charges, and
    whether the firm judges it malicious (which refuses the client's extensions); on the
    day's default-record file from its date until cured."""
    caller.request.state.subject = body.client_id
    occurred = _date(body.occurred_on, "occurred_on")
    try:
        amount_fen = yuan_to_fen(body.amount_owed, "amount_owed")
    except MoneyFormatError as exc:
        raise Problem(422, INVALID_REQUEST, str(exc)) from None
    kind = DefaultKind(body.kind)
    entry = DefaultEntry(
        body.record_id or derived_id(body.client_id, kind, occurred), body.client_id, kind,
        occurred, amount_fen, body.note, body.malicious, caller.user.user_id,
    )  # fmt: skip
    return _written(caller, response, record_default, entry, entry.record_id)


@router.post("/defaults/{record_id}/cure", response_model=DefaultOut, status_code=201,
             tags=["risk"])  # fmt: skip
def cure(
    record_id: RecordPath,
    body: DefaultCureIn,
    response: Response,
    caller: Annotated[Caller, Depends(allow(Action.RECORD_DEFAULT))],
) -> DefaultOut:
    """Record that a recorded default was settled on a day (once); it leaves the file after
    that day and stays on the client's history."""
    caller.request.state.subject = record_id
    cure = DefaultCure(record_id, _date(body.cured_on, "cured_on"), caller.user.user_id, body.note)
    return _written(caller, response, cure_default, cure, record_id)


@router.post("/defaults/{record_id}/withdraw", response_model=DefaultOut, status_code=201,
             tags=["risk"])  # fmt: skip
def withdraw(
    record_id: RecordPath,
    body: DefaultWithdrawalIn,
    response: Response,
    caller: Annotated[Caller, Depends(allow(Action.RECORD_DEFAULT))],
) -> DefaultOut:
    """Withdraw a recorded default as recorded in error (录入错误撤销; once, with a reason,
    by another user than its recorder): listed as withdrawn on the day's file of its date and
    no more after; from that date on, it no longer refuses the client's extensions."""
    caller.request.state.subject = record_id
    day = caller.service.market.session.day
    on = _date(body.withdrawn_on, "withdrawn_on") if body.withdrawn_on else day
    withdrawal = DefaultWithdrawal(record_id, on, caller.user.user_id, body.reason)
    return _written(caller, response, withdraw_default, withdrawal, record_id)


@router.get("/defaults", response_model=list[DefaultOut], tags=["risk"])
def defaults(
    caller: Annotated[Caller, Depends(allow(Action.READ_RISK))],
    client_id: Annotated[str | None, Query(pattern=CLIENT_PATTERN)] = None,
    on: Annotated[str | None, Query(pattern=DATE_PATTERN, description="YYYY-MM-DD")] = None,
    offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
    limit: Annotated[int, Query(ge=1, le=1_000)] = 100,
) -> list[DefaultOut]:
    """The recorded defaults (of one client; occurred by ``on``), by client, date and id,
    each with its cure and withdrawal: as of ``on``, one dated later is not shown."""
    day = _date(on, "on") if on else None
    clients = [client_id] if client_id else None
    found = load_recorded_defaults(caller.service.engine, clients=clients, through=day)
    chosen = found[offset : offset + limit]
    if day is not None:
        chosen = [r.as_of(day) for r in chosen]
    return [_out(r) for r in chosen]
