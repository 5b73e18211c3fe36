"""The margin calculator: a decoded JSON snapshot in, a JSON-ready answer out.

Pure: the caller decodes and encodes JSON.  Every malformed input raises
``SnapshotError`` naming the exact field path (``holdings[0].price``); nothing is guessed,
defaulted silently or rounded on the way in.  The schema is documented in docs/calculator.md.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from fractions import Fraction
from typing import TypeVar

from liangrong.domain import margin as m
from liangrong.domain.money import (
    LI_PER_YUAN,
    Rounding,
    fen_to_yuan_text,
    li_to_yuan_text,
    parse_quantity,
    parse_ratio,
    ratio_text,
    round_fraction,
    yuan_to_fen,
    yuan_to_li,
)

T = TypeVar("T")

# Far beyond any real account or ratio; they keep every conversion inside Decimal's exact
# 28 digits and keep a hostile "1e-999999999" from becoming a gigantic Fraction.
MAX_MAGNITUDE = Decimal(10) ** 15
MAX_DECIMALS = 18


class SnapshotError(ValueError):
    """Malformed calculator input: ``field`` is the path of the offending value."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


# --- reading values -------------------------------------------------------------------------


def _decimal(raw: object, path: str) -> Decimal:
    if isinstance(raw, bool) or not isinstance(raw, int | float | str | Decimal):
        raise SnapshotError(path, f"expected a number or a decimal string, got {_kind(raw)}")
    try:
        # repr of a float is its shortest round-trip text: 0.7 stays 0.7.
        value = Decimal(repr(raw) if isinstance(raw, float) else raw)
    except InvalidOperation:
        raise SnapshotError(path, f"{_show(raw)} is not a decimal number") from None
    if not value.is_finite():
        raise SnapshotError(path, f"{_show(raw)} is not a finite number")
    if abs(value) > MAX_MAGNITUDE:
        raise SnapshotError(path, f"{_show(raw)} is too large")
    exponent = value.as_tuple().exponent
    if isinstance(exponent, int) and exponent < -MAX_DECIMALS:
        raise SnapshotError(path, f"{_show(raw)} has more than {MAX_DECIMALS} decimals")
    return value


def _show(raw: object) -> str:
    # Numbers as written in the JSON (a Decimal from the CLI prints as 1.001); text quoted.
    return str(raw) if isinstance(raw, int | float | Decimal) else repr(raw)


def _kind(raw: object) -> str:
    if raw is None:
        return "null"
    return {bool: "a boolean", list: "a list", dict: "an object"}.get(type(raw), type(raw).__name__)


def _with_places(raw: object, path: str, places: int, unit: str) -> Decimal:
    value = _decimal(raw, path)
    if value < 0:
        raise SnapshotError(path, f"{_show(raw)} is negative")
    if (Fraction(value) * 10**places).denominator != 1:
        too_fine = f"has more than {places} decimals" if places else "is not a whole number"
        raise SnapshotError(path, f"{_show(raw)} {too_fine} ({unit})")
    return value


def _amount(raw: object, path: str) -> int:
    return yuan_to_fen(_with_places(raw, path, 2, "amounts are in yuan to the fen"), path)


def _price(raw: object, path: str) -> int:
    return yuan_to_li(_with_places(raw, path, 3, "prices are in yuan to 0.001"), path)


def _positive_price(raw: object, path: str) -> int:
    price = _price(raw, path)
    if price == 0:
        raise SnapshotError(path, "must be greater than 0")
    return price


def _count(raw: object, path: str) -> int:
    return parse_quantity(_with_places(raw, path, 0, "shares and days are counted whole"), path)


def _positive_count(raw: object, path: str) -> int:
    value = _count(raw, path)
    if value == 0:
        raise SnapshotError(path, "must be greater than 0")
    return value


def _ratio(raw: object, path: str) -> Fraction:
    value = parse_ratio(_decimal(raw, path), path)
    if value <= 0:
        raise SnapshotError(path, f"{_show(raw)} must be greater than 0")
    return value


def _ratio_or_none(raw: object, path: str) -> Fraction | None:
    return _ratio(raw, path)


def _rate(raw: object, path: str) -> Fraction:
    value = parse_ratio(_decimal(raw, path), path)
    if value < 0:
        raise SnapshotError(path, f"{_show(raw)} is negative")
    return value


