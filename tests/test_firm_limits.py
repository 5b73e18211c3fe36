"""Firm-level limits (RISK-11): every numeric limit and warning level at its bound.

- For each indicator: one unit below, at and above the limit (WARNING / REACHED / BREACH),
  the early warning (80%) and the warning (90%) level (OK / EARLY_WARNING / WARNING); a
  limit binds the business it names exactly when no fen or share of room is left.
- Per order (``FirmRoom``): an order that exactly fills a room passes, one unit more is
  refused with the indicator; open orders hold room until released; the order of the
  checks is client, security, firm.
- Limits that are not whole fen (a net capital not divisible by 20), zero float, non-stocks.
- Dated inputs: the net capital and the rule in force on a day; validation; the
  regulator's ceilings.
"""

from __future__ import annotations

from datetime import date
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from liangrong.domain.firm_limits import (
    Business,
    ClientExposure,
    FirmCapital,
    FirmExposures,
    FirmLimitRule,
    FirmLimits,
    FirmRoom,
    FirmUse,
    Indicator,
    Level,
    Scope,
    SecurityExposure,
    SecurityShares,
    WarningShares,
    check_against_regulator,
    evaluate,
    firm_room,
    limits_on,
)
from liangrong.domain.rule_book import NoRuleInForce
from liangrong.domain.rule_codes import RuleCode, RuleRefused
from liangrong.domain.versions import History, Version

I = Indicator  # noqa: E741
_F = Business.FINANCING
DAY = date(2026, 3, 2)
NET_CAPITAL = 10_000_000  # fen
STOCK = "600000.SH"
SHARES = {STOCK: SecurityShares(total_shares=100_000_000, float_shares=50_000_000, stock=True)}
WARN = WarningShares(Fraction(4, 5), Fraction(9, 10))
LIMITS = {
    I.TOTAL_TO_NET_CAPITAL: Fraction(4),
    I.FINANCING_TO_NET_CAPITAL: Fraction(1),
    I.LENDING_TO_NET_CAPITAL: Fraction(3, 10),
    I.FINANCING_TO_LINE: Fraction(1),
    I.LENDING_TO_LINE: Fraction(1),
    I.TOTAL_TO_BUSINESS_CAP: Fraction(1),
    I.CLIENT_FINANCING_TO_NET_CAPITAL: Fraction(1, 20),
    I.CLIENT_LENDING_TO_NET_CAPITAL: Fraction(1, 20),
    I.CLIENT_FINANCING_TO_LINE: Fraction(1, 50),
    I.CLIENT_LENDING_TO_LINE: Fraction(1, 50),
    I.SECURITY_TO_NET_CAPITAL: Fraction(1, 10),
    I.COLLATERAL_TO_TOTAL_SHARES: Fraction(1, 5),
    I.FINANCED_TO_FLOAT: Fraction(1, 20),
    I.SHORTS_TO_FLOAT: Fraction(1, 50),
}


def rule_of(
    limits: dict[Indicator, Fraction],
    overrides: dict[Indicator, WarningShares] | None = None,
    business_cap_fen: int = 30_000_000,
) -> FirmLimitRule:
    """A rule with the firm's lines: 20,000,000 fen of financing, 5,000,000 of lending."""
    return FirmLimitRule(
        limits,
        WARN,
        overrides or {},
        financing_line_fen=20_000_000,
        lending_line_fen=5_000_000,
        business_cap_fen=business_cap_fen,
    )


RULE = rule_of(LIMITS)
# Each limit in its unit (fen or shares), all whole, so 80% and 90% of each are whole too.
LIMIT_OF = {
    I.TOTAL_TO_NET_CAPITAL: 40_000_000,
    I.FINANCING_TO_NET_CAPITAL: 10_000_000,
    I.LENDING_TO_NET_CAPITAL: 3_000_000,
    I.FINANCING_TO_LINE: 20_000_000,
    I.LENDING_TO_LINE: 5_000_000,
    I.TOTAL_TO_BUSINESS_CAP: 30_000_000,
    I.CLIENT_FINANCING_TO_NET_CAPITAL: 500_000,
    I.CLIENT_LENDING_TO_NET_CAPITAL: 500_000,
    I.CLIENT_FINANCING_TO_LINE: 400_000,
    I.CLIENT_LENDING_TO_LINE: 100_000,
    I.SECURITY_TO_NET_CAPITAL: 1_000_000,
    I.COLLATERAL_TO_TOTAL_SHARES: 20_000_000,
    I.FINANCED_TO_FLOAT: 2_500_000,
    I.SHORTS_TO_FLOAT: 1_000_000,
}


