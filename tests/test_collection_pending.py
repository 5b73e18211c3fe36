"""Pending charges (``docs/charges-subledger.md``) reach the contracts whose charges a
repayment pays, in the repayment's own transaction: the end of day's collection and the
book's direct repayment.  The book of ``test_collection_eod`` through the accrual of 11-20,
with charges seeded as pending on top of what the accrual posted: the split by component
counts them as each contract's latest accrual, every figure owed stays whole, a contract
whose charges are not paid has its pending posted after the collection (the collection day
posts every contract's pending), and a rerun or a run killed between batches posts exactly
what one run does."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine

from book_helpers import open_book, order, profile
from conftest import drop_postgres, make_postgres_engine
from liangrong.book.loader import load_mirrors
from liangrong.book.service import Book
from liangrong.domain import accounts as acc
from liangrong.domain.orders import NonTradeKind, NonTradeRequest, OrderKind, Side
from liangrong.domain.settlement import Fill
from liangrong.eod.collection_step import collect_step
from liangrong.eod.context import EodContext, StepOutcome, StepRun
from liangrong.eod.owed import owed_now
from liangrong.eod.runner import run
from liangrong.eod.steps import STEP_NAMES
from liangrong.ledger.digest import journal_digest
from liangrong.ledger.journal import Ledger
from liangrong.sim.session import CST
from liangrong.store.charges_pending import book_pending
from liangrong.store.collections import pending_posting_prefix
from pending_helpers import seed_pending
from test_collection_eod import (
    C1_CASH,
    C2_PAID,
    COLLECTION,
    FEES,
    INTEREST,
    OPENING_INTEREST_FA,
    PENALTY,
    Copy,
    _settings,
    balance,
    collections_of,
    copy_of,
    events_of,
    populate,
    prepared_through,
    transactions_under,
)

# FG (overdue: its split is replayed) and FB (paid in part) of C1, FD of C2 (paid in full),
# FF of C3 (no cash: nothing paid, its pending stays)
PENDING = {
    "FB": {"interest": 40},
    "FD": {"interest": 30},
    "FF": {"interest": 20},
    "FG": {"interest": 3, "penalty": 7},
}


@pytest.fixture(scope="module")
def prepared(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Through the accrual of the collection day, then the pending seeded on that day's
    state (the step already recorded as completed)."""
    return prepared_through(tmp_path_factory, "pending", _seeded)


def _seeded(copy: Copy) -> None:
    settings = _settings(copy.reports)
    assert not run(copy.engine, COLLECTION, settings, stop_after="accrue").complete
    clock = iter(range(10**6))
    ledger = Ledger(copy.engine, lambda: _at(10) + timedelta(microseconds=next(clock)))
    seed_pending(ledger, COLLECTION, PENDING, complete=False)


def _at(hour: int) -> datetime:
    return datetime(2026, 11, 20, hour, 0, tzinfo=CST)


def _collect(copy: Copy, progress: Callable[..., None] = lambda *_: None) -> StepOutcome:
    ctx = EodContext(copy.engine, COLLECTION, _settings(copy.reports))
    try:
        return collect_step(StepRun(ctx, "collect", STEP_NAMES.index("collect"), progress))
    finally:
        ctx.close()


def _pending_now(engine: Engine) -> dict[str, dict[str, int]]:
    with engine.connect() as conn:
        return {cid: dict(kinds) for cid, kinds in book_pending(conn).by_contract.items()}


def _pending_posted(engine: Engine) -> dict[str, list[dict[str, object]]]:
    """The collection day's postings of the pending it did not collect: command id -> events."""
    return transactions_under(engine, pending_posting_prefix(COLLECTION), "charge_posting")


@pytest.fixture(scope="module")
def collected(prepared: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Copy, str]:
    copy = copy_of(prepared, tmp_path_factory.mktemp("collected-pending"))
    return copy, _collect(copy).digest


