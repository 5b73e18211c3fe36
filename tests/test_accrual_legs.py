"""The accrual's transactions built a batch at a time (``eod.accrual._Legs``): the batch's
columns are gathered once, so each transaction must still take exactly its own contracts."""

from __future__ import annotations

from datetime import date
from fractions import Fraction

import numpy as np

from liangrong.domain.operations import CONTRACTS_PER_LEG
from liangrong.eod.accrual import _by_client, _entries, _Legs
from liangrong.eod.book_view import ContractColumns

DAY = date(2026, 11, 23)


def _columns(clients: list[str]) -> ContractColumns:
    size = len(clients)
    ids = [f"K{i:04d}" for i in range(size)]
    ones = np.ones(size, np.int64)
    used = np.asarray([DAY.toordinal() - i % 5 for i in range(size)], np.int64)
    row_of = {cid: row for row, cid in enumerate(ids)}
    return ContractColumns(
        np.arange(size), row_of, ids, clients, ["600000"] * size, np.arange(size) % 2 == 0,
        ones, ones, ones, used, used + 180, [Fraction(6, 100)] * size,
    )  # fmt: skip


def test_a_batch_builds_the_transactions_its_entries_build_one_by_one() -> None:
    # B holds 50 contracts (two parts of at most CONTRACTS_PER_LEG = 48), interleaved with
    # A and C; one of C's charges nothing
    assert CONTRACTS_PER_LEG == 48
    clients = ["B"] * 40 + ["A", "C", "C"] + ["B"] * 10 + ["A"]
    cols = _columns(clients)
    posted = np.zeros((cols.size, 4), np.int64)
    posted[:, 0] = np.arange(cols.size) + 1
    posted[::3, 2] = 7
    posted[52, 2] = 7
    posted[41] = 0
    legs = _Legs(DAY, cols, cols.used - 1, posted)
    entries = _entries(_by_client(cols, posted.sum(axis=1)))
    assert [(client, part, len(indices)) for client, part, indices in entries] == [
        ("A", 0, 2), ("B", 0, 48), ("B", 1, 2), ("C", 0, 1),
    ]  # fmt: skip
    batch = legs.accruals(entries)
    assert batch == [accrual for entry in entries for accrual in legs.accruals([entry])]
    b_second = batch[2]
    assert b_second.command_id == "eod:2026-11-23:charges:B:1"
    assert list(b_second.contract_ids) == ["K0051", "K0052"]
    assert list(b_second.amounts_fen) == [52 + 7, 53 + 7]
    assert b_second.events[1] == {
        "type": "charges_accrued", "contract_id": "K0052", "from": "2026-11-20",
        "through": "2026-11-23", "interest": 53, "penalty": 7,
    }  # fmt: skip
    assert batch[3].contract_ids == ["K0042"]  # C's other contract booked nothing
