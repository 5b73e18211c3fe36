"""The service's users and its audit log (migration ``0010_api_access``).

Invariants:
- a key is shown once, when issued; the store keeps only its SHA-256, so a stolen database
  gives no usable key; a revoked key never authenticates again;
- a client user is bound to exactly one client id, a staff user to none;
- the audit log is append-only (database triggers): each entry says who, when, what (action,
  method, path, subject, the request's body) and the result (status code and outcome).
"""

from __future__ import annotations

import hashlib
import json
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Column, Engine, Integer, String, Table, Text, insert, select, update

from liangrong.domain.access import Role
from liangrong.ledger.schema import metadata

api_users = Table(
    "api_users",
    metadata,
    Column("user_id", String(64), primary_key=True),
    Column("role", String(16), nullable=False),
    Column("client_id", String(32), nullable=True),
    Column("key_sha256", String(64), nullable=False, unique=True),
    Column("created_at", String(32), nullable=False),
    Column("revoked_at", String(32), nullable=True),
)

api_audit = Table(
    "api_audit",
    metadata,
    Column("seq", Integer, primary_key=True, autoincrement=True),
    Column("at", String(32), nullable=False),
    Column("user_id", String(64), nullable=False, index=True),
    Column("role", String(16), nullable=False),
    Column("action", String(24), nullable=False),
    Column("method", String(8), nullable=False),
    Column("path", String(256), nullable=False),
    Column("subject", String(96), nullable=False),
    Column("request_json", Text, nullable=False),
    Column("status_code", Integer, nullable=False),
    Column("outcome_json", Text, nullable=False),
)

KEY_BYTES = 24  # 192 bits of secrecy, url-safe text of 32 characters


class UserConflict(ValueError):
    """The user exists already, or the role and client binding do not fit together."""


@dataclass(frozen=True, slots=True)
class ApiUser:
    user_id: str
    role: Role
    client_id: str | None  # the one client a client user is bound to


@dataclass(frozen=True, slots=True)
class AuditEntry:
    at: str
    user_id: str
    role: str
    action: str
    method: str
    path: str
    subject: str
    request: object
    status_code: int
    outcome: object
    seq: int | None = None


def key_digest(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def issue_key(engine: Engine, user_id: str, role: Role, client_id: str | None, at: datetime) -> str:
    """Create the user and return their new API key (the only time it is visible)."""
    if (role is Role.CLIENT) != (client_id is not None):
        raise UserConflict("a client user is bound to one client id; staff users to none")
    key = secrets.token_urlsafe(KEY_BYTES)
    with engine.begin() as conn:
        if conn.execute(select(api_users.c.user_id).where(api_users.c.user_id == user_id)).first():
            raise UserConflict(f"user {user_id!r} exists already")
        conn.execute(
            insert(api_users).values(
                user_id=user_id,
                role=role.value,
                client_id=client_id,
                key_sha256=key_digest(key),
                created_at=at.isoformat(),
            )
        )
    return key


def revoke(engine: Engine, user_id: str, at: datetime) -> bool:
    with engine.begin() as conn:
        result = conn.execute(
            update(api_users)
            .where(api_users.c.user_id == user_id, api_users.c.revoked_at.is_(None))
            .values(revoked_at=at.isoformat())
        )
    return bool(result.rowcount)


def user_for_key(engine: Engine, key: str) -> ApiUser | None:
    u = api_users.c
    with engine.connect() as conn:
        row = conn.execute(
            select(u.user_id, u.role, u.client_id).where(
                u.key_sha256 == key_digest(key), u.revoked_at.is_(None)
            )
        ).first()
    return None if row is None else ApiUser(row.user_id, Role(row.role), row.client_id)


def users(engine: Engine) -> list[ApiUser]:
    u = api_users.c
    with engine.connect() as conn:
        rows = conn.execute(
            select(u.user_id, u.role, u.client_id).where(u.revoked_at.is_(None)).order_by(u.user_id)
        ).all()
    return [ApiUser(r.user_id, Role(r.role), r.client_id) for r in rows]


def _json(value: object) -> str:
    return json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(",", ":"))


def append_audit(engine: Engine, entry: AuditEntry) -> int:
    with engine.begin() as conn:
        result = conn.execute(
            insert(api_audit).values(
                at=entry.at,
                user_id=entry.user_id,
                role=entry.role,
                action=entry.action,
                method=entry.method,
                path=entry.path[:256],
                subject=entry.subject[:96],
                request_json=_json(entry.request),
                status_code=entry.status_code,
                outcome_json=_json(entry.outcome),
            )
        )
    key = result.inserted_primary_key
    assert key is not None
    return int(key[0])


def audit_entries(
    engine: Engine, after_seq: int = 0, limit: int = 100, user_id: str | None = None
) -> Sequence[AuditEntry]:
    a = api_audit.c
    query = select(api_audit).where(a.seq > after_seq).order_by(a.seq).limit(limit)
    if user_id is not None:
        query = query.where(a.user_id == user_id)
    with engine.connect() as conn:
        rows = conn.execute(query).all()
    return [_entry(r) for r in rows]


def _entry(r: Any) -> AuditEntry:
    request, outcome = json.loads(r.request_json), json.loads(r.outcome_json)
    return AuditEntry(r.at, r.user_id, r.role, r.action, r.method, r.path, r.subject,
                      request, r.status_code, outcome, r.seq)  # fmt: skip
