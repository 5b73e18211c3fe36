"""Shared fixtures: stores on SQLite and on the real PostgreSQL the test command starts.

``python3 run.py test`` runs pytest under ``pg_virtualenv`` (which exports PGHOST, PGPORT,
PGUSER, PGPASSWORD) and sets LIANGRONG_REQUIRE_POSTGRES=1, so a missing server fails the
run instead of skipping the PostgreSQL half silently.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, create_engine, event, text

from liangrong.ledger.engine import open_engine
from liangrong.sim.session import SessionConfig, run_session
from liangrong.store.migrate import upgrade


def postgres_admin_url(database: str = "postgres") -> str | None:
    host = os.environ.get("PGHOST")
    if not host:
        return None
    user = os.environ.get("PGUSER", "postgres")
    password = os.environ.get("PGPASSWORD", "")
    port = os.environ.get("PGPORT", "5432")
    return f"postgresql+psycopg://{user}:{password}@{host}:{port}/{database}"


def _require_postgres() -> str:
    url = postgres_admin_url()
    if url is None:
        if os.environ.get("LIANGRONG_REQUIRE_POSTGRES") == "1":
            pytest.fail(
                "PostgreSQL is required (PGHOST unset): run the suite via `python3 run.py test`"
            )
        pytest.skip("no PostgreSQL server in this environment")
    return url


@pytest.fixture
def fixed_clock() -> Iterator[object]:
    start = datetime(2026, 11, 20, 9, 30, tzinfo=UTC)
    ticks = iter(range(10**9))

    def clock() -> datetime:
        return start + timedelta(microseconds=next(ticks))

    yield clock


def make_sqlite_engine(tmp_path: object) -> Engine:
    engine = open_engine(f"sqlite:///{tmp_path}/store-{uuid.uuid4().hex[:8]}.sqlite")
    upgrade(engine)
    return engine


def query_plan(engine: Engine, fragment: str, action: Callable[[], object]) -> list[Any]:
    """SQLite's plan of the one statement ``action`` runs whose text holds ``fragment``."""
    seen: list[tuple[str, Any]] = []

    def keep(conn: Any, cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        if fragment in statement:
            seen.append((statement, parameters))

    event.listen(engine, "before_cursor_execute", keep)
    try:
        action()
    finally:
        event.remove(engine, "before_cursor_execute", keep)
    ((statement, parameters),) = seen
    with engine.connect() as conn:
        return list(conn.exec_driver_sql("EXPLAIN QUERY PLAN " + statement, parameters).all())


def session_store(path: Path, config: SessionConfig) -> Engine:
    """A SQLite store at ``path``, migrated, after the simulated session ``config``."""
    engine = open_engine(f"sqlite:///{path}")
    upgrade(engine)
    run_session(engine, config)
    return engine


def make_postgres_engine() -> tuple[Engine, str]:
    admin_url = _require_postgres()
    name = f"lr_{uuid.uuid4().hex[:12]}"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    engine = open_engine(admin_url.rsplit("/", 1)[0] + f"/{name}")
    upgrade(engine)
    return engine, name


def drop_postgres(engine: Engine, name: str) -> None:
    engine.dispose()
    admin_url = postgres_admin_url()
    assert admin_url is not None
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def store(request: pytest.FixtureRequest, tmp_path: object) -> Iterator[Engine]:
    """A migrated, empty store on each backend."""
    if request.param == "sqlite":
        engine = make_sqlite_engine(tmp_path)
        yield engine
        engine.dispose()
    else:
        engine, name = make_postgres_engine()
        yield engine
        drop_postgres(engine, name)
