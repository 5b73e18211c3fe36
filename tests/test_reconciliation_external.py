"""Reconciliation with the clearing side and the bank side (ACC-7): two trading days driven
through a real book and the real simulated exchange, the fills and instructions fed to the
simulated clearing house and depository bank as well; their files recorded; the checks
report ``ok``; then injected differences (a fill only the clearing side has, a deposit only
the bank has, a day without files) are listed with exact figures and the journal is left
byte for byte as it was."""

from __future__ import annotations

from collections import Counter
from datetime import date, timedelta

import numpy as np
import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, text
from sqlalchemy.exc import DBAPIError

from book_helpers import (
    CALENDAR,
    DAY1,
    DAY2,
    MASTER,
    PREVIOUS_CLOSE_LI,
    fund_firm,
    open_book,
    order,
    profile,
)
from conftest import make_sqlite_engine
from liangrong.book.service import Book
from liangrong.domain.fees import FeeSchedule
from liangrong.domain.orders import NonTradeKind, NonTradeRequest, Order, OrderKind
from liangrong.domain.settlement import Fill
from liangrong.eod.external_checks import (
    external_check_rows,
    external_differences,
    ledger_credit_cash,
    ledger_positions,
    received_files,
)
from liangrong.ledger.digest import journal_digest
from liangrong.ledger.journal import Ledger
from liangrong.ledger.schema import metadata
from liangrong.sim.bank import DepositoryBank
from liangrong.sim.book_generator import generate_book
from liangrong.sim.clearing import ClearingDay, ClearingHouse
from liangrong.sim.exchange import Event, SimulatedExchange
from liangrong.sim.exchange import Fill as ExchangeFill
from liangrong.sim.prices import PriceSimulator, Snapshot
from liangrong.sim.reference_day import load_reference_day
from liangrong.store.clearing_records import (
    RECEIVED_APPEND_ONLY_TABLES,
    ReceivedFileConflict,
    load_bank_file,
    load_clearing_file,
    save_bank_file,
    save_clearing_file,
)
from sim_helpers import DAY, load_reference, reference_clock

A, B = "CA", "CB"
SEC_A_SH, SEC_A_SZ = "firm:collateral_securities:CA:SH", "firm:collateral_securities:CA:SZ"
SEC_B_SH, LENDING = "firm:collateral_securities:CB:SH", "firm:lending_pool"
PROFILES = [profile(A, "张三"), profile(B, "李四")]
DAY3 = date(2026, 3, 4)
OK = [("bank", "ok", "", "", ""), ("clearing", "ok", "", "", "")]
FEES = FeeSchedule(250, 5_00, 500, 10)


def simulator(on: date) -> PriceSimulator:
    """The test market's securities from their previous closes, ``on`` the first day."""
    return PriceSimulator(
        MASTER, PREVIOUS_CLOSE_LI, seed=1, calendar=CALENDAR, start=on, index_returns=[0.0]
    )


