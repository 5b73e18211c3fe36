"""CON-6 at the end of day and in the book: charges accrued over three days (the demo rates:
financing 8.35%, lending fee 10.35%, penalty 18%, each ÷ 360 on the day's base) are collected
on the demo schedule's day (the 20th) from each client's free credit cash, fees before
penalty before interest, nearest maturity first, and the matured principal after them;
what the cash cannot pay stays owed.  The day before collects nothing; a rerun and a run
killed between its batches post exactly what one run does.  A direct repayment through the
book takes the components in the same order.  Every expected fen is computed here from the
terms and rates."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from fractions import Fraction as F
from pathlib import Path

import pytest
from sqlalchemy import Engine, select

from book_helpers import open_book, profile
from conftest import drop_postgres, make_postgres_engine
from liangrong.domain import accounts as acc
from liangrong.domain import operations as ops
from liangrong.domain.contracts import ContractKind, ContractTerms
from liangrong.domain.money import Rounding, round_fraction
from liangrong.domain.orders import NonTradeKind, NonTradeRequest
from liangrong.eod.collection_step import collect_step
from liangrong.eod.context import EodContext, StepRun
from liangrong.eod.external_checks import (
    external_differences,
    ledger_credit_cash,
    ledger_positions,
)
from liangrong.eod.runner import run
from liangrong.eod.settings import EodSettings
from liangrong.eod.steps import STEP_NAMES
from liangrong.ledger import schema as s
from liangrong.ledger.digest import journal_digest
from liangrong.ledger.engine import open_engine
from liangrong.ledger.journal import CreditAccountOpening, Ledger
from liangrong.sim.bank import DepositoryBank
from liangrong.sim.demo_loader import load_demo
from liangrong.sim.session import CST
from liangrong.store.clearing_records import save_bank_file, save_clearing_file
from liangrong.store.collections import (
    DEMO_COLLECTION,
    CollectionPolicyConflict,
    collected_after_cutoff,
    load_collection_policies,
    save_collection_policies,
    seed_demo_collection_policy,
)
from liangrong.store.eod_records import completed_steps
from liangrong.store.migrate import upgrade

FIRST, BEFORE, COLLECTION, AFTER = (
    date(2026, 11, 18), date(2026, 11, 19), date(2026, 11, 20), date(2026, 11, 23),
)  # fmt: skip
THROUGH = date(2026, 11, 17)
FINANCING_RATE, LENDING_RATE, PENALTY_RATE = F("0.0835"), F("0.1035"), F("0.18")
RULES = "exchange:2026-01-14/firm:2026-01-14"
OPENING_INTEREST_FA = 5_000  # booked before the first end of day (no split recorded)


def _terms(
    cid: str, client: str, security: str, quantity: int, amount_fen: int, price_li: int,
    used: date, maturity: date, kind: ContractKind = ContractKind.FINANCING,
) -> ContractTerms:  # fmt: skip
    rate = FINANCING_RATE if kind is ContractKind.FINANCING else LENDING_RATE
    return ContractTerms(
        cid, kind, client, security, quantity, amount_fen, price_li, used, used, maturity,
        False, F(1), RULES, rate,
    )  # fmt: skip


# C1: FG overdue since 11-16 (penalty from the first day accrued), FA overdue since 11-18
# (penalty from 11-19), FB running, SC a short; cash short of what is due.
FG = _terms("FG", "C1", "600000.SH", 500, 500_000, 10_000, date(2026, 5, 15),
            date(2026, 11, 16))  # fmt: skip
FA = _terms("FA", "C1", "600000.SH", 1_000, 1_000_000, 10_000, date(2026, 5, 18),
            date(2026, 11, 18))  # fmt: skip
FB = _terms("FB", "C1", "600000.SH", 2_000, 2_000_000, 10_000, date(2026, 11, 2),
            date(2027, 5, 3))  # fmt: skip
SC = _terms("SC", "C1", "600036.SH", 1_000, 4_000_000, 40_000, date(2026, 11, 2),
            date(2026, 12, 2), ContractKind.SHORT)  # fmt: skip
# C2: FD running, FE matured on 11-19 (penalty on 11-20); cash covers everything.
FD = _terms("FD", "C2", "600000.SH", 3_000, 3_000_000, 10_000, date(2026, 11, 2),
            date(2027, 5, 3))  # fmt: skip
FE = _terms("FE", "C2", "600000.SH", 100, 100_000, 10_000, date(2026, 5, 19),
            date(2026, 11, 19))  # fmt: skip
# C3: no cash at all.
FF = _terms("FF", "C3", "600000.SH", 1_000, 1_000_000, 10_000, date(2026, 11, 2),
            date(2027, 5, 3))  # fmt: skip


def exact_fen(base_li: int, rate: F, days: int) -> int:
    """What ``days`` days on ``base_li`` book in one period: half-up of the exact sum."""
    return round_fraction(F(base_li) * rate * days / 3600, Rounding.HALF_UP)


# The three days 11-18..11-20 accrued by the end of day, by contract and component
INTEREST = {
    "FG": exact_fen(5_000_000, FINANCING_RATE, 3),  # 347.92 -> 348
    "FA": exact_fen(10_000_000, FINANCING_RATE, 3),  # 695.83 -> 696
    "FB": exact_fen(20_000_000, FINANCING_RATE, 3),  # 1391.67 -> 1392
    "FD": exact_fen(30_000_000, FINANCING_RATE, 3),  # 2087.5 -> 2088
    "FE": exact_fen(1_000_000, FINANCING_RATE, 3),  # 69.58 -> 70
    "FF": exact_fen(10_000_000, FINANCING_RATE, 3),
}
PENALTY = {
    "FG": exact_fen(5_000_000, PENALTY_RATE, 3),  # 750
    "FA": exact_fen(10_000_000, PENALTY_RATE, 2),  # 1000
    "FE": exact_fen(1_000_000, PENALTY_RATE, 1),  # 50
}
FEES = {"SC": exact_fen(1_000 * 40_000, LENDING_RATE, 3)}  # 1150 a day
C1_CASH = (
    FEES["SC"] + PENALTY["FG"] + PENALTY["FA"] + INTEREST["FG"] + OPENING_INTEREST_FA
    + INTEREST["FA"] + 500
)  # fmt: skip
C2_CASH = 1_000_000
C2_PAID = INTEREST["FD"] + INTEREST["FE"] + PENALTY["FE"] + 100_000  # all due, principal too


def _clock() -> datetime:
    return datetime(2026, 11, 18, 8, 0, tzinfo=CST)


def build_store(path: Path) -> None:
    engine = open_engine(f"sqlite:///{path}")
    populate(engine, path.parent / "reports")
    engine.dispose()


def populate(engine: Engine, reports: Path) -> None:
    """The book through the end of day of 11-19 (charges accrued from 11-18)."""
    upgrade(engine)
    assert load_demo(engine, FIRST, clock=_clock).collection_policies == 1
    ticks = iter(range(10**6))
    ledger = Ledger(engine, lambda: _clock() + timedelta(microseconds=next(ticks)))
    ledger.open_credit_accounts(
        [
            CreditAccountOpening(f"open:{c}:{x}", c, x, f"客户{c}", f"客户{c}", date(2026, 1, 5))
            for c in ("C1", "C2", "C3")
            for x in ("SH", "SZ")
        ]
    )
    ledger.post_batch(
        [
            ops.fund_pool("pool:cny", date(2026, 1, 5), "CNY", 10**11),
            ops.fund_pool("pool:600036", date(2026, 1, 5), "600036.SH", 100_000),
            ops.deposit_cash("cash:C1", date(2026, 1, 6), "C1", C1_CASH),
            ops.deposit_cash("cash:C2", date(2026, 1, 6), "C2", C2_CASH),
            *(ops.open_financing(f"open:{t.contract_id}", t) for t in (FG, FA, FB, FD, FE, FF)),
            ops.open_short("open:SC", SC),
            ops.accrue_charges("opening:FA", THROUGH, "C1", "FA", OPENING_INTEREST_FA),
        ]
    )
    for day in (FIRST, BEFORE):
        assert run(engine, day, _settings(reports)).complete


def _settings(reports: Path, batch: int = 1) -> EodSettings:
    return EodSettings(reports, batch_transactions=batch, accrued_through=THROUGH)


@pytest.fixture(scope="module")
def prepared(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("collect") / "prepared.sqlite"
    build_store(path)
    return path


@dataclass
class Copy:
    engine: Engine
    reports: Path


def copy_of(prepared: Path, folder: Path) -> Copy:
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copy(prepared, folder / "store.sqlite")
    shutil.copytree(prepared.parent / "reports", folder / "reports")
    return Copy(open_engine(f"sqlite:///{folder / 'store.sqlite'}"), folder / "reports")


def prepared_through(
    tmp_path_factory: pytest.TempPathFactory, name: str, then: Callable[[Copy], None]
) -> Path:
    """A store built afresh, then taken through ``then`` on a copy: the copy's store file
    (other modules' prepared stores)."""
    path = tmp_path_factory.mktemp(name) / "prepared.sqlite"
    build_store(path)
    copy = copy_of(path, path.parent / "run")
    then(copy)
    copy.engine.dispose()
    return path.parent / "run" / "store.sqlite"


@pytest.fixture(scope="module")
def collected(prepared: Path, tmp_path_factory: pytest.TempPathFactory) -> Copy:
    copy = copy_of(prepared, tmp_path_factory.mktemp("collected"))
    assert run(copy.engine, COLLECTION, _settings(copy.reports)).complete
    return copy


def collections_of(engine: Engine, day: date) -> dict[str, list[dict[str, object]]]:
    """The day's collection transactions: command id -> their charges_collected events."""
    return transactions_under(engine, f"eod:{day.isoformat()}:collect:", "direct_repayment")


def transactions_under(
    engine: Engine, prefix: str, kind: str
) -> dict[str, list[dict[str, object]]]:
    """The transactions whose command ids start with ``prefix``, all of journal kind
    ``kind``: command id -> their events, in journal order."""
    t = s.journal_transactions
    with engine.connect() as conn:
        rows = conn.execute(
            select(t.c.command_id, t.c.kind, t.c.events_json)
            .where(t.c.command_id.like(f"{prefix}%"))
            .order_by(t.c.seq)
        ).all()
    assert {found for _, found, _ in rows} <= {kind}
    return {command: json.loads(events) for command, _, events in rows}


def events_of(engine: Engine, command_id: str) -> list[dict[str, object]]:
    """The events of the command's transaction, as the journal holds them."""
    t = s.journal_transactions
    with engine.connect() as conn:
        found = conn.execute(
            select(t.c.events_json).where(t.c.command_id == command_id)
        ).scalar_one()
    return list(json.loads(found))


def balance(engine: Engine, account: str) -> int:
    b = s.balances
    with engine.connect() as conn:
        found = conn.execute(
            select(b.c.amount).where(b.c.account == account, b.c.asset == "CNY")
        ).scalar_one_or_none()
    return int(found or 0)


# --------------------------------------------------------------------------- the policy


def test_the_policy_is_a_dated_version_recorded_once(prepared: Path, tmp_path: Path) -> None:
    copy = copy_of(prepared, tmp_path)
    history = load_collection_policies(copy.engine)
    assert history.versions == (DEMO_COLLECTION,)
    assert seed_demo_collection_policy(copy.engine, clock=_clock) == 0  # idempotent
    with pytest.raises(CollectionPolicyConflict):
        changed = replace(DEMO_COLLECTION, source="another source")
        save_collection_policies(copy.engine, [changed], clock=_clock)


# --------------------------------------------------------------------------- the end of day


def test_a_day_off_the_schedule_collects_nothing(prepared: Path) -> None:
    engine = open_engine(f"sqlite:///{prepared}")
    for day in (FIRST, BEFORE):
        record = completed_steps(engine, day)["collect"]
        assert record.summary == {"collection_day": False}
        assert collections_of(engine, day) == {}
    engine.dispose()


def test_the_collection_takes_what_is_due_in_order(collected: Copy) -> None:
    engine = collected.engine
    found = collections_of(engine, COLLECTION)
    prefix = f"eod:{COLLECTION.isoformat()}:collect:"
    assert sorted(found) == [prefix + "C1", prefix + "C2"]  # C3 has no cash
    # C1: SC's fees, then the penalties (FG's, FA's), then interest nearest maturity first
    # (FG's, FA's, then 500 of FB's); the matured principals are not reached.  Lines come
    # in contract order (maturity: FG, FA, SC, FB).
    assert found[prefix + "C1"] == [
        {"type": "charges_collected", "contract_id": "FG", "penalty": PENALTY["FG"],
         "interest": INTEREST["FG"]},
        {"type": "charges_collected", "contract_id": "FA", "penalty": PENALTY["FA"],
         "interest": OPENING_INTEREST_FA + INTEREST["FA"]},
        {"type": "charges_collected", "contract_id": "SC", "fees": FEES["SC"]},
        {"type": "charges_collected", "contract_id": "FB", "interest": 500},
    ]  # fmt: skip
    # C2's cash covers everything due: every charge and FE's matured principal
    assert found[prefix + "C2"] == [
        {"type": "charges_collected", "contract_id": "FE", "penalty": PENALTY["FE"],
         "interest": INTEREST["FE"], "principal": 100_000},
        {"type": "charges_collected", "contract_id": "FD", "interest": INTEREST["FD"]},
    ]  # fmt: skip
    # what stays owed, and the cash left
    assert balance(engine, acc.client_cash("C1")) == 0
    assert -balance(engine, acc.charges_debt("C1", "FB")) == INTEREST["FB"] - 500
    assert -balance(engine, acc.charges_debt("C1", "FA")) == 0
    assert -balance(engine, acc.financing_debt("C1", "FA")) == 1_000_000
    assert -balance(engine, acc.financing_debt("C1", "FG")) == 500_000
    assert -balance(engine, acc.financing_debt("C2", "FE")) == 0
    assert balance(engine, acc.client_cash("C2")) == C2_CASH - C2_PAID
    assert -balance(engine, acc.charges_debt("C3", "FF")) == INTEREST["FF"]
    summary = completed_steps(engine, COLLECTION)["collect"].summary
    assert summary["collected_fen"] == {
        "fees": FEES["SC"],
        "penalty": PENALTY["FG"] + PENALTY["FA"] + PENALTY["FE"],
        "interest": INTEREST["FG"]
        + OPENING_INTEREST_FA
        + INTEREST["FA"]
        + 500
        + INTEREST["FD"]
        + INTEREST["FE"],
        "principal": 100_000,
    }
    # the bank is told after its file of the day: the cash each client paid
    with engine.connect() as conn:
        assert collected_after_cutoff(conn, COLLECTION) == {"C1": C1_CASH, "C2": C2_PAID}


def test_a_rerun_posts_nothing_twice(collected: Copy) -> None:
    engine = collected.engine
    before = journal_digest(engine)
    record = completed_steps(engine, COLLECTION)["collect"]
    ctx = EodContext(engine, COLLECTION, _settings(collected.reports))
    again = collect_step(StepRun(ctx, "collect", STEP_NAMES.index("collect"), lambda *_: None))
    ctx.close()
    assert again.digest == record.digest and again.summary == record.summary
    assert journal_digest(engine) == before


@pytest.mark.postgres
def test_postgresql_collects_exactly_what_sqlite_does(collected: Copy, tmp_path: Path) -> None:
    """The same days on the production store: the same journal and the same step records
    (the collection's raw key-range and history reads run on either dialect)."""
    engine, name = make_postgres_engine()
    try:
        populate(engine, tmp_path / "reports")
        assert run(engine, COLLECTION, _settings(tmp_path / "reports")).complete
        assert journal_digest(engine) == journal_digest(collected.engine)
        mine, theirs = (
            completed_steps(engine, COLLECTION),
            completed_steps(collected.engine, COLLECTION),
        )
        assert {n: (r.digest, r.summary) for n, r in mine.items()} == {
            n: (r.digest, r.summary) for n, r in theirs.items()
        }
        with engine.connect() as conn:
            assert collected_after_cutoff(conn, COLLECTION) == {"C1": C1_CASH, "C2": C2_PAID}
    finally:
        drop_postgres(engine, name)


class Killed(Exception):
    pass


def test_a_run_killed_between_batches_completes_the_same(
    prepared: Path, collected: Copy, tmp_path: Path
) -> None:
    copy = copy_of(prepared, tmp_path)
    assert (
        run(copy.engine, COLLECTION, _settings(copy.reports), stop_after="accrue").complete is False
    )

    def die_after_first(step: str, done: int, _total: int) -> None:
        if step == "collect" and done == 1:
            raise Killed

    with pytest.raises(Killed):
        run(copy.engine, COLLECTION, _settings(copy.reports), progress=die_after_first)
    assert len(collections_of(copy.engine, COLLECTION)) == 1  # C1's batch committed
    assert run(copy.engine, COLLECTION, _settings(copy.reports)).complete
    assert journal_digest(copy.engine) == journal_digest(collected.engine)
    mine, theirs = (
        completed_steps(copy.engine, COLLECTION),
        completed_steps(collected.engine, COLLECTION),
    )
    assert {n: (r.digest, r.summary) for n, r in mine.items()} == {
        n: (r.digest, r.summary) for n, r in theirs.items()
    }


def test_the_bank_is_told_after_its_file_of_the_day(prepared: Path, tmp_path: Path) -> None:
    """Both outside files of the collection day agree with the ledger at the session's
    close; the end of day then collects.  The bank's file was cut before the collection,
    so its payment instructions are in transit: the reconciliation counts them so (no
    difference), and the bank resumed the next day has applied them, agreeing with the
    ledger again."""
    copy = copy_of(prepared, tmp_path)
    with copy.engine.connect() as conn:
        positions = ledger_positions(conn, COLLECTION)
        cash = ledger_credit_cash(conn, COLLECTION)
    save_clearing_file(copy.engine, COLLECTION, positions, clock=_clock)
    save_bank_file(copy.engine, COLLECTION, cash, clock=_clock)
    assert run(copy.engine, COLLECTION, _settings(copy.reports)).complete
    with copy.engine.connect() as conn:
        differences = external_differences(conn, COLLECTION)
        in_transit = collected_after_cutoff(conn, COLLECTION)
        as_the_bank_saw_it = ledger_credit_cash(conn, COLLECTION)
        next_day = ledger_credit_cash(conn, AFTER)
    assert in_transit == {"C1": C1_CASH, "C2": C2_PAID}
    assert differences == {"clearing": [], "bank": []}
    assert as_the_bank_saw_it == cash
    assert {c: next_day.get(c, 0) for c in cash} == {
        c: cash[c] - in_transit.get(c, 0) for c in cash
    }
    bank = DepositoryBank.resume(copy.engine, AFTER)
    bank.open_day(AFTER)
    assert {c: fen for c, fen in bank.close_day().items() if fen} == {
        c: fen for c, fen in next_day.items() if fen
    }


# --------------------------------------------------------------------------- the book


def test_a_direct_repayment_through_the_book_follows_the_order(
    prepared: Path, tmp_path: Path
) -> None:
    """Before the collection (charges through 11-19), C1's financing owes: FG interest and
    two days' penalty, FA interest (the opening's too) and one day's penalty, FB interest.
    A repayment pays both penalties before any interest (charges taken contract by contract
    would pay FG's interest before FA's penalty), then interest nearest maturity first,
    then principal; the second repayment finds the first's split in the journal."""
    copy = copy_of(prepared, tmp_path)
    fg_interest, fg_penalty = (
        exact_fen(5_000_000, FINANCING_RATE, 2),
        exact_fen(5_000_000, PENALTY_RATE, 2),
    )
    fa_interest = OPENING_INTEREST_FA + exact_fen(10_000_000, FINANCING_RATE, 2)
    fa_penalty = exact_fen(10_000_000, PENALTY_RATE, 1)
    fb_interest = exact_fen(20_000_000, FINANCING_RATE, 2)
    ticks = iter(range(10**6))
    book = open_book(
        copy.engine,
        lambda: datetime(2026, 11, 20, 10, 0, tzinfo=CST) + timedelta(microseconds=next(ticks)),
        COLLECTION,
        [profile("C1")],
    )

    def repay(request_id: str, amount_fen: int) -> list[dict[str, object]]:
        request = NonTradeRequest(request_id, "C1", NonTradeKind.DIRECT_REPAYMENT, amount_fen)
        assert book.request(request).accepted
        return events_of(copy.engine, f"request:{request_id}")

    assert repay("R1", fg_penalty + fa_penalty + 100) == [
        {"type": "charges_collected", "contract_id": "FG", "penalty": fg_penalty, "interest": 100},
        {"type": "charges_collected", "contract_id": "FA", "penalty": fa_penalty},
    ]
    assert repay("R2", fg_interest - 100 + fa_interest + fb_interest + 1_000) == [
        {"type": "charges_collected", "contract_id": "FG", "interest": fg_interest - 100,
         "principal": 1_000},
        {"type": "charges_collected", "contract_id": "FA", "interest": fa_interest},
        {"type": "charges_collected", "contract_id": "FB", "interest": fb_interest},
    ]  # fmt: skip
    assert -balance(copy.engine, acc.financing_debt("C1", "FG")) == 500_000 - 1_000
    for cid in ("FG", "FA", "FB"):
        assert balance(copy.engine, acc.charges_debt("C1", cid)) == 0
