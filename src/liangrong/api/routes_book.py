"""Accounts, positions, contracts, orders and non-trade requests (ORD-1, ORD-2, ACC-3).

Orders and requests go through the same book, the same front-end checks and the same
simulated exchange as the session's own flow (``Session.place`` / ``request``): a refusal is
a 422 carrying the book's code and its messages, and nothing changed.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, status

from liangrong.api import views
from liangrong.api.access import Caller, allow
from liangrong.api.problems import (
    CONFLICT,
    INVALID_REQUEST,
    MARKET_CLOSED,
    NOT_FOUND,
    PROBLEM_RESPONSES,
    Problem,
)
from liangrong.api.schemas import (
    CLIENT_PATTERN,
    ID_PATTERN,
    AccountOut,
    AccountPage,
    ContractOut,
    OrderIn,
    OrderOut,
    PositionOut,
    RequestIn,
    RequestOut,
)
from liangrong.book.service import OrderStatus
from liangrong.domain.access import Action
from liangrong.domain.money import MoneyFormatError, yuan_to_fen, yuan_to_li
from liangrong.domain.orders import AccountType, NonTradeKind, NonTradeRequest, Order, OrderKind
from liangrong.domain.rejections import Rejection
from liangrong.sim.session import Session, SessionClosed

router = APIRouter(prefix="/api/v1", responses=PROBLEM_RESPONSES)
ClientPath = Annotated[str, Path(pattern=CLIENT_PATTERN)]
OrderPath = Annotated[str, Path(pattern=ID_PATTERN)]
TRADING_UNIT = "API"


def known_session(caller: Caller, client_id: str) -> Session:
    caller.scope(client_id)
    session = caller.service.session
    if client_id not in session.book.profiles:
        raise Problem(404, NOT_FOUND, f"no credit account {client_id}")
    return session


@router.get("/accounts", response_model=AccountPage, tags=["accounts"])
def list_accounts(
    caller: Annotated[Caller, Depends(allow(Action.READ_ACCOUNTS))],
    offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
    limit: Annotated[int, Query(ge=1, le=1_000)] = 100,
) -> AccountPage:
    """Credit accounts in client-id order (a client user: their own only)."""
    with caller.service.market.lock:
        session = caller.service.session
        own = caller.user.client_id
        ids = sorted(session.book.profiles) if own is None else [own]
        page = [views.account_row(session, c) for c in ids[offset : offset + limit]]
    return AccountPage(total=len(ids), offset=offset, accounts=page)


@router.get("/accounts/{client_id}", response_model=AccountOut, tags=["accounts"])
def get_account(
    client_id: ClientPath, caller: Annotated[Caller, Depends(allow(Action.READ_ACCOUNTS))]
) -> AccountOut:
    """Limits and what remains, cash, withdrawable, and the margin figures now."""
    with caller.service.market.lock:
        return views.account(known_session(caller, client_id), client_id)


@router.get("/accounts/{client_id}/positions", response_model=list[PositionOut], tags=["accounts"])
def get_positions(
    client_id: ClientPath, caller: Annotated[Caller, Depends(allow(Action.READ_ACCOUNTS))]
) -> list[PositionOut]:
    with caller.service.market.lock:
        return views.positions(known_session(caller, client_id), client_id)


@router.get("/accounts/{client_id}/contracts", response_model=list[ContractOut], tags=["accounts"])
def get_contracts(
    client_id: ClientPath, caller: Annotated[Caller, Depends(allow(Action.READ_ACCOUNTS))]
) -> list[ContractOut]:
    """Open debt contracts with their terms and what is outstanding."""
    with caller.service.market.lock:
        return views.contracts(known_session(caller, client_id), client_id)


@router.get("/orders", response_model=list[OrderOut], tags=["orders"])
def list_orders(
    caller: Annotated[Caller, Depends(allow(Action.READ_ORDERS))],
    client_id: Annotated[str | None, Query(pattern=CLIENT_PATTERN)] = None,
    open_only: bool = False,
    limit: Annotated[int, Query(ge=1, le=1_000)] = 100,
) -> list[OrderOut]:
    """Today's orders, newest first (a client user: their own only)."""
    own = caller.user.client_id
    if own is not None:
        client_id = caller.scope(client_id or own)
    with caller.service.market.lock:
        orders = list(caller.service.session.book.orders.values())
        chosen = [
            o
            for o in reversed(orders)
            if (client_id is None or o.client_id == client_id)
            and (not open_only or o.status is OrderStatus.OPEN)
        ]
        return [views.order(o) for o in chosen[:limit]]


