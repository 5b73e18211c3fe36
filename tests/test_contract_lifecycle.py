"""CON-1…CON-3, CLI-6 (contract expiry): notices, due and overdue over weekends and holidays,
extension decisions at −1 / at / +1 of every threshold with every reason recorded, the
suspension postponement within the S0 limit, and the delisting shortening."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, timedelta
from fractions import Fraction as F

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from liangrong.domain.calendar import add_months
from liangrong.domain.contract_lifecycle import (
    ChangeKind,
    ContractStatus,
    ExtensionDecision,
    ExtensionLimits,
    ExtensionRequest,
    LifecycleCheck,
    LifecyclePolicy,
    Reason,
    Standing,
    Suspension,
    Term,
    after_delisting,
    after_resumption,
    check_on,
    decide_extension,
    extended,
    opening_term,
    terms_with,
)
from liangrong.domain.contract_opening import ContractRequest, contract_terms
from liangrong.domain.contracts import ContractKind
from liangrong.domain.liquidation import LiquidationReason
from liangrong.domain.rule_book import terms_for
from liangrong.domain.versions import Version
from liangrong.sim.calendar_data import load_shipped_calendar
from liangrong.sim.rules_seed import demo_rule_book

D = date
CAL = load_shipped_calendar()  # SSE sessions 2024-2026; 2027 is provisional (weekdays)
BOOK = demo_rule_book()
BP = F(1, 10_000)
POLICY = Version(
    "lifecycle-2026",
    D(2026, 1, 1),
    LifecyclePolicy(
        expiry_notice_trading_days=5,
        request_cutoff_trading_days=1,
        extension_ratio_high=F("1.4"),
        extension_ratio_low=F("1.3"),
        liquidation_lookback_months=6,
    ),
    "test firm policy",
)
# used Monday 2026-04-13: matures Tuesday 2026-10-13 (6 months, a trading day)
TERMS = contract_terms(
    BOOK,
    CAL,
    ContractRequest("K1", ContractKind.FINANCING, "C1", "600000.SH", 1000, 10_000_00, 10_000,
                    D(2026, 4, 13)),
)  # fmt: skip
TERM = opening_term(TERMS)
LIMITS = ExtensionLimits.from_terms(terms_for(BOOK, "C1", D(2026, 10, 9)), D(2028, 12, 31))
ON = D(2026, 10, 9)  # Friday: the request day in the extension tests


def test_the_opening_term_runs_six_months_from_the_day_of_use() -> None:
    assert opening_term(TERMS) == Term("K1", D(2026, 4, 13), D(2026, 10, 13), False, 0)
    assert terms_with(TERMS, replace(TERM, maturity=D(2026, 9, 30))).maturity == D(2026, 9, 30)


# --- notices, due, overdue -------------------------------------------------------------------


def check(
    on: date, term: Term = TERM, owed: bool = True, suspension: Suspension | None = None
) -> LifecycleCheck:
    return check_on(TERMS, term, on, owed, CAL, POLICY.value, suspension)


def test_expiry_notice_from_five_trading_days_before_across_national_day() -> None:
    # 5 trading days before Tue 10-13: 10-12, 10-09, 10-08, (holiday 10-01…10-07), 09-30, 09-29
    assert check(D(2026, 9, 28)).status is ContractStatus.RUNNING
    first = check(D(2026, 9, 29))
    assert first.status is ContractStatus.EXPIRING and first.notice is not None
    assert first.notice.trading_days_left == 5 and first.notice.maturity == D(2026, 10, 13)
    again = check(D(2026, 10, 8))
    assert again.notice is not None and again.notice.notice_id == first.notice.notice_id
    assert again.notice.trading_days_left == 3
    due = check(D(2026, 10, 13))
    assert due.status is ContractStatus.DUE and due.notice is not None
    assert due.notice.trading_days_left == 0 and due.trigger is None


def test_overdue_the_day_after_maturity_and_liquidated_from_the_next_trading_day() -> None:
    overdue = check(D(2026, 10, 14))
    assert overdue.status is ContractStatus.OVERDUE and overdue.trigger is not None
    assert overdue.trigger.overdue_since == D(2026, 10, 14)
    assert overdue.trigger.liquidate_from == D(2026, 10, 14)
    assert overdue.trigger.reason is LiquidationReason.CONTRACT_EXPIRED
    # a Friday maturity: overdue from Saturday, liquidated from Monday
    friday = replace(TERM, maturity=D(2026, 9, 11))
    trigger = check(D(2026, 9, 12), friday).trigger
    assert trigger is not None and trigger.liquidate_from == D(2026, 9, 14)
    # maturity before National Day: liquidated from the first session after it
    holiday = replace(TERM, maturity=D(2026, 9, 30))
    trigger = check(D(2026, 10, 2), holiday).trigger
    assert trigger is not None
    assert (trigger.overdue_since, trigger.liquidate_from) == (D(2026, 10, 1), D(2026, 10, 8))
    assert check(D(2026, 10, 14), owed=False).status is ContractStatus.CLOSED


# --- extension -------------------------------------------------------------------------------


def decide(
    ratio: F | None,
    liquidations: tuple[date, ...] = (),
    term: Term = TERM,
    on: date = ON,
    new_maturity: date | None = None,
    limits: ExtensionLimits = LIMITS,
    malicious: bool = False,
    committee: str | None = None,
) -> ExtensionDecision:
    standing = Standing(ratio, liquidations, malicious, committee)
    request = ExtensionRequest(term.contract_id, on, new_maturity)
    return decide_extension(request, term, standing, limits, CAL, POLICY)


def reasons(decision: ExtensionDecision) -> set[Reason]:
    return {f.reason for f in decision.findings}


RECENT = (D(2026, 7, 1),)  # a forced liquidation three months before the request


@pytest.mark.parametrize(
    ("ratio", "liquidations", "granted", "reason"),
    [
        (F("1.4") + BP, RECENT, True, Reason.RATIO_AT_HIGH_LINE),
        (F("1.4"), RECENT, True, Reason.RATIO_AT_HIGH_LINE),  # "not below 140%" includes it
        (F("1.4") - BP, RECENT, False, Reason.RATIO_AT_LOW_LINE_RECENT_LIQUIDATION),
        (F("1.4") - BP, (), True, Reason.RATIO_AT_LOW_LINE_NO_LIQUIDATION),
        (F("1.3") + BP, (), True, Reason.RATIO_AT_LOW_LINE_NO_LIQUIDATION),
        (F("1.3"), (), True, Reason.RATIO_AT_LOW_LINE_NO_LIQUIDATION),
        (F("1.3"), RECENT, False, Reason.RATIO_AT_LOW_LINE_RECENT_LIQUIDATION),
        (F("1.3") - BP, (), False, Reason.RATIO_BELOW_LOW_LINE),
        (None, RECENT, True, Reason.RATIO_AT_HIGH_LINE),  # no debt: above every line
    ],
)
def test_ratio_lines_at_their_bounds(
    ratio: F | None, liquidations: tuple[date, ...], granted: bool, reason: Reason
) -> None:
    decision = decide(ratio, liquidations)
    assert decision.granted is granted and reason in reasons(decision)
    if granted:
        # the longest extension: 6 months after 10-13, past the loaded calendar
        assert decision.new_maturity == D(2027, 4, 13) and decision.provisional
    else:
        assert decision.new_maturity is None and [f.reason for f in decision.refusals] == [reason]


@pytest.mark.parametrize(
    ("liquidated", "granted"),
    [
        (D(2026, 4, 8), True),  # the day before the lookback (request 10-09 − 6 months = 04-09)
        (D(2026, 4, 9), False),  # its first day counts
        (D(2026, 4, 10), False),
        (D(2026, 10, 9), False),  # the request day counts
    ],
)
def test_the_liquidation_lookback_at_its_bounds(liquidated: date, granted: bool) -> None:
    assert decide(F("1.35"), (liquidated,)).granted is granted


@pytest.mark.parametrize(
    ("done", "granted"), [(2, True), (3, False), (4, False)]
)  # the 3rd extension at most: max_extensions 3 −1 / at / +1
def test_at_most_three_extensions(done: int, granted: bool) -> None:
    decision = decide(F(2), term=replace(TERM, extensions=done))
    assert decision.granted is granted and decision.extension_number == done + 1
    assert (Reason.NO_EXTENSIONS_LEFT in reasons(decision)) is not granted


def test_three_extensions_in_a_row_then_the_fourth_is_refused() -> None:
    term, far = TERM, ExtensionLimits(3, 6, D(2030, 12, 31))
    for _ in range(3):
        on = CAL.add_trading_days(term.maturity, -1)
        decision = decide(F("1.5"), term=term, on=on, limits=far)
        assert decision.granted
        term = extended(term, decision)
    assert term.extensions == 3 and term.started == D(2027, 10, 13)
    assert term.maturity == D(2028, 4, 13)  # 6 + 6 + 6 + 6 months from the day of use
    fourth = decide(F("1.5"), term=term, on=D(2028, 4, 12), limits=far)
    assert [f.reason for f in fourth.refusals] == [Reason.NO_EXTENSIONS_LEFT]


@pytest.mark.parametrize(
    ("wanted", "granted"),
    [(D(2027, 4, 12), True), (D(2027, 4, 13), True), (D(2027, 4, 14), False)],
)
def test_each_extension_at_most_six_months(wanted: date, granted: bool) -> None:
    decision = decide(F(2), new_maturity=wanted)
    assert decision.granted is granted
    assert (Reason.TERM_TOO_LONG in reasons(decision)) is not granted


@pytest.mark.parametrize(
    ("end", "granted"),
    [(D(2027, 3, 31), False), (D(2027, 4, 1), True), (D(2027, 4, 2), True)],
)
def test_never_past_the_agreement_end(end: date, granted: bool) -> None:
    limits = replace(LIMITS, agreement_end=end)
    decision = decide(F(2), new_maturity=D(2027, 4, 1), limits=limits)
    assert decision.granted is granted
    assert (Reason.PAST_AGREEMENT_END in reasons(decision)) is not granted


def test_without_a_requested_date_the_agreement_end_caps_the_extension() -> None:
    # agreement ends Sunday 2027-01-31: the new maturity is the Friday before
    decision = decide(F(2), limits=replace(LIMITS, agreement_end=D(2027, 1, 31)))
    assert decision.granted and decision.new_maturity == D(2027, 1, 29)
    # an agreement ending on the maturity leaves nothing to extend
    nothing = decide(F(2), limits=replace(LIMITS, agreement_end=D(2026, 10, 13)))
    assert [f.reason for f in nothing.refusals] == [Reason.NOT_LATER]


@pytest.mark.parametrize(
    ("on", "granted"),
    [(D(2026, 10, 9), True), (D(2026, 10, 12), True), (D(2026, 10, 13), False)],
)
def test_the_request_comes_before_maturity(on: date, granted: bool) -> None:
    # cutoff: one trading day before Tue 10-13 is Mon 10-12
    decision = decide(F(2), on=on)
    assert decision.granted is granted
    assert (Reason.REQUESTED_TOO_LATE in reasons(decision)) is not granted
    same_day = replace(POLICY, value=replace(POLICY.value, request_cutoff_trading_days=0))
    request = ExtensionRequest("K1", D(2026, 10, 13))
    assert decide_extension(request, TERM, Standing(F(2)), LIMITS, CAL, same_day).granted


def test_a_refusal_lists_every_reason_and_is_recorded() -> None:
    decision = decide(
        F("1.2"),
        term=replace(TERM, extensions=3),
        on=D(2026, 10, 13),
        new_maturity=D(2027, 5, 3),
        limits=replace(LIMITS, agreement_end=D(2027, 4, 30)),
        malicious=True,
    )
    assert not decision.granted
    assert [f.reason for f in decision.refusals] == [
        Reason.REQUESTED_TOO_LATE,
        Reason.NO_EXTENSIONS_LEFT,
        Reason.MALICIOUS_DEFAULT,
        Reason.RATIO_BELOW_LOW_LINE,
        Reason.TERM_TOO_LONG,
        Reason.PAST_AGREEMENT_END,
    ]
    event = decision.to_event()
    assert event["granted"] is False and event["policy_version"] == "lifecycle-2026"
    assert event["maintenance_ratio"] == "1.2000" and event["malicious_default"] is True
    findings = event["findings"]
    assert isinstance(findings, list)
    assert ["RATIO_BELOW_LOW_LINE", "1.2000 (≥1.4000; ≥1.3000)"] in findings
    assert decision.refusals[3].message_zh == "维持担保比例低于较低线: 1.2000 (≥1.4000; ≥1.3000)"


def test_a_grant_records_the_checks_it_passed() -> None:
    decision = decide(F("1.35"))
    assert decision.granted and decision.refusals == ()
    assert [f.reason for f in decision.findings] == [
        Reason.REQUESTED_IN_TIME,
        Reason.EXTENSIONS_LEFT,
        Reason.NO_MALICIOUS_DEFAULT,
        Reason.RATIO_AT_LOW_LINE_NO_LIQUIDATION,
        Reason.TERM_WITHIN_LIMIT,
        Reason.WITHIN_AGREEMENT,
    ]
    assert extended(TERM, decision) == Term("K1", D(2026, 10, 13), D(2027, 4, 13), True, 1)


def test_the_committee_may_grant_below_the_lines_but_not_over_a_default() -> None:
    approved = decide(F("1.2"), committee="CC-2026-117")
    assert approved.granted and Reason.COMMITTEE_APPROVED in reasons(approved)
    refused = decide(F("1.2"), committee="CC-2026-117", malicious=True)
    assert [f.reason for f in refused.refusals] == [Reason.MALICIOUS_DEFAULT]


# --- suspension and delisting ----------------------------------------------------------------

SUSPENDED = Suspension("600000.SH", D(2026, 9, 1), D(2026, 11, 2))


def test_resumption_after_maturity_postpones_it_by_the_days_lost() -> None:
    # 42 days were left at the suspension (09-01 → 10-13): resumed 11-02 + 42 = 12-14
    change = after_resumption(TERM, SUSPENDED, CAL, 6)
    assert change is not None and change.kind is ChangeKind.SUSPENSION
    assert (change.old_maturity, change.new_maturity) == (D(2026, 10, 13), D(2026, 12, 14))
    assert change.applied(TERM).maturity == D(2026, 12, 14)
    # an agreement of 10 trading days after resumption: 11-16
    agreed = after_resumption(TERM, SUSPENDED, CAL, 6, agreed_trading_days_after_resumption=10)
    assert agreed is not None and agreed.new_maturity == D(2026, 11, 16)
    # 40 trading days (12-28) would pass the 6 months counted with the term before: capped
    capped = after_resumption(TERM, SUSPENDED, CAL, 6, agreed_trading_days_after_resumption=40)
    assert capped is not None and capped.new_maturity == D(2026, 12, 14)


def test_a_short_term_keeps_its_own_length_unless_agreed_up_to_the_limit() -> None:
    three_months = Term("K1", D(2026, 4, 13), D(2026, 7, 13))
    suspension = Suspension("600000.SH", D(2026, 7, 1), D(2026, 8, 3))
    # 12 days left: 08-03 + 12 = Sat 08-15, back to Fri 08-14
    own = after_resumption(three_months, suspension, CAL, 6)
    assert own is not None and own.new_maturity == D(2026, 8, 14)
    # the limit: 104 days left of 6 months at the suspension: 08-03 + 104 = Sun 11-15 → 11-13
    long = after_resumption(
        three_months, suspension, CAL, 6, agreed_trading_days_after_resumption=200
    )
    assert long is not None and long.new_maturity == D(2026, 11, 13)


def test_suspensions_that_do_not_reach_past_maturity_change_nothing() -> None:
    before = Suspension("600000.SH", D(2026, 9, 1), D(2026, 10, 12))
    after = Suspension("600000.SH", D(2026, 10, 14), D(2026, 11, 2))
    assert after_resumption(TERM, before, CAL, 6) is None
    assert after_resumption(TERM, after, CAL, 6) is None
    assert check(D(2026, 10, 14), suspension=after).status is ContractStatus.OVERDUE


def test_still_suspended_at_maturity_the_contract_waits() -> None:
    waiting = Suspension("600000.SH", D(2026, 9, 1))
    assert after_resumption(TERM, waiting, CAL, 6) is None
    for day in (D(2026, 10, 13), D(2026, 10, 30)):
        result = check(day, suspension=waiting)
        assert result.status is ContractStatus.AWAITING_RESUMPTION and result.trigger is None


@settings(max_examples=200, deadline=None)
@given(
    st.integers(0, 182),
    st.integers(1, 200),
    st.one_of(st.none(), st.integers(0, 300)),
)
def test_the_postponed_term_stays_within_six_months_of_counted_term(
    suspended_after: int, resumed_after_maturity: int, agreed: int | None
) -> None:
    suspended = min(TERM.started + timedelta(days=suspended_after), TERM.maturity)
    resumed = CAL.on_or_after(TERM.maturity + timedelta(days=resumed_after_maturity))
    change = after_resumption(TERM, Suspension("X", suspended, resumed), CAL, 6, agreed)
    assert change is not None
    new = change.new_maturity
    assert new > TERM.maturity and new >= resumed and CAL.is_trading_day(new)
    counted = (suspended - TERM.started) + (new - resumed)
    assert counted <= add_months(TERM.started, 6) - TERM.started


@pytest.mark.parametrize(
    ("last_day", "new"),
    [
        (D(2026, 9, 30), D(2026, 9, 29)),
        (D(2026, 10, 8), D(2026, 9, 30)),  # the trading day before: across National Day
        (D(2026, 10, 12), D(2026, 10, 9)),  # last trading day one session before maturity
        (D(2026, 10, 13), None),  # on the maturity: not before it, nothing changes
        (D(2026, 11, 30), None),
    ],
)
def test_delisting_shortens_to_the_trading_day_before_the_last(
    last_day: date, new: date | None
) -> None:
    change = after_delisting(TERM, "600000.SH", last_day, D(2026, 9, 1), CAL)
    assert (change.new_maturity if change else None) == new
    if change is not None:
        assert change.kind is ChangeKind.DELISTING and change.to_event()["kind"] == "delisting"


def test_a_delisting_applied_late_is_due_the_day_it_is_applied() -> None:
    change = after_delisting(TERM, "600000.SH", D(2026, 9, 30), D(2026, 9, 30), CAL)
    assert change is not None and change.new_maturity == D(2026, 9, 30)
    term = change.applied(TERM)
    assert check(D(2026, 9, 30), term).status is ContractStatus.DUE
    overdue = check(D(2026, 10, 1), term)
    assert overdue.status is ContractStatus.OVERDUE and overdue.trigger is not None
    assert overdue.trigger.liquidate_from == D(2026, 10, 8)


def test_policy_values_are_checked() -> None:
    with pytest.raises(ValueError):
        replace(POLICY.value, extension_ratio_low=F("1.5"))
    with pytest.raises(ValueError):
        replace(POLICY.value, expiry_notice_trading_days=-1)
