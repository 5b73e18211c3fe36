"""A producer run in a forked worker process, its items handed back in order: the accrual
builds its next ledger batches on the machine's other core while this process writes.

Invariants:
- the items are exactly what ``produce()`` yields in this process, in the same order (the
  worker runs the same pure code on a copy of this process's memory at the fork);
- the worker never touches the store: ``produce`` must not, and the worker leaves without
  closing what it inherited (``multiprocessing`` ends a forked child with ``os._exit``);
- an exception in the worker is raised here (the original one when it can be sent, else a
  ``RuntimeError`` carrying its traceback); a worker that stops without saying so is an
  error too, never a short stream;
- at most ``depth`` items wait between the two, so memory stays bounded;
- a worker whose parent died (a SIGKILL of the end of day) exits within a poll; leaving the
  ``with`` block, done or not, stops the worker.
"""

from __future__ import annotations

import multiprocessing
import os
import pickle
import queue
import traceback
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

T = TypeVar("T")

_POLL_S = 1.0  # how often a waiting side checks that the other is still there
_ITEM, _END, _ERROR = "item", "end", "error"


@contextmanager
def forked(produce: Callable[[], Iterable[T]], depth: int = 2) -> Iterator[Iterator[T]]:
    """``produce()``'s items, produced in a worker forked on entry (so it works while the
    caller does something else first), stopped on exit; in this process where the platform
    cannot fork."""
    assert depth >= 1
    if "fork" not in multiprocessing.get_all_start_methods():
        yield iter(produce())
        return
    context = multiprocessing.get_context("fork")
    channel: Any = context.Queue(maxsize=depth)
    worker = context.Process(
        target=_work, args=(produce, channel, os.getpid()), name="liangrong-producer", daemon=True
    )
    worker.start()
    try:
        yield _items(channel, worker)
    finally:
        if worker.is_alive():
            worker.terminate()
        worker.join()
        channel.close()


def _items(channel: Any, worker: Any) -> Iterator[Any]:
    while True:
        kind, value = _receive(channel, worker)
        if kind == _END:
            return
        if kind == _ERROR:
            raise value
        yield value


def _receive(channel: Any, worker: Any) -> tuple[str, Any]:
    while True:
        try:
            return channel.get(timeout=_POLL_S)  # type: ignore[no-any-return]
        except queue.Empty:
            if worker.is_alive():
                continue
        try:  # it may have sent its last words just before it ended
            return channel.get(timeout=_POLL_S)  # type: ignore[no-any-return]
        except queue.Empty:
            raise RuntimeError(
                f"the producer's worker ended (exit code {worker.exitcode}) before its end"
            ) from None


def _work(produce: Callable[[], Iterable[Any]], channel: Any, parent: int) -> None:
    try:
        for item in produce():
            _send(channel, (_ITEM, item), parent)
        _send(channel, (_END, None), parent)
    except BaseException as error:  # everything goes back to the parent
        _send(channel, (_ERROR, _portable(error)), parent)


def _send(channel: Any, message: tuple[str, Any], parent: int) -> None:
    while True:
        try:
            channel.put(message, timeout=_POLL_S)
            return
        except queue.Full:
            if os.getppid() != parent:  # orphaned: nobody will read it
                os._exit(1)


def _portable(error: BaseException) -> BaseException:
    """The exception itself if it survives pickling, else one that carries its traceback."""
    try:
        pickle.loads(pickle.dumps(error))
    except Exception:  # any failure to pickle: send the text
        text = "".join(traceback.format_exception(error))
        return RuntimeError(f"in the producer's worker:\n{text}")
    return error
