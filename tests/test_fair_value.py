"""Fair values (RISK-2): which securities need one, the named rules, the rule in the firm
policy and the client agreement (with its stored form), and the risk engine fed with them."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, date, datetime
from fractions import Fraction as F

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from liangrong.domain import margin
from liangrong.domain.fair_value import (
    FairValueError,
    FairValueReason,
    FairValueRule,
    ReferenceClose,
    fair_value,
    reasons_for,
    rule_in_force,
)
from liangrong.domain.lists import DailyLists, ListLayer
from liangrong.domain.margin import RatioStatus
from liangrong.domain.parameters import ClientAgreement, FirmPolicy
from liangrong.domain.rule_codec import RuleCodecError, decode_rules, encode_rules
from liangrong.domain.securities import Status
from liangrong.domain.versions import Version
from liangrong.risk.book_arrays import BookArrays
from liangrong.risk.engine import RiskEngine
from liangrong.risk.fair_values import (
    FairValueInputs,
    LastClose,
    client_account,
    clients_off_firm_rule,
    feed,
    index_levels,
    plan,
    removed_from_list,
    rules_in_force,
)
from liangrong.risk.layout import BookData, ContractData
from liangrong.risk.views import exact_account
from liangrong.sim.rules_seed import demo_firm_versions, demo_rule_book

SUSPENDED = frozenset({FairValueReason.SUSPENDED})
FRIDAY, MONDAY = date(2026, 3, 6), date(2026, 3, 9)

# --- which securities need a fair value ---------------------------------------------------


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        (Status.NORMAL, set()),
        (Status.SUSPENDED, {FairValueReason.SUSPENDED}),
        (Status.DELISTED, {FairValueReason.SUSPENDED}),
        (Status.RISK_WARNING, {FairValueReason.RISK_WARNING}),
        (Status.DELISTING_PERIOD, {FairValueReason.RISK_WARNING}),
    ],
)
def test_the_status_says_whether_a_fair_value_is_needed(
    status: Status, expected: set[FairValueReason]
) -> None:
    assert reasons_for(status) == expected
    both = reasons_for(status, removed_from_list=True, in_transit=True)
    extra = {FairValueReason.OFF_COLLATERAL_LIST, FairValueReason.RIGHTS_IN_TRANSIT}
    assert both == expected | extra


def test_removed_from_the_collateral_list_is_the_difference_of_two_lists() -> None:
    def lists(day: date, collateral: dict[str, F]) -> DailyLists:
        return DailyLists(day, ListLayer.FIRM, frozenset(), frozenset(), collateral)

    before = lists(FRIDAY, {"600000.SH": F("0.7"), "600036.SH": F("0.6")})
    today = lists(MONDAY, {"600036.SH": F("0.5"), "000001.SZ": F("0.6")})
    assert removed_from_list(before, today) == {"600000.SH"}
    assert removed_from_list(None, today) == frozenset()


# --- the named rules ------------------------------------------------------------------------


def test_last_close_is_the_close_itself_with_its_rule_named() -> None:
    reference = ReferenceClose(12_340, FRIDAY)
    value = fair_value("600000.SH", SUSPENDED, FairValueRule.LAST_CLOSE, reference)
    assert (value.price_li, value.rule_name, value.exact_li) == (12_340, "last_close", 12_340)
    assert value.reference is reference and value.reasons == SUSPENDED


def test_index_moved_moves_the_close_as_its_index_moved() -> None:
    # 10.000 yuan at an index of 4000; the index at 3600 now: 9.000 yuan.
    reference = ReferenceClose(10_000, FRIDAY, F(4000), F(3600))
    value = fair_value("600000.SH", SUSPENDED, FairValueRule.INDEX_MOVED, reference)
    assert (value.price_li, value.rule_name) == (9_000, "index_moved")
    # 10.001 × 2/3 = 6.667333...: half up to the li is 6.667
    odd = fair_value(
        "X", SUSPENDED, FairValueRule.INDEX_MOVED, ReferenceClose(10_001, FRIDAY, F(3), F(2))
    )
    assert (odd.exact_li, odd.price_li) == (F(20_002, 3), 6_667)
    # exactly half a li rounds up: 3 × 1/2 = 1.5 li -> 2 li
    half = fair_value(
        "X", SUSPENDED, FairValueRule.INDEX_MOVED, ReferenceClose(3, FRIDAY, F(2), F(1))
    )
    assert (half.exact_li, half.price_li) == (F(3, 2), 2)


@given(
    close=st.integers(1, 10**7),
    then=st.fractions(min_value=F(1, 100), max_value=F(10**5)),
    now=st.fractions(min_value=F(1, 100), max_value=F(10**5)),
)
def test_index_moved_is_the_exact_move_rounded_half_up(close: int, then: F, now: F) -> None:
    exact = close * now / then
    reference = ReferenceClose(close, FRIDAY, then, now)
    if exact < F(1, 2):
        with pytest.raises(FairValueError, match="rounds to no price"):
            fair_value("X", SUSPENDED, FairValueRule.INDEX_MOVED, reference)
        return
    value = fair_value("X", SUSPENDED, FairValueRule.INDEX_MOVED, reference)
    assert value.exact_li == exact
    assert value.price_li - F(1, 2) <= exact < value.price_li + F(1, 2)  # half up


def test_a_rule_without_its_inputs_is_refused_by_name() -> None:
    with pytest.raises(FairValueError, match="index levels"):
        fair_value("X", SUSPENDED, FairValueRule.INDEX_MOVED, ReferenceClose(10_000, FRIDAY))
    with pytest.raises(FairValueError, match="needs no fair value"):
        fair_value("X", frozenset(), FairValueRule.LAST_CLOSE, ReferenceClose(10_000, FRIDAY))
    with pytest.raises(FairValueError, match="positive"):
        fair_value("X", SUSPENDED, FairValueRule.LAST_CLOSE, ReferenceClose(0, FRIDAY))
    with pytest.raises(FairValueError, match="positive"):
        fair_value("X", SUSPENDED, FairValueRule.INDEX_MOVED, ReferenceClose(1, FRIDAY, F(0), F(1)))


# --- the rule in the firm policy and the client agreement ---------------------------------

FIRM = demo_firm_versions()[-1].value


def test_the_firm_has_a_rule_by_default_and_a_client_keeps_it_unless_agreed() -> None:
    assert FIRM.fair_value_rule is FairValueRule.LAST_CLOSE
    assert ClientAgreement("C1").fair_value_rule is None
    assert rule_in_force(None, FairValueRule.LAST_CLOSE) is FairValueRule.LAST_CLOSE
    assert rule_in_force(FairValueRule.INDEX_MOVED, FairValueRule.LAST_CLOSE) is (
        FairValueRule.INDEX_MOVED
    )


def test_a_rule_is_taken_by_name_and_an_unknown_one_is_refused() -> None:
    by_name = ClientAgreement("C1", fair_value_rule="index_moved")  # type: ignore[arg-type]
    assert by_name.fair_value_rule is FairValueRule.INDEX_MOVED
    with pytest.raises(ValueError, match="unknown fair value rule 'last_trade'"):
        ClientAgreement("C1", fair_value_rule="last_trade")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="unknown fair value rule"):
        replace(FIRM, fair_value_rule=None)  # type: ignore[arg-type]


def test_the_rule_round_trips_in_the_stored_text() -> None:
    firm = replace(FIRM, fair_value_rule=FairValueRule.INDEX_MOVED)
    text = encode_rules(firm)
    assert json.loads(text)["fair_value_rule"] == "index_moved"
    assert decode_rules(FirmPolicy, text) == firm
    agreement = ClientAgreement("C1", fair_value_rule=FairValueRule.LAST_CLOSE)
    assert decode_rules(ClientAgreement, encode_rules(agreement)) == agreement
    assert json.loads(encode_rules(ClientAgreement("C2")))["fair_value_rule"] is None


@pytest.mark.parametrize("stored", ["last_trade", True, 1, ["last_close"]])
def test_a_stored_rule_the_enumeration_does_not_know_is_refused_with_its_path(
    stored: object,
) -> None:
    document = json.loads(encode_rules(FIRM)) | {"fair_value_rule": stored}
    with pytest.raises(RuleCodecError) as refused:
        decode_rules(FirmPolicy, json.dumps(document))
    assert refused.value.path == "fair_value_rule"


def test_a_payload_from_before_the_rule_existed_reads_with_the_default() -> None:
    firm, client = json.loads(encode_rules(FIRM)), json.loads(encode_rules(ClientAgreement("C")))
    del firm["fair_value_rule"], client["fair_value_rule"]
    assert decode_rules(FirmPolicy, json.dumps(firm)).fair_value_rule is FairValueRule.LAST_CLOSE
    assert decode_rules(ClientAgreement, json.dumps(client)).fair_value_rule is None


def test_the_rule_book_gives_the_firm_rule_and_each_agreed_one() -> None:
    agreed = ClientAgreement("C2", fair_value_rule=FairValueRule.INDEX_MOVED)
    book = demo_rule_book().with_client(Version("C2@1", date(2026, 2, 2), agreed, "agreement"))
    firm, clients = rules_in_force(book, ["C1", "C2"], MONDAY)
    assert (firm, clients) == (FairValueRule.LAST_CLOSE, {"C2": FairValueRule.INDEX_MOVED})
    assert rules_in_force(book, ["C2"], date(2026, 2, 1))[1] == {}  # not yet agreed


# --- the day's plan and the engine ------------------------------------------------------------

SUSP, ST, OFF, LISTED, RIGHTS = "600001.SH", "600002.SH", "600003.SH", "600004.SH", "700004.SH"
SYMBOLS = [SUSP, ST, OFF, LISTED, RIGHTS]
AT = datetime(2026, 3, 9, 2, 0, tzinfo=UTC)
LINES = margin.Lines(attention=F("1.5"), warning=F("1.4"), liquidation=F("1.3"))
CSI300 = {date(2026, 3, 2): F("4000"), FRIDAY: F("3800"), MONDAY: F("3600")}


def inputs(statuses: dict[str, Status] | None = None, **changes: object) -> FairValueInputs:
    base = FairValueInputs(
        day=MONDAY,
        statuses=statuses
        if statuses is not None
        else {SUSP: Status.SUSPENDED, ST: Status.RISK_WARNING, OFF: Status.NORMAL},
        last_closes={
            SUSP: LastClose(date(2026, 3, 2), 10_000),  # suspended since 3 March
            ST: LastClose(FRIDAY, 5_000),
            OFF: LastClose(FRIDAY, 20_000),
            LISTED: LastClose(FRIDAY, 8_000),
        },
        indexes={"CSI300": CSI300},
        default_index="CSI300",
        removed_from_list=frozenset({OFF}),
        in_transit={RIGHTS: LISTED},
    )
    return replace(base, **changes)  # type: ignore[arg-type]


def test_the_plan_values_every_security_needing_it_under_each_rule_in_use() -> None:
    day = plan(inputs(), FairValueRule.LAST_CLOSE, {"C1": None, "C2": FairValueRule.INDEX_MOVED})
    firm = day.firm_values()
    assert {s: v.price_li for s, v in firm.items()} == {
        SUSP: 10_000,
        ST: 5_000,
        OFF: 20_000,
        RIGHTS: 8_000,  # valued at the close of the listed security it becomes
    }
    moved = day.for_client("C2")
    # SUSP: 10.000 × 3600/4000; the others closed on Friday at 3800: × 3600/3800, half up
    assert {s: v.price_li for s, v in moved.items()} == {
        SUSP: 9_000,
        ST: 4_737,  # 4736.84...
        OFF: 18_947,  # 18947.36...
        RIGHTS: 7_579,  # 7578.94...
    }
    assert moved[OFF].reasons == {FairValueReason.OFF_COLLATERAL_LIST}
    assert moved[RIGHTS].reasons == {FairValueReason.RIGHTS_IN_TRANSIT}
    assert day.for_client("C1") is firm and dict(day.client_rules) == {
        "C2": FairValueRule.INDEX_MOVED
    }
    assert day.missing == {}


def test_missing_inputs_are_reported_and_never_guessed() -> None:
    no_close = inputs(last_closes={ST: LastClose(FRIDAY, 5_000)})
    day = plan(no_close, FairValueRule.INDEX_MOVED)
    assert set(day.firm_values()) == {ST}
    assert day.missing[SUSP] == f"index_moved: no last close of {SUSP}"
    assert day.missing[RIGHTS] == f"index_moved: no last close of {LISTED}"
    gap = plan(inputs(indexes={"CSI300": {MONDAY: F(3600)}}), FairValueRule.INDEX_MOVED)
    assert gap.firm_values() == {}
    assert gap.missing[ST] == f"index_moved: no level of CSI300 on {FRIDAY}"


def test_index_levels_are_read_through_their_decimal_text() -> None:
    levels = index_levels([FRIDAY, MONDAY], np.array([3912.34, 0.1]))
    assert levels == {FRIDAY: F("3912.34"), MONDAY: F(1, 10)}


def small_book() -> BookArrays:
    """c0 holds 1,000 SUSP bought on margin, 7,000 of 10,000 yuan still owed; c1 holds
    1,000 ST, 200 OFF and 1,000 RIGHTS on cash; c2 is short 500 SUSP."""
    ints = lambda values: np.asarray(values, dtype=np.int64)  # noqa: E731
    idx = lambda values: np.asarray(values, dtype=np.intp)  # noqa: E731
    financing = ContractData(
        idx([0]), idx([0]), ["f0"], ints([700_000]), ints([0]), ints([10_000]),
        ints([739_000]), ints([10_000]), ints([1_000]), ints([1_000_000]),
    )  # fmt: skip
    shorts = ContractData(
        idx([2]), idx([0]), ["s0"], ints([500]), ints([0]), ints([10_000]),
        ints([739_000]), ints([10_000]),
    )  # fmt: skip
    data = BookData(
        client_ids=["c0", "c1", "c2"],
        symbols=list(SYMBOLS),
        cash_fen=ints([0, 0, 2_000_000]),
        position_account=idx([0, 1, 1, 1]),
        position_security=idx([0, 1, 2, 4]),
        position_quantity=ints([1_000, 1_000, 200, 1_000]),
        financing=financing,
        shorts=shorts,
    )
    book = BookArrays(data)
    book.set_haircuts({s: F("0.5") for s in SYMBOLS})
    return book


def test_feeding_the_engine_values_and_records_the_rule_and_decides_statuses() -> None:
    book = small_book()
    engine = RiskEngine(book, LINES)
    engine.on_prices(AT, {s: 10_000 for s in SYMBOLS})
    # c0: 1,000 × 10.000 against 7,000 yuan owed: 142.86%, under attention
    assert engine.statuses.status("c0") is RatioStatus.ATTENTION
    day = plan(inputs(), FairValueRule.INDEX_MOVED)
    changes = feed(engine, AT, day)
    assert (
        book.valuation_rule(SUSP) == "index_moved" and book.valuation_rule(LISTED) == "last_trade"
    )
    prices = {s: int(book.securities.value_li[book.security_of(s)]) for s in SYMBOLS}
    assert prices == {SUSP: 9_000, ST: 4_737, OFF: 18_947, LISTED: 10_000, RIGHTS: 7_579}
    # c0 at 9.000: 9,000 ÷ 7,000 = 128.57%, below the liquidation line, decided exactly
    assert [(c.client_id, c.old, c.new, c.ratio) for c in changes] == [
        ("c0", RatioStatus.ATTENTION, RatioStatus.LIQUIDATION, F(9, 7))
    ]
    assert margin.maintenance_ratio(exact_account(book, book.account_of("c0"))) == F(9, 7)
    # The arrays' float figures count the same values.
    figures = engine.revaluer.full()
    assert figures.assets_li[1] == 1_000 * 4_737 + 200 * 18_947 + 1_000 * 7_579
    assert figures.debt_li[2] == 500 * 9_000
    # Fed again: nothing moves, no event.
    version = book.version
    assert feed(engine, AT, day) == [] and book.version == version


def test_a_security_no_rule_values_any_more_returns_to_the_market_price() -> None:
    book = small_book()
    engine = RiskEngine(book, LINES)
    engine.on_prices(AT, {s: 10_000 for s in SYMBOLS})
    feed(engine, AT, plan(inputs(), FairValueRule.INDEX_MOVED))
    engine.on_prices(AT, {SUSP: 9_500, ST: 4_900})  # ruled: the market price is kept aside
    assert int(book.securities.value_li[book.security_of(SUSP)]) == 9_000
    # Tuesday: SUSP resumes trading, ST keeps its warning; nothing else needs a rule.
    resumed = inputs(
        {SUSP: Status.NORMAL, ST: Status.RISK_WARNING}, removed_from_list=frozenset(), in_transit={}
    )
    changes = feed(engine, AT, plan(resumed, FairValueRule.INDEX_MOVED))
    rules = {s: book.valuation_rule(s) for s in SYMBOLS}
    assert rules == {
        SUSP: "last_trade",
        ST: "index_moved",
        OFF: "last_trade",
        LISTED: "last_trade",
        RIGHTS: "last_trade",
    }
    assert int(book.securities.value_li[book.security_of(SUSP)]) == 9_500
    # c0 at the market's 9.500: 9,500 ÷ 7,000 = 135.71%, up from liquidation to warning
    assert [(c.client_id, c.old, c.new, c.ratio) for c in changes] == [
        ("c0", RatioStatus.LIQUIDATION, RatioStatus.WARNING, F(9_500, 7_000))
    ]


def test_a_client_on_another_rule_gets_an_exact_account_at_its_own_prices() -> None:
    book = small_book()
    engine = RiskEngine(book, LINES)
    engine.on_prices(AT, {s: 10_000 for s in SYMBOLS})
    day = plan(inputs(), FairValueRule.LAST_CLOSE, {"c0": FairValueRule.INDEX_MOVED, "c9": None})
    feed(engine, AT, day)
    assert margin.maintenance_ratio(exact_account(book, 0)) == F(10, 7)  # the firm's rule
    own = client_account(book, "c0", day)
    assert own.financing[0].price_li == 9_000
    assert margin.maintenance_ratio(own) == F(9, 7)
    assert client_account(book, "c1", day) == exact_account(book, 1)  # on the firm's rule
    assert clients_off_firm_rule(book, day) == ["c0"]
