"""What an end of day runs with: the firm's dated charging and contract-term policies, where
its files go, how the next day's reference data arrives, and batch sizes.

The policies are dated parameters (``Version``s in a ``History``), read for each day they
apply to; the demo's values are here, each with its source, until the firm's rule versions
carry them (``rule_codec`` has no encoding for them yet).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from fractions import Fraction
from pathlib import Path

from sqlalchemy import Engine

from liangrong.domain.contract_lifecycle import LifecyclePolicy
from liangrong.domain.interest import ChargePolicy, ChargePosting, RateBasis, SameDayUse
from liangrong.domain.versions import History, Version
from liangrong.sim.book_generator import stored_marker
from liangrong.sim.demo_loader import load_demo

Clock = Callable[[], datetime]
# Publishes the next trading day's lists and parameters into the store (idempotently).
ReferenceSource = Callable[[Engine, date, Clock], None]
DEFAULT_BATCH = 5_000  # ledger transactions per commit (the ledger takes at most 10,000)
DEFAULT_REPORTS_DIR = Path("var/reports")


class NoPolicyInForce(LookupError):
    """A day before the first version of a policy."""


@dataclass(frozen=True, slots=True)
class EodPolicies:
    charges: History[ChargePolicy]
    lifecycle: History[LifecyclePolicy]

    def charges_on(self, day: date) -> ChargePolicy:
        version = self.charges.version_at(day)
        if version is None:
            raise NoPolicyInForce(f"no charge policy in force on {day}")
        return version.value

    def lifecycle_on(self, day: date) -> Version[LifecyclePolicy]:
        version = self.lifecycle.version_at(day)
        if version is None:
            raise NoPolicyInForce(f"no contract-term policy in force on {day}")
        return version


def demo_policies(posting: ChargePosting = ChargePosting.DAILY) -> EodPolicies:
    """The demo firm's values (S1 art. 60, 73); ``posting``: where its end of day books the
    charges (``docs/charges-subledger.md``)."""
    charges = ChargePolicy(
        same_day_use=SameDayUse.MANAGEMENT_FEE,  # S1 art. 73: used intraday, nothing at close
        management_fee_rate=Fraction("0.0835"),
        penalty_in_addition=True,
        rate_basis=RateBasis.IN_FORCE,
        posting=posting,
    )
    lifecycle = LifecyclePolicy(
        expiry_notice_trading_days=5,
        request_cutoff_trading_days=1,
        extension_ratio_high=Fraction("1.4"),  # S1 art. 60
        extension_ratio_low=Fraction("1.3"),
        liquidation_lookback_months=6,
    )
    source = "demo firm policy, credit committee"
    return EodPolicies(
        History((Version("2023-09-08", date(2023, 9, 8), charges, source),)),
        History((Version("2023-09-08", date(2023, 9, 8), lifecycle, source),)),
    )


def demo_reference_source(engine: Engine, next_day: date, clock: Clock) -> None:
    """The demo's lists and parameters for the next trading day (what the exchange and the
    firm's committee would publish before the open)."""
    load_demo(engine, next_day, clock=clock)


@dataclass(frozen=True, slots=True)
class EodSettings:
    reports_dir: Path = DEFAULT_REPORTS_DIR
    policies: EodPolicies | None = None  # None: the demo's
    reference_source: ReferenceSource = demo_reference_source
    batch_transactions: int = DEFAULT_BATCH
    # Charges posted before the first end of day (the demo book's opening interest) cover
    # contracts through this day; a contract accrues from the day after (or its day of use).
    accrued_through: date | None = None
    # The reconciliation checks every key against the whole journal at least this often
    # (calendar days; 0: every day), on other days against its checkpoint and the postings
    # since (``eod/ledger_control.py``).
    full_reconciliation_days: int = 7
    # From this many accrual transactions on, forked workers build the ledger's batches
    # while this process writes them (``eod/forked_producer.py``; the same rows either way):
    # below it the forks cost more than they save.  0: always.
    accrual_worker_from: int = 20_000
    # How many: building costs about twice what writing does, so one a core (None).
    accrual_workers: int | None = None
    # The accrual states kept besides each month's last (calendar days before the latest):
    # a statement's period needs the states at its start and end for the pending charges.
    accrual_states_kept_days: int = 62

    @property
    def workers(self) -> int:
        return self.accrual_workers or os.cpu_count() or 1

    def __post_init__(self) -> None:
        if not 1 <= self.batch_transactions <= 10_000:
            raise ValueError("batch_transactions: 1..10,000 (the ledger's batch limit)")
        if self.full_reconciliation_days < 0:
            raise ValueError("full_reconciliation_days: 0 or more")
        if self.accrual_worker_from < 0:
            raise ValueError("accrual_worker_from: 0 or more")
        if self.accrual_workers is not None and not 1 <= self.accrual_workers <= 64:
            raise ValueError("accrual_workers: 1..64")
        if self.accrual_states_kept_days < 0:
            raise ValueError("accrual_states_kept_days: 0 or more")

    @property
    def policy(self) -> EodPolicies:
        return self.policies or demo_policies()


def opening_accrual(engine: Engine) -> date | None:
    """Through which day the generated demo book's opening interest was accrued: the day
    before its book date (``client_plans`` charges ``(book date − opened)`` days)."""
    marker = stored_marker(engine)
    return None if marker is None else marker.trading_date - timedelta(days=1)
