"""Loading the demo reference data into a store: the universe and its generated prices, the
shipped calendar, the exchange's rule history and the demo firm policy, the demo firm's
net capital and firm-level limits (``firm_limits_seed``), and the daily lists
of the last few trading days up to a date (``liangrong.sim.demo_scenario``).

Invariants: every step goes through ``liangrong.store`` and is idempotent, so loading the
same date twice records nothing new the second time (``LoadReport.nothing_new``); the clock
and the date come from the caller; the lists already published are never touched, later
days continue from them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date

from sqlalchemy import Engine

from liangrong.domain.lists import ListEvent, ListLayer
from liangrong.sim.calendar_data import SHIPPED_RESOURCE, read_shipped_sessions
from liangrong.sim.demo_scenario import demo_list_history, demo_master, list_days
from liangrong.sim.firm_limits_seed import save_demo_firm_limits
from liangrong.sim.rules_seed import demo_rule_book, demo_security_ratios
from liangrong.sim.stress_seed import seed_stress_scenarios
from liangrong.sim.universe import load_demo_universe
from liangrong.store.calendar_loads import load_calendar, save_calendar_load
from liangrong.store.collections import seed_demo_collection_policy
from liangrong.store.list_publications import (
    latest_publication,
    load_list_store,
    publish_lists,
)
from liangrong.store.reference import Clock, save_prices, save_securities
from liangrong.store.report_submissions import seed_submission_window
from liangrong.store.rule_versions import save_rule_versions

SHIPPED_CALENDAR_SOURCE = f"liangrong/sim/{SHIPPED_RESOURCE} (shipped; XSHG 2024-2026)"
STEPS = ("universe", "securities", "calendar", "prices", "rules", "lists")

Step = Callable[[str], None]  # told the name of each step as it starts


@dataclass(frozen=True, slots=True)
class LoadReport:
    """What one load recorded: rows or versions that were new."""

    securities: int
    calendar_loads: int
    prices: int
    rule_versions: int
    list_publications: int
    list_days: tuple[date, ...]  # the trading days whose lists were published now
    events: tuple[tuple[date, ListEvent], ...]  # list events applied on those days
    firm_limit_versions: int = 0  # net capital and firm-limit rule versions (RISK-11)
    stress_scenario_sets: int = 0  # the firm's dated end-of-day stress scenario sets (RISK-12)
    collection_policies: int = 0  # the firm's dated collection policy (CON-6)
    submission_windows: int = 0  # the exchange's dated report deadlines (REP-1, REP-2)

    @property
    def nothing_new(self) -> bool:
        counts = (
            self.securities,
            self.calendar_loads,
            self.prices,
            self.rule_versions,
            self.firm_limit_versions,
            self.stress_scenario_sets,
            self.collection_policies,
            self.submission_windows,
        )
        return not any(counts) and not self.list_publications


def _nothing(_: str) -> None:
    pass


def load_shipped_calendar_into(engine: Engine, *, clock: Clock) -> int:
    """Record the shipped calendar as a load (0 when the store already has it)."""
    shipped = read_shipped_sessions()
    load = save_calendar_load(
        engine,
        shipped.sessions,
        shipped.horizon_start,
        shipped.horizon_end,
        SHIPPED_CALENDAR_SOURCE,
        clock=clock,
    )
    return 0 if load is None else 1


def load_demo(
    engine: Engine,
    on: date,
    *,
    clock: Clock,
    step: Step = _nothing,
    stress_scenarios: bool = True,
    collection_policy: bool = True,
) -> LoadReport:
    """Load the demo reference data for ``on`` into a migrated store (``stress_scenarios``
    False: a firm that has set no end-of-day stress scenarios; ``collection_policy`` False:
    one that collects charges only on repayment)."""
    step("universe")
    universe = load_demo_universe()
    master = demo_master(universe)
    step("securities")
    securities = save_securities(engine, master)
    step("calendar")
    # The store's calendar, not the shipped one: a later file loaded there may have
    # corrected the days the lists are published for.
    calendar_loads = load_shipped_calendar_into(engine, clock=clock)
    calendar = load_calendar(engine)
    step("prices")
    last_day = list_days(calendar, on, 1)[0]
    prices = save_prices(engine, last_day, universe.price_li, generated=True)
    step("rules")
    book = demo_rule_book(demo_security_ratios(master))
    versions = save_rule_versions(engine, book, clock=clock)
    firm_limit_versions = save_demo_firm_limits(engine, clock=clock)
    stress_sets = seed_stress_scenarios(engine, clock=clock) if stress_scenarios else 0
    policies = seed_demo_collection_policy(engine, clock=clock) if collection_policy else 0
    windows = seed_submission_window(engine, clock=clock)
    step("lists")
    latest_date = latest_publication(engine, ListLayer.EXCHANGE)
    latest = None
    if latest_date is not None:
        latest = load_list_store(engine, latest_date, latest_date).exchange[-1]
    history = demo_list_history(universe, calendar, book, on, latest)
    published = publish_lists(
        engine, [lists for day in history for lists in (day.exchange, day.firm)], clock=clock
    )
    return LoadReport(
        securities=securities,
        calendar_loads=calendar_loads,
        prices=prices,
        rule_versions=versions,
        list_publications=published,
        list_days=tuple(day.trading_date for day in history),
        events=tuple((day.trading_date, event) for day in history for event in day.events),
        firm_limit_versions=firm_limit_versions,
        stress_scenario_sets=stress_sets,
        collection_policies=policies,
        submission_windows=windows,
    )
