"""``liangrong demo``: initialise the store, load the demo reference data, summarise a day.

The clock is read here and only here (the date defaults to today's); everything below takes
it as an argument.  The summary goes to stdout and is the same on every run for the same
store and date; the progress bar and what the load recorded go to stderr.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, Progress, TextColumn
from rich.table import Table
from sqlalchemy import Engine

from liangrong.cli.demo_summary import DemoState, Section, build_summary
from liangrong.cli.serve import (
    DEFAULT_PORT,
    SERVE_CLIENTS,
    ClientsOption,
    MinutesOption,
    PaceOption,
    PortOption,
    ReportsOption,
    SeedOption,
    ServeOptions,
    UntilEodOption,
    run_main_job,
    until_eod_default,
)
from liangrong.cli.simulate import DEFAULT_SEED
from liangrong.cli.store_option import open_store, store_option
from liangrong.domain.rule_codes import RuleRefused
from liangrong.eod.settings import DEFAULT_REPORTS_DIR
from liangrong.sim.demo_loader import STEPS, LoadReport, load_demo
from liangrong.sim.session import MAX_MINUTES
from liangrong.store.calendar_loads import calendar_loads, load_calendar
from liangrong.store.list_publications import load_list_store
from liangrong.store.reference import ReferenceConflict, load_prices, load_securities
from liangrong.store.rule_versions import load_rule_book


def register(app: typer.Typer) -> None:
    app.command("demo")(demo)


def _parse_date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise typer.BadParameter(f"{text!r} is not a date YYYY-MM-DD") from None


def demo(
    on: Annotated[
        str | None,
        typer.Option("--date", help="The day to summarise, YYYY-MM-DD (default: today)."),
    ] = None,
    session: Annotated[
        bool,
        typer.Option(
            "--session/--no-session",
            help="Then serve the book and run the day's market and end of day (liangrong serve).",
        ),
    ] = True,
    clients: ClientsOption = SERVE_CLIENTS,
    minutes: MinutesOption = MAX_MINUTES,
    seed: SeedOption = DEFAULT_SEED,
    port: PortOption = DEFAULT_PORT,
    pace: PaceOption = 0.0,
    until_eod: UntilEodOption = None,
    reports: ReportsOption = DEFAULT_REPORTS_DIR,
    store: str = store_option(),
) -> None:
    """Initialise the store, load the demo reference data and print the day's lists and
    rules; then serve the book over HTTP while a seeded market trades the day, show the risk
    engine at work and run the end of day at the close (liangrong serve)."""
    day = _parse_date(on) if on else date.today()
    err = Console(stderr=True)
    engine = open_store(store)
    try:
        report = _load(engine, day, err)
        state = read_state(engine, day)
    except (RuleRefused, ReferenceConflict) as exc:
        err.print(f"[red]refused:[/red] {exc}")
        raise typer.Exit(1) from None
    err.print(_report_text(report, store))
    print_summary(Console(), build_summary(state))
    if session:
        until = until_eod_default(until_eod)
        options = ServeOptions(clients, minutes, seed, port, pace, until, reports)
        # A store that already ran the day says so; the summary above was still the job.
        raise typer.Exit(run_main_job(engine, day, options, refused_status=0))


def _load(engine: Engine, day: date, err: Console) -> LoadReport:
    with Progress(
        TextColumn("loading {task.description:<12}"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total}"),
        console=err,
    ) as progress:
        task = progress.add_task("", total=len(STEPS))
        done: list[str] = []

        def step(name: str) -> None:
            if done:
                progress.advance(task)
            done.append(name)
            progress.update(task, description=name)

        report = load_demo(engine, day, clock=lambda: datetime.now(UTC), step=step)
        progress.update(task, completed=len(STEPS), description="done")
    return report


def read_state(engine: Engine, day: date) -> DemoState:
    """Everything the summary shows, read back from the store."""
    calendar = load_calendar(engine)
    in_force = calendar.on_or_before(day)
    return DemoState(
        on=day,
        master=load_securities(engine),
        calendar=calendar,
        loads=calendar_loads(engine),
        book=load_rule_book(engine),
        lists=load_list_store(engine, calendar.previous_trading_day(in_force), day),
        prices=load_prices(engine, day),
    )


def _report_text(report: LoadReport, store: str) -> str:
    if report.nothing_new:
        return f"store {store}: already loaded, nothing new"
    parts = [
        f"{report.securities} securities",
        f"{report.prices} prices",
        f"{report.calendar_loads} calendar loads",
        f"{report.rule_versions} rule versions",
        f"{report.list_publications} list publications",
    ]
    events = "; ".join(f"{day} {e.symbol} {e.kind.value}" for day, e in report.events)
    return f"store {store}: recorded {', '.join(parts)}" + (
        f"\nseeded list events: {events}" if events else ""
    )


def print_summary(console: Console, sections: tuple[Section, ...]) -> None:
    """Each section as a table; text is escaped, since names and sources are data, not markup."""
    for section in sections:
        title, note = escape(section.title), escape(section.note)
        if not section.rows:  # nothing to tabulate: the title and why
            console.print(f"[italic]{title}[/italic]\n{note}\n")
            continue
        table = Table(
            *(escape(column) for column in section.columns or ("", "")),
            title=title,
            title_justify="left",
            caption=note or None,
            caption_justify="left",
            show_header=bool(section.columns),
        )
        for row in section.rows:
            table.add_row(*(escape(cell) for cell in row))
        console.print(table)
