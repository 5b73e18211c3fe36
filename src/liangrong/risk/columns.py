"""Growable numpy columns and key -> rows indexes for the risk arrays.

Invariants:
- a table's columns all have the same capacity; rows ``[0, n)`` are data, the rest spare
  capacity, zero-filled, so a pass over ``[:n]`` never reads garbage;
- ``RowIndex.get(key)`` returns each row added under ``key`` exactly once, however often it
  was added: the incremental revaluation adds per row, and a row counted twice would count
  a position twice.  Rows are never removed; a row that no longer belongs to the key (a
  slot reused for another security) is filtered by the caller, which knows what "belongs"
  means.
"""

from __future__ import annotations

from typing import TypeVar

import numpy as np
import numpy.typing as npt

T = TypeVar("T", bound=np.generic)

IntArray = npt.NDArray[np.int64]
IndexArray = npt.NDArray[np.intp]
FloatArray = npt.NDArray[np.float64]

EMPTY_INDEX: IndexArray = np.zeros(0, dtype=np.intp)


def grown(array: npt.NDArray[T], needed: int) -> npt.NDArray[T]:
    """``array`` itself if it holds ``needed`` rows, else a copy with doubled capacity.

    Doubling keeps appends amortised O(1); new rows are zero (or -1 for index columns, which
    the caller sets)."""
    if needed <= len(array):
        return array
    bigger = np.zeros(max(needed, 2 * len(array), 16), dtype=array.dtype)
    bigger[: len(array)] = array
    return bigger


def distinct(indices: IndexArray, stamp: IndexArray) -> IndexArray:
    """The distinct values of ``indices`` (all in ``[0, len(stamp))``), in no set order.

    ``stamp`` is caller-owned scratch; a value survives where the last write to its stamp
    was its own position.  Three fancy operations, no sort: ``np.unique`` costs ~40x more on
    the few thousand accounts of an incremental update."""
    positions = np.arange(len(indices), dtype=np.intp)
    stamp[indices] = positions
    kept: IndexArray = indices[stamp[indices] == positions]
    return kept


class RowIndex:
    """Key -> rows: a CSR base built in bulk plus per-key sets of rows added since.

    The base is rebuilt only by ``rebuilt`` (a compaction); between rebuilds an add costs a
    binary search in the key's sorted base rows and a set insertion."""

    def __init__(self, keys: IndexArray, rows: IndexArray, n_keys: int) -> None:
        order = np.lexsort((rows, keys))
        self._rows: IndexArray = rows[order].astype(np.intp, copy=False)
        counts = np.bincount(keys, minlength=n_keys) if len(keys) else np.zeros(n_keys, np.intp)
        self._starts: IndexArray = np.zeros(n_keys + 1, dtype=np.intp)
        np.cumsum(counts, out=self._starts[1:])
        self._added: dict[int, set[int]] = {}

    @property
    def n_added(self) -> int:
        return sum(len(rows) for rows in self._added.values())

    def _base(self, key: int) -> IndexArray:
        if key + 1 >= len(self._starts):
            return EMPTY_INDEX
        return self._rows[self._starts[key] : self._starts[key + 1]]

    def add(self, key: int, row: int) -> None:
        base = self._base(key)
        at = int(np.searchsorted(base, row))
        if at < len(base) and base[at] == row:
            return
        self._added.setdefault(key, set()).add(row)

    def get(self, key: int) -> IndexArray:
        base = self._base(key)
        added = self._added.get(key)
        if not added:
            return base
        return np.concatenate([base, np.fromiter(added, dtype=np.intp, count=len(added))])

    def gather(self, keys: list[int]) -> tuple[IndexArray, IndexArray]:
        """Rows of several keys at once, with the key each row came from."""
        if len(keys) == 1:
            rows = self.get(keys[0])
            return rows, np.full(len(rows), keys[0], dtype=np.intp)
        parts = [self.get(key) for key in keys]
        if not parts:
            return EMPTY_INDEX, EMPTY_INDEX
        lengths = np.fromiter((len(p) for p in parts), dtype=np.intp, count=len(parts))
        return np.concatenate(parts), np.repeat(np.asarray(keys, dtype=np.intp), lengths)

    def pairs(self) -> tuple[IndexArray, IndexArray]:
        """Every (key, row) held, for a rebuild."""
        n_keys = len(self._starts) - 1
        keys = np.repeat(np.arange(n_keys, dtype=np.intp), np.diff(self._starts))
        extra_keys = [k for k, rows in self._added.items() for _ in rows]
        extra_rows = [r for rows in self._added.values() for r in rows]
        return (
            np.concatenate([keys, np.asarray(extra_keys, dtype=np.intp)]),
            np.concatenate([self._rows, np.asarray(extra_rows, dtype=np.intp)]),
        )
