"""The files received from the clearing side and the bank side, one per side and trading
day (ACC-7; tables of migration ``0008_clearing_bank``).

A clearing file lists the depository's positions at the close, ``(account, symbol) ->
shares``; a bank file lists each client's credit fund account at the bank, ``client ->
fen``.  Accounts are named as the ledger names them (``domain.accounts``): the mapping of the
depository's and the bank's own account numbers onto the chart of accounts is one to one.

Invariants:
- append-only (the database refuses UPDATE and DELETE): a received file is never rewritten;
- a file is recorded whole or not at all: its ``received_files`` row and its lines are
  written in one transaction, so ``load_*`` tells a missing file (None) from an empty one;
- saving is idempotent: the same content again records nothing (False); other content for
  a day and side already recorded is refused (``ReceivedFileConflict``), nothing written;
- zero lines are dropped before anything is compared or written: a position or balance of
  zero and no line say the same thing;
- no float: shares and fen are integers;
- a file's lines are read in key order as Python orders the keys' texts (code points: the
  store's binary order, ``COLLATE "C"`` on PostgreSQL, whatever the database's collation).
"""

from __future__ import annotations

import hashlib
from collections.abc import Collection, Mapping
from datetime import date
from typing import Any

from sqlalchemy import (
    BigInteger,
    Column,
    ColumnElement,
    Connection,
    Date,
    Engine,
    Integer,
    Select,
    String,
    Table,
    cast,
    select,
)
from sqlalchemy import func as sql

from liangrong.ledger.schema import driver_rows, key_chunks, metadata
from liangrong.store.reference import Clock, ReferenceConflict, stamp, write_lock

CLEARING = "clearing"
BANK = "bank"
Position = tuple[str, str]  # (ledger account name, symbol)
_INSERT_CHUNK = 5_000

received_files = Table(
    "received_files",
    metadata,
    Column("trading_date", Date, primary_key=True),
    Column("side", String(16), primary_key=True),  # CLEARING or BANK
    Column("lines", Integer, nullable=False),
    Column("sha256", String(64), nullable=False),  # over the canonical lines
    Column("received_at", String(32), nullable=False),
)

clearing_positions = Table(
    "clearing_positions",
    metadata,
    Column("trading_date", Date, primary_key=True),
    Column("account", String(128), primary_key=True),
    Column("symbol", String(16), primary_key=True),
    Column("quantity", BigInteger, nullable=False),
)

bank_balances = Table(
    "bank_balances",
    metadata,
    Column("trading_date", Date, primary_key=True),
    Column("client_id", String(32), primary_key=True),
    Column("amount_fen", BigInteger, nullable=False),
)

RECEIVED_APPEND_ONLY_TABLES = ("received_files", "clearing_positions", "bank_balances")


class ReceivedFileConflict(ReferenceConflict):
    """A side's file of a day was recorded with other content."""


def _sha256(lines: list[tuple[Any, ...]]) -> str:
    digest = hashlib.sha256()
    for line in lines:
        digest.update(("\t".join(str(v) for v in line) + "\n").encode("utf-8"))
    return digest.hexdigest()


def _save(
    engine: Engine,
    side: str,
    trading_date: date,
    lines: list[tuple[Any, ...]],
    table: Table,
    clock: Clock,
) -> bool:
    """Record ``lines`` (sorted, non-zero, the amount last) as ``side``'s file of the day."""
    sha = _sha256(lines)
    f = received_files
    with write_lock(engine) as conn:
        stored = conn.execute(
            select(f.c.sha256).where(f.c.trading_date == trading_date, f.c.side == side)
        ).scalar_one_or_none()
        if stored is not None:
            if stored != sha:
                raise ReceivedFileConflict(
                    f"the {side} file of {trading_date} was received with digest "
                    f"{stored[:12]}…, this one has {sha[:12]}…"
                )
            return False
        conn.execute(
            f.insert().values(
                trading_date=trading_date,
                side=side,
                lines=len(lines),
                sha256=sha,
                received_at=stamp(clock),
            )
        )
        names = [c.name for c in table.columns]
        rows = [dict(zip(names, (trading_date, *line), strict=True)) for line in lines]
        for start in range(0, len(rows), _INSERT_CHUNK):
            conn.execute(table.insert(), rows[start : start + _INSERT_CHUNK])
    return True


def save_clearing_file(
    engine: Engine, trading_date: date, positions: Mapping[Position, int], *, clock: Clock
) -> bool:
    """Record the clearing side's positions at the close of ``trading_date``; False when
    this very file was recorded before."""
    lines = [(a, x, q) for (a, x), q in sorted(positions.items()) if q]
    return _save(engine, CLEARING, trading_date, lines, clearing_positions, clock)


def save_bank_file(
    engine: Engine, trading_date: date, balances_fen: Mapping[str, int], *, clock: Clock
) -> bool:
    """Record the bank side's balances at the close of ``trading_date``; False when this
    very file was recorded before."""
    lines = [(client, fen) for client, fen in sorted(balances_fen.items()) if fen]
    return _save(engine, BANK, trading_date, lines, bank_balances, clock)


