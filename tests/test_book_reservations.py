"""Reservations under interleaving (issue #3 item 3): a hypothesis state machine sends
orders, cancels, fills, price moves and non-trade requests through the book, and after every
step checks that no limit is exceeded, nothing is over-held, the mirror equals the ledger and
the ledger conserves every asset."""

from __future__ import annotations

import tempfile
from datetime import UTC, datetime, timedelta

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from book_helpers import DAY1, PREVIOUS_CLOSE_LI, open_book, order, profile
from liangrong.book.loader import load_mirrors
from liangrong.book.service import OrderStatus
from liangrong.domain import accounts as acc
from liangrong.domain import operations as ops
from liangrong.domain.orders import NonTradeKind, NonTradeRequest, OrderKind, Side
from liangrong.domain.settlement import Fill
from liangrong.ledger.engine import open_engine
from liangrong.ledger.journal import Ledger
from liangrong.ledger.projections import balance, conservation_breaks
from liangrong.store.migrate import upgrade

CLIENTS = ("R1", "R2")
SYMBOLS = ("600000.SH", "600036.SH", "000001.SZ")
KINDS = tuple(k for k in OrderKind if not k.is_forced)


class ReservationMachine(RuleBasedStateMachine):
    @initialize()
    def open(self) -> None:
        self.tmp = tempfile.TemporaryDirectory()
        self.engine = open_engine(f"sqlite:///{self.tmp.name}/book.sqlite")
        upgrade(self.engine)
        start = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)
        ticks = iter(range(10**9))
        clock = lambda: start + timedelta(microseconds=next(ticks))  # noqa: E731
        ledger = Ledger(self.engine, clock)
        # Small pools and limits, so that they bind.
        ledger.post(ops.fund_pool("fund-cash", DAY1, "CNY", 600_000_00))
        ledger.post(ops.fund_pool("fund-600036", DAY1, "600036.SH", 3_000))
        for client in CLIENTS:
            for exchange in ("SH", "SZ"):
                ledger.open_credit_account(
                    f"o-{client}-{exchange}", client, exchange, "王五", "王五", DAY1
                )
            ledger.post(ops.deposit_cash(f"d-{client}", DAY1, client, 300_000_00))
            ledger.post(ops.transfer_collateral_in(f"t-{client}", DAY1, client, "600000.SH", 5_000))
        profiles = [
            profile(
                c,
                "王五",
                financing_limit_fen=400_000_00,
                short_limit_fen=60_000_00,
                total_limit_fen=420_000_00,
            )
            for c in CLIENTS
        ]
        self.book = open_book(self.engine, clock, DAY1, profiles)
        self.count = 0

    def _next(self, prefix: str) -> str:
        self.count += 1
        return f"{prefix}{self.count}"

    @rule(
        client=st.sampled_from(CLIENTS),
        kind=st.sampled_from(KINDS),
        symbol=st.sampled_from(SYMBOLS),
        ticks=st.integers(-3, 3),
        lots=st.integers(1, 120),
    )
    def submit(self, client: str, kind: OrderKind, symbol: str, ticks: int, lots: int) -> None:
        price = self.book.market.prices_li[symbol] + 10 * ticks
        self.book.submit(order(self._next("O"), client, kind, symbol, price, 100 * lots))

    @rule(
        client=st.sampled_from(CLIENTS),
        kind=st.sampled_from(
            (OrderKind.MARGIN_BUY, OrderKind.SHORT_SELL, OrderKind.COLLATERAL_BUY)
        ),
        symbol=st.sampled_from(SYMBOLS),
        lots=st.integers(1, 300),
    )
    def submit_opening(self, client: str, kind: OrderKind, symbol: str, lots: int) -> None:
        """Orders that draw on limits and pools, at the last price: these are what bind."""
        self.submit(client, kind, symbol, 0, lots)

    def _open_orders(self) -> list[str]:
        return sorted(oid for oid, o in self.book.orders.items() if o.status is OrderStatus.OPEN)

    @rule(pick=st.integers(0, 10**6), part=st.integers(1, 100), better=st.integers(0, 2))
    def fill(self, pick: int, part: int, better: int) -> None:
        open_ids = self._open_orders()
        if not open_ids:
            return
        placed = self.book.orders[open_ids[pick % len(open_ids)]]
        quantity = max(1, placed.remaining * part // 100)
        # A buy may fill below its limit; a sell fills at its limit (the short credit limit
        # is measured at the order's price).
        price = placed.order.price_li - (10 * better if placed.order.side is Side.BUY else 0)
        fill = Fill(
            self._next("T"),
            placed.order.order_id,
            placed.order.symbol,
            placed.order.side,
            price,
            quantity,
            DAY1,
        )
        self.book.on_fill(fill)

    @rule(pick=st.integers(0, 10**6))
    def cancel(self, pick: int) -> None:
        open_ids = self._open_orders()
        if open_ids:
            self.book.cancel(open_ids[pick % len(open_ids)])

    @rule(symbol=st.sampled_from(SYMBOLS), percent=st.integers(-9, 9))
    def move_price(self, symbol: str, percent: int) -> None:
        price = PREVIOUS_CLOSE_LI[symbol] * (100 + percent) // 100 // 10 * 10
        self.book.market.set_price(symbol, price)
        self.book.revalue_all()

    @rule(
        client=st.sampled_from(CLIENTS),
        kind=st.sampled_from(list(NonTradeKind)),
        amount=st.integers(1, 50_000_00),
        lots=st.integers(1, 20),
    )
    def nontrade(self, client: str, kind: NonTradeKind, amount: int, lots: int) -> None:
        symbol = "600036.SH" if kind is NonTradeKind.DIRECT_RETURN else "600000.SH"
        request = NonTradeRequest(self._next("Q"), client, kind, amount, symbol, 100 * lots)
        self.book.request(request)

    @invariant()
    def limits_hold(self) -> None:
        if not hasattr(self, "book"):
            return
        for client in CLIENTS:
            state = self.book.states[client]
            limits = state.limits
            assert limits.financing_used_fen <= limits.financing_limit_fen, client
            assert limits.short_used_fen <= limits.short_limit_fen, client
            assert limits.financing_used_fen + limits.short_used_fen <= limits.total_limit_fen
            assert state.cash_free_fen >= 0 and state.cash_locked_fen >= 0, client
            for symbol, position in state.positions.items():
                assert position.sellable >= 0, (client, symbol)
                assert position.reserved_for_cover <= position.short_quantity, (client, symbol)
        firm = self.book.firm
        assert firm.financing_pool_available_fen >= 0
        assert all(shares >= 0 for shares in firm.lending_pool_available.values())

    @invariant()
    def mirror_is_the_ledger(self) -> None:
        if not hasattr(self, "book"):
            return
        assert conservation_breaks(self.engine) == {}
        stored = load_mirrors(self.engine, CLIENTS)
        for client in CLIENTS:
            mine, theirs = self.book.mirrors[client], stored[client]
            assert (mine.cash_fen, mine.locked_fen, mine.holdings) == (
                theirs.cash_fen,
                theirs.locked_fen,
                theirs.holdings,
            )
        held = sum(o.held.financing_fen for o in self.book.orders.values())
        pool = balance(self.engine, acc.FINANCING_POOL, "CNY")
        assert self.book.firm.financing_pool_available_fen == pool - held

    def teardown(self) -> None:
        if hasattr(self, "book"):
            self.book.expire_open_orders()
            for client in CLIENTS:
                held = self.book.held[client]
                assert (held.margin_e4li, held.cash_fen, held.financing_fen) == (0, 0, 0)
            self.engine.dispose()
            self.tmp.cleanup()


ReservationMachine.TestCase.settings = settings(
    max_examples=30,
    stateful_step_count=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
TestReservations = ReservationMachine.TestCase
