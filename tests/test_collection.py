"""CON-4, CON-6: the collection schedule over weekends and holidays, and the allocation of
cash to fees → penalty → interest → principal, nearest maturity first, in both nestings; the
allocation's invariants, and its agreement with ``contracts.allocate_repayment``."""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from fractions import Fraction as F

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from liangrong.domain import accounts as acc
from liangrong.domain import operations as ops
from liangrong.domain.collection import (
    DEFAULT_COMPONENTS,
    ChargeMove,
    CollectionLine,
    CollectionOrder,
    CollectionSchedule,
    Component,
    ContractDebt,
    Roll,
    allocate,
    charge_move,
    collect_on_repayment,
    collect_on_schedule,
    collected_events,
    history_needed,
    split_owed,
)
from liangrong.domain.contracts import (
    ComponentOrder,
    ContractKind,
    ContractOrder,
    ContractTerms,
    RepaymentOrder,
    allocate_repayment,
    sort_contracts,
)
from liangrong.domain.journal import net_changes, validate
from liangrong.sim.calendar_data import load_shipped_calendar

D = date
CAL = load_shipped_calendar()  # SSE sessions 2024-2026
DEFAULT = CollectionOrder()
PER_CONTRACT = CollectionOrder(
    repayment=RepaymentOrder(ContractOrder.NEAREST_MATURITY, ComponentOrder.PER_CONTRACT)
)


def terms(cid: str, maturity: date, kind: ContractKind = ContractKind.FINANCING) -> ContractTerms:
    opened = D(2026, 3, 2)
    return ContractTerms(
        contract_id=cid,
        kind=kind,
        client_id="C1",
        security="600000.SH",
        quantity=1000,
        amount_fen=1_000_000,
        price_li=10_000,
        open_date=opened,
        used_date=opened,
        maturity=maturity,
        maturity_provisional=False,
        margin_ratio=F(1),
        rule_version="exchange:x/firm:y",
        annual_rate=F("0.0835"),
    )


# --- schedule --------------------------------------------------------------------------------


def test_monthly_on_the_20th_moves_to_a_trading_day() -> None:
    forward = CollectionSchedule(20, Roll.FORWARD)
    backward = CollectionSchedule(20, Roll.BACKWARD)
    # 2026-09-20 is a Sunday; 2026-02-20 falls in the Spring Festival closure (02-16…02-23)
    assert forward.date_in(2026, 9, CAL) == D(2026, 9, 21)
    assert backward.date_in(2026, 9, CAL) == D(2026, 9, 18)
    assert forward.date_in(2026, 2, CAL) == D(2026, 2, 24)
    assert backward.date_in(2026, 2, CAL) == D(2026, 2, 13)
    assert forward.date_in(2026, 10, CAL) == D(2026, 10, 20)  # a Tuesday: stays
    assert forward.is_collection_day(D(2026, 9, 21), CAL)
    assert not forward.is_collection_day(D(2026, 9, 20), CAL)


def test_a_month_end_day_and_a_roll_into_the_next_month() -> None:
    month_end = CollectionSchedule(31, Roll.FORWARD)
    # January 31st 2026 is a Saturday: collected Monday February 2nd; February has 28 days
    # and the 28th is a Saturday too: Monday March 2nd
    assert month_end.date_in(2026, 1, CAL) == D(2026, 2, 2)
    assert month_end.date_in(2026, 2, CAL) == D(2026, 3, 2)
    assert month_end.dates_between(D(2026, 2, 1), D(2026, 3, 31), CAL) == [
        D(2026, 2, 2),
        D(2026, 3, 2),
        D(2026, 3, 31),
    ]


def test_a_year_of_monthly_and_of_quarterly_collections() -> None:
    monthly = CollectionSchedule(20, Roll.FORWARD)
    days = monthly.dates_between(D(2026, 1, 1), D(2026, 12, 31), CAL)
    assert len(days) == 12 and all(CAL.is_trading_day(d) for d in days)
    assert days == sorted(days) and len({d.month for d in days}) == 12
    quarterly = CollectionSchedule(20, Roll.FORWARD, frozenset({3, 6, 9, 12}))
    assert quarterly.dates_between(D(2026, 1, 1), D(2026, 12, 31), CAL) == [
        D(2026, 3, 20),
        D(2026, 6, 22),  # 06-20 is a Saturday
        D(2026, 9, 21),
        D(2026, 12, 21),
    ]
    assert quarterly.date_in(2026, 4, CAL) is None


def test_schedule_values_are_checked() -> None:
    with pytest.raises(ValueError):
        CollectionSchedule(0, Roll.FORWARD)
    with pytest.raises(ValueError):
        CollectionSchedule(20, Roll.FORWARD, frozenset())
    with pytest.raises(ValueError):
        CollectionOrder(components=(Component.FEES, Component.PRINCIPAL))


# --- allocation ------------------------------------------------------------------------------

