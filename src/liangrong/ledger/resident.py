"""The resident book: the ledger's bulk readings kept current from the journal, for a
process that lives through sessions and ends of day (the service).  The contract table,
the clients' debt balances and their collateral are read once, then caught up with what
the journal added since, instead of being read again (millions of rows at a firm's size).

Invariants:
- a reading stands for one state of the ledger, the journal's mark (its last transaction's
  seq and payload digest); caught up to a later state it equals what a fresh read of that
  state returns (the table and the rows row for row and in the same order);
- catching up reads only the journal's tail (postings after the mark, by the journal's key,
  up to the new mark) and the contracts opened after it; a fresh reading during which the
  journal moved (another writer, on PostgreSQL) stands at no known mark; it reads afresh
  instead of catching up from such a reading, and when the journal no longer
  holds the mark's transaction as it was (another store, or one restored from a backup),
  when the tail is larger than the reading, when the contracts do not add up, and for a new
  debt key whose place in the rows only the database's collation knows.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Generic, TypeVar

from sqlalchemy import Connection, func, select

from liangrong.ledger import schema as s
from liangrong.ledger.collateral import Collateral, collateral_changes, load_collateral
from liangrong.ledger.collector import collector_paused
from liangrong.ledger.columns import (
    DEBT_PREFIX,
    TERM_FIELDS,
    Change,
    ContractTable,
    DebtRows,
    contract_count,
    load_contract_table,
    load_debt_rows,
)

FRESH, CAUGHT_UP, KEPT = "fresh", "caught up", "kept"
# A tail of up to this many postings is always caught up, longer only if no longer than
# the reading (``_tail_followed``).
TAIL_FLOOR = 10_000


@dataclass(frozen=True)
class JournalMark:
    """A state of the ledger: its journal's last transaction (seq 0, no digest: empty)."""

    seq: int
    digest: str


# A reading the journal moved under (PostgreSQL reads each statement at its own state:
# another writer's commit between the mark and the reading): equal to no mark, never
# caught up from.
UNKNOWN = JournalMark(-1, "")


def journal_mark(conn: Connection) -> JournalMark:
    t = s.journal_transactions
    row = conn.execute(
        select(t.c.seq, t.c.payload_digest).order_by(t.c.seq.desc()).limit(1)
    ).first()
    return JournalMark(0, "") if row is None else JournalMark(int(row[0]), str(row[1]))


def _still_holds(conn: Connection, mark: JournalMark) -> bool:
    """The journal holds ``mark``'s transaction as it was (so everything before it: the
    journal is append-only)."""
    if mark.seq <= 0:
        return mark.seq == 0  # UNKNOWN: nothing holds it
    t = s.journal_transactions
    found = conn.execute(select(t.c.payload_digest).where(t.c.seq == mark.seq)).scalar()
    return found == mark.digest


def _tail_postings(conn: Connection, after: int, through: int) -> int:
    p = s.journal_postings
    query = select(func.count()).where(p.c.txn_seq > after, p.c.txn_seq <= through)
    return int(conn.execute(query).scalar_one())


def debt_changes(conn: Connection, after: int, through: int) -> list[Change]:
    """What the postings after journal seq ``after`` up to ``through`` moved on each key of
    the clients' debt accounts (every key posted, even one summing to nothing)."""
    marker = s.marker(conn)
    query = (
        f"{s.journal_tail(conn)} SELECT account, asset, SUM(amount) FROM tail "
        f"WHERE account >= {marker} AND account < {marker} GROUP BY account, asset"
    )
    bounds = (after, through, DEBT_PREFIX, s.prefix_end(DEBT_PREFIX))
    return [(str(a), str(b), int(c)) for a, b, c in conn.exec_driver_sql(query, bounds)]


def _caught_up_table(
    conn: Connection, kept: tuple[JournalMark, ContractTable], now: JournalMark
) -> ContractTable | None:
    """The kept table with the contracts opened since its mark, or None: read afresh."""
    mark, table = kept
    if mark.seq >= now.seq or not _still_holds(conn, mark):
        return None
    later = load_contract_table(conn, TERM_FIELDS, (mark.seq, now.seq))
    whole = table.followed_by(later) if later.size else table
    return whole if contract_count(conn) == whole.size else None


def _indexed_table(conn: Connection) -> ContractTable:
    """A fresh table with its index of rows by id made with it: kept resident, the index is
    carried to the tables that follow (``ContractTable.followed_by``), so no step of a day
    makes it again (millions of ids)."""
    table = load_contract_table(conn)
    _ = table.row_of
    return table


