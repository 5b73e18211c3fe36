"""The firm-level limits at work (RISK-11): the room the desk's evaluation leaves is what the
book's checks refuse against, held by accepted orders, released by cancels, expiry and
exchange rejections, kept for fills until the next evaluation counts them; the store keeps
the dated inputs and the alerts append-only; the demo seed is within the regulator's
ceilings.

The builders at the top (``firm_room_of``) are shared with the pretrade tests.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Iterable, Mapping
from dataclasses import replace
from datetime import date, datetime, timedelta
from fractions import Fraction
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule
from sqlalchemy import Engine, text

from book_helpers import DAY1, MASTER, open_book, order, profile
from conftest import make_sqlite_engine
from liangrong.book.service import Book, OrderStatus
from liangrong.desk.service import Desk
from liangrong.domain import operations as ops
from liangrong.domain.fees import fee_reserve_fen
from liangrong.domain.firm_limits import (
    ClientExposure,
    FirmCapital,
    FirmExposures,
    FirmLimitRule,
    FirmLimits,
    FirmRoom,
    FirmUse,
    Indicator,
    Level,
    SecurityExposure,
    SecurityShares,
    WarningShares,
    check_against_regulator,
    evaluate,
    firm_room,
)
from liangrong.domain.money import trade_amount_fen
from liangrong.domain.order_codes import OrderCode
from liangrong.domain.orders import NonTradeKind, NonTradeRequest, Order, OrderKind, Side
from liangrong.domain.rule_codes import RuleRefused
from liangrong.domain.settlement import Fill
from liangrong.domain.versions import Version
from liangrong.ledger.journal import Ledger
from liangrong.risk.exposure import book_exposure, firm_exposures
from liangrong.sim.fee_seed import fee_schedule_on
from liangrong.sim.firm_limits_seed import (
    capital_history,
    demo_firm_limits,
    regulator_ceilings,
    rule_history,
)
from liangrong.sim.session import CST
from liangrong.store.firm_alerts import (
    FIRM_LIMIT_TABLES,
    FirmLimitConflict,
    alerts_of,
    load_firm_alerts,
    load_firm_limit_histories,
    load_firm_limits,
    save_firm_alerts,
    save_firm_limit_versions,
)
from liangrong.store.reference import save_securities
from liangrong.store.schema import metadata

Clock = Callable[[], datetime]
MASTER_BY_SYMBOL = {security.symbol: security for security in MASTER}
FEES_DAY1 = fee_schedule_on(DAY1)

I = Indicator  # noqa: E741
DAY = date(2026, 3, 2)
WARN = WarningShares(Fraction(4, 5), Fraction(9, 10))
BIG_NET_CAPITAL = 10**14  # fen: no net-capital limit of a test binds unless it says so


def firm_limits_of(
    limits: Mapping[Indicator, Fraction],
    net_capital_fen: int = BIG_NET_CAPITAL,
    financing_line_fen: int | None = None,
) -> FirmLimits:
    rule = FirmLimitRule(limits, WARN, financing_line_fen=financing_line_fen)
    return FirmLimits(DAY, rule, net_capital_fen, "nc-test", "rule-test")


def firm_room_of(
    limits: Mapping[Indicator, Fraction],
    *,
    net_capital_fen: int = BIG_NET_CAPITAL,
    financing_fen: int = 0,
    lending_fen: int = 0,
    clients: Iterable[ClientExposure] = (),
    securities: Iterable[SecurityExposure] = (),
    shares: Mapping[str, SecurityShares] | None = None,
    financing_line_fen: int | None = None,
) -> FirmRoom:
    """The room a real evaluation of ``limits`` over these exposures leaves."""
    exposures = FirmExposures(financing_fen, lending_fen, tuple(clients), tuple(securities))
    limits_in_force = firm_limits_of(limits, net_capital_fen, financing_line_fen)
    evaluation = evaluate(limits_in_force, exposures, shares or {})
    return firm_room(evaluation.blocks)


def stock_shares(
    symbol: str, total: int = 10**12, float_: int = 10**12
) -> dict[str, SecurityShares]:
    return {symbol: SecurityShares(total, float_, stock=True)}


# --------------------------------------------------------------------------- the book

A, B = "CA", "CB"
BANK = "600036.SH"  # 30.000 in the book's helpers; 5,000,000,000 float shares there
CLOSE = 30_000


def _book_store(tmp_path: Path, clock: Clock) -> tuple[Engine, Ledger]:
    engine = make_sqlite_engine(tmp_path)
    ledger = Ledger(engine, clock)
    ledger.post(ops.fund_pool("fund-cash", DAY1, "CNY", 100_000_000_00))
    ledger.post(ops.fund_pool("fund-600036", DAY1, BANK, 1_000_000))
    for client in (A, B):
        for exchange in ("SH", "SZ"):
            ledger.open_credit_account(
                f"o-{client}-{exchange}", client, exchange, "张三", "张三", DAY1
            )
        ledger.post(ops.deposit_cash(f"d-{client}", DAY1, client, 50_000_000_00))
    save_securities(engine, MASTER)
    return engine, ledger


def _clock() -> Clock:
    ticks = iter(range(10**9))
    start = datetime(2026, 3, 2, 9, 15, tzinfo=CST)
    return lambda: start + timedelta(microseconds=next(ticks))


def _book(engine: Engine, clock: Clock) -> Book:
    return open_book(engine, clock, DAY1, [profile(A), profile(B)])


def _financing_room(amount_fen: int) -> FirmRoom:
    """A firm whose total financing may grow by ``amount_fen`` (100% of net capital)."""
    return firm_room_of({I.FINANCING_TO_NET_CAPITAL: Fraction(1)}, net_capital_fen=amount_fen)


def _margin_buy(order_id: str, client: str, quantity: int) -> Order:
    return order(order_id, client, OrderKind.MARGIN_BUY, BANK, CLOSE, quantity)


def _fill(book: Book, trade_id: str, order_id: str, quantity: int) -> None:
    placed = book.orders[order_id].order
    fill = Fill(trade_id, order_id, placed.symbol, placed.side, placed.price_li, quantity, DAY1)
    assert book.on_fill(fill)


def _financing_of(quantity: int) -> int:
    value = quantity * CLOSE
    return trade_amount_fen(quantity, CLOSE) + fee_reserve_fen(Side.BUY, value, FEES_DAY1)


def test_accepted_orders_hold_the_room_and_the_next_one_is_refused(tmp_path: Path) -> None:
    clock = _clock()
    engine, _ = _book_store(tmp_path, clock)
    book = _book(engine, clock)
    need = _financing_of(10_000)
    book.firm.limits = _financing_room(2 * need)
    assert book.submit(_margin_buy("m1", A, 10_000)).accepted
    assert book.submit(_margin_buy("m2", B, 10_000)).accepted  # two clients, one firm room
    assert book.firm.limits.financing_fen == 2 * need
    third = book.submit(_margin_buy("m3", A, 100))
    assert third.code is OrderCode.FIRM_SCALE_LIMIT
    assert book.outcomes["FIRM_SCALE_LIMIT"] == 1
    # cancel, exchange rejection and expiry each release the whole unfilled use
    assert book.cancel("m1")
    assert book.firm.limits.financing_fen == need
    assert book.submit(_margin_buy("m4", A, 10_000)).accepted
    assert book.exchange_rejected("m4") and book.firm.limits.financing_fen == need
    assert book.expire_open_orders() == 1 and book.firm.limits.financing_fen == 0


def test_a_fill_stays_held_until_the_next_evaluation_then_counts_once(tmp_path: Path) -> None:
    clock = _clock()
    engine, _ = _book_store(tmp_path, clock)
    book = _book(engine, clock)
    need = _financing_of(10_000)
    room = _financing_room(need + _financing_of(100))
    book.firm.limits = room
    assert book.submit(_margin_buy("m1", A, 10_000)).accepted
    _fill(book, "t1", "m1", 3_000)
    # the filled part is real financing now; the room still holds the whole order
    assert room.financing_fen == need
    assert book.cancel("m1")
    filled_part = _financing_of(3_000)  # what the fill financed: amount + its fees
    assert book.orders["m1"].filled_firm_fen == filled_part
    assert room.financing_fen == filled_part  # the unfilled part is released, the fill is not
    assert room.held[BANK].financed_shares == 3_000
    # a new evaluation starts a fresh room: only open orders' unfilled parts are held
    assert book.submit(_margin_buy("m2", B, 100)).accepted
    _fill(book, "t2", "m2", 40)  # the minimum commission: 40 shares pay 5.00 of fees
    book.set_firm_blocks(room.blocks)
    fresh = book.firm.limits
    assert fresh is not room
    assert fresh.financing_fen == _financing_of(100) - _financing_of(40)
    assert fresh.held[BANK].financed_shares == 60
    book.set_firm_blocks(None)
    assert book.firm.limits is None
    assert book.submit(_margin_buy("m3", A, 100_000)).accepted  # no firm limit: none refuses


def test_a_transfer_in_is_checked_and_held_by_the_book(tmp_path: Path) -> None:
    clock = _clock()
    engine, _ = _book_store(tmp_path, clock)
    book = _book(engine, clock)
    total = MASTER_BY_SYMBOL[BANK].total_shares
    # 20% of the total: 2,000,000,000 shares; 1,999,999,000 already taken in
    room = firm_room_of(
        {I.COLLATERAL_TO_TOTAL_SHARES: Fraction(1, 5)},
        securities=[SecurityExposure(BANK, 0, 0, total // 5 - 1_000, 0, 0)],
        shares={BANK: SecurityShares(total, total // 2, stock=True)},
    )
    book.firm.limits = room
    request = NonTradeRequest("q1", A, NonTradeKind.TRANSFER_IN, symbol=BANK, quantity=600)
    assert book.request(request).accepted
    assert room.held[BANK].intake_shares == 600
    more = NonTradeRequest("q2", B, NonTradeKind.TRANSFER_IN, symbol=BANK, quantity=500)
    assert book.request(more).code is OrderCode.FIRM_SECURITY_LIMIT
    buy = order("b1", B, OrderKind.COLLATERAL_BUY, BANK, CLOSE, 500)
    assert book.submit(buy).code is OrderCode.FIRM_SECURITY_LIMIT
    assert book.submit(order("b2", B, OrderKind.COLLATERAL_BUY, BANK, CLOSE, 400)).accepted
    # the request's own codes come first
    unknown = NonTradeRequest("q3", B, NonTradeKind.TRANSFER_IN, symbol=BANK, quantity=0)
    assert book.request(unknown).code is OrderCode.INVALID_ORDER


# --------------------------------------------------------------------------- the desk


def _save_limits(engine: Engine, net_capital_fen: int, limits: Mapping[Indicator, Fraction]):
    rule = FirmLimitRule(limits, WARN)
    return save_firm_limit_versions(
        engine,
        [Version("nc-1", date(2026, 1, 15), FirmCapital(net_capital_fen), "test report")],
        [Version("rule-1", date(2026, 1, 15), rule, "test rule")],
        clock=_clock(),
    )


def test_the_desk_evaluates_at_the_open_and_after_settlement(tmp_path: Path) -> None:
    clock = _clock()
    engine, _ = _book_store(tmp_path, clock)
    need = _financing_of(10_000)
    # financing ≤ 100% of net capital; 90% warns
    assert _save_limits(engine, 2 * need, {I.FINANCING_TO_NET_CAPITAL: Fraction(1)}) == 2
    desk = Desk.open(engine, _book(engine, clock), clock)
    book = desk.book
    assert desk.firm_evaluation is not None and book.firm.limits is not None
    assert book.firm.limits.blocks.financing.amount == 2 * need
    assert load_firm_alerts(engine) == []  # nothing owed yet: nothing to record
    assert book.submit(_margin_buy("m1", A, 10_000)).accepted
    assert book.submit(_margin_buy("m2", B, 10_000)).accepted
    _fill(book, "t1", "m1", 10_000)
    _fill(book, "t2", "m2", 9_000)
    assert book.submit(_margin_buy("m3", A, 100)).code is OrderCode.FIRM_SCALE_LIMIT
    book.expire_open_orders()
    desk.settle(datetime(2026, 3, 2, 15, 30, tzinfo=CST))
    # the fills are the exposures now, counted once: m2's unfilled tenth is free again
    financed = sum(
        c.principal_outstanding for m in book.mirrors.values() for c in m.contracts.values()
    )
    assert financed == need + _financing_of(9_000)  # 95% of the limit: a WARNING
    evaluation = desk.firm_evaluation
    assert evaluation is not None
    reading = evaluation.table[0]
    assert (reading.indicator, reading.value) == (I.FINANCING_TO_NET_CAPITAL, financed)
    assert book.firm.limits.financing_fen == 0
    assert book.firm.limits.blocks.financing.amount == 2 * need - financed
    alerts = load_firm_alerts(engine, DAY1)
    assert [(a.indicator, a.subject, a.level, a.value) for a in alerts] == [
        (I.FINANCING_TO_NET_CAPITAL, "", Level.WARNING, financed)
    ]
    assert desk.evaluate_firm_limits(datetime(2026, 3, 2, 15, 31, tzinfo=CST)) is not None
    assert load_firm_alerts(engine, DAY1) == alerts  # the same readings add nothing


def test_a_store_without_firm_limits_configures_none(tmp_path: Path) -> None:
    clock = _clock()
    engine, _ = _book_store(tmp_path, clock)
    desk = Desk.open(engine, _book(engine, clock), clock)
    assert desk.firm_limits is None and desk.book.firm.limits is None
    assert desk.evaluate_firm_limits(datetime(2026, 3, 2, 10, tzinfo=CST)) is None


def test_the_desk_reevaluates_at_its_cadence(tmp_path: Path) -> None:
    clock = _clock()
    engine, _ = _book_store(tmp_path, clock)
    _save_limits(engine, 10**12, {I.TOTAL_TO_NET_CAPITAL: Fraction(4)})
    opened = datetime(2026, 3, 2, 9, 15, tzinfo=CST)
    desk = Desk.open(engine, _book(engine, clock), clock, prices_at=opened, firm_every_s=600)
    first = desk.book.firm.limits
    desk.on_prices(opened + timedelta(seconds=599), {BANK: CLOSE + 10})
    assert desk.book.firm.limits is first
    desk.on_prices(opened + timedelta(seconds=600), {BANK: CLOSE + 20})
    assert desk.book.firm.limits is not first


# --------------------------------------------------------------------------- the store


def test_the_migration_creates_the_tables_and_protects_them(tmp_path: Path) -> None:
    engine = make_sqlite_engine(tmp_path)
    mine = set(FIRM_LIMIT_TABLES)
    with engine.connect() as conn:
        diffs = compare_metadata(MigrationContext.configure(conn), metadata)
    assert mine <= set(metadata.tables)
    assert [d for d in diffs if any(name in str(d) for name in mine)] == []
    _save_limits(engine, 10_000_000, {I.TOTAL_TO_NET_CAPITAL: Fraction(4)})
    at_limit = FirmExposures(40_000_000, 0, (), ())
    evaluation = evaluate(
        firm_limits_of({I.TOTAL_TO_NET_CAPITAL: Fraction(4)}, 10_000_000), at_limit, {}
    )
    assert save_firm_alerts(engine, alerts_of(evaluation, DAY1, "2026-03-02T09:15:00+08:00")) == 1
    for table in mine:
        with pytest.raises(Exception, match="append-only"), engine.begin() as conn:
            conn.execute(text(f"DELETE FROM {table}"))


def test_versions_round_trip_idempotently_and_conflicts_are_refused(tmp_path: Path) -> None:
    engine = make_sqlite_engine(tmp_path)
    capital, rules = capital_history().versions, rule_history().versions
    assert save_firm_limit_versions(engine, capital, rules, clock=_clock()) == 6
    assert save_firm_limit_versions(engine, capital, rules, clock=_clock()) == 0
    stored = load_firm_limit_histories(engine)
    assert stored.capital == capital_history() and stored.rules == rule_history()
    assert load_firm_limits(engine, date(2024, 1, 14)) is None
    assert load_firm_limits(engine, date(2026, 3, 2)) == demo_firm_limits(date(2026, 3, 2))
    changed = Version("nc-2025-12", date(2026, 1, 15), FirmCapital(1), "generated")
    with pytest.raises(FirmLimitConflict):
        save_firm_limit_versions(engine, [changed], [], clock=_clock())
    earlier = Version("nc-old", date(2020, 1, 2), FirmCapital(1), "an older report")
    with pytest.raises(RuleRefused):  # before the last version: the history refuses it
        save_firm_limit_versions(engine, [earlier], [], clock=_clock())
    assert len(load_firm_limit_histories(engine).capital.versions) == 3


def test_alerts_are_keyed_by_day_indicator_subject_and_level(tmp_path: Path) -> None:
    engine = make_sqlite_engine(tmp_path)
    limits = firm_limits_of(
        {I.CLIENT_FINANCING_TO_NET_CAPITAL: Fraction(1, 20), I.TOTAL_TO_NET_CAPITAL: Fraction(4)},
        net_capital_fen=1_000_000,
    )
    # one client at 45,000 of a 50,000 cap (90%: WARNING), one at the cap (REACHED, blocked)
    exposures = FirmExposures(
        95_000, 0, (ClientExposure("C1", 45_000, 0), ClientExposure("C2", 50_000, 0)), ()
    )
    evaluation = evaluate(limits, exposures, {})
    alerts = alerts_of(evaluation, DAY1, "2026-03-02T09:15:00+08:00")
    assert [(a.subject, a.level, a.blocks) for a in alerts] == [
        ("C1", Level.WARNING, ()),
        ("C2", Level.REACHED, ("financing",)),
    ]
    assert save_firm_alerts(engine, alerts) == 2
    assert save_firm_alerts(engine, alerts) == 0
    worse = evaluate(limits, FirmExposures(100_000, 0, (ClientExposure("C1", 50_000, 0),), ()), {})
    assert save_firm_alerts(engine, alerts_of(worse, DAY1, "2026-03-02T15:30:00+08:00")) == 1
    stored = load_firm_alerts(engine, DAY1)
    assert [(a.subject, a.level, a.value, a.limit) for a in stored] == [
        ("C1", Level.WARNING, 45_000, Fraction(50_000)),
        ("C1", Level.REACHED, 50_000, Fraction(50_000)),
        ("C2", Level.REACHED, 50_000, Fraction(50_000)),
    ]
    assert stored[0].capital_version == "nc-test" and stored[0].rule_version == "rule-test"


# --------------------------------------------------------------------------- the demo seed


def test_the_demo_rule_is_within_the_regulators_ceilings_on_every_version() -> None:
    ceilings = regulator_ceilings()
    for version in rule_history().versions:
        in_force = ceilings.version_at(version.effective)
        assert in_force is not None
        assert check_against_regulator(version.value, in_force.value, version.effective) == []
    limits = demo_firm_limits(date(2026, 3, 2))
    assert limits.net_capital_fen == 205 * 100_000_000 * 100
    assert limits.limit_fen(I.TOTAL_TO_NET_CAPITAL) == 4 * limits.net_capital_fen
    assert limits.limit_fen(I.CLIENT_FINANCING_TO_NET_CAPITAL) == limits.net_capital_fen // 20
    looser = FirmLimitRule({I.TOTAL_TO_NET_CAPITAL: Fraction(5)}, WARN)
    refused = check_against_regulator(looser, ceilings.versions[0].value, date(2026, 3, 2))
    assert {v.field for v in refused} == {
        "limits.TOTAL_TO_NET_CAPITAL",
        "limits.CLIENT_FINANCING_TO_NET_CAPITAL",
        "limits.CLIENT_LENDING_TO_NET_CAPITAL",
        "limits.COLLATERAL_TO_TOTAL_SHARES",
    }


# --------------------------------------------------------------------------- interleaving

MACHINE_CLIENTS = (A, B)
SMALL_BANK = replace(MASTER_BY_SYMBOL[BANK], total_shares=1_000_000, float_shares=1_000_000)
MACHINE_LIMITS = {
    I.FINANCING_TO_NET_CAPITAL: Fraction(1),  # 1,000,000.00 of financing in all
    I.CLIENT_FINANCING_TO_NET_CAPITAL: Fraction(7, 10),  # 700,000.00 per client
    I.FINANCED_TO_FLOAT: Fraction(1, 20),  # 50,000 financed shares of BANK
    I.SHORTS_TO_FLOAT: Fraction(1, 50),  # 20,000 short shares of BANK
    I.COLLATERAL_TO_TOTAL_SHARES: Fraction(3, 50),  # 60,000 shares of BANK taken in
}
MACHINE_NET_CAPITAL = 1_000_000_00
CLOSED = (OrderStatus.CANCELLED, OrderStatus.EXPIRED, OrderStatus.REJECTED)
FIGURES = ("financing_fen", "financed_shares", "short_shares", "intake_shares")


class FirmRoomMachine(RuleBasedStateMachine):
    """Orders, fills (some inside the limit price), cancels, exchange rejections, transfers
    in, repayments and re-evaluations through the book and the desk.  After every step:
    the room holds exactly what the orders and transfers since the evaluation still hold,
    and the book's real financing and shares never pass a firm limit."""

    @initialize()
    def open(self) -> None:
        self.tmp = tempfile.TemporaryDirectory()
        self.clock = _clock()
        self.engine, _ = _book_store(Path(self.tmp.name), self.clock)
        save_securities(self.engine, [SMALL_BANK])
        save_firm_limit_versions(
            self.engine,
            [Version("nc", date(2026, 1, 15), FirmCapital(MACHINE_NET_CAPITAL), "test")],
            [Version("rule", date(2026, 1, 15), FirmLimitRule(MACHINE_LIMITS, WARN), "test")],
            clock=self.clock,
        )
        self.desk = Desk.open(self.engine, _book(self.engine, self.clock), self.clock)
        self.book = self.desk.book
        self.count = 0
        self._start_of_evaluation()

    def _start_of_evaluation(self) -> None:
        self.base = {
            oid: o.unfilled_firm_use()
            for oid, o in self.book.orders.items()
            if o.status is OrderStatus.OPEN and o.firm_use is not None
        }
        self.after: set[str] = set()
        self.transfers: list[FirmUse] = []

    def _next(self, prefix: str) -> str:
        self.count += 1
        return f"{prefix}{self.count}"

    @rule(
        client=st.sampled_from(MACHINE_CLIENTS),
        kind=st.sampled_from(
            (OrderKind.MARGIN_BUY, OrderKind.SHORT_SELL, OrderKind.COLLATERAL_BUY)
        ),
        lots=st.integers(1, 80),
    )
    def submit(self, client: str, kind: OrderKind, lots: int) -> None:
        order_id = self._next("O")
        if self.book.submit(order(order_id, client, kind, BANK, CLOSE, 100 * lots)).accepted:
            self.after.add(order_id)

    def _open_ids(self) -> list[str]:
        return sorted(oid for oid, o in self.book.orders.items() if o.status is OrderStatus.OPEN)

    @rule(pick=st.integers(0, 10**6), part=st.integers(1, 100), better=st.integers(0, 2))
    def fill(self, pick: int, part: int, better: int) -> None:
        open_ids = self._open_ids()
        if not open_ids:
            return
        placed = self.book.orders[open_ids[pick % len(open_ids)]]
        quantity = max(1, placed.remaining * part // 100)
        price = placed.order.price_li - (10 * better if placed.order.side is Side.BUY else 0)
        o = placed.order
        self.book.on_fill(
            Fill(self._next("T"), o.order_id, o.symbol, o.side, price, quantity, DAY1)
        )

    @rule(pick=st.integers(0, 10**6), rejected=st.booleans())
    def close(self, pick: int, rejected: bool) -> None:
        open_ids = self._open_ids()
        if open_ids:
            chosen = open_ids[pick % len(open_ids)]
            assert (self.book.exchange_rejected if rejected else self.book.cancel)(chosen)

    @rule(client=st.sampled_from(MACHINE_CLIENTS), lots=st.integers(1, 100))
    def transfer_in(self, client: str, lots: int) -> None:
        kind = NonTradeKind.TRANSFER_IN
        request = NonTradeRequest(self._next("Q"), client, kind, symbol=BANK, quantity=100 * lots)
        if self.book.request(request).accepted:
            self.transfers.append(FirmUse.intake(BANK, 100 * lots))

    @rule(client=st.sampled_from(MACHINE_CLIENTS), amount=st.integers(1, 200_000_00))
    def repay(self, client: str, amount: int) -> None:
        kind = NonTradeKind.DIRECT_REPAYMENT
        self.book.request(NonTradeRequest(self._next("R"), client, kind, amount_fen=amount))

    @rule()
    def reevaluate(self) -> None:
        self.desk.evaluate_firm_limits(self.clock())
        self._start_of_evaluation()

    @invariant()
    def the_room_holds_what_is_still_held(self) -> None:
        if not hasattr(self, "book"):
            return
        expected = dict.fromkeys(FIGURES, 0)
        for oid, o in self.book.orders.items():
            start = o.firm_use if oid in self.after else self.base.get(oid)
            if start is None:
                continue
            released = o.unfilled_firm_use() if o.status in CLOSED else None
            for name in FIGURES:
                expected[name] += getattr(start, name) - (
                    getattr(released, name) if released else 0
                )
        for use in self.transfers:
            expected["intake_shares"] += use.intake_shares
        room = self.book.firm.limits
        assert room is not None
        held = room.held.get(BANK)
        assert room.financing_fen == expected["financing_fen"]
        got = (held.financed_shares, held.short_shares, held.intake_shares) if held else (0, 0, 0)
        assert got == tuple(expected[name] for name in FIGURES[1:])

    @invariant()
    def real_exposures_never_pass_a_limit(self) -> None:
        if not hasattr(self, "book"):
            return
        exposures = firm_exposures(book_exposure(self.desk.risk.book), 0)
        assert exposures.financing_fen <= MACHINE_NET_CAPITAL
        for client in exposures.clients:
            assert client.financing_fen <= MACHINE_NET_CAPITAL * 7 // 10
        for security in exposures.securities:
            if security.symbol == BANK:
                assert security.financed_shares <= 50_000
                assert security.short_shares <= 20_000
                assert security.collateral_shares <= 60_000

    def teardown(self) -> None:
        if hasattr(self, "book"):
            self.engine.dispose()
            self.tmp.cleanup()


FirmRoomMachine.TestCase.settings = settings(
    max_examples=15,
    stateful_step_count=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
TestFirmRoom = FirmRoomMachine.TestCase
