"""Saving and loading the risk desk's records: status changes (RISK-5), margin-call events
and the notice outbox (RISK-6), liquidation runs and recovery cases (RISK-7).

Invariants: every table is append-only (a call's life is its sequence of events; the latest
event of a client is its current call and account status); saving an event or a notice
whose id is already stored changes nothing, so re-running an evaluation or a liquidation
step never duplicates a record.  Ratios are stored exactly (``rule_codec.exact_text``).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from fractions import Fraction
from typing import Any

from sqlalchemy import Connection, Engine, Table, func, select

from liangrong.domain.liquidation import LiquidationReason, RecoveryCase
from liangrong.domain.margin_calls import (
    CallDecision,
    CallState,
    Channel,
    Evaluation,
    MarginCall,
    Notice,
    NoticeKind,
)
from liangrong.domain.pretrade_state import AccountStatus
from liangrong.domain.rule_codec import exact_text
from liangrong.ledger.schema import key_chunks
from liangrong.store.risk_tables import (
    call_events,
    liquidation_runs,
    notices,
    recovery_cases,
    status_events,
)

_OPEN = frozenset({CallState.OPEN, CallState.MISSED, CallState.EMERGENCY})


def ratio_text(value: Fraction | None) -> str | None:
    """The rule codec's exact text (``"1.3"``, ``"1/3"``); None: no debt."""
    return None if value is None else exact_text(value)


def ratio_of(text: str | None) -> Fraction | None:
    return None if text is None else Fraction(text)


def _next_seq(conn: Connection, table: Table) -> int:
    return int(conn.execute(select(func.coalesce(func.max(table.c.seq), 0))).scalar_one()) + 1


# --- status changes ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class StatusRecord:
    client_id: str
    old: str
    new: str
    at: str
    ratio: Fraction | None
    lines: str
    prices_at: str


def save_status_changes(engine: Engine, records: Sequence[StatusRecord]) -> None:
    if not records:
        return
    with engine.begin() as conn:
        conn.execute(
            status_events.insert(),
            [
                {
                    "client_id": r.client_id,
                    "old": r.old,
                    "new": r.new,
                    "at": r.at,
                    "ratio": ratio_text(r.ratio),
                    "lines": r.lines,
                    "prices_at": r.prices_at,
                }
                for r in records
            ],
        )


def status_history(engine: Engine, client_id: str | None = None) -> list[StatusRecord]:
    t = status_events
    query = select(t).order_by(t.c.seq)
    if client_id is not None:
        query = query.where(t.c.client_id == client_id)
    with engine.connect() as conn:
        return [
            StatusRecord(r.client_id, r.old, r.new, r.at, ratio_of(r.ratio), r.lines, r.prices_at)
            for r in conn.execute(query)
        ]


def latest_statuses(engine: Engine) -> dict[str, str]:
    """Each client's status after its latest recorded change."""
    t = status_events
    latest = select(t.c.client_id, func.max(t.c.seq).label("seq")).group_by(t.c.client_id)
    last = latest.subquery()
    with engine.connect() as conn:
        rows = conn.execute(select(t.c.client_id, t.c.new).join(last, t.c.seq == last.c.seq))
        return {client: new for client, new in rows}


# --- margin calls and notices -----------------------------------------------------------------


def _call_row(ev: Evaluation, decision: CallDecision, closed: MarginCall | None) -> dict[str, Any]:
    call = decision.call or closed
    row: dict[str, Any] = {
        "client_id": ev.client_id,
        "call_id": call.call_id if call else None,
        "evaluated_on": ev.on,
        "kind": ev.kind.value,
        "at": ev.at.isoformat(),
        "state": decision.state.value,
        "account_status": decision.account_status.value,
        "ratio": ratio_text(ev.ratio),
        "branch": ev.branch,
        "opened_on": call.opened_on if call else None,
        "ratio_at_open": ratio_text(call.ratio_at_open) if call else None,
        "line": ratio_text(call.line) if call else None,
        "target": ratio_text(call.target) if call else None,
        "deadline": call.deadline if call else None,
        "deadline_provisional": call.deadline_provisional if call else False,
        "liquidation_reason": decision.liquidation.value if decision.liquidation else None,
        "liquidation_from": decision.liquidation_from,
    }
    row["event_id"] = f"{ev.client_id}:{ev.on.isoformat()}:{ev.kind.value}:{decision.state.value}"
    return row


def save_call_decision(
    engine: Engine, ev: Evaluation, decision: CallDecision, before: MarginCall | None
) -> bool:
    """Record a decision worth recording (a call opened, followed, cured, missed, closed, or a
    warning) with its notices; returns False when it was recorded before."""
    return save_call_decisions(engine, [(ev, decision, before)]) == 1