def _tail_followed(
    conn: Connection, mark: JournalMark, now: JournalMark, size: int, floor: int
) -> bool:
    """A reading of ``size`` rows at ``mark`` can be caught up to ``now``: the journal
    still holds the mark, and its tail since is no longer than the reading or the floor
    (grouping a posting costs about what reading a row does)."""
    if mark.seq >= now.seq or not _still_holds(conn, mark):
        return False
    return _tail_postings(conn, mark.seq, now.seq) <= max(size, floor)


def _caught_up_debts(
    conn: Connection, kept: tuple[JournalMark, DebtRows], now: JournalMark, *, floor: int
) -> DebtRows | None:
    """The kept rows moved by the journal's tail since their mark, or None: read afresh."""
    mark, rows = kept
    if not _tail_followed(conn, mark, now, rows.size, floor):
        return None
    changes = debt_changes(conn, mark.seq, now.seq)
    return rows.with_changes(changes, conn.dialect.name == "sqlite")


def _caught_up_collateral(
    conn: Connection, kept: tuple[JournalMark, Collateral], now: JournalMark, *, floor: int
) -> Collateral | None:
    """The kept collateral moved by the journal's tail since its mark, or None: read
    afresh."""
    mark, collateral = kept
    if not _tail_followed(conn, mark, now, collateral.size, floor):
        return None
    return collateral.with_changes(*collateral_changes(conn, mark.seq, now.seq))


T = TypeVar("T")
CatchUp = Callable[[Connection, tuple[JournalMark, T], JournalMark], "T | None"]


@dataclass
class _Slot(Generic[T]):
    """One reading and the mark it stands for (None: none kept)."""

    name: str
    kept: tuple[JournalMark, T] | None = None


class ResidentBook:
    """The contract table, the debt rows and the collateral, each with the mark it stands
    for; ``reads`` counts how each was obtained (``FRESH``, ``CAUGHT_UP``, ``KEPT``), by
    reading."""

    def __init__(self, tail_floor: int = TAIL_FLOOR) -> None:
        self.tail_floor = tail_floor
        self._table: _Slot[ContractTable] = _Slot("contracts")
        self._debts: _Slot[DebtRows] = _Slot("debts")
        self._collateral: _Slot[Collateral] = _Slot("collateral")
        self.reads: Counter[tuple[str, str]] = Counter()

    def contracts(self, conn: Connection) -> ContractTable:
        """Every contract with its opening terms (``TERM_FIELDS``) as the ledger holds now,
        with its index of rows by id (``ContractTable.row_of``) made."""
        return self._read(self._table, conn, _caught_up_table, _indexed_table)

    def debt_rows(self, conn: Connection) -> DebtRows:
        """Every balance row of the clients' debt accounts as the ledger holds now."""
        catch_up = partial(_caught_up_debts, floor=self.tail_floor)
        return self._read(self._debts, conn, catch_up, load_debt_rows)

    def collateral(self, conn: Connection) -> Collateral:
        """Every client's cash and holdings as the ledger holds now."""
        catch_up = partial(_caught_up_collateral, floor=self.tail_floor)
        return self._read(self._collateral, conn, catch_up, load_collateral)

    def load(self, conn: Connection) -> tuple[ContractTable, DebtRows, Collateral]:
        """Every reading as the ledger holds now (the service's, before its session)."""
        return self.contracts(conn), self.debt_rows(conn), self.collateral(conn)

    def _read(
        self,
        slot: _Slot[T],
        conn: Connection,
        catch_up: CatchUp[T],
        fresh: Callable[[Connection], T],
    ) -> T:
        now = journal_mark(conn)
        kept, slot.kept = slot.kept, None  # what is not kept is freed: gigabytes at scale
        if kept is not None and kept[0] == now:
            slot.kept = kept
            self.reads[slot.name, KEPT] += 1
            return kept[1]
        with collector_paused():
            value = catch_up(conn, kept, now) if kept is not None else None
            del kept
            self.reads[slot.name, FRESH if value is None else CAUGHT_UP] += 1
            if value is None:
                value = fresh(conn)
                if journal_mark(conn) != now:  # a commit came in while reading
                    now = UNKNOWN
        slot.kept = (now, value)
        return value

    def debts_kept(self) -> tuple[JournalMark, DebtRows] | None:
        return self._debts.kept

    def keep_debts(self, mark: JournalMark, rows: DebtRows) -> None:
        """Keep ``rows``, which a caller worked out for the state ``mark`` (it knew what was
        posted since the rows it took: the accrual's own charges)."""
        self._debts.kept = (mark, rows)

    def forget(self) -> None:
        """Drop every reading (the next is read afresh)."""
        self._table.kept = self._debts.kept = self._collateral.kept = None
