"""Pending charges (``store.charges_pending``, ``docs/charges-subledger.md``): booked by the
end of day on the control account, read per contract from the latest completed accrual's
state, posted to the contracts whole (``Purpose.CHARGE_POSTING``), alone or inside a
repayment's own transaction; what a client owes never changes by posting it."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import Engine

from ledger_helpers import DAY, financing_terms, open_client
from liangrong.book.loader import load_mirrors
from liangrong.book.mirror import ClientMirror
from liangrong.domain import accounts as acc
from liangrong.domain import operations as ops
from liangrong.domain.contracts import Allocation
from liangrong.domain.journal import Transaction
from liangrong.domain.rejections import LedgerCode, Rejection
from liangrong.eod.owed import owed_now
from liangrong.ledger.journal import Ledger
from liangrong.ledger.projections import balance, conservation_breaks
from liangrong.risk.loader import load_book
from liangrong.risk.views import client_state
from liangrong.store.charges_pending import (
    AccrualStatePruned,
    KindPending,
    PendingCharges,
    PendingChargesDamaged,
    _left,
    _pending_of,
    book_pending,
    pending_at_close,
    pending_charges,
)
from liangrong.store.eod_tables import eod_accrual_states
from pending_helpers import pending_state, seed_pending

CNY = acc.CASH_ASSET
D1, D2, D3 = date(2026, 3, 3), date(2026, 3, 4), date(2026, 3, 5)
CONTRACTS = {"K1": "C1", "K2": "C1", "K3": "C2"}
PENDING = {
    "K1": {"interest": 120, "penalty": 7},
    "K2": {"interest": 35},
    "K3": {"interest": 90, "management_fee": 4},
}


@pytest.fixture
def ledger(store: Engine, fixed_clock: object) -> Ledger:
    book = Ledger(store, fixed_clock)
    book.post(ops.fund_pool("fund-cash", DAY, CNY, 10_000_000_00))
    for client in ("C1", "C2"):
        open_client(book, client)
        book.post(ops.deposit_cash(f"dep-{client}", DAY, client, 50_000_00))
    for cid, client in CONTRACTS.items():
        book.post(ops.open_financing(f"open-{cid}", financing_terms(cid, client, 10_000_00)))
    return book


def _pending(ledger: Ledger, contracts: dict[str, str] = CONTRACTS) -> dict[str, dict[str, int]]:
    with ledger.engine.connect() as conn:
        found = pending_charges(conn, contracts).by_contract
    return {cid: dict(by_kind) for cid, by_kind in found.items()}


def _owed(ledger: Ledger, cid: str) -> int:
    """What the client owes on the contract's charges: its account plus its pending."""
    posted = -balance(ledger.engine, acc.charges_debt(CONTRACTS[cid], cid), CNY)
    return posted + sum(_pending(ledger).get(cid, {}).values())


def _posting(cid: str, day: date = D1) -> ops.ChargeAccrual:
    by_kind = PENDING[cid]
    event = {"type": "charges_accrued", "contract_id": cid, "through": day.isoformat(), **by_kind}
    return ops.ChargeAccrual(
        f"post:{cid}", CONTRACTS[cid], (cid,), (sum(by_kind.values()),), (event,)
    )


def _control(ledger: Ledger) -> int:
    return balance(ledger.engine, acc.CHARGES_ACCRUED, CNY)


def test_nothing_is_pending_before_an_accrual_posts(ledger: Ledger) -> None:
    """A state an accrual wrote is read once the step has begun posting (the control
    account then holds it), whether or not it completed: a crash in between."""
    assert _pending(ledger) == {}
    seed_pending(ledger, D1, PENDING, complete=False, posted=False)  # killed before posting
    assert _pending(ledger) == {}
    assert _control(ledger) == 0
    seed_pending(ledger, D1, PENDING, complete=False)  # killed after its control posting
    assert _pending(ledger) == PENDING
    assert _control(ledger) == -sum(sum(k.values()) for k in PENDING.values())


def test_the_control_account_holds_minus_the_sum_of_what_is_pending(ledger: Ledger) -> None:
    seed_pending(ledger, D1, PENDING)
    assert _pending(ledger) == PENDING
    assert _pending(ledger, {"K2": "C1"}) == {"K2": PENDING["K2"]}  # a few contracts alone
    assert _control(ledger) == -sum(sum(k.values()) for k in PENDING.values())
    assert balance(ledger.engine, acc.RECEIVABLE_CHARGES, CNY) == 256
    assert conservation_breaks(ledger.engine) == {}


