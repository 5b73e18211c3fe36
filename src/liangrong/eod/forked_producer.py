"""A producer run in forked worker processes, its items handed back in order: the accrual
builds its next ledger batches on the machine's other cores while this process writes.

Invariants:
- the items are exactly what ``produce(k, workers)`` yields in this process for each worker
  ``k``, interleaved in a fixed order (a worker runs the same pure code on a copy of this
  process's memory at the fork);
- the worker never touches the store: ``produce`` must not, and the worker leaves without
  closing what it inherited (``multiprocessing`` ends a forked child with ``os._exit``);
- an exception in the worker is raised here (the original one when it can be sent, else a
  ``RuntimeError`` carrying its traceback); a worker that stops without saying so is an
  error too, never a short stream;
- at most ``depth`` items a worker wait to be taken, so memory stays bounded;
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
_DONE = object()


@contextmanager
def forked(
    produce: Callable[[int, int], Iterable[T]], workers: int = 1, depth: int = 2
) -> Iterator[Iterator[T]]:
    """The items of ``produce(0, workers)``, ``produce(1, workers)``, … interleaved (item
    ``n`` is ``n // workers`` of worker ``n mod workers``), produced in workers forked on
    entry (so they work while the caller does something else first) and stopped on exit;
    in this process where the platform cannot fork."""
    assert workers >= 1 and depth >= 1
    if "fork" not in multiprocessing.get_all_start_methods():
        yield _interleaved([iter(produce(k, workers)) for k in range(workers)])
        return
    context = multiprocessing.get_context("fork")
    channels: list[Any] = [context.Queue(maxsize=depth) for _ in range(workers)]
    processes = [
        context.Process(
            target=_work,
            args=(produce, k, workers, channels[k], os.getpid()),
            name=f"liangrong-producer-{k}",
            daemon=True,
        )
        for k in range(workers)
    ]
    for process in processes:
        process.start()
    try:
        yield _interleaved([_items(c, p) for c, p in zip(channels, processes, strict=True)])
    finally:
        for process in processes:
            if process.is_alive():
                process.terminate()
            process.join()
        for channel in channels:
            channel.close()


def _interleaved(streams: list[Iterator[T]]) -> Iterator[T]:
    """One item of each stream in turn; once one ends, every other must end too (item
    ``n`` of a stream exists only if item ``n`` of the ones before it does)."""
    while True:
        for number, stream in enumerate(streams):
            item = next(stream, _DONE)
            if item is _DONE:
                later = [next(s, _DONE) is _DONE for s in streams[number + 1 :]]
                earlier = [next(s, _DONE) is _DONE for s in streams[:number]]
                if not all(later + earlier):
                    raise RuntimeError("the producer's workers ended unevenly")
                return
            yield item  # type: ignore[misc]


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


def _work(
    produce: Callable[[int, int], Iterable[Any]],
    worker: int,
    workers: int,
    channel: Any,
    parent: int,
) -> None:
    try:
        for item in produce(worker, workers):
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
