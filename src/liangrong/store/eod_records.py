"""Saving and loading the end of day's records (tables in ``eod_tables``).

Invariants:
- a completed step is recorded once per trading date and name; recording it again with the
  same digest changes nothing, with another digest is refused (``StepConflict``): a rerun
  that would produce something else is never silently accepted;
- contract events, extension requests and security term events are keyed by deterministic
  ids: saving an id already stored changes nothing (its content must be the same), so a
  step interrupted half way and run again never duplicates a record; sequence numbers are
  assigned in the order given, under the write lock;
- the accrual state is kept in ``store.accrual_state``.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import Connection, Engine, func, select

from liangrong.domain.contract_lifecycle import Suspension
from liangrong.ledger.schema import key_chunks
from liangrong.store.eod_tables import (
    contract_events,
    eod_steps,
    extension_requests,
    security_term_events,
)
from liangrong.store.reference import ReferenceConflict, write_lock


def canonical(value: object) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


# --------------------------------------------------------------------------- steps


class StepConflict(ReferenceConflict):
    """A step recorded with another digest: the rerun produced something else."""


@dataclass(frozen=True, slots=True)
class StepRecord:
    trading_date: date
    step: str
    position: int
    completed_at: str
    digest: str
    summary: dict[str, Any]


def record_step(engine: Engine, record: StepRecord) -> bool:
    """Record a completed step; False when it was recorded before (with the same digest)."""
    t = eod_steps
    with write_lock(engine) as conn:
        stored = conn.execute(
            select(t.c.digest).where(
                t.c.trading_date == record.trading_date, t.c.step == record.step
            )
        ).scalar_one_or_none()
        if stored is not None:
            if stored != record.digest:
                raise StepConflict(
                    f"step {record.step} of {record.trading_date} was recorded with digest "
                    f"{stored[:12]}…, this run produced {record.digest[:12]}…"
                )
            return False
        conn.execute(
            t.insert().values(
                trading_date=record.trading_date,
                step=record.step,
                position=record.position,
                completed_at=record.completed_at,
                digest=record.digest,
                summary_json=canonical(record.summary),
            )
        )
    return True


def completed_steps(engine: Engine, trading_date: date) -> dict[str, StepRecord]:
    t = eod_steps
    with engine.connect() as conn:
        rows = conn.execute(
            select(t).where(t.c.trading_date == trading_date).order_by(t.c.position)
        )
        return {
            r.step: StepRecord(
                r.trading_date, r.step, r.position, r.completed_at, r.digest,
                json.loads(r.summary_json),
            )
            for r in rows
        }  # fmt: skip


def steps_by_date(engine: Engine) -> dict[date, set[str]]:
    """Every trading date with a completed step, and the names completed."""
    t = eod_steps
    found: dict[date, set[str]] = {}
    with engine.connect() as conn:
        for day, step in conn.execute(select(t.c.trading_date, t.c.step)):
            found.setdefault(day, set()).add(step)
    return found


# --------------------------------------------------------------------------- contract events


@dataclass(frozen=True, slots=True)
class ContractEvent:
    event_id: str
    contract_id: str
    client_id: str
    trading_date: date
    kind: str
    maturity: date | None
    payload: dict[str, Any]


def _event(r: Any) -> ContractEvent:
    return ContractEvent(
        r.event_id, r.contract_id, r.client_id, r.trading_date, r.kind, r.maturity,
        json.loads(r.payload_json),
    )  # fmt: skip


def save_contract_events(engine: Engine, events: Sequence[ContractEvent], recorded_at: str) -> int:
    """Insert the events whose ids are new, in the order given; returns how many."""
    t = contract_events
    with write_lock(engine) as conn:
        known = _known_ids(conn, (e.event_id for e in events))
        seq = int(conn.execute(select(func.coalesce(func.max(t.c.seq), 0))).scalar_one())
        rows = []
        for e in events:
            if e.event_id in known:
                continue
            known.add(e.event_id)
            seq += 1
            rows.append(
                {
                    "event_id": e.event_id, "seq": seq, "contract_id": e.contract_id,
                    "client_id": e.client_id, "trading_date": e.trading_date, "kind": e.kind,
                    "maturity": e.maturity, "payload_json": canonical(e.payload),
                    "recorded_at": recorded_at,
                }
            )  # fmt: skip
        if rows:
            conn.execute(t.insert(), rows)
    return len(rows)


def load_contract_events(
    engine: Engine,
    *,
    kinds: Iterable[str] | None = None,
    through: date | None = None,
    on: date | None = None,
) -> list[ContractEvent]:
    """Events in the order recorded; ``through``: dated on or before; ``on``: that day."""
    t = contract_events
    query = select(t).order_by(t.c.seq)
    if kinds is not None:
        query = query.where(t.c.kind.in_(sorted(kinds)))
    if through is not None:
        query = query.where(t.c.trading_date <= through)
    if on is not None:
        query = query.where(t.c.trading_date == on)
    with engine.connect() as conn:
        return [_event(r) for r in conn.execute(query)]


def recorded_event_ids(engine: Engine, event_ids: Iterable[str]) -> set[str]:
    """Those of ``event_ids`` already recorded (primary-key probes, not a read of a kind's
    whole history)."""
    with engine.connect() as conn:
        return _known_ids(conn, event_ids)


def _known_ids(conn: Connection, event_ids: Iterable[str]) -> set[str]:
    t = contract_events
    found: set[str] = set()
    for chunk in key_chunks(sorted(set(event_ids))):
        found.update(conn.execute(select(t.c.event_id).where(t.c.event_id.in_(chunk))).scalars())
    return found


# --------------------------------------------------------------------------- requests, events


@dataclass(frozen=True, slots=True)
class ExtensionRequestRecord:
    request_id: str
    contract_id: str
    client_id: str
    requested_on: date
    new_maturity: date | None
    agreement_end: date
    committee_approval: str | None = None


def save_extension_request(
    engine: Engine, request: ExtensionRequestRecord, recorded_at: str
) -> bool:
    """Record a client's request (False when its id was recorded before, identically)."""
    t = extension_requests
    row = {
        "request_id": request.request_id, "contract_id": request.contract_id,
        "client_id": request.client_id, "requested_on": request.requested_on,
        "new_maturity": request.new_maturity, "agreement_end": request.agreement_end,
        "committee_approval": request.committee_approval,
    }  # fmt: skip
    with write_lock(engine) as conn:
        stored = conn.execute(select(t).where(t.c.request_id == request.request_id)).first()
        if stored is not None:
            if any(getattr(stored, k) != v for k, v in row.items()):
                raise ReferenceConflict(f"request {request.request_id} recorded otherwise")
            return False
        conn.execute(t.insert().values(**row, recorded_at=recorded_at))
    return True


