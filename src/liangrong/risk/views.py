"""Exact views of the risk arrays: the margin account of one client, its canonical
contents, and the whole book as bulk columns (for compaction).

Invariant: ``exact_account`` builds the account exactly as ``book.accounts.margin_account``
does from the same ledger balances (holdings = shares held less the shares backing open
financing, allotted oldest first; one position per open contract), at the valuation prices
and the firm's haircuts, with integers and ``Fraction``s only: what every decision reads;
plus the account's other collateral (``BookArrays.set_other_collateral``), which the ledger,
and so the book, does not hold.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from fractions import Fraction

import numpy as np

from liangrong.domain import margin
from liangrong.risk.book_arrays import BookArrays
from liangrong.risk.columns import IndexArray, IntArray
from liangrong.risk.layout import BookData, ContractData
from liangrong.risk.tables import BLOCK, BP, Financing, Shorts


@dataclass(frozen=True, slots=True)
class ClientState:
    """One client's exact contents, in canonical form (for comparisons and inspection)."""

    cash_fen: int
    charges_fen: int
    holdings: tuple[tuple[str, int], ...]  # (symbol, shares held), sorted
    financing: tuple[tuple[str, str, int, int, int, int], ...]  # id, symbol, backing, owed, ...
    shorts: tuple[tuple[str, str, int, int, int, int], ...]  # id, symbol, shares, sale, ...


def to_data(book: BookArrays) -> BookData:
    """The exact contents as bulk columns: non-empty slots, open contracts, the same
    account and security indices."""
    blocks, ns = book.blocks, book.blocks.n * BLOCK
    live = np.flatnonzero(blocks.qty[:ns] > 0)
    return BookData(
        client_ids=list(book.accounts.ids),
        symbols=list(book.securities.symbols),
        cash_fen=book.accounts.cash_fen[: book.accounts.n].copy(),
        position_account=blocks.owner[live // BLOCK],
        position_security=blocks.sec[live],
        position_quantity=blocks.qty[live],
        financing=_open_contracts(book.financing),
        shorts=_open_contracts(book.shorts),
    )


def compacted(book: BookArrays) -> BookArrays:
    """The same book in a fresh layout: no tail blocks beyond need, no closed contracts,
    indexes rebuilt.  Prices, rules, haircuts, their time and other collateral carry over."""
    fresh = BookArrays(to_data(book))
    old, new = book.securities, fresh.securities
    for name in ("market_li", "value_li", "value_f", "rule", "haircut_bp", "haircut_f"):
        getattr(new, name)[: new.n] = getattr(old, name)[: old.n]
    new.rule_names = list(old.rule_names)
    n = book.accounts.n  # the same accounts at the same indices
    fresh.accounts.other_collateral_fen[:n] = book.accounts.other_collateral_fen[:n]
    fresh.prices_at, fresh.version = book.prices_at, book.version + 1
    fresh.refresh_derived()
    fresh.refresh_bases()
    return fresh


def exact_account(book: BookArrays, a: int) -> margin.Account:
    """The account as the exact formulas take it, at the valuation prices: holdings are
    what is held less the shares backing financing (the book's decomposition)."""
    sec, fin, sh = book.securities, book.financing, book.shorts
    held = book.held(a)
    financed: dict[int, int] = {}
    financing = []
    for c in _rows_in_order(fin, book.financing_by_account.get(a)):
        if fin.outstanding[c] > 0 or fin.charges[c] > 0:
            s = int(fin.security[c])
            financed[s] = financed.get(s, 0) + int(fin.backing[c])
            financing.append(
                margin.FinancedPosition(
                    sec.symbols[s],
                    int(fin.backing[c]),
                    int(fin.outstanding[c]),
                    int(sec.value_li[s]),
                    _haircut(book, s),
                    Fraction(int(fin.ratio_bp[c]), BP),
                )
            )
    holdings = []
    for s, quantity in held.items():
        free = quantity - financed.get(s, 0)
        if free > 0:
            price = int(sec.value_li[s])
            holdings.append(margin.Holding(sec.symbols[s], free, price, _haircut(book, s)))
    holdings.sort(key=lambda h: h.security)
    shorts = tuple(
        margin.ShortPosition(
            sec.symbols[s := int(sh.security[c])],
            int(sh.outstanding[c]),
            int(sh.sale[c]),
            int(sec.value_li[s]),
            _haircut(book, s),
            Fraction(int(sh.ratio_bp[c]), BP),
        )
        for c in _rows_in_order(sh, book.shorts_by_account.get(a))
        if sh.outstanding[c] > 0
    )
    return margin.Account(
        cash_fen=int(book.accounts.cash_fen[a]),
        other_collateral_fen=int(book.accounts.other_collateral_fen[a]),
        interest_and_fees_fen=int(book.accounts.charges_fen[a]),
        holdings=tuple(holdings),
        financing=tuple(financing),
        shorts=shorts,
    )


def _haircut(book: BookArrays, s: int) -> Fraction:
    return Fraction(int(book.securities.haircut_bp[s]), BP)


def _rows_in_order(table: Financing | Shorts, rows: IndexArray) -> list[int]:
    return sorted(rows.tolist(), key=lambda c: (int(table.open[c]), table.ids[c]))


def client_state(book: BookArrays, client_id: str) -> ClientState:
    a = book.account_of(client_id)
    sec, fin, sh = book.securities, book.financing, book.shorts

    def contracts(
        table: Financing | Shorts, rows: Iterable[int], first: IntArray, second: IntArray
    ) -> tuple[tuple[str, str, int, int, int, int], ...]:
        return tuple(
            sorted(
                (
                    table.ids[c],
                    sec.symbols[int(table.security[c])],
                    int(first[c]),
                    int(second[c]),
                    int(table.charges[c]),
                    int(table.ratio_bp[c]),
                )
                for c in rows
                if table.outstanding[c] > 0 or table.charges[c] > 0
            )
        )

    f_rows, s_rows = book.financing_by_account.get(a), book.shorts_by_account.get(a)
    return ClientState(
        cash_fen=int(book.accounts.cash_fen[a]),
        charges_fen=int(book.accounts.charges_fen[a]),
        holdings=tuple(sorted((sec.symbols[s], q) for s, q in book.held(a).items())),
        financing=contracts(fin, f_rows.tolist(), fin.backing, fin.outstanding),
        shorts=contracts(sh, s_rows.tolist(), sh.outstanding, sh.sale),
    )


def _open_contracts(table: Financing | Shorts) -> ContractData:
    m = table.n
    rows = np.flatnonzero((table.outstanding[:m] > 0) | (table.charges[:m] > 0))
    none = np.zeros(len(rows), np.int64)
    return ContractData(
        account=table.account[rows],
        security=table.security[rows],
        ids=[table.ids[c] for c in rows.tolist()],
        outstanding=table.outstanding[rows],
        charges=table.charges[rows],
        ratio_bp=table.ratio_bp[rows],
        open=table.open[rows],
        price_li=table.price_li[rows],
        bought=table.bought[rows] if isinstance(table, Financing) else none,
        amount=table.amount[rows] if isinstance(table, Financing) else none,
    )
