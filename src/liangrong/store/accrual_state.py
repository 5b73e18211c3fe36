"""The accrual state carried from one end of day to the next (table ``eod_accrual_states``,
migrations ``0019`` and ``0022``): per date and kind of charge, each carried contract's amount
booked since its period began, its exact residue (in 1/``unit`` fen) and its pending charges
(booked, not yet posted to the contract's charges account: ``docs/charges-subledger.md``), as
columns, with the journal position the pending stands at.

The state is written whole once a day and read whole by the next day's accrual, never by
row: at full size it is millions of rows, and as rows its insert, delete and read cost the
accrual about 20 s a day at a million accounts.  So each column of a part is one text of
newline-separated values (contract ids hold no newline; amounts are decimal integers):
portable between both stores and their backups, readable by eye, no float anywhere.  A
reader of a few contracts (the book's, for a client's pending charges) decodes only the
parts that hold them: each part is small and records its first contract.

Invariants:
- a date's state is replaced as a whole in one transaction: a crash leaves the previous
  content or the new one, never a mixture;
- one unit per date; within a kind the contracts are in the order given (the accrual's,
  contract-id order) and each at most once;
- a part holds at most ``PART_ROWS`` rows and each of its columns exactly ``size`` values,
  checked on reading: a damaged part is refused (``AccrualStateDamaged``), never half read;
- within a kind the parts follow each other in contract-id order and ``first_contract`` is
  each part's first id, so the parts holding some contracts are found without reading others.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from itertools import chain, compress, groupby
from typing import Any

import numpy as np
import numpy.typing as npt
from sqlalchemy import Connection, Engine, delete, select, tuple_

from liangrong.ledger.schema import key_chunks
from liangrong.store.eod_tables import eod_accrual_states
from liangrong.store.reference import write_lock

Ints = npt.NDArray[np.int64]
PART_ROWS = 2_000  # a client's few contracts decode 2,000 values, not the whole state
_SEPARATOR = "\n"


class AccrualStateDamaged(RuntimeError):
    """A stored part whose columns do not hold the values its size says."""


@dataclass(frozen=True)
class KindColumns:
    """One kind of charge's carried contracts, aligned: ids, booked fen, residue, pending fen
    (booked and not yet posted to the contract)."""

    contract_ids: list[str]
    booked_fen: Ints
    residue: Ints
    pending_fen: Ints

    def __post_init__(self) -> None:
        size = len(self.contract_ids)
        assert size == len(self.booked_fen) == len(self.residue) == len(self.pending_fen)

    def picked(self, wanted: set[str]) -> KindColumns:
        """Only the ``wanted`` contracts, in the same order."""
        rows = [i for i, cid in enumerate(self.contract_ids) if cid in wanted]
        ids = [self.contract_ids[i] for i in rows]
        return KindColumns(ids, self.booked_fen[rows], self.residue[rows], self.pending_fen[rows])


@dataclass(frozen=True)
class AccrualSnapshot:
    """One date's accrual state: ``kinds`` by ``interest.ChargeKind`` value.

    ``position``: the journal's last sequence number before the end of day's accrual posted
    anything; pending charges posted to a contract after it are no longer pending."""

    unit: int
    kinds: Mapping[str, KindColumns]
    position: int = 0

    @property
    def size(self) -> int:
        return sum(len(columns.contract_ids) for columns in self.kinds.values())

    def contracts(self) -> set[str]:
        """Every contract carried, whatever its kinds."""
        return set(chain.from_iterable(c.contract_ids for c in self.kinds.values()))


def accrual_dates(engine: Engine) -> list[date]:
    t = eod_accrual_states
    with engine.connect() as conn:
        return sorted(d for (d,) in conn.execute(select(t.c.trading_date).distinct()))


_COLUMNS = (eod_accrual_states.c.kind, eod_accrual_states.c.unit, eod_accrual_states.c.size,
            eod_accrual_states.c.journal_seq, eod_accrual_states.c.contract_ids,
            eod_accrual_states.c.booked_fen, eod_accrual_states.c.residue,
            eod_accrual_states.c.pending_fen)  # fmt: skip


def load_accruals(engine: Engine, trading_date: date, unit: int) -> AccrualSnapshot:
    """The date's state (``unit``: the one to report when the date has none stored)."""
    t = eod_accrual_states
    query = select(*_COLUMNS).where(t.c.trading_date == trading_date).order_by(t.c.kind, t.c.part)
    with engine.connect() as conn:
        return _snapshot_of(trading_date, conn.execute(query).all(), unit)


