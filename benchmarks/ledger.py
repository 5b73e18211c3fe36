"""Ledger throughput: postings per second, committed in batches of 1,000 postings.

    .venv/bin/python benchmarks/ledger.py                      # SQLite (temp file)
    pg_virtualenv .venv/bin/python benchmarks/ledger.py --backend postgresql
    python3 run.py test  # runs a small size of this in tests/test_benchmarks.py

The workload is the book's own mix: deposits, margin buys (opening contracts), short sales,
charge accruals and repayments over many clients, every transaction fully checked
(purposes, pools, signs, idempotency) and committed with the store's durability settings.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, date, datetime
from fractions import Fraction
from pathlib import Path

from sqlalchemy import Engine, create_engine, text

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from liangrong.domain import accounts as acc
from liangrong.domain import operations as ops
from liangrong.domain.contracts import Allocation, ContractKind, ContractTerms
from liangrong.domain.journal import Transaction
from liangrong.ledger.engine import open_engine
from liangrong.ledger.journal import Ledger
from liangrong.store.migrate import upgrade

DAY = date(2026, 3, 2)
SECURITIES = ("600000.SH", "600036.SH", "000001.SZ", "300750.SZ")


def terms(kind: ContractKind, cid: str, client: str, security: str, amount: int) -> ContractTerms:
    return ContractTerms(
        contract_id=cid,
        kind=kind,
        client_id=client,
        security=security,
        quantity=100,
        amount_fen=amount,
        price_li=amount * 10 // 100,
        open_date=DAY,
        used_date=DAY,
        maturity=date(2026, 9, 2),
        maturity_provisional=False,
        margin_ratio=Fraction(1),
        rule_version="bench",
        annual_rate=Fraction(835, 10000),
    )


def workload(clients: list[str], tag: str) -> Iterator[Transaction]:
    """An endless, deterministic mix of the book's transactions."""
    n = 0
    while True:
        for i, client in enumerate(clients):
            n += 1
            security = SECURITIES[(n + i) % len(SECURITIES)]
            step = n % 5
            if step == 0:
                yield ops.deposit_cash(f"{tag}-d{n}", DAY, client, 1_000_00)
            elif step == 1:
                cid = f"{tag}F{n}"
                yield ops.open_financing(
                    cid, terms(ContractKind.FINANCING, cid, client, security, 500_00)
                )
                yield ops.accrue_charges(f"{tag}-a{n}", DAY, client, cid, 12)
                yield ops.repay_financing(f"{tag}-r{n}", DAY, client, [Allocation(cid, 12, 200_00)])
            elif step == 2:
                cid = f"{tag}S{n}"
                yield ops.open_short(cid, terms(ContractKind.SHORT, cid, client, security, 300_00))
            else:
                yield ops.deposit_cash(f"{tag}-d{n}", DAY, client, 10_00)


def batches(source: Iterator[Transaction], postings_per_batch: int) -> Iterator[list[Transaction]]:
    while True:
        batch: list[Transaction] = []
        count = 0
        while count < postings_per_batch:
            txn = next(source)
            batch.append(txn)
            count += sum(len(leg.postings) for leg in txn.legs)
        yield batch


def prepare(engine: Engine, clients: int) -> tuple[Ledger, list[str], str]:
    ledger = Ledger(engine, lambda: datetime.now(UTC))
    tag = uuid.uuid4().hex[:6]
    names = [f"B{tag}{i}" for i in range(clients)]
    ledger.post(ops.fund_pool(f"{tag}-fund-cash", DAY, acc.CASH_ASSET, 10**15))
    for security in SECURITIES:
        ledger.post(ops.fund_pool(f"{tag}-fund-{security}", DAY, security, 10**12))
    for name in names:
        ledger.open_credit_account(f"{tag}-open-{name}", name, "SH", name, name, DAY)
        ledger.open_credit_account(f"{tag}-open-{name}-SZ", name, "SZ", name, name, DAY)
    ledger.post_batch([ops.deposit_cash(f"{tag}-seed-{name}", DAY, name, 10**9) for name in names])
    return ledger, names, tag


def measure(engine: Engine, batch_count: int, clients: int, batch_size: int) -> dict[str, float]:
    ledger, names, tag = prepare(engine, clients)
    source = batches(workload(names, tag), batch_size)
    postings = 0
    elapsed = 0.0
    for _ in range(batch_count):
        batch = next(source)
        started = time.perf_counter()
        ledger.post_batch(batch)
        elapsed += time.perf_counter() - started
        postings += sum(len(leg.postings) for txn in batch for leg in txn.legs)
    return {"postings": postings, "seconds": elapsed, "postings_per_s": postings / elapsed}


def postgres_url() -> str:
    host = os.environ.get("PGHOST")
    if not host:
        raise SystemExit("PostgreSQL needs PGHOST etc.: run under pg_virtualenv")
    user, password = os.environ.get("PGUSER", "postgres"), os.environ.get("PGPASSWORD", "")
    base = f"postgresql+psycopg://{user}:{password}@{host}:{os.environ.get('PGPORT', '5432')}"
    name = f"bench_{uuid.uuid4().hex[:8]}"
    admin = create_engine(f"{base}/postgres", isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return f"{base}/{name}"


def run(backend: str, batch_count: int, clients: int, batch_size: int) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{tmp}/bench.sqlite" if backend == "sqlite" else postgres_url()
        engine = open_engine(url)
        upgrade(engine)
        try:
            return measure(engine, batch_count, clients, batch_size)
        finally:
            engine.dispose()


def main(argv: list[str] | None = None) -> dict[str, dict[str, float]]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", choices=["sqlite", "postgresql", "both"], default="sqlite")
    parser.add_argument("--batches", type=int, default=100)
    parser.add_argument("--batch-postings", type=int, default=1000)
    parser.add_argument("--clients", type=int, default=1000)
    args = parser.parse_args(argv)
    backends = ["sqlite", "postgresql"] if args.backend == "both" else [args.backend]
    results = {}
    for backend in backends:
        figures = run(backend, args.batches, args.clients, args.batch_postings)
        results[backend] = figures
        print(
            f"ledger {backend:10s} batches={args.batches} x ~{args.batch_postings} postings "
            f"clients={args.clients}: {figures['postings']:.0f} postings in "
            f"{figures['seconds']:.2f} s = {figures['postings_per_s']:,.0f} postings/s"
        )
    return results


if __name__ == "__main__":
    main()
