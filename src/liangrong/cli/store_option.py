"""The ``--store`` option every command shares, and opening the store it names."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer
from sqlalchemy import Engine

from liangrong.ledger.engine import DEFAULT_SQLITE_PATH, default_url, open_engine
from liangrong.store.migrate import upgrade

STORE_HELP = (
    "SQLAlchemy URL of the store: the embedded SQLite file by default, "
    "or postgresql+psycopg://user:password@host/db for production."
)


def store_option() -> Any:
    return typer.Option(default_url(), "--store", envvar="LIANGRONG_STORE", help=STORE_HELP)


def open_store(url: str) -> Engine:
    """Open the store, creating the SQLite file's folder, and migrate it to the newest schema."""
    if url == default_url():
        Path(DEFAULT_SQLITE_PATH).parent.mkdir(parents=True, exist_ok=True)
    engine = open_engine(url)
    upgrade(engine)
    return engine
