"""The ledger transaction of each kind of fill (ORD-4 … ORD-6).

One fill, one transaction, keyed by the exchange's trade id.  A sale's proceeds arrive in
free cash and, where the caller allocated a repayment (ORD-4), the same transaction repays
financing; a buy to cover is paid from locked proceeds first (ORD-5) and returns the shares
to the lending pool in the same transaction.  Forced orders use the DISPOSE_COLLATERAL
purpose for the trade leg.  Invariant: builders decide nothing; amounts, fees and allocations
come from the book, which got them from the checks and the rules.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from liangrong.domain import accounts as acc
from liangrong.domain.contracts import Allocation, ContractTerms
from liangrong.domain.fees import Fees
from liangrong.domain.journal import Leg, Posting, Transaction
from liangrong.domain.operations import (
    fee_credits,
    open_financing,
    open_short,
    repayment_legs,
    return_legs,
)
from liangrong.domain.orders import OrderKind, Side
from liangrong.domain.purposes import Purpose

CNY = acc.CASH_ASSET


@dataclass(frozen=True, slots=True)
class Fill:
    """One execution reported by the exchange."""

    trade_id: str
    order_id: str
    symbol: str
    side: Side
    price_li: int
    quantity: int
    trade_date: date

    def __post_init__(self) -> None:
        assert self.quantity > 0 and self.price_li > 0, self.trade_id


def fill_command_id(trade_id: str) -> str:
    """The ledger command id of a fill: a duplicate report of the trade changes nothing."""
    return f"fill:{trade_id}"


def _exchange(symbol: str) -> str:
    return symbol.rsplit(".", 1)[1]


def _trade_purpose(kind: OrderKind) -> Purpose:
    return Purpose.DISPOSE_COLLATERAL if kind.is_forced else Purpose.SETTLEMENT


def settle_buy(
    kind: OrderKind,
    client_id: str,
    fill: Fill,
    amount_fen: int,
    fees: Fees,
    from_locked_fen: int = 0,
    returns: Sequence[Allocation] = (),
) -> Transaction:
    """A collateral buy, buy to cover or forced buy: paid from locked proceeds up to
    ``from_locked_fen`` and the rest from free cash; a cover returns the shares as allocated."""
    assert kind in (OrderKind.COLLATERAL_BUY, OrderKind.BUY_TO_COVER, OrderKind.FORCED_BUY)
    cost = amount_fen + fees.total_fen
    assert 0 <= from_locked_fen <= cost
    postings = []
    if from_locked_fen:
        postings.append(Posting(acc.client_locked_cash(client_id), CNY, -from_locked_fen))
    if cost - from_locked_fen:
        postings.append(Posting(acc.client_cash(client_id), CNY, -(cost - from_locked_fen)))
    postings += [
        Posting(acc.MARKET, CNY, amount_fen),
        *fee_credits(fees),
        Posting(acc.MARKET, fill.symbol, -fill.quantity),
        Posting(
            acc.client_securities(client_id, _exchange(fill.symbol)), fill.symbol, fill.quantity
        ),
    ]
    legs = [Leg(_trade_purpose(kind), tuple(postings))]
    if returns:
        legs += return_legs(client_id, fill.symbol, returns)
    return Transaction(
        fill_command_id(fill.trade_id), fill.trade_date, f"{kind.value}_fill", tuple(legs)
    )


def settle_sale(
    kind: OrderKind,
    client_id: str,
    fill: Fill,
    amount_fen: int,
    fees: Fees,
    repayments: Sequence[Allocation] = (),
) -> Transaction:
    """A collateral sell, sell to repay or forced sell: proceeds less fees into free cash, then
    the repayment the book allocated (ORD-4: financing first while it is open)."""
    assert kind in (OrderKind.COLLATERAL_SELL, OrderKind.SELL_TO_REPAY, OrderKind.FORCED_SELL)
    cash = acc.client_cash(client_id)
    postings = [
        Posting(
            acc.client_securities(client_id, _exchange(fill.symbol)), fill.symbol, -fill.quantity
        ),
        Posting(acc.MARKET, fill.symbol, fill.quantity),
        Posting(acc.MARKET, CNY, -amount_fen),
        Posting(cash, CNY, amount_fen - fees.total_fen),
        *fee_credits(fees),
    ]
    legs = [Leg(_trade_purpose(kind), tuple(postings))]
    if repayments:
        legs += repayment_legs(client_id, repayments)
    return Transaction(
        fill_command_id(fill.trade_id), fill.trade_date, f"{kind.value}_fill", tuple(legs)
    )


def settle_margin_buy(terms: ContractTerms, fill: Fill, fees: Fees) -> Transaction:
    """A margin buy fill opens its own financing contract for the amount and its fees."""
    assert terms.amount_fen > fees.total_fen
    return open_financing(fill_command_id(fill.trade_id), terms, fees)


def settle_short_sell(terms: ContractTerms, fill: Fill, fees: Fees) -> Transaction:
    """A short sale fill opens its own short contract; the proceeds are locked."""
    return open_short(fill_command_id(fill.trade_id), terms, fees)


def release_locked(client_id: str, amount_fen: int) -> Leg:
    """Locked proceeds become free once the client's shorts are closed (ORD-5)."""
    return Leg(
        Purpose.LOCK_RELEASE,
        (
            Posting(acc.client_locked_cash(client_id), CNY, -amount_fen),
            Posting(acc.client_cash(client_id), CNY, amount_fen),
        ),
    )
