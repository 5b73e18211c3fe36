"""The end of day at scale: every step over a book of ``--accounts`` credit accounts holding
``--contracts`` open financing contracts, on SQLite, with the time of each step.

    .venv/bin/python benchmarks/eod.py                        # 1,000,000 accounts, 3,000,000
    .venv/bin/python benchmarks/eod.py --accounts 10000 --contracts 30000
    .venv/bin/python benchmarks/eod.py --prepared var/bench/eod.sqlite   # build once, reuse
    .venv/bin/python benchmarks/eod.py --accounts 3000 --contracts 9000 --journal-digest
    .venv/bin/python benchmarks/eod.py --accounts 100000 --contracts 300000 --collection-day

The book (seeded): the demo reference data of 2026-11-20; each client deposits cash and
opens its share of the contracts (margin buys of financing targets at their reference
prices, 1–20 lots, used on a day of the last ~185 calendar days, so some are near or past
their maturity), about 1% of the clients leveraged near the lines.  Everything is posted
through the ledger's checked write path.  Building it is not timed (it is printed); the
end of day then runs on a copy of the prepared store, as ``liangrong eod run`` would: the
first end of day of the book (charges accrued through the day before), no session that
day (the reference prices stand as the closes).  Each step's time is printed as wall and
as CPU time, this process's and its workers' (the accrual's batch builder) together (the
machine is shared: the CPU time moves less with the load),
then each step's recorded digest (and with ``--journal-digest`` the journal's), which must
not change when only the speed does.

The day is an ordinary one: the firm has recorded no collection policy.  With
``--collection-day`` the demo firm's (monthly on the 20th) is recorded first (not timed), so
the day is also a collection day: the ``collect`` step takes every client's charges from its
cash (CON-6), once a month.

With ``--post-pending`` every contract's pending charges (``--posting subledger``) are then
posted to their contracts at the day's close, as ``liangrong eod post-pending DATE`` does,
and timed on a line of their own: the cost a firm pays when it wants its contracts'
accounts complete (the collection day posts the same for the contracts no cash paid).

With ``--next-day`` the end of day of the next trading day (the Monday after: three days
accrue) runs after it on the same store, in a process of its own as each day's ``liangrong
eod run`` is, and is timed too: a routine day, whose
reconciliation stands on the first day's checkpoint (``eod/ledger_control.py``) instead of
checking every key against the whole journal.  No outside files come for it (the clearing
and bank checks list them as missing: two differences, expected).

With ``--resident`` each day runs as the service runs it, on a resident book
(``ledger/resident.py``): the contract table, the debt rows and the clients' collateral are
read once before the day (timed on a line of their own: the service does it before its
session opens), and each step's reading catches them up with the journal instead of
reading the book again.  The next day (``--next-day``) still runs in a process of its
own, which reads its resident book first: a service started that morning.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from datetime import date, datetime, timedelta
from fractions import Fraction
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from sqlalchemy import Engine, func, select

from liangrong.domain import operations as ops
from liangrong.domain.contracts import ContractKind, ContractTerms
from liangrong.domain.interest import ChargePosting
from liangrong.domain.journal import Transaction
from liangrong.eod.post_pending import post_pending
from liangrong.eod.runner import run
from liangrong.eod.settings import EodSettings, demo_policies
from liangrong.eod.steps import STEP_NAMES
from liangrong.ledger import schema as s
from liangrong.ledger.digest import journal_digest
from liangrong.ledger.engine import open_engine
from liangrong.ledger.journal import MAX_BATCH_TRANSACTIONS, CreditAccountOpening, Ledger
from liangrong.ledger.resident import ResidentBook
from liangrong.sim.demo_loader import load_demo
from liangrong.sim.external_sides import ExternalSides
from liangrong.sim.fee_seed import fee_schedule_on
from liangrong.sim.identity_seed import seed_identity_documents
from liangrong.sim.reference_day import ReferenceDay, load_reference_day
from liangrong.sim.session import CST
from liangrong.store.collections import seed_demo_collection_policy
from liangrong.store.migrate import upgrade

DAY = date(2026, 11, 20)
NEXT_DAY = date(2026, 11, 23)  # the trading day after DAY (a Friday): the Monday
SEED = 20261120
RATE = Fraction("0.0835")
LOOKBACK_DAYS = 185
OPENINGS_PER_COMMIT = 50_000
ONE_DAY = "--one-day"  # the child of ``--next-day``: one day on the store given


def _clock() -> datetime:
    return datetime(2026, 11, 20, 8, 0, tzinfo=CST)


def _client(number: int) -> str:
    return f"B{number:07d}"


def _book(ref: ReferenceDay, accounts: int, contracts: int, seed: int) -> Iterator[Transaction]:
    """Each client's deposit and contracts, in client order."""
    rng = random.Random(seed)
    targets = sorted(
        symbol
        for symbol in ref.firm_lists.financing_targets
        if symbol in ref.previous_close_li and ref.securities[symbol].lot.minimum == 100
    )
    days = [
        d
        for d in (DAY - timedelta(days=n) for n in range(1, LOOKBACK_DAYS))
        if ref.calendar.is_trading_day(d)
    ]
    funded = DAY - timedelta(days=LOOKBACK_DAYS + 10)
    per_client, extra = divmod(contracts, accounts)
    for number in range(1, accounts + 1):
        client = _client(number)
        owned: list[Transaction] = []
        total = 0
        for k in range(per_client + (number <= extra)):
            symbol = targets[rng.randrange(len(targets))]
            price = ref.previous_close_li[symbol]
            quantity = 100 * rng.randint(1, 20)
            amount = quantity * price // 10
            used = days[rng.randrange(len(days))]
            maturity = ref.calendar.maturity_date(used, 6)
            terms = ContractTerms(
                f"{client}-{k}", ContractKind.FINANCING, client, symbol, quantity, amount,
                price, used, used, maturity, ref.calendar.is_provisional(maturity), Fraction(1),
                "bench", RATE,
            )  # fmt: skip
            owned.append(ops.open_financing(f"bench:{client}:{k}", terms))
            total += amount
        leveraged = rng.randrange(100) == 0
        cash = max(
            100_00,
            total * rng.randint(5, 25) // 100 if leveraged else total * rng.randint(60, 200) // 100,
        )
        yield ops.deposit_cash(f"bench:{client}:cash", funded, client, cash)
        yield from owned