def test_posting_the_pending_moves_it_to_the_contract_and_owes_the_same(ledger: Ledger) -> None:
    seed_pending(ledger, D1, PENDING)
    before = {cid: _owed(ledger, cid) for cid in CONTRACTS}
    ledger.post_batch(ops.pending_postings(D2, [_posting("K1")]).transactions())
    assert _pending(ledger) == {cid: PENDING[cid] for cid in ("K2", "K3")}
    assert balance(ledger.engine, acc.charges_debt("C1", "K1"), CNY) == -127
    assert {cid: _owed(ledger, cid) for cid in CONTRACTS} == before
    assert _control(ledger) == -(35 + 94)
    assert conservation_breaks(ledger.engine) == {}


def _repayment(cid: str, charges_fen: int, principal_fen: int) -> Transaction:
    """Pending legs first, then the repayment of charges and principal: one transaction,
    so the charges it pays are on the contract as it pays them."""
    legs, events = ops.pending_legs([_posting(cid)])
    paid = [Allocation(cid, charges_fen=charges_fen, principal=principal_fen)]
    repayment = ops.repay_financing(f"repay-{cid}", D2, CONTRACTS[cid], paid)
    return Transaction(
        f"repay-{cid}", D2, "direct_repayment", (*legs, *repayment.legs), tuple(map(dict, events))
    )


def test_a_repayment_posts_the_pending_it_pays_in_its_own_transaction(ledger: Ledger) -> None:
    seed_pending(ledger, D1, PENDING)
    ledger.post(_repayment("K1", 127, 1_000_00))
    assert _pending(ledger) == {cid: PENDING[cid] for cid in ("K2", "K3")}
    assert balance(ledger.engine, acc.charges_debt("C1", "K1"), CNY) == 0
    assert balance(ledger.engine, acc.financing_debt("C1", "K1"), CNY) == -9_000_00
    assert _control(ledger) == -(35 + 94)


def test_pending_never_booked_cannot_be_posted(ledger: Ledger) -> None:
    """The control account may not turn positive: posting charges nobody booked is refused
    and changes nothing."""
    with pytest.raises(Rejection) as refused:
        ledger.post_batch(ops.pending_postings(D2, [_posting("K3")]).transactions())
    assert refused.value.code is LedgerCode.DEBT_SIGN
    assert _control(ledger) == 0
    assert balance(ledger.engine, acc.charges_debt("C2", "K3"), CNY) == 0


def test_part_of_a_contract_s_pending_posted_is_damage(ledger: Ledger) -> None:
    seed_pending(ledger, D1, PENDING)
    partial = ops.ChargeAccrual("post:K3:part", "C2", ("K3",), (50,))
    ledger.post_batch(ops.pending_postings(D2, [partial]).transactions())
    with pytest.raises(PendingChargesDamaged, match="K3: 50 fen posted since seq"):
        _pending(ledger)


def test_the_latest_completed_state_is_the_one_read(ledger: Ledger) -> None:
    """A later end of day books anew: what was posted before its position no longer counts
    against it."""
    seed_pending(ledger, D1, PENDING)
    ledger.post_batch(ops.pending_postings(D2, [_posting("K1")]).transactions())
    later = {"K1": {"interest": 3}, "K2": PENDING["K2"], "K3": {"interest": 90 + 2}}
    later["K3"]["management_fee"] = 4
    seed_pending(ledger, D2, later, booked_fen=3 + 2)
    assert _pending(ledger) == later
    assert _control(ledger) == -(3 + 35 + 96)


def _contracts_of(mirrors: dict[str, ClientMirror]) -> dict[str, tuple[int, int, dict[str, int]]]:
    return {
        cid: (c.principal_outstanding, c.charges_outstanding_fen, dict(c.charges_pending))
        for mirror in mirrors.values()
        for cid, c in mirror.contracts.items()
    }


