"""The reconciliation's control totals (ACC-7): between full checks, the balances are
checked against the journal's checkpoint and the postings since, in time proportional to the
day; a drifted balance is still found key by key, and a change to a transaction already
checked is listed too.  Nothing is repaired."""

from __future__ import annotations

from datetime import date, timedelta
from itertools import pairwise
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import Connection, Engine, inspect, text

from liangrong.domain import control_totals as ct
from liangrong.eod.ledger_control import Checkpoint, full_check_due, latest_checkpoint
from liangrong.eod.runner import run
from liangrong.eod.settings import EodSettings
from liangrong.ledger import control_reads as cr
from liangrong.ledger.control_reads import balances_control, postings_control
from liangrong.ledger.journal import last_seq
from liangrong.ledger.projections import (
    account_ranges,
    balance_differences,
    sampled_posting_ranges,
)
from liangrong.store.migrate import downgrade, upgrade
from test_eod import THROUGH, build_book, build_store, copy_of

D, NEXT = date(2026, 11, 20), date(2026, 11, 23)  # a Friday and the Monday after

KEYS = st.tuples(st.sampled_from(["client:C1:cash", "client:C2:cash", "firm:bank"]),
                 st.sampled_from(["CNY", "600000.SH"]))  # fmt: skip
ROWS = st.lists(st.tuples(KEYS, st.integers(-(10**15), 10**15)), max_size=30)


def _rows(items: list[tuple[tuple[str, str], int]]) -> list[tuple[str, str, int]]:
    return [(account, asset, amount) for (account, asset), amount in items]


@given(ROWS, ROWS)
def test_the_total_of_two_sets_is_the_sum_of_their_totals(a, b) -> None:
    assert ct.control_total(_rows(a + b)) == ct.plus(
        ct.control_total(_rows(a)), ct.control_total(_rows(b))
    )
    assert ct.minus(ct.control_total(_rows(a + b)), ct.control_total(_rows(b))) == ct.control_total(
        _rows(a)
    )


@given(ROWS, KEYS, st.integers(1, 2**60).flatmap(lambda n: st.sampled_from([n, -n])))
def test_one_key_off_by_any_amount_changes_the_total(rows, key, off) -> None:
    assert ct.control_total(_rows([*rows, (key, off)])) != ct.control_total(_rows(rows))


def test_a_keys_weight_never_changes() -> None:
    # Stored checkpoints hold totals over these weights: the function is fixed for good.
    assert ct.key_weight("client:C1:cash", "CNY") == 724936601114484939
    assert ct.key_weight("firm:bank", "600000.SH") == 1134345187526202548
    assert ct.key_weight("client:C1:cash", "CNH") != ct.key_weight("client:C1:cash", "CNY")


TEXTS = st.text(max_size=40)
INT64 = st.integers(-(2**63), 2**63 - 1)


@given(st.lists(st.tuples(TEXTS, TEXTS), max_size=20))
def test_weights_in_bulk_are_the_keys_weights(keys) -> None:
    encoded = [f"{account}{ct.SEPARATOR}{asset}".encode() for account, asset in keys]
    assert cr.weights(encoded).tolist() == [ct.key_weight(a, x) for a, x in keys]


@given(st.lists(st.tuples(INT64, st.integers(1, ct.MODULUS - 1)), max_size=40))
def test_the_sum_of_products_in_arrays_is_exact(rows) -> None:
    amounts = np.array([a for a, _ in rows], dtype=np.int64)
    weights = np.array([w for _, w in rows], dtype=np.int64)
    assert cr.weighted_sum(amounts, weights) == sum(a * w for a, w in rows) % ct.MODULUS


def test_the_sum_of_products_stays_exact_past_one_sum_of_limbs() -> None:
    rows = (1 << 20) + 3  # more than one sum of limbs, each row at the extremes
    amounts = np.full(rows, -(2**63), dtype=np.int64)
    weights = np.full(rows, ct.MODULUS - 1, dtype=np.int64)
    expected = rows * -(2**63) * (ct.MODULUS - 1) % ct.MODULUS
    assert cr.weighted_sum(amounts, weights) == expected


def test_sequence_ranges_cover_the_range_once() -> None:
    assert cr.seq_ranges(10, 35, 10) == [(10, 20), (20, 30), (30, 35)]
    assert cr.seq_ranges(10, 10, 10) == []
    assert cr.seq_ranges(0, 1, 100_000) == [(0, 1)]


