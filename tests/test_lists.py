"""Daily lists (REF-2, REF-3): haircut caps, the firm's subsets, list events, the store."""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from fractions import Fraction as F

import pytest
from hypothesis import given
from hypothesis import strategies as st

from liangrong.domain.lists import (
    DailyLists,
    ListEvent,
    ListEventKind,
    ListLayer,
    ListStore,
    check_exchange_lists,
    check_firm_lists,
    haircut_cap,
    next_exchange_lists,
    restrict_to_exchange,
)
from liangrong.domain.parameters import ExchangeRules, HaircutCaps
from liangrong.domain.rule_codes import RuleCode, RuleRefused
from liangrong.domain.securities import Board, Exchange, Kind, Security, Status, board_of

RULES = ExchangeRules(
    financing_margin_ratio_floor=F(1),
    short_margin_ratio_floor=F(1),
    short_margin_ratio_floor_private_fund=F("1.2"),
    withdrawal_line=F(3),
    minimum_maintenance_ratio=None,
    max_term_months=6,
    max_extension_months=6,
    haircut_caps=HaircutCaps(F("0.7"), F("0.65"), F("0.9"), F("0.95"), F("0.8")),
    zero_haircut_pe_from=F(300),
)
D0, D1 = date(2026, 3, 2), date(2026, 3, 3)


def sec(
    code: str,
    kind: Kind = Kind.STOCK,
    status: Status = Status.NORMAL,
    large: bool = False,
    registration_ipo: bool = False,
    listed: date = date(2015, 1, 5),
) -> Security:
    exchange = Exchange.SH if code.startswith(("5", "6", "0190")) else Exchange.SZ
    board = board_of(code, exchange) if kind is Kind.STOCK else Board.NONE
    return Security(
        code=code,
        exchange=exchange,
        name=code,
        board=board,
        kind=kind,
        total_shares=10_000,
        float_shares=5_000,
        listing_date=listed,
        registration_ipo=registration_ipo,
        status=status,
        large_cap_constituent=large,
    )


BIG, SMALL, STAR = sec("600000", large=True), sec("000001"), sec("688001", registration_ipo=True)
ETF, BOND, FUND = (
    sec("510300", Kind.ETF),
    sec("019001", Kind.GOVERNMENT_BOND),
    sec("160001", Kind.OTHER_FUND),
)
MASTER = (BIG, SMALL, STAR, ETF, BOND, FUND)
PE = {s.symbol: (F(20) if s.kind is Kind.STOCK else None) for s in MASTER}


def lists(
    layer: ListLayer = ListLayer.EXCHANGE,
    day: date = D0,
    targets: frozenset[str] = frozenset({BIG.symbol, SMALL.symbol, STAR.symbol, ETF.symbol}),
    collateral: dict[str, F] | None = None,
) -> DailyLists:
    if collateral is None:
        collateral = {s.symbol: haircut_cap(s, PE[s.symbol], RULES) for s in MASTER}
    return DailyLists(day, layer, targets, targets, collateral)


# --------------------------------------------------------------------------- haircut caps


def test_haircut_caps_by_category() -> None:
    assert haircut_cap(BIG, F(20), RULES) == F("0.7")
    assert haircut_cap(SMALL, F(20), RULES) == F("0.65")
    assert haircut_cap(ETF, None, RULES) == F("0.9")
    assert haircut_cap(ETF, None, RULES, cash_product=True) == F("0.95")
    assert haircut_cap(BOND, None, RULES) == F("0.95")
    assert haircut_cap(FUND, None, RULES) == F("0.8")


@pytest.mark.parametrize("pe", [F(300), F(301), F(-5), None])
def test_stock_haircut_is_zero_for_pe_at_or_above_300_negative_or_unknown(pe: F | None) -> None:
    assert haircut_cap(BIG, pe, RULES) == 0


def test_pe_rule_not_in_force_keeps_the_cap() -> None:
    assert haircut_cap(BIG, F(500), replace(RULES, zero_haircut_pe_from=None)) == F("0.7")
    assert haircut_cap(BIG, F("299.99"), RULES) == F("0.7")


@pytest.mark.parametrize("status", [Status.RISK_WARNING, Status.DELISTING_PERIOD, Status.DELISTED])
def test_haircut_is_zero_under_risk_warning_and_delisting(status: Status) -> None:
    assert haircut_cap(replace(BIG, status=status), F(20), RULES) == 0
    assert haircut_cap(replace(ETF, status=status), None, RULES) == 0


