"""``liangrong ledger ...``: rebuild the projections, check conservation, show balances."""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime
from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from liangrong.cli.store_option import open_store, store_option
from liangrong.domain.journal import transaction_from_dict
from liangrong.domain.money import fen_to_yuan_text
from liangrong.domain.rejections import Rejection
from liangrong.ledger.journal import Ledger
from liangrong.ledger.projections import balances_under, conservation_breaks, rebuild

ledger_app = typer.Typer(help="The double-entry journal and its projections.", no_args_is_help=True)
console = Console(soft_wrap=True)


def register(app: typer.Typer) -> None:
    app.add_typer(ledger_app, name="ledger")


@ledger_app.command("rebuild")
def rebuild_command(store: str = store_option()) -> None:
    """Recompute balances and contracts from the journal; exit 1 unless identical."""
    engine = open_store(store)
    started = datetime.now(UTC)
    result = rebuild(engine)
    seconds = (datetime.now(UTC) - started).total_seconds()
    console.print(
        f"rebuilt from {result.transactions} transactions: {result.balances} balances, "
        f"{result.contracts} contracts in {seconds:.2f} s"
    )
    console.print(f"projection digest before: {result.digest_before}")
    console.print(f"projection digest after:  {result.digest_after}")
    if not result.identical:
        console.print("[red]DIFFERENT: the stored projections did not match the journal[/red]")
        raise typer.Exit(1)
    console.print("[green]identical[/green]")


@ledger_app.command("check")
def check_command(store: str = store_option()) -> None:
    """Check that postings and balances sum to zero per asset; exit 1 if not."""
    breaks = conservation_breaks(open_store(store))
    if breaks:
        for where, total in sorted(breaks.items()):
            console.print(f"[red]{where} sums to {total}[/red]")
        raise typer.Exit(1)
    console.print("every asset sums to zero in the journal and in the balances")


@ledger_app.command("balances")
def balances_command(
    prefix: str = typer.Argument("firm:", help="account name prefix, e.g. firm:collateral_cash:"),
    store: str = store_option(),
) -> None:
    """Non-zero balances of the accounts under a prefix (CNY in yuan, securities in shares)."""
    rows = balances_under(open_store(store), prefix)
    table = Table("account", "asset", "balance")
    for (account, asset), amount in sorted(rows.items()):
        shown = fen_to_yuan_text(amount) if asset == "CNY" else f"{amount:,}"
        table.add_row(account, asset, shown)
    console.print(table)


@ledger_app.command("post")
def post_command(
    source: str = typer.Argument("-", help="a JSON transaction file, or - for stdin"),
    store: str = store_option(),
) -> None:
    """Post one transaction given as JSON (command_id, business_date, kind, legs of
    {purpose, postings: [[account, asset, amount], ...]}); every ledger check applies.
    A refusal prints its code and exits 2 without changing anything."""
    text = sys.stdin.read() if source == "-" else Path(source).read_text(encoding="utf-8")
    try:
        document = json.loads(text)
        if not isinstance(document, dict):
            raise ValueError("expected a JSON object")
        txn = transaction_from_dict(document)
        result = Ledger(open_store(store), lambda: datetime.now(UTC)).post(txn)
    except ValueError as error:
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(2) from error
    except Rejection as rejection:
        typer.echo(
            f"{rejection.code_name}: {rejection.message_en} / {rejection.message_zh}", err=True
        )
        raise typer.Exit(2) from rejection
    state = "already applied, nothing changed" if result.replayed else "posted"
    console.print(f"{result.command_id}: {state} (journal seq {result.seq})")
