"""The ledger's move batches (``Ledger.post_moves``, and ``Ledger.post_prepared`` of a batch
prepared ahead, numbered from wherever): the same journal, balances, results and rejections
as posting the batch's transactions one by one (``post_batch``)."""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Sequence
from datetime import datetime

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine

from conftest import make_sqlite_engine
from ledger_helpers import DAY, open_client
from liangrong.domain import accounts as acc
from liangrong.domain import operations as ops
from liangrong.domain.accounts import Sign
from liangrong.domain.journal import MAX_ABS_AMOUNT, MAX_POSTINGS_PER_LEG, Leg, net_changes
from liangrong.domain.journal import Posting as JPosting
from liangrong.domain.moves import MoveBatch, MoveCheck, admits, prepare
from liangrong.domain.purposes import Purpose
from liangrong.domain.rejections import LedgerCode, Rejection
from liangrong.ledger.digest import journal_digest
from liangrong.ledger.journal import CreditAccountOpening, Ledger, PostResult
from liangrong.ledger.projections import balances_under
from liangrong.ledger.schema import KEY_CHUNK

CNY = acc.CASH_ASSET
CLIENTS = ("C1", "C2", "C3")


def _clock() -> datetime:
    return datetime(2026, 3, 2, 16, 0)


def _book(engine: Engine) -> Ledger:
    """Two open clients (C3 never opens) with cash; the same on every store."""
    ledger = Ledger(engine, _clock)
    for client in CLIENTS[:2]:
        open_client(ledger, client)
        ledger.post(ops.deposit_cash(f"dep-{client}", DAY, client, 1_000_00))
    return ledger


def _moves(
    rows: Sequence[tuple[str, str, Purpose, str, str, int]], kind: str = "mixed"
) -> MoveBatch:
    """One leg per row (command id, client, purpose, source, target, amount); a new
    transaction whenever the command id changes."""
    leg_ends: list[int] = []
    ids: list[str] = []
    for number, (cid, *_rest) in enumerate(rows):
        if ids and ids[-1] == cid:
            leg_ends[-1] = number + 1
        else:
            ids.append(cid)
            leg_ends.append(number + 1)
    return MoveBatch(
        DAY,
        kind,
        ids,
        leg_ends,
        [r[2] for r in rows],
        [CNY] * len(rows),
        [r[3] for r in rows],
        [r[4] for r in rows],
        [r[5] for r in rows],
        [({"type": "note", "n": i},) if i % 2 else () for i in range(len(ids))],
    )


def _fanned(batch: MoveBatch) -> MoveBatch:
    """The batch with each run of a transaction's legs of one purpose, asset and target
    merged into one leg taking from all their sources."""
    leg_ends: list[int] = []
    source_ends: list[int] = []
    purposes: list[Purpose] = []
    assets: list[str] = []
    targets: list[str] = []
    for i in range(len(batch)):
        start = len(targets)
        for j in batch.legs_of(i):
            shape = (batch.purposes[j], batch.assets[j], batch.targets[j])
            if len(targets) > start and shape == (purposes[-1], assets[-1], targets[-1]):
                source_ends[-1] += 1
                continue
            purposes.append(shape[0])
            assets.append(shape[1])
            targets.append(shape[2])
            source_ends.append((source_ends[-1] if source_ends else 0) + 1)
        leg_ends.append(len(targets))
    return MoveBatch(
        batch.business_date, batch.kind, batch.command_ids, leg_ends, purposes, assets,
        batch.sources, targets, batch.amounts, batch.events, source_ends,
    )  # fmt: skip


def _outcome(post: object) -> list[PostResult] | LedgerCode:
    try:
        return post()  # type: ignore[operator, no-any-return]
    except Rejection as rejection:
        assert isinstance(rejection.code, LedgerCode)
        return rejection.code


Posting = Callable[[Ledger, MoveBatch], list[PostResult]]


def _ahead(ledger: Ledger, batch: MoveBatch) -> list[PostResult]:
    """Prepared as a worker would, numbered from 1: the ledger must renumber the rows."""
    return ledger.post_prepared(prepare(batch, 1))


def _both(
    fast: Ledger, slow: Ledger, batch: MoveBatch, post: Posting = Ledger.post_moves
) -> list[PostResult] | LedgerCode:
    """Post the batch both ways; the outcomes and the journals must be equal."""
    by_moves = _outcome(lambda: post(fast, batch))
    one_by_one = _outcome(lambda: slow.post_batch(batch.transactions()))
    assert by_moves == one_by_one
    assert journal_digest(fast.engine) == journal_digest(slow.engine)
    assert _balance_rows(fast.engine) == _balance_rows(slow.engine)
    return by_moves