def test_the_collection_posts_the_pending_of_what_it_pays(collected: tuple[Copy, str]) -> None:
    engine = collected[0].engine
    found = collections_of(engine, COLLECTION)
    prefix = f"eod:{COLLECTION.isoformat()}:collect:"
    # C1's cash is what it was: FG's pending penalty and interest come first, so FB gets
    # 10 fen less; FB's pending is posted too, as its charges are paid (in part)
    assert found[prefix + "C1"] == [
        {"type": "charges_accrued", "contract_id": "FB", "interest": 40},
        {"type": "charges_accrued", "contract_id": "FG", "interest": 3, "penalty": 7},
        {"type": "charges_collected", "contract_id": "FG", "penalty": PENALTY["FG"] + 7,
         "interest": INTEREST["FG"] + 3},
        {"type": "charges_collected", "contract_id": "FA", "penalty": PENALTY["FA"],
         "interest": OPENING_INTEREST_FA + INTEREST["FA"]},
        {"type": "charges_collected", "contract_id": "SC", "fees": FEES["SC"]},
        {"type": "charges_collected", "contract_id": "FB", "interest": 500 - 10},
    ]  # fmt: skip
    assert found[prefix + "C2"] == [
        {"type": "charges_accrued", "contract_id": "FD", "interest": 30},
        {"type": "charges_collected", "contract_id": "FE", "penalty": PENALTY["FE"],
         "interest": INTEREST["FE"], "principal": 100_000},
        {"type": "charges_collected", "contract_id": "FD", "interest": INTEREST["FD"] + 30},
    ]  # fmt: skip
    assert balance(engine, acc.client_cash("C1")) == 0
    assert balance(engine, acc.client_cash("C2")) == 1_000_000 - C2_PAID - 30
    assert -balance(engine, acc.charges_debt("C1", "FB")) == INTEREST["FB"] + 40 - 490
    assert balance(engine, acc.charges_debt("C1", "FG")) == 0
    assert balance(engine, acc.charges_debt("C2", "FD")) == 0
    # FF's charges were not paid: after the collection its pending is posted to it all the
    # same (the collection day's posting of every contract's pending), in C3's own
    # transaction; nothing is pending and the control account is back to zero
    assert _pending_posted(engine) == {
        f"eod:{COLLECTION.isoformat()}:pending-posted:C3": [
            {"type": "charges_accrued", "contract_id": "FF", "interest": 20}
        ]
    }
    assert _pending_now(engine) == {}
    assert balance(engine, acc.CHARGES_ACCRUED) == 0
    assert -balance(engine, acc.charges_debt("C3", "FF")) == INTEREST["FF"] + 20
    assert owed_now(engine).charges["FF"] == INTEREST["FF"] + 20
    assert (
        sum(
            sum(v for k, v in e.items() if isinstance(v, int))
            for e in found[prefix + "C1"]
            if e["type"] == "charges_collected"
        )
        == C1_CASH
    )


def test_a_rerun_with_pending_posts_nothing_twice(collected: tuple[Copy, str]) -> None:
    copy, digest = collected
    before = journal_digest(copy.engine)
    assert _collect(copy).digest == digest  # the pending it posted is counted as before
    assert journal_digest(copy.engine) == before


@pytest.mark.postgres
def test_postgresql_posts_the_pending_as_sqlite_does(
    collected: tuple[Copy, str], tmp_path: Path
) -> None:
    """The collection's raw reads of the histories and of its own postings, on the
    production store: the same journal and the same digest."""
    engine, name = make_postgres_engine()
    try:
        populate(engine, tmp_path / "reports")
        copy = Copy(engine, tmp_path / "reports")
        _seeded(copy)
        assert _collect(copy).digest == collected[1]
        assert journal_digest(engine) == journal_digest(collected[0].engine)
    finally:
        drop_postgres(engine, name)


class Killed(Exception):
    pass


# a transaction a batch: C1's collection, C2's, then the posting of C3's pending
@pytest.mark.parametrize(
    ("killed_after", "collections", "postings"), [(1, 1, 0), (2, 2, 0), (3, 2, 1)]
)
def test_a_collection_killed_between_batches_posts_the_same(
    prepared: Path,
    collected: tuple[Copy, str],
    tmp_path: Path,
    killed_after: int,
    collections: int,
    postings: int,
) -> None:
    """Killed after C1's collection (with its pending), after C2's (the rest of the pending
    not yet posted), after the rest was posted but before the step is recorded: the rerun
    posts what is missing and replays the rest."""
    copy = copy_of(prepared, tmp_path)

    def die(done: int, _total: int) -> None:
        if done == killed_after:
            raise Killed

    with pytest.raises(Killed):
        _collect(copy, die)
    assert len(collections_of(copy.engine, COLLECTION)) == collections
    assert len(_pending_posted(copy.engine)) == postings
    assert _collect(copy).digest == collected[1]
    assert journal_digest(copy.engine) == journal_digest(collected[0].engine)