def load_extension_requests(engine: Engine, on: date | None = None) -> list[ExtensionRequestRecord]:
    t = extension_requests
    query = select(t).order_by(t.c.requested_on, t.c.request_id)
    if on is not None:
        query = query.where(t.c.requested_on == on)
    with engine.connect() as conn:
        return [
            ExtensionRequestRecord(
                r.request_id, r.contract_id, r.client_id, r.requested_on, r.new_maturity,
                r.agreement_end, r.committee_approval,
            )
            for r in conn.execute(query)
        ]  # fmt: skip


SUSPENDED, RESUMED, LAST_TRADING_DAY = "suspended", "resumed", "last_trading_day"
SECURITY_EVENT_KINDS = (SUSPENDED, RESUMED, LAST_TRADING_DAY)


@dataclass(frozen=True, slots=True)
class SecurityTermEvent:
    """A security's trading suspended from ``on``, resumed on ``on`` (the first day trading
    again), or its last trading day announced (delisting)."""

    event_id: str
    symbol: str
    kind: str
    on: date
    source: str

    def __post_init__(self) -> None:
        if self.kind not in SECURITY_EVENT_KINDS:
            raise ValueError(f"kind {self.kind!r}: one of {SECURITY_EVENT_KINDS}")


def save_security_events(
    engine: Engine, events: Sequence[SecurityTermEvent], recorded_at: str
) -> int:
    t = security_term_events
    with write_lock(engine) as conn:
        stored = {
            r.event_id: (r.symbol, r.kind, r.on_date, r.source) for r in conn.execute(select(t))
        }
        rows = []
        for e in events:
            content = (e.symbol, e.kind, e.on, e.source)
            if e.event_id in stored:
                if stored[e.event_id] != content:
                    raise ReferenceConflict(f"security event {e.event_id} recorded otherwise")
                continue
            stored[e.event_id] = content
            rows.append(
                {"event_id": e.event_id, "symbol": e.symbol, "kind": e.kind, "on_date": e.on,
                 "source": e.source, "recorded_at": recorded_at}
            )  # fmt: skip
        if rows:
            conn.execute(t.insert(), rows)
    return len(rows)


def load_security_events(engine: Engine) -> list[SecurityTermEvent]:
    t = security_term_events
    with engine.connect() as conn:
        rows = conn.execute(select(t).order_by(t.c.on_date, t.c.event_id))
        return [SecurityTermEvent(r.event_id, r.symbol, r.kind, r.on_date, r.source) for r in rows]


def suspensions_on(events: Sequence[SecurityTermEvent], day: date) -> dict[str, Suspension]:
    """Each security's latest suspension begun on or before ``day``, with its resumption when
    one is recorded (the first trading day again, possibly announced ahead)."""
    found: dict[str, Suspension] = {}
    for event in sorted(events, key=lambda e: (e.symbol, e.on, e.kind)):
        if event.kind == SUSPENDED and event.on <= day:
            found[event.symbol] = Suspension(event.symbol, event.on)
        elif event.kind == RESUMED:
            current = found.get(event.symbol)
            if (
                current is not None
                and current.resumed_on is None
                and event.on > current.suspended_from
            ):
                found[event.symbol] = Suspension(event.symbol, current.suspended_from, event.on)
    return found
