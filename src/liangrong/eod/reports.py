"""Step ``reports``: the day's report files (REP-1, REP-2, CLI-5, CLI-6, RISK-6).

- the exchange daily report of each exchange (``reports.daily_source``; CSV UTF-8, CSV
  GB18030, XLSX), checked against yesterday's report (its files, or the ledger's debts at
  yesterday's close for the first one) and against the ledger; refused, the step fails and
  nothing is written;
- the default-record file: liquidation shortfalls (recovery cases), missed margin calls
  (cured when the call closes) and overdue contracts (cured when repaid), derived here, and
  the defaults a user recorded (bad credit, other, overdue charges; cured when a user
  records the cure, withdrawn when a user withdraws it as recorded in error), each new,
  continuing, cured or withdrawn by its dates;
- the day's contract events (expiry notices, overdue, extension decisions, term changes);
- the day's margin-call decisions after settlement.

Invariants: every file is a function of the store and yesterday's files only, written
atomically, with no time in it, so a rerun rewrites the same bytes; the step's digest is
over the bytes of every file written.
"""

from __future__ import annotations

from datetime import date
from fractions import Fraction
from pathlib import Path

from sqlalchemy import select

from liangrong.domain.default_records import DefaultEvent, DefaultKind, default_record_rows
from liangrong.domain.exchange_report import ReportRow
from liangrong.domain.lists import ListLayer
from liangrong.domain.money import Rounding, li_to_fen, ratio_text
from liangrong.eod.book_view import holder_names
from liangrong.eod.context import Digest, StepOutcome, StepRun
from liangrong.eod.contract_terms import OVERDUE, OVERDUE_CLEARED, cleared_id
from liangrong.eod.files import csv_bytes, write_atomic
from liangrong.eod.statuses import day_call_events
from liangrong.reports.daily_source import OpenDebts, build_daily_report, opening_rows
from liangrong.reports.exchange_files import (
    read_report_rows,
    report_file_names,
    write_default_files,
    write_report_files,
)
from liangrong.store.eod_records import canonical, load_contract_events
from liangrong.store.list_publications import load_list_store
from liangrong.store.recorded_defaults import load_recorded_defaults
from liangrong.store.risk_records import load_recovery_cases
from liangrong.store.risk_tables import call_events

CONTRACT_HEADER = ("event_id", "kind", "contract_id", "client_id", "maturity", "detail")
CALL_HEADER = (
    "client_id", "event_id", "state", "account_status", "ratio", "line", "target",
    "deadline", "liquidation_from",
)  # fmt: skip
MISSED = "missed"
CLOSING = ("closed", "cured")


def previous_rows(run: StepRun, debts: OpenDebts | None = None) -> tuple[ReportRow, ...]:
    """Yesterday's report from its files; the first report stands on the ledger's debts at
    yesterday's close instead (``debts``: the ledger's debts now, when already read)."""
    ctx = run.ctx
    previous = ctx.previous_day()
    folder = ctx.settings.reports_dir / f"{previous:%Y%m%d}"
    if (folder / report_file_names(previous, "SH")["utf-8"]).exists():
        return read_report_rows(folder, previous)
    return opening_rows(ctx.engine, previous, debts_now=debts)


def _missed_calls(run: StepRun) -> list[tuple[str, str, date, date | None]]:
    """(call id, client, missed on, closed on) of every call that was missed."""
    t = call_events
    with run.ctx.engine.connect() as conn:
        rows = conn.execute(
            select(t.c.call_id, t.c.client_id, t.c.state, t.c.evaluated_on)
            .where(t.c.call_id.is_not(None), t.c.evaluated_on <= run.ctx.day)
            .order_by(t.c.seq)
        ).all()
    missed: dict[str, tuple[str, date]] = {}
    closed: dict[str, date] = {}
    for call_id, client, state, on in rows:
        if state == MISSED:
            missed.setdefault(call_id, (client, on))
        elif state in CLOSING and call_id in missed:
            closed.setdefault(call_id, on)
    return [(cid, c, on, closed.get(cid)) for cid, (c, on) in sorted(missed.items())]


