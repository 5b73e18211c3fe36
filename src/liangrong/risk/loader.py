"""Bulk load of the risk arrays from the ledger's projections (balances and contracts).

Invariant: the arrays hold exactly what the ledger holds now: every credit account opened
(with or without balances), each client's cash (free + locked), holdings per security,
and every contract still owing principal or charges with those amounts.  The firm's own
accounts and the outside world are not read.

Read in bulk for millions of rows: plain DBAPI batches, the contracts' terms fields taken
by the store (``projections.contract_fields``), the collateral accounts' names split on
their colons against the chart's shapes (``_ClientAccounts``: the ledger holds only names
of its chart, where no id holds a colon, so splitting is parsing them), the debts' contract
ids cut from their names by the store after the kind's segment of the chart's name, and
each distinct ratio or date text converted once.  The terms were checked when the contract opened
(``ContractTerms``), so they are copied, not checked again.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterator, Sequence
from datetime import date
from fractions import Fraction
from functools import cache
from operator import itemgetter
from typing import Any

import numpy as np
from sqlalchemy import Connection, Engine, select

from liangrong.domain import accounts as acc
from liangrong.domain.accounts import AccountKind
from liangrong.domain.contracts import ContractKind
from liangrong.domain.money import scaled_ratio
from liangrong.ledger import schema as s
from liangrong.ledger.projections import contract_fields
from liangrong.risk.book_arrays import BookArrays
from liangrong.risk.layout import BookData, ContractData
from liangrong.store.other_collateral import load_counted_values

_ROWS_PER_FETCH = 50_000
_TERMS = ("margin_ratio", "open_date", "price_li", "quantity", "amount_fen")
_CLIENT, _OTHER = "\x00client", "\x00other"  # placeholders: no colon in either
_SECURITIES, _CHARGES = AccountKind.CLIENT_SECURITIES, AccountKind.CLIENT_CHARGES_DEBT
_DEBTS = frozenset({AccountKind.CLIENT_FINANCING_DEBT, AccountKind.CLIENT_SHORT_DEBT})


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
    """The chart's client accounts by shape: ``kind_of(name)`` is (kind, client, contract)
    for a client's cash, locked cash, securities or debt account, None for any other."""

    def __init__(self) -> None:
        shapes = (
            (acc.client_cash(_CLIENT), AccountKind.CLIENT_CASH),
            (acc.client_locked_cash(_CLIENT), AccountKind.CLIENT_LOCKED_CASH),
            (acc.client_securities(_CLIENT, _OTHER), AccountKind.CLIENT_SECURITIES),
            (acc.financing_debt(_CLIENT, _OTHER), AccountKind.CLIENT_FINANCING_DEBT),
            (acc.short_debt(_CLIENT, _OTHER), AccountKind.CLIENT_SHORT_DEBT),
            (acc.charges_debt(_CLIENT, _OTHER), AccountKind.CLIENT_CHARGES_DEBT),
        )
        self.shapes: dict[tuple[int, str], list[_Shape]] = defaultdict(list)
        # what every such name starts with (before the client id): the rows to read
        self.prefixes = sorted({name[: name.index(_CLIENT)] for name, _ in shapes})
        # a debt's name: prefix, client id, the kind's segment, contract id (the ids hold no
        # colon, so the segment, colons included, occurs once in the name)
        self.debts = {
            kind: (
                name[: name.index(_CLIENT)],
                name[name.index(_CLIENT) + len(_CLIENT) : -len(_OTHER)],
            )
            for name, kind in shapes
            if kind in _DEBTS or kind is _CHARGES
        }
        assert all(name.endswith(_OTHER) for name, kind in shapes if kind in self.debts)
        assert len({prefix for prefix, _ in self.debts.values()}) == 1
        self.debt_prefix = next(iter(self.debts.values()))[0]
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


