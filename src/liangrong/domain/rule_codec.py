"""Rule values as canonical JSON: what the store keeps as the audit record of a parameter.

Invariants:
- a ``Fraction`` is written as exact text: a finite decimal where one exists (``"1.3"``),
  else ``"numerator/denominator"`` (``"1/3"``); it is read back exactly, never through a
  float, and a JSON number where a ratio belongs is refused (it may already be a float);
- the text is canonical (sorted keys, no spaces, every field written, defaults included),
  so equal values give equal text and the text can be compared or digested;
- an ``Enum`` (a named rule, e.g. the fair-value rule) is written as its value and read back
  by it; a name the enumeration does not know is refused;
- decoding is driven by the dataclass's own field types and refuses unknown fields, wrong
  types and malformed ratios with ``RuleCodecError`` naming the path; a field missing from
  an older payload takes its dataclass default, if it has one, and is refused otherwise.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import MISSING, fields, is_dataclass
from datetime import date
from decimal import Decimal
from enum import Enum
from fractions import Fraction
from types import UnionType
from typing import Any, NoReturn, TypeVar, Union, get_args, get_origin, get_type_hints

from liangrong.domain.parameters import ClientAgreement, ExchangeRules, FirmPolicy

LayerValue = ExchangeRules | FirmPolicy | ClientAgreement
V = TypeVar("V", ExchangeRules, FirmPolicy, ClientAgreement)


class RuleLayer(Enum):
    """The three layers of rules, in the order they bind (REF-5)."""

    EXCHANGE = "exchange"
    FIRM = "firm"
    CLIENT = "client"


LAYER_TYPES: Mapping[RuleLayer, type[LayerValue]] = {
    RuleLayer.EXCHANGE: ExchangeRules,
    RuleLayer.FIRM: FirmPolicy,
    RuleLayer.CLIENT: ClientAgreement,
}


def layer_of(value: LayerValue) -> RuleLayer:
    """The layer a value belongs to, from its type."""
    return next(layer for layer, kind in LAYER_TYPES.items() if isinstance(value, kind))


class RuleCodecError(ValueError):
    """A stored rule value cannot be read back; ``path`` names the field."""

    def __init__(self, path: str, message: str) -> None:
        self.path = path
        super().__init__(f"{path or '<value>'}: {message}")


# --------------------------------------------------------------------------- exact ratios


def exact_text(value: Fraction) -> str:
    """Exact text of a ratio: ``"1.3"``, ``"-0.05"``, ``"3"``; ``"1/3"`` when no decimal is."""
    denominator, twos, fives = value.denominator, 0, 0
    while denominator % 2 == 0:
        denominator, twos = denominator // 2, twos + 1
    while denominator % 5 == 0:
        denominator, fives = denominator // 5, fives + 1
    if denominator != 1:
        return f"{value.numerator}/{value.denominator}"
    places = max(twos, fives)
    scaled = abs(value) * 10**places  # an integer: the denominator divides 10**places
    digits = str(scaled.numerator).rjust(places + 1, "0")
    sign = "-" if value < 0 else ""
    if not places:
        return sign + digits
    return f"{sign}{digits[:-places]}.{digits[-places:]}"


def parse_exact(text: object, path: str = "") -> Fraction:
    """A ratio from its exact text; numbers and anything float-like are refused."""
    if not isinstance(text, str):
        raise RuleCodecError(path, f"a ratio is exact text, got {type(text).__name__}")
    try:
        return Fraction(text)
    except (ValueError, ZeroDivisionError):
        raise RuleCodecError(path, f"{text!r} is not an exact ratio") from None


# --------------------------------------------------------------------------- encoding


def _optional(hint: Any) -> tuple[Any, bool]:
    """``X | None`` -> (X, True); anything else -> (hint, False)."""
    if get_origin(hint) in (Union, UnionType):
        rest = [arg for arg in get_args(hint) if arg is not type(None)]
        if len(rest) != 1:
            raise TypeError(f"unsupported union {hint}")
        return rest[0], True
    return hint, False


def _is_enum(hint: Any) -> bool:
    return isinstance(hint, type) and issubclass(hint, Enum)


def _encode(value: object, hint: Any) -> object:
    hint, _ = _optional(hint)
    if value is None:
        return None
    if hint is Fraction:
        assert isinstance(value, Fraction | int) and not isinstance(value, bool), value
        return exact_text(Fraction(value))
    if hint is date:
        assert isinstance(value, date), value
        return value.isoformat()
    if get_origin(hint) is Mapping:
        assert isinstance(value, Mapping), value
        item = get_args(hint)[1]
        return {str(key): _encode(v, item) for key, v in value.items()}
    if is_dataclass(hint):
        hints = get_type_hints(hint)
        return {f.name: _encode(getattr(value, f.name), hints[f.name]) for f in fields(hint)}
    if _is_enum(hint):
        assert isinstance(value, hint), (value, hint)
        return value.value
    assert isinstance(value, hint), (value, hint)
    return value


def encode_rules(value: LayerValue) -> str:
    """The canonical JSON text of a layer's value."""
    document = _encode(value, type(value))
    return json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