def default_events(run: StepRun) -> list[DefaultEvent]:
    ctx = run.ctx
    found: list[tuple[str, str, DefaultKind, date, int, date | None, str]] = []
    for case in load_recovery_cases(ctx.engine):
        if case.opened_on <= ctx.day:
            found.append((case.case_id, case.client_id, DefaultKind.LIQUIDATION_SHORTFALL,
                          case.opened_on, case.shortfall_fen, None, case.reason))  # fmt: skip
    for call_id, client, on, cured in _missed_calls(run):
        found.append((f"call-missed:{call_id}", client, DefaultKind.MARGIN_CALL_UNMET, on, 0,
                      cured, "追加担保物未到位"))  # fmt: skip
    events = load_contract_events(ctx.engine, kinds=[OVERDUE, OVERDUE_CLEARED], through=ctx.day)
    repaid = {e.event_id: e.trading_date for e in events if e.kind == OVERDUE_CLEARED}
    closes, _ = ctx.closes()
    for e in events:
        if e.kind == OVERDUE:
            amount, cured_on = _owed_fen(e.payload, closes), repaid.get(cleared_id(e.event_id))
            found.append((e.event_id, e.client_id, DefaultKind.OVERDUE_DEBT, e.trading_date,
                          amount, cured_on, f"{e.contract_id} maturity {e.maturity}"))  # fmt: skip
    recorded = load_recorded_defaults(ctx.engine, through=ctx.day)
    names = holder_names(ctx.engine, {f[1] for f in found} | {r.entry.client_id for r in recorded})
    derived = [
        DefaultEvent(event_id, client, names.get(client, client), kind, on, amount, cured_on, note)
        for event_id, client, kind, on, amount, cured_on, note in found
    ]
    by_user = [r.event(names.get(r.entry.client_id, r.entry.client_id)) for r in recorded]
    return derived + by_user


def _owed_fen(payload: dict[str, object], closes: dict[str, int]) -> int:
    """What an overdue contract owed when recorded: charges, and principal (a short's shares
    at the close, rounded up)."""
    charges, principal = int(str(payload["charges_fen"])), int(str(payload["principal"]))
    if payload["kind"] == "financing":
        return charges + principal
    price = closes.get(str(payload["security"]), 0)
    return charges + li_to_fen(principal * price, Rounding.UP)


def _contract_file(run: StepRun) -> bytes:
    rows = [
        (e.event_id, e.kind, e.contract_id, e.client_id, e.maturity or "", canonical(e.payload))
        for e in load_contract_events(run.ctx.engine, on=run.ctx.day)
    ]
    return csv_bytes(CONTRACT_HEADER, sorted(rows))


def _ratio(text: str | None) -> str:
    """An exact ratio as a decimal, truncated to 6 places (never rounded across a line)."""
    return "" if text is None else ratio_text(Fraction(text), 6)


def _calls_file(run: StepRun) -> bytes:
    rows = [
        (e.client_id, e.event_id, e.state, e.account_status, _ratio(e.ratio), _ratio(e.line),
         _ratio(e.target), e.deadline or "", e.liquidation_from or "")
        for e in day_call_events(run, run.ctx.day)
    ]  # fmt: skip
    return csv_bytes(CALL_HEADER, rows)


def reports_step(run: StepRun) -> StepOutcome:
    ctx = run.ctx
    out = ctx.out_dir
    exchange = load_list_store(ctx.engine, ctx.day, ctx.day).lists_on(ListLayer.EXCHANGE, ctx.day)
    targets = set(exchange.financing_targets | exchange.short_targets) if exchange else set()
    # read once for both closes (nothing posts meanwhile), or kept from an earlier step
    rows, securities = ctx.debt_rows(), ctx.contracts().securities_by_id()
    with ctx.engine.connect() as conn:
        debts = OpenDebts(conn, rows, securities)
    previous = previous_rows(run, debts)
    report = build_daily_report(ctx.engine, ctx.day, previous, ctx.closes()[0], targets, debts)
    written: list[Path] = write_report_files(out, report)
    run.progress(1, 4)
    defaults = default_record_rows(ctx.day, default_events(run))
    written += write_default_files(out, ctx.day, defaults)
    run.progress(2, 4)
    stamp = f"{ctx.day:%Y%m%d}"
    written.append(write_atomic(out / f"contract_events_{stamp}.csv", _contract_file(run)))
    written.append(write_atomic(out / f"margin_calls_{stamp}.csv", _calls_file(run)))
    run.progress(4, 4)
    digest = Digest()
    for path in sorted(written):
        digest.data(path.name, path.read_bytes())
    return StepOutcome(
        digest.hexdigest(),
        {
            "files": sorted(p.name for p in written),
            "securities": len(report.rows),
            "previous": report.previous_date.isoformat() if report.previous_date else None,
            "default_records": len(defaults),
        },
    )
