"""Loading trading-calendar data into the domain's ``TradingCalendar`` (REF-4).

File format (shipped file and later years alike): UTF-8 text, a header line ``session``, then
one ISO date (YYYY-MM-DD) per line, strictly ascending; blank lines are ignored.

Invariants:
- the shipped file ``liangrong/sim/data/xshg_sessions.csv`` (XSHG 2024-2026, converted once by
  ``scripts/build_calendar.py``) is read through ``importlib.resources``, nothing else;
- a file's horizon is, unless given, the first..last day of the calendar years it covers, so
  an exchange's yearly notice loads one whole year;
- a malformed file is refused with a ``CalendarFileError`` naming the file and line.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from importlib.resources import files
from pathlib import Path

from liangrong.domain.calendar import TradingCalendar

HEADER = "session"
SHIPPED_RESOURCE = "data/xshg_sessions.csv"


class CalendarFileError(ValueError):
    """A calendar file is malformed; the message names the file and line."""


@dataclass(frozen=True, slots=True)
class SessionFile:
    """The sessions of one file and the range of days they are the whole truth for."""

    sessions: tuple[date, ...]
    horizon_start: date
    horizon_end: date


def _parse_line(text: str, source: str, number: int) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise CalendarFileError(
            f"{source}, line {number}: {text!r} is not a date YYYY-MM-DD"
        ) from None


def parse_sessions(text: str, source: str) -> tuple[date, ...]:
    """Sessions of a calendar file's text; ``source`` names the file in errors."""
    lines = [(n, line.strip()) for n, line in enumerate(text.splitlines(), start=1)]
    lines = [(n, line) for n, line in lines if line]
    if not lines or lines[0][1].lstrip("\ufeff") != HEADER:
        found = lines[0][1] if lines else "an empty file"
        raise CalendarFileError(f"{source}, line 1: expected header {HEADER!r}, got {found!r}")
    sessions: list[date] = []
    for number, line in lines[1:]:
        day = _parse_line(line, source, number)
        if sessions and day <= sessions[-1]:
            raise CalendarFileError(
                f"{source}, line {number}: {day} does not follow {sessions[-1]} (ascending, unique)"
            )
        sessions.append(day)
    return tuple(sessions)


def session_file(
    text: str, source: str, horizon_start: date | None = None, horizon_end: date | None = None
) -> SessionFile:
    """Parse ``text`` and settle its horizon (whole covered years unless given)."""
    sessions = parse_sessions(text, source)
    if not sessions and (horizon_start is None or horizon_end is None):
        raise CalendarFileError(f"{source}: no sessions and no explicit horizon")
    start = horizon_start or date(sessions[0].year, 1, 1)
    end = horizon_end or date(sessions[-1].year, 12, 31)
    if start > end:
        raise CalendarFileError(f"{source}: horizon {start}..{end} is empty")
    outside = [day for day in sessions if not start <= day <= end]
    if outside:
        raise CalendarFileError(f"{source}: session {outside[0]} is outside {start}..{end}")
    return SessionFile(sessions, start, end)


def read_session_file(
    path: str | Path, horizon_start: date | None = None, horizon_end: date | None = None
) -> SessionFile:
    """Read a later year's file (e.g. typed from the exchanges' yearly holiday notice)."""
    text = Path(path).read_text(encoding="utf-8")
    return session_file(text, str(path), horizon_start, horizon_end)


def read_shipped_sessions() -> SessionFile:
    """The sessions shipped with the package (XSHG 2024-2026) and their horizon."""
    text = files("liangrong.sim").joinpath(SHIPPED_RESOURCE).read_text(encoding="utf-8")
    return session_file(text, SHIPPED_RESOURCE)


def load_shipped_calendar() -> TradingCalendar:
    """The XSHG calendar shipped with the package: loaded horizon 2024-01-01..2026-12-31."""
    data = read_shipped_sessions()
    return TradingCalendar(data.sessions, data.horizon_start, data.horizon_end)


def extend_calendar(
    calendar: TradingCalendar,
    path: str | Path,
    horizon_start: date | None = None,
    horizon_end: date | None = None,
) -> TradingCalendar:
    """``calendar`` with a later file merged in; the file wins inside its horizon."""
    data = read_session_file(path, horizon_start, horizon_end)
    return calendar.merged_with(data.sessions, data.horizon_start, data.horizon_end)


def load_calendar(*extra_files: str | Path) -> TradingCalendar:
    """The shipped calendar extended by ``extra_files`` in order (later files win)."""
    calendar = load_shipped_calendar()
    for path in extra_files:
        calendar = extend_calendar(calendar, path)
    return calendar