def _haircut(raw: object, path: str) -> Fraction:
    value = parse_ratio(_decimal(raw, path), path)
    if not 0 <= value <= 1:
        raise SnapshotError(path, f"{_show(raw)} is outside [0, 1]")
    return value


def _text(raw: object, path: str) -> str:
    if not isinstance(raw, str):
        raise SnapshotError(path, f"expected a string, got {_kind(raw)}")
    if not raw.strip():
        raise SnapshotError(path, "must not be empty")
    return raw


class _Fields:
    """One JSON object being read; keys outside ``known`` are errors, not ignored."""

    def __init__(self, raw: object, path: str, known: tuple[str, ...]) -> None:
        if not isinstance(raw, Mapping):
            raise SnapshotError(path or "snapshot", f"expected an object, got {_kind(raw)}")
        self.raw: Mapping[object, object] = raw
        self.path = path
        expected = f"expected one of {', '.join(known)}" if known else "it takes no fields"
        for key in raw:
            if key not in known:
                raise SnapshotError(self.at(str(key)), f"unknown field ({expected})")

    def at(self, key: str) -> str:
        return f"{self.path}.{key}" if self.path else key

    def required(self, key: str, read: Callable[[object, str], T]) -> T:
        if key not in self.raw:
            raise SnapshotError(self.at(key), "required field is missing")
        return read(self.raw[key], self.at(key))

    def optional(self, key: str, read: Callable[[object, str], T], default: T) -> T:
        return read(self.raw[key], self.at(key)) if key in self.raw else default

    def items(self, key: str) -> list[tuple[object, str]]:
        """An optional list field, as (element, element path) pairs."""
        raw = self.raw.get(key, [])
        if not isinstance(raw, list):
            raise SnapshotError(self.at(key), f"expected a list, got {_kind(raw)}")
        return [(item, f"{self.at(key)}[{i}]") for i, item in enumerate(raw)]


# --- the snapshot -------------------------------------------------------------------------------

_HOLDING = ("security", "quantity", "price", "haircut")
_FINANCED = ("security", "quantity", "amount", "price", "haircut", "margin_ratio")
_SHORT = ("security", "quantity", "sale_amount", "price", "haircut", "margin_ratio")
_ROOT = (
    "cash",
    "other_collateral",
    "interest_and_fees",
    "holdings",
    "financing",
    "shorts",
    "lines",
    "questions",
)
_LINES = ("attention", "warning", "liquidation", "emergency", "withdrawal")


def _holding(raw: object, path: str) -> m.Holding:
    f = _Fields(raw, path, _HOLDING)
    return m.Holding(
        security=f.required("security", _text),
        quantity=f.required("quantity", _count),
        price_li=f.required("price", _price),
        haircut=f.required("haircut", _haircut),
    )


def _financed(raw: object, path: str) -> m.FinancedPosition:
    f = _Fields(raw, path, _FINANCED)
    return m.FinancedPosition(
        security=f.required("security", _text),
        quantity=f.required("quantity", _count),
        amount_fen=f.required("amount", _amount),
        price_li=f.required("price", _price),
        haircut=f.required("haircut", _haircut),
        margin_ratio=f.required("margin_ratio", _ratio),
    )


def _short(raw: object, path: str) -> m.ShortPosition:
    f = _Fields(raw, path, _SHORT)
    return m.ShortPosition(
        security=f.required("security", _text),
        quantity=f.required("quantity", _count),
        sale_amount_fen=f.required("sale_amount", _amount),
        price_li=f.required("price", _price),
        haircut=f.required("haircut", _haircut),
        margin_ratio=f.required("margin_ratio", _ratio),
    )


def _lines(raw: object, path: str) -> m.Lines:
    f = _Fields(raw, path, _LINES)
    attention = f.optional("attention", _ratio_or_none, None)
    warning = f.required("warning", _ratio)
    liquidation = f.required("liquidation", _ratio)
    emergency = f.optional("emergency", _ratio_or_none, None)
    withdrawal = f.optional("withdrawal", _ratio_or_none, None)
    try:  # each value is read above, so a ValueError here is only about their order
        return m.Lines(
            attention=attention,
            warning=warning,
            liquidation=liquidation,
            emergency=emergency,
            withdrawal=withdrawal,
        )
    except ValueError as exc:
        raise SnapshotError(path, str(exc)) from None


