"""Each account's status against its lines (RISK-5): floats screen, the exact ratio decides.

Lines per account are the firm's unless the client has agreed its own (an override);
absent optional lines (attention, emergency) are never crossed.  The status is the lowest
line the maintenance ratio is strictly below (``domain.margin.ratio_status``: a ratio
exactly at a line is not below it); an account without debt is SAFE.

Invariants:
- a status changes only on the exact computation: ``domain.margin.maintenance_ratio`` on
  the account's exact contents (``views.exact_account``, Fractions of integers)
  compared with the exact lines.  The float screen only chooses which accounts to
  confirm: every account whose float status differs from its current one, and every
  account whose float ratio lies within ``SCREEN_TOLERANCE`` (relative) of any of its
  lines, where a float could be on the wrong side.  Outside those bands the float and the
  exact ratio are on the same side of every line (the float error is below 1e-15
  relative, see ``revaluation``), so the screen cannot miss a change;
- every change is a ``StatusChange`` event: account, old and new status, when it took
  effect, the exact ratio, the lines applied and the time of the prices used;
- decisions are taken only on figures of the book's current version and price time
  (``StaleFigures`` otherwise): a status never rests on a superseded ratio;
- own valuations (RISK-2): the arrays hold one valuation price per security, the firm's
  fair-value rule's.  An account whose client's agreement names another rule, and which
  holds, owes or is short a security that rule values differently, is given its own prices
  (``set_own_prices``: symbol -> price, None for the market price); its float figures stay
  at the firm's prices, so the screen does not judge it: it is confirmed exactly, at its
  own prices (``repriced``), every time its figures are screened.  The set is small (the
  holders of the few securities needing a fair value, among the clients on another rule).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import date, datetime
from fractions import Fraction

import numpy as np
import numpy.typing as npt

from liangrong.domain import margin, parameters
from liangrong.domain.margin import RatioStatus
from liangrong.domain.rule_book import RuleBook, lines_for
from liangrong.risk.book_arrays import BookArrays
from liangrong.risk.columns import FloatArray, IndexArray, grown
from liangrong.risk.revaluation import Figures
from liangrong.risk.views import exact_account

SCREEN_TOLERANCE = 1e-9  # relative; the float ratio's error is < 1e-15 for any real account
LEVELS = (
    RatioStatus.SAFE,
    RatioStatus.ATTENTION,
    RatioStatus.WARNING,
    RatioStatus.LIQUIDATION,
    RatioStatus.EMERGENCY,
)
_LEVEL_OF = {status: level for level, status in enumerate(LEVELS)}
Levels = npt.NDArray[np.int8]
# An account's own valuations: symbol -> its price (li) under the client's fair-value rule,
# None where that rule cannot value it and the market price does (RISK-2).
OwnPrices = Mapping[str, int | None]


class StaleFigures(ValueError):
    """Figures computed before the book last changed."""


@dataclass(frozen=True, slots=True)
class StatusChange:
    """A confirmed status change (RISK-5), with what it was decided on."""

    client_id: str
    account: int
    old: RatioStatus
    new: RatioStatus
    at: datetime  # when it took effect
    ratio: Fraction | None  # the exact maintenance ratio; None: no debt
    lines: margin.Lines
    prices_at: datetime  # the time of the prices the ratio used


def status_lines(lines: parameters.Lines) -> margin.Lines:
    """The rule book's lines as the margin formulas take them.

    The rule book allows attention = warning: an attention line equal to the warning line
    can never be the lowest line crossed, so it is left out.  A warning line equal to the
    liquidation line has no status of its own either, but ``margin.Lines`` needs one
    distinct: refused, rather than inventing a line."""
    if lines.warning == lines.liquidation:
        raise ValueError(f"warning line {lines.warning} equals the liquidation line")
    attention = None if lines.attention == lines.warning else lines.attention
    return margin.Lines(
        attention=attention,
        warning=lines.warning,
        liquidation=lines.liquidation,
        emergency=lines.emergency,
    )


def rule_book_lines(
    book: RuleBook, on: date, client_ids: list[str]
) -> tuple[margin.Lines, dict[str, margin.Lines]]:
    """The firm's lines on ``on`` and the clients' own where they agreed some (RISK-5)."""
    firm = status_lines(lines_for(book, None, on).lines)
    own: dict[str, margin.Lines] = {}
    for client in client_ids:
        if client in book.clients:
            decision = lines_for(book, client, on)
            if decision.from_client:
                own[client] = status_lines(decision.lines)
    return firm, own


def own_price(book: BookArrays, symbol: str, own: int | None) -> int:
    """The price an own valuation stands for: its own, else the market's (the valuation
    price when no snapshot has priced the security yet)."""
    if own is not None:
        return own
    sec = book.securities
    s = sec.index[symbol]
    return int(sec.market_li[s]) or int(sec.value_li[s])


def repriced(book: BookArrays, account: margin.Account, prices: OwnPrices) -> margin.Account:
    """``account`` (at the arrays' prices) with every position in a security of ``prices``
    at the client's own price."""
    if not prices:
        return account

    def price(symbol: str, current: int) -> int:
        return own_price(book, symbol, prices[symbol]) if symbol in prices else current

    return replace(
        account,
        holdings=tuple(
            replace(h, price_li=price(h.security, h.price_li)) for h in account.holdings
        ),
        financing=tuple(
            replace(f, price_li=price(f.security, f.price_li)) for f in account.financing
        ),
        shorts=tuple(replace(x, price_li=price(x.security, x.price_li)) for x in account.shorts),
    )


def _float_lines(lines: margin.Lines) -> tuple[float, float, float, float]:
    """(emergency, liquidation, warning, attention) as floats; absent lines never cross."""

    def f(line: Fraction | None) -> float:
        return -np.inf if line is None else float(line)

    return (f(lines.emergency), f(lines.liquidation), f(lines.warning), f(lines.attention))


def _levels(ratio: FloatArray, bounds: FloatArray) -> Levels:
    """The float status level against line bounds (k × 4: emergency..attention)."""
    level: Levels = (ratio < bounds[:, 3]).astype(np.int8)  # attention: 1
    for code, column in ((2, 2), (3, 1), (4, 0)):
        np.maximum(level, (ratio < bounds[:, column]) * np.int8(code), out=level)
    return level


class StatusBoard:
    """Current confirmed status of every account, and the lines it is placed against."""

    def __init__(
        self, book: BookArrays, firm_lines: margin.Lines, tolerance: float = SCREEN_TOLERANCE
    ) -> None:
        self.book = book
        self.firm_lines = firm_lines
        self.tolerance = tolerance
        self.overrides: dict[int, margin.Lines] = {}
        self.own_prices: dict[int, OwnPrices] = {}  # accounts valued at their own rule's
        self._own: npt.NDArray[np.bool_] = np.zeros(0, dtype=np.bool_)
        self._levels: Levels = np.zeros(0, dtype=np.int8)
        # Per account, its four lines (emergency..attention) × (1 ∓ tolerance); one row per
        # account so an incremental screen gathers one cache line per account.
        self._low: FloatArray = np.zeros((0, 4))
        self._high: FloatArray = np.zeros((0, 4))
        self.confirmations = 0  # exact computations made (screen hits)
        self._grow()

    # -- lines ---------------------------------------------------------------------------
    def _grow(self) -> None:
        n, old = self.book.n_accounts, self._low.shape[0]
        if n <= old:
            return
        self._levels = grown(self._levels, n)
        self._own = grown(self._own, n)
        capacity = len(self._levels)
        low, high = np.empty((capacity, 4)), np.empty((capacity, 4))
        low[:old], high[:old] = self._low, self._high
        self._low, self._high = low, high
        self._write_lines(np.arange(old, capacity, dtype=np.intp), self.firm_lines)

    def _write_lines(self, accounts: IndexArray, lines: margin.Lines) -> None:
        bounds = np.asarray(_float_lines(lines))
        self._low[accounts] = bounds * (1.0 - self.tolerance)
        self._high[accounts] = bounds * (1.0 + self.tolerance)

    def lines_of(self, account: int) -> margin.Lines:
        return self.overrides.get(account, self.firm_lines)

    def set_firm_lines(self, lines: margin.Lines) -> None:
        """New firm lines; accounts with their own keep theirs.  Recheck all afterwards."""
        self.firm_lines = lines
        self._grow()
        n = self.book.n_accounts
        firm = np.setdiff1d(np.arange(n), np.fromiter(self.overrides, np.intp))
        self._write_lines(firm.astype(np.intp), lines)

    def set_client_lines(self, client_id: str, lines: margin.Lines | None) -> int:
        """The client's agreed lines (None: the firm's again); returns the account index,
        which the caller rechecks."""
        self._grow()
        account = self.book.account_of(client_id)
        if lines is None:
            self.overrides.pop(account, None)
        else:
            self.overrides[account] = lines
        self._write_lines(np.asarray([account], dtype=np.intp), self.lines_of(account))
        return account

    # -- own valuations -----------------------------------------------------------------
    def set_own_prices(self, account: int, prices: OwnPrices | None) -> None:
        """The account's own valuations (None or empty: the arrays' prices again); the
        caller rechecks the account."""
        self._grow()
        if prices:
            self.own_prices[account] = prices
        else:
            self.own_prices.pop(account, None)
        self._own[account] = bool(prices)

    def exact(self, account: int) -> margin.Account:
        """The account as its status is decided: exact, at its own prices where it has some."""
        exact = exact_account(self.book, account)
        own = self.own_prices.get(account)
        return exact if own is None else repriced(self.book, exact, own)

    # -- statuses ------------------------------------------------------------------------
    def status_of(self, account: int) -> RatioStatus:
        self._grow()
        return LEVELS[int(self._levels[account])]

    def status(self, client_id: str) -> RatioStatus:
        return self.status_of(self.book.account_of(client_id))

    def every_status(self) -> list[RatioStatus]:
        """Each account's status, in account order (``book.accounts.ids``)."""
        self._grow()
        return list(map(LEVELS.__getitem__, self._levels[: self.book.n_accounts].tolist()))

    def restore(self, client_id: str, status: RatioStatus) -> None:
        """The status an account was last recorded in (a new day's engine starts from it,
        so the first prices report only what changed since)."""
        self._grow()
        self._levels[self.book.account_of(client_id)] = _LEVEL_OF[status]

    def counts(self) -> dict[RatioStatus, int]:
        self._grow()
        tally = np.bincount(self._levels[: self.book.n_accounts], minlength=len(LEVELS))
        return {status: int(tally[level]) for level, status in enumerate(LEVELS)}

    def screen(self, figures: Figures) -> IndexArray:
        """Accounts of ``figures`` whose status may have changed: to confirm exactly."""
        self._grow()
        accounts = figures.account_indices()
        pick: slice | IndexArray = (
            slice(0, len(figures)) if figures.accounts is None else figures.accounts
        )
        low = _levels(figures.ratio, self._low[pick])  # below (1 − tol)·line: surely below
        high = _levels(figures.ratio, self._high[pick])  # below (1 + tol)·line: maybe
        suspect = (low != high) | (high != self._levels[pick])
        if self.own_prices:  # figures at the firm's prices do not judge these
            suspect |= self._own[pick]
        suspects: IndexArray = accounts[suspect]
        return suspects

    def update(self, figures: Figures, at: datetime | None = None) -> list[StatusChange]:
        """Screen, confirm exactly, apply; returns the changes that took effect."""
        book = self.book
        if figures.version != book.version or figures.prices_at != book.prices_at:
            raise StaleFigures(f"figures of version {figures.version}, book {book.version}")
        if book.prices_at is None:
            raise StaleFigures("no prices yet: no status can be decided")
        changes = []
        for account in self.screen(figures).tolist():
            self.confirmations += 1
            lines = self.lines_of(account)
            ratio = margin.maintenance_ratio(self.exact(account))
            new = margin.ratio_status(ratio, lines)
            old = LEVELS[int(self._levels[account])]
            if new is not old:
                self._levels[account] = _LEVEL_OF[new]
                changes.append(
                    StatusChange(
                        book.accounts.ids[account],
                        account,
                        old,
                        new,
                        at or book.prices_at,
                        ratio,
                        lines,
                        book.prices_at,
                    )
                )
        return changes
