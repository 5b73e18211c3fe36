"""The resident book (``ledger.resident``): the contract table and the debt rows kept
current from the journal equal a fresh read of the same state, row for row and in order,
after any posting (on SQLite and PostgreSQL); what cannot be caught up is read afresh; and
the end of day on the service's resident book, carried over a session, equals a cold run."""

from __future__ import annotations

import shutil
from collections import Counter
from dataclasses import fields
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import Connection, Engine, inspect

import liangrong.ledger.resident as resident_module
from conftest import (
    drop_postgres,
    make_postgres_engine,
    make_sqlite_engine,
    query_plan,
    session_store,
)
from ledger_helpers import financing_terms, open_client, owed_by_id, short_terms
from liangrong.domain import operations as ops
from liangrong.domain.contracts import Allocation
from liangrong.domain.journal import Transaction
from liangrong.eod.runner import run
from liangrong.eod.settings import EodSettings, opening_accrual
from liangrong.ledger.collateral import Collateral, collateral_changes, load_collateral
from liangrong.ledger.columns import DebtRows, load_contract_table, load_debt_rows
from liangrong.ledger.digest import journal_digest
from liangrong.ledger.engine import open_engine
from liangrong.ledger.journal import Ledger
from liangrong.ledger.resident import (
    CAUGHT_UP,
    FRESH,
    KEPT,
    UNKNOWN,
    ResidentBook,
    debt_changes,
)
from liangrong.sim.session import SessionConfig, run_session
from liangrong.store.migrate import downgrade, upgrade
from test_eod_shared_loads import DAY2
from test_eod_shared_loads import _ledger as shared_ledger

OPENED_INDEX = "ix_contracts_opened_seq"


def _ledger(store: Engine, clock: object) -> Ledger:
    """The shared readings' small book (three clients, collateral, financings and a
    short owing, one repaid), and a fourth client whose names sort before theirs."""
    ledger = shared_ledger(store, clock)
    open_client(ledger, "c0")
    return ledger


def _read(resident: ResidentBook, store: Engine) -> None:
    """Both readings made, then checked against a fresh read of the same state (a
    connection of the writer engine holds SQLite's write lock: one at a time)."""
    with store.connect() as conn:
        table, rows, collateral = resident.load(conn)
    with store.connect() as conn:
        assert table == load_contract_table(conn)
        assert rows == load_debt_rows(conn)
        assert collateral == load_collateral(conn)
    # the index of rows made with the table, fresh or caught up, and kept as it should be
    assert vars(table)["row_of"] == {cid: row for row, cid in enumerate(table.ids)}


def _kinds(resident: ResidentBook, before: Counter[tuple[str, str]]) -> dict[str, str]:
    """How each reading was obtained since ``before``."""
    new = resident.reads - before
    assert sum(new.values()) == 3, new
    return {reading: kind for reading, kind in new}


F4 = financing_terms("F4", "c2", 3_000_000, 1000, "600000.SH", DAY2)
S2 = short_terms("S2", "c3", 500, 1_500_000, "600036.SH", DAY2)
F0 = financing_terms("F0", "c0", 500_000, 500, "600000.SH", DAY2)  # before every row
# Each step of a day's postings, and whether it makes a debt key the rows lack (its place in
# them is the store's order: only SQLite's, code points, is known here).
STEPS: list[tuple[list[Transaction], bool]] = [
    ([ops.repay_financing("xr1", DAY2, "c1", [Allocation("F1", 1234, 500_000)])], False),
    ([ops.open_financing("xm4", F4), ops.open_short("xss2", S2)], True),
    ([ops.accrue_charges("xa1", DAY2, "c1", "F2", 5)], True),  # F2's first charges
    ([ops.accrue_charges("xa2", DAY2, "c1", "F1", 7),
      ops.accrue_charges("xa3", DAY2, "c3", "S1", 1)], False),
    ([ops.repay_financing("xr2", DAY2, "c1", [Allocation("F2", 5, 1_000_000)])], False),  # to 0
    ([ops.open_financing("xm0", F0)], True),
    ([ops.deposit_cash("xd0", DAY2, "c0", 800_000),  # the collateral: a new client's cash
      ops.transfer_collateral_in("xt0", DAY2, "c0", "000001.SZ", 300),  # and holding
      ops.transfer_collateral_out("xt1", DAY2, "c1", "600000.SH", 10_000),
      ops.withdraw_cash("xw3", DAY2, "c3", 1_000)], False),
    ([ops.transfer_collateral_out("xt2", DAY2, "c0", "000001.SZ", 300),  # all of it, and
      ops.withdraw_cash("xw0", DAY2, "c0", 800_000)], False),  # all its cash: no entry left
]  # fmt: skip


