"""The demo seed: exchange rule dates of domain-notes §2, the demo firm, the demo lists."""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from fractions import Fraction as F

import pytest

from liangrong.domain.contracts import ContractKind
from liangrong.domain.lists import (
    NOT_TARGET_STATUSES,
    ListLayer,
    ListStore,
    check_exchange_lists,
    check_firm_lists,
)
from liangrong.domain.parameters import ExchangeRules
from liangrong.domain.rule_book import RuleBook, lines_for, margin_ratio, terms_for
from liangrong.domain.rule_codes import RuleCode, RuleRefused
from liangrong.domain.securities import Board, Kind
from liangrong.domain.versions import Version
from liangrong.sim.rules_seed import (
    DEMO_FIRM_LINES,
    demo_firm_versions,
    demo_lists,
    demo_rule_book,
    demo_security_ratios,
    exchange_rule_versions,
    negotiated_agreement,
)
from liangrong.sim.universe import DemoUniverse, load_demo_universe

FIN, SHORT = ContractKind.FINANCING, ContractKind.SHORT


def rules_on(day: date) -> ExchangeRules:
    version = demo_rule_book().exchange.version_at(day)
    assert version is not None
    return version.value


@pytest.mark.parametrize(
    ("day", "floor"),
    [
        (date(2012, 6, 1), F("0.5")),  # pilot era
        (date(2015, 11, 23), F(1)),
        (date(2023, 9, 7), F(1)),
        (date(2023, 9, 8), F("0.8")),
        (date(2026, 1, 13), F("0.8")),
        (date(2026, 1, 14), F(1)),
        (date(2027, 1, 4), F(1)),
    ],
)
def test_financing_floor_history(day: date, floor: F) -> None:
    assert rules_on(day).financing_margin_ratio_floor == floor


@pytest.mark.parametrize(
    ("day", "floor", "private"),
    [
        (date(2023, 10, 27), F("0.5"), F("0.5")),
        (date(2023, 10, 30), F("0.8"), F(1)),
        (date(2024, 7, 19), F("0.8"), F(1)),
        (date(2024, 7, 22), F(1), F("1.2")),
    ],
)
def test_short_floor_history(day: date, floor: F, private: F) -> None:
    rules = rules_on(day)
    assert (rules.short_margin_ratio_floor, rules.short_margin_ratio_floor_private_fund) == (
        floor,
        private,
    )


def test_other_exchange_values() -> None:
    now = rules_on(date(2026, 3, 2))
    assert now.withdrawal_line == 3 and now.max_term_months == 6
    assert now.max_extension_months == 6 and now.minimum_maintenance_ratio is None
    assert now.zero_haircut_pe_from == 300
    caps = now.haircut_caps
    assert (caps.large_cap_stock, caps.other_stock, caps.etf) == (F("0.7"), F("0.65"), F("0.9"))
    assert (caps.government_bond_or_cash, caps.other_fund_or_bond) == (F("0.95"), F("0.8"))
    assert rules_on(date(2019, 8, 8)).minimum_maintenance_ratio == F("1.3")
    assert rules_on(date(2015, 6, 30)).max_extension_months == 0
    assert all(v.source for v in exchange_rule_versions())


def test_contracts_keep_the_ratio_and_version_they_were_opened_under() -> None:
    book = demo_rule_book()
    december = margin_ratio(book, FIN, "600000.SH", date(2025, 12, 1))
    january = margin_ratio(book, FIN, "600000.SH", date(2026, 1, 14))
    assert december.ratio == F("0.8")
    assert december.rule_version.identifier == "exchange:2024-07-22/firm:2023-09-08"
    assert january.ratio == F(1)
    assert january.rule_version.identifier == "exchange:2026-01-14/firm:2026-01-14"
    # the December contract's recorded terms do not depend on today's reading
    assert margin_ratio(book, FIN, "600000.SH", date(2025, 12, 1)) == december


