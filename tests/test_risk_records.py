"""The desk's records: a settlement's call decisions saved together
(``risk_records.save_call_decisions``) leave the very rows, sequence numbers and notices
that saving them one by one does, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from fractions import Fraction as F

from sqlalchemy import Engine

from conftest import drop_postgres, make_postgres_engine, make_sqlite_engine
from liangrong.domain.calendar import TradingCalendar
from liangrong.domain.margin import Lines
from liangrong.domain.margin_calls import CallRule, Evaluation, EvaluationKind, evaluate
from liangrong.store import risk_records as records

LINES = Lines(attention=F("1.5"), warning=F("1.4"), liquidation=F("1.3"), emergency=F("1.1"))
RULE = CallRule(target=F("1.5"), deadline_trading_days=2)
THU, FRI = date(2026, 9, 17), date(2026, 9, 18)
CAL = TradingCalendar(
    [THU + timedelta(days=i) for i in range(30) if (THU + timedelta(days=i)).weekday() < 5],
    THU,
    THU + timedelta(days=29),
)


def _decisions(on: date, calls: dict[str, object]) -> list[records.CallDecisionRecord]:
    """Clients across every line (one twice: its notice id repeats), some with a call open."""
    ratios = {"C1": F("1.35"), "C2": F("1.28"), "C3": F("1.05"), "C4": F("1.6"), "C5": None}
    result: list[records.CallDecisionRecord] = []
    for client in ("C1", "C2", "C3", "C4", "C5", "C2"):
        ev = Evaluation(
            client_id=client,
            branch="BR-SH-01",
            on=on,
            at=datetime(on.year, on.month, on.day, 20, 0),
            kind=EvaluationKind.SETTLEMENT,
            ratio=ratios[client],
        )
        before = calls.get(client)
        decision = evaluate(ev, LINES, RULE, CAL, before)  # type: ignore[arg-type]
        if decision.call is not None:
            calls[client] = decision.call
        result.append((ev, decision, before))  # type: ignore[arg-type]
    return result


def _rows(engine: Engine) -> tuple[list[tuple[object, ...]], list[tuple[object, ...]]]:
    with engine.connect() as conn:
        calls = conn.exec_driver_sql("SELECT * FROM call_events ORDER BY seq").all()
        notices = conn.exec_driver_sql("SELECT * FROM notices ORDER BY seq").all()
    return [tuple(r) for r in calls], [tuple(r) for r in notices]


def test_decisions_saved_together_equal_one_by_one(store: Engine, tmp_path: object) -> None:
    on_postgres = store.dialect.name == "postgresql"  # the other store on the same backend
    other, name = make_postgres_engine() if on_postgres else (make_sqlite_engine(tmp_path), "")
    calls: dict[str, object] = {}
    for on in (THU, FRI):
        decisions = _decisions(on, calls)
        assert records.save_call_decisions(store, decisions) == sum(
            records.save_call_decision(other, *d) for d in decisions
        )
    together, one_by_one = _rows(store), _rows(other)
    assert together == one_by_one
    assert len(together[0]) >= 5 and len(together[1]) >= 4  # calls, warnings, reminders
    assert records.save_call_decisions(store, _decisions(FRI, dict(calls))) == 0  # a rerun
    assert _rows(store) == together
    if on_postgres:
        drop_postgres(other, name)
    else:
        other.dispose()
