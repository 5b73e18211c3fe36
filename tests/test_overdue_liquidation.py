"""An overdue contract's liquidation through the desk (CON-3, CLI-6 contract expiry, RISK-7):
the trigger the end of day records puts the client due from its liquidation day, the plan
repays what clears the overdue contract under the book's repayment order with the least
sold, and the run is recorded with its reason; a trigger cleared, a contract repaid, or a
liquidation day still ahead puts nobody in liquidation.

The triggers are stored as the end of day's maturities step records them (``overdue`` with
``liquidate_from`` and ``reason``, ``overdue_cleared`` under ``cleared_id``); every expected
figure is computed here from the set-up's own amounts and the day's published fee rates.
"""

from __future__ import annotations

from datetime import date, datetime, time
from fractions import Fraction

import pytest
from sqlalchemy import Engine

from book_helpers import fund_firm, open_book, profile
from liangrong.desk.service import Desk
from liangrong.domain import operations as ops
from liangrong.domain.contracts import Allocation, ContractKind, ContractTerms
from liangrong.domain.liquidation import (
    CashRepayment,
    LiquidationMode,
    LiquidationReason,
    PlannedOrder,
)
from liangrong.domain.margin_calls import EvaluationKind, NoticeKind
from liangrong.domain.money import Rounding, round_fraction
from liangrong.domain.orders import OrderKind, Side
from liangrong.domain.pretrade_state import AccountStatus
from liangrong.domain.settlement import Fill
from liangrong.ledger.journal import Ledger
from liangrong.ledger.projections import conservation_breaks
from liangrong.sim.fee_seed import fee_schedule_on
from liangrong.sim.session import CST, SimClock
from liangrong.store import risk_records as records
from liangrong.store.contract_terms import OVERDUE, OVERDUE_CLEARED, cleared_id, overdue_id
from liangrong.store.eod_records import ContractEvent, save_contract_events

MATURED = date(2026, 2, 27)  # a Friday: overdue from Saturday
FIRST_AFTER = date(2026, 3, 2)  # the first trading day after it: the liquidation may start
TODAY = date(2026, 3, 3)
LATER = date(2026, 3, 4)
SH, COLLATERAL = "600000.SH", "600036.SH"  # at 10.000 and 30.000 in the helpers' market
PRICE_LI = 10_000
OVERDUE_CLIENT, CLEARED, REPAID, NOT_YET = "OA", "OB", "OC", "OD"
CLIENTS = (OVERDUE_CLIENT, CLEARED, REPAID, NOT_YET)
PROFILES = [profile(c, f"客户{c}") for c in CLIENTS]
CASH_FEN = 5_000_000
# OA: FA1 overdue, FA2 running (later maturity); charges booked on both.
FA1_PRINCIPAL, FA1_CHARGES = 30_000_000, 1_234_567
FA2_PRINCIPAL, FA2_CHARGES = 20_000_000, 345_678


def terms(cid: str, client: str, quantity: int, used: date, maturity: date) -> ContractTerms:
    amount_fen = quantity * PRICE_LI // 10
    return ContractTerms(
        cid, ContractKind.FINANCING, client, SH, quantity, amount_fen, PRICE_LI, used, used,
        maturity, False, Fraction(1), "exchange:2026-01-14/firm:2026-01-14", Fraction("0.0835"),
    )  # fmt: skip


FA1 = terms("FA1", OVERDUE_CLIENT, 30_000, date(2025, 8, 27), MATURED)
FA2 = terms("FA2", OVERDUE_CLIENT, 20_000, date(2025, 12, 1), date(2026, 6, 1))
SMALL = {c: terms(f"F{c}", c, 1_000, date(2025, 8, 27), MATURED) for c in CLIENTS[1:]}


def trigger(contract: ContractTerms, liquidate_from: date) -> ContractEvent:
    """The overdue trigger as the maturities step records it (recorded on FIRST_AFTER)."""
    return ContractEvent(
        overdue_id(contract.contract_id, MATURED), contract.contract_id, contract.client_id,
        FIRST_AFTER, OVERDUE, MATURED,
        {"overdue_since": "2026-02-28", "liquidate_from": liquidate_from.isoformat(),
         "reason": "contract_expired", "kind": "financing", "security": SH,
         "principal": contract.amount_fen, "charges_fen": 0},
    )  # fmt: skip


