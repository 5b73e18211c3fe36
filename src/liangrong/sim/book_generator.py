"""Seeded generator of a demo margin book: N clients with realistic spreads of assets,
leverage, concentration and open contracts, some near the lines, all through the ledger.

Invariants:
- planning is pure (``client_plans.plan_client``), posting comes after: the same seed, client
  count and reference day give the same command ids, transactions and profiles on every
  platform and in every process;
- everything reaches the ledger through its checked write path: credit accounts in bulk
  (``Ledger.open_credit_accounts``), then the pools, then each client's deposit, transfers in,
  contracts (``operations.open_financing``/``open_short`` with ``contract_terms``) and accrued
  interest, in batches (``post_batch``), so conservation, purposes and sign rules hold as for
  any other posting and every command is idempotent (a crashed run is resumed by rerunning);
- the pools are funded before the clients with what their contracts take, plus headroom (a
  few short targets scarce, so that the lending pool can run out);
- insiders, lock-up holders and restricted shares are recorded as dated restriction events
  (``store.restrictions``), and a day's profiles read them back (``profiles_on``);
- the book is complete when the marker transaction (the financing pool's headroom, carrying a
  ``book_generated`` event with seed, client count and date) is in the journal, posted last;
  profiles are not stored: they are planned again from the marker (``book_profiles``).
"""

from __future__ import annotations

import json
import random
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import date
from fractions import Fraction

from sqlalchemy import Engine, select

from liangrong.book.accounts import ClientProfile
from liangrong.domain import operations as ops
from liangrong.domain.journal import Transaction
from liangrong.domain.restrictions import (
    PersonEvent,
    PersonRole,
    ShareEvent,
    ShareReason,
    personal_bans,
    restricted_shares,
)
from liangrong.ledger import schema as s
from liangrong.ledger.journal import MAX_BATCH_TRANSACTIONS, CreditAccountOpening, Ledger
from liangrong.sim.client_plans import Choices, ClientPlan, client_id, plan_book, plan_client
from liangrong.sim.reference_day import ReferenceDay, load_reference_day
from liangrong.store.reference import Clock
from liangrong.store.restrictions import Event as RestrictionEvent
from liangrong.store.restrictions import load_person_events, load_share_events, save_events

MARKER_COMMAND = "book:pool:CNY:headroom"
POST_BATCH = min(5_000, MAX_BATCH_TRANSACTIONS)
CLIENT_HEADROOM_FEN = 200_000_00  # financing pool beyond what the contracts took, per client


@dataclass(frozen=True, slots=True)
class BookMarker:
    """What the journal says about the generated book."""

    seed: int
    clients: int
    trading_date: date

    def event(self) -> dict[str, object]:
        return {
            "type": "book_generated",
            "seed": self.seed,
            "clients": self.clients,
            "trading_date": self.trading_date.isoformat(),
        }


@dataclass(frozen=True)
class GeneratedBook:
    marker: BookMarker
    profiles: tuple[ClientProfile, ...]
    ratios: tuple[Fraction | None, ...]
    contracts: int
    posted: int  # transactions posted by this call (0: the store already held the book)


class BookMismatch(ValueError):
    """The store already holds a generated book with another seed or size."""


Progress = Callable[[int, int], None]  # (done, total)


