"""The firm's collection policy (CON-6, migration ``0013_collection``) and what the journal
says about collections: each contract's charges history, the end of day's own collection
postings of a date.

The policy (``domain.collection.CollectionPolicy``: the schedule and the allocation order) is
a dated firm parameter, recorded as versions with their source in ``collection_policies``.

Invariants:
- the table is append-only (the database refuses UPDATE and DELETE); a version is keyed by
  its id: recording it again changes nothing, the same id with another effective date,
  value or source is refused (``CollectionPolicyConflict``), and loading rebuilds the
  ``History`` through its own checks (effective dates strictly increasing);
- the value is canonical JSON (sorted keys, every field written), read back exactly;
- the journal readers only read; the end of day's collection of a date is every
  transaction whose command id starts with ``collection_prefix(date)``.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable, Mapping
from datetime import date

from sqlalchemy import Connection, Engine

from liangrong.domain import accounts as acc
from liangrong.domain.collection import (
    ACCRUED_EVENT,
    COLLECTED_EVENT,
    ChargeMove,
    CollectionOrder,
    CollectionPolicy,
    CollectionSchedule,
    Component,
    Roll,
    charge_move,
)
from liangrong.domain.contracts import ComponentOrder, ContractOrder, RepaymentOrder
from liangrong.domain.purposes import Purpose
from liangrong.domain.versions import History, Version
from liangrong.ledger.journal import decode_events
from liangrong.ledger.schema import key_chunks, marker, markers, prefix_end
from liangrong.store.dated_versions import DatedVersions, dated_table
from liangrong.store.reference import Clock, ReferenceConflict

collection_policies = dated_table("collection_policies")
COLLECTION_APPEND_ONLY_TABLES = ("collection_policies",)

# The demo firm collects monthly on the 20th, the next trading day when the 20th is not one,
# in the default order (fees, penalty, interest, principal; nearest maturity first).
DEMO_COLLECTION = Version(
    "2023-09-08",
    date(2023, 9, 8),
    CollectionPolicy(CollectionSchedule(20, Roll.FORWARD)),
    "demo firm policy, credit committee: charges collected monthly on the 20th (S1 art. 73)",
)


class CollectionPolicyConflict(ReferenceConflict):
    """A collection policy version id recorded with another date, value or source."""


# --------------------------------------------------------------------------- the policy


def encode_policy(policy: CollectionPolicy) -> str:
    schedule, order = policy.schedule, policy.order
    document = {
        "day_of_month": schedule.day_of_month,
        "roll": schedule.roll.value,
        "months": sorted(schedule.months),
        "components": [c.value for c in order.components],
        "contracts": order.repayment.contracts.value,
        "nesting": order.repayment.components.value,
    }
    return json.dumps(document, sort_keys=True, separators=(",", ":"))


def decode_policy(text: str) -> CollectionPolicy:
    document = json.loads(text)
    schedule = CollectionSchedule(
        int(document["day_of_month"]),
        Roll(document["roll"]),
        frozenset(int(m) for m in document["months"]),
    )
    order = CollectionOrder(
        tuple(Component(c) for c in document["components"]),
        RepaymentOrder(ContractOrder(document["contracts"]), ComponentOrder(document["nesting"])),
    )
    return CollectionPolicy(schedule, order)


_POLICIES = DatedVersions(
    collection_policies,
    "collection policy",
    encode_policy,
    decode_policy,
    CollectionPolicyConflict,
)


def save_collection_policies(
    engine: Engine, versions: Iterable[Version[CollectionPolicy]], *, clock: Clock
) -> int:
    """Record policy versions; returns how many were new (``DatedVersions.save``)."""
    return _POLICIES.save(engine, versions, clock=clock)


def load_collection_policies(engine: Engine) -> History[CollectionPolicy]:
    return _POLICIES.history(engine)


def collection_order_on(engine: Engine, day: date) -> CollectionOrder:
    """The allocation order of the policy in force on ``day`` (the default order when the
    firm has recorded none)."""
    version = load_collection_policies(engine).version_at(day)
    return version.value.order if version is not None else CollectionOrder()


def seed_demo_collection_policy(engine: Engine, *, clock: Clock) -> int:
    """The demo firm's collection policy (idempotent)."""
    return save_collection_policies(engine, [DEMO_COLLECTION], clock=clock)


