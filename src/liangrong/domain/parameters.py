"""The three rule layers' values (exchange rules, firm policy, client agreements) and the
checks that refuse a firm or client value looser than the exchange's.

Invariants:
- ratios and rates are exact ``Fraction``s (1.3 = 130%); rates are annual on the 360-day
  basis; no rule value is written here: all come from the caller (the seed is data);
- a check returns every ``Violation`` it finds (empty: accepted); it never raises, so the
  rule book can gather the violations of a whole load before refusing it;
- firm and client values may be stricter than the exchange's, never looser (REF-5); an
  exchange version is only checked for internal consistency (no layer sits above it).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from datetime import date
from fractions import Fraction
from types import MappingProxyType

from liangrong.domain.contracts import ContractKind
from liangrong.domain.fair_value import FairValueRule
from liangrong.domain.rule_codes import RuleCode, Violation, percent_text


@dataclass(frozen=True, slots=True)
class HaircutCaps:
    """Highest haircut the exchange allows per category (0.7 = 70% of value counts)."""

    large_cap_stock: Fraction  # SSE 180 / SZSE 100 constituents
    other_stock: Fraction
    etf: Fraction
    government_bond_or_cash: Fraction  # government bonds, money funds, cash products
    other_fund_or_bond: Fraction


@dataclass(frozen=True, slots=True)
class ExchangeRules:
    """The exchange's floors and caps; firm and client values may only be stricter."""

    financing_margin_ratio_floor: Fraction
    short_margin_ratio_floor: Fraction
    short_margin_ratio_floor_private_fund: Fraction  # private securities investment funds
    withdrawal_line: Fraction  # withdraw only while strictly above, and stay at or above
    minimum_maintenance_ratio: Fraction | None  # None: the exchange sets none (since 2019)
    max_term_months: int
    max_extension_months: int  # per extension; 0: contracts may not be extended
    haircut_caps: HaircutCaps
    # A stock whose static P/E is at or above this (``以上`` includes the bound) or negative
    # has haircut 0.  None: no P/E rule in force.
    zero_haircut_pe_from: Fraction | None


@dataclass(frozen=True, slots=True)
class Lines:
    """Lines on the maintenance ratio: attention ≥ warning ≥ liquidation > emergency > 1."""

    attention: Fraction
    warning: Fraction
    liquidation: Fraction
    emergency: Fraction | None = None


@dataclass(frozen=True, slots=True)
class SecurityMarginRatios:
    """Margin ratios for one security; None keeps the next layer's value."""

    financing: Fraction | None = None
    short: Fraction | None = None

    def of(self, kind: ContractKind) -> Fraction | None:
        return self.financing if kind is ContractKind.FINANCING else self.short


@dataclass(frozen=True, slots=True)
class HaircutLinkedRatio:
    """Firm option: ratio = max(base − haircut, minimum), e.g. max(1.7 − h, 1)."""

    base: Fraction
    minimum: Fraction

    def ratio(self, haircut: Fraction) -> Fraction:
        return max(self.base - haircut, self.minimum)


SecurityRatios = Mapping[str, SecurityMarginRatios]  # by symbol, e.g. "600000.SH"


@dataclass(frozen=True, slots=True)
class FirmPolicy:
    """The firm's own values.  Rates are annual on the 360-day basis, the penalty rate too
    (a daily 0.05% is 18%), so every charge is amount × rate × days ÷ 360."""

    lines: Lines
    call_target: Fraction  # the ratio a margin call asks the client to restore
    call_deadline_trading_days: int
    financing_margin_ratio: Fraction
    short_margin_ratio: Fraction
    short_margin_ratio_private_fund: Fraction
    withdrawal_line: Fraction
    max_term_months: int
    max_extension_months: int
    max_extensions: int
    financing_rate: Fraction
    lending_fee_rate: Fraction
    penalty_rate: Fraction
    security_ratios: SecurityRatios = field(default_factory=dict)
    haircut_linked_ratio: HaircutLinkedRatio | None = None
    # RISK-2: how securities without a usable market price are valued, unless a client's
    # agreement names another rule.
    fair_value_rule: FairValueRule = FairValueRule.LAST_CLOSE

    def __post_init__(self) -> None:
        object.__setattr__(self, "security_ratios", MappingProxyType(dict(self.security_ratios)))
        object.__setattr__(self, "fair_value_rule", _fair_value_rule(self.fair_value_rule))


