"""The accrual state's store (``store.accrual_state``): columns as text in parts, replaced
whole, damage refused, carried across migration 0019 both ways."""

from __future__ import annotations

from datetime import date

import numpy as np
import pytest
from sqlalchemy import Engine, text, update

from liangrong.store.accrual_state import (
    PART_ROWS,
    AccrualSnapshot,
    AccrualStateDamaged,
    KindColumns,
    accrual_dates,
    load_accruals,
    prune_accruals,
    stored_accruals,
    write_accruals,
)
from liangrong.store.eod_tables import eod_accrual_states
from liangrong.store.migrate import downgrade, upgrade

D1, D2, D3 = date(2026, 11, 19), date(2026, 11, 20), date(2026, 11, 23)
UNIT = 3_600_000
BIG = 2**63 - 1  # a residue's numerator may use all of 64 bits


def _snapshot(contracts: int, unit: int = UNIT, salt: int = 0) -> AccrualSnapshot:
    ids = [f"K{i:07d}" for i in range(contracts)]
    booked = np.arange(contracts, dtype=np.int64) * 7 + salt
    residue = np.arange(contracts, dtype=np.int64) * 13 - salt
    fees = KindColumns(ids[::3], np.full(len(ids[::3]), BIG, np.int64), -booked[::3])
    return AccrualSnapshot(unit, {"interest": KindColumns(ids, booked, residue), "penalty": fees})


def replace_accruals(
    store: Engine, day: date, snapshot: AccrualSnapshot, part_rows: int = PART_ROWS
) -> None:
    """The date's state replaced, as the accrual does it: rows built, then written."""
    write_accruals(store, stored_accruals(day, snapshot, part_rows))


def _as_rows(snapshot: AccrualSnapshot) -> dict[tuple[str, str], tuple[int, int]]:
    return {
        (cid, kind): (booked, residue)
        for kind, columns in snapshot.kinds.items()
        for cid, booked, residue in zip(
            columns.contract_ids, columns.booked_fen.tolist(), columns.residue.tolist(),
            strict=True,
        )
    }  # fmt: skip


def test_a_snapshot_in_many_parts_reads_back_as_written(store: Engine) -> None:
    written = _snapshot(1_001)
    replace_accruals(store, D1, written, part_rows=100)
    with store.connect() as conn:
        parts = conn.execute(text("SELECT kind, COUNT(*) FROM eod_accrual_states GROUP BY kind"))
        assert dict(parts.all()) == {"interest": 11, "penalty": 4}
    read = load_accruals(store, D1, unit=1)
    assert read.unit == UNIT and read.size == 1_001 + 334
    for kind, columns in written.kinds.items():
        assert read.kinds[kind].contract_ids == columns.contract_ids  # the order kept
        assert read.kinds[kind].booked_fen.tolist() == columns.booked_fen.tolist()
        assert read.kinds[kind].residue.tolist() == columns.residue.tolist()
    assert read.contracts() == set(written.kinds["interest"].contract_ids)


def test_a_date_without_a_state_reads_empty_with_the_unit_given(store: Engine) -> None:
    assert load_accruals(store, D1, unit=42) == AccrualSnapshot(42, {})
    replace_accruals(store, D1, AccrualSnapshot(UNIT, {}))
    assert accrual_dates(store) == []


def test_replacing_a_state_leaves_none_of_the_earlier_one(store: Engine) -> None:
    replace_accruals(store, D1, _snapshot(500, salt=1), part_rows=50)  # a crashed run's
    smaller = _snapshot(120, unit=2 * UNIT, salt=2)
    replace_accruals(store, D1, smaller, part_rows=50)
    assert _as_rows(load_accruals(store, D1, unit=1)) == _as_rows(smaller)
    assert load_accruals(store, D1, unit=1).unit == 2 * UNIT


def test_the_rows_are_built_apart_from_the_store(store: Engine) -> None:
    """The accrual builds the rows before its workers fork, with no store, and writes them
    after: one row per part of each kind."""
    stored = stored_accruals(D1, _snapshot(1_001, salt=3), part_rows=100)
    assert stored.trading_date == D1 and len(stored.rows) == 11 + 4
    assert accrual_dates(store) == []
    write_accruals(store, stored)
    assert _as_rows(load_accruals(store, D1, unit=1)) == _as_rows(_snapshot(1_001, salt=3))


def test_pruning_drops_only_the_earlier_dates(store: Engine) -> None:
    for day in (D1, D2, D3):
        replace_accruals(store, day, _snapshot(10))
    prune_accruals(store, before=D2)
    assert accrual_dates(store) == [D2, D3]
    assert _as_rows(load_accruals(store, D2, unit=1)) == _as_rows(_snapshot(10))


@pytest.mark.parametrize(
    ("column", "value", "why"),
    [
        ("size", 99, "a part of 99 rows holds 100 values"),
        ("contract_ids", "K1\nK2", "a part of 100 rows holds 2 values"),
        ("booked_fen", "\n".join(["1"] * 99 + ["x"]), "not 64-bit integers"),
        ("residue", "\n".join(["1"] * 99 + [str(2**63)]), "not 64-bit integers"),
        ("unit", 7, "has units"),
    ],
)
def test_a_damaged_part_is_refused_not_half_read(
    store: Engine, column: str, value: object, why: str
) -> None:
    replace_accruals(store, D1, _snapshot(300), part_rows=100)
    t = eod_accrual_states
    with store.begin() as conn:
        conn.execute(update(t).where(t.c.kind == "interest", t.c.part == 1).values({column: value}))
    with pytest.raises(AccrualStateDamaged, match=why):
        load_accruals(store, D1, unit=1)


def test_migration_0019_carries_the_states_down_and_up_again(store: Engine) -> None:
    states = {D1: _snapshot(250, salt=3), D2: _snapshot(40, unit=2 * UNIT, salt=4)}
    for day, snapshot in states.items():
        replace_accruals(store, day, snapshot, part_rows=60)
    downgrade(store, "0018")
    with store.connect() as conn:
        rows = conn.execute(
            text("SELECT trading_date, contract_id, kind, booked_fen, residue, unit "
                 "FROM eod_accruals")
        ).all()  # fmt: skip
    expected = {
        (str(day), cid, kind, booked, residue, snapshot.unit)
        for day, snapshot in states.items()
        for (cid, kind), (booked, residue) in _as_rows(snapshot).items()
    }
    assert {(str(r[0]), *r[1:]) for r in rows} == expected
    upgrade(store)
    for day, snapshot in states.items():
        read = load_accruals(store, day, unit=1)
        assert read.unit == snapshot.unit and _as_rows(read) == _as_rows(snapshot)
