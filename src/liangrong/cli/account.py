"""``liangrong account show ID``: one credit account as the store holds it now;
``liangrong account default ...``: its default records (``account_defaults``).

Positions with their prices, cash free and locked, open contracts (principal, charges,
maturity, margin ratio and the rule version it came from), the maintenance ratio against the
client's lines, the available margin, what may be withdrawn, and the credit limits.  Balances
are the ledger's now; prices are the reference prices in force on the day (its previous
close), and the output says which.  Exit 1 when the store has no such account.
"""

from __future__ import annotations

from fractions import Fraction
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from liangrong.book.accounts import NO_LIMIT_LI
from liangrong.cli.account_defaults import defaults_app
from liangrong.cli.simulate import parse_date
from liangrong.cli.store_option import open_store, store_option
from liangrong.domain import margin
from liangrong.domain.contracts import ContractKind
from liangrong.domain.money import (
    Rounding,
    fen_to_yuan_text,
    li_to_yuan_text,
    ratio_text,
    round_fraction,
)
from liangrong.sim.account_view import AccountView, UnknownAccount, load_account
from liangrong.sim.reference_day import NoReferenceData

account_app = typer.Typer(help="Client credit accounts.", no_args_is_help=True)
account_app.add_typer(defaults_app, name="default")


def register(app: typer.Typer) -> None:
    app.add_typer(account_app, name="account")


def percent(value: Fraction | None) -> str:
    return "none (no debt)" if value is None else ratio_text(value * 100, 2) + "%"


def yuan(value_fen: Fraction | int) -> str:
    """Whole fen, rounded down (what the client has, never more)."""
    return fen_to_yuan_text(round_fraction(Fraction(value_fen), Rounding.DOWN))


@account_app.command("show")
def show(
    client: Annotated[str, typer.Argument(help="The client id, e.g. C000001.")],
    on: Annotated[
        str | None,
        typer.Option("--date", help="Value at this day's reference prices (default: today)."),
    ] = None,
    store: str = store_option(),
) -> None:
    """Positions, cash, contracts, maintenance ratio and available margin of one account."""
    try:
        view = load_account(open_store(store), client, parse_date(on))
    except (UnknownAccount, NoReferenceData) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from None
    print_account(Console(), view)


def print_account(console: Console, view: AccountView) -> None:
    p = view.profile
    opened = ", ".join(f"{exchange} opened {day}" for exchange, day in view.opened)
    console.print(
        f"[bold]{escape(view.client_id)} {escape(view.holder_name)}[/bold]  credit accounts: "
        f"{opened}; account status {p.status.value}"
    )
    console.print(
        f"figures at {view.market.prices_at} (trading day {view.ref.trading_date}), "
        f"balances as of journal seq {view.journal_seq:,}"
    )
    console.print(_positions(view))
    console.print(_contracts(view))
    console.print(_figures(view))


def _positions(view: AccountView) -> Table:
    table = Table(
        "security", "name", "quantity", "financed", "restricted", "price", "value", "haircut",
        title="Positions", title_justify="left",
    )  # fmt: skip
    for symbol, position in view.state.positions.items():
        if not position.quantity:
            continue
        security = view.ref.securities.get(symbol)
        price = view.market.prices_li.get(symbol, 0)
        table.add_row(
            symbol,
            escape(security.name) if security else "",
            f"{position.quantity:,}",
            f"{position.financed_quantity:,}" if position.financed_quantity else "",
            f"{position.restricted:,}" if position.restricted else "",
            li_to_yuan_text(price),
            yuan(Fraction(position.value_li, 10)),
            percent(view.market.haircut(symbol)),
        )
    return table


def _contracts(view: AccountView) -> Table:
    table = Table(
        "contract", "kind", "security", "opened", "principal", "charges", "maturity",
        "margin ratio", "rule version", "rate",
        title="Open contracts", title_justify="left",
    )  # fmt: skip
    for contract_id, contract in sorted(view.mirror.contracts.items()):
        if not contract.is_open:
            continue
        t = contract.terms
        principal = (
            fen_to_yuan_text(contract.principal_outstanding)
            if t.kind is ContractKind.FINANCING
            else f"{contract.principal_outstanding:,} shares"
        )
        maturity = f"{t.maturity}{' (provisional)' if t.maturity_provisional else ''}"
        table.add_row(
            contract_id,
            t.kind.value,
            t.security,
            str(t.open_date),
            principal,
            fen_to_yuan_text(contract.charges_outstanding_fen),
            maturity,
            percent(t.margin_ratio),
            t.rule_version,
            percent(t.annual_rate),
        )
    return table


def _figures(view: AccountView) -> Table:
    p, state, lines = view.profile, view.state, view.lines
    limits = state.limits
    line_text = ", ".join(
        f"{name} {percent(value)}"
        for name, value in (
            ("attention", lines.attention),
            ("warning", lines.warning),
            ("liquidation", lines.liquidation),
            ("emergency", lines.emergency),
        )
        if value is not None
    )
    bp = p.concentration_limit_bp
    concentration = "off" if bp > 10_000 else percent(Fraction(bp, 10_000))
    credit = (
        f"financing {fen_to_yuan_text(limits.financing_used_fen)} of "
        f"{fen_to_yuan_text(limits.financing_limit_fen)}; short "
        f"{fen_to_yuan_text(limits.short_used_fen)} of {fen_to_yuan_text(limits.short_limit_fen)}; "
        f"total {fen_to_yuan_text(limits.financing_used_fen + limits.short_used_fen)} of "
        f"{fen_to_yuan_text(limits.total_limit_fen)}"
        if view.generated
        else "unknown: not a generated client (no profile in the store)"
    )
    rows = (
        ("cash, free", fen_to_yuan_text(view.mirror.cash_fen)),
        ("cash, locked short proceeds", fen_to_yuan_text(view.mirror.locked_fen)),
        ("securities at market", yuan(margin.securities_value(view.account))),
        ("total assets", yuan(margin.total_assets(view.account))),
        ("total debt", yuan(margin.total_debt(view.account))),
        ("maintenance ratio", percent(view.ratio)),
        ("status against the lines", f"{view.status.value} ({line_text})"),
        ("available margin", yuan(view.available_margin_fen)),
        (
            f"withdrawable (line {percent(view.withdrawal_line)})",
            "everything (no debt)"
            if view.withdrawable_li >= NO_LIMIT_LI
            else fen_to_yuan_text(view.withdrawable_li // 10),
        ),
        ("credit limits", credit),
        ("concentration limit", concentration),
    )
    table = Table("", "", title="Figures", title_justify="left", show_header=False)
    for row in rows:
        table.add_row(*row)
    return table
