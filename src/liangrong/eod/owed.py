"""What each contract owes now, by position: arrays aligned with the contract table's rows
(``ledger.columns.ContractTable``), so the steps that walk the whole book (the accrual, the
statuses' risk arrays) take a contract's figures by its row, not by its id from dictionaries
of millions of entries.  The figures by id are made only for a reader that asks.

Invariants: read only once made (every change makes new figures); the principal (fen or
shares) and the charges (fen) are the debt accounts' balances negated (a debt is a negative
balance), the charges with the pending added when ``pending_added``; every debt and every
pending charge is on a contract the table holds (the table is read after the debts, and a
debt account is opened by the posting that opens its contract), else the reading is
refused (``DebtOfUnknownContract``), never left out.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from itertools import compress, repeat
from operator import neg

import numpy as np
import numpy.typing as npt
from sqlalchemy import Connection, Engine

from liangrong.ledger.columns import (
    CHARGES_SIDE,
    PRINCIPAL_SIDES,
    ContractTable,
    DebtRows,
    load_contract_table,
    load_debt_rows,
)
from liangrong.store.charges_pending import PendingCharges, book_pending

Ints = npt.NDArray[np.int64]
Rows = npt.NDArray[np.intp]
Bools = npt.NDArray[np.bool_]


class DebtOfUnknownContract(LookupError):
    """A debt on a contract the contract table does not hold."""


class PendingNotCarried(DebtOfUnknownContract):
    """Pending charges on a contract the book does not hold: a step stops rather than drop
    them (the control account would lose them)."""


@dataclass(frozen=True, eq=False)
class Owed:
    """What each contract of ``table`` owes now: principal and charges, by the table's row."""

    table: ContractTable
    principal_at: Ints
    charges_at: Ints  # the charges accounts, plus the pending when ``pending_added``
    pending_added: bool = False

    def __post_init__(self) -> None:
        assert len(self.principal_at) == len(self.charges_at) == self.table.size

    @cached_property
    def owing_at(self) -> Bools:
        """Each row: whether its contract owes principal or charges (a positive amount)."""
        return (self.principal_at > 0) | (self.charges_at > 0)

    @cached_property
    def owing(self) -> frozenset[str]:
        """The contracts owing principal or charges."""
        return frozenset(compress(self.table.ids, self.owing_at.tolist()))

    @cached_property
    def principal(self) -> dict[str, int]:
        """Each non-zero principal by contract id, in the table's order (read only)."""
        return self._by_id(self.principal_at)

    @cached_property
    def charges(self) -> dict[str, int]:
        """Each non-zero charges figure by contract id, in the table's order (read only)."""
        return self._by_id(self.charges_at)

    @cached_property
    def clients(self) -> dict[str, str]:
        """Contract id -> client id of every contract with a non-zero figure (read only)."""
        live = ((self.principal_at != 0) | (self.charges_at != 0)).tolist()
        ids, clients = compress(self.table.ids, live), compress(self.table.clients, live)
        return dict(zip(ids, clients, strict=True))

    def _by_id(self, figures: Ints) -> dict[str, int]:
        live = figures != 0
        ids = compress(self.table.ids, live.tolist())
        return dict(zip(ids, figures[live].tolist(), strict=True))

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Owed):
            return NotImplemented
        mine = (self.principal, self.charges, self.clients, self.pending_added)
        return mine == (other.principal, other.charges, other.clients, other.pending_added)

    __hash__ = None  # type: ignore[assignment]

    def aligned(self, table: ContractTable) -> tuple[Ints, Ints]:
        """(principal, charges) by the rows of ``table``: this very table or one read at the
        same state of the ledger (its contracts in the same rows)."""
        assert table.size == self.table.size, "figures of another state of the ledger"
        return self.principal_at, self.charges_at

    def principal_of(self, contract_id: str) -> int:
        return int(self.principal_at[self.table.row_of[contract_id]])

    def charges_of(self, contract_id: str) -> int:
        return int(self.charges_at[self.table.row_of[contract_id]])

    def charges_raised(self, rows: Rows, amounts_fen: Ints, pending: bool) -> Owed:
        """These figures once ``amounts_fen`` more charges (each positive) are owed on the
        contracts at ``rows`` (each at most once): posted to their accounts (the daily
        accrual) or, with ``pending``, booked as pending (the subledger).  The contracts
        owing are kept when the same rows owe."""
        assert len(rows) == len(amounts_fen) and len(set(rows.tolist())) == len(rows)
        assert (amounts_fen > 0).all(), "only more charges"
        charges = self.charges_at.copy()
        charges[rows] += amounts_fen
        owed = Owed(self.table, self.principal_at, charges, self.pending_added or pending)
        if "owing" in vars(self) and np.array_equal(owed.owing_at, self.owing_at):
            vars(owed)["owing"] = self.owing  # where ``cached_property`` keeps it
        return owed


