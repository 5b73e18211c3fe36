"""The end of day's shared readings of the ledger (``EodContext``): the contracts with their
terms, the debt balances, what each contract owes, the contracts' columns and the risk
book's columns, kept for the steps after the one that read them, equal a fresh load (on
SQLite and PostgreSQL), and none outlives a change of what it stands for."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import fields
from datetime import date

import numpy as np
import pytest
from sqlalchemy import Engine

from ledger_helpers import financing_terms, open_client, owed_by_id, short_terms
from liangrong.domain import operations as ops
from liangrong.domain.contracts import Allocation
from liangrong.domain.exchange_report import ReportCheck, ReportViolation
from liangrong.domain.journal import Transaction
from liangrong.eod.book_view import ContractColumns, load_contract_columns
from liangrong.eod.context import EodContext, Raised
from liangrong.eod.owed import DebtOfUnknownContract, Owed, owed_now, owed_with
from liangrong.eod.settings import EodSettings
from liangrong.ledger.columns import ContractTable, load_contract_table, load_debt_rows
from liangrong.ledger.journal import Ledger
from liangrong.ledger.resident import CAUGHT_UP, FRESH
from liangrong.reports.daily_source import OpenDebts
from liangrong.risk.layout import BookData, ContractData
from liangrong.risk.loader import load_data
from liangrong.store.charges_pending import NOTHING_PENDING, KindPending, PendingCharges

DAY1, DAY2 = date(2026, 3, 2), date(2026, 3, 3)


def _book() -> list[Transaction]:
    """Three clients: two financings and a short still owing (with charges), one financing
    repaid in full, collateral in cash and securities."""
    f1 = financing_terms("F1", "c1", 2_000_000, 2000, "600000.SH", DAY1)
    f2 = financing_terms("F2", "c1", 1_000_000, 1000, "000001.SZ", DAY1)
    f3 = financing_terms("F3", "c2", 1_200_000, 1000, "000001.SZ", DAY1)
    s1 = short_terms("S1", "c3", 1000, 3_000_000, "600036.SH", DAY1)
    return [
        ops.fund_pool("pool-cash", DAY1, "CNY", 10**12),
        ops.fund_pool("pool-600036", DAY1, "600036.SH", 10**6),
        ops.deposit_cash("d1", DAY1, "c1", 100_000_000),
        ops.deposit_cash("d2", DAY1, "c2", 50_000_000),
        ops.deposit_cash("d3", DAY1, "c3", 20_000_000),
        ops.transfer_collateral_in("t1", DAY1, "c1", "600000.SH", 10_000),
        ops.open_financing("m1", f1),
        ops.open_financing("m2", f2),
        ops.open_financing("m3", f3),
        ops.open_short("ss1", s1),
        ops.accrue_charges("a1", DAY2, "c1", "F1", 1234),
        ops.accrue_charges("a2", DAY2, "c3", "S1", 321),
        ops.repay_financing("r3", DAY2, "c2", [Allocation("F3", 0, 1_200_000)]),
    ]


def _ledger(store: Engine, clock: object) -> Ledger:
    ledger = Ledger(store, clock)  # type: ignore[arg-type]
    for client in ("c1", "c2", "c3"):
        open_client(ledger, client)
    ledger.post_batch(_book())
    return ledger


def _same(kept: object, fresh: object) -> None:
    """Two column sets (``ContractColumns``, ``ContractData``, ``BookData``) field by field."""
    assert type(kept) is type(fresh)
    for field in fields(kept):  # type: ignore[arg-type]
        if not field.compare:  # what is known of the value, not the value
            continue
        mine, theirs = getattr(kept, field.name), getattr(fresh, field.name)
        if isinstance(theirs, ContractData):
            _same(mine, theirs)
        elif isinstance(theirs, np.ndarray):
            assert mine.dtype == theirs.dtype, field.name
            np.testing.assert_array_equal(mine, theirs, err_msg=field.name)
        else:
            assert mine == theirs, field.name


def _same_owed(kept: Owed, fresh: Owed) -> None:
    """Equal figures in the same order (the dictionaries' order is the rows')."""
    for name in ("principal", "charges", "clients"):
        assert list(getattr(kept, name).items()) == list(getattr(fresh, name).items()), name
    assert kept.owing == fresh.owing


def _check_against_fresh(ctx: EodContext) -> None:
    """(A connection of the store's writer engine holds SQLite's write lock while open: each
    of the context's readings is made before the fresh one's connection opens.)"""
    engine = ctx.engine
    table, rows = ctx.contracts(), ctx.debt_rows()
    with engine.connect() as conn:
        assert table == load_contract_table(conn)
        assert rows == load_debt_rows(conn)
    assert ctx.owed() == owed_now(engine)
    ids = sorted(table.ids)
    columns = ctx.contract_columns(ids)
    assert isinstance(columns, ContractColumns) and columns.ids == ids
    _same(columns, load_contract_columns(engine, ids))
    data = ctx.book_data()
    assert isinstance(data, BookData)
    _same(data, load_data(engine))  # read afresh, nothing shared
    with engine.connect() as conn:
        kept = OpenDebts(conn, rows, table.securities_by_id())
        for day in (DAY1, DAY2):
            assert kept.at_close(conn, day) == OpenDebts(conn).at_close(conn, day)


def test_the_kept_readings_equal_a_fresh_load(store: Engine, fixed_clock) -> None:
    _ledger(store, fixed_clock)
    ctx = EodContext(store, DAY2, EodSettings())
    _check_against_fresh(ctx)
    owed = ctx.owed()
    assert owed.principal == {"F1": 2_000_000, "F2": 1_000_000, "S1": 1000}
    assert owed.charges == {"F1": 1234, "S1": 321}
    assert ctx.book_data().financing.ids == ["F1", "F2"]  # F3 repaid: not open
    assert ctx.book_data().shorts.ids == ["S1"]
    # nothing posted: each is the very reading made before
    assert ctx.contracts() is ctx.contracts() and ctx.debt_rows() is ctx.debt_rows()
    assert ctx.owed() is owed and ctx.book_data() is ctx.book_data()


def test_no_kept_reading_outlives_a_posting_that_changes_it(store: Engine, fixed_clock) -> None:
    ledger = _ledger(store, fixed_clock)
    ctx = EodContext(store, DAY2, EodSettings())
    table, rows, owed, data = ctx.contracts(), ctx.debt_rows(), ctx.owed(), ctx.book_data()
    ledger.post(ops.repay_financing("r1", DAY2, "c1", [Allocation("F1", 1234, 500_000)]))
    assert ctx.debt_rows() is not rows and ctx.owed() is not owed
    assert ctx.book_data() is not data
    assert ctx.owed().principal["F1"] == 1_500_000 and "F1" not in ctx.owed().charges
    assert ctx.contracts() is table  # no contract opened: the terms stand
    _check_against_fresh(ctx)
    f4 = financing_terms("F4", "c2", 3_000_000, 1000, "600000.SH", DAY2)
    ledger.post(ops.open_financing("m4", f4))
    assert ctx.contracts() is not table and "F4" in ctx.contracts().ids
    assert ctx.book_data().financing.ids == ["F1", "F2", "F4"]
    _check_against_fresh(ctx)


def _accrued(ledger: Ledger, ctx: EodContext, charges: list[tuple[str, str, int]]) -> None:
    """Charges (client, contract, fen) posted in one batch and told to the context, as the
    accrual step does."""
    ledger.post_batch(
        [
            ops.accrue_charges(f"a{3 + i}", DAY2, client, contract, fen)
            for i, (client, contract, fen) in enumerate(charges)
        ]
    )
    clients, contracts, amounts = zip(*charges, strict=True)
    ctx.charges_posted(len(charges), (list(contracts), list(amounts), list(clients)),
                       _by_row(ctx, contracts, amounts))  # fmt: skip


def _by_row(ctx: EodContext, contracts: Sequence[str], amounts: Sequence[int]) -> Raised:
    row_of = ctx.contracts().row_of
    rows = np.asarray([row_of[cid] for cid in contracts], np.intp)
    return rows, np.asarray(amounts, np.int64)


def test_charges_posted_advance_the_kept_debts_only_from_the_state_they_stand_for(
    store: Engine, fixed_clock
) -> None:
    ledger = _ledger(store, fixed_clock)
    ctx = EodContext(store, DAY2, EodSettings())
    rows, before = ctx.debt_rows(), ctx.owed()
    assert before.owing == {"F1", "F2", "S1"}  # worked out, as the accrual does
    assert rows.with_charges_added(["F2"], [5]) is None  # F2 has no charges row yet
    _accrued(ledger, ctx, [("c1", "F1", 40), ("c3", "S1", 2)])
    assert ctx.debts_stand_at() is not None and ctx.debt_rows() is not rows
    assert ctx.owed().charges == {"F1": 1274, "S1": 323}
    # the figures worked out from the rows are advanced with them, not worked out again
    assert ctx.owed().owing is before.owing
    _same_owed(ctx.owed(), owed_now(store))
    _check_against_fresh(ctx)
    # a transaction the step did not post came in between: the rows are not advanced by
    # what the step says, they stay as they were and are caught up from the journal
    kept, stood_at = ctx.debt_rows(), ctx.debts_stand_at()
    ledger.post(ops.accrue_charges("a5", DAY2, "c1", "F1", 7))
    ledger.post(ops.accrue_charges("a6", DAY2, "c1", "F1", 1))
    ctx.charges_posted(1, (["F1"], [1], ["c1"]), _by_row(ctx, ["F1"], [1]))
    assert ctx.debts_stand_at() == stood_at
    caught_up = ctx._readings.reads["debts", CAUGHT_UP]
    assert ctx.debt_rows() is not kept and ctx.owed().charges["F1"] == 1282
    assert ctx._readings.reads["debts", CAUGHT_UP] == caught_up + 1
    assert ctx.debts_stand_at() == stood_at + 2
    _check_against_fresh(ctx)


def test_first_charges_take_their_place_in_the_kept_debts_where_the_store_orders_by_code_point(
    store: Engine, fixed_clock
) -> None:
    ledger = _ledger(store, fixed_clock)
    ctx = EodContext(store, DAY2, EodSettings())
    rows, before = ctx.debt_rows(), ctx.owed()
    stood_at = ctx.debts_stand_at()
    assert "F2" in before.principal and "F2" not in before.charges  # no charges row yet
    _accrued(ledger, ctx, [("c1", "F1", 40), ("c1", "F2", 5)])
    if store.dialect.name == "sqlite":  # the names' code points: the new row merged in
        kept = ctx.debt_rows()
        assert ctx.debts_stand_at() == stood_at + 2 and kept is not rows  # two charges
        assert kept.size == rows.size + 1 and "client:c1:charges:F2" in kept.accounts
    else:  # the database's collation decides the place: not advanced, then read again
        assert ctx.debts_stand_at() == stood_at
        fresh = ctx._readings.reads["debts", FRESH]
        assert ctx.debt_rows() is not rows and ctx._readings.reads["debts", FRESH] == fresh + 1
    assert ctx.owed().charges == {"F1": 1274, "F2": 5, "S1": 321}
    _same_owed(ctx.owed(), owed_now(store))
    _check_against_fresh(ctx)


def test_first_charges_are_merged_only_into_rows_in_code_point_order(
    store: Engine, fixed_clock
) -> None:
    _ledger(store, fixed_clock)
    with store.connect() as conn:
        rows = load_debt_rows(conn)
    assert rows.with_charges_added(["F2"], [5]) is None  # no clients: no place known
    assert rows.with_charges_added(["F2"], [0], ["c1"]) is None  # nothing posted: no row
    assert rows.with_charges_added(["F2"], [5], ["c:1"]) is None  # not the chart's name
    merged = rows.with_charges_added(["S1", "F2"], [2, 5], ["c3", "c1"])
    assert merged is not None and list(merged.accounts) == sorted(merged.accounts)
    assert owed_by_id(merged)[1] == {"F1": 1234, "F2": 5, "S1": 323}
    picked = [i for i, account in enumerate(merged.accounts) if account.endswith(":F2")]
    assert [merged.sides[i] for i in picked] == ["charges", "financing"]
    assert [merged.amounts[i] for i in picked] == [-5, -1_000_000]
    none = type(rows)((), (), (), (), (), ())  # a book owing nothing: the first row
    first = none.with_charges_added(["K1"], [9], ["c9"])
    assert first == type(rows)(("client:c9:charges:K1",), ("CNY",), (-9,), ("c9",),
                               ("charges",), ("K1",))  # fmt: skip
    # rows in another order than the names' (a store collating otherwise): read again
    shuffled = type(rows)(*(tuple(reversed(column)) for column in _columns_of(rows)))
    assert shuffled.with_charges_added(["F2"], [5], ["c1"]) is None


def _columns_of(rows: object) -> list[object]:
    return [getattr(rows, field.name) for field in fields(rows)]  # type: ignore[arg-type]


def test_charges_added_beyond_the_stores_integers_are_read_again(
    store: Engine, fixed_clock
) -> None:
    _ledger(store, fixed_clock)
    with store.connect() as conn:
        rows = load_debt_rows(conn)
    assert rows.with_charges_added(["F1"], [2**63]) is None  # not a 64-bit integer
    assert rows.with_charges_added(["F1"], [2**63 - 1]) is None  # the balance would pass -2**63
    assert rows.with_charges_added(["F1"], [-1]) is None  # charges are never given back
    assert rows.with_charges_added(["NOPE"], [1]) is None
    advanced = rows.with_charges_added(["S1", "F1"], [2, 40])
    assert advanced is not None and owed_by_id(advanced)[1] == {"F1": 1274, "S1": 323}
    assert owed_by_id(rows)[1] == {"F1": 1234, "S1": 321}  # the rows read are unchanged
    with pytest.raises(AssertionError):
        rows.with_charges_added(["F1", "F1"], [1, 1])


def test_a_debt_whose_contract_is_unknown_is_listed_at_either_close(
    store: Engine, fixed_clock
) -> None:
    """The kept debts' totals stand alone only for a close with no later postings and every
    contract known; a contract missing from the securities given (F2) is listed at both
    closes, its debt on no security, whether later postings (F3's repayment) are added back
    or not."""
    _ledger(store, fixed_clock)
    unknown = ReportViolation(ReportCheck.UNKNOWN_CONTRACT, field="client:c1:financing:F2")
    with store.connect() as conn:
        rows, table = load_debt_rows(conn), load_contract_table(conn)
        known = {k: v for k, v in table.securities_by_id().items() if k != "F2"}
        debts = OpenDebts(conn, rows, known)
        # F1 and S1 owe at both closes; F3 owes on DAY1 only (repaid on DAY2)
        assert debts.at_close(conn, DAY2) == (
            {"600000.SH": (2_000_000, 0), "600036.SH": (0, 1000)},
            [unknown],
        )
        assert debts.at_close(conn, DAY1) == (
            {"600000.SH": (2_000_000, 0), "000001.SZ": (1_200_000, 0), "600036.SH": (0, 1000)},
            [unknown],
        )
        whole = OpenDebts(conn, rows, table.securities_by_id())
        assert whole.at_close(conn, DAY2)[0]["000001.SZ"] == (1_000_000, 0)
        assert "securities" not in vars(whole)  # the fast path: no per-account maps built


def _table(ids: list[str], clients: list[str]) -> ContractTable:
    size = len(ids)
    return ContractTable(ids, clients, ["financing"] * size, ["600000.SH"] * size, {})


def _raised(owed: Owed, rows: list[int], amounts: list[int], pending: bool = True) -> Owed:
    at, fen = np.asarray(rows, np.intp), np.asarray(amounts, np.int64)
    return owed.charges_raised(at, fen, pending=pending)


def test_charges_raised_by_row_keep_the_contracts_owing_only_when_the_same_rows_owe() -> None:
    table = _table(["F1", "F2", "S1", "K1", "N1"], ["c1", "c1", "c2", "c3", "c9"])
    before = Owed(table, np.array([100, 0, 0, 0, 0]), np.array([3, 0, -2, 0, 0]))
    assert before.owing == {"F1"}  # worked out, so kept for the next figures
    cases = [
        ([0], [5]),  # the daily accrual: on what already owes
        ([0, 1], [1, 4]),  # F2's first charges
        ([2], [1]),  # still nothing owed on S1 (-2 + 1)
        ([4], [7]),  # a contract that owed nothing at all
    ]
    for rows, amounts in cases:
        raised = _raised(before, rows, amounts)
        afresh = Owed(table, raised.principal_at, raised.charges_at, pending_added=True)
        assert raised == afresh and raised.owing == afresh.owing, rows
        assert raised.charges_at[rows].tolist() == (before.charges_at[rows] + amounts).tolist()
    assert _raised(before, [0], [5]).owing is before.owing
    assert _raised(before, [4], [7]).clients == {"F1": "c1", "S1": "c2", "N1": "c9"}
    assert before.charges_at.tolist() == [3, 0, -2, 0, 0]  # the figures' own never change
    assert before.clients == {"F1": "c1", "S1": "c2"}
    assert not _raised(before, [0], [1], pending=False).pending_added
    assert _raised(before, [0], [1]).pending_added
    with pytest.raises(AssertionError, match="only more charges"):
        _raised(before, [0], [0])


def test_the_figures_by_row_read_as_the_ledger_holds_them_and_refuse_an_unknown_contract(
    store: Engine, fixed_clock
) -> None:
    _ledger(store, fixed_clock)
    with store.connect() as conn:
        table, rows = load_contract_table(conn), load_debt_rows(conn)
    owed = owed_with(table, rows, NOTHING_PENDING)
    principal, charges = owed_by_id(rows)
    assert (owed.principal, owed.charges) == (principal, charges) and not owed.pending_added
    assert owed.clients == {"F1": "c1", "F2": "c1", "S1": "c3"}  # F3 repaid: owes nothing
    assert owed.principal_of("F1") == principal["F1"] and owed.charges_of("F3") == 0
    pending = PendingCharges({"interest": KindPending(["F2", "F1"], [5, 6])})
    more = owed_with(table, rows, pending, {"F1": 6})
    assert more.pending_added and more.charges_of("F2") == 5 and more.charges_of("F1") == 1234
    unknown = PendingCharges({"interest": KindPending(["F1", "Z9"], [1, 2])})
    with pytest.raises(DebtOfUnknownContract, match="Z9"):
        owed_with(table, rows, unknown)
    fewer = _table(table.ids[1:], table.clients[1:])
    with pytest.raises(DebtOfUnknownContract, match=table.ids[0]):
        owed_with(fewer, rows, NOTHING_PENDING)


def test_a_table_s_rows_by_id_are_carried_to_the_table_that_follows_it() -> None:
    table = _table(["F1", "F2"], ["c1", "c1"])
    assert table.row_of == {"F1": 0, "F2": 1}
    later = table.followed_by(_table(["F3"], ["c2"]))
    assert "row_of" in vars(later) and later.row_of == {"F1": 0, "F2": 1, "F3": 2}
    assert table.row_of == {"F1": 0, "F2": 1}  # the earlier table's own map is unchanged
    fresh = _table(["A1"], ["c1"]).followed_by(_table(["A2"], ["c1"]))
    assert "row_of" not in vars(fresh) and fresh.row_of == {"A1": 0, "A2": 1}


def test_the_risk_book_places_each_contract_on_its_clients_position(
    store: Engine, fixed_clock
) -> None:
    """The book's clients are those with a credit account, in order (c2, whose contract is
    repaid, among them); each open contract is placed on its client's position."""
    _ledger(store, fixed_clock)
    data = load_data(store)
    assert data.client_ids == ["c1", "c2", "c3"]
    assert data.financing.ids == ["F1", "F2"] and data.financing.account.tolist() == [0, 0]
    assert data.shorts.ids == ["S1"] and data.shorts.account.tolist() == [2]
    assert not data.financing.ids_unique  # a table read here, its ids checked as built
    ctx = EodContext(store, DAY2, EodSettings())
    assert ctx.book_data().financing.ids_unique  # the context's table has its index