CallDecisionRecord = tuple[Evaluation, CallDecision, "MarginCall | None"]


def save_call_decisions(engine: Engine, decisions: Sequence[CallDecisionRecord]) -> int:
    """``save_call_decision`` for many decisions in order, in one transaction: the same rows
    and sequence numbers as one by one (a notice id already sent, or sent by an earlier
    decision, is not sent again); returns how many decisions were new."""
    worth = [d for d in decisions if d[1].state is not CallState.NONE or d[2] is not None]
    rows = [_call_row(*d) for d in worth]
    with engine.begin() as conn:
        recorded = _existing(conn, call_events.c.event_id, [row["event_id"] for row in rows])
        new_rows: list[dict[str, Any]] = []
        sent: list[dict[str, Notice]] = []
        for row, (_, decision, _) in zip(rows, worth, strict=True):
            if row["event_id"] in recorded:
                continue
            recorded.add(row["event_id"])
            new_rows.append(row)
            sent.append({n.notice_id: n for n in decision.notices})  # an id twice: once
        seq = _next_seq(conn, call_events)
        if new_rows:
            conn.execute(
                call_events.insert(), [r | {"seq": seq + k} for k, r in enumerate(new_rows)]
            )
        _insert_notices(conn, sent)
    return len(new_rows)


def _existing(conn: Connection, column: Any, values: Sequence[str]) -> set[str]:
    found: set[str] = set()
    for chunk in key_chunks(sorted(set(values))):
        found.update(value for (value,) in conn.execute(select(column).where(column.in_(chunk))))
    return found


def _insert_notices(conn: Connection, batches: Sequence[dict[str, Notice]]) -> None:
    """Each batch's notices not sent before (by id), in order."""
    known = _existing(conn, notices.c.notice_id, [i for batch in batches for i in batch])
    fresh: list[Notice] = []
    for batch in batches:
        for notice_id, notice in batch.items():
            if notice_id not in known:
                known.add(notice_id)
                fresh.append(notice)
    if fresh:
        seq = _next_seq(conn, notices)
        conn.execute(notices.insert(), [_notice_row(n, seq + k) for k, n in enumerate(fresh)])


def save_notices(engine: Engine, items: Sequence[Notice]) -> None:
    with engine.begin() as conn:
        _insert_notices(conn, [{n.notice_id: n for n in items}])  # an id twice: once


def _notice_row(n: Notice, seq: int) -> dict[str, Any]:
    return {
        "notice_id": n.notice_id,
        "seq": seq,
        "client_id": n.client_id,
        "branch": n.branch,
        "inform_branch": n.inform_branch,
        "channels": ",".join(c.value for c in n.channels),
        "at": n.at.isoformat(),
        "kind": n.kind.value,
        "ratio": ratio_text(n.ratio),
        "line": ratio_text(n.line),
        "target": ratio_text(n.target),
        "deadline": n.deadline,
        "deadline_provisional": n.deadline_provisional,
        "liquidation_from": n.liquidation_from,
        "top_up_fen": n.top_up_fen,
        "repay_fen": n.repay_fen,
        "text_zh": n.text_zh,
        "text_en": n.text_en,
    }


def _notice(r: Any) -> Notice:
    return Notice(
        notice_id=r.notice_id,
        client_id=r.client_id,
        branch=r.branch,
        inform_branch=r.inform_branch,
        channels=tuple(Channel(c) for c in r.channels.split(",") if c),
        at=datetime.fromisoformat(r.at),
        kind=NoticeKind(r.kind),
        ratio=ratio_of(r.ratio),
        line=ratio_of(r.line),
        target=ratio_of(r.target),
        deadline=r.deadline,
        deadline_provisional=r.deadline_provisional,
        liquidation_from=r.liquidation_from,
        top_up_fen=r.top_up_fen,
        repay_fen=r.repay_fen,
        text_zh=r.text_zh,
        text_en=r.text_en,
    )


def load_notices(
    engine: Engine,
    *,
    client_id: str | None = None,
    kind: NoticeKind | None = None,
    since: datetime | None = None,
) -> list[Notice]:
    """The outbox in the order sent; ``since`` inclusive (ISO times of one offset compare
    as text)."""
    t = notices
    query = select(t).order_by(t.c.seq)
    if client_id is not None:
        query = query.where(t.c.client_id == client_id)
    if kind is not None:
        query = query.where(t.c.kind == kind.value)
    with engine.connect() as conn:
        found = [_notice(r) for r in conn.execute(query)]
    return [n for n in found if since is None or n.at >= since]


