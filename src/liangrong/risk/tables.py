"""The column tables behind ``BookArrays``: securities, accounts, holding blocks, contracts.

Units: money in fen, prices in li, quantities in shares, ratios and haircuts in basis points,
all ``int64`` and exact.  Float columns (``*_f`` and the precomputed factors) are derived
from them for the screening passes and rewritten whenever their sources change; nothing is
ever decided on them.

Invariant: every column of a table has the same capacity; rows past ``n`` are spare.  Index
columns whose "none" is -1 (a block's security and successor, an account's first block)
are set explicitly when a row is created, never left to the zero fill.
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from liangrong.risk.columns import FloatArray, IndexArray, IntArray, grown

BLOCK = 8  # holding slots per block: see book_arrays' docstring for the choice
BP = 10_000  # basis points per unit ratio
MARKET_RULE = "last_trade"  # valuation rule 0: the latest trade price


def _ints(n: int) -> IntArray:
    return np.zeros(n, dtype=np.int64)


def _index(n: int) -> IndexArray:
    return np.full(n, -1, dtype=np.intp)


def _floats(n: int) -> FloatArray:
    return np.zeros(n, dtype=np.float64)


class Table:
    """Rows ``[0, n)`` of equally sized columns, grown together by doubling."""

    COLUMNS: ClassVar[tuple[str, ...]] = ()

    def __init__(self) -> None:
        self.n = 0

    def ensure(self, rows: int) -> None:
        for name in self.COLUMNS:
            setattr(self, name, grown(getattr(self, name), rows))


class Securities(Table):
    """Security index <-> symbol; prices, valuation rule and haircut per security."""

    COLUMNS = ("market_li", "value_li", "value_f", "rule", "haircut_bp", "haircut_f")

    def __init__(self, symbols: list[str]) -> None:
        super().__init__()
        self.symbols = list(symbols)
        self.index = {symbol: i for i, symbol in enumerate(self.symbols)}
        if len(self.index) != len(self.symbols):
            raise ValueError("duplicate symbols")
        self.n = len(self.symbols)
        n = max(self.n, 1)  # never empty: an empty slot's security (-1) wraps to a real row
        self.market_li = _ints(n)  # the latest trade; 0 = none seen yet
        self.value_li = _ints(n)  # what the formulas use (= market unless a rule set it)
        self.value_f = _floats(n)
        self.rule = np.zeros(n, dtype=np.int16)  # index into ``rule_names``
        self.haircut_bp = _ints(n)
        self.haircut_f = _floats(n)
        self.rule_names = [MARKET_RULE]

    def add(self, symbol: str) -> int:
        found = self.index.get(symbol)
        if found is not None:
            return found
        s = self.n
        self.ensure(s + 1)
        self.symbols.append(symbol)
        self.index[symbol] = s
        self.n = s + 1
        return s


class Accounts(Table):
    """Account index <-> client id; cash, other collateral, charges and the
    price-independent sums."""

    COLUMNS = (
        "cash_fen",
        "other_collateral_fen",
        "charges_fen",
        "financing_fen",
        "short_sale_fen",
        "financing_margin_f",
        "base_assets_li",
        "base_debt_li",
        "base_available_li",
        "first_block",
    )

    def __init__(self, client_ids: list[str]) -> None:
        super().__init__()
        self.ids = list(client_ids)
        self.index = {client: i for i, client in enumerate(self.ids)}
        if len(self.index) != len(self.ids):
            raise ValueError("duplicate client ids")
        n = self.n = len(self.ids)
        self.cash_fen = _ints(n)  # free + locked short proceeds
        # Counted value of other collateral (RISK-9): in assets, not in available margin.
        self.other_collateral_fen = _ints(n)
        self.charges_fen = _ints(n)  # interest, fees and penalty owed, all contracts
        self.financing_fen = _ints(n)  # Σ principal outstanding
        self.short_sale_fen = _ints(n)  # Σ sale amount of the shares still owed
        self.financing_margin_f = _floats(n)  # Σ principal × margin ratio (screening)
        # What the screening pass adds the price-dependent sums to (see revaluation).
        self.base_assets_li = _floats(n)
        self.base_debt_li = _floats(n)
        self.base_available_li = _floats(n)
        self.first_block = _index(n)


class Blocks(Table):
    """Holding slots in blocks of ``BLOCK``; a block belongs to one account for good."""

    COLUMNS = ("owner", "next")
    SLOT_COLUMNS = ("sec", "qty", "qf", "qh")

    def __init__(self, capacity: int) -> None:
        super().__init__()
        self.n_ordered = 0  # blocks [0, n_ordered) are the first blocks of accounts in order
        self.owner = _index(capacity)
        self.next = _index(capacity)  # the account's next block, -1 at the end of the chain
        slots = capacity * BLOCK
        self.sec = _index(slots)  # -1: never used
        self.qty = _ints(slots)  # shares held (financed shares included), exact
        self.qf = _floats(slots)  # qty as float
        self.qh = _floats(slots)  # qty × haircut of sec, float

    def ensure(self, rows: int) -> None:
        old = len(self.owner)
        super().ensure(rows)
        for name in self.SLOT_COLUMNS:
            setattr(self, name, grown(getattr(self, name), len(self.owner) * BLOCK))
        if len(self.owner) > old:
            self.owner[old:] = -1
            self.next[old:] = -1
            self.sec[old * BLOCK :] = -1

    def new_block(self, owner: int) -> int:
        b = self.n
        self.ensure(b + 1)
        self.owner[b] = owner
        self.n = b + 1
        return b


class Contracts(Table):
    """Columns common to both kinds of contract."""

    COLUMNS: ClassVar[tuple[str, ...]] = (
        "account",
        "security",
        "outstanding",
        "charges",
        "ratio_bp",
        "open",
        "price_li",
    )

    def __init__(self) -> None:
        super().__init__()
        self.account = _index(0)
        self.security = _index(0)
        self.outstanding = _ints(0)  # fen (financing) or shares (short)
        self.charges = _ints(0)
        self.ratio_bp = _ints(0)
        self.open = _ints(0)  # open date as an ordinal: the allotment order
        self.price_li = _ints(0)  # the trade price at opening
        self.ids: list[str] = []
        self._by_id: dict[str, int] | None = None

    @property
    def by_id(self) -> dict[str, int]:
        """Each contract's row, by id: made on first use (an end of day builds the arrays
        of millions of contracts to value them, never to look one up), then kept in step
        by whoever appends a row."""
        if self._by_id is None:
            self._by_id = dict(zip(self.ids, range(len(self.ids)), strict=True))
        return self._by_id

    def identified(self, ids: list[str], known_unique: bool = False) -> None:
        """These rows' ids (unique: refused otherwise, unless ``known_unique``), the index
        by id to be made anew."""
        if not known_unique and len(set(ids)) != len(ids):
            raise ValueError("duplicate contract ids")
        self.ids, self._by_id = ids, None


class Financing(Contracts):
    COLUMNS = (*Contracts.COLUMNS, "bought", "amount", "backing", "bh", "ah")

    def __init__(self) -> None:
        super().__init__()
        self.bought = _ints(0)  # shares bought at opening
        self.amount = _ints(0)  # principal at opening, fen
        self.backing = _ints(0)  # shares still backing the contract (allotted)
        self.bh = _floats(0)  # (1 - haircut) × backing
        self.ah = _floats(0)  # (1 - haircut) × outstanding, li


class Shorts(Contracts):
    COLUMNS = (*Contracts.COLUMNS, "sale", "q", "a1", "b1", "a2", "b2")

    def __init__(self) -> None:
        super().__init__()
        self.sale = _ints(0)  # sale amount of the shares still owed, fen (half-up)
        # Factors of the available-margin term  min(a1 − b1·p, a2 − b2·p)  (revaluation).
        self.q = _floats(0)
        self.a1 = _floats(0)
        self.b1 = _floats(0)
        self.a2 = _floats(0)
        self.b2 = _floats(0)
