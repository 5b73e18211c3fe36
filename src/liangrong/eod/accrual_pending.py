"""The accrual's side of the charges subledger (``docs/charges-subledger.md``): the carried
pending charges as columns, what each contract owed when the step began, the day's one
control posting and the postings of settled contracts' pending, and what the context is told
after them.

Invariants: a pending charge is never dropped (one on a contract the book does not hold
stops the step, ``PendingNotCarried``); what the step owes before it is the same on a rerun
as on its first run (worked out from the accounts less its own postings, never from the
readers' pending now); every posting of pending takes a contract's whole pending.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from dataclasses import replace
from datetime import date

import numpy as np

from liangrong.domain import operations as ops
from liangrong.domain.collection import pending_to_post
from liangrong.domain.journal import Transaction
from liangrong.eod.accrual_kernel import KINDS, Ints
from liangrong.eod.book_view import ContractColumns
from liangrong.eod.context import StepRun
from liangrong.eod.owed import Owed, PendingNotCarried, owed_with
from liangrong.store.charges_pending import PendingCharges, posted_pending_since

CONTROL = "subledger"  # the control posting's part of the day's accrual command ids
KIND_INDEX = {kind.value: i for i, kind in enumerate(KINDS)}
KIND_NAMES = tuple(kind.value for kind in KINDS)


def carried_columns(cols: ContractColumns, carried: PendingCharges) -> Ints:
    """The carried pending charges by contract and kind, aligned with ``cols``."""
    pending = np.zeros((cols.size, len(KINDS)), np.int64)
    for kind, (ids, fens) in carried.kinds.items():
        rows = cols.positions_of(ids)
        missing = np.flatnonzero(rows < 0)
        if len(missing):
            cid = ids[int(missing[0])]
            raise PendingNotCarried(f"{cid} has {carried.totals()[cid]} fen pending")
        pending[rows, KIND_INDEX[kind]] = fens
    return pending


def owed_before(run: StepRun, position: int, carried: PendingCharges) -> Owed:
    """What each contract owed when the step began (at ``position``): the debt accounts
    less what a first run of the step posted of pending after it, plus the pending carried.
    Not the readers' pending now: after a crash that state may be this step's own.  Kept
    as the context's reading (``EodContext.keep_owed``) for the steps after."""
    rows = run.ctx.debt_rows()
    with run.ctx.engine.connect() as conn:
        posted = posted_pending_since(conn, position)
    owed = owed_with(run.ctx.contracts(), rows, carried, posted)
    run.ctx.keep_owed(rows, owed)
    return owed


def pending_postings_of(day: date, cols: ContractColumns, to_post: Ints) -> list[Transaction]:
    """The postings of the pending charges ``to_post`` (contracts, kinds) to their
    contracts (``postings_by_client``)."""
    pending: dict[str, Mapping[str, int]] = {}
    whose: dict[str, str] = {}
    for i in np.flatnonzero(to_post.sum(axis=1)).tolist():
        split = zip(KIND_NAMES, to_post[i].tolist(), strict=True)
        pending[cols.ids[i]] = {kind: fen for kind, fen in split if fen}
        whose[cols.ids[i]] = cols.clients[i]
    return postings_by_client(f"eod:{day.isoformat()}:charges-posted:", day, pending, whose)


def postings_by_client(
    prefix: str, day: date, pending: Mapping[str, Mapping[str, int]], whose: Mapping[str, str]
) -> list[Transaction]:
    """The postings of the ``pending`` charges (contract -> kind -> fen; ``whose``: contract
    -> client) to their contracts, dated ``day``: one transaction per client and
    ``CONTRACTS_PER_LEG`` contracts, in client order, command ids
    ``{prefix}{client}[:{part}]``."""
    by_client: dict[str, dict[str, Mapping[str, int]]] = defaultdict(dict)
    for cid, kinds in pending.items():
        by_client[whose[cid]][cid] = kinds
    postings = [
        replace(posting, command_id=prefix + client + (f":{part}" if part else ""))
        for client in sorted(by_client)
        for part, posting in enumerate(pending_to_post(client, by_client[client]))
    ]
    return ops.pending_postings(day, postings).transactions() if postings else []


def control_posting(day: date, booked: Ints) -> list[Transaction]:
    """The day's control posting of what was booked (by kind), if anything was."""
    totals = dict(zip(KIND_NAMES, booked.sum(axis=0).tolist(), strict=True))
    total = sum(totals.values())
    if not total:
        return []
    event = {"type": "charges_booked", "through": day.isoformat(), **totals}
    return [ops.control_accrual(f"eod:{day.isoformat()}:charges:{CONTROL}", day, total, event)]


def advance_pending(
    run: StepRun, cols: ContractColumns, posted_fen: Ints, booked_fen: Ints, fresh: int
) -> None:
    """Tell the context what the step's ``fresh`` transactions did under the subledger:
    ``posted_fen`` of pending reached the contracts' accounts, ``booked_fen`` more is owed."""
    booked = booked_fen > 0
    raised = (cols.rows[booked], booked_fen[booked])
    run.ctx.pending_booked(fresh, cols.positive(posted_fen), raised)
