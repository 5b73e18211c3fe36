"""Issue #5's scenario under the charges subledger (``docs/charges-subledger.md``, landing 2):
the same seven trading days, the charges booked as pending with one control posting a day
instead of on each contract daily.

The ledger's own postings differ by design; every figure anybody reads must not: what each
contract owes, every file of every end of day (the exchange report, the contract events,
the calls, the reconciliation), every step's digest but the ones that digest the ledger's
transactions, the statements (over the whole span and over a period starting mid-span,
whose opening reads the pending at a past close), and what the next day's book and desk
see.  The control account holds exactly what the contracts' own accounts lack.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import Engine, select

from conftest import drop_postgres, make_postgres_engine, make_sqlite_engine
from liangrong.domain import accounts as acc
from liangrong.domain.interest import ChargePosting
from liangrong.domain.statement import statement_json
from liangrong.domain.versions import Version
from liangrong.eod.owed import owed_now
from liangrong.eod.steps import STEP_NAMES
from liangrong.ledger import schema as s
from liangrong.sim.statement_source import load_statements
from liangrong.store.charges_pending import book_pending
from liangrong.store.eod_records import completed_steps
from test_eod_scenario import (
    CLIENTS,
    DAYS,
    OCT9,
    OCT12,
    SEP24,
    SEP28,
    SEP29,
    Scenario,
    run_scenario,
)

# The steps whose digests cover the ledger's own transactions (what the accrual and the
# collection posted) or name its sequence numbers (the reconciliation's checkpoint), which
# the subledger changes by design.
LEDGER_DIGESTS = {"settle", "collect", "reconcile"}
SEQ = re.compile(rb"\(seq \d+\)")


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[ChargePosting, Scenario]]:
    engines: list[Engine] = []
    found = {}
    for posting in ChargePosting:
        folder = tmp_path_factory.mktemp(f"subledger-{posting.value}")
        engine = make_sqlite_engine(folder)
        engines.append(engine)
        found[posting] = run_scenario(engine, folder / "reports", posting)
    yield found
    for engine in engines:
        engine.dispose()


def _files(scenario: Scenario) -> dict[str, bytes]:
    """Every file written, the journal's sequence numbers (which differ) masked."""
    root = scenario.reports
    files = (p for p in sorted(root.rglob("*")) if p.is_file())
    return {str(p.relative_to(root)): SEQ.sub(b"(seq)", p.read_bytes()) for p in files}


def _balances(engine: Engine) -> dict[str, int]:
    b = s.balances
    with engine.connect() as conn:
        rows = conn.execute(select(b.c.account, b.c.amount).where(b.c.asset == "CNY")).all()
    return {str(account): int(amount) for account, amount in rows}


def test_every_file_of_every_day_is_the_same(runs: dict[ChargePosting, Scenario]) -> None:
    daily, subledger = _files(runs[ChargePosting.DAILY]), _files(runs[ChargePosting.SUBLEDGER])
    assert sorted(daily) == sorted(subledger)
    assert [name for name in daily if daily[name] != subledger[name]] == []
    reconciliations = [name for name in subledger if "reconciliation_" in name]
    assert len(reconciliations) == len(DAYS)
    for name in reconciliations:
        assert "pending,ok" in subledger[name].decode(), name


def test_every_step_digests_the_same_but_the_ledgers(
    runs: dict[ChargePosting, Scenario],
) -> None:
    for day in DAYS:
        steps = {p: completed_steps(runs[p].engine, day) for p in ChargePosting}
        assert list(steps[ChargePosting.SUBLEDGER]) == list(STEP_NAMES), day
        for name in STEP_NAMES:
            daily, subledger = (steps[p][name] for p in ChargePosting)
            if name not in LEDGER_DIGESTS:
                assert daily.digest == subledger.digest, (day, name)
        accrued = steps[ChargePosting.SUBLEDGER]["accrue"].summary
        assert accrued["posting"] == "subledger", day


def test_what_each_contract_owes_is_the_same(runs: dict[ChargePosting, Scenario]) -> None:
    daily, subledger = (owed_now(runs[p].engine) for p in ChargePosting)
    assert subledger.principal == daily.principal
    assert subledger.charges == daily.charges
    assert subledger.pending_added and not daily.pending_added