# A matures first (nearest maturity), then B; C is a short (its principal is shares).
A = ContractDebt(
    terms("A", D(2026, 9, 1)), fees_fen=0, penalty_fen=300, interest_fen=500, principal=10_000
)
B = ContractDebt(
    terms("B", D(2026, 10, 1)), fees_fen=0, penalty_fen=0, interest_fen=700, principal=20_000
)
C = ContractDebt(terms("C", D(2026, 12, 1), ContractKind.SHORT), fees_fen=400, principal=1000)


def lines(*rows: tuple[str, int, int, int, int]) -> list[CollectionLine]:
    return [CollectionLine(*row) for row in rows]


def test_default_order_fees_then_penalty_then_interest_then_principal() -> None:
    # 400 fees (C) → 300 penalty (A) → 500 + 700 interest (A, B) → principal A, then B
    assert allocate([B, C, A], 400 + 300 + 500 + 700 + 10_000 + 5_000, DEFAULT) == lines(
        ("A", 0, 300, 500, 10_000),
        ("B", 0, 0, 700, 5_000),
        ("C", 400, 0, 0, 0),
    )
    # stopping inside the interest: A's interest (nearer maturity) before B's
    assert allocate([B, C, A], 400 + 300 + 600, DEFAULT) == lines(
        ("A", 0, 300, 500, 0),
        ("B", 0, 0, 100, 0),
        ("C", 400, 0, 0, 0),
    )
    # stopping inside the fees: nothing else is paid
    assert allocate([A, B, C], 250, DEFAULT) == lines(("C", 250, 0, 0, 0))


def test_per_contract_order_pays_each_contract_in_turn() -> None:
    assert allocate([A, B, C], 300 + 500 + 10_000 + 700, PER_CONTRACT) == lines(
        ("A", 0, 300, 500, 10_000),
        ("B", 0, 0, 700, 0),
    )


def test_more_than_owed_leaves_the_rest_with_the_client() -> None:
    paid = allocate([A, B, C], 10**9, DEFAULT)
    assert sum(line.total_fen for line in paid) == 400 + 300 + 1200 + 30_000
    assert next(line for line in paid if line.contract_id == "C").principal_fen == 0


def test_a_scheduled_collection_takes_charges_and_only_matured_principal() -> None:
    cash = 10**9
    before = collect_on_schedule([A, B, C], cash, D(2026, 8, 20), DEFAULT)
    assert sum(line.principal_fen for line in before) == 0
    assert sum(line.charges_fen for line in before) == 1900
    on_a = collect_on_schedule([A, B, C], cash, D(2026, 9, 1), DEFAULT)  # A is due today
    assert {line.contract_id: line.principal_fen for line in on_a} == {"A": 10_000, "B": 0, "C": 0}
    # a repayment may repay principal before maturity
    early = collect_on_repayment([A, B], 1200 + 300 + 15_000, DEFAULT)
    assert [line.principal_fen for line in early] == [10_000, 5_000]


def test_the_allocation_posts_through_repayment_legs() -> None:
    paid = allocate([A, B, C], 400 + 300 + 1200 + 2000, DEFAULT)
    txn = ops.repay_financing("repay:1", D(2026, 8, 20), "C1", [line.allocation() for line in paid])
    validate(txn, lambda client: True)
    changes = net_changes(txn)
    assert changes[(acc.client_cash("C1"), "CNY")] == -3900
    assert changes[(acc.charges_debt("C1", "A"), "CNY")] == 800
    assert changes[(acc.charges_debt("C1", "C"), "CNY")] == 400  # the short's fees, in cash
    assert changes[(acc.financing_debt("C1", "A"), "CNY")] == 2000


# --- properties ------------------------------------------------------------------------------

owed = st.integers(0, 5000)


@st.composite
def debts(draw: st.DrawFn) -> list[ContractDebt]:
    count = draw(st.integers(1, 5))
    found = []
    for n in range(count):
        kind = draw(st.sampled_from(list(ContractKind)))
        maturity = D(2026, 9, 1 + draw(st.integers(0, 20)))
        found.append(
            ContractDebt(
                terms(f"K{n}", maturity, kind),
                draw(owed),
                draw(owed),
                draw(owed),
                draw(owed),
            )
        )
    return found


orders = st.builds(
    CollectionOrder,
    components=st.permutations(list(Component)).map(tuple),
    repayment=st.builds(
        RepaymentOrder, st.sampled_from(list(ContractOrder)), st.sampled_from(list(ComponentOrder))
    ),
)


@settings(max_examples=300, deadline=None)
@given(debts(), st.integers(0, 60_000), orders)
def test_allocation_follows_the_order_exactly(
    contracts: list[ContractDebt], cash: int, order: CollectionOrder
) -> None:
    paid = {line.contract_id: line for line in allocate(contracts, cash, order)}
    owed_total = sum(d.owed(c) for d in contracts for c in Component)
    taken = sum(line.total_fen for line in paid.values())
    assert taken == min(cash, owed_total)
    field = {c: f"{c.value}_fen" for c in Component}

    def got(d: ContractDebt, c: Component) -> int:
        line = paid.get(d.terms.contract_id)
        return getattr(line, field[c]) if line else 0

    assert all(0 <= got(d, c) <= d.owed(c) for d in contracts for c in Component)
    # nothing later in the order is paid while something earlier is left unpaid
    ids = [
        b.terms.contract_id
        for b in sort_contracts([d.balance() for d in contracts], order.repayment.contracts)
    ]
    by_id = {d.terms.contract_id: d for d in contracts}
    if order.repayment.components is ComponentOrder.CHARGES_THEN_PRINCIPAL:
        steps = [(by_id[i], c) for c in order.components for i in ids]
    else:
        steps = [(by_id[i], c) for i in ids for c in order.components]
    short_of = [got(d, c) < d.owed(c) for d, c in steps]
    first_gap = short_of.index(True) if True in short_of else len(steps)
    assert all(got(d, c) == 0 for d, c in steps[first_gap + 1 :])


