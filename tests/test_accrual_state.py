"""The accrual state's store (``store.accrual_state``): columns as text in parts, replaced
whole, damage refused, a few contracts read from their parts only, carried across migrations
0019 and 0022 both ways."""

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
    load_accruals_of,
    load_pending_of,
    prune_accruals,
    recorded_position,
    stored_accruals,
    write_accruals,
)
from liangrong.store.eod_tables import eod_accrual_states
from liangrong.store.migrate import downgrade, upgrade

D1, D2, D3 = date(2026, 11, 19), date(2026, 11, 20), date(2026, 11, 23)
UNIT = 3_600_000
BIG = 2**63 - 1  # a residue's numerator may use all of 64 bits


def _snapshot(
    contracts: int, unit: int = UNIT, salt: int = 0, pending: bool = True
) -> AccrualSnapshot:
    ids = [f"K{i:07d}" for i in range(contracts)]
    booked = np.arange(contracts, dtype=np.int64) * 7 + salt
    residue = np.arange(contracts, dtype=np.int64) * 13 - salt
    waiting = booked // 2 if pending else np.zeros(contracts, np.int64)
    fees = KindColumns(ids[::3], np.full(len(ids[::3]), BIG, np.int64), -booked[::3], waiting[::3])
    interest = KindColumns(ids, booked, residue, waiting)
    return AccrualSnapshot(unit, {"interest": interest, "penalty": fees}, position=1_000 + salt)


def replace_accruals(
    store: Engine, day: date, snapshot: AccrualSnapshot, part_rows: int = PART_ROWS
) -> None:
    """The date's state replaced, as the accrual does it: rows built, then written."""
    write_accruals(store, stored_accruals(day, snapshot, part_rows))


