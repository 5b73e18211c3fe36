"""From a fill to its ledger transaction: amounts, fees, new contracts, repayment priority.

ORD-4: while the client has financing open, the proceeds of selling a security bought on
margin (by any kind of sale) repay financing first, and a sell-to-repay always does; the
split among contracts and among fees, penalty, interest and principal follows the firm's
order (CON-6, ``domain.collection``), each contract's split recorded in a
``charges_collected`` event; the pending charges of each contract whose charges it pays
are posted first in the same transaction (``docs/charges-subledger.md``).
ORD-5: a buy to cover spends locked proceeds first; when the client's last short closes, the
rest of the locked proceeds is released.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date
from typing import TYPE_CHECKING

from liangrong.book.mirror import OpenContract
from liangrong.domain.collection import (
    ContractDebt,
    collect_on_repayment,
    collected_events,
    history_needed,
    own_component,
    pending_move,
    pending_to_post,
    split_owed,
    with_pending_posted,
)
from liangrong.domain.contract_opening import ContractRequest, contract_terms
from liangrong.domain.contracts import (
    Allocation,
    ContractKind,
    allocate_return,
)
from liangrong.domain.fees import Fees
from liangrong.domain.journal import Transaction
from liangrong.domain.money import trade_amount_fen
from liangrong.domain.operations import ChargeAccrual
from liangrong.domain.orders import OrderKind
from liangrong.domain.settlement import (
    Fill,
    release_locked,
    settle_buy,
    settle_margin_buy,
    settle_sale,
    settle_short_sell,
)
from liangrong.store.collections import charge_histories

if TYPE_CHECKING:
    from liangrong.book.service import Book, OpenOrder

_SALES = frozenset({OrderKind.COLLATERAL_SELL, OrderKind.SELL_TO_REPAY, OrderKind.FORCED_SELL})
_COVERS = frozenset({OrderKind.BUY_TO_COVER, OrderKind.FORCED_BUY})


def build_fill_transaction(book: Book, order: OpenOrder, fill: Fill, fees: Fees) -> Transaction:
    kind, client = order.order.kind, order.client_id
    amount = trade_amount_fen(fill.quantity, fill.price_li)
    if kind is OrderKind.MARGIN_BUY:
        return settle_margin_buy(
            _terms(book, client, fill, amount + fees.total_fen, ContractKind.FINANCING), fill, fees
        )
    if kind is OrderKind.SHORT_SELL:
        return settle_short_sell(_terms(book, client, fill, amount, ContractKind.SHORT), fill, fees)
    if kind in _SALES:
        repay = _sale_repayment(book, order, fill, amount - fees.total_fen)
        return repay.into(settle_sale(kind, client, fill, amount, fees, repay.allocations))
    if kind in _COVERS:
        mirror = book.mirrors[client]
        from_locked = min(mirror.locked_fen, amount + fees.total_fen)
        return settle_buy(
            kind, client, fill, amount, fees, from_locked, _returns(book, client, fill)
        )
    # A collateral buy: money-market funds may be paid from locked proceeds (ORD-5).
    locked = order.held.locked_cash_fen and book.mirrors[client].locked_fen
    from_locked = min(locked, amount + fees.total_fen) if locked else 0
    return settle_buy(kind, client, fill, amount, fees, from_locked)


def _terms(book: Book, client: str, fill: Fill, amount_fen: int, kind: ContractKind):  # type: ignore[no-untyped-def]
    prefix = "F" if kind is ContractKind.FINANCING else "S"
    request = ContractRequest(
        contract_id=f"{prefix}{fill.trade_id}",
        kind=kind,
        client_id=client,
        security=fill.symbol,
        quantity=fill.quantity,
        amount_fen=amount_fen,
        price_li=fill.price_li,
        open_date=fill.trade_date,
    )
    return contract_terms(book.market.rule_book, book.calendar, request)


@dataclass(frozen=True)
class Collected:
    """A repayment's allocations, the events recording each contract's split by component,
    and the postings of the pending charges of the contracts whose charges it pays
    (``docs/charges-subledger.md``): all of each one's pending, every kind."""

    allocations: list[Allocation]
    events: tuple[dict[str, object], ...] = ()
    postings: tuple[ChargeAccrual, ...] = ()

    def into(self, txn: Transaction) -> Transaction:
        """``txn`` (the repayment's own) with the events and the pending's legs added."""
        with_events = replace(txn, events=txn.events + self.events) if self.events else txn
        return with_pending_posted(with_events, self.postings)