def limits(rule: FirmLimitRule = RULE, net_capital_fen: int = NET_CAPITAL) -> FirmLimits:
    return FirmLimits(DAY, rule, net_capital_fen, "nc-2026-02", "limits-1")


def exposed(indicator: Indicator, value: int) -> FirmExposures:
    """Exposures where ``indicator`` reads ``value`` (the client is C1, the security STOCK)."""
    financing = Business.SHORTS not in indicator.binds or _F in indicator.binds
    if indicator.scope is Scope.FIRM:
        return FirmExposures(value if financing else 0, 0 if financing else value, (), ())
    if indicator.scope is Scope.CLIENT:
        client = ClientExposure("C1", value if financing else 0, 0 if financing else value)
        return FirmExposures(0, 0, (client,), ())
    measures = {
        I.SECURITY_TO_NET_CAPITAL: SecurityExposure(STOCK, value, 0, 0, 0, 0),
        I.COLLATERAL_TO_TOTAL_SHARES: SecurityExposure(STOCK, 0, 0, value, 0, 0),
        I.FINANCED_TO_FLOAT: SecurityExposure(STOCK, 0, 0, value, value, 0),
        I.SHORTS_TO_FLOAT: SecurityExposure(STOCK, 0, 0, 0, 0, value),
    }
    return FirmExposures(0, 0, (), (measures[indicator],))


SUBJECT = {Scope.FIRM: "", Scope.CLIENT: "C1", Scope.SECURITY: STOCK}


def test_the_limits_are_the_ones_the_tests_assume() -> None:
    lim = limits()
    for indicator, expected in LIMIT_OF.items():
        if indicator.scope is not Scope.SECURITY or indicator is I.SECURITY_TO_NET_CAPITAL:
            assert lim.limit_fen(indicator) == expected
    assert SHARES[STOCK].total_shares * LIMITS[I.COLLATERAL_TO_TOTAL_SHARES] == 20_000_000


CASES = [  # (share of the limit in tenths, offset, level)
    (10, -1, Level.WARNING),
    (10, 0, Level.REACHED),
    (10, 1, Level.BREACH),
    (9, -1, Level.EARLY_WARNING),
    (9, 0, Level.WARNING),
    (9, 1, Level.WARNING),
    (8, -1, Level.OK),
    (8, 0, Level.EARLY_WARNING),
    (8, 1, Level.EARLY_WARNING),
]


@pytest.mark.parametrize("indicator", list(Indicator), ids=lambda i: i.name)
@pytest.mark.parametrize(("tenths", "offset", "level"), CASES)
def test_each_limit_and_warning_level_at_its_bound(
    indicator: Indicator, tenths: int, offset: int, level: Level
) -> None:
    value = LIMIT_OF[indicator] * tenths // 10 + offset
    evaluation = evaluate(limits(), exposed(indicator, value), SHARES)
    subject = SUBJECT[indicator.scope]
    assert evaluation.level_of(indicator, subject) is level
    row = next(r for r in evaluation.table if r.indicator is indicator)
    assert (row.subject, row.value) == (subject, value)
    assert row.limit == LIMIT_OF[indicator]
    assert row.usage == Fraction(value, LIMIT_OF[indicator])
    room = max(LIMIT_OF[indicator] - value, 0)
    assert row.room == room
    binding = {
        (b.business, b.reading.subject)
        for b in evaluation.blocks.blocks
        if b.reading.indicator is indicator
    }
    assert binding == (
        {(business, subject) for business in indicator.binds} if room == 0 else set()
    )
    if level is not Level.OK:
        assert any(a.indicator is indicator and a.subject == subject for a in evaluation.alerts)


def test_an_empty_book_reads_zero_everywhere_and_blocks_nothing() -> None:
    evaluation = evaluate(limits(), FirmExposures(0, 0, (), ()), SHARES)
    assert evaluation.alerts == () and evaluation.blocks.blocks == ()
    assert {r.indicator for r in evaluation.table} == set(Indicator)
    assert all(r.value == 0 and r.level is Level.OK for r in evaluation.table)
    b = evaluation.blocks
    assert b.financing and b.lending and b.client_financing_cap and b.client_lending_cap
    assert (b.financing.amount, b.financing.indicator) == (10_000_000, I.FINANCING_TO_NET_CAPITAL)
    assert (b.lending.amount, b.lending.indicator) == (3_000_000, I.LENDING_TO_NET_CAPITAL)
    assert b.client_financing_cap.amount == 400_000  # the line's 2% is below 5% of capital
    assert b.client_lending_cap.amount == 100_000
    room = b.securities[STOCK]
    assert (room.amount_fen, room.collateral_shares) == (1_000_000, 20_000_000)
    assert (room.financed_shares, room.short_shares) == (2_500_000, 1_000_000)


