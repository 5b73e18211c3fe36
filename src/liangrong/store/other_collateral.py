"""Other collateral (RISK-9) in the store: its append-only event table and the items in force.

Table ``other_collateral_events`` (migration ``0004_other_collateral``): one row per approved
registration, revaluation or release, with the approver, the approval date, the effective
date, the source (appraisal, minute) and the time it was recorded.

Invariants:
- the table is append-only (database triggers refuse UPDATE and DELETE): an error is
  corrected by a later event, never by an edit;
- saving is idempotent per event id: the same id with the same content changes nothing, the
  same id with other content is refused (``OtherCollateralConflict``); a batch that would
  contradict the events already recorded (``domain.other_collateral.in_force`` refuses it:
  a release of what is not in force, a second registration of an id) is refused whole with
  its ``Rejection`` and nothing of it is written;
- a release is recorded only through ``record_release``, which checks it against the
  client's account and agreed ratio first;
- the items in force are the fold of the events in (effective date, record order).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from fractions import Fraction

from sqlalchemy import (
    BigInteger,
    Column,
    Connection,
    Date,
    Engine,
    Integer,
    String,
    Table,
    Text,
    func,
    select,
)

from liangrong.domain import margin
from liangrong.domain.other_collateral import (
    CollateralAction,
    CollateralEvent,
    CollateralKind,
    OtherCollateral,
    OtherCollateralCode,
    ReleaseCheck,
    by_client,
    check_release,
    counted_total,
    in_force,
)
from liangrong.domain.rejections import Rejection
from liangrong.ledger.schema import metadata
from liangrong.store.reference import Clock, ReferenceConflict, stamp, write_lock

other_collateral_events = Table(
    "other_collateral_events",
    metadata,
    Column("event_id", String(64), primary_key=True),
    Column("collateral_id", String(64), nullable=False, index=True),
    Column("client_id", String(32), nullable=False, index=True),
    Column("action", String(16), nullable=False),
    Column("kind", String(24), nullable=True),
    Column("description", Text, nullable=False),
    Column("declared_value_fen", BigInteger, nullable=True),
    Column("haircut_bp", Integer, nullable=True),
    Column("approver", String(64), nullable=False),
    Column("approved_on", Date, nullable=False),
    Column("effective", Date, nullable=False),
    Column("source", Text, nullable=False),
    Column("recorded_seq", Integer, nullable=False, unique=True),
    Column("recorded_at", String(32), nullable=False),
)

_CONTENT = (
    "collateral_id",
    "client_id",
    "action",
    "kind",
    "description",
    "declared_value_fen",
    "haircut_bp",
    "approver",
    "approved_on",
    "effective",
    "source",
)


class OtherCollateralConflict(ReferenceConflict):
    """An event id recorded before with other content."""


def _row(event: CollateralEvent) -> dict[str, object]:
    return {
        "collateral_id": event.collateral_id,
        "client_id": event.client_id,
        "action": event.action.value,
        "kind": None if event.kind is None else event.kind.value,
        "description": event.description,
        "declared_value_fen": event.declared_value_fen,
        "haircut_bp": event.haircut_bp,
        "approver": event.approver,
        "approved_on": event.approved_on,
        "effective": event.effective,
        "source": event.source,
    }


def _date(value: object) -> date:
    assert isinstance(value, date), value
    return value


def _optional_int(value: object) -> int | None:
    assert value is None or isinstance(value, int), value
    return value


def _event(row: dict[str, object]) -> CollateralEvent:
    kind = row["kind"]
    return CollateralEvent(
        collateral_id=str(row["collateral_id"]),
        client_id=str(row["client_id"]),
        action=CollateralAction(row["action"]),
        effective=_date(row["effective"]),
        approver=str(row["approver"]),
        approved_on=_date(row["approved_on"]),
        source=str(row["source"]),
        kind=None if kind is None else CollateralKind(kind),
        description=str(row["description"]),
        declared_value_fen=_optional_int(row["declared_value_fen"]),
        haircut_bp=_optional_int(row["haircut_bp"]),
    )


def _recorded(conn: Connection) -> list[CollateralEvent]:
    query = select(other_collateral_events).order_by(other_collateral_events.c.recorded_seq)
    return [_event(dict(row)) for row in conn.execute(query).mappings()]


def save_events(
    engine: Engine, events: Sequence[tuple[str, CollateralEvent]], *, clock: Clock
) -> int:
    """Record ``(event_id, event)`` pairs in order; returns how many were new."""
    with write_lock(engine) as conn:
        return _save(conn, events, clock)


def _recorded_before(conn: Connection, event_id: str, event: CollateralEvent) -> bool:
    """True if ``event_id`` holds this event; a conflict if it holds another."""
    table, values = other_collateral_events, _row(event)
    found = conn.execute(select(table).where(table.c.event_id == event_id)).mappings().first()
    if found is None:
        return False
    if any(found[name] != values[name] for name in _CONTENT):
        raise OtherCollateralConflict(f"event {event_id} was saved with other content")
    return True


def _save(conn: Connection, events: Sequence[tuple[str, CollateralEvent]], clock: Clock) -> int:
    table = other_collateral_events
    new: list[tuple[str, CollateralEvent]] = []
    for event_id, event in events:
        if _recorded_before(conn, event_id, event):
            continue
        if any(event_id == seen for seen, _ in new):
            raise OtherCollateralConflict(f"event {event_id} appears twice in one batch")
        new.append((event_id, event))
    if not new:
        return 0
    # The whole history with the new events must fold: refused whole otherwise.
    in_force([*_recorded(conn), *(event for _, event in new)])
    last = conn.execute(select(func.coalesce(func.max(table.c.recorded_seq), 0)))
    seq = int(last.scalar_one())
    for event_id, event in new:
        seq += 1
        row = {"event_id": event_id, "recorded_seq": seq, "recorded_at": stamp(clock)}
        conn.execute(table.insert().values(**row, **_row(event)))
    return len(new)


def load_events(engine: Engine, client_id: str | None = None) -> list[CollateralEvent]:
    """Recorded events in record order (one client's, or everyone's)."""
    with engine.connect() as conn:
        events = _recorded(conn)
    return [e for e in events if client_id is None or e.client_id == client_id]


def load_in_force(engine: Engine, on: date | None = None) -> dict[str, tuple[OtherCollateral, ...]]:
    """Each client's items in force on ``on`` (None: after every recorded event)."""
    return by_client(in_force(load_events(engine), on))


