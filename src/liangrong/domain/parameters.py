"""Dated rule parameters in three layers: exchange rules, firm policy, client agreements.

Invariants:
- each layer is an append-only history of versions with strictly increasing effective dates
  and unique version ids; a version is in force from its effective date until the next
  version of the same layer (the last one is open-ended);
- a firm or client version is refused on load (``RuleRefused``: enumerated codes, messages
  in Chinese and English) when any of its values is looser than the exchange value in force
  on any day of its period *as known when loading*: an open-ended version must also satisfy
  every exchange version already announced after its effective date;
- an exchange version may tighten a floor after firm or client values were loaded (the
  financing floor rising 80% -> 100% on 2026-01-14): every reading takes the stricter of the
  layers and reports the value it overrode, so nothing runs looser than the exchange rule in
  force that day;
- ratios and rates are exact ``Fraction``s (1.3 = 130%); rates are annual on the 360-day
  basis; no rule value is written here: all come from the caller (the seed is data).
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, fields, replace
from datetime import date
from enum import Enum
from fractions import Fraction
from itertools import pairwise
from types import MappingProxyType
from typing import Generic, TypeVar

from liangrong.domain.contracts import ContractKind
from liangrong.domain.money import ratio_text

T = TypeVar("T")
P = TypeVar("P")
N = TypeVar("N", Fraction, int)


class RuleCode(Enum):
    """Why a parameter or a list was refused.  Value: (zh, en) message templates with the
    placeholders field, value, limit, on, symbol.  The lists' codes live here too."""

    FIRM_FINANCING_RATIO_BELOW_FLOOR = (
        "公司融资保证金比例{field}={value}低于{on}交易所下限{limit}",
        "firm financing margin ratio {field}={value} is below the exchange floor {limit} on {on}",
    )
    FIRM_SHORT_RATIO_BELOW_FLOOR = (
        "公司融券保证金比例{field}={value}低于{on}交易所下限{limit}",
        "firm short margin ratio {field}={value} is below the exchange floor {limit} on {on}",
    )
    FIRM_SECURITY_RATIO_BELOW_FLOOR = (
        "公司对{symbol}的{field}保证金比例{value}低于{on}交易所下限{limit}",
        "firm {field} margin ratio {value} for {symbol} is below the floor {limit} on {on}",
    )
    FIRM_WITHDRAWAL_LINE_BELOW_EXCHANGE = (
        "公司提取担保物线{value}低于{on}交易所标准{limit}",
        "firm withdrawal line {value} is below the exchange line {limit} on {on}",
    )
    FIRM_TERM_ABOVE_MAXIMUM = (
        "公司合约期限{value}个月超过{on}交易所最长期限{limit}个月",
        "firm contract term {value} months exceeds the exchange maximum {limit} on {on}",
    )
    FIRM_EXTENSION_ABOVE_MAXIMUM = (
        "公司单次展期{value}个月超过{on}交易所上限{limit}个月",
        "firm extension of {value} months exceeds the exchange maximum {limit} on {on}",
    )
    FIRM_LIQUIDATION_LINE_BELOW_EXCHANGE = (
        "公司平仓线{value}低于{on}交易所最低维持担保比例{limit}",
        "firm liquidation line {value} is below the exchange minimum ratio {limit} on {on}",
    )
    CLIENT_FINANCING_RATIO_BELOW_FLOOR = (
        "客户约定融资保证金比例{value}低于{on}交易所下限{limit}",
        "client financing margin ratio {value} is below the exchange floor {limit} on {on}",
    )
    CLIENT_SHORT_RATIO_BELOW_FLOOR = (
        "客户约定融券保证金比例{value}低于{on}交易所下限{limit}",
        "client short margin ratio {value} is below the exchange floor {limit} on {on}",
    )
    CLIENT_SECURITY_RATIO_BELOW_FLOOR = (
        "客户约定{symbol}的{field}保证金比例{value}低于{on}交易所下限{limit}",
        "client {field} margin ratio {value} for {symbol} is below the floor {limit} on {on}",
    )
    CLIENT_LIQUIDATION_LINE_BELOW_EXCHANGE = (
        "客户约定平仓线{value}低于{on}交易所最低维持担保比例{limit}",
        "client liquidation line {value} is below the exchange minimum ratio {limit} on {on}",
    )
    LINES_NOT_ORDERED = (
        "{field}须满足关注线≥警戒线≥平仓线>紧急线>100%: {value}",
        "{field} must satisfy attention ≥ warning ≥ liquidation > emergency > 100%: {value}",
    )
    CALL_TARGET_BELOW_WARNING_LINE = (
        "追保目标比例{value}低于警戒线{limit}",
        "margin call target {value} is below the warning line {limit}",
    )
    RATE_NEGATIVE = ("利率或费率{field}={value}为负", "rate {field}={value} is negative")
    VALUE_OUT_OF_RANGE = (
        "参数{field}={value}超出允许范围{limit}",
        "parameter {field}={value} is outside its range {limit}",
    )
    EFFECTIVE_DATE_NOT_AFTER_LAST = (
        "版本{field}的生效日{on}不晚于该层上一版本的生效日{limit}",
        "version {field} takes effect on {on}, not after the layer's previous version ({limit})",
    )
    DUPLICATE_VERSION_ID = ("版本号{value}已存在", "version id {value} already exists")
    NO_EXCHANGE_RULES_IN_FORCE = ("{on}无生效的交易所规则", "no exchange rules in force on {on}")
    # daily lists (liangrong.domain.lists)
    FIRM_FINANCING_TARGET_NOT_IN_EXCHANGE_LIST = (
        "{symbol}不在{on}交易所融资标的名单内",
        "{symbol} is not an exchange financing target on {on}",
    )
    FIRM_SHORT_TARGET_NOT_IN_EXCHANGE_LIST = (
        "{symbol}不在{on}交易所融券标的名单内",
        "{symbol} is not an exchange short target on {on}",
    )
    FIRM_COLLATERAL_NOT_IN_EXCHANGE_LIST = (
        "{symbol}不在{on}交易所可充抵保证金证券名单内",
        "{symbol} is not exchange collateral on {on}",
    )
    FIRM_HAIRCUT_ABOVE_CAP = (
        "公司对{symbol}的折算率{value}高于{on}交易所折算率{limit}",
        "firm haircut {value} for {symbol} is above the exchange haircut {limit} on {on}",
    )
    EXCHANGE_HAIRCUT_ABOVE_CAP = (
        "{symbol}的折算率{value}高于{on}规则上限{limit}",
        "haircut {value} for {symbol} is above the rule cap {limit} on {on}",
    )
    TARGET_NOT_ELIGIBLE = (
        "{symbol}状态为{value}, {on}不得作为标的证券",
        "{symbol} has status {value} and cannot be a target on {on}",
    )
    HAIRCUT_OUT_OF_RANGE = (
        "{symbol}的折算率{value}不在[0, 1]内",
        "haircut {value} for {symbol} is outside [0, 1]",
    )
    UNKNOWN_SECURITY = ("证券{symbol}不在证券主数据中", "{symbol} is not in the securities master")
    LISTS_DATE_NOT_AFTER_LAST = (
        "{on}的名单不晚于已发布的最新名单{limit}",
        "lists for {on} are not after the latest published ({limit})",
    )
    NO_EXCHANGE_LISTS_IN_FORCE = ("{on}无生效的交易所名单", "no exchange lists in force on {on}")


