"""A seeded trading session on the demo book: reference data, the generated book, the price
simulator's 3-second snapshots, client orders through the book's checks, the simulated
exchange's fills back into the book and the ledger.

Invariants:
- one seed drives everything: the book (``book_generator``), the price paths
  (``PriceSimulator``) and the client actions (``OrderFlow``'s ``random.Random``); the
  ledger's clock is simulated, derived from the snapshot time (``SimClock``), so two runs with
  the same seed, size and date on fresh stores write byte-identical journals, ``recorded_at``
  included (``ledger.digest``);
- the book decides, the exchange matches: only orders the book accepted reach the exchange,
  and every exchange event comes back (fills to ``on_fill``, refusals to
  ``exchange_rejected``, cancels to ``cancel``); open orders expire when the session ends;
- a store runs at most one session per trading day, never one before its book's date.
"""

from __future__ import annotations

import random
import time as timer
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone

import numpy as np
from sqlalchemy import Engine, func, select

from liangrong.book.loader import load_mirrors
from liangrong.book.service import Ack, Book, OrderStatus
from liangrong.desk.service import Desk, LiquidationRun
from liangrong.domain import margin
from liangrong.domain.liquidation import LiquidationReason
from liangrong.domain.orders import NonTradeRequest, Order
from liangrong.domain.rejections import Rejection
from liangrong.domain.settlement import Fill
from liangrong.ledger import schema as s
from liangrong.ledger.digest import JournalDigest, journal_digest
from liangrong.ledger.journal import Ledger
from liangrong.sim.book_generator import GeneratedBook, generate_book, profiles_on
from liangrong.sim.calendar_data import load_shipped_calendar
from liangrong.sim.demo_loader import load_demo
from liangrong.sim.exchange import Cancelled, Event, Rejected, SimulatedExchange
from liangrong.sim.exchange import Fill as ExchangeFill
from liangrong.sim.external_sides import ExternalSides
from liangrong.sim.fair_value_day import day_fair_values
from liangrong.sim.identity_seed import seed_identity_documents
from liangrong.sim.order_flow import OrderFlow, Quote
from liangrong.sim.prices import SNAPSHOTS_PER_DAY, Snapshot
from liangrong.sim.reference_day import (
    ReferenceDay,
    load_reference_day,
    market_day,
    price_simulator,
    status_lines,
)
from liangrong.sim.simulated_index import simulated_close
from liangrong.store.closing_prices import save_closing_prices
from liangrong.store.index_closes import save_index_closes

CST = timezone(timedelta(hours=8), "CST")  # China Standard Time: no daylight saving
SNAPSHOTS_PER_MINUTE = 20
MAX_MINUTES = (SNAPSHOTS_PER_DAY - 1) // SNAPSHOTS_PER_MINUTE  # continuous trading: 237
ACTIONS_PER_CLIENT_HOUR = 4
# A sweep revalues every account whose securities moved; 10,000 accounts take ~3 s here, so a
# sweep every minute would cost more than the trading itself.  Between sweeps an account is
# revalued when its client acts (the checks read current figures) and after each posting.
REVALUE_EVERY_MINUTES = 5
CANCELS_PER_OPEN_ORDER = 200  # an open order is cancelled after ~200 snapshots (10 min)
Progress = Callable[[str, int, int], None]  # (phase, done, total)


class SessionRefused(ValueError):
    """The store cannot take this session (already run that day, or another book)."""


class SessionClosed(RuntimeError):
    """The session has closed: it takes no more orders or requests."""


class SimClock:
    """The ledger's clock: the simulated moment, one microsecond later at each reading that
    falls in the same moment, so recorded times never repeat and never use the wall clock."""

    def __init__(self, start: datetime) -> None:
        self._at = start
        self._last = start - timedelta(microseconds=1)

    def set(self, moment: datetime) -> None:
        self._at = moment

    def __call__(self) -> datetime:
        self._last = max(self._at, self._last + timedelta(microseconds=1))
        return self._last


