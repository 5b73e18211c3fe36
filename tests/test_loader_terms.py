"""The book's mirrors carry each contract's maturity in force (CON-2, CON-3): the opening
maturity folded with the granted extensions and the suspension or delisting term changes
the end of day recorded, in the order recorded; a refused extension changes nothing.  A
repayment through the book then goes to the nearest maturity in force, and a statement
shows the maturity in force at its period's end.

The events are stored as the end of day records them (the domain's own ``to_event``);
every expected maturity and amount is the set-up's own."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import date
from fractions import Fraction
from pathlib import Path

import pytest
from sqlalchemy import Engine

from book_helpers import profile
from conftest import make_sqlite_engine
from liangrong.book.loader import load_firm_state, load_mirrors
from liangrong.book.service import Book
from liangrong.domain import operations as ops
from liangrong.domain.contract_lifecycle import (
    ChangeKind,
    ExtensionDecision,
    Finding,
    Reason,
    Standing,
    TermChange,
)
from liangrong.domain.contracts import ContractKind, ContractTerms
from liangrong.domain.orders import NonTradeKind, NonTradeRequest
from liangrong.ledger.journal import Ledger
from liangrong.sim.reference_day import load_reference_day, opening_market
from liangrong.sim.statement_source import load_statement
from liangrong.store.contract_terms import EXTENSION_DECIDED, TERM_CHANGED, load_term_events
from liangrong.store.eod_records import ContractEvent, save_contract_events
from sim_helpers import DAY, load_reference, reference_clock

CLIENT, OTHER = "C1", "C2"
SH = "600000.SH"
D = date
USED = D(2026, 6, 1)
BEFORE = D(2026, 11, 19)  # the trading day before DAY (2026-11-20)
# (contract, quantity, opening maturity): nearest first is K5, K1, K3, K2, K4.
OPENED = (("K5", 100, D(2026, 12, 4)), ("K1", 200, D(2026, 12, 11)),
          ("K3", 300, D(2027, 1, 15)), ("K2", 400, D(2027, 2, 26)),
          ("K4", 500, D(2027, 5, 14)))  # fmt: skip
PASSED = (Finding(Reason.REQUESTED_IN_TIME, "x"), Finding(Reason.EXTENSIONS_LEFT, "0 / 1"))
REFUSED = (Finding(Reason.REQUESTED_TOO_LATE, "x"),)


def terms(cid: str, client: str, quantity: int, maturity: date, price_li: int) -> ContractTerms:
    return ContractTerms(
        cid, ContractKind.FINANCING, client, SH, quantity, quantity * price_li // 10, price_li,
        USED, USED, maturity, False, Fraction(1), "exchange:2026-01-14/firm:2026-01-14",
        Fraction("0.0835"),
    )  # fmt: skip


def extension(
    number: int, cid: str, on: date, old: date, new: date | None, provisional: bool = False
) -> ContractEvent:
    findings = PASSED if new is not None else REFUSED
    decision = ExtensionDecision(
        cid, on, old, new, provisional, number, findings, "v1", Standing(Fraction(2))
    )
    assert decision.granted is (new is not None)
    payload = decision.to_event()
    return ContractEvent(f"extension:{cid}:{number}", cid, CLIENT, on, EXTENSION_DECIDED, new,
                         payload)  # fmt: skip


def delisting(cid: str, on: date, old: date, new: date) -> ContractEvent:
    change = TermChange(cid, ChangeKind.DELISTING, old, new, False, "last trading day")
    return ContractEvent(f"delisting:{cid}", cid, CLIENT, on, TERM_CHANGED, new, change.to_event())


# The recorded events, in the order recorded: K5 extended twice (the second on DAY), K1
# extended, K3 refused, K4 shortened by its security's delisting; K2 has none.
EVENTS = (
    extension(1, "K5", D(2026, 11, 18), D(2026, 12, 4), D(2027, 1, 29)),
    extension(1, "K1", D(2026, 11, 18), D(2026, 12, 11), D(2027, 6, 11), provisional=True),
    extension(1, "K3", D(2026, 11, 18), D(2027, 1, 15), None),
    delisting("K4", D(2026, 11, 18), D(2027, 5, 14), D(2026, 12, 18)),
    extension(2, "K5", DAY, D(2027, 1, 29), D(2027, 3, 31)),
)
IN_FORCE = {"K5": (D(2027, 3, 31), False), "K1": (D(2027, 6, 11), True),
            "K3": (D(2027, 1, 15), False), "K2": (D(2027, 2, 26), False),
            "K4": (D(2026, 12, 18), False)}  # fmt: skip
IN_FORCE_BEFORE = IN_FORCE | {"K5": (D(2027, 1, 29), False)}  # without DAY's extension


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    engine = make_sqlite_engine(tmp_path)
    load_reference(engine, BEFORE)  # the demo's reference data, in force from BEFORE on
    price = opening_market(load_reference_day(engine, DAY)).prices_li[SH]
    ledger = Ledger(engine, reference_clock)
    for client in (CLIENT, OTHER):
        for exchange in ("SH", "SZ"):
            ledger.open_credit_account(f"open:{client}:{exchange}", client, exchange, "客户",
                                       "客户", D(2026, 1, 5))  # fmt: skip
    contracts = [
        terms(cid, CLIENT, quantity, maturity, price) for cid, quantity, maturity in OPENED
    ]
    # another client's contract, no event of its own: left as opened
    contracts.append(terms("X1", OTHER, 100, D(2026, 12, 4), price))
    ledger.post_batch(
        [
            ops.fund_pool("pool", D(2026, 1, 5), "CNY", 10**11),
            ops.deposit_cash("cash", D(2026, 1, 6), CLIENT, 10**9),
            *(ops.open_financing(f"open:{t.contract_id}", t) for t in contracts),
        ]
    )
    save_contract_events(engine, list(EVENTS), reference_clock().isoformat())
    yield engine
    engine.dispose()


def test_the_mirrors_hold_the_maturity_in_force(engine: Engine) -> None:
    mirrors = load_mirrors(engine, [CLIENT, OTHER])
    held = {cid: c.terms for cid, c in mirrors[CLIENT].contracts.items()}
    assert {cid: (t.maturity, t.maturity_provisional) for cid, t in held.items()} == IN_FORCE
    price = held["K2"].price_li
    opening = {cid: terms(cid, CLIENT, q, maturity, price) for cid, q, maturity in OPENED}
    assert held["K2"] == opening["K2"]  # no event: the terms as opened
    for cid, contract in held.items():  # nothing but the maturity changes
        as_opened = replace(contract, maturity=opening[cid].maturity, maturity_provisional=False)
        assert as_opened == opening[cid]
    assert mirrors[OTHER].contracts["X1"].terms.maturity == D(2026, 12, 4)
    # through a day: DAY's second extension of K5 left out
    before = load_term_events(engine, through=BEFORE)
    folded = {cid: before.term(t) for cid, t in opening.items()}
    assert {cid: (t.maturity, t.provisional) for cid, t in folded.items()} == IN_FORCE_BEFORE
    assert {cid: t.extensions for cid, t in folded.items() if t.extensions} == {"K5": 1, "K1": 1}
    assert load_term_events(engine).term(opening["K5"]).extensions == 2


def test_a_repayment_goes_to_the_nearest_maturity_in_force(engine: Engine) -> None:
    """Nearest in force: K4 (12-18), K3 (01-15), K2, K5, K1; by opening it would be K5."""
    ref = load_reference_day(engine, DAY)
    book = Book(Ledger(engine, reference_clock), opening_market(ref), ref.calendar,
                load_firm_state(engine))  # fmt: skip
    book.add_client(profile(CLIENT), load_mirrors(engine, [CLIENT])[CLIENT])
    owed = {cid: c.principal_outstanding for cid, c in book.mirrors[CLIENT].contracts.items()}
    amount = owed["K4"] + owed["K3"] // 2
    ack = book.request(
        NonTradeRequest("r1", CLIENT, NonTradeKind.DIRECT_REPAYMENT, amount_fen=amount)
    )
    assert ack.accepted, ack.code
    after = load_mirrors(engine, [CLIENT])[CLIENT].contracts
    repaid = {cid: owed[cid] - (after[cid].principal_outstanding if cid in after else 0)
              for cid in owed}  # fmt: skip
    assert repaid == {"K4": owed["K4"], "K3": owed["K3"] // 2, "K2": 0, "K5": 0, "K1": 0}


def test_a_statement_shows_the_maturity_in_force_at_its_end(engine: Engine) -> None:
    for end, expected in ((BEFORE, IN_FORCE_BEFORE), (DAY, IN_FORCE)):
        statement = load_statement(engine, CLIENT, D(2026, 11, 1), end)
        shown = {line.contract_id: (line.due, line.due_provisional)
                 for line in statement.contracts}  # fmt: skip
        assert shown == expected, end
