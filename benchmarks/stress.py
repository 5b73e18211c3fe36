"""Stress tests: many scenarios over the whole book, on the local pool and on dask (RISK-12).

    .venv/bin/python benchmarks/stress.py                  # 1,000 scenarios × 1,000,000 accounts
    .venv/bin/python benchmarks/stress.py --accounts 20000 --scenarios 50

The book is the revaluation benchmark's (``revaluation.generate``: ``--accounts`` accounts,
8 positions each on average over 4,200 securities, financing, shorts, some leveraged
accounts near the lines), at its generated prices, against lines of 150/140/130% and a call
target of 150%.  Per security, seeded: a board (SSE main, STAR, SZSE main, ChiNext by
exchange), a beta in 0.60–1.60 (two decimals) and a day's volume of the shares the book
holds × a lognormal factor around 3.

Scenarios (``--scenarios``, in a seeded order so every chunk mixes kinds): the presets
``2008``, ``2015``, ``2024-01`` (the real CSI 300 from each window's first close to its
lowest), 40% replays of random windows of 5–60 trading days of the real CSI 300 history
(2006–2025), 20% uniform shocks of -1..-60%, 20% board shocks of -5..-40%, the rest shocks
of -10..-90% on one of the 200 most held securities.  Every scenario moves every held
security's price (replays through each beta), so no shortcut applies.

Timed: the snapshot the stress pass reads (``stress_book``), the run of every scenario on
the local process pool (``--workers`` forked workers), and the same on a dask
``LocalCluster`` of ``--workers`` single-threaded worker processes (threads with
``--dask-threads``); the cluster's start is reported apart.  The two runs' results are
compared scenario by scenario (``ScenarioResult.fingerprint``).
"""

from __future__ import annotations

import argparse
import gc
import sys
import time
from decimal import Decimal
from fractions import Fraction
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from revaluation import LINES, SECURITIES, START, generate

from liangrong.domain import stress as scenarios
from liangrong.domain.securities import Board
from liangrong.risk.book_arrays import BookArrays
from liangrong.risk.executors import LocalPoolExecutor, dask_executor
from liangrong.risk.stress import (
    LIQUIDATION,
    ScenarioResult,
    StressBook,
    liquidity,
    run_stress,
    stress_book,
)
from liangrong.risk.tables import BLOCK
from liangrong.sim.index_history import IndexHistory, load_csi300

SEED = 20260412
CALL_TARGET = Fraction(3, 2)
PRESETS = {"2008": "2008", "2015": "2015-06..08", "2024-01": "2024-01"}
STOCK_BOARDS = (Board.SSE_MAIN, Board.STAR, Board.SZSE_MAIN, Board.CHINEXT)


def _closes(history: IndexHistory) -> list[Fraction]:
    return [Fraction(Decimal(repr(float(c)))) for c in history.close]


def _boards(symbols: list[str], rng: np.random.Generator) -> list[Board]:
    growth = rng.random(len(symbols)) < 0.25
    return [
        (Board.STAR if g else Board.SSE_MAIN)
        if s.endswith(".SH")
        else (Board.CHINEXT if g else Board.SZSE_MAIN)
        for s, g in zip(symbols, growth.tolist(), strict=True)
    ]


def make_scenarios(
    count: int, symbols: list[str], held: np.ndarray, rng: np.random.Generator
) -> list[scenarios.Scenario]:
    """The mix of the module docstring, in a seeded order."""
    history = load_csi300()
    drawn = rng.integers(60, 161, len(symbols)).tolist()
    betas_bp = {s: b * 100 for s, b in zip(symbols, drawn, strict=True)}
    built: list[scenarios.Scenario] = []
    for preset, window_name in list(PRESETS.items())[: min(3, count)]:
        window = history.named(window_name)
        window = window.window(window.dates[0], window.dates[int(np.argmin(window.close))])
        built.append(scenarios.replay(preset, _closes(window), betas_bp))
    rest = count - len(built)
    replays, uniform, boards = int(rest * 0.4), int(rest * 0.2), int(rest * 0.2)
    for _ in range(replays):
        length = int(rng.integers(5, 61))
        first = int(rng.integers(0, len(history) - length))
        window = history.window(history.dates[first], history.dates[first + length - 1])
        name = f"history:{window.dates[0]}:{window.dates[-1]}"
        built.append(scenarios.replay(name, _closes(window), betas_bp))
    for _ in range(uniform):
        built.append(scenarios.shock(scenarios.parse_scenario(f"uniform:{-rng.integers(1, 61)}")))
    for _ in range(boards):
        board = STOCK_BOARDS[int(rng.integers(0, 4))].name
        text = f"board:{board}:{-rng.integers(5, 41)}"
        built.append(scenarios.shock(scenarios.parse_scenario(text)))
    popular = np.argsort(-held, kind="stable")[:200]
    while len(built) < count:
        symbol = symbols[int(rng.choice(popular))]
        text = f"security:{symbol}:{-rng.integers(10, 91)}"
        built.append(scenarios.shock(scenarios.parse_scenario(text)))
    order = rng.permutation(len(built))
    return [built[i] for i in order.tolist()]


