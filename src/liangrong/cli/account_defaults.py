"""``liangrong account default record|cure|withdraw|list``: the defaults a user records for
a client (CLI-5; bad credit, other defaults, overdue charges; the rules:
``domain.recorded_defaults``), their cures, their withdrawals as recorded in error, and
every record with its state on a date.

"Today" is the date in Beijing: nothing is recorded as occurring, cured or withdrawn after
it.  Exit status 1 when a record, cure or withdrawal is refused (its code, the reason in
both languages and the detail on stderr; nothing recorded), 2 for a malformed option.
``--user`` names who acts (the login by default): the four-eyes rule of a withdrawal
compares it with the recorder, so it is as good as the names users give.
"""

from __future__ import annotations

import getpass
from collections.abc import Callable
from datetime import UTC, date, datetime
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from liangrong.cli.refusals import refused_exit
from liangrong.cli.simulate import parse_date
from liangrong.cli.store_option import open_store, store_option
from liangrong.domain.default_records import DefaultKind
from liangrong.domain.money import MoneyFormatError, fen_to_yuan_text, yuan_to_fen
from liangrong.domain.recorded_defaults import (
    DefaultCure,
    DefaultEntry,
    DefaultRefused,
    DefaultWithdrawal,
    RecordedDefault,
    derived_id,
)
from liangrong.sim.session import CST
from liangrong.store.recorded_defaults import (
    cure_default,
    load_recorded_defaults,
    record_default,
    withdraw_default,
)

defaults_app = typer.Typer(
    help="Default records (CLI-5): bad credit, other defaults and overdue charges.",
    no_args_is_help=True,
)
KIND_HELP = "bad_credit, other or overdue_charges (the rest are derived)."
UserOption = Annotated[
    str | None, typer.Option("--user", help="Who records it (default: the login).")
]


def _today() -> date:
    return datetime.now(CST).date()


def _now() -> datetime:
    return datetime.now(UTC)


def _write(write: Callable[..., bool], item: object, store: str) -> bool:
    """A record, cure or withdrawal written as of today; a refusal exits 1."""
    try:
        return write(open_store(store), item, today=_today(), clock=_now)
    except DefaultRefused as exc:
        raise refused_exit(exc) from None


@defaults_app.command("record")
def record_command(
    client: Annotated[str, typer.Argument(help="The client id, e.g. C000001.")],
    kind: Annotated[DefaultKind, typer.Option("--kind", help=KIND_HELP)],
    on: Annotated[str, typer.Option("--on", help="The day it occurred, YYYY-MM-DD.")],
    amount: Annotated[
        str, typer.Option("--amount", help="Amount owed in yuan, e.g. 1234.56 (default 0).")
    ] = "0",
    note: Annotated[
        str, typer.Option("--note", help="What happened (required for bad_credit, other).")
    ] = "",
    malicious: Annotated[
        bool, typer.Option("--malicious", help="The firm judges it malicious (恶意违约).")
    ] = False,
    record_id: Annotated[
        str | None,
        typer.Option("--id", help="The record's id (default: default:CLIENT:KIND:DATE)."),
    ] = None,
    user: UserOption = None,
    store: str = store_option(),
) -> None:
    """Record a default of a client; recording the same again changes nothing."""
    occurred = parse_date(on)
    try:
        amount_fen = yuan_to_fen(amount)
    except MoneyFormatError as exc:
        raise typer.BadParameter(str(exc), param_hint="--amount") from None
    entry = DefaultEntry(
        record_id or derived_id(client, kind, occurred), client, kind, occurred, amount_fen,
        note, malicious, user or getpass.getuser(),
    )  # fmt: skip
    new = _write(record_default, entry, store)
    Console().print(f"{escape(entry.record_id)}: " + ("recorded" if new else "recorded before"))


@defaults_app.command("cure")
def cure_command(
    record_id: Annotated[str, typer.Argument(help="The record's id (see `list`).")],
    on: Annotated[str, typer.Option("--on", help="The day it was settled, YYYY-MM-DD.")],
    note: Annotated[str, typer.Option("--note", help="How it was settled.")] = "",
    user: UserOption = None,
    store: str = store_option(),
) -> None:
    """Record that a recorded default was cured (once; the record stays on file)."""
    cure = DefaultCure(record_id, parse_date(on), user or getpass.getuser(), note)
    new = _write(cure_default, cure, store)
    shown = f"cured on {cure.cured_on}" if new else "cured before"
    Console().print(f"{escape(record_id)}: {shown}")


@defaults_app.command("withdraw")
def withdraw_command(
    record_id: Annotated[str, typer.Argument(help="The record's id (see `list`).")],
    reason: Annotated[str, typer.Option("--reason", help="Why it was recorded in error.")],
    on: Annotated[
        str | None, typer.Option("--on", help="The withdrawal's date (default today).")
    ] = None,
    user: UserOption = None,
    store: str = store_option(),
) -> None:
    """Withdraw a record entered in error (录入错误撤销; once, by another user than its
    recorder): it stops counting from that date and leaves the file after it."""
    day = parse_date(on) if on else _today()
    withdrawal = DefaultWithdrawal(record_id, day, user or getpass.getuser(), reason)
    new = _write(withdraw_default, withdrawal, store)
    shown = f"withdrawn on {day}" if new else "withdrawn before"
    Console().print(f"{escape(record_id)}: {shown}")


def _state(record: RecordedDefault, on: date | None) -> str:
    cured, withdrawn = record.cured_on(on), record.withdrawn_on(on)
    states = [f"cured {cured}"] if cured else []
    states += [f"withdrawn {withdrawn}"] if withdrawn else []
    return ", ".join(states) or "open"


@defaults_app.command("list")
def list_command(
    client: Annotated[str | None, typer.Option("--client", help="Only this client.")] = None,
    on: Annotated[
        str | None,
        typer.Option(
            "--on", help="As of this day: what had occurred, open, cured or withdrawn by then."
        ),
    ] = None,
    store: str = store_option(),
) -> None:
    """The defaults users recorded, by client and date, with their state."""
    day = parse_date(on) if on else None
    found = load_recorded_defaults(
        open_store(store), clients=[client] if client else None, through=day
    )
    title = "Recorded defaults" + (f" as of {day}" if day else "")
    table = Table("record", "client", "kind", "occurred", "owed", "malicious", "state", "note",
                  "recorded by", title=title)  # fmt: skip
    for r in found:
        e = r.entry
        table.add_row(
            escape(e.record_id), escape(e.client_id), e.kind.value, str(e.occurred_on),
            fen_to_yuan_text(e.amount_owed_fen), "yes" if e.malicious else "",
            _state(r, day), escape(e.note), escape(e.recorded_by),
        )  # fmt: skip
    Console().print(table)
