"""The clients' collateral balances by client id, as the risk book values them: each
client's cash (its free and locked accounts summed) and what it holds of each security (its
exchanges' accounts summed).

Invariants:
- a reading holds only what is not zero: a client with no cash, or a security no longer
  held, has no entry, so a reading moved by the journal's tail (``with_changes``) equals a
  fresh reading of the same state, whatever order either was built in;
- the store cuts each name to its client id, up to the colon after the id: the ledger holds
  only names of its chart, whose ids hold no colon, so cutting is parsing them;
- a reading is never changed in place: moving it builds another, so whoever still holds the
  older one holds the state it stood for.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TypeVar

from sqlalchemy import Connection

from liangrong.domain import accounts as acc
from liangrong.ledger import schema as s

_CLIENT, _OTHER = "\x00client", "\x00other"  # placeholders: no colon in either


def _prefix(name: str) -> str:
    """What stands before the client id in a chart name made with the placeholder
    ``_CLIENT``; what follows the id is nothing or starts with a colon."""
    before, client, after = name.partition(_CLIENT)
    assert client and after[:1] in ("", ":"), name
    return before


# a client's free cash ``{prefix}{client}`` and its locked cash ``{prefix}{client}:locked``;
# its securities ``{prefix}{client}:{exchange}``
CASH_PREFIX = _prefix(acc.client_cash(_CLIENT))
assert _prefix(acc.client_locked_cash(_CLIENT)) == CASH_PREFIX
HELD_PREFIX = _prefix(acc.client_securities(_CLIENT, _OTHER))
# Each moved by the tail: (client, fen) and (client, security, shares)
CashChange = tuple[str, int]
HeldChange = tuple[str, str, int]


@dataclass(frozen=True)
class Collateral:
    """Cash by client (fen) and holdings by (client, security) (shares), none zero."""

    cash_fen: dict[str, int]
    held: dict[tuple[str, str], int]

    @property
    def size(self) -> int:
        return len(self.cash_fen) + len(self.held)

    def with_changes(self, cash: Sequence[CashChange], held: Sequence[HeldChange]) -> Collateral:
        """This reading moved by what the tail posted (itself, when nothing)."""
        if not cash and not held:
            return self
        return Collateral(
            _moved(self.cash_fen, cash), _moved(self.held, [((c, a), q) for c, a, q in held])
        )


K = TypeVar("K")


def _moved(figures: dict[K, int], changes: Iterable[tuple[K, int]]) -> dict[K, int]:
    moved = dict(figures)
    for key, amount in changes:
        total = moved.get(key, 0) + amount
        if total:
            moved[key] = total
        else:
            moved.pop(key, None)
    return moved


def _by_client(conn: Connection, prefix: str, table: str) -> str:
    """SQL: (client id, asset, amount) of the non-zero rows of ``table`` on the accounts
    named ``{prefix}{client}…`` (a range of the key: its two parameters)."""
    marker = s.marker(conn)
    rest = f"substr(account, {len(prefix) + 1})"
    colon = s.position_in(conn, rest + " || ':'", "':'")  # the first colon, or just past
    return (
        f"SELECT substr({rest}, 1, {colon} - 1), asset, amount FROM {table} "
        f"WHERE account >= {marker} AND account < {marker} AND amount <> 0"
    )


def _summed(
    conn: Connection, source: str = "", parameters: tuple[object, ...] = ()
) -> tuple[dict[str, int], dict[tuple[str, str], int]]:
    """The cash and the holdings summed by client, from ``balances`` or from the ``tail``
    that ``source`` defines (``WITH``, its ``parameters`` first), in one statement: the
    tail is materialised once for both."""
    table = "tail" if source else "balances"
    query = (
        f"{source} SELECT 0, * FROM ({_by_client(conn, CASH_PREFIX, table)}) AS cash "
        f"UNION ALL SELECT 1, * FROM ({_by_client(conn, HELD_PREFIX, table)}) AS held"
    )
    bounds = (CASH_PREFIX, s.prefix_end(CASH_PREFIX), HELD_PREFIX, s.prefix_end(HELD_PREFIX))
    cash: dict[str, int] = {}
    held: dict[tuple[str, str], int] = {}
    for rows in s.driver_batches(conn, query, (*parameters, *bounds)):
        for is_held, client, asset, amount in rows:
            if is_held:
                held[client, asset] = held.get((client, asset), 0) + amount
            else:
                cash[client] = cash.get(client, 0) + amount
    return cash, held


def load_collateral(conn: Connection) -> Collateral:
    """Every client's collateral as the ledger holds it now, in two range scans."""
    cash, held = _summed(conn)
    return Collateral(
        {c: fen for c, fen in cash.items() if fen}, {k: q for k, q in held.items() if q}
    )


def collateral_changes(
    conn: Connection, after: int, through: int
) -> tuple[list[CashChange], list[HeldChange]]:
    """What the postings after journal seq ``after`` up to ``through`` moved on each
    client's cash and on each of its holdings."""
    cash, held = _summed(conn, s.journal_tail(conn), (after, through))
    return list(cash.items()), [(c, a, q) for (c, a), q in held.items()]
