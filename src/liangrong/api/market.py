"""The day the service runs: a trading session stepped in the background, the end of day at
its close, and the one lock every reader and writer of the book takes.

Invariants:
- the book, the desk and the simulated exchange are touched only under ``lock``: a snapshot
  step, an order from a user, a read of an account and the end of day never interleave, so
  every response shows a state the book was in between two steps;
- the end of day runs after the session closed, and only then (``EodNotReady``): whoever
  waits for the market runs it (the main job, or an operations user through the API);
- the market thread never swallows an error: it is kept (``failure``) and the service
  reports it, and the day does not pretend to have ended;
- the service keeps the book resident (``ledger.resident``): read before the session
  opens, caught up with the journal by the end of day, which then reads the session's
  postings instead of the whole book.
"""

from __future__ import annotations

import threading
import time as timer
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Engine

from liangrong.eod.runner import Progress, RunReport, no_progress, run
from liangrong.eod.settings import EodSettings, opening_accrual
from liangrong.ledger.resident import ResidentBook
from liangrong.sim.session import Session


class EodNotReady(RuntimeError):
    """The session is still open: the end of day runs after the close."""


@dataclass
class DayState:
    """What the service reports about its day (read under the lock)."""

    eod: RunReport | None = None
    failure: str | None = None  # the market thread's error


class LiveMarket:
    """A session stepped by a background thread at ``pace`` snapshots a second (0: as fast
    as it goes), then closed."""

    def __init__(
        self,
        engine: Engine,
        session: Session,
        reports_dir: Path,
        pace: float = 0.0,
    ) -> None:
        if pace < 0:
            raise ValueError("pace: snapshots per second, 0 for as fast as possible")
        self.engine, self.session, self.reports_dir = engine, session, reports_dir
        self.pace = pace
        self.lock = threading.RLock()
        self.state = DayState()
        self.resident = ResidentBook()
        self.done = threading.Event()  # set when the day is over (or failed)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        if self._thread is not None:
            raise RuntimeError("the market runs already")
        self._thread = threading.Thread(target=self._run, name="liangrong-market", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()

    def _run(self) -> None:
        interval = 1.0 / self.pace if self.pace else 0.0
        try:
            self.load_book()
            while not self._stop.is_set():
                with self.lock:
                    more = self.session.step()
                if not more:
                    break
                if interval:
                    self._stop.wait(interval)
            if self._stop.is_set():
                return
            self.close_day()
        except Exception as exc:  # kept and reported: the thread has no caller to raise to
            with self.lock:
                self.state.failure = f"{type(exc).__name__}: {exc}"
            raise
        finally:
            self.done.set()

    def load_book(self) -> None:
        """Read the resident book (before the session: the end of day catches it up)."""
        with self.lock, self.engine.connect() as conn:
            self.resident.load(conn)

    def close_day(self) -> None:
        """Close the session (idempotent): open orders expire, the day settles."""
        with self.lock:
            self.session.close()

    def run_eod(self, progress: Progress = no_progress) -> RunReport:
        """The day's end of day (its remaining steps), after the close."""
        with self.lock:
            if not self.session.closed:
                raise EodNotReady("the session is still open: the end of day runs after the close")
            settings = EodSettings(self.reports_dir, accrued_through=opening_accrual(self.engine))
            started = timer.perf_counter()
            report = run(self.engine, self.session.day, settings, progress, resident=self.resident)
            self.state.eod = report
            self.session.summary.timings["end of day"] = timer.perf_counter() - started
            return report

    def wait(self, timeout: float | None = None) -> bool:
        return self.done.wait(timeout)