def _check_one_price(account: m.Account) -> None:
    # "All else fixed" in price_at_line needs one price per security: refuse a mismatch.
    seen: dict[str, tuple[int, str]] = {}
    positions: list[tuple[str, m.Holding | m.FinancedPosition | m.ShortPosition]] = [
        *((f"holdings[{i}]", p) for i, p in enumerate(account.holdings)),
        *((f"financing[{i}]", p) for i, p in enumerate(account.financing)),
        *((f"shorts[{i}]", p) for i, p in enumerate(account.shorts)),
    ]
    for where, position in positions:
        first = seen.setdefault(position.security, (position.price_li, f"{where}.price"))
        if first[0] != position.price_li:
            message = f"differs from {first[1]} for security {position.security!r}"
            raise SnapshotError(f"{where}.price", message)


def parse_account(fields: _Fields) -> m.Account:
    account = m.Account(
        cash_fen=fields.required("cash", _amount),
        other_collateral_fen=fields.optional("other_collateral", _amount, 0),
        interest_and_fees_fen=fields.optional("interest_and_fees", _amount, 0),
        holdings=tuple(_holding(raw, path) for raw, path in fields.items("holdings")),
        financing=tuple(_financed(raw, path) for raw, path in fields.items("financing")),
        shorts=tuple(_short(raw, path) for raw, path in fields.items("shorts")),
    )
    _check_one_price(account)
    return account


# --- questions ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Snapshot:
    account: m.Account
    lines: m.Lines


Answer = dict[str, object]
Question = Callable[[Snapshot], Answer]


def _yuan(value_fen: Fraction | int, rounding: Rounding) -> str:
    return fen_to_yuan_text(round_fraction(Fraction(value_fen), rounding))


def _ratio_out(value: Fraction | None) -> str | None:
    return None if value is None else ratio_text(value)


def _no_solution(reason: m.NoSolution, key: str) -> Answer:
    return {key: None, "reason": reason.value, "message": _REASONS[reason]}


_REASONS = {
    m.NoSolution.NOT_ABOVE_ONE: "the ratio is at or under 100%: repaying cannot raise it",
    m.NoSolution.NOT_ENOUGH_TO_SELL: "it would take more than the cash and securities held",
    m.NoSolution.NO_POSITION: "the account holds no position in this security",
    m.NoSolution.PRICE_DOES_NOT_MOVE_RATIO: "this security's price does not move the ratio",
    m.NoSolution.NO_POSITIVE_PRICE: "no positive price brings the ratio to the line",
}


def _capacity_question(f: _Fields, short: bool) -> Question:
    price = f.required("price", _positive_price)
    ratio = f.required("margin_ratio", _ratio)
    lot = f.optional("lot", _positive_count, 100)
    solve = m.max_short if short else m.max_financing

    def answer(s: Snapshot) -> Answer:
        capacity = solve(m.available_margin(s.account), ratio, price, lot)
        return {
            "amount": _yuan(capacity.value_fen, Rounding.DOWN),
            "quantity": capacity.quantity,
            "trade_value": _yuan(Fraction(capacity.quantity * price, 10), Rounding.DOWN),
        }

    return answer


def _withdrawable(f: _Fields, lines: m.Lines) -> Question:
    line = lines.withdrawal
    if line is None:
        raise SnapshotError("lines.withdrawal", f"required by {f.path}")
    return lambda s: {"amount": fen_to_yuan_text(m.withdrawable_cash(s.account, line))}


def _after(account: m.Account, paid_fen: int, repaid_fen: int) -> str | None:
    debt = m.total_debt(account) - repaid_fen
    if debt <= 0:
        return None
    return ratio_text((m.total_assets(account) + paid_fen - repaid_fen) / debt)


def _top_up(f: _Fields) -> Question:
    target = f.required("target", _ratio)

    def answer(s: Snapshot) -> Answer:
        amount = m.top_up_to(s.account, target)
        return {"amount": fen_to_yuan_text(amount), "ratio_after": _after(s.account, amount, 0)}

    return answer


def _repay(f: _Fields) -> Question:
    target = f.required("target", _ratio)

    def answer(s: Snapshot) -> Answer:
        amount = m.repay_to(s.account, target)
        if isinstance(amount, m.NoSolution):
            return _no_solution(amount, "amount")
        return {"amount": fen_to_yuan_text(amount), "ratio_after": _after(s.account, 0, amount)}

    return answer


