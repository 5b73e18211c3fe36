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

The store does the comparing (``store.received_comparison``): the ledger's balances as the
projection has them against the file's lines, only the differing keys come back.  What the
projection holds that the close did not (postings of later business dates), and for the bank
what its figure counts beyond a client's free cash (the locked proceeds, the collection in
transit), are adjustments of the few keys they touch, judged here: a key the store found
agreeing had the file's line as its figure.  ``ledger_positions`` and ``ledger_credit_cash``
give the same figures key by key, every key through the interpreter (for the tests, which
check that both ways agree).  The copies of the received files are joined into lines by the
store, in key order.

Invariants: read only (the ledger is never corrected here; the rows are the answer); rows
sorted; each check's differences, or its ``ok`` row in ``external_check_rows``; the copies
are ``csv_bytes`` of the lines sorted by key, byte for byte.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Collection, Mapping
from datetime import date
from typing import TypeVar

from sqlalchemy import ColumnElement, Connection, and_, select
from sqlalchemy import func as sql

from liangrong.domain import accounts as acc
from liangrong.eod.files import csv_bytes, joined_csv_bytes
from liangrong.ledger import schema as s
from liangrong.sim.bank import CLIENT_CASH_PREFIX, credit_cash_owner
from liangrong.sim.clearing import (
    CLIENT_SECURITIES_PREFIX,
    DEPOSITORY_FIRM_ACCOUNTS,
    depository_filter,
)
from liangrong.store.clearing_records import (
    BANK,
    CLEARING,
    Position,
    bank_lines_of,
    clearing_lines_of,
    is_received,
    joined_lines_in_key_order,
    lines_in_key_order,
    nonzero_lines,
)
from liangrong.store.collections import collected_after_cutoff
from liangrong.store.received_comparison import Figures, differing

# eod.reconcile's row; named here too so that reconcile can import this module without a cycle.
Row = tuple[str, str, str, str, str]
CLEARING_CHECK, BANK_CHECK = "clearing", "bank"
CLEARING_HEADER = ("account", "symbol", "quantity")
BANK_HEADER = ("client_id", "amount_fen")

Filter = Callable[[ColumnElement[str], ColumnElement[str]], ColumnElement[bool]]
Key = TypeVar("Key", Position, str)

# The depository's accounts lie in one key range of the balances (with a few other firm
# accounts): scanned as one range, the balances come in key order, as the store's merge of
# the two sides wants them, where the filter's ranges, taken one by one, would not.
_DEPOSITORY_LOW = min(CLIENT_SECURITIES_PREFIX, *DEPOSITORY_FIRM_ACCOUNTS)
_DEPOSITORY_HIGH = max(s.prefix_end(CLIENT_SECURITIES_PREFIX), *DEPOSITORY_FIRM_ACCOUNTS)


def _depository_securities(
    account: ColumnElement[str], asset: ColumnElement[str]
) -> ColumnElement[bool]:
    span = and_(account >= _DEPOSITORY_LOW, account <= _DEPOSITORY_HIGH)
    return and_(span, depository_filter(account), asset != acc.CASH_ASSET)


def _credit_cash(account: ColumnElement[str], asset: ColumnElement[str]) -> ColumnElement[bool]:
    return and_(s.starts_with(account, CLIENT_CASH_PREFIX), asset == acc.CASH_ASSET)


def _later(conn: Connection, day: date, where: Filter) -> Counter[tuple[str, str]]:
    """The sums by key of the postings of business dates after ``day`` on the accounts
    ``where`` selects (usually none)."""
    t, p = s.journal_transactions, s.journal_postings
    # From the later transactions to their postings by key: joining the other way scans
    # every posting of the selected accounts.
    later_seqs = select(t.c.seq).where(t.c.business_date > day)
    rows = conn.execute(
        select(p.c.account, p.c.asset, sql.sum(p.c.amount))
        .where(p.c.txn_seq.in_(later_seqs), where(p.c.account, p.c.asset))
        .group_by(p.c.account, p.c.asset)
    )
    return Counter({(account, asset): int(amount) for account, asset, amount in rows})


def _at_close(conn: Connection, day: date, where: Filter) -> Counter[tuple[str, str]]:
    """Balances of the accounts ``where`` selects at the close of ``day``: the projection
    less the postings of later business dates."""
    b = s.balances
    rows = s.driver_rows(
        conn, select(b.c.account, b.c.asset, b.c.amount).where(where(b.c.account, b.c.asset))
    )
    found = Counter({(account, asset): int(amount) for account, asset, amount in rows})
    found.subtract(_later(conn, day, where))
    return found


def ledger_positions(conn: Connection, day: date) -> dict[Position, int]:
    """Non-zero positions of the depository accounts in the ledger at the close of ``day``,
    key by key (the check itself compares in the store: ``external_reconciliation``)."""
    found = _at_close(conn, day, _depository_securities)
    return {key: quantity for key, quantity in found.items() if quantity}


