"""Copies of a store for a drill, and the digests a drill compares."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from time import perf_counter
from typing import TypeVar

from liangrong.ledger.engine import open_engine
from liangrong.store.backup import BackupSummary, Progress, back_up
from liangrong.store.drill_records import DrillRecord, save_drill
from liangrong.store.reference import Clock, stamp

T = TypeVar("T")


def sqlite_url(path: Path) -> str:
    return f"sqlite:///{path}"


def back_up_now(
    url: str, path: Path, clock: Clock, progress: Progress | None = None
) -> BackupSummary:
    """A backup of the store at ``url`` from one snapshot (writers go on meanwhile)."""
    return back_up(url, path, taken_at=stamp(clock), progress=progress)


def folder_digests(folder: Path) -> dict[str, str]:
    """Each file under ``folder`` (relative path) and its SHA-256."""
    if not folder.exists():
        return {}
    return {
        path.relative_to(folder).as_posix(): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(folder.rglob("*"))
        if path.is_file()
    }


class Stopwatch:
    """Milliseconds per named phase (the drill's figures keep no floats)."""

    def __init__(self) -> None:
        self.ms: dict[str, int] = {}

    def time(self, name: str, work: Callable[[], T]) -> T:
        started = perf_counter()
        result = work()
        self.ms[name] = round((perf_counter() - started) * 1000)
        return result


@dataclass(frozen=True, slots=True)
class DrillRun:
    """What a drill found: its record as saved, and each problem in words."""

    record: DrillRecord
    problems: list[str]


def finish(
    url: str, kind: str, started: datetime, performed_by: str, clock: Clock,
    figures: dict[str, object], problems: list[str],
) -> DrillRun:  # fmt: skip
    """Record the drill in the store it examined; passed when no problem was found."""
    started_at = started.isoformat(timespec="microseconds")
    record = DrillRecord(
        f"drill:{kind}:{started_at}", kind, started_at, stamp(clock), performed_by,
        not problems, {**figures, "problems": problems},
    )  # fmt: skip
    engine = open_engine(url)
    try:
        save_drill(engine, record)
    finally:
        engine.dispose()
    return DrillRun(record, problems)
