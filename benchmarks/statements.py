"""Client statements at scale: every client's statement for a period, read in bulk from the
store, as canonical JSON; and PDFs for a smaller number of clients.

    .venv/bin/python benchmarks/statements.py                      # 2,000 clients, 20 PDFs
    .venv/bin/python benchmarks/statements.py --clients 10000 --pdf 50
    .venv/bin/python benchmarks/statements.py --prepared var/bench/statements.sqlite
    .venv/bin/python benchmarks/statements.py --batch 1,2 --batch-pdf   # PDFs in the batch too

The store (seeded, not timed, printed): the demo reference data and generated book of
2026-11-20, a session of ``--minutes`` on that day and on the next trading day (2026-11-23),
each followed by its end of day.  The statements cover 2026-11-23 (opening figures at the
close of the 20th, that day's fills and accruals, closing figures at its close).  Timed:
``load_statements`` over every client (bulk reads, ``--chunk`` clients at a time) with each
statement's JSON bytes; then the first ``--pdf`` clients' PDFs, when a font for Chinese is
installed (``fonts-noto-cjk``), else the PDF figures are skipped and the reason printed.
Then the batch (``liangrong statement batch``: every client's JSON written atomically, and the
manifest) once per worker count of ``--batch``, into a fresh folder each time, and a rerun
that finds every file written (what resuming costs when nothing is missing).
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from collections.abc import Sequence
from datetime import date
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from sqlalchemy import Engine

from liangrong.eod.runner import run
from liangrong.eod.settings import EodSettings, opening_accrual
from liangrong.ledger.engine import open_engine
from liangrong.reports.statement_render import (
    NoCjkFont,
    find_cjk_font,
    statement_json_bytes,
    statement_pdf_bytes,
)
from liangrong.sim.session import SessionConfig, run_session
from liangrong.sim.statement_batch import BatchJob, run_batch
from liangrong.sim.statement_source import CHUNK_CLIENTS, load_statements
from liangrong.store.migrate import upgrade

DAY, NEXT = date(2026, 11, 20), date(2026, 11, 23)
SEED = 20261123


def prepare(path: Path, clients: int, minutes: int, reports: Path) -> None:
    """Two trading days of the demo book, each with its session and end of day."""
    engine = open_engine(f"sqlite:///{path}")
    upgrade(engine)
    for day in (DAY, NEXT):
        run_session(engine, SessionConfig(clients=clients, minutes=minutes, seed=SEED, on=day))
        settings = EodSettings(reports, accrued_through=opening_accrual(engine))
        report = run(engine, day, settings)
        assert report.complete, report
    engine.dispose()


def _json_run(engine: Engine, chunk: int) -> dict[str, float]:
    started = time.perf_counter()
    count = size = trades = contracts = 0
    for statement in load_statements(engine, NEXT, NEXT, chunk_clients=chunk):
        size += len(statement_json_bytes(statement))
        count += 1
        trades += len(statement.trades)
        contracts += len(statement.contracts)
    seconds = time.perf_counter() - started
    return {
        "statements": count,
        "trades": trades,
        "contracts": contracts,
        "json_bytes": size,
        "json_s": seconds,
        "json_per_s": count / seconds,
    }


def _pdf_run(engine: Engine, clients: int) -> dict[str, float]:
    try:
        font = find_cjk_font()
    except NoCjkFont as exc:
        print(f"PDF skipped: {exc}")
        return {"pdf": 0}
    statements = list(load_statements(engine, NEXT, NEXT))[:clients]
    statement_pdf_bytes(statements[0], font)  # the first PDF loads WeasyPrint and the font
    started = time.perf_counter()
    size = sum(len(statement_pdf_bytes(s, font)) for s in statements)
    seconds = time.perf_counter() - started
    return {"pdf": len(statements), "pdf_bytes": size, "pdf_s": seconds,
            "pdf_per_s": len(statements) / seconds}  # fmt: skip


_BATCH_KEYS = ("s", "per_s", "rerun_s")


def _batch_run(url: str, folder: Path, workers: int, pdf: bool) -> dict[str, float]:
    """The batch into a fresh folder, then a rerun over the same folder."""
    out = folder / f"batch-{workers}"
    job = BatchJob(url, NEXT, NEXT, out, pdf=pdf, workers=workers)
    started = time.perf_counter()
    result = run_batch(job)
    seconds = time.perf_counter() - started
    assert result.complete and result.written == result.clients, result
    started = time.perf_counter()
    again = run_batch(job)
    rerun = time.perf_counter() - started
    assert again.written == 0 and again.skipped == result.clients, again
    key = f"batch_{workers}"
    return {f"{key}_s": seconds, f"{key}_per_s": result.written / seconds, f"{key}_rerun_s": rerun}


def main(argv: Sequence[str] | None = None) -> dict[str, float]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, default=2_000)
    parser.add_argument("--minutes", type=int, default=5, help="each session's length")
    parser.add_argument("--pdf", type=int, default=20, help="PDFs to render (0: none)")
    parser.add_argument("--chunk", type=int, default=CHUNK_CLIENTS, help="clients per read")
    parser.add_argument("--prepared", type=Path, help="build the store here once, then reuse")
    parser.add_argument("--batch", default="1,2", help="worker counts of the batch runs ('': none)")
    parser.add_argument("--batch-pdf", action="store_true", help="the batch writes PDFs too")
    args = parser.parse_args(argv)
    folder = Path(tempfile.mkdtemp(prefix="statements-"))
    try:
        path = args.prepared or folder / "store.sqlite"
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            started = time.perf_counter()
            prepare(path, args.clients, args.minutes, folder / "reports")
            print(f"prepared {args.clients:,} clients, two days: "
                  f"{time.perf_counter() - started:.1f} s (not timed)")  # fmt: skip
        engine = open_engine(f"sqlite:///{path}")
        figures: dict[str, float] = {"clients": args.clients, **_json_run(engine, args.chunk)}
        print(
            f"JSON: {figures['statements']:,} statements ({figures['contracts']:,} contracts, "
            f"{figures['trades']:,} trades) in {figures['json_s']:.2f} s: "
            f"{figures['json_per_s']:,.0f} statements/s"
        )
        if args.pdf:
            figures.update(_pdf_run(engine, args.pdf))
            if figures["pdf"]:
                print(f"PDF: {figures['pdf']:,} statements in {figures['pdf_s']:.2f} s: "
                      f"{figures['pdf_per_s']:,.1f} statements/s")  # fmt: skip
        engine.dispose()
        for workers in (int(w) for w in args.batch.split(",") if w):
            run_figures = _batch_run(f"sqlite:///{path}", folder, workers, args.batch_pdf)
            figures.update(run_figures)
            kind = "JSON+PDF" if args.batch_pdf else "JSON"
            seconds, rate, rerun = (run_figures[f"batch_{workers}_{k}"] for k in _BATCH_KEYS)
            print(f"batch ({kind}, {workers} worker{'s' if workers > 1 else ''}): "
                  f"{seconds:.2f} s: {rate:,.1f} statements/s; "
                  f"rerun, every file there: {rerun:.2f} s")  # fmt: skip
        return figures
    finally:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