def owed_now(engine: Engine) -> Owed:
    """Every contract's figures now, the charges with their pending added."""
    with engine.connect() as conn:
        rows = load_debt_rows(conn)
        return owed_of(conn, load_contract_table(conn, ()), rows)


def owed_of(conn: Connection, table: ContractTable, rows: DebtRows) -> Owed:
    """``owed_now`` from the debt accounts' balances and the contract table already read
    (the pending charges read through ``conn``, from the same state of the ledger)."""
    return owed_with(table, rows, book_pending(conn))


def owed_with(
    table: ContractTable,
    rows: DebtRows,
    pending: PendingCharges,
    less: Mapping[str, int] | None = None,
) -> Owed:
    """The debt accounts' figures with ``pending`` added to the charges, less ``less``
    (contract -> fen: pending that the accounts hold already, posted after the state's
    position by an earlier run of the step)."""
    principal = np.zeros(table.size, np.int64)
    charges = np.zeros(table.size, np.int64)
    at = _rows_of(table, rows.contracts)
    amounts = np.fromiter(map(neg, rows.amounts), np.int64, rows.size)
    is_charges = np.fromiter(map(CHARGES_SIDE.__eq__, rows.sides), np.bool_, rows.size)
    is_principal = np.fromiter(map(PRINCIPAL_SIDES.__contains__, rows.sides), np.bool_, rows.size)
    _refuse_unknown(at, rows.contracts, (is_charges | is_principal) & (amounts != 0))
    held = at >= 0  # an unknown contract's zero balance: nothing owed, no row
    principal[at[is_principal & held]] = amounts[is_principal & held]
    charges[at[is_charges & held]] = amounts[is_charges & held]
    added = bool(pending.kinds) or bool(less)
    for ids, fens in pending.kinds.values():
        where = _rows_of(table, ids)
        if (where < 0).any():
            cid = ids[int(np.flatnonzero(where < 0)[0])]
            raise PendingNotCarried(f"{cid} has {pending.totals()[cid]} fen pending")
        np.add.at(charges, where, np.fromiter(fens, np.int64, len(fens)))
    if less:
        where = _rows_of(table, list(less))
        _refuse_unknown(where, list(less), None)
        np.add.at(charges, where, -np.fromiter(less.values(), np.int64, len(less)))
    return Owed(table, principal, charges, pending_added=added)


def _rows_of(table: ContractTable, contract_ids: Sequence[str]) -> Rows:
    """Each contract's row in ``table`` (-1: not held), row by row in C."""
    found = map(table.row_of.get, contract_ids, repeat(-1))
    return np.fromiter(found, np.intp, len(contract_ids))


def _refuse_unknown(at: Rows, contract_ids: Sequence[str], counted: Bools | None) -> None:
    """Refuse the first of ``contract_ids`` not held (``at`` -1) among the ``counted``."""
    missing = at < 0 if counted is None else (at < 0) & counted
    if missing.any():
        first = contract_ids[int(np.flatnonzero(missing)[0])]
        raise DebtOfUnknownContract(f"{first} is owed on but not among the contracts")
