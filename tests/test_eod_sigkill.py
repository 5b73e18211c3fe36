"""Crash safety of the end of day (issue #5, GOV-6): a process running it is killed with
SIGKILL at seeded random moments, again and again, then run to completion; the journal, every
report file and every record it leaves must be byte-identical to an uninterrupted run's.

The store is a generated book after a short seeded session, prepared once; each chain of
kills works on its own copy.  Kills are delivered to forked children (so the interpreter's
start-up is paid once: 30+ kill points fit the time budget) that run ``eod.runner.run``
exactly as the command does; one chain is completed by the real command in a fresh
``python -m liangrong.cli.eod`` process.
"""

from __future__ import annotations

import multiprocessing
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from collections import Counter
from datetime import date
from itertools import pairwise
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from pathlib import Path

import pytest
from sqlalchemy import text

from conftest import session_store
from liangrong.domain import accounts as acc
from liangrong.domain.interest import ChargePosting
from liangrong.eod.runner import run
from liangrong.eod.settings import EodSettings, demo_policies, opening_accrual
from liangrong.eod.steps import STEP_NAMES
from liangrong.ledger.digest import journal_digest
from liangrong.ledger.engine import open_engine
from liangrong.sim.session import SessionConfig, run_session
from liangrong.store.charges_pending import book_pending
from liangrong.store.eod_records import completed_steps
from sim_helpers import DAY

NEXT_DAY = date(2026, 11, 23)  # the Monday after
ACCRUE = STEP_NAMES.index("accrue")

SEED = 20261120
KILLS = 45  # ~5 a step over nine steps: enough to land between the accrual's commits
KILLS_PER_CHAIN = 4
BATCH = 8  # ledger transactions per commit: the accrual commits many times
RECORDS = ("eod_steps", "contract_events", "call_events", "notices", "status_events",
           "closing_prices", "eod_accrual_states", "list_publications", "stress_runs",
           "firm_alerts", "identity_notices", "identity_restrictions")  # fmt: skip
FORK = multiprocessing.get_context("fork")
READY = "ready"


def _settings(
    folder: Path,
    accrued_through: object,
    worker_from: int = 0,
    workers: int = 2,
    posting: ChargePosting = ChargePosting.DAILY,
) -> EodSettings:  # the subledger's few accrual transactions: one a commit
    """The kills land with the accrual's batches built by its workers (``worker_from`` 0),
    as at full size; the workers are grandchildren the kill orphans."""
    return EodSettings(
        folder / "reports",
        policies=demo_policies(posting),
        batch_transactions=BATCH if posting is ChargePosting.DAILY else 1,
        accrued_through=accrued_through,  # type: ignore[arg-type]
        accrual_worker_from=worker_from,
        accrual_workers=workers,
    )


@pytest.fixture(scope="module")
def prepared(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, object]:
    path = tmp_path_factory.mktemp("sigkill") / "prepared.sqlite"
    engine = session_store(path, SessionConfig(clients=150, minutes=3, seed=7, on=DAY))
    through = opening_accrual(engine)
    engine.dispose()  # checkpointed: one file to copy
    return path, through


@pytest.fixture(scope="module")
def prepared_subledger(
    prepared: tuple[Path, object], tmp_path_factory: pytest.TempPathFactory
) -> tuple[Path, object]:
    """The book under the subledger after its first end of day and the next day's session:
    the next end of day carries pending charges, and posts those of the contracts the
    session settled."""
    source, through = prepared
    path = tmp_path_factory.mktemp("sigkill-subledger") / "prepared.sqlite"
    shutil.copy(source, path)
    engine = open_engine(f"sqlite:///{path}")
    settings = _settings(path.parent, through, posting=ChargePosting.SUBLEDGER)
    assert run(engine, DAY, settings).complete
    run_session(engine, SessionConfig(clients=150, minutes=30, seed=7, on=NEXT_DAY))
    engine.dispose()
    return path, through


def _copy(prepared: Path, folder: Path) -> Path:
    folder.mkdir(parents=True)
    shutil.copy(prepared, folder / "store.sqlite")
    return folder / "store.sqlite"


def _outcome(store: Path, reports: Path) -> dict[str, object]:
    engine = open_engine(f"sqlite:///{store}")
    try:
        with engine.connect() as conn:
            records = {
                table: sorted(
                    (tuple(r) for r in conn.execute(text(f"SELECT * FROM {table}"))), key=repr
                )
                for table in RECORDS
            }
        files = {
            p.relative_to(reports).as_posix(): p.read_bytes()
            for p in sorted(reports.rglob("*"))
            if p.is_file()
        }
        return {"journal": journal_digest(engine), "files": files, **records}
    finally:
        engine.dispose()


