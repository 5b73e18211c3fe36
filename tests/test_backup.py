"""Backups and restores of the whole store, and the ledger's integrity check (GOV-6).

The source is a real store: a generated book after a short seeded session (every kind of
row the session writes), plus an audit entry (a serial key on PostgreSQL).  Restores go
into empty stores on SQLite and PostgreSQL; every refusal leaves the target as it was.
"""

from __future__ import annotations

import gzip
import json
import shutil
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine, text
from sqlalchemy.exc import DBAPIError
from typer.testing import CliRunner

from conftest import drop_postgres, make_postgres_engine, make_sqlite_engine, session_store
from liangrong.cli import _register, app
from liangrong.domain import operations as ops
from liangrong.ledger.digest import journal_digest
from liangrong.ledger.engine import open_engine, open_snapshot_engine
from liangrong.ledger.integrity import check_ledger
from liangrong.ledger.journal import Ledger
from liangrong.ledger.schema import metadata
from liangrong.sim.session import SessionConfig
from liangrong.store.api_access import AuditEntry, append_audit, audit_entries
from liangrong.store.backup import (
    BackupRefusal,
    BackupRefused,
    BackupSummary,
    back_up,
    read_summary,
    restore_backup,
    write_backup,
)
from liangrong.store.migrate import current_revision, head_revision, upgrade
from sim_helpers import DAY

TAKEN = "2026-11-20T16:00:00+00:00"
_register()


def _audit(at: str) -> AuditEntry:
    return AuditEntry(at, "ops", "operations", "record_default", "POST", "/api/v1/defaults",
                      "C000001", {"n": 1}, 201, {"ok": True})  # fmt: skip


