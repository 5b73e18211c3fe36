"""The accrual's transactions built a batch at a time (``eod.accrual._Legs``): the batch's
columns are gathered once, so each transaction must still take exactly its own contracts."""

from __future__ import annotations

from datetime import date
from fractions import Fraction

import numpy as np

from liangrong.eod.accrual import _by_client, _entries, _Legs
from liangrong.eod.book_view import ContractColumns

DAY = date(2026, 11, 23)


def _columns(clients: list[str]) -> ContractColumns:
    size = len(clients)
    ids = [f"K{i:04d}" for i in range(size)]
    ones = np.ones(size, np.int64)
    used = np.asarray([DAY.toordinal() - i % 5 for i in range(size)], np.int64)
    return ContractColumns(
        ids, clients, ["600000"] * size, np.arange(size) % 2 == 0, ones, ones, ones,
        used, used + 180, [Fraction(6, 100)] * size,
    )  # fmt: skip


def test_a_batch_builds_the_transactions_its_entries_build_one_by_one() -> None:
    # B holds 18 contracts (two parts), interleaved with A and C; one of C's charges nothing
    clients = ["B"] * 10 + ["A", "C", "C"] + ["B"] * 8 + ["A"]
    cols = _columns(clients)
    posted = np.zeros((cols.size, 4), np.int64)
    posted[:, 0] = np.arange(cols.size) + 1
    posted[::3, 2] = 7
    posted[20, 2] = 7
    posted[11] = 0
    legs = _Legs(DAY, cols, cols.used - 1, posted)
    entries = _entries(_by_client(cols, posted.sum(axis=1)))
    assert [(client, part, len(indices)) for client, part, indices in entries] == [
        ("A", 0, 2), ("B", 0, 16), ("B", 1, 2), ("C", 0, 1),
    ]  # fmt: skip
    batch = legs.accruals(entries)
    assert batch == [accrual for entry in entries for accrual in legs.accruals([entry])]
    b_second = batch[2]
    assert b_second.command_id == "eod:2026-11-23:charges:B:1"
    assert list(b_second.contract_ids) == ["K0019", "K0020"]
    assert list(b_second.amounts_fen) == [20, 21 + 7]
    assert b_second.events[1] == {
        "type": "charges_accrued", "contract_id": "K0020", "from": "2026-11-22",
        "through": "2026-11-23", "interest": 21, "penalty": 7,
    }  # fmt: skip
    assert batch[3].contract_ids == ["K0012"]  # C's other contract booked nothing
