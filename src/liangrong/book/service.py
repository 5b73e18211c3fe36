"""The book: takes orders, fills and non-trade requests, checks them, posts them.

The exchange is not called from here: an accepted order is returned to the caller, which
routes it (to the simulator or a gateway) and reports fills, rejections, cancels and expiry
back.  That keeps the book deterministic and testable without a market.

Firm-level limits (RISK-11): ``firm.limits`` is the room the desk's last evaluation left
(None: no firm limit configured).  An accepted margin buy, short sale or collateral buy
holds its ``FirmUse`` there, and so does an accepted transfer in of collateral (checked
here after ``check_nontrade``, with the same codes, since it takes the shares in at once);
a cancel, expiry or exchange rejection releases the unfilled part; a fill keeps its part
held until the next evaluation, which counts it in the exposures (``set_firm_blocks``
starts the fresh room holding only what open orders still hold; ``book.holds``).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date, datetime
from enum import Enum
from fractions import Fraction

from sqlalchemy import Engine

from liangrong.book import holds
from liangrong.book.accounts import (
    ClientProfile,
    Held,
    Today,
    refresh,
    withdrawal_headroom_li,
)
from liangrong.book.fills import build_fill_transaction, lock_release
from liangrong.book.loader import load_firm_state
from liangrong.book.market import MarketDay
from liangrong.book.mirror import ClientMirror
from liangrong.book.nontrade import build_nontrade_transaction
from liangrong.domain import accounts as acc
from liangrong.domain.calendar import TradingCalendar
from liangrong.domain.collection import CollectionOrder
from liangrong.domain.fees import Fees, fill_fees
from liangrong.domain.firm_limits import FirmBlocks, FirmUse, firm_room
from liangrong.domain.journal import Transaction, net_changes
from liangrong.domain.money import trade_amount_fen
from liangrong.domain.order_codes import OrderCode
from liangrong.domain.orders import NonTradeKind, NonTradeRequest, Order, OrderKind
from liangrong.domain.pretrade import (
    Reservation,
    check_nontrade,
    check_order,
    firm_refusal,
    firm_use,
)
from liangrong.domain.pretrade_state import AccountState, FirmState
from liangrong.domain.rule_book import terms_for
from liangrong.domain.settlement import Fill
from liangrong.ledger.journal import Ledger
from liangrong.store.collections import collection_order_on

# fees, penalty, interest, principal; nearest maturity first: a store with no policy recorded
DEFAULT_COLLECTION_ORDER = CollectionOrder()


class OrderStatus(Enum):
    OPEN = "open"
    FILLED = "filled"
    CANCELLED = "cancelled"
    EXPIRED = "expired"
    REJECTED = "rejected"  # by the exchange, after the book accepted it


@dataclass(slots=True)
class OpenOrder:
    order: Order
    client_id: str
    held: Reservation  # what it still holds
    filled_quantity: int = 0
    filled_value_li: int = 0
    status: OrderStatus = OrderStatus.OPEN
    firm_use: FirmUse | None = None  # what the whole order adds to the firm's exposures
    filled_firm_fen: int = 0  # financing (amount + fees) or short amount its fills added

    @property
    def remaining(self) -> int:
        return self.order.quantity - self.filled_quantity

    def unfilled_firm_use(self) -> FirmUse | None:
        """The part of ``firm_use`` no fill took (what a cancel releases)."""
        if self.firm_use is None:
            return None
        filled, quantity = self.filled_quantity, self.order.quantity
        return holds.unfilled_use(self.firm_use, filled, quantity, self.filled_firm_fen)


@dataclass(frozen=True, slots=True)
class Ack:
    order_id: str
    code: OrderCode | None  # None: accepted

    @property
    def accepted(self) -> bool:
        return self.code is None


class Book:
    """One trading day of the margin book over a ledger."""

    def __init__(
        self,
        ledger: Ledger,
        market: MarketDay,
        calendar: TradingCalendar,
        firm: FirmState,
        collection_order: CollectionOrder = DEFAULT_COLLECTION_ORDER,
    ) -> None:
        self.ledger = ledger
        self.market = market
        self.calendar = calendar
        self.firm = firm
        # CON-6: every cash repayment is allocated in the firm's order in force that day.
        self.collection_order = collection_order
        self.repayment_order = collection_order.repayment
        self.profiles: dict[str, ClientProfile] = {}
        self.mirrors: dict[str, ClientMirror] = {}
        self.held: dict[str, Held] = {}
        self.today: dict[str, Today] = {}
        self.states: dict[str, AccountState] = {}
        self.orders: dict[str, OpenOrder] = {}
        self.outcomes: Counter[str] = Counter()  # accepted / rejection codes / fills
        self.applied_trades: set[str] = set()
        self.seen_order_ids: set[str] = set()  # accepted or refused: an id is used once
        # Told of every transaction the ledger accepted, after the book learnt it (the risk
        # engine keeps its arrays in step this way): (client id, transaction).
        self.listeners: list[Callable[[str, Transaction], None]] = []

    @classmethod
    def open(
        cls, engine: Engine, ledger: Ledger, market: MarketDay, calendar: TradingCalendar
    ) -> Book:
        """The book of ``market``'s day over the store: the lending pools as the ledger holds
        them and the firm's collection order in force that day."""
        order = collection_order_on(engine, market.trading_date)
        return cls(ledger, market, calendar, load_firm_state(engine), order)

    # -- clients -------------------------------------------------------------------------
    def add_client(self, profile: ClientProfile, mirror: ClientMirror) -> None:
        client = profile.client_id
        self.profiles[client] = profile
        self.mirrors[client] = mirror
        self.held[client] = Held()
        self.today[client] = Today()
        self.revalue(client)

    def revalue(self, client_id: str) -> AccountState:
        state = refresh(
            self.states.get(client_id),
            self.mirrors[client_id],
            self.profiles[client_id],
            self.held[client_id],
            self.today[client_id],
            self.market,
        )
        self.states[client_id] = state
        return state

    def revalue_all(self, clients: Iterable[str] | None = None) -> None:
        for client in sorted(self.states) if clients is None else clients:
            self.revalue(client)

    # -- orders --------------------------------------------------------------------------
    def submit(self, order: Order) -> Ack:
        if order.order_id in self.seen_order_ids:
            return self._rejected(order, OrderCode.DUPLICATE_ORDER_ID)
        self.seen_order_ids.add(order.order_id)
        state = self.states.get(order.account_id)
        security = self.market.securities.get(order.symbol)
        if state is None:
            return self._rejected(order, OrderCode.UNKNOWN_ACCOUNT)
        if security is None:
            return self._rejected(order, OrderCode.UNKNOWN_SECURITY)
        result = check_order(order, state, security, self.firm, self.market.fees)
        if isinstance(result, OrderCode):
            return self._rejected(order, result)
        self._hold(state.client_id, order.symbol, result, 1)
        use = firm_use(order, result)
        room = self.firm.limits
        if use is not None and room is not None:
            room.hold(use)
        self.orders[order.order_id] = OpenOrder(order, state.client_id, result, firm_use=use)
        self.outcomes["accepted"] += 1
        return Ack(order.order_id, None)

    def _rejected(self, order: Order, code: OrderCode) -> Ack:
        self.outcomes[code.name] += 1
        return Ack(order.order_id, code)

    def _hold(self, client_id: str, symbol: str, reservation: Reservation, sign: int) -> None:
        target = holds.HoldTarget(self.held[client_id], self.states[client_id], self.firm, symbol)
        holds.apply(target, reservation, sign)

    def cancel(self, order_id: str) -> bool:
        return self._close(order_id, OrderStatus.CANCELLED)

    def exchange_rejected(self, order_id: str) -> bool:
        return self._close(order_id, OrderStatus.REJECTED)

    def expire_open_orders(self) -> int:
        open_ids = [oid for oid, o in self.orders.items() if o.status is OrderStatus.OPEN]
        return sum(self._close(oid, OrderStatus.EXPIRED) for oid in sorted(open_ids))

    def _close(self, order_id: str, status: OrderStatus) -> bool:
        order = self.orders.get(order_id)
        if order is None or order.status is not OrderStatus.OPEN:
            return False
        self._hold(order.client_id, order.order.symbol, order.held, -1)
        order.held = holds.minus(order.held, order.held)
        unfilled, room = order.unfilled_firm_use(), self.firm.limits
        if unfilled is not None and room is not None:
            room.release(unfilled)
        order.status = status
        self.outcomes[status.value] += 1
        return True

    # -- firm-level limits ---------------------------------------------------------------
    def set_firm_blocks(self, blocks: FirmBlocks | None) -> None:
        """A new evaluation of the firm's limits (the desk's): a fresh room from its blocks,
        holding what the orders still open have not filled; None switches the limits off."""
        if blocks is None:
            self.firm.limits = None
            return
        self.firm.limits = firm_room(blocks, self.open_firm_uses())

    def open_firm_uses(self) -> list[FirmUse]:
        """What the open orders still hold on the firm's room (their unfilled parts)."""
        open_orders = (o for o in self.orders.values() if o.status is OrderStatus.OPEN)
        uses = (o.unfilled_firm_use() for o in open_orders)
        return [use for use in uses if use is not None]

    # -- fills ---------------------------------------------------------------------------
    def on_fill(self, fill: Fill) -> bool:
        """Post a fill once; a repeated trade id changes nothing (returns False)."""
        if fill.trade_id in self.applied_trades:
            return False
        order = self.orders[fill.order_id]
        if fill.quantity > order.remaining:
            raise ValueError(f"fill {fill.trade_id} exceeds what is left of {fill.order_id}")
        client = order.client_id
        value_li = fill.quantity * fill.price_li
        fees = fill_fees(order.order.side, order.filled_value_li, value_li, self.market.fees)
        txn = build_fill_transaction(self, order, fill, fees)
        result = self.ledger.post(txn)
        self.applied_trades.add(fill.trade_id)
        if result.replayed:
            return False
        self._learn(client, txn)
        self._remember_today(client, order.order.kind, fill)
        share = holds.scaled(order.held, fill.quantity, order.remaining)
        order.filled_firm_fen += _firm_fen(order.order.kind, fill, fees)
        order.filled_quantity += fill.quantity
        order.filled_value_li += value_li
        if order.remaining == 0:
            share, order.status = order.held, OrderStatus.FILLED
        self._hold(client, order.order.symbol, share, -1)
        order.held = holds.minus(order.held, share)
        self._release_locked_if_no_short(client, fill.trade_id, fill.trade_date)
        self.revalue(client)
        self.outcomes["fills"] += 1
        return True

    def _release_locked_if_no_short(self, client_id: str, cause: str, on: date) -> None:
        release = lock_release(self, client_id, cause, on)
        if release is not None:
            self.ledger.post(release)
            self._learn(client_id, release)

    def _remember_today(self, client_id: str, kind: OrderKind, fill: Fill) -> None:
        """T+1: shares bought today stay unsellable, shorts sold today uncoverable; shares
        bought to cover went straight back to the pool and are not held."""
        today = self.today[client_id]
        if kind in (OrderKind.COLLATERAL_BUY, OrderKind.MARGIN_BUY):
            today.bought[fill.symbol] += fill.quantity
        elif kind is OrderKind.SHORT_SELL:
            today.shorted[fill.symbol] += fill.quantity

    def _learn(self, client_id: str, txn: Transaction) -> None:
        """Tell the mirror, today's T+1 record and the pools what the ledger accepted."""
        self.mirrors[client_id].apply(txn)
        for (account, asset), change in net_changes(txn).items():
            if account == acc.FINANCING_POOL:
                self.firm.financing_pool_available_fen += change
            elif account == acc.LENDING_POOL:
                pool = self.firm.lending_pool_available
                pool[asset] = pool.get(asset, 0) + change
        for listener in self.listeners:
            listener(client_id, txn)

    # -- non-trade operations --------------------------------------------------------------
    def _withdrawal_line(self, client_id: str) -> Fraction:
        terms = terms_for(self.market.rule_book, client_id, self.market.trading_date)
        return terms.withdrawal_line

    def request(self, request: NonTradeRequest) -> Ack:
        state = self.states.get(request.account_id)
        if state is None:
            return Ack(request.request_id, OrderCode.UNKNOWN_ACCOUNT)
        security = self.market.securities.get(request.symbol) if request.symbol else None
        headroom = withdrawal_headroom_li(
            self.mirrors[state.client_id], self.market, self._withdrawal_line(state.client_id)
        )
        code = check_nontrade(request, state, security, self.firm, withdrawal_headroom_li=headroom)
        intake, room = None, self.firm.limits
        if request.kind is NonTradeKind.TRANSFER_IN and room is not None:
            intake = FirmUse.intake(request.symbol, request.quantity)
            if not isinstance(code, OrderCode):  # the firm's codes come after the request's
                code = firm_refusal(room, intake, state) or code
        if isinstance(code, OrderCode):
            self.outcomes[code.name] += 1
            return Ack(request.request_id, code)
        txn = build_nontrade_transaction(self, request)
        if self.ledger.post(txn).replayed:  # done before: the mirror knows it already
            return Ack(request.request_id, None)
        if intake is not None and room is not None:
            room.hold(intake)  # taken in now: held until the next evaluation counts it
        self._learn(state.client_id, txn)
        self._release_locked_if_no_short(state.client_id, request.request_id, txn.business_date)
        self.revalue(state.client_id)
        self.outcomes[request.kind.value] += 1
        return Ack(request.request_id, None)


def _firm_fen(kind: OrderKind, fill: Fill, fees: Fees) -> int:
    """What a fill adds to the firm's financing (amount + fees) or lending (amount)."""
    if kind is OrderKind.MARGIN_BUY:
        return trade_amount_fen(fill.quantity, fill.price_li) + fees.total_fen
    if kind is OrderKind.SHORT_SELL:
        return trade_amount_fen(fill.quantity, fill.price_li)
    return 0


Clock = Callable[[], datetime]
