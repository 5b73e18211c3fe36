"""``liangrong order check``: run one order through the front-end checks against the stored
state of an account, and print the decision.

The book that accepts orders lives in the memory of a running session (``liangrong
simulate``), so there is no order to place or cancel across processes; this command answers
what the book would decide now, and what an accepted order would hold (margin, cash, credit,
pool shares).  It sends nothing to any exchange and posts nothing to the ledger.  Exit 0 when
the order would be accepted, 3 when it would be refused, 1 when the account is unknown.
"""

from __future__ import annotations

from dataclasses import fields
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from liangrong.cli.simulate import parse_date
from liangrong.cli.store_option import open_store, store_option
from liangrong.domain.money import MoneyFormatError, fen_to_yuan_text, yuan_to_li
from liangrong.domain.order_codes import OrderCode
from liangrong.domain.orders import AccountType, Order, OrderKind
from liangrong.domain.reservations import Reservation
from liangrong.sim.account_view import UnknownAccount, check_order, load_account
from liangrong.sim.reference_day import NoReferenceData

EXIT_REFUSED = 3
CHECK_ORDER_ID = "CHECK-1"
CLIENT_KINDS = tuple(kind.value for kind in OrderKind if not kind.is_forced)

order_app = typer.Typer(
    help="Credit orders: check one against an account's stored state (sends nothing).",
    no_args_is_help=True,
)


def register(app: typer.Typer) -> None:
    app.add_typer(order_app, name="order")


@order_app.command("check")
def check(
    client: Annotated[str, typer.Argument(help="The client id, e.g. C000001.")],
    kind: Annotated[str, typer.Argument(help=f"One of: {', '.join(CLIENT_KINDS)}.")],
    symbol: Annotated[str, typer.Argument(help="The security, e.g. 600000.SH.")],
    price: Annotated[str, typer.Option("--price", help="Limit price in yuan, e.g. 10.52.")],
    quantity: Annotated[int, typer.Option("--quantity", help="Shares (bonds: 张).")],
    on: Annotated[
        str | None,
        typer.Option("--date", help="Check on this day's reference data (default: today)."),
    ] = None,
    store: str = store_option(),
) -> None:
    """Check an order against the account as stored now: print ACCEPTED and what it would
    hold, or REFUSED and the code.  Does NOT send or post anything: orders are placed and
    cancelled only inside a running session (liangrong simulate)."""
    if kind not in CLIENT_KINDS:
        raise typer.BadParameter(f"{kind!r}: one of {', '.join(CLIENT_KINDS)}", param_hint="KIND")
    try:
        price_li = yuan_to_li(price)
    except MoneyFormatError as exc:
        raise typer.BadParameter(str(exc), param_hint="--price") from None
    order_kind = OrderKind(kind)
    order = Order(CHECK_ORDER_ID, client, AccountType.CREDIT, "CHECK", symbol, order_kind,
                  order_kind.side, price_li, quantity)  # fmt: skip
    engine = open_store(store)
    try:
        view = load_account(engine, client, parse_date(on))
    except (UnknownAccount, NoReferenceData) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from None
    if not view.generated:
        typer.echo(f"error: {client} has no profile in this store (limits unknown)", err=True)
        raise typer.Exit(1)
    decision = check_order(engine, view, order)
    console = Console()
    console.print(f"checked against {view.market.prices_at}; nothing was sent or posted")
    if isinstance(decision, OrderCode):
        console.print(f"REFUSED {decision.name}: {decision.en} / {decision.zh}")
        raise typer.Exit(EXIT_REFUSED)
    console.print("ACCEPTED: the book would hold")
    console.print(_held(decision))


_LABELS = {
    "margin_e4li": "available margin used",
    "cash_fen": "free cash",
    "locked_cash_fen": "locked short proceeds",
    "financing_fen": "financing (credit limit and pool)",
    "short_value_fen": "short value (credit limit)",
    "pool_shares": "shares from the lending pool",
    "sell_shares": "shares held back for the sale",
    "cover_shares": "short shares held back for the cover",
}
E4LI_PER_FEN = 100_000  # li x basis points per fen


def _held(reservation: Reservation) -> Table:
    table = Table("what", "amount")
    for field in fields(Reservation):
        value = getattr(reservation, field.name)
        if not value:
            continue
        if field.name == "margin_e4li":  # shown in whole fen, rounded up (what it takes)
            shown = fen_to_yuan_text(-(-value // E4LI_PER_FEN))
        elif field.name.endswith("_fen"):
            shown = fen_to_yuan_text(value)
        else:
            shown = f"{value:,}"
        table.add_row(_LABELS[field.name], shown)
    return table
