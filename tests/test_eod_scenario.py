"""Issue #5's scenario: a small book through seven consecutive trading days, 2026-09-24 to
2026-10-12, with the end of day run each day (CON-2…CON-4, CLI-6, REP-1, REP-2).

The span holds the Mid-Autumn holiday (Friday 09-25) with its weekend, the National Day
holiday (10-01…10-07, a weekend inside it) and the weekend of 10-10/11.  Every figure is
computed here from the scenario's own script, independently of the code under test:
interest, lending fees, penalty and management fees as Σ (end-of-day amount × rate ÷ 360)
over calendar days rounded half up once (start day counted, repayment day not), the
maintenance ratios the extension decisions stand on, and every figure of the exchange's
daily report.

The book: contracts opened before the span are posted as the ledger's operations (their
history is input, like the liquidation C1 had in June); everything during the span goes
through the real ``Book`` (orders, fills, requests) over the store's reference day.

- C1 (negotiated rates): F1 on 600000.SH matures 09-30; its extension request is refused
  (ratio between 130% and 140% with a forced liquidation in the last 6 months, and a
  maturity past the agreement's end): expiry notice, due, overdue from 10-01 with penalty,
  the overdue trigger and the default record;
- C2 (negotiated rates): F2 on 600036.SH matures 10-08; its extension is granted on
  09-28 (ratio between 130% and 140%, no forced liquidation): no overdue, no penalty;
- C3: a margin buy and a short sale on 09-24, a sale to repay on 09-29, a buy to cover on
  09-30, a transfer in and a direct return on 10-08;
- C4: F4 on 000001.SZ matures 09-30 while the stock is suspended (from 09-24); the
  resumption on 10-09 postpones it by the 6 days lost, to 10-15;
- C5: a margin buy on 09-28 repaid directly on 10-08, with what was booked through 09-30:
  the holiday's interest, booked that evening, stays owed;
- C6: a margin buy on 10-09 repaid the same day (one day's management fee), the fee owed.

After the last end of day, two things the rules require are probed through the book and
the desk of the next day: a repayment follows the maturity in force (F2 extended), and the
overdue F1 is due for liquidation with the plan that repays it.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from fractions import Fraction as F
from pathlib import Path

import pytest
from sqlalchemy import Engine, select

from conftest import drop_postgres, make_postgres_engine, make_sqlite_engine
from liangrong.book.accounts import ClientProfile
from liangrong.book.loader import load_firm_state, load_mirrors
from liangrong.book.service import Book
from liangrong.desk.service import Desk
from liangrong.domain import operations as ops
from liangrong.domain.contract_lifecycle import check_on
from liangrong.domain.contracts import ContractKind, ContractTerms
from liangrong.domain.default_records import DefaultKind, RecordStatus
from liangrong.domain.exchange_report import (
    DebtFigures,
    ReportRow,
    SubmissionStatus,
    SubmittedReport,
)
from liangrong.domain.interest import ChargePosting
from liangrong.domain.liquidation import (
    CashRepayment,
    LiquidationMode,
    LiquidationPlan,
    LiquidationReason,
    PlannedOrder,
)
from liangrong.domain.money import ratio_text
from liangrong.domain.orders import (
    AccountType,
    NonTradeKind,
    NonTradeRequest,
    Order,
    OrderKind,
)
from liangrong.domain.pretrade_state import AccountStatus
from liangrong.domain.settlement import Fill
from liangrong.domain.versions import Version
from liangrong.eod.contract_terms import TermEvents, suspensions_on
from liangrong.eod.runner import run
from liangrong.eod.settings import EodSettings, demo_policies
from liangrong.eod.steps import STEP_NAMES
from liangrong.ledger import schema as s
from liangrong.ledger.journal import CreditAccountOpening, Ledger
from liangrong.market.intake import receive
from liangrong.reports.exchange_files import (
    EXCHANGES,
    default_file_names,
    read_default_records_csv,
    read_report_rows,
    submission_file,
)
from liangrong.sim.demo_loader import load_demo
from liangrong.sim.reference_day import load_reference_day, opening_market
from liangrong.sim.rules_seed import negotiated_agreement
from liangrong.sim.session import CST
from liangrong.store.charge_posting import record_charge_posting
from liangrong.store.closing_prices import save_closing_prices
from liangrong.store.eod_records import (
    RESUMED,
    SUSPENDED,
    ExtensionRequestRecord,
    SecurityTermEvent,
    load_contract_events,
    load_security_events,
    save_extension_request,
    save_security_events,
)
from liangrong.store.report_submissions import load_submissions
from liangrong.store.risk_records import RunRecord, save_liquidation_run
from liangrong.store.rule_versions import save_rule_versions

# --------------------------------------------------------------------------- the calendar

D = date
DAYS = (D(2026, 9, 24), D(2026, 9, 28), D(2026, 9, 29), D(2026, 9, 30), D(2026, 10, 8),
        D(2026, 10, 9), D(2026, 10, 12))  # fmt: skip
SEP24, SEP28, SEP29, SEP30, OCT8, OCT9, OCT12 = DAYS
OCT13 = D(2026, 10, 13)  # the next trading day, where the probes run
THROUGH = D(2026, 9, 23)  # charges before the span: not this test's business
# weekdays the exchanges are closed: Mid-Autumn, National Day (10-03/04 are its weekend)
HOLIDAYS = {D(2026, 9, 25), *(D(2026, 10, d) for d in (1, 2, 5, 6, 7))}

# --------------------------------------------------------------------------- rates

FIRM_FINANCING, FIRM_LENDING, PENALTY = F("0.0835"), F("0.1035"), F("0.18")  # demo firm
AGREED_FINANCING = F("0.055")  # the demo negotiated agreement (C1, C2)
MANAGEMENT_FEE = F("0.0835")  # demo charge policy: same-day use pays a day of it
RULES = "exchange:2026-01-14/firm:2026-01-14"
LI_PER_FEN = 10

# --------------------------------------------------------------------------- the book

SH, SZ = "600000.SH", "600036.SH"
PA = "000001.SZ"  # suspended over F4's maturity
# The demo's reference (previous close) of every day: the book's opening prices.
REFERENCE_LI = {SH: 26_150, SZ: 5_090, PA: 80_270}
CLOSES_LI = {
    SEP24: {SH: 26_150, SZ: 5_090, PA: 80_270},
    SEP28: {SH: 26_300, SZ: 5_120, PA: 80_270},
    SEP29: {SH: 25_900, SZ: 5_050, PA: 80_270},
    SEP30: {SH: 26_000, SZ: 5_100, PA: 80_270},
    OCT8: {SH: 26_200, SZ: 5_080, PA: 80_270},  # still suspended: its last close
    OCT9: {SH: 26_100, SZ: 5_060, PA: 79_500},
    OCT12: {SH: 26_050, SZ: 5_110, PA: 79_800},
}
CASH = {"C1": 3_000_000, "C2": 8_200_000, "C3": 50_000_000, "C4": 10_000_000,
        "C5": 10_000_000, "C6": 5_000_000}  # fmt: skip
CLIENTS = tuple(CASH)
AGREEMENT_END = {"R1": D(2027, 2, 26), "R2": D(2027, 12, 31)}
C1_LIQUIDATED = D(2026, 6, 15)  # a forced liquidation within the 6 months before 09-24


def _terms(
    cid: str, client: str, security: str, quantity: int, amount_fen: int, used: date,
    maturity: date, rate: F,
) -> ContractTerms:  # fmt: skip
    price_li = amount_fen * LI_PER_FEN // quantity
    return ContractTerms(
        cid, ContractKind.FINANCING, client, security, quantity, amount_fen, price_li, used,
        used, maturity, False, F(1), RULES, rate,
    )  # fmt: skip


# Opened before the span (a term of at most 6 months from the day of use).
F1 = _terms("F1", "C1", SH, 4_000, 10_000_000, D(2026, 3, 30), SEP30, AGREED_FINANCING)
F2 = _terms("F2", "C2", SZ, 40_000, 20_000_000, D(2026, 4, 8), OCT8, AGREED_FINANCING)
F2B = _terms("F2B", "C2", SZ, 10_000, 5_000_000, D(2026, 6, 15), D(2026, 12, 15),
             AGREED_FINANCING)  # fmt: skip
F4 = _terms("F4", "C4", PA, 1_000, 8_000_000, D(2026, 4, 15), SEP30, FIRM_FINANCING)


def fees_fen(value_fen: int, sale: bool) -> int:
    """The demo fees of a fill whose amounts are exact: commission 0.025% (at least 5
    yuan), transfer fee 0.001%, stamp duty 0.05% on sales; the values below are chosen so
    that no fee needs rounding."""
    commission, transfer = F(value_fen * 25, 100_000), F(value_fen, 100_000)
    stamp = F(value_fen * 5, 10_000) if sale else F(0)
    assert all(x.denominator == 1 for x in (commission, transfer, stamp))
    return int(max(commission, F(500)) + transfer + stamp)


# The book's business during the span (its contract ids are "F"/"S" + the trade id).
F3_BOUGHT = 20_000 * 5_000 // LI_PER_FEN  # 20,000 shares of 600036 at 5.000
F3_PRINCIPAL = F3_BOUGHT + fees_fen(F3_BOUGHT, sale=False)
S3_QUANTITY, S3_PRICE_LI = 1_000, 26_150  # short sale of 600000 at the reference price
S3_COVERED, S3_RETURNED = 400, 100
F3_SOLD = 8_000 * 5_000 // LI_PER_FEN  # sold to repay on 09-29
F5_BOUGHT = 1_000 * 26_000 // LI_PER_FEN
F5_PRINCIPAL = F5_BOUGHT + fees_fen(F5_BOUGHT, sale=False)  # C5 on 09-28, C6 on 10-09


def days_between(first: date, last: date) -> Iterator[date]:
    day = first
    while day <= last:
        yield day
        day += timedelta(days=1)


def half_up(amount: F) -> int:
    assert amount >= 0
    return int(amount + F(1, 2))


# --------------------------------------------------------------------------- closed forms


@dataclass(frozen=True)
class Debt:
    """A contract as the test sees it: what it owes at each close (fen, or shares), its
    base in li per unit owed, its rate, and from which day (if any) it is overdue."""

    contract_id: str
    client: str
    moves: tuple[tuple[date, int], ...]  # (business date, change of what is owed)
    base_li_per_unit: int
    rate: F
    overdue_from: date | None = None
    same_day_fee: bool = False  # used and repaid the day of use

    def owed(self, day: date) -> int:
        return sum(change for on, change in self.moves if on <= day)

    def _sum(self, rate: F, through: date, since: date) -> F:
        first = max(since, min(on for on, _ in self.moves))
        total = sum(
            (self.owed(d) for d in days_between(first, through)), start=0
        )  # balance-days (积数), weekends and holidays included
        return F(total * self.base_li_per_unit, LI_PER_FEN) * rate / 360

    def booked(self, through: date) -> dict[str, int]:
        """What the end of day should have booked in all, by kind, through ``through``."""
        kind = "interest" if self.base_li_per_unit == LI_PER_FEN else "lending_fee"
        if self.same_day_fee:
            used = self.moves[0]
            fee = F(used[1] * self.base_li_per_unit, LI_PER_FEN) * MANAGEMENT_FEE / 360
            return {"management_fee": half_up(fee)} if through >= used[0] else {}
        found = {kind: half_up(self._sum(self.rate, through, THROUGH + timedelta(days=1)))}
        if self.overdue_from is not None and through >= self.overdue_from:
            found["penalty"] = half_up(self._sum(PENALTY, through, self.overdue_from))
        return {k: v for k, v in found.items() if v}


def f3_charges_before_sale() -> int:
    """F3's interest booked through 09-28, what the sale of 09-29 pays before principal."""
    before_sale = Debt("F3", "C3", ((SEP24, F3_PRINCIPAL),), LI_PER_FEN, FIRM_FINANCING)
    return before_sale.booked(SEP28)["interest"]


