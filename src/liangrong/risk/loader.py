"""Bulk load of the risk arrays from the ledger's projections (balances and contracts).

Invariant: the arrays hold exactly what the ledger holds now: every credit account opened
(with or without balances), each client's cash (free + locked), holdings per security,
and every contract still owing principal or charges with those amounts (its charges: the
account plus the pending charges, ``store.charges_pending``).  The firm's own
accounts and the outside world are not read.

Read in bulk for millions of rows: plain DBAPI batches; the contracts with their terms
fields as columns (``ledger.columns.ContractTable``: the end of day reads them once for
several steps, and its debt balances too, ``DebtRows``), else the loader's own fields
only; the collateral accounts' names cut by the store to their client ids, up to the
colon after the id (``_by_client``: the ledger holds only names of its chart, where no id
holds a colon, so cutting is parsing them); read for this book alone, the debts' contract
ids cut from their names by the store after the side's segment of the chart's name; the
open contracts picked from the table's columns by position (its order kept), each distinct
ratio or date text converted once.  The terms were checked when the contract opened
(``ContractTerms``), so they are copied, not checked again.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import date
from fractions import Fraction
from functools import cache
from itertools import compress, repeat
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt
from sqlalchemy import Connection, Engine, select

from liangrong.domain import accounts as acc
from liangrong.domain.contracts import ContractKind
from liangrong.domain.money import scaled_ratio
from liangrong.ledger import schema as s
from liangrong.ledger.columns import (
    CHARGES_SIDE,
    DEBT_PREFIX,
    FINANCING_SIDE,
    SHORT_SIDE,
    ContractTable,
    load_contract_table,
)
from liangrong.risk.book_arrays import BookArrays
from liangrong.risk.layout import BookData, ContractData
from liangrong.store.charges_pending import PendingCharges, book_pending
from liangrong.store.other_collateral import load_counted_values

_ROWS_PER_FETCH = 50_000
_TERMS = ("margin_ratio", "open_date", "price_li", "quantity", "amount_fen")
Ints = npt.NDArray[np.int64]
_CLIENT, _OTHER = "\x00client", "\x00other"  # placeholders: no colon in either


class OwedFigures(Protocol):
    """What each contract owes, by id: principal (fen or shares) and charges (fen, its
    pending included), as ``ledger.columns.Owing`` and the end of day's ``Owed`` hold."""

    @property
    def principal(self) -> Mapping[str, int]: ...

    @property
    def charges(self) -> Mapping[str, int]: ...


def load_book(engine: Engine, data: BookData | None = None) -> BookArrays:
    """The risk arrays of the book the ledger holds now (``data``: its columns, already
    read from this very state of the ledger)."""
    book = BookArrays(data if data is not None else load_data(engine))
    for client, value_fen in sorted(load_counted_values(engine).items()):
        if client in book.accounts.index:
            book.set_other_collateral(client, value_fen)
    return book


def _prefix(name: str) -> str:
    """What stands before the client id in a chart name made with the placeholder
    ``_CLIENT``; what follows the id is nothing or starts with a colon."""
    before, client, after = name.partition(_CLIENT)
    assert client and after[:1] in ("", ":"), name
    return before


# a client's free cash ``{prefix}{client}`` and its locked cash ``{prefix}{client}:locked``;
# its securities ``{prefix}{client}:{exchange}``
_CASH_PREFIX = _prefix(acc.client_cash(_CLIENT))
assert _prefix(acc.client_locked_cash(_CLIENT)) == _CASH_PREFIX
_HELD_PREFIX = _prefix(acc.client_securities(_CLIENT, _OTHER))


@cache
def _ratio_bp(text: str) -> int:
    return scaled_ratio(Fraction(text))


@cache
def _ordinal(text: str) -> int:
    return date.fromisoformat(text).toordinal()


def _find(conn: Connection, text: str, part: str) -> str:
    """SQL: where ``part`` first occurs in ``text`` (1-based; 0: nowhere), either dialect."""
    return f"{'instr' if conn.dialect.name == 'sqlite' else 'strpos'}({text}, {part})"


def _fetched(conn: Connection, query: str, params: tuple[Any, ...]) -> Iterator[Sequence[Any]]:
    cursor = conn.exec_driver_sql(query, params).cursor
    assert cursor is not None
    while rows := cursor.fetchmany(_ROWS_PER_FETCH):
        yield rows


def _by_client(conn: Connection, prefix: str, columns: str) -> Iterator[Sequence[Any]]:
    """(client id, ``columns``) of the non-zero balances of the accounts named
    ``{prefix}{client}…`` (a range of the balances' key).  The store cuts each name to its
    client id, up to the next colon: the ledger holds only names of its chart, whose ids
    hold no colon."""
    marker = s.marker(conn)
    rest = f"substr(account, {len(prefix) + 1})"
    colon = _find(conn, rest + " || ':'", "':'")  # the first colon, or just past the end
    client = f"substr({rest}, 1, {colon} - 1)"
    query = (
        f"SELECT {client}, {columns} FROM balances "
        f"WHERE account >= {marker} AND account < {marker} AND amount <> 0"
    )
    return _fetched(conn, query, (prefix, s.prefix_end(prefix)))


