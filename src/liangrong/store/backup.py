"""A logical backup of the whole store, and its restore (GOV-6: the loss of the store is
recovered without losing or duplicating anything).

Invariants:
- a backup holds every row of every table of the store (Alembic's version table aside: the
  schema revision is in the header), all read from one snapshot that does not block the
  book's writers (``open_snapshot_engine``), so it is consistent while the book runs;
- the file proves itself: gzip of JSON lines whose last line carries the SHA-256 of every
  line before it, each table's row count and the journal's digest from the same snapshot;
  a restore checks all of them before it commits, in one transaction, so a damaged,
  truncated or foreign file leaves the target exactly as it was;
- a restore goes only into an empty store: the target is migrated to the backup's revision,
  loaded, checked (the restored journal's digest must equal the backup's), committed, then
  migrated to the newest revision; PostgreSQL's serial counters are moved past the rows;
- values are the store's own: integers, text, booleans and null as JSON, dates as ISO text,
  each table's header naming its columns' kinds (the store holds no floats, and a column of
  another kind refuses the backup rather than round it);
- backend-neutral: a SQLite store restores into PostgreSQL and back with equal journals.
"""

from __future__ import annotations

import gzip
import hashlib
import json
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, MetaData, Table, func, select, text

from liangrong.domain.bilingual import Bilingual, BilingualRefused
from liangrong.ledger.digest import JournalDigest, journal_digest_on
from liangrong.ledger.engine import open_snapshot_engine
from liangrong.store.migrate import current_revision, known_revisions, revisions_through, upgrade

FORMAT = "liangrong-backup"
FORMAT_VERSION = 1
VERSION_TABLE = "alembic_version"
KINDS = {int: "int", bool: "bool", str: "text", date: "date"}
_ROWS_PER_FETCH = 5_000
_ROWS_PER_INSERT = 2_000

Progress = Callable[[str, int, int], None]  # table, rows done, rows in the table


class BackupRefusal(Bilingual):
    """Why a backup or a restore is refused.  Value: (zh, en); nothing is changed."""

    NOT_A_BACKUP = ("不是liangrong备份文件", "not a liangrong backup file")
    DAMAGED = ("备份文件已损坏或不完整", "the backup file is damaged or incomplete")
    UNKNOWN_REVISION = (
        "备份的数据库版本不为本程序所知",
        "the backup's schema revision is unknown to this version of liangrong",
    )
    NOT_MIGRATED = ("数据库未初始化", "the store has no schema revision (never migrated)")
    UNSUPPORTED_COLUMN = (
        "数据库含无法备份的列类型",
        "the store has a column of a kind a backup cannot hold",
    )
    TARGET_NEWER = (
        "恢复目标数据库的版本晚于备份",
        "the target store's schema is newer than the backup's: restore into a new store",
    )
    SCHEMA_DIFFERS = (
        "备份的表与该版本的数据库结构不符",
        "the backup's tables differ from the schema at its revision",
    )
    TARGET_NOT_EMPTY = (
        "恢复目标数据库非空",
        "the target store is not empty: a restore goes only into an empty store",
    )
    RESTORED_DIFFERENTLY = (
        "恢复后的日记账与备份不一致",
        "the restored journal's digest differs from the backup's",
    )


class BackupRefused(BilingualRefused):
    code: BackupRefusal


@dataclass(frozen=True, slots=True)
class BackupSummary:
    """What a backup holds, as its trailer records it."""

    revision: str
    taken_at: str
    rows: dict[str, int]
    journal: JournalDigest
    sha256: str  # of every line before the trailer
    content_sha256: str  # of the tables' lines: equal for stores holding the same rows

    @property
    def total_rows(self) -> int:
        return sum(self.rows.values())


def write_backup(
    snapshot: Engine, path: Path, *, taken_at: str, progress: Progress | None = None
) -> BackupSummary:
    """Write every table of the store ``snapshot`` reads (``open_snapshot_engine``) to
    ``path`` (through a temporary name, so a crash never leaves a partial file there)."""
    partial = path.with_name(path.name + ".partial")
    with snapshot.begin() as conn:
        revision = _revision_on(conn)
        tables = _tables(conn)
        with gzip.open(partial, "wb", compresslevel=1) as stream:
            out = _HashedLines(stream)
            out.write({"format": FORMAT, "version": FORMAT_VERSION, "revision": revision,
                       "backend": conn.dialect.name, "taken_at": taken_at},
                      content=False)  # fmt: skip
            rows = {table.name: _write_table(conn, table, out, progress) for table in tables}
            journal = journal_digest_on(conn)
            summary = BackupSummary(revision, taken_at, rows, journal, out.hash.hexdigest(),
                                    out.content.hexdigest())  # fmt: skip
            out.write_unhashed({"trailer": _trailer(summary)})
    partial.replace(path)
    return summary