class TradingDay:
    """One day through the book and the exchange, both outside sides told what they see."""

    def __init__(self, store: Engine, clock, on: date, exchange: SimulatedExchange) -> None:
        self.store, self.clock, self.on, self.exchange = store, clock, on, exchange
        self.book: Book = open_book(store, clock, on, PROFILES)
        sim = simulator(on)
        self.trading = sim.open_day()
        self.symbols = sim.symbols
        exchange.open_day(self.trading)
        # The fund- transactions are what the tests' firm starts with: the opening delivery.
        self.clearing = ClearingHouse.resume(store, on, opening_prefix="fund-")
        self.clearing.open_day(on, self.book.market.fees)
        self.bank = DepositoryBank.resume(store, on, opening_prefix="fund-")
        self.bank.open_day(on)
        self.book.listeners.append(self.bank.on_posted)
        self.not_to_the_book: set[str] = set()
        self.seq = -1

    def request(self, request: NonTradeRequest) -> None:
        assert self.book.request(request).accepted, request
        self.clearing.on_request(request)
        self.bank.on_request(request)

    def submit(self, sent: Order, book_hears_fills: bool = True) -> None:
        assert self.book.submit(sent).accepted, sent
        if not book_hears_fills:
            self.not_to_the_book.add(sent.order_id)
        self._events(self.exchange.submit_order(sent))

    def snapshot(self, volumes: dict[str, int] | None = None) -> None:
        """Every security quoted at its previous close (bid = ask = last); the market's
        volume by symbol from ``volumes``, 10,000,000 otherwise."""
        self.seq += 1
        prices = self.trading.prev_close_li.copy()
        volume = np.full(len(prices), 10_000_000, dtype=np.int64)
        for symbol, shares in (volumes or {}).items():
            volume[self.symbols.index(symbol)] = shares
        snap = Snapshot(self.on, self.seq, prices, prices.copy(), prices.copy(), volume)
        self._events(self.exchange.on_snapshot(snap))

    def _events(self, events: list[Event]) -> None:
        for event in events:
            if not isinstance(event, ExchangeFill):
                continue
            self.clearing.on_fill(event, self.book.orders[event.order_id].order)
            if event.order_id not in self.not_to_the_book:
                fill = Fill(event.trade_id, event.order_id, event.symbol, event.side,
                            event.price_li, event.quantity, self.on)  # fmt: skip
                assert self.book.on_fill(fill)

    def close(self) -> tuple[ClearingDay, dict[str, int]]:
        self.exchange.close_day()
        self.book.expire_open_orders()
        cleared = self.clearing.close_day()
        self.bank.on_settlement(cleared)
        balances = self.bank.close_day()
        assert save_clearing_file(self.store, self.on, cleared.positions, clock=self.clock)
        assert save_bank_file(self.store, self.on, balances, clock=self.clock)
        return cleared, balances


def checks(store: Engine, on: date) -> list[tuple[str, str, str, str, str]]:
    with store.connect() as conn:
        return external_check_rows(conn, on)


def req(request_id: str, client: str, kind: NonTradeKind, **what: object) -> NonTradeRequest:
    return NonTradeRequest(request_id, client, kind, **what)  # type: ignore[arg-type]


DAY1_POSITIONS = {
    (SEC_A_SH, "600000.SH"): 15_000,
    (SEC_A_SH, "600036.SH"): 6_000,
    (SEC_A_SZ, "000001.SZ"): 10_000,
    (SEC_B_SH, "600036.SH"): 1_000,
    (LENDING, "000001.SZ"): 1_000_000,
    (LENDING, "600000.SH"): 1_000_000,
    (LENDING, "600036.SH"): 998_000,
}
# CA: 1,000,000.00 in; buys 10,000 000001.SZ at 12.000 (120,000.00 + 30.00 + 1.20); sells
# 5,000 600000.SH at 10.000 in fills of 300 and 4,700 (50,000.00 less 12.50 commission,
# 25.00 stamp duty, 0.50 transfer fee: the order's fees, not each fill's, so the first fill's
# 5.00 minimum commission is not paid twice); the margin buy is paid by the pool.
CA_DAY1_FEN = 100_000_000 - (12_000_000 + 3_000 + 120) + (5_000_000 - 3_800)
# CB: 200,000.00 in; short 2,000 600036.SH at 30.000 (60,000.00 less 15.00 + 30.00 + 0.60).
CB_DAY1_FEN = 20_000_000 + 6_000_000 - 4_560