F3_SALE_NET = F3_SOLD - fees_fen(F3_SOLD, sale=True)
F3_REPAID = F3_SALE_NET - f3_charges_before_sale()
F5_FIRST_CHARGES = Debt("F5", "C5", ((SEP28, F5_PRINCIPAL),), LI_PER_FEN,
                        FIRM_FINANCING).booked(SEP30)["interest"]  # fmt: skip

DEBTS = (
    Debt("F1", "C1", ((THROUGH, F1.amount_fen),), LI_PER_FEN, AGREED_FINANCING,
         overdue_from=D(2026, 10, 1)),
    Debt("F2", "C2", ((THROUGH, F2.amount_fen),), LI_PER_FEN, AGREED_FINANCING),
    Debt("F2B", "C2", ((THROUGH, F2B.amount_fen),), LI_PER_FEN, AGREED_FINANCING),
    Debt("FT3B", "C3", ((SEP24, F3_PRINCIPAL), (SEP29, -F3_REPAID)), LI_PER_FEN,
         FIRM_FINANCING),
    Debt("ST3S", "C3", ((SEP24, S3_QUANTITY), (SEP30, -S3_COVERED), (OCT8, -S3_RETURNED)),
         S3_PRICE_LI, FIRM_LENDING),
    Debt("F4", "C4", ((THROUGH, F4.amount_fen),), LI_PER_FEN, FIRM_FINANCING),
    Debt("FT5A", "C5", ((SEP28, F5_PRINCIPAL), (OCT8, -F5_PRINCIPAL)), LI_PER_FEN,
         FIRM_FINANCING),
    Debt("FT6", "C6", ((OCT9, F5_PRINCIPAL), (OCT9, -F5_PRINCIPAL)), LI_PER_FEN,
         FIRM_FINANCING, same_day_fee=True),
)  # fmt: skip
BY_ID = {debt.contract_id: debt for debt in DEBTS}


