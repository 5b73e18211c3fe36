"""Bulk load of the risk arrays from the ledger's projections (balances and contracts).

Invariant: the arrays hold exactly what the ledger holds now: every credit account opened
(with or without balances), each client's cash (free + locked), holdings per security,
and every contract still owing principal or charges with those amounts (its charges: the
account plus the pending charges, ``store.charges_pending``).  The firm's own
accounts and the outside world are not read.

Read in bulk for millions of rows: plain DBAPI batches; the contracts with their terms
fields as columns (``ledger.columns.ContractTable``: the end of day reads them once for
several steps, and its debt balances too, ``DebtRows``), else the loader's own fields
only; the collateral by client id (``ledger.collateral``: the end of day's resident book
keeps it, else read here), its millions of holdings made columns in a few passes in C;
read for this book alone, the debts' contract
ids cut from their names by the store after the side's segment of the chart's name; the
open contracts picked from the table's columns by position (its order kept), each distinct
ratio or date text converted once.  The terms were checked when the contract opened
(``ContractTerms``), so they are copied, not checked again.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from fractions import Fraction
from functools import cache
from itertools import compress, repeat
from operator import itemgetter
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt
from sqlalchemy import Connection, Engine, select

from liangrong.domain.contracts import ContractKind
from liangrong.domain.money import scaled_ratio
from liangrong.ledger import schema as s
from liangrong.ledger.collateral import Collateral, load_collateral
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

_TERMS = ("margin_ratio", "open_date", "price_li", "quantity", "amount_fen")
_CLIENT_ID = s.credit_accounts.c.client_id
_CLIENTS = select(_CLIENT_ID).distinct().order_by(_CLIENT_ID)
Ints = npt.NDArray[np.int64]


class OwedFigures(Protocol):
    """What each contract owes, by the contract table's rows, as the end of day's ``Owed``
    holds it."""

    def aligned(self, table: ContractTable) -> tuple[Ints, Ints]:
        """(principal in fen or shares, charges in fen with their pending) by the rows of
        ``table``, read at the same state of the ledger."""
        ...


def load_book(engine: Engine, data: BookData | None = None) -> BookArrays:
    """The risk arrays of the book the ledger holds now (``data``: its columns, already
    read from this very state of the ledger)."""
    book = BookArrays(data if data is not None else load_data(engine))
    for client, value_fen in sorted(load_counted_values(engine).items()):
        if client in book.accounts.index:
            book.set_other_collateral(client, value_fen)
    return book


@cache
def _ratio_bp(text: str) -> int:
    return scaled_ratio(Fraction(text))


def _debts(conn: Connection, side: str) -> dict[str, int]:
    """What is owed on each contract through one side of the debt accounts (``side``:
    ``ledger.columns.FINANCING_SIDE``, ``SHORT_SIDE`` or ``CHARGES_SIDE``), by contract id.
    The store cuts the names after the side's segment (ids hold no colon, so it occurs once
    in a name) and negates the balances (debts are negative), so the millions of rows go
    straight into the dictionary."""
    segment = f":{side}:"
    marker = s.marker(conn)
    position = s.position_in(conn, "account", marker)
    query = (
        f"SELECT substr(account, {position} + {marker}), -amount FROM balances "
        f"WHERE account >= {marker} AND account < {marker} AND amount <> 0 AND {position} > 0"
    )
    params = (segment, len(segment), DEBT_PREFIX, s.prefix_end(DEBT_PREFIX), segment)
    owed: dict[str, int] = {}
    for rows in s.driver_batches(conn, query, params):
        owed.update(rows)
    return owed


def load_data(
    engine: Engine,
    contracts: ContractTable | None = None,
    owed: OwedFigures | None = None,
    collateral: Collateral | None = None,
) -> BookData:
    """The book as columns, read in a few scans (``contracts``, ``owed``, ``collateral``:
    the projection's contracts, what each owes of principal and of charges, pending
    included, and the clients' collateral, already read from this very state of the
    ledger).  A contract's charges are its account plus its pending."""
    with engine.connect() as conn:
        # in the store's order, which the sort keeps in one pass where it is the code points'
        clients = list(map(str, map(itemgetter(0), s.driver_rows(conn, _CLIENTS))))
        clients.sort()
        held = collateral if collateral is not None else load_collateral(conn)
        table = contracts if contracts is not None else load_contract_table(conn, _TERMS)
        if owed is not None:
            outstanding, charged = owed.aligned(table)
        else:  # read for this book alone: the store cuts the names (``_debts``)
            principal = _debts(conn, FINANCING_SIDE) | _debts(conn, SHORT_SIDE)
            charges = _with_pending(_debts(conn, CHARGES_SIDE), book_pending(conn))
            outstanding, charged = _by_rows(table, principal), _by_rows(table, charges)
    index = dict(zip(clients, range(len(clients)), strict=True))
    size = table.size
    client_at = np.fromiter(map(index.get, table.clients, repeat(-1)), np.intp, size)
    known = client_at >= 0
    kinds = np.asarray(table.kinds, dtype=object)
    open_ = ((outstanding > 0) | (charged > 0)) & known
    holdings = _Holdings(held.held, index)
    symbols = sorted(holdings.securities() | set(compress(table.securities, open_.tolist())))
    sec = {symbol: i for i, symbol in enumerate(symbols)}
    account, security, quantity = holdings.positions(sec)
    columns = _Open(table, client_at, sec, outstanding, charged)
    return BookData(
        client_ids=clients,
        symbols=symbols,
        cash_fen=np.fromiter(map(held.cash_fen.get, clients, repeat(0)), np.int64, len(clients)),
        position_account=account,
        position_security=security,
        position_quantity=quantity,
        financing=columns.of(np.flatnonzero(open_ & (kinds == ContractKind.FINANCING.value))),
        shorts=columns.of(np.flatnonzero(open_ & (kinds == ContractKind.SHORT.value))),
    )