def test_caught_up_readings_equal_fresh_ones_after_every_posting(
    store: Engine, fixed_clock
) -> None:
    ledger = _ledger(store, fixed_clock)
    resident = ResidentBook()
    _read(resident, store)
    assert resident.reads == Counter(
        {("contracts", FRESH): 1, ("debts", FRESH): 1, ("collateral", FRESH): 1}
    )
    code_points = store.dialect.name == "sqlite"
    for txns, new_keys in STEPS:
        ledger.post_batch(txns)
        before = Counter(resident.reads)
        _read(resident, store)
        kinds = _kinds(resident, before)
        assert kinds["contracts"] == CAUGHT_UP  # the contracts opened since, if any, added
        assert kinds["debts"] == (FRESH if new_keys and not code_points else CAUGHT_UP)
        assert kinds["collateral"] == CAUGHT_UP  # keyed by client: no order to keep
    before = Counter(resident.reads)
    _read(resident, store)  # nothing posted: the very readings
    assert _kinds(resident, before) == {"contracts": KEPT, "debts": KEPT, "collateral": KEPT}
    with store.connect() as conn:
        rows = resident.debt_rows(conn)
    principal, charges = owed_by_id(rows)
    assert principal == {"F0": 500_000, "F1": 1_500_000, "F4": 3_000_000, "S1": 1000,
                         "S2": 500}  # fmt: skip
    assert charges == {"F1": 7, "S1": 322}
    assert "client:c1:financing:F2" in rows.accounts  # repaid: its row stays, at 0
    with store.connect() as conn:
        collateral = resident.collateral(conn)
    assert "c0" not in collateral.cash_fen and ("c0", "000001.SZ") not in collateral.held
    # free and locked summed: the deposit, S1's and S2's proceeds (locked), less the withdrawal
    assert collateral.cash_fen["c3"] == 20_000_000 + 3_000_000 + 1_500_000 - 1_000
    assert collateral.held[("c1", "600000.SH")] == 2000  # bought with F1, kept


def test_what_the_tail_moved_is_every_key_it_posted(store: Engine, fixed_clock) -> None:
    ledger = _ledger(store, fixed_clock)
    with store.connect() as conn:
        seq = int(conn.exec_driver_sql("SELECT max(seq) FROM journal_transactions").scalar_one())
    ledger.post(ops.repay_financing("xr2", DAY2, "c1", [Allocation("F2", 0, 1_000_000)]))
    ledger.post(ops.accrue_charges("xa1", DAY2, "c1", "F2", 5))
    with store.connect() as conn:
        changes = sorted(debt_changes(conn, seq, seq + 2))
        assert debt_changes(conn, seq, seq + 1) == [("client:c1:financing:F2", "CNY", 1_000_000)]
    assert changes == [("client:c1:charges:F2", "CNY", -5),
                       ("client:c1:financing:F2", "CNY", 1_000_000)]  # fmt: skip


