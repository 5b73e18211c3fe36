"""The trading calendar (REF-4) and its loading: holidays, T+n, terms, provisional days."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from liangrong.domain.calendar import TradingCalendar, add_months
from liangrong.sim.calendar_data import (
    CalendarFileError,
    extend_calendar,
    load_calendar,
    load_shipped_calendar,
    parse_sessions,
    read_session_file,
)

CAL = load_shipped_calendar()
D = date


def _days(first: date, last: date) -> list[date]:
    return [first + timedelta(days=i) for i in range((last - first).days + 1)]


def test_shipped_horizon_and_size() -> None:
    assert (CAL.horizon_start, CAL.horizon_end) == (D(2024, 1, 1), D(2026, 12, 31))
    assert len(CAL.sessions) == 727
    assert not CAL.is_provisional(D(2026, 12, 31))
    assert CAL.is_provisional(D(2027, 1, 1)) and CAL.is_provisional(D(2023, 12, 29))


@pytest.mark.parametrize(
    ("first", "last"),
    [
        (D(2024, 2, 9), D(2024, 2, 17)),  # Spring Festival 2024
        (D(2025, 1, 28), D(2025, 2, 4)),  # Spring Festival 2025
        (D(2025, 10, 1), D(2025, 10, 8)),  # National Day and Mid-Autumn 2025
        (D(2026, 2, 14), D(2026, 2, 23)),  # Spring Festival 2026
        (D(2026, 10, 1), D(2026, 10, 7)),  # National Day 2026
    ],
)
def test_known_holidays_are_closed(first: date, last: date) -> None:
    assert not any(CAL.is_trading_day(d) for d in _days(first, last))


def test_known_sessions_are_open() -> None:
    for d in (D(2024, 2, 8), D(2024, 2, 19), D(2025, 9, 30), D(2025, 10, 9), D(2026, 2, 13),
              D(2026, 2, 24), D(2024, 12, 31), D(2026, 12, 31)):
        assert CAL.is_trading_day(d), d


def test_next_and_previous_cross_holidays() -> None:
    assert CAL.next_trading_day(D(2025, 9, 30)) == D(2025, 10, 9)
    assert CAL.previous_trading_day(D(2025, 10, 9)) == D(2025, 9, 30)
    assert CAL.next_trading_day(D(2026, 2, 13)) == D(2026, 2, 24)
    assert CAL.next_trading_day(D(2025, 10, 3)) == D(2025, 10, 9)  # from inside a holiday
    assert CAL.previous_trading_day(D(2024, 1, 2)) == D(2023, 12, 29)  # provisional Friday


def test_t_plus_n() -> None:
    assert CAL.add_trading_days(D(2025, 9, 29), 2) == D(2025, 10, 9)
    assert CAL.add_trading_days(D(2025, 10, 9), -2) == D(2025, 9, 29)
    assert CAL.add_trading_days(D(2025, 9, 30), 0) == D(2025, 9, 30)
    assert CAL.trading_days_between(D(2025, 9, 29), D(2025, 10, 9)) == 2
    assert CAL.trading_days_between(D(2025, 10, 9), D(2025, 9, 29)) == -2
    assert CAL.trading_days_between(D(2025, 1, 1), D(2025, 12, 31)) == 243


@pytest.mark.parametrize(
    ("start", "months", "expected"),
    [
        (D(2025, 8, 31), 6, D(2026, 2, 27)),  # clipped to 2026-02-28, a Saturday
        (D(2025, 8, 29), 6, D(2026, 2, 27)),  # 2026-02-28 clipped day is the same
        (D(2023, 8, 31), 6, D(2024, 2, 29)),  # leap year keeps the 29th
        (D(2025, 8, 18), 6, D(2026, 2, 13)),  # 2026-02-18 is Spring Festival: roll back
        (D(2025, 4, 1), 6, D(2025, 9, 30)),  # 2025-10-01 is National Day
        (D(2025, 1, 15), 6, D(2025, 7, 15)),  # an ordinary trading day stays
        (D(2025, 3, 31), 1, D(2025, 4, 30)),
    ],
)
def test_maturity_date(start: date, months: int, expected: date) -> None:
    assert CAL.maturity_date(start, months) == expected


def test_maturity_rejects_non_positive_months() -> None:
    with pytest.raises(ValueError):
        CAL.maturity_date(D(2025, 1, 15), 0)


def test_past_the_horizon_weekdays_trade_provisionally() -> None:
    assert CAL.next_trading_day(D(2026, 12, 31)) == D(2027, 1, 1)  # really New Year: unknown yet
    assert CAL.next_trading_day(D(2027, 1, 1)) == D(2027, 1, 4)  # weekend skipped
    assert not CAL.is_trading_day(D(2027, 1, 2))
    assert CAL.add_trading_days(D(2026, 12, 30), 5) == D(2027, 1, 6)
    assert CAL.span_is_provisional(D(2026, 12, 30), D(2027, 1, 6))
    assert not CAL.span_is_provisional(D(2024, 1, 1), D(2026, 12, 31))
    assert CAL.maturity_date(D(2026, 8, 31), 6) == D(2027, 2, 26)
    assert CAL.maturity_is_provisional(D(2026, 8, 31), 6)
    assert not CAL.maturity_is_provisional(D(2025, 8, 31), 6)


def test_merged_with_extends_and_newer_data_win() -> None:
    # A made-up 2027 notice: New Year on Friday 2027-01-01, plus a bridge day 2027-01-04.
    year = [d for d in _days(D(2027, 1, 1), D(2027, 12, 31)) if d.weekday() < 5]
    sessions = [d for d in year if d not in (D(2027, 1, 1), D(2027, 1, 4))]
    merged = CAL.merged_with(sessions, D(2027, 1, 1), D(2027, 12, 31))
    assert merged.horizon_end == D(2027, 12, 31)
    assert merged.next_trading_day(D(2026, 12, 31)) == D(2027, 1, 5)
    assert not merged.span_is_provisional(D(2024, 1, 1), D(2027, 12, 31))
    # A correction for one week of 2026 replaces only that week.
    fixed = merged.merged_with([D(2026, 10, 8)], D(2026, 10, 5), D(2026, 10, 11))
    assert fixed.is_trading_day(D(2026, 10, 8)) and not fixed.is_trading_day(D(2026, 10, 9))
    assert fixed.is_trading_day(D(2026, 10, 12)) and fixed.is_trading_day(D(2026, 9, 30))
    assert fixed.loaded_ranges == ((D(2024, 1, 1), D(2027, 12, 31)),)


def test_gap_between_loaded_ranges_is_provisional() -> None:
    later = CAL.merged_with([D(2028, 1, 3)], D(2028, 1, 1), D(2028, 1, 31))
    assert later.is_provisional(D(2027, 6, 1)) and not later.is_provisional(D(2028, 1, 5))
    assert later.loaded_ranges[-1] == (D(2028, 1, 1), D(2028, 1, 31))
    assert later.next_trading_day(D(2028, 1, 3)) == D(2028, 2, 1)  # rest of January closed


def test_constructor_refuses_sessions_outside_horizon() -> None:
    with pytest.raises(ValueError, match="outside"):
        TradingCalendar([D(2027, 1, 4)], D(2026, 1, 1), D(2026, 12, 31))
    with pytest.raises(ValueError):
        TradingCalendar([], D(2026, 1, 2), D(2026, 1, 1))


def test_year_file_loads_and_extends(tmp_path: Path) -> None:
    path = tmp_path / "xshg_2027.csv"
    path.write_text("session\n2027-01-04\n2027-01-05\n", encoding="utf-8")
    data = read_session_file(path)
    assert (data.horizon_start, data.horizon_end) == (D(2027, 1, 1), D(2027, 12, 31))
    extended = extend_calendar(CAL, path)
    assert extended.next_trading_day(D(2027, 1, 5)) == D(2028, 1, 3)
    assert load_calendar(path) == extended
    explicit = extend_calendar(CAL, path, D(2027, 1, 1), D(2027, 1, 31))
    assert explicit.next_trading_day(D(2027, 1, 5)) == D(2027, 2, 1)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("session\n2027-01-04\n2027-13-01\n", "line 3: '2027-13-01' is not a date"),
        ("date\n2027-01-04\n", "line 1: expected header"),
        ("session\n2027-01-05\n2027-01-04\n", "line 3: 2027-01-04 does not follow"),
        ("session\n2027-01-04\n2027-01-04\n", "line 3"),
        ("", "line 1: expected header"),
    ],
)
def test_malformed_file_names_the_line(text: str, message: str) -> None:
    with pytest.raises(CalendarFileError, match=message):
        parse_sessions(text, "x.csv")


def test_explicit_horizon_must_contain_sessions(tmp_path: Path) -> None:
    path = tmp_path / "bad.csv"
    path.write_text("session\n2027-03-01\n", encoding="utf-8")
    with pytest.raises(CalendarFileError, match="outside"):
        read_session_file(path, D(2027, 1, 1), D(2027, 1, 31))


def test_add_months_clips_to_month_end() -> None:
    assert add_months(D(2025, 1, 31), 1) == D(2025, 2, 28)
    assert add_months(D(2025, 12, 31), 2) == D(2026, 2, 28)
    assert add_months(D(2025, 5, 15), -6) == D(2024, 11, 15)


# --- properties ----------------------------------------------------------------------------

days = st.dates(min_value=D(2023, 6, 1), max_value=D(2027, 12, 31))


@given(days, st.integers(min_value=1, max_value=12))
def test_maturity_within_term_and_a_trading_day(start: date, months: int) -> None:
    maturity = CAL.maturity_date(start, months)
    assert CAL.is_trading_day(maturity)
    assert start < maturity <= add_months(start, months)
    # No trading day is skipped between the maturity and the full term.
    assert CAL.trading_days_between(maturity, add_months(start, months)) == 0


@given(days, st.integers(min_value=-300, max_value=300))
def test_t_plus_n_round_trip(start: date, n: int) -> None:
    d = CAL.on_or_after(start)
    there = CAL.add_trading_days(d, n)
    assert CAL.is_trading_day(there)
    assert CAL.add_trading_days(there, -n) == d
    assert CAL.trading_days_between(d, there) == n


@given(days)
def test_next_and_previous_are_adjacent(d: date) -> None:
    after, before = CAL.next_trading_day(d), CAL.previous_trading_day(d)
    assert before < d < after
    assert not any(CAL.is_trading_day(x) for x in _days(d + timedelta(1), after - timedelta(1)))
    assert not any(CAL.is_trading_day(x) for x in _days(before + timedelta(1), d - timedelta(1)))


@given(days, days)
def test_counting_matches_day_by_day(a: date, b: date) -> None:
    first, last = sorted((a, b))
    if (last - first).days > 400:
        last = first + timedelta(days=400)
    expected = sum(CAL.is_trading_day(x) for x in _days(first + timedelta(1), last))
    assert CAL.trading_days_between(first, last) == expected
    assert CAL.trading_days_between(last, first) == -expected
    assert len(CAL.sessions_in(first + timedelta(1), last)) == expected
