"""One end of day's context: the store, the trading date, its reference data and closing
prices, and each step's deterministic clock.

Invariants:
- nothing reads the wall clock: the moments a step records (ledger ``recorded_at``,
  events, the step's completion) are fixed by the date, the step's position and the
  batch being written (``StepRun.moment``), so a rerun records the very same times;
- the closing prices are the session's recorded closes, or, for a day no session closed,
  the day's reference prices (its previous close), and say which;
- the contract table, the debt rows and the collateral come from a resident book
  (``ledger.resident``), caught up with the journal at each reading: the service's, which
  outlives the run and is never forgotten here, else one of the run's own.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
from sqlalchemy import Engine, create_engine, event

from liangrong.book.market import MarketDay
from liangrong.eod.book_view import ContractColumns, contract_columns
from liangrong.eod.owed import Owed, owed_of
from liangrong.eod.settings import EodSettings
from liangrong.ledger.columns import ContractTable, DebtRows
from liangrong.ledger.engine import is_sqlite, open_engine
from liangrong.ledger.journal import last_seq
from liangrong.ledger.resident import ResidentBook, journal_mark
from liangrong.risk.layout import BookData
from liangrong.risk.loader import load_data
from liangrong.sim.reference_day import ReferenceDay, load_reference_day, opening_market
from liangrong.sim.session import CST, SimClock
from liangrong.store.closing_prices import SESSION, load_closing_prices

EOD_START = time(16, 0)  # after the 15:00 close, well before the 22:00 report cut-off
STEP_MINUTES = 10
REFERENCE = "reference"  # closes taken from the day's reference prices
Progress = Callable[[int, int], None]  # (done, total) within one step
# Charges on some contracts: (contract ids, fen, each contract's client), aligned
Charged = tuple[Sequence[str], Sequence[int], Sequence[str]]
# The same by the contract table's rows: (rows, fen), aligned
Raised = tuple[npt.NDArray[np.intp], npt.NDArray[np.int64]]


@dataclass
class EodContext:
    engine: Engine
    day: date
    settings: EodSettings
    resident: ResidentBook | None = None  # the service's, kept beyond this run
    _readings: ResidentBook = field(init=False, repr=False)
    _ref: ReferenceDay | None = field(default=None, repr=False)
    _closes: tuple[dict[str, int], str] | None = field(default=None, repr=False)
    _columns: ContractColumns | None = field(default=None, repr=False)
    _column_ids: frozenset[str] = field(default=frozenset(), repr=False)
    _market: MarketDay | None = field(default=None, repr=False)
    _records: Engine | None = field(default=None, repr=False)
    _reader: Engine | None = field(default=None, repr=False)
    _book: tuple[int, BookData] | None = field(default=None, repr=False)
    _owed: tuple[DebtRows, Owed] | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        self._readings = self.resident if self.resident is not None else ResidentBook()

    @property
    def out_dir(self) -> Path:
        return self.settings.reports_dir / f"{self.day:%Y%m%d}"

    def reference(self) -> ReferenceDay:
        if self._ref is None:
            self._ref = load_reference_day(self.engine, self.day)
        return self._ref

    def closes(self) -> tuple[dict[str, int], str]:
        """(closing prices by symbol, where they come from)."""
        if self._closes is None:
            recorded = load_closing_prices(self.engine, self.day)
            if recorded:
                self._closes = (recorded, SESSION)
            else:
                self._closes = (dict(self.reference().previous_close_li), REFERENCE)
        return self._closes

    def contract_columns(self, wanted: Collection[str]) -> ContractColumns:
        """Opening terms of the ``wanted`` contracts (kept for the next step that asks for
        no more than these: terms never change once written)."""
        cached = self._columns
        if cached is None or not self._column_ids.issuperset(wanted):
            cached = self._columns = contract_columns(self.contracts(), wanted)
            self._column_ids = frozenset(cached.ids)
        return cached

    def contracts(self) -> ContractTable:
        """Every contract with its opening terms, from the resident book: read once for the
        steps that walk the whole book (accrual, maturities, statuses, reports), and after
        a posting caught up with the contracts it opened."""
        with self.engine.connect() as conn:
            return self._readings.contracts(conn)

    def debt_rows(self) -> DebtRows:
        """The balances of the clients' debt accounts, from the resident book: kept while
        no transaction is posted, then caught up with the journal's tail."""
        with self.engine.connect() as conn:
            kept = self._readings.debts_kept()
            if kept is None or kept[0] != journal_mark(conn):
                self._owed = self._book = None  # worked out from rows about to change: freed
            return self._readings.debt_rows(conn)  # first (gigabytes at a firm's size)

    def charges_posted(self, fresh: int, charged: Charged, raised: Raised) -> None:
        """A step has just posted ``fresh`` new transactions whose only change to the clients'
        debt accounts is ``charged`` (contracts, fen, their clients: one each) more charges
        owed on those contracts' accounts (the daily accrual).  The kept debt rows are
        advanced to the journal's new state instead of being read again (millions of rows),
        when they stand for the state just before those transactions: nothing else was
        posted in between, and none of them was in the rows already
        (``DebtRows.with_charges_added``; a contract's first charges take a new row in its
        place only where the store orders the names by code point, SQLite); otherwise they
        are dropped.  ``raised``: the same charges by the contract table's rows, which
        advance the figures owed kept for the rows before, if any."""
        advanced = self._advance(fresh, charged)
        if advanced is not None and advanced[0] is not None:
            self._owed = (advanced[1], advanced[0].charges_raised(*raised, pending=False))

    def pending_booked(self, fresh: int, posted: Charged, booked: Raised) -> None:
        """The accrual under the subledger has just posted ``fresh`` new transactions:
        ``posted`` is pending that reached those contracts' charges accounts, the only
        change to the clients' debt accounts; ``booked`` is what more each contract owes,
        pending, by the contract table's rows.  The kept rows and figures are advanced as
        in ``charges_posted``, else dropped."""
        advanced = self._advance(fresh, posted)
        if advanced is not None and advanced[0] is not None:
            self._owed = (advanced[1], advanced[0].charges_raised(*booked, pending=True))

    def _advance(self, fresh: int, charged: Charged) -> tuple[Owed | None, DebtRows] | None:
        """Drop every figure worked out from the debts, then keep the rows advanced by
        ``charged`` when the ``fresh`` transactions are all that was posted since they were
        read: (the owed figures kept for the rows before, if any; the rows now), else None
        (the rows stay as they were: the next reading catches them up from the journal)."""
        with self.engine.connect() as conn:
            now = journal_mark(conn)
        kept, owed = self._readings.debts_kept(), self._owed
        self._owed = self._book = None
        if kept is None or now.seq - kept[0].seq != fresh:
            return None
        contracts, amounts, clients = charged
        mine = clients if is_sqlite(self.engine) else None  # names by code point
        rows = kept[1].with_charges_added(contracts, amounts, mine) if contracts else kept[1]
        if rows is None:
            return None
        self._readings.keep_debts(now, rows)
        return (owed[1] if owed is not None and owed[0] is kept[1] else None), rows

    def debts_stand_at(self) -> int | None:
        """The journal's sequence number the kept debt rows stand for (None: none kept)."""
        kept = self._readings.debts_kept()
        return kept[0].seq if kept is not None else None

    def keep_owed(self, rows: DebtRows, owed: Owed) -> None:
        """Keep ``owed``, worked out by a step from the kept ``rows``, as their reading."""
        kept = self._readings.debts_kept()
        assert kept is not None and kept[1] is rows, "the kept rows' reading"
        self._owed = (rows, owed)

    def owed(self) -> Owed:
        """What each contract owes now (``owed.owed_now``), from ``debt_rows``."""
        rows = self.debt_rows()
        if self._owed is None or self._owed[0] is not rows:
            with self.engine.connect() as conn:
                self._owed = (rows, owed_of(conn, self._readings.contracts(conn), rows))
        return self._owed[1]

    def forget_readings(self) -> None:
        """Drop the kept readings of the whole book (gigabytes at a firm's size), for a step
        that reads the store itself and needs none of them (``reconcile``), or whose own
        postings the kept debts cannot follow.  The service's resident book stays: the
        next run catches it up."""
        self._owed = self._book = None
        self._columns, self._column_ids = None, frozenset()
        if self.resident is None:
            self._readings.forget()

    def book_data(self) -> BookData:
        """The risk book's columns as the ledger holds them now, kept while no transaction
        is posted (the ``statuses`` and ``stress`` steps value the same book at the close;
        each builds its own arrays from the columns, which nothing changes)."""
        with self.engine.connect() as conn:
            seq = last_seq(conn)
        if self._book is None or self._book[0] != seq:
            owed = self.owed()  # the pending read once for both
            with self.engine.connect() as conn:
                table = self._readings.contracts(conn)
                collateral = self._readings.collateral(conn)
            self._book = (seq, load_data(self.engine, table, owed, collateral))
        return self._book[1]

    def closing_market(self) -> MarketDay:
        """The book's view of the day valued at its closes."""
        if self._market is None:
            market = opening_market(self.reference())
            closes, _ = self.closes()
            for symbol, price in sorted(closes.items()):
                if symbol in market.securities:
                    market.set_price(symbol, price)
            market.prices_at = f"closes of {self.day.isoformat()} ({self.closes()[1]})"
            self._market = market
        return self._market

    def records_engine(self) -> Engine:
        """The store for a step's many small idempotent records (status changes, call
        decisions, each its own commit).  On SQLite its commits are not each flushed to
        disk (``synchronous=NORMAL`` under WAL): a killed process loses none of them, a
        power cut at most the last ones, never part of one; the step's own record is then
        committed through ``engine`` (``FULL``), and flushing the WAL flushes every commit
        before it.  So a step recorded as done has all its records on disk, and one that
        is not reruns and finds what survived, as after any crash."""
        if not is_sqlite(self.engine):
            return self.engine
        if self._records is None:
            records = open_engine(self.engine.url.render_as_string(hide_password=False))

            @event.listens_for(records, "connect")
            def _normal(dbapi_connection: Any, _record: Any) -> None:
                cursor = dbapi_connection.cursor()
                cursor.execute("PRAGMA synchronous=NORMAL")
                cursor.close()

            self._records = records
        return self._records

    def reader_engine(self) -> Engine:
        """The store for reading side by side on several connections.  ``engine`` begins
        every transaction by taking SQLite's write lock (so a reader would wait for
        another); this one's connections only read (``query_only``) and begin as readers
        do.  A caller that needs one state for all of them holds the write lock on
        ``engine`` meanwhile: no writer can commit, so every reader sees that state."""
        if not is_sqlite(self.engine):
            return self.engine
        if self._reader is None:
            reader = create_engine(
                self.engine.url.render_as_string(hide_password=False),
                connect_args={"timeout": 30},
            )

            @event.listens_for(reader, "connect")
            def _read_only(dbapi_connection: Any, _record: Any) -> None:
                cursor = dbapi_connection.cursor()
                cursor.execute("PRAGMA query_only=ON")
                cursor.execute("PRAGMA cache_size=-65536")
                cursor.close()

            self._reader = reader
        return self._reader

    def close(self) -> None:
        for extra in (self._records, self._reader):
            if extra is not None:
                extra.dispose()
        self._records = self._reader = None

    def previous_day(self) -> date:
        return self.reference().calendar.previous_trading_day(self.day)

    def next_day(self) -> date:
        return self.reference().calendar.next_trading_day(self.day)


