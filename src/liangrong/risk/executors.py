"""Where independent pieces of work run: the executor port (RISK-12's scenarios × accounts).

``Executor.run(task, shared, items)`` calls ``task(shared, item)`` for every item and yields
the results **in the order of the items**, whatever order they finish in.  ``shared`` is the
large read-only input every call needs (the stress book): each executor hands it to its
workers once, never once per item.

- ``LocalPoolExecutor`` (the default): a ``concurrent.futures.ProcessPoolExecutor`` whose
  workers are forked from this process after ``shared`` is set aside, so they inherit it
  (copy on write) without pickling it; one worker runs the items inline, in this process.
- ``DaskExecutor``: a ``dask.distributed.Client`` (a cluster, or a ``LocalCluster``);
  ``shared`` is scattered to every worker once (``broadcast``).  dask is an optional extra
  (``pip install liangrong[cluster]``) and is imported only when this executor is made.

Invariants: tasks must be pure functions of (shared, item) and importable by name (a
module-level function), so any executor gives the same results for the same inputs; an
executor never reorders, drops or repeats a result.
"""

from __future__ import annotations

import importlib
import multiprocessing
import os
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from contextlib import contextmanager
from typing import Any, Protocol, TypeVar

S = TypeVar("S")
T = TypeVar("T")
R = TypeVar("R")


class Executor(Protocol):
    """Runs ``task(shared, item)`` for each item; yields the results in item order."""

    def run(self, task: Callable[[S, T], R], shared: S, items: Sequence[T]) -> Iterator[R]: ...


# --- the local process pool -------------------------------------------------------------

# dask's nannies start workers with MALLOC_TRIM_THRESHOLD_=65536, which also turns off
# glibc's adaptive mmap threshold: every array over 128 KiB is then mapped and unmapped
# afresh, and the stress pass (a few MB per temporary) runs 3-4x slower.  The local cluster
# leaves it unset; a remote cluster's workers should too (set it to null in their config).
TRIM_SETTING = "distributed.nanny.pre-spawn-environ.MALLOC_TRIM_THRESHOLD_"

_INHERITED: dict[str, Any] = {}  # what a forked worker finds in its copy of this module


def _call_inherited(task: Callable[[Any, Any], Any], item: Any) -> Any:
    return task(_INHERITED["shared"], item)


class LocalPoolExecutor:
    """Worker processes forked from this one; ``workers`` defaults to the CPU count."""

    def __init__(self, workers: int | None = None) -> None:
        self.workers = max(1, workers or os.cpu_count() or 1)

    def run(self, task: Callable[[S, T], R], shared: S, items: Sequence[T]) -> Iterator[R]:
        if self.workers == 1 or len(items) <= 1:
            for item in items:
                yield task(shared, item)
            return
        if _INHERITED:
            raise RuntimeError("a local pool run is already under way in this process")
        _INHERITED["shared"] = shared  # before the fork: the workers inherit it
        context = multiprocessing.get_context("fork")
        try:
            with ProcessPoolExecutor(min(self.workers, len(items)), mp_context=context) as pool:
                futures: list[Future[R]] = [
                    pool.submit(_call_inherited, task, item) for item in items
                ]
                for future in futures:
                    yield future.result()
        finally:
            _INHERITED.clear()


# --- dask.distributed -----------------------------------------------------------------------


class DaskExecutor:
    """Runs the items on a dask.distributed cluster through ``client``."""

    def __init__(self, client: Any) -> None:
        self.client = client  # a distributed.Client (untyped: dask is optional)

    def run(self, task: Callable[[S, T], R], shared: S, items: Sequence[T]) -> Iterator[R]:
        if not items:
            return
        shared_future = self.client.scatter(shared, broadcast=True, hash=False)
        futures = [self.client.submit(task, shared_future, item, pure=False) for item in items]
        try:
            for future in futures:
                yield future.result()
        finally:
            self.client.cancel([*futures, shared_future])


@contextmanager
def dask_executor(
    address: str | None = None, workers: int = 2, processes: bool = True
) -> Iterator[DaskExecutor]:
    """A ``DaskExecutor`` on the scheduler at ``address``, or on a ``LocalCluster`` of
    ``workers`` single-threaded workers (processes, or threads of this process) made for
    the occasion and closed afterwards."""
    try:
        dask: Any = importlib.import_module("dask")
        distributed: Any = importlib.import_module("distributed")
    except ImportError:  # pragma: no cover - the extra is installed in development
        raise RuntimeError(
            "dask.distributed is not installed: pip install 'liangrong[cluster]'"
        ) from None
    if address is not None:
        with distributed.Client(address) as client:
            yield DaskExecutor(client)
        return
    with (
        dask.config.set({TRIM_SETTING: None}),
        distributed.LocalCluster(
            n_workers=workers,
            threads_per_worker=1,
            processes=processes,
            dashboard_address=None,
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
        yield DaskExecutor(client)
