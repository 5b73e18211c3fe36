"""The risk engine: the book's arrays, their revaluation and the statuses, kept in step with
the ledger's transactions and the market's prices (issue #4).

Invariants:
- every event (a posted transaction, a snapshot, a fair value, a haircut list, a change of
  lines) is followed at once by the revaluation of the accounts it affects and the status
  decisions on them, so figures and statuses never lag the arrays;
- a snapshot that moves more than ``full_share`` of the securities is revalued in full
  (cheaper than per-security deltas then); otherwise only the holders of what moved;
- no status is decided before the first prices (``prices_at`` None): transactions are
  learnt and revalued, statuses wait for a snapshot, and the first one decides them all.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from fractions import Fraction

import numpy as np

from liangrong.domain import margin
from liangrong.domain.journal import Transaction
from liangrong.risk.book_arrays import BookArrays, PriceMoves
from liangrong.risk.columns import IndexArray, IntArray
from liangrong.risk.revaluation import Figures, Revaluer
from liangrong.risk.statuses import StatusBoard, StatusChange
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

    def _decide(self, figures: Figures, at: datetime | None) -> list[StatusChange]:
        if self.book.prices_at is None:
            return []
        return self.statuses.update(figures, at)

    def revalue_all(self, at: datetime | None = None) -> tuple[Figures, list[StatusChange]]:
        figures = self.revaluer.full()
        return figures, self._decide(figures, at)

    def on_transaction(self, txn: Transaction, at: datetime | None = None) -> list[StatusChange]:
        """A transaction the ledger newly posted; apply each exactly once (a replayed
        command, ``PostResult.replayed``, changed nothing in the ledger)."""
        touched = self.book.apply(txn)
        return self._decide(self.revaluer.refresh(touched), at)

    def _moved(self, move: Callable[[], PriceMoves]) -> list[StatusChange]:
        first = self.book.prices_at is None  # the first prices decide every status
        moves = move()
        if first or len(moves.securities) > self.full_share * self.book.securities.n:
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
        if price_li is None or rule is None:
            return self._moved(lambda: self.book.clear_valuation(at, symbol))
        return self._moved(lambda: self.book.set_valuation(at, symbol, price_li, rule))

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
