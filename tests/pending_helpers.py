"""Seeding pending charges the way the end of day will book them (``docs/charges-subledger
.md``): the accrual state of a date with its pending column, its journal position, the one
control posting of their total, and the accrual step recorded as completed."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date

import numpy as np
from sqlalchemy import Engine

from liangrong.domain import operations as ops
from liangrong.ledger.journal import Ledger, last_seq
from liangrong.store.accrual_state import (
    AccrualSnapshot,
    KindColumns,
    PendingState,
    stored_accruals,
    write_accruals,
)
from liangrong.store.eod_records import StepRecord, record_step

UNIT = 3_600_000
Pending = Mapping[str, Mapping[str, int]]  # contract -> kind -> fen


def pending_snapshot(pending: Pending, position: int) -> AccrualSnapshot:
    """A state whose contracts have booked exactly what is pending, no residue."""
    kinds: dict[str, KindColumns] = {}
    for kind in sorted({k for by_kind in pending.values() for k in by_kind}):
        ids = sorted(cid for cid, by_kind in pending.items() if kind in by_kind)
        fen = np.asarray([pending[cid][kind] for cid in ids], dtype=np.int64)
        kinds[kind] = KindColumns(ids, fen, np.zeros(len(ids), np.int64), fen)
    return AccrualSnapshot(UNIT, kinds, position)


def pending_state(pending: Pending, position: int) -> PendingState:
    """The pending alone of ``pending_snapshot``'s state (as its pending readers read it)."""
    return PendingState.of(pending_snapshot(pending, position))


def seed_pending(
    ledger: Ledger,
    day: date,
    pending: Pending,
    complete: bool = True,
    part_rows: int = 2,
    booked_fen: int | None = None,
    posted: bool = True,
) -> None:
    """Book ``pending`` on ``day`` as the accrual does: state first, then the control
    posting of what the day booked (``booked_fen``; by default all that is pending; left
    out with ``posted=False``), then the step's record (left out with ``complete=False``:
    a crashed run)."""
    engine: Engine = ledger.engine
    with engine.connect() as conn:
        position = last_seq(conn)
    write_accruals(engine, stored_accruals(day, pending_snapshot(pending, position), part_rows))
    total = booked_fen
    if total is None:
        total = sum(fen for by_kind in pending.values() for fen in by_kind.values())
    event = {"type": "charges_booked", "through": day.isoformat()}
    if posted:
        ledger.post(ops.control_accrual(f"eod:{day}:charges:subledger", day, total, event))
    if complete:
        record = StepRecord(day, "accrue", 1, f"{day}T18:00:00+08:00", "d" * 64, {})
        record_step(engine, record)
