"""Step ``statuses``: every account's status at the close, from the risk engine, and the
margin-call evaluation after the day's settlement (RISK-5, RISK-6), through the desk.

The risk engine is loaded from the ledger (charges accrued today included), restored to each
account's last recorded status and valued at the day's closes; a desk with no clients records
the status changes that makes.  The accounts the engine places below the warning line, or
with a call or a liquidation open, then get a desk of their own, whose settlement evaluation
decides and records their calls and notices (``Desk.settle``).

Invariants: the desk's records are idempotent (a status change is recorded against the last
recorded status, so a rerun finds none left to record; call events and notices have
deterministic ids), and every record carries the step's fixed moment, so an interrupted run
completed by a rerun leaves what one run would have.
"""

from __future__ import annotations

from collections import Counter
from datetime import date
from typing import NamedTuple

from sqlalchemy import select

from liangrong.book.accounts import ClientProfile
from liangrong.book.loader import load_mirrors
from liangrong.book.service import Book
from liangrong.desk.service import Desk, firm_limits_on
from liangrong.domain.margin import RatioStatus
from liangrong.domain.margin_calls import EvaluationKind
from liangrong.eod.book_view import holder_names
from liangrong.eod.context import Digest, StepOutcome, StepRun
from liangrong.ledger.journal import Ledger
from liangrong.risk.engine import RiskEngine
from liangrong.risk.loader import load_book
from liangrong.risk.statuses import rule_book_lines
from liangrong.sim.fair_value_day import day_fair_values
from liangrong.store import risk_records as records
from liangrong.store.risk_tables import call_events

CALLABLE = frozenset({RatioStatus.WARNING, RatioStatus.LIQUIDATION, RatioStatus.EMERGENCY})


class CallEventRow(NamedTuple):
    client_id: str
    event_id: str
    state: str
    account_status: str
    ratio: str | None
    line: str | None
    target: str | None
    deadline: date | None
    liquidation_from: date | None


def day_call_events(run: StepRun, day: date) -> list[CallEventRow]:
    """The day's settlement decisions on record, by client (the session's and the end of
    day's evaluations both count: they are the same day's settlement)."""
    t = call_events
    query = (
        select(t.c.client_id, t.c.event_id, t.c.state, t.c.account_status, t.c.ratio,
               t.c.line, t.c.target, t.c.deadline, t.c.liquidation_from)
        .where(t.c.evaluated_on == day, t.c.kind == EvaluationKind.SETTLEMENT.value)
        .order_by(t.c.client_id, t.c.seq)
    )  # fmt: skip
    with run.ctx.engine.connect() as conn:
        return [CallEventRow(*row) for row in conn.execute(query)]


def _profile(client_id: str, name: str) -> ClientProfile:
    """What an evaluation needs of a profile: who it is (limits play no part in a call)."""
    return ClientProfile(client_id, name, 0, 0, 0, 0)


def statuses_step(run: StepRun) -> StepOutcome:
    ctx = run.ctx
    engine, ref, market = ctx.engine, ctx.reference(), ctx.closing_market()
    at, clock = run.moment(), run.clock()
    ledger = Ledger(engine, clock)  # the desk evaluates; nothing here posts
    risk_book = load_book(engine, ctx.book_data())
    clients = list(risk_book.accounts.ids)
    firm, own = rule_book_lines(ref.rule_book, ctx.day, clients)
    risk = RiskEngine(risk_book, firm, own)
    for client, status in records.latest_statuses(engine).items():
        if client in risk_book.accounts.index:
            risk.statuses.restore(client, RatioStatus(status))
    risk.on_haircuts({symbol: market.haircut(symbol) for symbol in market.securities})
    fair = day_fair_values(engine, ref, clients)
    run.progress(1, 3)
    store = ctx.records_engine()  # a commit per decision, flushed with the step's record
    opened = Book.open(engine, ledger, market, ref.calendar)  # the pools and the firm's order
    screen = Desk(store, opened, risk, clock)
    screen.on_prices(at, market.prices_li)  # records what the closes changed
    screen.on_fair_values(at, fair)  # and what the fair values change
    status_of = risk.statuses.every_status()  # in the order of ``clients``
    statuses = Counter(status_of)
    latest = records.latest_calls(engine)
    candidates = sorted(
        {c for c, level in zip(clients, status_of, strict=True) if level in CALLABLE}
        | {c for c, r in latest.items() if r.call is not None or r.liquidation_reason is not None}
    )
    run.progress(2, 3)
    book = Book(ledger, market, ref.calendar, opened.firm, opened.collection_order)
    mirrors = load_mirrors(engine, candidates)
    names = holder_names(engine, candidates)
    for client in candidates:
        book.add_client(_profile(client, names.get(client, client)), mirrors[client])
    limits, shares = firm_limits_on(engine, market)
    desk = Desk(store, book, risk, clock, firm_limits=limits, security_shares=shares)
    desk.use_fair_values(fair)  # the engine holds them: the desk evaluates at them too
    desk.settle(at)  # and the firm's limits, on the whole book at the close
    run.progress(3, 3)
    # What is recorded, not what this run decided: an interrupted run's rerun re-decides
    # only the accounts still open, the records are those of one whole run.
    events = day_call_events(run, ctx.day)
    decided = Counter(e.state for e in events)
    digest = Digest()
    for level in RatioStatus:
        digest.line("status", level.value, statuses[level])
    for symbol, value in sorted(fair.firm_values().items()):
        digest.line("fair", symbol, value.rule_name, value.price_li)
    for symbol, why in sorted(fair.missing.items()):
        digest.line("fair_missing", symbol, why)
    evaluation = desk.firm_evaluation
    levels = Counter(a.level.name for a in evaluation.alerts) if evaluation else Counter()
    digest.line("firm", *sorted(levels.items()))
    for e in events:
        digest.line(*e)
    return StepOutcome(
        digest.hexdigest(),
        {
            "accounts": len(clients),
            "statuses": {level.value: statuses[level] for level in RatioStatus},
            "decisions": dict(sorted(decided.items())),
            "prices": market.prices_at,
            "fair_values": len(fair.firm_values()),
            "fair_values_missing": dict(sorted(fair.missing.items())),
            "clients_on_own_rule": len(fair.client_rules),
            "firm_limits": dict(sorted(levels.items())) if evaluation else None,
        },
    )