@dataclass(frozen=True, slots=True)
class ClientAgreement:
    """A client's agreed overrides (CLI-3); None keeps the firm's value."""

    client_id: str
    private_fund: bool = False  # private securities fund: the exchange's higher short floor
    lines: Lines | None = None  # all lines together, so their order is one checked set
    financing_margin_ratio: Fraction | None = None
    short_margin_ratio: Fraction | None = None
    security_ratios: SecurityRatios = field(default_factory=dict)
    financing_rate: Fraction | None = None
    lending_fee_rate: Fraction | None = None
    penalty_rate: Fraction | None = None
    call_target: Fraction | None = None
    call_deadline_trading_days: int | None = None
    fair_value_rule: FairValueRule | None = None  # RISK-2; None keeps the firm's rule

    def __post_init__(self) -> None:
        object.__setattr__(self, "security_ratios", MappingProxyType(dict(self.security_ratios)))
        if self.fair_value_rule is not None:
            object.__setattr__(self, "fair_value_rule", _fair_value_rule(self.fair_value_rule))


def _fair_value_rule(value: object) -> FairValueRule:
    """A rule or its stored name; anything else is refused (ValueError names the value)."""
    try:
        return FairValueRule(value)
    except ValueError:
        known = ", ".join(rule.value for rule in FairValueRule)
        raise ValueError(f"unknown fair value rule {value!r}; known: {known}") from None


# --------------------------------------------------------------------------- checks


def _floor(
    code: RuleCode, name: str, value: Fraction | None, floor: Fraction | None, on: date
) -> list[Violation]:
    if value is None or floor is None or value >= floor:
        return []
    return [Violation(code, name, percent_text(value), percent_text(floor), on)]


def _range(name: str, value: Fraction | int, low: int, high: int | None = None) -> list[Violation]:
    if value >= low and (high is None or value <= high):
        return []
    bound = f"[{low}, {'∞' if high is None else high}]"
    return [Violation(RuleCode.VALUE_OUT_OF_RANGE, name, str(value), bound)]


def check_exchange_rules(rules: ExchangeRules) -> list[Violation]:
    """Internal consistency of an exchange version (no layer sits above it)."""
    found = _range("financing_margin_ratio_floor", rules.financing_margin_ratio_floor, 0)
    found += _range("short_margin_ratio_floor", rules.short_margin_ratio_floor, 0)
    found += _range("withdrawal_line", rules.withdrawal_line, 1)
    found += _range("max_term_months", rules.max_term_months, 1)
    found += _range("max_extension_months", rules.max_extension_months, 0)
    private, general = rules.short_margin_ratio_floor_private_fund, rules.short_margin_ratio_floor
    if private < general:  # the private-fund floor is a stricter variant, never a looser one
        bound = f"[{percent_text(general)}, ∞]"
        name = "short_margin_ratio_floor_private_fund"
        found.append(Violation(RuleCode.VALUE_OUT_OF_RANGE, name, percent_text(private), bound))
    for cap in fields(HaircutCaps):
        value = getattr(rules.haircut_caps, cap.name)
        found += _range(f"haircut_caps.{cap.name}", value, 0, 1)
    return found


def check_lines(lines: Lines, name: str) -> list[Violation]:
    """attention ≥ warning ≥ liquidation > emergency, every line above 100%."""
    chain = [lines.attention, lines.warning, lines.liquidation]
    below = [lines.emergency] if lines.emergency is not None else []
    ordered = chain[0] >= chain[1] >= chain[2] and all(chain[2] > v for v in below)
    if ordered and min(chain + below) > 1:
        return []
    return [
        Violation(RuleCode.LINES_NOT_ORDERED, name, " / ".join(map(percent_text, chain + below)))
    ]


def _line_checks(
    lines: Lines, target: Fraction | None, ex: ExchangeRules, on: date, code: RuleCode
) -> list[Violation]:
    """Ordering, call target at or above the warning line, liquidation at the exchange min."""
    found = check_lines(lines, "lines")
    if target is not None and target < lines.warning:
        found.append(
            Violation(
                RuleCode.CALL_TARGET_BELOW_WARNING_LINE,
                "call_target",
                percent_text(target),
                percent_text(lines.warning),
            )
        )
    return found + _floor(code, "liquidation", lines.liquidation, ex.minimum_maintenance_ratio, on)


def _rates(**rates: Fraction | None) -> list[Violation]:
    return [
        Violation(RuleCode.RATE_NEGATIVE, name, percent_text(rate))
        for name, rate in rates.items()
        if rate is not None and rate < 0
    ]


def _security_ratio_checks(
    code: RuleCode, ratios: SecurityRatios, ex: ExchangeRules, on: date, short_floor: Fraction
) -> list[Violation]:
    found: list[Violation] = []
    for symbol, r in sorted(ratios.items()):
        for name, value, floor in (
            ("financing", r.financing, ex.financing_margin_ratio_floor),
            ("short", r.short, short_floor),
        ):
            found += [replace(v, symbol=symbol) for v in _floor(code, name, value, floor, on)]
    return found


