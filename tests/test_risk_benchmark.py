"""A small run of the revaluation benchmark so it stays alive (no speed is asserted)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))

import revaluation as revaluation_benchmark


def test_revaluation_benchmark_runs(capsys: pytest.CaptureFixture[str]) -> None:
    figures = revaluation_benchmark.main(["--accounts", "3000", "--runs", "2", "--moves", "30"])
    assert figures["accounts"] == 3000 and figures["positions"] > 20_000
    assert figures["full_ms"] > 0 and figures["duckdb_ms"] > 0 and figures["floor_ms"] > 0
    # DuckDB's plain SQL and our rearranged vectorised pass compute the same figures.
    assert figures["agreement_accounts_equal"] == 1.0
    assert figures["agreement_max_rel_ratio"] < 1e-12
    assert figures["agreement_max_rel_available"] < 1e-9
    out = capsys.readouterr().out
    assert "full revaluation" in out and "DuckDB" in out and "floor" in out