@dataclass
class StepRun:
    """One step running: its position in the order, its clock and its progress."""

    ctx: EodContext
    name: str
    position: int
    progress: Progress

    def moment(self, tick: int = 0) -> datetime:
        """The step's ``tick``-th moment (a millisecond apart, from the step's start)."""
        start = datetime.combine(self.ctx.day, EOD_START, CST)
        return start + timedelta(minutes=STEP_MINUTES * self.position, milliseconds=tick)

    def clock(self, tick: int = 0) -> SimClock:
        return SimClock(self.moment(tick))

    def stamp(self, tick: int = 0) -> str:
        return self.moment(tick).isoformat(timespec="microseconds")

    @property
    def completed_at(self) -> str:
        start = datetime.combine(self.ctx.day, EOD_START, CST)
        done = start + timedelta(minutes=STEP_MINUTES * self.position + STEP_MINUTES - 1)
        return done.isoformat(timespec="microseconds")


@dataclass(frozen=True)
class StepOutcome:
    digest: str  # sha256 of what the step produced
    summary: dict[str, Any]


class Digest:
    """SHA-256 over tab-separated lines: what a step produced, in a canonical order."""

    def __init__(self) -> None:
        self._hash = hashlib.sha256()

    def line(self, *fields: object) -> None:
        self._hash.update(("\t".join(str(f) for f in fields) + "\n").encode("utf-8"))

    def data(self, name: str, data: bytes) -> None:
        self.line(name, hashlib.sha256(data).hexdigest())

    def hexdigest(self) -> str:
        return self._hash.hexdigest()
