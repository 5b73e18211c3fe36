"""Opening the store: SQLite (WAL) by default, PostgreSQL by URL."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine, create_engine, event

DEFAULT_SQLITE_PATH = "var/liangrong.sqlite"


def default_url(path: str = DEFAULT_SQLITE_PATH) -> str:
    return f"sqlite:///{path}"


_WRITER_PRAGMAS = ("journal_mode=WAL", "synchronous=FULL", "foreign_keys=ON",
                   "busy_timeout=30000", "cache_size=-65536")  # fmt: skip
_READER_PRAGMAS = ("busy_timeout=30000", "query_only=ON")


def open_engine(url: str) -> Engine:
    """An engine whose transactions take the write lock at BEGIN on SQLite."""
    if url.startswith("sqlite"):
        return _sqlite_engine(url, _WRITER_PRAGMAS, "BEGIN IMMEDIATE")
    return create_engine(url, pool_pre_ping=True)


def open_snapshot_engine(url: str) -> Engine:
    """An engine whose transactions only read, each from one snapshot of the store taken at
    its first read, without blocking writers: a deferred read transaction in SQLite's WAL
    (``query_only``), a read-only REPEATABLE READ transaction on PostgreSQL."""
    if url.startswith("sqlite"):
        return _sqlite_engine(url, _READER_PRAGMAS, "BEGIN DEFERRED")
    return create_engine(
        url, pool_pre_ping=True, isolation_level="REPEATABLE READ"
    ).execution_options(postgresql_readonly=True)


def is_sqlite(engine: Engine) -> bool:
    return engine.dialect.name == "sqlite"


def _sqlite_engine(url: str, pragmas: tuple[str, ...], begin: str) -> Engine:
    engine = create_engine(url, connect_args={"timeout": 30})

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let us issue BEGIN ourselves: pysqlite's implicit BEGIN is deferred, which would
        # let two writers read the same balances before either takes the lock.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        for pragma in pragmas:
            cursor.execute(f"PRAGMA {pragma}")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        connection.exec_driver_sql(begin)

    return engine
