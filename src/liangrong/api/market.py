"""The day the service runs: a trading session stepped in the background, the end of day at
its close, and the one lock every reader and writer of the book takes.

Invariants:
- the book, the desk and the simulated exchange are touched only under ``lock``: a snapshot
  step, an order from a user, a read of an account and the end of day never interleave, so
  every response shows a state the book was in between two steps;
- the end of day runs once, after the session closed, and only then (``EodNotReady``);
- the market thread never swallows an error: it is kept (``failure``) and the service
  reports it, and the day does not pretend to have ended.
"""

from __future__ import annotations

import threading
import time as timer
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import Engine

from liangrong.eod.runner import RunReport, run
from liangrong.eod.settings import EodSettings, opening_accrual
from liangrong.sim.session import Session

StepProgress = Callable[[str, int, int], None]  # (step, done, total)


class EodNotReady(RuntimeError):
    """The session is still open: the end of day runs after the close."""


@dataclass
class DayState:
    """What the service reports about its day (read under the lock)."""

    eod: RunReport | None = None
    failure: str | None = None  # the market thread's or the end of day's error
    eod_progress: dict[str, tuple[int, int]] = field(default_factory=dict)


class LiveMarket:
    """A session stepped by a background thread at ``pace`` snapshots a second (0: as fast
    as it goes), then closed; the end of day follows when ``eod_at_close``."""

    def __init__(
        self,
        engine: Engine,
        session: Session,
        reports_dir: Path,
        pace: float = 0.0,
        eod_at_close: bool = True,
    ) -> None:
        if pace < 0:
            raise ValueError("pace: snapshots per second, 0 for as fast as possible")
        self.engine, self.session, self.reports_dir = engine, session, reports_dir
        self.pace, self.eod_at_close = pace, eod_at_close
        self.lock = threading.RLock()
        self.state = DayState()
        self.done = threading.Event()  # set when the day is over (or failed)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def trading_date(self) -> object:
        return self.session.day

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

    def close_day(self) -> RunReport | None:
        """Close the session (idempotent) and, when configured, run the end of day."""
        with self.lock:
            self.session.close()
        return self.run_eod() if self.eod_at_close else None

    def run_eod(self, progress: StepProgress | None = None) -> RunReport:
        """The day's end of day (its remaining steps), after the close."""
        with self.lock:
            if not self.session.closed:
                raise EodNotReady("the session is still open: the end of day runs after the close")
            settings = EodSettings(self.reports_dir, accrued_through=opening_accrual(self.engine))
            started = timer.perf_counter()

            def told(step: str, done: int, total: int) -> None:
                self.state.eod_progress[step] = (done, total)
                if progress is not None:
                    progress(step, done, total)

            report = run(self.engine, self.session.day, settings, told)
            self.state.eod = report
            self.session.summary.timings["end of day"] = timer.perf_counter() - started
            return report

    def wait(self, timeout: float | None = None) -> bool:
        return self.done.wait(timeout)
