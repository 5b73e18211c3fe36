"""Statuses against the lines (RISK-5): floats screen, the exact computation decides.

- A ratio exactly at a line is not below it; one li lower it is.
- Where the float ratio and the exact one fall on different sides of a line, the exact one
  wins (cases built within floating error of a line, both directions).
- Every change is an event with its time, the exact ratio, the lines and the prices' time.
- Client overrides, optional lines, no debt, stale figures, the rule book's lines.
- On generated books and price paths, every status equals the exact formulas' status.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ledger_helpers import financing_terms, short_terms
from liangrong.domain import margin, parameters
from liangrong.domain import operations as ops
from liangrong.domain.journal import Transaction
from liangrong.domain.margin import RatioStatus
from liangrong.risk.book_arrays import BookArrays
from liangrong.risk.engine import RiskEngine
from liangrong.risk.layout import BookData
from liangrong.risk.revaluation import Revaluer
from liangrong.risk.statuses import StaleFigures, rule_book_lines, status_lines
from liangrong.risk.views import exact_account
from liangrong.sim.rules_seed import demo_rule_book
from test_risk_arrays import SYMBOLS, Book, arrays_of, books

DAY = date(2026, 3, 2)
T0 = datetime(2026, 3, 2, 1, 30, tzinfo=UTC)
FIRM = margin.Lines(attention=Fraction(3, 2), warning=Fraction(7, 5), liquidation=Fraction(13, 10))
STOCK, OTHER = "600000.SH", "600036.SH"


def engine_of(
    txns: list[Transaction], prices: dict[str, int], lines: margin.Lines = FIRM
) -> RiskEngine:
    """An engine that learnt these transactions (no store needed: ``apply`` is enough)."""
    book = BookArrays(BookData.empty())
    engine = RiskEngine(book, lines)
    for txn in txns:
        assert engine.on_transaction(txn) == []  # no prices yet: no status decided
    engine.on_prices(T0, prices)
    return engine


def financed(client: str, owed_fen: int, shares: int, cash_fen: int = 0) -> list[Transaction]:
    """``shares`` of STOCK bought on margin for ``owed_fen``, plus some cash."""
    txns = [
        ops.open_financing(
            f"m-{client}", financing_terms(f"F-{client}", client, owed_fen, shares, STOCK, DAY)
        )
    ]
    if cash_fen:
        txns.append(ops.deposit_cash(f"d-{client}", DAY, client, cash_fen))
    return txns


# --- the boundary -----------------------------------------------------------------------------


def test_a_ratio_exactly_at_a_line_is_not_below_it() -> None:
    # Debt 1,000,000 fen; 1,300 shares at 10,000 li = 1,300,000 fen: exactly 130%.
    engine = engine_of(financed("c1", 1_000_000, 1_300), {STOCK: 10_000})
    assert engine.statuses.status("c1") is RatioStatus.WARNING  # below 140%, not below 130%
    changes = engine.on_prices(T0 + timedelta(seconds=3), {STOCK: 9_999})  # one li lower
    assert [(c.old, c.new) for c in changes] == [(RatioStatus.WARNING, RatioStatus.LIQUIDATION)]
    assert changes[0].ratio == Fraction(1_300 * 9_999, 10_000_000)
    changes = engine.on_prices(T0 + timedelta(seconds=6), {STOCK: 10_000})  # back at the line
    assert [(c.old, c.new) for c in changes] == [(RatioStatus.LIQUIDATION, RatioStatus.WARNING)]


def test_status_changes_are_events_with_time_exact_ratio_lines_and_prices() -> None:
    engine = engine_of(financed("c1", 1_000_000, 1_000, cash_fen=600_000), {STOCK: 10_000})
    assert engine.statuses.status("c1") is RatioStatus.SAFE  # 160%
    at = T0 + timedelta(minutes=5)
    (change,) = engine.on_prices(at, {STOCK: 7_500})  # (600,000 + 750,000) / 1,000,000
    assert change.client_id == "c1" and change.account == engine.book.account_of("c1")
    assert (change.old, change.new) == (RatioStatus.SAFE, RatioStatus.WARNING)
    assert change.ratio == Fraction(135, 100)
    assert change.prices_at == at and change.at == at
    assert change.lines == FIRM


def test_no_debt_is_safe_whatever_the_assets() -> None:
    txns = [ops.deposit_cash("d1", DAY, "rich", 10), ops.deposit_cash("d2", DAY, "empty", 1)]
    txns.append(ops.withdraw_cash("w2", DAY, "empty", 1))
    engine = engine_of(txns, {STOCK: 10_000})
    figures = engine.revaluer.figures(None)
    assert np.all(np.isinf(figures.ratio))
    assert engine.statuses.status("rich") is RatioStatus.SAFE
    assert engine.statuses.status("empty") is RatioStatus.SAFE


def test_the_optional_emergency_line() -> None:
    lines = margin.Lines(
        warning=Fraction(7, 5), liquidation=Fraction(13, 10), emergency=Fraction(11, 10)
    )
    engine = engine_of(financed("c1", 1_000_000, 1_000), {STOCK: 12_000}, lines)
    assert engine.statuses.status("c1") is RatioStatus.LIQUIDATION  # 120%, no attention line
    (change,) = engine.on_prices(T0 + timedelta(seconds=3), {STOCK: 10_900})
    assert change.new is RatioStatus.EMERGENCY
    assert engine.statuses.counts()[RatioStatus.EMERGENCY] == 1


def test_client_lines_override_the_firms() -> None:
    engine = engine_of(financed("c1", 1_000_000, 1_000, cash_fen=350_000), {STOCK: 10_000})
    assert engine.statuses.status("c1") is RatioStatus.WARNING  # 135%
    own = margin.Lines(warning=Fraction(13, 10), liquidation=Fraction(6, 5))
    (change,) = engine.set_client_lines("c1", own)
    assert (change.old, change.new, change.lines) == (RatioStatus.WARNING, RatioStatus.SAFE, own)
    (change,) = engine.set_client_lines("c1", None)
    assert change.new is RatioStatus.WARNING and change.lines == FIRM


def test_transactions_move_statuses_at_once() -> None:
    engine = engine_of(financed("c1", 1_000_000, 1_000, cash_fen=600_000), {STOCK: 10_000})
    (change,) = engine.on_transaction(ops.withdraw_cash("w", DAY, "c1", 300_000))
    assert (change.old, change.new) == (RatioStatus.SAFE, RatioStatus.WARNING)  # 130%
    assert change.ratio == Fraction(13, 10) and change.prices_at == T0


def test_decisions_refuse_stale_figures() -> None:
    engine = engine_of(financed("c1", 1_000_000, 1_000), {STOCK: 10_000})
    old = engine.revaluer.figures(None)
    engine.book.set_prices(T0 + timedelta(seconds=3), {STOCK: 9_000})
    with pytest.raises(StaleFigures):
        engine.statuses.update(old)
    book = BookArrays(BookData.empty())
    engine = RiskEngine(book, FIRM)
    with pytest.raises(StaleFigures):  # no prices: no decision
        engine.statuses.update(engine.revaluer.figures(None))


# --- float and exact on different sides ----------------------------------------------------


def _near_line_account(owed_fen: int, line: Fraction) -> tuple[list[Transaction], dict[str, int]]:
    """A 1-share short at 9,997 li makes debt D ≡ 9,997 (mod 10,000) li, so assets
    A = (13,333·D − 1) ÷ 10,000 are whole li and A ÷ D is below 133.33% by 1 ÷ (10,000·D)."""
    assert line == Fraction(13_333, 10_000)
    short_price, proceeds_fen, stock_price = 9_997, 1_000, 10_001
    debt = 10 * owed_fen + short_price
    assets = (13_333 * debt - 1) // 10_000
    assert 13_333 * debt - 1 == assets * 10_000
    shares = assets // stock_price
    shares -= (shares - assets) % 10 + 10  # A − shares·price a multiple of 10, room for cash
    cash_fen = (assets - shares * stock_price) // 10 - proceeds_fen
    txns = [
        ops.open_financing("m", financing_terms("F", "big", owed_fen, shares, STOCK, DAY)),
        ops.open_short("s", short_terms("S", "big", 1, proceeds_fen, OTHER, DAY)),
        ops.deposit_cash("d", DAY, "big", cash_fen),
    ]
    return txns, {STOCK: stock_price, OTHER: short_price}


def test_the_exact_ratio_wins_where_the_float_is_on_the_wrong_side_of_a_line() -> None:
    # Client lines with liquidation at 133.33%; a 2-billion-yuan financed account whose
    # exact ratio is below it by 4e-17, which rounds to the float of the line itself.
    line = Fraction(13_333, 10_000)
    lines = margin.Lines(attention=Fraction(3, 2), warning=Fraction(7, 5), liquidation=line)
    owed = 200_000_000_000
    while True:  # the first debt whose float ratio lands on the line (a few tries at most)
        txns, prices = _near_line_account(owed, line)
        book = BookArrays(BookData.empty())
        for txn in txns:
            book.apply(txn)
        book.set_prices(T0, prices)
        exact = margin.maintenance_ratio(exact_account(book, 0))
        if Revaluer(book).full().ratio[0] >= float(line):
            break
        owed += 1_000
    assert exact is not None and exact < line  # exactly: below the liquidation line
    # First one li higher: WARNING, confirmed.  Then the near-line price: the float status
    # is WARNING still, equal to the current one; only the band around the line flags it.
    book.set_prices(T0 + timedelta(seconds=1), {STOCK: prices[STOCK] + 1})
    engine = RiskEngine(book, FIRM, {"big": lines})
    engine.revalue_all()
    assert engine.statuses.status("big") is RatioStatus.WARNING
    moves = book.set_prices(T0 + timedelta(seconds=4), {STOCK: prices[STOCK]})
    figures = engine.revaluer.incremental(moves)
    assert float(line) <= figures.ratio[0] < float(lines.warning)  # the float: WARNING
    assert engine.statuses.screen(figures).tolist() == [0]  # flagged by the band
    (change,) = engine.statuses.update(figures)
    assert (change.old, change.new) == (RatioStatus.WARNING, RatioStatus.LIQUIDATION)
    assert change.ratio == exact and change.lines == lines


def test_the_exact_ratio_wins_beyond_float_exactness_too() -> None:
    # Amounts above 2^53 li, where the float sums round: the exact ratio is the line itself
    # (not below), the float one falls below it.
    owed, price = 10**16, 10_001  # fen: 10^17 li of debt
    for step in range(2_000):
        shares = 10**12 + 10 * step  # shares·price ≡ 0 (mod 10): cash is whole fen
        cash = (13 * owed - shares * price) // 10  # assets exactly 1.3 × debt
        book = BookArrays(BookData.empty())
        for txn in financed("huge", owed, shares, cash_fen=cash):
            book.apply(txn)
        book.set_prices(T0, {STOCK: price})
        engine = RiskEngine(book, FIRM)
        figures, changes = engine.revalue_all()
        if figures.ratio[0] < float(FIRM.liquidation):
            break
    else:
        pytest.fail("no case found where the float ratio falls below the line")
    assert margin.maintenance_ratio(exact_account(book, 0)) == FIRM.liquidation
    assert engine.statuses.status("huge") is RatioStatus.WARNING  # at the line: not below
    assert [c.new for c in changes] == [RatioStatus.WARNING]


# --- the rule book's lines --------------------------------------------------------------------


def test_the_rule_books_lines_as_status_lines() -> None:
    same = parameters.Lines(Fraction(7, 5), Fraction(7, 5), Fraction(13, 10))
    assert status_lines(same) == margin.Lines(warning=Fraction(7, 5), liquidation=Fraction(13, 10))
    with pytest.raises(ValueError):
        status_lines(parameters.Lines(Fraction(3, 2), Fraction(13, 10), Fraction(13, 10)))
    firm, own = rule_book_lines(demo_rule_book(), DAY, ["c1", "c2"])
    assert firm.liquidation < firm.warning and own == {}


# --- the screen never misses --------------------------------------------------------------------


def _exact_statuses(engine: RiskEngine) -> list[RatioStatus]:
    book = engine.book
    return [
        margin.ratio_status(
            margin.maintenance_ratio(exact_account(book, a)), engine.statuses.lines_of(a)
        )
        for a in range(book.n_accounts)
    ]


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    book=books(),
    moves=st.lists(
        st.dictionaries(st.integers(0, len(SYMBOLS) - 1), st.integers(1, 2 * 10**6), max_size=4),
        min_size=1,
        max_size=6,
    ),
)
def test_every_status_equals_the_exact_status(book: Book, moves: list[dict[int, int]]) -> None:
    arrays = arrays_of(book)
    engine = RiskEngine(arrays, FIRM, full_share=0.5)
    engine.revalue_all()
    assert [engine.statuses.status_of(a) for a in range(arrays.n_accounts)] == _exact_statuses(
        engine
    )
    for step, move in enumerate(moves, start=1):
        engine.on_prices(T0 + timedelta(seconds=3 * step), {SYMBOLS[s]: p for s, p in move.items()})
        assert [engine.statuses.status_of(a) for a in range(arrays.n_accounts)] == _exact_statuses(
            engine
        )


def test_a_fair_value_rule_moves_statuses_and_is_named() -> None:
    engine = engine_of(financed("c1", 1_000_000, 1_000, cash_fen=600_000), {STOCK: 10_000})
    at = T0 + timedelta(hours=1)
    (change,) = engine.on_fair_value(at, STOCK, 6_900, "suspended_index_method")
    assert (change.new, change.ratio, change.prices_at) == (
        RatioStatus.LIQUIDATION,
        Fraction(129, 100),
        at,
    )
    assert engine.book.valuation_rule(STOCK) == "suspended_index_method"
    (change,) = engine.on_fair_value(at + timedelta(seconds=3), STOCK, None)
    assert change.new is RatioStatus.SAFE and engine.book.valuation_rule(STOCK) == "last_trade"


def test_haircuts_change_available_margin_not_statuses() -> None:
    # 1,000 shares bought at 10 yuan now at 11: a floating profit that counts at haircut.
    engine = engine_of(financed("c1", 1_000_000, 1_000, cash_fen=350_000), {STOCK: 11_000})
    before = engine.revaluer.figures(None).available_li[0]
    assert engine.on_haircuts({STOCK: Fraction(1, 2)}) == []
    after = engine.revaluer.figures(None)
    assert after.available_li[0] == before + 500_000  # half of the 100,000-fen profit, in li
    assert engine.statuses.status("c1") is RatioStatus.ATTENTION  # 145%, whatever the haircut
    assert after.available_li[0] * Fraction(1, 10) == pytest.approx(
        float(margin.available_margin(exact_account(engine.book, 0)))
    )


def test_compaction_keeps_statuses_and_figures() -> None:
    txns = financed("c1", 1_000_000, 1_000, cash_fen=350_000)
    txns += [ops.deposit_cash("x", DAY, "c2", 5), ops.withdraw_cash("y", DAY, "c2", 5)]
    engine = engine_of(txns, {STOCK: 10_000})
    before = engine.revaluer.figures(None)
    after = engine.compact()
    np.testing.assert_array_equal(after.ratio, before.ratio)
    assert engine.statuses.status("c1") is RatioStatus.WARNING
    (change,) = engine.on_prices(T0 + timedelta(seconds=3), {STOCK: 9_000})
    assert change.new is RatioStatus.LIQUIDATION
