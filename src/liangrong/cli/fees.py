"""``liangrong fees schedule DATE [--client ID] [--out DIR] [--pdf/--no-pdf]``: the fee schedule
in force on a date (CON-5, REP-6), with this version's changes and the announced ones, as
``fee_schedule_DATE[_CLIENT].csv`` (UTF-8), ``.html`` and ``.pdf`` (bilingual).

Sources: the store's rule book (the firm's base rates, the client's agreement with
``--client``), the end of day's charging policy (``EodSettings().policy``: the management
fee rate and charging choices the accrual uses) and the dated trading fees
(``sim.fee_seed``).  Files are written atomically; the same date and store rewrite the same
bytes.  Exit 1 when the store has no such credit account, no rate is in force on the date, or
(PDF) no font for Chinese is installed: the message names the package.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Annotated

import typer
from sqlalchemy import Engine

from liangrong.cli.simulate import parse_date
from liangrong.cli.store_option import open_store, store_option
from liangrong.domain.fee_schedule import PublishedSchedule, Sources, schedule_on
from liangrong.eod.files import csv_bytes, write_atomic
from liangrong.eod.settings import EodSettings
from liangrong.reports.fee_schedule import (
    CSV_HEADER,
    file_stem,
    schedule_html,
    schedule_pdf_bytes,
    schedule_rows,
)
from liangrong.reports.statement_render import (
    PREFERRED_FAMILY,
    NoCjkFont,
    PdfFont,
    find_cjk_font,
)
from liangrong.sim.fee_seed import fee_history
from liangrong.sim.statement_batch import credit_clients
from liangrong.store.rule_versions import load_rule_book

fees_app = typer.Typer(help="The published fee schedule (CON-5, REP-6).", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    app.add_typer(fees_app, name="fees")


def schedule_sources(engine: Engine, settings: EodSettings | None = None) -> Sources:
    """What the schedule is read from: the stored rule book, the end of day's charging policy,
    the dated trading fees."""
    policy = (settings or EodSettings()).policy
    return Sources(load_rule_book(engine), policy.charges, fee_history())


def schedule_files(schedule: PublishedSchedule, font: PdfFont | None) -> dict[str, bytes]:
    """File name -> bytes: the CSV and the HTML page; the PDF too when ``font`` is given
    (the page then names that font's family, else the preferred one)."""
    stem = file_stem(schedule.on, schedule.client_id)
    family = font.family if font is not None else PREFERRED_FAMILY
    files = {
        f"{stem}.csv": csv_bytes(CSV_HEADER, schedule_rows(schedule)),
        f"{stem}.html": schedule_html(schedule, family).encode("utf-8"),
    }
    if font is not None:
        files[f"{stem}.pdf"] = schedule_pdf_bytes(schedule, font)
    return files


def _fail(message: str) -> typer.Exit:
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(1)


def _read(store: str, on: date, client: str | None) -> PublishedSchedule:
    engine = open_store(store)
    if client is not None and client not in set(credit_clients(engine)):
        raise _fail(f"no credit account of {client} in this store")
    schedule = schedule_on(schedule_sources(engine), on, client)
    engine.dispose()
    if not schedule.lines:
        raise _fail(f"no fee schedule is in force on {on.isoformat()}")
    return schedule


@fees_app.command("schedule")
def schedule(
    on: Annotated[
        str, typer.Argument(metavar="DATE", help="The day the schedule is in force, YYYY-MM-DD.")
    ],
    client: Annotated[
        str | None, typer.Option("--client", help="A client's schedule: with its agreed rates.")
    ] = None,
    out: Annotated[Path, typer.Option("--out", help="Folder to write the files to.")] = Path("."),
    pdf: Annotated[bool, typer.Option("--pdf/--no-pdf", help="Also render the PDF.")] = True,
    store: str = store_option(),
) -> None:
    """The rates and charges in force on DATE, their effective dates and the changes."""
    schedule = _read(store, parse_date(on), client)
    try:
        files = schedule_files(schedule, find_cjk_font() if pdf else None)
    except NoCjkFont as exc:
        raise _fail(str(exc)) from None
    for name, data in files.items():
        path = write_atomic(out / name, data)
        typer.echo(f"wrote {path} ({len(data):,} bytes)")
    if schedule.announced:
        first = schedule.announced[0].effective.isoformat()
        typer.echo(f"{len(schedule.announced)} announced change(s), the first on {first}")
