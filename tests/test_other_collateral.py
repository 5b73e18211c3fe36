"""Other collateral (RISK-9): registration, its counted value, the exact release check, the
append-only store of its events, and its place in the risk arrays (in the maintenance ratio,
not in the available margin)."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, timedelta
from fractions import Fraction as F

import numpy as np
import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, text

from liangrong.domain import margin
from liangrong.domain.contracts import ContractKind
from liangrong.domain.margin import RatioStatus
from liangrong.domain.other_collateral import (
    CollateralAction,
    CollateralEvent,
    CollateralKind,
    OtherCollateralCode,
    agreed_release_ratio,
    by_client,
    check_release,
    counted_total,
    in_force,
    max_releasable_fen,
)
from liangrong.domain.parameters import ClientAgreement, Lines
from liangrong.domain.rejections import Rejection
from liangrong.domain.versions import Version
from liangrong.risk.engine import RiskEngine
from liangrong.risk.revaluation import Revaluer
from liangrong.risk.views import compacted, exact_account
from liangrong.sim.rules_seed import demo_rule_book
from liangrong.store import other_collateral as stored
from liangrong.store.other_collateral import (
    OtherCollateralConflict,
    load_counted_values,
    load_events,
    load_in_force,
    record_release,
    save_events,
)
from test_risk_arrays import (
    SYMBOLS,
    T0,
    Book,
    Contract,
    arrays_of,
    assert_float_close,
    books,
    reference_account,
)

MAR2, MAR3, MAR9 = date(2026, 3, 2), date(2026, 3, 3), date(2026, 3, 9)


def register(
    collateral_id: str,
    client_id: str,
    value_fen: int,
    haircut_bp: int = 10_000,
    *,
    on: date = MAR3,
    kind: CollateralKind = CollateralKind.REAL_ESTATE,
    approver: str = "credit committee",
) -> CollateralEvent:
    return CollateralEvent(
        collateral_id,
        client_id,
        CollateralAction.REGISTERED,
        effective=on,
        approver=approver,
        approved_on=MAR2,
        source=f"appraisal {collateral_id}",
        kind=kind,
        description="Shanghai office, 120 m²",
        declared_value_fen=value_fen,
        haircut_bp=haircut_bp,
    )


def revalue(
    collateral_id: str, client_id: str, value_fen: int, haircut_bp: int, on: date
) -> CollateralEvent:
    return CollateralEvent(
        collateral_id,
        client_id,
        CollateralAction.REVALUED,
        effective=on,
        approver="risk officer Li",
        approved_on=on,
        source="re-appraisal",
        declared_value_fen=value_fen,
        haircut_bp=haircut_bp,
    )


def release(collateral_id: str, client_id: str, on: date = MAR9) -> CollateralEvent:
    return CollateralEvent(
        collateral_id,
        client_id,
        CollateralAction.RELEASED,
        effective=on,
        approver="risk officer Li",
        approved_on=on,
        source="client request",
    )


# --- registration and the counted value ------------------------------------------------------


def test_the_counted_value_is_the_declared_value_at_haircut_rounded_down() -> None:
    items = in_force([register("R1", "C1", 1_000_001, 7_000)])
    assert items["R1"].counted_value_fen == 700_000  # 700,000.7 fen: rounded down
    assert items["R1"].approver == "credit committee" and items["R1"].registered_on == MAR3


def test_the_items_in_force_are_the_fold_of_the_events_by_effective_date() -> None:
    events = [
        register("R1", "C1", 2_000_000, 6_000),
        register("E1", "C1", 1_000_000, 5_000, kind=CollateralKind.EQUITY),
        register("U1", "C2", 300_000, 8_000, kind=CollateralKind.UNLISTED_SECURITIES),
        revalue("R1", "C1", 1_500_000, 6_000, MAR9),
        release("E1", "C1", date(2026, 3, 5)),
    ]
    now = in_force(events)
    assert sorted(now) == ["R1", "U1"]
    assert (now["R1"].declared_value_fen, now["R1"].valued_on) == (1_500_000, MAR9)
    assert now["R1"].approver == "risk officer Li" and now["R1"].registered_on == MAR3
    grouped = by_client(now)
    assert {c: counted_total(items) for c, items in grouped.items()} == {
        "C1": 900_000,
        "C2": 240_000,
    }
    on_the_4th = in_force(events, date(2026, 3, 4))
    assert counted_total(i for i in on_the_4th.values() if i.client_id == "C1") == 1_700_000
    # A release recorded before its registration still applies in effective order.
    assert sorted(in_force([release("R1", "C1", MAR9), register("R1", "C1", 10)])) == []


@pytest.mark.parametrize(
    ("events", "code"),
    [
        ([register("R1", "C1", 1), register("R1", "C1", 2)],
         OtherCollateralCode.ALREADY_REGISTERED),
        ([release("R1", "C1")], OtherCollateralCode.NOT_IN_FORCE),
        ([register("R1", "C1", 1), release("R1", "C2")], OtherCollateralCode.NOT_IN_FORCE),
        ([register("R1", "C1", 1), release("R1", "C1"), release("R1", "C1")],
         OtherCollateralCode.NOT_IN_FORCE),
        ([register("R1", "C1", 0)], OtherCollateralCode.MALFORMED),
        ([register("R1", "C1", 1, 10_001)], OtherCollateralCode.MALFORMED),
        ([register("R1", "C1", 1, -1)], OtherCollateralCode.MALFORMED),
        ([register("R1", "C1", 1, approver=" ")], OtherCollateralCode.MALFORMED),
        ([register("R1", "C1", 1, on=date(2026, 3, 1))], OtherCollateralCode.MALFORMED),
        ([replace(register("R1", "C1", 1), haircut_bp=None)], OtherCollateralCode.MALFORMED),
        ([replace(release("R1", "C1"), declared_value_fen=5)], OtherCollateralCode.MALFORMED),
        ([replace(release("R1", "C1"), kind=CollateralKind.EQUITY)], OtherCollateralCode.MALFORMED),
    ],
)  # fmt: skip
def test_contradicting_or_malformed_events_are_refused_with_a_code(
    events: list[CollateralEvent], code: OtherCollateralCode
) -> None:
    with pytest.raises(Rejection) as refused:
        in_force(events)
    assert refused.value.code is code
    assert refused.value.message_zh and refused.value.message_en
    assert "{detail}" not in refused.value.message_zh + refused.value.message_en


# --- in the ratio, not in the margin ------------------------------------------------------------

# 1,000 shares at 10.000 bought on 10,000 yuan of financing; 2,000 yuan cash; haircut 50%.
POSITION = margin.FinancedPosition("600000.SH", 1_000, 1_000_000, 10_000, F(1, 2), F(1))
BASE = margin.Account(cash_fen=200_000, financing=(POSITION,))


def test_other_collateral_counts_in_the_ratio_only() -> None:
    account = replace(BASE, other_collateral_fen=500_000)
    assert margin.maintenance_ratio(account) == F(17, 10)  # (2,000 + 10,000 + 5,000) ÷ 10,000
    assert margin.maintenance_ratio(BASE) == F(12, 10)
    assert margin.available_margin(account) == margin.available_margin(BASE) == -800_000
    assert margin.cash_and_securities_ratio(account) == F(12, 10)  # the withdrawal ratio
    assert margin.withdrawable_cash(account, F(3)) == 0


# --- release ---------------------------------------------------------------------------------

AGREED = F(3, 2)
HELD = replace(BASE, other_collateral_fen=500_000)  # 170% against an agreed 150%


@pytest.mark.parametrize(
    ("released_fen", "refusal", "after"),
    [
        (199_999, None, F(1_500_001, 1_000_000)),  # one fen short of the line: allowed
        (200_000, None, AGREED),  # exactly at the agreed ratio after: allowed (不得低于)
        (200_001, OtherCollateralCode.RATIO_BELOW_AGREED_AFTER, F(1_499_999, 1_000_000)),
    ],
)
def test_a_release_must_leave_the_ratio_at_or_above_the_agreed_one(
    released_fen: int, refusal: OtherCollateralCode | None, after: F
) -> None:
    check = check_release(HELD, released_fen, AGREED)
    assert (check.refusal, check.ratio_before, check.ratio_after) == (refusal, F(17, 10), after)
    assert check.allowed is (refusal is None)
    assert max_releasable_fen(HELD, AGREED) == 200_000


def test_no_release_unless_the_ratio_is_above_the_agreed_one_before() -> None:
    at_line = replace(BASE, other_collateral_fen=300_000)  # exactly 150%
    check = check_release(at_line, 1, AGREED)
    assert check.refusal is OtherCollateralCode.RATIO_NOT_ABOVE_AGREED
    rejection = check.rejection()
    assert rejection.code is OtherCollateralCode.RATIO_NOT_ABOVE_AGREED
    assert "1.500000 -> 1.499999 / 1.500000" in rejection.message_zh
    assert rejection.message_en.startswith("the maintenance ratio is not above")
    assert max_releasable_fen(at_line, AGREED) == 0
    with pytest.raises(ValueError, match="allowed"):
        check_release(HELD, 1, AGREED).rejection()


def test_without_debt_everything_may_be_released() -> None:
    free = margin.Account(cash_fen=0, other_collateral_fen=900_000)
    check = check_release(free, 900_000, AGREED)
    assert check.allowed and check.ratio_before is None and check.ratio_after is None
    assert max_releasable_fen(free, AGREED) == 900_000
    with pytest.raises(ValueError, match="900001 fen of 900000"):
        check_release(free, 900_001, AGREED)


@given(
    cash=st.integers(0, 10**9),
    other=st.integers(1, 10**9),
    owed=st.integers(1, 10**9),
    agreed=st.fractions(F(1), F(3)),
    data=st.data(),
)
def test_a_release_is_allowed_exactly_up_to_the_most_releasable(
    cash: int, other: int, owed: int, agreed: F, data: st.DataObject
) -> None:
    account = margin.Account(
        cash_fen=cash,
        other_collateral_fen=other,
        financing=(replace(POSITION, quantity=0, amount_fen=owed),),
    )
    most = max_releasable_fen(account, agreed)
    released = data.draw(st.integers(1, other))
    check = check_release(account, released, agreed)
    assert check.allowed is (released <= most)
    if check.allowed:
        assert check.ratio_after is not None and check.ratio_after >= agreed
        assert check.ratio_before is not None and check.ratio_before > agreed


def test_the_agreed_ratio_is_the_call_target_in_force() -> None:
    book = demo_rule_book()
    own = ClientAgreement("C2", call_target=F("1.6"))
    high_lines = ClientAgreement("C3", lines=Lines(F("1.8"), F("1.7"), F("1.3")))
    book = book.with_client(Version("C2@1", MAR2, own, "agreement"))
    book = book.with_client(Version("C3@1", MAR2, high_lines, "agreement"))
    assert agreed_release_ratio(book, "C1", MAR9) == F("1.5")  # the firm's call target
    assert agreed_release_ratio(book, "C2", MAR9) == F("1.6")
    assert agreed_release_ratio(book, "C3", MAR9) == F("1.7")  # never below the warning line


# --- the store -----------------------------------------------------------------------------------


def test_events_round_trip_append_only_and_idempotent(store: Engine, fixed_clock) -> None:
    events = [
        ("e1", register("R1", "C1", 2_000_000, 6_000)),
        ("e2", register("U1", "C2", 300_000, 8_000, kind=CollateralKind.UNLISTED_SECURITIES)),
        ("e3", revalue("R1", "C1", 1_500_000, 6_000, MAR9)),
    ]
    assert save_events(store, events, clock=fixed_clock) == 3
    assert save_events(store, events, clock=fixed_clock) == 0
    assert load_events(store) == [e for _, e in events]
    assert load_events(store, "C2") == [events[1][1]]
    assert load_counted_values(store) == {"C1": 900_000, "C2": 240_000}
    assert load_counted_values(store, MAR3) == {"C1": 1_200_000, "C2": 240_000}
    assert [i.collateral_id for i in load_in_force(store)["C1"]] == ["R1"]
    with pytest.raises(OtherCollateralConflict):
        save_events(store, [("e1", register("R1", "C1", 1))], clock=fixed_clock)
    # A batch contradicting the record is refused whole.
    with pytest.raises(Rejection) as refused:
        save_events(
            store, [("e4", release("U1", "C2")), ("e5", release("U1", "C2"))], clock=fixed_clock
        )
    assert refused.value.code is OtherCollateralCode.NOT_IN_FORCE
    assert len(load_events(store)) == 3
    for statement in (
        "DELETE FROM other_collateral_events",
        "UPDATE other_collateral_events SET approver = 'x'",
    ):
        with pytest.raises(Exception, match="append-only"), store.begin() as conn:
            conn.execute(text(statement))
    with store.connect() as conn:
        diffs = compare_metadata(MigrationContext.configure(conn), stored.metadata)
    assert [d for d in diffs if "other_collateral_events" in str(d)] == []


def test_a_release_is_recorded_only_when_the_ratio_allows_it(store: Engine, fixed_clock) -> None:
    save_events(
        store,
        [("e1", register("R1", "C1", 299_999)), ("e2", register("R2", "C1", 200_000))],
        clock=fixed_clock,
    )
    account = replace(BASE, other_collateral_fen=load_counted_values(store)["C1"])
    assert margin.maintenance_ratio(account) == F(1_699_999, 1_000_000)
    # Without R2 the account keeps 2,000 + 10,000 + 2,999.99 yuan: 149.9999%
    with pytest.raises(Rejection) as refused:
        record_release(store, "e3", release("R2", "C1"), account, AGREED, clock=fixed_clock)
    assert refused.value.code is OtherCollateralCode.RATIO_BELOW_AGREED_AFTER
    assert len(load_events(store)) == 2
    with pytest.raises(Rejection) as unknown:
        record_release(store, "e3", release("R9", "C1"), account, AGREED, clock=fixed_clock)
    assert unknown.value.code is OtherCollateralCode.NOT_IN_FORCE
    # R1 re-appraised one fen higher: exactly 150% after, allowed.
    save_events(store, [("e4", revalue("R1", "C1", 300_000, 10_000, MAR3))], clock=fixed_clock)
    account = replace(BASE, other_collateral_fen=load_counted_values(store)["C1"])
    check = record_release(store, "e5", release("R2", "C1"), account, AGREED, clock=fixed_clock)
    assert check is not None and check.ratio_after == AGREED
    assert load_counted_values(store) == {"C1": 300_000}
    # The same release again changes nothing.
    again = record_release(store, "e5", release("R2", "C1"), account, AGREED, clock=fixed_clock)
    assert again is None and len(load_events(store)) == 4


# --- the risk arrays ---------------------------------------------------------------------------


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(book=books(), data=st.data())
def test_the_arrays_count_other_collateral_as_the_exact_formulas_do(
    book: Book, data: st.DataObject
) -> None:
    arrays = arrays_of(book)
    revaluer = Revaluer(arrays)
    other = data.draw(
        st.lists(st.integers(0, 10**10), min_size=len(book.cash), max_size=len(book.cash))
    )
    for a, value in enumerate(other):
        assert arrays.set_other_collateral(f"c{a}", value) == a
    # Incremental: a price move after the collateral was set.
    moved = Book(
        book.cash, book.held, book.contracts, [p + 1 for p in book.prices], book.haircuts_bp
    )
    revaluer.incremental(
        arrays.set_prices(T0 + timedelta(seconds=1), dict(zip(SYMBOLS, moved.prices, strict=True)))
    )
    kept = revaluer.figures(None)
    full = Revaluer(arrays).full()
    for a, value in enumerate(other):
        exact = replace(reference_account(moved, a), other_collateral_fen=value)
        mine = exact_account(arrays, a)
        assert mine.other_collateral_fen == value
        for formula in (margin.maintenance_ratio, margin.total_assets, margin.available_margin):
            assert formula(mine) == formula(exact)
        assert_float_close(full, a, exact)
        assert_float_close(kept, a, exact)
    np.testing.assert_array_equal(kept.assets_li, full.assets_li)
    np.testing.assert_array_equal(kept.ratio, full.ratio)
    fresh = compacted(arrays)
    assert [exact_account(fresh, a) for a in range(len(other))] == [
        exact_account(arrays, a) for a in range(len(other))
    ]


def test_setting_other_collateral_changes_the_ratio_not_the_margin() -> None:
    book = Book(cash=[0], held={(0, 0): 1_000}, contracts=[], prices=[10_000] * 5,
                haircuts_bp=[5_000] * 5)  # fmt: skip
    arrays = arrays_of(book)
    revaluer = Revaluer(arrays)
    before = revaluer.figures(None)
    version = arrays.version
    a = arrays.set_other_collateral("c0", 123_456)
    after = revaluer.figures(np.asarray([a], dtype=np.intp))
    assert after.assets_li[0] == before.assets_li[0] + 1_234_560
    assert after.available_li[0] == before.available_li[0]
    assert arrays.version == version + 1
    assert arrays.set_other_collateral("new client", 5) == 1  # a new account
    with pytest.raises(ValueError, match="cannot be -1 fen"):
        arrays.set_other_collateral("c0", -1)


def test_other_collateral_from_the_store_lifts_a_client_out_of_liquidation(
    store: Engine, fixed_clock
) -> None:
    # c0: 1,000 shares at 10.000 against 8,000 yuan financing: 125%, below liquidation.
    contract = Contract("f0", ContractKind.FINANCING, 0, 0, 1_000, 800_000, 8_000, 739_000,
                        10_000, 800_000, 0)  # fmt: skip
    book = Book(cash=[0], held={(0, 0): 1_000}, contracts=[contract], prices=[10_000] * 5,
                haircuts_bp=[5_000] * 5)  # fmt: skip
    arrays = arrays_of(book)
    lines = margin.Lines(attention=F("1.5"), warning=F("1.4"), liquidation=F("1.3"))
    engine = RiskEngine(arrays, lines)
    engine.revalue_all(T0)
    assert engine.statuses.status("c0") is RatioStatus.LIQUIDATION
    save_events(store, [("e1", register("R1", "c0", 400_000, 5_000))], clock=fixed_clock)
    for client, value in load_counted_values(store).items():
        a = arrays.set_other_collateral(client, value)
        changes = engine.statuses.update(engine.revaluer.figures(np.asarray([a])), T0)
    # (10,000 + 2,000) ÷ 8,000 = 150%: safe
    assert [(c.old, c.new, c.ratio) for c in changes] == [
        (RatioStatus.LIQUIDATION, RatioStatus.SAFE, F(3, 2))
    ]
    assert engine.revalue_all(T0 + timedelta(seconds=1))[1] == []  # a full pass agrees
