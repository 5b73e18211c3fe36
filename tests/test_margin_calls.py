"""The margin-call workflow (RISK-6): every line at its exact bound and one ε either side, a
call opened, reminded, cured in time or missed, the emergency line intraday, T+2 across a
weekend, a holiday and the calendar's horizon, and the notices' contents."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from fractions import Fraction as F

import pytest

from liangrong.domain.calendar import TradingCalendar
from liangrong.domain.liquidation import LiquidationReason
from liangrong.domain.margin import Account, FinancedPosition, Lines, repay_to, top_up_to
from liangrong.domain.margin_calls import (
    CallDecision,
    CallRule,
    CallState,
    Channel,
    Evaluation,
    EvaluationKind,
    MarginCall,
    NoticeKind,
    Outbox,
    evaluate,
)
from liangrong.domain.pretrade_state import AccountStatus
from liangrong.domain.rule_book import lines_for, terms_for
from liangrong.sim.rules_seed import demo_rule_book

D = date
EPS = F(1, 10**9)
LINES = Lines(attention=F("1.5"), warning=F("1.4"), liquidation=F("1.3"), emergency=F("1.1"))
RULE = CallRule(target=F("1.5"), deadline_trading_days=2)
SETTLE = EvaluationKind.SETTLEMENT
INTRADAY = EvaluationKind.INTRADAY


def _calendar() -> TradingCalendar:
    """September-October 2026 loaded: weekdays, National Day 10-01..10-07 closed."""
    first, last = D(2026, 9, 1), D(2026, 10, 31)
    days = (first + timedelta(days=i) for i in range((last - first).days + 1))
    holiday = {D(2026, 10, d) for d in range(1, 8)}
    sessions = [d for d in days if d.weekday() < 5 and d not in holiday]
    return TradingCalendar(sessions, first, last)


CAL = _calendar()
THU = D(2026, 9, 17)  # T; T+2 is Monday 09-21


def ev(
    ratio: F | None,
    on: date = THU,
    kind: EvaluationKind = SETTLE,
    account: Account | None = None,
    hour: int = 20,
) -> Evaluation:
    at = datetime(on.year, on.month, on.day, hour, 0)
    return Evaluation(
        client_id="C001", branch="BR-SH-01", on=on, at=at, kind=kind, ratio=ratio, account=account
    )


def run(evaluation: Evaluation, call: MarginCall | None = None) -> CallDecision:
    return evaluate(evaluation, LINES, RULE, CAL, call)


# --- each line at the bound and one ε either side (settlement, no call open) ---------------


@pytest.mark.parametrize(
    ("ratio", "state", "status", "notice"),
    [
        (None, CallState.NONE, AccountStatus.NORMAL, None),  # no debt: never a call
        (F("1.4") + EPS, CallState.NONE, AccountStatus.NORMAL, None),
        (F("1.4"), CallState.NONE, AccountStatus.NORMAL, None),  # at the line is not below
        (F("1.4") - EPS, CallState.WARNING, AccountStatus.NORMAL, NoticeKind.WARNING),
        (F("1.3") + EPS, CallState.WARNING, AccountStatus.NORMAL, NoticeKind.WARNING),
        (F("1.3"), CallState.WARNING, AccountStatus.NORMAL, NoticeKind.WARNING),
        (F("1.3") - EPS, CallState.OPEN, AccountStatus.CALL_RESTRICTED, NoticeKind.CALL),
        (F("1.1") + EPS, CallState.OPEN, AccountStatus.CALL_RESTRICTED, NoticeKind.CALL),
        (F("1.1"), CallState.OPEN, AccountStatus.CALL_RESTRICTED, NoticeKind.CALL),
        (F("1.1") - EPS, CallState.EMERGENCY, AccountStatus.LIQUIDATION, NoticeKind.EMERGENCY),
    ],
)
def test_walk_down_through_the_lines(
    ratio: F | None, state: CallState, status: AccountStatus, notice: NoticeKind | None
) -> None:
    decision = run(ev(ratio))
    assert (decision.state, decision.account_status) == (state, status)
    assert [n.kind for n in decision.notices] == ([notice] if notice else [])
    assert (decision.call is not None) == (state in (CallState.OPEN, CallState.EMERGENCY))


def test_intraday_acts_only_on_the_emergency_line() -> None:
    for ratio in (F("1.4") - EPS, F("1.3") - EPS, F("1.1")):
        decision = run(ev(ratio, kind=INTRADAY, hour=10))
        assert (decision.state, decision.notices) == (CallState.NONE, ())
    decision = run(ev(F("1.1") - EPS, kind=INTRADAY, hour=10))
    assert decision.state is CallState.EMERGENCY
    assert decision.liquidation is LiquidationReason.EMERGENCY_LINE
    assert decision.liquidation_from == THU  # at once
    assert decision.account_status is AccountStatus.LIQUIDATION


def test_without_an_emergency_line_a_deep_fall_opens_a_call() -> None:
    lines = Lines(warning=F("1.4"), liquidation=F("1.3"))
    decision = evaluate(ev(F("0.5")), lines, RULE, CAL)
    assert decision.state is CallState.OPEN


# --- a call: opened, reminded, cured; another missed --------------------------------------


def _opened() -> MarginCall:
    decision = run(ev(F("1.28")))
    assert decision.call is not None
    return decision.call


def test_call_opens_with_the_t_plus_2_deadline_across_a_weekend() -> None:
    call = _opened()
    assert call.state is CallState.OPEN
    assert (call.opened_on, call.deadline) == (THU, D(2026, 9, 21))  # Thu -> Fri, Mon
    assert (call.line, call.target, call.ratio_at_open) == (F("1.3"), F("1.5"), F("1.28"))
    assert not call.deadline_provisional


def test_deadline_across_a_holiday() -> None:
    decision = run(ev(F("1.28"), on=D(2026, 9, 29)))  # Tue; Wed 09-30, then 10-01..07 closed
    assert decision.call is not None and decision.call.deadline == D(2026, 10, 8)
    notice = decision.notices[0]
    assert notice.deadline == D(2026, 10, 8) and notice.liquidation_from == D(2026, 10, 9)
    assert "2026-10-08" in notice.text_zh and "2026-10-08" in notice.text_en


def test_deadline_past_the_loaded_horizon_is_provisional() -> None:
    decision = run(ev(F("1.28"), on=D(2026, 10, 29)))  # Thu; T+2 is 11-02, not loaded
    call = decision.call
    assert call is not None and call.deadline == D(2026, 11, 2) and call.deadline_provisional
    notice = decision.notices[0]
    assert notice.deadline_provisional
    assert "暂定" in notice.text_zh and "Provisional" in notice.text_en
    settled_inside = run(ev(F("1.28"), on=D(2026, 10, 27)))  # Tue; T+2 = Thu 10-29, loaded
    assert settled_inside.notices[0].deadline_provisional is False


def test_open_call_keeps_its_deadline_and_reminds_after_each_settlement() -> None:
    call = _opened()
    fri = run(ev(F("1.2"), on=D(2026, 9, 18)), call)  # lower, still above emergency
    assert fri.state is CallState.OPEN and fri.call == call  # same deadline and target
    assert fri.account_status is AccountStatus.CALL_RESTRICTED
    assert [n.kind for n in fri.notices] == [NoticeKind.REMINDER]
    reminder = fri.notices[0]
    assert reminder.deadline == D(2026, 9, 21) and "尚未恢复到150.00%" in reminder.text_zh
    assert "not yet back to 150.00%" in reminder.text_en and not reminder.inform_branch
    # Above the liquidation line but below the target: still open, still restricted.
    higher = run(ev(F("1.5") - EPS, on=D(2026, 9, 18)), call)
    assert higher.state is CallState.OPEN and higher.account_status is AccountStatus.CALL_RESTRICTED
    intraday = run(ev(F("1.45"), on=D(2026, 9, 18), kind=INTRADAY, hour=10), call)
    assert intraday.state is CallState.OPEN and intraday.notices == ()


def test_cured_in_time_exactly_at_the_target() -> None:
    call = _opened()
    decision = run(ev(F("1.5"), on=D(2026, 9, 21), kind=INTRADAY, hour=11), call)
    assert decision.state is CallState.CURED
    assert decision.call is None and decision.account_status is AccountStatus.NORMAL
    assert [n.kind for n in decision.notices] == [NoticeKind.CURED]
    # A cure with no debt left (ratio None) also reaches the target.
    assert run(ev(None, on=D(2026, 9, 18)), call).state is CallState.CURED


def test_missed_at_the_deadline_settlement_then_liquidation_until_restored() -> None:
    call = _opened()
    # On the deadline day intraday the client still has time.
    noon = run(ev(F("1.5") - EPS, on=D(2026, 9, 21), kind=INTRADAY, hour=12), call)
    assert noon.state is CallState.OPEN
    missed = run(ev(F("1.5") - EPS, on=D(2026, 9, 21)), call)
    assert missed.state is CallState.MISSED
    assert missed.account_status is AccountStatus.LIQUIDATION
    assert missed.liquidation is LiquidationReason.CALL_MISSED
    assert missed.liquidation_from == D(2026, 9, 22)  # T+3
    assert [n.kind for n in missed.notices] == [NoticeKind.MISSED]
    assert missed.call is not None and missed.call.liquidation_required
    # Liquidation goes on (no new notice) until the ratio is back at the target.
    still = run(ev(F("1.4"), on=D(2026, 9, 22)), missed.call)
    assert still.state is CallState.MISSED and still.notices == ()
    assert still.account_status is AccountStatus.LIQUIDATION
    done = run(ev(F("1.5"), on=D(2026, 9, 22), hour=21), missed.call)
    assert done.state is CallState.CLOSED and done.account_status is AccountStatus.NORMAL
    assert [n.kind for n in done.notices] == [NoticeKind.CLOSED]


def test_an_evaluation_after_the_deadline_is_missed_even_at_the_target() -> None:
    call = _opened()
    late = run(ev(F(2), on=D(2026, 9, 22), kind=INTRADAY, hour=10), call)
    assert late.state is CallState.MISSED and late.liquidation_from == D(2026, 9, 23)


def test_emergency_overrides_an_open_call() -> None:
    call = _opened()
    decision = run(ev(F("1.1") - EPS, on=D(2026, 9, 18), kind=INTRADAY, hour=10), call)
    assert decision.state is CallState.EMERGENCY
    assert decision.liquidation is LiquidationReason.EMERGENCY_LINE
    assert decision.liquidation_from == D(2026, 9, 18)
    assert decision.call is not None and decision.call.call_id == call.call_id
    assert decision.call.line == F("1.1") and decision.notices[0].kind is NoticeKind.EMERGENCY
    assert "低于紧急平仓线110.00%" in decision.notices[0].text_zh


# --- notices ---------------------------------------------------------------------------------


def _account() -> Account:
    """Cash 20,000 yuan; 10,000 shares at 10.80 bought on 100,000 yuan financing: 128%."""
    financed = FinancedPosition("600000.SH", 10_000, 10_000_000, 10_800, F("0.7"), F(1))
    return Account(cash_fen=2_000_000, financing=(financed,))


def test_call_notice_contents() -> None:
    account = _account()
    decision = run(ev(F("1.28"), account=account))
    notice = decision.notices[0]
    # x = T·D − A = 1.5 × 100,000 − 128,000 = 22,000 yuan; sell (T·D − A)/(T − 1) = 44,000.
    assert notice.top_up_fen == 2_200_000 == top_up_to(account, F("1.5"))
    assert notice.repay_fen == 4_400_000 == repay_to(account, F("1.5"))
    assert (notice.client_id, notice.branch, notice.inform_branch) == ("C001", "BR-SH-01", True)
    assert notice.channels == (Channel.SMS, Channel.APP, Channel.PHONE)
    assert notice.at == datetime(2026, 9, 17, 20, 0)
    assert (notice.ratio, notice.line, notice.target) == (F("1.28"), F("1.3"), F("1.5"))
    assert (notice.deadline, notice.liquidation_from) == (D(2026, 9, 21), D(2026, 9, 22))
    for text in ("128.00%", "130.00%", "150.00%", "2026-09-21", "T+2", "22000.00", "44000.00"):
        assert text in notice.text_zh and text in notice.text_en
    assert "追保通知" in notice.text_zh and "限制买入" in notice.text_zh
    assert "Margin call" in notice.text_en and "2026-09-22" in notice.text_en


def test_warning_notice_and_the_ratio_truncated_never_rounded_up() -> None:
    notice = run(ev(F("1.4") - EPS)).notices[0]
    assert notice.kind is NoticeKind.WARNING and notice.inform_branch
    assert notice.channels == (Channel.SMS, Channel.APP)
    assert "139.99%" in notice.text_zh and "140.00%" in notice.text_zh
    assert notice.top_up_fen is None and notice.deadline is None


def test_ratio_must_match_the_account() -> None:
    with pytest.raises(ValueError, match="ratio"):
        ev(F("1.3"), account=_account())


def test_outbox_is_queryable_and_ignores_repeats() -> None:
    call = _opened()
    first = run(ev(F("1.28")))
    reminder = run(ev(F("1.29"), on=D(2026, 9, 18)), call)
    other = evaluate(
        Evaluation(
            client_id="C002",
            branch="BR-BJ-02",
            on=THU,
            at=datetime(2026, 9, 17, 20, 5),
            kind=SETTLE,
            ratio=F("1.35"),
        ),
        LINES,
        RULE,
        CAL,
    )
    box = Outbox().with_notices(first.notices).with_notices(reminder.notices)
    box = box.with_notices(other.notices).with_notices(first.notices)  # a re-run adds nothing
    assert len(box.notices) == 3
    assert [n.kind for n in box.query(client_id="C001")] == [NoticeKind.CALL, NoticeKind.REMINDER]
    assert [n.client_id for n in box.query(branch="BR-BJ-02")] == ["C002"]
    assert len(box.query(kind=NoticeKind.WARNING)) == 1
    day = box.query(since=datetime(2026, 9, 17), until=datetime(2026, 9, 18))
    assert {n.client_id for n in day} == {"C001", "C002"}


def test_rule_book_lines_and_terms_drive_the_machine() -> None:
    book = demo_rule_book()
    on = D(2026, 9, 17)
    lines = lines_for(book, None, on).lines  # parameters.Lines fits CallLines too
    rule = CallRule.from_terms(terms_for(book, None, on))
    assert (rule.target, rule.deadline_trading_days) == (F("1.5"), 2)
    decision = evaluate(ev(lines.liquidation - EPS), lines, rule, CAL)
    assert decision.state is CallState.OPEN and decision.call is not None
    assert decision.call.deadline == D(2026, 9, 21)