def _debts(conn: Connection, side: str) -> dict[str, int]:
    """What is owed on each contract through one side of the debt accounts (``side``:
    ``ledger.columns.FINANCING_SIDE``, ``SHORT_SIDE`` or ``CHARGES_SIDE``), by contract id.
    The store cuts the names after the side's segment (ids hold no colon, so it occurs once
    in a name) and negates the balances (debts are negative), so the millions of rows go
    straight into the dictionary."""
    segment = f":{side}:"
    marker = s.marker(conn)
    position = _find(conn, "account", marker)
    query = (
        f"SELECT substr(account, {position} + {marker}), -amount FROM balances "
        f"WHERE account >= {marker} AND account < {marker} AND amount <> 0 AND {position} > 0"
    )
    params = (segment, len(segment), DEBT_PREFIX, s.prefix_end(DEBT_PREFIX), segment)
    owed: dict[str, int] = {}
    for rows in _fetched(conn, query, params):
        owed.update(rows)
    return owed


def load_data(
    engine: Engine,
    contracts: ContractTable | None = None,
    owed: OwedFigures | None = None,
) -> BookData:
    """The book as columns, read in a few scans (``contracts``, ``owed``: the projection's
    contracts, and what each owes of principal and of charges, pending included, already
    read from this very state of the ledger).  A contract's charges are its account plus
    its pending."""
    with engine.connect() as conn:
        found = s.driver_rows(conn, select(s.credit_accounts.c.client_id).distinct())
        clients = sorted({str(client) for (client,) in found})
        index = {client: a for a, client in enumerate(clients)}
        cash, held = _collateral(conn, index)
        table = contracts if contracts is not None else load_contract_table(conn, _TERMS)
        if owed is not None:
            principal, charges = owed.principal, owed.charges
        else:  # read for this book alone: the store cuts the names (``_debts``)
            principal = _debts(conn, FINANCING_SIDE) | _debts(conn, SHORT_SIDE)
            charges = _with_pending(_debts(conn, CHARGES_SIDE), book_pending(conn))
    size = table.size
    outstanding = np.fromiter(map(principal.get, table.ids, repeat(0, size)), np.int64, size)
    charged = np.fromiter(map(charges.get, table.ids, repeat(0, size)), np.int64, size)
    known = np.fromiter(map(index.__contains__, table.clients), np.bool_, size)
    kinds = np.asarray(table.kinds, dtype=object)
    open_ = ((outstanding > 0) | (charged > 0)) & known
    symbols = sorted(
        {symbol for _, symbol in held} | set(compress(table.securities, open_.tolist()))
    )
    sec = {symbol: i for i, symbol in enumerate(symbols)}
    positions = sorted((a, sec[symbol], q) for (a, symbol), q in held.items() if q)
    columns = _Open(table, index, sec, outstanding, charged)
    return BookData(
        client_ids=clients,
        symbols=symbols,
        cash_fen=np.asarray(cash, dtype=np.int64),
        position_account=np.asarray([p[0] for p in positions], dtype=np.intp),
        position_security=np.asarray([p[1] for p in positions], dtype=np.intp),
        position_quantity=np.asarray([p[2] for p in positions], dtype=np.int64),
        financing=columns.of(np.flatnonzero(open_ & (kinds == ContractKind.FINANCING.value))),
        shorts=columns.of(np.flatnonzero(open_ & (kinds == ContractKind.SHORT.value))),
    )


def _with_pending(charges: Mapping[str, int], pending: PendingCharges) -> Mapping[str, int]:
    added = dict(charges)
    for cid, fen in pending.totals().items():
        added[cid] = added.get(cid, 0) + fen
    return added


def _collateral(
    conn: Connection, index: dict[str, int]
) -> tuple[list[int], dict[tuple[int, str], int]]:
    """Each client's cash (free and locked) by position in ``index``, and what it holds of
    each security, (position, security) -> quantity; accounts of other clients left out."""
    cash = [0] * len(index)
    for rows in _by_client(conn, _CASH_PREFIX, "amount"):
        for client, amount in rows:
            if (at := index.get(client)) is not None:
                cash[at] += amount
    held: dict[tuple[int, str], int] = defaultdict(int)
    for rows in _by_client(conn, _HELD_PREFIX, "asset, amount"):
        for client, asset, amount in rows:
            if (at := index.get(client)) is not None:
                held[(at, asset)] += amount
    return cash, held


class _Open:
    """The open contracts' columns, taken from the table by position (its order kept)."""

    def __init__(
        self,
        table: ContractTable,
        clients: dict[str, int],
        securities: dict[str, int],
        outstanding: Ints,
        charges: Ints,
    ) -> None:
        self.table, self.clients, self.securities = table, clients, securities
        self.outstanding, self.charges = outstanding, charges

    def of(self, rows: npt.NDArray[np.intp]) -> ContractData:
        table, picked, size = self.table, rows.tolist(), len(rows)
        terms = table.terms

        def taken(column: list[Any], convert: Callable[[Any], int]) -> Ints:
            values = {value: convert(value) for value in {column[i] for i in picked}}
            return np.fromiter(map(values.__getitem__, map(column.__getitem__, picked)),
                               np.int64, size)  # fmt: skip

        def looked_up(column: list[str], index: dict[str, int]) -> npt.NDArray[np.intp]:
            return np.fromiter(map(index.__getitem__, map(column.__getitem__, picked)),
                               np.intp, size)  # fmt: skip

        return ContractData(
            account=looked_up(table.clients, self.clients),
            security=looked_up(table.securities, self.securities),
            ids=[table.ids[i] for i in picked],
            outstanding=self.outstanding[rows],
            charges=self.charges[rows],
            ratio_bp=taken(terms["margin_ratio"], lambda text: _ratio_bp(str(text))),
            open=taken(terms["open_date"], lambda text: _ordinal(str(text))),
            price_li=taken(terms["price_li"], int),
            bought=taken(terms["quantity"], int),
            amount=taken(terms["amount_fen"], int),
        )