def test_what_the_tail_moved_on_the_collateral_is_summed_by_client(
    store: Engine, fixed_clock
) -> None:
    ledger = _ledger(store, fixed_clock)
    with store.connect() as conn:
        seq = int(conn.exec_driver_sql("SELECT max(seq) FROM journal_transactions").scalar_one())
    ledger.post(ops.deposit_cash("xd1", DAY2, "c1", 100))
    ledger.post(ops.transfer_collateral_in("xt1", DAY2, "c1", "600000.SH", 7))
    ledger.post(ops.withdraw_cash("xw1", DAY2, "c1", 100))
    with store.connect() as conn:
        assert collateral_changes(conn, seq, seq + 2) == (
            [("c1", 100)], [("c1", "600000.SH", 7)]
        )  # fmt: skip
        assert collateral_changes(conn, seq, seq + 3) == ([("c1", 0)], [("c1", "600000.SH", 7)])
        assert collateral_changes(conn, seq + 3, seq + 3) == ([], [])


def test_the_contracts_opened_since_the_mark_are_read_by_their_index(
    tmp_path: Path, fixed_clock
) -> None:
    """On SQLite only (PostgreSQL plans a table this small as a scan, index or not): the
    catch-up reads the few contracts opened after the mark, not millions."""
    store = make_sqlite_engine(tmp_path)
    _ledger(store, fixed_clock)

    def read() -> None:
        with store.connect() as conn:
            load_contract_table(conn, opened=(2, 5))

    plan = query_plan(store, "opened_seq >", read)
    assert any(f"USING INDEX {OPENED_INDEX}" in str(row[-1]) for row in plan), plan


def test_migration_0024_drops_the_opening_index_and_makes_it_again(store: Engine) -> None:
    def indexes() -> set[str]:
        return {str(i["name"]) for i in inspect(store).get_indexes("contracts")}

    assert OPENED_INDEX in indexes()
    downgrade(store, "0023")
    assert OPENED_INDEX not in indexes()
    upgrade(store)
    assert OPENED_INDEX in indexes()


COLLATERAL = Collateral({"c1": 500, "c2": 70}, {("c1", "600000.SH"): 100, ("c2", "000001.SZ"): 5})


def test_collateral_moved_to_nothing_leaves_the_reading() -> None:
    assert COLLATERAL.with_changes([], []) is COLLATERAL
    moved = COLLATERAL.with_changes(
        [("c1", -500), ("c3", 9), ("c2", 0)],
        [("c2", "000001.SZ", -5), ("c1", "600000.SH", 1), ("c3", "600036.SH", 4)],
    )
    assert moved == Collateral(
        {"c2": 70, "c3": 9}, {("c1", "600000.SH"): 101, ("c3", "600036.SH"): 4}
    )
    assert COLLATERAL.cash_fen == {"c1": 500, "c2": 70}  # the reading itself never changes
    assert COLLATERAL.held[("c2", "000001.SZ")] == 5 and moved.size == 4


def test_a_journal_that_no_longer_holds_the_mark_is_read_afresh(
    tmp_path: Path, fixed_clock
) -> None:
    """Another store, or the same restored from a backup and posted on since: the kept
    mark's transaction is not there as it was, so nothing is caught up from it."""
    first, second = make_sqlite_engine(tmp_path), make_sqlite_engine(tmp_path)
    _ledger(first, fixed_clock).post_batch(STEPS[0][0])
    other = _ledger(second, fixed_clock)
    other.post(ops.accrue_charges("y1", DAY2, "c1", "F1", 99))  # same seq, another journal
    other.post(ops.accrue_charges("y2", DAY2, "c1", "F1", 1))  # and one more
    resident = ResidentBook()
    _read(resident, first)
    before = Counter(resident.reads)
    _read(resident, second)
    assert _kinds(resident, before) == {"contracts": FRESH, "debts": FRESH, "collateral": FRESH}
    before = Counter(resident.reads)
    _read(resident, first)  # back to a journal shorter than the mark: afresh as well
    assert _kinds(resident, before) == {"contracts": FRESH, "debts": FRESH, "collateral": FRESH}