def percent_text(value: Fraction) -> str:
    """``Fraction(13, 10)`` -> ``"130%"``; truncated to 4 places, for messages only."""
    return ratio_text(value * 100, 4).rstrip("0").rstrip(".") + "%"


@dataclass(frozen=True, slots=True)
class Violation:
    """One refused value: what, the bound it broke, and from which day."""

    code: RuleCode
    field: str = ""
    value: str = ""
    limit: str = ""
    on: date | None = None
    symbol: str = ""

    def _render(self, template: str) -> str:
        on = self.on.isoformat() if self.on else "-"
        return template.format(
            field=self.field, value=self.value, limit=self.limit, on=on, symbol=self.symbol
        )

    @property
    def message_zh(self) -> str:
        return self._render(self.code.value[0])

    @property
    def message_en(self) -> str:
        return self._render(self.code.value[1])


class RuleRefused(ValueError):
    """A load refused; carries every violation found, the first one's code is ``code``."""

    def __init__(self, violations: Sequence[Violation]) -> None:
        assert violations, "RuleRefused needs at least one violation"
        self.violations = tuple(violations)
        super().__init__("; ".join(f"{v.code.name}: {v.message_en}" for v in self.violations))

    @property
    def code(self) -> RuleCode:
        return self.violations[0].code

    @property
    def codes(self) -> frozenset[RuleCode]:
        return frozenset(v.code for v in self.violations)