NOTHING_COLLECTED = Collected([])


def _sale_repayment(book: Book, order: OpenOrder, fill: Fill, net_proceeds_fen: int) -> Collected:
    mirror = book.mirrors[order.client_id]
    financing = mirror.open_contracts(ContractKind.FINANCING)
    if not financing or net_proceeds_fen <= 0:
        return NOTHING_COLLECTED
    position = book.states[order.client_id].positions.get(fill.symbol)
    bought_on_margin = position is not None and position.financed_quantity > 0
    if order.order.kind is OrderKind.COLLATERAL_SELL and not bought_on_margin:
        return NOTHING_COLLECTED
    return repayment_allocation(book, order.client_id, financing, net_proceeds_fen)


def repayment_allocation(
    book: Book, client: str, financing: list[OpenContract], amount_fen: int
) -> Collected:
    """A cash repayment of the client's financing in the firm's order (CON-6): the
    allocations to post, the events recording each contract's split by component, and the
    pending charges to post with them.  A contract that may owe more than its interest has
    its split replayed from the journal, its pending charges last (they are the latest)."""
    order = book.collection_order
    on = book.market.trading_date
    history = {
        c.terms.contract_id: client
        for c in financing
        if c.charges_outstanding_fen > 0
        and history_needed(c.terms.kind, c.principal_outstanding, c.terms.maturity, on)
    }
    moves = charge_histories(book.ledger.engine, history) if history else {}
    debts = []
    for c in financing:
        cid, own = c.terms.contract_id, own_component(c.terms.kind)
        charges = max(c.charges_outstanding_fen, 0)
        if cid in history:
            latest = [pending_move(cid, c.charges_pending)] if c.charges_pending else []
            split = split_owed([*moves.get(cid, []), *latest], charges, own, order.components)
        else:
            split = {own: charges}
        debts.append(ContractDebt(c.terms, principal=c.principal_outstanding).with_charges(split))
    lines = collect_on_repayment(debts, amount_fen, order)
    allocations = [line.allocation() for line in lines]
    postings = pending_paid(client, financing, allocations)
    return Collected(allocations, collected_events(lines), postings)


def pending_paid(
    client: str, contracts: list[OpenContract], allocations: list[Allocation]
) -> tuple[ChargeAccrual, ...]:
    """The postings of the pending charges of the contracts whose charges ``allocations``
    pay: all of each one's pending."""
    paying = {a.contract_id for a in allocations if a.charges_fen > 0}
    pending = {
        c.terms.contract_id: c.charges_pending
        for c in contracts
        if c.terms.contract_id in paying and c.charges_pending
    }
    return pending_to_post(client, pending)


def _returns(book: Book, client: str, fill: Fill) -> list[Allocation]:
    """Shares bought to cover go back against shorts opened before today (no same-day cover)."""
    mirror = book.mirrors[client]
    shorts = [
        c.balance()
        for c in mirror.open_contracts(ContractKind.SHORT)
        if c.terms.security == fill.symbol and c.terms.open_date < fill.trade_date
    ]
    return allocate_return(shorts, fill.quantity, book.repayment_order.contracts)


def lock_release(book: Book, client: str, cause: str, on: date) -> Transaction | None:
    """Once the client has no short open, locked proceeds are free (ORD-5).  ``cause`` is the
    command that closed the last short, so the release has a stable id of its own."""
    mirror = book.mirrors[client]
    if mirror.locked_fen <= 0 or mirror.open_contracts(ContractKind.SHORT):
        return None
    leg = release_locked(client, mirror.locked_fen)
    return Transaction(f"release:{cause}", on, "short_proceeds_release", (leg,))
