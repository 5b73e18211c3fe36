"""The book against the outside records of a trading day (ACC-7): positions against the
clearing side's file, cash against the bank side's.

Checks, in ``eod.reconcile``'s row format ``(check, status, subject, expected, found)``
with ``expected`` the ledger's figure and ``found`` the other side's:
- ``clearing``: each (account, symbol) held at the depository (lending pool, client credit
  securities accounts, securities settlement account) whose ledger quantity at the close of
  the day differs from the clearing side's; subject ``"{account} {symbol}"``, shares;
- ``bank``: each client whose credit cash in the ledger at the close (free plus locked)
  differs from the bank side's balance of the client's credit fund account; subject the
  client id, fen.  The one item in transit is the end of day's collection of charges
  (CON-6): its payment instructions leave after the bank cut the day's file, so the ledger's
  figure adds back what ``collect`` took that day and the bank applies it the next day
  (``sim.bank.DepositoryBank.resume``).  Nothing else is in transit: the ledger posts a
  trade's cash on the trade date, the bank's file of the day includes that day's clearing
  result, and a bank transfer is booked by both sides at once; any other item in transit
  is listed like any other difference.
A day whose file was not received is one row ``(check, "missing", date, "a file", "none")``,
never ``ok``.  "At the close" is the projection less the postings of later business dates,
so a day can be checked again after later days were posted.

Invariants: read only (the ledger is never corrected here; the rows are the answer); rows
sorted; each check's differences, or its ``ok`` row in ``external_check_rows``.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from datetime import date
from typing import Any

from sqlalchemy import ColumnElement, Connection, and_, select
from sqlalchemy import func as sql

from liangrong.domain import accounts as acc
from liangrong.eod.files import csv_bytes
from liangrong.ledger import schema as s
from liangrong.sim.bank import CLIENT_CASH_PREFIX, credit_cash_owner
from liangrong.sim.clearing import depository_filter
from liangrong.store.clearing_records import (
    Position,
    load_bank_file,
    load_clearing_file,
)
from liangrong.store.collections import collected_after_cutoff

# eod.reconcile's row; named here too so that reconcile can import this module without a cycle.
Row = tuple[str, str, str, str, str]
CLEARING_CHECK, BANK_CHECK = "clearing", "bank"
CLEARING_HEADER = ("account", "symbol", "quantity")
BANK_HEADER = ("client_id", "amount_fen")


Filter = Callable[[ColumnElement[str], ColumnElement[str]], ColumnElement[bool]]


def _depository_securities(
    account: ColumnElement[str], asset: ColumnElement[str]
) -> ColumnElement[bool]:
    return and_(depository_filter(account), asset != acc.CASH_ASSET)


def _credit_cash(account: ColumnElement[str], asset: ColumnElement[str]) -> ColumnElement[bool]:
    return and_(s.starts_with(account, CLIENT_CASH_PREFIX), asset == acc.CASH_ASSET)


def _at_close(conn: Connection, day: date, where: Filter) -> Counter[tuple[str, str]]:
    """Balances of the accounts ``where`` selects at the close of ``day``: the projection
    less the postings of later business dates."""
    b, t, p = s.balances, s.journal_transactions, s.journal_postings
    rows = s.driver_rows(
        conn, select(b.c.account, b.c.asset, b.c.amount).where(where(b.c.account, b.c.asset))
    )
    found = Counter({(account, asset): int(amount) for account, asset, amount in rows})
    # From the later transactions (usually none) to their postings by key: joining the other
    # way scans every posting of the selected accounts.
    later_seqs = select(t.c.seq).where(t.c.business_date > day)
    later = conn.execute(
        select(p.c.account, p.c.asset, sql.sum(p.c.amount))
        .where(p.c.txn_seq.in_(later_seqs), where(p.c.account, p.c.asset))
        .group_by(p.c.account, p.c.asset)
    )
    for account, asset, amount in later:
        found[(account, asset)] -= int(amount)
    return found


def ledger_positions(conn: Connection, day: date) -> dict[Position, int]:
    """Non-zero positions of the depository accounts in the ledger at the close of ``day``."""
    found = _at_close(conn, day, _depository_securities)
    return {key: quantity for key, quantity in found.items() if quantity}


def ledger_credit_cash(conn: Connection, day: date) -> dict[str, int]:
    """Each client's credit cash (free plus locked, fen) in the ledger at the close, as
    the bank's file of the day sees it: the day's collection, still in transit, added back."""
    cash: Counter[str] = Counter()
    for (account, _), fen in _at_close(conn, day, _credit_cash).items():
        owner = credit_cash_owner(account)
        if owner is not None:
            cash[owner] += fen
    cash.update(collected_after_cutoff(conn, day))
    return dict(cash)


def _differences(
    check: str, ledger: dict[Any, int], received: dict[Any, int], subject: Callable[[Any], str]
) -> list[Row]:
    rows: list[Row] = []
    for key, mine in ledger.items():
        theirs = received.get(key, 0)
        if mine != theirs:
            rows.append((check, "difference", subject(key), str(mine), str(theirs)))
    for key, theirs in received.items():
        if theirs and key not in ledger:
            rows.append((check, "difference", subject(key), "0", str(theirs)))
    return sorted(rows)


def _missing(check: str, day: date) -> list[Row]:
    return [(check, "missing", day.isoformat(), "a file", "none")]


def clearing_differences(
    conn: Connection, day: date, received: dict[Position, int] | None
) -> list[Row]:
    if received is None:
        return _missing(CLEARING_CHECK, day)
    ledger = ledger_positions(conn, day)
    return _differences(CLEARING_CHECK, ledger, received, lambda key: f"{key[0]} {key[1]}")


def bank_differences(conn: Connection, day: date, received: dict[str, int] | None) -> list[Row]:
    if received is None:
        return _missing(BANK_CHECK, day)
    return _differences(BANK_CHECK, ledger_credit_cash(conn, day), received, str)


def external_reconciliation(
    conn: Connection, day: date
) -> tuple[dict[str, list[Row]], dict[str, bytes]]:
    """Each check's differences (an empty list: none), as ``reconcile_step`` collects them,
    and the copies of the received files to write beside them; each file is read once."""
    positions, balances = load_clearing_file(conn, day), load_bank_file(conn, day)
    differences = {
        CLEARING_CHECK: clearing_differences(conn, day, positions),
        BANK_CHECK: bank_differences(conn, day, balances),
    }
    return differences, _copies(day, positions, balances)


def external_differences(conn: Connection, day: date) -> dict[str, list[Row]]:
    return external_reconciliation(conn, day)[0]


def external_check_rows(conn: Connection, day: date) -> list[Row]:
    """Both checks' rows, sorted by check, each check's differences or its ``ok`` row."""
    rows: list[Row] = []
    for check, found in sorted(external_differences(conn, day).items()):
        rows += found or [(check, "ok", "", "", "")]
    return rows


def received_files(conn: Connection, day: date) -> dict[str, bytes]:
    """Copies of the day's received files as CSV (only those received), to write beside the
    reconciliation file: both sides of every listed difference in one folder."""
    return _copies(day, load_clearing_file(conn, day), load_bank_file(conn, day))


def _copies(
    day: date, positions: dict[Position, int] | None, balances: dict[str, int] | None
) -> dict[str, bytes]:
    files: dict[str, bytes] = {}
    if positions is not None:
        lines = [(a, x, q) for (a, x), q in sorted(positions.items())]
        files[f"clearing_positions_{day:%Y%m%d}.csv"] = csv_bytes(CLEARING_HEADER, lines)
    if balances is not None:
        lines_fen = sorted(balances.items())
        files[f"bank_balances_{day:%Y%m%d}.csv"] = csv_bytes(BANK_HEADER, lines_fen)
    return files
