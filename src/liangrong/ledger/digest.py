"""A canonical text dump of the append-only tables and its SHA-256: what "byte-identical
journals" means.

Rows come in a fixed order (credit accounts by client and exchange, transactions by ``seq``
with their postings by line), every column is written, ``recorded_at`` included, with tab
separators (no value the ledger accepts contains a tab or a newline: account names, assets,
purposes and kinds are restricted words, events are canonical JSON, names are checked).
Invariant: two stores hold the same journal if and only if their dumps are equal, so equal
digests mean equal bytes; the projections are not part of it (``rebuild`` proves them).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date

from sqlalchemy import Connection, Engine, select

from liangrong.ledger import schema as s

_ROWS_PER_FETCH = 5_000


@dataclass(frozen=True, slots=True)
class JournalDigest:
    credit_accounts: int
    transactions: int
    postings: int
    sha256: str


def journal_lines(engine: Engine) -> Iterator[str]:
    """Every row of the journal's append-only tables as one text line, in canonical order."""
    with engine.connect() as conn:
        yield from journal_lines_on(conn)


def journal_lines_on(conn: Connection) -> Iterator[str]:
    """``journal_lines`` as one connection sees them (inside its transaction, if any)."""
    ca, t, p = s.credit_accounts, s.journal_transactions, s.journal_postings
    # Streamed (server-side cursors on PostgreSQL): a journal may hold millions of rows.
    conn = conn.execution_options(yield_per=_ROWS_PER_FETCH)
    for row in conn.execute(select(ca).order_by(ca.c.client_id, ca.c.exchange)):
        yield "A\t" + "\t".join(_text(value) for value in row) + "\n"
    postings = conn.execute(select(p).order_by(p.c.txn_seq, p.c.line_no))
    pending = next(postings, None)
    for txn in conn.execute(select(t).order_by(t.c.seq)):
        yield "T\t" + "\t".join(_text(value) for value in txn) + "\n"
        while pending is not None and pending.txn_seq == txn.seq:
            yield "P\t" + "\t".join(_text(value) for value in pending) + "\n"
            pending = next(postings, None)
    if pending is not None:  # the ledger writes both in one transaction: never happens
        raise AssertionError(f"postings of an unknown transaction {pending.txn_seq}")


def _text(value: object) -> str:
    # Dates come back as date objects on both backends; isoformat keeps them identical.
    return value.isoformat() if isinstance(value, date) else str(value)


def journal_digest(engine: Engine) -> JournalDigest:
    """SHA-256 over ``journal_lines`` (UTF-8) and the row counts."""
    with engine.connect() as conn:
        return journal_digest_on(conn)


def journal_digest_on(conn: Connection) -> JournalDigest:
    """``journal_digest`` as one connection sees the journal (inside its transaction)."""
    digest = hashlib.sha256()
    counts = {"A": 0, "T": 0, "P": 0}
    for line in journal_lines_on(conn):
        counts[line[0]] += 1
        digest.update(line.encode("utf-8"))
    return JournalDigest(counts["A"], counts["T"], counts["P"], digest.hexdigest())