# --------------------------------------------------------------------------- the store


class Clock:
    """The business clock: each day's business at 10:00 CST, a microsecond apart."""

    def __init__(self) -> None:
        self.day, self.ticks = THROUGH, 0

    def __call__(self) -> datetime:
        self.ticks += 1
        return datetime.combine(self.day, time(10), CST) + timedelta(microseconds=self.ticks)

    def stamp(self) -> str:
        return self().isoformat(timespec="microseconds")


def set_up(engine: Engine, clock: Clock) -> None:
    load_demo(engine, SEP24, clock=clock)
    # C1 and C2 have negotiated agreements: lower lines (their 130-140% is no call) and rates
    save_rule_versions(
        engine, [negotiated_agreement(c, D(2026, 1, 5)) for c in ("C1", "C2")], clock=clock
    )
    ledger = Ledger(engine, clock)
    ledger.open_credit_accounts(
        [
            CreditAccountOpening(f"open:{c}:{x}", c, x, f"客户{c}", f"客户{c}", D(2026, 1, 5))
            for c in CLIENTS
            for x in ("SH", "SZ")
        ]
    )
    ledger.post_batch(
        [
            ops.fund_pool("pool:cny", D(2026, 1, 5), "CNY", 10**11),
            ops.fund_pool("pool:600000", D(2026, 1, 5), SH, 100_000),
            *(ops.deposit_cash(f"cash:{c}", D(2026, 1, 6), c, CASH[c]) for c in CLIENTS),
            *(ops.open_financing(f"open:{t.contract_id}", t) for t in (F1, F2, F2B, F4)),
        ]
    )
    save_liquidation_run(
        engine,
        RunRecord(
            f"liquidation:C1:{C1_LIQUIDATED}", "C1", C1_LIQUIDATED, "2026-06-15T10:30:00+08:00",
            "call_missed", "restore_target", F("1.25"), F("1.5"), True, "{}", "[]",
        ),
        None,
    )  # fmt: skip
    save_extension_request(
        engine,
        ExtensionRequestRecord("R1", "F1", "C1", SEP24, D(2027, 3, 30), AGREEMENT_END["R1"]),
        clock.stamp(),
    )
    save_security_events(engine, [notice("susp:000001", PA, SUSPENDED, SEP24)], clock.stamp())


def notice(event_id: str, symbol: str, kind: str, on: date) -> SecurityTermEvent:
    return SecurityTermEvent(event_id, symbol, kind, on, "exchange notice")


def open_book(engine: Engine, clock: Clock, day: date) -> Book:
    """The day's book over the store's reference day, with every client."""
    clock.day = day
    ref = load_reference_day(engine, day)
    assert ref.trading_date == day
    assert {x: ref.previous_close_li[x] for x in REFERENCE_LI} == REFERENCE_LI
    book = Book(Ledger(engine, clock), opening_market(ref), ref.calendar, load_firm_state(engine))
    mirrors = load_mirrors(engine, CLIENTS)
    for client in CLIENTS:
        profile = ClientProfile(client, f"客户{client}", 10**10, 10**10, 2 * 10**10, 10_001)
        book.add_client(profile, mirrors[client])
    return book


def _order(order_id: str, client: str, kind: OrderKind, symbol: str, price: int, qty: int):
    return Order(order_id, client, AccountType.CREDIT, "T001", symbol, kind, kind.side, price, qty)


