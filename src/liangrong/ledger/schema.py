"""Tables of the ledger.  Amounts are BigInteger (fen or shares); nothing is a float."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any, TypeVar

from sqlalchemy import (
    BigInteger,
    Column,
    ColumnElement,
    Connection,
    Date,
    Index,
    Integer,
    MetaData,
    Select,
    String,
    Table,
    Text,
    and_,
)

metadata = MetaData()

KEY_CHUNK = 400  # keeps IN-lists well below every driver's parameter limit
_T = TypeVar("_T")


def key_chunks(items: Sequence[_T], size: int = KEY_CHUNK) -> Iterator[Sequence[_T]]:
    """``items`` in slices of ``size``: one IN-list each."""
    for start in range(0, len(items), size):
        yield items[start : start + size]


def marker(conn: Connection) -> str:
    """The driver's parameter placeholder in raw SQL (sqlite3 ``?``, psycopg ``%s``)."""
    return "?" if conn.dialect.name == "sqlite" else "%s"


def driver_rows(conn: Connection, query: Select[Any]) -> list[Any]:
    """Every row of ``query`` as the driver returns it (a tuple), at once: many rows skip
    SQLAlchemy's row objects, which cost several times the fetch itself."""
    cursor = conn.execute(query).cursor
    assert cursor is not None
    return list(cursor.fetchall())


ROWS_PER_FETCH = 50_000


def driver_batches(
    conn: Connection, query: str, parameters: tuple[object, ...] = ()
) -> Iterator[Sequence[Any]]:
    """The rows of a raw ``query`` as the driver returns them, in batches: millions of rows
    skip SQLAlchemy's row objects without being held all at once."""
    result = conn.exec_driver_sql(query, parameters) if parameters else conn.exec_driver_sql(query)
    cursor = result.cursor
    assert cursor is not None
    while rows := cursor.fetchmany(ROWS_PER_FETCH):
        yield rows


def position_in(conn: Connection, text: str, part: str) -> str:
    """SQL: where ``part`` first occurs in ``text`` (1-based; 0: nowhere), either dialect."""
    return f"{'instr' if conn.dialect.name == 'sqlite' else 'strpos'}({text}, {part})"


def journal_tail(conn: Connection) -> str:
    """SQL: ``WITH tail``, the postings (account, asset, amount) of the transactions after
    one journal seq up to another (its two parameters), read by the journal's key first:
    filtered on the account too, SQLite would walk the account index over most of the
    journal."""
    param = marker(conn)
    return (
        "WITH tail AS MATERIALIZED (SELECT account, asset, amount FROM journal_postings "
        f"WHERE txn_seq > {param} AND txn_seq <= {param})"
    )


def markers(conn: Connection, count: int) -> str:
    return ", ".join([marker(conn)] * count)


def prefix_end(prefix: str) -> str:
    """The first text after every text starting with ``prefix`` (its last character + 1):
    ``[prefix, prefix_end(prefix))`` is a key range an index serves."""
    return prefix[:-1] + chr(ord(prefix[-1]) + 1)


def starts_with(column: ColumnElement[str], prefix: str) -> ColumnElement[bool]:
    """SQL: ``column`` starts with ``prefix``, as a key range (SQLite's LIKE is
    case-insensitive, so it never uses the index; a range does, on either dialect)."""
    return and_(column >= prefix, column < prefix_end(prefix))


credit_accounts = Table(
    "credit_accounts",
    metadata,
    Column("client_id", String(32), primary_key=True),
    Column("exchange", String(2), primary_key=True),
    Column("holder_name", String(200), nullable=False),
    Column("command_id", String(128), nullable=False, unique=True),
    Column("opened_on", Date, nullable=False),
    Column("recorded_at", String(32), nullable=False),
)

journal_transactions = Table(
    "journal_transactions",
    metadata,
    Column(
        "seq", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=False
    ),
    Column("command_id", String(128), nullable=False, unique=True),
    Column("payload_digest", String(64), nullable=False),
    Column("business_date", Date, nullable=False, index=True),
    Column("kind", String(64), nullable=False),
    Column("events_json", Text, nullable=False),
    Column("recorded_at", String(32), nullable=False),
)

journal_postings = Table(
    "journal_postings",
    metadata,
    Column("txn_seq", BigInteger().with_variant(Integer, "sqlite"), primary_key=True),
    Column("line_no", Integer, primary_key=True),
    Column("leg_no", Integer, nullable=False),
    Column("purpose", String(32), nullable=False),
    Column("account", String(128), nullable=False),
    Column("asset", String(16), nullable=False),
    Column("amount", BigInteger, nullable=False),
    # covering: a key's postings summed from the index alone (the full reconciliation)
    Index("ix_journal_postings_key_amount", "account", "asset", "amount"),
)

balances = Table(
    "balances",
    metadata,
    Column("account", String(128), primary_key=True),
    Column("asset", String(16), primary_key=True),
    Column("amount", BigInteger, nullable=False),
)

# Copies of the opening terms that the whole-book readers take, as the ``contract_opened``
# event holds them (fractions and dates as its texts), by its field names: millions of
# contracts read without parsing JSON.
_CONTRACT_TERMS = (
    Column("quantity", BigInteger, nullable=False),
    Column("amount_fen", BigInteger, nullable=False),
    Column("price_li", BigInteger, nullable=False),
    Column("margin_ratio", Text, nullable=False),
    Column("annual_rate", Text, nullable=False),
    Column("open_date", String(10), nullable=False),
    Column("used_date", String(10), nullable=False),
    Column("maturity", String(10), nullable=False),
)
CONTRACT_TERM_COLUMNS = tuple(column.name for column in _CONTRACT_TERMS)

contracts = Table(
    "contracts",
    metadata,
    Column("contract_id", String(48), primary_key=True),
    Column("client_id", String(32), nullable=False, index=True),
    Column("kind", String(16), nullable=False),
    Column("security", String(16), nullable=False),
    Column("opened_seq", BigInteger, nullable=False, index=True),
    Column("terms_json", Text, nullable=False),
    *_CONTRACT_TERMS,
)

APPEND_ONLY_TABLES = ("journal_transactions", "journal_postings", "credit_accounts")
PROJECTION_TABLES = ("balances", "contracts")