def _debts(conn: Connection, prefix: str, segment: str) -> dict[str, int]:
    """What is owed on each contract through one kind of debt account (named ``prefix``,
    client id, ``segment``, contract id), by contract id.  The store cuts the names and
    negates the balances (debts are negative), so the millions of rows go straight into
    the dictionary."""
    marker = s.marker(conn)
    position = f"{'instr' if conn.dialect.name == 'sqlite' else 'strpos'}(account, {marker})"
    query = (
        f"SELECT substr(account, {position} + {marker}), -amount FROM balances "
        f"WHERE account >= {marker} AND account < {marker} AND amount <> 0 AND {position} > 0"
    )
    params = (segment, len(segment), prefix, s.prefix_end(prefix), segment)
    cursor = conn.exec_driver_sql(query, params).cursor
    assert cursor is not None
    owed: dict[str, int] = {}
    while rows := cursor.fetchmany(_ROWS_PER_FETCH):
        owed.update(rows)
    return owed


def load_data(engine: Engine) -> BookData:
    """The book as columns, read in a few scans."""
    with engine.connect() as conn:
        clients = sorted({row[0] for row in conn.execute(select(s.credit_accounts.c.client_id))})
        index = {client: a for a, client in enumerate(clients)}
        cash = [0] * len(clients)
        held: dict[tuple[int, str], int] = defaultdict(int)
        chart = _ClientAccounts()
        collateral = (p for p in chart.prefixes if p != chart.debt_prefix)
        for rows in (batch for prefix in collateral for batch in _balances(conn, prefix)):
            for account, asset, amount in rows:
                parsed = chart.kind_of(account)
                if parsed is None or parsed[1] not in index:
                    continue
                kind, client, _ = parsed
                if kind is _SECURITIES:
                    held[(index[client], asset)] += amount
                else:  # free and locked cash
                    cash[index[client]] += amount
        owed: dict[str, int] = {}
        for kind in sorted(_DEBTS, key=lambda k: k.value):
            owed |= _debts(conn, *chart.debts[kind])
        charges = _debts(conn, *chart.debts[_CHARGES])
        open_rows = [
            row
            for rows in contract_fields(conn, _TERMS)
            for row in rows
            if (owed.get(row[0], 0) > 0 or charges.get(row[0], 0) > 0) and row[1] in index
        ]
    symbols = sorted({symbol for _, symbol in held} | {row[3] for row in open_rows})
    sec = {symbol: i for i, symbol in enumerate(symbols)}
    positions = sorted((a, sec[symbol], q) for (a, symbol), q in held.items() if q)
    return BookData(
        client_ids=clients,
        symbols=symbols,
        cash_fen=np.asarray(cash, dtype=np.int64),
        position_account=np.asarray([p[0] for p in positions], dtype=np.intp),
        position_security=np.asarray([p[1] for p in positions], dtype=np.intp),
        position_quantity=np.asarray([p[2] for p in positions], dtype=np.int64),
        financing=_contracts(
            _of_kind(open_rows, ContractKind.FINANCING), index, sec, owed, charges
        ),
        shorts=_contracts(_of_kind(open_rows, ContractKind.SHORT), index, sec, owed, charges),
    )


def _of_kind(rows: list[Sequence[Any]], kind: ContractKind) -> list[Sequence[Any]]:
    value = kind.value
    return [row for row in rows if row[2] == value]


FINANCING, SHORT = ContractKind.FINANCING, ContractKind.SHORT


def _contracts(
    rows: list[Sequence[Any]],
    clients: dict[str, int],
    securities: dict[str, int],
    owed: dict[str, int],
    charges: dict[str, int],
) -> ContractData:
    """Rows ``(id, client, kind, security, margin_ratio, open_date, price_li, quantity,
    amount_fen)`` as columns."""

    def ints(values: Iterator[int]) -> np.ndarray[tuple[int], np.dtype[np.int64]]:
        return np.fromiter(values, dtype=np.int64, count=len(rows))

    ids = [str(r[0]) for r in rows]
    return ContractData(
        account=np.fromiter((clients[r[1]] for r in rows), dtype=np.intp, count=len(rows)),
        security=np.fromiter((securities[r[3]] for r in rows), dtype=np.intp, count=len(rows)),
        ids=ids,
        outstanding=ints(owed.get(cid, 0) for cid in ids),
        charges=ints(charges.get(cid, 0) for cid in ids),
        ratio_bp=ints(_ratio_bp(str(r[4])) for r in rows),
        open=ints(_ordinal(str(r[5])) for r in rows),
        price_li=ints(int(r[6]) for r in rows),
        bought=ints(int(r[7]) for r in rows),
        amount=ints(int(r[8]) for r in rows),
    )
