"""The reconciliation's control totals (ACC-7): between full checks, the balances are
checked against the journal's checkpoint and the postings since, in time proportional to the
day; a drifted balance is still found key by key, and a change to a transaction already
checked is listed too.  Nothing is repaired."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import text

from liangrong.domain import control_totals as ct
from liangrong.eod.ledger_control import Checkpoint, full_check_due, latest_checkpoint
from liangrong.eod.runner import run
from liangrong.eod.settings import EodSettings
from liangrong.ledger.journal import last_seq
from liangrong.ledger.projections import balances_control, postings_control
from test_eod import THROUGH, build_store, copy_of

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
