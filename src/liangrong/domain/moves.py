"""Batches of simple moves held column by column: the ledger's fast path for many
same-shaped transactions (the end of day's accruals, a million a day).

A ``MoveBatch`` stands for the ``Transaction``s of ``MoveBatch.transaction``: every leg moves
positive amounts of one asset out of one or more source accounts into one target account, so
its postings are each (source, -amount), then (target, +their sum).  Invariants:
- ``admits`` returns a ``MoveCheck`` only if ``journal.validate`` accepts every transaction
  of the batch once the clients it names are open; what it cannot prove column by column it
  leaves to the one-by-one check (``None``), which then raises the very rejection that
  posting the transactions one by one would;
- ``apply_risky`` returns the new balances only if no sign rule breaks after any
  transaction, in order (the one-by-one ``journal.apply_changes``); a key no transaction
  moves towards a breach (a holding that only grows, a debt that only deepens, an account
  of any sign) needs no balance read: its change (``split_changes``) is added to what is
  stored, which cannot break the rule the stored balance already keeps;
- ``events_json``, ``payload_digest`` and ``posting_rows`` equal the transactions' own, so a
  batch posted either way leaves the same journal, byte for byte;
- ``prepare`` computes all of that, with no store, so that it may run anywhere (the end of
  day builds the next batch in another process while the writer writes this one); the
  ``PreparedMoves`` it returns hold exactly the batch (``PreparedMoves.batch`` gives it
  back), numbered from a first sequence number the writer may move.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date
from itertools import groupby
from operator import itemgetter

from liangrong.domain.accounts import AccountKind, ParsedAccount, Sign, sign_of
from liangrong.domain.journal import (
    KIND_PATTERN,
    MAX_ABS_AMOUNT,
    MAX_COMMAND_ID,
    MAX_LEGS,
    MAX_POSTINGS_PER_LEG,
    BalanceKey,
    Leg,
    Posting,
    Transaction,
    classify_uncached,
    events_json_of,
    payload_digest_of,
)
from liangrong.domain.purposes import POOL_PAIRED, PURPOSE_FLOWS, Purpose

PostingRow = tuple[int, int, str, str, str, int]  # line, leg, purpose, account, asset, amount
# What the journal stores: a transaction's header (seq, command id, payload digest, business
# date, kind, events JSON) and its postings (seq, line, leg, purpose, account, asset, amount).
Header = tuple[int, str, str, date, str, str]
JournalPosting = tuple[int, int, int, str, str, str, int]
Opening = tuple[int, Mapping[str, object]]  # a contract_opened event and its transaction's seq


@dataclass(frozen=True, slots=True)
class MoveBatch:
    """Transactions of one kind and business date; transaction ``i`` holds the legs
    ``leg_ends[i - 1]`` (0 for the first) up to ``leg_ends[i]``, leg ``j`` the sources
    ``source_ends[j - 1]`` up to ``source_ends[j]`` (by default one source per leg).

    ``purposes``, ``assets`` and ``targets`` are per leg, ``sources`` and ``amounts`` per
    source: a leg takes each source's amount out of it and puts their sum into its target,
    so its postings are each (source, -amount), then (target, +sum)."""

    business_date: date
    kind: str
    command_ids: Sequence[str]
    leg_ends: Sequence[int]
    purposes: Sequence[Purpose]
    assets: Sequence[str]
    sources: Sequence[str]
    targets: Sequence[str]
    amounts: Sequence[int]
    events: Sequence[Sequence[Mapping[str, object]]]
    source_ends: Sequence[int] = ()
    # Each leg's postings (account, asset, amount): its sources, then its target.  Worked out
    # once: the digest, the rows, the column checks and the balance changes all read them.
    leg_postings: list[list[tuple[str, str, int]]] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        legs = len(self.purposes)
        if not self.source_ends:  # one source per leg
            object.__setattr__(self, "source_ends", range(1, legs + 1))
        assert len(self.leg_ends) == len(self.command_ids) == len(self.events)
        assert len(self.assets) == len(self.targets) == len(self.source_ends) == legs
        assert len(self.sources) == len(self.amounts), "one amount per source"
        assert not self.leg_ends or self.leg_ends[-1] == legs
        assert (self.source_ends[-1] == len(self.sources)) if legs else not self.sources
        object.__setattr__(self, "leg_postings", self._all_leg_postings())

    def __len__(self) -> int:
        return len(self.command_ids)

    def legs_of(self, i: int) -> range:
        return range(self.leg_ends[i - 1] if i else 0, self.leg_ends[i])

    def _all_leg_postings(self) -> list[list[tuple[str, str, int]]]:
        sources, amounts = self.sources, self.amounts
        result = []
        start = 0
        for asset, target, stop in zip(self.assets, self.targets, self.source_ends, strict=True):
            taken, named = amounts[start:stop], sources[start:stop]
            leg = [(source, asset, -amount) for source, amount in zip(named, taken, strict=True)]
            leg.append((target, asset, sum(taken)))
            result.append(leg)
            start = stop
        return result

    def transaction(self, i: int) -> Transaction:
        """Transaction ``i`` as the one-by-one path posts it."""
        legs = tuple(
            Leg(self.purposes[j], tuple(Posting(*p) for p in self.leg_postings[j]))
            for j in self.legs_of(i)
        )
        return Transaction(
            self.command_ids[i], self.business_date, self.kind, legs, tuple(self.events[i])
        )

    def transactions(self) -> list[Transaction]:
        return [self.transaction(i) for i in range(len(self))]

    def events_json(self, i: int) -> str:
        return events_json_of(self.events[i])

    def payload_digest(self, i: int, events_json: str) -> str:
        """``Transaction.payload_digest`` of transaction ``i``, without building it."""
        legs = ((self.purposes[j], self.leg_postings[j]) for j in self.legs_of(i))
        return payload_digest_of(self.business_date, self.kind, legs, events_json)

    def posting_rows(self, i: int) -> Iterator[PostingRow]:
        """Transaction ``i``'s postings as the journal stores them (lines from 1)."""
        first = self.leg_ends[i - 1] if i else 0
        line = 0
        for j in self.legs_of(i):
            leg_no, purpose = j - first, self.purposes[j].value
            for account, asset, amount in self.leg_postings[j]:
                line += 1
                yield (line, leg_no, purpose, account, asset, amount)

    def balance_keys(self) -> set[BalanceKey]:
        return {(account, asset) for leg in self.leg_postings for account, asset, _ in leg}