def test_the_book_owes_the_pending_and_keeps_it_through_postings(ledger: Ledger) -> None:
    """The book's mirror: each contract owes its account plus its pending; applying a
    repayment that posts the pending leaves it as a fresh load from the store."""
    seed_pending(ledger, D1, PENDING)
    mirrors = load_mirrors(ledger.engine, ["C1", "C2"])
    assert _contracts_of(mirrors) == {
        "K1": (10_000_00, 127, PENDING["K1"]),
        "K2": (10_000_00, 35, PENDING["K2"]),
        "K3": (10_000_00, 94, PENDING["K3"]),
    }
    for cid, charges_fen, principal_fen in (("K1", 100, 2_000_00), ("K2", 0, 10_000_00)):
        txn = _repayment(cid, charges_fen, principal_fen)
        ledger.post(txn)
        mirrors[CONTRACTS[cid]].apply(txn)
    expected = {
        "K1": (8_000_00, 27, {}),
        "K2": (0, 35, {}),  # its principal repaid, its charges still owed: open
        "K3": (10_000_00, 94, PENDING["K3"]),
    }
    assert _contracts_of(mirrors) == expected
    assert _contracts_of(load_mirrors(ledger.engine, ["C1", "C2"])) == expected


def test_the_whole_book_reads_the_pending_the_contracts_read(ledger: Ledger) -> None:
    """``book_pending`` (every part with anything pending, the journal's tail since the
    state's position) and ``pending_charges`` (a few contracts) read the same figures."""
    seed_pending(ledger, D1, PENDING)
    with ledger.engine.connect() as conn:
        assert book_pending(conn).by_contract == PENDING
    ledger.post_batch(ops.pending_postings(D2, [_posting("K1")]).transactions())
    with ledger.engine.connect() as conn:
        whole = book_pending(conn)
    assert whole.by_contract == _pending(ledger) == {cid: PENDING[cid] for cid in ("K2", "K3")}
    assert whole.totals() == {"K2": 35, "K3": 94}
    partial = ops.ChargeAccrual("post:K3:part", "C2", ("K3",), (50,))
    ledger.post_batch(ops.pending_postings(D2, [partial]).transactions())
    with ledger.engine.connect() as conn, pytest.raises(PendingChargesDamaged, match="K3: 50"):
        book_pending(conn)


def _only_pending(ledger: Ledger) -> None:
    """K4: its principal repaid before anything was posted to its charges account, so all
    it owes is pending (a contract the debt accounts no longer name)."""
    ledger.post(ops.open_financing("open-K4", financing_terms("K4", "C2", 1_000_00)))
    ledger.post(ops.repay_financing("repay-K4", D1, "C2", [Allocation("K4", 0, 1_000_00)]))
    seed_pending(ledger, D1, {**PENDING, "K4": {"interest": 11}})


def test_the_end_of_day_s_owed_adds_the_pending(ledger: Ledger) -> None:
    _only_pending(ledger)
    owed = owed_now(ledger.engine)
    assert owed.charges == {"K1": 127, "K2": 35, "K3": 94, "K4": 11}
    assert owed.clients["K4"] == "C2" and "K4" not in owed.principal
    assert "K4" in owed.owing and owed.pending_added
    ledger.post_batch(ops.pending_postings(D2, [_posting("K1")]).transactions())
    assert owed_now(ledger.engine).charges == owed.charges  # posting it owes the same


def test_the_risk_arrays_owe_the_pending_and_keep_it_through_postings(ledger: Ledger) -> None:
    """The risk engine's arrays: loaded with the pending added, then kept by applying the
    transactions that post it, they equal a fresh load at every step."""
    _only_pending(ledger)
    kept = load_book(ledger.engine)
    charges = {
        kept.financing.ids[c]: int(kept.financing.charges[c])
        for c in range(len(kept.financing.ids))
    }
    assert charges == {"K1": 127, "K2": 35, "K3": 94, "K4": 11}
    assert [int(kept.accounts.charges_fen[kept.account_of(c)]) for c in ("C1", "C2")] == [
        127 + 35,
        94 + 11,
    ]
    mirrors = load_mirrors(ledger.engine, ["C1", "C2"])
    # K2 pays exactly its pending: its charges account nets to no change at all
    for cid, charges_fen, principal_fen in (("K1", 100, 2_000_00), ("K2", 35, 10_000_00)):
        txn = _repayment(cid, charges_fen, principal_fen)
        ledger.post(txn)
        kept.apply(txn)
        mirrors[CONTRACTS[cid]].apply(txn)
        mirrors[CONTRACTS[cid]].forget_closed()  # a fresh load holds the open ones
        fresh = load_book(ledger.engine)
        for client in ("C1", "C2"):
            assert client_state(kept, client) == client_state(fresh, client), (cid, client)
        assert _contracts_of(mirrors) == _contracts_of(load_mirrors(ledger.engine, ["C1", "C2"]))
    assert int(kept.accounts.charges_fen[kept.account_of("C1")]) == 27