@settings(max_examples=200, deadline=None)
@given(debts(), st.integers(0, 60_000), st.sampled_from(list(ComponentOrder)))
def test_with_one_kind_of_charge_it_is_allocate_repayment(
    contracts: list[ContractDebt], cash: int, nesting: ComponentOrder
) -> None:
    financing = [
        replace(d, fees_fen=0, penalty_fen=0)
        for d in contracts
        if d.terms.kind is ContractKind.FINANCING
    ]
    order = CollectionOrder(
        DEFAULT_COMPONENTS, RepaymentOrder(ContractOrder.NEAREST_MATURITY, nesting)
    )
    mine = [line.allocation() for line in allocate(financing, cash, order)]
    theirs = allocate_repayment([d.balance() for d in financing], cash, order.repayment)
    assert mine == theirs


# --- what a contract owes by component ------------------------------------------------------

ACCRUALS = st.fixed_dictionaries(
    {c: st.integers(0, 400) for c in (Component.FEES, Component.PENALTY, Component.INTEREST)}
)


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.one_of(ACCRUALS, st.integers(0, 1500)), min_size=1, max_size=12),
    st.booleans(),
    st.permutations([Component.FEES, Component.PENALTY, Component.INTEREST]),
)
def test_a_replayed_history_gives_the_split_the_payments_left(
    steps: list[dict[Component, int] | int], recorded: bool, charge_order: list[Component]
) -> None:
    """Accruals by component and payments allocated in the order, replayed from the moves
    (payments with their recorded split, or without one): the split tracked step by step."""
    order = CollectionOrder((*charge_order, Component.PRINCIPAL))
    owed = dict.fromkeys(charge_order, 0)
    moves = []
    for step in steps:
        if isinstance(step, dict):
            for component, amount in step.items():
                owed[component] += amount
            moves.append(ChargeMove(sum(step.values()), step))
            continue
        debt = ContractDebt(terms("K", D(2026, 9, 1))).with_charges(owed)
        lines = allocate([debt], min(step, sum(owed.values())), order)
        if not lines:
            continue
        line = lines[0]
        taken = {
            Component.FEES: line.fees_fen,
            Component.PENALTY: line.penalty_fen,
            Component.INTEREST: line.interest_fen,
        }
        for component, amount in taken.items():
            owed[component] -= amount
        event = collected_events(lines) if recorded else ()
        moves.append(charge_move("K", -line.charges_fen, event))
    expected = {c: n for c, n in owed.items() if n}
    assert split_owed(moves, sum(owed.values()), Component.INTEREST, order.components) == expected


def test_charges_without_a_recorded_split_are_the_contracts_own() -> None:
    accrued = {"type": "charges_accrued", "contract_id": "K", "interest": 70, "penalty": 50}
    moves = [
        charge_move("K", 5_000, ()),  # opening interest, posted with no event
        charge_move("K", 120, [{"type": "charges_accrued", "contract_id": "X"}, accrued]),
        charge_move("K", -5_080, ()),  # paid: penalty first, then interest
    ]
    assert moves[1] == ChargeMove(120, {Component.INTEREST: 70, Component.PENALTY: 50,
                                        Component.FEES: 0})  # fmt: skip
    assert split_owed(moves, 40, Component.INTEREST) == {Component.INTEREST: 40}
    # a balance the history does not reach (a move left out) is closed as the ledger says
    assert split_owed(moves, 100, Component.INTEREST) == {Component.INTEREST: 100}
    # a history above the balance: the excess taken in the order (penalty before interest)
    assert split_owed(moves[:2], 5_100, Component.INTEREST) == {
        Component.PENALTY: 30,
        Component.INTEREST: 5_070,
    }


def test_only_a_contract_past_maturity_or_repaid_may_owe_more_than_its_own_charge() -> None:
    day, later = D(2026, 11, 20), D(2026, 12, 1)
    assert not history_needed(ContractKind.FINANCING, 1_000, later, day)
    assert not history_needed(ContractKind.FINANCING, 1_000, day, day)  # penalty from tomorrow
    assert history_needed(ContractKind.FINANCING, 1_000, D(2026, 11, 19), day)
    assert history_needed(ContractKind.FINANCING, 0, later, day)  # a management fee, perhaps
    assert not history_needed(ContractKind.SHORT, 0, later, day)  # its fees are all fees