def _child(
    store: Path,
    reports: Path,
    through: object,
    pipe: Connection,
    hold_at: int | None = None,
    posting: ChargePosting = ChargePosting.DAILY,
) -> None:
    """Runs the end of day as the command does, telling the parent how far it got; with
    ``hold_at``, it waits after the accrual's ``hold_at``-th commit (not its last) for the
    parent, which kills it there: between two commits, however fast the machine."""
    engine = open_engine(f"sqlite:///{store}")
    pipe.send((READY, 0, 0))
    commits = 0

    def told(name: str, done: int, total: int) -> None:
        nonlocal commits
        pipe.send((name, done, total))
        if hold_at is not None and name == "accrue" and done < total:
            commits += 1
            if commits == hold_at:
                pipe.recv()  # never answered: the parent kills it here

    run(engine, _day(posting), _settings(reports.parent, through, posting=posting), told)
    os._exit(0)


def _day(posting: ChargePosting) -> date:
    """The end of day killed: the book's first, or (subledger) the one after."""
    return DAY if posting is ChargePosting.DAILY else NEXT_DAY


def _steps_done(store: Path, day: date) -> int:
    engine = open_engine(f"sqlite:///{store}")
    try:
        return len(completed_steps(engine, day))
    finally:
        engine.dispose()


def _kill_inside(
    child: BaseProcess, pipe: Connection, step: int, seconds: float, started: bool
) -> bool:
    """SIGKILL the child ``seconds`` after the step before ``step`` told its last progress
    (after it is ready, for the first step), or, ``started``, after ``step`` told its first
    (the accrual: once a batch is committed); False when it finished first."""
    before = STEP_NAMES[step - 1] if step else READY
    while True:
        if not pipe.poll(30):
            raise AssertionError("the child went silent")
        try:
            name, done, total = pipe.recv()
        except EOFError:  # it finished and closed its end
            return False
        if started and name == STEP_NAMES[step]:
            break
        if not started and name == before and (done == total or name == READY):
            break
    time.sleep(seconds)
    if not child.is_alive():
        return False
    child.kill()
    return True


def _accruals_posted(store: Path, day: date) -> int:
    engine = open_engine(f"sqlite:///{store}")
    try:
        with engine.connect() as conn:
            query = "SELECT COUNT(*) FROM journal_transactions WHERE command_id LIKE :day"
            return int(conn.execute(text(query), {"day": f"eod:{day}:%"}).scalar_one())
    finally:
        engine.dispose()


def _control_total(store: Path) -> tuple[int, int]:
    """The subledger's control account and minus the pending charges the readers see: equal
    at every committed state, a kill's included (``docs/charges-subledger.md``)."""
    engine = open_engine(f"sqlite:///{store}")
    try:
        with engine.connect() as conn:
            query = text("SELECT COALESCE(SUM(amount), 0) FROM balances WHERE account = :a")
            control = int(conn.execute(query, {"a": acc.CHARGES_ACCRUED}).scalar_one())
            return control, -sum(book_pending(conn).totals().values())
    finally:
        engine.dispose()


def _least_hit(rng: random.Random, killed_in: list[str], done: int) -> int:
    """A step still to run among those killed least so far (so every step gets its kills)."""
    hits = Counter(killed_in)
    fewest = min(hits[name] for name in STEP_NAMES[done:])
    return rng.choice([i for i in range(done, len(STEP_NAMES)) if hits[STEP_NAMES[i]] == fewest])