@pytest.fixture
def day_one(store: Engine, fixed_clock):
    ledger = Ledger(store, fixed_clock)
    fund_firm(ledger)
    for client, name in ((A, "张三"), (B, "李四")):
        for exchange in ("SH", "SZ"):
            ledger.open_credit_account(
                f"open-{client}-{exchange}", client, exchange, name, name, DAY1
            )
    exchange = SimulatedExchange(simulator(DAY1).table)
    day = TradingDay(store, fixed_clock, DAY1, exchange)
    day.request(req("r1", A, NonTradeKind.CASH_DEPOSIT, amount_fen=100_000_000))
    day.request(req("r2", A, NonTradeKind.TRANSFER_IN, symbol="600000.SH", quantity=20_000))
    day.request(req("r3", B, NonTradeKind.CASH_DEPOSIT, amount_fen=20_000_000))
    day.request(req("r4", B, NonTradeKind.TRANSFER_IN, symbol="600036.SH", quantity=1_000))
    day.submit(order("o1", A, OrderKind.COLLATERAL_BUY, "000001.SZ", 12_000, 10_000))
    day.submit(order("o2", A, OrderKind.MARGIN_BUY, "600036.SH", 30_000, 6_000))
    day.submit(order("o3", B, OrderKind.SHORT_SELL, "600036.SH", 30_000, 2_000))
    day.submit(order("o4", A, OrderKind.COLLATERAL_SELL, "600000.SH", 10_000, 5_000))
    day.snapshot({"600000.SH": 1_200})  # our share, a quarter of 1,200: 300 shares of o4
    assert day.book.orders["o4"].filled_quantity == 300
    day.snapshot()
    assert day.book.orders["o4"].filled_quantity == 5_000
    cleared, balances = day.close()
    return exchange, cleared, balances


def test_two_days_agree_with_both_sides_and_a_day_checks_the_same_later(
    store: Engine, fixed_clock, day_one
) -> None:
    exchange, cleared, balances = day_one
    assert cleared.positions == DAY1_POSITIONS
    assert balances == {A: CA_DAY1_FEN, B: CB_DAY1_FEN}
    assert cleared.cash_by_client == {A: CA_DAY1_FEN - 100_000_000, B: 6_000_000 - 4_560}
    assert checks(store, DAY1) == OK

    day = TradingDay(store, fixed_clock, DAY2, exchange)  # resumes from the day-one files
    assert day.clearing.position(LENDING, "600036.SH") == 998_000
    assert day.bank.balance_fen(B) == CB_DAY1_FEN
    # CA sells to repay: proceeds 60,000.00 less 15.00 + 30.00 + 0.60 repay financing.
    day.submit(order("o5", A, OrderKind.SELL_TO_REPAY, "600036.SH", 30_000, 2_000))
    day.request(req("r5", A, NonTradeKind.CASH_WITHDRAWAL, amount_fen=1_000_000))
    day.request(req("r6", A, NonTradeKind.DIRECT_REPAYMENT, amount_fen=1_000_000))
    day.request(req("r7", A, NonTradeKind.TRANSFER_OUT, symbol="600000.SH", quantity=5_000))
    # CB covers 1,000 (30,000.00 + 7.50 + 0.30 from locked proceeds), returns 1,000 directly.
    day.submit(order("o6", B, OrderKind.BUY_TO_COVER, "600036.SH", 30_000, 1_000))
    day.snapshot()
    day.request(req("r8", B, NonTradeKind.DIRECT_RETURN, symbol="600036.SH", quantity=1_000))
    cleared, balances = day.close()

    assert cleared.positions == {
        (SEC_A_SH, "600000.SH"): 10_000,
        (SEC_A_SH, "600036.SH"): 4_000,
        (SEC_A_SZ, "000001.SZ"): 10_000,
        (LENDING, "000001.SZ"): 1_000_000,
        (LENDING, "600000.SH"): 1_000_000,
        (LENDING, "600036.SH"): 1_000_000,
    }
    assert cleared.cash_by_client == {A: 6_000_000 - 4_560, B: -3_000_780}
    assert balances == {A: CA_DAY1_FEN - 2_000_000, B: CB_DAY1_FEN - 3_000_780}
    with store.connect() as conn:
        assert ledger_positions(conn, DAY2) == cleared.positions
        assert ledger_credit_cash(conn, DAY2) == balances
        assert ledger_positions(conn, DAY1) == DAY1_POSITIONS  # the close of day one
        files = received_files(conn, DAY2)
    assert checks(store, DAY2) == OK
    assert checks(store, DAY1) == OK  # day two's postings are not day one's close
    assert files["bank_balances_20260303.csv"].decode() == (
        f"client_id,amount_fen\r\nCA,{CA_DAY1_FEN - 2_000_000}\r\nCB,{CB_DAY1_FEN - 3_000_780}\r\n"
    )
    assert files["clearing_positions_20260303.csv"].decode().splitlines()[:2] == [
        "account,symbol,quantity",
        "firm:collateral_securities:CA:SH,600000.SH,10000",
    ]