def test_the_control_account_holds_what_the_contracts_lack(
    runs: dict[ChargePosting, Scenario],
) -> None:
    daily, subledger = (_balances(runs[p].engine) for p in ChargePosting)
    control = subledger.get(acc.CHARGES_ACCRUED, 0)
    with runs[ChargePosting.SUBLEDGER].engine.connect() as conn:
        pending = book_pending(conn).totals()
    assert control < 0 and control == -sum(pending.values())
    charges = {a for a in daily.keys() | subledger.keys() if ":charges:" in a}
    lacking = {
        a.rsplit(":", 1)[1]: subledger.get(a, 0) - daily.get(a, 0)
        for a in charges
        if a.startswith("client:") and subledger.get(a, 0) != daily.get(a, 0)
    }
    assert lacking == pending  # a debt is negative: the subledger's accounts owe less
    same = {a for a in daily.keys() | subledger.keys() if ":charges:" not in a}
    assert {a: subledger.get(a, 0) for a in same} == {a: daily.get(a, 0) for a in same}
    with runs[ChargePosting.SUBLEDGER].engine.connect() as conn:
        t = s.journal_transactions
        daily_ids = conn.execute(
            select(t.c.command_id).where(t.c.command_id.like("eod:%:charges:C%"))
        ).all()
    assert daily_ids == []  # no per-client accrual transaction


@pytest.mark.parametrize("start", [SEP24, SEP29])
def test_the_statements_are_the_same(runs: dict[ChargePosting, Scenario], start: date) -> None:
    """Over the span, and from a day when charges were already pending (the opening reads
    the state of the close before it)."""
    daily, subledger = (
        [statement_json(x) for x in load_statements(runs[p].engine, start, OCT12, list(CLIENTS))]
        for p in ChargePosting
    )
    assert len(daily) == len(CLIENTS)
    assert subledger == daily


def test_the_next_day_sees_the_same(runs: dict[ChargePosting, Scenario]) -> None:
    """The next day's book repays the same and the desk plans the same liquidation."""
    daily, subledger = (runs[p].probes for p in ChargePosting)
    assert subledger == daily


# The firm records its posting (``liangrong eod posting record``): the subledger from
# 09-28, daily again from 10-09, over the end of day's own daily policy.
SWITCHED = (
    Version("sub-2026-09-28", SEP28, ChargePosting.SUBLEDGER, "credit committee, test"),
    Version("daily-2026-10-09", OCT9, ChargePosting.DAILY, "credit committee, test"),
)


@pytest.fixture(scope="module")
def switched(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Scenario]:
    folder = tmp_path_factory.mktemp("subledger-switched")
    engine = make_sqlite_engine(folder)
    yield run_scenario(engine, folder / "reports", ChargePosting.DAILY, SWITCHED)
    engine.dispose()


def test_the_recorded_posting_is_the_one_each_day_books_under(switched: Scenario) -> None:
    postings = {day: completed_steps(switched.engine, day)["accrue"].summary for day in DAYS}
    expected = {day: "subledger" if SEP28 <= day < OCT9 else "daily" for day in DAYS}
    assert {day: summary["posting"] for day, summary in postings.items()} == expected
    # back to daily: the pending the subledger days left is posted to the contracts
    assert postings[OCT9]["pending_posted_fen"] > 0
    assert _balances(switched.engine).get(acc.CHARGES_ACCRUED, 0) == 0
    with switched.engine.connect() as conn:
        assert book_pending(conn).totals() == {}


def test_switching_the_posting_changes_no_figure(
    runs: dict[ChargePosting, Scenario], switched: Scenario
) -> None:
    daily = runs[ChargePosting.DAILY]
    assert _files(switched) == _files(daily)
    assert owed_now(switched.engine) == owed_now(daily.engine)
    nonzero = [{a: n for a, n in _balances(x.engine).items() if n} for x in (switched, daily)]
    assert nonzero[0] == nonzero[1]  # every charge on its contract again, the control at 0
    assert switched.probes == daily.probes
    assert [
        statement_json(x) for x in load_statements(switched.engine, SEP29, OCT12, list(CLIENTS))
    ] == [statement_json(x) for x in load_statements(daily.engine, SEP29, OCT12, list(CLIENTS))]


@pytest.mark.postgres
def test_the_subledger_on_postgresql_gives_the_same(
    runs: dict[ChargePosting, Scenario], tmp_path: Path
) -> None:
    """The production store: the same files, owed figures and statements as on SQLite."""
    engine, name = make_postgres_engine()
    try:
        postgres = run_scenario(engine, tmp_path / "reports", ChargePosting.SUBLEDGER)
        sqlite = runs[ChargePosting.SUBLEDGER]
        assert _files(postgres) == _files(sqlite)
        assert owed_now(engine) == owed_now(sqlite.engine)
        assert [
            statement_json(x) for x in load_statements(engine, SEP29, OCT12, list(CLIENTS))
        ] == [
            statement_json(x) for x in load_statements(sqlite.engine, SEP29, OCT12, list(CLIENTS))
        ]
    finally:
        drop_postgres(engine, name)
