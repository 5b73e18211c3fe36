"""Running the end of day of a trading date: the steps not yet recorded, in order, each
recorded as it completes; and its status.

Invariants:
- a step runs only once every step before it is recorded for the date, and is recorded
  only when it has completed: a crash at any point leaves the recorded steps and whatever
  part of the running step had committed, and the next run resumes at that step;
- a date's end of day does not start while an earlier date's is incomplete (its accrual
  state and report would be missing from the next ones);
- the date must be a trading day of the store's calendar.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date

from sqlalchemy import Engine

from liangrong.eod.context import EodContext, StepRun
from liangrong.eod.settings import EodSettings
from liangrong.eod.steps import STEP_NAMES, STEPS, step_named
from liangrong.ledger.collector import collector_paused
from liangrong.ledger.resident import ResidentBook
from liangrong.store.calendar_loads import load_calendar
from liangrong.store.eod_records import StepRecord, completed_steps, record_step, steps_by_date

Progress = Callable[[str, int, int], None]  # (step, done, total)


class EodRefused(RuntimeError):
    """The end of day cannot run for this date (not a trading day, an earlier one open)."""


@dataclass
class RunReport:
    trading_date: date
    ran: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)  # recorded by an earlier run
    records: dict[str, StepRecord] = field(default_factory=dict)

    @property
    def complete(self) -> bool:
        return set(self.records) == set(STEP_NAMES)


@dataclass(frozen=True)
class StepStatus:
    name: str
    title: str
    position: int
    record: StepRecord | None

    @property
    def done(self) -> bool:
        return self.record is not None


def _check_date(engine: Engine, on: date) -> None:
    if not load_calendar(engine).is_trading_day(on):
        raise EodRefused(f"{on} is not a trading day")
    for earlier, names in sorted(steps_by_date(engine).items()):
        if earlier < on and set(names) != set(STEP_NAMES):
            raise EodRefused(
                f"the end of day of {earlier} is incomplete "
                f"({len(names)}/{len(STEP_NAMES)} steps): run it first"
            )


def no_progress(_step: str, _done: int, _total: int) -> None:
    pass


def _told(progress: Progress, step: str) -> Callable[[int, int], None]:
    return lambda done, total: progress(step, done, total)


def run(
    engine: Engine,
    on: date,
    settings: EodSettings | None = None,
    progress: Progress = no_progress,
    stop_after: str | None = None,
    resident: ResidentBook | None = None,
) -> RunReport:
    """Run the date's remaining steps in order (through ``stop_after`` when given), on the
    service's ``resident`` book when it keeps one (else the run reads the book itself)."""
    _check_date(engine, on)
    if stop_after is not None:
        step_named(stop_after)  # an unknown name is refused before anything runs
    ctx = EodContext(engine, on, settings or EodSettings(), resident)
    report = RunReport(on, records=completed_steps(engine, on))
    try:
        _run_steps(ctx, report, progress, stop_after)
    finally:
        ctx.close()
    return report


def _run_steps(
    ctx: EodContext, report: RunReport, progress: Progress, stop_after: str | None
) -> None:
    engine, on = ctx.engine, ctx.day
    for position, step in enumerate(STEPS):
        if step.name in report.records:
            report.skipped.append(step.name)
        else:
            name = step.name
            step_run = StepRun(ctx, name, position, _told(progress, name))
            with collector_paused():
                outcome = step.run(step_run)
            record = StepRecord(
                on, name, position, step_run.completed_at, outcome.digest, outcome.summary
            )
            record_step(engine, record)
            report.records[name] = record
            report.ran.append(name)
        if step.name == stop_after:
            break


def status(engine: Engine, on: date) -> list[StepStatus]:
    done = completed_steps(engine, on)
    return [
        StepStatus(step.name, step.title, position, done.get(step.name))
        for position, step in enumerate(STEPS)
    ]