def test_the_table_shows_the_worst_subject_and_alerts_are_worst_first() -> None:
    clients = (
        ClientExposure("C1", 100_000, 0),
        ClientExposure("C2", 390_000, 99_999),  # 97.5% of 400,000 and 99.999% of 100,000
        ClientExposure("C3", 400_001, 0),
    )
    evaluation = evaluate(limits(), FirmExposures(890_001, 99_999, clients, ()), SHARES)
    row = next(r for r in evaluation.table if r.indicator is I.CLIENT_FINANCING_TO_LINE)
    assert (row.subject, row.level) == ("C3", Level.BREACH)
    row = next(r for r in evaluation.table if r.indicator is I.CLIENT_LENDING_TO_LINE)
    assert (row.subject, row.level) == ("C2", Level.WARNING)
    assert [(a.indicator, a.subject) for a in evaluation.alerts[:1]] == [
        (I.CLIENT_FINANCING_TO_LINE, "C3")
    ]
    levels = [a.level.value for a in evaluation.alerts]
    assert levels == sorted(levels, reverse=True)
    assert dict(evaluation.blocks.clients) == {("C3", _F): I.CLIENT_FINANCING_TO_LINE}


# --- per order ---------------------------------------------------------------------------------


def room_after(exposures: FirmExposures) -> FirmRoom:
    return firm_room(evaluate(limits(), exposures, SHARES).blocks)


@pytest.mark.parametrize(("extra", "expected"), [(0, None), (1, I.FINANCING_TO_NET_CAPITAL)])
def test_new_financing_fills_the_firm_room_exactly(extra: int, expected: Indicator | None) -> None:
    room = room_after(FirmExposures(9_999_000, 0, (), ()))
    use = FirmUse.margin_buy("000001.SZ", 100, 1_000 + extra)  # a security without counts
    assert room.check(use, "C9") is expected


@pytest.mark.parametrize(("extra", "expected"), [(0, None), (1, I.LENDING_TO_NET_CAPITAL)])
def test_new_lending_fills_the_firm_room_exactly(extra: int, expected: Indicator | None) -> None:
    room = room_after(FirmExposures(0, 2_999_000, (), ()))
    assert room.check(FirmUse.short_sale("000001.SZ", 100, 1_000 + extra), "C9") is expected


def test_open_orders_hold_room_until_released() -> None:
    room = room_after(FirmExposures(9_999_000, 0, (), ()))
    first = FirmUse.margin_buy("000001.SZ", 100, 600)
    assert room.check(first, "C9") is None
    room.hold(first)
    assert room.check(FirmUse.margin_buy("000001.SZ", 100, 400), "C9") is None
    assert room.check(FirmUse.margin_buy("000001.SZ", 100, 401), "C9") is I.FINANCING_TO_NET_CAPITAL
    room.release(first)
    assert room.check(FirmUse.margin_buy("000001.SZ", 100, 1_000), "C9") is None


@pytest.mark.parametrize(
    ("used", "new", "expected"),
    [(399_000, 1_000, None), (399_000, 1_001, I.CLIENT_FINANCING_TO_LINE)],
)
def test_a_client_financing_cap(used: int, new: int, expected: Indicator | None) -> None:
    room = room_after(FirmExposures(0, 0, (), ()))
    use = FirmUse.margin_buy("000001.SZ", 100, new)
    assert room.check(use, "C1", client_financing_used_fen=used) is expected


@pytest.mark.parametrize(
    ("used", "new", "expected"),
    [(99_000, 1_000, None), (99_000, 1_001, I.CLIENT_LENDING_TO_LINE)],
)
def test_a_client_lending_cap(used: int, new: int, expected: Indicator | None) -> None:
    room = room_after(FirmExposures(0, 0, (), ()))
    use = FirmUse.short_sale("000001.SZ", 100, new)
    assert room.check(use, "C1", client_lending_used_fen=used) is expected


