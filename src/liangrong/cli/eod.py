"""``liangrong eod run DATE`` and ``liangrong eod status DATE``: the end of day as resumable
steps (a progress bar per step on stderr), and which of a date's steps are recorded;
``liangrong eod posting`` (``cli/charge_posting.py``): where it books the charges;
``liangrong eod post-pending DATE``: every contract's pending charges posted to it at the
close of DATE (``eod/post_pending.py``).

A run skips the steps already recorded for the date, so after a crash the same command
continues where it stopped.  Exit status 1 when the date is refused or a step fails (its
reason on stderr; the steps before it stay recorded).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TaskID, TextColumn, TimeElapsedColumn
from rich.table import Table

from liangrong.cli.charge_posting import posting_app
from liangrong.cli.simulate import parse_date
from liangrong.cli.store_option import open_store, store_option
from liangrong.domain.exchange_report import ReportRefused
from liangrong.domain.rejections import Rejection
from liangrong.eod.post_pending import PostPendingRefused, post_pending
from liangrong.eod.runner import EodRefused, RunReport, run, status
from liangrong.eod.runner import Progress as StepProgress
from liangrong.eod.settings import DEFAULT_BATCH, DEFAULT_REPORTS_DIR, EodSettings, opening_accrual
from liangrong.eod.steps import STEPS
from liangrong.sim.reference_day import NoReferenceData

eod_app = typer.Typer(help="The end of day (日终) as resumable steps.", no_args_is_help=True)
eod_app.add_typer(posting_app, name="posting")
ReportsOption = Annotated[
    Path, typer.Option("--reports", help="Folder of the report files (one sub-folder a day).")
]


def register(app: typer.Typer) -> None:
    app.add_typer(eod_app, name="eod")


@eod_app.command("run")
def run_command(
    day: Annotated[str, typer.Argument(help="Trading day, YYYY-MM-DD.")],
    reports: ReportsOption = DEFAULT_REPORTS_DIR,
    batch: Annotated[
        int, typer.Option("--batch", min=1, max=10_000, help="Ledger transactions per commit.")
    ] = DEFAULT_BATCH,
    store: str = store_option(),
) -> None:
    """Run the day's steps not yet recorded, in order; print each step's digest."""
    engine = open_store(store)
    settings = EodSettings(
        reports, batch_transactions=batch, accrued_through=opening_accrual(engine)
    )
    err = Console(stderr=True)
    try:
        report = _run_with_progress(engine, parse_date(day), settings, err)
    except (EodRefused, NoReferenceData, ReportRefused, LookupError) as exc:
        err.print(f"[red]end of day stopped:[/red] {exc}")
        raise typer.Exit(1) from None
    _print_report(Console(), report)


def step_bars(err: Console) -> Progress:
    """Bars on stderr, one a task: its title, count and time."""
    return Progress(
        TextColumn("{task.description:<34}"),
        BarColumn(),
        TextColumn("{task.completed:,}/{task.total:,}"),
        TimeElapsedColumn(),
        console=err,
    )


@contextmanager
def eod_progress(err: Console) -> Iterator[StepProgress]:
    """A bar for each end-of-day step as it reports progress."""
    titles = {step.name: step.title for step in STEPS}
    with step_bars(err) as bar:
        tasks: dict[str, TaskID] = {}

        def progress(step: str, done: int, total: int) -> None:
            if step not in tasks:
                tasks[step] = bar.add_task(titles[step], total=max(total, 1))
            bar.update(tasks[step], completed=done, total=max(total, 1))

        yield progress


def _run_with_progress(
    engine: object, day: object, settings: EodSettings, err: Console
) -> RunReport:
    with eod_progress(err) as progress:
        return run(engine, day, settings, progress)  # type: ignore[arg-type]


def _print_report(console: Console, report: RunReport) -> None:
    table = Table("step", "run", "digest", title=f"End of day {report.trading_date}")
    for step in STEPS:
        record = report.records.get(step.name)
        ran = "now" if step.name in report.ran else "before"
        table.add_row(step.name, ran, record.digest if record else "")
    console.print(table)
    differences = report.records["reconcile"].summary["differences"] if report.complete else {}
    found = {check: n for check, n in differences.items() if n}
    if found:
        console.print(f"[yellow]reconciliation differences:[/yellow] {found}")


@eod_app.command("post-pending")
def post_pending_command(
    day: Annotated[str, typer.Argument(help="The latest day whose end of day is complete.")],
    batch: Annotated[
        int, typer.Option("--batch", min=1, max=10_000, help="Ledger transactions per commit.")
    ] = DEFAULT_BATCH,
    store: str = store_option(),
) -> None:
    """Post every contract's pending charges (charges subledger) to its own charges
    account, dated DATE; a rerun completes an interrupted run and posts nothing twice."""
    on = parse_date(day)
    err = Console(stderr=True)
    try:
        with step_bars(err) as bar:
            task = bar.add_task("post the pending charges", total=1)

            def progress(done: int, total: int) -> None:
                bar.update(task, completed=done, total=max(total, 1))

            posted = post_pending(open_store(store), on, batch, progress)
    except (PostPendingRefused, Rejection) as exc:
        err.print(f"[red]refused:[/red] {exc}")
        raise typer.Exit(1) from None
    kinds = ", ".join(f"{kind} {fen:,}" for kind, fen in posted.fen_by_kind.items())
    typer.echo(
        f"{posted.fen:,} fen pending ({kinds or 'none'}) of {posted.contracts:,} contracts "
        f"({posted.clients:,} clients) posted at the close of {on.isoformat()} "
        f"in {posted.transactions:,} transactions ({posted.replayed:,} posted before)"
    )


@eod_app.command("status")
def status_command(
    day: Annotated[str, typer.Argument(help="Trading day, YYYY-MM-DD.")],
    store: str = store_option(),
) -> None:
    """Which of the day's steps are recorded, when, and their digests."""
    steps = status(open_store(store), parse_date(day))
    table = Table("#", "step", "what", "completed at", "digest", title=f"End of day {day}")
    for s in steps:
        record = s.record
        table.add_row(
            str(s.position + 1),
            s.name,
            s.title,
            record.completed_at if record else "pending",
            record.digest[:16] if record else "",
        )
    console = Console()
    console.print(table)
    done = sum(1 for s in steps if s.done)
    console.print(f"{done}/{len(steps)} steps recorded")


if __name__ == "__main__":
    eod_app()