# A small journal written straight into the tables: accounts with one asset and one with
# several (more balance rows than a range holds), a name beyond ASCII, several transactions.
POSTINGS = [
    (1, "client:A:cash", "CNY", 500), (1, "external:bank", "CNY", -500),
    (2, "external:market", "600000.SH", 300), (2, "client:A:securities:SH", "600000.SH", -300),
    (3, "external:market", "600036.SH", 70), (3, "client:B:securities:SH", "600036.SH", -70),
    (4, "external:market", "000001.SZ", 9), (4, "client:客户:cash", "CNY", -9),
    (5, "client:A:cash", "CNY", -120), (5, "client:B:cash", "CNY", 120),
    (6, "external:market", "600000.SH", -(10**15)), (6, "firm:pool", "600000.SH", 10**15),
]  # fmt: skip


def _write_journal(conn: Connection) -> None:
    sums: dict[tuple[str, str], int] = {}
    for line, (seq, account, asset, amount) in enumerate(POSTINGS):
        if line % 2 == 0:
            conn.execute(
                text(
                    "INSERT INTO journal_transactions (seq, command_id, payload_digest, "
                    "business_date, kind, events_json, recorded_at) VALUES (:seq, :cid, 'd', "
                    ":day, 'test', '[]', 'now')"
                ),
                {"seq": seq, "cid": f"test:{seq}", "day": D},
            )
        conn.execute(
            text(
                "INSERT INTO journal_postings (txn_seq, line_no, leg_no, purpose, account, asset, "
                "amount) VALUES (:seq, :line, 0, 'test', :account, :asset, :amount)"
            ),
            {"seq": seq, "line": line, "account": account, "asset": asset, "amount": amount},
        )
        sums[(account, asset)] = sums.get((account, asset), 0) + amount
    for (account, asset), amount in sums.items():
        _set_balance(conn, account, asset, amount)


def _set_balance(conn: Connection, account: str, asset: str, amount: int) -> None:
    conn.execute(
        text("DELETE FROM balances WHERE account = :a AND asset = :x"), {"a": account, "x": asset}
    )
    conn.execute(
        text("INSERT INTO balances (account, asset, amount) VALUES (:a, :x, :n)"),
        {"a": account, "x": asset, "n": amount},
    )


def _row_by_row(conn: Connection) -> int:
    """The balances' control total the plain way: every row, one key weight each."""
    rows = conn.execute(text("SELECT account, asset, amount FROM balances")).all()
    return ct.weighted(((account, asset), int(amount)) for account, asset, amount in rows)


def _journal(store: Engine) -> Engine:
    with store.begin() as conn:
        _write_journal(conn)
    return store


def test_the_bulk_totals_are_the_row_by_row_ones(store: Engine) -> None:
    with _journal(store).connect() as conn:
        every = [(a, x, n) for _, a, x, n in POSTINGS]
        assert postings_control(conn, 0, 6) == ct.control_total(every) == _row_by_row(conn)
        assert balances_control(conn) == _row_by_row(conn)
        for parts in (1, 2, 3, 7):
            ranges = account_ranges(conn, parts)
            assert ct.plus(*(balances_control(conn, lo, hi) for lo, hi in ranges)) == (
                _row_by_row(conn)
            )
        for size in (1, 2, 4):
            parts_total = ct.plus(
                *(postings_control(conn, a, t) for a, t in cr.seq_ranges(0, 6, size))
            )
            assert parts_total == postings_control(conn, 0, 6)
        later = [(a, x, n) for seq, a, x, n in POSTINGS if seq > 3]
        assert postings_control(conn, 3, 6) == ct.control_total(later)


def _cover_once(ranges: list[tuple[str, str | None]], accounts: list[str]) -> None:
    in_order = sorted(ranges, key=lambda r: r[0])
    assert in_order[0][0] == "" and in_order[-1][1] is None
    assert all(a[1] == b[0] for a, b in pairwise(in_order))
    for account in accounts:
        assert sum(lo <= account and (hi is None or account < hi) for lo, hi in ranges) == 1


