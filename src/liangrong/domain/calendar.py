"""The SSE/SZSE trading calendar the project owns (REF-4): T+N deadlines, terms, report dates.

The calendar is built from loaded session dates and the ranges those data cover (the
horizon). Inside a loaded range a day is a trading day exactly when it is a loaded session.
Outside every loaded range a day is *provisional*: a weekday is assumed to trade, because no
published data exist yet (the exchanges announce a year's holidays late in the year before).
Every answer can be asked whether it relied on provisional days (``span_is_provisional``).

Invariants:
- loaded ranges are disjoint, sorted and never adjacent (touching ranges are coalesced);
- every loaded session lies inside a loaded range;
- ``trading_days_between(d, add_trading_days(d, n)) == n`` for n >= 0 and any d, and for
  any n when d is a trading day; ``trading_days_between(a, b) == -trading_days_between(b, a)``;
- ``maturity_date(start, months)`` is a trading day no later than the same day-of-month
  ``months`` later (clipped to the month's end), so a term never exceeds ``months`` (CON-1).

Days are handled as proleptic Gregorian ordinals internally; ordinal 1 (0001-01-01) is a Monday.
"""

from __future__ import annotations

import calendar as _gregorian
from bisect import bisect_left, bisect_right
from collections.abc import Iterable
from datetime import date, timedelta

_Range = tuple[int, int]  # inclusive ordinals


def _weekdays_through(ordinal: int) -> int:
    """Weekdays in [1, ordinal]; closed form, so provisional spans cost nothing to count."""
    weeks, rest = divmod(ordinal, 7)
    return weeks * 5 + min(rest, 5)


def _weekdays(first: int, last: int) -> int:
    return _weekdays_through(last) - _weekdays_through(first - 1) if first <= last else 0


def add_months(start: date, months: int) -> date:
    """Same day-of-month ``months`` later, clipped to the end of a shorter month."""
    index = start.year * 12 + start.month - 1 + months
    year, month0 = divmod(index, 12)
    last_day = _gregorian.monthrange(year, month0 + 1)[1]
    return date(year, month0 + 1, min(start.day, last_day))


def _coalesce(ranges: Iterable[_Range]) -> tuple[_Range, ...]:
    merged: list[_Range] = []
    for first, last in sorted(ranges):
        if merged and first <= merged[-1][1] + 1:
            merged[-1] = (merged[-1][0], max(merged[-1][1], last))
        else:
            merged.append((first, last))
    return tuple(merged)


def _minus(ranges: Iterable[_Range], cut: _Range) -> list[_Range]:
    """The parts of ``ranges`` outside ``cut``."""
    kept: list[_Range] = []
    for first, last in ranges:
        if first < cut[0]:
            kept.append((first, min(last, cut[0] - 1)))
        if last > cut[1]:
            kept.append((max(first, cut[1] + 1), last))
    return kept


