"""Hypothesis properties of the ledger, on both stores: conservation per asset after every
step, idempotent replay, and rebuild giving identical projections."""

from __future__ import annotations

import itertools
import uuid
from collections import Counter

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine

from ledger_helpers import DAY, financing_terms, open_client, short_terms
from liangrong.domain import accounts as acc
from liangrong.domain import operations as ops
from liangrong.domain.contracts import RepaymentOrder, allocate_repayment, allocate_return
from liangrong.domain.journal import Transaction, net_changes
from liangrong.domain.rejections import LedgerCode, Rejection
from liangrong.ledger.journal import Ledger, read_balances
from liangrong.ledger.projections import conservation_breaks, contract_balances, rebuild

CNY = acc.CASH_ASSET
SECURITIES = ("600000.SH", "000001.SZ")

operation = st.one_of(
    st.tuples(st.just("deposit"), st.integers(0, 1), st.integers(1, 10**7)),
    st.tuples(st.just("withdraw"), st.integers(0, 1), st.integers(1, 10**7)),
    st.tuples(st.just("transfer_in"), st.integers(0, 1), st.integers(1, 5000)),
    st.tuples(st.just("transfer_out"), st.integers(0, 1), st.integers(1, 5000)),
    st.tuples(st.just("margin_buy"), st.integers(0, 1), st.integers(1, 10**8)),
    st.tuples(st.just("short"), st.integers(0, 1), st.integers(1, 3000)),
    st.tuples(st.just("repay"), st.integers(0, 1), st.integers(1, 10**8)),
    st.tuples(st.just("return"), st.integers(0, 1), st.integers(1, 3000)),
    st.tuples(st.just("accrue"), st.integers(0, 1), st.integers(1, 10**5)),
    st.tuples(st.just("replay"), st.integers(0, 1), st.integers(0, 10**6)),
)


class Scenario:
    """Turns drawn operations into transactions for one example's own clients."""

    def __init__(self, ledger: Ledger) -> None:
        self.ledger = ledger
        self.tag = uuid.uuid4().hex[:8]
        self.clients = [f"P{self.tag}{i}" for i in range(2)]
        self.ids = itertools.count()
        self.posted: list[Transaction] = []
        for client in self.clients:
            open_client(ledger, client, f"客户{client}")

    def next_id(self, kind: str) -> str:
        return f"{self.tag}-{kind}-{next(self.ids)}"

    def build(self, kind: str, client: str, amount: int) -> Transaction | None:
        security = SECURITIES[amount % 2]
        if kind == "deposit":
            return ops.deposit_cash(self.next_id(kind), DAY, client, amount)
        if kind == "withdraw":
            return ops.withdraw_cash(self.next_id(kind), DAY, client, amount)
        if kind == "transfer_in":
            return ops.transfer_collateral_in(self.next_id(kind), DAY, client, security, amount)
        if kind == "transfer_out":
            return ops.transfer_collateral_out(self.next_id(kind), DAY, client, security, amount)
        if kind == "margin_buy":
            cid = self.next_id("F")
            return ops.open_financing(cid, financing_terms(cid, client, amount, security=security))
        if kind == "short":
            cid = self.next_id("S")
            return ops.open_short(
                cid, short_terms(cid, client, amount, amount * 1234, security=security)
            )
        owed = contract_balances(self.ledger.engine, client)
        if kind == "repay":
            financing = [c for c in owed if c.terms.kind.value == "financing"]
            allocations = allocate_repayment(financing, amount, RepaymentOrder())
            return (
                ops.repay_financing(self.next_id(kind), DAY, client, allocations)
                if allocations
                else None
            )
        if kind == "return":
            shorts = [
                c for c in owed if c.terms.kind.value == "short" and c.terms.security == security
            ]
            allocations = allocate_return(shorts, amount, RepaymentOrder().contracts)
            return (
                ops.return_securities(self.next_id(kind), DAY, client, security, allocations)
                if allocations
                else None
            )
        if kind == "accrue":
            open_financing = [c for c in owed if c.terms.kind.value == "financing" and c.is_open]
            if not open_financing:
                return None
            return ops.accrue_charges(
                self.next_id(kind), DAY, client, open_financing[0].terms.contract_id, amount
            )
        raise AssertionError(kind)


def run_scenario(engine: Engine, clock, steps: list[tuple[str, int, int]]) -> None:
    ledger = Ledger(engine, clock)
    ledger.post(ops.fund_pool(f"fund-{uuid.uuid4().hex}", DAY, CNY, 10**9))
    for security in SECURITIES:
        ledger.post(ops.fund_pool(f"fund-{uuid.uuid4().hex}", DAY, security, 20_000))
    scenario = Scenario(ledger)
    expected: Counter[tuple[str, str]] = Counter()
    touched: set[tuple[str, str]] = set()
    for kind, client_index, amount in steps:
        client = scenario.clients[client_index]
        if kind == "replay":
            if not scenario.posted:
                continue
            txn = scenario.posted[amount % len(scenario.posted)]
            assert ledger.post(txn).replayed
            continue
        txn = scenario.build(kind, client, amount)
        if txn is None:
            continue
        try:
            result = ledger.post(txn)
        except Rejection as rejection:
            assert rejection.code in (LedgerCode.OVERDRAWN, LedgerCode.POOL_OVERDRAWN), rejection
            continue
        assert not result.replayed
        scenario.posted.append(txn)
        for key, change in net_changes(txn).items():
            expected[key] += change
            touched.add(key)
        assert conservation_breaks(engine) == {}
    with engine.connect() as conn:
        actual = read_balances(conn, touched)
    own = [key for key in touched if scenario.tag in key[0]]  # firm accounts are shared
    assert own or not scenario.posted
    for key in own:
        assert actual.get(key, 0) == expected[key], key
    result = rebuild(engine)
    assert result.identical, (result.digest_before, result.digest_after)


@settings(
    max_examples=50,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(steps=st.lists(operation, min_size=1, max_size=25))
def test_conservation_replay_and_rebuild_hold(store: Engine, fixed_clock, steps) -> None:
    run_scenario(store, fixed_clock, steps)
