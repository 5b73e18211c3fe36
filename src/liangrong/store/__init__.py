"""The store's schema lifecycle (Alembic migrations) and the reference-data tables.

Invariants: the schema is only ever changed by a migration; every migration runs on
SQLite and PostgreSQL alike; append-only tables carry triggers that refuse UPDATE and
DELETE in the database itself, so no code path (ours or a console) can rewrite history.
"""