def trade(book: Book, trade_id: str, client: str, kind: OrderKind, symbol: str, price: int,
          quantity: int) -> None:  # fmt: skip
    """An order accepted and filled in full at its price."""
    order_id = f"o{trade_id}"
    ack = book.submit(_order(order_id, client, kind, symbol, price, quantity))
    assert ack.accepted, (trade_id, ack.code)
    fill = Fill(trade_id, order_id, symbol, kind.side, price, quantity, book.market.trading_date)
    assert book.on_fill(fill)


def request(book: Book, request_id: str, client: str, kind: NonTradeKind, **what: object) -> None:
    ack = book.request(NonTradeRequest(request_id, client, kind, **what))  # type: ignore[arg-type]
    assert ack.accepted, (request_id, ack.code)


def business(engine: Engine, clock: Clock, day: date) -> None:
    """What the clients do on ``day`` through the book."""
    book = open_book(engine, clock, day)
    if day == SEP24:
        trade(book, "T3B", "C3", OrderKind.MARGIN_BUY, SZ, 5_000, 20_000)
        trade(book, "T3S", "C3", OrderKind.SHORT_SELL, SH, S3_PRICE_LI, S3_QUANTITY)
    elif day == SEP28:
        trade(book, "T5A", "C5", OrderKind.MARGIN_BUY, SH, 26_000, 1_000)
    elif day == SEP29:
        trade(book, "T3R", "C3", OrderKind.SELL_TO_REPAY, SZ, 5_000, 8_000)
    elif day == SEP30:
        trade(book, "T3C", "C3", OrderKind.BUY_TO_COVER, SH, 26_000, S3_COVERED)
    elif day == OCT8:
        amount = F5_PRINCIPAL + F5_FIRST_CHARGES  # what F5A owes after the 09-30 close
        request(book, "r5", "C5", NonTradeKind.DIRECT_REPAYMENT, amount_fen=amount)
        request(book, "r3i", "C3", NonTradeKind.TRANSFER_IN, symbol=SH, quantity=S3_RETURNED)
        request(book, "r3r", "C3", NonTradeKind.DIRECT_RETURN, symbol=SH, quantity=S3_RETURNED)
    elif day == OCT9:
        trade(book, "T6", "C6", OrderKind.MARGIN_BUY, SH, 26_000, 1_000)
        request(book, "r6", "C6", NonTradeKind.DIRECT_REPAYMENT, amount_fen=F5_PRINCIPAL)


# --------------------------------------------------------------------------- the run


@dataclass
class Scenario:
    engine: Engine
    reports: Path
    probes: dict[str, object] = field(default_factory=dict)  # what the next day showed

    def folder(self, day: date) -> Path:
        return self.reports / f"{day:%Y%m%d}"


def ratio_at_close(day: date, client: str) -> F:
    """The maintenance ratio at the close, by hand: cash and the shares held at the close
    over principal and the charges booked through the day."""
    closes = CLOSES_LI[day]
    held = {"C1": {SH: F1.quantity}, "C2": {SZ: F2.quantity + F2B.quantity}}[client]
    assets = F(CASH[client]) + sum(F(q * closes[x], LI_PER_FEN) for x, q in held.items())
    debts = [d for d in DEBTS if d.client == client]
    owed = sum(d.owed(day) + sum(d.booked(day).values()) for d in debts)
    return assets / owed


def run_scenario(
    engine: Engine,
    reports: Path,
    posting: ChargePosting = ChargePosting.DAILY,
    recorded: Sequence[Version[ChargePosting]] = (),
) -> Scenario:
    """The seven days; ``posting``: where the end of day books the charges, unless the firm
    has ``recorded`` versions of it in force (the figures are the same either way,
    ``test_subledger_scenario.py``)."""
    clock = Clock()
    set_up(engine, clock)
    decided = datetime.combine(THROUGH, time(9), CST)  # before the span, off the business clock
    for version in recorded:
        assert record_charge_posting(engine, version, clock=lambda: decided) == 1
    settings = EodSettings(
        reports, policies=demo_policies(posting), batch_transactions=3,
        accrued_through=THROUGH,
    )  # fmt: skip
    scenario = Scenario(engine, reports)
    for day in DAYS:
        if day == SEP28:  # C2 asks for the longest extension the rules allow
            clock.day = day
            request_r2 = ExtensionRequestRecord("R2", "F2", "C2", SEP28, None, AGREEMENT_END["R2"])
            save_extension_request(engine, request_r2, clock.stamp())
        if day == OCT9:  # the exchange announced 000001's resumption after the 10-08 close
            resumed = notice("resume:000001", PA, RESUMED, OCT9)
            save_security_events(engine, [resumed], clock.stamp())
        business(engine, clock, day)
        assert save_closing_prices(engine, day, CLOSES_LI[day]) == len(CLOSES_LI[day])
        report = run(engine, day, settings)
        assert report.complete and report.ran == list(STEP_NAMES), day
    probe(scenario, clock)
    return scenario


def probe(scenario: Scenario, clock: Clock) -> None:
    """The next trading day: C2 repays 10,000.00 of principal after every charge (the book's
    order: charges first, then the contract with the nearest maturity in force), and the
    desk opens (is C1's overdue contract due for liquidation?)."""
    engine = scenario.engine
    book = open_book(engine, clock, OCT13)
    owed = {c: book.mirrors["C2"].contracts[c] for c in ("F2", "F2B")}
    charges = sum(c.charges_outstanding_fen for c in owed.values())
    before = {c: m.principal_outstanding for c, m in owed.items()}
    request(book, "r2", "C2", NonTradeKind.DIRECT_REPAYMENT, amount_fen=charges + 1_000_000)
    after = load_mirrors(engine, ["C2"])["C2"].contracts
    scenario.probes["repaid"] = {c: before[c] - after[c].principal_outstanding for c in before}
    desk = Desk.open(engine, book, clock, recording=False)
    scenario.probes["due_today"] = desk.due_today()
    scenario.probes["due"] = dict(desk.liquidation_due)
    scenario.probes["status"] = {c: book.profiles[c].status for c in CLIENTS}
    scenario.probes["plan"] = desk.plan("C1")


