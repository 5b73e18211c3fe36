"""``liangrong risk summary|account|calls`` and ``liangrong liquidate plan ID [--execute]``.

The figures are the risk engine's over the store's book at the day's reference prices (its
previous close), and say so; the calls, notices and liquidation runs are the desk's records.
Read only, except ``liquidate plan --execute``, which sends the plan's forced orders through
the book, fills them at the planned prices (the simulated market) and records the run.
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime
from fractions import Fraction
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from liangrong.cli.account import percent, yuan
from liangrong.cli.simulate import parse_date
from liangrong.cli.store_option import open_store, store_option
from liangrong.desk.service import Desk
from liangrong.domain.liquidation import (
    CashRepayment,
    LiquidationPlan,
    LiquidationReason,
    PlannedOrder,
)
from liangrong.domain.margin import RatioStatus
from liangrong.domain.margin_calls import Notice
from liangrong.domain.settlement import Fill
from liangrong.risk.summary import BadDebt, daily_summary
from liangrong.sim.concentration_seed import concentration_rule_for
from liangrong.sim.desk_view import NoBook, open_desk
from liangrong.sim.reference_day import NoReferenceData
from liangrong.sim.session import CST, SimClock
from liangrong.store import risk_records as records

risk_app = typer.Typer(
    help="Risk over the whole book: statuses, calls, notices.", no_args_is_help=True
)
liquidate_app = typer.Typer(help="Forced liquidation (RISK-7).", no_args_is_help=True)
DateOption = Annotated[
    str | None, typer.Option("--date", help="Trading day (default: the last on or before today).")
]


def register(app: typer.Typer) -> None:
    app.add_typer(risk_app, name="risk")
    app.add_typer(liquidate_app, name="liquidate")


def _desk(store: str, on: str | None, execute: bool = False) -> Desk:
    try:
        clock = SimClock(datetime.now(CST)) if execute else None
        return open_desk(open_store(store), parse_date(on), clock)[0]
    except (NoBook, NoReferenceData) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from None


def _known(desk: Desk, client: str) -> None:
    if client not in desk.book.profiles:
        typer.echo(f"error: no client {client} in the store's book", err=True)
        raise typer.Exit(1)


@risk_app.command("summary")
def summary(on: DateOption = None, store: str = store_option()) -> None:
    """Accounts and debt by status and class, top concentrations, calls, bad debts."""
    desk = _desk(store, on)
    engine, console = desk.store, Console()
    market = desk.book.market
    cases = records.load_recovery_cases(engine)
    report = daily_summary(
        desk.risk.book,
        on=market.trading_date,
        firm_lines=desk.risk.statuses.firm_lines,
        concentration=market.concentration_rule or concentration_rule_for(market.trading_date),
        classes={
            s: state.concentration_class
            for s, state in market.securities.items()
            if state.concentration_class is not None
        },
        agreed_caps_bp={c: p.concentration_limit_bp for c, p in desk.book.profiles.items()},
        bad_debts=[BadDebt(c.client_id, c.shortfall_fen, c.positions_left) for c in cases],
    )
    console.print(
        f"{report.accounts:,} accounts ({report.accounts_with_debt:,} with debt), figures at "
        f"{market.prices_at} (reference prices)"
    )
    for title, rows in (("by status", report.by_status), ("by class", report.by_class)):
        table = Table(
            "", "accounts", "debt (yuan)", title=f"Accounts {title}", title_justify="left"
        )
        for row in rows:
            group = row.group
            name = group.value if isinstance(group, RatioStatus) else f"{group.en} {group.zh}"
            table.add_row(name, f"{row.accounts:,}", yuan(row.debt_fen))
        console.print(table)
    top = Table("client", "security", "share of collateral", "cap at its ratio",
                title="Top client concentrations", title_justify="left")  # fmt: skip
    for c in report.client_concentrations:
        cap = "none" if c.cap_bp is None else percent(Fraction(c.cap_bp, 10_000))
        top.add_row(c.client_id, c.symbol, percent(c.share), cap)
    console.print(top)
    held = Table("security", "share of all clients' securities",
                 title="Top securities held", title_justify="left")  # fmt: skip
    for s in report.security_concentrations:
        held.add_row(s.symbol, percent(s.share))
    console.print(held)
    states = Counter(r.state.value for r in records.latest_calls(engine).values() if r.call)
    by_state = ", ".join(f"{k} {v}" for k, v in sorted(states.items())) or "none"
    runs = len(records.liquidation_history(engine))
    console.print(f"open calls: {sum(states.values()):,} ({by_state}); liquidation runs: {runs:,}")
    console.print(
        f"recovery cases (bad debt): {len(report.bad_debts):,}, "
        f"shortfall {yuan(report.bad_debt_fen)} yuan"
    )


@risk_app.command("account")
def account(
    client: Annotated[str, typer.Argument(help="The client id, e.g. C000001.")],
    on: DateOption = None,
    store: str = store_option(),
) -> None:
    """One account: ratio against its lines, status, call, status history and notices."""
    desk = _desk(store, on)
    _known(desk, client)
    engine, console = desk.store, Console()
    _, ratio = desk.ratio(client)
    console.print(
        f"[bold]{client}[/bold] maintenance ratio {percent(ratio)} "
        f"at {desk.book.market.prices_at}: "
        f"{desk.risk.statuses.status(client).value}; account status "
        f"{desk.book.profiles[client].status.value}"
    )
    call = records.latest_calls(engine, [client]).get(client)
    if call is not None and call.call is not None:
        c = call.call
        console.print(
            f"call {c.call_id}: {c.state.value}, opened {c.opened_on} "
            f"at {percent(c.ratio_at_open)}, target {percent(c.target)} by {c.deadline}"
        )
    history = Table(
        "at", "from", "to", "ratio", "prices at", title="Status changes", title_justify="left"
    )
    for r in records.status_history(engine, client)[-10:]:
        history.add_row(r.at, r.old, r.new, percent(r.ratio), r.prices_at)
    console.print(history)
    _notices(console, records.load_notices(engine, client_id=client)[-10:])


def _notices(console: Console, notices: list[Notice]) -> None:
    table = Table(
        "at", "client", "kind", "channels", "branch", "text", title="Notices", title_justify="left"
    )
    for n in notices:
        channels = ",".join(c.value for c in n.channels)
        table.add_row(n.at.isoformat(), n.client_id, n.kind.value, channels, n.branch, n.text_en)
    console.print(table)


@risk_app.command("calls")
def calls(
    client: Annotated[str | None, typer.Option(help="Only this client.")] = None,
    store: str = store_option(),
) -> None:
    """Open calls (and liquidations required) with their deadlines, and the latest notices."""
    engine, console = open_store(store), Console()
    table = Table("client", "state", "opened", "ratio then", "target", "deadline", "account status",
                  title="Open calls", title_justify="left")  # fmt: skip
    wanted = None if client is None else [client]
    for r in records.latest_calls(engine, wanted).values():
        if r.call is None:
            continue
        c = r.call
        table.add_row(r.client_id, c.state.value, str(c.opened_on), percent(c.ratio_at_open),
                      percent(c.target), str(c.deadline), r.account_status.value)  # fmt: skip
    console.print(table)
    _notices(console, records.load_notices(engine, client_id=client)[-20:])


def print_plan(console: Console, plan: LiquidationPlan) -> None:
    console.print(
        f"plan for {plan.client_id} ({plan.reason.value}, {plan.mode.value}): ratio "
        f"{percent(plan.ratio_before)} -> {percent(plan.ratio_after)}, target "
        f"{percent(plan.target)}, {'reached' if plan.reached else 'NOT reached'}"
    )
    table = Table("step", "kind", "security", "quantity", "price", "amount", "fees", "repays",
                  title="Steps", title_justify="left")  # fmt: skip
    for number, step in enumerate(plan.steps, start=1):
        if isinstance(step, PlannedOrder):
            table.add_row(str(number), step.kind.value, step.symbol, f"{step.quantity:,}",
                          f"{step.price_li / 1000:.3f}", yuan(step.amount_fen), yuan(step.fees_fen),
                          yuan(step.repays_fen))  # fmt: skip
        elif isinstance(step, CashRepayment):
            table.add_row(str(number), "direct repayment", "", "", "", yuan(step.amount_fen), "",
                          yuan(step.financing_fen + step.charges_fen))  # fmt: skip
    console.print(table)
    for skipped in plan.skipped:
        console.print(f"skipped {skipped.symbol} ({skipped.side.value}): {skipped.why.value}")
    if plan.recovery is not None:
        console.print(f"recovery case: shortfall {yuan(plan.recovery.shortfall_fen)} yuan")


@liquidate_app.command("plan")
def plan(
    client: Annotated[str, typer.Argument(help="The client id, e.g. C000001.")],
    execute: Annotated[
        bool, typer.Option(help="Send the forced orders, fill them at the planned prices, record.")
    ] = False,
    reason: Annotated[
        LiquidationReason | None,
        typer.Option(
            help="Why (e.g. judicial_enforcement, early_termination: everything owed is "
            "repaid); by default the reason the desk has on record, else call_missed."
        ),
    ] = None,
    on: DateOption = None,
    store: str = store_option(),
) -> None:
    """The least sold that restores the call target, or repays an overdue contract (or
    everything owed, for a court or an early termination), at the day's reference prices."""
    desk = _desk(store, on, execute)
    _known(desk, client)
    console = Console()
    if not execute:
        print_plan(console, desk.plan(client, reason))
        return
    run = desk.liquidate(client, reason)
    print_plan(console, run.plan)
    for sent in run.submitted:
        if sent.order is None or not sent.ack.accepted:
            code = sent.ack.code.name if sent.ack.code else ""
            console.print(f"step {sent.step} refused by the book: {code}")
            continue
        o = sent.order
        desk.book.on_fill(Fill(f"{o.order_id}:fill", o.order_id, o.symbol, o.side, o.price_li,
                               o.quantity, desk.book.market.trading_date))  # fmt: skip
    desk.complete(run)
    _, ratio = desk.ratio(client)
    console.print(f"executed: ratio now {percent(ratio)}; run {run.run_id} recorded")