def test_a_client_whose_lending_at_market_reaches_the_cap_is_blocked() -> None:
    """The check's own measure (sale value, 50,000 used) leaves room; the evaluation's (the
    shorts at today's price: 100,000) does not: the client's shorts stop."""
    room = room_after(FirmExposures(0, 100_000, (ClientExposure("C1", 0, 100_000),), ()))
    use = FirmUse.short_sale("000001.SZ", 100, 1)
    assert room.check(use, "C1", client_lending_used_fen=50_000) is I.CLIENT_LENDING_TO_LINE
    assert room.check(FirmUse.margin_buy("000001.SZ", 100, 1), "C1") is None
    assert room.check(use, "C2") is None


@pytest.mark.parametrize(
    ("use", "expected"),
    [
        (FirmUse.margin_buy(STOCK, 1_000, 1_000), None),
        (FirmUse.margin_buy(STOCK, 1_001, 1_000), I.FINANCED_TO_FLOAT),
        (FirmUse.margin_buy(STOCK, 100, 1_000), None),
        (FirmUse.margin_buy(STOCK, 100, 1_001), I.SECURITY_TO_NET_CAPITAL),
        (FirmUse.short_sale(STOCK, 500, 1_000), None),
        (FirmUse.short_sale(STOCK, 501, 1_000), I.SHORTS_TO_FLOAT),
        (FirmUse.short_sale(STOCK, 100, 1_001), I.SECURITY_TO_NET_CAPITAL),
        (FirmUse.intake(STOCK, 2_000), None),
        (FirmUse.intake(STOCK, 2_001), I.COLLATERAL_TO_TOTAL_SHARES),
        (FirmUse.margin_buy(STOCK, 2_001, 1), I.COLLATERAL_TO_TOTAL_SHARES),
    ],
)
def test_security_rooms(use: FirmUse, expected: Indicator | None) -> None:
    # Rooms: 1,000 fen of financing and lending, 2,000 shares of collateral, 1,000 shares
    # of financed holdings, 500 shares of shorts.
    security = SecurityExposure(STOCK, 999_000, 0, 19_998_000, 2_499_000, 999_500)
    room = room_after(FirmExposures(999_000, 0, (), (security,)))
    assert room.check(use, "C1") is expected
    room.hold(FirmUse.intake(STOCK, 1))
    if expected is None and use.intake_shares == 2_000:
        assert room.check(use, "C1") is I.COLLATERAL_TO_TOTAL_SHARES


def test_checks_run_client_then_security_then_firm() -> None:
    security = SecurityExposure(STOCK, 1_000_000, 0, 0, 0, 0)
    room = room_after(FirmExposures(10_000_000, 0, (), (security,)))
    use = FirmUse.margin_buy(STOCK, 100, 1)
    assert room.check(use, "C1", client_financing_used_fen=400_000) is I.CLIENT_FINANCING_TO_LINE
    assert room.check(use, "C1") is I.SECURITY_TO_NET_CAPITAL
    assert room.check(FirmUse.margin_buy("000001.SZ", 100, 1), "C1") is I.FINANCING_TO_NET_CAPITAL


# --- limits that are not whole, zero float, non-stocks ---------------------------------------


@pytest.mark.parametrize(
    ("value", "level", "room"),
    [(499_999, Level.WARNING, 1), (500_000, Level.WARNING, 0), (500_001, Level.BREACH, 0)],
)
def test_a_limit_that_is_not_a_whole_fen(value: int, level: Level, room: int) -> None:
    """5% of 10,000,001 fen is 500,000.05 fen: 500,000 has not reached it, yet not one more
    fen fits, so new financing of the client is blocked; 500,001 is past it."""
    rule = FirmLimitRule({I.CLIENT_FINANCING_TO_NET_CAPITAL: Fraction(1, 20)}, WARN)
    client = ClientExposure("C1", value, 0)
    evaluation = evaluate(limits(rule, 10_000_001), FirmExposures(value, 0, (client,), ()), {})
    row = evaluation.table[0]
    assert (row.level, row.room, row.limit) == (level, room, Fraction(10_000_001, 20))
    blocked = ("C1", _F) in evaluation.blocks.clients
    assert blocked is (room == 0)
    cap = evaluation.blocks.client_financing_cap
    assert cap is not None
    assert (cap.amount, cap.indicator) == (500_000, I.CLIENT_FINANCING_TO_NET_CAPITAL)


