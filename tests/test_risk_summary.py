"""Exposures, risk classes and the daily risk summary (RISK-10, RISK-11, RISK-13).

- On generated books (built as ``test_risk_arrays`` builds them), every exact sum of
  ``risk.exposure`` equals the plain sum of the book's records; every status, every
  concentration flag and every assets/debt figure equals the exact domain formulas on the
  account built the book's way.
- A hand-made book places each class at its bound: a ratio at a line is not below it, one
  fen more debt is; assets equal to debt are not "below 100%", one fen more debt is; a
  security at exactly its tiered cap is concentrated, one fen more cash and it is not;
  a recovery case makes a loss.
- The summary's rows, top concentrations, firm table and bad debts.
"""

from __future__ import annotations

from datetime import date
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings

from liangrong.domain import margin
from liangrong.domain.concentration import (
    ConcentrationClass,
    ConcentrationRule,
    ConcentrationTier,
    concentrations_reaching_caps,
)
from liangrong.domain.contracts import ContractKind
from liangrong.domain.firm_limits import (
    FirmLimitRule,
    FirmLimits,
    Indicator,
    Level,
    SecurityShares,
    WarningShares,
)
from liangrong.domain.liquidation import LiquidationReason, RecoveryCase
from liangrong.domain.margin import RatioStatus
from liangrong.risk.engine import RiskEngine
from liangrong.risk.exposure import book_exposure, exact_product, firm_exposures, int_sum_by
from liangrong.risk.summary import (
    BadDebt,
    RiskClass,
    RiskSummary,
    classify,
    daily_summary,
)
from test_risk_arrays import SYMBOLS, Book, Contract, arrays_of, books, reference_account

DAY = date(2026, 3, 2)
FIRM = margin.Lines(attention=Fraction(3, 2), warning=Fraction(7, 5), liquidation=Fraction(13, 10))
MAIN, FUND = ConcentrationClass.MAIN_BOARD_STOCK, ConcentrationClass.FUND
GROWTH, BOND = ConcentrationClass.GROWTH_BOARD_STOCK, ConcentrationClass.BOND
CLASSES = {
    "600000.SH": MAIN,
    "600036.SH": MAIN,
    "000001.SZ": MAIN,
    "688981.SH": GROWTH,
    "511880.SH": FUND,
}


def tier(from_ratio: Fraction, main: int | None, growth: int | None) -> ConcentrationTier:
    return ConcentrationTier(from_ratio, {MAIN: main, GROWTH: growth, FUND: None, BOND: None})


RULE = ConcentrationRule(
    (
        tier(Fraction(0), 3_000, 2_000),
        tier(Fraction(3, 2), 5_000, 3_000),
        tier(Fraction(2), 7_000, 5_000),
        tier(Fraction(3), None, None),
    )
)


