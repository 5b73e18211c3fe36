"""Why a rule parameter or a daily list was refused: enumerated codes and their messages.

Invariants: every refusal is a ``Violation`` carrying a ``RuleCode`` (never free text); each
code has a Chinese and an English message template; ``RuleRefused`` carries every violation
found in one load, so a caller sees all of them at once, not the first only.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from enum import Enum
from fractions import Fraction

from liangrong.domain.money import ratio_text


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


def refuse_if_any(found: Sequence[Violation]) -> None:
    if found:
        raise RuleRefused(found)
