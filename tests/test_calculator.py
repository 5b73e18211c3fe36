"""The calculator: parsing that names the field, the issue's example by hand, the examples
in docs/calculator.md, and the `calc` command (file, stdin, exit code 2)."""

from __future__ import annotations

import copy
import json
import re
import subprocess
import sys
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import typer
from typer.testing import CliRunner

from liangrong.cli.calc import register
from liangrong.domain.calculator import SnapshotError, calculate

DOCS = Path(__file__).resolve().parents[1] / "docs" / "calculator.md"

ISSUE: dict[str, Any] = {
    "cash": 150000,
    "other_collateral": 0,
    "interest_and_fees": 0,
    "holdings": [{"security": "600000", "quantity": 5000, "price": 20, "haircut": 0.7}],
    "financing": [
        {
            "security": "000001",
            "quantity": 20000,
            "amount": 200000,
            "price": 10,
            "haircut": 0.5,
            "margin_ratio": 1.0,
        }
    ],
    "shorts": [
        {
            "security": "600036",
            "quantity": 1000,
            "sale_amount": 25000,
            "price": 25,
            "haircut": 0.7,
            "margin_ratio": 1.0,
        }
    ],
    "lines": {"warning": 1.4, "liquidation": 1.3, "withdrawal": 3.0},
}


def issue(**changes: Any) -> dict[str, Any]:
    document = copy.deepcopy(ISSUE)
    document.update(changes)
    return document


def ask(document: dict[str, Any], name: str, params: dict[str, Any]) -> Any:
    return calculate({**document, "questions": [{name: params}]})[name]


# --- the issue's example, by hand -------------------------------------------------------------


def test_issue_example_figures() -> None:
    out = calculate(issue())
    assert out["total_assets"] == "450000.00"  # 150,000 + 100,000 + 200,000
    assert out["total_debt"] == "225000.00"  # 200,000 + 25,000
    assert out["maintenance_ratio"] == "2.000000"
    assert out["maintenance_ratio_exact"] == "2"
    assert out["available_margin"] == "-30000.00"
    assert out["status"] == "safe"


def test_issue_example_answers() -> None:
    document = issue()
    # negative available margin: no new business
    capacity = {"amount": "0.00", "quantity": 0, "trade_value": "0.00"}
    assert ask(document, "max_financing", {"price": 10, "margin_ratio": 1, "lot": 100}) == capacity
    assert ask(document, "max_short", {"price": 25, "margin_ratio": 1}) == capacity
    assert ask(document, "withdrawable", {}) == {"amount": "0.00"}  # 200% is not above 300%
    assert ask(document, "top_up_to", {"target": 1.5})["amount"] == "0.00"  # already at 200%
    assert ask(document, "top_up_to", {"target": 3}) == {
        "amount": "225000.00",  # 3 × 225,000 − 450,000
        "ratio_after": "3.000000",
    }
    assert ask(document, "repay_to", {"target": 3})["amount"] == "112500.00"  # 225,000 / 2
    # short leg: (450,000 − 1.3 × 200,000) / (1.3 × 1000) = 146.1538… rises; safe side is down
    assert ask(document, "price_at_line", {"security": "600036", "line": "1.3"}) == {
        "price": "146.153",
        "price_exact": "1900/13",
        "direction": "rise",
    }
    interest = {"principal": "200000", "annual_rate": "0.0835", "days": 7}
    assert ask(document, "interest", interest) == {"amount": "324.72"}


def test_no_debt() -> None:
    out = calculate({"cash": "1234.56", "lines": {"warning": 1.4, "liquidation": 1.3}})
    assert out["maintenance_ratio"] is None and out["status"] == "safe"
    assert out["total_debt"] == "0.00"


# --- boundaries through the JSON ---------------------------------------------------------------


