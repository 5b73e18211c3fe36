"""Seeded, plausible client actions for a simulated session: orders of every kind and
non-trade requests, sized from what the client sees of the account, priced near the current
snapshot, and a few deliberately wrong so that the checks' refusals show.

Invariants:
- every draw comes from the one ``random.Random`` handed in, in a fixed order; symbols and
  positions are read from sorted tuples or insertion-ordered dicts, never from a set, so the
  same seed and book give the same actions in every process (string hashing is salted);
- the flow reads the book's state (what the client would see) and never writes it;
- prices are on the tick and, except for the deliberate mistakes, inside the day's limits.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import date
from typing import TypeVar

from liangrong.book.service import Book
from liangrong.domain.orders import (
    AccountType,
    BusinessType,
    NonTradeKind,
    NonTradeRequest,
    Order,
    OrderKind,
)
from liangrong.domain.pretrade_state import AccountState, PositionState, SecurityState
from liangrong.sim.draws import choose_weighted, pick_in_buckets

Action = Order | NonTradeRequest
TRADING_UNIT = "SIM001"
UNKNOWN_SYMBOL = "999999.SH"
UNKNOWN_CLIENT = "Z000000"
E4 = 10_000
T = TypeVar("T")

# Weights of what a client does next (per 100): most act on their positions.
ACTIONS = (
    ("collateral_buy", 19),
    ("collateral_sell", 15),
    ("margin_buy", 21),
    ("sell_to_repay", 7),
    ("short_sell", 9),
    ("buy_to_cover", 6),
    ("mistake", 6),
    ("deposit", 5),
    ("withdrawal", 4),
    ("repayment", 4),
    ("return", 1),
    ("transfer_in", 2),
    ("transfer_out", 1),
)
# An order's size in fen (low, high, weight): what a client means to trade, before what the
# account allows; retail tickets, a few large ones.  Keeps fills per order plausible.
TICKET_FEN = (
    (5_000_00, 50_000_00, 60),
    (50_000_00, 200_000_00, 30),
    (200_000_00, 1_000_000_00, 10),
)
MISTAKES = (
    "tick",
    "limit",
    "not_financing_target",
    "not_short_target",
    "lot",
    "unknown_security",
    "suspended",
    "short_below_last",
    "oversell",
    "duplicate",
    "unknown_account",
    "invalid",
    "business",
    "ordinary",
    "no_flag",
    "cover",
    "halted",
    "rights",
)


@dataclass(frozen=True, slots=True)
class Quote:
    last_li: int
    bid_li: int  # 0: none (limit down)
    ask_li: int  # 0: none (limit up)


Quotes = Callable[[str], Quote]


class OrderFlow:
    """Draws the next client action against the book's current state and quotes."""

    def __init__(
        self, rng: random.Random, book: Book, clients: Sequence[str], day: date, quotes: Quotes
    ) -> None:
        self.rng, self.book, self.clients, self.quotes = rng, book, tuple(clients), quotes
        self._prefix = f"{day:%Y%m%d}"
        self._orders = 0
        self._requests = 0
        market = book.market.securities
        listed = sorted(symbol for symbol, s in market.items() if not s.suspended)
        self.financing = tuple(s for s in listed if market[s].financing_target)
        self.shorts = tuple(s for s in listed if market[s].short_target)
        self.collateral = tuple(s for s in listed if market[s].haircut_bp > 0)
        self.not_financing = tuple(s for s in listed if not market[s].financing_target)
        self.not_short = tuple(s for s in listed if not market[s].short_target)
        self.stocks = tuple(s for s in self.financing if market[s].tick_li == 10)
        self.suspended = tuple(sorted(s for s, state in market.items() if state.suspended))
        self.financing_halted = tuple(s for s in listed if market[s].financing_halted)
        self.short_halted = tuple(s for s in listed if market[s].short_halted)
        self._handlers: dict[str, Callable[[str, AccountState], Action]] = {
            name: getattr(self, f"_{name}") for name, _ in ACTIONS
        }

    # -- ids and draws -----------------------------------------------------------------------
    def _order_id(self) -> str:
        self._orders += 1
        return f"O{self._prefix}{self._orders:07d}"

    def _request_id(self) -> str:
        self._requests += 1
        return f"R{self._prefix}{self._requests:07d}"

    def _one(self, options: Sequence[str]) -> str:
        return options[self.rng.randrange(len(options))]

    def _percent(self, low: int, high: int) -> int:
        return self.rng.randint(low, high)

    def next_action(self) -> Action:
        client = self._one(self.clients)
        state = self.book.states[client]
        return self._handlers[choose_weighted(self.rng, ACTIONS)](client, state)

    # -- prices and quantities ---------------------------------------------------------------
    def _security(self, symbol: str) -> SecurityState:
        return self.book.market.securities[symbol]

    def _buy_price(self, symbol: str) -> int:
        """Mostly marketable (at or a few ticks above the ask), else resting below the bid."""
        s, q = self._security(symbol), self.quotes(symbol)
        ticks = self.rng.randint(0, 2)
        if q.ask_li and self.rng.randrange(4):
            return min(q.ask_li + ticks * s.tick_li, s.limit_up_li)
        base = q.bid_li or q.ask_li or q.last_li
        return max(base - self.rng.randint(0, 5) * s.tick_li, s.limit_down_li)

    def _sell_price(self, symbol: str) -> int:
        s, q = self._security(symbol), self.quotes(symbol)
        if q.bid_li and self.rng.randrange(4):
            return max(q.bid_li - self.rng.randint(0, 2) * s.tick_li, s.limit_down_li)
        base = q.ask_li or q.bid_li or q.last_li
        return min(base + self.rng.randint(0, 5) * s.tick_li, s.limit_up_li)

    def _short_price(self, symbol: str) -> int:
        """Never below the latest trade (the short-price rule): at it or a few ticks above."""
        s = self._security(symbol)
        return min(s.last_price_li + self.rng.randint(0, 3) * s.tick_li, s.limit_up_li)

    def _quantity(self, symbol: str, value_li: int, price_li: int) -> int:
        """Lots worth about ``value_li``; one lot when that is less (the checks decide)."""
        s = self._security(symbol)
        shares = value_li // price_li
        if shares < s.lot_minimum:
            return s.lot_minimum
        return s.lot_minimum + (shares - s.lot_minimum) // s.lot_step * s.lot_step

    def _ticket_li(self) -> int:
        return pick_in_buckets(self.rng, TICKET_FEN) * 10

    def _part(self, symbol: str, available: int, price_li: int) -> int:
        """All of ``available`` (odd lots included) when it is within the ticket, else a
        lot-rounded part of it no larger than the ticket."""
        ticket = self._ticket_li() // price_li
        if available <= ticket and self.rng.randrange(3) == 0:
            return available
        wanted = min(available * self._percent(10, 100) // 100, ticket)
        s = self._security(symbol)
        if wanted < s.lot_minimum:
            return min(available, s.lot_minimum)
        return s.lot_minimum + (wanted - s.lot_minimum) // s.lot_step * s.lot_step

    def _margin_value_li(self, state: AccountState, ratio_bp: int, price_li: int) -> int:
        """Up to a little more than the available margin allows (some are refused)."""
        free_e4 = state.available_margin_li * E4 - state.reserved_margin_e4li
        if free_e4 <= 0:
            return price_li * 100 * self.rng.randint(1, 5)
        allowed = free_e4 // max(ratio_bp, 1) * self._percent(10, 115) // 100
        return min(allowed, self._ticket_li())

    def _order(
        self,
        client: str,
        kind: OrderKind,
        symbol: str,
        price_li: int,
        quantity: int,
        **extra: object,
    ) -> Order:
        values: dict[str, object] = {
            "order_id": self._order_id(),
            "account_id": client,
            "account_type": AccountType.CREDIT,
            "trading_unit": TRADING_UNIT,
            "symbol": symbol,
            "kind": kind,
            "side": kind.side,
            "price_li": price_li,
            "quantity": quantity,
        }
        values.update(extra)
        return Order(**values)  # type: ignore[arg-type]

    def _request(self, client: str, kind: NonTradeKind, **values: object) -> NonTradeRequest:
        return NonTradeRequest(self._request_id(), client, kind, **values)  # type: ignore[arg-type]

    @staticmethod
    def _with(state: AccountState, test: Callable[[PositionState], bool]) -> list[str]:
        return [symbol for symbol, p in state.positions.items() if test(p)]

    # -- orders ------------------------------------------------------------------------------
    def _collateral_buy(self, client: str, state: AccountState) -> Action:
        held = self._with(state, lambda p: p.quantity > 0)
        held = [s for s in held if s in self.book.market.securities]
        symbol = self._one(held) if held and self.rng.randrange(2) else self._one(self.collateral)
        price = self._buy_price(symbol)
        value = max(state.cash_free_fen, 0) * 10 * self._percent(5, 110) // 100
        value = min(value, self._ticket_li())
        return self._order(
            client, OrderKind.COLLATERAL_BUY, symbol, price, self._quantity(symbol, value, price)
        )

    def _margin_buy(self, client: str, state: AccountState) -> Action:
        held = [s for s in self._with(state, lambda p: p.quantity > 0) if s in self.financing]
        symbol = (
            self._one(held) if held and self.rng.randrange(5) < 2 else self._one(self.financing)
        )
        price = self._buy_price(symbol)
        value = self._margin_value_li(state, self._security(symbol).financing_margin_bp, price)
        return self._order(
            client, OrderKind.MARGIN_BUY, symbol, price, self._quantity(symbol, value, price)
        )

    def _sale(self, client: str, state: AccountState, kind: OrderKind) -> Action:
        sellable = self._with(state, lambda p: p.sellable > 0)
        if kind is OrderKind.SELL_TO_REPAY:
            financed = [s for s in sellable if state.positions[s].financed_quantity > 0]
            sellable = financed or sellable
        if not sellable:
            return self._collateral_buy(client, state)
        symbol = self._one(sellable)
        price = self._sell_price(symbol)
        quantity = self._part(symbol, state.positions[symbol].sellable, price)
        return self._order(client, kind, symbol, price, quantity)

    def _collateral_sell(self, client: str, state: AccountState) -> Action:
        return self._sale(client, state, OrderKind.COLLATERAL_SELL)

    def _sell_to_repay(self, client: str, state: AccountState) -> Action:
        return self._sale(client, state, OrderKind.SELL_TO_REPAY)

    def _short_sell(self, client: str, state: AccountState) -> Action:
        symbol = self._one(self.shorts)
        price = self._short_price(symbol)
        value = self._margin_value_li(state, self._security(symbol).short_margin_bp, price)
        return self._order(
            client, OrderKind.SHORT_SELL, symbol, price, self._quantity(symbol, value, price)
        )

    @staticmethod
    def _coverable(p: PositionState) -> int:
        return p.short_quantity - p.short_opened_today - p.reserved_for_cover

    def _buy_to_cover(self, client: str, state: AccountState) -> Action:
        shorts = self._with(state, lambda p: self._coverable(p) > 0)
        if not shorts:
            return self._short_sell(client, state)
        symbol = self._one(shorts)
        price = self._buy_price(symbol)
        quantity = self._part(symbol, self._coverable(state.positions[symbol]), price)
        return self._order(client, OrderKind.BUY_TO_COVER, symbol, price, quantity)

    # -- non-trade requests ------------------------------------------------------------------
    def _deposit(self, client: str, state: AccountState) -> Action:
        amount = self.rng.randint(1, 100) * 500_000  # 5,000 .. 500,000 CNY
        return self._request(client, NonTradeKind.CASH_DEPOSIT, amount_fen=amount)

    def _withdrawal(self, client: str, state: AccountState) -> Action:
        amount = max(state.cash_free_fen, 0) * self._percent(5, 120) // 100
        return self._request(client, NonTradeKind.CASH_WITHDRAWAL, amount_fen=max(amount, 100))

    def _repayment(self, client: str, state: AccountState) -> Action:
        if not state.has_open_financing and self.rng.randrange(3):
            return self._deposit(client, state)
        amount = max(state.cash_free_fen, 0) * self._percent(10, 100) // 100
        return self._request(client, NonTradeKind.DIRECT_REPAYMENT, amount_fen=max(amount, 100))

    def _return(self, client: str, state: AccountState) -> Action:
        ready = self._with(state, lambda p: self._coverable(p) > 0 and p.sellable > 0)
        if not ready:
            return self._transfer_in(client, state)
        symbol = self._one(ready)
        p = state.positions[symbol]
        quantity = min(self._coverable(p), p.sellable)
        return self._request(client, NonTradeKind.DIRECT_RETURN, symbol=symbol, quantity=quantity)

    def _transfer_in(self, client: str, state: AccountState) -> Action:
        symbol = self._one(self.collateral)
        quantity = self._security(symbol).lot_minimum * self.rng.randint(1, 50)
        return self._request(client, NonTradeKind.TRANSFER_IN, symbol=symbol, quantity=quantity)

    def _transfer_out(self, client: str, state: AccountState) -> Action:
        sellable = self._with(state, lambda p: p.sellable > 0)
        if not sellable:
            return self._deposit(client, state)
        symbol = self._one(sellable)
        price = self._security(symbol).last_price_li
        quantity = self._part(symbol, state.positions[symbol].sellable, price)
        return self._request(client, NonTradeKind.TRANSFER_OUT, symbol=symbol, quantity=quantity)

    # -- mistakes: each aims at one refusal (an earlier one in the precedence may win) --------
    def _mistake(self, client: str, state: AccountState) -> Action:
        kind = self._one(MISTAKES)
        buy, sell = OrderKind.COLLATERAL_BUY, OrderKind.COLLATERAL_SELL
        stock = self._one(self.stocks)
        s, price = self._security(stock), self._buy_price(stock)
        if kind == "tick":
            return self._order(client, buy, stock, price + s.tick_li // 2, s.lot_minimum)
        if kind == "limit":
            return self._order(client, buy, stock, s.limit_up_li + s.tick_li, s.lot_minimum)
        if kind == "not_financing_target" and self.not_financing:
            symbol = self._one(self.not_financing)
            return self._order(client, OrderKind.MARGIN_BUY, symbol, self._buy_price(symbol), 1_000)
        if kind == "not_short_target" and self.not_short:
            symbol = self._one(self.not_short)
            return self._order(
                client, OrderKind.SHORT_SELL, symbol, self._short_price(symbol), 1_000
            )
        if kind == "lot" and s.lot_step == 100:
            return self._order(client, OrderKind.MARGIN_BUY, stock, price, 150)
        if kind == "unknown_security":
            return self._order(client, buy, UNKNOWN_SYMBOL, 10_000, 100)
        if kind == "suspended" and self.suspended:
            return self._order(client, buy, self.suspended[0], 10_000, 100)
        if kind == "short_below_last" and s.short_target:
            below = max(s.last_price_li - s.tick_li, s.limit_down_li)
            return self._order(client, OrderKind.SHORT_SELL, stock, below, 100)
        if kind == "oversell":
            held = self._with(state, lambda p: p.quantity > 0)
            symbol = self._one(held) if held else stock
            quantity = state.positions[symbol].quantity + 100 if held else 100
            return self._order(client, sell, symbol, self._sell_price(symbol), quantity)
        if kind == "duplicate" and self.book.orders:  # the id of the last accepted order
            order = self._order(client, buy, stock, price, s.lot_minimum)
            return replace(order, order_id=next(reversed(self.book.orders)))
        if kind == "unknown_account":
            return self._order(UNKNOWN_CLIENT, buy, stock, price, s.lot_minimum)
        if kind == "invalid":
            return self._order(client, buy, stock, price, 0)
        if kind == "business":
            return self._order(client, buy, stock, price, 100, business=BusinessType.REPO)
        if kind == "ordinary":
            return self._order(client, buy, stock, price, 100, account_type=AccountType.ORDINARY)
        if kind == "no_flag":
            return self._order(client, buy, stock, price, 100, credit_flag=False)
        if kind == "cover":
            shorts = self._with(state, lambda p: p.short_quantity > 0)
            symbol = self._one(shorts) if shorts else stock
            quantity = (state.positions[symbol].short_quantity if shorts else 0) + 100
            return self._order(
                client, OrderKind.BUY_TO_COVER, symbol, self._buy_price(symbol), quantity
            )
        if kind == "halted" and self.financing_halted:
            symbol = self._one(self.financing_halted)
            return self._order(client, OrderKind.MARGIN_BUY, symbol, self._buy_price(symbol), 100)
        if kind == "halted" and self.short_halted:
            symbol = self._one(self.short_halted)
            return self._order(client, OrderKind.SHORT_SELL, symbol, self._short_price(symbol), 100)
        # a rights subscription paid from more than the free cash (or a fallback above)
        quantity = self._quantity(stock, max(state.cash_free_fen, 0) * 20 + 1, price)
        return self._order(
            client, buy, stock, price, quantity, business=BusinessType.RIGHTS_SUBSCRIPTION
        )