@pytest.mark.parametrize(
    ("posting", "kill_points"),
    [(ChargePosting.DAILY, KILLS), (ChargePosting.SUBLEDGER, KILLS // 3)],
)
def test_sigkill_at_random_points_then_rerun_is_byte_identical(
    request: pytest.FixtureRequest, tmp_path: Path, posting: ChargePosting, kill_points: int
) -> None:
    """The firm's charges posted daily: the book's first end of day (the 30+ kill points of
    issue #5, the real command finishing the first chain).  Under the subledger, fewer: the
    end of day after, which carries pending charges, its accrual's commits the control
    posting and the postings of the contracts the session settled, one each."""
    fixture = "prepared" if posting is ChargePosting.DAILY else "prepared_subledger"
    source, through = request.getfixturevalue(fixture)
    day = _day(posting)
    whole = _copy(source, tmp_path / "whole")
    engine = open_engine(f"sqlite:///{whole}")
    ends: dict[str, float] = {}  # when each step told its last progress, to aim the kills
    started = time.perf_counter()

    accrual_commits = 0  # the accrual's commits before its last

    def clocked(name: str, done: int, total: int) -> None:
        nonlocal accrual_commits
        ends[name] = time.perf_counter() - started
        accrual_commits += name == "accrue" and done < total

    assert run(engine, day, _settings(whole.parent, through, posting=posting), clocked).complete
    engine.dispose()
    expected = _outcome(whole, whole.parent / "reports")
    report = f"{day:%Y%m%d}/rzrq_daily_SH_{day:%Y%m%d}.xlsx"
    assert report in expected["files"]  # type: ignore[operator]
    assert accrual_commits >= 2  # BATCH small enough for kills between the accrual's commits
    bounds = [0.0, *(ends[name] for name in STEP_NAMES)]
    took = [later - earlier for earlier, later in pairwise(bounds)]

    rng = random.Random(SEED)
    killed_in: list[str] = []  # the step running (not recorded) when each kill landed
    partial: list[int] = []  # accrual transactions committed when a kill landed in it
    chain = 0
    while len(killed_in) < kill_points:
        chain += 1
        store = _copy(source, tmp_path / f"chain{chain}")
        reports = store.parent / "reports"
        kills = 0
        while kills < KILLS_PER_CHAIN and (done := _steps_done(store, day)) < len(STEP_NAMES):
            step = _least_hit(rng, killed_in, done)
            subledger = posting is ChargePosting.SUBLEDGER
            if subledger and kills == 0 and done <= ACCRUE:
                step = ACCRUE  # the step the subledger changed: each chain's first kill
            # under the subledger every kill in the accrual is between its few commits
            inside = STEP_NAMES[step] == "accrue" and (len(partial) % 2 == 1 or subledger)
            # Inside the accrual: held after one of its commits but the last, then killed.
            hold = rng.randint(1, accrual_commits) if inside else None
            receiver, sender = FORK.Pipe(duplex=True)
            child = FORK.Process(
                target=_child, args=(store, reports, through, sender, hold, posting)
            )
            child.start()
            sender.close()
            killed = _kill_inside(child, receiver, step, rng.uniform(0, took[step]), inside)
            child.join(120)
            receiver.close()
            if not killed or child.exitcode == 0:  # it finished first: no kill point
                assert child.exitcode == 0
                break
            assert child.exitcode == -signal.SIGKILL
            kills += 1
            after = _steps_done(store, day)
            control, pending = _control_total(store)
            assert control == pending, (chain, kills, control, pending)
            if STEP_NAMES[after : after + 1] == ("accrue",):
                partial.append(_accruals_posted(store, day))
            killed_in.append(STEP_NAMES[after] if after < len(STEP_NAMES) else "after the last")
        if chain == 1 and posting is ChargePosting.DAILY:
            # the real command, in a fresh interpreter, finishes the first chain (it runs
            # the demo firm's policy: daily)
            finished = subprocess.run(
                [sys.executable, "-m", "liangrong.cli.eod", "run", DAY.isoformat(),
                 "--store", f"sqlite:///{store}", "--reports", str(reports),
                 "--batch", str(BATCH)],
                capture_output=True, text=True, timeout=120, check=False,
            )  # fmt: skip
            assert finished.returncode == 0, finished.stderr
        else:
            receiver, sender = FORK.Pipe(duplex=False)
            final = FORK.Process(
                target=_child, args=(store, reports, through, sender, None, posting)
            )
            final.start()
            sender.close()
            final.join(120)
            assert final.exitcode == 0
        got = _outcome(store, reports)
        for key in expected:
            assert got[key] == expected[key], (chain, key)
    print("kills by step:", Counter(killed_in), "chains:", chain, "accruals posted", partial)
    assert len(killed_in) >= (30 if posting is ChargePosting.DAILY else kill_points)
    posted = _accruals_posted(whole, day)
    assert any(0 < n < posted for n in partial), (partial, posted)  # killed between commits
    # the kills landed inside most steps, not only between them
    assert len(set(killed_in) & set(STEP_NAMES)) >= 6, Counter(killed_in)


def test_the_accrual_worker_leaves_what_this_process_would(
    prepared: tuple[Path, object], tmp_path: Path
) -> None:
    """The same end of day with the accrual's batches built here, by one worker and by
    three."""
    source, through = prepared
    outcomes = []
    for worker_from, workers in ((10**9, 1), (0, 1), (0, 3)):
        store = _copy(source, tmp_path / f"from{worker_from}x{workers}")
        engine = open_engine(f"sqlite:///{store}")
        settings = _settings(store.parent, through, worker_from, workers)
        assert run(engine, DAY, settings).complete
        engine.dispose()
        outcomes.append(_outcome(store, store.parent / "reports"))
    assert outcomes[0] == outcomes[1] == outcomes[2]
