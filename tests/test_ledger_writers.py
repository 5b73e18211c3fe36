"""Two writers on one store: the write lock and the cache check keep every limit."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import Engine

from ledger_helpers import DAY, financing_terms, open_client
from liangrong.domain import accounts as acc
from liangrong.domain import operations as ops
from liangrong.domain.journal import transaction_from_dict
from liangrong.domain.rejections import LedgerCode, Rejection
from liangrong.ledger.journal import Ledger
from liangrong.ledger.projections import balance, conservation_breaks

CNY = acc.CASH_ASSET


def test_a_second_writer_never_sees_a_stale_pool(store: Engine, fixed_clock) -> None:
    first, second = Ledger(store, fixed_clock), Ledger(store, fixed_clock)
    first.post(ops.fund_pool("fund", DAY, CNY, 100_00))
    open_client(first, "C1")
    first.post(ops.open_financing("a", financing_terms("F-a", "C1", 60_00)))
    second.post(ops.open_financing("b", financing_terms("F-b", "C1", 30_00)))
    with pytest.raises(Rejection) as excinfo:  # first's own view said 40.00 was left
        first.post(ops.open_financing("c", financing_terms("F-c", "C1", 20_00)))
    assert excinfo.value.code is LedgerCode.POOL_OVERDRAWN
    assert balance(store, acc.FINANCING_POOL, CNY) == 10_00


def test_concurrent_writers_cannot_together_over_lend(store: Engine, fixed_clock) -> None:
    setup = Ledger(store, fixed_clock)
    setup.post(ops.fund_pool("fund", DAY, CNY, 1_000_00))
    open_client(setup, "C1")
    accepted: list[int] = []
    refused: list[LedgerCode] = []

    def writer(name: str) -> None:
        ledger = Ledger(store, fixed_clock)
        for n in range(40):
            cid = f"{name}-{n}"
            try:
                ledger.post(ops.open_financing(cid, financing_terms(cid, "C1", 30_00)))
                accepted.append(30_00)
            except Rejection as rejection:
                assert isinstance(rejection.code, LedgerCode)
                refused.append(rejection.code)

    threads = [threading.Thread(target=writer, args=(name,)) for name in ("x", "y")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sum(accepted) == 990_00  # 33 loans fit in 1,000.00; the 34th would over-lend
    assert set(refused) == {LedgerCode.POOL_OVERDRAWN} and len(refused) == 80 - 33
    assert balance(store, acc.FINANCING_POOL, CNY) == 10_00
    assert conservation_breaks(store) == {}


def raw(purpose: str) -> dict[str, object]:
    return {
        "command_id": "manual-1",
        "business_date": "2026-03-02",
        "kind": "manual_adjustment",
        "legs": [
            {
                "purpose": purpose,
                "postings": [
                    [acc.client_cash("C1"), CNY, -100],
                    [acc.client_bank("C1"), CNY, 100],
                ],
            }
        ],
    }


@pytest.mark.parametrize(
    "purpose", ["loan_to_another_client", "", "WITHDRAW_SURPLUS", "margin_call", "settlement "]
)
def test_a_purpose_outside_the_permitted_list_is_refused(purpose: str) -> None:
    with pytest.raises(Rejection) as excinfo:
        transaction_from_dict(raw(purpose))
    assert excinfo.value.code is LedgerCode.UNKNOWN_PURPOSE


def test_a_well_formed_manual_transaction_posts(store: Engine, fixed_clock) -> None:
    ledger = Ledger(store, fixed_clock)
    open_client(ledger, "C1")
    ledger.post(ops.deposit_cash("dep", DAY, "C1", 500))
    ledger.post(transaction_from_dict(raw("withdraw_surplus")))
    assert balance(store, acc.client_cash("C1"), CNY) == 400


@pytest.mark.parametrize(
    "mutation",
    [
        {"legs": "x"},
        {"business_date": "2026-13-01"},
        {"kind": "Not A Kind"},
        {"legs": [{"purpose": "settlement", "postings": [["a", "CNY", 1.5]]}]},
    ],
)
def test_malformed_manual_transactions_are_refused(store: Engine, fixed_clock, mutation) -> None:
    ledger = Ledger(store, fixed_clock)
    open_client(ledger, "C1")
    with pytest.raises(Rejection) as excinfo:
        ledger.post(transaction_from_dict({**raw("withdraw_surplus"), **mutation}))
    assert excinfo.value.code is LedgerCode.INVALID_COMMAND