def _balance_rows(engine: Engine) -> list[tuple[str, str, int]]:
    """Every stored balance, zeros too (a key once touched keeps its row)."""
    with engine.connect() as conn:
        rows = conn.exec_driver_sql("SELECT account, asset, amount FROM balances")
        return sorted((a, b, int(v)) for a, b, v in rows)


def _accrual_rows(
    client: str, cid: str, amounts: Sequence[int]
) -> list[tuple[str, str, Purpose, str, str, int]]:
    return [
        (cid, client, Purpose.CHARGE_ACCRUAL, acc.charges_debt(client, f"K{client}{n}"),
         acc.RECEIVABLE_CHARGES, amount)
        for n, amount in enumerate(amounts)
    ]  # fmt: skip


@pytest.mark.parametrize("post", [Ledger.post_moves, _ahead], ids=["moves", "prepared"])
def test_accruals_post_as_moves_and_replay(store: Engine, tmp_path: object, post: Posting) -> None:
    other = make_sqlite_engine(tmp_path)
    fast, slow = _book(store), _book(other)
    batch = _moves(_accrual_rows("C1", "acc-1", [5, 7, 9]) + _accrual_rows("C2", "acc-2", [11]))
    assert admits(batch) is not None
    first = _both(fast, slow, batch, post)
    assert isinstance(first, list) and not any(r.replayed for r in first)
    again = _both(fast, slow, batch, post)  # a batch already committed replays, changing nothing
    assert isinstance(again, list)
    assert [(r.seq, r.replayed) for r in again] == [(r.seq, True) for r in first]
    debts = balances_under(store, "client:C1:charges:")
    assert sorted(debts.values()) == [-9, -7, -5]
    other.dispose()


def test_charge_accruals_take_a_client_s_contracts_in_one_leg() -> None:
    """One leg per transaction: each contract's charges debt, then the receivable for their
    sum; it moves each balance as the single accruals of those contracts together do."""
    batch = ops.charge_accruals(
        DAY, [ops.ChargeAccrual("a", "C1", ("K1", "K2"), (3, 4), ({"type": "x"},))]
    )
    txn = batch.transaction(0)
    assert txn.legs == (
        Leg(
            Purpose.CHARGE_ACCRUAL,
            (
                JPosting(acc.charges_debt("C1", "K1"), CNY, -3),
                JPosting(acc.charges_debt("C1", "K2"), CNY, -4),
                JPosting(acc.RECEIVABLE_CHARGES, CNY, 7),
            ),
        ),
    )
    single = [ops.accrue_charges("a", DAY, "C1", k, n) for k, n in (("K1", 3), ("K2", 4))]
    together: dict[tuple[str, str], int] = {}
    for one in single:
        for key, change in net_changes(one).items():
            together[key] = together.get(key, 0) + change
    assert net_changes(txn) == together
    assert txn.events == ({"type": "x"},)
    assert batch.payload_digest(0, batch.events_json(0)) == txn.payload_digest()
    assert [row[:2] for row in batch.posting_rows(0)] == [(1, 0), (2, 0), (3, 0)]


@pytest.mark.parametrize(
    ("rows", "code"),
    [
        # C3 has no credit account
        (_accrual_rows("C3", "x", [5]), LedgerCode.ACCOUNT_NOT_OPEN),
        # more cash out than C1 has
        ([("w", "C1", Purpose.WITHDRAW_SURPLUS, acc.client_cash("C1"), acc.client_bank("C1"),
           2_000_00)], LedgerCode.OVERDRAWN),
        # an accrual may not take from a client's cash
        ([("p", "C1", Purpose.CHARGE_ACCRUAL, acc.client_cash("C1"), acc.RECEIVABLE_CHARGES, 1)],
         LedgerCode.PURPOSE_NOT_PERMITTED),
        # two clients in one transaction
        (_accrual_rows("C1", "two", [1]) + _accrual_rows("C2", "two", [1]),
         LedgerCode.CROSS_CLIENT),
        # not an account of the chart
        ([("u", "C1", Purpose.DEPOSIT, "nowhere", acc.client_cash("C1"), 1)],
         LedgerCode.UNKNOWN_ACCOUNT),
        # a zero amount
        (_accrual_rows("C1", "z", [0]), LedgerCode.ZERO_AMOUNT),
    ],
)  # fmt: skip
@pytest.mark.parametrize("post", [Ledger.post_moves, _ahead], ids=["moves", "prepared"])
def test_a_bad_batch_is_refused_as_one_by_one_and_changes_nothing(
    store: Engine, tmp_path: object, rows: list[tuple[str, str, Purpose, str, str, int]],
    code: LedgerCode, post: Posting,
) -> None:  # fmt: skip
    other = make_sqlite_engine(tmp_path)
    fast, slow = _book(store), _book(other)
    before = journal_digest(store)
    good = _accrual_rows("C2", "fine", [3])  # refused with the bad one: all or nothing
    assert _both(fast, slow, _moves(good + rows), post) is code
    assert journal_digest(store) == before
    other.dispose()


