"""The double-entry journal and its projections.

Invariants:
- the journal (transactions and postings) is append-only; the store refuses UPDATE and
  DELETE on it, so history cannot be silently altered (GOV-4);
- a command id is applied at most once: the same id again changes nothing, the same id
  with another payload is refused;
- balances and contracts are projections of the journal: ``rebuild`` recomputes them and
  must give the same bytes (``projection_digest``);
- one writer at a time: each write holds the store's write lock from the balance read to
  the commit, so no check can be raced past.
Imports only ``liangrong.domain`` besides SQLAlchemy.
"""
