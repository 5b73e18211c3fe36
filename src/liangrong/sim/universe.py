"""The demo universe (REF-1): 800 real CSI 300 / CSI 500 stocks, real ETFs, a few bonds.

Real data: stock codes, exchanges, Chinese names, index membership and index opt-in dates,
read from ``data/universe.csv`` (converted once from PyPI ``index-constitution`` by
``scripts/build_universe.py``; nothing is unpickled at run time), and the ETFs' codes and names.

Generated, seeded, because no offline source has them; each such attribute is named in
``Security.generated``: total and float shares, listing date (before the index opt-in date,
or, where the source's opt-in is a placeholder older than the code's board, after the board
opened and before 2024), registration-IPO flag (derived from the generated listing date),
status, and ``large_cap_constituent``, which uses CSI 300 membership as a documented proxy for
SSE 180 / SZSE 100 membership. Bond codes and names are plausible formats, not real issues, and are
flagged too. ``price_li`` and ``pe_ratio`` are entirely generated.

Invariants:
- one ``random.Random(seed)`` drives every draw in a fixed order and only integer draws are
  used, so the same seed gives the same universe to the byte on every platform;
- a handful of stocks get rule-exercising values: risk warning, delisting period, suspended,
  static P/E above 300, exactly 300, or negative;
- prices are on the security's tick; float shares never exceed total shares.
"""

from __future__ import annotations

import csv
import io
import random
from dataclasses import dataclass, field, replace
from datetime import date, timedelta
from fractions import Fraction
from importlib.resources import files

from liangrong.domain.securities import Board, Exchange, Kind, Security, Status, board_of

DEFAULT_SEED = 20240102
UNIVERSE_RESOURCE = "data/universe.csv"
COLUMNS = ("code", "exchange", "name", "csi300", "csi500", "index_opt_in")

STOCK_GENERATED = frozenset(
    {
        "total_shares",
        "float_shares",
        "listing_date",
        "registration_ipo",
        "status",
        "large_cap_constituent",
    }
)
FUND_GENERATED = frozenset({"total_shares", "float_shares", "listing_date", "status"})
BOND_GENERATED = FUND_GENERATED | {"code", "name"}

# Registration-system reforms: first listings on STAR, on ChiNext, and on the main boards.
STAR_REGISTRATION = date(2019, 7, 22)
CHINEXT_REGISTRATION = date(2020, 8, 24)
MAIN_REGISTRATION = date(2023, 4, 10)

# Earliest plausible listing date by code prefix (board openings, numbering series).
_EARLIEST_LISTING = (
    ("688", STAR_REGISTRATION),
    ("689", STAR_REGISTRATION),
    ("301", CHINEXT_REGISTRATION),
    ("300", date(2009, 10, 30)),
    ("302", date(2009, 10, 30)),
    ("002", date(2004, 6, 25)),
    ("003", date(2019, 1, 2)),
    ("605", date(2020, 1, 2)),
    ("603", date(2012, 1, 4)),
    ("000", date(1991, 4, 3)),
    ("001", date(1991, 4, 3)),
    ("60", date(1990, 12, 19)),
)
_INDEX_SEASONING = timedelta(days=91)  # CSI admits stocks listed at least about a quarter
# The source gives some members the index launch date (2007-01-15) as opt-in although their
# code series did not exist yet (e.g. 688002, listed 2019): a placeholder, not a date.
_PLACEHOLDER_LISTING_CAP = date(2023, 12, 29)

# (low, high, weight) buckets; integer draws only, for cross-platform determinism.
_STOCK_PRICE_LI = (
    (3_000, 9_990, 4),
    (10_000, 29_990, 4),
    (30_000, 99_990, 2),
    (100_000, 400_000, 1),
)
_CSI300_SHARES = (
    (500_000_000, 2_000_000_000, 3),
    (2_000_000_000, 10_000_000_000, 3),
    (10_000_000_000, 50_000_000_000, 2),
    (50_000_000_000, 350_000_000_000, 1),
)
_CSI500_SHARES = (
    (200_000_000, 600_000_000, 3),
    (600_000_000, 2_000_000_000, 3),
    (2_000_000_000, 6_000_000_000, 1),
)

# Real ETFs: code, exchange, name, plausible price level in li, listing year, money market.
_ETFS = (
    ("510050", Exchange.SH, "华夏上证50ETF", 2_900, 2005, False),
    ("510300", Exchange.SH, "华泰柏瑞沪深300ETF", 4_000, 2012, False),
    ("510500", Exchange.SH, "南方中证500ETF", 6_000, 2013, False),
    ("511880", Exchange.SH, "银华日利ETF", 100_500, 2013, True),
    ("588000", Exchange.SH, "华夏上证科创板50ETF", 1_100, 2020, False),
    ("159915", Exchange.SZ, "易方达创业板ETF", 2_300, 2011, False),
    ("159919", Exchange.SZ, "嘉实沪深300ETF", 4_100, 2012, False),
)
# Plausible-format bonds (not real issues): code, exchange, name, kind, listing year.
_BONDS = (
    ("019547", Exchange.SH, "24国债16", Kind.GOVERNMENT_BOND, 2024),
    ("019740", Exchange.SH, "24国债09", Kind.GOVERNMENT_BOND, 2024),
    ("102406", Exchange.SZ, "24国债06", Kind.GOVERNMENT_BOND, 2024),
    ("188123", Exchange.SH, "21城建01", Kind.OTHER_BOND, 2021),
    ("149876", Exchange.SZ, "22交通02", Kind.OTHER_BOND, 2022),
)