BACKENDS = ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]


@pytest.fixture(scope="module", params=BACKENDS)
def scenario(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Scenario]:
    """The scenario run once per backend (what conftest's ``store`` fixture gives, built
    with its helpers: the tests below share one run of the seven days)."""
    folder = tmp_path_factory.mktemp(f"scenario-{request.param}")
    if request.param == "sqlite":
        engine, name = make_sqlite_engine(folder), None
    else:
        engine, name = make_postgres_engine()
    try:
        yield run_scenario(engine, folder / "reports")
    finally:
        if name is None:
            engine.dispose()
        else:
            drop_postgres(engine, name)


# --------------------------------------------------------------------------- accrual


def booked_by_day(engine: Engine) -> dict[date, dict[str, dict[str, int]]]:
    """Each end of day's charges from the journal: day -> contract -> kind -> fen."""
    t = s.journal_transactions
    found: dict[date, dict[str, dict[str, int]]] = defaultdict(lambda: defaultdict(dict))
    with engine.connect() as conn:
        rows = conn.execute(
            select(t.c.business_date, t.c.events_json).where(t.c.command_id.like("eod:%:charges:%"))
        ).all()
    for on, events in rows:
        for event in json.loads(events):
            assert event["type"] == "charges_accrued" and event["through"] == on.isoformat()
            kinds = set(event) - {"type", "contract_id", "from", "through"}
            found[on][event["contract_id"]] = {k: event[k] for k in kinds}
    return found


def test_the_span_has_a_weekend_and_holidays_and_every_day_ran(scenario: Scenario) -> None:
    calendar = load_reference_day(scenario.engine, OCT12).calendar
    assert [d for d in days_between(SEP24, OCT12) if calendar.is_trading_day(d)] == list(DAYS)
    weekdays_closed = [d for d in days_between(SEP24, OCT12) if d.weekday() < 5]
    assert {d for d in weekdays_closed if not calendar.is_trading_day(d)} == HOLIDAYS


# Contracts whose principal is settled while their charges are still owed after these days
# (repaid after a holiday; used and repaid the same day): charged nothing more.
SETTLED_OWING_CHARGES = {"FT5A": OCT8, "FT6": OCT9}


def booked_through(engine: Engine) -> dict[date, dict[str, dict[str, int]]]:
    """What the journal holds as booked in all through each end of day, by contract."""
    by_day = booked_by_day(engine)
    assert sorted(by_day) == list(DAYS)
    total: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    through = {}
    for day in DAYS:
        for contract, amounts in by_day[day].items():
            for kind, amount in amounts.items():
                total[contract][kind] += amount
        through[day] = {c: dict(k) for c, k in total.items()}
    return through


def test_interest_and_fees_to_the_fen_for_every_contract_every_day(scenario: Scenario) -> None:
    """What is booked through each end of day is the closed form through that day."""
    through = booked_through(scenario.engine)
    for day in DAYS:
        checked = [d for d in DEBTS if d.booked(day)]
        assert {d.contract_id: through[day].get(d.contract_id) for d in checked} == {
            d.contract_id: d.booked(day) for d in checked
        }, day
        assert set(through[day]) == {d.contract_id for d in DEBTS if d.booked(day)}, day


def test_the_closed_forms_written_out() -> None:
    """The model's totals as one would write them: 19 calendar days from 09-24 to 10-12."""
    f1 = {"interest": 29_028, "penalty": 60_000}  # 29,027.78 → 29,028; 10-01…10-12
    assert BY_ID["F1"].booked(OCT12) == f1 == {
        "interest": half_up(F(10_000_000) * F("0.055") * 19 / 360),
        "penalty": half_up(F(10_000_000) * F("0.18") * 12 / 360),
    }  # fmt: skip
    f4 = half_up(F(8_000_000 * 19) * FIRM_FINANCING / 360)
    assert BY_ID["F4"].booked(OCT12) == {"interest": f4}
    # repaid on 10-08: 09-28…10-07, ten days, the repayment day not counted
    f5 = half_up(F(F5_PRINCIPAL * 10) * FIRM_FINANCING / 360)
    assert BY_ID["FT5A"].booked(OCT12) == {"interest": f5}
    # 1,000 shares × 26.150 for 6 days, 600 for 8, 500 for 5
    s3 = half_up(F(26_150 * (1_000 * 6 + 600 * 8 + 500 * 5), 10) * FIRM_LENDING / 360)
    assert BY_ID["ST3S"].booked(OCT12) == {"lending_fee": s3}
    # 09-24…09-28 on the whole purchase, then 14 days on what the sale left
    f3 = half_up((F3_PRINCIPAL * 5 + (F3_PRINCIPAL - F3_REPAID) * 14) * FIRM_FINANCING / 360)
    assert BY_ID["FT3B"].booked(OCT12) == {"interest": f3}
    assert BY_ID["FT6"].booked(OCT12) == {
        "management_fee": half_up(F5_PRINCIPAL * MANAGEMENT_FEE / 360)
    }
    assert (F3_PRINCIPAL, F3_SALE_NET, F5_PRINCIPAL) == (10_002_600, 3_996_960, 2_600_676)