def test_zero_float_blocks_financing_and_shorts_of_the_security() -> None:
    shares = {STOCK: SecurityShares(100_000_000, 0, True)}
    evaluation = evaluate(limits(), FirmExposures(0, 0, (), ()), shares)
    assert evaluation.level_of(I.FINANCED_TO_FLOAT, STOCK) is Level.REACHED
    row = next(r for r in evaluation.table if r.indicator is I.SHORTS_TO_FLOAT)
    assert row.usage is None and row.room == 0
    blocked = {(b.business, b.reading.indicator) for b in evaluation.blocks.blocks}
    assert blocked == {(_F, I.FINANCED_TO_FLOAT), (Business.SHORTS, I.SHORTS_TO_FLOAT)}
    room = firm_room(evaluation.blocks)
    assert room.check(FirmUse.margin_buy(STOCK, 100, 1), "C1") is I.FINANCED_TO_FLOAT
    assert room.check(FirmUse.intake(STOCK, 100), "C1") is None


def test_the_collateral_rule_is_for_stocks_only() -> None:
    etf = "510300.SH"
    shares = {etf: SecurityShares(1_000, 1_000, stock=False)}
    held = SecurityExposure(etf, 0, 0, 1_000, 0, 0)  # every unit in the book
    evaluation = evaluate(limits(), FirmExposures(0, 0, (), (held,)), shares)
    assert evaluation.blocks.securities[etf].collateral_shares is None
    assert evaluation.level_of(I.COLLATERAL_TO_TOTAL_SHARES, etf) is Level.OK
    assert firm_room(evaluation.blocks).check(FirmUse.intake(etf, 10**6), "C1") is None


def test_warning_shares_per_indicator() -> None:
    rule = rule_of(LIMITS, {I.TOTAL_TO_NET_CAPITAL: WarningShares(Fraction(1, 2), Fraction(3, 4))})
    levels = [
        (19_999_999, Level.OK),
        (20_000_000, Level.EARLY_WARNING),
        (29_999_999, Level.EARLY_WARNING),
        (30_000_000, Level.WARNING),
    ]
    for value, level in levels:
        evaluation = evaluate(limits(rule), FirmExposures(value, 0, (), ()), {})
        assert evaluation.level_of(I.TOTAL_TO_NET_CAPITAL) is level


def test_the_client_watch_threshold_is_the_lowest_early_warning() -> None:
    assert limits().client_watch_fen() == 80_000  # 80% of 2% of the 5,000,000 lending line
    rule = FirmLimitRule({I.TOTAL_TO_NET_CAPITAL: Fraction(4)}, WARN)
    assert limits(rule).client_watch_fen() is None
    # Below the threshold every client indicator is OK, so leaving such clients out is safe.
    clients = (ClientExposure("C1", 79_999, 79_999),)
    evaluation = evaluate(limits(), FirmExposures(79_999, 79_999, clients, ()), {})
    assert all(a.subject != "C1" for a in evaluation.alerts)


# --- dated inputs and validation -----------------------------------------------------------


def test_the_net_capital_and_rule_in_force_on_a_day() -> None:
    capital = History(
        (
            Version("nc-2026-01", date(2026, 2, 10), FirmCapital(NET_CAPITAL), "Jan. report"),
            Version("nc-2026-02", date(2026, 3, 10), FirmCapital(12_000_000), "Feb. report"),
        )
    )
    rules = History((Version("limits-1", date(2026, 1, 5), RULE, "board 2026-01"),))
    before = limits_on(capital, rules, date(2026, 3, 9))
    after = limits_on(capital, rules, date(2026, 3, 10))
    assert before.limit_fen(I.TOTAL_TO_NET_CAPITAL) == 40_000_000
    assert after.limit_fen(I.TOTAL_TO_NET_CAPITAL) == 48_000_000
    assert (after.capital_version, after.rule_version) == ("nc-2026-02", "limits-1")
    # 40,000,000 of exposure is REACHED under January's capital, 83.3% under February's.
    exposures = FirmExposures(30_000_000, 10_000_000, (), ())
    assert evaluate(before, exposures, {}).level_of(I.TOTAL_TO_NET_CAPITAL) is Level.REACHED
    assert evaluate(after, exposures, {}).level_of(I.TOTAL_TO_NET_CAPITAL) is Level.EARLY_WARNING
    with pytest.raises(NoRuleInForce):
        limits_on(capital, rules, date(2026, 2, 9))


