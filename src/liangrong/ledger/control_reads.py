"""Control totals (``domain.control_totals``) of the balances and of the journal's postings,
read from the store in bulk: what the daily reconciliation compares between full checks.

Millions of rows are read this way each day, so no row passes through Python on its own:
for a range of keys (balances, or postings the store first sums by key), the store hands
back three values, the keys' texts joined into one, their amounts joined into another, and
their count.  Each key is hashed once (``control_totals.digests``: every weight computed
from its key, none stored) and the amounts and weights are multiplied and summed as
arrays, exactly (``weighted_sum``).  A range whose joined texts do not split back into its
count of keys and amounts (a key holding the separator, an amount that is not an integer:
only a store changed behind the ledger's back) is read again row by row and totalled as
``control_totals.weighted`` always did, so the total never depends on the way it was read.

Invariants: read only; the totals equal ``control_totals.weighted`` over the same rows
(a key's weight never changes).
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import pairwise
from typing import Any

import numpy as np
from numpy.typing import NDArray
from sqlalchemy import Connection

from liangrong.domain import control_totals as ct
from liangrong.ledger import schema as s

_KEYS_APART = "\x1e"  # between two keys in a range's joined keys
_LIMB = 21  # bits: three limbs hold a number below 2^63
_LIMB_MASK = (1 << _LIMB) - 1
_ROWS_PER_SUM = 1 << 20  # a sum of as many products of two limbs (< 2^42) stays below 2^63

Amounts = NDArray[np.int64]


def balances_control(conn: Connection, low: str = "", high: str | None = None) -> int:
    """The control total of the balances of the accounts in ``[low, high)`` (``high``
    None: no end): one read of the projection's rows in that range."""
    within, bounds = _account_range(conn, low, high)
    rows = f"SELECT account, asset, amount FROM balances WHERE {within} AND amount <> 0"
    return _control_of(conn, rows, bounds)


def postings_control(conn: Connection, after_seq: int, through_seq: int) -> int:
    """The control total of the journal's postings of transactions ``after_seq`` (excluded)
    through ``through_seq``: a range of the postings' key, summed by key in the store."""
    marker = s.marker(conn)
    # PostgreSQL sums BIGINTs as NUMERIC: back to BIGINT, or an error (never a rounded text)
    total = "SUM(amount)" if conn.dialect.name == "sqlite" else "CAST(SUM(amount) AS BIGINT)"
    rows = (
        f"SELECT account, asset, {total} AS amount FROM journal_postings "
        f"WHERE txn_seq > {marker} AND txn_seq <= {marker} "
        "GROUP BY account, asset HAVING SUM(amount) <> 0"
    )
    return _control_of(conn, rows, (after_seq, through_seq))


def seq_ranges(after_seq: int, through_seq: int, size: int) -> list[tuple[int, int]]:
    """``(after_seq, through_seq]`` cut into ranges of at most ``size`` sequence numbers,
    each ``(after, through)``: ``postings_control`` of each, together, is that of all."""
    cuts = [*range(after_seq, through_seq, max(1, size)), through_seq]
    return list(pairwise(cuts)) if through_seq > after_seq else []


def weights(keys: Sequence[bytes]) -> Amounts:
    """Each encoded key's weight (``control_totals.key_weight``), in order."""
    raw = np.frombuffer(ct.digests(keys), dtype="<u8")
    return (raw % np.uint64(ct.MODULUS - 1)).astype(np.int64) + 1


def weighted_sum(amounts: Amounts, key_weights: Amounts) -> int:
    """``Σ amount × weight mod P``, exactly: each amount reduced mod P, then amounts and
    weights (both below 2^61) cut into three 21-bit limbs, so that a product of two limbs is
    below 2^42 and a sum of 2^20 of them below 2^63."""
    reduced = np.mod(amounts, np.int64(ct.MODULUS))  # in [0, P): the divisor's sign
    total = 0
    for start in range(0, len(reduced), _ROWS_PER_SUM):
        end = start + _ROWS_PER_SUM
        left, right = _limbs(reduced[start:end]), _limbs(key_weights[start:end])
        for i, x in enumerate(left):
            for j, y in enumerate(right):
                total += int(np.dot(x, y)) << (_LIMB * (i + j))
    return total % ct.MODULUS


def _limbs(values: Amounts) -> tuple[Amounts, Amounts, Amounts]:
    return values & _LIMB_MASK, (values >> _LIMB) & _LIMB_MASK, values >> (2 * _LIMB)


def _account_range(conn: Connection, low: str, high: str | None) -> tuple[str, tuple[str, ...]]:
    marker = s.marker(conn)
    if high is None:
        return f"account >= {marker}", (low,)
    return f"account >= {marker} AND account < {marker}", (low, high)


def _control_of(conn: Connection, rows: str, parameters: tuple[Any, ...]) -> int:
    """The control total of the rows ``(account, asset, amount)`` of the query ``rows``
    (one row per key), read as its joined keys, joined amounts and count."""
    within, apart = ord(ct.SEPARATOR), ord(_KEYS_APART)
    if conn.dialect.name == "sqlite":
        joined = (
            f"SELECT group_concat(account || char({within}) || asset, char({apart})), "
            f"group_concat(amount, ','), COUNT(*) FROM ({rows}) AS r"
        )
    else:
        joined = (
            f"SELECT string_agg(account || chr({within}) || asset, chr({apart})), "
            f"string_agg(amount::text, ','), COUNT(*) FROM ({rows}) AS r"
        )
    keys_text, amounts_text, count = conn.exec_driver_sql(joined, parameters).one()
    if not count:
        return 0
    keys = str(keys_text).encode().split(_KEYS_APART.encode())
    try:
        amounts = np.fromstring(str(amounts_text), dtype=np.int64, sep=",")
    except ValueError:  # an amount that is not an integer
        amounts = np.zeros(0, dtype=np.int64)
    if len(keys) == len(amounts) == count:
        return weighted_sum(amounts, weights(keys))
    found = conn.exec_driver_sql(f"SELECT account, asset, amount FROM ({rows}) AS r", parameters)
    return ct.weighted(((account, asset), int(amount)) for account, asset, amount in found)