def back_up(
    url: str, path: Path, *, taken_at: str, progress: Progress | None = None
) -> BackupSummary:
    """``write_backup`` of the store at ``url`` through its own snapshot engine."""
    snapshot = open_snapshot_engine(url)
    try:
        return write_backup(snapshot, path, taken_at=taken_at, progress=progress)
    finally:
        snapshot.dispose()


def _revision_on(conn: Connection) -> str:
    found = conn.execute(text(f"SELECT version_num FROM {VERSION_TABLE}")).scalar()
    if found is None:
        raise BackupRefused(BackupRefusal.NOT_MIGRATED, "no row in alembic_version")
    return str(found)


def _tables(conn: Connection) -> list[Table]:
    """Every table but Alembic's, parents before the tables that refer to them."""
    metadata = MetaData()
    metadata.reflect(bind=conn)
    return [table for table in metadata.sorted_tables if table.name != VERSION_TABLE]


def _kinds(table: Table) -> list[str]:
    kinds = []
    for column in table.columns:
        kind = KINDS.get(column.type.python_type)
        if kind is None:
            raise BackupRefused(
                BackupRefusal.UNSUPPORTED_COLUMN, f"{table.name}.{column.name}: {column.type}"
            )
        kinds.append(kind)
    return kinds


def _write_table(
    conn: Connection, table: Table, out: _HashedLines, progress: Progress | None
) -> int:
    kinds = _kinds(table)
    count = int(conn.execute(select(func.count()).select_from(table)).scalar_one())
    out.write({"table": table.name, "columns": [c.name for c in table.columns],
               "kinds": kinds, "rows": count})  # fmt: skip
    keys = list(table.primary_key.columns) or list(table.columns)
    order = [_in_code_point_order(conn, column) for column in keys]
    written = 0
    streamed = conn.execution_options(yield_per=_ROWS_PER_FETCH)
    for row in streamed.execute(select(table).order_by(*order)):
        out.write([_encode(value) for value in row])
        written += 1
        if progress is not None and written % _ROWS_PER_FETCH == 0:
            progress(table.name, written, count)
    if progress is not None:
        progress(table.name, written, count)
    out.write({"end": table.name, "rows": written})
    return written


def _in_code_point_order(conn: Connection, column: Any) -> Any:
    # SQLite orders text by its UTF-8 bytes; PostgreSQL by the database's locale unless told:
    # "C" gives the same order on both, so equal stores give equal backups.
    if conn.dialect.name == "postgresql" and column.type.python_type is str:
        return column.collate("C")
    return column


def _encode(value: Any) -> Any:
    return value.isoformat() if isinstance(value, date) else value


def _trailer(summary: BackupSummary) -> dict[str, Any]:
    j = summary.journal
    return {"rows": summary.rows, "sha256": summary.sha256,
            "content_sha256": summary.content_sha256,
            "journal": {"credit_accounts": j.credit_accounts, "transactions": j.transactions,
                        "postings": j.postings, "sha256": j.sha256}}  # fmt: skip


class _HashedLines:
    """JSON lines written to a binary stream and hashed as written: every line in ``hash``,
    the tables' lines (not the header) also in ``content``."""

    def __init__(self, stream: gzip.GzipFile) -> None:
        self.stream, self.hash, self.content = stream, hashlib.sha256(), hashlib.sha256()

    def write(self, item: object, *, content: bool = True) -> None:
        line = _line(item)
        self.hash.update(line)
        if content:
            self.content.update(line)
        self.stream.write(line)

    def write_unhashed(self, item: object) -> None:
        self.stream.write(_line(item))


def _line(item: object) -> bytes:
    return (json.dumps(item, ensure_ascii=False, separators=(",", ":")) + "\n").encode("utf-8")


# --- reading and restoring ---------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _TableHeader:
    name: str
    columns: list[str]
    kinds: list[str]
    rows: int


def read_summary(path: Path) -> BackupSummary:
    """Check the whole file (every line's hash, each table's rows) and return its summary,
    without touching any store."""
    with _open(path) as stream:
        reader = _Reader(stream, path)
        for _header, batches in reader.tables():
            for _batch in batches:
                pass
        return reader.finish()


