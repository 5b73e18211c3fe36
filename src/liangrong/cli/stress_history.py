"""``liangrong stress history``: the stress results the end of day stored (RISK-12), one row
per day and scenario: accounts and debt under the liquidation line, the shortfall after
liquidation and the liquidation's sales, with the scenario set that named them.

Registered under ``stress`` (``register`` adds the command to ``cli.stress.stress_app``).
"""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from liangrong.cli.simulate import parse_date
from liangrong.cli.store_option import open_store, store_option
from liangrong.cli.stress import stress_app
from liangrong.domain.money import li_to_yuan_text
from liangrong.risk.stress import LIQUIDATION
from liangrong.store.stress_records import StressRecord, load_stress_runs


def register(app: typer.Typer) -> None:
    """The command joins the ``stress`` group (``cli.stress`` registers the group)."""
    del app  # the group is already on the app
    if not any(c.name == "history" for c in stress_app.registered_commands):
        stress_app.command("history")(history)


def _yuan(value_li: int) -> str:
    return li_to_yuan_text(value_li)


def history_table(records: list[StressRecord]) -> Table:
    table = Table(
        "date", "scenario", "set", "below liquidation", "debt below (yuan)",
        "shortfall accounts", "shortfall (yuan)", "liquidated", "sales (yuan)",
        title="stored stress results", title_justify="left",
    )  # fmt: skip
    for r in records:
        table.add_row(
            r.trading_date.isoformat(),
            r.scenario,
            r.set_version or "—",
            f"{r.below_accounts[LIQUIDATION]:,}",
            _yuan(r.below_debt_li[LIQUIDATION]),
            f"{r.shortfall_accounts:,}",
            _yuan(r.shortfall_li),
            f"{r.liquidated_accounts:,}",
            _yuan(r.sale_value_li),
        )
    return table


def history(
    first: Annotated[
        str | None, typer.Option("--from", help="First trading date (default: all).")
    ] = None,
    last: Annotated[str | None, typer.Option("--to", help="Last trading date.")] = None,
    scenario: Annotated[
        str | None, typer.Option("--scenario", help="Only this scenario (its text, or before).")
    ] = None,
    store: str = store_option(),
) -> None:
    """The stored end-of-day stress results, by date and scenario."""
    engine = open_store(store)
    records = load_stress_runs(
        engine,
        None if first is None else parse_date(first),
        None if last is None else parse_date(last),
    )
    if scenario is not None:
        records = [r for r in records if r.scenario == scenario]
    console = Console()
    if not records:
        console.print("no stored stress results (the end of day's stress step stores them)")
        return
    console.print(history_table(records))
