"""The book's exposures in exact integers, aggregated from ``BookArrays`` in a few vectorised
passes: what the firm-level limits (``domain.firm_limits``, RISK-11) and the daily risk
summary (``risk.summary``, RISK-10, RISK-13) read.

Per security (the arrays' security index): shares held in all credit accounts (financed
included), shares backing open financing, shares owed on open shorts, financing principal
outstanding, the valuation price.  Per account: cash (free + locked), other collateral,
charges, financing principal, Σ shares × price of its securities and Σ shares owed × price
of its shorts (li).  Per held slot: account, security, value (li).  Values use the
valuation prices (the RISK-2 fair values where a rule set one), as the ratios do.

Invariants:
- every figure is an ``int64`` equal to the Python-integer sum of the same terms: products
  are formed only when both factors' magnitudes keep them below 2^62, sums are taken by
  ``np.bincount`` only when every partial sum stays below 2^53 (where float64 adds integers
  exactly), else by ``np.add.at`` on ``int64``; anything larger is refused (OverflowError),
  never rounded;
- li become fen once, at the edge, rounded up (an exposure is never understated).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import numpy as np

from liangrong.domain.firm_limits import ClientExposure, FirmExposures, SecurityExposure
from liangrong.domain.money import LI_PER_FEN
from liangrong.risk.book_arrays import BookArrays
from liangrong.risk.columns import IndexArray, IntArray
from liangrong.risk.tables import BLOCK

_FLOAT_EXACT = 2.0**53  # float64 holds every integer below this
_INT64_SAFE = 2**62  # products and sums kept below this cannot overflow int64


def int_sum_by(index: IndexArray, values: IntArray, n: int) -> IntArray:
    """Σ values per index in ``[0, n)``, exactly, as int64."""
    if len(values) == 0:
        return np.zeros(n, dtype=np.int64)
    bound = float(np.abs(values).max()) * len(values)  # no partial sum is larger
    if bound < _FLOAT_EXACT:
        sums = np.bincount(index, weights=values, minlength=n)
        exact: IntArray = sums.astype(np.int64)
        return exact
    if bound >= _INT64_SAFE:
        raise OverflowError(f"a sum of {len(values)} values up to {bound:.3g} may overflow")
    out = np.zeros(n, dtype=np.int64)
    np.add.at(out, index, values)
    return out


def exact_product(a: IntArray, b: IntArray) -> IntArray:
    """a × b elementwise in int64, refused where it could overflow."""
    if len(a) and float(np.abs(a).max()) * float(np.abs(b).max()) >= _INT64_SAFE:
        raise OverflowError("a product of the book's figures may overflow int64")
    product: IntArray = a.astype(np.int64) * b.astype(np.int64)
    return product


def fen_up(value_li: IntArray) -> IntArray:
    """li to whole fen, rounded up (values are non-negative)."""
    fen: IntArray = -(-value_li // LI_PER_FEN)
    return fen


@dataclass(frozen=True, slots=True)
class BookExposure:
    """Exact sums over the book at one book version and price time; see the module."""

    prices_at: datetime | None
    version: int
    symbols: list[str]
    client_ids: list[str]
    price_li: IntArray  # per security: the valuation price
    held_shares: IntArray  # per security: in all credit accounts, financed included
    financed_shares: IntArray  # per security: backing open financing
    short_shares: IntArray  # per security: owed on open shorts
    financing_fen: IntArray  # per security: principal outstanding
    cash_fen: IntArray  # per account: free + locked
    other_collateral_fen: IntArray  # per account (RISK-9)
    charges_fen: IntArray  # per account
    account_financing_fen: IntArray  # per account: principal outstanding
    securities_li: IntArray  # per account: Σ shares × price
    short_li: IntArray  # per account: Σ shares owed × price
    slot_account: IndexArray  # per held slot (quantity > 0)
    slot_security: IndexArray
    slot_value_li: IntArray

    @property
    def held_value_li(self) -> IntArray:
        """Per security: all clients' shares × price (one price per security)."""
        return exact_product(self.held_shares, self.price_li)

    @property
    def security_short_li(self) -> IntArray:
        return exact_product(self.short_shares, self.price_li)

    @property
    def assets_li(self) -> IntArray:
        """Per account: the maintenance ratio's numerator (RISK-1)."""
        assets: IntArray = (self.cash_fen + self.other_collateral_fen) * LI_PER_FEN
        return assets + self.securities_li

    @property
    def debt_li(self) -> IntArray:
        """Per account: the maintenance ratio's denominator (RISK-1)."""
        debt: IntArray = (self.account_financing_fen + self.charges_fen) * LI_PER_FEN
        return debt + self.short_li


