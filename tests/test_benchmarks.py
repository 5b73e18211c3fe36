"""Small-size runs of every benchmark so they stay alive (no speed is asserted here)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))

import ledger as ledger_benchmark
import pretrade as pretrade_benchmark

from conftest import _require_postgres


def test_ledger_benchmark_runs_on_sqlite(capsys: pytest.CaptureFixture[str]) -> None:
    results = ledger_benchmark.main(["--batches", "3", "--clients", "20"])
    figures = results["sqlite"]
    assert figures["postings"] >= 3000 and figures["postings_per_s"] > 0
    assert "postings/s" in capsys.readouterr().out


@pytest.mark.postgres
def test_ledger_benchmark_runs_on_postgresql() -> None:
    _require_postgres()
    results = ledger_benchmark.main(
        ["--backend", "postgresql", "--batches", "2", "--clients", "10"]
    )
    assert results["postgresql"]["postings"] >= 2000


def test_pretrade_benchmark_runs(capsys: pytest.CaptureFixture[str]) -> None:
    figures = pretrade_benchmark.main(["--accounts", "1000", "--orders", "5000"])
    assert figures["checks"] == 5000 and figures["checks_per_s"] > 0
    assert "p99" in capsys.readouterr().out
