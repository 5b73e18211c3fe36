"""REP-1 rows, identities, carry-forward and submission; REP-2 / CLI-5 default records."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, time, timedelta, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from liangrong.domain.contracts import ContractKind
from liangrong.domain.default_records import (
    DefaultEvent,
    DefaultKind,
    RecordStatus,
    clients_on_record,
    default_record_rows,
)
from liangrong.domain.exchange_report import (
    ADJUSTMENT_KIND,
    Channel,
    DebtFigures,
    DebtMovement,
    ReportCheck,
    ReportRefused,
    SubmissionDecision,
    SubmissionStatus,
    SubmissionWindow,
    build_rows,
    check_rows,
    classify_posting,
    judge_submission,
    short_balance_fen,
    submission_of_record,
    validated_report,
)
from liangrong.domain.versions import History, Version

FIN, SHORT = ContractKind.FINANCING, ContractKind.SHORT
D1, D2, D3 = date(2026, 3, 2), date(2026, 3, 3), date(2026, 3, 4)
A, B, C = "600000.SH", "600036.SH", "000001.SZ"
CLOSES = {A: 10_230, B: 30_005, C: 12_000}
TARGETS = frozenset({A, B, C})


def move(security: str, side: ContractKind, channel: Channel, amount: int) -> DebtMovement:
    return DebtMovement(security, side, channel, amount)


def day_one() -> tuple:
    movements = [
        move(A, FIN, Channel.NEW, 10_000_000),
        move(A, FIN, Channel.NEW, 5_000_000),
        move(B, SHORT, Channel.NEW, 3_000),
        move(C, FIN, Channel.NEW, 2_400_000),
    ]
    return build_rows(D1, (), movements, CLOSES, TARGETS)


# --------------------------------------------------------------------------- classification


@pytest.mark.parametrize(
    ("kind", "side", "ledger_amount", "channel", "amount"),
    [
        ("margin_buy_fill", FIN, -1_000, Channel.NEW, 1_000),
        ("direct_repayment", FIN, 700, Channel.DIRECT, 700),
        ("sell_to_repay_fill", FIN, 300, Channel.TRADE, 300),
        ("collateral_sell_fill", FIN, 200, Channel.TRADE, 200),
        ("forced_sell_fill", FIN, 900, Channel.FORCED, 900),
        ("short_sell_fill", SHORT, -500, Channel.NEW, 500),
        ("direct_return", SHORT, 100, Channel.DIRECT, 100),
        ("buy_to_cover_fill", SHORT, 200, Channel.TRADE, 200),
        ("forced_buy_fill", SHORT, 300, Channel.FORCED, 300),
        (ADJUSTMENT_KIND, SHORT, -40, Channel.ADJUSTMENT, -40),  # bonus shares: owes more
        (ADJUSTMENT_KIND, FIN, 55, Channel.ADJUSTMENT, 55),
    ],
)
def test_each_journal_kind_names_its_channel(
    kind: str, side: ContractKind, ledger_amount: int, channel: Channel, amount: int
) -> None:
    assert classify_posting(kind, side, A, ledger_amount) == DebtMovement(A, side, channel, amount)


@pytest.mark.parametrize(
    ("kind", "side", "ledger_amount"),
    [
        ("mystery", FIN, 100),  # unknown kind
        ("margin_buy_fill", FIN, 100),  # a margin buy never repays
        ("direct_repayment", FIN, -100),  # a repayment never grows the debt
        ("short_sell_fill", FIN, -100),  # a short sale never touches financing
        ("margin_buy_fill", SHORT, -100),
        ("buy_to_cover_fill", SHORT, -5),
    ],
)
def test_what_the_report_cannot_tell_is_not_classified(
    kind: str, side: ContractKind, ledger_amount: int
) -> None:
    assert classify_posting(kind, side, A, ledger_amount) is None


# --------------------------------------------------------------------------- rows


def test_first_day_rows_per_security_sorted_with_short_balance_at_the_close() -> None:
    rows = day_one()
    assert [r.security for r in rows] == [C, A, B]
    a, b = rows[1], rows[2]
    assert a.financing == DebtFigures(new=15_000_000, balance=15_000_000)
    assert a.short == DebtFigures() and a.short_balance_fen == 0
    assert b.short == DebtFigures(new=3_000, balance=3_000)
    # 3000 × 30.005 = 90,015.00 yuan
    assert (b.close_price_li, b.short_balance_fen) == (30_005, 9_001_500)
    assert a.total_balance_fen == 15_000_000
    assert validated_report(D1, (), rows).rows == rows


def test_repayments_split_by_channel_and_today_is_yesterday_plus_new_minus_repaid() -> None:
    previous = day_one()
    movements = [
        move(A, FIN, Channel.DIRECT, 3_000_000),
        move(A, FIN, Channel.FORCED, 4_500_000),
        move(A, FIN, Channel.NEW, 1_000_000),
        move(C, FIN, Channel.TRADE, 1_000_000),
        move(C, FIN, Channel.ADJUSTMENT, 1_234),
        move(B, SHORT, Channel.TRADE, 1_000),
        move(B, SHORT, Channel.DIRECT, 500),
        move(B, SHORT, Channel.FORCED, 500),
        move(B, SHORT, Channel.ADJUSTMENT, -300),  # 10-for-100 bonus on 3000 owed
    ]
    rows = {r.security: r for r in build_rows(D2, previous, movements, CLOSES, TARGETS)}
    assert rows[A].financing == DebtFigures(1_000_000, 3_000_000, 0, 4_500_000, 0, 8_500_000)
    assert rows[A].financing.repaid == 7_500_000
    assert rows[C].financing == DebtFigures(0, 0, 1_000_000, 0, 1_234, 1_398_766)
    assert rows[B].short == DebtFigures(0, 500, 1_000, 500, -300, 1_300)
    assert rows[B].short.repaid == 1_700
    assert rows[B].short_balance_fen == short_balance_fen(1_300, 30_005) == 3_900_650
    assert check_rows(D2, previous, tuple(rows.values())) == []


@pytest.mark.parametrize(
    ("quantity", "close_li", "fen"),
    [(3, 10_005, 3_002), (1, 1, 0), (5, 1, 1), (4, 1, 0), (1, 15, 2), (100, 12_345, 123_450)],
)
def test_short_balance_rounds_half_up_to_the_fen(quantity: int, close_li: int, fen: int) -> None:
    assert short_balance_fen(quantity, close_li) == fen


def test_a_short_open_without_a_close_is_refused() -> None:
    with pytest.raises(ReportRefused) as refused:
        build_rows(D1, (), [move(B, SHORT, Channel.NEW, 100)], {A: 10_000}, TARGETS)
    assert [(v.code, v.security) for v in refused.value.violations] == [
        (ReportCheck.MISSING_CLOSE_PRICE, B)
    ]


def test_previous_rows_must_be_of_one_earlier_date() -> None:
    with pytest.raises(ValueError, match="previous rows"):
        build_rows(D1, day_one(), [], CLOSES, TARGETS)


# --------------------------------------------------------------------------- carry-forward


def test_a_security_off_the_lists_stays_until_closed_then_leaves() -> None:
    previous = day_one()
    # C leaves the lists on D2 and nothing moves: still reported with its balance
    rows_d2 = build_rows(D2, previous, [], CLOSES, TARGETS - {C})
    c = next(r for r in rows_d2 if r.security == C)
    assert (c.on_target_list, c.financing.balance, c.financing.moved) == (False, 2_400_000, False)
    # D3: C is repaid in full, still reported that day with the repayment
    rows_d3 = build_rows(D3, rows_d2, [move(C, FIN, Channel.DIRECT, 2_400_000)], CLOSES, {A, B})
    c = next(r for r in rows_d3 if r.security == C)
    assert (c.financing.direct, c.financing.balance, c.is_open) == (2_400_000, 0, False)
    # D4: closed yesterday and nothing moved: gone
    rows_d4 = build_rows(date(2026, 3, 5), rows_d3, [], CLOSES, {A, B})
    assert [r.security for r in rows_d4] == [A, B]


def test_a_day_without_business_carries_every_open_row_and_an_empty_book_gives_none() -> None:
    previous = day_one()
    rows = build_rows(D2, previous, [], CLOSES, TARGETS)
    assert [(r.security, r.financing.balance, r.short.balance) for r in rows] == [
        (C, 2_400_000, 0),
        (A, 15_000_000, 0),
        (B, 0, 3_000),
    ]
    assert not any(r.financing.moved or r.short.moved for r in rows)
    empty = validated_report(D1, (), build_rows(D1, (), [], CLOSES, TARGETS))
    assert empty.rows == () and empty.for_exchange("SH") == ()


# --------------------------------------------------------------------------- identity checks


def test_identity_breaches_are_named_with_their_figures() -> None:
    previous = day_one()
    rows = list(build_rows(D2, previous, [move(A, FIN, Channel.DIRECT, 1_000)], CLOSES, TARGETS))
    a = next(i for i, r in enumerate(rows) if r.security == A)
    b = next(i for i, r in enumerate(rows) if r.security == B)
    rows[a] = replace(rows[a], financing=replace(rows[a].financing, balance=15_000_000))
    rows[b] = replace(rows[b], short=replace(rows[b].short, trade=10, balance=3_000))
    found = check_rows(D2, previous, rows)
    assert [(v.code, v.security, v.actual, v.expected) for v in found] == [
        (ReportCheck.FINANCING_IDENTITY, A, 15_000_000, 14_999_000),
        (ReportCheck.SHORT_IDENTITY, B, 3_000, 2_990),
    ]
    with pytest.raises(ReportRefused) as refused:
        validated_report(D2, previous, rows)
    assert refused.value.codes == {ReportCheck.FINANCING_IDENTITY, ReportCheck.SHORT_IDENTITY}
    assert "14999000" in refused.value.violations[0].message_zh


def test_dropped_negative_duplicate_misdated_and_mispriced_rows_are_each_refused() -> None:
    previous = day_one()
    rows = list(build_rows(D2, previous, [], CLOSES, TARGETS))
    c, a, b = rows
    bad = [
        replace(a, financing=DebtFigures(new=-5, balance=14_999_995)),
        replace(a, trading_date=D3),
        replace(b, short_balance_fen=b.short_balance_fen + 1),
    ]
    found = check_rows(D2, previous, bad)
    assert [(v.code, v.security, v.field) for v in found] == [
        (ReportCheck.NEGATIVE_FIGURE, A, "financing.new"),
        (ReportCheck.WRONG_DATE, A, ""),
        (ReportCheck.DUPLICATE_SECURITY, A, ""),
        (ReportCheck.SHORT_BALANCE, B, "short_balance"),
        (ReportCheck.DROPPED_OPEN_SECURITY, C, ""),
    ]
    no_close = replace(b, close_price_li=None)
    assert [v.code for v in check_rows(D2, previous, [c, a, no_close])] == [
        ReportCheck.MISSING_CLOSE_PRICE
    ]


@st.composite
def business_days(draw: st.DrawFn) -> list[list[DebtMovement]]:
    """A few days of business on three securities that never repays more than is owed."""
    owed = {(s, side): 0 for s in (A, B, C) for side in (FIN, SHORT)}
    days = []
    for _ in range(draw(st.integers(1, 5))):
        moves = []
        for (security, side), balance in sorted(owed.items(), key=str):
            new = draw(st.integers(0, 3)) * draw(st.sampled_from([0, 100, 12_345]))
            moves += [move(security, side, Channel.NEW, new)] if new else []
            available = balance + new
            for channel in (Channel.DIRECT, Channel.TRADE, Channel.FORCED, Channel.ADJUSTMENT):
                repaid = draw(st.integers(0, available))
                if repaid:
                    moves.append(move(security, side, channel, repaid))
                    available -= repaid
            owed[(security, side)] = available
        days.append(moves)
    return days


@settings(max_examples=60, deadline=None)
@given(business_days())
def test_built_rows_always_satisfy_the_identities_and_carry_every_open_security(
    days: list[list[DebtMovement]],
) -> None:
    previous: tuple = ()
    owed = {(s, side): 0 for s in (A, B, C) for side in (FIN, SHORT)}
    for offset, moves in enumerate(days):
        on = D1 + timedelta(days=offset)
        rows = build_rows(on, previous, moves, CLOSES, TARGETS)
        assert check_rows(on, previous, rows) == []
        for m in moves:
            sign = 1 if m.channel is Channel.NEW else -1
            owed[(m.security, m.side)] += sign * m.amount
        reported = {(r.security, FIN): r.financing.balance for r in rows}
        reported |= {(r.security, SHORT): r.short.balance for r in rows}
        assert {k: v for k, v in reported.items() if v} == {k: v for k, v in owed.items() if v}
        expected = {m.security for m in moves} | {r.security for r in previous if r.is_open}
        assert {r.security for r in rows} == expected
        previous = rows


# --------------------------------------------------------------------------- submission

CST = timezone(timedelta(hours=8))
WINDOWS = History(
    (
        Version("sse-guide", date(2015, 1, 1), SubmissionWindow(time(22, 0), time(11, 0)), "S0"),
        Version("later", date(2026, 6, 1), SubmissionWindow(time(21, 0), time(10, 0)), "test"),
    )
)
FRIDAY, MONDAY = date(2026, 3, 6), date(2026, 3, 9)


def judged(at: datetime, on: date = FRIDAY, following: date = MONDAY) -> SubmissionStatus:
    return judge_submission(on, at, following, WINDOWS).status


@pytest.mark.parametrize(
    ("at", "status"),
    [
        (datetime(2026, 3, 6, 16, 0, tzinfo=CST), SubmissionStatus.ON_TIME),
        (datetime(2026, 3, 6, 21, 59, 59, tzinfo=CST), SubmissionStatus.ON_TIME),
        (datetime(2026, 3, 6, 21, 59, 59, 999_999, tzinfo=CST), SubmissionStatus.ON_TIME),
        (datetime(2026, 3, 6, 22, 0, 0, tzinfo=CST), SubmissionStatus.LATE),  # the bound is late
        (datetime(2026, 3, 6, 22, 0, 1, tzinfo=CST), SubmissionStatus.LATE),
        (datetime(2026, 3, 9, 10, 59, 59, tzinfo=CST), SubmissionStatus.LATE),  # next trading day
        (datetime(2026, 3, 9, 11, 0, 0, tzinfo=CST), SubmissionStatus.OVERDUE),
        (datetime(2026, 3, 6, 13, 59, 59, tzinfo=UTC), SubmissionStatus.ON_TIME),  # 21:59:59 CST
        (datetime(2026, 3, 6, 14, 0, 0, tzinfo=UTC), SubmissionStatus.LATE),
    ],
)
def test_cut_off_is_exclusive_at_22_00_local_time(at: datetime, status: SubmissionStatus) -> None:
    assert judged(at) is status


def test_the_window_is_a_dated_parameter() -> None:
    on, following = date(2026, 6, 1), date(2026, 6, 2)
    at = datetime(2026, 6, 1, 21, 30, tzinfo=CST)
    assert judged(at, on, following) is SubmissionStatus.LATE  # the later version: 21:00
    decision = judge_submission(on, at, following, WINDOWS)
    assert decision.late_deadline_at == datetime(2026, 6, 2, 10, 0, tzinfo=CST)
    with pytest.raises(LookupError):
        judge_submission(date(2014, 12, 31), at, following, WINDOWS)


def test_naive_times_early_submissions_and_bad_next_days_are_refused() -> None:
    with pytest.raises(ValueError, match="time zone"):
        judged(datetime(2026, 3, 6, 21, 0))
    with pytest.raises(ValueError, match="cannot be submitted"):
        judged(datetime(2026, 3, 5, 23, 0, tzinfo=CST))
    with pytest.raises(ValueError, match="not after"):
        judged(datetime(2026, 3, 6, 21, 0, tzinfo=CST), following=FRIDAY)


def test_the_last_on_time_submission_is_of_record_and_late_ones_only_fill_a_gap() -> None:
    def at(hour: int, minute: int, day: int = 6) -> SubmissionDecision:
        return judge_submission(
            FRIDAY, datetime(2026, 3, day, hour, minute, tzinfo=CST), MONDAY, WINDOWS
        )

    first, resubmitted, late = at(20, 0), at(21, 30), at(22, 30)
    assert (first.replaces_earlier, late.replaces_earlier) == (True, False)
    assert submission_of_record([late, first, resubmitted]) is resubmitted
    late_again, overdue = at(9, 0, day=9), at(12, 0, day=9)
    assert submission_of_record([overdue, late, late_again]) is late_again
    assert submission_of_record([overdue]) is overdue
    assert submission_of_record([]) is None


# --------------------------------------------------------------------------- default records


def event(event_id: str, client: str, occurred: date, cured: date | None = None) -> DefaultEvent:
    return DefaultEvent(
        event_id, client, "李四", DefaultKind.LIQUIDATION_SHORTFALL, occurred, 12_345, cured
    )


def test_default_records_list_what_is_open_with_new_continuing_and_cured() -> None:
    events = [
        event("E3", "C2", D2),
        event("E1", "C1", D1),
        event("E2", "C1", D1, cured=D2),
        event("E0", "C0", date(2026, 2, 27), cured=D1),  # cured before D2: not listed
        event("E4", "C3", D3),  # later: not listed
    ]
    rows = default_record_rows(D2, events)
    assert [(r.event_id, r.client_id, r.status) for r in rows] == [
        ("E1", "C1", RecordStatus.CONTINUING),
        ("E2", "C1", RecordStatus.CURED),
        ("E3", "C2", RecordStatus.NEW),
    ]
    assert rows[0].amount_owed_fen == 12_345 and rows[0].trading_date == D2
    assert default_record_rows(date(2026, 2, 2), events) == ()
    assert clients_on_record(events, D2) == {"C0", "C1", "C2"}  # cured records stay on file


def test_default_records_refuse_repeated_ids_negative_amounts_and_cures_before_defaults() -> None:
    with pytest.raises(ValueError, match="repeated"):
        default_record_rows(D2, [event("E1", "C1", D1), event("E1", "C2", D1)])
    with pytest.raises(ValueError, match="cured"):
        event("E1", "C1", D2, cured=D1)
    with pytest.raises(ValueError, match="negative"):
        DefaultEvent("E1", "C1", "李四", DefaultKind.OTHER, D1, -1)
