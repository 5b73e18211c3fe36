"""One account walked down through every line at exact boundary prices, through a warning,
a call, a cure, a second call, reminders, a missed deadline and a forced liquidation, then
an emergency with a shortfall (RISK-5, RISK-6, RISK-7): statuses, notices, restrictions,
the forced orders' journal and the records, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import date, datetime, time
from fractions import Fraction

import pytest
from sqlalchemy import Engine

from book_helpers import fund_firm, journal_of, open_book, order, profile
from liangrong.desk.service import Desk
from liangrong.domain import margin
from liangrong.domain.liquidation import LiquidationReason
from liangrong.domain.margin import RatioStatus
from liangrong.domain.margin_calls import CallState, EvaluationKind, NoticeKind
from liangrong.domain.order_codes import OrderCode
from liangrong.domain.orders import NonTradeKind, NonTradeRequest, OrderKind, Side
from liangrong.domain.pretrade_state import AccountStatus
from liangrong.domain.settlement import Fill
from liangrong.ledger.journal import Ledger
from liangrong.ledger.projections import conservation_breaks
from liangrong.sim.session import CST, SimClock
from liangrong.store import risk_records as records

A = "CA"
SYMBOL = "600000.SH"  # the collateral whose price walks the account down
QUANTITY = 200_000  # of SYMBOL, transferred in: 2,000,000.00 yuan at 10.000
BOUGHT, BOUGHT_QUANTITY = "600036.SH", 30_000  # bought on margin at 30.000
PROFILES = [profile(A, "张三")]
MON, TUE, WED, THU, FRI = (date(2026, 3, d) for d in (2, 3, 4, 5, 6))
MON2, TUE2, WED2 = date(2026, 3, 9), date(2026, 3, 10), date(2026, 3, 11)
CASH_A, SEC_A = "firm:collateral_cash:CA", "firm:collateral_securities:CA:SH"


def at(day: date, hh: int, mm: int = 0) -> datetime:
    return datetime.combine(day, time(hh, mm), CST)


class Days:
    """Opens each trading day's book and desk over the same store, as a firm would."""

    def __init__(self, store: Engine) -> None:
        self.store = store
        self.clock = SimClock(at(MON, 8))
        self.prices = {"600000.SH": 10_000, BOUGHT: 30_000, "000001.SZ": 12_000,
                       "688981.SH": 80_000, "511880.SH": 100_000}  # fmt: skip

    def open(self, day: date) -> Desk:
        self.clock.set(at(day, 9, 15))
        book = open_book(self.store, self.clock, day, PROFILES, dict(self.prices))
        return Desk.open(self.store, book, self.clock)

    def move(
        self, desk: Desk, when: datetime, price_li: int, symbol: str = SYMBOL
    ) -> list[RatioStatus]:
        self.clock.set(when)
        self.prices[symbol] = price_li
        return [c.new for c in desk.on_prices(when, {symbol: price_li})]

    def settle(self, desk: Desk, day: date):
        self.clock.set(at(day, 15, 30))
        desk.book.expire_open_orders()
        return desk.settle(at(day, 15, 30))


def financing_debt_fen(desk: Desk) -> int:
    mirror = desk.book.mirrors[A]
    return sum(
        c.principal_outstanding + c.charges_outstanding_fen for c in mirror.contracts.values()
    )