# --- generated books: the exact sums and the exact formulas ----------------------------------


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(book=books())
def test_exposures_equal_the_plain_sums_of_the_records(book: Book) -> None:
    arrays = arrays_of(book)
    exposure = book_exposure(arrays)
    ns = len(SYMBOLS)
    held, financed, short, financing = [0] * ns, [0] * ns, [0] * ns, [0] * ns
    for (_, s), q in book.held.items():
        held[s] += q
    for c in book.contracts:
        if c.kind is ContractKind.SHORT:
            short[c.symbol] += c.outstanding
        else:
            financing[c.symbol] += c.outstanding
    for a in range(len(book.cash)):
        account = reference_account(book, a)
        for f in account.financing:
            financed[SYMBOLS.index(f.security)] += f.quantity
        assert exposure.assets_li[a] == margin.total_assets(account) * 10
        assert exposure.debt_li[a] == margin.total_debt(account) * 10
    order = [arrays.security_of(symbol) for symbol in SYMBOLS]
    assert exposure.held_shares[order].tolist() == held
    assert exposure.financed_shares[order].tolist() == financed
    assert exposure.short_shares[order].tolist() == short
    assert exposure.financing_fen[order].tolist() == financing
    totals = firm_exposures(exposure, watch_from_fen=None, top_clients=0)
    assert totals.financing_fen == sum(financing)
    short_li = sum(q * p for q, p in zip(short, book.prices, strict=True))
    assert totals.lending_fen == -(-short_li // 10)
    assert {e.symbol for e in totals.securities} == {
        SYMBOLS[s] for s in range(ns) if held[s] or financed[s] or short[s] or financing[s]
    }


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(book=books())
def test_statuses_and_concentration_flags_equal_the_exact_formulas(book: Book) -> None:
    arrays = arrays_of(book)
    found = classify(book_exposure(arrays), FIRM, RULE, CLASSES)
    engine = RiskEngine(arrays, FIRM)
    engine.revalue_all()
    for a in range(len(book.cash)):
        account = reference_account(book, a)
        status = margin.account_status(account, FIRM)
        assert found.status_of(a) is status
        assert engine.statuses.status_of(a) is status  # the same as the status board's
        has_debt = margin.total_debt(account) > 0
        reaching = concentrations_reaching_caps(account, RULE, CLASSES)
        assert bool(found.concentrated[a]) is (has_debt and reaching != ())


# --- a hand-made book: each class at its bound ----------------------------------------------

S0, S4 = 0, 4  # 600000.SH (main board, 10.000 yuan), 511880.SH (a fund, uncapped, 100 yuan)
PRICES = [10_000, 20_000, 5_000, 50_000, 100_000]


def fin(n: int, client: int, owed_fen: int, symbol: int = S4, quantity: int = 1) -> Contract:
    return Contract(f"F{n:02d}", ContractKind.FINANCING, client, symbol, quantity, owed_fen,
                    1_000, 738000, 10_000, owed_fen, 0)  # fmt: skip


CLIENTS = [  # (cash fen, {security: shares}, financing owed fen)
    (1_000_000, {}, 0),  # c0: no debt
    (0, {S0: 2_000}, 1_000_000),  # c1: 200%, all in one main-board stock: 100% ≥ 70%
    (2_000_000, {S4: 10}, 1_000_000),  # c2: 300%, fund: NORMAL
    (0, {S4: 150}, 1_000_000),  # c3: exactly 150%: not below the attention line
    (0, {S4: 150}, 1_000_001),  # c4: one fen more debt: below it
    (0, {S4: 129}, 1_000_000),  # c5: 129%: below the liquidation line
    (0, {S4: 100}, 1_000_000),  # c6: exactly 100%: not below 100%
    (0, {S4: 100}, 1_000_001),  # c7: one fen more debt: assets below debt
    (0, {}, 500_000),  # c8: nothing left, a recovery case
    (750_000, {S0: 1_750}, 1_000_000),  # c9: 250%, S0 exactly 70% of the collateral: cap 70%
    (750_001, {S0: 1_750}, 1_000_000),  # c10: one fen more cash: S0 just below 70%
]
EXPECTED = [
    (RatioStatus.SAFE, RiskClass.NORMAL),
    (RatioStatus.SAFE, RiskClass.ATTENTION),
    (RatioStatus.SAFE, RiskClass.NORMAL),
    (RatioStatus.SAFE, RiskClass.NORMAL),
    (RatioStatus.ATTENTION, RiskClass.ATTENTION),
    (RatioStatus.LIQUIDATION, RiskClass.SUBSTANDARD),
    (RatioStatus.LIQUIDATION, RiskClass.SUBSTANDARD),
    (RatioStatus.LIQUIDATION, RiskClass.DOUBTFUL),
    (RatioStatus.LIQUIDATION, RiskClass.LOSS),
    (RatioStatus.SAFE, RiskClass.ATTENTION),
    (RatioStatus.SAFE, RiskClass.NORMAL),
]
DEBTS = [BadDebt("c8", 500_000), BadDebt("zz-closed", 20_000, provisional=True)]


def hand_made() -> Book:
    held = {(c, s): q for c, (_, holdings, _) in enumerate(CLIENTS) for s, q in holdings.items()}
    contracts = [fin(c, c, owed) for c, (_, _, owed) in enumerate(CLIENTS) if owed]
    cash = [cash for cash, _, _ in CLIENTS]
    return Book(cash, held, contracts, PRICES, [7_000, 7_000, 7_000, 7_000, 9_000])


def test_each_class_at_its_bound() -> None:
    arrays = arrays_of(hand_made())
    found = classify(book_exposure(arrays), FIRM, RULE, CLASSES, bad_debt_clients=["c8"])
    got = [(found.status_of(a), found.class_of(a)) for a in range(len(CLIENTS))]
    assert got == EXPECTED
    assert found.concentrated.tolist() == [False, True] + [False] * 7 + [True, False]
    engine = RiskEngine(arrays, FIRM)
    engine.revalue_all()
    assert [engine.statuses.status_of(a) for a in range(len(CLIENTS))] == [s for s, _ in EXPECTED]


def test_client_lines_and_agreed_caps() -> None:
    own = margin.Lines(
        attention=Fraction(7, 5), warning=Fraction(13, 10), liquidation=Fraction(6, 5)
    )
    exposure = book_exposure(arrays_of(hand_made()))
    found = classify(exposure, FIRM, RULE, CLASSES, client_lines={"c4": own, "c5": own})
    assert (found.status_of(4), found.class_of(4)) == (RatioStatus.SAFE, RiskClass.NORMAL)
    assert (found.status_of(5), found.class_of(5)) == (RatioStatus.WARNING, RiskClass.ATTENTION)
    # c10 agreed 69.99%: its S0 share (1,750,000 / 2,500,001) reaches it.
    found = classify(exposure, FIRM, RULE, CLASSES, agreed_caps_bp={"c10": 6_999})
    assert found.class_of(10) is RiskClass.ATTENTION
    found = classify(exposure, FIRM, RULE, CLASSES, agreed_caps_bp={"c10": 7_000})
    assert found.class_of(10) is RiskClass.NORMAL


def test_a_security_without_a_class_is_refused() -> None:
    exposure = book_exposure(arrays_of(hand_made()))
    with pytest.raises(ValueError, match=r"600000\.SH"):
        classify(exposure, FIRM, RULE, {"511880.SH": FUND})


# --- the summary -------------------------------------------------------------------------------

NET_CAPITAL = 100_000_000  # fen: 5% is 5,000,000; 4× is 400,000,000
FIRM_RULE = FirmLimitRule(
    {
        Indicator.TOTAL_TO_NET_CAPITAL: Fraction(4),
        Indicator.CLIENT_FINANCING_TO_NET_CAPITAL: Fraction(1, 100),  # 1,000,000 fen
        Indicator.COLLATERAL_TO_TOTAL_SHARES: Fraction(1, 5),
        Indicator.FINANCED_TO_FLOAT: Fraction(1, 20),
    },
    WarningShares(Fraction(4, 5), Fraction(9, 10)),
)
SHARES = {s: SecurityShares(100_000, 20_000, stock=s != "511880.SH") for s in SYMBOLS}


def summary() -> RiskSummary:
    return daily_summary(
        arrays_of(hand_made()),
        on=DAY,
        firm_lines=FIRM,
        concentration=RULE,
        classes=CLASSES,
        firm_limits=FirmLimits(DAY, FIRM_RULE, NET_CAPITAL, "nc", "rule"),
        shares=SHARES,
        bad_debts=DEBTS,
        top=3,
    )


def test_rows_by_status_and_class_count_accounts_and_sum_debt() -> None:
    s = summary()
    owed = [owed for _, _, owed in CLIENTS]
    assert (s.accounts, s.accounts_with_debt) == (11, 10)
    by_status = {r.group: (r.accounts, r.debt_fen) for r in s.by_status}
    for status in RatioStatus:
        members = [c for c, (st, _) in enumerate(EXPECTED) if st is status]
        assert by_status[status] == (len(members), sum(owed[c] for c in members))
    by_class = {r.group: (r.accounts, r.debt_fen) for r in s.by_class}
    for risk_class in RiskClass:
        members = [c for c, (_, rc) in enumerate(EXPECTED) if rc is risk_class]
        assert by_class[risk_class] == (len(members), sum(owed[c] for c in members))
    assert [r.group for r in s.by_class] == list(RiskClass)


def test_top_concentrations_are_exact_and_ranked() -> None:
    s = summary()
    top = [
        (c.client_id, c.symbol, c.share, c.cap_bp, c.reaches_cap) for c in s.client_concentrations
    ]
    assert top == [
        ("c1", "600000.SH", Fraction(1), 7_000, True),  # 100%, at 200%: the 70% tier
        ("c3", "511880.SH", Fraction(1), None, False),  # 100% too, smaller: funds uncapped
        ("c4", "511880.SH", Fraction(1), None, False),
    ]
    held = {
        "600000.SH": (2_000 + 1_750 * 2) * 10_000,
        "511880.SH": (10 + 150 * 2 + 129 + 200) * 100_000,
    }
    total = sum(held.values())
    assert [(c.symbol, c.value_li, c.share) for c in s.security_concentrations] == [
        ("511880.SH", held["511880.SH"], Fraction(held["511880.SH"], total)),
        ("600000.SH", held["600000.SH"], Fraction(held["600000.SH"], total)),
    ]


def test_many_equal_shares_are_cut_by_value() -> None:
    """Six clients hold a single security (100%); with room for 4 candidates per place the
    largest values are kept: c1 (20,000,000 li), then c3 and c4 (15,000,000 li each)."""
    s = daily_summary(
        arrays_of(hand_made()), on=DAY, firm_lines=FIRM, concentration=RULE, classes=CLASSES, top=1
    )
    assert [c.client_id for c in s.client_concentrations] == ["c1"]
    s = daily_summary(
        arrays_of(hand_made()), on=DAY, firm_lines=FIRM, concentration=RULE, classes=CLASSES, top=2
    )
    assert [c.client_id for c in s.client_concentrations] == ["c1", "c3"]
    assert s.firm is None and s.bad_debts == () and s.bad_debt_fen == 0


def test_the_firm_table_and_bad_debts() -> None:
    s = summary()
    assert s.firm is not None
    assert s.firm.level_of(Indicator.CLIENT_FINANCING_TO_NET_CAPITAL, "c4") is Level.BREACH
    assert s.firm.level_of(Indicator.CLIENT_FINANCING_TO_NET_CAPITAL, "c1") is Level.REACHED
    # 5,500 of S0 held in the book against 100,000 shares: 5.5%, far from 20%.
    assert s.firm.level_of(Indicator.COLLATERAL_TO_TOTAL_SHARES, "600000.SH") is Level.OK
    # Financed: each contract backs 1 share of the fund where the client holds it (c2–c7),
    # against a limit of 5% of 20,000 float shares.
    row = next(r for r in s.firm.table if r.indicator is Indicator.FINANCED_TO_FLOAT)
    assert (row.subject, row.value) == ("511880.SH", 6) and row.limit == 1_000
    total = next(r for r in s.firm.table if r.indicator is Indicator.TOTAL_TO_NET_CAPITAL)
    assert total.value == sum(owed for _, _, owed in CLIENTS)
    assert s.bad_debts == (BadDebt("c8", 500_000), BadDebt("zz-closed", 20_000, True))
    assert s.bad_debt_fen == 520_000
    assert (s.on, s.version) == (DAY, arrays_of(hand_made()).version)
    assert s.prices_at is not None


def test_a_recovery_case_becomes_a_bad_debt() -> None:
    case = RecoveryCase(
        "c8", LiquidationReason.CALL_MISSED, 500_000, Fraction(500_000), Fraction(0), False
    )
    assert BadDebt.of(case) == BadDebt("c8", 500_000, False)


# --- exact integer helpers -------------------------------------------------------------------


def test_sums_stay_exact_beyond_float_precision() -> None:
    big = np.asarray([2**53 + 1, 1, 2**53 - 1, 3], dtype=np.int64)
    index = np.asarray([0, 0, 1, 1], dtype=np.intp)
    assert int_sum_by(index, big, 2).tolist() == [2**53 + 2, 2**53 + 2]
    small = np.asarray([5, 7, 11], dtype=np.int64)
    assert int_sum_by(np.asarray([1, 1, 0], dtype=np.intp), small, 3).tolist() == [11, 12, 0]
    with pytest.raises(OverflowError):
        int_sum_by(index, np.full(4, 2**61, dtype=np.int64), 2)
    with pytest.raises(OverflowError):
        exact_product(np.asarray([2**40]), np.asarray([2**30]))
    assert exact_product(np.asarray([3, 4]), np.asarray([5, 6])).tolist() == [15, 24]