def restore_backup(
    path: Path, engine: Engine, *, progress: Progress | None = None
) -> BackupSummary:
    """Load the backup at ``path`` into the empty store ``engine``; refused (nothing
    changed) for a damaged or foreign file, an unknown revision or a store not empty."""
    with _open(path) as stream:
        return _restore(_Reader(stream, path), engine, progress)


def _open(path: Path) -> gzip.GzipFile:
    try:
        return gzip.open(path, "rb")
    except OSError as error:
        raise BackupRefused(BackupRefusal.NOT_A_BACKUP, f"{path}: {error}") from error


def _restore(reader: _Reader, engine: Engine, progress: Progress | None) -> BackupSummary:
    if reader.revision not in known_revisions():
        raise BackupRefused(BackupRefusal.UNKNOWN_REVISION, reader.revision)
    _check_target(engine, reader.revision)
    upgrade(engine, reader.revision)
    with engine.begin() as conn:
        target = {table.name: table for table in _tables(conn)}
        _check_empty_on(conn, target.values())
        for header, batches in reader.tables():
            _check_columns(header, target)
            _load_table(conn, header, batches, progress)
        summary = reader.finish()
        if {header.name for header in reader.seen} != set(target):
            missing = sorted(set(target) - {header.name for header in reader.seen})
            raise BackupRefused(BackupRefusal.SCHEMA_DIFFERS, f"no rows section for {missing}")
        restored = journal_digest_on(conn)
        if restored != summary.journal:
            raise BackupRefused(
                BackupRefusal.RESTORED_DIFFERENTLY, f"{restored.sha256} != {summary.journal.sha256}"
            )
        if conn.dialect.name == "postgresql":
            _move_serials(conn, target.values())
    upgrade(engine)
    return summary


def _check_target(engine: Engine, revision: str) -> None:
    found = current_revision(engine)
    if found is None:
        return
    if found not in revisions_through(revision):
        raise BackupRefused(BackupRefusal.TARGET_NEWER, f"store at {found}, backup at {revision}")
    with engine.connect() as conn:
        _check_empty_on(conn, _tables(conn))


def _check_columns(header: _TableHeader, target: dict[str, Table]) -> None:
    table = target.get(header.name)
    if table is None or set(header.columns) != {c.name for c in table.columns}:
        raise BackupRefused(BackupRefusal.SCHEMA_DIFFERS, f"table {header.name}")


def _check_empty_on(conn: Connection, tables: Iterable[Table]) -> None:
    for table in tables:
        if conn.execute(select(table).limit(1)).first() is not None:
            raise BackupRefused(BackupRefusal.TARGET_NOT_EMPTY, f"{table.name} has rows")


def _load_table(
    conn: Connection,
    header: _TableHeader,
    batches: Iterator[list[list[Any]]],
    progress: Progress | None,
) -> None:
    quote = conn.dialect.identifier_preparer.quote
    marker = "?" if conn.dialect.name == "sqlite" else "%s"
    statement = (
        f"INSERT INTO {quote(header.name)} ({', '.join(quote(c) for c in header.columns)}) "
        f"VALUES ({', '.join([marker] * len(header.columns))})"
    )
    decode = _decoder(header.kinds, sqlite=conn.dialect.name == "sqlite")
    done = 0
    for batch in batches:
        conn.exec_driver_sql(statement, [decode(row) for row in batch])
        done += len(batch)
        if progress is not None:
            progress(header.name, done, header.rows)


def _decoder(kinds: Sequence[str], *, sqlite: bool) -> Callable[[list[Any]], tuple[Any, ...]]:
    # SQLite keeps dates as ISO text (SQLAlchemy's own storage) and booleans as 0/1.
    dates = [i for i, kind in enumerate(kinds) if kind == "date"]
    if sqlite or not dates:
        return tuple

    def decode(row: list[Any]) -> tuple[Any, ...]:
        values = list(row)
        for i in dates:
            if values[i] is not None:
                values[i] = date.fromisoformat(values[i])
        return tuple(values)

    return decode


def _move_serials(conn: Connection, tables: Iterable[Table]) -> None:
    """Set each serial column's sequence past its restored rows (inserts gave the ids)."""
    for table in tables:
        for column in table.primary_key.columns:
            sequence = conn.execute(
                text("SELECT pg_get_serial_sequence(:t, :c)"), {"t": table.name, "c": column.name}
            ).scalar()
            if sequence is not None:
                conn.execute(
                    select(func.setval(sequence, func.coalesce(func.max(column), 0) + 1, False))
                )


