"""What the ledger says about the debt contracts, read in bulk for the end of day: their
terms as columns and the day-by-day movements of what they owe (what each owes now:
``eod.owed``).

Invariants: read only; everything comes from the ledger's projections (``contracts``,
``balances``) and its journal (the movements, by business date), so it equals what the
ledger holds when read; columns are in contract-id order, so every consumer walks the
contracts in the same order on every run.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from fractions import Fraction
from functools import cache, cached_property
from itertools import compress, repeat

import numpy as np
import numpy.typing as npt
from sqlalchemy import Engine, func, or_, select

from liangrong.domain.contracts import ContractKind, ContractTerms
from liangrong.ledger import schema as s
from liangrong.ledger.columns import (
    ContractTable,
    load_contract_table,
)
from liangrong.ledger.journal import decode_events

Ints = npt.NDArray[np.int64]
Bools = npt.NDArray[np.bool_]
FINANCING, SHORT, CHARGES = "financing", "short", "charges"


@cache
def _fraction(text: str) -> Fraction:
    return Fraction(text)


@dataclass(frozen=True)
class ContractColumns:
    """Opening terms of some contracts, one entry per contract, sorted by id."""

    rows: npt.NDArray[np.intp]  # each contract's row in the table the columns were taken from
    row_of: Mapping[str, int]  # that table's own index of its rows by id (shared, read only)
    ids: list[str]
    clients: list[str]
    securities: list[str]
    financing: Bools
    quantity: Ints
    amount_fen: Ints
    price_li: Ints
    used: Ints  # ordinal
    maturity: Ints  # opening maturity, ordinal
    rates: list[Fraction]  # the contract's own annual rate

    @property
    def size(self) -> int:
        return len(self.ids)

    def positive(self, amounts: Ints) -> tuple[list[str], list[int], list[str]]:
        """The contracts whose of ``amounts`` (aligned) is positive: their ids, amounts and
        clients, in this order."""
        mask = amounts > 0
        picked = mask.tolist()
        ids, clients = compress(self.ids, picked), compress(self.clients, picked)
        return list(ids), amounts[mask].tolist(), list(clients)

    def positions_of(self, ids: Sequence[str]) -> npt.NDArray[np.intp]:
        """Each of ``ids``' position in these columns, -1 for one not among them: through
        the table's index of its rows, made once per table, not an index of millions of
        ids for every set of columns."""
        rows = np.fromiter(map(self.row_of.get, ids, repeat(-1)), np.intp, len(ids))
        found = rows >= 0
        at = np.full(len(ids), -1, np.intp)
        at[found] = self._position_at_row[rows[found]]
        return at

    def placed(self, ids: Iterable[str]) -> list[tuple[str, int]]:
        """Those of ``ids`` these columns hold, each with its position, in the order given
        (one not held is left out, never given a position)."""
        given = list(ids)
        at = self.positions_of(given).tolist()
        return [(cid, i) for cid, i in zip(given, at, strict=True) if i >= 0]

    @cached_property
    def _position_at_row(self) -> npt.NDArray[np.intp]:
        at = np.full(len(self.row_of), -1, np.intp)
        at[self.rows] = np.arange(self.size, dtype=np.intp)
        return at

    def used_base_li(self) -> Ints:
        """The amount used at opening, in li (financing principal; short sale value)."""
        return np.where(self.financing, self.amount_fen * 10, self.quantity * self.price_li)


def load_contract_columns(engine: Engine, wanted: Collection[str]) -> ContractColumns:
    """The opening terms of the ``wanted`` contracts (unknown ids are left out)."""
    with engine.connect() as conn:
        return contract_columns(load_contract_table(conn), wanted)


def contract_columns(table: ContractTable, wanted: Collection[str]) -> ContractColumns:
    """The opening terms of the ``wanted`` contracts of ``table`` (unknown ids left out)."""
    ids = table.ids
    found = compress(range(table.size), map(wanted.__contains__, ids))  # row by row in C
    picked = sorted(found, key=ids.__getitem__)
    size = len(picked)

    def keys(column: list[str]) -> list[str]:
        return list(map(column.__getitem__, picked))

    kinds = keys(table.kinds)
    return ContractColumns(
        rows=np.fromiter(picked, np.intp, size),
        row_of=table.row_of,
        ids=keys(ids),
        clients=keys(table.clients),
        securities=keys(table.securities),
        financing=np.fromiter(map(FINANCING.__eq__, kinds), np.bool_, size),
        quantity=table.ints_at("quantity", picked),
        amount_fen=table.ints_at("amount_fen", picked),
        price_li=table.ints_at("price_li", picked),
        used=table.days_at("used_date", picked),
        maturity=table.days_at("maturity", picked),
        rates=table.term_at("annual_rate", picked, lambda v: _fraction(str(v))),
    )


def load_terms(engine: Engine, ids: Iterable[str]) -> dict[str, ContractTerms]:
    """Full opening terms of some contracts (checked again as they are built)."""
    wanted = sorted(set(ids))
    found: dict[str, ContractTerms] = {}
    with engine.connect() as conn:
        for chunk in s.key_chunks(wanted):
            rows = conn.exec_driver_sql(
                "SELECT terms_json FROM contracts "
                f"WHERE contract_id IN ({s.markers(conn, len(chunk))})",
                tuple(chunk),
            ).all()
            for event in decode_events("[" + ",".join(terms for (terms,) in rows) + "]"):
                terms = ContractTerms.from_event(event)
                found[terms.contract_id] = terms
    return found


def holder_names(engine: Engine, clients: Iterable[str]) -> dict[str, str]:
    """The holder name of each of these clients' credit accounts (looked up by key)."""
    wanted = sorted(set(clients))
    table = s.credit_accounts
    names: dict[str, str] = {}
    with engine.connect() as conn:  # up to the whole book's clients: the driver's rows
        for chunk in s.key_chunks(wanted):
            query = select(table.c.client_id, table.c.holder_name)
            names.update(s.driver_rows(conn, query.where(table.c.client_id.in_(chunk))))
    return names


def _debt_accounts(column: object) -> object:
    return or_(column.like("client:%:financing:%"), column.like("client:%:short:%"))  # type: ignore[attr-defined]


def principal_moves(engine: Engine, since: date) -> dict[int, list[tuple[str, int]]]:
    """Movements of what is owed on each contract dated ``since`` or later, by business date
    (ordinal): (contract id, owed delta), the delta 0 for a contract used and repaid the
    same day."""
    t, p = s.journal_transactions, s.journal_postings
    moves: dict[int, list[tuple[str, int]]] = defaultdict(list)
    with engine.connect() as conn:
        rows = conn.execute(
            select(p.c.account, t.c.business_date, func.sum(p.c.amount))
            .join(t, t.c.seq == p.c.txn_seq)
            .where(
                # the day's transactions first: their postings by key, not every posting
                p.c.txn_seq.in_(select(t.c.seq).where(t.c.business_date >= since)),
                t.c.business_date >= since,
                _debt_accounts(p.c.account),  # type: ignore[arg-type]
            )
            .group_by(p.c.account, t.c.business_date)
            .order_by(t.c.business_date, p.c.account)
        )
        for account, day, amount in rows:  # a zero sum too: the contract moved that day
            moves[day.toordinal()].append((account.rsplit(":", 1)[1], -int(amount)))
    return dict(moves)


def kind_of(financing: bool) -> ContractKind:
    return ContractKind.FINANCING if financing else ContractKind.SHORT
