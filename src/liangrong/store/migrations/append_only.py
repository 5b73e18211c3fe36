"""Triggers that make a table append-only, in each dialect's own words, and the tables of
dated firm parameters, which are."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op


def protect(table: str) -> None:
    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        for action in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER {table}_no_{action.lower()} BEFORE {action} ON {table} "
                f"BEGIN SELECT RAISE(ABORT, '{table} is append-only'); END"
            )
    elif dialect == "postgresql":
        op.execute(
            "CREATE OR REPLACE FUNCTION liangrong_append_only() RETURNS trigger AS $$ "
            "BEGIN RAISE EXCEPTION '% is append-only', TG_TABLE_NAME; END $$ LANGUAGE plpgsql"
        )
        op.execute(
            f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
            "FOR EACH ROW EXECUTE FUNCTION liangrong_append_only()"
        )
        op.execute(
            f"CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table} "
            "FOR EACH STATEMENT EXECUTE FUNCTION liangrong_append_only()"
        )
    else:
        raise NotImplementedError(f"append-only triggers for {dialect}")


def unprotect(table: str) -> None:
    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        for action in ("update", "delete"):
            op.execute(f"DROP TRIGGER IF EXISTS {table}_no_{action}")
    else:
        op.execute(f"DROP TRIGGER IF EXISTS {table}_append_only ON {table}")
        op.execute(f"DROP TRIGGER IF EXISTS {table}_no_truncate ON {table}")


def create_dated_table(name: str) -> None:
    """A dated firm parameter's append-only table (``store.dated_versions.dated_table``)."""
    op.create_table(
        name,
        sa.Column("version_id", sa.String(64), primary_key=True),
        sa.Column("effective", sa.Date, nullable=False),
        sa.Column("payload_json", sa.Text, nullable=False),
        sa.Column("source", sa.Text, nullable=False),
        sa.Column("recorded_at", sa.String(32), nullable=False),
        sa.UniqueConstraint("effective", name=f"uq_{name}_effective"),
    )
    protect(name)


def drop_protected(name: str) -> None:
    unprotect(name)
    op.drop_table(name)
