"""CLI-6 at the trading checks: a client whose identity document is past its grace, as the
end of day decided, opens no new debt the next day (margin buys and short sales refused with
``IDENTITY_DOCUMENT_EXPIRED``) while buying on its own cash, selling and repaying go on; a
renewal on file lifts the refusal the day it is recorded."""

from __future__ import annotations

from datetime import date

from sqlalchemy import Engine

from book_helpers import order
from liangrong.domain.identity_expiry import DocumentKind, IdentityDocument
from liangrong.domain.order_codes import OrderCode
from liangrong.domain.orders import NonTradeKind, NonTradeRequest, OrderKind
from liangrong.store.identity_documents import (
    DocumentRecord,
    RestrictionDecision,
    record_documents,
    restriction_reason,
    save_restriction_decisions,
)
from test_desk_scenario import BOUGHT, MON, QUANTITY, SYMBOL, TUE, A, Days, at
from test_desk_scenario import days as days  # the fixture

CARD = DocumentKind.IDENTITY_CARD
EXPIRED = date(2026, 1, 31)


def _document(until: date, on: date) -> DocumentRecord:
    document = IdentityDocument(A, CARD, f"card-{until}", until, on)
    return DocumentRecord(f"card-{until}@{on}", document, False, "test")


def test_new_debt_is_refused_until_the_document_is_renewed(store: Engine, days: Days) -> None:
    clock = lambda: at(MON, 8)  # noqa: E731
    record_documents(store, [_document(EXPIRED, date(2016, 1, 31))], clock=clock)
    decided = RestrictionDecision(
        A, MON, date(2026, 2, 27), True, ((CARD, EXPIRED),), "idp-1", "2026-02-27T16:00:00"
    )
    assert save_restriction_decisions(store, [decided]) == 1
    desk = days.open(MON)
    book = desk.book
    assert book.profiles[A].identity_restriction == restriction_reason(((CARD, EXPIRED),))
    transfer = NonTradeRequest("t1", A, NonTradeKind.TRANSFER_IN, symbol=SYMBOL, quantity=QUANTITY)
    assert book.request(transfer).accepted
    margin = book.submit(order("m1", A, OrderKind.MARGIN_BUY, BOUGHT, 30_000, 100))
    short = book.submit(order("s1", A, OrderKind.SHORT_SELL, SYMBOL, 10_000, 100))
    assert margin.code is short.code is OrderCode.IDENTITY_DOCUMENT_EXPIRED
    assert "renewed" in OrderCode.IDENTITY_DOCUMENT_EXPIRED.en
    assert book.submit(order("c1", A, OrderKind.COLLATERAL_SELL, SYMBOL, 10_000, 100)).accepted
    book.expire_open_orders()
    # Renewed on Tuesday: that day's trading takes new debt again.
    record_documents(store, [_document(date(2046, 3, 2), TUE)], clock=clock)
    desk = days.open(TUE)
    assert desk.book.profiles[A].identity_restriction is None
    assert desk.book.submit(order("m2", A, OrderKind.MARGIN_BUY, BOUGHT, 30_000, 100)).accepted
