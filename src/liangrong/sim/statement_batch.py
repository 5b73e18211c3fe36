"""Every credit client's statement for a period, written as files by a resumable batch
(ACC-5, REP-6): ``statement_CLIENT_FROM_TO.json`` always, ``.pdf`` on request, then a
manifest ``manifest_FROM_TO.csv`` (client, file, sha256) once every statement is written.

Invariants:
- a file under its final name is complete, even after a power cut: the files of a group (up
  to ``GROUP_STATEMENTS`` statements) are written under temporary names (``.partial``), made
  durable together by one ``os.sync``, then renamed over their final names and the folder
  synced (group commit: one sync per group instead of two ``fsync`` per file, which cost a
  few ms a file and dominated the batch); a crash leaves at most the group's temporary files;
- a rerun skips every client whose files all exist and writes only the missing ones; a
  statement's bytes depend only on the store and the period (canonical JSON; WeasyPrint's PDF
  of the same HTML and font), so a run interrupted and resumed gives the same files as one
  run straight through, and so the same manifest;
- the manifest exists only after a run that finished: a run with work to do removes a stale
  one first; it lists every credit client of the store, sorted, each file with its sha256;
- ``stop_after`` (a simulated crash, for tests) writes at most that many statements, the
  workers claiming each under one lock, and leaves no manifest.

Parallelism: statement building is CPU-bound (measured on 2,000 clients: ~15% of the time in
the store's reads, the rest planning the agreements, valuing the accounts and rendering), so
with ``workers`` > 1 the pending clients are cut into one contiguous shard per worker, each
read with ``load_statements`` in a forked process with its own engine.  One shard per worker,
not many small ones: each ``load_statements`` call plans the generated book's agreements and
reads the reference data once, a fixed cost per call.  Workers add each committed group to
a shared counter the parent polls for ``progress``.
"""

from __future__ import annotations

import hashlib
import multiprocessing
import os
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import FIRST_EXCEPTION, ProcessPoolExecutor, wait
from dataclasses import dataclass
from datetime import date
from multiprocessing.sharedctypes import Synchronized
from pathlib import Path

from sqlalchemy import Engine, select

from liangrong.domain.statement import Statement
from liangrong.ledger import schema as s
from liangrong.ledger.engine import open_engine
from liangrong.reports.statement_render import (
    PdfFont,
    find_cjk_font,
    statement_json_bytes,
    statement_pdf_bytes,
)
from liangrong.sim.statement_source import CHUNK_CLIENTS, Progress, load_statements

GROUP_STATEMENTS = 128  # statements made durable and renamed together
MANIFEST_HEADER = ("client_id", "file", "sha256")
POLL_SECONDS = 0.2  # how often the parent reads the workers' counter


def statement_file_name(client: str, start: date, end: date, extension: str) -> str:
    return f"statement_{client}_{start.isoformat()}_{end.isoformat()}.{extension}"


def manifest_file_name(start: date, end: date) -> str:
    return f"manifest_{start.isoformat()}_{end.isoformat()}.csv"


def credit_clients(engine: Engine) -> list[str]:
    """Every client with a credit account in the store, sorted."""
    table = s.credit_accounts
    with engine.connect() as conn:
        rows = conn.execute(select(table.c.client_id).distinct().order_by(table.c.client_id))
        return [client for (client,) in rows]


@dataclass(frozen=True, slots=True)
class BatchJob:
    store_url: str  # each worker opens its own engine on it
    start: date
    end: date
    out: Path
    pdf: bool = False
    workers: int = 1
    chunk_clients: int = CHUNK_CLIENTS
    stop_after: int | None = None  # write at most this many statements, then stop

    def __post_init__(self) -> None:
        if self.start > self.end:
            raise ValueError(f"the period ends ({self.end}) before it starts ({self.start})")
        if self.workers < 1:
            raise ValueError("workers: at least 1")

    @property
    def extensions(self) -> tuple[str, ...]:
        return ("json", "pdf") if self.pdf else ("json",)

    def paths(self, client: str) -> dict[str, Path]:
        """Extension -> the client's file."""
        return {
            ext: self.out / statement_file_name(client, self.start, self.end, ext)
            for ext in self.extensions
        }

    @property
    def manifest(self) -> Path:
        return self.out / manifest_file_name(self.start, self.end)


@dataclass(frozen=True, slots=True)
class BatchResult:
    clients: int  # credit clients in the store
    written: int  # statements written by this run
    skipped: int  # clients whose files were all there already
    manifest: Path | None  # None: the run stopped before the end

    @property
    def complete(self) -> bool:
        return self.manifest is not None


# --------------------------------------------------------------------------- group commit