class UniverseFileError(ValueError):
    """The shipped universe file is malformed; the message names the line."""


@dataclass(frozen=True, slots=True)
class UniverseRow:
    code: str
    exchange: Exchange
    name: str
    csi300: bool
    csi500: bool
    index_opt_in: date

    @property
    def symbol(self) -> str:
        return f"{self.code}.{self.exchange.value}"

    @property
    def earliest_listing(self) -> date:
        return next(d for prefix, d in _EARLIEST_LISTING if self.code.startswith(prefix))

    @property
    def opt_in_is_placeholder(self) -> bool:
        """The source's opt-in date precedes the first possible listing of this code."""
        return self.index_opt_in <= self.earliest_listing


@dataclass(frozen=True)
class DemoUniverse:
    """Securities with their generated prices and static P/E ratios (None: not a stock)."""

    seed: int
    securities: tuple[Security, ...]
    price_li: dict[str, int]
    pe_ratio: dict[str, Fraction | None]
    csi300: frozenset[str]
    csi500: frozenset[str]
    index_opt_in: dict[str, date]  # absent where the source has only a placeholder date
    money_market: frozenset[str]  # money-market ETFs: the cash-product haircut cap applies
    _by_symbol: dict[str, Security] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_by_symbol", {s.symbol: s for s in self.securities})

    def security(self, symbol: str) -> Security:
        return self._by_symbol[symbol]

    @property
    def symbols(self) -> tuple[str, ...]:
        return tuple(s.symbol for s in self.securities)


def _row(record: dict[str, str], number: int) -> UniverseRow:
    try:
        flags = {key: {"0": False, "1": True}[record[key]] for key in ("csi300", "csi500")}
        return UniverseRow(
            code=record["code"],
            exchange=Exchange(record["exchange"]),
            name=record["name"],
            csi300=flags["csi300"],
            csi500=flags["csi500"],
            index_opt_in=date.fromisoformat(record["index_opt_in"]),
        )
    except (KeyError, ValueError, TypeError) as exc:
        raise UniverseFileError(f"{UNIVERSE_RESOURCE}, line {number}: {record} ({exc})") from None


def parse_universe(text: str) -> tuple[UniverseRow, ...]:
    reader = csv.DictReader(io.StringIO(text))
    if tuple(reader.fieldnames or ()) != COLUMNS:
        raise UniverseFileError(f"{UNIVERSE_RESOURCE}, line 1: expected columns {COLUMNS}")
    return tuple(_row(record, reader.line_num) for record in reader)


def read_universe_rows() -> tuple[UniverseRow, ...]:
    """The real CSI 300 / CSI 500 members shipped with the package."""
    text = files("liangrong.sim").joinpath(UNIVERSE_RESOURCE).read_text(encoding="utf-8")
    return parse_universe(text)


def _bucketed(rng: random.Random, buckets: tuple[tuple[int, int, int], ...]) -> int:
    pick = rng.randrange(sum(weight for _, _, weight in buckets))
    for low, high, weight in buckets:
        if pick < weight:
            return rng.randint(low, high)
        pick -= weight
    raise AssertionError("unreachable: pick is below the weight sum")


def _day_between(rng: random.Random, first: date, last: date) -> date:
    """A weekday in [first, last] where one exists (listings happen on trading days)."""
    day = date.fromordinal(rng.randint(first.toordinal(), last.toordinal()))
    weekday_back = day - timedelta(days=max(0, day.weekday() - 4))
    return weekday_back if weekday_back >= first else day


def _listing_date(rng: random.Random, row: UniverseRow) -> date:
    earliest = row.earliest_listing
    if row.opt_in_is_placeholder:
        return _day_between(rng, earliest, _PLACEHOLDER_LISTING_CAP)
    latest = row.index_opt_in - _INDEX_SEASONING
    if latest < earliest:  # fast entry of a large new listing: listed just before opt-in
        latest = row.index_opt_in - timedelta(days=1)
    return _day_between(rng, min(earliest, latest), latest)


def _registration_ipo(board: Board, listed: date) -> bool:
    if board is Board.STAR:
        return True
    reform = CHINEXT_REGISTRATION if board is Board.CHINEXT else MAIN_REGISTRATION
    return listed >= reform


