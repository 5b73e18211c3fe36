"""Defaults recorded by a user, their cures and withdrawals (CLI-5; the rules:
``domain.recorded_defaults``), migrations ``0016_default_records`` and
``0018_default_withdrawals``:

- ``default_records``: each default a user recorded (bad credit, other, overdue charges),
  with whether the firm judges it malicious, who recorded it and when;
- ``default_cures``: the cure of a record (the date it was settled, who, when), at most one
  per record (its key is the record's);
- ``default_withdrawals``: the withdrawal of a record entered in error (the date, the
  reason, who, when), at most one per record (its key is the record's).

Invariants: the tables are append-only (the database refuses UPDATE and DELETE); a refused
call writes nothing (the checks and the insert share one transaction under the store's
write lock); recording the same record, cure or withdrawal again changes nothing and
returns False; no row carries the wall clock unless the caller's clock is one.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import date
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Connection,
    Date,
    Engine,
    ForeignKey,
    Index,
    String,
    Table,
    Text,
    select,
)

from liangrong.domain.default_records import DefaultKind
from liangrong.domain.recorded_defaults import (
    DefaultCure,
    DefaultEntry,
    DefaultRefusal,
    DefaultRefused,
    DefaultWithdrawal,
    RecordedDefault,
    check_again,
    check_cure,
    check_entry,
    check_withdrawal,
)
from liangrong.ledger import schema as s
from liangrong.ledger.schema import metadata
from liangrong.store.reference import Clock, stamp, write_lock

default_records = Table(
    "default_records",
    metadata,
    Column("record_id", String(96), primary_key=True),
    Column("client_id", String(32), nullable=False),
    Column("kind", String(24), nullable=False),  # DefaultKind value
    Column("occurred_on", Date, nullable=False),
    Column("amount_owed_fen", BigInteger, nullable=False),
    Column("note", Text, nullable=False),
    Column("malicious", Boolean, nullable=False),
    Column("recorded_by", String(64), nullable=False),
    Column("recorded_at", String(32), nullable=False),
    Index("ix_default_records_client", "client_id", "occurred_on"),
)

default_cures = Table(
    "default_cures",
    metadata,
    Column(
        "record_id",
        String(96),
        ForeignKey("default_records.record_id", name="fk_default_cures_record"),
        primary_key=True,
    ),
    Column("cured_on", Date, nullable=False),
    Column("note", Text, nullable=False),
    Column("cured_by", String(64), nullable=False),
    Column("recorded_at", String(32), nullable=False),
)

default_withdrawals = Table(
    "default_withdrawals",
    metadata,
    Column(
        "record_id",
        String(96),
        ForeignKey("default_records.record_id", name="fk_default_withdrawals_record"),
        primary_key=True,
    ),
    Column("withdrawn_on", Date, nullable=False),
    Column("reason", Text, nullable=False),
    Column("withdrawn_by", String(64), nullable=False),
    Column("recorded_at", String(32), nullable=False),
)

DEFAULT_RECORD_TABLES = ("default_records", "default_cures", "default_withdrawals")


def _entry(r: Any) -> DefaultEntry:
    return DefaultEntry(
        r.record_id, r.client_id, DefaultKind(r.kind), r.occurred_on, int(r.amount_owed_fen),
        r.note, bool(r.malicious), r.recorded_by,
    )  # fmt: skip


def _select() -> Any:
    r, c, w = default_records, default_cures, default_withdrawals
    return select(
        r,
        c.c.cured_on,
        c.c.note.label("cure_note"),
        c.c.cured_by,
        c.c.recorded_at.label("cured_at"),
        w.c.withdrawn_on,
        w.c.reason,
        w.c.withdrawn_by,
        w.c.recorded_at.label("withdrawn_at"),
    ).select_from(
        r.outerjoin(c, c.c.record_id == r.c.record_id).outerjoin(w, w.c.record_id == r.c.record_id)
    )


def _recorded(r: Any) -> RecordedDefault:
    cure = withdrawal = None
    if r.cured_on is not None:
        cure = DefaultCure(r.record_id, r.cured_on, r.cured_by, r.cure_note)
    if r.withdrawn_on is not None:
        withdrawal = DefaultWithdrawal(r.record_id, r.withdrawn_on, r.withdrawn_by, r.reason)
    return RecordedDefault(_entry(r), r.recorded_at, cure, r.cured_at, withdrawal, r.withdrawn_at)


def _known_client(conn: Connection, client_id: str) -> bool:
    t = s.credit_accounts
    return conn.execute(select(t.c.client_id).where(t.c.client_id == client_id)).first() is not None


def _stored(conn: Connection, record_id: str) -> RecordedDefault | None:
    row = conn.execute(_select().where(default_records.c.record_id == record_id)).first()
    return None if row is None else _recorded(row)


def record_default(engine: Engine, entry: DefaultEntry, *, today: date, clock: Clock) -> bool:
    """Record a default; False when this very record was recorded before.  Raises
    ``DefaultRefused`` (nothing written) when it cannot be."""
    check_entry(entry, today)
    with write_lock(engine) as conn:
        if not _known_client(conn, entry.client_id):
            raise DefaultRefused(DefaultRefusal.UNKNOWN_CLIENT, entry.client_id)
        stored = _stored(conn, entry.record_id)
        if stored is not None:
            check_again(stored.entry, entry)
            return False
        e = entry
        conn.execute(
            default_records.insert(),
            {
                "record_id": e.record_id, "client_id": e.client_id, "kind": e.kind.value,
                "occurred_on": e.occurred_on, "amount_owed_fen": e.amount_owed_fen,
                "note": e.note, "malicious": e.malicious, "recorded_by": e.recorded_by,
                "recorded_at": stamp(clock),
            },
        )  # fmt: skip
    return True


def cure_default(engine: Engine, cure: DefaultCure, *, today: date, clock: Clock) -> bool:
    """Record a default's cure; False when this very cure was recorded before.  Raises
    ``DefaultRefused`` (nothing written) when it cannot be."""
    row = {"cured_on": cure.cured_on, "note": cure.note, "cured_by": cure.cured_by}
    return _append_once(engine, default_cures, cure.record_id, row, clock,
                        lambda stored: check_cure(stored, cure, today))  # fmt: skip


def withdraw_default(
    engine: Engine, withdrawal: DefaultWithdrawal, *, today: date, clock: Clock
) -> bool:
    """Record that a default was withdrawn as recorded in error; False when this very
    withdrawal was recorded before.  Raises ``DefaultRefused`` (nothing written) when it
    cannot be."""
    w = withdrawal
    row = {"withdrawn_on": w.withdrawn_on, "reason": w.reason, "withdrawn_by": w.withdrawn_by}
    return _append_once(engine, default_withdrawals, w.record_id, row, clock,
                        lambda stored: check_withdrawal(stored, w, today))  # fmt: skip


def _append_once(
    engine: Engine, table: Table, record_id: str, row: dict[str, object], clock: Clock,
    is_new: Callable[[RecordedDefault | None], bool],
) -> bool:  # fmt: skip
    """A record's cure or withdrawal, checked against the stored record under the write lock
    and inserted when new."""
    with write_lock(engine) as conn:
        if not is_new(_stored(conn, record_id)):
            return False
        conn.execute(table.insert(), {**row, "record_id": record_id, "recorded_at": stamp(clock)})
    return True


def find_recorded_default(engine: Engine, record_id: str) -> RecordedDefault | None:
    """One recorded default by its id, with its cure and withdrawal."""
    with engine.connect() as conn:
        return _stored(conn, record_id)


def load_recorded_defaults(
    engine: Engine, *, clients: Iterable[str] | None = None, through: date | None = None
) -> list[RecordedDefault]:
    """The recorded defaults (of ``clients``; occurred on or before ``through``), with their
    cures and withdrawals (whatever their dates), by client, date and id (sorted here: the
    same order whatever the database's collation)."""
    t = default_records
    query = _select()
    if through is not None:
        query = query.where(t.c.occurred_on <= through)
    found: list[RecordedDefault] = []
    with engine.connect() as conn:
        if clients is None:
            found = [_recorded(r) for r in conn.execute(query)]
        for chunk in s.key_chunks(sorted(set(clients or ()))):
            found.extend(_recorded(r) for r in conn.execute(query.where(t.c.client_id.in_(chunk))))
    found.sort(key=lambda r: (r.entry.client_id, r.entry.occurred_on, r.entry.record_id))
    return found
