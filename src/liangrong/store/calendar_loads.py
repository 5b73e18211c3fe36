"""Calendar loads (REF-4): each loaded range with its source and time, and the calendar
rebuilt from them.

Invariants: loads are append-only and applied in load order, the first one as the base
and each later one winning inside its own range (``TradingCalendar.merged_with``), so the
calendar is the shipped one merged with later files; days outside every loaded range stay
provisional (weekdays); a load that would not change the calendar is not recorded.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date

from sqlalchemy import Connection, Engine, func, select

from liangrong.domain.calendar import TradingCalendar
from liangrong.store import schema as s
from liangrong.store.reference import Clock, digest, stamp, write_lock


class CalendarNotLoaded(LookupError):
    """The store holds no calendar load yet."""


@dataclass(frozen=True, slots=True)
class CalendarLoad:
    """One loaded range: the whole truth about trading days in [horizon_start, horizon_end]."""

    load_id: int
    source: str
    horizon_start: date
    horizon_end: date
    session_count: int
    loaded_at: str


def _calendar(conn: Connection) -> TradingCalendar | None:
    loads = conn.execute(select(s.calendar_loads).order_by(s.calendar_loads.c.load_id)).all()
    sessions: dict[int, list[date]] = {load.load_id: [] for load in loads}
    for load_id, day in conn.execute(
        select(s.calendar_sessions.c.load_id, s.calendar_sessions.c.session_date)
    ):
        sessions[load_id].append(day)
    calendar: TradingCalendar | None = None
    for load in loads:  # in load order: a later load wins inside its range
        days, start, end = sessions[load.load_id], load.horizon_start, load.horizon_end
        if calendar is None:
            calendar = TradingCalendar(days, start, end)
        else:
            calendar = calendar.merged_with(days, start, end)
    return calendar


def save_calendar_load(
    engine: Engine,
    sessions: Iterable[date],
    horizon_start: date,
    horizon_end: date,
    source: str,
    *,
    clock: Clock,
) -> CalendarLoad | None:
    """Record a load of sessions for [horizon_start, horizon_end], which then wins over
    earlier loads inside that range.  None when it would not change the calendar (the same
    data again).  A session outside the range is refused (``ValueError``)."""
    days = tuple(sorted(set(sessions)))
    with write_lock(engine) as conn:
        current = _calendar(conn)
        if current is None:
            merged = TradingCalendar(days, horizon_start, horizon_end)
        else:
            merged = current.merged_with(days, horizon_start, horizon_end)
        if merged == current:
            return None
        last = conn.execute(select(func.max(s.calendar_loads.c.load_id))).scalar_one()
        load = CalendarLoad(
            (last or 0) + 1, source, horizon_start, horizon_end, len(days), stamp(clock)
        )
        conn.execute(
            s.calendar_loads.insert().values(
                load_id=load.load_id,
                source=source,
                horizon_start=horizon_start,
                horizon_end=horizon_end,
                session_count=load.session_count,
                sessions_digest=digest([day.isoformat() for day in days]),
                loaded_at=load.loaded_at,
            )
        )
        if days:
            conn.execute(
                s.calendar_sessions.insert(),
                [{"load_id": load.load_id, "session_date": day} for day in days],
            )
    return load


def load_calendar(engine: Engine) -> TradingCalendar:
    """The calendar rebuilt from every load, in load order; ``CalendarNotLoaded`` if none."""
    with engine.connect() as conn:
        calendar = _calendar(conn)
    if calendar is None:
        raise CalendarNotLoaded("no trading calendar loaded in this store")
    return calendar


def calendar_loads(engine: Engine) -> tuple[CalendarLoad, ...]:
    """Every load, oldest first: the audit record of where the calendar came from."""
    with engine.connect() as conn:
        rows = conn.execute(select(s.calendar_loads).order_by(s.calendar_loads.c.load_id))
        return tuple(
            CalendarLoad(
                r.load_id, r.source, r.horizon_start, r.horizon_end, r.session_count, r.loaded_at
            )
            for r in rows
        )
