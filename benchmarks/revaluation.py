"""Risk engine: full revaluation of the whole book against DuckDB and the memory floor.

    .venv/bin/python benchmarks/revaluation.py                        # 1,000,000 accounts
    .venv/bin/python benchmarks/revaluation.py --accounts 10000 --runs 3

The book (seeded numpy): ``--accounts`` credit accounts holding about ``--positions``
positions over 4,200 securities (positions per account geometric, so most hold a few and
some dozens; securities drawn by a Zipf-like popularity; values lognormal around 30,000
yuan), 55% of accounts with margin-bought positions (about one financing contract per
three of their positions, some positions with two contracts of different dates), 6% with
one to three shorts whose proceeds sit in their cash, charges on every contract, firm
haircuts 0–95% and margin ratios 80–120%; some leveraged accounts sit near the lines.

Measured, on one core (numpy does not thread these operations; DuckDB is held to one
thread, and its default threads are reported beside):
- our full revaluation (``Revaluer.full``: every account's assets, debt, maintenance ratio
  and available margin from the valuation prices), best of ``--runs``;
- the same computation as one DuckDB SQL query over the same columns (registered as numpy
  arrays, zero copy; the exchange formula written plainly, results fetched to numpy),
  best of ``--runs``; its figures are checked against ours;
- a plain numpy pass that sums once every array the full revaluation reads: the memory
  bandwidth floor, best of ``--runs``;
- an incremental one-security update (a new price for one security, then only its holders
  revalued: ``set_price_array`` + ``Revaluer.incremental``), median over ``--moves``
  securities, and the same through ``RiskEngine.on_price_array`` (status screen and exact
  confirmations included).
Everything is built before timing and frozen out of the collector's sight (``gc.freeze``).
"""

from __future__ import annotations

import argparse
import gc
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from fractions import Fraction
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from liangrong.domain import margin
from liangrong.risk.book_arrays import BookArrays
from liangrong.risk.engine import RiskEngine
from liangrong.risk.layout import BookData, ContractData
from liangrong.risk.revaluation import Figures, Revaluer
from liangrong.risk.tables import BLOCK

SEED = 20260302
SECURITIES = 4200
LINES = margin.Lines(attention=Fraction(3, 2), warning=Fraction(7, 5), liquidation=Fraction(13, 10))
HAIRCUTS_BP = np.array([0, 5000, 6000, 6500, 7000, 8000, 9000, 9500])
HAIRCUT_WEIGHTS = np.array([8, 10, 20, 25, 20, 10, 5, 2]) / 100
START = datetime(2026, 3, 2, 1, 30, tzinfo=UTC)  # 09:30 in Beijing


@dataclass(slots=True)
class Generated:
    data: BookData
    prices_li: np.ndarray
    haircuts: dict[str, Fraction]


def _symbols(n: int) -> list[str]:
    return [f"{600000 + i // 2:06d}.SH" if i % 2 else f"{1 + i // 2:06d}.SZ" for i in range(n)]


