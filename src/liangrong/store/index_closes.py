"""Index closes recorded in the store: the levels a fair value moved by its index reads
(RISK-2, ``FairValueRule.INDEX_MOVED``) for days the shipped history does not cover.

A close is recorded by whoever knows it: a firm loading the published level, or the
simulated market at its close (``source`` says which, so a simulated level is never taken
for a published one).  Levels are exact decimals, stored as their text.

Invariants: append-only (a database trigger refuses update and delete), one level per index
and day; recording the same level again records nothing, another level for a day already
recorded is refused (``IndexCloseConflict``) and nothing of that call is written.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from fractions import Fraction

from sqlalchemy import Column, Date, Engine, String, Table, select

from liangrong.domain.rule_codec import exact_text
from liangrong.ledger.schema import metadata
from liangrong.store.reference import ReferenceConflict, write_lock

PUBLISHED = "published"
SIMULATED = "simulated"

index_closes = Table(
    "index_closes",
    metadata,
    Column("index_name", String(16), primary_key=True),
    Column("trading_date", Date, primary_key=True),
    Column("level", String(40), nullable=False),  # exact decimal text
    Column("source", String(16), nullable=False),
    Column("recorded_at", String(32), nullable=False),
)


class IndexCloseConflict(ReferenceConflict):
    """An index's level of a day was recorded with another value."""


@dataclass(frozen=True, slots=True)
class IndexClose:
    index_name: str
    trading_date: date
    level: Fraction
    source: str  # PUBLISHED or SIMULATED
    recorded_at: str

    def __post_init__(self) -> None:
        if self.level <= 0:
            raise ValueError(f"{self.index_name} on {self.trading_date}: level must be positive")
        if self.source not in (PUBLISHED, SIMULATED):
            raise ValueError(f"unknown source {self.source!r}")


def save_index_closes(engine: Engine, closes: Iterable[IndexClose]) -> int:
    """Record the closes not recorded yet; returns how many were new."""
    wanted = {(c.index_name, c.trading_date): c for c in closes}
    if not wanted:
        return 0
    t = index_closes.c
    with write_lock(engine) as conn:
        names = sorted({name for name, _ in wanted})
        days = sorted({day for _, day in wanted})
        stored = {
            (row.index_name, row.trading_date): Fraction(row.level)
            for row in conn.execute(
                select(t.index_name, t.trading_date, t.level).where(
                    t.index_name.in_(names), t.trading_date.in_(days)
                )
            )
        }
        clash = sorted(key for key, c in wanted.items() if key in stored and stored[key] != c.level)
        if clash:
            raise IndexCloseConflict(f"index closes already recorded otherwise: {clash[:5]}")
        new = [
            {
                "index_name": c.index_name,
                "trading_date": c.trading_date,
                "level": exact_text(c.level),
                "source": c.source,
                "recorded_at": c.recorded_at,
            }
            for key, c in sorted(wanted.items())
            if key not in stored
        ]
        if new:
            conn.execute(index_closes.insert(), new)
    return len(new)


def load_index_closes(engine: Engine, index_name: str) -> list[IndexClose]:
    """Every recorded close of the index, by day."""
    t = index_closes.c
    query = select(index_closes).where(t.index_name == index_name).order_by(t.trading_date)
    with engine.connect() as conn:
        return [
            IndexClose(r.index_name, r.trading_date, Fraction(r.level), r.source, r.recorded_at)
            for r in conn.execute(query)
        ]