def test_the_penalty_starts_the_day_after_maturity(scenario: Scenario) -> None:
    by_day = booked_by_day(scenario.engine)
    assert "penalty" not in by_day[SEP30]["F1"]  # the maturity day: due, not overdue
    # 10-08 books 10-01…10-08: eight days of penalty at 18%, interest continues
    assert by_day[OCT8]["F1"]["penalty"] == half_up(F(10_000_000 * 8) * PENALTY / 360)
    for contract in ("F2", "F4"):  # extended; suspended over its maturity
        assert all("penalty" not in by_day[d].get(contract, {}) for d in DAYS)


# --------------------------------------------------------------------------- contract events


def test_contract_events_of_the_span(scenario: Scenario) -> None:
    events = {e.event_id: e for e in load_contract_events(scenario.engine)}
    assert {i: (e.trading_date, e.kind, e.maturity) for i, e in events.items()} == {
        "expiry:F1:2026-09-30": (SEP24, "expiry_notice", SEP30),
        "expiry:F4:2026-09-30": (SEP24, "expiry_notice", SEP30),
        "expiry:F2:2026-10-08": (SEP24, "expiry_notice", OCT8),
        "extension:R1": (SEP24, "extension_decided", None),
        "extension:R2": (SEP28, "extension_decided", D(2027, 4, 8)),
        "overdue:F1:2026-09-30": (OCT8, "overdue", SEP30),
        "suspension:F4:2026-09-24": (OCT9, "term_changed", D(2026, 10, 15)),
        "expiry:F4:2026-10-15": (OCT12, "expiry_notice", D(2026, 10, 15)),
    }
    # trading days left: 09-28, 09-29, 09-30 | 09-28 … 10-08 | 10-13, 10-14, 10-15
    left = {i: e.payload["trading_days_left"] for i, e in events.items() if "expiry:" in i}
    assert left == {"expiry:F1:2026-09-30": 3, "expiry:F4:2026-09-30": 3,
                    "expiry:F2:2026-10-08": 4, "expiry:F4:2026-10-15": 3}  # fmt: skip


def test_each_contract_status_day_by_day_on_the_recorded_terms(scenario: Scenario) -> None:
    """The lifecycle the maturities step applies, on the terms as recorded each day: F1
    refused (expiring, due on 09-30, overdue after), F2 extended (running once granted),
    F4 suspended over its maturity (awaiting the resumption, then expiring on 10-15)."""
    engine = scenario.engine
    calendar = load_reference_day(engine, OCT12).calendar
    policy = demo_policies().lifecycle_on(SEP24).value
    suspended = suspensions_on(load_security_events(engine), OCT12)[PA]

    def status(terms: ContractTerms, day: date) -> str:
        term = TermEvents(load_contract_events(engine, through=day)).term(terms)
        held = suspended if terms.security == PA else None
        return check_on(terms, term, day, True, calendar, policy, held).status.value

    statuses = {c.contract_id: [status(c, day) for day in DAYS] for c in (F1, F2, F4)}
    expiring, due, overdue, running = "expiring", "due", "overdue", "running"
    waiting = "awaiting_resumption"
    assert statuses == {
        "F1": [expiring, expiring, expiring, due, overdue, overdue, overdue],
        "F2": [expiring, running, running, running, running, running, running],
        "F4": [expiring, expiring, expiring, waiting, waiting, expiring, expiring],
    }
    # F4's new maturity (10-15) is inside the notice window from 10-08 on; its notice is
    # recorded on 10-12, the maturities step of 10-09 having run before the term change


def test_a_contract_matures_unpaid_and_becomes_overdue(scenario: Scenario) -> None:
    overdue = {e.event_id: e for e in load_contract_events(scenario.engine, kinds=["overdue"])}
    payload = overdue["overdue:F1:2026-09-30"].payload
    charges = BY_ID["F1"].booked(OCT8)
    assert charges == {
        "interest": half_up(F(10_000_000 * 15) * AGREED_FINANCING / 360),  # 09-24…10-08
        "penalty": half_up(F(10_000_000 * 8) * PENALTY / 360),  # 10-01…10-08
    }
    assert payload == {
        "overdue_since": "2026-10-01", "liquidate_from": "2026-10-08",
        "reason": "contract_expired", "kind": "financing", "security": SH,
        "principal": 10_000_000, "charges_fen": sum(charges.values()),
    }  # fmt: skip
    # the default-record file: nothing before, new on 10-08, continuing after
    for day in DAYS:
        data = (scenario.folder(day) / default_file_names(day)["utf-8"]).read_bytes()
        rows = read_default_records_csv(data)
        if day < OCT8:
            assert rows == ()
            continue
        (row,) = rows
        assert (row.event_id, row.client_id, row.kind, row.occurred_on) == (
            "overdue:F1:2026-09-30", "C1", DefaultKind.OVERDUE_DEBT, OCT8
        )  # fmt: skip
        assert row.amount_owed_fen == 10_000_000 + sum(charges.values())
        assert row.status is (RecordStatus.NEW if day == OCT8 else RecordStatus.CONTINUING)


def test_the_extension_refused_lists_every_reason(scenario: Scenario) -> None:
    (event,) = load_contract_events(scenario.engine, kinds=["extension_decided"], on=SEP24)
    ratio = ratio_at_close(SEP24, "C1")
    assert F("1.3") <= ratio < F("1.4")  # the scenario's premise: between the lines
    p = event.payload
    assert (p["granted"], p["new_maturity"], p["old_maturity"]) == (False, None, "2026-09-30")
    assert p["maintenance_ratio"] == ratio_text(ratio, 4)
    assert p["forced_liquidations"] == ["2026-06-15"]
    findings = {name: detail for name, detail in p["findings"]}
    assert list(findings) == [
        "REQUESTED_IN_TIME", "EXTENSIONS_LEFT", "NO_MALICIOUS_DEFAULT",
        "RATIO_AT_LOW_LINE_RECENT_LIQUIDATION", "TERM_WITHIN_LIMIT", "PAST_AGREEMENT_END",
    ]  # fmt: skip
    assert findings["REQUESTED_IN_TIME"] == "2026-09-24 / 2026-09-29"  # a trading day before
    assert findings["RATIO_AT_LOW_LINE_RECENT_LIQUIDATION"].endswith(": 2026-06-15")
    assert findings["PAST_AGREEMENT_END"] == "2027-03-30 / 2027-02-26"


