"""Emergency drills and their results (GOV-6: 定期或者临时应急演练, SSE member guide ch8 §5),
migration ``0017_drills``: ``drill_records``, one row per drill run, with what it did, who ran
it, when, whether it passed and its figures.

Invariants: append-only (the database refuses UPDATE and DELETE), so a failed drill stays on
record; a drill's id is unique (a second run is a new row with its own id); the figures are
canonical JSON of integers, text and booleans (no float: seconds are kept as milliseconds).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Boolean, Column, Engine, String, Table, Text, select

from liangrong.ledger.schema import metadata

drill_records = Table(
    "drill_records",
    metadata,
    Column("drill_id", String(96), primary_key=True),
    Column("kind", String(24), nullable=False),
    Column("started_at", String(32), nullable=False),
    Column("finished_at", String(32), nullable=False),
    Column("performed_by", String(64), nullable=False),
    Column("passed", Boolean, nullable=False),
    Column("figures_json", Text, nullable=False),
)


@dataclass(frozen=True, slots=True)
class DrillRecord:
    drill_id: str
    kind: str
    started_at: str
    finished_at: str
    performed_by: str
    passed: bool
    figures: dict[str, Any]


def save_drill(engine: Engine, record: DrillRecord) -> None:
    figures = json.dumps(record.figures, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    with engine.begin() as conn:
        conn.execute(
            drill_records.insert().values(
                drill_id=record.drill_id, kind=record.kind, started_at=record.started_at,
                finished_at=record.finished_at, performed_by=record.performed_by,
                passed=record.passed, figures_json=figures,
            )
        )


def load_drills(engine: Engine) -> list[DrillRecord]:
    """Every drill on record, oldest first."""
    t = drill_records
    with engine.connect() as conn:
        rows = conn.execute(select(t).order_by(t.c.started_at, t.c.drill_id)).all()
    return [
        DrillRecord(
            r.drill_id,
            r.kind,
            r.started_at,
            r.finished_at,
            r.performed_by,
            bool(r.passed),
            json.loads(r.figures_json),
        )
        for r in rows
    ]
