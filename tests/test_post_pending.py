"""Every contract's pending charges posted on request at a day's close (``liangrong eod
post-pending DATE``, ``eod/post_pending.py``; design step 4 of
``docs/charges-subledger.md``).

The book of ``test_collection_eod``: the end of day of 11-20 (the demo firm's collection
day, booked daily), then the firm records the subledger from 11-23 and that day's end of day
books three days of charges as pending.  Posting them moves each contract's whole pending to
its own charges account and changes no figure anyone reads: what each contract owes, the
statements; the control account comes back to zero.  A rerun or a run killed between
batches ends with the very same journal; a day that is not the latest complete one is
refused with its reason and nothing posted.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from sqlalchemy import Engine, select
from typer.testing import CliRunner

from cli_helpers import cli_app
from conftest import drop_postgres, make_postgres_engine
from liangrong.cli import eod as eod_cli
from liangrong.domain import accounts as acc
from liangrong.domain.interest import ChargePosting
from liangrong.domain.statement import statement_json
from liangrong.domain.versions import Version
from liangrong.eod.owed import owed_now
from liangrong.eod.post_pending import PostPendingRefused, post_pending
from liangrong.eod.runner import run
from liangrong.ledger import schema as s
from liangrong.ledger.digest import journal_digest
from liangrong.ledger.journal import last_seq
from liangrong.sim.statement_source import load_statements
from liangrong.store.accrual_state import stored_accruals, write_accruals
from liangrong.store.charge_posting import record_charge_posting
from liangrong.store.charges_pending import book_pending
from liangrong.store.collections import pending_posting_prefix
from pending_helpers import pending_snapshot
from test_collection_eod import (
    COLLECTION,
    Copy,
    _settings,
    copy_of,
    populate,
    prepared_through,
    transactions_under,
)

NOV23 = date(2026, 11, 23)
CLIENTS = ["C1", "C2", "C3"]
SUBLEDGER = Version("sub-2026-11-23", NOV23, ChargePosting.SUBLEDGER, "credit committee, test")


def _now() -> datetime:
    return datetime(2026, 11, 20, 20, 0, tzinfo=UTC)


def _booked(copy: Copy) -> None:
    """The end of day of 11-20, the subledger recorded from 11-23, that day's end of day."""
    assert run(copy.engine, COLLECTION, _settings(copy.reports)).complete
    assert record_charge_posting(copy.engine, SUBLEDGER, clock=_now) == 1
    assert run(copy.engine, NOV23, _settings(copy.reports)).complete


