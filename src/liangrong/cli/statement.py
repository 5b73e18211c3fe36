"""``liangrong statement CLIENT --from DATE --to DATE [--format pdf|json] [--out PATH]``: one
client's statement (对账单, ACC-5, REP-6) for a period, as a bilingual PDF or canonical JSON.

The balances are those of the close of ``--to`` (postings dated up to it), valued at that
trading day's closes; the opening figures are the close before ``--from`` (see
``docs/statements.md``).  The file is written atomically; ``--out -`` writes to standard
output.  Exit 1 when the store has no such credit account or no reference data for the
period's end, or (PDF) no font for Chinese is installed: the message names the package.
"""

from __future__ import annotations

import sys
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

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
from liangrong.sim.statement_source import load_statement

STDOUT = "-"


class Format(StrEnum):
    PDF = "pdf"
    JSON = "json"


def register(app: typer.Typer) -> None:
    app.command("statement")(statement)


def default_name(client: str, start: str, end: str, fmt: Format) -> Path:
    return Path(f"statement_{client}_{start}_{end}.{fmt.value}")


def statement(
    client: Annotated[str, typer.Argument(help="The client id, e.g. C000001.")],
    start: Annotated[str, typer.Option("--from", help="First day of the period, YYYY-MM-DD.")],
    end: Annotated[str, typer.Option("--to", help="Last day of the period, YYYY-MM-DD.")],
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
    first, last = parse_date(start), parse_date(end)
    if first > last:
        raise typer.BadParameter(f"--from {start} is after --to {end}")
    try:
        loaded = load_statement(open_store(store), client, first, last)
        data = statement_json_bytes(loaded) if fmt is Format.JSON else statement_pdf_bytes(loaded)
    except (UnknownAccount, NoReferenceData, NoCjkFont) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from None
    if out == STDOUT:
        sys.stdout.buffer.write(data)
        sys.stdout.buffer.flush()
        return
    path = write_atomic(Path(out) if out else default_name(client, start, end, fmt), data)
    typer.echo(f"wrote {path} ({len(data):,} bytes)")