def test_demo_firm_values() -> None:
    book = demo_rule_book()
    day = date(2026, 2, 2)
    assert lines_for(book, None, day).lines == DEMO_FIRM_LINES
    terms = terms_for(book, None, day)
    assert (terms.financing_rate, terms.lending_fee_rate) == (F("0.0835"), F("0.1035"))
    assert terms.penalty_rate / 360 == F("0.0005")  # 0.05% a day
    assert (terms.call_target, terms.call_deadline_trading_days) == (F("1.5"), 2)
    assert margin_ratio(book, SHORT, "600000.SH", day).ratio == F(1)


def test_the_demo_firm_loads_through_the_refusals() -> None:
    """An 80% firm ratio with no successor would run past 2026-01-14: refused."""
    exchange = RuleBook().with_exchange(*exchange_rule_versions())
    first = demo_firm_versions()[0]
    with pytest.raises(RuleRefused) as info:
        exchange.with_firm(first)
    assert info.value.codes == {RuleCode.FIRM_FINANCING_RATIO_BELOW_FLOOR}
    too_early = Version("2023-09-01", date(2023, 9, 1), first.value, "test")
    with pytest.raises(RuleRefused):
        exchange.with_firm(too_early, demo_firm_versions()[1])


def test_negotiated_agreement_overrides_lines_and_rates() -> None:
    book = demo_rule_book().with_client(negotiated_agreement("C001", date(2025, 3, 3)))
    day = date(2026, 2, 2)
    assert lines_for(book, "C001", day).lines.liquidation == F("1.2")
    assert terms_for(book, "C001", day).financing_rate == F("0.055")
    assert terms_for(book, "C001", day).rule_version.client == "C001@2025-03-03"


@pytest.fixture(scope="module")
def universe() -> DemoUniverse:
    return load_demo_universe()


def test_volatile_boards_carry_a_higher_ratio(universe: DemoUniverse) -> None:
    book = demo_rule_book(demo_security_ratios(universe.securities))
    star = next(s for s in universe.securities if s.board is Board.STAR and s.kind is Kind.STOCK)
    decision = margin_ratio(book, FIN, star.symbol, date(2025, 12, 1))
    assert decision.ratio == F("1.2")


def test_demo_lists_fit_the_rules(universe: DemoUniverse) -> None:
    day = date(2026, 1, 14)
    book = demo_rule_book()
    exchange, firm = demo_lists(
        day, universe.securities, universe.pe_ratio, book, universe.money_market
    )
    rules = rules_on(day)
    check = check_exchange_lists(
        exchange, universe.securities, universe.pe_ratio, rules, universe.money_market
    )
    assert check == []
    assert check_firm_lists(firm, exchange) == []
    assert firm.financing_targets < exchange.financing_targets
    assert firm.short_targets < exchange.short_targets
    assert any(firm.collateral[s] < h for s, h in exchange.collateral.items())
    for security in universe.securities:
        symbol = security.symbol
        if security.status in NOT_TARGET_STATUSES:
            assert symbol not in exchange.financing_targets
            assert exchange.collateral.get(symbol, F(0)) == 0
        pe = universe.pe_ratio.get(symbol)
        if security.kind is Kind.STOCK and pe is not None and (pe >= 300 or pe < 0):
            assert exchange.collateral[symbol] == 0
    for symbol in universe.money_market:
        assert exchange.collateral[symbol] == F("0.95")
        assert symbol not in exchange.financing_targets
    store = ListStore().published(exchange).published(firm)
    assert store.firm_lists_on(date(2026, 1, 15)).adjustments == ()
    assert store.lists_on(ListLayer.FIRM, day) == firm


def test_demo_lists_are_deterministic(universe: DemoUniverse) -> None:
    book = demo_rule_book()
    day = date(2025, 6, 3)
    first = demo_lists(day, universe.securities, universe.pe_ratio, book)
    assert first == demo_lists(day, universe.securities, dict(universe.pe_ratio), book)
    later = replace(universe.securities[0], listing_date=date(2030, 1, 2))
    unlisted = demo_lists(day, (later, *universe.securities[1:]), universe.pe_ratio, book)
    assert later.symbol not in unlisted[0].collateral
