"""``liangrong order check|place|cancel|list``.

``check`` runs one order through the front-end checks against the stored state of an account
and prints what the book would decide and what an accepted order would hold (margin, cash,
credit, pool shares); it sends nothing and posts nothing.  The book that takes orders lives
in the running service (``liangrong serve`` or the main job), so ``place``, ``cancel`` and
``list`` are its clients: they call the service's API with a user's key (``--api``,
``--key`` or ``LIANGRONG_API``, ``LIANGRONG_API_KEY``), and the same checks, reservations,
roles and audit log apply.  Exit 0 when done or accepted, 3 when refused by the book, 1 when
the account is unknown, the service unreachable or the call refused otherwise.
"""

from __future__ import annotations

from dataclasses import fields
from typing import Annotated

import httpx
import typer
from rich.console import Console
from rich.table import Table

from liangrong.cli.simulate import parse_date
from liangrong.cli.store_option import open_store, store_option
from liangrong.domain.money import MoneyFormatError, fen_to_yuan_text, li_to_yuan_text, yuan_to_li
from liangrong.domain.order_codes import OrderCode
from liangrong.domain.orders import CLIENT_ORDER_KINDS, AccountType, Order, OrderKind
from liangrong.domain.reservations import Reservation
from liangrong.sim.account_view import UnknownAccount, check_order, load_account
from liangrong.sim.reference_day import NoReferenceData

EXIT_REFUSED = 3
CHECK_ORDER_ID = "CHECK-1"

order_app = typer.Typer(
    help="Credit orders: check one against the stored state; place, cancel, list them through "
    "the running service.",
    no_args_is_help=True,
)
DEFAULT_API = "http://127.0.0.1:8000"
ApiOption = Annotated[
    str, typer.Option("--api", envvar="LIANGRONG_API", help="The service's base URL.")
]
KeyOption = Annotated[
    str, typer.Option("--key", envvar="LIANGRONG_API_KEY", help="Your API key (X-API-Key).")
]


def register(app: typer.Typer) -> None:
    app.add_typer(order_app, name="order")


@order_app.command("check")
def check(
    client: Annotated[str, typer.Argument(help="The client id, e.g. C000001.")],
    kind: Annotated[str, typer.Argument(help=f"One of: {', '.join(CLIENT_ORDER_KINDS)}.")],
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
    cancelled in the running service (liangrong order place / cancel)."""
    if kind not in CLIENT_ORDER_KINDS:
        kinds = ", ".join(CLIENT_ORDER_KINDS)
        raise typer.BadParameter(f"{kind!r}: one of {kinds}", param_hint="KIND")
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


def _call(
    method: str,
    api: str,
    key: str,
    path: str,
    body: object = None,
    params: dict[str, str] | None = None,
) -> httpx.Response:
    url = f"{api.rstrip('/')}/api/v1{path}"
    try:
        return httpx.request(
            method, url, headers={"X-API-Key": key}, json=body, params=params, timeout=30
        )
    except httpx.HTTPError as exc:
        typer.echo(f"error: the service at {api} did not answer ({exc})", err=True)
        raise typer.Exit(1) from None


def _answer(response: httpx.Response) -> dict[str, object]:
    """The body of a success; a refusal printed with its code and the exit status."""
    body = response.json()
    if response.is_success:
        return body if isinstance(body, dict) else {"items": body}
    code, reason = body.get("code", "?"), body.get("reason", response.text)
    zh = f" / {body['reason_zh']}" if body.get("reason_zh") else ""
    typer.echo(f"REFUSED {code}: {reason}{zh}", err=True)
    raise typer.Exit(EXIT_REFUSED if code in OrderCode.__members__ else 1)


def _print_orders(orders: list[dict[str, object]]) -> None:
    table = Table("order", "client", "kind", "symbol", "price", "quantity", "filled", "status")
    for o in orders:
        table.add_row(
            str(o["order_id"]), str(o["client_id"]), str(o["kind"]), str(o["symbol"]),
            li_to_yuan_text(int(str(o["price_li"]))), f"{o['quantity']:,}",
            f"{o['filled_quantity']:,}", str(o["status"]),
        )  # fmt: skip
    Console().print(table)


@order_app.command("place")
def place(
    client: Annotated[str, typer.Argument(help="The client id, e.g. C000001.")],
    kind: Annotated[str, typer.Argument(help=f"One of: {', '.join(CLIENT_ORDER_KINDS)}.")],
    symbol: Annotated[str, typer.Argument(help="The security, e.g. 600000.SH.")],
    price: Annotated[str, typer.Option("--price", help="Limit price in yuan, e.g. 10.52.")],
    quantity: Annotated[int, typer.Option("--quantity", help="Shares (bonds: 张).")],
    order_id: Annotated[str | None, typer.Option("--id", help="Your id for the order.")] = None,
    api: ApiOption = DEFAULT_API,
    key: KeyOption = "",
) -> None:
    """Send an order to the running service: checked by the book, sent to the exchange."""
    body = {"client_id": client, "kind": kind, "symbol": symbol, "price": price,
            "quantity": quantity, **({"order_id": order_id} if order_id else {})}  # fmt: skip
    _print_orders([_answer(_call("POST", api, key, "/orders", body))])


@order_app.command("cancel")
def cancel(
    order_id: Annotated[str, typer.Argument(help="The order's id.")],
    api: ApiOption = DEFAULT_API,
    key: KeyOption = "",
) -> None:
    """Cancel what has not filled of an open order."""
    _print_orders([_answer(_call("DELETE", api, key, f"/orders/{order_id}"))])


@order_app.command("list")
def list_orders(
    client: Annotated[str | None, typer.Option("--client", help="One client's orders.")] = None,
    open_only: Annotated[bool, typer.Option("--open", help="Open orders only.")] = False,
    api: ApiOption = DEFAULT_API,
    key: KeyOption = "",
) -> None:
    """Today's orders in the running service, newest first."""
    params = {"client_id": client} if client else {}
    if open_only:
        params["open_only"] = "true"
    found = _answer(_call("GET", api, key, "/orders", params=params))
    _print_orders(list(found["items"]))  # type: ignore[call-overload]
