"""The reference-data store on SQLite and PostgreSQL (REF-1, REF-2, REF-4, REF-5): round
trips, idempotent saves, conflicts refused, append-only tables, refusals on load."""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from fractions import Fraction as F

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine, func, select, text

from liangrong.domain.lists import DailyLists, ListLayer
from liangrong.domain.rule_book import RuleBook
from liangrong.domain.rule_codec import encode_rules
from liangrong.domain.rule_codes import RuleCode, RuleRefused
from liangrong.domain.securities import Status
from liangrong.domain.versions import Version
from liangrong.sim.calendar_data import load_shipped_calendar, read_shipped_sessions
from liangrong.sim.demo_loader import load_demo
from liangrong.sim.rules_seed import (
    demo_firm_versions,
    demo_lists,
    demo_rule_book,
    exchange_rule_versions,
    negotiated_agreement,
)
from liangrong.sim.universe import DemoUniverse, load_demo_universe
from liangrong.store import schema
from liangrong.store.calendar_loads import calendar_loads, load_calendar, save_calendar_load
from liangrong.store.list_publications import (
    ListPublicationConflict,
    latest_publication,
    load_list_store,
    publish_lists,
)
from liangrong.store.reference import (
    PriceConflict,
    load_prices,
    load_securities,
    save_prices,
    save_securities,
)
from liangrong.store.rule_versions import RuleVersionConflict, load_rule_book, save_rule_versions

MON, TUE, WED = date(2026, 3, 2), date(2026, 3, 3), date(2026, 3, 4)


@pytest.fixture(scope="module")
def universe() -> DemoUniverse:
    return load_demo_universe()


def count(engine: Engine, table: str) -> int:
    with engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(text(table))).scalar_one()


def test_the_migration_creates_exactly_the_schema_module_tables(store: Engine) -> None:
    with store.connect() as conn:
        diffs = compare_metadata(MigrationContext.configure(conn), schema.metadata)
    mine = {
        "securities",
        "reference_prices",
        "calendar_loads",
        "calendar_sessions",
        "rule_versions",
        "list_publications",
        "list_entries",
    }
    assert mine <= set(schema.metadata.tables)
    assert [d for d in diffs if any(name in str(d) for name in mine)] == []


# --------------------------------------------------------------------------- securities


def test_securities_round_trip_and_a_second_save_changes_nothing(
    store: Engine, universe: DemoUniverse
) -> None:
    assert save_securities(store, universe.securities) == 812
    loaded = load_securities(store)
    assert loaded == tuple(sorted(universe.securities, key=lambda s: s.symbol))
    bond = next(s for s in loaded if s.generated >= {"code", "name"})
    assert bond.generated == universe.security(bond.symbol).generated
    assert save_securities(store, universe.securities) == 0
    assert count(store, "securities") == 812


def test_a_changed_status_updates_the_one_row(store: Engine, universe: DemoUniverse) -> None:
    save_securities(store, universe.securities)
    first = universe.securities[0]
    assert save_securities(store, [replace(first, status=Status.RISK_WARNING)]) == 1
    by_symbol = {s.symbol: s for s in load_securities(store)}
    assert by_symbol[first.symbol].status is Status.RISK_WARNING
    assert len(by_symbol) == 812


def test_prices_latest_on_or_before_a_date_and_conflicts_refused(
    store: Engine, universe: DemoUniverse
) -> None:
    save_securities(store, universe.securities)
    symbol = universe.securities[0].symbol
    assert save_prices(store, MON, {symbol: 12_340}, generated=True) == 1
    assert save_prices(store, MON, {symbol: 12_340}, generated=True) == 0
    assert save_prices(store, WED, {symbol: 12_500}, generated=True) == 1
    with pytest.raises(PriceConflict):
        save_prices(store, MON, {symbol: 12_350}, generated=True)
    assert load_prices(store, TUE)[symbol].price_li == 12_340
    assert load_prices(store, WED)[symbol].price_li == 12_500
    assert load_prices(store, date(2026, 3, 1)) == {}


