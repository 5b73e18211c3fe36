"""Dated restrictions on persons, shares and securities, as events (CLI-4, REF-7, ORD-3 items
6, 9, 11 and 14).

- A person's role in a listed company (director, supervisor, senior manager, 5% holder) bars
  them from margin buys and short sales of its stock; a strategic-placement investor in
  lock-up may not short it.
- Shares that are seized, frozen, under third-party rights or reduced-holding restricted are
  neither collateral nor lendable nor usable to repay shorts.
- The exchange halts margin buys or short sales of a security (and resumes them).

Each is recorded as an event with an effective date, never edited: the state on a day is
the fold of the events up to it.  Invariant: events are applied in (effective date, record
order); a lift without an imposition, or a release of more shares than restricted, is refused.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from enum import Enum
from typing import Protocol, TypeVar


class PersonRole(Enum):
    DIRECTOR = "director"  # 董事
    SUPERVISOR = "supervisor"  # 监事
    SENIOR_MANAGER = "senior_manager"  # 高级管理人员
    HOLDER_5PCT = "holder_5pct"  # 持股 5% 以上股东
    STRATEGIC_LOCKUP = "strategic_lockup"  # 战略投资者 (配售股份锁定期内)


INSIDER_ROLES = frozenset(
    {PersonRole.DIRECTOR, PersonRole.SUPERVISOR, PersonRole.SENIOR_MANAGER, PersonRole.HOLDER_5PCT}
)


class ShareReason(Enum):
    SEIZED = "seized"
    FROZEN = "frozen"
    THIRD_PARTY_RIGHTS = "third_party_rights"
    REDUCED_HOLDING_RESTRICTED = "reduced_holding_restricted"  # 减持受限股份


class HaltKind(Enum):
    FINANCING = "financing"
    SHORT = "short"


class RestrictionError(ValueError):
    """An event that contradicts the ones before it."""


@dataclass(frozen=True, slots=True)
class PersonEvent:
    client_id: str
    symbol: str
    role: PersonRole
    imposed: bool  # False: the role ended (lifted)
    effective: date
    source: str


@dataclass(frozen=True, slots=True)
class ShareEvent:
    client_id: str
    symbol: str
    reason: ShareReason
    quantity: int  # > 0 restricts that many more shares, < 0 releases
    effective: date
    source: str


@dataclass(frozen=True, slots=True)
class HaltEvent:
    symbol: str
    kind: HaltKind
    halted: bool  # False: resumed
    effective: date
    source: str


@dataclass(frozen=True, slots=True)
class PersonalBans:
    insider_symbols: frozenset[str]  # no margin buys, no short sales
    lockup_symbols: frozenset[str]  # no short sales


class _Dated(Protocol):
    @property
    def effective(self) -> date: ...


E = TypeVar("E", bound=_Dated)


def _up_to(events: Iterable[E], on: date) -> list[E]:
    """Events effective on or before ``on``, by date then in the order they were recorded."""
    dated = [(n, e) for n, e in enumerate(events) if e.effective <= on]
    dated.sort(key=lambda item: (item[1].effective, item[0]))
    return [e for _, e in dated]


def personal_bans(events: Iterable[PersonEvent], client_id: str, on: date) -> PersonalBans:
    roles: dict[tuple[str, PersonRole], bool] = {}
    for event in _up_to((e for e in events if e.client_id == client_id), on):
        key = (event.symbol, event.role)
        if not event.imposed and not roles.get(key):
            raise RestrictionError(
                f"{client_id} {event.symbol}: {event.role.value} lifted, never imposed"
            )
        roles[key] = event.imposed
    insider = frozenset(s for (s, role), on_ in roles.items() if on_ and role in INSIDER_ROLES)
    lockup = frozenset(
        s for (s, role), on_ in roles.items() if on_ and role is PersonRole.STRATEGIC_LOCKUP
    )
    return PersonalBans(insider, lockup)


def restricted_shares(events: Iterable[ShareEvent], client_id: str, on: date) -> dict[str, int]:
    held: dict[tuple[str, ShareReason], int] = defaultdict(int)
    for event in _up_to((e for e in events if e.client_id == client_id), on):
        key = (event.symbol, event.reason)
        held[key] += event.quantity
        if held[key] < 0:
            raise RestrictionError(
                f"{client_id} {event.symbol}: more {event.reason.value} released than restricted"
            )
    total: dict[str, int] = defaultdict(int)
    for (symbol, _), quantity in held.items():
        total[symbol] += quantity
    return {symbol: quantity for symbol, quantity in sorted(total.items()) if quantity}


def halts_in_force(events: Iterable[HaltEvent], on: date) -> tuple[frozenset[str], frozenset[str]]:
    """(symbols whose margin buys are halted, symbols whose short sales are halted) on ``on``."""
    state: dict[tuple[str, HaltKind], bool] = {}
    for event in _up_to(events, on):
        key = (event.symbol, event.kind)
        if not event.halted and not state.get(key):
            raise RestrictionError(f"{event.symbol}: {event.kind.value} resumed, never halted")
        state[key] = event.halted
    financing = frozenset(
        s for (s, k), halted in state.items() if halted and k is HaltKind.FINANCING
    )
    short = frozenset(s for (s, k), halted in state.items() if halted and k is HaltKind.SHORT)
    return financing, short
