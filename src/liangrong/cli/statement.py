"""Client statements (对账单, ACC-5, REP-6):

- ``liangrong statement CLIENT --from DATE --to DATE [--format pdf|json] [--out PATH]``: one
  client's statement for a period, as a bilingual PDF or canonical JSON (``statement client
  CLIENT …`` is the same command: a first word that names no subcommand is a client id);
- ``liangrong statement batch --from DATE --to DATE [--out DIR] [--pdf] [--workers N]``: every
  credit client's statement of the period (``sim.statement_batch``): JSON always, PDF with
  ``--pdf``, a progress bar, resumable (a rerun writes only what is missing), and a manifest
  (client, file, sha256) once all are written.

The balances are those of the close of ``--to`` (postings dated up to it), valued at that
trading day's closes; the opening figures are the close before ``--from`` (see
``docs/statements.md``).  Files are written atomically; ``--out -`` writes one statement to
standard output.  Exit 1 when the store has no such credit account or no reference data for
the period's end, when the accrual state of a close the period needs was pruned (its pending
charges unknown: ``docs/charges-subledger.md``), or (PDF) no font for Chinese is installed:
the message names the package.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from typer.core import TyperGroup

from liangrong.cli.simulate import parse_date
from liangrong.cli.store_option import open_store, store_option
from liangrong.eod.files import write_atomic
from liangrong.reports.statement_render import (
    NoCjkFont,
    statement_json_bytes,
    statement_pdf_bytes,
)
from liangrong.sim.account_view import UnknownAccount
from liangrong.sim.reference_day import NoReferenceData
from liangrong.sim.statement_batch import BatchJob, run_batch, statement_file_name
from liangrong.sim.statement_source import Progress as ProgressCallback
from liangrong.sim.statement_source import load_statement
from liangrong.store.charges_pending import AccrualStatePruned

STDOUT = "-"
CLIENT_COMMAND = "client"


class _ClientByDefault(TyperGroup):
    """``statement CLIENT …`` runs ``statement client CLIENT …``: the one-client form kept."""

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:  # typer's vendored Context
        if args and not args[0].startswith("-") and args[0] not in self.commands:
            args = [CLIENT_COMMAND, *args]
        return super().parse_args(ctx, args)


statement_app = typer.Typer(
    cls=_ClientByDefault,
    help="Client statements: one client's, or every client's for a period (batch).",
    no_args_is_help=True,
)


class Format(StrEnum):
    PDF = "pdf"
    JSON = "json"


def register(app: typer.Typer) -> None:
    app.add_typer(statement_app, name="statement")


def default_name(client: str, start: str, end: str, fmt: Format) -> Path:
    first, last = parse_date(start), parse_date(end)
    return Path(statement_file_name(client, first, last, fmt.value))


FROM = typer.Option("--from", help="First day of the period, YYYY-MM-DD.")
TO = typer.Option("--to", help="Last day of the period, YYYY-MM-DD.")


def _period(start: str, end: str) -> tuple[date, date]:
    first, last = parse_date(start), parse_date(end)
    if first > last:
        raise typer.BadParameter(f"--from {start} is after --to {end}")
    return first, last


@statement_app.command(CLIENT_COMMAND)
def statement(
    client: Annotated[str, typer.Argument(help="The client id, e.g. C000001.")],
    start: Annotated[str, FROM],
    end: Annotated[str, TO],
    fmt: Annotated[Format, typer.Option("--format", help="pdf or json.")] = Format.PDF,
    out: Annotated[
        str | None,
        typer.Option(
            "--out", help="File to write (default statement_CLIENT_FROM_TO.FORMAT); - for stdout."
        ),
    ] = None,
    store: str = store_option(),
) -> None:
    """A client's statement for a period: limits, assets, debt, ratio, contracts, trades."""
    first, last = _period(start, end)
    try:
        loaded = load_statement(open_store(store), client, first, last)
        data = statement_json_bytes(loaded) if fmt is Format.JSON else statement_pdf_bytes(loaded)
    except (UnknownAccount, NoReferenceData, AccrualStatePruned, NoCjkFont) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from None
    if out == STDOUT:
        sys.stdout.buffer.write(data)
        sys.stdout.buffer.flush()
        return
    path = write_atomic(Path(out) if out else default_name(client, start, end, fmt), data)
    typer.echo(f"wrote {path} ({len(data):,} bytes)")


@contextmanager
def _bar() -> Iterator[ProgressCallback]:
    """A rich progress bar on standard error, as a ``(done, total)`` callback."""
    with Progress(
        TextColumn("statements"),
        BarColumn(),
        TextColumn("{task.completed:,}/{task.total:,}"),
        TimeElapsedColumn(),
        console=Console(stderr=True),
    ) as bar:
        task = bar.add_task("statements", total=0)

        def update(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        yield update


def default_workers(pdf: bool) -> int:
    """PDFs are pure CPU (~0.3 s each): one process a core.  JSON alone: one process, since
    each worker plans the generated book's agreements and reads the reference data again,
    about as long as the statements themselves take at 2,000 clients (docs/statements.md)."""
    return (os.cpu_count() or 1) if pdf else 1


@statement_app.command("batch")
def batch(
    start: Annotated[str, FROM],
    end: Annotated[str, TO],
    out: Annotated[
        Path, typer.Option("--out", help="Folder for the statements and the manifest.")
    ] = Path("statements"),
    pdf: Annotated[bool, typer.Option("--pdf", help="Also write each statement's PDF.")] = False,
    workers: Annotated[
        int | None,
        typer.Option(
            "--workers", min=1, help="Processes (default: the CPU count with --pdf, else 1)."
        ),
    ] = None,
    store: str = store_option(),
) -> None:
    """Every credit client's statement for a period; a rerun writes only what is missing."""
    first, last = _period(start, end)
    open_store(store).dispose()  # migrated before the workers read it
    job = BatchJob(store, first, last, out, pdf, workers or default_workers(pdf))
    try:
        with _bar() as progress:
            result = run_batch(job, progress)
    except (NoReferenceData, AccrualStatePruned, NoCjkFont) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from None
    typer.echo(
        f"{result.written:,} statements written, {result.skipped:,} already there, "
        f"{result.clients:,} clients; manifest {result.manifest}"
    )