class _Reader:
    """The backup's lines, each hashed and checked as it is read; ``finish`` checks the
    trailer against everything read."""

    def __init__(self, stream: gzip.GzipFile, path: Path) -> None:
        self.path, self.stream = path, stream
        self.hash, self.content, self.in_tables = hashlib.sha256(), hashlib.sha256(), False
        self.seen: list[_TableHeader] = []
        self.rows: dict[str, int] = {}
        try:
            first = self._next()
        except BackupRefused as error:
            raise BackupRefused(BackupRefusal.NOT_A_BACKUP, error.detail) from error
        if not isinstance(first, dict) or first.get("format") != FORMAT:
            raise BackupRefused(BackupRefusal.NOT_A_BACKUP, str(path))
        if first.get("version") != FORMAT_VERSION:
            raise BackupRefused(
                BackupRefusal.NOT_A_BACKUP, f"format version {first.get('version')}"
            )
        self.revision = str(first.get("revision"))
        self.taken_at = str(first.get("taken_at"))
        self.in_tables = True
        self.pending: Any = self._next()

    def _raw(self) -> bytes:
        try:
            line = self.stream.readline()
        except (OSError, EOFError) as error:  # not gzip, or cut short
            raise BackupRefused(BackupRefusal.DAMAGED, f"{self.path}: {error}") from error
        if not line.endswith(b"\n"):
            raise BackupRefused(BackupRefusal.DAMAGED, f"{self.path}: ends inside a line")
        return line

    def _next(self) -> Any:
        line = self._raw()
        try:
            item = json.loads(line)
        except ValueError as error:
            raise BackupRefused(BackupRefusal.DAMAGED, f"{self.path}: {error}") from error
        if not (isinstance(item, dict) and "trailer" in item):
            self.hash.update(line)
            if self.in_tables:
                self.content.update(line)
        return item

    def tables(self) -> Iterator[tuple[_TableHeader, Iterator[list[list[Any]]]]]:
        while isinstance(self.pending, dict) and "table" in self.pending:
            header = _header(self.pending, self.path)
            self.seen.append(header)
            yield header, self._batches(header)
            if self.rows.get(header.name) is None:
                raise AssertionError("a table's rows must be read before the next table")

    def _batches(self, header: _TableHeader) -> Iterator[list[list[Any]]]:
        batch: list[list[Any]] = []
        count = 0
        while True:
            item = self._next()
            if isinstance(item, dict):
                break
            if not isinstance(item, list) or len(item) != len(header.columns):
                raise BackupRefused(BackupRefusal.DAMAGED, f"a row of {header.name}: {item!r:.80}")
            batch.append(item)
            count += 1
            if len(batch) == _ROWS_PER_INSERT:
                yield batch
                batch = []
        if batch:
            yield batch
        if item != {"end": header.name, "rows": count} or count != header.rows:
            raise BackupRefused(BackupRefusal.DAMAGED, f"{header.name}: {count} rows, {item}")
        self.rows[header.name] = count
        self.pending = self._next()

    def finish(self) -> BackupSummary:
        trailer = self.pending.get("trailer") if isinstance(self.pending, dict) else None
        if not isinstance(trailer, dict):
            raise BackupRefused(BackupRefusal.DAMAGED, f"{self.path}: no trailer")
        rest = self.stream.read(1)
        digest, content = self.hash.hexdigest(), self.content.hexdigest()
        if (rest or trailer.get("sha256") != digest or trailer.get("content_sha256") != content
                or trailer.get("rows") != self.rows):  # fmt: skip
            raise BackupRefused(BackupRefusal.DAMAGED, f"{self.path}: the trailer does not match")
        j = trailer["journal"]
        journal = JournalDigest(j["credit_accounts"], j["transactions"], j["postings"], j["sha256"])
        return BackupSummary(
            self.revision, self.taken_at, dict(self.rows), journal, digest, content
        )


def _header(item: dict[str, Any], path: Path) -> _TableHeader:
    try:
        header = _TableHeader(str(item["table"]), list(item["columns"]), list(item["kinds"]),
                              int(item["rows"]))  # fmt: skip
    except (KeyError, TypeError, ValueError) as error:
        raise BackupRefused(BackupRefusal.DAMAGED, f"{path}: table header {item!r:.80}") from error
    if len(header.kinds) != len(header.columns) or not set(header.kinds) <= set(KINDS.values()):
        raise BackupRefused(BackupRefusal.DAMAGED, f"{path}: table header {item!r:.80}")
    return header
