"""A dated parameter kept as versions in its own append-only table: version id, effective
date, the value as canonical JSON, its source and when it was recorded.

Invariants: a version is keyed by its id: recording it again changes nothing, the same id
with another effective date, value or source is refused (the table's ``conflict``); a new
version must come after every recorded one and loading rebuilds the ``History`` through its
own checks (effective dates strictly increasing); the value reads back exactly as written.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

from sqlalchemy import (
    Column,
    Connection,
    Date,
    Engine,
    String,
    Table,
    Text,
    UniqueConstraint,
    select,
)

from liangrong.domain.versions import History, Version
from liangrong.ledger.schema import metadata
from liangrong.store.reference import Clock, ReferenceConflict, stamp, write_lock

T = TypeVar("T")


def dated_table(name: str) -> Table:
    """The columns every dated parameter table has (its migration spells them out)."""
    return Table(
        name,
        metadata,
        Column("version_id", String(64), primary_key=True),
        Column("effective", Date, nullable=False),
        Column("payload_json", Text, nullable=False),
        Column("source", Text, nullable=False),
        Column("recorded_at", String(32), nullable=False),
        UniqueConstraint("effective", name=f"uq_{name}_effective"),
    )


@dataclass(frozen=True)
class DatedVersions(Generic[T]):
    """One dated parameter's table and how its value is written and read."""

    table: Table
    label: str  # the parameter's name in messages, e.g. "collection policy"
    encode: Callable[[T], str]
    decode: Callable[[str], T]
    conflict: type[ReferenceConflict]

    def stored(self, conn: Connection) -> list[Version[T]]:
        t = self.table
        rows = conn.execute(select(t).order_by(t.c.effective))
        return [
            Version(row.version_id, row.effective, self.decode(row.payload_json), row.source)
            for row in rows
        ]

    def save(
        self,
        engine: Engine,
        versions: Iterable[Version[T]],
        *,
        clock: Clock,
        check: Callable[[Connection, Sequence[Version[T]]], None] | None = None,
    ) -> int:
        """Record versions; returns how many were new.  A new version must come after every
        recorded one (``History``'s order check, ``RuleRefused``); ``check`` may refuse the
        new ones too, reading the store under the same lock."""
        with write_lock(engine) as conn:
            stored = self.stored(conn)
            known = {v.version_id: v for v in stored}
            fresh: list[Version[T]] = []
            for version in versions:
                recorded = known.get(version.version_id)
                if recorded is not None:
                    if recorded != version:
                        raise self.conflict(
                            f"{self.label} {version.version_id} is recorded with another "
                            "effective date, value or source; record a new version id instead"
                        )
                    continue
                fresh.append(version)
                known[version.version_id] = version
            if not fresh:
                return 0
            History(tuple(stored)).appended(fresh)  # refuses a version not after the last
            if check is not None:
                check(conn, fresh)
            recorded_at = stamp(clock)
            rows = [
                {"version_id": v.version_id, "effective": v.effective,
                 "payload_json": self.encode(v.value), "source": v.source,
                 "recorded_at": recorded_at}
                for v in fresh
            ]  # fmt: skip
            conn.execute(self.table.insert(), rows)
        return len(fresh)

    def history(self, engine: Engine) -> History[T]:
        with engine.connect() as conn:
            return History(tuple(self.stored(conn)))