# (code, firm attribute, exchange attribute): the firm value must be at least the exchange's
_FIRM_FLOORS = (
    (
        RuleCode.FIRM_FINANCING_RATIO_BELOW_FLOOR,
        "financing_margin_ratio",
        "financing_margin_ratio_floor",
    ),
    (RuleCode.FIRM_SHORT_RATIO_BELOW_FLOOR, "short_margin_ratio", "short_margin_ratio_floor"),
    (
        RuleCode.FIRM_SHORT_RATIO_BELOW_FLOOR,
        "short_margin_ratio_private_fund",
        "short_margin_ratio_floor_private_fund",
    ),
    (RuleCode.FIRM_WITHDRAWAL_LINE_BELOW_EXCHANGE, "withdrawal_line", "withdrawal_line"),
)
# (code, attribute): the firm value must be at most the exchange's
_FIRM_CAPS = (
    (RuleCode.FIRM_TERM_ABOVE_MAXIMUM, "max_term_months"),
    (RuleCode.FIRM_EXTENSION_ABOVE_MAXIMUM, "max_extension_months"),
)


def check_firm_policy(policy: FirmPolicy, ex: ExchangeRules, on: date) -> list[Violation]:
    """Everything in ``policy`` that is looser than ``ex`` (in force on ``on``), or invalid."""
    found: list[Violation] = []
    for code, mine, theirs in _FIRM_FLOORS:
        found += _floor(code, mine, getattr(policy, mine), getattr(ex, theirs), on)
    for code, name in _FIRM_CAPS:
        value, cap = getattr(policy, name), getattr(ex, name)
        found += [Violation(code, name, str(value), str(cap), on)] if value > cap else []
    # A per-security short ratio serves every client; a private fund's higher floor is applied
    # when it is read (margin_ratio), so here it meets the general floor.
    found += _security_ratio_checks(
        RuleCode.FIRM_SECURITY_RATIO_BELOW_FLOOR,
        policy.security_ratios,
        ex,
        on,
        ex.short_margin_ratio_floor,
    )
    if policy.haircut_linked_ratio is not None:
        worst = policy.haircut_linked_ratio.ratio(Fraction(1))  # the lowest it can give
        for code, floor in (
            (RuleCode.FIRM_FINANCING_RATIO_BELOW_FLOOR, ex.financing_margin_ratio_floor),
            (RuleCode.FIRM_SHORT_RATIO_BELOW_FLOOR, ex.short_margin_ratio_floor),
        ):
            found += _floor(code, "haircut_linked_ratio", worst, floor, on)
    found += _line_checks(
        policy.lines, policy.call_target, ex, on, RuleCode.FIRM_LIQUIDATION_LINE_BELOW_EXCHANGE
    )
    found += _range("call_deadline_trading_days", policy.call_deadline_trading_days, 1)
    found += _range("max_extensions", policy.max_extensions, 0)
    return found + _rates(
        financing_rate=policy.financing_rate,
        lending_fee_rate=policy.lending_fee_rate,
        penalty_rate=policy.penalty_rate,
    )


def check_client_agreement(
    agreement: ClientAgreement, ex: ExchangeRules, on: date
) -> list[Violation]:
    """Everything in ``agreement`` that is looser than ``ex`` (in force on ``on``), or invalid."""
    short_floor = exchange_floor(ex, ContractKind.SHORT, agreement.private_fund)
    found = _floor(
        RuleCode.CLIENT_FINANCING_RATIO_BELOW_FLOOR,
        "financing_margin_ratio",
        agreement.financing_margin_ratio,
        ex.financing_margin_ratio_floor,
        on,
    )
    found += _floor(
        RuleCode.CLIENT_SHORT_RATIO_BELOW_FLOOR,
        "short_margin_ratio",
        agreement.short_margin_ratio,
        short_floor,
        on,
    )
    found += _security_ratio_checks(
        RuleCode.CLIENT_SECURITY_RATIO_BELOW_FLOOR, agreement.security_ratios, ex, on, short_floor
    )
    if agreement.lines is not None:
        found += _line_checks(
            agreement.lines,
            agreement.call_target,
            ex,
            on,
            RuleCode.CLIENT_LIQUIDATION_LINE_BELOW_EXCHANGE,
        )
    if agreement.call_deadline_trading_days is not None:
        found += _range("call_deadline_trading_days", agreement.call_deadline_trading_days, 1)
    return found + _rates(
        financing_rate=agreement.financing_rate,
        lending_fee_rate=agreement.lending_fee_rate,
        penalty_rate=agreement.penalty_rate,
    )


def exchange_floor(
    rules: ExchangeRules, kind: ContractKind, private_fund: bool = False
) -> Fraction:
    """The exchange's margin ratio floor for a new financing or short."""
    if kind is ContractKind.FINANCING:
        return rules.financing_margin_ratio_floor
    if private_fund:
        return rules.short_margin_ratio_floor_private_fund
    return rules.short_margin_ratio_floor
