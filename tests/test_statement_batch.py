"""Every client's statement of a period as a resumable batch (ACC-5, REP-6): the files are the
statements, an interrupted run resumed gives the same bytes, the manifest lists them, the
progress callback sees every client."""

from __future__ import annotations

import hashlib
import sys
from datetime import date, timedelta
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from conftest import make_sqlite_engine
from liangrong.cli import statement as statement_cli
from liangrong.ledger.engine import open_engine
from liangrong.ledger.journal import Ledger
from liangrong.reports.statement_render import statement_json_bytes
from liangrong.sim.book_generator import generate_book
from liangrong.sim.reference_day import load_reference_day
from liangrong.sim.statement_batch import (
    MANIFEST_HEADER,
    BatchJob,
    credit_clients,
    run_batch,
    shards,
)
from liangrong.sim.statement_source import load_statements
from sim_helpers import DAY, load_reference, reference_clock

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))

import statements as statements_benchmark

CLIENTS = 4


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> str:
    engine = make_sqlite_engine(tmp_path_factory.mktemp("batch"))
    load_reference(engine)
    ticks = iter(range(10**9))

    def clock():
        return reference_clock() + timedelta(microseconds=next(ticks))

    generate_book(Ledger(engine, clock), load_reference_day(engine, DAY), 7, CLIENTS, clock=clock)
    url = str(engine.url)
    engine.dispose()
    return url


@pytest.fixture(scope="module")
def expected(store: str) -> dict[str, bytes]:
    """Each client's statement JSON, read in one go, by file name."""
    engine = open_engine(store)
    found = {
        f"statement_{s.client_id}_{DAY}_{DAY}.json": statement_json_bytes(s)
        for s in load_statements(engine, DAY, DAY)
    }
    engine.dispose()
    return found


@pytest.fixture(scope="module")
def straight(store: str, tmp_path_factory: pytest.TempPathFactory) -> dict[str, bytes]:
    """One run straight through, JSON and PDF, two workers: every file by name."""
    out = tmp_path_factory.mktemp("straight")
    result = run_batch(BatchJob(store, DAY, DAY, out, pdf=True, workers=2))
    assert result.complete and result.written == CLIENTS and result.skipped == 0
    return _files(out)