def _pool_transactions(
    c: Choices, marker: BookMarker, plans: Sequence[ClientPlan]
) -> tuple[list[Transaction], Transaction]:
    """The pools before the clients (what the contracts take, plus headroom per short target,
    a few scarce), and the marker: the financing pool's headroom, posted last."""
    rng = random.Random(f"book:{marker.seed}:pools")
    funded = c.past_days[-1]
    txns: list[Transaction] = []
    cash = sum(plan.financing_fen for plan in plans)
    if cash:
        txns.append(ops.fund_pool("book:pool:CNY", funded, "CNY", cash))
    taken: Counter[str] = Counter()
    for plan in plans:
        taken.update(plan.short_shares)
    scale = max(1, marker.clients // 100)
    for symbol in c.shorts:
        scarce = rng.randrange(100) < 15
        lots = rng.randint(0, 5) if scarce else rng.randint(20, 200) * scale
        shares = taken[symbol] + lots * 100
        if shares:
            txns.append(ops.fund_pool(f"book:pool:{symbol}", funded, symbol, shares))
    headroom = ops.fund_pool(MARKER_COMMAND, funded, "CNY", marker.clients * CLIENT_HEADROOM_FEN)
    return txns, replace(headroom, events=(marker.event(),))


_INSIDER_ROLES = (
    PersonRole.DIRECTOR,
    PersonRole.SUPERVISOR,
    PersonRole.SENIOR_MANAGER,
    PersonRole.HOLDER_5PCT,
)
_SHARE_REASONS = tuple(ShareReason)


def restriction_events(
    c: Choices, marker: BookMarker, plans: Sequence[ClientPlan]
) -> list[tuple[str, RestrictionEvent]]:
    """The plans' insiders, lock-up holders and restricted shares as dated events (CLI-4),
    effective from the day the clients were funded."""
    on, source = c.past_days[-1], f"generated demo book, seed {marker.seed}"
    events: list[tuple[str, RestrictionEvent]] = []
    for number, plan in enumerate(plans, start=1):
        p = plan.profile
        role = _INSIDER_ROLES[number % len(_INSIDER_ROLES)]
        for symbol in sorted(p.insider_symbols):
            event = PersonEvent(p.client_id, symbol, role, True, on, source)
            events.append((f"book:{p.client_id}:{role.value}:{symbol}", event))
        for symbol in sorted(p.lockup_symbols):
            event = PersonEvent(p.client_id, symbol, PersonRole.STRATEGIC_LOCKUP, True, on, source)
            events.append((f"book:{p.client_id}:lockup:{symbol}", event))
        reason = _SHARE_REASONS[number % len(_SHARE_REASONS)]
        for symbol, quantity in sorted(p.restricted_shares.items()):
            share = ShareEvent(p.client_id, symbol, reason, quantity, on, source)
            events.append((f"book:{p.client_id}:{reason.value}:{symbol}", share))
    return events


def profiles_on(
    engine: Engine, profiles: Sequence[ClientProfile], on: date
) -> tuple[ClientProfile, ...]:
    """The profiles with the personal bans and restricted shares the store's restriction
    events give for ``on`` (they may have changed since the book was generated)."""
    people: dict[str, list[PersonEvent]] = {}
    for person in load_person_events(engine):
        people.setdefault(person.client_id, []).append(person)
    shares: dict[str, list[ShareEvent]] = {}
    for share in load_share_events(engine):
        shares.setdefault(share.client_id, []).append(share)
    result = []
    for p in profiles:
        bans = personal_bans(people.get(p.client_id, ()), p.client_id, on)
        result.append(
            replace(
                p,
                insider_symbols=bans.insider_symbols,
                lockup_symbols=bans.lockup_symbols,
                restricted_shares=restricted_shares(shares.get(p.client_id, ()), p.client_id, on),
            )
        )
    return tuple(result)


def stored_marker(engine: Engine) -> BookMarker | None:
    """The generated book the store holds, if any."""
    t = s.journal_transactions
    with engine.connect() as conn:
        events = conn.execute(
            select(t.c.events_json).where(t.c.command_id == MARKER_COMMAND)
        ).scalar_one_or_none()
    if events is None:
        return None
    event = json.loads(events)[0]
    return BookMarker(
        int(event["seed"]), int(event["clients"]), date.fromisoformat(event["trading_date"])
    )


def _book(marker: BookMarker, plans: Sequence[ClientPlan], posted: int) -> GeneratedBook:
    return GeneratedBook(
        marker,
        tuple(plan.profile for plan in plans),
        tuple(plan.ratio for plan in plans),
        sum(plan.contracts for plan in plans),
        posted,
    )


def generate_book(
    ledger: Ledger,
    ref: ReferenceDay,
    seed: int,
    clients: int,
    progress: Progress | None = None,
    *,
    clock: Clock,
) -> GeneratedBook:
    """Post the book for ``ref``'s day, or, when the store holds this very book already,
    plan its profiles again (from the day it was generated for) and post nothing.
    ``clock`` stamps the restriction events (the ledger has its own)."""
    marker = BookMarker(seed, clients, ref.trading_date)
    stored = stored_marker(ledger.engine)
    if stored is not None:
        if (stored.seed, stored.clients) != (seed, clients):
            raise BookMismatch(
                f"the store holds a book of {stored.clients:,} clients generated with seed "
                f"{stored.seed} on {stored.trading_date}; use another store for "
                f"{clients:,} clients with seed {seed}"
            )
        return book_profiles(ledger.engine, stored, ref if stored == marker else None)
    plans = plan_book(ref, seed, clients)
    choices = Choices.from_reference(ref)
    pools, last = _pool_transactions(choices, marker, plans)
    ledger.open_credit_accounts(
        [
            CreditAccountOpening(
                f"book:open:{p.profile.client_id}:{exchange}",
                p.profile.client_id,
                exchange,
                p.profile.name,
                p.profile.name,
                p.opened_on,
            )
            for p in plans
            for exchange in ("SH", "SZ")
        ]
    )
    save_events(ledger.engine, restriction_events(choices, marker, plans), clock=clock)
    txns = [*pools, *(txn for plan in plans for txn in plan.transactions)]
    for start in range(0, len(txns), POST_BATCH):
        ledger.post_batch(txns[start : start + POST_BATCH])
        if progress is not None:
            progress(min(start + POST_BATCH, len(txns)), len(txns) + 1)
    ledger.post(last)  # the marker: the book is complete
    if progress is not None:
        progress(len(txns) + 1, len(txns) + 1)
    return _book(marker, plans, len(txns) + 1)


def book_profiles(
    engine: Engine, marker: BookMarker, ref: ReferenceDay | None = None
) -> GeneratedBook:
    """The stored book's profiles and planned ratios, planned again from its marker."""
    if ref is None:
        ref = load_reference_day(engine, marker.trading_date)
    return _book(marker, plan_book(ref, marker.seed, marker.clients), 0)


def client_profile(engine: Engine, client: str) -> ClientProfile | None:
    """One generated client's profile, planned again alone (None: not a generated client)."""
    marker = stored_marker(engine)
    number = int(client[1:]) if client[:1] == "C" and client[1:].isdigit() else 0
    if marker is None or client != client_id(number) or not 1 <= number <= marker.clients:
        return None
    choices = Choices.from_reference(load_reference_day(engine, marker.trading_date))
    return plan_client(choices, marker.seed, number).profile
