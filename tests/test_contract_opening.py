"""CON-1: a contract's ratio, rule version, rate and calendar-aware maturity at opening."""

from __future__ import annotations

from datetime import date
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from liangrong.domain.calendar import add_months
from liangrong.domain.contract_opening import ContractRequest, contract_terms
from liangrong.domain.contracts import ContractKind, ContractTerms
from liangrong.sim.calendar_data import load_shipped_calendar
from liangrong.sim.rules_seed import demo_rule_book

CALENDAR = load_shipped_calendar()


def days_after_until(start: date, end: date) -> list[date]:
    """Days strictly after start up to end."""
    return [date.fromordinal(n) for n in range(start.toordinal() + 1, end.toordinal() + 1)]


BOOK = demo_rule_book()


def request(kind: ContractKind, on: date, used: date | None = None) -> ContractRequest:
    return ContractRequest(
        contract_id="K1",
        kind=kind,
        client_id="C1",
        security="600000.SH",
        quantity=1000,
        amount_fen=10_000_00,
        price_li=10_000,
        open_date=on,
        used_date=used,
    )


def test_financing_opened_before_the_switch_keeps_80_percent_after_it() -> None:
    before = contract_terms(BOOK, CALENDAR, request(ContractKind.FINANCING, date(2026, 1, 13)))
    after = contract_terms(BOOK, CALENDAR, request(ContractKind.FINANCING, date(2026, 1, 14)))
    assert before.margin_ratio == Fraction(4, 5) and after.margin_ratio == 1
    assert before.rule_version != after.rule_version
    # the contract's own record does not change when read back later
    assert ContractTerms.from_event(before.to_event()) == before


def test_rates_come_from_the_firm_policy() -> None:
    financing = contract_terms(BOOK, CALENDAR, request(ContractKind.FINANCING, date(2026, 3, 2)))
    short = contract_terms(BOOK, CALENDAR, request(ContractKind.SHORT, date(2026, 3, 2)))
    assert financing.annual_rate == Fraction("0.0835")
    assert short.annual_rate == Fraction("0.1035")


def test_maturity_runs_from_the_day_of_use_and_rolls_back_over_holidays() -> None:
    # 2026-04-03 + 6 months = 2026-10-03, inside the National Day holiday: back to 2026-09-30.
    terms = contract_terms(BOOK, CALENDAR, request(ContractKind.FINANCING, date(2026, 4, 3)))
    assert terms.maturity == date(2026, 9, 30) and not terms.maturity_provisional
    used_later = contract_terms(
        BOOK, CALENDAR, request(ContractKind.FINANCING, date(2026, 4, 3), used=date(2026, 4, 13))
    )
    assert used_later.used_date == date(2026, 4, 13) and used_later.maturity == date(2026, 10, 13)


def test_maturity_past_the_loaded_calendar_is_provisional() -> None:
    terms = contract_terms(BOOK, CALENDAR, request(ContractKind.SHORT, date(2026, 11, 20)))
    assert terms.maturity == date(2027, 5, 20) and terms.maturity_provisional


@settings(max_examples=200, deadline=None)
@given(st.dates(min_value=date(2024, 1, 2), max_value=date(2026, 12, 31)))
def test_maturity_is_never_past_the_maximum_term(on: date) -> None:
    if not CALENDAR.is_trading_day(on):
        on = CALENDAR.next_trading_day(on)
    terms = contract_terms(BOOK, CALENDAR, request(ContractKind.FINANCING, on))
    limit = add_months(on, 6)
    assert on < terms.maturity <= limit
    # nothing later than the maturity and within the limit is a trading day
    assert all(not CALENDAR.is_trading_day(d) for d in days_after_until(terms.maturity, limit))
    assert CALENDAR.is_trading_day(terms.maturity)


def test_a_loaded_client_agreement_overrides_rates() -> None:
    from liangrong.sim.rules_seed import negotiated_agreement

    book = BOOK.with_client(negotiated_agreement("C1", date(2026, 2, 2)))
    terms = contract_terms(book, CALENDAR, request(ContractKind.FINANCING, date(2026, 3, 2)))
    assert "client:C1@2026-02-02" in terms.rule_version
    assert terms.annual_rate != Fraction("0.0835")


@pytest.mark.parametrize("kind", list(ContractKind))
def test_contract_terms_round_trip_through_the_journal_event(kind: ContractKind) -> None:
    terms = contract_terms(BOOK, CALENDAR, request(kind, date(2026, 3, 2)))
    assert ContractTerms.from_event(terms.to_event()) == terms
