"""The projections read in bulk as columns, for the steps that walk the whole book (millions
of rows): every contract with its opening terms, and every balance of the clients' debt
accounts.  The end of day reads each once and lets its steps share the reading while it
stands for the ledger (``eod.context``).

Invariants: read only, plain DBAPI rows (no SQLAlchemy row objects), each column one entry
per row in the order the store returned them;
- a ``ContractTable`` holds every contract of the projection in the table's own order
  (opening order on SQLite), as ``projections.contract_fields`` reads them.  A contract's
  terms never change once written and contracts are only ever added (by the posting that
  opens one), so a table read once stands for the projection for as long as the projection
  holds as many contracts (``contract_count``);
- a ``DebtRows`` holds every balance row of the clients' debt accounts (``client:…``, a range
  of the balances' key; zero balances included) in the key's order, each account's name cut
  into its client, side and contract: it stands for the ledger until the next transaction is
  posted (``journal.last_seq``).  The key's order is the names' code points on SQLite (its
  binary collation); on PostgreSQL, the database's collation.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from functools import cached_property
from itertools import compress, pairwise, repeat
from operator import itemgetter
from typing import Any, TypeVar

import numpy as np
import numpy.typing as npt
from sqlalchemy import Connection, func, select

from liangrong.domain import accounts as acc
from liangrong.ledger import schema as s
from liangrong.ledger.projections import contract_fields

# what the end of day's readers take from the opening terms: all the table copies
TERM_FIELDS = s.CONTRACT_TERM_COLUMNS
_KEYS = ("ids", "clients", "kinds", "securities")
T = TypeVar("T")


@dataclass(frozen=True)
class ContractTable:
    """Every contract: its keys and its ``TERM_FIELDS`` as read (ints, texts), by column."""

    ids: list[str]
    clients: list[str]
    kinds: list[str]  # ``ContractKind`` values
    securities: list[str]
    terms: dict[str, list[Any]]  # by field of ``TERM_FIELDS`` (or those asked for)

    @property
    def size(self) -> int:
        return len(self.ids)

    @cached_property
    def row_of(self) -> dict[str, int]:
        """Each contract's row, by its id (read only: one map shared by every reader); a
        table whose ids repeat has none (the projection's key: never for a sound store)."""
        return _unique_index(dict(zip(self.ids, range(self.size), strict=True)), self.size)

    @property
    def ids_unique(self) -> bool:
        """The ids are known to be unique: the index of rows was made (one entry a row)."""
        return "row_of" in vars(self)

    def securities_by_id(self) -> SecuritiesById:
        """Each contract's security by its id, through the index of rows (no map of its
        own: millions of entries a day)."""
        return SecuritiesById(self)

    def term_at(self, name: str, rows: Sequence[int], convert: Callable[[Any], T]) -> list[T]:
        """Term ``name`` of the contracts at ``rows``, each distinct value converted once
        (a book's millions of contracts share a few ratios and dates)."""
        values = list(map(self.terms[name].__getitem__, rows))
        once = {value: convert(value) for value in set(values)}
        return list(map(once.__getitem__, values))

    def ints_at(self, name: str, rows: Sequence[int]) -> Ints:
        """Integer term ``name`` of the contracts at ``rows`` (each converted by ``int`` as
        numpy gathers it: amounts and quantities are mostly distinct, so converting each
        distinct value once, as ``term_at`` does, would only cost a set and a map)."""
        return np.fromiter(map(self.terms[name].__getitem__, rows), np.int64, len(rows))

    def days_at(self, name: str, rows: Sequence[int]) -> Ints:
        """Date term ``name`` (its ISO text) of the contracts at ``rows`` as day ordinals,
        each distinct date parsed once."""
        days = self.term_at(name, rows, lambda text: date.fromisoformat(str(text)).toordinal())
        return np.fromiter(days, np.int64, len(days))

    def followed_by(self, later: ContractTable) -> ContractTable:
        """This table with ``later``'s contracts after its own (the same term fields)."""
        assert list(later.terms) == list(self.terms), "the same term fields"
        table = ContractTable(
            ids=self.ids + later.ids,
            clients=self.clients + later.clients,
            kinds=self.kinds + later.kinds,
            securities=self.securities + later.securities,
            terms={name: column + later.terms[name] for name, column in self.terms.items()},
        )
        if "row_of" in vars(self):  # this table's rows keep their places: theirs follow
            row_of = dict(self.row_of)
            row_of.update(zip(later.ids, range(self.size, table.size), strict=True))
            vars(table)["row_of"] = _unique_index(row_of, table.size)  # ``cached_property``'s
        return table


class SecuritiesById(Mapping[str, str]):
    """A table's contracts' securities by id, each looked up through the table's index of
    rows (``ContractTable.row_of``); ``of_each`` places many at once, in C."""

    def __init__(self, table: ContractTable) -> None:
        self._table = table

    def __getitem__(self, contract_id: str) -> str:
        return self._table.securities[self._table.row_of[contract_id]]

    def __contains__(self, contract_id: object) -> bool:
        return contract_id in self._table.row_of

    def __iter__(self) -> Iterator[str]:
        return iter(self._table.ids)

    def __len__(self) -> int:
        return self._table.size

    def of_each(self, contract_ids: Sequence[str]) -> list[str | None]:
        """Each contract's security, in order; None for one the table does not hold."""
        rows = list(map(self._table.row_of.get, contract_ids, repeat(-1)))
        found: list[str | None] = list(map(self._table.securities.__getitem__, rows))
        for at in compress(range(len(rows)), map((-1).__eq__, rows)):
            found[at] = None  # row -1 read the last contract's
        return found


def _unique_index(index: dict[str, int], size: int) -> dict[str, int]:
    if len(index) != size:
        raise ValueError(f"contract ids repeat: {size} rows, {len(index)} ids")
    return index


def contract_count(conn: Connection) -> int:
    """How many contracts the projection holds (a ``ContractTable``'s key)."""
    return int(conn.execute(select(func.count()).select_from(s.contracts)).scalar_one())


def load_contract_table(
    conn: Connection, fields: Sequence[str] = TERM_FIELDS, opened: tuple[int, int] | None = None
) -> ContractTable:
    """Every contract of the projection (``ContractTable``) with ``fields`` of its terms (by
    default ``TERM_FIELDS``, what the end of day's readers take), in one scan; ``opened``:
    only those opened after the first journal seq, up to the second."""
    columns: list[list[Any]] = [[] for _ in range(len(_KEYS) + len(fields))]
    for batch in contract_fields(conn, fields, opened):  # turned into columns batch by batch: the
        for column, values in zip(columns, zip(*batch, strict=True), strict=True):
            column.extend(values)  # millions of rows are never held as rows at once
    keys, terms = columns[: len(_KEYS)], columns[len(_KEYS) :]
    return ContractTable(
        ids=[str(cid) for cid in keys[0]],
        clients=keys[1],
        kinds=keys[2],
        securities=keys[3],
        terms=dict(zip(fields, terms, strict=True)),
    )


# The chart's debt accounts, ``client:{client}:{side}:{contract}``; ids hold no colon.
DEBT_PREFIX = acc.financing_debt("c", "k").split(":")[0] + ":"
FINANCING_SIDE = acc.financing_debt("c", "k").split(":")[2]
SHORT_SIDE = acc.short_debt("c", "k").split(":")[2]
CHARGES_SIDE = acc.charges_debt("c", "k").split(":")[2]
PRINCIPAL_SIDES = frozenset({FINANCING_SIDE, SHORT_SIDE})
_NOT_A_DEBT = ("", "", "", "")

Ints = npt.NDArray[np.int64]
Change = tuple[str, str, int]  # (account, asset, amount moved)
_INT64 = (-(2**63), 2**63 - 1)


@dataclass(frozen=True)
class DebtRows:
    """The balances of the clients' debt accounts by column (a debt is a negative amount)."""

    accounts: Sequence[str]
    assets: Sequence[str]
    amounts: Sequence[int]
    clients: Sequence[str]
    sides: Sequence[str]  # ``FINANCING_SIDE``, ``SHORT_SIDE``, ``CHARGES_SIDE``; '' for none
    contracts: Sequence[str]

    @property
    def size(self) -> int:
        return len(self.accounts)

    def with_charges_added(
        self,
        contracts: Sequence[str],
        amounts_fen: Sequence[int],
        clients: Sequence[str] | None = None,
    ) -> DebtRows | None:
        """These rows once ``amounts_fen`` more charges are owed on ``contracts``' charges
        accounts (the only postings since they were read), or None when they cannot be
        advanced, so that the rows are read again instead.  A contract's first charges make
        a new balance row, whose place is the store's order of the names: with ``clients``
        (each contract's client), given only when that order is the names' code-point order
        (SQLite's), the new rows are merged in at their places (``_with_new_rows``); without
        them, such a contract means None.  Amounts are worked out as the store's own 64-bit
        integers (None beyond them)."""
        assert len(set(contracts)) == len(contracts) == len(amounts_fen), "one amount each"
        assert clients is None or len(clients) == len(contracts), "one client each"
        is_charges = list(map(CHARGES_SIDE.__eq__, self.sides))
        rows = list(compress(range(self.size), is_charges))
        row_of = dict(zip(compress(self.contracts, is_charges), rows, strict=True))
        cash = all(map(acc.CASH_ASSET.__eq__, compress(self.assets, is_charges)))
        if len(row_of) != len(rows) or not cash:
            return None  # never for the chart's charges accounts: one cash row each
        try:
            added = np.fromiter(amounts_fen, np.int64, len(amounts_fen))
        except OverflowError:
            return None
        if (added < 0).any():
            return None  # charges are owed, never given back
        rows_of = map(row_of.get, contracts, repeat(-1))  # -1: no charges row yet
        where = np.fromiter(rows_of, np.intp, len(contracts))
        known = where >= 0
        amounts = np.fromiter(self.amounts, np.int64, self.size)
        if (amounts[where[known]] < np.iinfo(np.int64).min + added[known]).any():
            return None  # never beyond 64 bits
        amounts[where[known]] -= added[known]  # a debt is a negative balance
        if known.all():
            return DebtRows(
                self.accounts, self.assets, tuple(amounts.tolist()), self.clients, self.sides,
                self.contracts,
            )  # fmt: skip
        if clients is None:
            return None  # some contract's first charges (a whole book's, on the first day)
        fresh = ~known
        if not added[fresh].all():
            return None  # nothing posted makes no row: such a contract has none
        return self._with_new_rows(
            amounts,
            list(compress(contracts, fresh.tolist())),
            list(compress(clients, fresh.tolist())),
            (-added[fresh]).tolist(),
        )

    def with_changes(self, changes: Sequence[Change], code_points: bool) -> DebtRows | None:
        """These rows once each balance of ``changes`` has moved by its amount, or None when
        that cannot be worked out here, so that the rows are read again.  ``changes``: the
        sums by (account, asset) of the postings to the debt accounts since the rows were
        read, every key posted among them, even one summing to nothing (the store keeps a
        row for every key ever posted).  A key the rows lack takes the place the store's
        order gives it: known here only where that order is the keys' code points
        (``code_points``, SQLite's); otherwise such a key means None.  Amounts beyond the
        store's 64-bit integers mean None too."""
        if not changes:
            return self
        ordered = sorted(changes)
        assert all(a[:2] < b[:2] for a, b in pairwise(ordered)), "one change per key"
        amounts = list(self.amounts)
        where = self._places(ordered, code_points)
        if where is None:
            return None
        inserted: list[tuple[int, str, str, int]] = []
        for (account, asset, moved), (row, held) in zip(ordered, where, strict=True):
            balance = amounts[row] + moved if held else moved
            if not _INT64[0] <= balance <= _INT64[1]:
                return None
            if held:
                amounts[row] = balance
            else:
                inserted.append((row, account, asset, balance))
        return self._with_inserted(amounts, inserted)

    def _places(
        self, ordered: Sequence[Change], code_points: bool
    ) -> list[tuple[int, bool]] | None:
        """Each change's row (and whether the rows hold its key), or where its new row goes
        (None: not known here).  Rows in code-point order (``code_points``: as SQLite's
        binary collation returns them, which the caller vouches for) are searched by
        bisection; in another order only keys they hold are found."""
        accounts, assets = self.accounts, self.assets
        if not code_points:
            row_of = {key: row for row, key in enumerate(zip(accounts, assets, strict=True))}
            rows = [row_of.get((account, asset)) for account, asset, _ in ordered]
            if None in rows:
                return None
            return [(row, True) for row in rows if row is not None]
        places: list[tuple[int, bool]] = []
        for account, asset, _ in ordered:
            row = bisect_left(accounts, account)
            while row < self.size and accounts[row] == account and assets[row] < asset:
                row += 1
            held = row < self.size and accounts[row] == account and assets[row] == asset
            places.append((row, held))
        return places

    def _with_inserted(
        self, amounts: list[int], inserted: Sequence[tuple[int, str, str, int]]
    ) -> DebtRows | None:
        """These rows with ``amounts``, and a new row before each ``inserted`` row position
        (ascending) for its (account, asset, balance), or None if a new name is not one of
        the chart's debt accounts."""
        if not inserted:
            return DebtRows(
                self.accounts, self.assets, tuple(amounts), self.clients, self.sides,
                self.contracts,
            )  # fmt: skip
        positions, names, assets, balances = zip(*inserted, strict=True)
        _, clients, sides, contracts = _name_parts(names)
        if "" in sides:
            return None
        size = self.size
        order = np.insert(np.arange(size), positions, np.arange(size, size + len(names)))
        new = DebtRows(names, assets, balances, clients, sides, contracts)
        return self._merged(amounts, order, new)

    def _merged(
        self, amounts: Sequence[int], order: npt.NDArray[np.intp], new: DebtRows
    ) -> DebtRows:
        """These rows (``amounts`` their balances) and ``new``'s, in ``order``: positions in
        the two one after the other (this one's rows first)."""
        taken = itemgetter(*order.tolist())

        def placed(mine: Sequence[Any], theirs: Sequence[Any]) -> tuple[Any, ...]:
            both = [*mine, *theirs]
            return taken(both) if len(both) > 1 else tuple(both)

        return DebtRows(
            placed(self.accounts, new.accounts),
            placed(self.assets, new.assets),
            placed(amounts, new.amounts),
            placed(self.clients, new.clients),
            placed(self.sides, new.sides),
            placed(self.contracts, new.contracts),
        )

    def _with_new_rows(
        self, amounts: Ints, contracts: list[str], clients: list[str], balances: list[int]
    ) -> DebtRows | None:
        """These rows (``amounts`` their new balances) with a cash charges row for each of
        ``contracts`` (none has one here), all in the names' code-point order, or None if
        these rows are not in that order (the store then orders them otherwise) or a new
        name would not cut back into its parts."""
        if ":" in "".join(clients) + "".join(contracts):
            return None  # an id holding a colon: never the chart's
        names = list(map(acc.charges_debt, clients, contracts))
        size, new = self.size, len(names)
        # Each name is new here, so names alone place the rows (rows of one account keep
        # their order: the sort is stable).  The rows are one run already in order and the
        # new names another once sorted: the sort (timsort) merges the two in linear time.
        keys = [*self.accounts, *names]
        mine = sorted(range(size, size + new), key=keys.__getitem__)
        order = np.fromiter(sorted([*range(size), *mine], key=keys.__getitem__), np.intp)
        if not np.array_equal(order[order < size], np.arange(size)):
            return None  # the store's order is not the names' code points
        cash, charges = [acc.CASH_ASSET] * new, [CHARGES_SIDE] * new
        fresh = DebtRows(names, cash, balances, clients, charges, contracts)
        return self._merged(amounts.tolist(), order, fresh)


def load_debt_rows(conn: Connection) -> DebtRows:
    """Every balance row of the clients' debt accounts (``DebtRows``), in one range scan."""
    marker = s.marker(conn)
    query = (
        "SELECT account, asset, amount FROM balances "
        f"WHERE account >= {marker} AND account < {marker} ORDER BY account, asset"
    )  # the key's own order: its index's, so no sort
    bounds = (DEBT_PREFIX, s.prefix_end(DEBT_PREFIX))
    cursor = conn.exec_driver_sql(query, bounds).cursor
    assert cursor is not None
    rows = cursor.fetchall()  # millions of rows: no SQLAlchemy row objects
    if not rows:
        return DebtRows((), (), (), (), (), ())
    accounts, assets, amounts = zip(*rows, strict=True)
    _, clients, sides, contracts = _name_parts(accounts)
    return DebtRows(accounts, assets, amounts, clients, sides, contracts)


def _name_parts(accounts: Sequence[str]) -> tuple[Sequence[str], ...]:
    """The debt accounts' names cut into (prefix, client, side, contract), by column; a name
    not of the chart's debt accounts (never one the ledger holds) cut into empty parts."""
    parts: list[Sequence[str]] = list(map(str.split, accounts, repeat(":")))
    if not all(map(len(_NOT_A_DEBT).__eq__, map(len, parts))):
        parts = [split if len(split) == len(_NOT_A_DEBT) else _NOT_A_DEBT for split in parts]
    columns: tuple[Sequence[str], ...] = tuple(zip(*parts, strict=True))
    return columns