def test_suspension_keeps_the_cap() -> None:
    assert haircut_cap(replace(SMALL, status=Status.SUSPENDED), F(20), RULES) == F("0.65")


# --------------------------------------------------------------------------- validation


def test_a_haircut_outside_zero_one_is_refused() -> None:
    with pytest.raises(RuleRefused) as info:
        lists(collateral={BIG.symbol: F("1.01")})
    assert info.value.codes == {RuleCode.HAIRCUT_OUT_OF_RANGE}
    assert info.value.violations[0].symbol == BIG.symbol


def test_firm_lists_within_the_exchange_pass() -> None:
    firm = lists(ListLayer.FIRM, targets=frozenset({BIG.symbol}), collateral={BIG.symbol: F("0.6")})
    assert check_firm_lists(firm, lists()) == []


@pytest.mark.parametrize(
    ("code", "firm"),
    [
        (
            RuleCode.FIRM_FINANCING_TARGET_NOT_IN_EXCHANGE_LIST,
            DailyLists(D0, ListLayer.FIRM, frozenset({BOND.symbol}), frozenset(), {}),
        ),
        (
            RuleCode.FIRM_SHORT_TARGET_NOT_IN_EXCHANGE_LIST,
            DailyLists(D0, ListLayer.FIRM, frozenset(), frozenset({FUND.symbol}), {}),
        ),
        (
            RuleCode.FIRM_COLLATERAL_NOT_IN_EXCHANGE_LIST,
            DailyLists(D0, ListLayer.FIRM, frozenset(), frozenset(), {"300750.SZ": F("0.5")}),
        ),
        (
            RuleCode.FIRM_HAIRCUT_ABOVE_CAP,
            DailyLists(D0, ListLayer.FIRM, frozenset(), frozenset(), {SMALL.symbol: F("0.7")}),
        ),
    ],
)
def test_each_firm_list_violation_names_the_security(code: RuleCode, firm: DailyLists) -> None:
    exchange = lists(
        targets=frozenset({BIG.symbol, SMALL.symbol}),
        collateral={s.symbol: haircut_cap(s, PE[s.symbol], RULES) for s in MASTER if s is not BOND}
        | {BOND.symbol: F("0.95")},
    )
    found = check_firm_lists(firm, exchange)
    assert [v.code for v in found] == [code]
    assert found[0].symbol and found[0].symbol in found[0].message_en
    assert found[0].symbol in found[0].message_zh


def test_exchange_list_checks() -> None:
    st_stock = replace(SMALL, status=Status.RISK_WARNING)
    master = (BIG, st_stock, ETF)
    bad = DailyLists(
        D0,
        ListLayer.EXCHANGE,
        frozenset({BIG.symbol, st_stock.symbol, "999999.SH"}),
        frozenset(),
        {BIG.symbol: F("0.75"), ETF.symbol: F("0.9")},
    )
    found = check_exchange_lists(bad, master, PE, RULES)
    assert {(v.code, v.symbol) for v in found} == {
        (RuleCode.UNKNOWN_SECURITY, "999999.SH"),
        (RuleCode.TARGET_NOT_ELIGIBLE, st_stock.symbol),
        (RuleCode.EXCHANGE_HAIRCUT_ABOVE_CAP, BIG.symbol),
    }


# --------------------------------------------------------------------------- events


def step(
    events: list[ListEvent], master: tuple[Security, ...], previous: DailyLists | None = None
) -> DailyLists:
    return next_exchange_lists(previous or lists(), D1, master, PE, RULES, events)


def test_risk_warning_removes_the_target_that_day_and_zeroes_the_haircut() -> None:
    flagged = replace(SMALL, status=Status.RISK_WARNING)
    master = (BIG, flagged, STAR, ETF, BOND, FUND)
    today = step([ListEvent(SMALL.symbol, ListEventKind.RISK_WARNING_IMPOSED)], master)
    assert today.trading_date == D1
    assert SMALL.symbol not in today.financing_targets | today.short_targets
    assert today.haircut(SMALL.symbol) == 0  # still collateral, worth nothing as margin
    assert BIG.symbol in today.financing_targets