def _stock(rng: random.Random, row: UniverseRow) -> tuple[Security, int, Fraction]:
    board = board_of(row.code, row.exchange)
    total = _bucketed(rng, _CSI300_SHARES if row.csi300 else _CSI500_SHARES) // 1000 * 1000
    float_shares = total * rng.randint(250, 1000) // 1000
    listed = _listing_date(rng, row)
    security = Security(
        code=row.code,
        exchange=row.exchange,
        name=row.name,
        board=board,
        kind=Kind.STOCK,
        total_shares=total,
        float_shares=float_shares,
        listing_date=listed,
        registration_ipo=_registration_ipo(board, listed),
        status=Status.NORMAL,
        large_cap_constituent=row.csi300,
        generated=STOCK_GENERATED,
    )
    price = _bucketed(rng, _STOCK_PRICE_LI) // 10 * 10  # stock tick: 0.01 CNY
    return security, price, Fraction(rng.randint(500, 8_000), 100)


def _exercise_rules(
    rng: random.Random, stocks: list[Security], pe: dict[str, Fraction | None]
) -> None:
    """Give a few stocks the statuses and P/E ratios that the list rules must handle."""
    picks = rng.sample(range(len(stocks)), 10)
    statuses = [Status.RISK_WARNING] * 3 + [Status.DELISTING_PERIOD, Status.SUSPENDED]
    for index, status in zip(picks[:5], statuses, strict=True):
        stocks[index] = replace(stocks[index], status=status)
    ratios = [Fraction(rng.randint(30_001, 120_000), 100) for _ in range(2)]
    ratios += [Fraction(300), -Fraction(rng.randint(100, 50_000), 100)]
    ratios.append(-Fraction(rng.randint(100, 50_000), 100))
    for index, ratio in zip(picks[5:], ratios, strict=True):
        pe[stocks[index].symbol] = ratio


def _etfs(rng: random.Random) -> list[tuple[Security, int]]:
    out: list[tuple[Security, int]] = []
    for code, exchange, name, level_li, year, money in _ETFS:
        units = (
            rng.randint(100_000, 500_000) * 1_000
            if money
            else (rng.randint(1_000_000, 30_000_000) * 1_000)
        )
        listed = _day_between(rng, date(year, 1, 2), date(year, 12, 30))
        security = Security(
            code=code,
            exchange=exchange,
            name=name,
            board=Board.NONE,
            kind=Kind.ETF,
            total_shares=units,
            float_shares=units,
            listing_date=listed,
            registration_ipo=False,
            status=Status.NORMAL,
            large_cap_constituent=False,
            generated=FUND_GENERATED,
        )
        spread = 2 if money else 60  # a money ETF barely moves off its level
        out.append((security, level_li * rng.randint(1000 - spread, 1000 + spread) // 1000))
    return out


def _bonds(rng: random.Random) -> list[tuple[Security, int]]:
    out: list[tuple[Security, int]] = []
    for code, exchange, name, kind, year in _BONDS:
        pieces = rng.randint(5_000, 20_000) * (100_000 if kind is Kind.GOVERNMENT_BOND else 1_000)
        security = Security(
            code=code,
            exchange=exchange,
            name=name,
            board=Board.NONE,
            kind=kind,
            total_shares=pieces,
            float_shares=pieces,
            listing_date=_day_between(rng, date(year, 1, 2), date(year, 12, 30)),
            registration_ipo=False,
            status=Status.NORMAL,
            large_cap_constituent=False,
            generated=BOND_GENERATED,
        )
        out.append((security, rng.randint(97_000, 105_000)))  # per 100 CNY face, tick 0.001
    return out


def load_demo_universe(seed: int = DEFAULT_SEED) -> DemoUniverse:
    """The demo universe: deterministic for a given ``seed``."""
    rng = random.Random(seed)
    rows = read_universe_rows()
    stocks: list[Security] = []
    prices: dict[str, int] = {}
    pe: dict[str, Fraction | None] = {}
    for row in rows:
        security, price, ratio = _stock(rng, row)
        stocks.append(security)
        prices[security.symbol], pe[security.symbol] = price, ratio
    _exercise_rules(rng, stocks, pe)
    others = _etfs(rng) + _bonds(rng)
    for security, price in others:
        prices[security.symbol], pe[security.symbol] = price, None
    money = frozenset(f"{c}.{e.value}" for c, e, _, _, _, m in _ETFS if m)
    return DemoUniverse(
        seed=seed,
        securities=(*stocks, *(s for s, _ in others)),
        price_li=prices,
        pe_ratio=pe,
        csi300=frozenset(r.symbol for r in rows if r.csi300),
        csi500=frozenset(r.symbol for r in rows if r.csi500),
        index_opt_in={r.symbol: r.index_opt_in for r in rows if not r.opt_in_is_placeholder},
        money_market=money,
    )