def test_a_tail_longer_than_the_rows_and_the_floor_is_read_afresh(
    store: Engine, fixed_clock
) -> None:
    ledger = _ledger(store, fixed_clock)
    resident = ResidentBook(tail_floor=1)
    _read(resident, store)
    with store.connect() as conn:
        size = max(resident.debt_rows(conn).size, resident.collateral(conn).size)
    ledger.post_batch(
        [ops.accrue_charges(f"b{i}", DAY2, "c1", "F1", 1) for i in range(size + 1)]
    )  # one posting pair each: more postings than either reading holds
    before = Counter(resident.reads)
    _read(resident, store)
    assert _kinds(resident, before) == {"contracts": CAUGHT_UP, "debts": FRESH, "collateral": FRESH}


@pytest.mark.postgres
def test_a_posting_committed_while_the_book_is_read_is_never_caught_up_twice(
    fixed_clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """PostgreSQL reads each statement at its own state: another writer's transaction
    committed between the mark and the reading is in the rows but not before the mark.
    Such a reading stands at no known mark, so the next reads afresh instead of adding
    that transaction a second time."""
    engine, name = make_postgres_engine()
    try:
        ledger = _ledger(engine, fixed_clock)
        resident = ResidentBook()

        def racing(conn: Connection) -> DebtRows:
            ledger.post(ops.accrue_charges("race", DAY2, "c1", "F1", 3))  # commits meanwhile
            return load_debt_rows(conn)

        monkeypatch.setattr(resident_module, "load_debt_rows", racing)
        with engine.connect() as conn:
            raced = resident.debt_rows(conn)
        monkeypatch.undo()
        assert owed_by_id(raced)[1]["F1"] == 1237  # the racing charge is in the rows
        kept = resident.debts_kept()
        assert kept is not None and kept[0] == UNKNOWN
        before = Counter(resident.reads)
        with engine.connect() as conn:
            rows = resident.debt_rows(conn)
        assert resident.reads - before == Counter({("debts", FRESH): 1})
        assert owed_by_id(rows)[1]["F1"] == 1237  # once
        with engine.connect() as conn:
            assert rows == load_debt_rows(conn)
    finally:
        drop_postgres(engine, name)


ROWS = DebtRows(
    ("client:c1:charges:F1", "client:c1:financing:F1", "client:c3:short:S1"),
    ("CNY", "CNY", "600036.SH"),
    (-10, -2_000, -1_000),
    ("c1", "c1", "c3"),
    ("charges", "financing", "short"),
    ("F1", "F1", "S1"),
)


def _columns(rows: DebtRows) -> list[tuple[object, ...]]:
    return [tuple(getattr(rows, field.name)) for field in fields(rows)]


def test_changes_move_the_rows_and_new_keys_take_their_code_point_places() -> None:
    assert ROWS.with_changes([], True) is ROWS
    moved = ROWS.with_changes(
        [("client:c3:short:S1", "600036.SH", 400), ("client:c1:charges:F1", "CNY", -5)], True
    )
    assert moved is not None and moved.amounts == (-15, -2_000, -600)
    assert ROWS.amounts == (-10, -2_000, -1_000)  # the rows themselves never change
    added = ROWS.with_changes(
        [
            ("client:c2:financing:F9", "CNY", -7),
            ("client:c0:financing:F0", "CNY", 0),  # summing to nothing: a row at 0
            ("client:c9:short:S9", "600000.SH", -3),
            ("client:c1:financing:F1", "600000.SH", -1),  # the same account, another asset
        ],
        True,
    )
    assert added is not None
    assert list(zip(added.accounts, added.assets, strict=True)) == sorted(
        zip(added.accounts, added.assets, strict=True)
    )
    assert _columns(added) == [
        ("client:c0:financing:F0", "client:c1:charges:F1", "client:c1:financing:F1",
         "client:c1:financing:F1", "client:c2:financing:F9", "client:c3:short:S1",
         "client:c9:short:S9"),
        ("CNY", "CNY", "600000.SH", "CNY", "CNY", "600036.SH", "600000.SH"),
        (0, -10, -1, -2_000, -7, -1_000, -3),
        ("c0", "c1", "c1", "c1", "c2", "c3", "c9"),
        ("financing", "charges", "financing", "financing", "financing", "short", "short"),
        ("F0", "F1", "F1", "F1", "F9", "S1", "S9"),
    ]  # fmt: skip
    assert owed_by_id(added)[0]["F9"] == 7 and owed_by_id(added)[0]["S9"] == 3


def test_changes_that_cannot_be_placed_or_held_are_read_again() -> None:
    new_key = [("client:c2:financing:F9", "CNY", -7)]
    assert ROWS.with_changes(new_key, False) is None  # the database's collation decides
    updated = ROWS.with_changes([("client:c1:financing:F1", "CNY", 2_000)], False)
    assert updated is not None and updated.amounts == (-10, 0, -1_000)
    assert ROWS.with_changes([("client:c2:nonsense", "CNY", 1)], True) is None  # not the chart's
    assert ROWS.with_changes([("client:c1:charges:F1", "CNY", -(2**63))], True) is None
    assert ROWS.with_changes([("client:c5:short:S5", "X", 2**63)], True) is None
    with pytest.raises(AssertionError):
        ROWS.with_changes([("client:c1:charges:F1", "CNY", 1)] * 2, True)


DAY = date(2026, 11, 19)
NEXT_DAY = date(2026, 11, 20)


def _settings(folder: Path, through: object) -> EodSettings:
    return EodSettings(folder / "reports", accrued_through=through)  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def after_first_day(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, object]:
    """A session's book after its first end of day (not resident)."""
    path = tmp_path_factory.mktemp("resident") / "prepared.sqlite"
    engine = session_store(path, SessionConfig(clients=60, minutes=3, seed=7, on=DAY))
    through = opening_accrual(engine)
    assert run(engine, DAY, _settings(path.parent, through)).complete
    engine.dispose()
    return path, through


def test_the_end_of_day_on_a_resident_book_carried_over_a_session_equals_a_cold_one(
    after_first_day: tuple[Path, object], tmp_path: Path
) -> None:
    """Read before the next day's session (as the service does), caught up with it by the
    end of day: the same step digests and the same journal as a run that reads the book
    itself, and no reading afresh."""
    source, through = after_first_day
    outcomes = []
    for name, keeps in (("cold", False), ("resident", True)):
        (tmp_path / name).mkdir()
        shutil.copy(source, tmp_path / name / "store.sqlite")
        engine = open_engine(f"sqlite:///{tmp_path / name / 'store.sqlite'}")
        resident = ResidentBook() if keeps else None
        if resident is not None:
            with engine.connect() as conn:
                resident.load(conn)
        run_session(engine, SessionConfig(clients=60, minutes=5, seed=7, on=NEXT_DAY))
        report = run(engine, NEXT_DAY, _settings(tmp_path / name, through), resident=resident)
        assert report.complete
        digests = {step: record.digest for step, record in report.records.items()}
        outcomes.append((digests, journal_digest(engine).sha256))
        if resident is not None:
            assert resident.reads[("contracts", FRESH)] == 1  # the load before the session
            assert resident.reads[("debts", FRESH)] == 1
            assert resident.reads[("debts", CAUGHT_UP)] >= 1
            with engine.connect() as conn:
                table, rows, collateral = resident.load(conn)
            with engine.connect() as conn:  # kept through reconcile: current still
                assert table == load_contract_table(conn) and rows == load_debt_rows(conn)
                assert collateral == load_collateral(conn)
            assert resident.reads[("collateral", FRESH)] == 1  # the load before the session
        engine.dispose()
    assert outcomes[0] == outcomes[1]
