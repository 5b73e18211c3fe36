"""Client-level concentration (RISK-10, ORD-3 item 10): one security's share of a client's
collateral, and the firm's tiered rule that caps it.

A client's concentration in a security is the market value of every share of it in the
credit securities account (financed shares included) over the value of the client's
collateral (担保物: all cash, free and locked, every security at its valuation price, and
other collateral).  S2 art. 36 and S1 art. 53 name it among the firm's concentration
indicators; S0 ch8 §3 asks for a plan for clients whose collateral is concentrated.

The firm's rule (a dated parameter: ``versions.History[ConcentrationRule]``) caps that share
by the account's maintenance ratio, stricter at lower ratios: a thin account may not pile
into one security, while an account far above its lines may.  Caps also differ by the
security's class, because a real firm treats them differently: growth-board stocks (STAR,
ChiNext: ±20% daily limits) are capped harder than main-board stocks, and broad funds and
bonds are usually capped loosely or not at all.

Invariants:
- tier ``i`` applies from its ``from_ratio`` (included: "达到") up to the next tier's (not
  included); the first tier starts at 0, so every ratio has exactly one tier; an account
  without debt has no ratio and takes the top tier;
- a cap is a whole number of basis points in [0, 10_000], or None (no cap); every tier
  names a cap for every class; going down the tiers no cap loosens;
- every decision is an integer comparison, the front-end check's: a share reaches a cap of
  L bp when value × 10_000 ≥ L × base with base > 0; a cap above 10_000 bp
  (``UNCAPPED_BP``) can never be reached, which is how "no cap" reaches the check.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from enum import Enum
from fractions import Fraction
from types import MappingProxyType

from liangrong.domain import margin
from liangrong.domain.money import LI_PER_FEN, RATIO_SCALE
from liangrong.domain.rule_book import NoRuleInForce
from liangrong.domain.rule_codes import RuleCode, Violation, percent_text, refuse_if_any
from liangrong.domain.securities import Board, Kind
from liangrong.domain.versions import History

UNCAPPED_BP = RATIO_SCALE + 1  # above 100%: the front-end concentration check never triggers


class ConcentrationClass(Enum):
    """How the firm's rule groups securities for the caps."""

    MAIN_BOARD_STOCK = "main_board_stock"  # SSE and SZSE main boards: ±10% daily limits
    GROWTH_BOARD_STOCK = "growth_board_stock"  # STAR and ChiNext: ±20%, more volatile
    FUND = "fund"  # ETFs and other funds: diversified
    BOND = "bond"  # government and other bonds


def concentration_class(board: Board, kind: Kind) -> ConcentrationClass:
    """The class of a security of this board and kind (``securities.Security``)."""
    if kind is Kind.STOCK:
        growth = board in (Board.STAR, Board.CHINEXT)
        return (
            ConcentrationClass.GROWTH_BOARD_STOCK if growth else ConcentrationClass.MAIN_BOARD_STOCK
        )
    if kind in (Kind.ETF, Kind.OTHER_FUND):
        return ConcentrationClass.FUND
    return ConcentrationClass.BOND


Caps = Mapping[ConcentrationClass, int | None]  # class -> cap in bp, None: no cap


@dataclass(frozen=True, slots=True)
class ConcentrationTier:
    """The caps that apply from ``from_ratio`` (included) up to the next tier's."""

    from_ratio: Fraction
    caps_bp: Caps = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "caps_bp", MappingProxyType(dict(self.caps_bp)))


def _looser(cap: int | None, than: int | None) -> bool:
    """A cap looser than another: None (no cap) is the loosest of all."""
    if cap is None:
        return than is not None
    return than is not None and cap > than


def check_concentration_rule(tiers: tuple[ConcentrationTier, ...]) -> list[Violation]:
    """Everything that makes ``tiers`` unusable; empty when they form a valid rule."""
    found: list[Violation] = []
    if not tiers:
        return [Violation(RuleCode.VALUE_OUT_OF_RANGE, "tiers", "()", "at least one tier")]
    if tiers[0].from_ratio != 0:
        value = percent_text(tiers[0].from_ratio)
        found.append(Violation(RuleCode.VALUE_OUT_OF_RANGE, "tiers[0].from_ratio", value, "0%"))
    for i, tier in enumerate(tiers):
        name = f"tiers[{i}]"
        if i and tier.from_ratio <= tiers[i - 1].from_ratio:
            value, bound = percent_text(tier.from_ratio), percent_text(tiers[i - 1].from_ratio)
            found.append(
                Violation(RuleCode.VALUE_OUT_OF_RANGE, f"{name}.from_ratio", value, f"> {bound}")
            )
        for cls in ConcentrationClass:
            where = f"{name}.caps_bp.{cls.value}"
            if cls not in tier.caps_bp:
                found.append(
                    Violation(RuleCode.VALUE_OUT_OF_RANGE, where, "missing", "[0, 10000] or none")
                )
                continue
            cap = tier.caps_bp[cls]
            if cap is not None and not 0 <= cap <= RATIO_SCALE:
                found.append(Violation(RuleCode.VALUE_OUT_OF_RANGE, where, str(cap), "[0, 10000]"))
            elif i + 1 < len(tiers) and _looser(cap, tiers[i + 1].caps_bp.get(cls)):
                # A lower ratio may never loosen the cap: stricter caps at lower ratios.
                above = tiers[i + 1].caps_bp.get(cls)
                found.append(Violation(RuleCode.VALUE_OUT_OF_RANGE, where, str(cap), f"<= {above}"))
    return found


