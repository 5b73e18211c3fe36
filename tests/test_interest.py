"""CON-4, CON-5: daily interest, lending fees, penalty and same-day use, hand-computed to the
fen over a weekend and the National Day holiday, a rate change mid-period (firm base rate and
client agreement), and the property that a period's daily postings add up to its closed form
under the rounding rule (cumulative half-up, residue carried day to day)."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, timedelta
from fractions import Fraction as F

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from liangrong.domain import accounts as acc
from liangrong.domain import operations as ops
from liangrong.domain.contracts import ContractKind, ContractTerms
from liangrong.domain.interest import (
    ChargeKind,
    ChargePolicy,
    ContractAccrual,
    DayRates,
    RateBasis,
    SameDayUse,
    accrue_day,
    accrue_days,
    accrued_over,
    rate_steps,
    start_accrual,
    totals_by_kind,
)
from liangrong.domain.journal import net_changes, validate
from liangrong.domain.margin import simple_interest
from liangrong.domain.money import Rounding, round_fraction
from liangrong.domain.rule_book import RuleBook
from liangrong.domain.versions import Version
from liangrong.sim.rules_seed import demo_rule_book, negotiated_agreement

D = date
BOOK = demo_rule_book()  # firm base rates: financing 8.35%, lending 10.35%, penalty 18%
POLICY = ChargePolicy(
    same_day_use=SameDayUse.ONE_DAY_AT_RATE,
    management_fee_rate=F("0.02"),
    penalty_in_addition=True,
    rate_basis=RateBasis.IN_FORCE,
)
INT, FEE, PEN, MGMT = (
    ChargeKind.INTEREST,
    ChargeKind.LENDING_FEE,
    ChargeKind.PENALTY,
    ChargeKind.MANAGEMENT_FEE,
)


def financing(amount_fen: int, used: date, maturity: date, cid: str = "F1") -> ContractTerms:
    return ContractTerms(
        contract_id=cid,
        kind=ContractKind.FINANCING,
        client_id="C1",
        security="600000.SH",
        quantity=10_000,
        amount_fen=amount_fen,
        price_li=10_000,
        open_date=used,
        used_date=used,
        maturity=maturity,
        maturity_provisional=False,
        margin_ratio=F(1),
        rule_version="exchange:x/firm:y",
        annual_rate=F("0.0835"),
    )


def short(quantity: int, price_li: int, used: date, maturity: date) -> ContractTerms:
    return replace(
        financing(max(1, quantity * price_li // 10), used, maturity, "S1"),
        kind=ContractKind.SHORT,
        quantity=quantity,
        price_li=price_li,
        annual_rate=F("0.1035"),
    )


def run(
    terms: ContractTerms,
    balances: list[tuple[date, int]],
    end: date,
    policy: ChargePolicy = POLICY,
    book: RuleBook = BOOK,
    state: ContractAccrual | None = None,
) -> tuple[list[dict[ChargeKind, int]], dict[ChargeKind, int], dict[ChargeKind, int]]:
    """Daily postings over [start, end), their totals and the closed form of the period."""
    state = state or start_accrual(terms)
    start = state.next_day
    rates = rate_steps(book, terms, start, end, policy)
    _, days = accrue_days(
        state, terms, end - timedelta(days=1), balances, terms.maturity, rates, policy
    )
    closed = accrued_over(terms, start, end, balances, terms.maturity, rates, policy)
    return [dict(d.amounts_fen) for d in days], totals_by_kind(days), closed


# --- hand-computed -------------------------------------------------------------------------


def test_financing_over_a_weekend_and_national_day_rounds_the_running_total() -> None:
    # 200,000.00 CNY at 8.35% ÷ 360 = 4,638.888… fen a day.  Used Wed 09-30, repaid Thu 10-08
    # (the first session after the holiday): 09-30 and 10-01…10-07 (Sat 10-03 and Sun 10-04
    # too) count, the repayment day does not: 8 days.
    terms = financing(200_000_00, D(2026, 9, 30), D(2027, 3, 30))
    daily, totals, closed = run(
        terms, [(D(2026, 9, 30), 200_000_00), (D(2026, 10, 8), 0)], D(2026, 10, 9)
    )
    # running totals 4638.89 9277.78 13916.67 18555.56 23194.44 27833.33 32472.22 37111.11
    # booked half up: 4639 9278 13917 18556 23194 27833 32472 37111; postings are their steps
    assert [d.get(INT, 0) for d in daily] == [4639, 4639, 4639, 4639, 4638, 4639, 4639, 4639, 0]
    assert totals == closed == {INT: 37_111}
    assert closed[INT] == simple_interest(200_000_00, F("0.0835"), 8)
    # rounding every day on its own would charge a fen more than the closed form
    one_day = round_fraction(F(200_000_00) * F("0.0835") / 360, Rounding.HALF_UP)
    assert 8 * one_day == 37_112


def test_short_fee_on_sale_value_with_an_exact_half_fen() -> None:
    # 10,000 shares sold at 12.340: 123,400.00 CNY × 10.35% ÷ 360 = 3,547.75 fen a day.
    # Used Fri 09-18, covered Mon 09-21: Fri, Sat, Sun.  Running 3547.75, 7095.50 (half: up),
    # 10643.25 → booked 3548, 7096, 10643.
    terms = short(10_000, 12_340, D(2026, 9, 18), D(2027, 3, 18))
    daily, totals, closed = run(
        terms, [(D(2026, 9, 18), 10_000), (D(2026, 9, 21), 0)], D(2026, 9, 22)
    )
    assert [d.get(FEE, 0) for d in daily] == [3548, 3548, 3547, 0]
    assert totals == closed == {FEE: 10_643}


def test_a_partial_repayment_lowers_the_base_from_that_day() -> None:
    # 100,000.00 used Mon 09-14, 40,000.00 repaid Wed 09-16, the rest Fri 09-18.
    # 2 days × 100,000 + 2 days × 60,000 at 8.35% ÷ 360 = 46.3889 + 27.8333 = 74.2222 CNY.
    terms = financing(100_000_00, D(2026, 9, 14), D(2027, 3, 12))
    balances = [(D(2026, 9, 14), 100_000_00), (D(2026, 9, 16), 60_000_00), (D(2026, 9, 18), 0)]
    daily, totals, closed = run(terms, balances, D(2026, 9, 19))
    assert [d.get(INT, 0) for d in daily] == [2319, 2320, 1392, 1391, 0]
    assert totals == closed == {INT: 7422}


def _book_with_firm_rate(effective: date, financing_rate: F) -> RuleBook:
    current = BOOK.firm.versions[-1].value
    version = Version(
        effective.isoformat(), effective, replace(current, financing_rate=financing_rate), "t"
    )
    return BOOK.with_firm(version)


def test_firm_base_rate_change_mid_period() -> None:
    # 8.35% through Sun 10-04, 7.35% from Mon 10-05 (a new firm version):
    # 5 days × 4638.888… + 3 days × 200,000 × 7.35% ÷ 360 (4083.333…) = 23194.44 + 12250.00
    book = _book_with_firm_rate(D(2026, 10, 5), F("0.0735"))
    terms = financing(200_000_00, D(2026, 9, 30), D(2027, 3, 30))
    balances = [(D(2026, 9, 30), 200_000_00), (D(2026, 10, 8), 0)]
    rates = rate_steps(book, terms, D(2026, 9, 30), D(2026, 10, 9), POLICY)
    assert [(day, r.rate) for day, r in rates] == [
        (D(2026, 9, 30), F("0.0835")),
        (D(2026, 10, 5), F("0.0735")),
    ]
    daily, totals, closed = run(terms, balances, D(2026, 10, 9), book=book)
    # running 23194.44 | 27277.78 31361.11 35444.44 → booked 23194 | 27278 31361 35444
    assert [d.get(INT, 0) for d in daily][4:8] == [4638, 4084, 4083, 4083]
    assert totals == closed == {INT: 35_444}
    # a firm whose agreements fix the rate at opening keeps 8.35% throughout
    fixed = replace(POLICY, rate_basis=RateBasis.CONTRACT)
    assert run(terms, balances, D(2026, 10, 9), policy=fixed, book=book)[1] == {INT: 37_111}


def test_client_agreement_rate_over_the_firm_base_rate_from_its_date() -> None:
    # the negotiated 5.5% applies from 10-05: 23194.44 + 3 × 200,000 × 5.5% ÷ 360 (9166.67)
    book = BOOK.with_client(negotiated_agreement("C1", D(2026, 10, 5)))
    terms = financing(200_000_00, D(2026, 9, 30), D(2027, 3, 30))
    balances = [(D(2026, 9, 30), 200_000_00), (D(2026, 10, 8), 0)]
    _, totals, closed = run(terms, balances, D(2026, 10, 9), book=book)
    assert totals == closed == {INT: 32_361}


def test_same_day_use_pays_one_day_at_its_rate_or_the_management_fee() -> None:
    terms = financing(50_000_00, D(2026, 9, 30), D(2027, 3, 30))
    used_and_repaid = [(D(2026, 9, 30), 0)]
    # 50,000.00 × 8.35% ÷ 360 = 1,159.72 fen
    _, totals, closed = run(terms, used_and_repaid, D(2026, 10, 1))
    assert totals == closed == {INT: 1160}
    # the agreement says management fee: 50,000.00 × 2% ÷ 360 = 277.78 fen
    fee = replace(POLICY, same_day_use=SameDayUse.MANAGEMENT_FEE)
    _, totals, closed = run(terms, used_and_repaid, D(2026, 10, 1), policy=fee)
    assert totals == closed == {MGMT: 278}
    # partly repaid the same day: only what is still used at day end, 20,000.00 → 463.89
    _, totals, _ = run(terms, [(D(2026, 9, 30), 20_000_00)], D(2026, 10, 1))
    assert totals == {INT: 464}


def test_penalty_on_overdue_debt_from_the_day_after_maturity() -> None:
    # 100,000.00 used 04-08, matures Thu 10-08, repaid only Tue 10-13.  The period starts
    # 10-01 (the last collection settled September).  Interest 10-01…10-12: 12 × 2319.44 =
    # 27833.33; penalty at 18% (0.05% a day = 50.00 CNY) from Fri 10-09 to Mon 10-12: 4 days.
    terms = financing(100_000_00, D(2026, 4, 8), D(2026, 10, 8))
    balances = [(D(2026, 4, 8), 100_000_00), (D(2026, 10, 13), 0)]
    september = ContractAccrual("F1", D(2026, 10, 1))
    daily, totals, closed = run(terms, balances, D(2026, 10, 14), state=september)
    assert [d.get(PEN, 0) for d in daily] == [0] * 8 + [5000] * 4 + [0]
    assert totals == closed == {INT: 27_833, PEN: 20_000}
    # where the penalty replaces the rate, interest stops after the maturity day: 8 days
    instead = replace(POLICY, penalty_in_addition=False)
    _, totals, closed = run(terms, balances, D(2026, 10, 14), policy=instead, state=september)
    assert totals == closed == {INT: 18_556, PEN: 20_000}


def test_no_penalty_while_a_suspension_postpones_the_maturity() -> None:
    terms = financing(100_000_00, D(2026, 4, 8), D(2026, 10, 8))
    balances = [(D(2026, 4, 8), 100_000_00)]
    rates = [(D(2026, 4, 8), DayRates(F("0.0835"), F("0.18"), F(0)))]
    start, end = D(2026, 10, 1), D(2026, 10, 14)
    waiting = accrued_over(terms, start, end, balances, None, rates, POLICY)
    assert waiting == {INT: 30_153}  # 13 days × 2319.44…, no penalty
    _, days = accrue_days(
        ContractAccrual("F1", start), terms, D(2026, 10, 13), balances, None, rates, POLICY
    )
    assert totals_by_kind(days) == waiting


def test_settlement_starts_a_new_period_and_drops_the_residue() -> None:
    terms = financing(200_000_00, D(2026, 9, 30), D(2027, 3, 30))
    rates = DayRates(F("0.0835"), F("0.18"), F(0))
    state = start_accrual(terms)
    for _ in range(5):  # 5 days: exact 23194.44…, booked 23194
        state, _ = accrue_day(state, terms, 200_000_00, terms.maturity, rates, POLICY)
    assert state.booked_fen(INT) == 23_194 and state.exact_fen(INT) == F(2_087_500, 90)
    settled = state.settled()
    assert settled.since == D(2026, 10, 5) and settled.booked_fen(INT) == 0
    settled, day = accrue_day(settled, terms, 200_000_00, terms.maturity, rates, POLICY)
    assert day.day == D(2026, 10, 5) and day.amounts_fen == {INT: 4639}


def test_a_day_posts_through_accrue_charges_into_the_contracts_charges_account() -> None:
    terms = financing(200_000_00, D(2026, 9, 30), D(2027, 3, 30))
    rates = DayRates(F("0.0835"), F("0.18"), F(0))
    _, day = accrue_day(start_accrual(terms), terms, 200_000_00, terms.maturity, rates, POLICY)
    txn = ops.accrue_charges("accrue:F1:2026-09-30", day.day, "C1", "F1", day.total_fen)
    validate(txn, lambda client: True)
    changes = {key: n for key, n in net_changes(txn).items() if key[1] == acc.CASH_ASSET}
    assert changes == {
        (acc.charges_debt("C1", "F1"), "CNY"): -4639,
        (acc.RECEIVABLE_CHARGES, "CNY"): 4639,
    }


# --- property: a period's daily postings add up to its closed form ---------------------------

START = D(2026, 1, 5)


@st.composite
def periods(
    draw: st.DrawFn,
) -> tuple[
    ContractTerms, list[tuple[date, int]], list[tuple[date, DayRates]], ChargePolicy, date, date
]:
    kind = draw(st.sampled_from(list(ContractKind)))
    used = START + timedelta(days=draw(st.integers(0, 10)))
    maturity = used + timedelta(days=draw(st.integers(0, 60)))
    quantity = draw(st.integers(1, 10**6))
    price_li = draw(st.integers(1, 500_000))
    amount = draw(st.integers(1, 10**11))
    terms = financing(amount, used, maturity)
    if kind is ContractKind.SHORT:
        terms = short(quantity, price_li, used, maturity)
    owed = amount if kind is ContractKind.FINANCING else quantity
    cuts = sorted(set(draw(st.lists(st.integers(0, 90), max_size=5))))
    # owed at the end of the day of use: 0 is a same-day use
    balances = [(used, draw(st.one_of(st.just(0), st.integers(1, owed))))]
    balances += [(used + timedelta(days=c + 1), draw(st.integers(0, owed))) for c in cuts]
    bp = st.integers(1, 3000).map(lambda n: F(n, 10_000))
    rate_days = sorted(set(draw(st.lists(st.integers(1, 90), max_size=3))))
    rates = [(START, DayRates(draw(bp), draw(bp), draw(bp)))]
    rates += [
        (START + timedelta(days=d), DayRates(draw(bp), draw(bp), draw(bp))) for d in rate_days
    ]
    policy = ChargePolicy(
        draw(st.sampled_from(list(SameDayUse))),
        F(0),
        draw(st.booleans()),
        RateBasis.IN_FORCE,
    )
    start = used + timedelta(days=draw(st.one_of(st.just(0), st.integers(0, 30))))
    end = start + timedelta(days=draw(st.integers(1, 100)))
    return terms, balances, rates, policy, start, end


def _oracle(
    terms: ContractTerms,
    balances: list[tuple[date, int]],
    rates: list[tuple[date, DayRates]],
    policy: ChargePolicy,
    start: date,
    end: date,
) -> dict[ChargeKind, int]:
    """Σ over the days of base × rate ÷ 360, then half up once: the 积数 settlement."""
    own = INT if terms.kind is ContractKind.FINANCING else FEE
    unit = 10 if terms.kind is ContractKind.FINANCING else terms.price_li
    exact: dict[ChargeKind, F] = {}
    day = start
    while day < end:
        owed = [p for d, p in balances if d <= day][-1]
        r = [x for d, x in rates if d <= day][-1]
        charges: list[tuple[ChargeKind, F, int]] = []
        if owed == 0 and day == terms.used_date:
            used = terms.amount_fen * 10 if own is INT else terms.quantity * terms.price_li
            same_day = policy.same_day_use is SameDayUse.ONE_DAY_AT_RATE
            charges.append((own, r.rate, used) if same_day else (MGMT, r.management_fee_rate, used))
        elif owed and day <= terms.maturity:
            charges.append((own, r.rate, owed * unit))
        elif owed:
            charges.append((PEN, r.penalty_rate, owed * unit))
            if policy.penalty_in_addition:
                charges.append((own, r.rate, owed * unit))
        for kind, rate, base in charges:
            exact[kind] = exact.get(kind, F(0)) + F(base) * rate / 3600
        day += timedelta(days=1)
    return {k: round_fraction(v, Rounding.HALF_UP) for k, v in exact.items()}


@settings(max_examples=300, deadline=None)
@given(periods())
def test_daily_postings_add_up_to_the_closed_form(
    case: tuple[
        ContractTerms, list[tuple[date, int]], list[tuple[date, DayRates]], ChargePolicy, date, date
    ],
) -> None:
    terms, balances, rates, policy, start, end = case
    state = ContractAccrual(terms.contract_id, start)
    through = end - timedelta(days=1)
    state, days = accrue_days(state, terms, through, balances, terms.maturity, rates, policy)
    closed = accrued_over(terms, start, end, balances, terms.maturity, rates, policy)
    totals = totals_by_kind(days)
    assert {k: v for k, v in closed.items() if v} == totals
    assert totals == {
        k: v for k, v in _oracle(terms, balances, rates, policy, start, end).items() if v
    }
    assert all(n > 0 for day in days for n in day.amounts_fen.values())  # never negative
    for kind in ChargeKind:  # what is booked is the exact amount rounded half up
        assert abs(state.exact_fen(kind) - state.booked_fen(kind)) <= F(1, 2)


@settings(max_examples=200, deadline=None)
@given(
    st.integers(1, 10**11),
    st.integers(1, 5000).map(lambda n: F(n, 10_000)),
    st.integers(1, 400),
)
def test_a_constant_balance_matches_simple_interest(principal: int, rate: F, days: int) -> None:
    used = D(2026, 1, 5)
    terms = replace(financing(principal, used, used + timedelta(days=days)), annual_rate=rate)
    steps = [(used, DayRates(rate, F(0), F(0)))]
    fixed = replace(POLICY, rate_basis=RateBasis.CONTRACT)
    end = used + timedelta(days=days)
    _, out = accrue_days(
        start_accrual(terms),
        terms,
        end - timedelta(days=1),
        [(used, principal)],
        terms.maturity,
        steps,
        fixed,
    )
    assert totals_by_kind(out).get(INT, 0) == simple_interest(principal, rate, days)


def test_rates_are_never_negative() -> None:
    with pytest.raises(ValueError):
        DayRates(F(-1, 100), F(0), F(0))
    with pytest.raises(ValueError):
        replace(POLICY, management_fee_rate=F(-1, 100))