# --------------------------------------------------------------------------- the journal


def collection_prefix(day: date) -> str:
    """Command ids of the end of day's collection of ``day``: ``eod:{day}:collect:{client}``."""
    return f"eod:{day.isoformat()}:collect:"


def pending_posting_prefix(day: date) -> str:
    """Command ids of the postings of every contract's pending charges at ``day``'s close
    (after its collection, or on request): ``eod:{day}:pending-posted:{client}[:{part}]``.
    Not under ``eod:{day}:charges``, which marks the accrual's own postings."""
    return f"eod:{day.isoformat()}:pending-posted:"


def _prefix_range(prefix: str) -> tuple[str, str]:
    """``[prefix, after)``: every text starting with ``prefix`` (``:`` + 1 is ``;``)."""
    return prefix, prefix_end(prefix)


def posted_collections(conn: Connection, day: date) -> dict[str, int]:
    """The net cash postings (fen) by account of the end of day's collection of ``day``
    committed so far (read by the command ids' key range).  The legs posting pending
    charges are left out: they change no figure owed (``docs/charges-subledger.md``)."""
    low, high = _prefix_range(collection_prefix(day))
    rows = conn.exec_driver_sql(
        "SELECT p.account, SUM(p.amount) FROM journal_postings p "
        f"WHERE p.asset = 'CNY' AND p.purpose <> {marker(conn)} "
        "AND p.txn_seq IN (SELECT seq FROM journal_transactions "
        f"WHERE command_id >= {marker(conn)} AND command_id < {marker(conn)}) "
        "GROUP BY p.account",
        (Purpose.CHARGE_POSTING.value, low, high),
    )
    return {str(account): int(amount) for account, amount in rows if amount}


def collection_pending_posted(conn: Connection, day: date) -> dict[str, dict[str, int]]:
    """The pending charges the end of day's ``collect`` step of ``day`` has posted so far,
    by contract and kind: with its collection, and after it (``pending_posting_prefix``)."""
    return {
        **pending_posted_under(conn, collection_prefix(day)),
        **pending_posted_under(conn, pending_posting_prefix(day)),
    }


def pending_posted_under(conn: Connection, prefix: str) -> dict[str, dict[str, int]]:
    """The pending charges the transactions whose command ids start with ``prefix`` posted,
    by contract and kind (their ``charges_accrued`` events: a collection or a posting of
    pending records no other)."""
    low, high = _prefix_range(prefix)
    rows = conn.exec_driver_sql(
        "SELECT events_json FROM journal_transactions "
        f"WHERE command_id >= {marker(conn)} AND command_id < {marker(conn)}",
        (low, high),
    )
    posted: dict[str, dict[str, int]] = {}
    for (events_json,) in rows:
        for event in decode_events(events_json):
            if event.get("type") == ACCRUED_EVENT:
                kinds = {k: v for k, v in event.items() if isinstance(v, int)}  # by kind
                posted[str(event["contract_id"])] = kinds
    return posted


def free_cash_by_client(engine: Engine) -> dict[str, int]:
    """Every client's free credit cash (fen, non-zero), read as a key range of the balances
    (the locked short proceeds, ``…:locked``, left out)."""
    prefix = acc.client_cash("")
    low, high = _prefix_range(prefix)
    cash: dict[str, int] = {}
    with engine.connect() as conn:
        cursor = conn.exec_driver_sql(
            "SELECT account, amount FROM balances WHERE account >= "
            f"{marker(conn)} AND account < {marker(conn)} AND asset = 'CNY' AND amount <> 0",
            (low, high),
        ).cursor
        assert cursor is not None
        while rows := cursor.fetchmany(50_000):
            for account, amount in rows:
                client = account[len(prefix) :]
                if ":" not in client:
                    cash[client] = int(amount)
    return cash