class NoRuleInForce(LookupError):
    """Asked for a layer's value before its first version: a caller's error."""


def refuse_if_any(found: Sequence[Violation]) -> None:
    if found:
        raise RuleRefused(found)


# --------------------------------------------------------------------------- versions


@dataclass(frozen=True, slots=True)
class Version(Generic[T]):
    """One dated value of a layer.  ``source`` is the audit record: notice, approval, why."""

    version_id: str
    effective: date
    value: T
    source: str


def _order_violations(versions: Sequence[Version[T]]) -> list[Violation]:
    found = [
        Violation(
            RuleCode.EFFECTIVE_DATE_NOT_AFTER_LAST,
            field=after.version_id,
            limit=before.effective.isoformat(),
            on=after.effective,
        )
        for before, after in pairwise(versions)
        if after.effective <= before.effective
    ]
    ids = [v.version_id for v in versions]
    duplicates = sorted({i for i in ids if ids.count(i) > 1})
    return found + [Violation(RuleCode.DUPLICATE_VERSION_ID, value=i) for i in duplicates]


@dataclass(frozen=True, slots=True)
class History(Generic[T]):
    """Append-only versions of one layer, strictly increasing by effective date."""

    versions: tuple[Version[T], ...] = ()

    def __post_init__(self) -> None:
        refuse_if_any(_order_violations(self.versions))

    def appended(self, versions: Iterable[Version[T]]) -> History[T]:
        return History((*self.versions, *versions))

    def version_at(self, on: date) -> Version[T] | None:
        index = bisect_right(self.versions, on, key=lambda v: v.effective)
        return self.versions[index - 1] if index else None

    def end_of(self, version: Version[T]) -> date | None:
        """First day ``version`` is no longer in force; None while it is the last."""
        index = self.versions.index(version)
        return self.versions[index + 1].effective if index + 1 < len(self.versions) else None

    def during(self, start: date, end: date | None) -> tuple[Version[T], ...]:
        """Versions in force on some day of ``[start, end)`` (``end`` None: open-ended)."""
        return tuple(
            v
            for v in self.versions
            if (end is None or v.effective < end)
            and ((stop := self.end_of(v)) is None or stop > start)
        )


# --------------------------------------------------------------------------- layers


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

    def __post_init__(self) -> None:
        object.__setattr__(self, "security_ratios", MappingProxyType(dict(self.security_ratios)))


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

    def __post_init__(self) -> None:
        object.__setattr__(self, "security_ratios", MappingProxyType(dict(self.security_ratios)))


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


# --------------------------------------------------------------------------- the book


@dataclass(frozen=True, slots=True)
class RuleBook:
    """The three layers.  Load through ``with_*``, which refuse looser or invalid values."""

    exchange: History[ExchangeRules] = History()
    firm: History[FirmPolicy] = History()
    clients: Mapping[str, History[ClientAgreement]] = field(default_factory=dict)

    def with_exchange(self, *versions: Version[ExchangeRules]) -> RuleBook:
        """An exchange version is never refused for tightening: readings take the stricter."""
        refuse_if_any([v for version in versions for v in check_exchange_rules(version.value)])
        return replace(self, exchange=self.exchange.appended(versions))

    def with_firm(self, *versions: Version[FirmPolicy]) -> RuleBook:
        """Append firm versions; versions loaded together bound each other's periods."""
        history = self.firm.appended(versions)
        refuse_if_any(self._looser(history, versions, check_firm_policy))
        return replace(self, firm=history)

    def with_client(self, *versions: Version[ClientAgreement]) -> RuleBook:
        """Append versions of one client's agreement."""
        ids = {version.value.client_id for version in versions}
        if len(ids) != 1:
            raise ValueError(f"with_client takes versions of exactly one client, got {ids}")
        client_id = ids.pop()
        history = self.clients.get(client_id, History()).appended(versions)
        refuse_if_any(self._looser(history, versions, check_client_agreement))
        return replace(self, clients=MappingProxyType({**self.clients, client_id: history}))

    def _looser(
        self,
        history: History[P],
        new: Sequence[Version[P]],
        check: Callable[[P, ExchangeRules, date], list[Violation]],
    ) -> list[Violation]:
        """Each new version against every exchange version in force during its period."""
        found: list[Violation] = []
        for version in new:
            start = version.effective
            overlapping = self.exchange.during(start, history.end_of(version))
            if not overlapping or overlapping[0].effective > start:
                found.append(Violation(RuleCode.NO_EXCHANGE_RULES_IN_FORCE, on=start))
            for rules in overlapping:
                found += check(version.value, rules.value, max(rules.effective, start))
        return found

    def client_version(self, client_id: str | None, on: date) -> Version[ClientAgreement] | None:
        history = self.clients.get(client_id) if client_id is not None else None
        return history.version_at(on) if history is not None else None


