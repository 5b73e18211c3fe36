"""The risk desk's view (RISK-5…RISK-8): the book's statuses now, margin calls, notices,
forced liquidation; and the margin calculator (the same as ``liangrong calc``).
"""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Query

from liangrong.api import views
from liangrong.api.access import Caller, allow
from liangrong.api.problems import INVALID_REQUEST, MARKET_CLOSED, PROBLEM_RESPONSES, Problem
from liangrong.api.routes_book import ClientPath, known_session
from liangrong.api.schemas import CLIENT_PATTERN, CallOut, LiquidationOut, NoticeOut, RiskOut
from liangrong.desk.liquidation import plan_json
from liangrong.domain.access import Action
from liangrong.domain.calculator import SnapshotError, calculate
from liangrong.domain.liquidation import LiquidationReason
from liangrong.sim.session import SessionClosed
from liangrong.store.risk_records import load_notices

router = APIRouter(prefix="/api/v1", responses=PROBLEM_RESPONSES)


@router.get("/risk", response_model=RiskOut, tags=["risk"])
def risk_now(caller: Annotated[Caller, Depends(allow(Action.READ_RISK))]) -> RiskOut:
    """Accounts by status against their lines now, calls, due liquidations, and the day's
    minute-by-minute counts."""
    with caller.service.market.lock:
        return views.risk(caller.service.session)


@router.get("/risk/calls", response_model=list[CallOut], tags=["risk"])
def open_calls(caller: Annotated[Caller, Depends(allow(Action.READ_RISK))]) -> list[CallOut]:
    """Margin calls open now (or requiring liquidation), by client."""
    with caller.service.market.lock:
        calls = caller.service.session.desk.calls
        return [views.call(calls[c]) for c in sorted(calls)]


@router.get("/notices", response_model=list[NoticeOut], tags=["risk"])
def notices(
    caller: Annotated[Caller, Depends(allow(Action.READ_ACCOUNTS))],
    client_id: Annotated[str | None, Query(pattern=CLIENT_PATTERN)] = None,
    limit: Annotated[int, Query(ge=1, le=1_000)] = 100,
) -> list[NoticeOut]:
    """Notices sent (warnings, calls, liquidation reports), newest first; a client user
    reads their own."""
    if caller.user.client_id is not None:
        client_id = caller.scope(client_id or caller.user.client_id)
    found = load_notices(caller.service.engine, client_id=client_id)
    return [views.notice(n) for n in reversed(found[-limit:])]


ReasonQuery = Annotated[
    LiquidationReason | None,
    Query(
        description="Why: a court's enforcement or an early termination repays everything "
        "owed; by default the reason the desk has on record, else a missed call."
    ),
]


@router.get("/liquidations/{client_id}/plan", tags=["risk"])
def liquidation_plan(
    client_id: ClientPath,
    caller: Annotated[Caller, Depends(allow(Action.READ_RISK))],
    reason: ReasonQuery = None,
) -> dict[str, Any]:
    """What forced liquidation would send now, at the book's prices (nothing is sent)."""
    with caller.service.market.lock:
        session = known_session(caller, client_id)
        plan: dict[str, Any] = json.loads(plan_json(session.desk.plan(client_id, reason)))
        return plan


@router.post("/liquidations/{client_id}", response_model=LiquidationOut, tags=["risk"])
def liquidate(
    client_id: ClientPath,
    caller: Annotated[Caller, Depends(allow(Action.LIQUIDATE))],
    reason: ReasonQuery = None,
) -> LiquidationOut:
    """Plan and send the forced orders through the book and the exchange; recorded with
    the plan, any recovery case and the report to the client.  Once a day per account."""
    with caller.service.market.lock:
        session = known_session(caller, client_id)
        try:
            run = session.liquidate(client_id, reason)
        except SessionClosed as exc:
            raise Problem(409, MARKET_CLOSED, str(exc)) from None
        orders = session.book.orders
        sent = [orders[s.order.order_id] for s in run.submitted if s.order is not None
                and s.order.order_id in orders]  # fmt: skip
        return LiquidationOut(
            run_id=run.run_id, client_id=client_id, reason=run.plan.reason.value,
            reached=run.plan.reached, orders=[views.order(o) for o in sent],
        )  # fmt: skip


@router.post("/calculator", tags=["calculator"])
def calculator(
    caller: Annotated[Caller, Depends(allow(Action.CALCULATE))],
    document: Annotated[dict[str, Any], Body(description="docs/calculator.md's input document")],
) -> dict[str, object]:
    """The margin calculator: the figures and the answers to the questions asked
    (docs/calculator.md); nothing is read from or written to the book."""
    try:
        return calculate(document)
    except SnapshotError as exc:
        raise Problem(422, INVALID_REQUEST, str(exc)) from None