@pytest.fixture(scope="module")
def source(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite store after a seeded session (read only by the tests: each copies it)."""
    path = tmp_path_factory.mktemp("backup") / "source.sqlite"
    engine = session_store(path, SessionConfig(clients=60, minutes=3, seed=11, on=DAY))
    append_audit(engine, _audit("2026-11-20T15:00:00+00:00"))
    engine.dispose()
    return path


@pytest.fixture
def source_copy(source: Path, tmp_path: Path) -> str:
    shutil.copy(source, tmp_path / "copy.sqlite")
    return f"sqlite:///{tmp_path / 'copy.sqlite'}"


@pytest.fixture
def backup(source: Path, tmp_path: Path) -> tuple[Path, BackupSummary]:
    path = tmp_path / "source.lrb"
    return path, back_up(f"sqlite:///{source}", path, taken_at=TAKEN)


def _empty(engine: Engine) -> bool:
    with engine.connect() as conn:
        names = [t for t in metadata.tables if t != "alembic_version"]
        return all(conn.execute(text(f"SELECT 1 FROM {t} LIMIT 1")).first() is None for t in names)


def _lines(path: Path) -> list[bytes]:
    with gzip.open(path, "rb") as stream:
        return stream.readlines()


def _rewrite(path: Path, lines: list[bytes], to: Path) -> Path:
    with gzip.open(to, "wb") as stream:
        stream.writelines(lines)
    return to


# --- the round trip --------------------------------------------------------------------------


def test_a_backup_restores_every_row_into_an_empty_store(backup, store: Engine, tmp_path) -> None:
    path, taken = backup
    assert taken.journal.transactions > 500 and taken.rows["journal_postings"] > 2_000
    assert taken.rows["api_audit"] == 1 and taken.revision == head_revision()
    assert read_summary(path) == taken  # the file proves itself without a store

    restored = restore_backup(path, store)

    assert restored == taken
    assert journal_digest(store) == taken.journal
    again = write_backup(open_snapshot_engine(str(store.url.render_as_string(False))),
                         tmp_path / "again.lrb", taken_at=TAKEN)  # fmt: skip
    assert again.rows == taken.rows
    assert again.content_sha256 == taken.content_sha256  # every row of every table, equal


def test_two_backups_of_one_store_hold_the_same_content(source: Path, tmp_path: Path) -> None:
    url = f"sqlite:///{source}"
    first = back_up(url, tmp_path / "a.lrb", taken_at=TAKEN)
    second = back_up(url, tmp_path / "b.lrb", taken_at="2026-11-21T09:00:00+00:00")
    assert first.content_sha256 == second.content_sha256
    assert first.sha256 != second.sha256  # the header (when it was taken) differs


@pytest.mark.postgres
def test_sqlite_to_postgresql_and_back_keeps_every_row(backup, tmp_path: Path) -> None:
    path, taken = backup
    pg, name = make_postgres_engine()
    try:
        restore_backup(path, pg)
        on_pg = back_up(pg.url.render_as_string(False), tmp_path / "pg.lrb", taken_at=TAKEN)
        assert on_pg.content_sha256 == taken.content_sha256
        sqlite = make_sqlite_engine(tmp_path)
        restore_backup(tmp_path / "pg.lrb", sqlite)
        assert journal_digest(sqlite) == taken.journal
        # The serial key goes on after the restored rows (PostgreSQL's sequence was moved).
        append_audit(pg, _audit("2026-11-21T09:00:00+00:00"))
        assert [e.seq for e in audit_entries(pg)] == [1, 2]
    finally:
        drop_postgres(pg, name)


def test_the_backup_is_one_snapshot_while_the_ledger_writes(store: Engine, tmp_path) -> None:
    """A transaction committed while the backup is being written is not in it."""
    ledger = Ledger(store, _clock())
    ledger.post(ops.fund_pool("fund-cash", DAY, "CNY", 10_000_00))
    before = journal_digest(store)
    posted: list[str] = []

    def write_meanwhile(table: str, done: int, total: int) -> None:
        if not posted:
            posted.append(table)
            ledger.post(ops.fund_pool("fund-more", DAY, "CNY", 7_00))

    summary = back_up(store.url.render_as_string(False), tmp_path / "b.lrb", taken_at=TAKEN,
                      progress=write_meanwhile)  # fmt: skip

    assert posted and journal_digest(store).transactions == before.transactions + 1
    assert summary.journal == before
    assert summary.rows["journal_transactions"] == before.transactions


def _clock():
    start, ticks = datetime(2026, 11, 20, 9, 30, tzinfo=UTC), iter(range(10**9))
    return lambda: start + timedelta(microseconds=next(ticks))


# --- refusals: nothing changes ------------------------------------------------------------


def test_a_truncated_backup_is_refused_and_the_target_stays_empty(backup, store) -> None:
    path, _ = backup
    cut = path.with_name("cut.lrb")
    cut.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    with pytest.raises(BackupRefused) as refused:
        restore_backup(cut, store)
    assert refused.value.code is BackupRefusal.DAMAGED
    assert _empty(store)


def test_a_changed_row_is_found_by_the_files_hash(backup, store) -> None:
    path, _ = backup
    lines = _lines(path)
    at = next(i for i, line in enumerate(lines) if b'"balances"' in line) + 1
    row = json.loads(lines[at])
    row[-1] += 1  # one balance off by one fen: still valid JSON, still the right shape
    lines[at] = (json.dumps(row, ensure_ascii=False, separators=(",", ":")) + "\n").encode()
    with pytest.raises(BackupRefused) as refused:
        restore_backup(_rewrite(path, lines, path.with_name("changed.lrb")), store)
    assert refused.value.code is BackupRefusal.DAMAGED
    assert _empty(store)


def test_a_missing_table_section_is_refused(backup, tmp_path) -> None:
    path, _ = backup
    lines = _lines(path)
    start = next(i for i, line in enumerate(lines) if line.startswith(b'{"table":"drill_records"'))
    end = next(i for i in range(start, len(lines)) if lines[i].startswith(b'{"end":'))
    target = make_sqlite_engine(tmp_path)
    with pytest.raises(BackupRefused):  # the hash or the schema: either way nothing loads
        restore_backup(_rewrite(path, lines[:start] + lines[end + 1 :], tmp_path / "m.lrb"), target)
    assert _empty(target)


@pytest.mark.parametrize("content", [b"not gzip at all", gzip.compress(b'{"format":"other"}\n')])
def test_a_file_that_is_not_a_backup_is_refused(content: bytes, tmp_path, store) -> None:
    (tmp_path / "x.lrb").write_bytes(content)
    with pytest.raises(BackupRefused) as refused:
        restore_backup(tmp_path / "x.lrb", store)
    assert refused.value.code is BackupRefusal.NOT_A_BACKUP
    assert _empty(store)


def test_an_unknown_revision_is_refused_before_anything(backup, tmp_path) -> None:
    path, _ = backup
    lines = _lines(path)
    header = json.loads(lines[0])
    lines[0] = (json.dumps({**header, "revision": "9999"}) + "\n").encode()
    target = make_sqlite_engine(tmp_path)
    with pytest.raises(BackupRefused) as refused:
        restore_backup(_rewrite(path, lines, tmp_path / "r.lrb"), target)
    assert refused.value.code is BackupRefusal.UNKNOWN_REVISION
    assert _empty(target)


def test_a_store_that_is_not_empty_is_refused_and_unchanged(backup, source_copy) -> None:
    path, _ = backup
    target = open_engine(source_copy)
    before = journal_digest(target)
    with pytest.raises(BackupRefused) as refused:
        restore_backup(path, target)
    assert refused.value.code is BackupRefusal.TARGET_NOT_EMPTY
    assert journal_digest(target) == before


def test_a_store_newer_than_the_backup_is_refused(tmp_path) -> None:
    old = open_engine(f"sqlite:///{tmp_path / 'old.sqlite'}")
    upgrade(old, "0015")
    summary = back_up(old.url.render_as_string(False), tmp_path / "old.lrb", taken_at=TAKEN)
    assert summary.revision == "0015"
    newer = make_sqlite_engine(tmp_path)
    with pytest.raises(BackupRefused) as refused:
        restore_backup(tmp_path / "old.lrb", newer)
    assert refused.value.code is BackupRefusal.TARGET_NEWER
    fresh = open_engine(f"sqlite:///{tmp_path / 'fresh.sqlite'}")
    restore_backup(tmp_path / "old.lrb", fresh)  # an old backup into a new store: migrated after
    assert current_revision(fresh) == head_revision()


# --- the ledger's integrity ------------------------------------------------------------------


def test_the_integrity_check_lists_a_balance_moved_behind_the_ledger(source_copy) -> None:
    engine = open_engine(source_copy)
    with engine.connect() as conn:
        assert check_ledger(conn).holds
    with engine.begin() as conn:
        account, asset = conn.execute(
            text("SELECT account, asset FROM balances WHERE amount > 0 ORDER BY account LIMIT 1")
        ).one()
        conn.execute(text("UPDATE balances SET amount = amount + 1 WHERE account = :a AND "
                          "asset = :s"), {"a": account, "s": asset})  # fmt: skip
    with engine.connect() as conn:
        found = check_ledger(conn)
    assert not found.holds
    assert [(a, s) for a, s, _, _ in found.differences] == [(account, asset)]
    assert found.breaks == {f"balances:{asset}": 1}


def test_the_drill_table_is_append_only_and_as_migrated(store: Engine) -> None:
    with store.connect() as conn:
        diffs = compare_metadata(MigrationContext.configure(conn), metadata)
    assert [d for d in diffs if "drill_records" in str(d)] == []
    with store.begin() as conn:
        conn.execute(text("INSERT INTO drill_records VALUES ('d1', 'restore', 'a', 'b', 'u', "
                          "true, '{}')"))  # fmt: skip
    for statement in ("UPDATE drill_records SET passed = false", "DELETE FROM drill_records"):
        with pytest.raises(DBAPIError), store.begin() as conn:
            conn.execute(text(statement))


# --- the commands ----------------------------------------------------------------------------


@pytest.fixture
def runner() -> Iterator[CliRunner]:
    yield CliRunner()


def test_the_commands_back_up_restore_and_verify(source_copy, tmp_path, runner) -> None:
    path, target = tmp_path / "b.lrb", f"sqlite:///{tmp_path / 'restored.sqlite'}"
    done = runner.invoke(app, ["store", "backup", str(path), "--store", source_copy])
    assert done.exit_code == 0, done.output
    assert "journal:" in done.output
    done = runner.invoke(app, ["store", "restore", str(path), "--store", target])
    assert done.exit_code == 0, done.output
    done = runner.invoke(app, ["store", "verify", "--backup", str(path), "--store", target])
    assert done.exit_code == 0, done.output
    assert "holds this journal" in done.output

    again = runner.invoke(app, ["store", "restore", str(path), "--store", target])
    assert again.exit_code == 1
    assert "TARGET_NOT_EMPTY" in again.output

    cut = tmp_path / "cut.lrb"
    cut.write_bytes(path.read_bytes()[:5000])
    missing = tmp_path / "never.sqlite"
    refused = runner.invoke(app, ["store", "restore", str(cut), "--store", f"sqlite:///{missing}"])
    assert refused.exit_code == 1 and "DAMAGED" in refused.output
    assert not missing.exists()  # the refused restore leaves no new file behind


def test_verify_exits_1_on_a_difference(source_copy, runner) -> None:
    engine = open_engine(source_copy)
    with engine.begin() as conn:
        account, asset = conn.execute(
            text("SELECT account, asset FROM balances WHERE amount > 0 ORDER BY account LIMIT 1")
        ).one()
        conn.execute(text("UPDATE balances SET amount = amount - 3 WHERE account = :a AND "
                          "asset = :s"), {"a": account, "s": asset})  # fmt: skip
    done = runner.invoke(app, ["store", "verify", "--store", source_copy])
    assert done.exit_code == 1
    assert "1 keys differ" in done.output