def load_accruals_of(
    conn: Connection, trading_date: date, contract_ids: Iterable[str] | None
) -> AccrualSnapshot:
    """The date's state of ``contract_ids`` only (None: every contract of the parts read),
    from the parts that hold them (found by their first contracts, so a few contracts cost
    a few small parts)."""
    wanted = None if contract_ids is None else set(contract_ids)
    found = _parts(conn, trading_date, wanted, _COLUMNS, pending_only=False)
    snapshot = _snapshot_of(trading_date, found, 0)
    if wanted is None:
        return snapshot
    kinds = {kind: columns.picked(wanted) for kind, columns in snapshot.kinds.items()}
    return AccrualSnapshot(snapshot.unit, kinds, snapshot.position)


@dataclass(frozen=True)
class PendingState:
    """A date's pending charges alone, as its state stores them: by kind, the contracts
    and their pending fen, aligned; ``position`` as in ``AccrualSnapshot``."""

    kinds: Mapping[str, tuple[list[str], Ints]]
    position: int

    @classmethod
    def of(cls, snapshot: AccrualSnapshot) -> PendingState:
        kinds = {kind: (c.contract_ids, c.pending_fen) for kind, c in snapshot.kinds.items()}
        return cls(kinds, snapshot.position)


_PENDING_COLUMNS = (*_COLUMNS[:5], eod_accrual_states.c.pending_fen)  # not booked, residue


def load_pending_of(
    conn: Connection, trading_date: date, contract_ids: Iterable[str] | None
) -> PendingState:
    """The date's pending of ``contract_ids`` only (None: every contract of the parts
    read), from the parts with anything pending only (a contract left out has nothing
    pending; while nothing is, a reader of the whole book decodes nothing), each decoding
    its ids and pending alone: what was booked and the residues are the accrual's."""
    wanted = None if contract_ids is None else set(contract_ids)
    found = _parts(conn, trading_date, wanted, _PENDING_COLUMNS, pending_only=True)
    parts: dict[str, list[tuple[list[str], Ints]]] = {}
    units, positions = set(), set()
    for kind, part_unit, size, position, ids, pending in found:
        units.add(int(part_unit))
        positions.add(int(position))
        parts.setdefault(kind, []).append((_texts(ids, size), _integers(pending, size)))
    _one_each(trading_date, units, positions)
    kinds = {}
    for kind, columns in parts.items():
        ids = list(chain.from_iterable(part_ids for part_ids, _ in columns))
        fen = np.concatenate([part_fen for _, part_fen in columns])
        if wanted is not None:
            picked = np.fromiter(map(wanted.__contains__, ids), np.bool_, len(ids))
            ids, fen = list(compress(ids, picked.tolist())), fen[picked]
        kinds[kind] = (ids, fen)
    return PendingState(kinds, positions.pop() if found else 0)