def load_counted_values(engine: Engine, on: date | None = None) -> dict[str, int]:
    """Each client's counted other-collateral value, fen: what ``Account.other_collateral_fen``
    and ``BookArrays.set_other_collateral`` take."""
    return {client: counted_total(items) for client, items in load_in_force(engine, on).items()}


def record_release(
    engine: Engine,
    event_id: str,
    event: CollateralEvent,
    account: margin.Account,
    agreed_ratio: Fraction,
    *,
    clock: Clock,
) -> ReleaseCheck | None:
    """Check a release against the client's account (its ``other_collateral_fen`` the
    counted value of every item in force) and agreed ratio, and record it if allowed.

    Refused with the check's ``Rejection`` (codes in ``OtherCollateralCode``); the check
    and the write happen under the write lock, against the same recorded state.  None: this
    release was recorded before (same id, same content) and nothing changed."""
    if event.action is not CollateralAction.RELEASED:
        raise ValueError("record_release records releases only")
    with write_lock(engine) as conn:
        if _recorded_before(conn, event_id, event):
            return None
        item = in_force(_recorded(conn)).get(event.collateral_id)
        if item is None or item.client_id != event.client_id:
            detail = f"{event.client_id}/{event.collateral_id}"
            raise Rejection(OtherCollateralCode.NOT_IN_FORCE, detail)
        check = check_release(account, item.counted_value_fen, agreed_ratio)
        if not check.allowed:
            raise check.rejection()
        _save(conn, [(event_id, event)], clock)
    return check
