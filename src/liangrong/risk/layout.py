"""Bulk construction of the risk arrays from column data (a store load or a generator).

Invariants of the result (checked or constructed here):
- one position row per (account, security), quantity > 0; contract ids unique per kind;
- accounts present here own the block of their own index; overflow blocks follow in
  account order, chained;
- backing shares are allotted per (account, security) oldest first, by
  ``min(max(held − Σ earlier needs, 0), need)`` with ``need = ceil(bought × owed ÷
  principal)``, which is the sequential ``min(left, need)`` of the book in closed form;
- every integer product is computed exactly: in int64 where it provably fits, else with
  Python integers.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from itertools import islice
from operator import le

import numpy as np

from liangrong.risk.columns import IndexArray, IntArray, RowIndex
from liangrong.risk.tables import (
    BLOCK,
    Accounts,
    Blocks,
    Contracts,
    Financing,
    Securities,
    Shorts,
)

_SAFE = float(2**62)  # a float product below this cannot overflow int64 once exact


@dataclass(slots=True)
class ContractData:
    """Open contracts of one kind as columns.  ``outstanding``: fen (financing) or shares
    (short); ``bought``/``amount`` (shares bought, principal at opening) for financing."""

    account: IndexArray
    security: IndexArray
    ids: list[str]
    outstanding: IntArray
    charges: IntArray
    ratio_bp: IntArray
    open: IntArray  # date ordinals
    price_li: IntArray
    bought: IntArray = field(default_factory=lambda: np.zeros(0, np.int64))
    amount: IntArray = field(default_factory=lambda: np.zeros(0, np.int64))
    # what is known of the ids, not part of the columns' value: unique (taken at distinct
    # rows of a table whose ids are), so not checked again as the arrays are built
    ids_unique: bool = field(default=False, compare=False)

    @staticmethod
    def empty() -> ContractData:
        none, ints = np.zeros(0, np.intp), np.zeros(0, np.int64)
        return ContractData(none, none, [], ints, ints, ints, ints, ints, ints, ints)


@dataclass(slots=True)
class BookData:
    """The book as columns: what a bulk load reads and a generator writes."""

    client_ids: list[str]
    symbols: list[str]
    cash_fen: IntArray  # per account: free + locked
    position_account: IndexArray
    position_security: IndexArray
    position_quantity: IntArray
    financing: ContractData
    shorts: ContractData

    @staticmethod
    def empty() -> BookData:
        """No accounts yet: the arrays then learn everything from ``apply``."""
        none, ints = np.zeros(0, np.intp), np.zeros(0, np.int64)
        return BookData([], [], ints, none, none, ints, ContractData.empty(), ContractData.empty())


@dataclass(slots=True)
class Layout:
    securities: Securities
    accounts: Accounts
    blocks: Blocks
    financing: Financing
    shorts: Shorts
    slots_by_security: RowIndex
    financing_by_security: RowIndex
    shorts_by_security: RowIndex
    financing_by_account: RowIndex
    shorts_by_account: RowIndex


def exact_product(a: IntArray, b: IntArray) -> list[int] | IntArray:
    """a × b element-wise, exactly: int64 when every product fits, else Python integers."""
    if len(a) == 0 or float(np.max(np.abs(a.astype(np.float64) * b))) < _SAFE:
        return a * b
    return [x * y for x, y in zip(a.tolist(), b.tolist(), strict=True)]


def ceil_div(numerator: list[int] | IntArray, denominator: IntArray) -> IntArray:
    if isinstance(numerator, np.ndarray):
        return -(-numerator // denominator)
    return np.asarray(
        [-(-x // y) for x, y in zip(numerator, denominator.tolist(), strict=True)], np.int64
    )


def build(data: BookData) -> Layout:
    securities = Securities(data.symbols)
    accounts = Accounts(data.client_ids)
    accounts.cash_fen[:] = data.cash_fen
    blocks = _blocks(data, accounts)
    financing, shorts = Financing(), Shorts()
    _contracts(financing, data.financing, len(data.symbols))
    _contracts(shorts, data.shorts, len(data.symbols))
    np.add.at(
        accounts.charges_fen, financing.account[: financing.n], financing.charges[: financing.n]
    )
    np.add.at(accounts.charges_fen, shorts.account[: shorts.n], shorts.charges[: shorts.n])
    _allot(financing, data)
    m = shorts.n
    shorts.sale[:m] = (
        np.asarray(exact_product(shorts.price_li[:m], shorts.outstanding[:m])) + 5
    ) // 10
    for table in (financing, shorts):  # an unquoted security starts at its trade price
        rows = table.security[: table.n]
        unpriced = securities.value_li[rows] == 0
        securities.value_li[rows[unpriced]] = table.price_li[: table.n][unpriced]
    securities.value_f[:] = securities.value_li
    slots = np.flatnonzero(blocks.qty[: blocks.n * BLOCK] > 0).astype(np.intp)
    n_sec, n_acc = securities.n, accounts.n
    return Layout(
        securities,
        accounts,
        blocks,
        financing,
        shorts,
        RowIndex(blocks.sec[slots], slots, n_sec),
        RowIndex(financing.security[: financing.n], np.arange(financing.n, dtype=np.intp), n_sec),
        RowIndex(shorts.security[: shorts.n], np.arange(shorts.n, dtype=np.intp), n_sec),
        RowIndex(financing.account[: financing.n], np.arange(financing.n, dtype=np.intp), n_acc),
        RowIndex(shorts.account[: shorts.n], np.arange(shorts.n, dtype=np.intp), n_acc),
    )


def _blocks(data: BookData, accounts: Accounts) -> Blocks:
    n = accounts.n
    order = np.argsort(data.position_account, kind="stable")
    pa = data.position_account[order].astype(np.intp)
    ps = data.position_security[order].astype(np.intp)
    pq = data.position_quantity[order]
    if len(pq) and int(pq.min()) <= 0:
        raise ValueError("positions must have a positive quantity")
    keys = np.sort(pa.astype(np.int64) * max(len(data.symbols), 1) + ps)
    if np.any(keys[1:] == keys[:-1]):  # sort, not np.unique: its hash path is 10x slower
        raise ValueError("one position row per (account, security)")
    counts = np.bincount(pa, minlength=n)
    starts = np.zeros(n, dtype=np.intp)
    np.cumsum(counts[:-1], out=starts[1:])
    extra = np.maximum(-(-counts // BLOCK) - 1, 0)
    extra_start = np.zeros(n, dtype=np.intp)
    np.cumsum(extra[:-1], out=extra_start[1:])
    extra_start += n
    total = n + int(extra.sum())
    blocks = Blocks(total)
    blocks.n, blocks.n_ordered = total, n
    blocks.owner[:n] = np.arange(n)
    tail_owner = np.repeat(np.arange(n, dtype=np.intp), extra)
    blocks.owner[n:total] = tail_owner
    tail = np.arange(n, total, dtype=np.intp)
    has_next = tail - extra_start[tail_owner] < extra[tail_owner] - 1
    blocks.next[n:total] = np.where(has_next, tail + 1, -1)
    first_tail = extra > 0
    blocks.next[:n][first_tail] = extra_start[first_tail]
    rank = np.arange(len(pa), dtype=np.intp) - starts[pa]
    block = np.where(rank < BLOCK, pa, extra_start[pa] + rank // BLOCK - 1)
    slot = block * BLOCK + rank % BLOCK
    blocks.sec[slot] = ps
    blocks.qty[slot] = pq
    accounts.first_block[:n] = np.arange(n)
    return blocks


def _contracts(table: Contracts, data: ContractData, n_securities: int) -> None:
    m = len(data.ids)
    table.ensure(m)
    table.n = m
    table.account[:m], table.security[:m] = data.account, data.security
    table.outstanding[:m], table.charges[:m] = data.outstanding, data.charges
    table.ratio_bp[:m], table.open[:m], table.price_li[:m] = data.ratio_bp, data.open, data.price_li
    if isinstance(table, Financing):
        table.bought[:m], table.amount[:m] = data.bought, data.amount
    table.identified(list(data.ids), known_unique=data.ids_unique)
    if m and (int(data.security.max()) >= n_securities or int(data.security.min()) < 0):
        raise ValueError("contract security out of range")


def _allot(fin: Financing, data: BookData) -> None:
    """Backing shares of every financing contract, vectorised (see the module docstring)."""
    m = fin.n
    if m == 0:
        return
    n_sec = max(len(data.symbols), 1)
    need = ceil_div(exact_product(fin.bought[:m], fin.outstanding[:m]), fin.amount[:m])
    pos_keys = data.position_account.astype(np.int64) * n_sec + data.position_security
    by_key = np.argsort(pos_keys)
    sorted_keys = pos_keys[by_key]
    keys = fin.account[:m].astype(np.int64) * n_sec + fin.security[:m]
    at = np.minimum(np.searchsorted(sorted_keys, keys), max(len(sorted_keys) - 1, 0))
    found = sorted_keys[at] == keys if len(sorted_keys) else np.zeros(m, bool)
    held = np.where(found, data.position_quantity[by_key][at] if len(sorted_keys) else 0, 0)
    id_rank = _id_ranks(fin.ids[:m])
    order = np.lexsort((id_rank, fin.open[:m], keys))
    k, nd, h = keys[order], need[order], held[order]
    running = np.cumsum(nd)
    group_start = np.ones(m, dtype=bool)
    group_start[1:] = k[1:] != k[:-1]
    first = np.maximum.accumulate(np.where(group_start, np.arange(m), 0))
    before = running - nd - (running[first] - nd[first])  # Σ needs of earlier contracts
    fin.backing[order] = np.minimum(np.maximum(h - before, 0), nd)


def _id_ranks(ids: list[str]) -> IntArray:
    """Each id's rank in id order (ids unique).  A store reads contracts in opening order,
    which is usually id order already: checked in one pass in C, then no sort."""
    if all(map(le, ids, islice(ids, 1, None))):
        return np.arange(len(ids), dtype=np.int64)
    ranks = np.empty(len(ids), dtype=np.int64)
    ranks[sorted(range(len(ids)), key=ids.__getitem__)] = np.arange(len(ids))
    return ranks