def _parts(
    conn: Connection,
    trading_date: date,
    wanted: set[str] | None,
    columns: Sequence[Any],
    pending_only: bool,
) -> list[Any]:
    """The ``columns`` of the date's parts that hold the ``wanted`` contracts (None: every
    part), in kind and part order; ``pending_only``: of the parts with anything pending."""
    t = eod_accrual_states
    listed = [t.c.kind, t.c.part, t.c.first_contract, *([t.c.pending_fen] * pending_only)]
    directory = conn.execute(
        select(*listed).where(t.c.trading_date == trading_date).order_by(t.c.kind, t.c.part)
    ).all()
    if pending_only:  # a part's pending is a text of non-negative decimals
        directory = [row for row in directory if row.pending_fen.strip("0\n")]
    keys: set[tuple[str, int]] = set()
    for kind, rows in groupby(directory, key=lambda row: str(row.kind)):
        parts = list(rows)
        if wanted is None:
            keys.update((kind, row.part) for row in parts)
            continue
        firsts = [row.first_contract for row in parts]
        keys.update((kind, parts[max(0, bisect_right(firsts, cid) - 1)].part) for cid in wanted)
    found: list[Any] = []  # in kind and part order: the chunks follow each other in that order
    for chunk in key_chunks(sorted(keys)):
        query = select(*columns).where(
            t.c.trading_date == trading_date, tuple_(t.c.kind, t.c.part).in_(chunk)
        )
        found.extend(conn.execute(query.order_by(t.c.kind, t.c.part)).all())
    return found


def _snapshot_of(trading_date: date, rows: Sequence[Any], unit: int) -> AccrualSnapshot:
    """The snapshot the rows store (in kind and part order); refused if damaged."""
    parts: dict[str, list[KindColumns]] = {}
    units, positions = set(), set()
    for kind, part_unit, size, position, ids, booked, residue, pending in rows:
        units.add(int(part_unit))
        positions.add(int(position))
        parts.setdefault(kind, []).append(
            KindColumns(
                _texts(ids, size),
                _integers(booked, size),
                _integers(residue, size),
                _integers(pending, size),
            )
        )
    _one_each(trading_date, units, positions)
    kinds = {kind: _joined(columns) for kind, columns in parts.items()}
    return AccrualSnapshot(units.pop() if units else unit, kinds, positions.pop() if rows else 0)


def _one_each(trading_date: date, units: set[int], positions: set[int]) -> None:
    if len(units) > 1:
        raise AccrualStateDamaged(f"the state of {trading_date} has units {sorted(units)}")
    if len(positions) > 1:
        raise AccrualStateDamaged(f"the state of {trading_date} has positions {sorted(positions)}")


def recorded_position(engine: Engine, trading_date: date) -> int | None:
    """The journal position of the date's stored state, if one is stored (a rerun of a
    crashed accrual keeps the position its first run recorded)."""
    t = eod_accrual_states
    with engine.connect() as conn:
        found = conn.execute(
            select(t.c.journal_seq).where(t.c.trading_date == trading_date).limit(1)
        ).scalar()
    return None if found is None else int(found)


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


def prune_accruals(engine: Engine, before: date, kept_days: int) -> None:
    """Drop the states older than ``before`` (no end of day resumes from them) by more than
    ``kept_days`` calendar days, but for each month's last state: a statement's period reads
    the pending charges at its start and at its end from them."""
    assert kept_days >= 0
    t = eod_accrual_states
    horizon = date.fromordinal(before.toordinal() - kept_days)
    with write_lock(engine) as conn:
        days = sorted(day for (day,) in conn.execute(select(t.c.trading_date).distinct()))
        month_ends = {max(group) for _, group in groupby(days, key=lambda d: (d.year, d.month))}
        dropped = [day for day in days if day < horizon and day not in month_ends]
        for chunk in key_chunks(dropped):
            conn.execute(delete(t).where(t.c.trading_date.in_(chunk)))


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
                "first_contract": ids[0],
                "journal_seq": snapshot.position,
                "contract_ids": joined,
                "booked_fen": _text(columns.booked_fen[start:end]),
                "residue": _text(columns.residue[start:end]),
                "pending_fen": _text(columns.pending_fen[start:end]),
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
        np.concatenate([part.pending_fen for part in parts]),
    )
