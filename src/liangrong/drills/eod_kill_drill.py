"""The end-of-day crash drill: the day's end of day is run on one copy of the store without
interruption, and on another copy killed (SIGKILL) at seeded random moments, then rerun to
the end, as an operator would after a crash; both copies must then hold the same rows and
the same report files (the plan's "end of day interrupted" case, docs/emergency.md).

Each run is the real command (``python -m liangrong.cli.eod run``) in its own process."""

from __future__ import annotations

import random
import subprocess
import sys
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from liangrong.drills.copies import (
    DrillRun,
    Stopwatch,
    back_up_now,
    finish,
    folder_digests,
    sqlite_url,
)
from liangrong.ledger.engine import open_engine
from liangrong.store.backup import restore_backup
from liangrong.store.calendar_loads import load_calendar
from liangrong.store.eod_records import completed_steps, steps_by_date
from liangrong.store.reference import Clock

KIND = "eod_kill"
LAST_STEP = "reconcile"


class DrillRefused(ValueError):
    """The drill cannot run on this store as asked; nothing was recorded."""


@dataclass(frozen=True, slots=True)
class _Copy:
    name: str
    url: str
    reports: Path


def drill_day(url: str) -> date:
    """The trading day after the store's last completed end of day."""
    engine = open_engine(url)
    try:
        done = [day for day, steps in steps_by_date(engine).items() if LAST_STEP in steps]
        if not done:
            raise DrillRefused("no completed end of day in the store: give the day to drill")
        return load_calendar(engine).next_trading_day(max(done))
    finally:
        engine.dispose()


def eod_kill_drill(
    url: str, workdir: Path, *, day: date, kills: int, seed: int, performed_by: str,
    clock: Clock,
) -> DrillRun:  # fmt: skip
    """Kill the end of day of ``day`` ``kills`` times on a copy, finish it, and compare it
    with an uninterrupted run on another copy."""
    started, watch = clock(), Stopwatch()
    backup = workdir / "drill-source.lrb"
    watch.time("backup_ms", lambda: back_up_now(url, backup, clock))
    clean, killed = (_copy(backup, workdir, name) for name in ("clean", "killed"))
    _check_day(clean.url, day)
    clean_code = watch.time("clean_run_ms", lambda: _run(clean, day, workdir))
    rng = random.Random(seed)
    kill_points = [_kill_once(killed, day, workdir, rng.uniform(0, watch.ms["clean_run_ms"]))
                   for _ in range(kills)]  # fmt: skip
    final_code = watch.time("rerun_ms", lambda: _run(killed, day, workdir))
    clean_rows = back_up_now(clean.url, workdir / "drill-clean.lrb", clock)
    killed_rows = back_up_now(killed.url, workdir / "drill-killed.lrb", clock)
    problems = _problems(clean_code, final_code, clean_rows.content_sha256,
                         killed_rows.content_sha256, clean, killed)  # fmt: skip
    figures = {**watch.ms, "day": day.isoformat(), "kills": kills, "seed": seed,
               "kill_points": kill_points, "content_sha256": clean_rows.content_sha256,
               "report_files": len(folder_digests(clean.reports))}  # fmt: skip
    return finish(url, KIND, started, performed_by, clock, figures, problems)


def _check_day(url: str, day: date) -> None:
    engine = open_engine(url)
    try:
        if not load_calendar(engine).is_trading_day(day):
            raise DrillRefused(f"{day} is not a trading day")
    finally:
        engine.dispose()
    if LAST_STEP in _done(url, day):
        raise DrillRefused(f"the end of day of {day} is already complete in the store")


def _copy(backup: Path, workdir: Path, name: str) -> _Copy:
    copy = _Copy(name, sqlite_url(workdir / f"drill-{name}.sqlite"), workdir / f"reports-{name}")
    engine = open_engine(copy.url)
    try:
        restore_backup(backup, engine)
    finally:
        engine.dispose()
    return copy


def _command(copy: _Copy, day: date) -> list[str]:
    return [sys.executable, "-m", "liangrong.cli.eod", "run", day.isoformat(),
            "--store", copy.url, "--reports", str(copy.reports)]  # fmt: skip


def _run(copy: _Copy, day: date, workdir: Path) -> int:
    with (workdir / f"drill-{copy.name}.log").open("ab") as log:
        return subprocess.run(_command(copy, day), stdout=log, stderr=log, check=False).returncode


def _kill_once(copy: _Copy, day: date, workdir: Path, after_ms: float) -> dict[str, object]:
    """Start the end of day, SIGKILL it ``after_ms`` later unless it ended; say where it was."""
    with (workdir / f"drill-{copy.name}.log").open("ab") as log:
        process = subprocess.Popen(_command(copy, day), stdout=log, stderr=log)
        try:
            process.wait(timeout=after_ms / 1000)
            killed = False
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
            killed = True
    return {"after_ms": round(after_ms), "killed": killed, "steps_done": len(_done(copy.url, day))}


def _done(url: str, day: date) -> set[str]:
    engine = open_engine(url)
    try:
        return set(completed_steps(engine, day))
    finally:
        engine.dispose()


def _problems(
    clean_code: int, final_code: int, clean_sha: str, killed_sha: str, clean: _Copy, killed: _Copy
) -> list[str]:
    problems = []
    if clean_code != 0:
        problems.append(f"the uninterrupted end of day exited {clean_code}")
    if final_code != 0:
        problems.append(f"the rerun after the kills exited {final_code}")
    if clean_sha != killed_sha:
        problems.append("the store killed and rerun holds other rows than the uninterrupted one")
    clean_files, killed_files = folder_digests(clean.reports), folder_digests(killed.reports)
    if clean_files != killed_files:
        differing = sorted(set(clean_files.items()) ^ set(killed_files.items()))
        problems.append(f"report files differ: {sorted({name for name, _ in differing})}")
    return problems
