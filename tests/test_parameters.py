"""Dated rule layers (REF-5, RISK-4, RISK-5): every looser value refused with its own code,
the stricter layer read, overrides reported, precedence and lines."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import date, timedelta
from fractions import Fraction as F
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from liangrong.domain.contracts import ContractKind
from liangrong.domain.parameters import (
    ClientAgreement,
    ExchangeRules,
    FirmPolicy,
    HaircutCaps,
    HaircutLinkedRatio,
    Lines,
    SecurityMarginRatios,
    exchange_floor,
)
from liangrong.domain.rule_book import (
    NoRuleInForce,
    RatioSource,
    RuleBook,
    lines_for,
    margin_ratio,
    terms_for,
)
from liangrong.domain.rule_codes import RuleCode, RuleRefused
from liangrong.domain.versions import History, Version

FIN, SHORT = ContractKind.FINANCING, ContractKind.SHORT
SWITCH = date(2026, 1, 14)

EXCHANGE = ExchangeRules(
    financing_margin_ratio_floor=F("0.8"),
    short_margin_ratio_floor=F(1),
    short_margin_ratio_floor_private_fund=F("1.2"),
    withdrawal_line=F(3),
    minimum_maintenance_ratio=None,
    max_term_months=6,
    max_extension_months=6,
    haircut_caps=HaircutCaps(F("0.7"), F("0.65"), F("0.9"), F("0.95"), F("0.8")),
    zero_haircut_pe_from=F(300),
)
FIRM = FirmPolicy(
    lines=Lines(F("1.5"), F("1.4"), F("1.3"), F("1.15")),
    call_target=F("1.5"),
    call_deadline_trading_days=2,
    financing_margin_ratio=F("0.8"),
    short_margin_ratio=F(1),
    short_margin_ratio_private_fund=F("1.2"),
    withdrawal_line=F(3),
    max_term_months=6,
    max_extension_months=6,
    max_extensions=3,
    financing_rate=F("0.0835"),
    lending_fee_rate=F("0.1035"),
    penalty_rate=F("0.18"),
)


def ex_version(day: date, rules: ExchangeRules = EXCHANGE) -> Version[ExchangeRules]:
    return Version(f"ex-{day}", day, rules, "test notice")


def firm_version(day: date, policy: FirmPolicy = FIRM) -> Version[FirmPolicy]:
    return Version(f"firm-{day}", day, policy, "test committee")


def client_version(day: date, agreement: ClientAgreement) -> Version[ClientAgreement]:
    return Version(f"{agreement.client_id}-{day}", day, agreement, "test agreement")


def base_book() -> RuleBook:
    return RuleBook().with_exchange(ex_version(date(2023, 9, 8)))


def refused(load: Callable[[], object]) -> RuleRefused:
    with pytest.raises(RuleRefused) as info:
        load()
    return info.value


# --------------------------------------------------------------------------- refusals

FIRM_CASES = [
    (RuleCode.FIRM_FINANCING_RATIO_BELOW_FLOOR, {"financing_margin_ratio": F("0.79")}),
    (RuleCode.FIRM_SHORT_RATIO_BELOW_FLOOR, {"short_margin_ratio": F("0.99")}),
    (RuleCode.FIRM_SHORT_RATIO_BELOW_FLOOR, {"short_margin_ratio_private_fund": F("1.1")}),
    (
        RuleCode.FIRM_SECURITY_RATIO_BELOW_FLOOR,
        {"security_ratios": {"600000.SH": SecurityMarginRatios(financing=F("0.5"))}},
    ),
    (
        RuleCode.FIRM_SECURITY_RATIO_BELOW_FLOOR,
        {"security_ratios": {"600000.SH": SecurityMarginRatios(short=F("0.9"))}},
    ),
    (
        RuleCode.FIRM_SHORT_RATIO_BELOW_FLOOR,  # its lowest, max(1.5 - 1, 0.9), is below 100%
        {"haircut_linked_ratio": HaircutLinkedRatio(F("1.5"), F("0.9"))},
    ),
    (RuleCode.FIRM_WITHDRAWAL_LINE_BELOW_EXCHANGE, {"withdrawal_line": F("2.9")}),
    (RuleCode.FIRM_TERM_ABOVE_MAXIMUM, {"max_term_months": 7}),
    (RuleCode.FIRM_EXTENSION_ABOVE_MAXIMUM, {"max_extension_months": 12}),
    (RuleCode.LINES_NOT_ORDERED, {"lines": Lines(F("1.4"), F("1.5"), F("1.3"))}),
    (RuleCode.LINES_NOT_ORDERED, {"lines": Lines(F("1.5"), F("1.4"), F("1.3"), F("1.3"))}),
    (RuleCode.LINES_NOT_ORDERED, {"lines": Lines(F("1.5"), F("1.4"), F("1.3"), F(1))}),
    (RuleCode.CALL_TARGET_BELOW_WARNING_LINE, {"call_target": F("1.35")}),
    (RuleCode.RATE_NEGATIVE, {"penalty_rate": F("-0.01")}),
    (RuleCode.VALUE_OUT_OF_RANGE, {"call_deadline_trading_days": 0}),
]


@pytest.mark.parametrize(("code", "changes"), FIRM_CASES)
def test_each_looser_firm_value_is_refused_with_its_code(
    code: RuleCode, changes: dict[str, Any]
) -> None:
    error = refused(
        lambda: base_book().with_firm(firm_version(date(2025, 6, 1), replace(FIRM, **changes)))
    )
    assert error.codes == {code}
    violation = error.violations[0]
    assert violation.message_zh and violation.message_en
    assert "{" not in violation.message_zh + violation.message_en


def test_firm_liquidation_line_below_an_exchange_minimum_is_refused() -> None:
    book = RuleBook().with_exchange(
        ex_version(date(2010, 3, 31), replace(EXCHANGE, minimum_maintenance_ratio=F("1.3")))
    )
    policy = replace(FIRM, lines=Lines(F("1.5"), F("1.4"), F("1.25")))
    error = refused(lambda: book.with_firm(firm_version(date(2015, 1, 5), policy)))
    assert error.codes == {RuleCode.FIRM_LIQUIDATION_LINE_BELOW_EXCHANGE}


CLIENT_CASES = [
    (RuleCode.CLIENT_FINANCING_RATIO_BELOW_FLOOR, {"financing_margin_ratio": F("0.5")}),
    (RuleCode.CLIENT_SHORT_RATIO_BELOW_FLOOR, {"short_margin_ratio": F("0.8")}),
    (
        RuleCode.CLIENT_SHORT_RATIO_BELOW_FLOOR,
        {"private_fund": True, "short_margin_ratio": F("1.1")},
    ),
    (
        RuleCode.CLIENT_SECURITY_RATIO_BELOW_FLOOR,
        {"security_ratios": {"000001.SZ": SecurityMarginRatios(F("0.6"), None)}},
    ),
    (
        RuleCode.CLIENT_SECURITY_RATIO_BELOW_FLOOR,
        {"private_fund": True, "security_ratios": {"000001.SZ": SecurityMarginRatios(None, F(1))}},
    ),
    (RuleCode.LINES_NOT_ORDERED, {"lines": Lines(F("1.3"), F("1.4"), F("1.2"))}),
    (
        RuleCode.CALL_TARGET_BELOW_WARNING_LINE,
        {"lines": Lines(F("1.6"), F("1.5"), F("1.3")), "call_target": F("1.4")},
    ),
    (RuleCode.RATE_NEGATIVE, {"financing_rate": F("-0.001")}),
    (RuleCode.VALUE_OUT_OF_RANGE, {"call_deadline_trading_days": 0}),
]


@pytest.mark.parametrize(("code", "changes"), CLIENT_CASES)
def test_each_looser_client_value_is_refused_with_its_code(
    code: RuleCode, changes: dict[str, Any]
) -> None:
    book = base_book().with_firm(firm_version(date(2023, 9, 8)))
    agreement = ClientAgreement("C1", **changes)
    error = refused(lambda: book.with_client(client_version(date(2025, 1, 2), agreement)))
    assert error.codes == {code}
    assert error.violations[0].message_zh and error.violations[0].message_en


def test_client_liquidation_line_below_an_exchange_minimum_is_refused() -> None:
    book = RuleBook().with_exchange(
        ex_version(date(2010, 3, 31), replace(EXCHANGE, minimum_maintenance_ratio=F("1.3")))
    )
    book = book.with_firm(firm_version(date(2010, 3, 31)))
    agreement = ClientAgreement("C1", lines=Lines(F("1.4"), F("1.3"), F("1.2")))
    error = refused(lambda: book.with_client(client_version(date(2012, 1, 4), agreement)))
    assert error.codes == {RuleCode.CLIENT_LIQUIDATION_LINE_BELOW_EXCHANGE}


def test_exchange_rules_out_of_range_are_refused() -> None:
    bad_caps = replace(EXCHANGE.haircut_caps, etf=F("1.1"))
    error = refused(
        lambda: RuleBook().with_exchange(
            ex_version(date(2020, 1, 2), replace(EXCHANGE, haircut_caps=bad_caps))
        )
    )
    assert error.codes == {RuleCode.VALUE_OUT_OF_RANGE}
    private_below = replace(EXCHANGE, short_margin_ratio_floor_private_fund=F("0.9"))
    error = refused(lambda: RuleBook().with_exchange(ex_version(date(2020, 1, 2), private_below)))
    assert error.codes == {RuleCode.VALUE_OUT_OF_RANGE}


def test_a_version_not_after_the_last_is_refused() -> None:
    book = base_book().with_firm(firm_version(date(2024, 1, 2)))
    error = refused(lambda: book.with_firm(firm_version(date(2024, 1, 2))))
    assert RuleCode.EFFECTIVE_DATE_NOT_AFTER_LAST in error.codes
    error = refused(lambda: book.with_firm(firm_version(date(2023, 12, 29))))
    assert error.codes == {RuleCode.EFFECTIVE_DATE_NOT_AFTER_LAST}
    error = refused(lambda: base_book().with_exchange(ex_version(date(2020, 1, 2))))
    assert error.codes == {RuleCode.EFFECTIVE_DATE_NOT_AFTER_LAST}


def test_a_duplicate_version_id_is_refused() -> None:
    first = firm_version(date(2024, 1, 2))
    again = replace(firm_version(date(2024, 2, 1)), version_id=first.version_id)
    error = refused(lambda: base_book().with_firm(first, again))
    assert error.codes == {RuleCode.DUPLICATE_VERSION_ID}


def test_a_firm_version_before_any_exchange_rules_is_refused() -> None:
    error = refused(lambda: base_book().with_firm(firm_version(date(2020, 1, 2))))
    assert error.codes == {RuleCode.NO_EXCHANGE_RULES_IN_FORCE}


def test_every_violation_is_reported_not_just_the_first() -> None:
    policy = replace(FIRM, financing_margin_ratio=F("0.5"), max_term_months=9)
    error = refused(lambda: base_book().with_firm(firm_version(date(2024, 1, 2), policy)))
    assert error.codes == {
        RuleCode.FIRM_FINANCING_RATIO_BELOW_FLOOR,
        RuleCode.FIRM_TERM_ABOVE_MAXIMUM,
    }
    assert error.code is RuleCode.FIRM_FINANCING_RATIO_BELOW_FLOOR


# --------------------------------------------------------------------------- the 2026-01-14 switch


def switched_book() -> RuleBook:
    tighter = replace(EXCHANGE, financing_margin_ratio_floor=F(1))
    return base_book().with_exchange(ex_version(SWITCH, tighter))


def test_the_exchange_floor_switches_on_2026_01_14() -> None:
    book = switched_book().with_firm(
        firm_version(date(2023, 9, 8)),
        firm_version(SWITCH, replace(FIRM, financing_margin_ratio=F(1))),
    )
    before = margin_ratio(book, FIN, "600000.SH", SWITCH - timedelta(days=1))
    on_day = margin_ratio(book, FIN, "600000.SH", SWITCH)
    after = margin_ratio(book, FIN, "600000.SH", date(2026, 6, 1))
    assert (before.ratio, on_day.ratio, after.ratio) == (F("0.8"), F(1), F(1))
    assert before.rule_version.identifier == "exchange:ex-2023-09-08/firm:firm-2023-09-08"
    assert on_day.rule_version.identifier == "exchange:ex-2026-01-14/firm:firm-2026-01-14"
    assert before.override is None and on_day.override is None


def test_an_open_ended_firm_value_looser_than_an_announced_floor_is_refused() -> None:
    """Known semantics: a version's period runs to the next version of its layer, so an
    80% firm ratio from 2025-06-01 with nothing after it spans 2026-01-14 and is refused."""
    error = refused(lambda: switched_book().with_firm(firm_version(date(2025, 6, 1))))
    assert error.codes == {RuleCode.FIRM_FINANCING_RATIO_BELOW_FLOOR}
    assert error.violations[0].on == SWITCH
    assert "2026-01-14" in error.violations[0].message_en


def test_a_firm_value_bounded_by_its_successor_is_accepted() -> None:
    book = switched_book().with_firm(
        firm_version(date(2025, 6, 1)),
        firm_version(SWITCH, replace(FIRM, financing_margin_ratio=F("1.1"))),
    )
    assert margin_ratio(book, FIN, "600000.SH", date(2025, 6, 1)).ratio == F("0.8")
    assert margin_ratio(book, FIN, "600000.SH", SWITCH).ratio == F("1.1")


def test_a_floor_tightened_after_loading_overrides_the_firm_value_and_says_so() -> None:
    book = base_book().with_firm(firm_version(date(2025, 6, 1)))  # 80%, allowed when loaded
    book = book.with_exchange(
        ex_version(SWITCH, replace(EXCHANGE, financing_margin_ratio_floor=F(1)))
    )
    before = margin_ratio(book, FIN, "600000.SH", date(2026, 1, 13))
    after = margin_ratio(book, FIN, "600000.SH", SWITCH)
    assert before.ratio == F("0.8") and before.override is None
    assert after.ratio == F(1)
    assert after.source is RatioSource.FIRM_DEFAULT
    assert after.override is not None
    assert (after.override.configured, after.override.applied) == (F("0.8"), F(1))
    assert after.override.exchange_version == "ex-2026-01-14"


def test_terms_report_a_withdrawal_line_raised_by_the_exchange() -> None:
    book = base_book().with_firm(firm_version(date(2024, 1, 2)))
    book = book.with_exchange(
        ex_version(date(2025, 1, 2), replace(EXCHANGE, withdrawal_line=F("3.5"), max_term_months=3))
    )
    terms = terms_for(book, None, date(2025, 3, 3))
    assert terms.withdrawal_line == F("3.5") and terms.max_term_months == 3
    assert {o.field for o in terms.overrides} == {"withdrawal_line", "max_term_months"}
    assert terms_for(book, None, date(2024, 3, 1)).overrides == ()


def test_reading_before_the_first_version_is_a_caller_error() -> None:
    with pytest.raises(NoRuleInForce):
        margin_ratio(base_book(), FIN, "600000.SH", date(2024, 1, 2))  # no firm policy yet
    with pytest.raises(NoRuleInForce):
        margin_ratio(
            base_book().with_firm(firm_version(date(2024, 1, 2))), FIN, "x", date(2023, 1, 3)
        )


# --------------------------------------------------------------------------- precedence


def book_with_client(agreement: ClientAgreement, policy: FirmPolicy = FIRM) -> RuleBook:
    book = base_book().with_firm(firm_version(date(2024, 1, 2), policy))
    return book.with_client(client_version(date(2024, 3, 1), agreement))


def test_per_security_firm_ratio_applies_to_that_security_only() -> None:
    policy = replace(FIRM, security_ratios={"688981.SH": SecurityMarginRatios(F("1.2"), F("1.3"))})
    book = base_book().with_firm(firm_version(date(2024, 1, 2), policy))
    day = date(2024, 5, 6)
    assert margin_ratio(book, FIN, "688981.SH", day).ratio == F("1.2")
    assert margin_ratio(book, SHORT, "688981.SH", day).ratio == F("1.3")
    assert margin_ratio(book, FIN, "688981.SH", day).source is RatioSource.FIRM_SECURITY
    assert margin_ratio(book, FIN, "600000.SH", day).ratio == F("0.8")


def test_client_overrides_take_precedence_in_order() -> None:
    firm = replace(FIRM, security_ratios={"A.SH": SecurityMarginRatios(F("1.5"), None)})
    client = ClientAgreement(
        "C1",
        financing_margin_ratio=F("0.9"),
        security_ratios={"B.SH": SecurityMarginRatios(F("1.1"), None)},
    )
    book = book_with_client(client, firm)
    day = date(2024, 5, 6)
    assert margin_ratio(book, FIN, "B.SH", day, "C1").source is RatioSource.CLIENT_SECURITY
    assert margin_ratio(book, FIN, "B.SH", day, "C1").ratio == F("1.1")
    assert margin_ratio(book, FIN, "A.SH", day, "C1").ratio == F("0.9")  # client default wins
    assert margin_ratio(book, FIN, "A.SH", day, "C1").source is RatioSource.CLIENT_DEFAULT
    assert margin_ratio(book, FIN, "A.SH", day, "C2").ratio == F("1.5")  # no agreement
    assert margin_ratio(book, SHORT, "A.SH", day, "C1").source is RatioSource.FIRM_DEFAULT
    assert margin_ratio(book, FIN, "A.SH", day, "C1").rule_version.client == "C1-2024-03-01"
    # before the agreement takes effect the firm's values apply
    assert margin_ratio(book, FIN, "B.SH", date(2024, 2, 1), "C1").ratio == F("0.8")


def test_a_private_fund_gets_the_higher_short_floor() -> None:
    policy = replace(FIRM, security_ratios={"A.SH": SecurityMarginRatios(None, F("1.1"))})
    book = book_with_client(ClientAgreement("PF", private_fund=True), policy)
    day = date(2024, 5, 6)
    assert margin_ratio(book, SHORT, "B.SH", day, "PF").ratio == F("1.2")
    decision = margin_ratio(book, SHORT, "A.SH", day, "PF")
    assert decision.ratio == F("1.2") and decision.override is not None
    assert margin_ratio(book, SHORT, "A.SH", day).ratio == F("1.1")  # other clients


def test_haircut_linked_ratio_option() -> None:
    policy = replace(FIRM, haircut_linked_ratio=HaircutLinkedRatio(F("1.7"), F(1)))
    book = base_book().with_firm(firm_version(date(2024, 1, 2), policy))
    day = date(2024, 5, 6)
    assert margin_ratio(book, FIN, "A.SH", day, haircut=F("0.5")).ratio == F("1.2")
    assert margin_ratio(book, FIN, "A.SH", day, haircut=F("0.9")).ratio == F(1)
    assert (
        margin_ratio(book, FIN, "A.SH", day, haircut=F(0)).source is RatioSource.FIRM_HAIRCUT_LINKED
    )
    with pytest.raises(ValueError, match="haircut"):
        margin_ratio(book, FIN, "A.SH", day)


# --------------------------------------------------------------------------- lines and terms


def test_lines_come_from_the_client_agreement_over_the_firm() -> None:
    own = Lines(F("1.4"), F("1.3"), F("1.2"))
    book = book_with_client(ClientAgreement("C1", lines=own, financing_rate=F("0.055")))
    day = date(2024, 5, 6)
    mine, default = lines_for(book, "C1", day), lines_for(book, "C2", day)
    assert mine.lines == own and mine.from_client
    assert default.lines == FIRM.lines and not default.from_client
    terms = terms_for(book, "C1", day)
    assert terms.financing_rate == F("0.055") and terms.lending_fee_rate == F("0.1035")
    assert terms.call_target == F("1.5") and terms.call_deadline_trading_days == 2


def test_call_target_is_never_below_the_client_warning_line() -> None:
    book = book_with_client(ClientAgreement("C1", lines=Lines(F("1.7"), F("1.6"), F("1.3"))))
    assert terms_for(book, "C1", date(2024, 5, 6)).call_target == F("1.6")


def test_an_exchange_minimum_ratio_raises_lines_below_it() -> None:
    book = base_book().with_firm(firm_version(date(2024, 1, 2)))
    stricter = replace(EXCHANGE, minimum_maintenance_ratio=F("1.35"))
    book = book.with_exchange(ex_version(date(2025, 1, 2), stricter))
    decision = lines_for(book, None, date(2025, 1, 2))
    assert decision.lines == Lines(F("1.5"), F("1.4"), F("1.35"), F("1.15"))
    assert decision.override is not None and decision.override.configured == F("1.3")


# --------------------------------------------------------------------------- history


def test_history_lookup_and_periods() -> None:
    days = [date(2020, 1, 2), date(2021, 1, 4), date(2022, 1, 4)]
    history = History(tuple(Version(str(d), d, i, "t") for i, d in enumerate(days)))
    assert history.version_at(date(2019, 12, 31)) is None
    assert history.version_at(date(2021, 1, 3)) is not None
    assert [getattr(history.version_at(d), "value", None) for d in days] == [0, 1, 2]
    assert history.end_of(history.versions[0]) == days[1]
    assert history.end_of(history.versions[2]) is None
    assert [v.value for v in history.during(date(2020, 6, 1), date(2021, 1, 5))] == [0, 1]
    assert [v.value for v in history.during(date(2021, 1, 4), None)] == [1, 2]


# --------------------------------------------------------------------------- property

floors = st.fractions(min_value=F("0.5"), max_value=F("1.5"), max_denominator=100)


@given(
    initial=floors,
    firm_ratio=floors,
    later=st.lists(st.tuples(st.integers(1, 2000), floors), max_size=4),
    probe=st.integers(0, 3000),
)
def test_the_ratio_read_is_never_below_the_exchange_floor(
    initial: F, firm_ratio: F, later: list[tuple[int, F]], probe: int
) -> None:
    start = date(2020, 1, 2)
    rules = replace(EXCHANGE, financing_margin_ratio_floor=initial)
    book = RuleBook().with_exchange(ex_version(start, rules))
    policy = replace(FIRM, financing_margin_ratio=max(firm_ratio, initial))
    book = book.with_firm(firm_version(start, policy))
    for offset in sorted({o for o, _ in later}):  # tightened or loosened after the firm loaded
        floor = dict(later)[offset]
        day = start + timedelta(days=offset)
        book = book.with_exchange(
            ex_version(day, replace(EXCHANGE, financing_margin_ratio_floor=floor))
        )
    day = start + timedelta(days=probe)
    decision = margin_ratio(book, FIN, "600000.SH", day)
    in_force = book.exchange.version_at(day)
    assert in_force is not None
    assert decision.ratio >= exchange_floor(in_force.value, FIN)
    assert decision.ratio == max(
        policy.financing_margin_ratio, in_force.value.financing_margin_ratio_floor
    )
    assert (decision.override is None) == (decision.ratio == policy.financing_margin_ratio)