@dataclass(frozen=True, slots=True)
class CallRecord:
    """A client's latest call event: its call (None once closed) and account status."""

    client_id: str
    evaluated_on: date
    state: CallState
    account_status: AccountStatus
    ratio: Fraction | None
    call: MarginCall | None
    liquidation_reason: LiquidationReason | None
    liquidation_from: date | None


def _record(r: Any) -> CallRecord:
    state = CallState(r.state)
    call = None
    if state in _OPEN:
        call = MarginCall(
            r.call_id,
            r.client_id,
            r.branch,
            r.opened_on,
            Fraction(r.ratio_at_open),
            Fraction(r.line),
            Fraction(r.target),
            r.deadline,
            r.deadline_provisional,
            state,
        )
    reason = LiquidationReason(r.liquidation_reason) if r.liquidation_reason else None
    return CallRecord(
        r.client_id,
        r.evaluated_on,
        state,
        AccountStatus(r.account_status),
        ratio_of(r.ratio),
        call,
        reason,
        r.liquidation_from,
    )


def latest_calls(engine: Engine, client_ids: Iterable[str] | None = None) -> dict[str, CallRecord]:
    """Each client's latest call event (clients without one are absent)."""
    t = call_events
    last = select(t.c.client_id, func.max(t.c.seq).label("seq")).group_by(t.c.client_id)
    latest = last.subquery()
    query = select(t).join(latest, t.c.seq == latest.c.seq).order_by(t.c.client_id)
    wanted = None if client_ids is None else set(client_ids)
    with engine.connect() as conn:
        records = [_record(r) for r in conn.execute(query)]
    return {r.client_id: r for r in records if wanted is None or r.client_id in wanted}


def call_history(engine: Engine, client_id: str) -> list[CallRecord]:
    t = call_events
    with engine.connect() as conn:
        rows = conn.execute(select(t).where(t.c.client_id == client_id).order_by(t.c.seq))
        return [_record(r) for r in rows]


# --- liquidation ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RunRecord:
    run_id: str
    client_id: str
    trading_date: date
    at: str
    reason: str
    mode: str
    ratio_before: Fraction | None
    ratio_planned: Fraction | None
    reached: bool
    plan_json: str
    orders_json: str


def save_liquidation_run(engine: Engine, run: RunRecord, case: RecoveryCase | None) -> bool:
    """Record a run (and its recovery case); False when its id was recorded before."""
    with engine.begin() as conn:
        if run.run_id in _existing(conn, liquidation_runs.c.run_id, [run.run_id]):
            return False
        conn.execute(
            liquidation_runs.insert(),
            [
                {
                    "run_id": run.run_id,
                    "client_id": run.client_id,
                    "trading_date": run.trading_date,
                    "at": run.at,
                    "reason": run.reason,
                    "mode": run.mode,
                    "ratio_before": ratio_text(run.ratio_before),
                    "ratio_planned": ratio_text(run.ratio_planned),
                    "reached": run.reached,
                    "plan_json": run.plan_json,
                    "orders_json": run.orders_json,
                }
            ],
        )
        if case is not None:
            conn.execute(
                recovery_cases.insert(),
                [
                    {
                        "case_id": f"recovery:{run.run_id}",
                        "client_id": case.client_id,
                        "opened_on": run.trading_date,
                        "at": run.at,
                        "reason": case.reason.value,
                        "shortfall_fen": case.shortfall_fen,
                        "debt_fen": ratio_text(case.debt_fen),
                        "assets_fen": ratio_text(case.assets_fen),
                        "positions_left": case.positions_left,
                        "run_id": run.run_id,
                    }
                ],
            )
    return True


def liquidation_history(engine: Engine, client_id: str | None = None) -> list[RunRecord]:
    t = liquidation_runs
    query = select(t).order_by(t.c.trading_date, t.c.run_id)
    if client_id is not None:
        query = query.where(t.c.client_id == client_id)
    with engine.connect() as conn:
        return [
            RunRecord(
                r.run_id,
                r.client_id,
                r.trading_date,
                r.at,
                r.reason,
                r.mode,
                ratio_of(r.ratio_before),
                ratio_of(r.ratio_planned),
                r.reached,
                r.plan_json,
                r.orders_json,
            )
            for r in conn.execute(query)
        ]


@dataclass(frozen=True, slots=True)
class RecoveryRecord:
    case_id: str
    client_id: str
    opened_on: date
    reason: str
    shortfall_fen: int
    positions_left: bool


def load_recovery_cases(engine: Engine) -> list[RecoveryRecord]:
    t = recovery_cases
    with engine.connect() as conn:
        rows = conn.execute(select(t).order_by(t.c.opened_on, t.c.case_id))
        return [
            RecoveryRecord(
                r.case_id, r.client_id, r.opened_on, r.reason, r.shortfall_fen, r.positions_left
            )
            for r in rows
        ]