# --------------------------------------------------------------------------- calendar


def shipped(store: Engine, clock) -> None:
    data = read_shipped_sessions()
    load = save_calendar_load(
        store, data.sessions, data.horizon_start, data.horizon_end, "shipped", clock=clock
    )
    assert load is not None and load.load_id == 1 and load.session_count == 727


def test_calendar_round_trip_and_the_same_load_again_records_nothing(
    store: Engine, fixed_clock
) -> None:
    shipped(store, fixed_clock)
    assert load_calendar(store) == load_shipped_calendar()
    data = read_shipped_sessions()
    again = save_calendar_load(
        store, data.sessions, data.horizon_start, data.horizon_end, "again", clock=fixed_clock
    )
    assert again is None and len(calendar_loads(store)) == 1


def test_a_later_year_extends_the_horizon_and_later_days_stay_provisional(
    store: Engine, fixed_clock
) -> None:
    shipped(store, fixed_clock)
    year = [date(2027, 1, 4), date(2027, 1, 5), date(2027, 2, 15)]
    load = save_calendar_load(
        store, year, date(2027, 1, 1), date(2027, 12, 31), "2027 notice", clock=fixed_clock
    )
    assert load is not None and load.load_id == 2
    calendar = load_calendar(store)
    assert calendar.horizon_end == date(2027, 12, 31)
    assert not calendar.is_provisional(date(2027, 6, 1))
    assert not calendar.is_trading_day(date(2027, 1, 6))  # inside the file: not listed, closed
    assert calendar.is_provisional(date(2028, 1, 3)) and calendar.is_trading_day(date(2028, 1, 3))
    assert [x.source for x in calendar_loads(store)] == ["shipped", "2027 notice"]


def test_a_later_load_wins_inside_its_range(store: Engine, fixed_clock) -> None:
    shipped(store, fixed_clock)
    assert load_calendar(store).is_trading_day(date(2026, 3, 2))
    # a correction for March 2026: the 2nd closed
    march = [d for d in load_shipped_calendar().sessions_in(date(2026, 3, 1), date(2026, 3, 31))]
    fixed = [d for d in march if d != date(2026, 3, 2)]
    save_calendar_load(
        store, fixed, date(2026, 3, 1), date(2026, 3, 31), "correction", clock=fixed_clock
    )
    calendar = load_calendar(store)
    assert not calendar.is_trading_day(date(2026, 3, 2))
    assert calendar.is_trading_day(date(2026, 3, 3)) and calendar.is_trading_day(date(2026, 4, 1))


def test_a_session_outside_its_range_is_refused(store: Engine, fixed_clock) -> None:
    with pytest.raises(ValueError, match="outside"):
        save_calendar_load(
            store, [date(2028, 1, 3)], date(2027, 1, 1), date(2027, 12, 31), "x", clock=fixed_clock
        )
    assert count(store, "calendar_loads") == 0


# --------------------------------------------------------------------------- rule versions


def test_rule_book_round_trip_and_idempotent_save(store: Engine, fixed_clock) -> None:
    agreement = negotiated_agreement("C1", date(2025, 6, 2), private_fund=True)
    book = demo_rule_book().with_client(agreement)
    assert save_rule_versions(store, book, clock=fixed_clock) == 9 + 2 + 1
    assert load_rule_book(store) == book
    assert save_rule_versions(store, book, clock=fixed_clock) == 0
    assert save_rule_versions(store, [agreement], clock=fixed_clock) == 0
    assert count(store, "rule_versions") == 12
    with store.connect() as conn:
        row = conn.execute(
            text("SELECT subject, payload_json, source FROM rule_versions WHERE layer='client'")
        ).one()
    assert row.subject == "C1" and '"financing_rate":"0.055"' in row.payload_json
    assert row.source == "demo negotiated agreement"