def cleared(contract: ContractTerms) -> ContractEvent:
    event_id = overdue_id(contract.contract_id, MATURED)
    return ContractEvent(
        cleared_id(event_id), contract.contract_id, contract.client_id, FIRST_AFTER,
        OVERDUE_CLEARED, MATURED, {"overdue_event": event_id},
    )  # fmt: skip


def at(day: date, hh: int, mm: int = 0) -> datetime:
    return datetime.combine(day, time(hh, mm), CST)


@pytest.fixture
def desk(store: Engine) -> Desk:
    """Today's desk over: OA owing FA1 (overdue, due from FIRST_AFTER) and FA2, with 30,000
    + 20,000 financed shares of 600000, 10,000 of 600036 as collateral and 50,000.00 cash;
    OB and OC whose overdue contract is repaid (OB's trigger cleared, OC's not yet); OD
    overdue with its liquidation day still ahead."""
    clock = SimClock(at(FIRST_AFTER, 8))
    ledger = Ledger(store, clock)
    fund_firm(ledger)
    for client in CLIENTS:
        for exchange in ("SH", "SZ"):
            ledger.open_credit_account(
                f"open-{client}-{exchange}", client, exchange, "客户", "客户", FA1.open_date
            )
    day = FIRST_AFTER
    ledger.post_batch(
        [
            ops.open_financing("open:FA1", FA1),
            ops.open_financing("open:FA2", FA2),
            *(ops.open_financing(f"open:{t.contract_id}", t) for t in SMALL.values()),
            *(ops.deposit_cash(f"cash:{c}", day, c, CASH_FEN) for c in CLIENTS),
            ops.transfer_collateral_in("in:OA", day, OVERDUE_CLIENT, COLLATERAL, 10_000),
            ops.accrue_charges("acc:FA1", day, OVERDUE_CLIENT, "FA1", FA1_CHARGES),
            ops.accrue_charges("acc:FA2", day, OVERDUE_CLIENT, "FA2", FA2_CHARGES),
            *(
                ops.repay_financing(
                    f"repay:{c}", day, c, [Allocation(SMALL[c].contract_id, 0, 1_000_000)]
                )
                for c in (CLEARED, REPAID)
            ),
        ]
    )
    events = [trigger(FA1, FIRST_AFTER), trigger(SMALL[CLEARED], FIRST_AFTER),
              trigger(SMALL[REPAID], FIRST_AFTER), trigger(SMALL[NOT_YET], LATER)]  # fmt: skip
    save_contract_events(store, events, at(FIRST_AFTER, 17).isoformat())
    save_contract_events(store, [cleared(SMALL[CLEARED])], at(FIRST_AFTER, 17, 1).isoformat())
    clock.set(at(TODAY, 9, 15))
    return Desk.open(store, open_book(store, clock, TODAY, PROFILES), clock)


def sale_fees_fen(value_li: int) -> int:
    """The day's fees on a sale, each rate applied to the value and rounded half up."""
    schedule = fee_schedule_on(TODAY)

    def fee(ppm: int) -> int:
        return round_fraction(Fraction(value_li * ppm, 10 * 10**6), Rounding.HALF_UP)

    commission = max(fee(schedule.commission_ppm), schedule.commission_minimum_fen)
    return commission + fee(schedule.stamp_duty_sell_ppm) + fee(schedule.transfer_fee_ppm)


def net_fen(quantity: int) -> int:
    return quantity * PRICE_LI // 10 - sale_fees_fen(quantity * PRICE_LI)


def test_only_the_overdue_contract_still_owed_is_due_today(desk: Desk) -> None:
    assert desk.due_today() == [OVERDUE_CLIENT]
    assert desk.liquidation_due == {OVERDUE_CLIENT: LiquidationReason.CONTRACT_EXPIRED}
    assert desk.overdue_owed(OVERDUE_CLIENT) == {"FA1"}
    assert {c: desk.book.profiles[c].status for c in CLIENTS} == {
        OVERDUE_CLIENT: AccountStatus.LIQUIDATION, CLEARED: AccountStatus.NORMAL,
        REPAID: AccountStatus.NORMAL, NOT_YET: AccountStatus.NORMAL,
    }  # fmt: skip
    # OB and OC owe nothing: even asked for, their plan sells nothing
    for client in (CLEARED, REPAID):
        plan = desk.plan(client, LiquidationReason.CONTRACT_EXPIRED)
        assert plan.steps == () and plan.reached


