"""A small market and book for the book's tests: five securities, demo rules, real calendar."""

from __future__ import annotations

from datetime import date
from fractions import Fraction

from sqlalchemy import Engine, select

from liangrong.book.accounts import ClientProfile
from liangrong.book.loader import load_firm_state, load_mirrors
from liangrong.book.market import NO_HALTS, Halts, build_market_day
from liangrong.book.service import Book
from liangrong.domain import operations as ops
from liangrong.domain.lists import DailyLists, ListLayer
from liangrong.domain.orders import AccountType, Order, OrderKind
from liangrong.domain.securities import Board, Exchange, Kind, Security, Status
from liangrong.ledger import schema as s
from liangrong.ledger.journal import Ledger
from liangrong.sim.calendar_data import load_shipped_calendar
from liangrong.sim.fee_seed import fee_schedule_on
from liangrong.sim.rules_seed import demo_rule_book

DAY1, DAY2 = date(2026, 3, 2), date(2026, 3, 3)
CALENDAR = load_shipped_calendar()
RULES = demo_rule_book()


def _stock(
    code: str, exchange: Exchange, name: str, board: Board, kind: Kind = Kind.STOCK
) -> Security:
    return Security(
        code,
        exchange,
        name,
        board,
        kind,
        10**10,
        5 * 10**9,
        date(2010, 1, 4),
        False,
        Status.NORMAL,
        True,
    )


MASTER = (
    _stock("600000", Exchange.SH, "浦发银行", Board.SSE_MAIN),
    _stock("600036", Exchange.SH, "招商银行", Board.SSE_MAIN),
    _stock("000001", Exchange.SZ, "平安银行", Board.SZSE_MAIN),
    _stock("688981", Exchange.SH, "中芯国际", Board.STAR),
    _stock("511880", Exchange.SH, "银华日利ETF", Board.NONE, Kind.ETF),
)
PREVIOUS_CLOSE_LI = {
    "600000.SH": 10_000,
    "600036.SH": 30_000,
    "000001.SZ": 12_000,
    "688981.SH": 80_000,
    "511880.SH": 100_000,
}


def firm_lists(on: date) -> DailyLists:
    targets = frozenset({"600000.SH", "600036.SH", "000001.SZ", "688981.SH"})
    collateral = {symbol: Fraction(7, 10) for symbol in targets} | {"511880.SH": Fraction(95, 100)}
    return DailyLists(on, ListLayer.FIRM, targets, targets, collateral)


def limits(prices: dict[str, int]) -> dict[str, tuple[int, int]]:
    return {symbol: (price * 9 // 10, price * 11 // 10) for symbol, price in prices.items()}


def profile(client_id: str, name: str = "张三", **overrides: object) -> ClientProfile:
    values: dict[str, object] = {
        "client_id": client_id,
        "name": name,
        "financing_limit_fen": 5_000_000_00,
        "short_limit_fen": 2_000_000_00,
        "total_limit_fen": 6_000_000_00,
        "concentration_limit_bp": 10_001,  # off unless a test sets it
    }
    values.update(overrides)
    return ClientProfile(**values)  # type: ignore[arg-type]


def fund_firm(ledger: Ledger) -> None:
    ledger.post(ops.fund_pool("fund-cash", DAY1, "CNY", 100_000_000_00))
    for symbol in ("600000.SH", "600036.SH", "000001.SZ"):
        ledger.post(ops.fund_pool(f"fund-{symbol}", DAY1, symbol, 1_000_000))


def open_book(
    engine: Engine,
    clock,
    on: date,
    profiles: list[ClientProfile],
    prices: dict[str, int] | None = None,
    halts: Halts = NO_HALTS,
) -> Book:
    """A book for trading day ``on`` over what the ledger holds now."""
    prices = prices or PREVIOUS_CLOSE_LI
    ledger = Ledger(engine, clock)
    market = build_market_day(
        on,
        MASTER,
        firm_lists(on),
        RULES,
        fee_schedule_on(on),
        prices,
        limits(prices),
        halts,
        frozenset({"511880.SH"}),
    )
    book = Book(ledger, market, CALENDAR, load_firm_state(engine))
    mirrors = load_mirrors(engine, [p.client_id for p in profiles])
    for p in profiles:
        book.add_client(p, mirrors[p.client_id])
    return book


def order(
    order_id: str, client: str, kind: OrderKind, symbol: str, price_li: int, quantity: int
) -> Order:
    return Order(
        order_id, client, AccountType.CREDIT, "T001", symbol, kind, kind.side, price_li, quantity
    )


def journal_of(engine: Engine, command_id: str) -> list[tuple[str, str, str, int]]:
    """(purpose, account, asset, amount) of a command's postings, in order."""
    t, p = s.journal_transactions, s.journal_postings
    with engine.connect() as conn:
        rows = conn.execute(
            select(p.c.purpose, p.c.account, p.c.asset, p.c.amount)
            .join(t, t.c.seq == p.c.txn_seq)
            .where(t.c.command_id == command_id)
            .order_by(p.c.line_no)
        )
        return [tuple(row) for row in rows]  # type: ignore[misc]