def _by_rows(table: ContractTable, figures: Mapping[str, int]) -> Ints:
    """Each contract's figure (0 if none), by the table's rows."""
    found = map(figures.get, table.ids, repeat(0, table.size))
    return np.fromiter(found, np.int64, table.size)


class _Holdings:
    """The holdings of the book's clients (others' left out) as columns, in the reading's
    order: millions of them cost a few passes in C, not a tuple each."""

    def __init__(self, held: Mapping[tuple[str, str], int], index: Mapping[str, int]) -> None:
        size = len(held)
        owners = np.fromiter(map(index.get, map(itemgetter(0), held), repeat(-1)), np.intp, size)
        mine = owners >= 0
        self.owners, self.mine = owners[mine], mine.tolist()
        self.assets = list(map(itemgetter(1), held))
        self.quantity = np.fromiter(held.values(), np.int64, size)[mine]

    def securities(self) -> set[str]:
        return set(compress(self.assets, self.mine))

    def positions(
        self, securities: Mapping[str, int]
    ) -> tuple[npt.NDArray[np.intp], npt.NDArray[np.intp], Ints]:
        """(account, security, shares) by account, then security (``securities``: each
        held one's position)."""
        mine = compress(self.assets, self.mine)
        security = np.fromiter(map(securities.__getitem__, mine), np.intp, len(self.owners))
        order = np.lexsort((security, self.owners))
        return self.owners[order], security[order], self.quantity[order]


def _with_pending(charges: Mapping[str, int], pending: PendingCharges) -> Mapping[str, int]:
    added = dict(charges)
    for cid, fen in pending.totals().items():
        added[cid] = added.get(cid, 0) + fen
    return added


class _Open:
    """The open contracts' columns, taken from the table by position (its order kept)."""

    def __init__(
        self,
        table: ContractTable,
        client_at: npt.NDArray[np.intp],
        securities: dict[str, int],
        outstanding: Ints,
        charges: Ints,
    ) -> None:
        """``client_at``: each contract's client's position among the book's, by row."""
        self.table, self.client_at, self.securities = table, client_at, securities
        self.outstanding, self.charges = outstanding, charges

    def of(self, rows: npt.NDArray[np.intp]) -> ContractData:
        """The contracts at ``rows``, in increasing order (so each at most once)."""
        assert (np.diff(rows) > 0).all(), "rows in increasing order"
        table, picked, size = self.table, rows.tolist(), len(rows)

        def taken(name: str, convert: Callable[[Any], int]) -> Ints:
            return np.fromiter(table.term_at(name, picked, convert), np.int64, size)

        def looked_up(column: list[str], index: dict[str, int]) -> npt.NDArray[np.intp]:
            return np.fromiter(map(index.__getitem__, map(column.__getitem__, picked)),
                               np.intp, size)  # fmt: skip

        return ContractData(
            account=self.client_at[rows],
            security=looked_up(table.securities, self.securities),
            ids=[table.ids[i] for i in picked],
            outstanding=self.outstanding[rows],
            charges=self.charges[rows],
            ratio_bp=taken("margin_ratio", lambda text: _ratio_bp(str(text))),
            open=table.days_at("open_date", picked),
            price_li=table.ints_at("price_li", picked),
            bought=table.ints_at("quantity", picked),
            amount=table.ints_at("amount_fen", picked),
            ids_unique=table.ids_unique,  # at distinct rows (asserted above)
        )