def test_a_past_closes_pending_is_its_state_less_what_was_posted_by_then(
    ledger: Ledger,
) -> None:
    """What the statements read (``pending_at_close``): the state of the latest accrual on
    or before the day, less what was posted after its position and dated up to the day; a
    day whose state was pruned is refused, never read as nothing pending."""
    seed_pending(ledger, D1, PENDING)
    later = {**PENDING, "K2": {"interest": 50}}
    ledger.post(ops.pending_postings(D2, [_posting("K1", D2)]).transaction(0))  # dated D2
    with ledger.engine.connect() as conn:
        at_d1 = pending_at_close(conn, D1, CONTRACTS).by_contract
        at_d2 = pending_at_close(conn, D2, CONTRACTS).by_contract
        before = pending_at_close(conn, date(2026, 3, 2), CONTRACTS).by_contract
    assert at_d1 == PENDING and before == {}
    assert at_d2 == {cid: PENDING[cid] for cid in ("K2", "K3")}  # K1 posted on D2
    seed_pending(ledger, D3, {"K2": later["K2"], "K3": PENDING["K3"]}, booked_fen=15)
    t = eod_accrual_states
    with ledger.engine.begin() as conn:  # D1's state pruned, D2 had none: both refused
        conn.execute(t.delete().where(t.c.trading_date == D1))
    with ledger.engine.connect() as conn:
        for day in (D1, D2):
            with pytest.raises(AccrualStatePruned, match="no longer kept"):
                pending_at_close(conn, day, CONTRACTS)
        assert pending_at_close(conn, D3, CONTRACTS).by_contract == {
            "K2": later["K2"], "K3": PENDING["K3"]
        }


def test_the_pending_by_kind_reads_as_by_contract_and_totals_in_one_order() -> None:
    pending = _pending_of(pending_state({
        "F1": {"interest": 5, "penalty": 1}, "F2": {"interest": 0}, "F3": {"interest": 7},
        "F9": {"penalty": 2},
    }, 7))  # fmt: skip
    assert pending.kinds == {"interest": KindPending(["F1", "F3"], [5, 7]),
                             "penalty": KindPending(["F1", "F9"], [1, 2])}  # fmt: skip
    assert pending.by_contract == {"F1": {"interest": 5, "penalty": 1}, "F3": {"interest": 7},
                                   "F9": {"penalty": 2}}  # fmt: skip
    assert list(pending.totals().items()) == [("F1", 6), ("F3", 7), ("F9", 2)]
    assert pending.contracts() == list(pending.by_contract) == ["F1", "F3", "F9"]
    assert _pending_of(pending_state({"F1": {"interest": 0}}, 7)) == PendingCharges({})


def test_negative_pending_is_damage_named_by_its_first_row() -> None:
    state = pending_state({"F1": {"interest": 5}, "F2": {"interest": -1},
                           "F3": {"interest": -4}}, 7)  # fmt: skip
    with pytest.raises(PendingChargesDamaged, match="F2 has -1 fen of interest pending"):
        _pending_of(state)


def test_what_was_posted_takes_a_contract_s_whole_pending_or_is_damage() -> None:
    pending = _pending_of(pending_state(
        {"F1": {"interest": 5, "penalty": 1}, "F3": {"interest": 7}}, 7))  # fmt: skip
    left = _left(pending, {"F1": 6}, 7)
    assert left.by_contract == {"F3": {"interest": 7}} and "penalty" not in left.kinds
    assert _left(pending, {}, 7) is pending
    with pytest.raises(PendingChargesDamaged, match="F1: 5 fen posted since seq 7, 6 pending"):
        _left(pending, {"F1": 5}, 7)
    with pytest.raises(PendingChargesDamaged, match="F8: 3 fen posted since seq 7, 0 pending"):
        _left(pending, {"F8": 3}, 7)