def generate(accounts: int, positions: int, seed: int = SEED) -> Generated:
    rng = np.random.default_rng(seed)
    ns = SECURITIES
    prices = np.clip(np.exp(rng.normal(np.log(15_000), 0.8, ns)), 1_000, 2_000_000)
    prices = prices.astype(np.int64)
    popularity = 1.0 / (np.arange(ns) + 10.0) ** 0.9
    popularity /= popularity.sum()
    # Positions: geometric counts, securities by popularity, one row per (account, security).
    mean = max(positions / accounts, 1.0) * 1.012  # duplicates removed below
    counts = rng.geometric(1.0 / mean, accounts)
    account = np.repeat(np.arange(accounts, dtype=np.intp), counts)
    security = rng.choice(ns, size=len(account), p=popularity).astype(np.intp)
    keys = np.sort(account.astype(np.int64) * ns + security)
    keys = keys[np.concatenate([[True], keys[1:] != keys[:-1]])]  # np.unique's hash is slow
    account, security = (keys // ns).astype(np.intp), (keys % ns).astype(np.intp)
    value_fen = np.exp(rng.normal(np.log(3_000_000), 1.0, len(keys)))
    quantity = np.maximum(value_fen * 10 / prices[security] // 100, 1).astype(np.int64) * 100
    financing = _financing(rng, accounts, account, security, quantity, prices)
    shorts = _shorts(rng, accounts, prices, popularity)
    cash = np.exp(rng.normal(np.log(2_000_000), 1.5, accounts)).astype(np.int64)
    cash[rng.random(accounts) < 0.1] = 0
    leveraged = np.zeros(accounts, dtype=bool)
    leveraged[financing.account] = rng.random(len(financing.account)) < 0.08
    cash[leveraged] = 0  # margin-bought positions only: ratios near the lines
    np.add.at(cash, shorts.account, (shorts.outstanding * shorts.price_li + 5) // 10)
    haircut_bp = rng.choice(HAIRCUTS_BP, size=ns, p=HAIRCUT_WEIGHTS)
    symbols = _symbols(ns)
    data = BookData(
        client_ids=[f"C{i:07d}" for i in range(accounts)],
        symbols=symbols,
        cash_fen=cash,
        position_account=account,
        position_security=security,
        position_quantity=quantity,
        financing=financing,
        shorts=shorts,
    )
    haircuts = {sym: Fraction(int(h), 10_000) for sym, h in zip(symbols, haircut_bp, strict=True)}
    return Generated(data, prices, haircuts)


def _financing(
    rng: np.random.Generator,
    accounts: int,
    account: np.ndarray,
    security: np.ndarray,
    quantity: np.ndarray,
    prices: np.ndarray,
) -> ContractData:
    margined = rng.random(accounts) < 0.55
    chosen = np.flatnonzero(margined[account] & (rng.random(len(account)) < 0.35))
    second = chosen[rng.random(len(chosen)) < 0.06]  # a second, later contract
    rows = np.concatenate([chosen, second])
    later = np.concatenate([np.zeros(len(chosen), bool), np.ones(len(second), bool)])
    held = quantity[rows]
    share = np.where(later, 0.3, rng.uniform(0.4, 1.0, len(rows)))
    bought = np.maximum((held * share) // 100 * 100, 100).astype(np.int64)
    open_price = (prices[security[rows]] * rng.uniform(0.8, 1.6, len(rows))).astype(np.int64)
    amount = np.maximum(bought * open_price // 10, 1)
    repaid = rng.random(len(rows)) < 0.3
    outstanding = np.where(
        repaid, (amount * rng.uniform(0.2, 0.9, len(rows))).astype(np.int64), amount
    )
    ratio = rng.choice(np.array([8000, 10000, 12000]), size=len(rows), p=[0.1, 0.8, 0.1])
    day = datetime(2026, 1, 5).toordinal()
    opened = day + rng.integers(0, 40, len(rows)) + later * 41
    data = ContractData(
        account=account[rows],
        security=security[rows],
        ids=[f"F{i:08d}" for i in range(len(rows))],
        outstanding=outstanding,
        charges=(outstanding * rng.uniform(0, 0.004, len(rows))).astype(np.int64),
        ratio_bp=ratio.astype(np.int64),
        open=opened.astype(np.int64),
        price_li=open_price,
        bought=bought,
        amount=amount.astype(np.int64),
    )
    return data


def _shorts(
    rng: np.random.Generator, accounts: int, prices: np.ndarray, popularity: np.ndarray
) -> ContractData:
    short_accounts = np.flatnonzero(rng.random(accounts) < 0.06)
    account = np.repeat(short_accounts, rng.integers(1, 4, len(short_accounts)))
    m = len(account)
    security = rng.choice(len(prices), size=m, p=popularity).astype(np.intp)
    quantity = (rng.geometric(0.1, m) * 100).astype(np.int64)
    open_price = (prices[security] * rng.uniform(0.8, 1.2, m)).astype(np.int64)
    return ContractData(
        account=account.astype(np.intp),
        security=security,
        ids=[f"S{i:08d}" for i in range(m)],
        outstanding=quantity,
        charges=(quantity * open_price // 10 * rng.uniform(0, 0.004, m)).astype(np.int64),
        ratio_bp=rng.choice(np.array([10000, 12000]), size=m, p=[0.8, 0.2]).astype(np.int64),
        open=(datetime(2026, 2, 2).toordinal() + rng.integers(0, 20, m)).astype(np.int64),
        price_li=open_price,
    )


def best_ms(run: Callable[[], object], runs: int) -> float:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        run()
        times.append(time.perf_counter() - started)
    return min(times) * 1e3


# --- DuckDB: the same computation as one SQL query -----------------------------------------

QUERY = """
WITH held AS (
    SELECT account, SUM(quantity * price) AS value_li,
           SUM(quantity * price * haircut) AS collateral_li
    FROM positions JOIN securities USING (security) GROUP BY account
), fin AS (
    SELECT account, SUM(owed) AS owed_fen, SUM(owed * ratio) AS margin_fen,
           SUM(CASE WHEN backing * price > owed * 10
                    THEN (backing * price - owed * 10) * haircut
                    ELSE backing * price - owed * 10 END
               - backing * price * haircut) AS floating_li
    FROM financing JOIN securities USING (security) GROUP BY account
), sho AS (
    SELECT account, SUM(quantity * price) AS value_li, SUM(sale) AS sale_fen,
           SUM(CASE WHEN sale * 10 > quantity * price
                    THEN (sale * 10 - quantity * price) * haircut
                    ELSE sale * 10 - quantity * price END
               - quantity * price * ratio) AS floating_li
    FROM shorts JOIN securities USING (security) GROUP BY account
)
SELECT a.account,
       a.cash * 10.0 + COALESCE(h.value_li, 0) AS assets_li,
       (COALESCE(f.owed_fen, 0) + a.charges) * 10.0 + COALESCE(s.value_li, 0) AS debt_li,
       (a.cash - a.charges - COALESCE(s.sale_fen, 0) - COALESCE(f.margin_fen, 0)) * 10.0
       + COALESCE(h.collateral_li, 0) + COALESCE(f.floating_li, 0)
       + COALESCE(s.floating_li, 0) AS available_li
FROM accounts a
LEFT JOIN held h USING (account) LEFT JOIN fin f USING (account) LEFT JOIN sho s USING (account)
"""


def duckdb_tables(book: BookArrays) -> dict[str, dict[str, np.ndarray]]:
    """The same columns our pass reads, as DuckDB tables (live slots only: no empties)."""
    blocks, sec, fin, sh, acc = (
        book.blocks,
        book.securities,
        book.financing,
        book.shorts,
        book.accounts,
    )
    slots = np.flatnonzero(blocks.qty[: blocks.n * BLOCK])
    n, m, k = book.n_accounts, fin.n, sh.n
    return {
        "positions": {
            "account": blocks.owner[slots // BLOCK],
            "security": blocks.sec[slots],
            "quantity": blocks.qty[slots],
        },
        "securities": {
            "security": np.arange(sec.n),
            "price": sec.value_f[: sec.n],
            "haircut": sec.haircut_f[: sec.n],
        },
        "financing": {
            "account": fin.account[:m],
            "security": fin.security[:m],
            "backing": fin.backing[:m],
            "owed": fin.outstanding[:m],
            "ratio": fin.ratio_bp[:m] / 10_000,
        },
        "shorts": {
            "account": sh.account[:k],
            "security": sh.security[:k],
            "quantity": sh.outstanding[:k],
            "sale": sh.sale[:k],
            "ratio": sh.ratio_bp[:k] / 10_000,
        },
        "accounts": {
            "account": np.arange(n),
            "cash": acc.cash_fen[:n],
            "charges": acc.charges_fen[:n],
        },
    }


def run_duckdb(
    book: BookArrays, runs: int, threads: int | None
) -> tuple[float, dict[str, np.ndarray]]:
    import duckdb  # a dev dependency: only this benchmark uses it

    con = duckdb.connect()
    if threads is not None:
        con.execute(f"SET threads = {threads}")
    for name, table in duckdb_tables(book).items():
        con.register(name, table)
    result: dict[str, np.ndarray] = {}

    def once() -> None:
        result.update(con.execute(QUERY).fetchnumpy())

    ms = best_ms(once, runs)
    con.close()
    return ms, result


def agreement(ours: Figures, theirs: dict[str, np.ndarray]) -> dict[str, float]:
    order = np.argsort(theirs["account"])
    assets, debt = theirs["assets_li"][order], theirs["debt_li"][order]
    ratio = np.divide(assets, debt, out=np.full(len(debt), np.inf), where=debt > 0)
    finite = np.isfinite(ours.ratio)
    scale = np.maximum(np.abs(ours.available_li), 1e6)
    return {
        "accounts_equal": float(np.array_equal(np.isfinite(ratio), finite)),
        "max_rel_ratio": float(np.max(np.abs(ratio[finite] / ours.ratio[finite] - 1), initial=0)),
        "max_rel_available": float(
            np.max(np.abs(theirs["available_li"][order] - ours.available_li) / scale, initial=0)
        ),
    }


# --- the floor ---------------------------------------------------------------------------------


def floor_arrays(book: BookArrays) -> list[np.ndarray]:
    """Every array the full revaluation reads, once."""
    blocks, sec, fin, sh, acc = (
        book.blocks,
        book.securities,
        book.financing,
        book.shorts,
        book.accounts,
    )
    ns, n, m, k = blocks.n * BLOCK, book.n_accounts, fin.n, sh.n
    return [
        blocks.sec[:ns],
        blocks.qf[:ns],
        blocks.qh[:ns],
        blocks.owner[blocks.n_ordered : blocks.n],
        sec.value_f[: sec.n],
        *(fin.account[:m], fin.security[:m], fin.bh[:m], fin.ah[:m]),
        *(sh.account[:k], sh.security[:k], sh.q[:k], sh.a1[:k], sh.b1[:k]),
        *(sh.a2[:k], sh.b2[:k]),
        *(acc.base_assets_li[:n], acc.base_debt_li[:n], acc.base_available_li[:n]),
    ]


def floor_pass(arrays: list[np.ndarray]) -> float:
    return float(sum(float(a.sum()) for a in arrays))


# --- incremental ------------------------------------------------------------------------------


def incremental_ms(
    book: BookArrays, revaluer: Revaluer, moves: int, rng: np.random.Generator
) -> tuple[list[float], list[int]]:
    held = np.flatnonzero(np.bincount(book.blocks.sec[book.blocks.sec >= 0], minlength=1))
    chosen = rng.choice(held, size=min(moves, len(held)), replace=False)
    times, touched = [], []
    for i, s in enumerate(chosen.tolist()):
        price = int(book.securities.value_li[s])
        new = np.asarray([price + (1 if i % 2 else -1) * max(price // 100, 1)], dtype=np.int64)
        at = book.prices_at + timedelta(microseconds=1) if book.prices_at else START
        index = np.asarray([s], dtype=np.intp)
        started = time.perf_counter_ns()
        figures = revaluer.incremental(book.set_price_array(at, index, new))
        times.append((time.perf_counter_ns() - started) / 1e6)
        touched.append(len(figures))
    return times, touched


def engine_incremental_ms(
    engine: RiskEngine, moves: int, rng: np.random.Generator
) -> tuple[list[float], int]:
    book = engine.book
    held = np.flatnonzero(np.bincount(book.blocks.sec[book.blocks.sec >= 0], minlength=1))
    chosen = rng.choice(held, size=min(moves, len(held)), replace=False)
    times, changes = [], 0
    for i, s in enumerate(chosen.tolist()):
        price = int(book.securities.value_li[s])
        new = np.asarray([price + (1 if i % 2 else -1) * max(price // 50, 1)], dtype=np.int64)
        at = (book.prices_at or START) + timedelta(microseconds=1)
        index = np.asarray([s], dtype=np.intp)
        started = time.perf_counter_ns()
        changes += len(engine.on_price_array(at, index, new))
        times.append((time.perf_counter_ns() - started) / 1e6)
    return times, changes


def main(argv: list[str] | None = None) -> dict[str, float]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accounts", type=int, default=1_000_000)
    parser.add_argument("--positions", type=int, default=None, help="default 8 per account")
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--moves", type=int, default=500)
    parser.add_argument("--seed", type=int, default=SEED)
    args = parser.parse_args(argv)
    positions = args.positions if args.positions is not None else 8 * args.accounts

    started = time.perf_counter()
    generated = generate(args.accounts, positions, args.seed)
    book = BookArrays(generated.data)
    book.set_haircuts(generated.haircuts)
    book.set_price_array(START, np.arange(SECURITIES, dtype=np.intp), generated.prices_li)
    revaluer = Revaluer(book)
    build_s = time.perf_counter() - started
    gc.collect()
    gc.freeze()

    full_ms = best_ms(revaluer.full, args.runs)
    figures = revaluer.full()
    duck_ms, duck_result = run_duckdb(book, args.runs, threads=1)
    duck_all_ms, _ = run_duckdb(book, max(args.runs // 2, 1), threads=None)
    agree = agreement(figures, duck_result)
    arrays = floor_arrays(book)
    floor_ms = best_ms(lambda: floor_pass(arrays), args.runs)
    floor_bytes = sum(a.nbytes for a in arrays)
    rng = np.random.default_rng(args.seed + 1)
    inc, touched = incremental_ms(book, revaluer, args.moves, rng)

    engine_started = time.perf_counter()
    engine = RiskEngine(book, LINES)
    _, first_changes = engine.revalue_all()
    engine_s = time.perf_counter() - engine_started
    with_status, status_changes = engine_incremental_ms(engine, args.moves, rng)
    gc.unfreeze()

    results = {
        "accounts": float(book.n_accounts),
        "positions": float(np.count_nonzero(book.blocks.qty[: book.blocks.n * BLOCK])),
        "slots": float(book.blocks.n * BLOCK),
        "financing": float(book.financing.n),
        "shorts": float(book.shorts.n),
        "build_s": build_s,
        "full_ms": full_ms,
        "duckdb_ms": duck_ms,
        "duckdb_default_threads_ms": duck_all_ms,
        "floor_ms": floor_ms,
        "floor_gb_per_s": floor_bytes / floor_ms / 1e6,
        "incremental_median_ms": statistics.median(inc),
        "incremental_p90_ms": float(np.percentile(inc, 90)),
        "incremental_max_ms": max(inc),
        "incremental_median_accounts": statistics.median(touched),
        "with_statuses_median_ms": statistics.median(with_status),
        "with_statuses_p90_ms": float(np.percentile(with_status, 90)),
        "duckdb_over_full": duck_ms / full_ms,
        "full_over_floor": full_ms / floor_ms,
        "first_status_changes": float(len(first_changes)),
        "engine_start_s": engine_s,
        "status_changes_during_moves": float(status_changes),
        **{f"agreement_{k}": v for k, v in agree.items()},
    }
    _print(results)
    return results


def _print(r: dict[str, float]) -> None:
    print(
        f"book: {r['accounts']:,.0f} accounts, {r['positions']:,.0f} positions "
        f"({r['slots']:,.0f} slots), {r['financing']:,.0f} financing and {r['shorts']:,.0f} "
        f"short contracts; built in {r['build_s']:.1f} s"
    )
    print(f"full revaluation (ours, numpy)   {r['full_ms']:8.1f} ms")
    print(
        f"same as one DuckDB query         {r['duckdb_ms']:8.1f} ms  (1 thread; "
        f"{r['duckdb_default_threads_ms']:.1f} ms with default threads)  "
        f"= {r['duckdb_over_full']:.1f}x ours"
    )
    print(
        f"numpy memory pass (floor)        {r['floor_ms']:8.1f} ms  "
        f"({r['floor_gb_per_s']:.1f} GB/s)  ours = {r['full_over_floor']:.2f}x the floor"
    )
    print(
        f"incremental, one security        median {r['incremental_median_ms']:.3f} ms, "
        f"p90 {r['incremental_p90_ms']:.3f} ms, max {r['incremental_max_ms']:.3f} ms "
        f"({r['incremental_median_accounts']:.0f} accounts revalued at the median)"
    )
    print(
        f"  with status screen and exact   median {r['with_statuses_median_ms']:.3f} ms, "
        f"p90 {r['with_statuses_p90_ms']:.3f} ms"
    )
    print(
        f"DuckDB agrees: max relative difference {r['agreement_max_rel_ratio']:.1e} (ratio), "
        f"{r['agreement_max_rel_available']:.1e} (available margin)"
    )
    print(
        f"statuses: {r['first_status_changes']:,.0f} set by the first pass "
        f"(engine start {r['engine_start_s']:.1f} s), "
        f"{r['status_changes_during_moves']:.0f} changes during the moves"
    )


if __name__ == "__main__":
    main()
