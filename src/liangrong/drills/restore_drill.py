"""The restore drill: back the store up while it runs, restore the backup into a new store,
and prove nothing was lost or duplicated (the plan's "store lost" case, docs/emergency.md)."""

from __future__ import annotations

from pathlib import Path

from liangrong.drills.copies import DrillRun, Stopwatch, back_up_now, finish, sqlite_url
from liangrong.ledger.engine import open_engine, open_snapshot_engine
from liangrong.ledger.integrity import LedgerIntegrity, check_ledger
from liangrong.store.backup import BackupSummary, Progress, read_summary, restore_backup
from liangrong.store.reference import Clock

KIND = "restore"


def restore_drill(
    url: str, workdir: Path, *, performed_by: str, clock: Clock,
    target_url: str | None = None, progress: Progress | None = None,
) -> DrillRun:  # fmt: skip
    """Back up ``url`` into ``workdir``, check the file, restore it into ``target_url`` (a
    new SQLite file in ``workdir`` by default), check the restored ledger and back it up
    again: its rows must equal the source's."""
    started, watch = clock(), Stopwatch()
    backup, again = workdir / "drill-source.lrb", workdir / "drill-restored.lrb"
    target = target_url or sqlite_url(workdir / "drill-restored.sqlite")
    taken = watch.time("backup_ms", lambda: back_up_now(url, backup, clock, progress))
    checked = watch.time("check_file_ms", lambda: read_summary(backup))
    engine = open_engine(target)
    try:
        watch.time("restore_ms", lambda: restore_backup(backup, engine, progress=progress))
    finally:
        engine.dispose()
    integrity = watch.time("check_ledger_ms", lambda: _integrity(target))
    restored = watch.time("backup_restored_ms", lambda: back_up_now(target, again, clock))
    problems = _problems(taken, checked, integrity, restored)
    figures = {**watch.ms, "rows": taken.total_rows, "tables": len(taken.rows),
               "backup_bytes": backup.stat().st_size, "journal_sha256": taken.journal.sha256,
               "transactions": taken.journal.transactions, "postings": taken.journal.postings,
               "content_sha256": taken.content_sha256, "revision": taken.revision}  # fmt: skip
    return finish(url, KIND, started, performed_by, clock, figures, problems)


def _integrity(url: str) -> LedgerIntegrity:
    snapshot = open_snapshot_engine(url)
    try:
        with snapshot.begin() as conn:
            return check_ledger(conn)
    finally:
        snapshot.dispose()


def _problems(
    taken: BackupSummary,
    checked: BackupSummary,
    integrity: LedgerIntegrity,
    restored: BackupSummary,
) -> list[str]:
    problems = []
    if checked != taken:
        problems.append("the backup file read back differs from what was written")
    if integrity.journal != taken.journal:
        problems.append("the restored journal's digest differs from the source's")
    if integrity.differences:
        problems.append(f"{len(integrity.differences)} restored balances differ from the journal")
    if integrity.breaks:
        problems.append(f"assets not summing to zero after the restore: {sorted(integrity.breaks)}")
    if restored.content_sha256 != taken.content_sha256:
        differing = sorted(t for t in taken.rows if restored.rows.get(t) != taken.rows[t])
        problems.append(f"the restored store's rows differ from the source's (counts: {differing})")
    return problems
