"""``liangrong calendar ...``: load a later year's trading days, show what the store holds.

A file has the shipped format (header ``session``, one ISO date a line); its horizon is the
whole calendar years it covers unless ``--from``/``--to`` say otherwise.  Loading records
the file as a calendar load, which wins over earlier loads inside its horizon; days after
the last loaded horizon stay provisional (weekdays).  A malformed file exits with code 2.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from liangrong.cli.store_option import open_store, store_option
from liangrong.sim.calendar_data import CalendarFileError, read_session_file
from liangrong.sim.demo_loader import load_shipped_calendar_into
from liangrong.store.calendar_loads import (
    CalendarNotLoaded,
    calendar_loads,
    load_calendar,
    save_calendar_load,
)

EXIT_MALFORMED = 2

calendar_app = typer.Typer(help="The trading calendar (REF-4).", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    app.add_typer(calendar_app, name="calendar")


def _now() -> datetime:
    return datetime.now(UTC)


def _date(text: str | None, option: str) -> date | None:
    if text is None:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise typer.BadParameter(f"{text!r} is not a date YYYY-MM-DD", param_hint=option) from None


@calendar_app.command("load")
def load_command(
    file: Annotated[Path, typer.Argument(help="Sessions file: header 'session', ISO dates.")],
    horizon_from: Annotated[
        str | None, typer.Option("--from", help="First day the file covers (YYYY-MM-DD).")
    ] = None,
    horizon_to: Annotated[
        str | None, typer.Option("--to", help="Last day the file covers (YYYY-MM-DD).")
    ] = None,
    store: str = store_option(),
) -> None:
    """Load a calendar file (e.g. next year's, from the exchanges' holiday notice)."""
    start, end = _date(horizon_from, "--from"), _date(horizon_to, "--to")
    try:
        data = read_session_file(file, start, end)
    except (CalendarFileError, OSError, UnicodeDecodeError) as exc:
        typer.echo(f"error: {file}: {exc}", err=True)
        raise typer.Exit(EXIT_MALFORMED) from None
    engine = open_store(store)
    # The shipped calendar is the base every later file is merged into.
    load_shipped_calendar_into(engine, clock=_now)
    load = save_calendar_load(
        engine,
        data.sessions,
        data.horizon_start,
        data.horizon_end,
        str(file.resolve()),
        clock=_now,
    )
    calendar = load_calendar(engine)
    span = f"{data.horizon_start}..{data.horizon_end}"
    if load is None:
        typer.echo(f"nothing new: {file} ({span}) is already what the calendar holds")
    else:
        typer.echo(f"loaded {file}: {span}, {load.session_count} sessions (load #{load.load_id})")
    ranges = ", ".join(f"{a}..{b}" for a, b in calendar.loaded_ranges)
    typer.echo(f"calendar loaded for {ranges}; days after {calendar.horizon_end} are provisional")


@calendar_app.command("show")
def show_command(
    year: Annotated[
        int | None, typer.Option("--year", help="Also list that year's trading days by month.")
    ] = None,
    store: str = store_option(),
) -> None:
    """Show the calendar loads and, with --year, that year's sessions and closed weekdays."""
    engine = open_store(store)
    try:
        calendar = load_calendar(engine)
    except CalendarNotLoaded:
        typer.echo("no calendar loaded: run `liangrong demo` or `liangrong calendar load FILE`")
        raise typer.Exit(1) from None
    console = Console()
    loads = Table("load", "source", "range", "sessions", "loaded at", title="Calendar loads")
    for x in calendar_loads(engine):
        span = f"{x.horizon_start}..{x.horizon_end}"
        loads.add_row(str(x.load_id), escape(x.source), span, str(x.session_count), x.loaded_at)
    console.print(loads)
    ranges = ", ".join(f"{a}..{b}" for a, b in calendar.loaded_ranges)
    console.print(f"loaded: {ranges}; days after {calendar.horizon_end} are provisional")
    if year is None:
        return
    first, last = date(year, 1, 1), date(year, 12, 31)
    provisional = calendar.span_is_provisional(first, last)
    months = Table(
        "month", "trading days", "closed weekdays", title=f"{year}" + " (provisional)" * provisional
    )
    for month in range(1, 13):
        start = date(year, month, 1)
        end = date(year + month // 12, month % 12 + 1, 1) - timedelta(days=1)
        days = calendar.sessions_in(start, end)
        weekdays = [start + timedelta(n) for n in range((end - start).days + 1)]
        closed = [d for d in weekdays if d.weekday() < 5 and not calendar.is_trading_day(d)]
        months.add_row(f"{start:%Y-%m}", str(len(days)), ", ".join(f"{d:%m-%d}" for d in closed))
    console.print(months)