@pytest.mark.parametrize("table", ["balances", "journal_postings"])
def test_account_ranges_cover_every_account_once(store: Engine, table: str) -> None:
    with _journal(store).connect() as conn:
        accounts = sorted(
            {str(a) for (a,) in conn.execute(text(f"SELECT account FROM {table}")).all()}
        )
        for parts in (1, 2, 3, 5, 50):
            _cover_once(account_ranges(conn, parts, table), accounts)
    if table == "journal_postings":  # the market's 4 postings of 12, more than a quarter:
        with store.connect() as conn:  # a range of its own, first
            first = account_ranges(conn, 4, table)[0]
        assert first == ("external:market", "firm:pool")


def test_the_postings_ranges_cut_along_a_sample_cover_every_account_once(store: Engine) -> None:
    with store.connect() as conn:  # an empty journal: one range, every name
        assert sampled_posting_ranges(conn, 4) == [("", None)]
    with _journal(store).connect() as conn:
        found = conn.execute(text("SELECT account FROM journal_postings"))
        accounts = sorted({str(account) for (account,) in found})
        for parts in (1, 2, 3, 5, 50):
            for samples in (1, 2, 1000):
                _cover_once(sampled_posting_ranges(conn, parts, samples), accounts)
            # every transaction sampled: the sample is the table, the cuts are the walk's
            every = sampled_posting_ranges(conn, parts, 1000)
            assert every == account_ranges(conn, parts, "journal_postings")
        first = sampled_posting_ranges(conn, 4, 1000)[0]
    assert first == ("external:market", "firm:pool")  # the long account first, as walked


def test_a_key_that_does_not_split_is_totalled_row_by_row(store: Engine) -> None:
    with _journal(store).begin() as conn:  # behind the ledger: a name holding the separators
        _set_balance(conn, "client:C\x1e:cash", "CNY", 42)
        _set_balance(conn, "client:D\x1f\x1e", "CNY\x1e", -7)
    with store.connect() as conn:
        assert balances_control(conn) == _row_by_row(conn)


def test_the_full_check_lists_each_kind_of_difference(store: Engine) -> None:
    with _journal(store).begin() as conn:  # behind the ledger's back
        _set_balance(conn, "client:A:cash", "CNY", 381)  # 380 posted
        _set_balance(conn, "client:Z:cash", "CNY", 5)  # no postings at all
        _set_balance(conn, "external:market", "USD", -5)  # no postings of that asset
        conn.execute(text("DELETE FROM balances WHERE account = 'client:B:cash'"))  # 120 posted
    expected = [
        ("client:A:cash", "CNY", 380, 381),
        ("client:B:cash", "CNY", 120, None),
        ("client:Z:cash", "CNY", 0, 5),
        ("external:market", "USD", 0, -5),
    ]
    with store.connect() as conn:
        assert sorted(balance_differences(conn)) == expected
        for parts in (1, 2, 3, 7):
            found = [
                d
                for lo, hi in account_ranges(conn, parts)
                for d in balance_differences(conn, lo, hi)
            ]
            assert sorted(found) == expected


KEY_INDEX = "ix_journal_postings_key_amount"


def _postings_indexes(conn: Connection) -> dict[str, list[str | None]]:
    found = inspect(conn).get_indexes("journal_postings")
    return {str(index["name"]): list(index["column_names"]) for index in found}


def test_the_full_check_sums_each_keys_postings_from_the_index_alone(store: Engine) -> None:
    """Each posting's asset and amount are in the key's index: the full check reads it in
    order and never looks a posting up in the table (tens of millions at 1M accounts)."""
    with _journal(store).connect() as conn:
        assert _postings_indexes(conn) == {KEY_INDEX: ["account", "asset", "amount"]}
        if conn.dialect.name != "sqlite":
            return
        plan = conn.exec_driver_sql(
            "EXPLAIN QUERY PLAN SELECT account, asset, SUM(amount) FROM journal_postings "
            "WHERE account >= ? AND account < ? GROUP BY account, asset",
            ("client:", "client;"),
        ).all()
    assert any(f"USING COVERING INDEX {KEY_INDEX}" in str(row[-1]) for row in plan), plan


def test_migration_0025_puts_the_account_index_back_and_the_key_index_again(
    store: Engine,
) -> None:
    _journal(store)
    expected = [("client:A:cash", "CNY", 380, 381)]
    with store.begin() as conn:
        _set_balance(conn, "client:A:cash", "CNY", 381)
    downgrade(store, "0024")
    with store.connect() as conn:
        assert _postings_indexes(conn) == {"ix_journal_postings_account": ["account"]}
        assert balance_differences(conn) == expected
    upgrade(store)
    with store.connect() as conn:
        assert _postings_indexes(conn) == {KEY_INDEX: ["account", "asset", "amount"]}
        assert balance_differences(conn) == expected