def is_received(conn: Connection, side: str, trading_date: date) -> bool:
    f = received_files
    found = conn.execute(
        select(f.c.lines).where(f.c.trading_date == trading_date, f.c.side == side)
    ).scalar_one_or_none()
    return found is not None


def load_clearing_file(conn: Connection, trading_date: date) -> dict[Position, int] | None:
    """The clearing side's positions of the day, or None when no file was received."""
    if not is_received(conn, CLEARING, trading_date):
        return None
    t = clearing_positions
    rows = driver_rows(
        conn, select(t.c.account, t.c.symbol, t.c.quantity).where(t.c.trading_date == trading_date)
    )
    return {(account, symbol): int(quantity) for account, symbol, quantity in rows}


def load_bank_file(conn: Connection, trading_date: date) -> dict[str, int] | None:
    """The bank side's balances (fen) of the day, or None when no file was received."""
    if not is_received(conn, BANK, trading_date):
        return None
    t = bank_balances
    rows = driver_rows(
        conn, select(t.c.client_id, t.c.amount_fen).where(t.c.trading_date == trading_date)
    )
    return {client: int(fen) for client, fen in rows}


def latest_received_before(conn: Connection, side: str, trading_date: date) -> date | None:
    """The last day before ``trading_date`` whose ``side`` file was received."""
    f = received_files
    found: date | None = conn.execute(
        select(sql.max(f.c.trading_date)).where(f.c.side == side, f.c.trading_date < trading_date)
    ).scalar_one_or_none()
    return found


def nonzero_lines(side: str, trading_date: date) -> Select[Any]:
    """``side``'s file's non-zero lines of the day as a query: the key's columns, then the
    amount (clearing: account, symbol, shares; bank: client, fen)."""
    columns, _, day = _layout(side)
    return select(*columns).where(day == trading_date, columns[-1] != 0)


def clearing_lines_of(
    conn: Connection, trading_date: date, keys: Collection[Position]
) -> dict[Position, int]:
    """The clearing file's lines of the day for these keys (a key without a line: none)."""
    t = clearing_positions
    accounts = sorted({account for account, _ in keys})
    found: dict[Position, int] = {}
    for chunk in key_chunks(accounts):
        query = select(t.c.account, t.c.symbol, t.c.quantity).where(
            t.c.trading_date == trading_date, t.c.account.in_(chunk)
        )
        for account, symbol, quantity in conn.execute(query):
            if (account, symbol) in keys:
                found[(account, symbol)] = int(quantity)
    return found


def bank_lines_of(conn: Connection, trading_date: date, clients: Collection[str]) -> dict[str, int]:
    """The bank file's lines of the day for these clients (a client without a line: none)."""
    t = bank_balances
    found: dict[str, int] = {}
    for chunk in key_chunks(sorted(clients)):
        query = select(t.c.client_id, t.c.amount_fen).where(
            t.c.trading_date == trading_date, t.c.client_id.in_(chunk)
        )
        found.update({client: int(fen) for client, fen in conn.execute(query)})
    return found


def lines_in_key_order(conn: Connection, side: str, trading_date: date) -> list[Any] | None:
    """Every line of ``side``'s file of the day as the driver returns it (a tuple, the
    amount last), in key order; None when no file was received."""
    if not is_received(conn, side, trading_date):
        return None
    columns, keys, day = _layout(side)
    query = select(*columns).where(day == trading_date).order_by(*_byte_order(conn, keys))
    return driver_rows(conn, query)


def joined_lines_in_key_order(
    conn: Connection, side: str, trading_date: date, separator: str
) -> list[str] | None:
    """``lines_in_key_order``'s lines, each as one text, the fields (the amount in decimal)
    joined by ``separator`` by the store: no interpreter work per field."""
    if not is_received(conn, side, trading_date):
        return None
    columns, keys, day = _layout(side)
    joined = keys[0]
    for key in keys[1:]:
        joined = joined + separator + key
    joined = joined + separator + cast(columns[-1], String)
    query = select(joined).where(day == trading_date).order_by(*_byte_order(conn, keys))
    return [line for (line,) in driver_rows(conn, query)]


def _layout(
    side: str,
) -> tuple[list[ColumnElement[Any]], list[ColumnElement[str]], ColumnElement[date]]:
    """A side's columns (the amount last), its key columns and its date column."""
    if side == CLEARING:
        t = clearing_positions
        return [t.c.account, t.c.symbol, t.c.quantity], [t.c.account, t.c.symbol], t.c.trading_date
    t = bank_balances
    return [t.c.client_id, t.c.amount_fen], [t.c.client_id], t.c.trading_date


def _byte_order(conn: Connection, keys: list[ColumnElement[str]]) -> list[ColumnElement[str]]:
    """The keys ordered by code point: SQLite's default; PostgreSQL's database collation may
    order otherwise (and ignore punctuation), ``C`` does not."""
    if conn.dialect.name == "sqlite":
        return keys
    return [key.collate("C") for key in keys]