def _c1_book(copy: Copy) -> Book:
    """The book of the collection day's session, for C1."""
    ticks = iter(range(10**6))
    return open_book(
        copy.engine,
        lambda: _at(11) + timedelta(microseconds=next(ticks)),
        COLLECTION,
        [profile("C1")],
    )


def test_a_direct_repayment_posts_the_pending_it_pays(prepared: Path, tmp_path: Path) -> None:
    """The book: FG's pending penalty is paid before any interest; FB's charges are not
    touched by the first repayment, so its pending stays; the second repayment replays
    FG's history with the posting the first one made."""
    copy = copy_of(prepared, tmp_path)
    book = _c1_book(copy)

    def repay(request_id: str, amount_fen: int) -> list[dict[str, object]]:
        request = NonTradeRequest(request_id, "C1", NonTradeKind.DIRECT_REPAYMENT, amount_fen)
        assert book.request(request).accepted
        return events_of(copy.engine, f"request:{request_id}")

    fg_penalty, fa_penalty = PENALTY["FG"] + 7, PENALTY["FA"]
    assert repay("R1", fg_penalty + fa_penalty + 100) == [
        {"type": "charges_accrued", "contract_id": "FG", "interest": 3, "penalty": 7},
        {"type": "charges_collected", "contract_id": "FG", "penalty": fg_penalty, "interest": 100},
        {"type": "charges_collected", "contract_id": "FA", "penalty": fa_penalty},
    ]
    assert _pending_now(copy.engine) == {cid: PENDING[cid] for cid in ("FB", "FD", "FF")}
    fg = book.mirrors["C1"].contracts["FG"]
    assert fg.charges_pending == {} and fg.charges_outstanding_fen == INTEREST["FG"] + 3 - 100
    fg_interest = INTEREST["FG"] + 3 - 100
    fa_interest = OPENING_INTEREST_FA + INTEREST["FA"]
    fb_interest = INTEREST["FB"] + 40
    assert repay("R2", fg_interest + fa_interest + fb_interest + 1_000) == [
        {"type": "charges_accrued", "contract_id": "FB", "interest": 40},
        {"type": "charges_collected", "contract_id": "FG", "interest": fg_interest,
         "principal": 1_000},
        {"type": "charges_collected", "contract_id": "FA", "interest": fa_interest},
        {"type": "charges_collected", "contract_id": "FB", "interest": fb_interest},
    ]  # fmt: skip
    for cid in ("FG", "FA", "FB"):
        assert balance(copy.engine, acc.charges_debt("C1", cid)) == 0
    assert balance(copy.engine, acc.CHARGES_ACCRUED) == -(30 + 20)


def test_a_sale_that_repays_posts_the_pending_it_pays(prepared: Path, tmp_path: Path) -> None:
    """A sell to repay: its proceeds pay every charge of C1's financing (its pending with
    it, posted in the fill's own transaction) and then principal; the book's mirror owes
    what a fresh load from the store owes."""
    copy = copy_of(prepared, tmp_path)
    book = _c1_book(copy)
    sale = order("S1", "C1", OrderKind.SELL_TO_REPAY, "600000.SH", 10_000, 300)
    assert book.submit(sale).accepted
    assert book.on_fill(Fill("T1", "S1", "600000.SH", Side.SELL, 10_000, 300, COLLECTION))
    events = events_of(copy.engine, "fill:T1")
    assert events[:2] == [
        {"type": "charges_accrued", "contract_id": "FB", "interest": 40},
        {"type": "charges_accrued", "contract_id": "FG", "interest": 3, "penalty": 7},
    ]
    collected = {e["contract_id"]: e for e in events[2:]}
    assert collected["FG"]["penalty"] == PENALTY["FG"] + 7
    assert collected["FB"]["interest"] == INTEREST["FB"] + 40
    for cid in ("FG", "FA", "FB"):
        assert balance(copy.engine, acc.charges_debt("C1", cid)) == 0
    assert _pending_now(copy.engine) == {cid: PENDING[cid] for cid in ("FD", "FF")}
    kept = {cid: c.balance() for cid, c in book.mirrors["C1"].contracts.items() if c.is_open}
    fresh = load_mirrors(copy.engine, ["C1"])["C1"].contracts
    assert kept == {cid: c.balance() for cid, c in fresh.items()}
