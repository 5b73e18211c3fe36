"""Whether a store's ledger holds together, read in one transaction: the journal's digest,
every balance against the sum of its postings, and each asset summing to zero on both sides.
Run after a restore and by ``liangrong store verify`` (GOV-6).

Invariant: read-only; a difference is listed, never repaired (ACC-7).
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Connection

from liangrong.ledger.digest import JournalDigest, journal_digest_on
from liangrong.ledger.projections import (
    BALANCES,
    JOURNAL,
    BalanceDifference,
    asset_totals,
    balance_differences,
    breaks_of,
)


@dataclass(frozen=True, slots=True)
class LedgerIntegrity:
    journal: JournalDigest
    differences: list[BalanceDifference]  # keys whose balance is not their postings' sum
    breaks: dict[str, int]  # assets not summing to zero, by side

    @property
    def holds(self) -> bool:
        return not self.differences and not self.breaks


def check_ledger(conn: Connection) -> LedgerIntegrity:
    """The checks on what ``conn`` sees (a snapshot, when it is one)."""
    breaks = breaks_of(asset_totals(conn, JOURNAL), asset_totals(conn, BALANCES))
    return LedgerIntegrity(journal_digest_on(conn), balance_differences(conn), breaks)
