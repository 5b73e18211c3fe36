"""Non-trade operations as ledger transactions (ORD-1, ACC-6)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from liangrong.book.fills import repayment_allocation
from liangrong.domain import operations as ops
from liangrong.domain.contracts import ContractKind, allocate_return
from liangrong.domain.journal import Transaction
from liangrong.domain.orders import NonTradeKind, NonTradeRequest

if TYPE_CHECKING:
    from liangrong.book.service import Book


def build_nontrade_transaction(book: Book, request: NonTradeRequest) -> Transaction:
    on = book.market.trading_date
    client, kind, command = request.account_id, request.kind, f"request:{request.request_id}"
    mirror = book.mirrors[client]
    if kind is NonTradeKind.CASH_DEPOSIT:
        return ops.deposit_cash(command, on, client, request.amount_fen)
    if kind is NonTradeKind.CASH_WITHDRAWAL:
        return ops.withdraw_cash(command, on, client, request.amount_fen)
    if kind is NonTradeKind.TRANSFER_IN:
        return ops.transfer_collateral_in(command, on, client, request.symbol, request.quantity)
    if kind is NonTradeKind.TRANSFER_OUT:
        return ops.transfer_collateral_out(command, on, client, request.symbol, request.quantity)
    if kind is NonTradeKind.DIRECT_REPAYMENT:
        financing = mirror.open_contracts(ContractKind.FINANCING)
        repay = repayment_allocation(book, client, financing, request.amount_fen)
        return repay.into(ops.repay_financing(command, on, client, repay.allocations))
    assert kind is NonTradeKind.DIRECT_RETURN, kind
    shorts = [
        c.balance()
        for c in mirror.open_contracts(ContractKind.SHORT)
        if c.terms.security == request.symbol and c.terms.open_date < on
    ]
    allocations = allocate_return(shorts, request.quantity, book.repayment_order.contracts)
    return ops.return_securities(command, on, client, request.symbol, allocations)