def boundary_price_li(desk: Desk, line: Fraction) -> int:
    """The least price (li) at which the ratio is not below ``line``; one li less is below."""
    mirror = desk.book.mirrors[A]
    others = mirror.cash_fen + Fraction(BOUGHT_QUANTITY * desk.book.market.prices_li[BOUGHT], 10)
    debt = financing_debt_fen(desk)
    # ratio = (others + Q·p/10) / debt ≥ line  ⇔  p ≥ 10·(line·debt − others)/Q
    exact = 10 * (line * debt - others) / QUANTITY
    return -((-exact.numerator) // exact.denominator)


def ratio(desk: Desk) -> Fraction | None:
    return desk.ratio(A)[1]


def kinds(store: Engine) -> list[str]:
    return [n.kind.value for n in records.load_notices(store, client_id=A)]


def margin_buy(desk: Desk) -> None:
    transfer = NonTradeRequest("t1", A, NonTradeKind.TRANSFER_IN, symbol=SYMBOL, quantity=QUANTITY)
    assert desk.book.request(transfer).accepted
    buy = order("m1", A, OrderKind.MARGIN_BUY, BOUGHT, 30_000, BOUGHT_QUANTITY)
    assert desk.book.submit(buy).accepted
    assert desk.book.on_fill(Fill("T1", "m1", BOUGHT, Side.BUY, 30_000, BOUGHT_QUANTITY, MON))


@pytest.fixture
def days(store: Engine) -> Days:
    ledger = Ledger(store, SimClock(at(MON, 8)))
    fund_firm(ledger)
    for exchange in ("SH", "SZ"):
        ledger.open_credit_account(f"open-{A}-{exchange}", A, exchange, "张三", "张三", MON)
    return Days(store)


def test_an_account_walks_through_every_line_call_cure_miss_and_liquidation(
    store: Engine, days: Days
) -> None:
    # Monday: collateral in, a margin buy of 30,000 shares at 30.000; the ratio is far above.
    desk = days.open(MON)
    margin_buy(desk)
    debt = financing_debt_fen(desk)
    # principal 900,000.00 + commission 0.025% (225.00) + transfer fee 0.001% (9.00), financed
    assert debt == 90_000_000 + 22_500 + 900
    assert desk.risk.statuses.status(A) is RatioStatus.SAFE
    assert days.settle(desk, MON).evaluated == 0

    # Tuesday: down through attention and warning, one li at a time at each boundary.
    desk = days.open(TUE)
    lines = margin.Lines(
        attention=Fraction("1.5"),
        warning=Fraction("1.4"),
        liquidation=Fraction("1.3"),
        emergency=Fraction("1.15"),
    )
    attention, warning = (boundary_price_li(desk, x) for x in (lines.attention, lines.warning))
    assert days.move(desk, at(TUE, 9, 31), attention) == []  # exactly at or above: not below
    assert ratio(desk) >= lines.attention
    assert days.move(desk, at(TUE, 9, 32), attention - 1) == [RatioStatus.ATTENTION]
    assert ratio(desk) < lines.attention
    assert days.move(desk, at(TUE, 9, 33), warning) == []
    assert days.move(desk, at(TUE, 9, 34), warning - 1) == [RatioStatus.WARNING]
    report = days.settle(desk, TUE)
    assert report.decisions[A].state is CallState.WARNING
    assert desk.book.profiles[A].status is AccountStatus.NORMAL  # a warning restricts nothing
    (warn,) = records.load_notices(store, client_id=A)
    assert (warn.kind, warn.line, warn.inform_branch) == (NoticeKind.WARNING, lines.warning, True)
    assert "低于警戒线140.00%" in warn.text_zh

    # Wednesday: below the liquidation line; after settlement a call with a T+2 deadline.
    desk = days.open(WED)
    liquidation = boundary_price_li(desk, lines.liquidation)
    assert days.move(desk, at(WED, 10), liquidation) == []
    assert days.move(desk, at(WED, 10, 1), liquidation - 1) == [RatioStatus.LIQUIDATION]
    assert desk.book.profiles[A].status is AccountStatus.NORMAL  # calls come after settlement
    decision = days.settle(desk, WED).decisions[A]
    assert decision.state is CallState.OPEN and decision.call is not None
    assert decision.call.deadline == FRI
    assert desk.book.profiles[A].status is AccountStatus.CALL_RESTRICTED
    call_notice = records.load_notices(store, client_id=A, kind=NoticeKind.CALL)[0]
    assert call_notice.deadline == FRI and call_notice.target == Fraction("1.5")
    top_up = call_notice.top_up_fen
    assert top_up is not None and top_up > 0

    # Thursday: the restriction carries over; one fen short of the target is not a cure,
    # the last fen is.
    desk = days.open(THU)
    assert desk.book.profiles[A].status is AccountStatus.CALL_RESTRICTED
    refused = desk.book.submit(
        order("m2", A, OrderKind.MARGIN_BUY, SYMBOL, days.prices[SYMBOL], 100)
    )
    assert refused.code is OrderCode.ACCOUNT_CALL_RESTRICTED
    short = NonTradeRequest("d2", A, NonTradeKind.CASH_DEPOSIT, amount_fen=top_up - 1)
    assert desk.book.request(short).accepted
    assert ratio(desk) < Fraction("1.5")
    assert desk.evaluate(A, EvaluationKind.INTRADAY, at(THU, 11)).state is CallState.OPEN
    assert desk.book.request(
        NonTradeRequest("d3", A, NonTradeKind.CASH_DEPOSIT, amount_fen=1)
    ).accepted
    assert ratio(desk) == Fraction("1.5")
    cured = desk.evaluate(A, EvaluationKind.INTRADAY, at(THU, 11, 1))
    assert cured.state is CallState.CURED
    assert desk.book.profiles[A].status is AccountStatus.NORMAL
    assert journal_of(store, "request:d3") == [
        ("deposit", "external:bank:CA", "CNY", -1),
        ("deposit", CASH_A, "CNY", 1),
    ]
    days.settle(desk, THU)

    # Friday: down again, a second call (deadline Tuesday, over the weekend).
    desk = days.open(FRI)
    again = boundary_price_li(desk, lines.liquidation) - 1
    assert RatioStatus.LIQUIDATION in days.move(desk, at(FRI, 10), again)
    second = days.settle(desk, FRI).decisions[A]
    assert second.state is CallState.OPEN and second.call.deadline == TUE2

    # Monday: still open, a reminder.  Tuesday (the deadline): missed, liquidation Wednesday.
    desk = days.open(MON2)
    assert days.settle(desk, MON2).decisions[A].state is CallState.OPEN
    desk = days.open(TUE2)
    assert desk.due_today() == []  # the deadline day is still the client's
    missed = days.settle(desk, TUE2).decisions[A]
    assert missed.state is CallState.MISSED and missed.liquidation_from == WED2
    assert desk.book.profiles[A].status is AccountStatus.LIQUIDATION
    assert kinds(store) == ["warning", "call", "cured", "call", "reminder", "missed"]

    # Wednesday: the desk liquidates; forced sells go through the book, fill, repay first.
    desk = days.open(WED2)
    assert desk.book.profiles[A].status is AccountStatus.LIQUIDATION
    assert desk.due_today() == [A]
    buy = desk.book.submit(
        order("b1", A, OrderKind.COLLATERAL_BUY, SYMBOL, days.prices[SYMBOL], 100)
    )
    assert buy.code is OrderCode.ACCOUNT_IN_LIQUIDATION
    run = desk.liquidate(A)
    assert run.plan.reason is LiquidationReason.CALL_MISSED and run.plan.reached
    (sent,) = [s for s in run.submitted if s.order is not None]
    assert sent.ack.accepted and sent.order.kind is OrderKind.FORCED_SELL
    planned = run.plan.orders[0]
    assert desk.book.on_fill(
        Fill(
            "T9",
            sent.order.order_id,
            planned.symbol,
            Side.SELL,
            planned.price_li,
            planned.quantity,
            WED2,
        )
    )
    postings = journal_of(store, "fill:T9")
    # The least sale that restores 150%: 6,100 financed shares (financed first) at 30.000 =
    # 183,000.00; commission 45.75, stamp duty 91.50 + transfer fee 1.83; the net 182,860.92
    # repays the financing contract at once (ORD-4).
    assert (planned.symbol, planned.quantity, planned.price_li) == (BOUGHT, 6_100, 30_000)
    X, F = "dispose_collateral", "collect_debt"
    assert postings == [
        (X, SEC_A, BOUGHT, -6_100),
        (X, "external:market", BOUGHT, 6_100),
        (X, "external:market", "CNY", -18_300_000),
        (X, CASH_A, "CNY", 18_286_092),
        (X, "firm:income:fees", "CNY", 4_575),
        (X, "external:tax_and_levies", "CNY", 9_333),
        (F, CASH_A, "CNY", -18_286_092),
        (F, "firm:financing_pool", "CNY", 18_286_092),
        (F, "client:CA:financing:FT1", "CNY", 18_286_092),
        (F, "firm:receivable:financing", "CNY", -18_286_092),
    ]
    assert planned.repays_fen == 18_286_092
    assert desk.liquidate(A) is run  # one run a day
    # Then the plan's direct repayment from the free cash the Thursday deposit left.
    (cash_step,) = run.plan.steps[1:]
    (repayment,) = desk.complete(run)
    assert repayment.ack.accepted and repayment.request.amount_fen == cash_step.amount_fen
    assert journal_of(store, f"request:{repayment.request.request_id}")[:2] == [
        ("collect_debt", CASH_A, "CNY", -cash_step.amount_fen),
        ("collect_debt", "firm:financing_pool", "CNY", cash_step.financing_fen),
    ]
    assert ratio(desk) >= Fraction("1.5")
    closed = days.settle(desk, WED2).decisions[A]
    assert closed.state is CallState.CLOSED
    assert desk.book.profiles[A].status is AccountStatus.NORMAL
    assert kinds(store)[-2:] == ["liquidation", "closed"]
    (stored,) = records.liquidation_history(store, A)
    assert stored.reached and stored.ratio_planned == run.plan.ratio_after
    assert records.load_recovery_cases(store) == []

    history = [(r.old, r.new) for r in records.status_history(store, A)]
    # Thursday's deposit one fen short lifts it to attention, the last fen to safe (exactly
    # at 150% is not below the attention line); Friday down again; Wednesday's liquidation.
    assert history == [
        ("safe", "attention"),
        ("attention", "warning"),
        ("warning", "liquidation"),
        ("liquidation", "attention"),
        ("attention", "safe"),
        ("safe", "liquidation"),
        ("liquidation", "warning"),  # the forced sale's repayment
        ("warning", "safe"),  # the direct repayment from free cash
    ]
    assert conservation_breaks(store) == {}


def test_below_the_emergency_line_liquidates_at_once_and_a_shortfall_opens_a_recovery_case(
    store: Engine, days: Days
) -> None:
    desk = days.open(MON)
    margin_buy(desk)
    days.settle(desk, MON)

    desk = days.open(TUE)
    emergency = boundary_price_li(desk, Fraction("1.15"))
    assert days.move(desk, at(TUE, 10), emergency)[-1] is RatioStatus.LIQUIDATION
    assert desk.book.profiles[A].status is AccountStatus.NORMAL
    # One li below the emergency line: intraday, no waiting for settlement.
    assert days.move(desk, at(TUE, 10, 1), emergency - 1) == [RatioStatus.EMERGENCY]
    assert desk.book.profiles[A].status is AccountStatus.LIQUIDATION
    assert desk.due_today() == [A]
    assert [n.kind for n in records.load_notices(store, client_id=A)] == [NoticeKind.EMERGENCY]

    # Both stocks collapse before the desk acts: 600,000.00 + 40,000.00 of assets no longer
    # cover 900,234.00 of debt.
    days.move(desk, at(TUE, 10, 2), 20_000, BOUGHT)
    days.move(desk, at(TUE, 10, 3), 200)
    run = desk.liquidate(A)
    assert run.plan.reason is LiquidationReason.EMERGENCY_LINE
    assert not run.plan.reached
    case = run.plan.recovery
    assert case is not None and case.shortfall_fen > 0
    (stored,) = records.load_recovery_cases(store)
    assert (stored.client_id, stored.shortfall_fen) == (A, case.shortfall_fen)
    report = records.load_notices(store, client_id=A, kind=NoticeKind.LIQUIDATION)[0]
    assert "将依法追索" in report.text_zh