@dataclass(frozen=True, slots=True)
class SessionConfig:
    clients: int
    minutes: int
    seed: int
    on: date  # rolled back to a trading day
    actions_per_client_hour: int = ACTIONS_PER_CLIENT_HOUR
    revalue_every: int = REVALUE_EVERY_MINUTES * SNAPSHOTS_PER_MINUTE  # snapshots per sweep

    def __post_init__(self) -> None:
        if self.clients < 1:
            raise ValueError("at least one client")
        if not 1 <= self.minutes <= MAX_MINUTES:
            raise ValueError(f"minutes must be 1..{MAX_MINUTES} (the continuous session)")


@dataclass
class SessionSummary:
    trading_date: date
    config: SessionConfig
    book: GeneratedBook
    snapshots: int = 0
    orders: int = 0
    accepted: int = 0
    refused: Counter[str] = field(default_factory=Counter)  # the book's codes
    exchange_rejected: Counter[str] = field(default_factory=Counter)
    fills: int = 0
    filled_orders: int = 0
    cancel_requests: int = 0
    cancel_refused: Counter[str] = field(default_factory=Counter)  # by the exchange
    cancelled: int = 0
    expired: int = 0
    requests: int = 0
    requests_done: Counter[str] = field(default_factory=Counter)  # by kind
    requests_refused: Counter[str] = field(default_factory=Counter)
    revaluations: int = 0
    statuses: Counter[str] = field(default_factory=Counter)  # ratio vs lines at the end
    engine_statuses: dict[str, int] = field(default_factory=dict)  # the risk engine's then
    # The risk engine's counts by status, sampled each minute: (time, counts).
    risk_timeline: list[tuple[str, dict[str, int]]] = field(default_factory=list)
    status_changes: int = 0  # confirmed exactly, recorded with their time and prices
    calls: Counter[str] = field(default_factory=Counter)  # settlement decisions by state
    liquidations: int = 0  # forced-liquidation runs
    forced_orders: int = 0  # their orders accepted by the book
    recovery_cases: int = 0
    journal: JournalDigest | None = None
    timings: dict[str, float] = field(default_factory=dict)  # seconds, wall clock


def _moment(day: date, at: time) -> datetime:
    return datetime.combine(day, at, CST)


def _last_session_day(engine: Engine) -> date | None:
    t = s.journal_transactions
    with engine.connect() as conn:
        value = conn.execute(
            select(func.max(t.c.business_date)).where(t.c.command_id.not_like("book:%"))
        ).scalar_one_or_none()
    return value


def open_session(
    engine: Engine, config: SessionConfig, progress: Progress | None = None
) -> Session:
    """Load the reference data, generate (or reuse) the book and open the day's session,
    ready to step snapshot by snapshot (``Session.step``) or to run whole (``run_session``)."""
    tick = _Stopwatch()
    # The clock starts on the trading day itself (``config.on`` may be a weekend), so every
    # record of the session carries that day's times.
    clock = SimClock(_moment(load_shipped_calendar().on_or_before(config.on), time(8, 0)))
    load_demo(engine, config.on, clock=clock)
    ref = load_reference_day(engine, config.on)
    day = ref.trading_date
    last = _last_session_day(engine)
    if last is not None and last >= day:
        raise SessionRefused(
            f"the store already holds a session of {last}: one session per trading day; "
            "use a later --date or another store"
        )
    tick("reference data")
    clock.set(_moment(day, time(8, 30)))
    ledger = Ledger(engine, clock)
    phase = (lambda done, total: progress("book", done, total)) if progress else None
    book_info = generate_book(ledger, ref, config.seed, config.clients, phase, clock=clock)
    # The clients' identity documents on file (CLI-6), dated from the book's first day: a
    # reused book records nothing new.
    ids = [p.client_id for p in book_info.profiles]
    seed_identity_documents(engine, ids, book_info.marker.trading_date, config.seed, clock=clock)
    if book_info.marker.trading_date > day:
        raise SessionRefused(f"the store's book starts on {book_info.marker.trading_date}")
    tick("book generation" if book_info.posted else "book (planned again)")
    session = Session(engine, config, ledger, clock, ref, book_info)
    tick("book loading")
    session.summary.timings.update(tick.laps)
    return session


