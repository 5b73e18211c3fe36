"""The risk engine: the book's arrays, their revaluation and the statuses, kept in step with
the ledger's transactions and the market's prices (issue #4).

Invariants:
- every event (a posted transaction, a snapshot, a fair value, a haircut list, a change of
  lines) is followed at once by the revaluation of the accounts it affects and the status
  decisions on them, so figures and statuses never lag the arrays;
- a snapshot that moves more than ``full_share`` of the securities is revalued in full
  (cheaper than per-security deltas then); otherwise only the holders of what moved;
- no status is decided before the first market snapshot: transactions and fair values are
  learnt and revalued, statuses wait for a snapshot, and the first one decides them all;
- fair values (RISK-2) arrive as one event (``on_fair_values``): the firm's rule's prices
  for the arrays and, for each client whose agreement names another rule, its own prices;
  the accounts of such clients holding a security their rule values differently are
  decided exactly at their own prices (``StatusBoard.set_own_prices``), and kept in that
  set as their holdings change.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from fractions import Fraction

import numpy as np

from liangrong.domain import margin
from liangrong.domain.journal import Transaction
from liangrong.risk.book_arrays import BookArrays, PriceMoves, Valuation
from liangrong.risk.columns import EMPTY_INDEX, IndexArray, IntArray
from liangrong.risk.revaluation import Figures, Revaluer
from liangrong.risk.statuses import OwnPrices, StatusBoard, StatusChange
from liangrong.risk.views import compacted


class RiskEngine:
    """Arrays, revaluation and statuses driven by the ledger's transactions and the prices.

    Every ``on_*`` returns the status changes that took effect (already confirmed exactly).
    """

    def __init__(
        self,
        book: BookArrays,
        firm_lines: margin.Lines,
        client_lines: Mapping[str, margin.Lines] | None = None,
        full_share: float = 0.25,
    ) -> None:
        self.book = book
        self.revaluer = Revaluer(book)
        self.statuses = StatusBoard(book, firm_lines)
        for client, lines in (client_lines or {}).items():
            self.statuses.set_client_lines(client, lines)
        self.full_share = full_share
        self.market_seen = book.prices_at is not None  # a snapshot has priced the book
        # Clients whose agreement names another fair-value rule: their own prices (every
        # security their rule values differently from the firm's), held or not.
        self.client_prices: dict[str, OwnPrices] = {}

    def _decide(self, figures: Figures, at: datetime | None) -> list[StatusChange]:
        if not self.market_seen:
            return []
        return self.statuses.update(figures, at)

    def revalue_all(self, at: datetime | None = None) -> tuple[Figures, list[StatusChange]]:
        figures = self.revaluer.full()
        return figures, self._decide(figures, at)

    def on_transaction(self, txn: Transaction, at: datetime | None = None) -> list[StatusChange]:
        """A transaction the ledger newly posted; apply each exactly once (a replayed
        command, ``PostResult.replayed``, changed nothing in the ledger)."""
        touched = self.book.apply(txn)
        if self.client_prices:  # a position may have opened or closed in a security ruled
            self._place_own(touched)
        return self._decide(self.revaluer.refresh(touched), at)

    def _many(self, moves: PriceMoves) -> bool:
        return len(moves.securities) > self.full_share * self.book.securities.n

    def _moved(self, move: Callable[[], PriceMoves]) -> list[StatusChange]:
        first = not self.market_seen  # the first snapshot decides every status
        moves = move()
        self.market_seen = True
        if first or self._many(moves):
            return self.revalue_all()[1]
        return self._decide(self.revaluer.incremental(moves), None)

    def on_prices(self, at: datetime, prices_li: Mapping[str, int]) -> list[StatusChange]:
        """A snapshot: the latest trade of each security that traded since the last one."""
        return self._moved(lambda: self.book.set_prices(at, prices_li))

    def on_price_array(
        self, at: datetime, securities: IndexArray, prices_li: IntArray
    ) -> list[StatusChange]:
        """``on_prices`` with security indices and prices as arrays."""
        return self._moved(lambda: self.book.set_price_array(at, securities, prices_li))

    def on_fair_value(
        self, at: datetime, symbol: str, price_li: int | None, rule: str | None = None
    ) -> list[StatusChange]:
        """A fair-value rule values a security (RISK-2); None: back to the market price."""
        change = None if price_li is None or rule is None else (price_li, rule)
        return self.on_fair_values(at, {symbol: change})

    def on_fair_values(
        self,
        at: datetime,
        firm: Mapping[str, Valuation | None],
        clients: Mapping[str, OwnPrices] | None = None,
    ) -> list[StatusChange]:
        """The day's fair values as one event (RISK-2): ``firm`` values securities in the
        arrays ((price, rule); None: back to the market price); ``clients`` (None: as they
        were) replaces every client's own prices.  Decided once, after both, so no account
        passes through a status that neither valuation gives it."""
        moves = self.book.set_valuations(at, firm) if firm else None
        placed = EMPTY_INDEX if clients is None else self._set_client_prices(clients)
        if moves is not None and self._many(moves):
            return self.revalue_all(at)[1]
        if moves is not None and len(moves.securities):
            touched = self.revaluer.incremental(moves).account_indices()
            placed = np.union1d(touched, placed)
        return self._decide(self.revaluer.figures(placed), at)

    def _set_client_prices(self, clients: Mapping[str, OwnPrices]) -> IndexArray:
        """Replace the clients' own prices; the accounts placed or unplaced (sorted)."""
        before = set(self.statuses.own_prices)
        self.client_prices = {client: prices for client, prices in clients.items() if prices}
        index = self.book.accounts.index
        by_prices: dict[int, tuple[OwnPrices, list[int]]] = {}
        for client, prices in self.client_prices.items():
            if (a := index.get(client)) is not None:
                by_prices.setdefault(id(prices), (prices, []))[1].append(a)
        placed: dict[int, OwnPrices] = {}
        for prices, accounts in by_prices.values():  # clients on one rule share its prices
            symbols = [self.book.security_of(x) for x in prices if x in self.book.securities.index]
            holders = self.book.holders_of(symbols)
            for a in np.intersect1d(holders, accounts).tolist():
                placed[a] = prices
        for a in before - set(placed):
            self.statuses.set_own_prices(a, None)
        for a, prices in placed.items():
            self.statuses.set_own_prices(a, prices)
        changed: IndexArray = np.asarray(sorted(before | set(placed)), dtype=np.intp)
        return changed

    def _place_own(self, accounts: list[int]) -> None:
        """Whether each of these accounts now holds a security its client's rule values
        differently (after a transaction)."""
        sec = self.book.securities
        for a in accounts:
            prices = self.client_prices.get(self.book.accounts.ids[a])
            if prices is not None:
                held = self.book.securities_of(a)
                ruled = any(sec.index.get(symbol) in held for symbol in prices)
                self.statuses.set_own_prices(a, prices if ruled else None)

    def on_other_collateral(
        self, client_id: str, value_fen: int, at: datetime | None = None
    ) -> list[StatusChange]:
        """A client's other collateral (RISK-9) now counts at ``value_fen`` in its ratio."""
        account = self.book.set_other_collateral(client_id, value_fen)
        return self._decide(self.revaluer.figures(np.asarray([account], dtype=np.intp)), at)

    def on_haircuts(self, haircuts: Mapping[str, Fraction]) -> list[StatusChange]:
        """A new firm collateral list: every available margin changes (ratios do not)."""
        self.book.set_haircuts(haircuts)
        return self.revalue_all()[1]

    def compact(self) -> Figures:
        """Rebuild the arrays' layout (e.g. at the start of a day); statuses and lines stay
        (account indices do not change)."""
        self.book = compacted(self.book)
        self.statuses.book = self.book
        self.revaluer = Revaluer(self.book)
        return self.revaluer.full()

    def set_client_lines(self, client_id: str, lines: margin.Lines | None) -> list[StatusChange]:
        """The client's agreed lines (None: the firm's again), applied at once."""
        account = self.statuses.set_client_lines(client_id, lines)
        return self._decide(self.revaluer.figures(np.asarray([account], dtype=np.intp)), None)
