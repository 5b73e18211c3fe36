"""``liangrong store backup|restore|verify``: a backup of the whole store while the book runs,
its restore into an empty store, and the checks that nothing was lost or duplicated (GOV-6;
the design: ``store.backup``, ``ledger.integrity``; the plan: docs/emergency.md).

Exit status 1 when a backup or restore is refused (its code and reason in both languages on
stderr; nothing changed) or a check finds a difference.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import TaskID
from rich.table import Table

from liangrong.cli.eod import step_bars
from liangrong.cli.refusals import refused_exit
from liangrong.cli.store_option import open_store, store_option
from liangrong.ledger.digest import JournalDigest
from liangrong.ledger.engine import open_engine, open_snapshot_engine
from liangrong.ledger.integrity import check_ledger
from liangrong.store.backup import (
    BackupRefused,
    BackupSummary,
    Progress,
    back_up,
    read_summary,
    restore_backup,
)

store_app = typer.Typer(
    help="Backups, restores and integrity checks of the store (GOV-6).", no_args_is_help=True
)
BackupPath = Annotated[Path, typer.Argument(help="The backup file (gzip of JSON lines).")]


def register(app: typer.Typer) -> None:
    app.add_typer(store_app, name="store")


def _now() -> datetime:
    return datetime.now(UTC)


@contextmanager
def table_bars(err: Console) -> Iterator[Progress]:
    """A bar per table as its rows are written or read."""
    with step_bars(err) as bar:
        tasks: dict[str, TaskID] = {}

        def progress(table: str, done: int, total: int) -> None:
            if table not in tasks:
                tasks[table] = bar.add_task(table, total=max(total, 1))
            bar.update(tasks[table], completed=done, total=max(total, 1))

        yield progress


def _print_summary(console: Console, path: Path, summary: BackupSummary) -> None:
    j = summary.journal
    console.print(
        f"{path}: revision {summary.revision}, taken at {summary.taken_at}, "
        f"{summary.total_rows:,} rows in {len(summary.rows)} tables, {path.stat().st_size:,} bytes"
    )
    console.print(
        f"journal: {j.credit_accounts:,} credit accounts, {j.transactions:,} transactions, "
        f"{j.postings:,} postings, sha256 {j.sha256}"
    )
    console.print(f"content sha256 {summary.content_sha256}")


@store_app.command("backup")
def backup_command(path: BackupPath, store: str = store_option()) -> None:
    """Write every row of the store, read from one snapshot (the book may keep running),
    with the journal's digest; the file is written under a temporary name and renamed."""
    open_store(store).dispose()
    with table_bars(Console(stderr=True)) as progress:
        try:
            summary = back_up(store, path, taken_at=_now().isoformat(), progress=progress)
        except BackupRefused as exc:
            raise refused_exit(exc) from None
    _print_summary(Console(), path, summary)


@store_app.command("restore")
def restore_command(path: BackupPath, store: str = store_option()) -> None:
    """Load a backup into an empty store (a new SQLite file, or an empty PostgreSQL
    database), check the restored journal's digest against the backup's, then migrate it
    to this version's schema.  Refused, with nothing changed, for a damaged file or a store
    that is not empty."""
    file = Path(store.removeprefix("sqlite:///")) if store.startswith("sqlite:///") else None
    created = file is not None and not file.exists()
    if file is not None:
        file.parent.mkdir(parents=True, exist_ok=True)
    engine = open_engine(store)
    with table_bars(Console(stderr=True)) as progress:
        try:
            summary = restore_backup(path, engine, progress=progress)
        except BackupRefused as exc:
            engine.dispose()
            if created and file is not None:  # the new file is removed: nothing is left
                for leftover in (
                    file,
                    *(file.with_name(file.name + end) for end in ("-wal", "-shm")),
                ):
                    leftover.unlink(missing_ok=True)
            raise refused_exit(exc) from None
    console = Console()
    _print_summary(console, path, summary)
    console.print(f"[green]restored into {escape(store)}; the journal's digest matches[/green]")


@store_app.command("verify")
def verify_command(
    backup: Annotated[
        Path | None,
        typer.Option(
            "--backup", help="Also check the file, and that the store's journal equals its."
        ),
    ] = None,
    store: str = store_option(),
) -> None:
    """Check the store's ledger in one snapshot: every balance against its postings, each
    asset summing to zero; print the journal's digest.  Exit 1 on any difference."""
    open_store(store).dispose()
    snapshot = open_snapshot_engine(store)
    with snapshot.begin() as conn:
        found = check_ledger(conn)
    console, failed = Console(), False
    j = found.journal
    console.print(
        f"journal: {j.transactions:,} transactions, {j.postings:,} postings, sha256 {j.sha256}"
    )
    if found.differences:
        failed = True
        table = Table(
            "account", "asset", "journal", "balance", title="balances not equal to their postings"
        )
        for account, asset, journal, balance in found.differences[:50]:
            table.add_row(account, asset, str(journal), "none" if balance is None else str(balance))
        console.print(table)
        console.print(f"{len(found.differences)} keys differ")
    for where, total in sorted(found.breaks.items()):
        failed = True
        console.print(f"[red]{where} sums to {total}[/red]")
    if backup is not None:
        failed |= _against_backup(console, backup, j)
    if failed:
        raise typer.Exit(1)
    console.print(
        "[green]the ledger holds[/green]: each balance is its postings' sum, each asset 0"
    )


def _against_backup(console: Console, path: Path, journal: JournalDigest) -> bool:
    try:
        summary = read_summary(path)
    except BackupRefused as exc:
        raise refused_exit(exc) from None
    if summary.journal != journal:
        console.print(
            f"[red]the store's journal differs from the backup's ({summary.journal.sha256})[/red]"
        )
        return True
    console.print(f"the backup {path} checks, and holds this journal")
    return False