@dataclass(frozen=True, slots=True)
class MoveCheck:
    """A batch's transactions pass ``journal.validate`` if these clients are open; the
    sign rule of every account they name."""

    clients: frozenset[str]
    signs: Mapping[str, Sign]


def admits(batch: MoveBatch) -> MoveCheck | None:
    """The batch's static checks, column by column (``journal.validate``'s, in the same
    terms); ``None``: not proved here, check the transactions one by one."""
    if KIND_PATTERN.match(batch.kind) is None:
        return None
    if any(not cid or len(cid) > MAX_COMMAND_ID for cid in batch.command_ids):
        return None
    if len(set(batch.command_ids)) != len(batch.command_ids):
        return None  # a repeated id is a replay or a conflict: the one-by-one path decides
    if any(not 1 <= len(batch.legs_of(i)) <= MAX_LEGS for i in range(len(batch))):
        return None
    if not _legs_in_bounds(batch):
        return None
    parsed = _parsed_accounts(batch)
    if parsed is None or not _flows_permitted(batch, parsed):
        return None
    clients = _one_client_each(batch, parsed)
    if clients is None:
        return None
    return MoveCheck(clients, {account: sign_of(p.kind) for (account, _), p in parsed.items()})


def _legs_in_bounds(batch: MoveBatch) -> bool:
    """Every amount positive and in range, its leg's sum too; every leg within the
    journal's postings per leg."""
    if any(not 0 < amount <= MAX_ABS_AMOUNT for amount in batch.amounts):
        return False
    return all(
        len(leg) <= MAX_POSTINGS_PER_LEG and len(leg) > 1 and leg[-1][2] <= MAX_ABS_AMOUNT
        for leg in batch.leg_postings
    )


