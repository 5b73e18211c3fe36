"""The rule book: the three dated layers together, and the readings taken from it.

Invariants:
- each layer is an append-only ``History`` (``liangrong.domain.versions``);
- a firm or client version is refused on load (``RuleRefused``: enumerated codes, messages
  in Chinese and English) when any of its values is looser than the exchange value in force
  on any day of its period *as known when loading*: an open-ended version must also satisfy
  every exchange version already announced after its effective date;
- an exchange version may tighten a floor after firm or client values were loaded (the
  financing floor rising 80% -> 100% on 2026-01-14): every reading takes the stricter of the
  layers and reports the value it overrode, so nothing runs looser than the exchange rule in
  force that day;
- every reading names the versions it was taken under (``RuleVersion``), which a contract
  keeps for its life.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date
from enum import Enum
from fractions import Fraction
from types import MappingProxyType
from typing import TypeVar

from liangrong.domain.contracts import ContractKind
from liangrong.domain.parameters import (
    ClientAgreement,
    ExchangeRules,
    FirmPolicy,
    Lines,
    SecurityMarginRatios,
    check_client_agreement,
    check_exchange_rules,
    check_firm_policy,
    exchange_floor,
)
from liangrong.domain.rule_codes import RuleCode, Violation, refuse_if_any
from liangrong.domain.versions import History, Version

P = TypeVar("P")
N = TypeVar("N", Fraction, int)


class NoRuleInForce(LookupError):
    """Asked for a layer's value before its first version: a caller's error."""


@dataclass(frozen=True, slots=True)
class RuleBook:
    """The three layers.  Load through ``with_*``, which refuse looser or invalid values."""

    exchange: History[ExchangeRules] = field(default_factory=History)
    firm: History[FirmPolicy] = field(default_factory=History)
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