def _files(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


def _manifest(files: dict[str, bytes]) -> list[list[str]]:
    (name,) = [n for n in files if n.startswith("manifest_")]
    lines = files[name].decode("utf-8").split("\r\n")
    assert lines[0] == ",".join(MANIFEST_HEADER) and lines[-1] == ""
    return [line.split(",") for line in lines[1:-1]]


def test_every_client_json_and_pdf_and_the_manifest(store: str, straight, expected) -> None:
    engine = open_engine(store)
    clients = credit_clients(engine)
    engine.dispose()
    assert len(clients) == CLIENTS
    for name, data in expected.items():
        assert straight[name] == data
    pdfs = [name for name in straight if name.endswith(".pdf")]
    assert len(pdfs) == CLIENTS and all(straight[n].startswith(b"%PDF-") for n in pdfs)
    rows = _manifest(straight)
    assert [row[0] for row in rows] == [c for c in clients for _ in ("json", "pdf")]
    for client, name, digest in rows:
        assert name.startswith(f"statement_{client}_")
        assert digest == hashlib.sha256(straight[name]).hexdigest()
    assert len(straight) == 2 * CLIENTS + 1  # no temporary file left


def test_stopped_then_resumed_gives_the_same_files(store: str, straight, tmp_path: Path) -> None:
    job = BatchJob(store, DAY, DAY, tmp_path, pdf=True, workers=1, stop_after=2)
    stopped = run_batch(job)
    assert (stopped.written, stopped.skipped, stopped.complete) == (2, 0, False)
    written = _files(tmp_path)
    assert len(written) == 4 and not any(n.startswith("manifest_") for n in written)
    assert all(straight[name] == data for name, data in written.items())
    # a second crash, two workers claiming under one limit: exactly one more statement
    again = run_batch(BatchJob(store, DAY, DAY, tmp_path, pdf=True, workers=2, stop_after=1))
    assert (again.written, again.skipped, again.complete) == (1, 2, False)
    resumed = run_batch(BatchJob(store, DAY, DAY, tmp_path, pdf=True, workers=2))
    assert (resumed.written, resumed.skipped, resumed.complete) == (CLIENTS - 3, 3, True)
    assert _files(tmp_path) == straight


def test_a_lost_file_is_written_again(store: str, straight, tmp_path: Path) -> None:
    for name, data in straight.items():
        (tmp_path / name).write_bytes(data)
    lost = sorted(n for n in straight if n.endswith(".json"))[3]
    (tmp_path / lost).unlink()
    manifest = next(tmp_path.glob("manifest_*"))
    manifest.unlink()
    calls: list[tuple[int, int]] = []
    job = BatchJob(store, DAY, DAY, tmp_path, pdf=True, workers=1)
    result = run_batch(job, lambda done, total: calls.append((done, total)))
    assert (result.written, result.skipped) == (1, CLIENTS - 1)
    assert _files(tmp_path) == straight
    assert calls == [(CLIENTS - 1, CLIENTS), (CLIENTS, CLIENTS)]


def test_progress_counts_every_client(store: str, straight, tmp_path: Path) -> None:
    calls: list[tuple[int, int]] = []
    job = BatchJob(store, DAY, DAY, tmp_path, workers=2)
    result = run_batch(job, lambda done, total: calls.append((done, total)))
    assert result.complete and result.written == CLIENTS
    assert calls[0] == (0, CLIENTS) and calls[-1] == (CLIENTS, CLIENTS)
    assert [done for done, _ in calls] == sorted(done for done, _ in calls)
    json_only = _files(tmp_path)
    assert all(straight[n] == data for n, data in json_only.items() if n.endswith(".json"))
    rows = _manifest(json_only)
    assert len(rows) == CLIENTS and all(name.endswith(".json") for _, name, _ in rows)
    # nothing missing: a rerun writes nothing and rewrites the same manifest
    rerun = run_batch(job)
    assert (rerun.written, rerun.skipped) == (0, CLIENTS) and _files(tmp_path) == json_only


def test_shards_are_contiguous_and_cover_every_client() -> None:
    clients = [f"C{i:06d}" for i in range(7)]
    parts = shards(clients, 3)
    assert [len(p) for p in parts] == [3, 2, 2]
    assert [c for part in parts for c in part] == clients
    assert shards(clients[:1], 4) == [clients[:1]]


def _invoke(store: str, *args: str, start: date = DAY, end: date = DAY):
    app = typer.Typer()

    @app.callback()
    def root() -> None:
        """test root"""

    statement_cli.register(app)
    argv = ["statement", *args, "--from", str(start), "--to", str(end), "--store", store]
    return CliRunner().invoke(app, argv, env={"COLUMNS": "250"})


def test_command(store: str, expected, tmp_path: Path) -> None:
    out = tmp_path / "out"
    result = _invoke(store, "batch", "--out", str(out), "--workers", "1")
    assert result.exit_code == 0, result.output
    assert f"{CLIENTS} statements written, 0 already there" in result.stdout
    files = _files(out)
    assert {n: d for n, d in files.items() if n.endswith(".json")} == expected
    # the one-client form still works beside the batch
    client = sorted(expected)[0].split("_")[1]
    one = _invoke(store, client, "--format", "json", "--out", "-")
    assert one.exit_code == 0 and one.stdout_bytes == expected[sorted(expected)[0]]
    assert _invoke(store, "client", client, "--format", "json", "--out", "-").exit_code == 0


def test_both_commands_refuse_a_period_that_ends_before_it_starts(
    store: str, tmp_path: Path
) -> None:
    client = "C000001"
    before = str(DAY - timedelta(days=1))
    for args in (["batch", "--out", str(tmp_path / "out")], [client, "--out", "-"]):
        result = _invoke(store, *args, end=DAY - timedelta(days=1))
        assert result.exit_code == 2, result.output
        assert f"--from {DAY} is after --to {before}" in result.output
    assert not (tmp_path / "out").exists()


def test_benchmark_batch_runs(capsys: pytest.CaptureFixture[str]) -> None:
    figures = statements_benchmark.main(
        ["--clients", "8", "--minutes", "1", "--pdf", "0", "--batch", "1,2"]
    )
    assert figures["statements"] == 8
    assert figures["batch_1_per_s"] > 0 and figures["batch_2_per_s"] > 0
    out = capsys.readouterr().out
    assert "batch (JSON, 1 worker)" in out and "batch (JSON, 2 workers)" in out