def at_cash(cash: str, **extra: Any) -> dict[str, Any]:
    """Debt 100,000 against 10,000 shares at 10: ratio = (cash + 100,000) / 100,000."""
    position = {
        "security": "000001",
        "quantity": 10000,
        "amount": "100000",
        "price": "10",
        "haircut": "0.5",
        "margin_ratio": "1",
    }
    lines = {"attention": "1.5", "warning": "1.4", "liquidation": "1.3", "withdrawal": "3"}
    return {"cash": cash, "financing": [position], "lines": lines, **extra}


@pytest.mark.parametrize(
    ("cash", "status"),
    [
        ("49999.99", "attention"),
        ("50000.00", "safe"),
        ("50000.01", "safe"),
        ("39999.99", "warning"),
        ("40000.00", "attention"),
        ("40000.01", "attention"),
        ("29999.99", "liquidation"),
        ("30000.00", "warning"),
        ("30000.01", "warning"),
    ],
)
def test_status_at_each_line(cash: str, status: str) -> None:
    assert calculate(at_cash(cash))["status"] == status


def test_exactly_on_the_line_shows_the_line() -> None:
    out = calculate(at_cash("30000"))
    assert out["maintenance_ratio"] == "1.300000" and out["maintenance_ratio_exact"] == "13/10"
    assert calculate(at_cash("29999.99"))["maintenance_ratio"] == "1.299999"  # truncated


@pytest.mark.parametrize(
    ("cash", "amount"), [("199999.99", "0.00"), ("200000", "0.00"), ("200000.01", "0.01")]
)
def test_withdrawal_boundary(cash: str, amount: str) -> None:
    assert ask(at_cash(cash), "withdrawable", {}) == {"amount": amount}


def test_top_up_and_repay_round_up() -> None:
    document = at_cash("0", interest_and_fees="0.01")  # debt 100,000.01, assets 100,000
    # 1.5 × 100,000.01 − 100,000 = 50,000.015: half a fen short is still short, so up
    assert ask(document, "top_up_to", {"target": "1.5"})["amount"] == "50000.02"
    assert ask(document, "repay_to", {"target": "1.5"}) == {
        "amount": None,
        "reason": "ratio_not_above_one",
        "message": "the ratio is at or under 100%: repaying cannot raise it",
    }


def test_sub_fen_values_round_to_the_safe_side() -> None:
    holding = {"security": "688001", "quantity": 1, "price": "10.001", "haircut": "1"}
    short = {
        "security": "688002",
        "quantity": 1,
        "sale_amount": "0",
        "price": "0.005",
        "haircut": "1",
        "margin_ratio": "1",
    }
    out = calculate(
        {
            "cash": 0,
            "holdings": [holding],
            "shorts": [short],
            "lines": {"warning": 1.4, "liquidation": 1.3},
        }
    )
    assert out["total_assets"] == "10.00"  # 10.001 down
    assert out["total_debt"] == "0.01"  # 0.005 up
    assert out["maintenance_ratio_exact"] == "10001/5"  # 10.001 / 0.005, exact


def test_price_at_line_by_line_name_and_without_a_solution() -> None:
    by_name = ask(issue(), "price_at_line", {"security": "000001", "line": "liquidation"})
    assert by_name["price"] == "2.125" and by_name["direction"] == "fall"
    missing = ask(issue(), "price_at_line", {"security": "999999", "line": 1.3})
    assert missing["price"] is None and missing["reason"] == "no_position"


def test_numbers_as_strings_floats_and_decimals_agree() -> None:
    as_text = json.loads(json.dumps(ISSUE), parse_float=Decimal)
    assert calculate(as_text) == calculate(issue())
    strings = issue(cash="150000.00", other_collateral="0")
    strings["holdings"][0].update(quantity="5000.000", price="20.000", haircut="0.70")
    assert calculate(strings) == calculate(issue())


# --- malformed input names the field ------------------------------------------------------------


