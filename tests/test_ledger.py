"""The ledger on SQLite and PostgreSQL: ACC-1..ACC-4, CON-1 partial repayment, append-only."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import Engine, text

from ledger_helpers import DAY, financing_terms, open_client, short_terms
from liangrong.domain import accounts as acc
from liangrong.domain import operations as ops
from liangrong.domain.contracts import RepaymentOrder, allocate_repayment, allocate_return
from liangrong.domain.journal import Leg, Posting, Transaction
from liangrong.domain.purposes import Purpose
from liangrong.domain.rejections import LedgerCode, Rejection
from liangrong.ledger.journal import Ledger
from liangrong.ledger.projections import (
    balance,
    balances_under,
    conservation_breaks,
    contract_balances,
    rebuild,
)

CNY = acc.CASH_ASSET


@pytest.fixture
def ledger(store: Engine, fixed_clock) -> Ledger:
    book = Ledger(store, fixed_clock)
    book.post(ops.fund_pool("fund-cash", DAY, CNY, 10_000_000_00))
    book.post(ops.fund_pool("fund-600036", DAY, "600036.SH", 100_000))
    open_client(book, "C1")
    return book


def code_of(excinfo: pytest.ExceptionInfo[Rejection]) -> LedgerCode:
    code = excinfo.value.code
    assert isinstance(code, LedgerCode)
    return code


def test_deposit_then_idempotent_replay_changes_nothing(ledger: Ledger) -> None:
    first = ledger.post(ops.deposit_cash("dep-1", DAY, "C1", 150_000_00))
    again = ledger.post(ops.deposit_cash("dep-1", DAY, "C1", 150_000_00))
    assert (first.replayed, again.replayed, again.seq) == (False, True, first.seq)
    assert balance(ledger.engine, acc.client_cash("C1"), CNY) == 150_000_00


def test_same_id_with_other_payload_is_a_conflict_and_changes_nothing(ledger: Ledger) -> None:
    ledger.post(ops.deposit_cash("dep-1", DAY, "C1", 150_000_00))
    with pytest.raises(Rejection) as excinfo:
        ledger.post(ops.deposit_cash("dep-1", DAY, "C1", 150_000_01))
    assert code_of(excinfo) is LedgerCode.IDEMPOTENCY_CONFLICT
    assert balance(ledger.engine, acc.client_cash("C1"), CNY) == 150_000_00


def test_a_batch_is_all_or_nothing(ledger: Ledger) -> None:
    good = ops.deposit_cash("dep-good", DAY, "C1", 100)
    bad = ops.withdraw_cash("wd-bad", DAY, "C1", 1_000)  # only 100 there
    with pytest.raises(Rejection) as excinfo:
        ledger.post_batch([good, bad])
    assert code_of(excinfo) is LedgerCode.OVERDRAWN
    assert balance(ledger.engine, acc.client_cash("C1"), CNY) == 0


def test_duplicate_id_inside_one_batch_is_applied_once(ledger: Ledger) -> None:
    txn = ops.deposit_cash("dep-twice", DAY, "C1", 500)
    results = ledger.post_batch([txn, txn])
    assert [r.replayed for r in results] == [False, True]
    assert balance(ledger.engine, acc.client_cash("C1"), CNY) == 500


def test_credit_accounts_one_per_exchange_and_names_match(ledger: Ledger) -> None:
    with pytest.raises(Rejection) as excinfo:
        ledger.open_credit_account("open-C2", "C2", "SH", "李四", "李四四", DAY)
    assert code_of(excinfo) is LedgerCode.HOLDER_NAME_MISMATCH
    with pytest.raises(Rejection) as excinfo:
        ledger.open_credit_account("open-C1-SH-again", "C1", "SH", "张三", "张三", DAY)
    assert code_of(excinfo) is LedgerCode.CREDIT_ACCOUNT_EXISTS
    assert ledger.open_credit_account("open-C1-SH", "C1", "SH", "张三", "张三", DAY) is False


def test_postings_to_a_client_without_a_credit_account_are_refused(ledger: Ledger) -> None:
    with pytest.raises(Rejection) as excinfo:
        ledger.post(ops.deposit_cash("dep-x", DAY, "NOBODY", 100))
    assert code_of(excinfo) is LedgerCode.ACCOUNT_NOT_OPEN


def test_margin_buy_opens_a_contract_and_partial_repayment_reduces_it(ledger: Ledger) -> None:
    engine = ledger.engine
    ledger.post(ops.deposit_cash("dep", DAY, "C1", 100_000_00))
    near = financing_terms("F-near", "C1", 60_000_00, maturity=date(2026, 6, 1))
    far = financing_terms("F-far", "C1", 40_000_00, maturity=date(2026, 9, 2))
    ledger.post(ops.open_financing("buy-far", far))
    ledger.post(ops.open_financing("buy-near", near))
    ledger.post(ops.accrue_charges("int-far", DAY, "C1", "F-far", 9_28))
    assert balance(engine, acc.FINANCING_POOL, CNY) == 10_000_000_00 - 100_000_00
    assert balance(engine, acc.client_securities("C1", "SH"), "600000.SH") == 2000

    owed = contract_balances(engine, "C1")
    allocations = allocate_repayment(owed, 70_000_00, RepaymentOrder())
    ledger.post(ops.repay_financing("repay-1", DAY, "C1", allocations))
    after = {c.terms.contract_id: c for c in contract_balances(engine, "C1")}
    # charges first (9.28 on F-far), then principal nearest maturity first (F-near in full).
    assert after["F-far"].charges_outstanding_fen == 0
    assert after["F-near"].principal_outstanding == 0
    assert after["F-far"].principal_outstanding == 40_000_00 - (70_000_00 - 9_28 - 60_000_00)
    assert balance(engine, acc.FINANCING_POOL, CNY) == 10_000_000_00 - 100_000_00 + 69_990_72
    assert balance(engine, acc.INCOME_INTEREST, CNY) == 9_28
    assert conservation_breaks(engine) == {}


def test_short_sale_locks_proceeds_and_direct_return_reduces_the_short(ledger: Ledger) -> None:
    engine = ledger.engine
    ledger.post(ops.open_short("short-1", short_terms("S-1", "C1", 1000, 25_000_00)))
    assert balance(engine, acc.client_locked_cash("C1"), CNY) == 25_000_00
    assert balance(engine, acc.client_cash("C1"), CNY) == 0
    assert balance(engine, acc.LENDING_POOL, "600036.SH") == 99_000
    ledger.post(ops.transfer_collateral_in("tin", DAY, "C1", "600036.SH", 400))
    owed = contract_balances(engine, "C1")
    ledger.post(
        ops.return_securities(
            "ret", DAY, "C1", "600036.SH", allocate_return(owed, 400, RepaymentOrder().contracts)
        )
    )
    (short,) = contract_balances(engine, "C1")
    assert short.principal_outstanding == 600
    assert balance(engine, acc.LENDING_POOL, "600036.SH") == 99_400


def test_pools_cannot_be_over_lent(ledger: Ledger) -> None:
    with pytest.raises(Rejection) as excinfo:
        ledger.post(ops.open_financing("too-much", financing_terms("F-big", "C1", 10_000_000_01)))
    assert code_of(excinfo) is LedgerCode.POOL_OVERDRAWN
    with pytest.raises(Rejection) as excinfo:
        ledger.post(ops.open_short("too-many", short_terms("S-big", "C1", 100_001, 1_00)))
    assert code_of(excinfo) is LedgerCode.POOL_OVERDRAWN
    assert contract_balances(ledger.engine, "C1") == []


def test_financing_exactly_the_whole_pool_is_allowed(ledger: Ledger) -> None:
    ledger.post(ops.open_financing("all", financing_terms("F-all", "C1", 10_000_000_00)))
    assert balance(ledger.engine, acc.FINANCING_POOL, CNY) == 0


@pytest.mark.parametrize(
    "backend_table", ["journal_transactions", "journal_postings", "credit_accounts"]
)
def test_the_store_refuses_update_and_delete_on_the_journal(
    ledger: Ledger, backend_table: str
) -> None:
    ledger.post(ops.deposit_cash("dep", DAY, "C1", 100))
    column = {
        "journal_transactions": "kind",
        "journal_postings": "purpose",
        "credit_accounts": "holder_name",
    }[backend_table]
    for statement in (f"UPDATE {backend_table} SET {column} = 'x'", f"DELETE FROM {backend_table}"):
        with pytest.raises(Exception, match="append-only"), ledger.engine.begin() as conn:
            conn.execute(text(statement))
    with ledger.engine.connect() as conn:
        assert conn.execute(text(f"SELECT COUNT(*) FROM {backend_table}")).scalar_one() > 0


def test_rebuild_gives_identical_projections(ledger: Ledger) -> None:
    ledger.post(ops.deposit_cash("dep", DAY, "C1", 100_000_00))
    ledger.post(ops.open_financing("buy", financing_terms("F-1", "C1", 50_000_00)))
    ledger.post(ops.open_short("short", short_terms("S-1", "C1", 100, 2_500_00)))
    result = rebuild(ledger.engine)
    assert result.identical and result.contracts == 2 and result.transactions == 2 + 3
    assert rebuild(ledger.engine).digest_after == result.digest_after


def test_client_collateral_rolls_up_under_the_firm_account(ledger: Ledger) -> None:
    open_client(ledger, "C2", "李四")
    ledger.post(ops.deposit_cash("d1", DAY, "C1", 100))
    ledger.post(ops.deposit_cash("d2", DAY, "C2", 250))
    rollup = balances_under(ledger.engine, "firm:collateral_cash:")
    assert sum(rollup.values()) == 350


def _leg(purpose: Purpose, *postings: tuple[str, str, int]) -> Transaction:
    return Transaction("bad", DAY, "test", (Leg(purpose, tuple(Posting(*p) for p in postings)),))


C1_CASH, C1_BANK = acc.client_cash("C1"), acc.client_bank("C1")
C1_SEC = acc.client_securities("C1", "SH")

# Each purpose used for a movement it does not permit (ACC-4): all refused.
NOT_PERMITTED = {
    "deposit out of collateral": _leg(Purpose.DEPOSIT, (C1_CASH, CNY, -1), (C1_BANK, CNY, 1)),
    "withdrawal out of the pool": _leg(
        Purpose.WITHDRAW_SURPLUS, (acc.FINANCING_POOL, CNY, -1), (C1_BANK, CNY, 1)
    ),
    "settlement to the client's bank": _leg(
        Purpose.SETTLEMENT, (C1_CASH, CNY, -1), (C1_BANK, CNY, 1)
    ),
    "dispose collateral to the client's bank": _leg(
        Purpose.DISPOSE_COLLATERAL, (C1_CASH, CNY, -1), (C1_BANK, CNY, 1)
    ),
    "collect debt into the bank": _leg(Purpose.COLLECT_DEBT, (C1_CASH, CNY, -1), (C1_BANK, CNY, 1)),
    "fees out of securities": _leg(
        Purpose.INTEREST_FEES_TAXES, (C1_SEC, "600000.SH", -1), (acc.MARKET, "600000.SH", 1)
    ),
    "penalty to the market": _leg(Purpose.PENALTY, (C1_CASH, CNY, -1), (acc.MARKET, CNY, 1)),
    "lawful to the market": _leg(Purpose.LAWFUL, (C1_CASH, CNY, -1), (acc.MARKET, CNY, 1)),
    "pool funding out of collateral": _leg(
        Purpose.POOL_FUNDING, (C1_CASH, CNY, -1), (acc.FINANCING_POOL, CNY, 1)
    ),
    "pool return into collateral": _leg(
        Purpose.POOL_RETURN, (acc.FINANCING_POOL, CNY, -1), (C1_CASH, CNY, 1)
    ),
    "accrual out of collateral": _leg(
        Purpose.CHARGE_ACCRUAL, (C1_CASH, CNY, -1), (acc.INCOME_FEES, CNY, 1)
    ),
    "lock release to the bank": _leg(
        Purpose.LOCK_RELEASE, (acc.client_locked_cash("C1"), CNY, -1), (C1_BANK, CNY, 1)
    ),
    "transfer in from cash": _leg(
        Purpose.COLLATERAL_TRANSFER_IN, (C1_CASH, CNY, -1), (C1_SEC, CNY, 1)
    ),
}


@pytest.mark.parametrize("case", sorted(NOT_PERMITTED))
def test_each_purpose_refuses_movements_it_does_not_permit(ledger: Ledger, case: str) -> None:
    ledger.post(ops.deposit_cash("dep", DAY, "C1", 100))
    with pytest.raises(Rejection) as excinfo:
        ledger.post(NOT_PERMITTED[case])
    assert code_of(excinfo) in (LedgerCode.PURPOSE_NOT_PERMITTED, LedgerCode.UNKNOWN_ACCOUNT)
    assert balance(ledger.engine, C1_CASH, CNY) == 100


def test_one_clients_collateral_never_pays_anothers_debt(ledger: Ledger) -> None:
    open_client(ledger, "C2", "李四")
    ledger.post(ops.deposit_cash("dep", DAY, "C1", 100))
    txn = _leg(Purpose.WITHDRAW_SURPLUS, (C1_CASH, CNY, -100), (acc.client_bank("C2"), CNY, 100))
    with pytest.raises(Rejection) as excinfo:
        ledger.post(txn)
    assert code_of(excinfo) is LedgerCode.CROSS_CLIENT


def test_financing_must_come_out_of_the_financing_pool(ledger: Ledger) -> None:
    ledger.post(ops.deposit_cash("dep", DAY, "C1", 100))
    txn = _leg(
        Purpose.SETTLEMENT,
        (C1_CASH, CNY, -100),
        (acc.MARKET, CNY, 100),
        (acc.financing_debt("C1", "F-x"), CNY, -100),
        (acc.RECEIVABLE_FINANCING, CNY, 100),
    )
    with pytest.raises(Rejection) as excinfo:
        ledger.post(txn)
    assert code_of(excinfo) is LedgerCode.NOT_FROM_POOL


def test_a_repayment_across_many_contracts_splits_into_legs(ledger: Ledger) -> None:
    ledger.post(ops.deposit_cash("dep", DAY, "C1", 1_000_000_00))
    for n in range(120):
        ledger.post(ops.open_financing(f"buy-{n}", financing_terms(f"F-{n:03d}", "C1", 1_000_00)))
    owed = contract_balances(ledger.engine, "C1")
    allocations = allocate_repayment(owed, 120 * 1_000_00, RepaymentOrder())
    txn = ops.repay_financing("repay-all", DAY, "C1", allocations)
    assert len(txn.legs) == 3  # 48 + 48 + 24 contracts
    ledger.post(txn)
    assert all(c.principal_outstanding == 0 for c in contract_balances(ledger.engine, "C1"))
    assert conservation_breaks(ledger.engine) == {}


def test_the_chart_parses_each_shape_and_refuses_anything_else() -> None:
    """One alternation parses every owned account: its kind and owner; a near miss (an
    unknown word, a missing or extra part, a trailing newline, a too long id) is no
    account of the chart."""
    K = acc.AccountKind
    parsed = {
        acc.client_cash("C1"): (K.CLIENT_CASH, "C1", None, None),
        acc.client_locked_cash("C1"): (K.CLIENT_LOCKED_CASH, "C1", None, None),
        acc.client_securities("C1", "SZ"): (K.CLIENT_SECURITIES, "C1", "SZ", None),
        acc.financing_debt("C1", "F-1"): (K.CLIENT_FINANCING_DEBT, "C1", None, "F-1"),
        acc.short_debt("C1", "S_1"): (K.CLIENT_SHORT_DEBT, "C1", None, "S_1"),
        acc.charges_debt("C1", "F-1"): (K.CLIENT_CHARGES_DEBT, "C1", None, "F-1"),
        acc.client_bank("C1"): (K.CLIENT_BANK, "C1", None, None),
        acc.client_ordinary("C1", "SH"): (K.CLIENT_ORDINARY, "C1", "SH", None),
        acc.FINANCING_POOL: (K.FINANCING_POOL, None, None, None),
    }
    for name, expected in parsed.items():
        found = acc.parse_account(name)
        assert found is not None, name
        assert (found.kind, found.client_id, found.exchange, found.contract_id) == expected
    for name in (
        acc.client_cash("C1") + "\n",
        acc.charges_debt("C1", "F1") + "\n",
        "client:C1:loan:F1",
        "client:C1:financing",
        "firm:collateral_cash:C1:locked:x",
        "firm:collateral_securities:C1:HK",
        acc.client_cash("C" * 33),
        acc.short_debt("C1", "S" * 49),
        "client:C:1:financing:F1",
    ):
        assert acc.parse_account(name) is None, name