def test_delisting_announcement_removes_the_target_that_day() -> None:
    delisting = replace(BIG, status=Status.DELISTING_PERIOD)
    master = (delisting, SMALL, STAR, ETF, BOND, FUND)
    today = step([ListEvent(BIG.symbol, ListEventKind.DELISTING_ANNOUNCED)], master)
    assert BIG.symbol not in today.financing_targets | today.short_targets
    assert today.haircut(BIG.symbol) == 0


def test_a_status_change_without_its_event_still_removes_the_target() -> None:
    master = (BIG, replace(SMALL, status=Status.RISK_WARNING), STAR, ETF, BOND, FUND)
    assert SMALL.symbol not in step([], master).financing_targets


def test_registration_ipo_is_a_target_from_its_first_day() -> None:
    ipo = sec("688999", registration_ipo=True, listed=D1)
    event = ListEvent(ipo.symbol, ListEventKind.REGISTRATION_IPO_LISTED)
    today = next_exchange_lists(
        lists(), D1, (*MASTER, ipo), PE | {ipo.symbol: F(45)}, RULES, [event]
    )
    assert ipo.symbol in today.financing_targets and ipo.symbol in today.short_targets
    assert today.haircut(ipo.symbol) == F("0.65")
    unknown_pe = step([event], (*MASTER, ipo))  # no P/E yet: a target, but no margin value
    assert ipo.symbol in unknown_pe.financing_targets and unknown_pe.haircut(ipo.symbol) == 0


def test_registration_ipo_event_must_be_on_its_first_day() -> None:
    late = sec("688999", registration_ipo=True, listed=D0)
    with pytest.raises(ValueError, match="registration_ipo_listed"):
        step([ListEvent(late.symbol, ListEventKind.REGISTRATION_IPO_LISTED)], (*MASTER, late))
    approval_ipo = sec("601999", listed=D1)
    with pytest.raises(ValueError):
        step(
            [ListEvent(approval_ipo.symbol, ListEventKind.REGISTRATION_IPO_LISTED)],
            (*MASTER, approval_ipo),
        )


def test_lifting_a_warning_restores_a_registration_ipo_only() -> None:
    star_st, small_st = (
        replace(STAR, status=Status.RISK_WARNING),
        replace(SMALL, status=Status.RISK_WARNING),
    )
    warned = step(
        [
            ListEvent(STAR.symbol, ListEventKind.RISK_WARNING_IMPOSED),
            ListEvent(SMALL.symbol, ListEventKind.RISK_WARNING_IMPOSED),
        ],
        (BIG, small_st, star_st, ETF, BOND, FUND),
    )
    lifted = next_exchange_lists(
        warned,
        date(2026, 3, 4),
        MASTER,
        PE,
        RULES,
        [
            ListEvent(STAR.symbol, ListEventKind.RISK_WARNING_LIFTED),
            ListEvent(SMALL.symbol, ListEventKind.RISK_WARNING_LIFTED),
        ],
    )
    assert STAR.symbol in lifted.financing_targets  # registration-system IPO rejoins that day
    assert SMALL.symbol not in lifted.financing_targets  # waits for a regular adjustment
    assert lifted.haircut(SMALL.symbol) == F("0.65")  # the haircut follows the status


def test_regular_adjustments_and_delisting() -> None:
    delisted = replace(BIG, status=Status.DELISTED)
    today = step(
        [
            ListEvent(SMALL.symbol, ListEventKind.TARGET_REMOVED),
            ListEvent(FUND.symbol, ListEventKind.COLLATERAL_REMOVED),
            ListEvent(BIG.symbol, ListEventKind.DELISTED),
        ],
        (delisted, SMALL, STAR, ETF, BOND, FUND),
    )
    assert today.financing_targets == {STAR.symbol, ETF.symbol}
    assert FUND.symbol not in today.collateral and BIG.symbol not in today.collateral
    again = next_exchange_lists(
        today,
        date(2026, 3, 4),
        (delisted, SMALL, STAR, ETF, BOND, FUND),
        PE,
        RULES,
        [ListEvent(SMALL.symbol, ListEventKind.TARGET_ADDED)],
    )
    assert SMALL.symbol in again.short_targets


def test_inconsistent_or_unknown_events_are_refused() -> None:
    with pytest.raises(ValueError, match="risk_warning_imposed"):
        step([ListEvent(SMALL.symbol, ListEventKind.RISK_WARNING_IMPOSED)], MASTER)
    with pytest.raises(RuleRefused) as info:
        step([ListEvent("123456.SZ", ListEventKind.TARGET_ADDED)], MASTER)
    assert info.value.codes == {RuleCode.UNKNOWN_SECURITY}
    with pytest.raises(ValueError):
        next_exchange_lists(lists(), D0, MASTER, PE, RULES)


