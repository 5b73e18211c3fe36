"""Bring a store to the newest schema with Alembic, programmatically."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine

MIGRATIONS = Path(__file__).resolve().parent / "migrations"


def _config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return config


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Migrate the store up to ``revision`` (the newest by default)."""
    _migrate(engine, command.upgrade, revision)


def downgrade(engine: Engine, revision: str) -> None:
    """Migrate the store down to ``revision`` (each migration's downgrade carries its data)."""
    _migrate(engine, command.downgrade, revision)


def _migrate(engine: Engine, move: Callable[[Config, str], None], revision: str) -> None:
    with engine.begin() as conn:  # the whole move in one transaction
        config = _config()
        config.attributes["connection"] = conn
        move(config, revision)


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def known_revisions() -> set[str]:
    return {script.revision for script in ScriptDirectory.from_config(_config()).walk_revisions()}


def revisions_through(revision: str) -> set[str]:
    """``revision`` and every revision before it."""
    scripts = ScriptDirectory.from_config(_config()).iterate_revisions(revision, "base")
    return {script.revision for script in scripts}


def head_revision() -> str | None:
    return ScriptDirectory.from_config(_config()).get_current_head()
