"""From the book to the liquidation planner and back: the planner's input built from a
client's mirror, positions and the day's market (and, for expired contracts, what must be
repaid), and the plan's steps as forced orders and direct repayments through the book
(RISK-7, CON-3).

Invariant: the planner sees what the checks see (``AccountState``: T+1, restricted shares,
shares held by open orders) so every planned order passes the trading path's checks when
the market is where the plan priced it.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from datetime import datetime
from enum import Enum
from fractions import Fraction
from typing import Any

from liangrong.book.market import MarketDay
from liangrong.book.service import Ack, Book
from liangrong.domain.contracts import ContractKind
from liangrong.domain.liquidation import (
    CashRepayment,
    LiquidationInput,
    LiquidationPlan,
    LiquidationReason,
    LongPosition,
    PlannedOrder,
    RepayRequirement,
    ShortObligation,
    requirement_for,
)
from liangrong.domain.orders import AccountType, NonTradeKind, NonTradeRequest, Order
from liangrong.domain.pretrade_state import PositionState, SecurityState
from liangrong.domain.rule_codec import exact_text
from liangrong.domain.securities import LotRule

FORCED_TRADING_UNIT = "FORCED"  # the seat the firm's forced orders are sent from


def _long(symbol: str, pos: PositionState, sec: SecurityState, market: MarketDay) -> LongPosition:
    price = market.prices_li[symbol]
    return LongPosition(
        symbol=symbol,
        quantity=pos.quantity,
        sellable=max(0, min(pos.sellable, pos.quantity)),
        price_li=price,
        lot=LotRule(sec.lot_minimum, sec.lot_step),
        financed=pos.financed_quantity > 0,
        haircut=market.haircut(symbol),
        suspended=sec.suspended,
        limit_down=price <= sec.limit_down_li,
    )


def _short(
    symbol: str, pos: PositionState, sec: SecurityState, market: MarketDay
) -> ShortObligation:
    price = market.prices_li[symbol]
    coverable = pos.short_quantity - pos.short_opened_today - pos.reserved_for_cover
    return ShortObligation(
        symbol=symbol,
        quantity=pos.short_quantity,
        coverable=max(0, coverable),
        price_li=price,
        lot=LotRule(sec.lot_minimum, sec.lot_step),
        suspended=sec.suspended,
        limit_up=price >= sec.limit_up_li,
    )


def liquidation_input(book: Book, client_id: str, reason: LiquidationReason) -> LiquidationInput:
    """What the planner needs of one account, at the book's current prices."""
    state = book.revalue(client_id)
    mirror, market = book.mirrors[client_id], book.market
    financing = mirror.open_contracts(ContractKind.FINANCING)
    shorts = mirror.open_contracts(ContractKind.SHORT)
    longs, owed = [], []
    for symbol, pos in sorted(state.positions.items()):
        sec = market.securities[symbol]
        if pos.quantity > 0:
            longs.append(_long(symbol, pos, sec, market))
        if pos.short_quantity > 0:
            owed.append(_short(symbol, pos, sec, market))
    return LiquidationInput(
        client_id=client_id,
        reason=reason,
        cash_free_fen=max(0, state.cash_free_fen),
        cash_locked_fen=max(0, state.cash_locked_fen),
        financing_owed_fen=sum(
            c.principal_outstanding + c.charges_outstanding_fen for c in financing
        ),
        other_charges_fen=sum(c.charges_outstanding_fen for c in shorts),
        longs=tuple(longs),
        shorts=tuple(owed),
    )


def overdue_requirement(
    book: Book, client_id: str, contract_ids: Iterable[str]
) -> RepayRequirement:
    """The least repayment that clears these (overdue) contracts as the book would allocate
    it: its repayment order over the mirror's contracts, whose maturities are those in force,
    so an expired contract comes first and only charges the order puts ahead are added."""
    contracts = book.mirrors[client_id].contracts.values()
    balances = tuple(c.balance() for c in contracts if c.is_open)
    return requirement_for(balances, frozenset(contract_ids), book.repayment_order)


@dataclass(frozen=True, slots=True)
class Submitted:
    """One step of a plan as sent through the trading path, and the book's answer."""

    step: int
    order: Order | None
    request: NonTradeRequest | None
    ack: Ack


def forced_order(run_id: str, number: int, client_id: str, planned: PlannedOrder) -> Order:
    return Order(
        f"{run_id}:{number}",
        client_id,
        AccountType.CREDIT,
        FORCED_TRADING_UNIT,
        planned.symbol,
        planned.kind,
        planned.kind.side,
        planned.price_li,
        planned.quantity,
    )


def submit_orders(book: Book, run_id: str, plan: LiquidationPlan) -> list[Submitted]:
    """The plan's forced orders through ``Book.submit``; the caller routes accepted ones."""
    sent = []
    for number, step in enumerate(plan.steps, start=1):
        if isinstance(step, PlannedOrder):
            order = forced_order(run_id, number, plan.client_id, step)
            sent.append(Submitted(number, order, None, book.submit(order)))
    return sent


def repay_from_cash(book: Book, run_id: str, plan: LiquidationPlan) -> list[Submitted]:
    """The plan's direct repayments, once its orders have filled: each capped at the free
    cash the account holds then (fills at other prices than planned change what is there)."""
    sent = []
    for number, step in enumerate(plan.steps, start=1):
        if not isinstance(step, CashRepayment):
            continue
        state = book.revalue(plan.client_id)
        amount = min(step.amount_fen, max(0, state.cash_free_fen))
        if amount <= 0:
            continue
        request = NonTradeRequest(
            f"{run_id}:{number}", plan.client_id, NonTradeKind.DIRECT_REPAYMENT, amount, forced=True
        )
        sent.append(Submitted(number, None, request, book.request(request)))
    return sent


def _plain(value: Any) -> Any:
    if isinstance(value, Fraction):
        return exact_text(value)
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, datetime):
        return value.isoformat()
    return value


def canonical_json(value: object) -> str:
    """Sorted keys, no spaces, Chinese kept: the same value always gives the same text."""
    return json.dumps(_plain(value), ensure_ascii=False, sort_keys=True, separators=(",", ":"))


def plan_json(plan: LiquidationPlan) -> str:
    """The plan as canonical JSON (exact ratios as the rule codec writes them), for the
    run's record."""
    steps = [{"step": type(s).__name__, **_plain(asdict(s))} for s in plan.steps]
    skipped = [_plain(asdict(s)) for s in plan.skipped]
    body = {
        "client_id": plan.client_id,
        "reason": plan.reason.value,
        "mode": plan.mode.value,
        "target": _plain(plan.target),
        "steps": steps,
        "skipped": skipped,
        "assets_after_fen": _plain(plan.assets_after_fen),
        "debt_after_fen": _plain(plan.debt_after_fen),
        "reached": plan.reached,
    }
    return canonical_json(body)