def test_a_balance_changed_behind_the_ledger_is_found_on_a_routine_day(
    store: Engine, tmp_path: Path
) -> None:
    """On either backend: the day after a full check checks by control total, and a balance
    moved without a posting makes the totals disagree, so every key is checked and that one
    listed."""
    build_book(store)
    settings = EodSettings(tmp_path, batch_transactions=2, accrued_through=THROUGH)
    assert run(store, D, settings).records["reconcile"].summary["balances_check"] == "full"
    run(store, NEXT, settings, stop_after="reports")
    account = "client:C1:charges:F1"
    with store.begin() as conn:
        conn.execute(text(f"UPDATE balances SET amount = amount + 1 WHERE account = '{account}'"))
        (held,) = conn.execute(
            text(f"SELECT amount FROM balances WHERE account = '{account}'")
        ).one()
    summary = run(store, NEXT, settings).records["reconcile"].summary
    assert summary["balances_check"] == "full" and summary["differences"]["balances"] == 1
    lines = (tmp_path / f"{NEXT:%Y%m%d}" / f"reconciliation_{NEXT:%Y%m%d}.csv").read_text()
    assert f"balances,difference,{account} CNY,{held - 1},{held}" in lines.splitlines()
    with store.connect() as conn:  # the checkpoint is the journal's, read the plain way
        checkpoint = latest_checkpoint(store, date_after(NEXT))
        assert checkpoint is not None
        every = conn.execute(
            text("SELECT account, asset, amount FROM journal_postings WHERE txn_seq <= :n"),
            {"n": checkpoint.through_seq},
        ).all()
        assert checkpoint.journal_total == ct.control_total([(a, x, int(n)) for a, x, n in every])