def _parsed_accounts(batch: MoveBatch) -> dict[BalanceKey, ParsedAccount] | None:
    parsed: dict[BalanceKey, ParsedAccount] = {}
    for key in batch.balance_keys():  # distinct, and mostly seen once (a contract's debt)
        found = classify_uncached(*key)
        if isinstance(found, tuple):
            return None
        parsed[key] = found
    return parsed


def _flows_permitted(batch: MoveBatch, parsed: Mapping[BalanceKey, ParsedAccount]) -> bool:
    """Each leg takes only from a kind its purpose lets decrease and puts only into a kind it
    lets increase; legs that must pair with a pool are left to the one-by-one check."""
    last: Purpose | None = None  # legs come in runs of one purpose: look it up once a run
    may_decrease = may_increase = frozenset[AccountKind]()
    for purpose, (*taken, (target, asset, _)) in zip(
        batch.purposes, batch.leg_postings, strict=True
    ):
        if purpose is not last:
            if purpose in POOL_PAIRED:
                return False
            may_decrease, may_increase = PURPOSE_FLOWS[purpose]
            last = purpose
        if parsed[(target, asset)].kind not in may_increase:
            return False
        for source, _, _ in taken:
            if parsed[(source, asset)].kind not in may_decrease:
                return False
    return True


def _one_client_each(
    batch: MoveBatch, parsed: Mapping[BalanceKey, ParsedAccount]
) -> frozenset[str] | None:
    clients: set[str] = set()
    for i in range(len(batch)):
        named = {
            client
            for j in batch.legs_of(i)
            for account, asset, _ in batch.leg_postings[j]
            if (client := parsed[(account, asset)].client_id) is not None
        }
        if len(named) > 1:
            return None
        clients |= named
    return frozenset(clients)


def transaction_changes(batch: MoveBatch) -> list[dict[BalanceKey, int]]:
    """Each transaction's net change by key (keys it leaves unchanged left out)."""
    result = []
    for i in range(len(batch)):
        changes: dict[BalanceKey, int] = {}
        for j in batch.legs_of(i):
            for account, asset, amount in batch.leg_postings[j]:
                key = (account, asset)
                changes[key] = changes.get(key, 0) + amount
        result.append({key: change for key, change in changes.items() if change})
    return result


def keys_at_risk(
    changes: Sequence[Mapping[BalanceKey, int]], signs: Mapping[str, Sign]
) -> set[BalanceKey]:
    """The keys some transaction moves towards a breach of their sign rule."""
    at_risk: set[BalanceKey] = set()
    for txn in changes:
        for key, change in txn.items():
            if not signs[key[0]].allows(change):
                at_risk.add(key)
    return at_risk


def split_changes(
    changes: Sequence[Mapping[BalanceKey, int]], at_risk: set[BalanceKey]
) -> tuple[list[dict[BalanceKey, int]], dict[BalanceKey, int]]:
    """Each transaction's changes of the keys at risk (to check in order), and the summed
    change of every other key (a zero sum too: the key is stored, as one by one)."""
    risky: list[dict[BalanceKey, int]] = []
    totals: dict[BalanceKey, int] = {}
    for txn in changes:
        mine: dict[BalanceKey, int] = {}
        for key, change in txn.items():
            if key in at_risk:
                mine[key] = change
            else:
                totals[key] = totals.get(key, 0) + change
        risky.append(mine)
    return risky, totals


def apply_risky(
    risky: Sequence[Mapping[BalanceKey, int]],
    signs: Mapping[str, Sign],
    balance_of: Callable[[BalanceKey], int],
) -> dict[BalanceKey, int] | None:
    """The new balances of the keys at risk, or ``None`` if a sign rule breaks after some
    transaction (the one-by-one path then says which)."""
    balances: dict[BalanceKey, int] = {}
    for txn in risky:
        for key, change in txn.items():
            balance = (balances[key] if key in balances else balance_of(key)) + change
            if not signs[key[0]].allows(balance):
                return None
            balances[key] = balance
    return balances