@pytest.fixture(scope="module")
def prepared(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The store after the end of day of 11-23, with charges pending."""
    return prepared_through(tmp_path_factory, "post-pending", _booked)


@pytest.fixture
def booked(prepared: Path, tmp_path: Path) -> Iterator[Copy]:
    copy = copy_of(prepared, tmp_path)
    yield copy
    copy.engine.dispose()


def _pending(engine: Engine) -> dict[str, dict[str, int]]:
    with engine.connect() as conn:
        return {cid: dict(kinds) for cid, kinds in book_pending(conn).by_contract.items()}


def _charges_accounts(engine: Engine) -> dict[str, int]:
    """Each contract's charges account (fen; a debt is negative), by contract id."""
    b = s.balances
    with engine.connect() as conn:
        rows = conn.execute(
            select(b.c.account, b.c.amount).where(b.c.account.like("client:%:charges:%"))
        ).all()
    return {str(account).rsplit(":", 1)[1]: int(amount) for account, amount in rows}


def _posted_commands(engine: Engine) -> list[str]:
    return list(transactions_under(engine, pending_posting_prefix(NOV23), "charge_posting"))


def _statements(engine: Engine) -> list[str]:
    return [statement_json(x) for x in load_statements(engine, COLLECTION, NOV23, CLIENTS)]


def test_every_contracts_pending_reaches_its_account_and_no_figure_changes(
    booked: Copy,
) -> None:
    engine = booked.engine
    pending = _pending(engine)
    assert pending, "the subledger day left charges pending"
    owed, accounts, statements = owed_now(engine), _charges_accounts(engine), _statements(engine)
    total = sum(sum(kinds.values()) for kinds in pending.values())
    assert owed.pending_added and _control(engine) == -total
    posted = post_pending(engine, NOV23, batch_transactions=1)
    assert (posted.contracts, posted.fen, posted.replayed) == (len(pending), total, 0)
    clients = _clients_of(engine, pending)
    assert posted.clients == len(clients)
    assert set(_posted_commands(engine)) == {
        f"eod:{NOV23}:pending-posted:{client}" for client in clients
    }
    assert _pending(engine) == {}
    after = _charges_accounts(engine)
    moved = {cid: accounts.get(cid, 0) - after.get(cid, 0) for cid in after.keys() | accounts}
    assert {cid: fen for cid, fen in moved.items() if fen} == {
        cid: sum(kinds.values()) for cid, kinds in pending.items()
    }
    now = owed_now(engine)
    assert (now.principal, now.charges) == (owed.principal, owed.charges)
    assert not now.pending_added
    assert _statements(engine) == statements  # the close's figures and the period's charges
    assert _control(engine) == 0


def _control(engine: Engine) -> int:
    b = s.balances
    with engine.connect() as conn:
        found = conn.execute(
            select(b.c.amount).where(b.c.account == acc.CHARGES_ACCRUED)
        ).scalar_one_or_none()
    return int(found or 0)


def _clients_of(engine: Engine, pending: dict[str, dict[str, int]]) -> set[str]:
    """The clients of the pending contracts, from the contracts' projection."""
    c = s.contracts
    with engine.connect() as conn:
        rows = conn.execute(select(c.c.client_id).where(c.c.contract_id.in_(sorted(pending)))).all()
    return {str(client) for (client,) in rows}


def test_a_rerun_replays_and_posts_nothing_twice(booked: Copy) -> None:
    first = post_pending(booked.engine, NOV23, batch_transactions=2)
    digest = journal_digest(booked.engine)
    again = post_pending(booked.engine, NOV23, batch_transactions=1)
    assert (again.contracts, again.fen_by_kind) == (first.contracts, first.fen_by_kind)
    assert again.replayed == again.transactions == first.transactions
    assert journal_digest(booked.engine) == digest


class Killed(Exception):
    pass


def test_a_run_killed_between_batches_ends_as_one_run(
    booked: Copy, prepared: Path, tmp_path: Path
) -> None:
    whole = copy_of(prepared, tmp_path / "whole")
    post_pending(whole.engine, NOV23, batch_transactions=1)

    def die_after_first(done: int, _total: int) -> None:
        if done == 1:
            raise Killed

    with pytest.raises(Killed):
        post_pending(booked.engine, NOV23, batch_transactions=1, progress=die_after_first)
    assert len(_posted_commands(booked.engine)) == 1
    resumed = post_pending(booked.engine, NOV23, batch_transactions=1)
    assert resumed.replayed == 1
    assert journal_digest(booked.engine) == journal_digest(whole.engine)
    whole.engine.dispose()


def test_only_the_latest_complete_day_is_posted(booked: Copy) -> None:
    engine = booked.engine
    before = journal_digest(engine)
    with pytest.raises(PostPendingRefused, match="the end of day of 2026-11-24 is not complete"):
        post_pending(engine, date(2026, 11, 24), batch_transactions=1)
    with pytest.raises(PostPendingRefused, match="the end of day of 2026-11-23 has begun"):
        post_pending(engine, COLLECTION, batch_transactions=1)
    assert journal_digest(engine) == before
    # the accrual of 11-24 has written its state, nothing posted nor recorded yet (a crash)
    nov24 = date(2026, 11, 24)
    write_accruals(
        engine, stored_accruals(nov24, pending_snapshot(_pending(engine), last_seq_of(engine)), 2)
    )
    with pytest.raises(PostPendingRefused, match="the end of day of 2026-11-24 has begun"):
        post_pending(engine, NOV23, batch_transactions=1)
    assert journal_digest(engine) == before


def last_seq_of(engine: Engine) -> int:
    with engine.connect() as conn:
        return last_seq(conn)


def test_the_command_posts_and_refuses_with_its_reason(booked: Copy) -> None:
    url = str(booked.engine.url)
    pending = _pending(booked.engine)
    fen = sum(sum(kinds.values()) for kinds in pending.values())
    runner, app = CliRunner(), cli_app(eod_cli)
    refused = runner.invoke(app, ["eod", "post-pending", "2026-11-20", "--store", url])
    assert refused.exit_code == 1
    assert "has begun" in " ".join(refused.output.split())
    done = runner.invoke(app, ["eod", "post-pending", "2026-11-23", "--store", url])
    assert done.exit_code == 0, done.output
    said = " ".join(done.output.split())
    assert f"{fen:,} fen pending" in said
    assert f"of {len(pending):,} contracts" in said and "(0 posted before)" in said
    transactions = re.search(r"in (\d+) transactions", said)
    assert transactions is not None
    again = runner.invoke(app, ["eod", "post-pending", "2026-11-23", "--store", url])
    assert again.exit_code == 0, again.output
    # the same plan: every transaction replays
    n = transactions.group(1)
    assert f"{fen:,} fen pending" in again.output
    assert f"in {n} transactions ({n} posted before)" in " ".join(again.output.split())


@pytest.mark.postgres
def test_postgresql_posts_as_sqlite_does(booked: Copy, tmp_path: Path) -> None:
    engine, name = make_postgres_engine()
    try:
        populate(engine, tmp_path / "reports")
        _booked(Copy(engine, tmp_path / "reports"))
        ours = post_pending(engine, NOV23, batch_transactions=1)
        theirs = post_pending(booked.engine, NOV23, batch_transactions=1)
        assert ours == theirs
        assert journal_digest(engine) == journal_digest(booked.engine)
    finally:
        drop_postgres(engine, name)