@pytest.mark.parametrize("post", [Ledger.post_moves, _ahead], ids=["moves", "prepared"])
def test_a_batch_of_more_clients_than_a_key_chunk_finds_who_is_open(
    store: Engine, tmp_path: object, post: Posting
) -> None:
    """More clients than one IN-list holds are looked up as a range of the key: every open
    one is found, and one never opened, inside the range, is still refused."""
    other = make_sqlite_engine(tmp_path)
    fast, slow = _book(store), _book(other)
    many = [f"M{n:04d}" for n in range(0, 2 * (KEY_CHUNK + 10), 2)]
    for ledger in (fast, slow):
        ledger.open_credit_accounts(
            [CreditAccountOpening(f"open-{c}", c, "SH", c, c, DAY) for c in many]
        )
    rows = [row for c in many for row in _accrual_rows(c, f"acc-{c}", [3])]
    never_opened = _accrual_rows("M0101", "acc-M0101", [3])  # between two open ones
    before = journal_digest(store)
    assert _both(fast, slow, _moves(rows + never_opened), post) is LedgerCode.ACCOUNT_NOT_OPEN
    assert journal_digest(store) == before
    posted = _both(fast, slow, _moves(rows), post)
    assert isinstance(posted, list) and len(posted) == len(many)
    assert balances_under(store, "client:M0100:charges:") == {
        (acc.charges_debt("M0100", "KM01000"), CNY): -3
    }
    other.dispose()


def test_an_id_posted_before_with_another_payload_is_a_conflict(tmp_path: object) -> None:
    with tempfile.TemporaryDirectory() as a, tempfile.TemporaryDirectory() as b:
        fast, slow = _book(make_sqlite_engine(a)), _book(make_sqlite_engine(b))
        _both(fast, slow, _moves(_accrual_rows("C1", "k", [5])))
        assert _both(fast, slow, _moves(_accrual_rows("C1", "k", [6]))) is (
            LedgerCode.IDEMPOTENCY_CONFLICT
        )


_PURPOSE_MOVES = (  # purpose, source, target (of the client and the contract)
    (Purpose.CHARGE_ACCRUAL, acc.charges_debt, lambda c, k: acc.RECEIVABLE_CHARGES),
    (Purpose.DEPOSIT, lambda c, k: acc.client_bank(c), lambda c, k: acc.client_cash(c)),
    (Purpose.WITHDRAW_SURPLUS, lambda c, k: acc.client_cash(c), lambda c, k: acc.client_bank(c)),
    (Purpose.INTEREST_FEES_TAXES, lambda c, k: acc.client_cash(c), acc.charges_debt),
    (Purpose.LOCK_RELEASE, lambda c, k: acc.client_locked_cash(c), lambda c, k: acc.client_cash(c)),
    (Purpose.COLLECT_DEBT, lambda c, k: acc.client_cash(c), acc.financing_debt),
)

_leg = st.tuples(
    st.integers(0, 7),  # transaction number within the batch
    st.sampled_from(CLIENTS),
    st.integers(0, len(_PURPOSE_MOVES) - 1),
    st.sampled_from(("K1", "K2")),
    st.integers(-5, 400_00),
)


@pytest.mark.parametrize("post", [Ledger.post_moves, _ahead], ids=["moves", "prepared"])
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.lists(_leg, min_size=1, max_size=12), min_size=1, max_size=4), st.booleans())
def test_any_batches_post_alike_either_way(
    post: Posting, batches: list[list[tuple[int, str, int, str, int]]], fan_in: bool
) -> None:
    """Random batches of every simple purpose (some overdraw, some name a closed client,
    some pair with a pool, some have a bad amount), with legs of one source each or runs
    of them merged into legs of many sources: each posts, or is refused, alike; so do the
    same batches prepared ahead and numbered from 1 (the journal has moved)."""
    with tempfile.TemporaryDirectory() as a, tempfile.TemporaryDirectory() as b:
        fast, slow = _book(make_sqlite_engine(a)), _book(make_sqlite_engine(b))
        for number, legs in enumerate(batches):
            rows = []
            for txn, client, purpose_no, contract, amount in sorted(legs, key=lambda x: x[0]):
                purpose, source, target = _PURPOSE_MOVES[purpose_no]
                rows.append(
                    (f"b{number}-t{txn}", client, purpose, source(client, contract),
                     target(client, contract), amount)
                )  # fmt: skip
            batch = _moves(rows)
            _both(fast, slow, _fanned(batch) if fan_in else batch, post)


