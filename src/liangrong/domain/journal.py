"""Transactions of the double-entry journal and the pure rules that accept them.

A transaction is what one command posts: one or more legs, each naming its purpose,
with integer postings.  Invariants checked here, before anything is stored:
- per leg and per asset, postings sum to zero (conservation);
- every account is in the chart, every asset fits its account;
- a leg moves only what its purpose permits (ACC-4), and one transaction touches one client;
- new debt comes only out of the matching pool and repayments go only back to it (ACC-3);
- after the transaction no holding is negative, no debt positive, no pool over-lent.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from functools import lru_cache

from liangrong.domain import accounts as acc
from liangrong.domain.accounts import AccountKind, ParsedAccount, Sign
from liangrong.domain.purposes import POOL_PAIRED, PURPOSE_FLOWS, Purpose
from liangrong.domain.rejections import LedgerCode, Rejection

BalanceKey = tuple[str, str]  # (account, asset)
KIND_PATTERN = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
MAX_LEGS = 16
MAX_COMMAND_ID = 128
MAX_POSTINGS_PER_LEG = 64
MAX_ABS_AMOUNT = 10**17  # 1e15 CNY in fen: far above any real book, far below int64 overflow


@dataclass(frozen=True, slots=True)
class Posting:
    account: str
    asset: str
    amount: int  # fen for CNY, shares (or 张) for a security; signed


@dataclass(frozen=True, slots=True)
class Leg:
    purpose: Purpose
    postings: tuple[Posting, ...]


@dataclass(frozen=True, slots=True)
class Transaction:
    """What one command posts.  ``events`` carries contract terms and other facts that
    projections need and that are not amounts (JSON-compatible, string keys)."""

    command_id: str
    business_date: date
    kind: str  # what happened, e.g. "deposit", "margin_buy_fill"
    legs: tuple[Leg, ...]
    events: tuple[Mapping[str, object], ...] = field(default=())

    def payload_digest(self, events_json: str | None = None) -> str:
        """SHA-256 of the canonical content (the id excluded): what idempotency compares.

        Fields are joined with ASCII separators that no account, asset, purpose or kind may
        contain (the chart's patterns and ``KIND_PATTERN`` exclude them), so the text is
        injective; events, free-form, go through canonical JSON."""
        legs = (
            (leg.purpose, ((p.account, p.asset, p.amount) for p in leg.postings))
            for leg in self.legs
        )
        events = self.events_json() if events_json is None else events_json
        return payload_digest_of(self.business_date, self.kind, legs, events)

    def events_json(self) -> str:
        return events_json_of(self.events)

    def postings(self) -> Iterable[Posting]:
        for leg in self.legs:
            yield from leg.postings


def payload_digest_of(
    on: date,
    kind: str,
    legs: Iterable[tuple[Purpose, Iterable[tuple[str, str, int]]]],
    events_json: str,
) -> str:
    """``Transaction.payload_digest`` from its parts: the legs' purposes and postings
    (account, asset, amount) and the canonical events JSON."""
    parts = [on.isoformat(), kind]
    for purpose, postings in legs:
        parts.append(purpose.value)
        parts.extend(f"{account}\x1f{asset}\x1f{amount}" for account, asset, amount in postings)
    parts.append(events_json)
    return hashlib.sha256("\x1e".join(parts).encode("utf-8")).hexdigest()


def events_json_of(events: Iterable[Mapping[str, object]]) -> str:
    """What a transaction's events are stored and digested as."""
    listed = [dict(e) for e in events]
    return canonical_json(listed) if listed else "[]"


def canonical_json(value: object) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def _reject(code: LedgerCode, detail: str) -> Rejection:
    return Rejection(code, detail)


def _parse(posting: Posting) -> ParsedAccount:
    parsed = classify(posting.account, posting.asset)
    if isinstance(parsed, tuple):
        raise _reject(*parsed)
    return parsed


@lru_cache(maxsize=1 << 16)
def classify(account: str, asset: str) -> ParsedAccount | tuple[LedgerCode, str]:
    """The account's parse, or why it cannot hold this asset (cached: names repeat)."""
    return classify_parsed(acc.parse_account(account), account, asset)


def classify_uncached(account: str, asset: str) -> ParsedAccount | tuple[LedgerCode, str]:
    """``classify`` for names seen once (a batch's distinct keys): no cache to churn."""
    return classify_parsed(acc.parse_account_uncached(account), account, asset)


def classify_parsed(
    parsed: ParsedAccount | None, account: str, asset: str
) -> ParsedAccount | tuple[LedgerCode, str]:
    if parsed is None:
        return (LedgerCode.UNKNOWN_ACCOUNT, account)
    if not acc.is_valid_asset(asset):
        return (LedgerCode.UNKNOWN_ACCOUNT, f"asset {asset!r}")
    is_cash = asset == acc.CASH_ASSET
    if (acc.holds_cash_only(parsed.kind) and not is_cash) or (
        acc.holds_securities_only(parsed.kind) and is_cash
    ):
        return (LedgerCode.UNKNOWN_ACCOUNT, f"{account} cannot hold {asset}")
    return parsed


def _check_shape(txn: Transaction) -> None:
    if not txn.command_id or len(txn.command_id) > MAX_COMMAND_ID:
        raise _reject(
            LedgerCode.INVALID_COMMAND, f"command id must be 1..{MAX_COMMAND_ID} characters"
        )
    if KIND_PATTERN.match(txn.kind) is None:
        raise _reject(LedgerCode.INVALID_COMMAND, f"kind {txn.kind!r}: lower-case word")
    if not txn.legs or any(not leg.postings for leg in txn.legs):
        raise _reject(LedgerCode.EMPTY_ENTRY, txn.command_id)
    if len(txn.legs) > MAX_LEGS or any(
        len(leg.postings) > MAX_POSTINGS_PER_LEG for leg in txn.legs
    ):
        raise _reject(LedgerCode.INVALID_COMMAND, "too many legs or postings")


def _check_leg(leg: Leg, parsed: list[ParsedAccount]) -> None:
    sums: dict[str, int] = defaultdict(int)
    may_decrease, may_increase = PURPOSE_FLOWS[leg.purpose]
    for posting, account in zip(leg.postings, parsed, strict=True):
        if posting.amount == 0:
            raise _reject(LedgerCode.ZERO_AMOUNT, posting.account)
        if abs(posting.amount) > MAX_ABS_AMOUNT:
            raise _reject(LedgerCode.INVALID_COMMAND, f"amount out of range on {posting.account}")
        allowed = may_increase if posting.amount > 0 else may_decrease
        if account.kind not in allowed:
            direction = "into" if posting.amount > 0 else "out of"
            raise _reject(
                LedgerCode.PURPOSE_NOT_PERMITTED,
                f"{leg.purpose.value} moves nothing {direction} {posting.account}",
            )
        sums[posting.asset] += posting.amount
    unbalanced = {asset: total for asset, total in sums.items() if total != 0}
    if unbalanced:
        raise _reject(LedgerCode.UNBALANCED, f"{leg.purpose.value}: {unbalanced}")
    if leg.purpose in POOL_PAIRED:
        _check_pool_pairing(leg, parsed)


def _check_pool_pairing(leg: Leg, parsed: list[ParsedAccount]) -> None:
    """Financing moves only between the financing pool and debts, lending likewise."""
    pool_of_debt = {
        AccountKind.CLIENT_FINANCING_DEBT: AccountKind.FINANCING_POOL,
        AccountKind.CLIENT_SHORT_DEBT: AccountKind.LENDING_POOL,
    }
    delta: dict[tuple[AccountKind, str], int] = defaultdict(int)
    for posting, account in zip(leg.postings, parsed, strict=True):
        if account.kind in pool_of_debt:
            delta[(pool_of_debt[account.kind], posting.asset)] += posting.amount
        elif account.kind in acc.POOL_KINDS:
            delta[(account.kind, posting.asset)] -= posting.amount
    mismatched = {f"{k.value}/{asset}": v for (k, asset), v in delta.items() if v != 0}
    if mismatched:
        raise _reject(LedgerCode.NOT_FROM_POOL, str(mismatched))


def validate(txn: Transaction, open_clients: Callable[[str], bool]) -> None:
    """Static checks of a transaction; raises ``Rejection``.  Balances are checked by
    ``apply``.  ``open_clients(client_id)`` tells whether a client's credit account is open."""
    _check_shape(txn)
    clients: set[str] = set()
    for leg in txn.legs:
        parsed = [_parse(posting) for posting in leg.postings]
        _check_leg(leg, parsed)
        clients.update(p.client_id for p in parsed if p.client_id is not None)
    if len(clients) > 1:
        raise _reject(LedgerCode.CROSS_CLIENT, ", ".join(sorted(clients)))
    for client_id in clients:
        if not open_clients(client_id):
            raise _reject(LedgerCode.ACCOUNT_NOT_OPEN, client_id)


def net_changes(txn: Transaction, excluded: Purpose | None = None) -> dict[BalanceKey, int]:
    """The non-zero change of each balance the transaction moves (its legs of purpose
    ``excluded`` left out: ``Purpose.CHARGE_POSTING`` for what a client owes)."""
    changes: dict[BalanceKey, int] = {}
    for leg in txn.legs:
        if leg.purpose is excluded:
            continue
        for posting in leg.postings:
            key = (posting.account, posting.asset)
            changes[key] = changes.get(key, 0) + posting.amount
    return {key: value for key, value in changes.items() if value != 0}


def pending_posted(txn: Transaction) -> dict[str, int]:
    """The change each contract's charges account took by posting its pending
    (``Purpose.CHARGE_POSTING``; negative fen).  What the client owes on the contract is
    unchanged by it: the book's readers leave these legs out (``net_changes``)."""
    posted: dict[str, int] = {}
    for leg in txn.legs:
        if leg.purpose is Purpose.CHARGE_POSTING:
            for posting in leg.postings:
                if posting.account != acc.CHARGES_ACCRUED:
                    posted[posting.account] = posted.get(posting.account, 0) + posting.amount
    return posted


def apply(txn: Transaction, balance_of: Callable[[BalanceKey], int]) -> dict[BalanceKey, int]:
    """New balances of every key the transaction touches; raises if a sign rule breaks."""
    return apply_changes(net_changes(txn), balance_of)


def apply_changes(
    changes: Mapping[BalanceKey, int], balance_of: Callable[[BalanceKey], int]
) -> dict[BalanceKey, int]:
    result: dict[BalanceKey, int] = {}
    for key, change in changes.items():
        new_balance = balance_of(key) + change
        code = _sign_breach(key[0], new_balance)
        if code is not None:
            raise _reject(code, f"{key[0]} {key[1]} -> {new_balance}")
        result[key] = new_balance
    return result


def _sign_breach(account: str, balance: int) -> LedgerCode | None:
    sign, is_pool = _sign_rule(account)
    if sign.allows(balance):
        return None
    if sign is Sign.NON_NEGATIVE:
        return LedgerCode.POOL_OVERDRAWN if is_pool else LedgerCode.OVERDRAWN
    return LedgerCode.DEBT_SIGN


@lru_cache(maxsize=1 << 16)
def _sign_rule(account: str) -> tuple[Sign, bool]:
    parsed = acc.parse_account(account)
    assert parsed is not None, account  # validate() ran first
    return acc.sign_of(parsed.kind), parsed.kind in acc.POOL_KINDS


def transaction_from_dict(data: Mapping[str, object]) -> Transaction:
    """Build a transaction from untrusted decoded JSON; malformed input is a ``Rejection``."""
    from liangrong.domain.purposes import parse_purpose

    def need(mapping: Mapping[str, object], key: str, kind: type) -> object:
        value = mapping.get(key)
        if not isinstance(value, kind) or isinstance(value, bool):
            raise _reject(LedgerCode.INVALID_COMMAND, f"{key}: expected {kind.__name__}")
        return value

    legs = []
    raw_legs = need(data, "legs", list)
    assert isinstance(raw_legs, list)
    for number, raw_leg in enumerate(raw_legs):
        if not isinstance(raw_leg, dict):
            raise _reject(LedgerCode.INVALID_COMMAND, f"legs[{number}]: expected an object")
        purpose_text = str(need(raw_leg, "purpose", str))
        purpose = parse_purpose(purpose_text)
        if purpose is None:
            raise _reject(LedgerCode.UNKNOWN_PURPOSE, purpose_text)
        raw_postings = need(raw_leg, "postings", list)
        assert isinstance(raw_postings, list)
        postings = []
        for raw in raw_postings:
            if not (isinstance(raw, list) and len(raw) == 3):
                raise _reject(
                    LedgerCode.INVALID_COMMAND, f"legs[{number}].postings: [account, asset, amount]"
                )
            account, asset, amount = raw
            if not (isinstance(account, str) and isinstance(asset, str) and type(amount) is int):
                raise _reject(
                    LedgerCode.INVALID_COMMAND, f"legs[{number}].postings: [str, str, int]"
                )
            postings.append(Posting(account, asset, amount))
        legs.append(Leg(purpose, tuple(postings)))
    try:
        on = date.fromisoformat(str(need(data, "business_date", str)))
    except ValueError as exc:
        raise _reject(LedgerCode.INVALID_COMMAND, "business_date: expected YYYY-MM-DD") from exc
    return Transaction(
        command_id=str(need(data, "command_id", str)),
        business_date=on,
        kind=str(need(data, "kind", str)),
        legs=tuple(legs),
    )