def test_same_version_id_with_another_payload_is_refused(store: Engine, fixed_clock) -> None:
    save_rule_versions(store, demo_rule_book(), clock=fixed_clock)
    firm = demo_firm_versions()[-1]
    changed = replace(firm, value=replace(firm.value, financing_rate=F("0.09")))
    with pytest.raises(RuleVersionConflict, match="firm/2026-01-14"):
        save_rule_versions(store, [changed], clock=fixed_clock)
    with pytest.raises(RuleVersionConflict):
        save_rule_versions(store, [replace(firm, source="rewritten")], clock=fixed_clock)
    assert load_rule_book(store) == demo_rule_book()


def test_a_looser_firm_version_is_refused_and_nothing_is_written(
    store: Engine, fixed_clock
) -> None:
    save_rule_versions(store, demo_rule_book(), clock=fixed_clock)
    firm = demo_firm_versions()[-1]
    loose = Version(
        "2026-06-01",
        date(2026, 6, 1),
        replace(firm.value, financing_margin_ratio=F("0.8")),
        "below the 100% floor",
    )
    with pytest.raises(RuleRefused) as refused:
        save_rule_versions(store, [loose], clock=fixed_clock)
    assert refused.value.code is RuleCode.FIRM_FINANCING_RATIO_BELOW_FLOOR
    assert count(store, "rule_versions") == 11


def test_a_looser_firm_value_written_around_the_api_is_refused_on_load(
    store: Engine, fixed_clock
) -> None:
    save_rule_versions(store, demo_rule_book(), clock=fixed_clock)
    firm = demo_firm_versions()[-1].value
    with store.begin() as conn:
        conn.execute(
            schema.rule_versions.insert().values(
                layer="firm",
                subject="",
                version_id="sneaked",
                effective=date(2026, 6, 1),
                payload_json=encode_rules(replace(firm, financing_margin_ratio=F("0.5"))),
                source="a console",
                recorded_at="2026-06-01T00:00:00",
            )
        )
    with pytest.raises(RuleRefused) as refused:
        load_rule_book(store)
    assert RuleCode.FIRM_FINANCING_RATIO_BELOW_FLOOR in refused.value.codes


def test_exchange_versions_alone_and_then_the_firm(store: Engine, fixed_clock) -> None:
    assert save_rule_versions(store, exchange_rule_versions(), clock=fixed_clock) == 9
    assert save_rule_versions(store, demo_firm_versions(), clock=fixed_clock) == 2
    assert load_rule_book(store) == demo_rule_book()
    assert load_rule_book(store) != RuleBook()


# --------------------------------------------------------------------------- daily lists


def lists_for(universe: DemoUniverse, on: date) -> tuple[DailyLists, DailyLists]:
    return demo_lists(on, universe.securities, universe.pe_ratio, demo_rule_book())


def test_lists_versioned_by_date(store: Engine, universe: DemoUniverse, fixed_clock) -> None:
    save_securities(store, universe.securities)
    monday = lists_for(universe, MON)
    symbol = sorted(monday[0].financing_targets)[0]
    exchange_wed = replace(
        lists_for(universe, WED)[0],
        financing_targets=monday[0].financing_targets - {symbol},
    )
    firm_wed = replace(
        lists_for(universe, WED)[1],
        financing_targets=monday[1].financing_targets - {symbol},
        collateral={**monday[1].collateral, symbol: F(2, 3) * F(1, 2)},
    )
    assert publish_lists(store, [*monday, exchange_wed, firm_wed], clock=fixed_clock) == 4
    assert publish_lists(store, [*monday, exchange_wed, firm_wed], clock=fixed_clock) == 0
    assert latest_publication(store, ListLayer.FIRM) == WED

    lists = load_list_store(store)
    assert lists.lists_on(ListLayer.EXCHANGE, TUE) == monday[0]  # latest on or before
    assert lists.lists_on(ListLayer.EXCHANGE, WED) == exchange_wed
    assert lists.lists_on(ListLayer.FIRM, date(2026, 3, 1)) is None
    assert symbol not in lists.firm_lists_on(WED).lists.financing_targets
    assert lists.lists_on(ListLayer.FIRM, WED).haircut(symbol) == F(1, 3)  # exact, not 0.333
    window = load_list_store(store, TUE, WED)
    assert [x.trading_date for x in window.exchange] == [MON, WED]
    assert count(store, "list_publications") == 4


