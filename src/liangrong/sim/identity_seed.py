"""The demo book's identity documents and the demo firm's expiry policy (CLI-6), GENERATED:
no source gives a client's documents, and the sources ask for the monitoring without saying
what follows (``domain.identity_expiry``).

The policy (one dated version, the demo firm's compliance department): remind from 30
calendar days before the last valid day; after it, 30 days' grace; then no new financing or
shorts until a renewal is on file.

The documents (one identity card per client, numbers visibly fake: ``DEMO``…): per block of
100 clients, in a seeded order, 2 expire within the notice window of the book's date, 1
expired within the grace, 1 expired past it (restricted), 1 expired and was renewed, 15 are
long-term (长期, as a card issued at 46 or older is), and the rest run for 1 to 20 years.
Every record says ``generated``.

Invariants: the same clients, date and seed give the same records with the same ids
(``identity:{seed}:{client}[:renewal]``), so seeding again records nothing; every document is
on file by the book's date.
"""

from __future__ import annotations

import random
from collections.abc import Iterator, Sequence
from datetime import date, timedelta
from itertools import islice

from sqlalchemy import Engine

from liangrong.domain.identity_expiry import (
    DocumentKind,
    ExpiryAction,
    IdentityDocument,
    IdentityExpiryPolicy,
)
from liangrong.domain.versions import History, Version
from liangrong.store.identity_documents import (
    DocumentRecord,
    record_documents,
    save_policy_versions,
)
from liangrong.store.reference import Clock

BLOCK = 100  # clients per block of the seeded mix
_EXPIRING, _IN_GRACE, _PAST_GRACE, _RENEWED = (0, 1), (2,), (3,), (4,)
_LONG_TERM = range(5, 20)
_CARD_YEARS = 20  # a card issued between 26 and 45 runs 20 years
_YEAR = 365
_SAVE_CHUNK = 100_000


def identity_policy_history() -> History[IdentityExpiryPolicy]:
    return History(
        (
            Version(
                "identity-2024",
                date(2024, 1, 2),
                IdentityExpiryPolicy(30, 30, ExpiryAction.RESTRICT_NEW_DEBT),
                "generated: the demo firm's compliance department (anti-money-laundering "
                "practice: business suspended when an expired identity document is not "
                "renewed within a reasonable time)",
            ),
        )
    )


def _number(rng: random.Random) -> str:
    return f"DEMO{rng.randrange(10**14):014d}"


def _card(client: str, rng: random.Random, until: date | None, on: date) -> IdentityDocument:
    """A card taken on file by ``on`` (a year or more before, or since its issue, 20 years
    before its last valid day)."""
    taken = on - timedelta(days=rng.randrange(_YEAR, 15 * _YEAR))
    if until is not None:
        taken = max(taken, until - timedelta(days=_CARD_YEARS * _YEAR))
    return IdentityDocument(client, DocumentKind.IDENTITY_CARD, _number(rng), until, taken)


def demo_documents(client_ids: Sequence[str], on: date, seed: int) -> list[DocumentRecord]:
    """The clients' documents on file by ``on`` (see the module docstring)."""
    return list(_documents(client_ids, on, seed))


def _documents(client_ids: Sequence[str], on: date, seed: int) -> Iterator[DocumentRecord]:
    policy = identity_policy_history().version_at(on)
    notice, grace = (policy.value.notice_days, policy.value.grace_days) if policy else (30, 30)
    rng = random.Random(f"identity:{seed}")
    source = f"generated demo documents, seed {seed}"
    for start in range(0, len(client_ids), BLOCK):
        block = list(client_ids[start : start + BLOCK])
        order = list(range(BLOCK))
        rng.shuffle(order)
        for client, slot in zip(block, order, strict=False):
            record_id = f"identity:{seed}:{client}"
            if slot in _EXPIRING:
                until: date | None = on + timedelta(days=rng.randrange(notice + 1))
            elif slot in _IN_GRACE:
                until = on - timedelta(days=rng.randrange(1, grace + 1))
            elif slot in _PAST_GRACE or slot in _RENEWED:
                until = on - timedelta(days=rng.randrange(grace + 1, grace + _YEAR))
            elif slot in _LONG_TERM:
                until = None
            else:
                until = on + timedelta(days=rng.randrange(_YEAR, _CARD_YEARS * _YEAR))
            card = _card(client, rng, until, on)
            yield DocumentRecord(record_id, card, True, source)
            if slot in _RENEWED and until is not None:
                renewed_on = until + timedelta(days=rng.randrange(1, (on - until).days + 1))
                renewal = IdentityDocument(
                    client,
                    DocumentKind.IDENTITY_CARD,
                    _number(rng),
                    renewed_on + timedelta(days=_CARD_YEARS * _YEAR),
                    renewed_on,
                )
                yield DocumentRecord(f"{record_id}:renewal", renewal, True, source)


def seed_identity_documents(
    engine: Engine, client_ids: Sequence[str], on: date, seed: int, *, clock: Clock
) -> int:
    """Record the demo policy and the clients' documents (idempotent); returns how many
    records were new."""
    recorded = save_policy_versions(engine, identity_policy_history().versions, clock=clock)
    documents = _documents(client_ids, on, seed)
    while chunk := list(islice(documents, _SAVE_CHUNK)):  # one transaction each: bounded memory
        recorded += record_documents(engine, chunk, clock=clock)
    return recorded
