"""``liangrong simulate``: a seeded session of client orders on the demo book.

It loads the demo reference data for the day (as ``liangrong demo`` does), generates the
book of N clients (or reuses the store's, when it is the same seed and size), then runs M
simulated minutes of 3-second snapshots: orders through the book's checks, accepted ones to
the simulated exchange, fills back into the ledger.  stdout gets the summary and the
journal's SHA-256, which are the same for two runs with the same seed, size and date on fresh
stores; stderr gets the progress bar and the timings (which depend on the machine).
"""

from __future__ import annotations

from collections import Counter
from datetime import date
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TaskID, TextColumn, TimeElapsedColumn
from rich.table import Column, Table
from sqlalchemy import Engine

from liangrong.cli.store_option import open_store, store_option
from liangrong.domain.margin import RatioStatus
from liangrong.domain.order_codes import OrderCode
from liangrong.sim.book_generator import BookMismatch
from liangrong.sim.prices import SNAPSHOT_SECONDS
from liangrong.sim.reference_day import NoReferenceData
from liangrong.sim.session import (
    MAX_MINUTES,
    SessionConfig,
    SessionRefused,
    SessionSummary,
    run_session,
)

DEFAULT_CLIENTS = 2_000
DEFAULT_MINUTES = 5
DEFAULT_SEED = 1


def register(app: typer.Typer) -> None:
    app.command("simulate")(simulate)


def parse_date(text: str | None) -> date:
    if text is None:
        return date.today()
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise typer.BadParameter(f"{text!r} is not a date YYYY-MM-DD") from None


def simulate(
    clients: Annotated[
        int, typer.Option("--clients", min=1, help="Clients in the generated book.")
    ] = DEFAULT_CLIENTS,
    minutes: Annotated[
        int,
        typer.Option("--minutes", min=1, max=MAX_MINUTES, help="Simulated minutes from 9:30."),
    ] = DEFAULT_MINUTES,
    seed: Annotated[int, typer.Option("--seed", help="Seeds the book, prices and orders.")] = (
        DEFAULT_SEED
    ),
    on: Annotated[
        str | None,
        typer.Option(
            "--date", help="Trading day, YYYY-MM-DD (default: the last on or before today)."
        ),
    ] = None,
    store: str = store_option(),
) -> None:
    """Run a seeded trading session of random but plausible client orders through the
    checks and the simulated exchange; print the summary and the journal's digest."""
    config = SessionConfig(clients, minutes, seed, parse_date(on))
    summary = run_with_progress(open_store(store), config, Console(stderr=True))
    assert summary is not None  # a refusal exited
    print_session(Console(), summary)


def run_with_progress(
    engine: Engine, config: SessionConfig, err: Console, *, refusal_exits: bool = True
) -> SessionSummary | None:
    """Run the session with a progress bar on ``err``.  A refusal (the day already ran on
    this store, another book in it) exits 1 with the reason, or, when ``refusal_exits`` is
    False, is said on ``err`` and returns None."""
    with Progress(
        TextColumn("{task.description:<8}"),
        BarColumn(),
        TextColumn("{task.completed:,}/{task.total:,}"),
        TimeElapsedColumn(),
        console=err,
        transient=False,
    ) as bar:
        tasks: dict[str, TaskID] = {}

        def progress(phase: str, done: int, total: int) -> None:
            if phase not in tasks:
                tasks[phase] = bar.add_task(phase, total=total)
            bar.update(tasks[phase], completed=done)

        try:
            summary = run_session(engine, config, progress)
        except (SessionRefused, BookMismatch, NoReferenceData) as exc:
            if refusal_exits:
                err.print(f"[red]refused:[/red] {exc}")
                raise typer.Exit(1) from None
            err.print(f"no session: {exc}")
            return None
    timings = ", ".join(f"{name} {seconds:.1f} s" for name, seconds in summary.timings.items())
    err.print(f"timings: {timings}")
    return summary


def _counted(counter: Counter[str]) -> list[tuple[str, int]]:
    return sorted(counter.items(), key=lambda item: (-item[1], item[0]))


def _message(code: str) -> str:
    member = OrderCode.__members__.get(code)
    return member.en if member is not None else code


def _table(title: str, *columns: str) -> Table:
    # As wide as its title, so that the title never wraps.
    return Table(*columns, title=title, title_justify="left", min_width=len(title))