def test_published_lists_are_never_rewritten(
    store: Engine, universe: DemoUniverse, fixed_clock
) -> None:
    save_securities(store, universe.securities)
    exchange, firm = lists_for(universe, TUE)
    publish_lists(store, [exchange, firm], clock=fixed_clock)
    smaller = replace(exchange, short_targets=frozenset())
    with pytest.raises(ListPublicationConflict, match="2026-03-03"):
        publish_lists(store, [smaller], clock=fixed_clock)
    with pytest.raises(RuleRefused) as refused:  # a date before the latest: a rewrite of history
        publish_lists(store, [lists_for(universe, MON)[0]], clock=fixed_clock)
    assert refused.value.code is RuleCode.LISTS_DATE_NOT_AFTER_LAST
    assert count(store, "list_publications") == 2


def test_firm_lists_must_fit_the_exchange_lists_in_force(
    store: Engine, universe: DemoUniverse, fixed_clock
) -> None:
    save_securities(store, universe.securities)
    exchange, firm = lists_for(universe, MON)
    cut = sorted(exchange.financing_targets)[0]
    publish_lists(
        store,
        [replace(exchange, financing_targets=exchange.financing_targets - {cut})],
        clock=fixed_clock,
    )
    with pytest.raises(RuleRefused) as refused:
        publish_lists(
            store,
            [replace(firm, financing_targets=firm.financing_targets | {cut})],
            clock=fixed_clock,
        )
    assert refused.value.code is RuleCode.FIRM_FINANCING_TARGET_NOT_IN_EXCHANGE_LIST
    assert latest_publication(store, ListLayer.FIRM) is None


# --------------------------------------------------------------------------- append-only


@pytest.mark.parametrize(
    ("table", "column"),
    [
        ("rule_versions", "source"),
        ("list_publications", "digest"),
        ("list_entries", "haircut"),
        ("calendar_loads", "source"),
        ("calendar_sessions", "load_id"),
    ],
)
def test_reference_history_tables_refuse_update_and_delete(
    store: Engine, universe: DemoUniverse, fixed_clock, table: str, column: str
) -> None:
    shipped(store, fixed_clock)
    save_rule_versions(store, demo_rule_book(), clock=fixed_clock)
    save_securities(store, universe.securities)
    publish_lists(store, lists_for(universe, MON), clock=fixed_clock)
    before = count(store, table)
    value = "0" if column == "load_id" else "'x'"
    for statement in (f"UPDATE {table} SET {column} = {value}", f"DELETE FROM {table}"):
        with pytest.raises(Exception, match="append-only"), store.begin() as conn:
            conn.execute(text(statement))
    assert count(store, table) == before > 0


# --------------------------------------------------------------------------- the demo data


def test_the_demo_data_loads_once_on_each_backend(store: Engine, fixed_clock) -> None:
    first = load_demo(store, date(2026, 3, 2), clock=fixed_clock)
    assert (first.securities, first.rule_versions, first.list_publications) == (812, 11, 10)
    assert [e.kind.value for _, e in first.events] == [
        "delisting_announced",
        "risk_warning_imposed",
    ]
    assert load_demo(store, date(2026, 3, 2), clock=fixed_clock).nothing_new
    later = load_demo(store, date(2026, 3, 4), clock=fixed_clock)  # continues, no new events
    assert later.list_days == (date(2026, 3, 3), date(2026, 3, 4)) and later.events == ()
    lists = load_list_store(store)
    warned = first.events[-1][1].symbol
    assert warned in lists.lists_on(ListLayer.EXCHANGE, date(2026, 2, 27)).financing_targets
    for day in (date(2026, 3, 2), date(2026, 3, 4)):
        assert warned not in lists.lists_on(ListLayer.EXCHANGE, day).financing_targets
        assert lists.lists_on(ListLayer.EXCHANGE, day).haircut(warned) == 0