@pytest.mark.parametrize(
    ("build", "field"),
    [
        (lambda: FirmCapital(0), "net_capital_fen"),
        (lambda: WarningShares(Fraction(9, 10), Fraction(4, 5)), "warning_shares"),
        (lambda: WarningShares(Fraction(0), Fraction(4, 5)), "warning_shares"),
        (lambda: WarningShares(Fraction(4, 5), Fraction(11, 10)), "warning_shares"),
        (
            lambda: FirmLimitRule({I.TOTAL_TO_NET_CAPITAL: Fraction(0)}, WARN),
            "limits.TOTAL_TO_NET_CAPITAL",
        ),
        (
            lambda: FirmLimitRule({I.FINANCED_TO_FLOAT: Fraction(11, 10)}, WARN),
            "limits.FINANCED_TO_FLOAT",
        ),
        (lambda: FirmLimitRule({I.FINANCING_TO_LINE: Fraction(1)}, WARN), "financing_line_fen"),
        (
            lambda: FirmLimitRule(
                {I.CLIENT_LENDING_TO_LINE: Fraction(1, 50)}, WARN, lending_line_fen=0
            ),
            "lending_line_fen",
        ),
        (
            lambda: FirmLimitRule(
                {I.TOTAL_TO_NET_CAPITAL: Fraction(4)}, WARN, {I.SHORTS_TO_FLOAT: WARN}
            ),
            "warning_overrides.SHORTS_TO_FLOAT",
        ),
    ],
)
def test_invalid_inputs_are_refused(build: object, field: str) -> None:
    with pytest.raises(RuleRefused) as refused:
        build()  # type: ignore[operator]
    assert refused.value.code is RuleCode.VALUE_OUT_OF_RANGE
    assert [v.field for v in refused.value.violations] == [field]


CEILINGS = {
    I.TOTAL_TO_NET_CAPITAL: Fraction(4),
    I.CLIENT_FINANCING_TO_NET_CAPITAL: Fraction(1, 20),
    I.CLIENT_LENDING_TO_NET_CAPITAL: Fraction(1, 20),
    I.COLLATERAL_TO_TOTAL_SHARES: Fraction(1, 5),
}


def test_the_firm_may_be_stricter_than_the_regulator_never_looser() -> None:
    assert check_against_regulator(RULE, CEILINGS, DAY) == []
    stricter = rule_of({**LIMITS, I.TOTAL_TO_NET_CAPITAL: Fraction(3)})
    assert check_against_regulator(stricter, CEILINGS, DAY) == []
    looser = dict(LIMITS)
    looser[I.TOTAL_TO_NET_CAPITAL] = Fraction(4) + Fraction(1, 10**6)
    del looser[I.CLIENT_LENDING_TO_NET_CAPITAL]
    found = check_against_regulator(rule_of(looser), CEILINGS, DAY)
    assert [(v.field, v.value, v.on) for v in found] == [
        ("limits.CLIENT_LENDING_TO_NET_CAPITAL", "missing", DAY),
        ("limits.TOTAL_TO_NET_CAPITAL", "400.0001%", DAY),
    ]


# --- the levels are the definition, for any limit -----------------------------------------


def defined_level(value: int, limit: Fraction, shares: WarningShares) -> Level:
    """The module's definition, in Fractions."""
    if value > limit:
        return Level.BREACH
    if value == limit:
        return Level.REACHED
    if value >= shares.warning * limit:
        return Level.WARNING
    return Level.EARLY_WARNING if value >= shares.early * limit else Level.OK


@settings(max_examples=300, deadline=None)
@given(
    net_capital=st.integers(1, 10**12),
    share=st.fractions(min_value=Fraction(1, 10**4), max_value=8, max_denominator=10**4),
    early=st.fractions(min_value=Fraction(1, 100), max_value=1, max_denominator=100),
    gap=st.fractions(min_value=0, max_value=1, max_denominator=100),
    value=st.integers(0, 10**13),
)
def test_levels_and_rooms_follow_the_definition(
    net_capital: int, share: Fraction, early: Fraction, gap: Fraction, value: int
) -> None:
    shares = WarningShares(early, min(early + gap, Fraction(1)))
    rule = FirmLimitRule({I.FINANCING_TO_NET_CAPITAL: share}, shares)
    reading = evaluate(limits(rule, net_capital), FirmExposures(value, 0, (), ()), {}).table[0]
    limit = share * net_capital
    assert reading.level is defined_level(value, limit, shares)
    if value <= limit:  # the room is the most new business that stays within the limit
        assert value + reading.room <= limit < value + reading.room + 1
    else:
        assert reading.room == 0
    blocks = evaluate(limits(rule, net_capital), FirmExposures(value, 0, (), ()), {}).blocks
    assert (blocks.blocked(_F) != ()) is (value + 1 > limit)  # not one more fen fits
