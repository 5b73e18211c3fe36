"""Python's cyclic garbage collector paused while a reading of the whole book is built.

Invariant: on leaving, the collector is enabled again exactly if it was on entering.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def collector_paused() -> Iterator[None]:
    """Readings of the whole book hold millions of long-lived objects (columns, maps by
    contract) and work makes millions of short-lived acyclic ones; the cyclic collector
    would rescan the long-lived ones again and again for the few cycles made meanwhile (a
    third of the accrual's time; the resident book's first reading at 1,000,000 accounts,
    96 s instead of about 25), so it waits until the work is over."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()