class TradingCalendar:
    """Immutable trading calendar: loaded sessions, loaded ranges, weekdays beyond them."""

    __slots__ = ("_added", "_ranges", "_sessions")

    def __init__(self, sessions: Iterable[date], horizon_start: date, horizon_end: date) -> None:
        if horizon_start > horizon_end:
            raise ValueError(f"horizon starts {horizon_start} after it ends {horizon_end}")
        self._ranges: tuple[_Range, ...] = ((horizon_start.toordinal(), horizon_end.toordinal()),)
        self._sessions: tuple[int, ...] = tuple(sorted({d.toordinal() for d in sessions}))
        self._added: dict[tuple[int, int], int] = {}  # add_trading_days' answers
        self._check_sessions_inside()

    @classmethod
    def _from_parts(cls, sessions: Iterable[int], ranges: Iterable[_Range]) -> TradingCalendar:
        new = cls.__new__(cls)
        new._ranges = _coalesce(ranges)
        new._sessions = tuple(sorted(set(sessions)))
        new._added = {}
        new._check_sessions_inside()
        return new

    def _check_sessions_inside(self) -> None:
        # A session outside the loaded ranges would silently be overridden by the weekday rule.
        for ordinal in self._sessions:
            if self._range_index(ordinal) is None:
                raise ValueError(f"session {date.fromordinal(ordinal)} is outside the horizon")

    # --- horizon -----------------------------------------------------------------------

    @property
    def horizon_start(self) -> date:
        return date.fromordinal(self._ranges[0][0])

    @property
    def horizon_end(self) -> date:
        return date.fromordinal(self._ranges[-1][1])

    @property
    def loaded_ranges(self) -> tuple[tuple[date, date], ...]:
        """Ranges covered by loaded data; gaps between them are provisional."""
        return tuple((date.fromordinal(a), date.fromordinal(b)) for a, b in self._ranges)

    @property
    def sessions(self) -> tuple[date, ...]:
        """The loaded sessions (provisional weekdays are not included)."""
        return tuple(date.fromordinal(o) for o in self._sessions)

    def _range_index(self, ordinal: int) -> int | None:
        index = bisect_right(self._ranges, ordinal, key=lambda r: r[0]) - 1
        return index if index >= 0 and ordinal <= self._ranges[index][1] else None

    def is_provisional(self, d: date) -> bool:
        """True when ``d`` lies outside the loaded data, so only the weekday rule applies."""
        return self._range_index(d.toordinal()) is None

    def span_is_provisional(self, start: date, end: date) -> bool:
        """True when any day in [start, end] (either order) is provisional."""
        first, last = sorted((start.toordinal(), end.toordinal()))
        index = self._range_index(first)
        return index is None or self._ranges[index][1] < last

    def merged_with(
        self, sessions: Iterable[date], horizon_start: date, horizon_end: date
    ) -> TradingCalendar:
        """A calendar with newer data loaded for [horizon_start, horizon_end].

        Inside that range the new sessions replace the old ones (a later notice wins);
        elsewhere the current data stay.
        """
        if horizon_start > horizon_end:
            raise ValueError(f"horizon starts {horizon_start} after it ends {horizon_end}")
        cut = (horizon_start.toordinal(), horizon_end.toordinal())
        kept = [o for o in self._sessions if not cut[0] <= o <= cut[1]]
        new = [d.toordinal() for d in sessions]
        outside = [o for o in new if not cut[0] <= o <= cut[1]]
        if outside:
            raise ValueError(f"session {date.fromordinal(outside[0])} is outside the horizon")
        return TradingCalendar._from_parts(kept + new, [*_minus(self._ranges, cut), cut])

    # --- days ----------------------------------------------------------------------------

    def is_trading_day(self, d: date) -> bool:
        ordinal = d.toordinal()
        if self._range_index(ordinal) is None:
            return d.weekday() < 5
        index = bisect_left(self._sessions, ordinal)
        return index < len(self._sessions) and self._sessions[index] == ordinal

    def _count(self, first: int, last: int) -> int:
        """Trading days in [first, last] (ordinals): bisect inside ranges, closed form outside."""
        total, cursor = 0, first
        for range_first, range_last in self._ranges:
            if cursor > last or range_first > last:
                break
            if range_last < cursor:
                continue
            total += _weekdays(cursor, range_first - 1)
            low, high = max(cursor, range_first), min(range_last, last)
            total += bisect_right(self._sessions, high) - bisect_left(self._sessions, low)
            cursor = high + 1
        return total + _weekdays(cursor, last)

    def trading_days_between(self, start: date, end: date) -> int:
        """Trading days in (start, end]; negative, counted the same way, when end < start."""
        a, b = start.toordinal(), end.toordinal()
        return self._count(a + 1, b) if a <= b else -self._count(b + 1, a)

    def add_trading_days(self, d: date, n: int) -> date:
        """T+n: the n-th trading day after ``d`` (before it when n < 0); ``d`` itself when 0.
        Each answer is kept (the calendar never changes): a book's thousands of contracts
        ask about the same few days."""
        if n == 0:
            return d
        key = (d.toordinal(), n)
        found = self._added.get(key)
        if found is None:
            found = self._added[key] = self._searched(*key)
        return date.fromordinal(found)

    def _searched(self, origin: int, n: int) -> int:
        """``add_trading_days`` by bisection over the count of trading days (ordinals)."""
        wanted, sign = abs(n), 1 if n > 0 else -1

        def reached(offset: int) -> bool:  # at least `wanted` trading days within offset
            far = origin + sign * offset
            return self._count(*sorted((origin + sign, far))) >= wanted

        high = 2 * wanted + 7
        while not reached(high):  # terminates: beyond the loaded data, weekdays trade
            high *= 2
        low = 1
        while low < high:
            middle = (low + high) // 2
            if reached(middle):
                high = middle
            else:
                low = middle + 1
        return origin + sign * low

    def next_trading_day(self, d: date) -> date:
        """The first trading day strictly after ``d``."""
        return self.add_trading_days(d, 1)

    def previous_trading_day(self, d: date) -> date:
        """The last trading day strictly before ``d``."""
        return self.add_trading_days(d, -1)

    def on_or_before(self, d: date) -> date:
        """``d`` if it trades, else the last trading day before it."""
        return d if self.is_trading_day(d) else self.previous_trading_day(d)

    def on_or_after(self, d: date) -> date:
        """``d`` if it trades, else the first trading day after it."""
        return d if self.is_trading_day(d) else self.next_trading_day(d)

    def sessions_in(self, start: date, end: date) -> tuple[date, ...]:
        """Trading days in [start, end], provisional weekdays included."""
        days = (start + timedelta(days=i) for i in range((end - start).days + 1))
        return tuple(day for day in days if self.is_trading_day(day))

    # --- terms ---------------------------------------------------------------------------

    def maturity_date(self, start: date, months: int) -> date:
        """End of a term of ``months`` from ``start``, rolled back to a trading day.

        Rolling back, never forward, keeps the term within ``months`` (CON-1).
        """
        if months < 1:
            raise ValueError(f"a term is at least one month, got {months}")
        return self.on_or_before(add_months(start, months))

    def maturity_is_provisional(self, start: date, months: int) -> bool:
        """True when ``maturity_date(start, months)`` relied on provisional days."""
        return self.span_is_provisional(start, add_months(start, months))

    # --- value semantics -----------------------------------------------------------------

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, TradingCalendar):
            return NotImplemented
        return self._ranges == other._ranges and self._sessions == other._sessions

    def __hash__(self) -> int:
        return hash((self._ranges, self._sessions))

    def __repr__(self) -> str:
        ranges = ", ".join(f"{a}..{b}" for a, b in self.loaded_ranges)
        return f"TradingCalendar({len(self._sessions)} sessions loaded for {ranges})"