def _as_rows(
    snapshot: AccrualSnapshot, with_pending: bool = True
) -> dict[tuple[str, str], tuple[int, ...]]:
    return {
        (cid, kind): (booked, residue, pending) if with_pending else (booked, residue)
        for kind, columns in snapshot.kinds.items()
        for cid, booked, residue, pending in zip(
            columns.contract_ids, columns.booked_fen.tolist(), columns.residue.tolist(),
            columns.pending_fen.tolist(), strict=True,
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
        assert read.kinds[kind].pending_fen.tolist() == columns.pending_fen.tolist()
    assert read.contracts() == set(written.kinds["interest"].contract_ids)
    assert read.position == written.position


def test_a_few_contracts_are_read_from_their_parts_only(store: Engine) -> None:
    """The book reads one client's pending: only the parts holding its contracts are
    decoded, and what it gets is those contracts' values, whatever part they sit in."""
    written = _snapshot(1_001, salt=5)
    replace_accruals(store, D1, written, part_rows=100)
    replace_accruals(store, D2, _snapshot(1_001, salt=6), part_rows=100)  # another date
    wanted = {"K0000000", "K0000099", "K0000100", "K0000999", "K0001000", "K9", "A"}
    with store.connect() as conn:
        read = load_accruals_of(conn, D1, wanted)
        assert load_accruals_of(conn, D3, wanted) == AccrualSnapshot(0, {})
    expected = {key: row for key, row in _as_rows(written).items() if key[0] in wanted}
    assert _as_rows(read) == expected and len(expected) == 5 + 3
    assert read.unit == UNIT and read.position == written.position
    # a part other than those the ids fall in is damaged: the read never touches it
    t = eod_accrual_states
    with store.begin() as conn:
        conn.execute(
            update(t).where(t.c.trading_date == D1, t.c.part == 5).values(booked_fen="x")
        )
        assert _as_rows(load_accruals_of(conn, D1, wanted)) == expected
        with pytest.raises(AccrualStateDamaged):
            load_accruals_of(conn, D1, {"K0000500"})


def test_reading_the_pending_only_skips_the_parts_with_nothing_pending(store: Engine) -> None:
    """While nothing is pending, a reader of the whole book decodes no part at all."""
    replace_accruals(store, D1, _snapshot(1_001, pending=False), part_rows=100)
    t = eod_accrual_states
    with store.begin() as conn:  # a part not to be decoded: damaged ids would be refused
        conn.execute(update(t).where(t.c.part == 3).values(contract_ids="x"))
        everything = {f"K{i:07d}" for i in range(1_001)}
        assert load_pending_of(conn, D1, everything).kinds == {}
        conn.execute(
            update(t)
            .where(t.c.kind == "interest", t.c.part == 7)
            .values(pending_fen="\n".join(["0"] * 99 + ["6"]), contract_ids=_ids(700, 800))
        )
        read = load_pending_of(conn, D1, everything)
        whole = load_pending_of(conn, D1, None)  # every contract of the parts read
        some = load_pending_of(conn, D1, {"K0000799", "K0000701", "K0000001"})
    assert list(read.kinds) == ["interest"]
    ids, fen = read.kinds["interest"]
    assert ids == _ids(700, 800).split("\n")
    assert fen.tolist() == [0] * 99 + [6]
    assert whole.kinds["interest"][0] == ids and whole.kinds["interest"][1].tolist() == fen.tolist()
    assert some.kinds["interest"][0] == ["K0000701", "K0000799"]  # in the state's order
    assert some.kinds["interest"][1].tolist() == [0, 6]
    assert read.position == some.position == 1_000  # the state's (``_snapshot``)


def _ids(start: int, stop: int) -> str:
    return "\n".join(f"K{i:07d}" for i in range(start, stop))


def test_a_rerun_finds_the_position_its_first_run_recorded(store: Engine) -> None:
    assert recorded_position(store, D1) is None
    replace_accruals(store, D1, _snapshot(10, salt=7))
    assert recorded_position(store, D1) == 1_007


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
    prune_accruals(store, before=D2, kept_days=0)
    assert accrual_dates(store) == [D2, D3]
    assert _as_rows(load_accruals(store, D2, unit=1)) == _as_rows(_snapshot(10))


def test_pruning_keeps_the_recent_days_and_each_months_last(store: Engine) -> None:
    """A statement reads the pending at its period's ends: the states of the last
    ``kept_days`` days stay, and of the days before them each month's last."""
    days = [date(2026, 1, 29), date(2026, 1, 30), date(2026, 2, 2), date(2026, 2, 27),
            date(2026, 3, 2), date(2026, 3, 20), date(2026, 3, 23)]  # fmt: skip
    for day in days:
        replace_accruals(store, day, _snapshot(5))
    prune_accruals(store, before=date(2026, 3, 23), kept_days=3)
    kept = [date(2026, 1, 30), date(2026, 2, 27), date(2026, 3, 20), date(2026, 3, 23)]
    assert accrual_dates(store) == kept
    prune_accruals(store, before=date(2026, 3, 23), kept_days=3)
    assert accrual_dates(store) == kept


@pytest.mark.parametrize(
    ("column", "value", "why"),
    [
        ("size", 99, "a part of 99 rows holds 100 values"),
        ("contract_ids", "K1\nK2", "a part of 100 rows holds 2 values"),
        ("booked_fen", "\n".join(["1"] * 99 + ["x"]), "not 64-bit integers"),
        ("residue", "\n".join(["1"] * 99 + [str(2**63)]), "not 64-bit integers"),
        ("pending_fen", "\n".join(["1"] * 101), "a part of 100 rows holds 101 values"),
        ("unit", 7, "has units"),
        ("journal_seq", 3, "has positions"),
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
    states = {
        D1: _snapshot(250, salt=3, pending=False),
        D2: _snapshot(40, unit=2 * UNIT, salt=4, pending=False),
    }
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
        for (cid, kind), (booked, residue) in _as_rows(snapshot, with_pending=False).items()
    }
    assert {(str(r[0]), *r[1:]) for r in rows} == expected
    upgrade(store)
    for day, snapshot in states.items():
        read = load_accruals(store, day, unit=1)
        assert read.unit == snapshot.unit and _as_rows(read) == _as_rows(snapshot)
        assert read.position == 0  # a state from before 0022: nothing pending, no position


def test_migration_0022_refuses_to_drop_pending_charges(store: Engine) -> None:
    """Down to 0021 only while nothing is pending; up again, the old parts are found by
    their first contracts."""
    replace_accruals(store, D1, _snapshot(250, salt=8), part_rows=60)
    with pytest.raises(RuntimeError, match="pending charges are stored"):
        downgrade(store, "0021")
    replace_accruals(store, D1, _snapshot(250, salt=8, pending=False), part_rows=60)
    downgrade(store, "0021")
    upgrade(store)
    with store.connect() as conn:
        read = load_accruals_of(conn, D1, {"K0000061", "K0000249"})
    assert _as_rows(read) == {
        key: row for key, row in _as_rows(_snapshot(250, salt=8, pending=False)).items()
        if key[0] in {"K0000061", "K0000249"}
    }  # fmt: skip
