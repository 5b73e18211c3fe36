"""``liangrong drill restore|eod-kill|list``: the emergency drills of docs/emergency.md
(GOV-6), each on copies of the store, each recorded in the store with its figures.

Exit status 1 when a drill fails (each problem printed; the failure is recorded) or cannot
run as asked (nothing recorded).
"""

from __future__ import annotations

import getpass
import json
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from liangrong.cli.simulate import parse_date
from liangrong.cli.store import table_bars
from liangrong.cli.store_option import open_store, store_option
from liangrong.drills.copies import DrillRun
from liangrong.drills.eod_kill_drill import DrillRefused, drill_day, eod_kill_drill
from liangrong.drills.restore_drill import restore_drill
from liangrong.store.backup import BackupRefused
from liangrong.store.drill_records import load_drills

drill_app = typer.Typer(
    help="Emergency drills on copies of the store (GOV-6).", no_args_is_help=True
)
UserOption = Annotated[
    str | None, typer.Option("--user", help="Who runs the drill (default: the login).")
]
WorkdirOption = Annotated[
    Path | None,
    typer.Option(
        "--workdir",
        help="Folder for the drill's copies and logs (default: a temporary one, removed).",
    ),
]


def register(app: typer.Typer) -> None:
    app.add_typer(drill_app, name="drill")


def _now() -> datetime:
    return datetime.now(UTC)


@contextmanager
def _workdir(given: Path | None) -> Iterator[Path]:
    if given is not None:
        given.mkdir(parents=True, exist_ok=True)
        yield given
        return
    with tempfile.TemporaryDirectory(prefix="liangrong-drill-") as folder:
        yield Path(folder)


def _conclude(run: DrillRun) -> None:
    console, record = Console(), run.record
    table = Table("figure", "value", title=f"drill {record.kind}: {record.drill_id}")
    for name, value in record.figures.items():
        if name != "problems":
            table.add_row(name, escape(json.dumps(value, ensure_ascii=False)))
    console.print(table)
    if run.problems:
        for problem in run.problems:
            console.print(f"[red]problem:[/red] {escape(problem)}")
        console.print("[red]FAILED[/red] (recorded)")
        raise typer.Exit(1)
    console.print("[green]passed[/green] (recorded)")


def _guarded(work: Callable[[], DrillRun]) -> DrillRun:
    try:
        return work()
    except (DrillRefused, BackupRefused) as exc:
        Console(stderr=True).print(f"[red]the drill cannot run:[/red] {escape(str(exc))}")
        raise typer.Exit(1) from None


@drill_app.command("restore")
def restore_command(
    user: UserOption = None,
    into: Annotated[
        str | None,
        typer.Option("--into", help="An empty store to restore into (default: a new SQLite file)."),
    ] = None,
    workdir: WorkdirOption = None,
    store: str = store_option(),
) -> None:
    """The store is lost: back it up while it runs, restore the backup into a new store,
    and check the restored ledger and every row against the source's."""
    open_store(store).dispose()
    with _workdir(workdir) as folder, table_bars(Console(stderr=True)) as progress:
        run = _guarded(
            lambda: restore_drill(
                store,
                folder,
                performed_by=user or getpass.getuser(),
                clock=_now,
                target_url=into,
                progress=progress,
            )
        )
    _conclude(run)


@drill_app.command("eod-kill")
def eod_kill_command(
    day: Annotated[
        str | None, typer.Argument(help="Trading day (default: the one after the last end of day).")
    ] = None,
    kills: Annotated[
        int, typer.Option("--kills", min=1, max=100, help="SIGKILLs before the rerun.")
    ] = 5,
    seed: Annotated[int, typer.Option("--seed", help="Seeds the kill moments.")] = 1,
    user: UserOption = None,
    workdir: WorkdirOption = None,
    store: str = store_option(),
) -> None:
    """The end of day is interrupted: run it on one copy of the store without interruption,
    and on another killed at seeded random moments then rerun; both must hold the same
    rows and report files."""
    open_store(store).dispose()
    with _workdir(workdir) as folder:
        run = _guarded(
            lambda: eod_kill_drill(
                store,
                folder,
                day=parse_date(day) if day else drill_day(store),
                kills=kills,
                seed=seed,
                performed_by=user or getpass.getuser(),
                clock=_now,
            )
        )
    _conclude(run)


@drill_app.command("list")
def list_command(store: str = store_option()) -> None:
    """Every drill on record: when, which, who, and whether it passed."""
    table = Table("started at", "drill", "by", "result", "problems")
    for record in load_drills(open_store(store)):
        result = "[green]passed[/green]" if record.passed else "[red]failed[/red]"
        problems = "; ".join(record.figures.get("problems", []))
        table.add_row(
            record.started_at, record.kind, escape(record.performed_by), result, escape(problems)
        )
    Console().print(table)