def print_session(console: Console, summary: SessionSummary) -> None:
    """The session's figures: all deterministic for a seed (timings go elsewhere)."""
    c, book = summary.config, summary.book
    first, last = "09:30:03", _clock(summary.snapshots)
    overview = _table(
        f"Session {summary.trading_date}: {c.clients:,} clients, {c.minutes} min, seed {c.seed}",
        "",
        "",
    )
    state = "generated now" if book.posted else f"in the store since {book.marker.trading_date}"
    refused = sum(summary.refused.values())
    done = sum(summary.requests_done.values())
    rows = (
        (
            "book",
            f"{len(book.profiles):,} clients, {book.contracts:,} contracts at generation ({state})",
        ),
        ("snapshots", f"{summary.snapshots:,} ({first} .. {last})"),
        ("orders", f"{summary.orders:,}"),
        ("  accepted by the book", f"{summary.accepted:,}"),
        ("  refused by the book", f"{refused:,}"),
        ("  refused by the exchange", f"{sum(summary.exchange_rejected.values()):,}"),
        ("fills", f"{summary.fills:,} ({summary.filled_orders:,} orders filled in full)"),
        ("cancels", f"{summary.cancel_requests:,} asked, {summary.cancelled:,} done"),
        ("expired at the end", f"{summary.expired:,}"),
        ("non-trade requests", f"{summary.requests:,} ({done:,} done)"),
        ("revaluations", f"{summary.revaluations:,}"),
    )
    for row in rows:
        overview.add_row(*row)
    console.print(overview)
    codes = _table("Refusals by code", "orders", "requests", "reason")
    codes.columns.insert(0, Column("code", no_wrap=True))  # codes are looked up: never cut
    everything = summary.refused + summary.requests_refused + summary.exchange_rejected
    for code, _ in _counted(everything):
        book_or_exchange = summary.refused[code] + summary.exchange_rejected[code]
        orders = f"{book_or_exchange:,}" if book_or_exchange else ""
        requests = f"{summary.requests_refused[code]:,}" if summary.requests_refused[code] else ""
        codes.add_row(code, orders, requests, _message(code))
    console.print(codes)
    kinds = _table("Non-trade requests done", "kind", "count")
    for kind, count in _counted(summary.requests_done):
        kinds.add_row(kind, f"{count:,}")
    console.print(kinds)
    lines = _table("Accounts against their lines at the end", "status", "accounts")
    for status in RatioStatus:  # from safe down to the emergency line
        lines.add_row(status.value, f"{summary.statuses[status.value]:,}")
    console.print(lines)
    print_risk(console, summary)
    journal = summary.journal
    if journal is not None:
        console.print(
            f"journal: {journal.credit_accounts:,} credit accounts, "
            f"{journal.transactions:,} transactions, {journal.postings:,} postings\n"
            f"journal sha256: {journal.sha256}"
        )


TIMELINE_ROWS = 12
BAR_WIDTH = 12


def print_risk(console: Console, summary: SessionSummary) -> None:
    """The risk engine at work: accounts under each line through the session (a bar per
    sampled minute), then the desk's decisions after settlement."""
    timeline = summary.risk_timeline
    if timeline:
        step = max(1, -(-len(timeline) // TIMELINE_ROWS))
        sampled = (
            timeline[::step]
            if timeline[-1] in timeline[::step]
            else [*timeline[::step], timeline[-1]]
        )
        under = [s for s in RatioStatus if s is not RatioStatus.SAFE]
        table = _table("Risk engine: accounts below each line", "time",
                       *(s.value for s in under), "below warning")  # fmt: skip
        worst = max(sum(c[s.value] for s in under[1:]) for _, c in sampled) or 1
        for moment, counts in sampled:
            below = sum(counts[s.value] for s in under[1:])
            bar = "█" * round(BAR_WIDTH * below / worst)
            table.add_row(moment, *(f"{counts[s.value]:,}" for s in under), f"{below:>5,} {bar}")
        console.print(table)
    desk = _table("Margin desk", "", "")
    desk.add_row("status changes (exact, recorded)", f"{summary.status_changes:,}")
    desk.add_row("forced liquidations", f"{summary.liquidations:,}")
    desk.add_row("  forced orders accepted", f"{summary.forced_orders:,}")
    desk.add_row("  recovery cases (shortfall)", f"{summary.recovery_cases:,}")
    for state, count in _counted(summary.calls):
        desk.add_row(f"after settlement: {state}", f"{count:,}")
    console.print(desk)


def _clock(snapshots: int) -> str:
    seconds = int(SNAPSHOT_SECONDS[max(snapshots, 1) - 1])
    return f"{seconds // 3600:02d}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"