def test_differences_are_listed_with_both_figures_and_nothing_is_fixed(
    store: Engine, fixed_clock, day_one
) -> None:
    exchange = day_one[0]
    day = TradingDay(store, fixed_clock, DAY2, exchange)
    # The book never hears of this fill; the clearing side settles it (1,000.00 + the 5.00
    # minimum commission + 0.01 transfer fee).
    day.submit(order("o7", A, OrderKind.COLLATERAL_BUY, "600000.SH", 10_000, 100), False)
    day.snapshot()
    day.bank.on_deposit(B, 5_000_000, "bank-side only")  # a deposit the firm did not book
    day.close()

    before = journal_digest(store)
    with store.connect() as conn:
        cash_before = ledger_credit_cash(conn, DAY2)
    assert checks(store, DAY2) == [
        ("bank", "difference", A, str(CA_DAY1_FEN), str(CA_DAY1_FEN - 100_501)),
        ("bank", "difference", B, str(CB_DAY1_FEN), str(CB_DAY1_FEN + 5_000_000)),
        ("clearing", "difference", f"{SEC_A_SH} 600000.SH", "15000", "15100"),
    ]
    assert checks(store, DAY3) == [  # no file received for the day
        ("bank", "missing", "2026-03-04", "a file", "none"),
        ("clearing", "missing", "2026-03-04", "a file", "none"),
    ]
    with store.connect() as conn:
        assert external_differences(conn, DAY1) == {"clearing": [], "bank": []}
        assert ledger_credit_cash(conn, DAY2) == cash_before
    assert journal_digest(store) == before  # listed, never fixed


def test_a_received_file_is_recorded_once_and_never_rewritten(store: Engine, fixed_clock) -> None:
    positions = {(LENDING, "600000.SH"): 100, (SEC_A_SH, "600036.SH"): 0}
    assert save_clearing_file(store, DAY1, positions, clock=fixed_clock)
    assert not save_clearing_file(store, DAY1, {(LENDING, "600000.SH"): 100}, clock=fixed_clock)
    with pytest.raises(ReceivedFileConflict):
        save_clearing_file(store, DAY1, {(LENDING, "600000.SH"): 101}, clock=fixed_clock)
    assert save_bank_file(store, DAY2, {A: 0}, clock=fixed_clock)  # received, no line
    assert save_bank_file(store, DAY1, {A: 0, B: 7}, clock=fixed_clock)
    with store.connect() as conn:
        assert load_clearing_file(conn, DAY1) == {(LENDING, "600000.SH"): 100}
        assert load_bank_file(conn, DAY1) == {B: 7}
        assert load_bank_file(conn, DAY2) == {}
        assert load_bank_file(conn, DAY3) is None
        assert load_clearing_file(conn, DAY2) is None
    for statement in (
        "UPDATE clearing_positions SET quantity = 1",
        "DELETE FROM bank_balances",
        "DELETE FROM received_files",
    ):
        with pytest.raises(DBAPIError), store.begin() as conn:
            conn.execute(text(statement))


