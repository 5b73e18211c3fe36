"""Saving and loading the dated restriction events (CLI-4, REF-7, ORD-3 items 6, 9, 11, 14).

Each event carries the caller's id: saving the same id with the same content again changes
nothing; the same id with other content is refused (``RestrictionConflict``).  The tables are
append-only: an error is corrected by a later event, never by an edit.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from datetime import date, datetime

from sqlalchemy import Connection, Engine, Table, func, select, text

from liangrong.domain.restrictions import (
    HaltEvent,
    HaltKind,
    PersonEvent,
    PersonRole,
    ShareEvent,
    ShareReason,
)
from liangrong.store.restriction_tables import halt_events, person_events, share_events

Clock = Callable[[], datetime]
Event = PersonEvent | ShareEvent | HaltEvent


class RestrictionConflict(ValueError):
    """An event id saved before with different content."""


def _row(event: Event) -> tuple[Table, dict[str, object]]:
    common = {"effective": event.effective, "source": event.source}
    if isinstance(event, PersonEvent):
        return person_events, {
            "client_id": event.client_id,
            "symbol": event.symbol,
            "role": event.role.value,
            "imposed": event.imposed,
            **common,
        }
    if isinstance(event, ShareEvent):
        return share_events, {
            "client_id": event.client_id,
            "symbol": event.symbol,
            "reason": event.reason.value,
            "quantity": event.quantity,
            **common,
        }
    return halt_events, {
        "symbol": event.symbol,
        "kind": event.kind.value,
        "halted": event.halted,
        **common,
    }


def save_events(engine: Engine, events: Sequence[tuple[str, Event]], *, clock: Clock) -> int:
    """Save ``(event_id, event)`` pairs; returns how many were new."""
    saved = 0
    with engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(text("SELECT pg_advisory_xact_lock(7172)"))
        for event_id, event in events:
            table, values = _row(event)
            existing = (
                conn.execute(select(table).where(table.c.event_id == event_id)).mappings().first()
            )
            if existing is not None:
                if any(existing[k] != v for k, v in values.items()):
                    raise RestrictionConflict(f"event {event_id} was saved with other content")
                continue
            seq = _next_seq(conn, table)
            recorded = clock().isoformat(timespec="microseconds")
            conn.execute(
                table.insert().values(
                    event_id=event_id, recorded_seq=seq, recorded_at=recorded, **values
                )
            )
            saved += 1
    return saved


def _next_seq(conn: Connection, table: Table) -> int:
    return (
        int(conn.execute(select(func.coalesce(func.max(table.c.recorded_seq), 0))).scalar_one()) + 1
    )


def _ordered(conn: Connection, table: Table) -> Iterable[dict[str, object]]:
    for row in conn.execute(select(table).order_by(table.c.recorded_seq)).mappings():
        yield dict(row)


def _date(value: object) -> date:
    assert isinstance(value, date), value
    return value


def _int(value: object) -> int:
    assert isinstance(value, int), value
    return value


def load_person_events(engine: Engine) -> list[PersonEvent]:
    with engine.connect() as conn:
        return [
            PersonEvent(
                str(r["client_id"]),
                str(r["symbol"]),
                PersonRole(r["role"]),
                bool(r["imposed"]),
                _date(r["effective"]),
                str(r["source"]),
            )
            for r in _ordered(conn, person_events)
        ]


def load_share_events(engine: Engine) -> list[ShareEvent]:
    with engine.connect() as conn:
        return [
            ShareEvent(
                str(r["client_id"]),
                str(r["symbol"]),
                ShareReason(r["reason"]),
                _int(r["quantity"]),
                _date(r["effective"]),
                str(r["source"]),
            )
            for r in _ordered(conn, share_events)
        ]


def load_halt_events(engine: Engine) -> list[HaltEvent]:
    with engine.connect() as conn:
        return [
            HaltEvent(
                str(r["symbol"]),
                HaltKind(r["kind"]),
                bool(r["halted"]),
                _date(r["effective"]),
                str(r["source"]),
            )
            for r in _ordered(conn, halt_events)
        ]
