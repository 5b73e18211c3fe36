"""The firm's tiered concentration caps feed the margin-buy check (RISK-10, ORD-3 item 10):
the class's cap at the account's ratio, never looser than the client's own limit."""

from __future__ import annotations

from fractions import Fraction

import pytest
from sqlalchemy import Engine

from book_helpers import DAY1, fund_firm, open_book, order, profile
from liangrong.domain.concentration import UNCAPPED_BP, ConcentrationClass
from liangrong.domain.order_codes import OrderCode as C
from liangrong.domain.orders import NonTradeKind, NonTradeRequest, OrderKind, Side
from liangrong.domain.settlement import Fill
from liangrong.ledger.journal import Ledger
from liangrong.sim.concentration_seed import DEMO_RULE
from pretrade_helpers import account, holding, security
from test_pretrade_limits import outcome, run

K = OrderKind
GROWTH, MAIN = ConcentrationClass.GROWTH_BOARD_STOCK, ConcentrationClass.MAIN_BOARD_STOCK


@pytest.mark.parametrize(
    ("cap_bp", "expected"),
    [(2_999, C.CONCENTRATION_LIMIT), (3_000, C.CONCENTRATION_LIMIT), (3_001, None)],
)
def test_the_classs_tiered_cap_decides_at_its_bound(cap_bp: int, expected) -> None:
    """The security is exactly 30.00% of the collateral: the class's cap decides, the
    client's own (uncapped) limit does not."""
    a = account(
        positions=holding(value_li=30_000_000_000),
        collateral_value_li=90_000_000_000,
        cash_free_fen=1_000_000_000,
        concentration_limit_bp=UNCAPPED_BP,
        concentration_caps_bp={GROWTH: cap_bp, MAIN: UNCAPPED_BP},
    )
    growth = security(concentration_class=GROWTH)
    assert outcome(run(K.MARGIN_BUY, a, quantity=100, s=growth)) == expected
    main = security(concentration_class=MAIN)
    assert outcome(run(K.MARGIN_BUY, a, quantity=100, s=main)) is None


def test_a_security_without_a_class_keeps_the_clients_limit() -> None:
    a = account(
        positions=holding(value_li=30_000_000_000),
        collateral_value_li=90_000_000_000,
        cash_free_fen=1_000_000_000,
        concentration_limit_bp=3_000,
        concentration_caps_bp={GROWTH: UNCAPPED_BP},
    )
    assert outcome(run(K.MARGIN_BUY, a, quantity=100)) is C.CONCENTRATION_LIMIT


def test_the_book_sets_the_tier_of_the_accounts_ratio(store: Engine, fixed_clock) -> None:
    """A margin buy takes the account from no debt (top tier: nothing capped) to a ratio in
    the 150%–200% tier; the client's own 70% stays where it is stricter."""
    ledger = Ledger(store, fixed_clock)
    fund_firm(ledger)
    for exchange in ("SH", "SZ"):
        ledger.open_credit_account(f"open-{exchange}", "CA", exchange, "张三", "张三", DAY1)
    book = open_book(store, fixed_clock, DAY1, [profile("CA", concentration_limit_bp=7_000)])
    book.market.concentration_rule = DEMO_RULE
    deposit = NonTradeRequest("d1", "CA", NonTradeKind.CASH_DEPOSIT, amount_fen=60_000_000)
    assert book.request(deposit).accepted
    state = book.revalue("CA")
    assert state.concentration_caps_bp == {c: 7_000 for c in ConcentrationClass}  # no debt
    assert book.submit(order("m1", "CA", K.MARGIN_BUY, "600036.SH", 30_000, 15_000)).accepted
    assert book.on_fill(Fill("T1", "m1", "600036.SH", Side.BUY, 30_000, 15_000, DAY1))
    assert book.states["CA"].concentration_caps_bp[MAIN] == 7_000  # 233%: the 200% tier
    book.market.set_price("600036.SH", 14_000)
    state = book.revalue("CA")
    # 600,000.00 cash + 210,000.00 of stock over 450,117.00 owed: 179.9%, the 150% tier.
    ratio = Fraction(60_000_000 + 21_000_000, 45_011_700)
    assert DEMO_RULE.tier_for(ratio).from_ratio == Fraction("1.5")
    assert state.concentration_caps_bp == {
        ConcentrationClass.MAIN_BOARD_STOCK: 5_000,
        ConcentrationClass.GROWTH_BOARD_STOCK: 3_000,
        ConcentrationClass.FUND: 7_000,  # the client's 70% is stricter than the tier's 80%
        ConcentrationClass.BOND: 7_000,  # bonds are not capped by the firm
    }
    assert book.market.securities["688981.SH"].concentration_class is GROWTH