@pytest.mark.parametrize("post", [Ledger.post_moves, _ahead], ids=["moves", "prepared"])
def test_a_leg_of_many_sources_is_bounded_as_one_by_one(
    store: Engine, tmp_path: object, post: Posting
) -> None:
    """A leg takes at most 63 sources (64 postings with its target), and its target's sum
    must stay in range: beyond either the columns prove nothing, and the batch is refused
    as one by one, changing nothing."""
    most = _fanned(_moves(_accrual_rows("C1", "most", [1] * (MAX_POSTINGS_PER_LEG - 1))))
    too_many = _fanned(_moves(_accrual_rows("C1", "many", [1] * MAX_POSTINGS_PER_LEG)))
    too_much = _fanned(_moves(_accrual_rows("C1", "much", [MAX_ABS_AMOUNT, 1])))
    assert len(most.leg_postings[0]) == MAX_POSTINGS_PER_LEG and admits(most) is not None
    assert admits(too_many) is None and admits(too_much) is None
    other = make_sqlite_engine(tmp_path)
    fast, slow = _book(store), _book(other)
    before = journal_digest(store)
    assert _both(fast, slow, too_many, post) is LedgerCode.INVALID_COMMAND
    assert _both(fast, slow, too_much, post) is LedgerCode.INVALID_COMMAND
    assert journal_digest(store) == before
    posted = _both(fast, slow, most, post)
    assert isinstance(posted, list) and len(posted) == 1
    assert balances_under(store, acc.RECEIVABLE_CHARGES) == {
        (acc.RECEIVABLE_CHARGES, CNY): MAX_POSTINGS_PER_LEG - 1
    }
    other.dispose()


def test_what_the_columns_prove_and_what_they_leave() -> None:
    deposits = _moves(
        [("d", "C1", Purpose.DEPOSIT, acc.client_bank("C1"), acc.client_cash("C1"), 5)]
    )
    assert admits(deposits) == MoveCheck(
        frozenset({"C1"}),
        {acc.client_bank("C1"): Sign.ANY, acc.client_cash("C1"): Sign.NON_NEGATIVE},
    )
    repay = (  # a repayment must pair with the pool: checked one by one
        "r",
        "C1",
        Purpose.COLLECT_DEBT,
        acc.client_cash("C1"),
        acc.financing_debt("C1", "K1"),
        5,
    )
    assert admits(_moves([repay])) is None
    assert admits(_moves(_accrual_rows("C1", "z", [0]))) is None
    assert admits(_moves(_accrual_rows("C1", "x", [1]) + _accrual_rows("C2", "x", [1]))) is None


def test_prepared_rows_give_back_their_batch_and_renumber() -> None:
    deposit = ("d", "C2", Purpose.DEPOSIT, acc.client_bank("C2"), acc.client_cash("C2"), 9)
    batch = _moves([*_accrual_rows("C1", "a", [5, 7]), deposit])
    prepared = prepare(batch, 41)
    assert [h[0] for h in prepared.headers] == [41, 42]
    assert prepared.batch().transactions() == batch.transactions()
    moved = prepared.renumbered(7)
    assert [h[0] for h in moved.headers] == [7, 8]
    assert [p[0] for p in moved.postings] == [7] * 4 + [8] * 2
    assert moved.headers[1][1:] == prepared.headers[1][1:]
    assert moved.postings[3][1:] == prepared.postings[3][1:]
    assert moved.renumbered(41) == prepared
    assert prepared.clients == frozenset({"C1", "C2"})
    assert prepared.at_risk == set()  # debts deepen, the receivable and cash only grow
    fanned = _fanned(batch)  # the two accrual legs become one of two sources
    assert list(fanned.source_ends) == [2, 3]
    assert prepare(fanned, 41).batch().transactions() == fanned.transactions()
    lines = [p[1:3] for p in prepare(fanned, 41).postings]  # (line, leg)
    assert lines == [(1, 0), (2, 0), (3, 0), (1, 0), (2, 0)]


def test_prepared_keeps_the_keys_at_risk_in_order_and_sums_the_rest() -> None:
    cash, bank = acc.client_cash("C2"), acc.client_bank("C2")
    batch = _moves(
        [("d", "C2", Purpose.DEPOSIT, bank, cash, 9),
         ("w", "C2", Purpose.WITHDRAW_SURPLUS, cash, bank, 4),
         ("v", "C2", Purpose.WITHDRAW_SURPLUS, cash, bank, 3)]
    )  # fmt: skip
    prepared = prepare(batch, 1)
    assert prepared.at_risk == {(cash, CNY)}
    assert prepared.signs == {cash: Sign.NON_NEGATIVE}
    assert prepared.risky == [{(cash, CNY): 9}, {(cash, CNY): -4}, {(cash, CNY): -3}]
    assert prepared.totals == {(bank, CNY): -2}
