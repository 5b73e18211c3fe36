"""Where the firm's end of day books the charges (``interest.ChargePosting``: ``daily`` or
``subledger``, ``docs/charges-subledger.md``), as a dated firm parameter the firm records
(migration ``0023_charge_posting``, ``liangrong eod posting record``).

The posting in force on a day is the latest recorded version effective on or before it;
with none recorded, the end of day's own charging policy's (``EodSettings.policy``).

Invariants: the table is append-only and versioned as every dated parameter is
(``store.dated_versions``); a version takes effect only on a day whose accrual has not begun:
its effective date must come after every date with an accrual state, so a past day, or a
day whose accrual a crash interrupted, is rerun under the posting it began with.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import date

from sqlalchemy import Connection, Engine

from liangrong.domain.interest import ChargePosting
from liangrong.domain.versions import History, Version
from liangrong.store.charges_pending import last_accrual_begun
from liangrong.store.dated_versions import DatedVersions, dated_table
from liangrong.store.reference import Clock, ReferenceConflict

charge_posting_policies = dated_table("charge_posting_policies")


class ChargePostingConflict(ReferenceConflict):
    """A posting version id recorded with another date, value or source."""


class ChargePostingTooLate(ValueError):
    """A posting version effective on a day whose accrual has begun (or an earlier one)."""


def _encode(posting: ChargePosting) -> str:
    return json.dumps({"posting": posting.value}, sort_keys=True, separators=(",", ":"))


def _decode(text: str) -> ChargePosting:
    return ChargePosting(json.loads(text)["posting"])


_POSTINGS = DatedVersions(
    charge_posting_policies, "charge posting", _encode, _decode, ChargePostingConflict
)


def _not_booked(conn: Connection, fresh: Sequence[Version[ChargePosting]]) -> None:
    begun = last_accrual_begun(conn)
    if begun is not None and any(v.effective <= begun for v in fresh):
        raise ChargePostingTooLate(
            f"the end of day of {begun.isoformat()} has booked charges: a posting can take "
            f"effect from {date.fromordinal(begun.toordinal() + 1).isoformat()} at the earliest"
        )


def record_charge_posting(engine: Engine, version: Version[ChargePosting], *, clock: Clock) -> int:
    """Record a posting version (1 if new, 0 if recorded before, as it is).  Refused
    (``ChargePostingTooLate``) when an accrual has begun on or after its effective date,
    read under the write lock the recording takes; a version already recorded is accepted
    again unchanged."""
    return _POSTINGS.save(engine, [version], clock=clock, check=_not_booked)


def load_charge_postings(engine: Engine) -> History[ChargePosting]:
    return _POSTINGS.history(engine)


def posting_on(engine: Engine, day: date, default: ChargePosting) -> ChargePosting:
    """The posting in force on ``day``: the firm's recorded version, else ``default``."""
    version = load_charge_postings(engine).version_at(day)
    return version.value if version is not None else default