def prepare(path: Path, accounts: int, contracts: int, seed: int = SEED) -> dict[str, float]:
    """Build the prepared store (migrated, reference data, the book)."""
    started = time.perf_counter()
    engine = open_engine(f"sqlite:///{path}")
    upgrade(engine)
    load_demo(engine, DAY, clock=_clock, collection_policy=False)  # --collection-day adds it
    ref = load_reference_day(engine, DAY)
    ticks = iter(range(10**12))
    ledger = Ledger(engine, lambda: _clock() + timedelta(microseconds=next(ticks)))
    opened = DAY - timedelta(days=LOOKBACK_DAYS + 20)
    for start in range(1, accounts + 1, OPENINGS_PER_COMMIT // 2):
        numbers = range(start, min(start + OPENINGS_PER_COMMIT // 2, accounts + 1))
        ledger.open_credit_accounts(
            [
                CreditAccountOpening(
                    f"bench:open:{_client(n)}:{x}", _client(n), x, "客户", "客户", opened
                )
                for n in numbers
                for x in ("SH", "SZ")
            ]
        )
    ledger.post(ops.fund_pool("bench:pool", opened, "CNY", 10**16))
    batch: list[Transaction] = []
    posted = 0
    for txn in _book(ref, accounts, contracts, seed):
        batch.append(txn)
        if len(batch) == MAX_BATCH_TRANSACTIONS:
            ledger.post_batch(batch)
            posted += len(batch)
            batch = []
            if posted % 500_000 == 0:
                print(f"  posted {posted:,} transactions", flush=True)
    if batch:
        ledger.post_batch(batch)
    # The clearing house's and the bank's files of the day, so that the reconciliation
    # checks every position and every client's cash against them, as in production.
    ExternalSides.open(engine, DAY, fee_schedule_on(DAY), "bench:").deliver(engine, DAY, _clock)
    engine.dispose()  # checkpoints the WAL: the store is one file to copy
    top_up(path, accounts, opened)
    return {"prepare_s": time.perf_counter() - started}


def top_up(path: Path, accounts: int, opened: date) -> None:
    """What a store prepared by an earlier version lacks, added (idempotent, not timed):
    the later migrations and the clients' identity documents on file (CLI-6)."""
    engine = open_engine(f"sqlite:///{path}")
    upgrade(engine)
    clients = [_client(n) for n in range(1, accounts + 1)]
    seed_identity_documents(engine, clients, opened, SEED, clock=_clock)
    engine.dispose()


def make_collection_day(path: Path) -> None:
    """Record the demo firm's collection policy: ``DAY`` (the 20th) then collects."""
    engine = open_engine(f"sqlite:///{path}")
    seed_demo_collection_policy(engine, clock=_clock)
    engine.dispose()


def _count(engine: Engine, table: object) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(table)).scalar_one())  # type: ignore[arg-type]


def _forget(path: Path) -> None:
    """Let the OS drop the prepared store's cached pages: a firm's end of day has one store,
    not a second copy of it competing for the page cache (at 1,000,000 accounts the two
    would not fit in memory beside the end of day's own)."""
    with path.open("rb") as file:
        os.posix_fadvise(file.fileno(), 0, 0, os.POSIX_FADV_DONTNEED)


def _cpu() -> float:
    """CPU seconds of this process and of its children that ended (a step's worker has
    ended when the next step begins)."""
    times = os.times()
    return times.user + times.system + times.children_user + times.children_system


def run_eod(
    path: Path,
    reports: Path,
    batch: int,
    day: date = DAY,
    posting: ChargePosting = ChargePosting.DAILY,
    resident: ResidentBook | None = None,
) -> tuple[dict[str, float], dict[str, str]]:
    """The end of day of ``day`` on the store at ``path`` (on the ``resident`` book if
    given): seconds per step (wall, and the process's and its workers' CPU: the machine is
    shared) and each step's recorded digest."""
    engine = open_engine(f"sqlite:///{path}")
    settings = EodSettings(
        reports,
        policies=demo_policies(posting),
        batch_transactions=batch,
        accrued_through=DAY - timedelta(days=1),
    )
    ends: dict[str, tuple[float, float]] = {}
    started, cpu_started = time.perf_counter(), _cpu()

    def progress(step: str, done: int, total: int) -> None:
        if ends and step not in ends:  # the step before has ended: say so (a long run)
            print(f"  … {list(ends)[-1]} done at {ends[list(ends)[-1]][0]:.1f} s", flush=True)
        ends[step] = (time.perf_counter() - started, _cpu() - cpu_started)

    report = run(engine, day, settings, progress, resident=resident)
    total, cpu_total = time.perf_counter() - started, _cpu() - cpu_started
    assert report.complete
    figures = {"eod_s": total, "eod_cpu_s": cpu_total}
    previous = (0.0, 0.0)
    for name in STEP_NAMES:
        figures[f"{name}_s"] = ends[name][0] - previous[0]
        figures[f"{name}_cpu_s"] = ends[name][1] - previous[1]
        previous = ends[name]
    figures["record_s"] = total - previous[0]
    figures["record_cpu_s"] = cpu_total - previous[1]
    accrual = report.records["accrue"].summary
    figures["contracts"] = float(accrual["contracts"])
    figures["accrued"] = float(accrual["accrued"])
    figures["transactions"] = float(accrual["transactions"])
    collected = report.records["collect"].summary
    figures["collected_clients"] = float(collected.get("clients", 0))
    figures["pending_posted"] = float(collected.get("pending_posted", {}).get("contracts", 0))
    figures["accounts"] = float(_count(engine, s.credit_accounts) // 2)
    differences = report.records["reconcile"].summary["differences"]
    figures["differences"] = float(sum(differences.values()))
    figures["control_total"] = float(
        report.records["reconcile"].summary["balances_check"] == "control_total"
    )
    digests = {name: report.records[name].digest for name in STEP_NAMES}
    engine.dispose()
    if resident is not None:
        figures |= {f"resident_{'_'.join(k).replace(' ', '_')}": float(n)
                    for k, n in resident.reads.items()}  # fmt: skip
    return figures, digests


def load_resident(path: Path) -> tuple[ResidentBook, dict[str, float]]:
    """The resident book of the store at ``path``, as the service reads it before its
    session, timed."""
    engine = open_engine(f"sqlite:///{path}")
    resident = ResidentBook()
    started, cpu_started = time.perf_counter(), _cpu()
    with engine.connect() as conn:
        table, rows, collateral = resident.load(conn)
    seconds, cpu = time.perf_counter() - started, _cpu() - cpu_started
    engine.dispose()
    print(
        f"resident book loaded (before the day, as the service does): {table.size:,} "
        f"contracts, {rows.size:,} debt rows, {collateral.size:,} collateral figures: "
        f"{seconds:.2f} s wall, {cpu:.2f} s cpu"
    )
    return resident, {"resident_load_s": seconds, "resident_load_cpu_s": cpu}


def time_post_pending(path: Path, day: date, batch: int) -> dict[str, float]:
    """``liangrong eod post-pending`` at ``day``'s close on the store at ``path``, timed."""
    engine = open_engine(f"sqlite:///{path}")
    started, cpu_started = time.perf_counter(), _cpu()
    posted = post_pending(engine, day, batch)
    seconds, cpu = time.perf_counter() - started, _cpu() - cpu_started
    engine.dispose()
    print(
        f"post-pending at the close of {day}: {posted.contracts:,} contracts' pending "
        f"({posted.fen:,} fen) in {posted.transactions:,} transactions: "
        f"{seconds:.2f} s wall, {cpu:.2f} s cpu"
    )
    return {
        "post_pending_s": seconds,
        "post_pending_contracts": float(posted.contracts),
        "post_pending_transactions": float(posted.transactions),
    }


def main(argv: Sequence[str] | None = None) -> dict[str, float]:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--accounts", type=int, default=1_000_000)
    parser.add_argument("--contracts", type=int, default=3_000_000)
    parser.add_argument(
        "--batch", type=int, default=MAX_BATCH_TRANSACTIONS, help="accrual transactions per commit"
    )
    parser.add_argument("--prepared", type=Path, help="prepared store to build once and reuse")
    parser.add_argument(
        "--collection-day",
        action="store_true",
        help="record the demo firm's collection policy first: the day also collects charges",
    )
    parser.add_argument(
        "--journal-digest",
        action="store_true",
        help="also print the SHA-256 of the journal after the end of day (slow at full size)",
    )
    parser.add_argument(
        "--posting",
        choices=[p.value for p in ChargePosting],
        default=ChargePosting.DAILY.value,
        help="where the accrual books the charges: on each contract daily, or the subledger",
    )
    parser.add_argument(
        "--post-pending",
        action="store_true",
        help="then post every contract's pending charges at the day's close, timed",
    )
    parser.add_argument(
        "--next-day",
        action="store_true",
        help="then time the next trading day's end of day too (a routine day)",
    )
    parser.add_argument(
        "--resident",
        action="store_true",
        help="run on a resident book, read before the day (timed apart), as the service does",
    )
    args = parser.parse_args(argv)
    posting = ChargePosting(args.posting)
    with tempfile.TemporaryDirectory(prefix="eod-bench-") as folder:
        work = Path(folder)
        prepared = args.prepared or work / "prepared.sqlite"
        figures: dict[str, float] = {}
        if prepared.exists():
            print(f"reusing the prepared store {prepared}")
        else:
            prepared.parent.mkdir(parents=True, exist_ok=True)
            print(
                f"preparing {args.accounts:,} accounts, {args.contracts:,} contracts …", flush=True
            )
            figures |= prepare(prepared, args.accounts, args.contracts)
            print(f"prepared in {figures['prepare_s']:.1f} s (not timed below)")
        shutil.copy(prepared, work / "store.sqlite")
        _forget(prepared)
        if args.prepared is not None:  # built by this version or an earlier one
            top_up(work / "store.sqlite", args.accounts, DAY - timedelta(days=LOOKBACK_DAYS + 20))
        if args.collection_day:
            make_collection_day(work / "store.sqlite")
        resident = None
        if args.resident:
            resident, loaded = load_resident(work / "store.sqlite")
            figures |= loaded
        timed, digests = run_eod(
            work / "store.sqlite", work / "reports", args.batch, DAY, posting, resident
        )
        figures |= timed
        if args.journal_digest:
            engine = open_engine(f"sqlite:///{work / 'store.sqlite'}")
            digests["journal"] = journal_digest(engine).sha256
            engine.dispose()
        _print(DAY, figures, digests)
        if args.post_pending:
            figures |= time_post_pending(work / "store.sqlite", DAY, args.batch)
        if args.next_day:
            store, reports = work / "store.sqlite", work / "reports"
            following, digests = _in_own_process(
                store, reports, args.batch, NEXT_DAY, posting, args.resident
            )
            _print(NEXT_DAY, following, digests)
            figures |= {f"next_{name}": value for name, value in following.items()}
    return figures


def _in_own_process(
    path: Path, reports: Path, batch: int, day: date, posting: ChargePosting, resident: bool
) -> tuple[dict[str, float], dict[str, str]]:
    """``run_eod`` in a new process, as ``liangrong eod run`` runs each day: the day starts
    with none of the day before's memory (at 1,000,000 accounts gigabytes that Python keeps
    once it has had them).  A plain child (not ``multiprocessing``, whose helper process
    would outlive the call), its figures handed back in a file."""
    answer = path.with_name("next_day.json")
    args = [str(path), str(reports), str(batch), day.isoformat(), str(answer), posting.value]
    args += ["resident"] if resident else []
    subprocess.run([sys.executable, __file__, ONE_DAY, *args], check=True)
    figures, digests = json.loads(answer.read_text())
    return figures, digests


def _one_day(args: Sequence[str]) -> None:
    path, reports, batch, day, answer, posting = args[:6]
    resident, loaded = load_resident(Path(path)) if args[6:] == ["resident"] else (None, {})
    figures, digests = run_eod(
        Path(path), Path(reports), int(batch), date.fromisoformat(day), ChargePosting(posting),
        resident,
    )  # fmt: skip
    Path(answer).write_text(json.dumps((loaded | figures, digests)))


def _print(day: date, figures: dict[str, float], digests: dict[str, str]) -> None:
    print(
        f"end of day of {day}: {figures['accounts']:,.0f} accounts, "
        f"{figures['contracts']:,.0f} open contracts ({figures['accrued']:,.0f} accrued in "
        f"{figures['transactions']:,.0f} transactions), charges collected from "
        f"{figures['collected_clients']:,.0f} clients (pending posted on "
        f"{figures['pending_posted']:,.0f} contracts), reconciliation differences "
        f"{figures['differences']:.0f}, balances checked "
        + ("by control total" if figures["control_total"] else "in full")
    )
    print(f"  {'step':<12} {'wall':>8}   {'cpu':>8}")
    for name in (*STEP_NAMES, "record"):
        print(f"  {name:<12} {figures[f'{name}_s']:8.2f} s {figures[f'{name}_cpu_s']:8.2f} s")
    print(f"  {'total':<12} {figures['eod_s']:8.2f} s {figures['eod_cpu_s']:8.2f} s")
    reads = {k[len("resident_") :]: v for k, v in figures.items() if k.startswith("resident_")}
    if reads:
        print("  resident book, readings so far: " + ", ".join(
            f"{name} {count:.0f}" for name, count in sorted(reads.items())
            if not name.startswith("load")))  # fmt: skip
    print("digests (equal for equal results):")
    for name, digest in digests.items():
        print(f"  {name:<12} {digest}")


if __name__ == "__main__":
    if sys.argv[1:2] == [ONE_DAY]:
        _one_day(sys.argv[2:])
    else:
        main()
