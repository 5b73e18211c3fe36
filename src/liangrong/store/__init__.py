"""The store's schema lifecycle (Alembic migrations) and the reference data in it:
``reference`` (securities master, reference prices, shared helpers), ``calendar_loads``,
``rule_versions`` and ``list_publications``; tables in ``schema``.

Invariants: the schema is only ever changed by a migration; every migration runs on
SQLite and PostgreSQL alike; append-only tables carry triggers that refuse UPDATE and
DELETE in the database itself, so no code path (ours or a console) can rewrite history;
every save takes the engine explicitly, is idempotent, and refuses a different value under
a key already recorded; whatever is loaded passes the domain's own refusals again.
"""
