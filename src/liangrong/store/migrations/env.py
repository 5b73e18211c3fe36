"""Alembic environment: runs on the connection handed in by liangrong.store.migrate."""

from __future__ import annotations

from alembic import context

# The reference tables' module puts them on the ledger's metadata: one MetaData, whole store.
from liangrong.store import (  # noqa: F401  (each registers its tables)
    api_access,
    clearing_records,
    collections,
    drill_records,
    eod_tables,
    firm_alerts,
    identity_documents,
    index_closes,
    other_collateral,
    recorded_defaults,
    report_submissions,
    restriction_tables,
    risk_tables,
    stress_records,
)
from liangrong.store.schema import metadata

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run migrations through liangrong.store.migrate.upgrade(engine)")
context.configure(connection=connection, target_metadata=metadata, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
