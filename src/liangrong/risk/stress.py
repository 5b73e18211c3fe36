"""Stress tests over the whole book (RISK-12): many price scenarios × every account.

``stress_book`` takes a compact, read-only snapshot of ``BookArrays`` (what an executor ships
to its workers once); ``run_stress`` prices each ``domain.stress.Scenario``, splits the
scenarios into chunks, runs the chunks through an ``executors.Executor`` and returns one
``ScenarioResult`` per scenario, in scenario order.

Per scenario, with the stressed price ``p' = price_li × factor ÷ 10⁹`` rounded half up to
the li (exact, integers):

- assets = cash + other collateral + Σ shares held × p' and debt = principal owed + charges
  + Σ shares owed short × p', per account, in li (``revaluation``'s definitions: cash and
  other collateral are the account's base assets, which no scenario moves);
- the **ratio distribution**: accounts with debt by whole percent of assets ÷ debt (floor),
  bins 0–999% and one for ≥ 1000%; accounts without debt counted apart;
- **accounts and debt under each line** (attention, warning, liquidation, emergency: each
  account's own lines, the firm's unless it agreed others): accounts strictly below, and the
  debt they owe;
- the **shortfall after liquidation**: an account whose assets no longer cover its debt
  leaves debt − assets unpaid even when everything is sold (at p', without fees or market
  impact); summed in li over those accounts;
- the **liquidation volume** (an estimate, floats): an account below its liquidation line
  sells the value ``x = (T·debt − assets) ÷ (T − 1)`` that, sold and repaid, restores the
  call target T (``domain.margin.repay_to``'s formula), the same fraction of every long
  holding; when that cannot restore it (assets ≤ debt, or x ≥ all it holds) it sells every
  holding and buys back every short.  Shares sold and bought back per security are summed
  and rounded half up to whole shares, valued at p'; ``liquidity`` sets them against a
  day's volume.

Exactness: shares × p' and cash are whole li, so the float64 sums of the gather pass are
exact integers while every account's assets and debt stay below ``EXACT_LIMIT_LI``
(checked on every scenario, ``ExactnessLimit`` otherwise); ratios are then compared with
the lines as integers: ``floor(10⁴ × assets ÷ debt) < line_bp`` exactly when the exact
ratio is below the line.  Counts, debts and the shortfall are exact; the liquidation
volume is a float estimate (elementwise and sequential operations only, so it is the same
bits everywhere), rounded to whole shares, which are then valued exactly.

Speed: holdings are laid out per account in rows of equal length (accounts grouped by
their number of positions, so no padding), cut into pieces of ~``PIECE_POSITIONS``
positions; a chunk of scenarios gathers its prices for a whole piece at once (securities ×
scenarios, row-major) and sums each row with one ``einsum``.  Accounts that owe nothing and
have no short cannot owe anything in any scenario: they are counted, never revisited.

Invariants: a result depends only on the snapshot and the scenario, not on the chunking or
the executor (integer results are exact; the float estimates are computed per scenario in
a fixed order), so every executor gives identical results (``fingerprint``).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from fractions import Fraction

import numpy as np
import numpy.typing as npt

from liangrong.domain import margin
from liangrong.domain.money import scaled_ratio
from liangrong.domain.securities import Board
from liangrong.domain.stress import FACTOR_SCALE, Scenario
from liangrong.risk.book_arrays import BookArrays
from liangrong.risk.columns import FloatArray, IndexArray, IntArray
from liangrong.risk.executors import Executor, LocalPoolExecutor
from liangrong.risk.tables import BLOCK, BP

LINE_NAMES = ("attention", "warning", "liquidation", "emergency")
LIQUIDATION = LINE_NAMES.index("liquidation")
TOP_PERCENT = 1000  # histogram bins 0..999 (whole percent) and TOP_PERCENT: ≥ 1000%
# 10⁴ × assets, and ratio × debt near it, fit int64 with room; far below 2⁵³ (float exactness)
EXACT_LIMIT_LI = (2**63 - 1) // BP // 2
PIECE_POSITIONS = 16_384
CHUNK_SCENARIOS = 16
_NO_DEBT = np.int64(2**62)  # a ratio (bp) above every line

BoolArray = npt.NDArray[np.bool_]


class ExactnessLimit(ValueError):
    """An account too large for the exact integer path (≥ EXACT_LIMIT_LI li)."""


@dataclass(frozen=True, slots=True)
class StressBook:
    """The book as the stress pass reads it; see the module docstring.  Per security:
    ``symbols``, ``boards``, ``price_li``, ``daily_volume`` (shares).  Per stressed account
    (accounts that owe or are short, grouped by number of positions): ``accounts`` (book
    index), ``cash_li`` (cash and other collateral: what no price moves), ``fixed_debt_li``
    (principal + charges), ``position_start`` into
    the positions; ``lines_bp``: 4 × accounts in ``LINE_NAMES`` order (4 × 1 when every
    account has the firm's), 0 where there is no such line.  Short contracts sorted by
    stressed account: ``short_security``, ``short_quantity``; ``short_start`` per stressed
    account."""

    symbols: tuple[str, ...]
    boards: tuple[Board, ...]
    price_li: IntArray
    daily_volume: FloatArray
    total_accounts: int
    accounts: IndexArray
    cash_li: FloatArray
    fixed_debt_li: FloatArray
    lines_bp: IntArray
    call_target: Fraction
    position_start: IndexArray
    position_security: npt.NDArray[np.int32]
    position_quantity: FloatArray
    pieces: tuple[tuple[int, int, int], ...]  # (first stressed account, accounts, width)
    short_security: IndexArray
    short_quantity: FloatArray
    short_start: IndexArray
    short_slot: IndexArray  # per short contract: its holder's place in ``short_holders``
    short_holders: IndexArray  # stressed accounts with a short

    @property
    def stressed(self) -> int:
        return len(self.accounts)

    @property
    def screen_bp(self) -> int:
        """A ratio (bp) at or above this is below no line and covers its debt."""
        return max(int(self.lines_bp.max(initial=0)), BP)


@dataclass(frozen=True, slots=True, eq=False)
class ScenarioResult:
    """One scenario over the whole book; see the module docstring for each figure."""

    name: str
    accounts: int  # every account of the book
    no_debt: int
    ratio_histogram: IntArray  # TOP_PERCENT + 1 bins over the accounts with debt
    below_accounts: tuple[int, ...]  # per line of LINE_NAMES
    below_debt_li: tuple[int, ...]
    shortfall_accounts: int
    shortfall_li: int
    liquidated_accounts: int
    sold_shares: IntArray  # per security (estimate)
    covered_shares: IntArray
    sale_value_li: int  # the shares sold at the stressed prices
    cover_value_li: int

    def fingerprint(self) -> str:
        """SHA-256 of every figure: equal fingerprints, identical results."""
        digest = hashlib.sha256(self.name.encode())
        for value in (
            self.accounts, self.no_debt, *self.below_accounts, *self.below_debt_li,
            self.shortfall_accounts, self.shortfall_li, self.liquidated_accounts,
            self.sale_value_li, self.cover_value_li,
        ):  # fmt: skip
            digest.update(int(value).to_bytes(16, "little", signed=True))
        for array in (self.ratio_histogram, self.sold_shares, self.covered_shares):
            digest.update(np.ascontiguousarray(array, dtype=np.int64).tobytes())
        return digest.hexdigest()


# --- the snapshot -----------------------------------------------------------------------------


def _line_row(lines: margin.Lines) -> list[int]:
    values = (lines.attention, lines.warning, lines.liquidation, lines.emergency)
    return [0 if v is None else scaled_ratio(v) for v in values]


def stress_book(
    book: BookArrays,
    boards: Sequence[Board],
    daily_volume: FloatArray,
    firm_lines: margin.Lines,
    call_target: Fraction,
    client_lines: Mapping[str, margin.Lines] | None = None,
) -> StressBook:
    """Snapshot of ``book`` at its valuation prices; ``boards`` and ``daily_volume`` (shares
    a day) per security of the book, in its order.  Lines and target must be whole basis
    points; the target above 100%."""
    sec, acc, sh = book.securities, book.accounts, book.shorts
    n, ns = acc.n, sec.n
    if len(boards) != ns or len(daily_volume) != ns:
        raise ValueError("boards and daily volumes are needed for every security of the book")
    if call_target <= 1:
        raise ValueError("the call target must be above 100%")
    slots = np.flatnonzero(book.blocks.qty[: book.blocks.n * BLOCK] > 0)
    owner = book.blocks.owner[slots // BLOCK]
    shorted = sh.account[: sh.n][sh.outstanding[: sh.n] > 0]
    owes = acc.base_debt_li[:n] > 0
    owes[shorted] = True
    counts = np.bincount(owner, minlength=n)
    stressed = np.flatnonzero(owes)
    stressed = stressed[np.argsort(counts[stressed], kind="stable")]
    rank = np.full(n, -1, dtype=np.intp)
    rank[stressed] = np.arange(len(stressed))

    keep = rank[owner] >= 0
    order = np.lexsort((book.blocks.sec[slots][keep], rank[owner][keep]))
    chosen = slots[keep][order]
    widths = counts[stressed]
    start = np.zeros(len(stressed) + 1, dtype=np.intp)
    np.cumsum(widths, out=start[1:])

    lines = _lines(book, rank, len(stressed), firm_lines, client_lines or {})

    live = np.flatnonzero(sh.outstanding[: sh.n] > 0)
    short_rank = rank[sh.account[live]]
    short_order = np.argsort(short_rank, kind="stable")
    short_rows, short_rank = live[short_order], short_rank[short_order]
    short_start = np.zeros(len(stressed) + 1, dtype=np.intp)
    np.cumsum(np.bincount(short_rank, minlength=len(stressed)), out=short_start[1:])
    holders, short_slot = np.unique(short_rank, return_inverse=True)
    return StressBook(
        symbols=tuple(sec.symbols[:ns]),
        boards=tuple(boards),
        price_li=sec.value_li[:ns].copy(),
        daily_volume=np.asarray(daily_volume, dtype=np.float64),
        total_accounts=n,
        accounts=stressed,
        cash_li=acc.base_assets_li[stressed].copy(),
        fixed_debt_li=acc.base_debt_li[stressed].copy(),
        lines_bp=lines,
        call_target=call_target,
        position_start=start,
        position_security=book.blocks.sec[chosen].astype(np.int32),
        position_quantity=book.blocks.qty[chosen].astype(np.float64),
        pieces=_pieces(widths),
        short_security=sh.security[short_rows].astype(np.intp),
        short_quantity=sh.outstanding[short_rows].astype(np.float64),
        short_start=short_start,
        short_slot=short_slot.astype(np.intp),
        short_holders=holders.astype(np.intp),
    )


def _lines(
    book: BookArrays,
    rank: IndexArray,
    stressed: int,
    firm: margin.Lines,
    own: Mapping[str, margin.Lines],
) -> IntArray:
    """Lines (bp) × stressed accounts; one column for all when nobody has agreed others."""
    firm_row = np.asarray(_line_row(firm), dtype=np.int64)[:, None]
    mine = [
        (rank[a], lines)
        for c, lines in own.items()
        if (a := book.accounts.index.get(c)) is not None and rank[a] >= 0
    ]
    if not mine:
        return firm_row
    lines: IntArray = np.repeat(firm_row, stressed, axis=1)
    for r, agreed in mine:
        lines[:, r] = _line_row(agreed)
    return lines


def _pieces(widths: IntArray) -> tuple[tuple[int, int, int], ...]:
    """Runs of accounts with the same number of positions, cut to ~PIECE_POSITIONS."""
    pieces: list[tuple[int, int, int]] = []
    edges = np.flatnonzero(np.diff(widths)) + 1
    for lo, hi in zip([0, *edges.tolist()], [*edges.tolist(), len(widths)], strict=True):
        width = int(widths[lo]) if hi > lo else 0
        if width == 0:
            continue
        rows = max(1, PIECE_POSITIONS // width)
        pieces.extend((a, min(rows, hi - a), width) for a in range(lo, hi, rows))
    return tuple(pieces)


# --- scenarios to prices ------------------------------------------------------------------------


def scenario_prices(book: StressBook, scenarios: Sequence[Scenario]) -> IntArray:
    """Stressed prices (li), scenarios × securities: ``price × factor`` rounded half up.
    Securities a scenario names but the book does not hold change nothing."""
    ns = len(book.symbols)
    index = {symbol: s for s, symbol in enumerate(book.symbols)}
    board_of = np.asarray([list(Board).index(b) for b in book.boards], dtype=np.intp)
    factors = np.empty((len(scenarios), ns), dtype=np.int64)
    for k, scenario in enumerate(scenarios):
        row = factors[k]
        row[:] = scenario.default_e9
        for board, factor in scenario.boards:
            row[board_of == list(Board).index(board)] = factor
        for symbol, factor in scenario.securities:
            if symbol in index:
                row[index[symbol]] = factor
    top = int(factors.max(initial=0)) * int(book.price_li.max(initial=0))
    if top >= 2**63 - FACTOR_SCALE:
        raise ExactnessLimit("a stressed price does not fit the integer path")
    prices: IntArray = (book.price_li * factors + FACTOR_SCALE // 2) // FACTOR_SCALE
    return prices


# --- evaluation -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Chunk:
    """Scenarios evaluated together: names and stressed prices (scenarios × securities)."""

    names: tuple[str, ...]
    prices_li: IntArray


def _held_values(book: StressBook, prices: FloatArray) -> FloatArray:
    """Σ shares × price per stressed account, for each scenario (rows of ``prices``)."""
    table = np.ascontiguousarray(prices.T)  # securities × scenarios: one row per gather
    held = np.zeros((len(prices), book.stressed))  # accounts without positions stay 0
    pos = book.position_start
    for first, rows, width in book.pieces:
        lo = pos[first]
        span = slice(lo, lo + rows * width)
        quantity = book.position_quantity[span].reshape(rows, width)
        gathered = np.take(table, book.position_security[span].reshape(rows, width), axis=0)
        np.einsum("rc,rck->kr", quantity, gathered, out=held[:, first : first + rows])
    return held


def _short_values(book: StressBook, prices: FloatArray) -> FloatArray:
    """Σ shares owed × price per holder of a short (``short_holders``), for each scenario."""
    owed = prices[:, book.short_security] * book.short_quantity
    values = np.empty((len(prices), len(book.short_holders)))
    for k in range(len(prices)):  # one bincount a scenario: ~5x faster than a reduceat
        values[k] = np.bincount(book.short_slot, owed[k], minlength=len(book.short_holders))
    return values


def evaluate_chunk(book: StressBook, chunk: Chunk) -> list[ScenarioResult]:
    """The results of a chunk's scenarios (the executors' task)."""
    prices = chunk.prices_li.astype(np.float64)
    held = _held_values(book, prices)
    shorts = _short_values(book, prices)
    return [
        _summarise(book, name, held[k], shorts[k], prices[k]) for k, name in enumerate(chunk.names)
    ]


def _exact(values: FloatArray) -> IntArray:
    """Whole li as integers; refused where a float sum might not have been exact, or where
    a total over the accounts might not fit int64."""
    if len(values) and float(values.max()) >= EXACT_LIMIT_LI:
        raise ExactnessLimit(f"an account's assets or debt reach {EXACT_LIMIT_LI:,} li")
    if float(values.sum()) >= 2**62:
        raise ExactnessLimit("the book's total assets or debt do not fit int64")
    exact: IntArray = values.astype(np.int64)
    return exact


def _ratio_bp(assets: IntArray, debt: IntArray, owing: BoolArray, cap: int) -> IntArray:
    """floor(10⁴ × assets ÷ debt), exact below ``cap`` (any ratio at or above it reads
    ``cap`` − 1 or more); ``_NO_DEBT`` where there is no debt.  A float division gives the
    floor within one (its error is far below 1 under ``cap``), one integer step corrects
    it: ~3x faster than numpy's int64 floor division."""
    estimate = np.full(len(debt), float(cap))
    np.divide(assets, debt, out=estimate, where=owing)
    estimate *= BP
    np.minimum(estimate, cap, out=estimate)
    ratio: IntArray = estimate.astype(np.int64)
    rest = assets * BP - ratio * debt
    ratio -= rest < 0
    ratio += (rest >= debt) & owing
    ratio[~owing] = _NO_DEBT
    return ratio