def test_the_migration_creates_exactly_the_record_tables(store: Engine) -> None:
    with store.connect() as conn:
        diffs = compare_metadata(MigrationContext.configure(conn), metadata)
    mine = set(RECEIVED_APPEND_ONLY_TABLES)
    assert mine <= set(metadata.tables)
    assert [d for d in diffs if any(name in str(d) for name in mine)] == []


def test_the_generated_books_opening_is_both_sides_first_record(tmp_path) -> None:
    engine = make_sqlite_engine(tmp_path)
    load_reference(engine)
    ref = load_reference_day(engine, DAY)
    ticks = iter(range(10**9))

    def clock():
        return reference_clock() + timedelta(microseconds=next(ticks))

    generate_book(Ledger(engine, clock), ref, 7, 20, clock=clock)
    house, bank = ClearingHouse.resume(engine, DAY), DepositoryBank.resume(engine, DAY)
    house.open_day(DAY, ref.fees)
    bank.open_day(DAY)
    cleared = house.close_day()
    bank.on_settlement(cleared)
    balances = bank.close_day()
    with engine.connect() as conn:
        assert cleared.positions == ledger_positions(conn, DAY)
        assert {c: n for c, n in balances.items() if n} == ledger_credit_cash(conn, DAY)
    kinds = Counter(account.split(":")[1] for account, _ in cleared.positions)
    assert kinds["lending_pool"] > 0 and kinds["collateral_securities"] > 20
    save_clearing_file(engine, DAY, cleared.positions, clock=clock)
    save_bank_file(engine, DAY, balances, clock=clock)
    assert checks(engine, DAY) == OK
    engine.dispose()


_INSTRUCTIONS = st.lists(
    st.tuples(
        st.sampled_from(
            [NonTradeKind.TRANSFER_IN, NonTradeKind.TRANSFER_OUT, NonTradeKind.DIRECT_RETURN]
        ),
        st.sampled_from([A, B]),
        st.sampled_from(["600000.SH", "000001.SZ"]),
        st.integers(1, 10_000),
        st.integers(0, 15),  # a small range of references: many repeats
    ),
    max_size=30,
)


def _nonzero(counts: Counter[str]) -> dict[str, int]:
    return {key: n for key, n in counts.items() if n}


@settings(max_examples=60, deadline=None)
@given(_INSTRUCTIONS)
def test_each_instruction_counts_once_and_returns_keep_the_shares(instructions) -> None:
    house, bank = ClearingHouse({}), DepositoryBank({})
    house.open_day(DAY1, FEES)
    bank.open_day(DAY1)
    net_in: Counter[str] = Counter()
    bank_net_fen = 0
    seen: set[int] = set()
    for kind, client, symbol, quantity, reference in instructions:
        first = reference not in seen
        seen.add(reference)
        assert house.on_transfer(kind, client, symbol, quantity, f"r{reference}") is first
        if kind is NonTradeKind.TRANSFER_IN:
            assert bank.on_deposit(client, quantity, f"r{reference}") is first
        else:
            assert bank.on_withdrawal(client, quantity, f"r{reference}") is first
        if first:
            bank_net_fen += quantity if kind is NonTradeKind.TRANSFER_IN else -quantity
            if kind is not NonTradeKind.DIRECT_RETURN:
                net_in[symbol] += quantity if kind is NonTradeKind.TRANSFER_IN else -quantity
    for kind, client, symbol, quantity, reference in instructions:  # replayed: no change
        assert not house.on_transfer(kind, client, symbol, quantity, f"r{reference}")
        assert not bank.on_deposit(client, quantity, f"r{reference}")
    held: Counter[str] = Counter()
    for (_, symbol), quantity in house.close_day().positions.items():
        held[symbol] += quantity
    assert _nonzero(held) == _nonzero(net_in)  # a return moves shares, never makes them
    assert sum(bank.close_day().values()) == bank_net_fen