# --------------------------------------------------------------------------- readings


class RatioSource(Enum):
    """Which configured value a margin ratio came from, in precedence order."""

    CLIENT_SECURITY = "client_security"
    CLIENT_DEFAULT = "client_default"
    FIRM_SECURITY = "firm_security"
    FIRM_HAIRCUT_LINKED = "firm_haircut_linked"
    FIRM_DEFAULT = "firm_default"


@dataclass(frozen=True, slots=True)
class RuleVersion:
    """The versions a decision was made under; a contract stores ``identifier``."""

    exchange: str
    firm: str
    client: str | None = None

    @property
    def identifier(self) -> str:
        """``exchange:<id>/firm:<id>[/client:<id>]``."""
        parts = [f"exchange:{self.exchange}", f"firm:{self.firm}"]
        return "/".join(parts + ([f"client:{self.client}"] if self.client else []))


@dataclass(frozen=True, slots=True)
class Override:
    """A firm or client value replaced by the stricter exchange value in force that day."""

    field: str
    configured: Fraction | int
    applied: Fraction | int
    exchange_version: str


@dataclass(frozen=True, slots=True)
class RatioDecision:
    ratio: Fraction
    source: RatioSource
    rule_version: RuleVersion
    override: Override | None


@dataclass(frozen=True, slots=True)
class LinesDecision:
    lines: Lines
    from_client: bool
    rule_version: RuleVersion
    override: Override | None


@dataclass(frozen=True, slots=True)
class Terms:
    """Rates, call and term values for a client on a day, exchange limits applied."""

    financing_rate: Fraction
    lending_fee_rate: Fraction
    penalty_rate: Fraction
    call_target: Fraction
    call_deadline_trading_days: int
    withdrawal_line: Fraction
    max_term_months: int
    max_extension_months: int
    max_extensions: int
    rule_version: RuleVersion
    overrides: tuple[Override, ...]


@dataclass(frozen=True, slots=True)
class _InForce:
    exchange: Version[ExchangeRules]
    firm: Version[FirmPolicy]
    client: Version[ClientAgreement] | None

    @property
    def agreement(self) -> ClientAgreement | None:
        return self.client.value if self.client else None

    @property
    def rule_version(self) -> RuleVersion:
        client = self.client.version_id if self.client else None
        return RuleVersion(self.exchange.version_id, self.firm.version_id, client)


def _in_force(book: RuleBook, client_id: str | None, on: date) -> _InForce:
    ex, firm = book.exchange.version_at(on), book.firm.version_at(on)
    if ex is None or firm is None:
        raise NoRuleInForce(f"no {'exchange rules' if ex is None else 'firm policy'} on {on}")
    return _InForce(ex, firm, book.client_version(client_id, on))


def _configured_ratio(
    kind: ContractKind,
    symbol: str,
    firm: FirmPolicy,
    client: ClientAgreement | None,
    haircut: Fraction | None,
) -> tuple[Fraction, RatioSource]:
    if client is not None:
        if (own := client.security_ratios.get(symbol)) and (ratio := own.of(kind)) is not None:
            return ratio, RatioSource.CLIENT_SECURITY
        agreed = SecurityMarginRatios(client.financing_margin_ratio, client.short_margin_ratio)
        if (default := agreed.of(kind)) is not None:
            return default, RatioSource.CLIENT_DEFAULT
    if (own := firm.security_ratios.get(symbol)) and (ratio := own.of(kind)) is not None:
        return ratio, RatioSource.FIRM_SECURITY
    if firm.haircut_linked_ratio is not None:
        if haircut is None:
            raise ValueError("the firm's haircut-linked margin ratio needs the haircut")
        return firm.haircut_linked_ratio.ratio(haircut), RatioSource.FIRM_HAIRCUT_LINKED
    if kind is ContractKind.FINANCING:
        return firm.financing_margin_ratio, RatioSource.FIRM_DEFAULT
    private = client is not None and client.private_fund
    short = firm.short_margin_ratio_private_fund if private else firm.short_margin_ratio
    return short, RatioSource.FIRM_DEFAULT