def _order(body: OrderIn, order_id: str) -> Order:
    try:
        price_li = yuan_to_li(body.price)
    except MoneyFormatError as exc:
        raise Problem(422, INVALID_REQUEST, str(exc)) from None
    kind = OrderKind(body.kind)
    return Order(order_id, body.client_id, AccountType.CREDIT, TRADING_UNIT, body.symbol, kind,
                 kind.side, price_li, body.quantity)  # fmt: skip


@router.post(
    "/orders", response_model=OrderOut, status_code=status.HTTP_201_CREATED, tags=["orders"]
)
def place_order(
    body: OrderIn, caller: Annotated[Caller, Depends(allow(Action.PLACE_ORDER))]
) -> OrderOut:
    """Check the order as the book does and, accepted, send it to the exchange; its status
    shows what filled at once.  Refused: 422 with the book's code."""
    with caller.service.market.lock:
        session = known_session(caller, body.client_id)
        order_id = body.order_id or caller.service.next_id("O")
        try:
            ack = session.place(_order(body, order_id))
        except SessionClosed as exc:
            raise Problem(409, MARKET_CLOSED, str(exc)) from None
        if ack.code is not None:
            raise Problem.refused(ack.code)
        return views.order(session.book.orders[order_id])


@router.delete("/orders/{order_id}", response_model=OrderOut, tags=["orders"])
def cancel_order(
    order_id: OrderPath, caller: Annotated[Caller, Depends(allow(Action.CANCEL_ORDER))]
) -> OrderOut:
    """Ask the exchange to cancel what has not filled; 409 when the order is not open."""
    with caller.service.market.lock:
        session = caller.service.session
        found = session.book.orders.get(order_id)
        if found is None or (found.order.kind.is_forced and caller.user.client_id is not None):
            raise Problem(404, NOT_FOUND, f"no order {order_id} today")
        caller.scope(found.client_id)
        if found.status is not OrderStatus.OPEN:
            raise Problem(409, CONFLICT, f"order {order_id} is {found.status.value}")
        try:
            cancelled = session.cancel_order(order_id)
        except SessionClosed as exc:
            raise Problem(409, MARKET_CLOSED, str(exc)) from None
        if not cancelled:
            raise Problem(409, CONFLICT, f"the exchange did not cancel {order_id}")
        return views.order(session.book.orders[order_id])


def _request(body: RequestIn, request_id: str) -> NonTradeRequest:
    kind = NonTradeKind(body.kind)
    cash = kind in (NonTradeKind.DIRECT_REPAYMENT, NonTradeKind.CASH_DEPOSIT,
                    NonTradeKind.CASH_WITHDRAWAL)  # fmt: skip
    if cash and (body.amount is None or body.symbol or body.quantity):
        raise Problem(422, INVALID_REQUEST, f"{kind.value} takes an amount only")
    if not cash and (body.amount is not None or not body.symbol or not body.quantity):
        raise Problem(422, INVALID_REQUEST, f"{kind.value} takes a symbol and a quantity")
    try:
        amount_fen = yuan_to_fen(body.amount) if body.amount is not None else 0
    except MoneyFormatError as exc:
        raise Problem(422, INVALID_REQUEST, str(exc)) from None
    return NonTradeRequest(request_id, body.client_id, kind, amount_fen, body.symbol or "",
                           body.quantity or 0)  # fmt: skip


@router.post(
    "/requests", response_model=RequestOut, status_code=status.HTTP_201_CREATED, tags=["orders"]
)
def non_trade(
    body: RequestIn, caller: Annotated[Caller, Depends(allow(Action.NON_TRADE))]
) -> RequestOut:
    """Direct repayment or return, collateral transfer in or out, cash deposit or
    withdrawal: checked and posted at once, or refused with the book's code."""
    with caller.service.market.lock:
        session = known_session(caller, body.client_id)
        # The caller's ids live in their own namespace, so none can replay the flow's.
        named = f"API:{body.request_id}" if body.request_id else None
        request = _request(body, named or caller.service.next_id("R"))
        if not caller.service.claim_request(request.request_id):
            raise Problem(409, CONFLICT, f"request id {body.request_id} was used today")
        try:
            ack = session.request(request)
        except SessionClosed as exc:
            raise Problem(409, MARKET_CLOSED, str(exc)) from None
        except Rejection as refused:  # the ledger's own refusal: nothing was posted
            raise Problem(422, refused.code_name, str(refused)) from None
        if ack.code is not None:
            raise Problem.refused(ack.code)
    return RequestOut(
        request_id=request.request_id, client_id=request.account_id, kind=request.kind.value,
        amount_fen=request.amount_fen, symbol=request.symbol, quantity=request.quantity,
        done=True,
    )  # fmt: skip
