"""The reconciliation's checkpoint of the journal (ACC-7): what the journal held at the
close of an earlier day, so that the balances check of a later day reads only what was
posted since (``domain.control_totals``).

A checkpoint is kept in the ``reconcile`` step's record of its day (``summary["control"]``):
the journal's last sequence number then, its control total through that number, how many of
its transactions opened a contract, and the last day whose check was full (every key's
balance against the sum of all its postings).  A full check runs when there is no earlier
checkpoint, when the last full one is ``EodSettings.full_reconciliation_days`` or more
calendar days old, and whenever the control totals disagree (it lists the keys that
differ).

Invariants: a checkpoint is read only from a day before the one being reconciled, so a
rerun of a day reads what its first run read; its numbers are exact integers (the control
total as text, beyond JSON's safe integers).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import Engine

from liangrong.store.eod_records import completed_steps, steps_by_date

STEP = "reconcile"


@dataclass(frozen=True, slots=True)
class Checkpoint:
    trading_date: date  # the day whose reconciliation left it
    through_seq: int  # the journal's last sequence number then
    journal_total: int  # the journal's control total through ``through_seq``
    openings: int  # transactions through ``through_seq`` that opened a contract
    full_on: date  # the last day whose balances check was full

    def to_summary(self) -> dict[str, Any]:
        return {
            "through_seq": self.through_seq,
            "journal_total": str(self.journal_total),
            "openings": self.openings,
            "full_on": self.full_on.isoformat(),
        }

    @staticmethod
    def from_summary(trading_date: date, summary: dict[str, Any]) -> Checkpoint:
        return Checkpoint(
            trading_date,
            int(summary["through_seq"]),
            int(summary["journal_total"]),
            int(summary["openings"]),
            date.fromisoformat(summary["full_on"]),
        )


def latest_checkpoint(engine: Engine, day: date) -> Checkpoint | None:
    """The checkpoint of the latest day before ``day`` whose reconciliation completed."""
    done = steps_by_date(engine)
    for earlier in sorted((d for d in done if d < day and STEP in done[d]), reverse=True):
        summary = completed_steps(engine, earlier)[STEP].summary
        if "control" in summary:
            return Checkpoint.from_summary(earlier, summary["control"])
    return None


def full_check_due(
    previous: Checkpoint | None, day: date, through_seq: int, full_days: int
) -> bool:
    """Whether ``day`` checks every key against the whole journal (else against
    ``previous`` and what was posted since)."""
    if previous is None or previous.through_seq > through_seq:
        return True  # nothing to stand on, or a journal that lost transactions
    return (day - previous.full_on).days >= full_days