@pytest.fixture(scope="module")
def prepared(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("control") / "prepared.sqlite"
    build_store(path)
    return path


def _settings(copy, full_days: int = 7) -> EodSettings:
    return EodSettings(copy.reports, batch_transactions=2, accrued_through=THROUGH,
                       full_reconciliation_days=full_days)  # fmt: skip


def _lines(copy, day) -> list[str]:
    return (
        (copy.reports / f"{day:%Y%m%d}" / f"reconciliation_{day:%Y%m%d}.csv")
        .read_text()
        .splitlines()
    )


def test_the_next_day_checks_by_control_total_and_leaves_a_true_checkpoint(
    prepared: Path, tmp_path: Path
) -> None:
    copy = copy_of(prepared, tmp_path)
    first = run(copy.engine, D, _settings(copy))
    assert first.records["reconcile"].summary["balances_check"] == "full"
    second = run(copy.engine, NEXT, _settings(copy))
    summary = second.records["reconcile"].summary
    assert summary["balances_check"] == "control_total"
    assert summary["differences"]["balances"] == 0
    before = Checkpoint.from_summary(D, first.records["reconcile"].summary["control"])
    assert f"balances,ok,control total since {D} (seq {before.through_seq})" in "\n".join(
        _lines(copy, NEXT)
    )
    checkpoint = latest_checkpoint(copy.engine, date_after(NEXT))
    assert checkpoint is not None and checkpoint.trading_date == NEXT and checkpoint.full_on == D
    with copy.engine.connect() as conn:  # what it carried is what a pass over everything gives
        assert checkpoint.through_seq == last_seq(conn)
        assert checkpoint.journal_total == balances_control(conn)
        assert checkpoint.journal_total == postings_control(conn, 0, checkpoint.through_seq)
        openings = conn.execute(text(
            "SELECT COUNT(*) FROM journal_transactions WHERE events_json LIKE '%contract_opened%'"
        )).scalar_one()  # fmt: skip
        assert checkpoint.openings == openings


def test_a_full_check_every_day_finds_the_same(prepared: Path, tmp_path: Path) -> None:
    by_total, every_day = copy_of(prepared, tmp_path / "a"), copy_of(prepared, tmp_path / "b")
    for copy, days in ((by_total, 7), (every_day, 0)):
        run(copy.engine, D, _settings(copy, days))
        run(copy.engine, NEXT, _settings(copy, days))
    full = latest_checkpoint(every_day.engine, date_after(NEXT))
    carried = latest_checkpoint(by_total.engine, date_after(NEXT))
    assert full is not None and carried is not None
    assert full.full_on == NEXT and carried.full_on == D
    assert (full.through_seq, full.journal_total, full.openings) == (
        carried.through_seq, carried.journal_total, carried.openings
    )  # fmt: skip
    strip = [line.split(",")[:2] for line in _lines(every_day, NEXT)]
    assert strip == [line.split(",")[:2] for line in _lines(by_total, NEXT)]


def test_a_drifted_balance_is_found_key_by_key(prepared: Path, tmp_path: Path) -> None:
    copy = copy_of(prepared, tmp_path)
    run(copy.engine, D, _settings(copy))
    run(copy.engine, NEXT, _settings(copy), stop_after="reports")
    account = "client:C1:charges:F1"
    with copy.engine.begin() as conn:
        conn.execute(text(f"UPDATE balances SET amount = amount - 7 WHERE account = '{account}'"))
        (owed,) = conn.execute(
            text(f"SELECT amount FROM balances WHERE account = '{account}'")
        ).one()
    report = run(copy.engine, NEXT, _settings(copy))
    summary = report.records["reconcile"].summary
    assert summary["balances_check"] == "full"  # the totals disagreed: every key was checked
    assert summary["differences"]["balances"] == 1
    assert f"balances,difference,{account} CNY,{owed + 7},{owed}" in _lines(copy, NEXT)
    with copy.engine.connect() as conn:  # listed, not repaired
        assert (
            conn.execute(
                text(f"SELECT amount FROM balances WHERE account = '{account}'")
            ).scalar_one()
            == owed
        )
    checkpoint = latest_checkpoint(copy.engine, date_after(NEXT))
    with copy.engine.connect() as conn:  # the checkpoint is the journal's, not the balances'
        assert checkpoint is not None
        assert checkpoint.journal_total == postings_control(conn, 0, checkpoint.through_seq)


def test_a_changed_transaction_already_checked_is_listed(prepared: Path, tmp_path: Path) -> None:
    copy = copy_of(prepared, tmp_path)
    run(copy.engine, D, _settings(copy))
    run(copy.engine, NEXT, _settings(copy), stop_after="reports")
    with copy.engine.begin() as conn:  # behind the ledger's back: a posting of Friday's
        for (name,) in conn.execute(
            text("SELECT name FROM sqlite_master WHERE type = 'trigger'")
        ).all():
            conn.execute(text(f"DROP TRIGGER {name}"))
        txn, line, account, asset = conn.execute(text(
            "SELECT p.txn_seq, p.line_no, p.account, p.asset FROM journal_postings p "
            "JOIN journal_transactions t ON t.seq = p.txn_seq "
            "WHERE t.business_date = '2026-11-20' AND p.account LIKE 'client:C1:charges:%' "
            "ORDER BY p.txn_seq LIMIT 1"
        )).one()  # fmt: skip
        # the posting and its balance moved together: key by key, they still agree
        conn.execute(
            text(
                "UPDATE journal_postings SET amount = amount + 100 "
                f"WHERE txn_seq = {txn} AND line_no = {line}"
            )
        )
        conn.execute(
            text(
                "UPDATE balances SET amount = amount + 100 "
                f"WHERE account = '{account}' AND asset = '{asset}'"
            )
        )
    report = run(copy.engine, NEXT, _settings(copy))
    summary = report.records["reconcile"].summary
    assert summary["differences"]["balances"] == 1
    (row,) = [line for line in _lines(copy, NEXT) if line.startswith("balances,")]
    assert row.startswith(f'balances,difference,"journal, control total since {D}')


def test_the_schedule_of_full_checks() -> None:
    week = Checkpoint(D, 100, 5, 3, D)
    assert full_check_due(None, NEXT, 200, 7)
    assert not full_check_due(week, NEXT, 200, 7)
    assert full_check_due(week, D.replace(day=27), 200, 7)  # seven days after the last
    assert full_check_due(week, NEXT, 200, 0)
    assert full_check_due(week, NEXT, 99, 7)  # a journal shorter than its checkpoint


def test_settings_refuse_a_negative_schedule(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="full_reconciliation_days"):
        EodSettings(tmp_path, full_reconciliation_days=-1)


def date_after(day: date) -> date:
    return day + timedelta(days=1)
