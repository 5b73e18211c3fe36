"""The HTTP service (FastAPI): the book, the desk and the end of day over HTTP, with users,
roles and an audit log.

Invariants: the service holds one live trading day (``market.LiveMarket``) and touches it
only under its lock; every route is authenticated and authorised (``access.allow``) and
every state-changing call is in the audit log before its answer leaves (``AuditTrail``);
every refusal is a 4xx with a code and a reason, never a 5xx (``problems``).
"""