def book_exposure(book: BookArrays) -> BookExposure:
    """Every exact sum of the module, in one pass over slots and contracts."""
    sec, acc, blocks = book.securities, book.accounts, book.blocks
    n_sec, n = sec.n, acc.n
    price = sec.value_li[:n_sec].copy()
    quantity = blocks.qty[: blocks.n * BLOCK]
    live = np.flatnonzero(quantity > 0)
    slot_security = blocks.sec[live]
    slot_account = blocks.owner[live // BLOCK]
    slot_quantity = quantity[live]
    slot_value = exact_product(slot_quantity, price[slot_security])

    fin, sh = book.financing, book.shorts
    f_sec, s_sec = fin.security[: fin.n], sh.security[: sh.n]
    owed_shares = sh.outstanding[: sh.n]
    short_value = exact_product(owed_shares, price[s_sec])
    return BookExposure(
        prices_at=book.prices_at,
        version=book.version,
        symbols=list(sec.symbols),
        client_ids=list(acc.ids),
        price_li=price,
        held_shares=int_sum_by(slot_security, slot_quantity, n_sec),
        financed_shares=int_sum_by(f_sec, fin.backing[: fin.n], n_sec),
        short_shares=int_sum_by(s_sec, owed_shares, n_sec),
        financing_fen=int_sum_by(f_sec, fin.outstanding[: fin.n], n_sec),
        cash_fen=acc.cash_fen[:n].copy(),
        other_collateral_fen=acc.other_collateral_fen[:n].copy(),
        charges_fen=acc.charges_fen[:n].copy(),
        account_financing_fen=int_sum_by(fin.account[: fin.n], fin.outstanding[: fin.n], n),
        securities_li=int_sum_by(slot_account, slot_value, n),
        short_li=int_sum_by(sh.account[: sh.n], short_value, n),
        slot_account=slot_account,
        slot_security=slot_security,
        slot_value_li=slot_value,
    )


def firm_exposures(
    exposure: BookExposure, watch_from_fen: int | None, top_clients: int = 10
) -> FirmExposures:
    """What ``firm_limits.evaluate`` takes.  Clients: every client whose financing or
    lending reaches ``watch_from_fen`` (``FirmLimits.client_watch_fen``: the others are OK on
    every client indicator), and the ``top_clients`` largest by financing + lending, so the
    indicator table shows the largest client even when nobody is near a limit."""
    lending = fen_up(exposure.short_li)
    financing = exposure.account_financing_fen
    chosen = np.zeros(len(financing), dtype=bool)
    if watch_from_fen is not None:
        chosen |= (financing >= watch_from_fen) | (lending >= watch_from_fen)
    size = financing + lending
    if top_clients and len(size):
        largest = np.argsort(-size, kind="stable")[:top_clients]
        chosen[largest[size[largest] > 0]] = True
    ids = exposure.client_ids
    clients = tuple(
        ClientExposure(ids[a], int(financing[a]), int(lending[a]))
        for a in np.flatnonzero(chosen).tolist()
    )
    security_lending = fen_up(exposure.security_short_li)
    columns = (
        exposure.financing_fen,
        security_lending,
        exposure.held_shares,
        exposure.financed_shares,
        exposure.short_shares,
    )
    exposed = np.flatnonzero(np.any(np.stack(columns) != 0, axis=0))
    securities = tuple(
        SecurityExposure(exposure.symbols[s], *(int(column[s]) for column in columns))
        for s in exposed.tolist()
    )
    # Python integers: totals over securities cannot overflow.
    total_lending_li = sum(exposure.security_short_li.tolist())
    return FirmExposures(
        financing_fen=sum(exposure.financing_fen.tolist()),
        lending_fen=-(-total_lending_li // LI_PER_FEN),
        clients=clients,
        securities=securities,
    )
