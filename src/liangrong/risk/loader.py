"""Bulk load of the risk arrays from the ledger's projections (balances and contracts).

Invariant: the arrays hold exactly what the ledger holds now: every credit account opened
(with or without balances), each client's cash (free + locked), holdings per security,
and every contract still owing principal or charges with those amounts.  The firm's own
accounts and the outside world are not read.

Read in bulk for millions of rows: plain DBAPI batches, the contracts and their terms
fields and the debt accounts' balances as columns (``ledger.columns``: the end of day reads
them once for several steps), the collateral accounts' names split on their colons against
the chart's shapes (``_ClientAccounts``: the ledger holds only names of its chart, where no
id holds a colon, so splitting is parsing them), the open contracts picked from the
table's columns by position (its order kept), each distinct ratio or date text converted
once.  The terms were checked when the contract opened (``ContractTerms``), so they are
copied, not checked again.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterator, Sequence
from datetime import date
from fractions import Fraction
from functools import cache
from itertools import repeat
from operator import itemgetter
from typing import Any

import numpy as np
import numpy.typing as npt
from sqlalchemy import Connection, Engine

from liangrong.domain import accounts as acc
from liangrong.domain.accounts import AccountKind
from liangrong.domain.contracts import ContractKind
from liangrong.domain.money import scaled_ratio
from liangrong.ledger import schema as s
from liangrong.ledger.columns import (
    ContractTable,
    DebtRows,
    load_contract_table,
    load_debt_rows,
)
from liangrong.risk.book_arrays import BookArrays
from liangrong.risk.layout import BookData, ContractData
from liangrong.store.other_collateral import load_counted_values

_ROWS_PER_FETCH = 50_000
Ints = npt.NDArray[np.int64]
_CLIENT, _OTHER = "\x00client", "\x00other"  # placeholders: no colon in either
_SECURITIES = AccountKind.CLIENT_SECURITIES


def load_book(engine: Engine, data: BookData | None = None) -> BookArrays:
    """The risk arrays of the book the ledger holds now (``data``: its columns, already
    read from this very state of the ledger)."""
    book = BookArrays(data if data is not None else load_data(engine))
    for client, value_fen in sorted(load_counted_values(engine).items()):
        if client in book.accounts.index:
            book.set_other_collateral(client, value_fen)
    return book


# the fixed parts' getter and texts, the kind, where the client and the other id stand
_Shape = tuple[Callable[[list[str]], object], tuple[str, ...], AccountKind, int, int]


class _ClientAccounts:
    """The chart's client collateral accounts by shape: ``kind_of(name)`` is (kind, client,
    exchange) for a client's cash, locked cash or securities account, None for any other."""

    def __init__(self) -> None:
        shapes = (
            (acc.client_cash(_CLIENT), AccountKind.CLIENT_CASH),
            (acc.client_locked_cash(_CLIENT), AccountKind.CLIENT_LOCKED_CASH),
            (acc.client_securities(_CLIENT, _OTHER), AccountKind.CLIENT_SECURITIES),
        )
        self.shapes: dict[tuple[int, str], list[_Shape]] = defaultdict(list)
        # what every such name starts with (before the client id): the rows to read
        self.prefixes = sorted({name[: name.index(_CLIENT)] for name, _ in shapes})
        for name, kind in shapes:
            parts = name.split(":")
            fixed = [i for i, p in enumerate(parts) if p not in (_CLIENT, _OTHER)]
            assert len(fixed) > 1  # the getter then returns a tuple
            other = parts.index(_OTHER) if _OTHER in parts else -1
            texts = tuple(parts[i] for i in fixed)
            shape = (itemgetter(*fixed), texts, kind, parts.index(_CLIENT), other)
            self.shapes[(len(parts), parts[0])].append(shape)

    def kind_of(self, account: str) -> tuple[AccountKind, str, str] | None:
        parts = account.split(":")
        for fixed, texts, kind, client, other in self.shapes.get((len(parts), parts[0]), ()):
            if fixed(parts) == texts:
                return kind, parts[client], parts[other] if other >= 0 else ""
        return None


@cache
def _ratio_bp(text: str) -> int:
    return scaled_ratio(Fraction(text))


@cache
def _ordinal(text: str) -> int:
    return date.fromisoformat(text).toordinal()


def _balances(conn: Connection, prefix: str) -> Iterator[Sequence[Any]]:
    """Non-zero balances of the accounts named ``prefix…``: a range of the balances' key."""
    marker = s.marker(conn)
    end = s.prefix_end(prefix)
    query = (
        "SELECT account, asset, amount FROM balances "
        f"WHERE account >= {marker} AND account < {marker} AND amount <> 0"
    )
    cursor = conn.exec_driver_sql(query, (prefix, end)).cursor
    assert cursor is not None
    while rows := cursor.fetchmany(_ROWS_PER_FETCH):
        yield rows


def load_data(
    engine: Engine, contracts: ContractTable | None = None, debts: DebtRows | None = None
) -> BookData:
    """The book as columns, read in a few scans (``contracts``, ``debts``: the projection's
    contracts and debt balances, already read from this very state of the ledger)."""
    with engine.connect() as conn:
        found = conn.exec_driver_sql("SELECT DISTINCT client_id FROM credit_accounts").all()
        clients = sorted({str(client) for (client,) in found})
        index = {client: a for a, client in enumerate(clients)}
        cash = [0] * len(clients)
        held: dict[tuple[int, str], int] = defaultdict(int)
        chart = _ClientAccounts()
        for rows in (batch for prefix in chart.prefixes for batch in _balances(conn, prefix)):
            for account, asset, amount in rows:
                parsed = chart.kind_of(account)
                if parsed is None or parsed[1] not in index:
                    continue
                kind, client, _ = parsed
                if kind is _SECURITIES:
                    held[(index[client], asset)] += amount
                else:  # free and locked cash
                    cash[index[client]] += amount
        table = contracts if contracts is not None else load_contract_table(conn)
        owed, charges, _ = (debts if debts is not None else load_debt_rows(conn)).owed()
    size = table.size
    outstanding = np.fromiter(map(owed.get, table.ids, repeat(0, size)), np.int64, size)
    charged = np.fromiter(map(charges.get, table.ids, repeat(0, size)), np.int64, size)
    known = np.fromiter(map(index.__contains__, table.clients), np.bool_, size)
    kinds = np.asarray(table.kinds, dtype=object)
    open_ = ((outstanding > 0) | (charged > 0)) & known
    symbols = sorted(
        {symbol for _, symbol in held} | {table.securities[i] for i in np.flatnonzero(open_)}
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
