"""What the ledger says about the debt contracts, read in bulk for the end of day: their
terms as columns, what each owes now, and the day-by-day movements of what they owe.

Invariants: read only; everything comes from the ledger's projections (``contracts``,
``balances``) and its journal (the movements, by business date), so it equals what the
ledger holds when read; columns are in contract-id order, so every consumer walks the
contracts in the same order on every run.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Collection, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date
from fractions import Fraction
from functools import cache
from typing import Any

import numpy as np
import numpy.typing as npt
from sqlalchemy import Engine, func, or_, select

from liangrong.domain.contracts import ContractKind, ContractTerms
from liangrong.ledger import schema as s
from liangrong.ledger.journal import decode_events

Ints = npt.NDArray[np.int64]
Bools = npt.NDArray[np.bool_]
_CHUNK = 50_000
_KEY_CHUNK = 400
FINANCING, SHORT, CHARGES = "financing", "short", "charges"


@cache
def _fraction(text: str) -> Fraction:
    return Fraction(text)


@cache
def _ordinal(text: str) -> int:
    return date.fromisoformat(text).toordinal()


@dataclass(frozen=True)
class ContractColumns:
    """Opening terms of some contracts, one entry per contract, sorted by id."""

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

    def index(self) -> dict[str, int]:
        return {cid: i for i, cid in enumerate(self.ids)}

    def used_base_li(self) -> Ints:
        """The amount used at opening, in li (financing principal; short sale value)."""
        return np.where(self.financing, self.amount_fen * 10, self.quantity * self.price_li)


def load_contract_columns(engine: Engine, wanted: Collection[str]) -> ContractColumns:
    """The opening terms of the ``wanted`` contracts (unknown ids are left out)."""
    picked: list[dict[str, object]] = []
    for batch in _raw_rows(engine, "SELECT contract_id, terms_json FROM contracts"):
        texts = [terms for cid, terms in batch if cid in wanted]
        if texts:
            picked.extend(json.loads("[" + ",".join(texts) + "]"))
    picked.sort(key=lambda e: str(e["contract_id"]))

    def ints(key: str) -> Ints:
        return np.fromiter((int(e[key]) for e in picked), dtype=np.int64, count=len(picked))  # type: ignore[call-overload]

    def days(key: str) -> Ints:
        return np.fromiter((_ordinal(str(e[key])) for e in picked), np.int64, len(picked))

    return ContractColumns(
        ids=[str(e["contract_id"]) for e in picked],
        clients=[str(e["client_id"]) for e in picked],
        securities=[str(e["security"]) for e in picked],
        financing=np.fromiter((e["kind"] == FINANCING for e in picked), np.bool_, len(picked)),
        quantity=ints("quantity"),
        amount_fen=ints("amount_fen"),
        price_li=ints("price_li"),
        used=days("used_date"),
        maturity=days("maturity"),
        rates=[_fraction(str(e["annual_rate"])) for e in picked],
    )


def load_terms(engine: Engine, ids: Iterable[str]) -> dict[str, ContractTerms]:
    """Full opening terms of a few contracts."""
    wanted = sorted(set(ids))
    found: dict[str, ContractTerms] = {}
    with engine.connect() as conn:
        for start in range(0, len(wanted), _KEY_CHUNK):
            chunk = wanted[start : start + _KEY_CHUNK]
            rows = conn.execute(
                select(s.contracts.c.terms_json).where(s.contracts.c.contract_id.in_(chunk))
            )
            for (terms_json,) in rows:
                terms = ContractTerms.from_event(decode_events(f"[{terms_json}]")[0])
                found[terms.contract_id] = terms
    return found


@dataclass(frozen=True)
class Owed:
    """What each contract owes now: principal (fen or shares) and charges (fen), by id."""

    principal: dict[str, int]
    charges: dict[str, int]
    clients: dict[str, str]  # contract id -> client id, for every contract with a balance


def owed_now(engine: Engine) -> Owed:
    """Every non-zero debt balance (a debt is a negative balance; owed is its opposite)."""
    principal: dict[str, int] = {}
    charges: dict[str, int] = {}
    clients: dict[str, str] = {}
    query = "SELECT account, amount FROM balances WHERE account LIKE 'client:%' AND amount <> 0"
    for batch in _raw_rows(engine, query):
        for account, amount in batch:
            _, client, kind, contract = account.split(":")
            clients[contract] = client
            if kind == CHARGES:
                charges[contract] = -amount
            else:
                principal[contract] = -amount
    return Owed(principal, charges, clients)


def _raw_rows(engine: Engine, query: str) -> Iterator[Sequence[Any]]:
    """Plain DBAPI rows in batches: millions of rows skip SQLAlchemy's row objects."""
    with engine.connect() as conn:
        cursor = conn.exec_driver_sql(query).cursor
        assert cursor is not None
        while batch := cursor.fetchmany(_CHUNK):
            yield batch


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
            .where(t.c.business_date >= since, _debt_accounts(p.c.account))  # type: ignore[arg-type]
            .group_by(p.c.account, t.c.business_date)
            .order_by(t.c.business_date, p.c.account)
        )
        for account, day, amount in rows:  # a zero sum too: the contract moved that day
            moves[day.toordinal()].append((account.rsplit(":", 1)[1], -int(amount)))
    return dict(moves)


def kind_of(financing: bool) -> ContractKind:
    return ContractKind.FINANCING if financing else ContractKind.SHORT
