"""The forked producer (``eod/forked_producer.py``): the worker's items in order, its errors
raised here, its death an error, and no worker left behind."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from liangrong.domain.rejections import LedgerCode, Rejection
from liangrong.eod.forked_producer import forked


def _squares(n: int, worker: int, workers: int) -> Iterator[tuple[int, int, int]]:
    for i in range(worker, n, workers):
        yield (i, i * i, os.getpid())


@pytest.mark.parametrize("workers", [1, 2, 3])
def test_items_come_in_order_from_other_processes(workers: int) -> None:
    with forked(lambda k, n: _squares(50, k, n), workers, depth=3) as items:
        got = list(items)
    assert [(i, sq) for i, sq, _ in got] == [(i, i * i) for i in range(50)]
    makers = {pid for _, _, pid in got}
    assert len(makers) == workers and os.getpid() not in makers  # made in the workers


def test_workers_that_end_unevenly_are_an_error() -> None:
    def uneven(worker: int, workers: int) -> Iterator[int]:
        yield from range(3 if worker else 1)

    with forked(uneven, 2) as items, pytest.raises(RuntimeError, match="unevenly"):
        list(items)


def test_an_error_in_the_worker_is_raised_here_as_itself() -> None:
    def failing(worker: int, workers: int) -> Iterator[int]:
        yield 1
        raise Rejection(LedgerCode.OVERDRAWN, "client:C1:cash")

    with forked(failing) as items, pytest.raises(Rejection) as raised:
        assert next(items) == 1
        next(items)
    assert raised.value.code is LedgerCode.OVERDRAWN


def test_an_error_that_cannot_be_sent_comes_back_as_its_traceback() -> None:
    class Local(Exception):  # a local class does not pickle
        pass

    def failing(worker: int, workers: int) -> Iterator[int]:
        raise Local("deep inside")
        yield 0

    with forked(failing) as items, pytest.raises(RuntimeError, match="deep inside"):
        list(items)


def test_a_worker_that_dies_is_an_error_not_a_short_stream() -> None:
    def dying(worker: int, workers: int) -> Iterator[int]:
        yield 1
        os._exit(3)

    with forked(dying) as items, pytest.raises(RuntimeError, match="exit code 3"):
        list(items)


def test_leaving_early_stops_the_worker() -> None:
    def endless(worker: int, workers: int) -> Iterator[int]:
        n = 0
        while True:
            n += 1
            yield n

    with forked(endless, 2) as items:
        assert [next(items), next(items)] == [1, 1]
        workers = _children()
        assert len(workers) == 2
    time.sleep(0.1)
    assert not set(workers) & set(_children())


_ORPHANING = """
import os, sys, time
sys.path.insert(0, {src!r})
from liangrong.eod.forked_producer import forked
def endless(worker, workers):
    n = 0
    while True:
        n += 1
        yield n
with forked(endless) as items:
    next(items)
    print(os.getpid(), flush=True)
    time.sleep(60)
"""


def test_a_worker_whose_parent_is_killed_exits(tmp_path: Path) -> None:
    src = str(Path(__file__).resolve().parents[1] / "src")
    parent = subprocess.Popen(
        [sys.executable, "-c", _ORPHANING.format(src=src)], stdout=subprocess.PIPE, text=True
    )
    assert parent.stdout is not None
    assert int(parent.stdout.readline()) == parent.pid
    workers = _children(parent.pid)
    assert len(workers) == 1
    parent.send_signal(signal.SIGKILL)
    parent.wait()
    deadline = time.monotonic() + 10
    while _alive(workers[0]) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not _alive(workers[0])


def _children(pid: int | None = None) -> list[int]:
    """The live child processes of ``pid`` (this process by default), from /proc."""
    parent = os.getpid() if pid is None else pid
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            fields = stat.rsplit(")", 1)[1].split()
            if int(fields[1]) == parent and fields[0] != "Z":
                found.append(int(entry.name))
    return found


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"
