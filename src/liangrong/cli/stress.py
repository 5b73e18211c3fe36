"""``liangrong stress run SCENARIO…``: stress tests of the whole book in the store (RISK-12).

The book is the ledger's now (``risk.loader.load_book``), valued at the reference prices in
force on ``--date`` (its previous close), against the firm's lines that day (each client's
own where agreed) and the firm's call target.  This command assembles what the risk layer
takes as inputs: per security its board (the master), its beta and a day's volume (the
seeded price simulator's, ``--seed``), and for historical scenarios the real CSI 300 closes
(``sim.index_history``).  A preset replays its window from the first close to the lowest:
``2008`` 2007-12-28 → 2008-11-04, ``2015`` 2015-06-05 → 2015-08-26, ``2024-01``
2023-12-29 → 2024-02-02.  ``history:FIRST:LAST`` replays the trading days in [FIRST, LAST].

Output: one table per scenario (before → after), a progress bar on stderr, and a PNG of the
ratio distribution before and after each scenario (``--png``).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime, time
from decimal import Decimal
from enum import StrEnum
from fractions import Fraction
from pathlib import Path
from typing import Annotated

import numpy as np
import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from rich.text import Text
from sqlalchemy import Engine

from liangrong.cli.simulate import DEFAULT_SEED, parse_date
from liangrong.cli.store_option import open_store, store_option
from liangrong.domain import margin
from liangrong.domain import stress as scenarios
from liangrong.domain.rule_book import terms_for
from liangrong.domain.securities import Board
from liangrong.risk.executors import Executor, LocalPoolExecutor, dask_executor
from liangrong.risk.loader import load_book
from liangrong.risk.statuses import rule_book_lines
from liangrong.risk.stress import (
    LINE_NAMES,
    TOP_PERCENT,
    Liquidity,
    ScenarioResult,
    StressBook,
    liquidity,
    ratio_percentile,
    run_stress,
    stress_book,
)
from liangrong.sim.index_history import IndexHistory, load_csi300
from liangrong.sim.reference_day import NoReferenceData, ReferenceDay, load_reference_day
from liangrong.sim.reference_day import price_simulator as simulator_of
from liangrong.sim.session import CST

PRESET_WINDOWS = {"2008": "2008", "2015": "2015-06..08", "2024-01": "2024-01"}
BEFORE = "before"
PLOT_TOP_PERCENT = 400  # the chart's range; accounts above it are counted in the legend
PLOT_BIN_PERCENT = 5

stress_app = typer.Typer(help="Stress tests of the whole book (RISK-12).", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    app.add_typer(stress_app, name="stress")


class ExecutorName(StrEnum):
    LOCAL = "local"
    DASK = "dask"


# --- inputs ---------------------------------------------------------------------------------


def _closes(history: IndexHistory) -> list[Fraction]:
    # The CSV's decimals exactly: a parsed float's repr is the shortest text that round-trips.
    return [Fraction(Decimal(repr(float(c)))) for c in history.close]


def _window(spec: scenarios.ScenarioSpec) -> tuple[str, IndexHistory]:
    history = load_csi300()
    if spec.preset is not None:
        window = history.named(PRESET_WINDOWS[spec.preset])
        trough = int(np.argmin(window.close))
        window = window.window(window.dates[0], window.dates[trough])
    else:
        assert spec.first is not None and spec.last is not None
        window = history.window(spec.first, spec.last)
    return f"{spec.text} ({window.dates[0]} → {window.dates[-1]})", window


def build_scenarios(
    specs: Sequence[scenarios.ScenarioSpec], betas_bp: dict[str, int]
) -> list[scenarios.Scenario]:
    built = []
    for spec in specs:
        if spec.kind is scenarios.Kind.HISTORY:
            name, window = _window(spec)
            built.append(scenarios.replay(name, _closes(window), betas_bp))
        else:
            built.append(scenarios.shock(spec))
    return built


def load_stress_book(
    engine: Engine, ref: ReferenceDay, seed: int
) -> tuple[StressBook, dict[str, int], margin.Lines]:
    """The store's book as a stress snapshot, the betas (bp) and the firm's lines."""
    book = load_book(engine)
    book.set_prices(datetime.combine(ref.prices_date, time(15), CST), ref.previous_close_li)
    simulator = simulator_of(ref, seed)
    betas = simulator.beta.tolist()
    betas_bp = {s: round(b * 10_000) for s, b in zip(simulator.symbols, betas, strict=True)}
    volume = dict(zip(simulator.symbols, simulator.daily_volume.tolist(), strict=True))
    symbols = book.securities.symbols
    boards = [ref.securities[s].board if s in ref.securities else Board.NONE for s in symbols]
    daily = np.asarray([volume.get(s, 0.0) for s in symbols], dtype=np.float64)
    firm, own = rule_book_lines(ref.rule_book, ref.trading_date, list(book.accounts.ids))
    target = terms_for(ref.rule_book, None, ref.trading_date).call_target
    return stress_book(book, boards, daily, firm, target, own), betas_bp, firm


@contextmanager
def _executor(name: ExecutorName, workers: int, scheduler: str | None) -> Iterator[Executor]:
    if name is ExecutorName.LOCAL:
        yield LocalPoolExecutor(workers)
        return
    with dask_executor(scheduler, workers) as executor:
        yield executor


# --- the command ------------------------------------------------------------------------------


@stress_app.command("run")
def run(
    texts: Annotated[
        list[str],
        typer.Argument(
            metavar="SCENARIO...",
            help="uniform:-10, board:STAR:-20, security:600000.SH:-30, "
            "history:2015-06-12:2015-08-26, or a preset: 2008, 2015, 2024-01.",
        ),
    ],
    on: Annotated[
        str | None, typer.Option("--date", help="Value at this day's reference prices.")
    ] = None,
    seed: Annotated[int, typer.Option("--seed", help="Seeds the betas and volumes.")] = (
        DEFAULT_SEED
    ),
    png: Annotated[Path, typer.Option("--png", help="Where to write the chart.")] = Path(
        "stress-ratios.png"
    ),
    executor: Annotated[
        ExecutorName, typer.Option("--executor", help="Local process pool or dask.")
    ] = ExecutorName.LOCAL,
    workers: Annotated[int, typer.Option("--workers", min=1, help="Worker processes.")] = 2,
    scheduler: Annotated[
        str | None,
        typer.Option("--scheduler", help="A dask scheduler's address (default: a local one)."),
    ] = None,
    store: str = store_option(),
) -> None:
    """Shock the whole book with each scenario; print the figures, chart the ratios."""
    try:
        specs = [scenarios.parse_scenario(text) for text in texts]
    except scenarios.ScenarioError as exc:
        raise typer.BadParameter(str(exc)) from None
    err = Console(stderr=True)
    engine = open_store(store)
    try:
        ref = load_reference_day(engine, parse_date(on))
    except NoReferenceData as exc:
        err.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(1) from None
    book, betas_bp, firm = load_stress_book(engine, ref, seed)
    try:
        built = build_scenarios(specs, betas_bp)
    except (scenarios.ScenarioError, ValueError) as exc:
        err.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(1) from None
    every = [scenarios.Scenario(BEFORE, scenarios.UNCHANGED), *built]
    with _executor(executor, workers, scheduler) as runner:
        results = _run_with_progress(book, every, runner, err)
    console = Console()
    console.print(
        f"{book.total_accounts:,} accounts ({book.stressed:,} owing or short) at the reference "
        f"prices of {ref.prices_date}; firm lines {_lines_text(firm)}; call target "
        f"{_percent(book.call_target)}",
        markup=False,
        emoji=False,
    )
    for result in results[1:]:
        console.print(scenario_table(book, results[0], result))
    write_chart(png, results[0], results[1:], firm)
    console.print(f"chart of the ratio distributions: {png}", markup=False, emoji=False)


def _run_with_progress(
    book: StressBook, every: list[scenarios.Scenario], runner: Executor, err: Console
) -> list[ScenarioResult]:
    with Progress(
        TextColumn("scenarios"),
        BarColumn(),
        TextColumn("{task.completed:,}/{task.total:,}"),
        TimeElapsedColumn(),
        console=err,
    ) as bar:
        task = bar.add_task("scenarios", total=len(every))
        return run_stress(book, every, runner, progress=lambda _: bar.advance(task))


# --- output -----------------------------------------------------------------------------------


def _yuan(value_li: int) -> str:
    return f"{(value_li + 500) // 1000:,}"  # whole yuan, half up


def _percent(value: Fraction) -> str:
    return f"{float(value) * 100:g}%"


def _lines_text(lines: margin.Lines) -> str:
    values = (lines.attention, lines.warning, lines.liquidation, lines.emergency)
    named = zip(LINE_NAMES, values, strict=True)
    return ", ".join(f"{name} {_percent(v)}" for name, v in named if v is not None)


def _ratio(result: ScenarioResult, share: Fraction) -> str:
    found = ratio_percentile(result, share)
    return "—" if found is None else f"{found}%" if found < TOP_PERCENT else f"≥{TOP_PERCENT}%"


def _rows(result: ScenarioResult) -> list[tuple[str, str]]:
    """(label, value) of one result, in the table's order."""
    rows = [
        (f"ratio, {label}", _ratio(result, share))
        for share, label in (
            (Fraction(1, 100), "1st percentile"),
            (Fraction(1, 10), "10th percentile"),
            (Fraction(1, 2), "median"),
        )
    ]
    rows += [
        (
            f"below {name}: accounts / debt (yuan)",
            f"{result.below_accounts[j]:,} / {_yuan(result.below_debt_li[j])}",
        )
        for j, name in enumerate(LINE_NAMES)
    ]
    shortfall_yuan = -(-result.shortfall_li // 1000)  # rounded up: never understated
    rows += [
        ("shortfall after liquidation: accounts", f"{result.shortfall_accounts:,}"),
        ("shortfall after liquidation (yuan)", f"{shortfall_yuan:,}"),
        ("accounts below their liquidation line", f"{result.liquidated_accounts:,}"),
        (
            "liquidation sells / buys back (yuan, est.)",
            f"{_yuan(result.sale_value_li)} / {_yuan(result.cover_value_li)}",
        ),
    ]
    return rows


def scenario_table(book: StressBook, before: ScenarioResult, after: ScenarioResult) -> Table:
    # A Text title: a name like board:STAR:-20 is not markup nor an emoji code.
    table = Table("", "before", "after", title=Text(after.name), title_justify="left")
    for (label, old), (_, new) in zip(_rows(before), _rows(after), strict=True):
        table.add_row(label, old, new)
    seen = [liquidity(book, result, top=3) for result in (before, after)]
    table.add_row(
        "securities sold / over a day's volume",
        *(f"{s.securities:,} / {s.over_a_day:,}" for s in seen),
    )
    table.add_row("most days of volume", *(_worst(s) for s in seen))
    return table


def _worst(seen: Liquidity) -> str:
    named = (f"{symbol} {shares:,} sh = {days:.2f} d" for symbol, shares, days in seen.worst)
    return ", ".join(named) or "—"


def _binned(result: ScenarioResult) -> tuple[np.ndarray, int]:
    """Accounts with debt in PLOT_BIN_PERCENT bins up to PLOT_TOP_PERCENT, and those above."""
    counts = result.ratio_histogram
    shown = counts[:PLOT_TOP_PERCENT].reshape(-1, PLOT_BIN_PERCENT).sum(axis=1)
    return shown, int(counts[PLOT_TOP_PERCENT:].sum())


def write_chart(
    path: Path, before: ScenarioResult, after: Sequence[ScenarioResult], lines: margin.Lines
) -> None:
    """One panel per scenario: accounts with debt by maintenance ratio, before and after;
    the firm's lines dotted; accounts above the chart's range counted in the legend."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    edges = np.arange(0, PLOT_TOP_PERCENT + 1, PLOT_BIN_PERCENT)
    figure, axes = plt.subplots(len(after), 1, figsize=(9, 2.8 * len(after)), squeeze=False)
    for axis, result in zip(axes[:, 0], after, strict=True):
        for label, shown, color in (("before", before, "tab:blue"), ("after", result, "tab:red")):
            counts, above = _binned(shown)
            axis.stairs(counts, edges, color=color, label=f"{label} ({above:,} ≥ {edges[-1]}%)")
        for value in (lines.warning, lines.liquidation, lines.emergency, Fraction(1)):
            if value is not None:
                axis.axvline(float(value) * 100, color="grey", linestyle=":", linewidth=1)
        axis.set_title(result.name, fontsize=10)
        axis.set_ylabel("accounts")
        axis.set_xlim(0, PLOT_TOP_PERCENT)
        axis.legend(loc="upper right", fontsize=8)
    axes[-1, 0].set_xlabel(
        f"maintenance ratio, % ({PLOT_BIN_PERCENT}% bins; dotted: 100% and the firm's lines)"
    )
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)