def run_session(
    engine: Engine, config: SessionConfig, progress: Progress | None = None
) -> SessionSummary:
    """Open the session, run it to its last minute and close it, then digest the journal."""
    session = open_session(engine, config, progress)
    tick = _Stopwatch()
    session.run(progress)
    tick("session")
    summary = session.summary
    summary.journal = journal_digest(engine)
    tick("journal digest")
    summary.timings.update(tick.laps)
    return summary


class _Stopwatch:
    def __init__(self) -> None:
        self._start = timer.perf_counter()
        self.laps: dict[str, float] = {}

    def lap(self) -> float:
        now = timer.perf_counter()
        seconds, self._start = now - self._start, now
        return seconds

    def __call__(self, name: str) -> None:
        self.laps[name] = self.lap()


class Session:
    """One day's loop: ``step`` takes the next snapshot, ``close`` ends the day; ``run``
    drives both.  ``place``, ``cancel_order`` and ``request`` take orders from outside the
    seeded flow (the HTTP service's users) through the same book and exchange."""

    def __init__(
        self,
        engine: Engine,
        config: SessionConfig,
        ledger: Ledger,
        clock: SimClock,
        ref: ReferenceDay,
        book_info: GeneratedBook,
    ) -> None:
        self.ref = ref
        self.config, self.clock, self.day = config, clock, ref.trading_date
        self.sim = price_simulator(ref, config.seed)
        self.trading_day = self.sim.open_day()
        market = market_day(ref, self.trading_day)
        self.book = Book.open(engine, ledger, market, ref.calendar)
        # The clearing house's and the bank's own records of the day, kept from what each
        # of them sees (fills, transfer instructions, payments), for the reconciliation.
        self.sides = ExternalSides.open(engine, self.day, market.fees)
        self.book.listeners.append(self.sides.bank.on_posted)
        ids = [p.client_id for p in book_info.profiles]
        mirrors = load_mirrors(engine, ids)
        for profile in profiles_on(engine, book_info.profiles, self.day):
            self.book.add_client(profile, mirrors[profile.client_id])
        self.desk = Desk.open(
            engine,
            self.book,
            clock,
            prices_at=_moment(self.day, time(9, 15)),
            fair=day_fair_values(engine, ref, ids),
        )
        self.runs: list[LiquidationRun] = []
        self.exchange = SimulatedExchange(self.sim.table)
        self.exchange.open_day(self.trading_day)
        self.rng = random.Random(f"session:{config.seed}:{self.day.isoformat()}")
        self.snap: Snapshot | None = None
        self.flow = OrderFlow(self.rng, self.book, ids, self.day, self._quote)
        self.symbols = self.sim.symbols
        self.open_ids: list[str] = []
        self.summary = SessionSummary(self.day, config, book_info)
        self._snapshots = iter(self.trading_day.snapshots())
        self._last = self._swept = self.trading_day.prev_close_li
        self._closed = False

    def _quote(self, symbol: str) -> Quote:
        snap, i = self.snap, self.sim.index[symbol]
        assert snap is not None
        return Quote(int(snap.last_li[i]), int(snap.bid_li[i]), int(snap.ask_li[i]))

    @property
    def total_snapshots(self) -> int:
        return self.config.minutes * SNAPSHOTS_PER_MINUTE

    @property
    def closed(self) -> bool:
        return self._closed

    @property
    def at(self) -> datetime:
        """The market's moment: the last snapshot's time (before the first, the open)."""
        return _moment(self.day, self.snap.time if self.snap else time(9, 15))

    def run(self, progress: Progress | None) -> None:
        total = self.total_snapshots
        while self.step():
            if progress is not None:
                progress("session", self.summary.snapshots, total)
        self.close()

    def step(self) -> bool:
        """Take the next snapshot: prices, the exchange's events, due liquidations, the
        clients' actions.  False when the session's last snapshot has been taken."""
        if self._closed or self.summary.snapshots >= self.total_snapshots:
            return False
        snap = next(self._snapshots)
        number = self.summary.snapshots + 1
        self.snap = snap
        self.clock.set(_moment(self.day, snap.time))
        self._last = self._prices(snap, self._last)
        self._events(self.exchange.on_snapshot(snap))
        if number % SNAPSHOTS_PER_MINUTE == 1:
            self._liquidate_due()
            self._sample(snap)
        if number % self.config.revalue_every == 0:
            self._swept = self._sweep(snap, self._swept)
        for _ in range(self._count(self.config.actions_per_client_hour)):
            self._act(self.flow.next_action())
        self._cancel_some()
        self.summary.snapshots = number
        return True

    # -- orders from outside the seeded flow --------------------------------------------
    def _refresh(self, account_id: str) -> None:
        state = self.book.states.get(account_id)
        if state is not None and state.valued_at != self.book.market.prices_at:
            self.book.revalue(account_id)  # the client sees today's figures
            self.summary.revaluations += 1

    def place(self, order: Order) -> Ack:
        """An order from outside the flow: checked by the book, sent to the exchange when
        accepted, its immediate fills posted."""
        if self._closed:
            raise SessionClosed("the session has closed: orders are taken from the next open")
        self._refresh(order.account_id)
        ack = self.book.submit(order)
        if ack.accepted:
            self._events(self.exchange.submit_order(order))
        return ack

    def cancel_order(self, order_id: str) -> bool:
        """Ask the exchange to cancel; True when it did (the book released the order)."""
        if self._closed:
            raise SessionClosed("the session has closed: open orders have expired")
        cancelled = False
        for event in self.exchange.cancel(order_id):
            if isinstance(event, Cancelled):
                cancelled = self.book.cancel(order_id) or cancelled
        return cancelled

    def request(self, request: NonTradeRequest) -> Ack:
        """A non-trade request from outside the flow (the ledger's refusal propagates)."""
        if self._closed:
            raise SessionClosed("the session has closed: requests are taken from the next open")
        self._refresh(request.account_id)
        ack = self.book.request(request)
        if ack.accepted:
            self._instructed(request)
        return ack

    def _instructed(self, request: NonTradeRequest) -> None:
        """A done request as the clearing house and the bank receive its instruction."""
        self.sides.clearing.on_request(request)
        self.sides.bank.on_request(request)

    def _prices(self, snap: Snapshot, before: np.ndarray) -> np.ndarray:
        """The book's prices and the risk engine's move together (``Desk.on_prices``)."""
        moved = np.flatnonzero(snap.last_li != before).tolist()
        prices = {self.symbols[i]: int(snap.last_li[i]) for i in moved}
        self.desk.on_prices(_moment(self.day, snap.time), prices)
        return snap.last_li

    def _sample(self, snap: Snapshot) -> None:
        counts = self.desk.risk.statuses.counts()
        self.summary.risk_timeline.append(
            (snap.time.strftime("%H:%M"), {status.value: n for status, n in counts.items()})
        )

    def _liquidate_due(self) -> None:
        """Accounts whose liquidation is due (a missed call, the emergency line, an overdue
        contract)."""
        for client in self.desk.due_today():
            self.liquidate(client)

    def liquidate(self, client_id: str, reason: LiquidationReason | None = None) -> LiquidationRun:
        """The desk's forced orders for an account go to the exchange like any accepted
        order (a second run the same day is the first one, sent nothing again); ``reason``
        as ``Desk.liquidate``."""
        if self._closed:
            raise SessionClosed("the session has closed: forced orders go from the next open")
        known = len(self.desk.runs)
        run = self.desk.liquidate(client_id, reason)
        if len(self.desk.runs) == known:
            return run
        self.runs.append(run)
        self.summary.liquidations += 1
        self.summary.recovery_cases += run.plan.recovery is not None
        for sent in run.submitted:
            if sent.order is not None and sent.ack.accepted:
                self.summary.forced_orders += 1
                self._events(self.exchange.submit_order(sent.order))
        return run

    def _sweep(self, snap: Snapshot, since: np.ndarray) -> np.ndarray:
        """Revalue every account holding or short a security that moved since the last sweep."""
        moved = {self.symbols[i] for i in np.flatnonzero(snap.last_li != since).tolist()}
        for client, mirror in self.book.mirrors.items():
            owed = (c.terms.security for c in mirror.contracts.values())
            if any(symbol in moved for symbol in mirror.holdings) or any(
                symbol in moved for symbol in owed
            ):
                self.book.revalue(client)
                self.summary.revaluations += 1
        return snap.last_li

    def _count(self, per_client_hour: int) -> int:
        """This snapshot's actions: the mean rate, varied ±50%, in integers only."""
        per_snapshot = self.config.clients * per_client_hour * self.rng.randint(50, 150)
        scale = 100 * 3600 // 3  # per cent, snapshots per hour
        count, rest = divmod(per_snapshot, scale)
        return count + (self.rng.randrange(scale) < rest)

    def _act(self, action: Order | NonTradeRequest) -> None:
        summary = self.summary
        self._refresh(action.account_id)
        if isinstance(action, NonTradeRequest):
            summary.requests += 1
            try:
                ack = self.book.request(action)
            except Rejection as refused:  # the ledger's: nothing was posted or learned
                summary.requests_refused[f"ledger:{refused.code_name}"] += 1
                return
            if ack.code is None:
                self._instructed(action)
                summary.requests_done[action.kind.value] += 1
            else:
                summary.requests_refused[ack.code.name] += 1
            return
        summary.orders += 1
        ack = self.book.submit(action)
        if ack.code is not None:
            summary.refused[ack.code.name] += 1
            return
        summary.accepted += 1
        self.open_ids.append(action.order_id)
        self._events(self.exchange.submit_order(action))

    def _events(self, events: Sequence[Event]) -> None:
        for event in events:
            if isinstance(event, ExchangeFill):
                self.sides.clearing.on_fill(event, self.book.orders[event.order_id].order)
                fill = Fill(event.trade_id, event.order_id, event.symbol, event.side,
                            event.price_li, event.quantity, self.day)  # fmt: skip
                if self.book.on_fill(fill):
                    self.summary.fills += 1
            elif isinstance(event, Rejected):
                self.summary.exchange_rejected[event.code.name] += 1
                self.book.exchange_rejected(event.order_id)
            elif isinstance(event, Cancelled) and self.book.cancel(event.order_id):
                self.summary.cancelled += 1

    def _cancel_some(self) -> None:
        """Clients cancel some of their resting orders (about one in 200 per snapshot)."""
        orders = self.book.orders
        self.open_ids = [i for i in self.open_ids if orders[i].status is OrderStatus.OPEN]
        count, rest = divmod(len(self.open_ids), CANCELS_PER_OPEN_ORDER)
        count += self.rng.randrange(CANCELS_PER_OPEN_ORDER) < rest
        for _ in range(count):
            order_id = self.open_ids.pop(self.rng.randrange(len(self.open_ids)))
            self.summary.cancel_requests += 1
            for event in self.exchange.cancel(order_id):
                if isinstance(event, Rejected):  # not open there: it filled meanwhile
                    self.summary.cancel_refused[event.code.name] += 1
                elif isinstance(event, Cancelled) and self.book.cancel(order_id):
                    self.summary.cancelled += 1

    def close(self) -> None:
        """Day orders expire; the accounts are revalued and placed against their lines."""
        if self._closed:
            return
        self._closed = True
        self.exchange.close_day()
        self.summary.expired = self.book.expire_open_orders()
        self.summary.filled_orders = sum(
            1 for order in self.book.orders.values() if order.status is OrderStatus.FILLED
        )
        for run in self.runs:
            self.desk.complete(run)
        book = self.book
        for client in book.mirrors:
            book.revalue(client)
            lines = status_lines(self.ref, client)
            _, ratio = self.desk.ratio(client)
            self.summary.statuses[margin.ratio_status(ratio, lines).value] += 1
        close = _moment(self.day, time(15, 0))
        self.clock.set(close)
        report = self.desk.settle(close)
        self.summary.calls.update(d.state.value for d in report.decisions.values())
        self.summary.status_changes = self.desk.status_changes
        counts = self.desk.risk.statuses.counts()
        self.summary.engine_statuses = {status.value: n for status, n in counts.items()}
        engine = self.book.ledger.engine
        save_closing_prices(engine, self.day, self.book.market.prices_li)
        index_close = simulated_close(engine, self.ref.calendar, self.day, close.isoformat())
        save_index_closes(engine, [index_close])
        self.sides.deliver(engine, self.day, self.clock)  # nothing posts after