def test_a_settlement_evaluation_leaves_the_overdue_liquidation_in_place(desk: Desk) -> None:
    decision = desk.evaluate(OVERDUE_CLIENT, EvaluationKind.SETTLEMENT, at(TODAY, 15, 30))
    assert decision.liquidation is None  # the ratio is far above every line
    assert desk.liquidation_due == {OVERDUE_CLIENT: LiquidationReason.CONTRACT_EXPIRED}
    assert desk.book.profiles[OVERDUE_CLIENT].status is AccountStatus.LIQUIDATION


def test_the_plan_repays_the_overdue_debt_with_the_least_sold(desk: Desk) -> None:
    """Charges first, then the nearest maturity (ORD-4, CON-6): clearing FA1 pays both
    contracts' charges and FA1's principal; the financed 600000 is sold first, the least
    whole lots whose net proceeds with the free cash pay that, the cash the rest."""
    required = FA1_PRINCIPAL + FA1_CHARGES + FA2_CHARGES
    quantity = next(q for q in range(100, 50_001, 100) if net_fen(q) + CASH_FEN >= required)
    assert net_fen(quantity - 100) + CASH_FEN < required <= net_fen(quantity) + CASH_FEN
    plan = desk.plan(OVERDUE_CLIENT)
    reason = LiquidationReason.CONTRACT_EXPIRED
    assert (plan.reason, plan.mode, plan.reached, plan.target, plan.recovery) == (
        reason, LiquidationMode.REPAY_REQUIRED, True, None, None
    )  # fmt: skip
    amount = quantity * PRICE_LI // 10
    fees = sale_fees_fen(quantity * PRICE_LI)
    sale = PlannedOrder(OrderKind.FORCED_SELL, SH, quantity, PRICE_LI, reason, amount, fees,
                        repays_fen=net_fen(quantity))  # fmt: skip
    rest = required - net_fen(quantity)
    assert plan.steps == (sale, CashRepayment(rest, rest, 0, reason))
    assert plan.debt_after_fen == FA2_PRINCIPAL  # FA2's principal is not due


def test_the_run_is_recorded_and_clears_the_overdue_contract(store: Engine, desk: Desk) -> None:
    book = desk.book
    run = desk.liquidate(OVERDUE_CLIENT)
    assert desk.due_today() == []  # one run a day
    (sent,) = [s for s in run.submitted if s.order is not None]
    assert sent.ack.accepted and sent.order.kind is OrderKind.FORCED_SELL
    planned = run.plan.orders[0]
    fill = Fill("T1", sent.order.order_id, SH, Side.SELL, planned.price_li, planned.quantity,
                TODAY)  # fmt: skip
    assert book.on_fill(fill)
    (repayment,) = desk.complete(run)
    assert repayment.ack.accepted
    contracts = book.mirrors[OVERDUE_CLIENT].contracts
    owed = {c: (k.principal_outstanding, k.charges_outstanding_fen) for c, k in contracts.items()}
    assert owed == {"FA1": (0, 0), "FA2": (FA2_PRINCIPAL, 0)}
    required = FA1_PRINCIPAL + FA1_CHARGES + FA2_CHARGES
    assert book.mirrors[OVERDUE_CLIENT].cash_fen == CASH_FEN - (required - planned.repays_fen)
    assert desk.overdue_owed(OVERDUE_CLIENT) == frozenset()
    (stored,) = records.liquidation_history(store, OVERDUE_CLIENT)
    assert (stored.run_id, stored.trading_date, stored.reason, stored.mode, stored.reached) == (
        f"liquidation:{OVERDUE_CLIENT}:{TODAY}", TODAY, "contract_expired", "repay_required", True
    )  # fmt: skip
    (notice,) = records.load_notices(store, client_id=OVERDUE_CLIENT, kind=NoticeKind.LIQUIDATION)
    assert "合约到期未了结" in notice.text_zh and "contract_expired" in notice.text_en
    assert records.liquidation_history(store) == [stored]
    assert conservation_breaks(store) == {}
