"""Rule values as canonical JSON (REF-5 audit record): exact ratios, strict decoding."""

from __future__ import annotations

import json
from datetime import date
from fractions import Fraction as F

import pytest
from hypothesis import given
from hypothesis import strategies as st

from liangrong.domain.parameters import ClientAgreement, ExchangeRules, FirmPolicy
from liangrong.domain.rule_codec import (
    RuleCodecError,
    RuleLayer,
    decode_layer,
    decode_rules,
    encode_rules,
    exact_text,
    layer_of,
    parse_exact,
)
from liangrong.sim.rules_seed import (
    VOLATILE_BOARD_RATIOS,
    demo_firm_versions,
    exchange_rule_versions,
    negotiated_agreement,
)


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (F(13, 10), "1.3"),
        (F(3), "3"),
        (F(0), "0"),
        (F(-1, 20), "-0.05"),
        (F(1, 1000), "0.001"),
        (F(1, 3), "1/3"),
        (F(-7, 6), "-7/6"),
    ],
)
def test_exact_text(value: F, text: str) -> None:
    assert exact_text(value) == text
    assert parse_exact(text) == value


@given(st.fractions())
def test_exact_text_round_trips_every_fraction(value: F) -> None:
    assert parse_exact(exact_text(value)) == value


def test_every_seeded_value_round_trips_with_canonical_text() -> None:
    firm = demo_firm_versions({"688001.SH": VOLATILE_BOARD_RATIOS})
    client = negotiated_agreement("C1", date(2025, 1, 2), private_fund=True)
    for version in (*exchange_rule_versions(), *firm, client):
        text = encode_rules(version.value)
        assert decode_rules(type(version.value), text) == version.value
        assert decode_layer(layer_of(version.value), text) == version.value
        assert encode_rules(decode_rules(type(version.value), text)) == text
        assert json.loads(text) == json.loads(text, parse_float=str)  # no float anywhere
    assert layer_of(client.value) is RuleLayer.CLIENT


def exchange_document() -> dict[str, object]:
    document = json.loads(encode_rules(exchange_rule_versions()[-1].value))
    assert isinstance(document, dict)
    return document


@pytest.mark.parametrize(
    ("change", "path"),
    [
        ({"withdrawal_line": 3}, "withdrawal_line"),  # a number where exact text belongs
        ({"withdrawal_line": 3.0}, "withdrawal_line"),
        ({"withdrawal_line": "three"}, "withdrawal_line"),
        ({"max_term_months": True}, "max_term_months"),  # a bool is not an int here
        ({"max_term_months": "6"}, "max_term_months"),
        ({"surprise": "1"}, "surprise"),
        ({"haircut_caps": {"etf": "0.9"}}, "haircut_caps.large_cap_stock"),
        ({"financing_margin_ratio_floor": None}, "financing_margin_ratio_floor"),
    ],
)
def test_malformed_values_are_refused_with_their_path(change: dict[str, object], path: str) -> None:
    document = exchange_document() | change
    with pytest.raises(RuleCodecError) as refused:
        decode_rules(ExchangeRules, json.dumps(document))
    assert refused.value.path == path


def test_a_missing_field_without_default_is_refused_and_one_with_a_default_is_not() -> None:
    document = exchange_document()
    del document["max_term_months"]
    with pytest.raises(RuleCodecError, match="max_term_months: missing"):
        decode_rules(ExchangeRules, json.dumps(document))
    agreement = json.loads(encode_rules(ClientAgreement("C9", financing_rate=F("0.06"))))
    del agreement["security_ratios"]  # an older payload, before the field existed
    assert decode_rules(ClientAgreement, json.dumps(agreement)).financing_rate == F("0.06")


def test_invalid_json_and_non_finite_numbers_are_refused() -> None:
    with pytest.raises(RuleCodecError, match="invalid JSON"):
        decode_rules(FirmPolicy, "{")
    with pytest.raises(RuleCodecError, match="NaN"):
        decode_rules(FirmPolicy, '{"call_target": NaN}')