def margin_ratio(
    book: RuleBook,
    kind: ContractKind,
    symbol: str,
    on: date,
    client_id: str | None = None,
    haircut: Fraction | None = None,
) -> RatioDecision:
    """Margin ratio for a financing or short opened on ``on`` (RISK-4).

    Precedence: client per-security > client default > firm per-security > the firm's
    haircut-linked formula (needs ``haircut``, the firm's haircut for the security) > firm
    default; the result is never below the exchange floor in force that day (a private fund's
    short: the private-fund floor).  The contract keeps the ratio and ``rule_version`` for its
    life: a later floor change does not touch open contracts.
    """
    now = _in_force(book, client_id, on)
    agreement = now.agreement
    configured, source = _configured_ratio(kind, symbol, now.firm.value, agreement, haircut)
    private = agreement is not None and agreement.private_fund
    floor = exchange_floor(now.exchange.value, kind, private)
    override = None
    if configured < floor:
        name = f"{kind.value}_margin_ratio"
        override = Override(name, configured, floor, now.exchange.version_id)
    return RatioDecision(max(configured, floor), source, now.rule_version, override)


def lines_for(book: RuleBook, client_id: str | None, on: date) -> LinesDecision:
    """Lines in force for a client (RISK-5): the client's agreed set, else the firm's.

    Where the exchange sets a minimum maintenance ratio above the liquidation line, that
    line, and any line above it that is lower than the minimum, is raised to the minimum.
    """
    now = _in_force(book, client_id, on)
    own = now.agreement.lines if now.agreement else None
    lines = own if own is not None else now.firm.value.lines
    minimum = now.exchange.value.minimum_maintenance_ratio
    override = None
    if minimum is not None and lines.liquidation < minimum:
        override = Override(
            "lines.liquidation", lines.liquidation, minimum, now.exchange.version_id
        )
        raised = (max(lines.attention, minimum), max(lines.warning, minimum), minimum)
        lines = Lines(*raised, lines.emergency)
    return LinesDecision(lines, own is not None, now.rule_version, override)


def _first(value: N | None, default: N) -> N:
    return default if value is None else value


def terms_for(book: RuleBook, client_id: str | None, on: date) -> Terms:
    """Rates, margin call target and deadline, withdrawal line and term limits for a client.

    The call target is never below the client's warning line (agreed lines may sit above
    the firm's target); the withdrawal line and term limits are the stricter of firm and
    exchange, each override reported.
    """
    now = _in_force(book, client_id, on)
    rules, firm = now.exchange.value, now.firm.value
    agreed = now.agreement or ClientAgreement(client_id or "")
    overrides: list[Override] = []

    def stricter(name: str, configured: N, applied: N) -> N:
        if applied != configured:
            overrides.append(Override(name, configured, applied, now.exchange.version_id))
        return applied

    warning = lines_for(book, client_id, on).lines.warning
    return Terms(
        financing_rate=_first(agreed.financing_rate, firm.financing_rate),
        lending_fee_rate=_first(agreed.lending_fee_rate, firm.lending_fee_rate),
        penalty_rate=_first(agreed.penalty_rate, firm.penalty_rate),
        call_target=max(_first(agreed.call_target, firm.call_target), warning),
        call_deadline_trading_days=_first(
            agreed.call_deadline_trading_days, firm.call_deadline_trading_days
        ),
        withdrawal_line=stricter(
            "withdrawal_line",
            firm.withdrawal_line,
            max(firm.withdrawal_line, rules.withdrawal_line),
        ),
        max_term_months=stricter(
            "max_term_months",
            firm.max_term_months,
            min(firm.max_term_months, rules.max_term_months),
        ),
        max_extension_months=stricter(
            "max_extension_months",
            firm.max_extension_months,
            min(firm.max_extension_months, rules.max_extension_months),
        ),
        max_extensions=firm.max_extensions,
        rule_version=now.rule_version,
        overrides=tuple(overrides),
    )