class _Group:
    """Files written under temporary names, then made durable and renamed together."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.files: list[tuple[Path, Path]] = []  # (temporary, final)
        self.statements = 0

    def add(self, path: Path, data: bytes) -> None:
        partial = path.with_name(path.name + ".partial")
        partial.write_bytes(data)
        self.files.append((partial, path))

    def commit(self) -> int:
        """Make the group durable, rename it; returns how many statements it held."""
        if self.files:
            os.sync()  # the data first: a name never points at a file not on disk
            for partial, path in self.files:
                os.replace(partial, path)
            directory = os.open(self.folder, os.O_RDONLY)
            try:
                os.fsync(directory)  # then the renames
            finally:
                os.close(directory)
        committed, self.files, self.statements = self.statements, [], 0
        return committed


def write_files(folder: Path, files: Sequence[tuple[Path, bytes]]) -> None:
    """Write some files into ``folder`` as one group (temporary names, sync, rename)."""
    folder.mkdir(parents=True, exist_ok=True)
    group = _Group(folder)
    for path, data in files:
        group.add(path, data)
    group.commit()


# --------------------------------------------------------------------------- counters


@dataclass(frozen=True)
class _Counters:
    """Shared by the parent and its forked workers (inherited, never pickled)."""

    claimed: Synchronized[int]
    done: Synchronized[int]
    limit: int | None

    def claim(self) -> bool:
        """One more statement may be written (False: the limit is reached)."""
        with self.claimed.get_lock():
            if self.limit is not None and self.claimed.value >= self.limit:
                return False
            self.claimed.value += 1
            return True

    def finished(self, statements: int) -> None:
        with self.done.get_lock():
            self.done.value += statements


def _counters(limit: int | None) -> _Counters:
    context = multiprocessing.get_context("fork")
    return _Counters(context.Value("q", 0), context.Value("q", 0), limit)


# --------------------------------------------------------------------------- one shard


def _files(statement: Statement, extensions: Sequence[str], font: PdfFont | None) -> Iterator[
    tuple[str, bytes]
]:  # fmt: skip
    for ext in extensions:
        if ext == "json":
            yield ext, statement_json_bytes(statement)
        else:
            assert font is not None
            yield ext, statement_pdf_bytes(statement, font)


def _write_shard(
    job: BatchJob,
    font: PdfFont | None,
    clients: Sequence[str],
    counters: _Counters,
    after_group: Callable[[], None] = lambda: None,
) -> int:
    """Write the missing files of ``clients``; returns how many statements were written."""
    engine = open_engine(job.store_url)
    group, written = _Group(job.out), 0

    def commit() -> None:
        nonlocal written
        committed = group.commit()
        written += committed
        counters.finished(committed)
        after_group()

    try:
        statements = load_statements(
            engine, job.start, job.end, clients, chunk_clients=job.chunk_clients
        )
        for statement in statements:
            if not counters.claim():
                break
            paths = job.paths(statement.client_id)
            missing = [ext for ext, path in paths.items() if not path.exists()]
            for ext, data in _files(statement, missing, font):
                group.add(paths[ext], data)
            group.statements += 1
            if group.statements >= GROUP_STATEMENTS:
                commit()
        commit()
    finally:
        engine.dispose()
    return written


_WORKER: dict[str, _Counters] = {}  # what a forked worker finds in its copy of this module


def _start_worker(counters: _Counters) -> None:
    _WORKER["counters"] = counters


def _pooled_shard(job: BatchJob, font: PdfFont | None, clients: Sequence[str]) -> int:
    return _write_shard(job, font, clients, _WORKER["counters"])


def shards(clients: Sequence[str], count: int) -> list[Sequence[str]]:
    """``clients`` cut into at most ``count`` contiguous, nearly equal, non-empty parts."""
    count = max(1, min(count, len(clients)))
    size, extra = divmod(len(clients), count)
    parts, begin = [], 0
    for index in range(count):
        end = begin + size + (1 if index < extra else 0)
        parts.append(clients[begin:end])
        begin = end
    return [part for part in parts if part]


# --------------------------------------------------------------------------- the batch


def _run_pool(
    job: BatchJob, font: PdfFont | None, pending: Sequence[str], counters: _Counters,
    report: Callable[[int], None],
) -> int:  # fmt: skip
    parts = shards(pending, job.workers)
    context = multiprocessing.get_context("fork")
    with ProcessPoolExecutor(
        len(parts), mp_context=context, initializer=_start_worker, initargs=(counters,)
    ) as pool:
        futures = [pool.submit(_pooled_shard, job, font, part) for part in parts]
        waiting = set(futures)
        while waiting:
            _, waiting = wait(waiting, timeout=POLL_SECONDS, return_when=FIRST_EXCEPTION)
            report(counters.done.value)
            if any(f.done() and f.exception() is not None for f in futures):
                break
        return sum(f.result() for f in futures)  # raises a worker's error


def _write_manifest(job: BatchJob, clients: Sequence[str]) -> Path:
    """CSV (UTF-8, CRLF); client ids and file names hold no comma or quote to escape."""
    lines = [",".join(MANIFEST_HEADER)]
    for client in clients:
        for path in job.paths(client).values():
            digest = hashlib.sha256(path.read_bytes()).hexdigest()
            lines.append(f"{client},{path.name},{digest}")
    write_files(job.out, [(job.manifest, ("\r\n".join(lines) + "\r\n").encode("utf-8"))])
    return job.manifest


def _nothing(_done: int, _total: int) -> None:
    pass


def run_batch(job: BatchJob, progress: Progress = _nothing) -> BatchResult:
    """Write every credit client's statement of the period that is not written yet, then the
    manifest; ``progress(done, total)`` counts clients whose files are all written."""
    engine = open_engine(job.store_url)
    try:
        clients = credit_clients(engine)
    finally:
        engine.dispose()  # no connection is open when the workers fork
    pending = [c for c in clients if not all(p.exists() for p in job.paths(c).values())]
    skipped = len(clients) - len(pending)
    font = find_cjk_font() if job.pdf and pending else None  # NoCjkFont before any work
    job.out.mkdir(parents=True, exist_ok=True)
    if pending:
        job.manifest.unlink(missing_ok=True)
    counters = _counters(job.stop_after)
    progress(skipped, len(clients))

    def report(done: int) -> None:
        progress(skipped + done, len(clients))

    if not pending:
        written = 0
    elif job.workers == 1 or len(pending) == 1:
        tick = lambda: report(counters.done.value)  # noqa: E731
        written = _write_shard(job, font, pending, counters, tick)
    else:
        written = _run_pool(job, font, pending, counters, report)
    if skipped + written < len(clients):
        return BatchResult(len(clients), written, skipped, None)
    return BatchResult(len(clients), written, skipped, _write_manifest(job, clients))
