"""The accrual state carried from one end of day to the next (table ``eod_accrual_states``,
migration ``0019``): per date and kind of charge, each carried contract's amount booked since
its period began and its exact residue (in 1/``unit`` fen), as columns.

The state is written whole once a day and read whole by the next day's accrual, never by
row: at full size it is millions of rows, and as rows its insert, delete and read cost the
accrual about 20 s a day at a million accounts.  So each column of a part is one text of
newline-separated values (contract ids hold no newline; amounts are decimal integers):
portable between both stores and their backups, readable by eye, no float anywhere.

Invariants:
- a date's state is replaced as a whole in one transaction: a crash leaves the previous
  content or the new one, never a mixture;
- one unit per date; within a kind the contracts are in the order given (the accrual's,
  contract-id order) and each at most once;
- a part holds at most ``PART_ROWS`` rows and each of its columns exactly ``size`` values,
  checked on reading: a damaged part is refused (``AccrualStateDamaged``), never half read.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

import numpy as np
import numpy.typing as npt
from sqlalchemy import Engine, delete, select

from liangrong.store.eod_tables import eod_accrual_states
from liangrong.store.reference import write_lock

Ints = npt.NDArray[np.int64]
PART_ROWS = 100_000
_SEPARATOR = "\n"


class AccrualStateDamaged(RuntimeError):
    """A stored part whose columns do not hold the values its size says."""


@dataclass(frozen=True)
class KindColumns:
    """One kind of charge's carried contracts, aligned: ids, booked fen, residue."""

    contract_ids: list[str]
    booked_fen: Ints
    residue: Ints

    def __post_init__(self) -> None:
        assert len(self.contract_ids) == len(self.booked_fen) == len(self.residue)


@dataclass(frozen=True)
class AccrualSnapshot:
    """One date's accrual state: ``kinds`` by ``interest.ChargeKind`` value."""

    unit: int
    kinds: Mapping[str, KindColumns]

    @property
    def size(self) -> int:
        return sum(len(columns.contract_ids) for columns in self.kinds.values())

    def contracts(self) -> set[str]:
        """Every contract carried, whatever its kinds."""
        return {cid for columns in self.kinds.values() for cid in columns.contract_ids}


def accrual_dates(engine: Engine) -> list[date]:
    t = eod_accrual_states
    with engine.connect() as conn:
        return sorted(d for (d,) in conn.execute(select(t.c.trading_date).distinct()))


def load_accruals(engine: Engine, trading_date: date, unit: int) -> AccrualSnapshot:
    """The date's state (``unit``: the one to report when the date has none stored)."""
    t = eod_accrual_states
    query = (
        select(t.c.kind, t.c.unit, t.c.size, t.c.contract_ids, t.c.booked_fen, t.c.residue)
        .where(t.c.trading_date == trading_date)
        .order_by(t.c.kind, t.c.part)
    )
    parts: dict[str, list[KindColumns]] = {}
    units = set()
    with engine.connect() as conn:
        for kind, part_unit, size, ids, booked, residue in conn.execute(query):
            units.add(int(part_unit))
            parts.setdefault(kind, []).append(
                KindColumns(_texts(ids, size), _integers(booked, size), _integers(residue, size))
            )
    if len(units) > 1:
        raise AccrualStateDamaged(f"the state of {trading_date} has units {sorted(units)}")
    kinds = {kind: _joined(columns) for kind, columns in parts.items()}
    return AccrualSnapshot(units.pop() if units else unit, kinds)


@dataclass(frozen=True)
class StoredAccruals:
    """A date's state as the rows that store it (``stored_accruals``)."""

    trading_date: date
    rows: list[dict[str, Any]]


def stored_accruals(
    trading_date: date, snapshot: AccrualSnapshot, part_rows: int = PART_ROWS
) -> StoredAccruals:
    """The rows that store the date's state, built apart from writing them: the accrual
    builds them before its workers fork, as joining millions of ids after it would copy
    the memory pages this process shares with them."""
    assert part_rows > 0
    return StoredAccruals(trading_date, list(_rows(trading_date, snapshot, part_rows)))


def write_accruals(engine: Engine, stored: StoredAccruals) -> None:
    """Replace the date's state with ``stored`` in one transaction (whatever a crashed run
    left of it goes)."""
    t = eod_accrual_states
    with write_lock(engine) as conn:
        conn.execute(delete(t).where(t.c.trading_date == stored.trading_date))
        if stored.rows:
            conn.execute(t.insert(), stored.rows)


def prune_accruals(engine: Engine, before: date) -> None:
    """Drop the states older than ``before`` (no end of day can resume from them)."""
    t = eod_accrual_states
    with write_lock(engine) as conn:
        conn.execute(delete(t).where(t.c.trading_date < before))


def _rows(trading_date: date, snapshot: AccrualSnapshot, size: int) -> Iterator[dict[str, Any]]:
    for kind, columns in sorted(snapshot.kinds.items()):
        for part, start in enumerate(range(0, len(columns.contract_ids), size)):
            end = start + size
            ids = columns.contract_ids[start:end]
            joined = _SEPARATOR.join(ids)
            assert joined.count(_SEPARATOR) == len(ids) - 1, "a contract id with a newline"
            yield {
                "trading_date": trading_date,
                "kind": kind,
                "part": part,
                "unit": snapshot.unit,
                "size": len(ids),
                "contract_ids": joined,
                "booked_fen": _text(columns.booked_fen[start:end]),
                "residue": _text(columns.residue[start:end]),
            }


def _text(values: Ints) -> str:
    return _SEPARATOR.join(map(str, values.tolist()))


def _texts(text: str, size: int) -> list[str]:
    values = text.split(_SEPARATOR)
    if len(values) != size:
        raise AccrualStateDamaged(f"a part of {size} rows holds {len(values)} values")
    return values


def _integers(text: str, size: int) -> Ints:
    try:
        return np.fromiter(map(int, _texts(text, size)), np.int64, size)
    except (ValueError, OverflowError) as error:
        raise AccrualStateDamaged(f"a part's amounts are not 64-bit integers: {error}") from None


def _joined(parts: list[KindColumns]) -> KindColumns:
    if len(parts) == 1:
        return parts[0]
    return KindColumns(
        [cid for part in parts for cid in part.contract_ids],
        np.concatenate([part.booked_fen for part in parts]),
        np.concatenate([part.residue for part in parts]),
    )