def _kinds(built: list[scenarios.Scenario]) -> str:
    counts: dict[str, int] = {}
    for scenario in built:
        kind = scenario.name.split(":")[0] if ":" in scenario.name else "preset"
        counts[kind] = counts.get(kind, 0) + 1
    return ", ".join(f"{n} {kind}" for kind, n in sorted(counts.items()))


def main(argv: list[str] | None = None) -> dict[str, float]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accounts", type=int, default=1_000_000)
    parser.add_argument("--scenarios", type=int, default=1_000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--seed", type=int, default=SEED)
    parser.add_argument("--no-dask", action="store_true", help="only the local pool")
    parser.add_argument(
        "--dask-threads", action="store_true", help="dask workers as threads of this process"
    )
    args = parser.parse_args(argv)

    rng = np.random.default_rng(args.seed)
    started = time.perf_counter()
    generated = generate(args.accounts, 8 * args.accounts)
    book = BookArrays(generated.data)
    book.set_price_array(START, np.arange(SECURITIES, dtype=np.intp), generated.prices_li)
    symbols = list(book.securities.symbols)
    slots = book.blocks.n * BLOCK
    live = book.blocks.qty[:slots] > 0
    held = np.bincount(
        book.blocks.sec[:slots][live], book.blocks.qty[:slots][live], minlength=SECURITIES
    )
    daily_volume = np.maximum(held * np.exp(rng.normal(np.log(3.0), 0.5, SECURITIES)), 100.0)
    boards = _boards(symbols, rng)
    built = make_scenarios(args.scenarios, symbols, held, rng)
    build_s = time.perf_counter() - started

    started = time.perf_counter()
    snapshot = stress_book(book, boards, daily_volume, LINES, CALL_TARGET)
    snapshot_s = time.perf_counter() - started
    positions = len(snapshot.position_security)
    del generated
    gc.collect()
    gc.freeze()

    started = time.perf_counter()
    local = run_stress(snapshot, built, LocalPoolExecutor(args.workers))
    local_s = time.perf_counter() - started
    figures = {
        "accounts": float(book.n_accounts),
        "stressed_accounts": float(snapshot.stressed),
        "stressed_positions": float(positions),
        "scenarios": float(len(built)),
        "build_s": build_s,
        "snapshot_s": snapshot_s,
        "local_s": local_s,
    }
    if not args.no_dask:
        started = time.perf_counter()
        with dask_executor(None, args.workers, processes=not args.dask_threads) as executor:
            figures["dask_start_s"] = time.perf_counter() - started
            started = time.perf_counter()
            remote = run_stress(snapshot, built, executor)
            figures["dask_s"] = time.perf_counter() - started
        same = [a.fingerprint() == b.fingerprint() for a, b in zip(local, remote, strict=True)]
        figures["identical"] = float(all(same) and len(remote) == len(local))
    gc.unfreeze()
    _print(figures, args, book.n_accounts, _kinds(built), _worst(snapshot, local))
    return figures


def _worst(snapshot: StressBook, results: list[ScenarioResult]) -> str:
    worst = max(results, key=lambda r: (r.below_accounts[LIQUIDATION], r.name))
    seen = liquidity(snapshot, worst, top=1)
    top = seen.worst[0] if seen.worst else ("-", 0, 0.0)
    return (
        f"{worst.name}: {worst.below_accounts[LIQUIDATION]:,} accounts below the liquidation "
        f"line owing {worst.below_debt_li[LIQUIDATION] // 1000:,} yuan, shortfall "
        f"{-(-worst.shortfall_li // 1000):,} yuan in {worst.shortfall_accounts:,} accounts; "
        f"{seen.over_a_day:,} securities need more than a day's volume (most: {top[0]}, "
        f"{top[2]:.1f} days)"
    )


def _print(
    f: dict[str, float], args: argparse.Namespace, accounts: int, kinds: str, worst: str
) -> None:
    print(
        f"book: {accounts:,} accounts; {f['stressed_accounts']:,.0f} owe or are short, holding "
        f"{f['stressed_positions']:,.0f} positions (generated in {f['build_s']:.1f} s)"
    )
    print(f"scenarios: {f['scenarios']:,.0f} ({kinds})")
    print(f"{'snapshot for the stress pass':40} {f['snapshot_s']:7.1f} s")
    print(
        f"{f'local pool, {args.workers} worker(s)':40} {f['local_s']:7.1f} s  "
        f"({f['local_s'] / f['scenarios'] * 1e3:.1f} ms a scenario; with the snapshot "
        f"{f['local_s'] + f['snapshot_s']:.1f} s)"
    )
    if "dask_s" in f:
        kind = "threads" if args.dask_threads else "processes"
        print(
            f"{f'dask LocalCluster, {args.workers} worker {kind}':40} {f['dask_s']:7.1f} s  "
            f"(cluster start {f['dask_start_s']:.1f} s, not included)"
        )
        print(f"identical results: {'yes' if f['identical'] == 1.0 else 'NO'}")
    print(f"worst scenario: {worst}")


if __name__ == "__main__":
    main()
