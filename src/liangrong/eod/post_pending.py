"""Every contract's pending charges posted to its own charges account on request, at the
close of a day whose end of day is complete (``liangrong eod post-pending DATE``; design step
4 of ``docs/charges-subledger.md``): for a firm that wants the contracts' accounts to hold
every charge at a month's end without collecting.

Invariants:
- only at the close of the latest day whose end of day has begun, once it is complete: the
  postings are dated that day, and no later day's accrual has begun (written its state);
- a contract's whole pending goes, every kind at once; what the client owes is unchanged
  and the control account moves toward zero by as much;
- the plan is the pending before the first run began: the pending now plus what these
  command ids (``store.collections.pending_posting_prefix``, the collection day's own, so
  after a collection day's end of day there is nothing left and its postings replay) have
  posted so far.  A rerun after a crash therefore builds the very same transactions, and
  the committed ones replay.  Had anything else posted a planned contract's pending in
  between, its client's transaction would differ and the ledger refuse the id: nothing is
  posted twice;
- the transactions are recorded at fixed moments after the end of day's last step.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from sqlalchemy import Engine

from liangrong.eod.accrual import batched
from liangrong.eod.accrual_pending import postings_by_client
from liangrong.eod.context import EOD_START, STEP_MINUTES
from liangrong.eod.steps import STEP_NAMES
from liangrong.ledger.journal import Ledger
from liangrong.sim.session import CST, SimClock
from liangrong.store.charges_pending import book_pending, contract_clients, last_accrual_begun
from liangrong.store.collections import pending_posted_under, pending_posting_prefix
from liangrong.store.eod_records import steps_by_date

Progress = Callable[[int, int], None]  # (transactions posted, planned)


class PostPendingRefused(RuntimeError):
    """The pending charges cannot be posted at that day's close (the reason says why)."""


@dataclass(frozen=True)
class PendingPosted:
    """What a run posted (or found posted by an earlier run of the same day)."""

    day: date
    contracts: int
    clients: int
    transactions: int
    replayed: int  # of the transactions, those an earlier run had posted
    fen_by_kind: dict[str, int] = field(default_factory=dict)

    @property
    def fen(self) -> int:
        return sum(self.fen_by_kind.values())


def _check_day(engine: Engine, day: date) -> None:
    by_date = steps_by_date(engine)
    done = by_date.get(day, set())
    if set(done) != set(STEP_NAMES):
        raise PostPendingRefused(
            f"the end of day of {day} is not complete ({len(done)}/{len(STEP_NAMES)} "
            "steps): the pending charges are posted at the close of a finished day"
        )
    with engine.connect() as conn:
        begun = last_accrual_begun(conn)
    later = sorted({d for d in by_date if d > day} | ({begun} if begun and begun > day else set()))
    if later:
        raise PostPendingRefused(
            f"the end of day of {later[0]} has begun: the pending charges can be posted "
            f"only at the close of the latest day (postings dated {day} would come after "
            "a later accrual took them on)"
        )


def _moment(day: date, batch: int) -> datetime:
    """After the end of day's last step, a millisecond a batch."""
    start = datetime.combine(day, EOD_START, CST)
    return start + timedelta(minutes=STEP_MINUTES * len(STEP_NAMES), milliseconds=batch)


def _pending_before(
    engine: Engine, day: date
) -> tuple[dict[str, Mapping[str, int]], dict[str, str]]:
    """The pending before the first run began (contract -> kind -> fen), and whose each is."""
    with engine.connect() as conn:
        pending = {
            **book_pending(conn).by_contract,
            **pending_posted_under(conn, pending_posting_prefix(day)),
        }
        return pending, contract_clients(conn, pending)


def post_pending(
    engine: Engine, day: date, batch_transactions: int, progress: Progress = lambda *_: None
) -> PendingPosted:
    """Post every contract's pending charges at ``day``'s close (see the module)."""
    _check_day(engine, day)
    pending, whose = _pending_before(engine, day)
    txns = postings_by_client(pending_posting_prefix(day), day, pending, whose)
    clock = SimClock(_moment(day, 0))
    ledger = Ledger(engine, clock)
    posted = replayed = 0
    for number, batch in enumerate(batched(txns, batch_transactions)):
        clock.set(_moment(day, number))
        replayed += sum(result.replayed for result in ledger.post_batch(batch))
        posted += len(batch)
        progress(posted, len(txns))
    progress(posted, posted)
    by_kind: dict[str, int] = defaultdict(int)
    for kinds in pending.values():
        for kind, fen in kinds.items():
            by_kind[kind] += fen
    clients = len(set(whose.values()))
    return PendingPosted(
        day, len(pending), clients, posted, replayed, dict(sorted(by_kind.items()))
    )