def test_removal_touches_only_the_lists() -> None:
    """Contracts opened before a removal stay valid: the lists carry no contract state and
    nothing here closes one; the removed stock stays collateral at haircut 0."""
    master = (BIG, replace(SMALL, status=Status.RISK_WARNING), STAR, ETF, BOND, FUND)
    today = step([ListEvent(SMALL.symbol, ListEventKind.RISK_WARNING_IMPOSED)], master)
    assert SMALL.symbol in today.collateral


# --------------------------------------------------------------------------- the store


def test_lists_in_force_are_the_latest_published_on_or_before_the_date() -> None:
    store = (
        ListStore()
        .published(lists(day=D0))
        .published(lists(day=date(2026, 3, 5), targets=frozenset({BIG.symbol})))
    )
    assert store.lists_on(ListLayer.EXCHANGE, date(2026, 3, 1)) is None
    assert store.lists_on(ListLayer.EXCHANGE, D1).trading_date == D0  # type: ignore[union-attr]
    later = store.lists_on(ListLayer.EXCHANGE, date(2026, 3, 9))
    assert later is not None and later.financing_targets == {BIG.symbol}


def test_publication_order_and_firm_subset_are_enforced() -> None:
    store = ListStore().published(lists(day=D1))
    with pytest.raises(RuleRefused) as info:
        store.published(lists(day=D0))
    assert info.value.codes == {RuleCode.LISTS_DATE_NOT_AFTER_LAST}
    with pytest.raises(RuleRefused) as info:
        store.published(lists(ListLayer.FIRM, day=D0))
    assert info.value.codes == {RuleCode.NO_EXCHANGE_LISTS_IN_FORCE}
    too_high = lists(ListLayer.FIRM, day=D1, collateral={SMALL.symbol: F("0.7")})
    with pytest.raises(RuleRefused) as info:
        store.published(too_high)
    assert info.value.codes == {RuleCode.FIRM_HAIRCUT_ABOVE_CAP}


def test_firm_lists_read_through_a_later_exchange_removal() -> None:
    firm = lists(ListLayer.FIRM, day=D0)
    store = ListStore().published(lists(day=D0)).published(firm)
    exchange_d1 = step(
        [ListEvent(SMALL.symbol, ListEventKind.RISK_WARNING_IMPOSED)],
        (BIG, replace(SMALL, status=Status.RISK_WARNING), STAR, ETF, BOND, FUND),
    )
    store = store.published(exchange_d1)
    reading = store.firm_lists_on(D1)
    assert (reading.firm_published, reading.exchange_published) == (D0, D1)
    assert SMALL.symbol not in reading.lists.financing_targets
    assert reading.lists.haircut(SMALL.symbol) == 0
    assert {(v.code, v.symbol) for v in reading.adjustments} == {
        (RuleCode.FIRM_FINANCING_TARGET_NOT_IN_EXCHANGE_LIST, SMALL.symbol),
        (RuleCode.FIRM_SHORT_TARGET_NOT_IN_EXCHANGE_LIST, SMALL.symbol),
        (RuleCode.FIRM_HAIRCUT_ABOVE_CAP, SMALL.symbol),
    }
    assert store.firm_lists_on(D0).adjustments == ()


symbols = st.sampled_from([s.symbol for s in MASTER] + ["300750.SZ"])
haircuts = st.fractions(min_value=0, max_value=1, max_denominator=20)
layer_lists = st.builds(
    lambda layer, fin, short, coll: DailyLists(D0, layer, fin, short, coll),
    st.just(ListLayer.FIRM),
    st.frozensets(symbols),
    st.frozensets(symbols),
    st.dictionaries(symbols, haircuts),
)


@given(firm=layer_lists, exchange=layer_lists)
def test_restricting_always_gives_lists_the_exchange_accepts(
    firm: DailyLists, exchange: DailyLists
) -> None:
    restricted = restrict_to_exchange(firm, replace(exchange, layer=ListLayer.EXCHANGE))
    assert check_firm_lists(restricted, exchange) == []
    assert restricted.financing_targets <= firm.financing_targets
    assert all(restricted.collateral[s] <= firm.collateral[s] for s in restricted.collateral)
