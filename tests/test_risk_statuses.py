"""Statuses against the lines (RISK-5): floats screen, the exact computation decides.

- A ratio exactly at a line is not below it; one li lower it is.
- Where the float ratio and the exact one fall on different sides of a line, the exact one
  wins (cases built within floating error of a line, both directions).
- Every change is an event with its time, the exact ratio, the lines and the prices' time.
- Client overrides, optional lines, no debt, stale figures, the rule book's lines.
- On generated books and price paths, every status equals the exact formulas' status.
- A client whose agreement names another fair-value rule (RISK-2) is decided at its own
  rule's prices: two clients holding the same suspended security, exactly at a line under
  one rule and below it under the other, get different statuses; the set of such accounts
  follows their holdings; on generated books every status equals the exact status at the
  client's own prices.
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
from liangrong.domain.fair_value import FairValueRule
from liangrong.domain.journal import Transaction
from liangrong.domain.margin import RatioStatus
from liangrong.domain.securities import Status
from liangrong.risk.book_arrays import BookArrays
from liangrong.risk.engine import RiskEngine
from liangrong.risk.fair_values import (
    FairValueInputs,
    FairValuePlan,
    LastClose,
    client_account,
    clients_off_firm_rule,
    feed,
    plan,
)
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


def test_every_status_is_each_accounts_in_account_order() -> None:
    txns = financed("c1", 1_000_000, 1_300) + financed("c2", 1_000_000, 3_000)
    engine = engine_of(txns + financed("c3", 1_000_000, 1_200), {STOCK: 10_000})
    ids = engine.book.accounts.ids
    assert engine.statuses.every_status() == [engine.statuses.status(c) for c in ids]
    assert set(engine.statuses.every_status()) == {
        RatioStatus.WARNING, RatioStatus.SAFE, RatioStatus.LIQUIDATION
    }  # fmt: skip


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


# --- own fair-value rules (RISK-2) ------------------------------------------------------------

FRIDAY, MONDAY = date(2026, 2, 27), DAY
ON_MONDAY = T0 + timedelta(hours=1)


def suspended_plan(
    agreed: dict[str, FairValueRule | None], symbol: str = STOCK, close_li: int = 9_000
) -> FairValuePlan:
    """``symbol`` suspended since Monday, last close Friday; the CSI 300 from 4,000 on Friday
    to 3,999.6 now.  Firm: LAST_CLOSE, ``close_li``; INDEX_MOVED: × 0.9999, half up."""
    inputs = FairValueInputs(
        day=MONDAY,
        statuses={symbol: Status.SUSPENDED},
        last_closes={symbol: LastClose(FRIDAY, close_li)},
        indexes={"CSI300": {FRIDAY: Fraction(4_000), MONDAY: Fraction("3999.6")}},
        default_index="CSI300",
    )
    return plan(inputs, FairValueRule.LAST_CLOSE, agreed)


def test_two_clients_on_different_rules_get_different_exact_statuses_at_a_line() -> None:
    # Both owe 9,000 yuan against 1,300 suspended shares.  The firm's rule: 9.000, exactly
    # 130% (at the liquidation line: WARNING); "own" agreed INDEX_MOVED: 8.999 (8,999.1),
    # 129.987%: below it.
    txns = financed("firm", 900_000, 1_300) + financed("own", 900_000, 1_300)
    engine = engine_of(txns, {STOCK: 9_500})  # 137.2% each before the suspension
    assert {engine.statuses.status(c) for c in ("firm", "own")} == {RatioStatus.WARNING}
    fair = suspended_plan({"own": FairValueRule.INDEX_MOVED, "firm": None})
    assert fair.for_client("own")[STOCK].price_li == 8_999
    changes = feed(engine, ON_MONDAY, fair)
    assert [(c.client_id, c.old, c.new, c.ratio) for c in changes] == [
        ("own", RatioStatus.WARNING, RatioStatus.LIQUIDATION, Fraction(1_300 * 8_999, 9_000_000))
    ]
    assert engine.statuses.status("firm") is RatioStatus.WARNING
    assert margin.maintenance_ratio(exact_account(engine.book, 0)) == FIRM.liquidation
    # The arrays (and their float figures) hold the firm's price for both: the status of
    # "own" comes from its exact account at its own price, not from the screen.
    own = engine.book.account_of("own")
    assert engine.revaluer.figures(None).ratio[own] == 1.3
    assert margin.maintenance_ratio(client_account(engine.book, "own", fair)) == changes[0].ratio
    assert clients_off_firm_rule(engine.book, fair) == ["own"]
    # A snapshot moves nothing the suspended security is valued at: nothing changes.
    assert engine.on_prices(ON_MONDAY + timedelta(seconds=3), {STOCK: 9_100, OTHER: 5_000}) == []
    # 1.30 yuan of cash brings "own" exactly to the line at its own price; 1 fen less not.
    assert engine.on_transaction(ops.deposit_cash("d1", DAY, "own", 129)) == []
    (change,) = engine.on_transaction(ops.deposit_cash("d2", DAY, "own", 1))
    assert (change.old, change.new, change.ratio) == (
        RatioStatus.LIQUIDATION,
        RatioStatus.WARNING,
        FIRM.liquidation,
    )
    # Fed again, nothing moves; the firm's rule for everyone again: "own" back on the arrays.
    assert feed(engine, ON_MONDAY, fair) == []
    assert feed(engine, ON_MONDAY, suspended_plan({"own": None})) == []  # 130.0144%: WARNING
    assert engine.statuses.own_prices == {}


def test_the_accounts_valued_at_their_own_prices_follow_their_holdings() -> None:
    # "later" agreed INDEX_MOVED and owes 9,000 yuan against 1,000 OTHER at 10.800 (120%):
    # no suspended share, so the arrays value it rightly.
    terms = financing_terms("F-later", "later", 900_000, 1_000, OTHER, DAY)
    txns = [*financed("firm", 900_000, 1_300), ops.open_financing("m-later", terms)]
    engine = engine_of(txns, {STOCK: 9_500, OTHER: 10_800})
    fair = suspended_plan({"later": FairValueRule.INDEX_MOVED})
    assert feed(engine, ON_MONDAY, fair) == []
    assert engine.statuses.own_prices == {} and clients_off_firm_rule(engine.book, fair) == []
    # 200 suspended shares transferred in: exactly 140% at the firm's 9.000 (ATTENTION), but
    # 12,599.80 ÷ 9,000 at its own 8.999: below the warning line.
    (change,) = engine.on_transaction(ops.transfer_collateral_in("in", DAY, "later", STOCK, 200))
    later = engine.book.account_of("later")
    assert engine.statuses.own_prices[later][STOCK] == 8_999
    own_ratio = Fraction(1_000 * 10_800 + 200 * 8_999, 9_000_000)
    assert (change.client_id, change.old, change.new, change.ratio) == (
        "later",
        RatioStatus.LIQUIDATION,
        RatioStatus.WARNING,
        own_ratio,
    )
    assert margin.maintenance_ratio(exact_account(engine.book, later)) == Fraction(7, 5)
    assert margin.maintenance_ratio(client_account(engine.book, "later", fair)) == own_ratio
    assert clients_off_firm_rule(engine.book, fair) == ["later"]
    # Transferred out again: nothing ruled left, back on the arrays' prices.
    (change,) = engine.on_transaction(ops.transfer_collateral_out("out", DAY, "later", STOCK, 200))
    assert (change.new, change.ratio) == (RatioStatus.LIQUIDATION, Fraction(6, 5))
    assert engine.statuses.own_prices == {}


def test_own_prices_wait_for_the_first_snapshot_like_every_status() -> None:
    book = BookArrays(BookData.empty())
    engine = RiskEngine(book, FIRM)
    for txn in financed("own", 900_000, 1_300):
        engine.on_transaction(txn)
    fair = suspended_plan({"own": FairValueRule.INDEX_MOVED})
    assert feed(engine, ON_MONDAY, fair) == []  # no snapshot yet: nothing decided
    assert engine.book.valuation_rule(STOCK) == "last_close"
    assert engine.revaluer.figures(None).assets_li[0] == 1_300 * 9_000  # revalued, though
    (change,) = engine.on_prices(ON_MONDAY, {STOCK: 9_500})  # the first decides all
    assert (change.new, change.ratio) == (
        RatioStatus.LIQUIDATION,
        Fraction(1_300 * 8_999, 9_000_000),
    )


def _own_statuses(engine: RiskEngine, fair: FairValuePlan) -> list[RatioStatus]:
    book = engine.book
    return [
        margin.ratio_status(
            margin.maintenance_ratio(client_account(book, book.accounts.ids[a], fair)),
            engine.statuses.lines_of(a),
        )
        for a in range(book.n_accounts)
    ]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    book=books(),
    suspended=st.integers(0, len(SYMBOLS) - 1),
    close_li=st.integers(1_000, 2 * 10**6),
    agreed=st.lists(st.booleans(), min_size=6, max_size=6),
    moves=st.lists(
        st.dictionaries(st.integers(0, len(SYMBOLS) - 1), st.integers(1, 2 * 10**6), max_size=4),
        max_size=4,
    ),
)
def test_every_status_equals_the_exact_status_at_the_clients_own_prices(
    book: Book, suspended: int, close_li: int, agreed: list[bool], moves: list[dict[int, int]]
) -> None:
    arrays = arrays_of(book)
    engine = RiskEngine(arrays, FIRM, full_share=0.5)
    engine.revalue_all()
    rules = {f"c{i}": FairValueRule.INDEX_MOVED for i, on in enumerate(agreed) if on}
    fair = suspended_plan(dict(rules), SYMBOLS[suspended], close_li)
    feed(engine, ON_MONDAY, fair)
    statuses = [engine.statuses.status_of(a) for a in range(arrays.n_accounts)]
    assert statuses == _own_statuses(engine, fair)
    for step, move in enumerate(moves, start=1):
        at = ON_MONDAY + timedelta(seconds=3 * step)
        engine.on_prices(at, {SYMBOLS[s]: p for s, p in move.items()})
        statuses = [engine.statuses.status_of(a) for a in range(arrays.n_accounts)]
        assert statuses == _own_statuses(engine, fair)