def ledger_credit_cash(conn: Connection, day: date) -> dict[str, int]:
    """Each client's credit cash (free plus locked, fen) in the ledger at the close, as
    the bank's file of the day sees it: the day's collection, still in transit, added back;
    client by client (the check itself compares in the store)."""
    cash: Counter[str] = Counter()
    for (account, _), fen in _at_close(conn, day, _credit_cash).items():
        owner = credit_cash_owner(account)
        if owner is not None:
            cash[owner] += fen
    cash.update(collected_after_cutoff(conn, day))
    return dict(cash)


def _position_differences(conn: Connection, day: date) -> dict[Position, Figures]:
    b = s.balances
    ledger = select(b.c.account, b.c.asset, b.c.amount).where(
        _depository_securities(b.c.account, b.c.asset), b.c.amount != 0
    )
    compared = differing(conn, ledger, nonzero_lines(CLEARING, day))
    found = {(account, symbol): figures for (account, symbol), figures in compared.items()}
    later = {key: -amount for key, amount in _later(conn, day, _depository_securities).items()}
    return _adjusted(found, later, lambda keys: clearing_lines_of(conn, day, keys))


def _cash_differences(conn: Connection, day: date) -> dict[str, Figures]:
    """The bank's figure of a client is the free credit cash, compared by the store, plus
    the locked proceeds, the collection in transit and less later postings, added here."""
    b = s.balances
    client = sql.substr(b.c.account, len(CLIENT_CASH_PREFIX) + 1)
    in_range = and_(_credit_cash(b.c.account, b.c.asset), b.c.amount != 0)
    # A client id has no colon (``domain.accounts``): after the prefix, a colon is a locked
    # account's suffix.
    free = select(client, b.c.amount).where(in_range, ~client.contains(":"))
    compared = differing(conn, free, nonzero_lines(BANK, day))
    found = {client_id: figures for (client_id,), figures in compared.items()}
    beyond: Counter[str] = Counter()
    locked = conn.execute(select(b.c.account, b.c.amount).where(in_range, client.contains(":")))
    for account, fen in locked:
        _add(beyond, account, int(fen))
    for (account, _), fen in _later(conn, day, _credit_cash).items():
        _add(beyond, account, -fen)
    beyond.update(collected_after_cutoff(conn, day))
    return _adjusted(found, beyond, lambda clients: bank_lines_of(conn, day, clients))


def _add(cash: Counter[str], account: str, fen: int) -> None:
    owner = credit_cash_owner(account)
    if owner is not None:
        cash[owner] += fen


def _adjusted(
    found: dict[Key, Figures],
    adjustments: Mapping[Key, int],
    lines_of: Callable[[Collection[Key]], Mapping[Key, int]],
) -> dict[Key, Figures]:
    """The differing keys' figures at the close: ``found`` (the store's, as the projection
    has them) with each adjusted key's figure moved by its adjustment; a key the store found
    agreeing had the file's line as its figure (0 without one)."""
    agreeing = {key for key, amount in adjustments.items() if amount and key not in found}
    lines = lines_of(agreeing) if agreeing else {}
    judged = dict(found)
    for key, amount in adjustments.items():
        line = lines.get(key, 0)
        mine, theirs = found.get(key, (line, line))
        judged[key] = (mine + amount, theirs)
    return {key: (mine, theirs) for key, (mine, theirs) in judged.items() if mine != theirs}


def _rows(check: str, found: Mapping[Key, Figures], subject: Callable[[Key], str]) -> list[Row]:
    return sorted(
        (check, "difference", subject(key), str(mine), str(theirs))
        for key, (mine, theirs) in found.items()
    )


def _missing(check: str, day: date) -> list[Row]:
    return [(check, "missing", day.isoformat(), "a file", "none")]


def clearing_check(conn: Connection, day: date) -> list[Row]:
    if not is_received(conn, CLEARING, day):
        return _missing(CLEARING_CHECK, day)
    found = _position_differences(conn, day)
    return _rows(CLEARING_CHECK, found, lambda key: f"{key[0]} {key[1]}")


def bank_check(conn: Connection, day: date) -> list[Row]:
    if not is_received(conn, BANK, day):
        return _missing(BANK_CHECK, day)
    return _rows(BANK_CHECK, _cash_differences(conn, day), str)


def external_reconciliation(
    conn: Connection, day: date
) -> tuple[dict[str, list[Row]], dict[str, bytes]]:
    """Each check's differences (an empty list: none), as ``reconcile_step`` collects them,
    and the copies of the received files to write beside them."""
    differences = {CLEARING_CHECK: clearing_check(conn, day), BANK_CHECK: bank_check(conn, day)}
    return differences, received_files(conn, day)


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
    files: dict[str, bytes] = {}
    for side, name, header in (
        (CLEARING, f"clearing_positions_{day:%Y%m%d}.csv", CLEARING_HEADER),
        (BANK, f"bank_balances_{day:%Y%m%d}.csv", BANK_HEADER),
    ):
        lines = joined_lines_in_key_order(conn, side, day, ",")
        if lines is None:
            continue
        # A field the CSV must quote (never in a file of the chart's names): field by field.
        data = joined_csv_bytes(header, lines)
        files[name] = data if data is not None else csv_bytes(header, _fields(conn, side, day))
    return files


def _fields(conn: Connection, side: str, day: date) -> list[tuple[object, ...]]:
    return [tuple(line) for line in lines_in_key_order(conn, side, day) or []]