# --------------------------------------------------------------------------- decoding


def _decode_dataclass(document: object, cls: Any, path: str) -> object:
    if not isinstance(document, dict):
        raise RuleCodecError(path, f"expected an object for {cls.__name__}")
    hints = get_type_hints(cls)
    names = {f.name for f in fields(cls)}
    unknown = sorted(set(document) - names)
    if unknown:
        raise RuleCodecError(f"{path}.{unknown[0]}".lstrip("."), "unknown field")
    values: dict[str, object] = {}
    for f in fields(cls):
        where = f"{path}.{f.name}".lstrip(".")
        if f.name in document:
            values[f.name] = _decode(document[f.name], hints[f.name], where)
        elif f.default is MISSING and f.default_factory is MISSING:
            raise RuleCodecError(where, "missing")
    try:
        return cls(**values)
    except (TypeError, ValueError, AssertionError) as exc:
        raise RuleCodecError(path, f"invalid {cls.__name__}: {exc}") from None


def _decode(document: object, hint: Any, path: str) -> object:
    hint, optional = _optional(hint)
    if document is None:
        if optional:
            return None
        raise RuleCodecError(path, "may not be null")
    if hint is Fraction:
        return parse_exact(document, path)
    if hint is date:
        try:
            return date.fromisoformat(str(document))
        except ValueError:
            raise RuleCodecError(path, f"{document!r} is not a date YYYY-MM-DD") from None
    if get_origin(hint) is Mapping:
        if not isinstance(document, dict):
            raise RuleCodecError(path, "expected an object")
        item = get_args(hint)[1]
        return {key: _decode(v, item, f"{path}[{key}]") for key, v in sorted(document.items())}
    if is_dataclass(hint):
        return _decode_dataclass(document, hint, path)
    if _is_enum(hint):
        # by value and type alike: a stray true must not read as a member valued 1
        same = (m for m in hint if type(m.value) is type(document) and m.value == document)
        member = next(same, None)
        if member is None:
            known = ", ".join(str(m.value) for m in hint)
            raise RuleCodecError(path, f"{document!r} is not a {hint.__name__} ({known})")
        return member
    # bool is an int in Python: an int field must not accept true/false, nor the reverse
    if type(document) is not hint:
        raise RuleCodecError(path, f"expected {hint.__name__}, got {type(document).__name__}")
    return document


def _reject_constant(name: str) -> NoReturn:
    raise RuleCodecError("", f"{name} is not a number JSON allows")


def decode_rules(cls: type[V], text: str) -> V:
    """A layer's value from its stored JSON text; refused with ``RuleCodecError``."""
    value = _decode_dataclass(_parse(text), cls, "")
    assert isinstance(value, cls)
    return value


def decode_layer(layer: RuleLayer, text: str) -> LayerValue:
    """The value of ``layer`` stored as ``text``."""
    value = _decode_dataclass(_parse(text), LAYER_TYPES[layer], "")
    assert isinstance(value, ExchangeRules | FirmPolicy | ClientAgreement)
    return value


def _parse(text: str) -> object:
    try:
        # Decimal keeps a stray JSON number exact, and parse_exact then refuses it by type.
        document = json.loads(text, parse_float=Decimal, parse_constant=_reject_constant)
    except json.JSONDecodeError as exc:
        raise RuleCodecError("", f"invalid JSON: {exc.msg}") from None
    return document
