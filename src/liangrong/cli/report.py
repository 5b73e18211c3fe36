"""``liangrong report submit DATE`` and ``liangrong report submissions DATE``: a member's
daily files handed to the exchange's intake (reviewed, then recorded on time, late or
overdue), and what the exchange holds for a date with the one of record marked.

Exit status 1 when a submission is refused (its code and every reason on stderr; nothing
recorded).
"""

from __future__ import annotations

import getpass
from datetime import UTC, datetime
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from liangrong.cli.eod import ReportsOption
from liangrong.cli.simulate import parse_date
from liangrong.cli.store_option import open_store, store_option
from liangrong.domain.exchange_report import SubmittedReport
from liangrong.domain.securities import Exchange
from liangrong.eod.files import day_dir
from liangrong.eod.settings import DEFAULT_REPORTS_DIR
from liangrong.market.intake import SubmissionRefused, receive
from liangrong.reports.exchange_files import submission_file
from liangrong.store.report_submissions import load_submissions, of_record_ids

report_app = typer.Typer(
    help="Submitting the day's files to the exchanges (REP-1, REP-2).", no_args_is_help=True
)


def register(app: typer.Typer) -> None:
    app.add_typer(report_app, name="report")


def _instant(text: str | None) -> datetime:
    if text is None:
        return datetime.now(UTC)
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise typer.BadParameter(f"{text!r} is not an ISO 8601 time") from None
    if moment.utcoffset() is None:
        raise typer.BadParameter(f"{text!r} has no UTC offset (e.g. 2026-11-20T21:30+08:00)")
    return moment


@report_app.command("submit")
def submit_command(
    day: Annotated[str, typer.Argument(help="Trading day, YYYY-MM-DD.")],
    exchange: Annotated[Exchange, typer.Option("--exchange", help="The exchange.")],
    kind: Annotated[
        SubmittedReport, typer.Option("--report", help="The daily report or the default records.")
    ] = SubmittedReport.DAILY,
    at: Annotated[
        str | None, typer.Option("--at", help="When it is submitted, ISO 8601 with offset; now.")
    ] = None,
    user: Annotated[str | None, typer.Option("--user", help="Who submits; the login.")] = None,
    reports: ReportsOption = DEFAULT_REPORTS_DIR,
    store: str = store_option(),
) -> None:
    """Submit the day's file to an exchange's intake; print how it was received."""
    on, moment = parse_date(day), _instant(at)
    path = submission_file(day_dir(reports, on), on, kind, exchange.value)
    err = Console(stderr=True)
    if not path.is_file():
        err.print(f"[red]no file to submit:[/red] {path} (run the end of day first)")
        raise typer.Exit(1)
    engine = open_store(store)
    try:
        received = receive(
            engine, kind, exchange.value, on, path.name, path.read_bytes(), moment,
            user or getpass.getuser(), clock=lambda: datetime.now(UTC),
        )  # fmt: skip
    except SubmissionRefused as exc:
        err.print(f"[red]refused[/red] {exc.code.name}: {exc.code.value}")
        for reason in exc.reasons:
            err.print(f"  {reason}")
        raise typer.Exit(1) from None
    s = received.submission
    note = "" if received.new else " (recorded before)"
    console = Console()
    console.print(f"{s.submission_id}: {received.status.value}{note}")
    console.print(f"file {s.file_name} sha256 {s.digest}")
    console.print("of record" if received.of_record else "not of record (an earlier one counts)")
    if not s.identities_checked and kind is SubmittedReport.DAILY:
        console.print("identities not checked: no report of the previous trading day on file")


@report_app.command("submissions")
def submissions_command(
    day: Annotated[str, typer.Argument(help="Trading day, YYYY-MM-DD.")],
    store: str = store_option(),
) -> None:
    """What the exchanges hold for a date; * marks each report's one of record."""
    on = parse_date(day)
    found = load_submissions(open_store(store), on)
    table = Table("", "report", "exchange", "submitted at", "status", "by", "sha256",
                  title=f"Submissions of {day}")  # fmt: skip
    chosen = of_record_ids(found)
    for s in found:
        d = s.decision
        table.add_row(
            "*" if s.submission_id in chosen else "", s.report.value, s.exchange,
            d.submitted_at.isoformat(), d.status.value, s.submitted_by, s.digest[:16],
        )  # fmt: skip
    Console().print(table)