def _line_value(lines: m.Lines) -> Callable[[object, str], Fraction]:
    def read(raw: object, path: str) -> Fraction:
        if isinstance(raw, str) and raw in _LINES:
            value: Fraction | None = getattr(lines, raw)
            if value is None:
                raise SnapshotError(path, f"line {_show(raw)} is not given in lines")
            return value
        return _ratio(raw, path)

    return read


def _price_at_line(f: _Fields, lines: m.Lines) -> Question:
    security = f.required("security", _text)
    line = f.required("line", _line_value(lines))

    def answer(s: Snapshot) -> Answer:
        result = m.price_at_line(s.account, security, line)
        if isinstance(result, m.NoSolution):
            return _no_solution(result, "price")
        return {
            "price": li_to_yuan_text(result.safe_price_li()),
            "price_exact": str(result.price_li / LI_PER_YUAN),
            "direction": "fall" if result.falls else "rise",
        }

    return answer


def _interest(f: _Fields) -> Question:
    principal = f.required("principal", _amount)
    rate = f.required("annual_rate", _rate)
    days = f.required("days", _count)
    basis = f.optional("basis", _positive_count, 360)
    amount = m.simple_interest(principal, rate, days, basis)
    return lambda s: {"amount": fen_to_yuan_text(amount)}


_QUESTION_FIELDS = {
    "max_financing": ("price", "margin_ratio", "lot"),
    "max_short": ("price", "margin_ratio", "lot"),
    "withdrawable": (),
    "top_up_to": ("target",),
    "repay_to": ("target",),
    "price_at_line": ("security", "line"),
    "interest": ("principal", "annual_rate", "days", "basis"),
}


def _question(name: str, f: _Fields, lines: m.Lines) -> Question:
    if name in ("max_financing", "max_short"):
        return _capacity_question(f, short=name == "max_short")
    if name == "withdrawable":
        return _withdrawable(f, lines)
    if name == "top_up_to":
        return _top_up(f)
    if name == "repay_to":
        return _repay(f)
    if name == "price_at_line":
        return _price_at_line(f, lines)
    return _interest(f)


def parse_questions(fields: _Fields, lines: m.Lines) -> dict[str, Question]:
    questions: dict[str, Question] = {}
    for raw, path in fields.items("questions"):
        if not isinstance(raw, Mapping) or len(raw) != 1:
            raise SnapshotError(path, "expected an object with exactly one question name")
        ((key, params),) = raw.items()
        name = str(key)
        if name not in _QUESTION_FIELDS:
            known = ", ".join(_QUESTION_FIELDS)
            raise SnapshotError(f"{path}.{name}", f"unknown question (expected one of {known})")
        if name in questions:
            # Answers sit under the question's name, so each may be asked once.
            raise SnapshotError(f"{path}.{name}", "question asked twice")
        qpath = f"{path}.{name}"
        questions[name] = _question(name, _Fields(params, qpath, _QUESTION_FIELDS[name]), lines)
    return questions


# --- the whole calculation ----------------------------------------------------------------------


def calculate(document: object) -> dict[str, object]:
    """Validate a decoded JSON snapshot, then return the figures and answers, JSON-ready."""
    fields = _Fields(document, "", _ROOT)
    account = parse_account(fields)
    lines = fields.required("lines", _lines)
    questions = parse_questions(fields, lines)
    snapshot = Snapshot(account, lines)
    output = figures(account, lines)
    output.update({name: answer(snapshot) for name, answer in questions.items()})
    return output


def figures(account: m.Account, lines: m.Lines) -> dict[str, object]:
    """The figures every answer carries; assets round down and debt up (the safe side)."""
    ratio = m.maintenance_ratio(account)
    return {
        "total_assets": _yuan(m.total_assets(account), Rounding.DOWN),
        "total_debt": _yuan(m.total_debt(account), Rounding.UP),
        "maintenance_ratio": _ratio_out(ratio),
        "maintenance_ratio_exact": None if ratio is None else str(ratio),
        "cash_and_securities_ratio": _ratio_out(m.cash_and_securities_ratio(account)),
        "available_margin": _yuan(m.available_margin(account), Rounding.DOWN),
        "status": m.ratio_status(ratio, lines).value,
    }