def _summarise(
    book: StressBook, name: str, held: FloatArray, shorts: FloatArray, prices: FloatArray
) -> ScenarioResult:
    debt_li = book.fixed_debt_li.copy()
    debt_li[book.short_holders] += shorts
    assets, debt = _exact(held + book.cash_li), _exact(debt_li)
    owing = debt > 0
    ratio_bp = _ratio_bp(assets, debt, owing, max(book.screen_bp, TOP_PERCENT * 100) + 2)
    no_debt = len(debt) - int(np.count_nonzero(owing))
    histogram = np.bincount(np.minimum(ratio_bp // 100, TOP_PERCENT), minlength=TOP_PERCENT + 1)
    histogram[TOP_PERCENT] -= no_debt  # the no-debt sentinel landed in the top bin
    # Only accounts below some line (or below 100%) matter from here on: usually few.
    low = np.flatnonzero(ratio_bp < book.screen_bp)
    ratio, owed = ratio_bp[low], debt[low]
    lines = book.lines_bp if book.lines_bp.shape[1] == 1 else book.lines_bp[:, low]
    below = ratio < lines  # lines × accounts
    uncovered = ratio < BP  # assets < debt
    liquidated = low[below[LIQUIDATION]]
    sold, covered, sale_li, cover_li = _liquidation(book, liquidated, held, assets, debt, prices)
    return ScenarioResult(
        name=name,
        accounts=book.total_accounts,
        no_debt=book.total_accounts - len(debt) + no_debt,
        ratio_histogram=histogram.astype(np.int64),
        below_accounts=tuple(int(n) for n in np.count_nonzero(below, axis=1)),
        below_debt_li=tuple(int(owed[mask].sum()) for mask in below),
        shortfall_accounts=int(np.count_nonzero(uncovered)),
        shortfall_li=int((owed[uncovered] - assets[low][uncovered]).sum()),
        liquidated_accounts=len(liquidated),
        sold_shares=sold,
        covered_shares=covered,
        sale_value_li=sale_li,
        cover_value_li=cover_li,
    )


def _ranges(starts: IndexArray, accounts: IndexArray) -> tuple[IndexArray, IndexArray]:
    """Every row in [starts[a], starts[a + 1]) for the accounts, and whose it is."""
    lo, hi = starts[accounts], starts[accounts + 1]
    lengths = hi - lo
    owner = np.repeat(np.arange(len(accounts), dtype=np.intp), lengths)
    offsets = np.arange(len(owner), dtype=np.intp) - np.repeat(
        np.cumsum(lengths) - lengths, lengths
    )
    return np.repeat(lo, lengths) + offsets, owner


def _liquidation(
    book: StressBook,
    accounts: IndexArray,
    held: FloatArray,
    assets: IntArray,
    debt: IntArray,
    prices: FloatArray,
) -> tuple[IntArray, IntArray, int, int]:
    """Shares sold and bought back per security (float estimates rounded half up to whole
    shares) and their values at the stressed prices (li)."""
    ns = len(book.symbols)
    if len(accounts) == 0:
        none = np.zeros(ns, dtype=np.int64)
        return none, none.copy(), 0, 0
    target = float(book.call_target)
    a, d, value = assets[accounts] * 1.0, debt[accounts] * 1.0, held[accounts]
    to_sell = (target * d - a) / (target - 1.0)
    everything = (a <= d) | (to_sell >= value)
    fraction = np.where(everything, 1.0, to_sell / np.where(everything, 1.0, value))
    np.clip(fraction, 0.0, 1.0, out=fraction)  # a client's own lines may sit above the target
    rows, owner = _ranges(book.position_start, accounts)
    shares = book.position_quantity[rows] * fraction[owner]
    sold = _per_security(book.position_security[rows], shares, ns)
    rows, _ = _ranges(book.short_start, accounts[everything])
    bought = _per_security(book.short_security[rows], book.short_quantity[rows], ns)
    sold_shares, bought_shares, price_li = _whole(sold), _whole(bought), prices.astype(np.int64)
    # Values of the whole shares at p′: exact integers, whatever the summation order.
    return (
        sold_shares,
        bought_shares,
        int((sold_shares * price_li).sum()),
        int((bought_shares * price_li).sum()),
    )


def _per_security(security: npt.NDArray[np.integer], shares: FloatArray, ns: int) -> FloatArray:
    sums: FloatArray = np.bincount(security, weights=shares, minlength=ns).astype(np.float64)
    return sums


def _whole(shares: FloatArray) -> IntArray:
    whole: IntArray = np.floor(shares + 0.5).astype(np.int64)
    return whole


# --- running ------------------------------------------------------------------------------------


def chunks(
    book: StressBook, scenarios: Sequence[Scenario], size: int = CHUNK_SCENARIOS
) -> list[Chunk]:
    prices = scenario_prices(book, scenarios)
    return [
        Chunk(tuple(s.name for s in scenarios[lo : lo + size]), prices[lo : lo + size])
        for lo in range(0, len(scenarios), size)
    ]


def iter_stress(
    book: StressBook,
    scenarios: Sequence[Scenario],
    executor: Executor | None = None,
    chunk_size: int = CHUNK_SCENARIOS,
) -> Iterator[ScenarioResult]:
    """The results one by one, in scenario order, as the executor delivers them."""
    runner = executor or LocalPoolExecutor()
    for results in runner.run(evaluate_chunk, book, chunks(book, scenarios, chunk_size)):
        yield from results


def run_stress(
    book: StressBook,
    scenarios: Sequence[Scenario],
    executor: Executor | None = None,
    chunk_size: int = CHUNK_SCENARIOS,
    progress: Callable[[ScenarioResult], None] | None = None,
) -> list[ScenarioResult]:
    results = []
    for result in iter_stress(book, scenarios, executor, chunk_size):
        results.append(result)
        if progress is not None:
            progress(result)
    return results


# --- reading the results ------------------------------------------------------------------------


def ratio_percentile(result: ScenarioResult, share: Fraction) -> int | None:
    """The whole percent below which ``share`` of the accounts with debt lie (bin floor);
    None when no account owes."""
    counts = result.ratio_histogram
    total = int(counts.sum())
    if total == 0:
        return None
    needed = share * total
    cumulative = np.cumsum(counts)
    return int(np.searchsorted(cumulative, float(needed), side="left"))


@dataclass(frozen=True, slots=True)
class Liquidity:
    """Liquidation volume (shares sold + bought back) against a day's volume."""

    securities: int  # securities traded by the liquidation
    over_a_day: int  # securities needing more than a day's volume
    worst: tuple[tuple[str, int, float], ...]  # (symbol, shares, days of volume), worst first


def liquidity(book: StressBook, result: ScenarioResult, top: int = 5) -> Liquidity:
    volume = (result.sold_shares + result.covered_shares).astype(np.float64)
    traded = volume > 0
    days = np.zeros(len(volume))
    has_volume = book.daily_volume > 0
    np.divide(volume, book.daily_volume, out=days, where=has_volume)
    days[traded & ~has_volume] = np.inf
    order = np.lexsort((np.arange(len(days)), -days))[: min(top, int(traded.sum()))]
    return Liquidity(
        securities=int(traded.sum()),
        over_a_day=int(np.count_nonzero(days > 1.0)),
        worst=tuple((book.symbols[s], int(volume[s]), float(days[s])) for s in order.tolist()),
    )