def _set(document: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    target: Any = document
    keys = [int(k) if k.isdigit() else k for k in re.findall(r"[^.\[\]]+", path)]
    for key in keys[:-1]:
        target = target[key]
    if value is _DELETE:
        del target[keys[-1]]
    else:
        target[keys[-1]] = value
    return document


_DELETE = object()


@pytest.mark.parametrize(
    ("path", "value", "field", "words"),
    [
        ("holdings[0].price", 20.0001, "holdings[0].price", "more than 3 decimals"),
        ("cash", "150000.001", "cash", "more than 2 decimals"),
        ("financing[0].amount", -1, "financing[0].amount", "negative"),
        ("shorts[0].sale_amount", "1e3x", "shorts[0].sale_amount", "not a decimal number"),
        ("holdings[0].haircut", 1.1, "holdings[0].haircut", "outside [0, 1]"),
        ("shorts[0].margin_ratio", 0, "shorts[0].margin_ratio", "greater than 0"),
        ("holdings[0].quantity", 10.5, "holdings[0].quantity", "not a whole number"),
        ("holdings[0].quantity", True, "holdings[0].quantity", "a boolean"),
        ("holdings[0].price", None, "holdings[0].price", "null"),
        ("holdings[0].security", "", "holdings[0].security", "must not be empty"),
        ("holdings[0].security", 600000, "holdings[0].security", "expected a string"),
        ("lines.warning", "1e-999999999", "lines.warning", "more than 18 decimals"),
        ("holdings[0].security", _DELETE, "holdings[0].security", "missing"),
        ("holdings[0].qty", 1, "holdings[0].qty", "unknown field"),
        ("cahs", 1, "cahs", "unknown field"),
        ("cash", _DELETE, "cash", "missing"),
        ("lines", _DELETE, "lines", "missing"),
        ("lines.warning", "abc", "lines.warning", "not a decimal number"),
        ("lines.warning", 1.2, "lines", "must rise"),
        ("lines.emergency", 0, "lines.emergency", "greater than 0"),
        ("holdings", {}, "holdings", "expected a list"),
        ("shorts[0]", [], "shorts[0]", "expected an object"),
        ("financing[0].price", float("nan"), "financing[0].price", "finite"),
        ("other_collateral", "1e16", "other_collateral", "too large"),
        ("holdings[0].security", "000001", "financing[0].price", "differs from holdings[0].price"),
    ],
)
def test_errors_name_the_field(path: str, value: Any, field: str, words: str) -> None:
    with pytest.raises(SnapshotError) as caught:
        calculate(_set(issue(), path, value))
    assert caught.value.field == field
    assert words in caught.value.message
    assert str(caught.value).startswith(f"{field}: ")


@pytest.mark.parametrize(
    ("questions", "field", "words"),
    [
        ("withdrawable", "questions", "expected a list"),
        ([{"max_financing": {"margin_ratio": 1}}], "questions[0].max_financing.price", "missing"),
        (
            [{"max_short": {"price": 0, "margin_ratio": 1}}],
            "questions[0].max_short.price",
            "greater than 0",
        ),
        (
            [{"max_short": {"price": 1, "margin_ratio": 1, "lot": 0}}],
            "questions[0].max_short.lot",
            "greater than 0",
        ),
        ([{"withdrawable": {"line": 3}}], "questions[0].withdrawable.line", "takes no fields"),
        ([{"max_loss": {}}], "questions[0].max_loss", "unknown question"),
        ([{"withdrawable": {}, "interest": {}}], "questions[0]", "exactly one"),
        ([{"top_up_to": {}}], "questions[0].top_up_to.target", "missing"),
        ([{"repay_to": {"target": -1}}], "questions[0].repay_to.target", "greater than 0"),
        (
            [{"price_at_line": {"security": "000001", "line": "attention"}}],
            "questions[0].price_at_line.line",
            "not given",
        ),
        (
            [{"interest": {"principal": 1, "annual_rate": 0.1, "days": 1.5}}],
            "questions[0].interest.days",
            "not a whole number",
        ),
        ([{"withdrawable": {}}, {"withdrawable": {}}], "questions[1].withdrawable", "twice"),
    ],
)
def test_question_errors_name_the_field(questions: Any, field: str, words: str) -> None:
    with pytest.raises(SnapshotError) as caught:
        calculate(issue(questions=questions))
    assert caught.value.field == field
    assert words in caught.value.message


def test_withdrawable_needs_the_withdrawal_line() -> None:
    document = issue(lines={"warning": 1.4, "liquidation": 1.3}, questions=[{"withdrawable": {}}])
    with pytest.raises(SnapshotError) as caught:
        calculate(document)
    assert caught.value.field == "lines.withdrawal"


def test_top_level_must_be_an_object() -> None:
    with pytest.raises(SnapshotError) as caught:
        calculate([1])
    assert caught.value.field == "snapshot"


# --- docs/calculator.md: every example is what the code prints -------------------------------

FENCE = re.compile(r"```(json input|json output|json error-input|text error)\n(.*?)```", re.S)


def _doc_blocks() -> list[tuple[str, str]]:
    return [(kind, body) for kind, body in FENCE.findall(DOCS.read_text(encoding="utf-8"))]


def test_docs_examples_are_what_the_code_prints() -> None:
    blocks = _doc_blocks()
    assert len(blocks) >= 14 and len(blocks) % 2 == 0
    for (kind, body), (next_kind, expected) in zip(blocks[::2], blocks[1::2], strict=True):
        document = json.loads(body, parse_float=Decimal)
        if kind == "json input":
            assert next_kind == "json output"
            assert calculate(document) == json.loads(expected), body
        else:
            assert (kind, next_kind) == ("json error-input", "text error")
            with pytest.raises(SnapshotError) as caught:
                calculate(document)
            assert f"error: {caught.value}" == expected.strip()


# --- the command -----------------------------------------------------------------------------


@pytest.fixture
def app() -> typer.Typer:
    app = typer.Typer()

    @app.callback()
    def _root() -> None:
        """A group, as in the real `liangrong` command."""

    register(app)
    return app


def test_cli_reads_a_file(app: typer.Typer, tmp_path: Path) -> None:
    source = tmp_path / "snapshot.json"
    source.write_text(json.dumps(ISSUE), encoding="utf-8")
    result = CliRunner().invoke(app, ["calc", str(source)])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["total_assets"] == "450000.00"


@pytest.mark.parametrize("args", [["calc"], ["calc", "-"]])
def test_cli_reads_stdin(app: typer.Typer, args: list[str]) -> None:
    result = CliRunner().invoke(app, args, input=json.dumps(ISSUE))
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["maintenance_ratio"] == "2.000000"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (json.dumps(issue(cash="1.001")), "error: cash: '1.001' has more than 2 decimals"),
        ('{"cash": 1,', "error: input: invalid JSON at line 1"),
        ('{"cash": NaN}', "error: input: NaN is not a number JSON allows"),
        ("[]", "error: snapshot: expected an object"),
    ],
)
def test_cli_malformed_input_exits_2(app: typer.Typer, text: str, message: str) -> None:
    result = CliRunner().invoke(app, ["calc"], input=text)
    assert result.exit_code == 2
    assert result.stderr.startswith(message)
    assert result.stdout == ""


def test_cli_unreadable_file_exits_2(app: typer.Typer, tmp_path: Path) -> None:
    missing = tmp_path / "nope.json"
    result = CliRunner().invoke(app, ["calc", str(missing)])
    assert result.exit_code == 2
    assert result.stderr.startswith(f"error: {missing}: cannot read")


def test_module_runs_as_a_process(tmp_path: Path) -> None:
    command = [sys.executable, "-m", "liangrong.cli.calc"]
    good = subprocess.run(command, input=json.dumps(ISSUE), capture_output=True, text=True)
    assert good.returncode == 0, good.stderr
    assert json.loads(good.stdout)["available_margin"] == "-30000.00"
    bad_doc = issue()
    bad_doc["holdings"][0]["price"] = "20.0001"
    bad = subprocess.run(command, input=json.dumps(bad_doc), capture_output=True, text=True)
    assert bad.returncode == 2
    assert bad.stderr.startswith("error: holdings[0].price:")
