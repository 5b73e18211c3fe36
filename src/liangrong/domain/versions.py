"""Dated versions of one rule layer: an append-only history read by effective date.

Invariants: versions are strictly increasing by effective date and their ids are unique
(refused with ``RuleRefused`` otherwise); a version is in force from its effective date until
the next version's (the last one is open-ended); appending never changes an earlier version.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from itertools import pairwise
from typing import Generic, TypeVar

from liangrong.domain.rule_codes import RuleCode, Violation, refuse_if_any

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Version(Generic[T]):
    """One dated value of a layer.  ``source`` is the audit record: notice, approval, why."""

    version_id: str
    effective: date
    value: T
    source: str


def _order_violations(versions: Sequence[Version[T]]) -> list[Violation]:
    found = [
        Violation(
            RuleCode.EFFECTIVE_DATE_NOT_AFTER_LAST,
            field=after.version_id,
            limit=before.effective.isoformat(),
            on=after.effective,
        )
        for before, after in pairwise(versions)
        if after.effective <= before.effective
    ]
    ids = [v.version_id for v in versions]
    duplicates = sorted({i for i in ids if ids.count(i) > 1})
    return found + [Violation(RuleCode.DUPLICATE_VERSION_ID, value=i) for i in duplicates]


@dataclass(frozen=True, slots=True)
class History(Generic[T]):
    """Append-only versions of one layer, strictly increasing by effective date."""

    versions: tuple[Version[T], ...] = ()

    def __post_init__(self) -> None:
        refuse_if_any(_order_violations(self.versions))

    def appended(self, versions: Iterable[Version[T]]) -> History[T]:
        return History((*self.versions, *versions))

    def version_at(self, on: date) -> Version[T] | None:
        index = bisect_right(self.versions, on, key=lambda v: v.effective)
        return self.versions[index - 1] if index else None

    def end_of(self, version: Version[T]) -> date | None:
        """First day ``version`` is no longer in force; None while it is the last."""
        index = self.versions.index(version)
        return self.versions[index + 1].effective if index + 1 < len(self.versions) else None

    def during(self, start: date, end: date | None) -> tuple[Version[T], ...]:
        """Versions in force on some day of ``[start, end)`` (``end`` None: open-ended)."""
        return tuple(
            v
            for v in self.versions
            if (end is None or v.effective < end)
            and ((stop := self.end_of(v)) is None or stop > start)
        )
