"""A small run of the end-of-day benchmark so it stays alive (no speed is asserted)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))

import eod as eod_benchmark

from liangrong.eod.steps import STEP_NAMES


def test_eod_benchmark_runs(capsys: pytest.CaptureFixture[str]) -> None:
    figures = eod_benchmark.main(["--accounts", "300", "--contracts", "900", "--batch", "100"])
    assert figures["accounts"] == 300 and figures["contracts"] == 900
    # every contract owes principal at the close: each accrues, one transaction per client
    assert figures["accrued"] == 900 and figures["transactions"] == 300
    assert figures["differences"] == 0 and figures["collected_clients"] == 0  # no policy
    assert all(figures[f"{name}_s"] >= 0 for name in STEP_NAMES)
    out = capsys.readouterr().out
    assert "accrue" in out and "reconcile" in out and "total" in out


def test_eod_benchmark_runs_a_collection_day(capsys: pytest.CaptureFixture[str]) -> None:
    """With the demo firm's policy recorded the day also collects: every client has cash
    and owes the day's charges, so each pays; the bank counts it in transit (no difference)."""
    figures = eod_benchmark.main(
        ["--accounts", "200", "--contracts", "600", "--batch", "100", "--collection-day"]
    )
    assert figures["collected_clients"] == 200 and figures["differences"] == 0
    assert "charges collected from 200 clients" in capsys.readouterr().out


def test_eod_benchmark_runs_the_next_day(capsys: pytest.CaptureFixture[str]) -> None:
    """The routine day after: its balances check stands on the first day's checkpoint; no
    outside files came for it (the clearing and bank checks list them missing)."""
    figures = eod_benchmark.main(
        ["--accounts", "200", "--contracts", "600", "--batch", "100", "--next-day"]
    )
    assert figures["control_total"] == 0 and figures["next_control_total"] == 1
    assert figures["differences"] == 0 and figures["next_differences"] == 2
    assert figures["next_accrued"] == 600 and figures["next_transactions"] == 200
    assert "end of day of 2026-11-23" in capsys.readouterr().out


def test_eod_benchmark_runs_the_subledger(capsys: pytest.CaptureFixture[str]) -> None:
    """The charges booked as pending: one control posting a day instead of one transaction
    per client; the collection day posts the pending of what each client pays.  Both days
    accrue, collect and reconcile as the daily posting does (the control account too)."""
    days = ["--accounts", "200", "--contracts", "600", "--batch", "100", "--collection-day",
            "--next-day"]  # fmt: skip
    daily = eod_benchmark.main([*days, "--posting", "daily"])
    subledger = eod_benchmark.main([*days, "--posting", "subledger"])
    assert subledger["transactions"] == subledger["next_transactions"] == 1
    assert daily["transactions"] == daily["next_transactions"] == 200
    same = ("accrued", "collected_clients", "differences", "contracts")
    for name in (*same, *(f"next_{name}" for name in same)):
        assert subledger[name] == daily[name], name
    assert subledger["accrued"] == 600 and subledger["collected_clients"] == 200
    assert "end of day of 2026-11-23" in capsys.readouterr().out


def test_eod_benchmark_posts_the_pending_on_request(capsys: pytest.CaptureFixture[str]) -> None:
    """An ordinary day under the subledger leaves every contract's charges pending; posting
    them at its close takes one transaction per client (48 contracts a leg, 3 here), and
    the next day accrues as before."""
    figures = eod_benchmark.main(
        ["--accounts", "200", "--contracts", "600", "--batch", "100", "--posting", "subledger",
         "--post-pending", "--next-day"]
    )  # fmt: skip
    assert figures["post_pending_contracts"] == 600
    assert figures["post_pending_transactions"] == 200
    assert figures["next_accrued"] == 600 and figures["next_differences"] == 2
    assert "post-pending at the close of 2026-11-20: 600 contracts' pending" in (
        capsys.readouterr().out
    )


def _digest_lines(out: str) -> list[str]:
    """The printed digests of every day, in order."""
    fields = [line.split() for line in out.splitlines()]
    return [" ".join(f) for f in fields if len(f) == 2 and len(f[1]) == 64]


def test_eod_benchmark_runs_on_a_resident_book(capsys: pytest.CaptureFixture[str]) -> None:
    """Each day on a resident book read before it (its load on a line of its own): every
    step's digest is a cold run's, on both days and both postings."""
    days = ["--accounts", "200", "--contracts", "600", "--batch", "100", "--collection-day",
            "--next-day"]  # fmt: skip
    for posting in ("daily", "subledger"):
        cold = eod_benchmark.main([*days, "--posting", posting])
        cold_digests = _digest_lines(capsys.readouterr().out)
        resident = eod_benchmark.main([*days, "--posting", posting, "--resident"])
        out = capsys.readouterr().out
        assert _digest_lines(out) == cold_digests and len(cold_digests) == 2 * len(STEP_NAMES)
        assert "resident book loaded (before the day, as the service does): 600 contracts" in out
        assert resident["resident_load_s"] >= 0 and resident["next_resident_load_s"] >= 0
        assert resident["resident_contracts_fresh"] == 1 == resident["next_resident_debts_fresh"]
        assert resident["resident_collateral_fresh"] == 1  # the load; the statuses catch up
        assert resident["resident_collateral_caught_up"] >= 1
        for name in ("accrued", "collected_clients", "differences", "next_differences"):
            assert resident[name] == cold[name], name
