"""The end of day's steps, in the order they run, each with its name (the key it is recorded
under) and what it does.

Invariants: the order never changes for a recorded date (a step's position fixes its clock);
every step is idempotent: its effects are keyed by deterministic ids and computed from what
the steps before it left, so running it again after a crash completes it without
duplicating anything and produces the same digest.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from liangrong.eod.accrual import accrue_step
from liangrong.eod.collection_step import collect_step
from liangrong.eod.context import StepOutcome, StepRun
from liangrong.eod.identity_step import identity_step
from liangrong.eod.maturities import maturities_step
from liangrong.eod.next_day import next_day_step
from liangrong.eod.reconcile import reconcile_step
from liangrong.eod.reports import reports_step
from liangrong.eod.settlement import settle
from liangrong.eod.statuses import statuses_step
from liangrong.eod.stress_step import stress_step
from liangrong.eod.term_rules import term_rules_step


@dataclass(frozen=True)
class Step:
    name: str
    title: str
    run: Callable[[StepRun], StepOutcome]


STEPS: tuple[Step, ...] = (
    Step("settle", "settle the day", settle),
    Step("accrue", "accrue interest and fees", accrue_step),
    # Collected after the day's accrual: a collection day takes what has accrued through it.
    Step("collect", "collect charges on the schedule", collect_step),
    Step("maturities", "maturities and extensions", maturities_step),
    Step("term_rules", "suspension and delisting terms", term_rules_step),
    Step("identity", "identity documents", identity_step),
    Step("statuses", "statuses and margin calls", statuses_step),
    Step("next_day", "next day's lists and parameters", next_day_step),
    # The book at the close is final once the statuses are decided; the next day's
    # reference data are dated later and change nothing of the day's.
    Step("stress", "stress scenarios", stress_step),
    Step("reports", "reports", reports_step),
    Step("reconcile", "reconcile", reconcile_step),
)
STEP_NAMES = tuple(step.name for step in STEPS)


def step_named(name: str) -> Step:
    for step in STEPS:
        if step.name == name:
            return step
    raise KeyError(f"no step {name!r}: one of {', '.join(STEP_NAMES)}")
