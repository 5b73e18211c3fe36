"""Tables of the dated restriction events (migration ``0003_restrictions``), append-only."""

from __future__ import annotations

from sqlalchemy import BigInteger, Boolean, Column, Date, Integer, String, Table, Text

from liangrong.ledger.schema import metadata


def _stamp() -> list[Column[object]]:
    return [
        Column("effective", Date, nullable=False),
        Column("source", Text, nullable=False),
        Column("recorded_seq", Integer, nullable=False, unique=True),
        Column("recorded_at", String(32), nullable=False),
    ]


person_events = Table(
    "person_events",
    metadata,
    Column("event_id", String(64), primary_key=True),
    Column("client_id", String(32), nullable=False, index=True),
    Column("symbol", String(16), nullable=False),
    Column("role", String(24), nullable=False),
    Column("imposed", Boolean, nullable=False),
    *_stamp(),
)

share_events = Table(
    "share_events",
    metadata,
    Column("event_id", String(64), primary_key=True),
    Column("client_id", String(32), nullable=False, index=True),
    Column("symbol", String(16), nullable=False),
    Column("reason", String(32), nullable=False),
    Column("quantity", BigInteger, nullable=False),
    *_stamp(),
)

halt_events = Table(
    "halt_events",
    metadata,
    Column("event_id", String(64), primary_key=True),
    Column("symbol", String(16), nullable=False, index=True),
    Column("kind", String(16), nullable=False),
    Column("halted", Boolean, nullable=False),
    *_stamp(),
)
