"""The ledger's figures against a received file's lines (ACC-7), compared by the store: only
the keys whose figures differ come back, so a day without differences costs the interpreter
nothing per line, however many lines the file has.

Each side is a query of ``(key..., figure)`` rows, at most one row per key, figures
non-zero (a zero figure and no row say the same thing).  The comparison is the two sides'
``EXCEPT`` each way: a key whose figures differ is in both, a key only one side has is in
that side's.  In key order (``ORDER BY`` every column) SQLite merges the two sides as they
come from their indexes instead of building a temporary index of either side; a side whose
key is an expression is sorted first.

Invariants: read only; each differing key comes back once with both figures, 0 for a side
without a row; a key whose figures agree never comes back.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnClause, Connection, Select, except_, literal_column

Figures = tuple[int, int]  # (the ledger's, the file's)


def differing(
    conn: Connection, ledger: Select[Any], received: Select[Any]
) -> dict[tuple[Any, ...], Figures]:
    """The keys whose figures differ between the two sides, with both figures."""
    found: dict[tuple[Any, ...], Figures] = {}
    for *key, figure in _only_in(conn, ledger, received):
        found[tuple(key)] = (int(figure), 0)
    for *key, figure in _only_in(conn, received, ledger):
        mine, _ = found.get(tuple(key), (0, 0))
        found[tuple(key)] = (mine, int(figure))
    return found


def _only_in(conn: Connection, side: Select[Any], other: Select[Any]) -> list[Any]:
    columns = len(side.selected_columns)
    in_key_order: list[ColumnClause[Any]] = [literal_column(str(n)) for n in range(1, columns + 1)]
    return list(conn.execute(except_(side, other).order_by(*in_key_order)))