def test_the_extension_granted_moves_the_maturity(scenario: Scenario) -> None:
    (event,) = load_contract_events(scenario.engine, kinds=["extension_decided"], on=SEP28)
    ratio = ratio_at_close(SEP28, "C2")
    assert F("1.3") <= ratio < F("1.4")
    p = event.payload
    assert (p["granted"], p["old_maturity"], p["new_maturity"], p["provisional"]) == (
        True, "2026-10-08", "2027-04-08", True  # 6 months on; past the loaded calendar
    )  # fmt: skip
    assert p["maintenance_ratio"] == ratio_text(ratio, 4) and p["forced_liquidations"] == []
    assert [name for name, _ in p["findings"]] == [
        "REQUESTED_IN_TIME", "EXTENSIONS_LEFT", "NO_MALICIOUS_DEFAULT",
        "RATIO_AT_LOW_LINE_NO_LIQUIDATION", "TERM_WITHIN_LIMIT", "WITHIN_AGREEMENT",
    ]  # fmt: skip


def test_the_suspension_postpones_the_maturity_by_the_days_lost(scenario: Scenario) -> None:
    (event,) = load_contract_events(scenario.engine, kinds=["term_changed"])
    p = event.payload
    assert (p["kind"], p["old_maturity"], p["new_maturity"]) == (
        "suspension", "2026-09-30", "2026-10-15"  # resumed 10-09 + (09-30 − 09-24)
    )  # fmt: skip
    # the 6 months from 04-15 had 21 days left when the suspension began: 10-09 + 21
    assert "limit 2026-10-30" in p["detail"]


# Whose checkpoint each day's balances check stood on (None: a full check): a full one at
# least every seven calendar days (the default), the days between on the day before.
CHECKED_SINCE = (None, SEP24, SEP28, SEP29, None, OCT8, OCT9)


def test_every_day_reconciles_without_a_call(scenario: Scenario) -> None:
    for day, since in zip(DAYS, CHECKED_SINCE, strict=True):
        lines = (scenario.folder(day) / f"reconciliation_{day:%Y%m%d}.csv").read_text()
        status = dict(line.split(",")[:2] for line in lines.splitlines()[1:])
        (balances,) = [line for line in lines.splitlines() if line.startswith("balances,")]
        assert balances.startswith(
            "balances,ok,," if since is None else f"balances,ok,control total since {since} "
        ), day
        # No session ran here, so no clearing or bank file was delivered: listed as missing.
        assert {c: s for c, s in status.items() if s != "ok"} == {
            "bank": "missing",
            "clearing": "missing",
        }, day
        calls = (scenario.folder(day) / f"margin_calls_{day:%Y%m%d}.csv").read_text()
        assert len(calls.splitlines()) == 1, day  # the header: every ratio above its lines


# --------------------------------------------------------------------------- the report


# (day, security, side, channel, amount): every debt movement of the span
MOVEMENTS = (
    (SEP24, SZ, "financing", "new", F3_PRINCIPAL),
    (SEP24, SH, "short", "new", S3_QUANTITY),
    (SEP28, SH, "financing", "new", F5_PRINCIPAL),
    (SEP29, SZ, "financing", "trade", F3_REPAID),
    (SEP30, SH, "short", "trade", S3_COVERED),
    (OCT8, SH, "financing", "direct", F5_PRINCIPAL),
    (OCT8, SH, "short", "direct", S3_RETURNED),
    (OCT9, SH, "financing", "new", F5_PRINCIPAL),
    (OCT9, SH, "financing", "direct", F5_PRINCIPAL),
)
SIDES = ("financing", "short")
OPENING = {SH: (F1.amount_fen, 0), SZ: (F2.amount_fen + F2B.amount_fen, 0), PA: (F4.amount_fen, 0)}


def expected_rows(day: date, previous: dict[str, tuple[int, int]]) -> dict[str, ReportRow]:
    rows = {}
    for security, (financing_before, short_before) in previous.items():
        sides: dict[str, dict[str, int]] = {side: defaultdict(int) for side in SIDES}
        for on, x, side, channel, amount in MOVEMENTS:
            if on == day and x == security:
                sides[side][channel] += amount
        figures = {}
        for side, before in (("financing", financing_before), ("short", short_before)):
            f = sides[side]
            repaid = f["direct"] + f["trade"] + f["forced"]
            figures[side] = DebtFigures(f["new"], f["direct"], f["trade"], f["forced"], 0,
                                        before + f["new"] - repaid)  # fmt: skip
        close = CLOSES_LI[day][security]
        short_fen = (figures["short"].balance * close + 5) // LI_PER_FEN  # half up
        rows[security] = ReportRow(day, security, figures["financing"], figures["short"],
                                   close, short_fen, True)  # fmt: skip
    return rows


