"""Identity documents on file, the firm's dated expiry policy, and what the end of day decided
from them (CLI-6, migration ``0012_identity_documents``; the rules: ``domain.identity_expiry``).

- ``identity_documents``: every document the firm took on file, as an event: a renewal is a
  new record of the same client and kind, never an edit; the one on file on a day is the
  last recorded on or before it (``recorded_on``, then the recording order ``seq``);
- ``identity_policy_versions``: the firm's ``IdentityExpiryPolicy`` versions, each with its
  effective date and source (a dated parameter, never a constant);
- ``identity_notices``: one reminder per document and expiry (the domain's id), recorded the
  first day the document needs attention;
- ``identity_restrictions``: the restriction decided for a client from a trading day on
  (``effective``), recorded when it changes: restricted (with the documents that restrict)
  or lifted.  ``restricted_clients`` reads it for a day's trading.

Invariants: all four tables are append-only (the database refuses UPDATE and DELETE);
every record has a key (record id, version id, notice id, client and effective date), saving
it again records nothing and the same key with another content is refused
(``IdentityConflict``); no record carries the wall clock unless the caller's clock is one.
A renewal on file lifts a restriction the day it is recorded, before any end of day has
run (``restricted_clients`` checks the restricting documents are still the ones on file).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import (
    Boolean,
    Column,
    Connection,
    Date,
    Engine,
    Index,
    Integer,
    String,
    Table,
    Text,
    and_,
    exists,
    func,
    or_,
    select,
)

from liangrong.domain.identity_expiry import (
    DocumentKind,
    DocumentStatus,
    ExpiryAction,
    IdentityDocument,
    IdentityExpiryPolicy,
    on_file,
)
from liangrong.domain.versions import History, Version
from liangrong.ledger.schema import metadata
from liangrong.store.reference import Clock, ReferenceConflict, stamp, write_lock

identity_documents = Table(
    "identity_documents",
    metadata,
    Column("seq", Integer, primary_key=True, autoincrement=False),  # the recording order
    Column("record_id", String(96), nullable=False, unique=True),
    Column("client_id", String(32), nullable=False),
    Column("kind", String(40), nullable=False),  # DocumentKind value
    Column("number", String(40), nullable=False),
    Column("valid_until", Date, nullable=True),  # the last valid day; NULL: long-term (长期)
    Column("recorded_on", Date, nullable=False),
    Column("generated", Boolean, nullable=False),  # True: a demo document, not a client's
    Column("source", Text, nullable=False),
    Column("recorded_at", String(32), nullable=False),
    Index("ix_identity_documents_on_file", "client_id", "kind", "recorded_on", "seq"),
    Index("ix_identity_documents_valid_until", "valid_until"),
)

identity_policy_versions = Table(
    "identity_policy_versions",
    metadata,
    Column("version_id", String(64), primary_key=True),
    Column("effective", Date, nullable=False, unique=True),
    Column("notice_days", Integer, nullable=False),
    Column("grace_days", Integer, nullable=False),
    Column("action", String(24), nullable=False),  # ExpiryAction value
    Column("source", Text, nullable=False),
    Column("recorded_at", String(32), nullable=False),
)

identity_notices = Table(
    "identity_notices",
    metadata,
    Column("notice_id", String(128), primary_key=True),  # identity:{client}:{kind}:{until}
    Column("client_id", String(32), nullable=False, index=True),
    Column("kind", String(40), nullable=False),
    Column("valid_until", Date, nullable=False),
    Column("decided_on", Date, nullable=False, index=True),  # the end of day that found it
    Column("status", String(16), nullable=False),  # DocumentStatus value that day
    Column("days_left", Integer, nullable=False),  # negative once expired
    Column("restricts_from", Date, nullable=True),  # None: the firm only reminds
    Column("policy_version", String(64), nullable=False),
    Column("at", String(32), nullable=False),
    Column("text_zh", Text, nullable=False),
    Column("text_en", Text, nullable=False),
)

identity_restrictions = Table(
    "identity_restrictions",
    metadata,
    Column("client_id", String(32), primary_key=True),
    Column("effective", Date, primary_key=True),  # the first trading day it applies
    Column("decided_on", Date, nullable=False, index=True),
    Column("restricted", Boolean, nullable=False),  # False: lifted
    Column("documents_json", Text, nullable=False),  # [[kind, valid_until], ...] restricting
    Column("policy_version", String(64), nullable=True),  # None: no policy in force
    Column("at", String(32), nullable=False),
)

IDENTITY_TABLES = (
    "identity_documents",
    "identity_policy_versions",
    "identity_notices",
    "identity_restrictions",
)
_CHUNK = 400  # ids per IN list: well under SQLite's bound parameters


class IdentityConflict(ReferenceConflict):
    """A key already recorded with another content: a record is never rewritten."""


def _chunks(items: Sequence[Any]) -> Iterable[Sequence[Any]]:
    for start in range(0, len(items), _CHUNK):
        yield items[start : start + _CHUNK]


def _refuse_changed(
    what: str, key: object, stored: Mapping[str, Any], row: Mapping[str, Any]
) -> None:
    if any(stored[name] != row[name] for name in stored):
        raise IdentityConflict(f"{what} {key} is recorded with another content")


# --------------------------------------------------------------------------- documents


@dataclass(frozen=True, slots=True)
class DocumentRecord:
    """A document taken on file: ``record_id`` makes recording it again a no-op."""

    record_id: str
    document: IdentityDocument
    generated: bool
    source: str


_DOCUMENT_FIELDS = ("record_id", "client_id", "kind", "number", "valid_until", "recorded_on",
                    "generated", "source")  # fmt: skip


def _document_row(r: DocumentRecord) -> dict[str, Any]:
    d = r.document
    return {
        "record_id": r.record_id,
        "client_id": d.client_id,
        "kind": d.kind.value,
        "number": d.number,
        "valid_until": d.valid_until,
        "recorded_on": d.recorded_on,
        "generated": r.generated,
        "source": r.source,
    }


def record_documents(engine: Engine, records: Sequence[DocumentRecord], *, clock: Clock) -> int:
    """Append the documents not on record yet, in the order given (a later one of the same
    client, kind and day is the one on file); returns how many were new."""
    t = identity_documents
    rows = {r.record_id: _document_row(r) for r in records}
    with write_lock(engine) as conn:
        fields = [t.c[name] for name in _DOCUMENT_FIELDS]
        for chunk in _chunks(sorted(rows)):
            query = select(*fields).where(t.c.record_id.in_(chunk))
            for stored in conn.execute(query).mappings():
                key = stored["record_id"]
                _refuse_changed("identity document", key, dict(stored), rows.pop(key))
        if not rows:
            return 0
        seq = int(conn.execute(select(func.coalesce(func.max(t.c.seq), 0))).scalar_one())
        at = stamp(clock)
        fresh = [
            {**row, "seq": seq + n, "recorded_at": at} for n, row in enumerate(rows.values(), 1)
        ]
        conn.execute(t.insert(), fresh)
    return len(fresh)


def _document(r: Any) -> IdentityDocument:
    return IdentityDocument(
        r.client_id, DocumentKind(r.kind), r.number, r.valid_until, r.recorded_on
    )


def documents_due(engine: Engine, on: date, horizon: date) -> list[IdentityDocument]:
    """The documents on file on ``on`` whose last valid day is ``horizon`` or earlier (the
    ones that may be expiring, expired or restricting), by client and kind.  Only those rows
    are read: the range of the expiry index, each checked against a later record of its
    client and kind by the on-file index (a renewed document is not on file)."""
    t = identity_documents
    later = identity_documents.alias("later")
    renewed = exists().where(
        and_(
            later.c.client_id == t.c.client_id,
            later.c.kind == t.c.kind,
            later.c.recorded_on <= on,
            or_(
                later.c.recorded_on > t.c.recorded_on,
                and_(later.c.recorded_on == t.c.recorded_on, later.c.seq > t.c.seq),
            ),
        )
    )
    query = (
        select(t.c.client_id, t.c.kind, t.c.number, t.c.valid_until, t.c.recorded_on)
        .where(t.c.valid_until <= horizon, t.c.recorded_on <= on, ~renewed)
        .order_by(t.c.client_id, t.c.kind)
    )
    with engine.connect() as conn:
        return [_document(r) for r in conn.execute(query)]


def client_documents(engine: Engine, client_ids: Iterable[str]) -> list[IdentityDocument]:
    """Every record of these clients, in recording order (``on_file`` picks the current)."""
    t = identity_documents
    found: list[tuple[int, IdentityDocument]] = []
    with engine.connect() as conn:
        for chunk in _chunks(sorted(set(client_ids))):
            rows = conn.execute(select(t).where(t.c.client_id.in_(chunk)))
            found.extend((r.seq, _document(r)) for r in rows)
    found.sort(key=lambda pair: (pair[1].recorded_on, pair[0]))
    return [document for _, document in found]


# --------------------------------------------------------------------------- the policy


def save_policy_versions(
    engine: Engine, versions: Iterable[Version[IdentityExpiryPolicy]], *, clock: Clock
) -> int:
    """Record policy versions (idempotent; a version dated before the last is refused by
    ``History``); returns how many were new."""
    t = identity_policy_versions
    wanted = {
        v.version_id: {
            "version_id": v.version_id,
            "effective": v.effective,
            "notice_days": v.value.notice_days,
            "grace_days": v.value.grace_days,
            "action": v.value.action.value,
            "source": v.source,
        }
        for v in versions
    }
    with write_lock(engine) as conn:
        known = {r["version_id"]: dict(r) for r in conn.execute(select(t)).mappings()}
        fresh = []
        for version_id, row in wanted.items():
            if version_id in known:
                stored = {name: known[version_id][name] for name in row}
                _refuse_changed("identity policy version", version_id, stored, row)
            else:
                fresh.append(row)
        if not fresh:
            return 0
        # the stored versions by date, then the new ones in the order given: ``History``
        # refuses one not after the version before it (a parameter is never dated back)
        History((*_history(known.values()).versions, *map(_version, fresh)))
        at = stamp(clock)
        conn.execute(t.insert(), [{**row, "recorded_at": at} for row in fresh])
    return len(fresh)


def _version(r: Mapping[str, Any]) -> Version[IdentityExpiryPolicy]:
    policy = IdentityExpiryPolicy(r["notice_days"], r["grace_days"], ExpiryAction(r["action"]))
    return Version(r["version_id"], r["effective"], policy, r["source"])


def _history(rows: Iterable[Mapping[str, Any]]) -> History[IdentityExpiryPolicy]:
    return History(tuple(_version(r) for r in sorted(rows, key=lambda r: r["effective"])))


def load_policy_history(engine: Engine) -> History[IdentityExpiryPolicy]:
    with engine.connect() as conn:
        return _history(
            [dict(r) for r in conn.execute(select(identity_policy_versions)).mappings()]
        )


# --------------------------------------------------------------------------- notices


@dataclass(frozen=True, slots=True)
class IdentityNotice:
    notice_id: str
    client_id: str
    kind: DocumentKind
    valid_until: date
    decided_on: date
    status: DocumentStatus
    days_left: int
    restricts_from: date | None
    policy_version: str
    at: str
    text_zh: str
    text_en: str


def _notice_row(n: IdentityNotice) -> dict[str, Any]:
    return {
        "notice_id": n.notice_id, "client_id": n.client_id, "kind": n.kind.value,
        "valid_until": n.valid_until, "decided_on": n.decided_on, "status": n.status.value,
        "days_left": n.days_left, "restricts_from": n.restricts_from,
        "policy_version": n.policy_version, "at": n.at, "text_zh": n.text_zh,
        "text_en": n.text_en,
    }  # fmt: skip


def _new_only(conn: Connection, column: Any, rows: dict[Any, dict[str, Any]]) -> None:
    """Drop from ``rows`` (by key) the ones already stored under ``column``."""
    for chunk in _chunks(sorted(rows)):
        for key in conn.execute(select(column).where(column.in_(chunk))).scalars():
            rows.pop(key)


def save_notices(engine: Engine, notices: Sequence[IdentityNotice]) -> int:
    """Append the notices whose ids are new (a document's reminder is sent once); returns
    how many were new."""
    rows = {n.notice_id: _notice_row(n) for n in notices}
    with write_lock(engine) as conn:
        _new_only(conn, identity_notices.c.notice_id, rows)
        if rows:
            conn.execute(identity_notices.insert(), list(rows.values()))
    return len(rows)


def load_notices(
    engine: Engine, *, decided_on: date | None = None, client_id: str | None = None
) -> list[IdentityNotice]:
    """By the day found, then id."""
    t = identity_notices
    query = select(t).order_by(t.c.decided_on, t.c.notice_id)
    if decided_on is not None:
        query = query.where(t.c.decided_on == decided_on)
    if client_id is not None:
        query = query.where(t.c.client_id == client_id)
    with engine.connect() as conn:
        return [
            IdentityNotice(
                r.notice_id, r.client_id, DocumentKind(r.kind), r.valid_until, r.decided_on,
                DocumentStatus(r.status), r.days_left, r.restricts_from, r.policy_version, r.at,
                r.text_zh, r.text_en,
            )
            for r in conn.execute(query)
        ]  # fmt: skip


# --------------------------------------------------------------------------- restrictions

Restricting = tuple[tuple[DocumentKind, date], ...]  # (kind, last valid day), sorted


@dataclass(frozen=True, slots=True)
class RestrictionDecision:
    """From ``effective`` on, the client is restricted by ``documents`` (or, not
    ``restricted``, no longer), as decided by the end of day of ``decided_on``."""

    client_id: str
    effective: date
    decided_on: date
    restricted: bool
    documents: Restricting
    policy_version: str | None
    at: str


def _documents_json(documents: Restricting) -> str:
    return json.dumps([[kind.value, until.isoformat()] for kind, until in documents])


def _decision(r: Any) -> RestrictionDecision:
    documents = tuple(
        (DocumentKind(kind), date.fromisoformat(until))
        for kind, until in json.loads(r.documents_json)
    )
    return RestrictionDecision(
        r.client_id, r.effective, r.decided_on, r.restricted, documents, r.policy_version, r.at
    )


def save_restriction_decisions(engine: Engine, decisions: Sequence[RestrictionDecision]) -> int:
    """Append the decisions not recorded yet (by client and effective day); the same key
    with another content is refused.  Returns how many were new."""
    t = identity_restrictions
    rows = {
        (d.client_id, d.effective): {
            "client_id": d.client_id, "effective": d.effective, "decided_on": d.decided_on,
            "restricted": d.restricted, "documents_json": _documents_json(d.documents),
            "policy_version": d.policy_version, "at": d.at,
        }
        for d in decisions
    }  # fmt: skip
    with write_lock(engine) as conn:
        for chunk in _chunks(sorted({client for client, _ in rows})):
            for stored in conn.execute(select(t).where(t.c.client_id.in_(chunk))).mappings():
                key = (stored["client_id"], stored["effective"])
                if key in rows:
                    _refuse_changed("identity restriction", key, dict(stored), rows.pop(key))
        if rows:
            conn.execute(t.insert(), list(rows.values()))
    return len(rows)


def latest_decisions(
    engine: Engine, *, decided_before: date | None = None, effective_by: date | None = None
) -> dict[str, RestrictionDecision]:
    """Each client's latest decision (by effective day) among those decided before
    ``decided_before`` and in force by ``effective_by`` (either bound optional)."""
    t = identity_restrictions
    query = select(t)
    if decided_before is not None:
        query = query.where(t.c.decided_on < decided_before)
    if effective_by is not None:
        query = query.where(t.c.effective <= effective_by)
    latest: dict[str, RestrictionDecision] = {}
    with engine.connect() as conn:
        for r in conn.execute(query.order_by(t.c.client_id, t.c.effective)):
            latest[r.client_id] = _decision(r)
    return latest


def load_decisions(engine: Engine, *, decided_on: date | None = None) -> list[RestrictionDecision]:
    t = identity_restrictions
    query = select(t).order_by(t.c.decided_on, t.c.client_id, t.c.effective)
    if decided_on is not None:
        query = query.where(t.c.decided_on == decided_on)
    with engine.connect() as conn:
        return [_decision(r) for r in conn.execute(query)]


def restriction_reason(documents: Restricting) -> str:
    listed = ", ".join(f"{kind.value} valid until {until.isoformat()}" for kind, until in documents)
    return f"identity document expired and not renewed within the grace: {listed}"


def restricted_clients(engine: Engine, on: date) -> dict[str, str]:
    """The clients whose credit account takes no new financing or shorts on ``on`` (the
    day's trading), with the reason: the latest decision in force by ``on``, less the
    documents renewed on file by then (a renewal lifts the restriction the day it is
    recorded, before the next end of day records the lift)."""
    restricted = {
        client: decision
        for client, decision in latest_decisions(engine, effective_by=on).items()
        if decision.restricted
    }
    current = {
        (d.client_id, d.kind): d.valid_until
        for d in on_file(client_documents(engine, restricted), on)
    }
    reasons: dict[str, str] = {}
    for client, decision in sorted(restricted.items()):
        still = tuple(
            (kind, until)
            for kind, until in decision.documents
            if current.get((client, kind)) == until
        )
        if still:
            reasons[client] = restriction_reason(still)
    return reasons
