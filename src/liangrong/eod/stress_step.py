"""Step ``stress``: the firm's stress scenarios over the whole book at the close, stored and
written to ``stress_{date}.csv`` (RISK-12).

The book is the ledger's after the day's settlement, accrual and statuses
(``risk.loader.load_book``), valued as the statuses step values it: the firm's haircuts,
the day's closes (``EodContext.closes``), and the firm's fair-value rule for the securities
that need one (RISK-2, ``sim.fair_value_day``: a suspended security at its last close
before the suspension, read from the store).  The scenarios are the firm's scenario set in
force on the day (``store.stress_records.scenario_set_on``: reference data, seeded by the demo in
``sim.stress_seed``), preceded by the book as it is (``BEFORE``); each client's own lines,
the firm's call target; betas and volumes from ``sim.stress_seed.stress_market``.  No set
in force: only ``BEFORE`` is run, and the summary says so.

Invariants: the results are a function of the store as the steps before left it (the
scenarios run inline, integers exact, the float estimates in a fixed order), saved in one
transaction keyed by (date, scenario): a rerun after a crash recomputes the same figures and
records nothing twice (other figures would be refused, ``StressRunConflict``); the file is
written atomically from the stored records, so it is the same bytes whichever run wrote
them.  Clients whose agreement names another fair-value rule are stressed at the firm's
rule's prices (one price per security in the stress pass).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from fractions import Fraction
from typing import Any

from liangrong.domain.money import li_to_yuan_text
from liangrong.domain.rule_book import terms_for
from liangrong.domain.stress import UNCHANGED, Scenario
from liangrong.eod.context import Digest, EodContext, StepOutcome, StepRun
from liangrong.eod.files import csv_bytes, write_atomic
from liangrong.risk.book_arrays import BookArrays
from liangrong.risk.executors import LocalPoolExecutor
from liangrong.risk.fair_values import FairValuePlan
from liangrong.risk.fair_values import firm_changes as fair_value_changes
from liangrong.risk.loader import load_book
from liangrong.risk.statuses import rule_book_lines
from liangrong.risk.stress import (
    LINE_NAMES,
    LIQUIDATION,
    ScenarioResult,
    StressBook,
    liquidity,
    ratio_percentile,
    run_stress,
    stress_book,
)
from liangrong.sim.fair_value_day import day_fair_values
from liangrong.sim.stress_seed import build_scenarios, stress_market
from liangrong.store.stress_records import (
    StressRecord,
    load_stress_runs,
    save_stress_runs,
    scenario_set_on,
)

BEFORE = "before"  # the book as it is at the close (not a scenario text: no clash)
PERCENTILES = {"p1": Fraction(1, 100), "p10": Fraction(1, 10), "median": Fraction(1, 2)}
HEADER = (
    "seq", "scenario", "set_version", "prices", "accounts", "no_debt",
    "ratio_p1_pct", "ratio_p10_pct", "ratio_median_pct",
    *(f"below_{n}{suffix}" for n in LINE_NAMES for suffix in ("", "_debt_yuan")),
    "shortfall_accounts", "shortfall_yuan", "liquidated_accounts",
    "sale_value_yuan", "cover_value_yuan", "securities_sold", "over_a_day_volume",
    "replayed", "fingerprint",
)  # fmt: skip


# --- the book at the close ----------------------------------------------------------------


def _book_at_close(run: StepRun) -> tuple[BookArrays, FairValuePlan]:
    ctx = run.ctx
    at, market = run.moment(), ctx.closing_market()
    book = load_book(ctx.engine, ctx.book_data())
    book.set_haircuts({symbol: market.haircut(symbol) for symbol in market.securities})
    fair = day_fair_values(ctx.engine, ctx.reference())
    book.set_valuations(at, fair_value_changes(book, fair))
    closes, _ = ctx.closes()
    book.set_prices(at, {s: p for s, p in sorted(closes.items()) if s in book.securities.index})
    return book, fair


def _stress_inputs(run: StepRun, book: BookArrays) -> tuple[StressBook, dict[str, int]]:
    ctx = run.ctx
    ref = ctx.reference()
    market = stress_market(ref, book.securities.symbols[: book.securities.n])
    firm, own = rule_book_lines(ref.rule_book, ctx.day, list(book.accounts.ids))
    target = terms_for(ref.rule_book, None, ctx.day).call_target
    snapshot = stress_book(book, market.boards, market.daily_volume, firm, target, own)
    return snapshot, market.betas_bp


# --- records and the file -----------------------------------------------------------------


Window = tuple[date, date] | None


def _detail(snapshot: StressBook, result: ScenarioResult, window: Window) -> dict[str, Any]:
    histogram = result.ratio_histogram.tolist()
    seen = liquidity(snapshot, result, top=3)
    sold, bought = result.sold_shares.tolist(), result.covered_shares.tolist()
    traded = zip(snapshot.symbols, sold, bought, strict=True)
    return {
        "percentiles": {k: ratio_percentile(result, share) for k, share in PERCENTILES.items()},
        "histogram": [[b, n] for b, n in enumerate(histogram) if n],
        "liquidation": [[s, out, back] for s, out, back in traded if out or back],
        "securities_sold": seen.securities,
        "over_a_day_volume": seen.over_a_day,
        "worst": [[s, shares, f"{days:.4f}"] for s, shares, days in seen.worst],
        "replayed": None if window is None else [d.isoformat() for d in window],
    }


def _records(
    ctx: EodContext,
    set_version: str | None,
    snapshot: StressBook,
    results: list[ScenarioResult],
    windows: list[Window],
) -> list[StressRecord]:
    _, source = ctx.closes()
    return [
        StressRecord(
            trading_date=ctx.day,
            scenario=result.name,
            seq=seq,
            set_version=set_version,
            prices=f"closes of {ctx.day.isoformat()} ({source})",
            accounts=result.accounts,
            no_debt=result.no_debt,
            below_accounts=result.below_accounts,
            below_debt_li=result.below_debt_li,
            shortfall_accounts=result.shortfall_accounts,
            shortfall_li=result.shortfall_li,
            liquidated_accounts=result.liquidated_accounts,
            sale_value_li=result.sale_value_li,
            cover_value_li=result.cover_value_li,
            fingerprint=result.fingerprint(),
            detail=_detail(snapshot, result, window),
        )
        for seq, (result, window) in enumerate(zip(results, windows, strict=True))
    ]


def _row(record: StressRecord) -> list[object]:
    detail = record.detail
    percentiles = detail["percentiles"]
    lines = [
        value
        for count, owed in zip(record.below_accounts, record.below_debt_li, strict=True)
        for value in (count, li_to_yuan_text(owed))
    ]
    replayed = detail["replayed"]
    return [
        record.seq, record.scenario, record.set_version or "", record.prices,
        record.accounts, record.no_debt,
        *("" if percentiles[k] is None else percentiles[k] for k in PERCENTILES),
        *lines,
        record.shortfall_accounts, li_to_yuan_text(record.shortfall_li),
        record.liquidated_accounts,
        li_to_yuan_text(record.sale_value_li), li_to_yuan_text(record.cover_value_li),
        detail["securities_sold"], detail["over_a_day_volume"],
        "" if replayed is None else "..".join(replayed), record.fingerprint,
    ]  # fmt: skip


def stress_file(records: Sequence[StressRecord]) -> bytes:
    """The day's ``stress_{date}.csv``: one row per stored scenario, in run order; money in
    yuan, exact to the li; ratio percentiles in whole percent (1000: 1000% or more)."""
    return csv_bytes(HEADER, (_row(r) for r in records))


# --- the step -----------------------------------------------------------------------------


def stress_step(run: StepRun) -> StepOutcome:
    ctx = run.ctx
    version = scenario_set_on(ctx.engine, ctx.day)
    book, fair = _book_at_close(run)
    snapshot, betas_bp = _stress_inputs(run, book)
    built = build_scenarios(() if version is None else version.value, betas_bp)
    scenarios = [Scenario(BEFORE, UNCHANGED), *(b.scenario for b in built)]
    windows: list[Window] = [None, *(b.window for b in built)]
    done = iter(range(1, len(scenarios) + 1))
    results = run_stress(
        snapshot,
        scenarios,
        LocalPoolExecutor(1),  # inline: the step's process, no forks under the runner
        progress=lambda _: run.progress(next(done), len(scenarios)),
    )
    set_version = None if version is None else version.version_id
    records = _records(ctx, set_version, snapshot, results, windows)
    save_stress_runs(ctx.engine, records, run.stamp())
    stored = load_stress_runs(ctx.engine, ctx.day, ctx.day)
    data = stress_file(stored)
    name = f"stress_{ctx.day:%Y%m%d}.csv"
    write_atomic(ctx.out_dir / name, data)
    digest = Digest()
    digest.data(name, data)
    # Only what a rerun finds again: nothing about which run recorded the results.
    return StepOutcome(
        digest.hexdigest(),
        {
            "scenario_set": set_version,
            "scenarios": len(stored) - 1,
            "accounts": snapshot.total_accounts,
            "stressed": snapshot.stressed,
            "fair_values": len(fair.firm_values()),
            "fair_values_missing": dict(sorted(fair.missing.items())),
            "below_liquidation": {r.scenario: r.below_accounts[LIQUIDATION] for r in stored},
        },
    )