def test_the_exchange_report_day_by_day(scenario: Scenario) -> None:
    previous = dict(OPENING)
    read_before: dict[str, ReportRow] | None = None
    for day in DAYS:
        read = {row.security: row for row in read_report_rows(scenario.folder(day), day)}
        expected = expected_rows(day, previous)
        assert set(read) == set(expected), day
        for security, row in read.items():
            want = expected[security]
            assert (row.financing, row.short, row.close_price_li, row.short_balance_fen) == (
                want.financing, want.short, want.close_price_li, want.short_balance_fen
            ), (day, security)  # fmt: skip
            assert row.total_balance_fen == row.financing.balance + row.short_balance_fen
            # the identity against yesterday's file (the ledger's opening debts, the first day)
            if read_before is None:
                yesterday = OPENING[security]
            else:
                yesterday = (read_before[security].financing.balance,
                             read_before[security].short.balance)  # fmt: skip
            assert row.financing.balance == yesterday[0] + row.financing.new - row.financing.repaid
            assert row.short.balance == yesterday[1] + row.short.new - row.short.repaid
        previous = {x: (r.financing.balance, r.short.balance) for x, r in expected.items()}
        read_before = read
    # the figures in the file as the exchange reads them (yuan with two decimals)
    line = next(
        line.split(",")
        for line in (scenario.folder(SEP29) / "rzrq_daily_SH_20260929.csv").read_text().splitlines()
        if ",600036," in line
    )
    balance = F2.amount_fen + F2B.amount_fen + F3_PRINCIPAL - F3_REPAID
    assert line[2:9] == [
        "0.00", yuan(F3_REPAID), "0.00", yuan(F3_REPAID), "0.00", "0.00", yuan(balance)
    ]  # fmt: skip


def test_each_days_files_pass_the_exchanges_review_against_the_day_before(
    scenario: Scenario,
) -> None:
    """Submitted at 21:00 each day in order, every daily report passes the exchange's review
    against the previous trading day's (across both holidays); the first day's identities
    cannot be checked there (the exchange holds no report of 09-23)."""
    for day in DAYS:
        for report in SubmittedReport:
            for exchange in EXCHANGES:
                path = submission_file(scenario.folder(day), day, report, exchange)
                received = receive(
                    scenario.engine, report, exchange, day, path.name, path.read_bytes(),
                    datetime.combine(day, time(21), CST), "ops", clock=lambda: NOW,
                )  # fmt: skip
                assert (received.status, received.of_record) == (
                    SubmissionStatus.ON_TIME, True
                ), (day, report, exchange)  # fmt: skip
                checked = report is SubmittedReport.DAILY and day != SEP24
                assert received.submission.identities_checked is checked, (day, exchange)
    held = load_submissions(scenario.engine, OCT12)
    assert len(held) == 4 and all(h.identities_checked for h in held if h.report.value == "daily")


NOW = datetime(2026, 10, 13, 8, 0, tzinfo=CST)


def yuan(fen: int) -> str:
    return f"{fen // 100}.{fen % 100:02d}"


# --------------------------------------------------------------------------- probes


def test_a_repayment_follows_the_extended_maturity(scenario: Scenario) -> None:
    """F2 (opened to 2026-10-08) was extended to 2027-04-08: F2B (2026-12-15) is now the
    nearest maturity in force and takes the principal repaid after the charges."""
    assert scenario.probes["repaid"] == {"F2": 0, "F2B": 1_000_000}


def sale_fees_fen(value_li: int) -> int:
    """The demo fees of a sale, each half up to the fen: commission 0.025% (at least 5
    yuan), stamp duty 0.05%, transfer fee 0.001%."""
    value = F(value_li, LI_PER_FEN)
    commission = max(half_up(value * 25 / 100_000), 500)
    return commission + half_up(value * 5 / 10_000) + half_up(value / 100_000)


def test_an_overdue_contract_is_due_for_liquidation(scenario: Scenario) -> None:
    """F1, overdue since 10-01 (trigger recorded 10-08, liquidation from 10-08), is the next
    trading day's one liquidation: C1 in liquidation for the expired contract, the plan
    selling the least whole lots of 600000 whose net proceeds, with C1's free cash, repay
    F1's principal and the charges booked through 10-12, and nothing more."""
    probes = scenario.probes
    assert probes["due_today"] == ["C1"]
    assert probes["due"] == {"C1": LiquidationReason.CONTRACT_EXPIRED}
    assert probes["status"] == {
        c: AccountStatus.LIQUIDATION if c == "C1" else AccountStatus.NORMAL for c in CLIENTS
    }
    owed = F1.amount_fen + sum(BY_ID["F1"].booked(OCT12).values())
    assert owed == 10_000_000 + 29_028 + 60_000
    price, cash = REFERENCE_LI[SH], CASH["C1"]  # the day's planning price; cash untouched

    def net(quantity: int) -> int:
        return half_up(F(quantity * price, LI_PER_FEN)) - sale_fees_fen(quantity * price)

    lots = next(n for n in range(1, F1.quantity // 100 + 1) if net(n * 100) + cash >= owed)
    quantity = lots * 100
    plan = probes["plan"]
    assert isinstance(plan, LiquidationPlan)
    reason = LiquidationReason.CONTRACT_EXPIRED
    assert (plan.reason, plan.mode, plan.reached, plan.recovery) == (
        reason, LiquidationMode.REPAY_REQUIRED, True, None
    )  # fmt: skip
    amount = half_up(F(quantity * price, LI_PER_FEN))
    sale = PlannedOrder(OrderKind.FORCED_SELL, SH, quantity, price, reason, amount,
                        sale_fees_fen(quantity * price), repays_fen=net(quantity))  # fmt: skip
    rest = owed - net(quantity)
    assert plan.steps == (sale, CashRepayment(rest, rest, 0, reason))
    assert net(quantity - 100) + cash < owed <= net(quantity) + cash  # the least lots
    assert plan.debt_after_fen == 0


def test_a_repaid_contract_still_owing_charges_is_not_charged_again(scenario: Scenario) -> None:
    """Found by this scenario: a contract settled in principal but owing charges was taken
    up as new at the next end of day and charged again from its day of use."""
    through = booked_through(scenario.engine)
    for contract, settled in SETTLED_OWING_CHARGES.items():
        assert (
            through[OCT12][contract] == through[settled][contract] == BY_ID[contract].booked(OCT12)
        )