def collected_after_cutoff(conn: Connection, day: date) -> dict[str, int]:
    """Cash (fen) the end of day's collection of ``day`` took from each client's credit cash
    account: payment instructions sent after the bank's file of the day was cut."""
    taken: dict[str, int] = {}
    for account, amount in posted_collections(conn, day).items():
        parsed = acc.parse_account(account)
        if parsed is not None and parsed.kind is acc.AccountKind.CLIENT_CASH and amount:
            assert parsed.client_id is not None
            taken[parsed.client_id] = -amount
    return taken


def charge_histories(
    engine: Engine, contracts: Mapping[str, str], leave_out: date | None = None
) -> dict[str, list[ChargeMove]]:
    """Each contract's moves of charges owed in journal order, with the splits their
    transactions record (``contracts``: contract id -> client id), looked up by account key;
    ``leave_out``: that date's end-of-day ``collect`` step is left out (a rerun's own
    postings: its collection and its posting of the rest of the pending).
    A transaction that posts a contract's pending charges and pays them is two moves, the
    posting first: the pending's legs come before the payment's."""
    account_of = {acc.charges_debt(client, cid): cid for cid, client in contracts.items()}
    accounts = sorted(account_of)
    step_prefixes = (collection_prefix, pending_posting_prefix)
    skips = [_prefix_range(prefix(leave_out)) for prefix in step_prefixes] if leave_out else []
    moves: dict[str, list[tuple[int, int, ChargeMove]]] = defaultdict(list)
    with engine.connect() as conn:
        for chunk in key_chunks(accounts):
            rows = conn.exec_driver_sql(
                f"SELECT p.txn_seq, p.account, {_posting(conn)} AS posting, SUM(p.amount), "
                "t.command_id, t.events_json "
                "FROM journal_postings p JOIN journal_transactions t ON t.seq = p.txn_seq "
                f"WHERE p.account IN ({markers(conn, len(chunk))}) "
                "GROUP BY p.txn_seq, p.account, posting, t.command_id, t.events_json",
                (Purpose.CHARGE_POSTING.value, *chunk),
            )
            for seq, account, posting, amount, command, events_json in rows:
                if not amount or any(low <= command < high for low, high in skips):
                    continue
                cid = account_of[account]
                events = decode_events(events_json)
                types = _POSTING_TYPES if posting else _MOVE_TYPES[_posts_pending(cid, events)]
                # a positive posting on a debt account repays it: owed falls
                move = charge_move(cid, -int(amount), events, types)
                moves[cid].append((int(seq), -int(posting), move))
    in_order = {cid: sorted(found, key=lambda x: x[:2]) for cid, found in moves.items()}
    return {cid: [move for *_, move in found] for cid, found in in_order.items()}


def _posting(conn: Connection) -> str:
    """SQL: whether a posting is of a leg that posts pending charges (1) or any other (0)."""
    return f"CASE WHEN p.purpose = {marker(conn)} THEN 1 ELSE 0 END"


_POSTING_TYPES = (ACCRUED_EVENT,)
# the events a transaction's other move takes: only its collection's when it posted pending
_MOVE_TYPES = {False: (ACCRUED_EVENT, COLLECTED_EVENT), True: (COLLECTED_EVENT,)}


def _posts_pending(contract_id: str, events: Iterable[Mapping[str, object]]) -> bool:
    """Whether the transaction's events hold a posting of the contract's pending charges
    as well as its collection (then its accrual event is the posting's)."""
    types = {e.get("type") for e in events if e.get("contract_id") == contract_id}
    return {ACCRUED_EVENT, COLLECTED_EVENT} <= types
