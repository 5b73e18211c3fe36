"""Full and incremental revaluation of every account over ``BookArrays`` (RISK-1, RISK-3).

Per account (li; 10 li = 1 fen), with H the shares held per security (financed included),
b the shares backing a financing contract, h the haircut, r the margin ratio, p the
valuation price:

    assets    = cash + other collateral + Σ H·p
    debt      = Σ principal owed + Σ short shares·p + charges
    available = cash − charges − Σ owed·(1 + r_f) − Σ short sale
                + Σ H·p·h + Σ_f (1 − h)·min(b·p, owed) + Σ_s [min(fl, h·fl) − r_s·q·p]

with fl = sale − q·p.  This is the exchange formula of ``domain.margin.available_margin``
rearranged (collateral counts H − b at haircut; a financed position's floating result at
haircut when a profit, in full when a loss, less its margin, is (1 − h)·min(b·p, owed) −
owed·(1 + r) − b·p·h), so that only the three price-dependent sums need a pass.  Other
collateral (RISK-9) is price-independent: it sits in the account's base assets, so the full
and the incremental pass both count it at no cost, and it is not in the available margin.

Floats screen and display, never decide.  Why the ratio is trustworthy as a screen: every
term of assets and debt is a non-negative whole number of li, exact in float64 below 2^53
li (9×10^12 yuan), and sums of such integers are exact, so for any real account the float
ratio is the correctly rounded exact ratio; beyond that, sums of non-negative terms carry a
relative error of a few ulps per term.  ``statuses`` confirms near the lines exactly.

Invariants:
- ``full`` recomputes every price-dependent sum from the arrays; ``incremental`` adds, for
  the securities that moved, (new − old price) × what each holder holds, and recomputes the
  per-contract terms of those securities; ``refresh`` recomputes the accounts a transaction
  touched.  After any sequence of them the sums equal a fresh ``full`` (tests check it);
- every ``Figures`` carries the time of the prices it used and the book version.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import numpy as np

from liangrong.risk.book_arrays import BookArrays, PriceMoves
from liangrong.risk.columns import EMPTY_INDEX, FloatArray, IndexArray, distinct, grown
from liangrong.risk.tables import BLOCK


def _sum_by(index: IndexArray, weights: FloatArray, n: int) -> FloatArray:
    """Σ weights per index as float64 (``np.bincount`` gives int64 when there are none)."""
    if len(index) == 0:
        return np.zeros(n)
    sums: FloatArray = np.bincount(index, weights, minlength=n).astype(np.float64, copy=False)
    return sums


@dataclass(frozen=True, slots=True)
class Figures:
    """Float figures of some accounts at one price time; for screening and display."""

    prices_at: datetime | None  # the time of the prices used; None: no snapshot yet
    version: int  # the book version they were computed at
    accounts: IndexArray | None  # account indices; None: all accounts 0..n-1 in order
    assets_li: FloatArray
    debt_li: FloatArray
    ratio: FloatArray  # maintenance ratio; inf where there is no debt
    available_li: FloatArray  # available margin (negative: no new business)

    def __len__(self) -> int:
        return len(self.ratio)

    def account_indices(self) -> IndexArray:
        if self.accounts is None:
            return np.arange(len(self.ratio), dtype=np.intp)
        return self.accounts


class Revaluer:
    """The price-dependent sums of every account, and figures derived from them."""

    def __init__(self, book: BookArrays) -> None:
        self.book = book
        self._gathered: FloatArray = np.zeros(0)  # scratch: the price of every slot
        self._stamp: IndexArray = np.zeros(0, dtype=np.intp)
        # Per account: Σ H·p, Σ H·p·h, Σ short q·p, Σ short term, Σ financing term.
        self.held_value: FloatArray = np.zeros(0)
        self.held_collateral: FloatArray = np.zeros(0)
        self.short_value: FloatArray = np.zeros(0)
        self.short_terms: FloatArray = np.zeros(0)
        self.financing_terms: FloatArray = np.zeros(0)
        # Per contract: its current term (and a short's value), for incremental deltas.
        self.financing_term: FloatArray = np.zeros(0)
        self.short_term: FloatArray = np.zeros(0)
        self.short_current: FloatArray = np.zeros(0)
        self.full()

    # -- full ------------------------------------------------------------------------------
    def full(self) -> Figures:
        """Revalue every account from the valuation prices."""
        book = self.book
        n, price, blocks = book.n_accounts, book.securities.value_f, book.blocks
        nb, k = blocks.n, blocks.n_ordered
        ns = nb * BLOCK
        if len(self._gathered) < ns:
            self._gathered = np.empty(ns + ns // 4)
        gathered = self._gathered[:ns]
        # One gather of the price of every slot, then two row sums over the blocks.  Empty
        # slots (security -1) wrap to some price and add 0 × price.
        np.take(price, blocks.sec[:ns], out=gathered, mode="wrap")
        matrix = gathered.reshape(nb, BLOCK)
        by_block = np.einsum("ij,ij->i", blocks.qf[:ns].reshape(nb, BLOCK), matrix)
        by_block_h = np.einsum("ij,ij->i", blocks.qh[:ns].reshape(nb, BLOCK), matrix)
        tail_owner = blocks.owner[k:nb]
        self.held_value = _sum_by(tail_owner, by_block[k:], n)
        self.held_value[:k] += by_block[:k]
        self.held_collateral = _sum_by(tail_owner, by_block_h[k:], n)
        self.held_collateral[:k] += by_block_h[:k]

        fin, m = book.financing, book.financing.n
        self.financing_term = grown(self.financing_term, m)
        term = self.financing_term[:m]
        np.take(price, fin.security[:m], out=term)
        np.multiply(term, fin.bh[:m], out=term)
        np.minimum(term, fin.ah[:m], out=term)
        self.financing_terms = _sum_by(fin.account[:m], term, n)

        sh, m = book.shorts, book.shorts.n
        self.short_current = grown(self.short_current, m)
        self.short_term = grown(self.short_term, m)
        p = price[sh.security[:m]]
        current = np.multiply(sh.q[:m], p, out=self.short_current[:m])
        np.minimum(sh.a1[:m] - sh.b1[:m] * p, sh.a2[:m] - sh.b2[:m] * p, out=self.short_term[:m])
        self.short_value = _sum_by(sh.account[:m], current, n)
        self.short_terms = _sum_by(sh.account[:m], self.short_term[:m], n)
        return self.figures(None)

    # -- incremental -------------------------------------------------------------------------
    def incremental(self, moves: PriceMoves) -> Figures:
        """Revalue only the holders (and short sellers) of the securities that moved."""
        self._grow()
        book = self.book
        if len(moves.securities) == 0:
            return self.figures(EMPTY_INDEX)
        price = book.securities.value_f
        moved = moves.securities.tolist()
        change = np.zeros(book.securities.n)
        change[moves.securities] = price[moves.securities] - moves.previous_f

        blocks = book.blocks
        slots, source = book.slots_by_security.gather(moved)
        live = blocks.sec[slots] == source  # a reused slot may hold another security now
        slots, step = slots[live], change[source[live]]
        owners = blocks.owner[slots // BLOCK]
        np.add.at(self.held_value, owners, blocks.qf[slots] * step)
        np.add.at(self.held_collateral, owners, blocks.qh[slots] * step)

        fin = book.financing
        rows, source = book.financing_by_security.gather(moved)
        fin_accounts = fin.account[rows]
        term = np.minimum(fin.bh[rows] * price[source], fin.ah[rows])
        np.add.at(self.financing_terms, fin_accounts, term - self.financing_term[rows])
        self.financing_term[rows] = term

        sh = book.shorts
        rows, source = book.shorts_by_security.gather(moved)
        short_accounts = sh.account[rows]
        p = price[source]
        current = sh.q[rows] * p
        term = np.minimum(sh.a1[rows] - sh.b1[rows] * p, sh.a2[rows] - sh.b2[rows] * p)
        np.add.at(self.short_value, short_accounts, current - self.short_current[rows])
        np.add.at(self.short_terms, short_accounts, term - self.short_term[rows])
        self.short_current[rows], self.short_term[rows] = current, term

        touched = np.concatenate([owners, fin_accounts, short_accounts])
        return self.figures(distinct(touched, self._stamp))

    # -- after transactions --------------------------------------------------------------
    def refresh(self, accounts: Sequence[int]) -> Figures:
        """Recompute the sums of these accounts from the arrays (after ``book.apply``)."""
        self._grow()
        book = self.book
        index = np.asarray(accounts, dtype=np.intp)
        if len(index) == 0:
            return self.figures(EMPTY_INDEX)
        price, blocks = book.securities.value_f, book.blocks
        parts = [book.slots_of(a) for a in accounts]
        slots = np.concatenate(parts)
        owners = np.repeat(index, [len(p) for p in parts])
        values = np.take(price, blocks.sec[slots], mode="wrap")
        for sums, quantity in ((self.held_value, blocks.qf), (self.held_collateral, blocks.qh)):
            sums[index] = 0.0
            np.add.at(sums, owners, quantity[slots] * values)

        fin = book.financing
        rows = np.concatenate([book.financing_by_account.get(a) for a in accounts])
        term = np.minimum(fin.bh[rows] * price[fin.security[rows]], fin.ah[rows])
        self.financing_term[rows] = term
        self.financing_terms[index] = 0.0
        np.add.at(self.financing_terms, fin.account[rows], term)

        sh = book.shorts
        rows = np.concatenate([book.shorts_by_account.get(a) for a in accounts])
        p = price[sh.security[rows]]
        self.short_current[rows] = current = sh.q[rows] * p
        self.short_term[rows] = term = np.minimum(
            sh.a1[rows] - sh.b1[rows] * p, sh.a2[rows] - sh.b2[rows] * p
        )
        self.short_value[index] = 0.0
        self.short_terms[index] = 0.0
        np.add.at(self.short_value, sh.account[rows], current)
        np.add.at(self.short_terms, sh.account[rows], term)
        return self.figures(index)

    def _grow(self) -> None:
        """Room for accounts and contracts the book added since the last pass."""
        book = self.book
        n = book.n_accounts
        for name in (
            "held_value",
            "held_collateral",
            "short_value",
            "short_terms",
            "financing_terms",
        ):
            setattr(self, name, grown(getattr(self, name), n))
        self._stamp = grown(self._stamp, n)
        self.financing_term = grown(self.financing_term, book.financing.n)
        self.short_term = grown(self.short_term, book.shorts.n)
        self.short_current = grown(self.short_current, book.shorts.n)

    # -- figures ---------------------------------------------------------------------------
    def figures(self, accounts: IndexArray | None) -> Figures:
        """Figures of these accounts (None: all) from the current sums."""
        book, acc = self.book, self.book.accounts
        n = book.n_accounts
        pick: slice | IndexArray = slice(0, n) if accounts is None else accounts
        assets = acc.base_assets_li[pick] + self.held_value[pick]
        debt = acc.base_debt_li[pick] + self.short_value[pick]
        ratio = np.full(len(debt), np.inf)
        np.divide(assets, debt, out=ratio, where=debt > 0)
        available = self.held_collateral[pick] + self.financing_terms[pick]
        available += self.short_terms[pick]
        available += acc.base_available_li[pick]
        return Figures(book.prices_at, book.version, accounts, assets, debt, ratio, available)
