"""A small run of the stress benchmark so it stays alive (no speed is asserted)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))

import stress as stress_benchmark


def test_stress_benchmark_runs_on_the_pool_and_on_dask(capsys: pytest.CaptureFixture[str]) -> None:
    figures = stress_benchmark.main(
        ["--accounts", "3000", "--scenarios", "40", "--workers", "2", "--dask-threads"]
    )
    assert figures["accounts"] == 3000 and figures["scenarios"] == 40
    assert 0 < figures["stressed_accounts"] < 3000  # accounts owing nothing are left out
    assert figures["local_s"] > 0 and figures["dask_s"] > 0
    assert figures["identical"] == 1.0  # every scenario's fingerprint, pool against dask
    out = capsys.readouterr().out
    assert "local pool, 2 worker(s)" in out and "identical results: yes" in out
    assert "scenarios: 40 (" in out and "preset" in out and "worst scenario: " in out