@dataclass(frozen=True, slots=True)
class ConcentrationRule:
    """The firm's tiered caps on one security's share of a client's collateral."""

    tiers: tuple[ConcentrationTier, ...]

    def __post_init__(self) -> None:
        refuse_if_any(check_concentration_rule(self.tiers))

    def tier_for(self, ratio: Fraction | None) -> ConcentrationTier:
        """The tier of a maintenance ratio (None: no debt, the top tier)."""
        if ratio is None:
            return self.tiers[-1]
        found = self.tiers[0]
        for tier in self.tiers:
            if ratio >= tier.from_ratio:  # "达到" includes the bound
                found = tier
        return found

    def cap_for(self, ratio: Fraction | None, cls: ConcentrationClass) -> int | None:
        """The cap in bp on one security of ``cls`` at this ratio; None: no cap."""
        return self.tier_for(ratio).caps_bp[cls]

    def caps_for(self, ratio: Fraction | None) -> Caps:
        return self.tier_for(ratio).caps_bp


def concentration_rule_on(history: History[ConcentrationRule], on: date) -> ConcentrationRule:
    """The rule in force on ``on``."""
    version = history.version_at(on)
    if version is None:
        raise NoRuleInForce(f"no concentration rule on {on}")
    return version.value


def effective_cap_bp(firm_cap_bp: int | None, agreed_cap_bp: int | None) -> int | None:
    """The stricter of the firm's tiered cap and the client's agreed level (CLI-3)."""
    if firm_cap_bp is None:
        return agreed_cap_bp
    return firm_cap_bp if agreed_cap_bp is None else min(firm_cap_bp, agreed_cap_bp)


def check_limit_bp(cap_bp: int | None) -> int:
    """A cap as ``AccountState.concentration_limit_bp`` takes it: None becomes a value the
    check can never reach."""
    return UNCAPPED_BP if cap_bp is None else cap_bp


# --------------------------------------------------------------------------- the measure


@dataclass(frozen=True, slots=True)
class Concentration:
    """One security in one client's collateral, exact."""

    symbol: str
    value_li: int  # every share held × valuation price
    base_li: int  # the client's collateral

    @property
    def share(self) -> Fraction | None:
        """value ÷ base; None: no collateral at all."""
        return share_of_collateral(self.value_li, self.base_li)


def share_of_collateral(value_li: int, base_li: int) -> Fraction | None:
    return Fraction(value_li, base_li) if base_li > 0 else None


def reaches_cap(value_li: int, base_li: int, cap_bp: int | None) -> bool:
    """The share reaches the cap ("达到" includes it): value × 10_000 ≥ cap × base."""
    return cap_bp is not None and base_li > 0 and value_li * RATIO_SCALE >= cap_bp * base_li


def collateral_base_li(account: margin.Account) -> int:
    """Cash (free and locked), every security at its valuation price, other collateral."""
    securities = sum(h.quantity * h.price_li for h in account.holdings)
    securities += sum(f.quantity * f.price_li for f in account.financing)
    return (account.cash_fen + account.other_collateral_fen) * LI_PER_FEN + securities


def account_concentrations(account: margin.Account) -> tuple[Concentration, ...]:
    """Every security of the account with its share, largest first (ties by symbol).  A
    financed part and a free part of the same security are one security."""
    values: dict[str, int] = {}
    positions: tuple[margin.Holding | margin.FinancedPosition, ...] = (
        *account.holdings,
        *account.financing,
    )
    for position in positions:
        value = position.quantity * position.price_li
        values[position.security] = values.get(position.security, 0) + value
    base = collateral_base_li(account)
    ranked = sorted(values.items(), key=lambda item: (-item[1], item[0]))
    return tuple(Concentration(symbol, value, base) for symbol, value in ranked)


def concentrations_reaching_caps(
    account: margin.Account,
    rule: ConcentrationRule,
    classes: Mapping[str, ConcentrationClass],
    agreed_cap_bp: int | None = None,
) -> tuple[Concentration, ...]:
    """The securities whose share reaches the cap that applies at the account's exact
    maintenance ratio (the stricter of the firm's tier and the client's agreed level)."""
    caps = rule.caps_for(margin.maintenance_ratio(account))
    return tuple(
        c
        for c in account_concentrations(account)
        if reaches_cap(
            c.value_li, c.base_li, effective_cap_bp(caps[classes[c.symbol]], agreed_cap_bp)
        )
    )
