"""``liangrong eod posting record POSTING --from DATE --source TEXT [--id ID]`` and
``liangrong eod posting show``: where the firm's end of day books the charges, ``daily`` or
``subledger`` (``docs/charges-subledger.md``), as a dated firm parameter.

Recording the same version again changes nothing.  Exit 1, with the reason and nothing
recorded, when the posting is not one of the two, the date is not after the last end of day
that booked charges, or the version id is recorded with another date, posting or source.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from liangrong.cli.simulate import parse_date
from liangrong.cli.store_option import open_store, store_option
from liangrong.domain.interest import ChargePosting
from liangrong.domain.rule_codes import RuleRefused
from liangrong.domain.versions import Version
from liangrong.eod.settings import EodSettings
from liangrong.store.charge_posting import (
    ChargePostingConflict,
    ChargePostingTooLate,
    load_charge_postings,
    record_charge_posting,
)

posting_app = typer.Typer(
    help="Where the end of day books the charges: daily or subledger (dated).",
    no_args_is_help=True,
)
_CHOICES = ", ".join(p.value for p in ChargePosting)


def _now() -> datetime:
    return datetime.now(UTC)


def _fail(message: str) -> typer.Exit:
    Console(stderr=True).print(f"[red]refused:[/red] {message}")
    return typer.Exit(1)


@posting_app.command("record")
def record_command(
    posting: Annotated[str, typer.Argument(help=f"One of: {_CHOICES}.")],
    effective: Annotated[
        str, typer.Option("--from", help="First trading day it books, YYYY-MM-DD.")
    ],
    source: Annotated[str, typer.Option("--source", help="Who decided it, and where.")],
    version_id: Annotated[
        str | None, typer.Option("--id", help="The version's id (default: the date).")
    ] = None,
    store: str = store_option(),
) -> None:
    """Record the firm's charge posting from a date on."""
    try:
        value = ChargePosting(posting)
    except ValueError:
        raise _fail(f"{posting!r} is not a charge posting: one of {_CHOICES}") from None
    day = parse_date(effective)
    if not source.strip():
        raise _fail("--source names who decided it")
    version = Version(version_id or day.isoformat(), day, value, source)
    try:
        new = record_charge_posting(open_store(store), version, clock=_now)
    except (ChargePostingTooLate, ChargePostingConflict, RuleRefused) as exc:
        raise _fail(str(exc)) from None
    said = "recorded" if new else "already recorded"
    typer.echo(f"{said}: {value.value} from {day.isoformat()} (version {version.version_id})")


@posting_app.command("show")
def show_command(store: str = store_option()) -> None:
    """The recorded versions, and the end of day's own policy where none is in force."""
    versions = load_charge_postings(open_store(store)).versions
    table = Table("version", "from", "posting", "source", title="Charge posting")
    for v in versions:
        table.add_row(v.version_id, v.effective.isoformat(), v.value.value, v.source)
    console = Console()
    console.print(table)
    first = versions[0].effective.isoformat() if versions else None
    default = EodSettings().policy.charges.versions[-1].value.posting.value
    before = f"before {first}" if first else "on every day"
    console.print(f"{before}: the end of day's own policy ({default})")
