"""The external checks (ACC-7) compared by the store give the rows of the key-by-key
comparison of ``ledger_positions`` and ``ledger_credit_cash`` with the received files, on a
book with a difference of every kind: a ledger key the file lacks, a file line the ledger
lacks, other quantities, zero lines, keys a later business date changed (both ways: the
projection agreeing with the file where the close does not, and the other way round), a
client's cash, locked proceeds, a collection in transit, a missing file; and the copies of
the received files are ``csv_bytes`` of their lines sorted by key, whatever the names hold."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
from sqlalchemy import Engine

from ledger_helpers import open_client, short_terms
from liangrong.domain import accounts as acc
from liangrong.domain import operations as ops
from liangrong.eod.external_checks import (
    BANK_HEADER,
    CLEARING_HEADER,
    external_check_rows,
    external_differences,
    ledger_credit_cash,
    ledger_positions,
    received_files,
)
from liangrong.eod.files import csv_bytes, joined_csv_bytes
from liangrong.ledger.journal import Ledger
from liangrong.store.clearing_records import (
    bank_balances,
    clearing_positions,
    load_bank_file,
    load_clearing_file,
    save_bank_file,
    save_clearing_file,
)
from liangrong.store.collections import collection_prefix

DAY, LATER, ODD = date(2026, 3, 2), date(2026, 3, 3), date(2026, 3, 4)
Row = tuple[str, str, str, str, str]


def sec(client: str, exchange: str) -> str:
    return acc.client_securities(client, exchange)


def book(store: Engine, clock: Any) -> None:
    ledger = Ledger(store, clock)
    ledger.post(ops.fund_pool("fund-cash", DAY, "CNY", 10_000_000_00))
    for symbol, shares in (
        ("600000.SH", 1_000_000),
        ("600036.SH", 1_000_000),
        ("000001.SZ", 1_000),
    ):
        ledger.post(ops.fund_pool(f"fund-{symbol}", DAY, symbol, shares))
    for client in ("CA", "CB", "CC", "CD"):
        open_client(ledger, client, on=DAY)
    for client, fen in (("CA", 1_000_000), ("CB", 500_000), ("CC", 300_000), ("CD", 200_000)):
        ledger.post(ops.deposit_cash(f"dep-{client}", DAY, client, fen))
    for n, (client, symbol, shares) in enumerate(
        [
            ("CA", "600000.SH", 10_000),
            ("CA", "000001.SZ", 5_000),
            ("CB", "600036.SH", 2_000),
            ("CC", "600000.SH", 3_000),
        ]
    ):
        ledger.post(ops.transfer_collateral_in(f"in-{n}", DAY, client, symbol, shares))
    # CD's short sale: 1,000 shares out of the lending pool, 3,000,000 fen locked.
    ledger.post(
        ops.open_short("short-CD", short_terms("S-CD", "CD", 1_000, 3_000_000, open_date=DAY))
    )
    # The end of day's collection takes 50,000 fen of CB's after the bank cut its file.
    ledger.post(ops.withdraw_cash(f"{collection_prefix(DAY)}CB", DAY, "CB", 50_000))
    # The next business date, posted before the day is checked (again).
    ledger.post(ops.transfer_collateral_in("later-CB", LATER, "CB", "600036.SH", 500))
    ledger.post(ops.transfer_collateral_in("later-CC-in", LATER, "CC", "600000.SH", 500))
    ledger.post(ops.withdraw_cash("later-CA", LATER, "CA", 100_000))
    ledger.post(ops.withdraw_cash("later-CC-out", LATER, "CC", 1_000))


CLEARING_FILE = {
    (sec("CA", "SH"), "600000.SH"): 10_000,  # agrees
    (sec("CB", "SH"), "600036.SH"): 2_000,  # agrees at the close, not with the projection
    (sec("CC", "SH"), "600000.SH"): 3_500,  # agrees with the projection, not at the close
    (sec("CD", "SH"), "600000.SH"): 700,  # a line the ledger lacks
    (acc.LENDING_POOL, "600000.SH"): 1_000_000,  # agrees
    (acc.LENDING_POOL, "600036.SH"): 999_500,  # another quantity
    (acc.client_ordinary("CA", "SH"), "600000.SH"): 42,  # not a depository account's
}  # CA's 000001.SZ: a key the file lacks
ZERO_LINES = [(sec("CD", "SZ"), "000001.SZ"), (acc.LENDING_POOL, "000001.SZ")]
BANK_FILE = {
    "CA": 1_000_000,  # agrees at the close, not with the projection (a later withdrawal)
    "CB": 500_000,  # agrees: the collection is in transit
    "CC": 300_000 - 1_000,  # the projection's figure, not the close's
    "CD": 200_000 + 3_000_000,  # agrees: free plus locked
    "CE": 10_000,  # a client the ledger has no cash of
}


def receive(store: Engine, clock: Any) -> None:
    assert save_clearing_file(store, DAY, CLEARING_FILE, clock=clock)
    assert save_bank_file(store, DAY, BANK_FILE, clock=clock)
    # Zero lines say nothing; written as a side might send them.
    with store.begin() as conn:
        conn.execute(
            clearing_positions.insert(),
            [dict(trading_date=DAY, account=a, symbol=x, quantity=0) for a, x in ZERO_LINES],
        )
        conn.execute(bank_balances.insert(), [dict(trading_date=DAY, client_id="CF", amount_fen=0)])


def key_by_key(store: Engine, day: date) -> dict[str, list[Row]]:
    """The checks as they were made before the store compared: every key through Python."""
    with store.connect() as conn:
        positions, balances = load_clearing_file(conn, day), load_bank_file(conn, day)
        return {
            "clearing": _compare("clearing", day, ledger_positions(conn, day), positions),
            "bank": _compare("bank", day, ledger_credit_cash(conn, day), balances),
        }


def _compare(
    check: str, day: date, ledger: dict[Any, int], received: dict[Any, int] | None
) -> list[Row]:
    if received is None:
        return [(check, "missing", day.isoformat(), "a file", "none")]
    subject = (lambda key: f"{key[0]} {key[1]}") if check == "clearing" else str
    rows: list[Row] = []
    for key, mine in ledger.items():
        theirs = received.get(key, 0)
        if mine != theirs:
            rows.append((check, "difference", subject(key), str(mine), str(theirs)))
    for key, theirs in received.items():
        if theirs and key not in ledger:
            rows.append((check, "difference", subject(key), "0", str(theirs)))
    return sorted(rows)


EXPECTED = [
    ("bank", "difference", "CC", "300000", "299000"),
    ("bank", "difference", "CE", "0", "10000"),
    ("clearing", "difference", "external:ordinary:CA:SH 600000.SH", "0", "42"),
    ("clearing", "difference", f"{sec('CA', 'SZ')} 000001.SZ", "5000", "0"),
    ("clearing", "difference", f"{sec('CC', 'SH')} 600000.SH", "3000", "3500"),
    ("clearing", "difference", f"{sec('CD', 'SH')} 600000.SH", "0", "700"),
    ("clearing", "difference", "firm:lending_pool 000001.SZ", "1000", "0"),
    ("clearing", "difference", "firm:lending_pool 600036.SH", "999000", "999500"),
]


def test_the_store_finds_every_kind_of_difference_the_key_by_key_check_finds(
    store: Engine, fixed_clock
) -> None:
    book(store, fixed_clock)
    receive(store, fixed_clock)
    with store.connect() as conn:
        rows = external_check_rows(conn, DAY)
        found, later = external_differences(conn, DAY), external_differences(conn, LATER)
    assert rows == EXPECTED
    assert found == key_by_key(store, DAY)
    assert (
        later
        == key_by_key(store, LATER)
        == {
            "clearing": [("clearing", "missing", "2026-03-03", "a file", "none")],
            "bank": [("bank", "missing", "2026-03-03", "a file", "none")],
        }
    )


def test_a_book_that_agrees_with_both_files_has_no_difference(store: Engine, fixed_clock) -> None:
    book(store, fixed_clock)
    with store.connect() as conn:
        positions, cash = ledger_positions(conn, DAY), ledger_credit_cash(conn, DAY)
    assert save_clearing_file(store, DAY, positions, clock=fixed_clock)
    assert save_bank_file(store, DAY, cash, clock=fixed_clock)
    with store.connect() as conn:
        assert external_check_rows(conn, DAY) == [
            ("bank", "ok", "", "", ""),
            ("clearing", "ok", "", "", ""),
        ]


ODD_NAMES = ["a", "a!", "a-b", "a:b", "a b", "A", "b", "a\u00e9", "a\u4e2d", "a_", "a~"]


@pytest.mark.parametrize("needs_quoting", [False, True])
def test_the_copies_are_the_lines_sorted_by_key_byte_for_byte(
    store: Engine, fixed_clock, needs_quoting: bool
) -> None:
    positions = {(a, x): n for n, (a, x) in enumerate(
        ((a, x) for a in ODD_NAMES for x in ("600000.SH", "600000.SZ", "6000")), start=1
    )}  # fmt: skip
    balances = {name: -n * 7 for n, name in enumerate(ODD_NAMES, start=1)}
    if needs_quoting:
        positions[("a,b", 'x"y')] = 5
        balances["c\r\nd"] = 9
    assert save_clearing_file(store, ODD, positions, clock=fixed_clock)
    assert save_bank_file(store, ODD, balances, clock=fixed_clock)
    with store.connect() as conn:
        files = received_files(conn, ODD)
        assert received_files(conn, DAY) == {}
    lines = [(a, x, n) for (a, x), n in sorted(positions.items())]
    assert files == {
        "clearing_positions_20260304.csv": csv_bytes(CLEARING_HEADER, lines),
        "bank_balances_20260304.csv": csv_bytes(BANK_HEADER, sorted(balances.items())),
    }


@pytest.mark.parametrize(
    "rows",
    [
        [],
        [("a", "b", 1), ("c", "d", -2)],
        [("", "", 0)],
        [("a,b", "c", 1)],
        [('a"b', "c", 1)],
        [("a\rb", "c", 1)],
        [("a\nb", "c", 1)],
        [("a\r\nb", "c", 1), ("d", "e", 2)],
        [("é中", " x ", 3)],
    ],
)
def test_joined_lines_give_the_csv_bytes_or_nothing(rows: list[tuple[str, str, int]]) -> None:
    header = ("account", "symbol", "quantity")
    joined = joined_csv_bytes(header, [f"{a},{x},{n}" for a, x, n in rows])
    plain = not any(c in a + x for a, x, _ in rows for c in ',"\r\n')
    assert joined == (csv_bytes(header, rows) if plain else None)
    assert joined_csv_bytes(("one",), [""]) is None  # csv quotes a row of one empty field