@dataclass(frozen=True, slots=True)
class PreparedMoves:
    """A batch's journal rows and what its posting must still check against the store,
    numbered from ``first_seq``.  ``clients`` is ``None`` when the columns prove nothing
    (the writer then checks the batch one by one); otherwise they are the clients that must
    be open, and the balances of ``signs``' keys at risk are checked in order with
    ``risky``, every other key changing by its total."""

    first_seq: int
    headers: list[Header]
    postings: list[JournalPosting]
    openings: list[Opening]
    clients: frozenset[str] | None
    signs: dict[str, Sign]  # the sign rule of each account at risk
    risky: list[dict[BalanceKey, int]]
    totals: dict[BalanceKey, int]

    @property
    def command_ids(self) -> list[str]:
        return [header[1] for header in self.headers]

    @property
    def at_risk(self) -> set[BalanceKey]:
        return {key for txn in self.risky for key in txn}

    def renumbered(self, first_seq: int) -> PreparedMoves:
        """The same batch numbered from ``first_seq`` (the journal moved meanwhile)."""
        shift = first_seq - self.first_seq
        if not shift:
            return self
        return replace(
            self,
            first_seq=first_seq,
            headers=[(h[0] + shift, h[1], h[2], h[3], h[4], h[5]) for h in self.headers],
            postings=[(p[0] + shift, p[1], p[2], p[3], p[4], p[5], p[6]) for p in self.postings],
            openings=[(seq + shift, event) for seq, event in self.openings],
        )

    def batch(self) -> MoveBatch:
        """The batch these rows were prepared from (each leg's sources, then its target)."""
        leg_ends: list[int] = []
        source_ends: list[int] = []
        purposes: list[Purpose] = []
        assets: list[str] = []
        sources: list[str] = []
        targets: list[str] = []
        amounts: list[int] = []
        for (_, leg_no), rows in groupby(self.postings, key=itemgetter(0, 2)):
            *taken, target = rows
            if not leg_no:  # a transaction's first leg
                leg_ends.append(len(targets))
            leg_ends[-1] += 1
            purposes.append(Purpose(target[3]))
            assets.append(target[5])
            targets.append(target[4])
            sources.extend(p[4] for p in taken)
            amounts.extend(-p[6] for p in taken)
            source_ends.append(len(sources))
        first = self.headers[0]
        return MoveBatch(
            first[3],
            first[4],
            self.command_ids,
            leg_ends,
            purposes,
            assets,
            sources,
            targets,
            amounts,
            [json.loads(header[5]) for header in self.headers],
            source_ends,
        )


def openings_of(
    events_by_seq: Iterable[tuple[int, Sequence[Mapping[str, object]]]],
) -> list[Opening]:
    """The ``contract_opened`` events, each with its transaction's seq (the contracts
    projection's rows come from them)."""
    return [
        (seq, event)
        for seq, events in events_by_seq
        for event in events
        if event.get("type") == "contract_opened"
    ]


def prepare(batch: MoveBatch, first_seq: int) -> PreparedMoves:
    """Everything posting ``batch`` needs that no store holds, its transactions numbered
    from ``first_seq``."""
    headers: list[Header] = []
    postings: list[JournalPosting] = []
    for i, cid in enumerate(batch.command_ids):
        seq, events_json = first_seq + i, batch.events_json(i)
        digest = batch.payload_digest(i, events_json)
        headers.append((seq, cid, digest, batch.business_date, batch.kind, events_json))
        postings.extend((seq, *row) for row in batch.posting_rows(i))
    openings = openings_of(
        (header[0], events) for header, events in zip(headers, batch.events, strict=True)
    )
    check = admits(batch)
    if check is None:
        return PreparedMoves(first_seq, headers, postings, openings, None, {}, [], {})
    changes = transaction_changes(batch)
    at_risk = keys_at_risk(changes, check.signs)
    risky, totals = split_changes(changes, at_risk)
    totals = dict(sorted(totals.items()))  # the order they are written in, sorted here
    signs = {account: check.signs[account] for account, _ in at_risk}
    return PreparedMoves(
        first_seq, headers, postings, openings, check.clients, signs, risky, totals
    )
