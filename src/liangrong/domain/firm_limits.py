"""Firm-level limits of the margin business (RISK-11): dated inputs, exact evaluation of
every indicator with its warning levels, and the new business a binding limit blocks.

Sources.  CSRC Order 117 art. 20 (S2): the financing and lending amount may not exceed 4 ×
net capital.  The CSRC's risk-control indicators as S3 quotes them: one client's financing
and one client's lending each ≤ 5% of net capital; one collateral stock accepted ≤ 20% of its
total market value.  The firm's own indicators (S1 art. 52–53, S2 art. 36, S3 risk spec art.
7): total financing and total lending ÷ net capital (S3: 100%, 30%), one security's financing
and lending ÷ net capital, all clients' financed holdings and shorts of one security ÷ its
float (S3: 5%, 2%), one client ÷ the firm's financing or lending line, the totals ÷ those
lines and ÷ the board's cap on the business.  No number is written here: the regulator's
ceilings, the firm's limits and the net capital are dated values passed in.

Measures (units: fen, shares).  Financing is principal outstanding (融资余额); lending is
shares owed × valuation price (融券余额), rounded up to the fen by the caller, so an
exposure is never understated.  A security's collateral held is every share of it in all
clients' credit accounts (financed shares included); financed holdings are the shares backing
open financing.  The 20% rule compares shares with total shares (the price cancels) and
applies to stocks (担保股票) only.

Levels, exactly ("达到" includes the bound, "超过" excludes it; value v, limit L, warning
shares e ≤ w):  BREACH v > L;  REACHED v = L (no room left);  WARNING v ≥ w·L;
EARLY_WARNING v ≥ e·L;  OK below.  An order is refused when it would carry a value past
its limit: v + new > L, i.e. new > ⌊L⌋ − v (the room); a limit binds new business once its
room is 0: from REACHED on, and just below a limit that is not a whole fen or share.

Invariants:
- every decision compares integers (limits enter as exact ``Fraction``s and are compared
  through their numerators and denominators);
- ``evaluate`` returns one table row per indicator the rule keeps (the firm's value, or the
  worst subject's), every reading at EARLY_WARNING or above as an alert, and ``FirmBlocks``:
  the blocks with their readings and the room every limit leaves;
- ``FirmRoom`` is what the front-end checks read: the rooms less what accepted orders hold
  since the evaluation; the book mutates it only under its single writer (``hold`` /
  ``release``); the checks never write it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from enum import Enum
from fractions import Fraction
from types import MappingProxyType

from liangrong.domain.bilingual import Bilingual
from liangrong.domain.rule_book import NoRuleInForce
from liangrong.domain.rule_codes import RuleCode, Violation, percent_text, refuse_if_any
from liangrong.domain.versions import History


class Scope(Enum):
    FIRM = "firm"
    CLIENT = "client"
    SECURITY = "security"


class Business(Enum):
    """New business a binding limit can stop."""

    FINANCING = "financing"  # margin buys
    SHORTS = "shorts"  # short sales
    COLLATERAL_INTAKE = "collateral_intake"  # collateral buys, margin buys, transfers in


class Base(Enum):
    """What a limit is a share of."""

    NET_CAPITAL = "net_capital"
    FINANCING_LINE = "financing_line"  # the firm's total financing line (融资总额度)
    LENDING_LINE = "lending_line"  # the firm's total lending line (融券总额度)
    BUSINESS_CAP = "business_cap"  # the board's cap on the whole business (规模上限)
    TOTAL_SHARES = "total_shares"
    FLOAT_SHARES = "float_shares"


_F, _S, _I = Business.FINANCING, Business.SHORTS, Business.COLLATERAL_INTAKE


class Indicator(Bilingual):
    """A firm-level indicator.  Value: (zh, en, scope, base, business it binds)."""

    TOTAL_TO_NET_CAPITAL = (
        "融资融券金额/净资本", "financing and lending ÷ net capital",
        Scope.FIRM, Base.NET_CAPITAL, frozenset({_F, _S}),
    )  # fmt: skip
    FINANCING_TO_NET_CAPITAL = (
        "全体客户融资规模/净资本", "total financing ÷ net capital",
        Scope.FIRM, Base.NET_CAPITAL, frozenset({_F}),
    )  # fmt: skip
    LENDING_TO_NET_CAPITAL = (
        "全体客户融券规模/净资本", "total lending ÷ net capital",
        Scope.FIRM, Base.NET_CAPITAL, frozenset({_S}),
    )  # fmt: skip
    FINANCING_TO_LINE = (
        "全体客户融资规模/公司融资总额度", "total financing ÷ the firm's financing line",
        Scope.FIRM, Base.FINANCING_LINE, frozenset({_F}),
    )  # fmt: skip
    LENDING_TO_LINE = (
        "全体客户融券规模/公司融券总额度", "total lending ÷ the firm's lending line",
        Scope.FIRM, Base.LENDING_LINE, frozenset({_S}),
    )  # fmt: skip
    TOTAL_TO_BUSINESS_CAP = (
        "融资融券总规模/董事会规模上限", "financing and lending ÷ the board's cap",
        Scope.FIRM, Base.BUSINESS_CAP, frozenset({_F, _S}),
    )  # fmt: skip
    CLIENT_FINANCING_TO_NET_CAPITAL = (
        "单一客户融资规模/净资本", "one client's financing ÷ net capital",
        Scope.CLIENT, Base.NET_CAPITAL, frozenset({_F}),
    )  # fmt: skip
    CLIENT_LENDING_TO_NET_CAPITAL = (
        "单一客户融券规模/净资本", "one client's lending ÷ net capital",
        Scope.CLIENT, Base.NET_CAPITAL, frozenset({_S}),
    )  # fmt: skip
    CLIENT_FINANCING_TO_LINE = (
        "单一客户融资规模/公司融资总额度", "one client's financing ÷ the firm's financing line",
        Scope.CLIENT, Base.FINANCING_LINE, frozenset({_F}),
    )  # fmt: skip
    CLIENT_LENDING_TO_LINE = (
        "单一客户融券规模/公司融券总额度", "one client's lending ÷ the firm's lending line",
        Scope.CLIENT, Base.LENDING_LINE, frozenset({_S}),
    )  # fmt: skip
    SECURITY_TO_NET_CAPITAL = (
        "单一证券融资融券金额/净资本", "one security's financing and lending ÷ net capital",
        Scope.SECURITY, Base.NET_CAPITAL, frozenset({_F, _S}),
    )  # fmt: skip
    COLLATERAL_TO_TOTAL_SHARES = (
        "接受单只担保股票市值/该股票总市值", "one collateral stock held ÷ its total market value",
        Scope.SECURITY, Base.TOTAL_SHARES, frozenset({_I}),
    )  # fmt: skip
    FINANCED_TO_FLOAT = (
        "全体客户融资持仓/该证券流通股本", "all clients' financed holdings ÷ float",
        Scope.SECURITY, Base.FLOAT_SHARES, frozenset({_F}),
    )  # fmt: skip
    SHORTS_TO_FLOAT = (
        "全体客户融券余量/该证券流通股本", "all clients' shorts ÷ float",
        Scope.SECURITY, Base.FLOAT_SHARES, frozenset({_S}),
    )  # fmt: skip

    @property
    def scope(self) -> Scope:
        scope: Scope = self.value[2]
        return scope

    @property
    def base(self) -> Base:
        base: Base = self.value[3]
        return base

    @property
    def binds(self) -> frozenset[Business]:
        binds: frozenset[Business] = self.value[4]
        return binds


_LINE_OF = {
    Base.FINANCING_LINE: "financing_line_fen",
    Base.LENDING_LINE: "lending_line_fen",
    Base.BUSINESS_CAP: "business_cap_fen",
}
_OF_SHARES = (Base.TOTAL_SHARES, Base.FLOAT_SHARES)


# --------------------------------------------------------------------------- dated inputs


@dataclass(frozen=True, slots=True)
class FirmCapital:
    """The firm's net capital (净资本) as finance computes it; the version's effective date
    is the day it starts to bind, its source the report it comes from."""

    net_capital_fen: int

    def __post_init__(self) -> None:
        if self.net_capital_fen <= 0:
            refuse_if_any([_bad("net_capital_fen", str(self.net_capital_fen), "> 0")])


@dataclass(frozen=True, slots=True)
class WarningShares:
    """Shares of a limit at which a reading warns: early (预警) ≤ warning (警示) ≤ 1."""

    early: Fraction
    warning: Fraction

    def __post_init__(self) -> None:
        if not 0 < self.early <= self.warning <= 1:
            value = f"{percent_text(self.early)} / {percent_text(self.warning)}"
            refuse_if_any([_bad("warning_shares", value, "0 < early <= warning <= 100%")])


@dataclass(frozen=True, slots=True)
class FirmLimitRule:
    """The firm's limits: each kept indicator's limit as a share of its base (4 = 400% of net
    capital, 1/20 = 5%); the lines in fen; the warning shares, per indicator if set."""

    limits: Mapping[Indicator, Fraction]
    warnings: WarningShares
    warning_overrides: Mapping[Indicator, WarningShares] = field(default_factory=dict)
    financing_line_fen: int | None = None
    lending_line_fen: int | None = None
    business_cap_fen: int | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "limits", MappingProxyType(dict(self.limits)))
        overrides = MappingProxyType(dict(self.warning_overrides))
        object.__setattr__(self, "warning_overrides", overrides)
        refuse_if_any(check_firm_limit_rule(self))

    def warning_shares(self, indicator: Indicator) -> WarningShares:
        return self.warning_overrides.get(indicator, self.warnings)


def _bad(name: str, value: str, bound: str, on: date | None = None) -> Violation:
    return Violation(RuleCode.VALUE_OUT_OF_RANGE, name, value, bound, on)


def check_firm_limit_rule(rule: FirmLimitRule) -> list[Violation]:
    """A limit must be positive, a share of shares at most 100%, a line-based limit needs its
    line, and a warning override must belong to a kept indicator."""
    found = []
    for indicator, limit in sorted(rule.limits.items(), key=lambda item: item[0].name):
        name = f"limits.{indicator.name}"
        if limit <= 0 or (indicator.base in _OF_SHARES and limit > 1):
            cap = "(0, 100%]" if indicator.base in _OF_SHARES else "> 0"
            found.append(_bad(name, percent_text(limit), cap))
        line = _LINE_OF.get(indicator.base)
        if line is not None and not (getattr(rule, line) or 0) > 0:
            found.append(_bad(line, str(getattr(rule, line)), f"> 0 (needed by {name})"))
    found += [
        _bad(f"warning_overrides.{i.name}", "override", "a kept indicator")
        for i in rule.warning_overrides
        if i not in rule.limits
    ]
    return found


def check_against_regulator(
    rule: FirmLimitRule, ceilings: Mapping[Indicator, Fraction], on: date
) -> list[Violation]:
    """Every regulatory ceiling the firm's rule does not keep, or keeps looser (REF-5: the
    firm may be stricter, never looser); ``ceilings`` are the regulator's values on ``on``
    (e.g. 4 × net capital, 5% per client each way, 20% of a stock's total value)."""
    found = []
    for indicator, ceiling in sorted(ceilings.items(), key=lambda item: item[0].name):
        mine = rule.limits.get(indicator)
        if mine is None or mine > ceiling:
            value = "missing" if mine is None else percent_text(mine)
            found.append(_bad(f"limits.{indicator.name}", value, f"<= {percent_text(ceiling)}", on))
    return found


@dataclass(frozen=True, slots=True)
class FirmLimits:
    """The rule and the net capital in force on one day, with the versions they came from."""

    on: date
    rule: FirmLimitRule
    net_capital_fen: int
    capital_version: str
    rule_version: str

    def base_amount(self, indicator: Indicator) -> int:
        """The base of a money indicator, in fen."""
        if indicator.base is Base.NET_CAPITAL:
            return self.net_capital_fen
        amount: int = getattr(self.rule, _LINE_OF[indicator.base])
        return amount

    def limit_fen(self, indicator: Indicator) -> Fraction:
        return self.rule.limits[indicator] * self.base_amount(indicator)

    def kept(self, scope: Scope) -> tuple[Indicator, ...]:
        return tuple(i for i in Indicator if i in self.rule.limits and i.scope is scope)

    def client_watch_fen(self) -> int | None:
        """The smallest client value that reaches any client indicator's early warning: a
        client below it in both financing and lending is OK on every client indicator."""
        thresholds = [
            _thresholds(self.limit_fen(i), self.rule.warning_shares(i))[0]
            for i in self.kept(Scope.CLIENT)
        ]
        return min(thresholds) if thresholds else None


def limits_on(capital: History[FirmCapital], rules: History[FirmLimitRule], on: date) -> FirmLimits:
    """The limits in force on ``on``; ``NoRuleInForce`` before the first of either."""
    c, r = capital.version_at(on), rules.version_at(on)
    if c is None or r is None:
        raise NoRuleInForce(f"no {'net capital' if c is None else 'firm limit rule'} on {on}")
    return FirmLimits(on, r.value, c.value.net_capital_fen, c.version_id, r.version_id)


# --------------------------------------------------------------------------- exposures


@dataclass(frozen=True, slots=True)
class SecurityShares:
    """A security's share counts from the master (REF-1); the 20% rule is for stocks."""

    total_shares: int
    float_shares: int
    stock: bool


@dataclass(frozen=True, slots=True)
class ClientExposure:
    client_id: str
    financing_fen: int
    lending_fen: int


@dataclass(frozen=True, slots=True)
class SecurityExposure:
    symbol: str
    financing_fen: int  # principal outstanding of financing of this security
    lending_fen: int  # shares owed × valuation price, rounded up
    collateral_shares: int  # all clients' shares held in credit accounts, financed included
    financed_shares: int  # of which backing open financing
    short_shares: int  # shares owed on open shorts


@dataclass(frozen=True, slots=True)
class FirmExposures:
    """The book's totals; ``clients`` holds at least every client at or above
    ``FirmLimits.client_watch_fen`` (the others are OK on every client indicator)."""

    financing_fen: int
    lending_fen: int
    clients: tuple[ClientExposure, ...]
    securities: tuple[SecurityExposure, ...]


# --------------------------------------------------------------------------- evaluation


class Level(Enum):
    OK = 0
    EARLY_WARNING = 1  # 预警
    WARNING = 2  # 警示
    REACHED = 3  # at the limit: no room for new business
    BREACH = 4  # past the limit: a breach of the rule


@dataclass(frozen=True, slots=True)
class Reading:
    """One indicator for one subject ("" for the firm, a client id or a symbol)."""

    indicator: Indicator
    subject: str
    value: int  # fen or shares
    limit: Fraction  # in the same unit
    level: Level

    @property
    def usage(self) -> Fraction | None:
        """value ÷ limit; None when the limit is 0 (then every value reaches it)."""
        return Fraction(self.value) / self.limit if self.limit else None

    @property
    def room(self) -> int:
        """What new business may still add: ⌊limit⌋ − value, never below 0."""
        return max(self.limit.numerator // self.limit.denominator - self.value, 0)


def _thresholds(limit: Fraction, shares: WarningShares) -> tuple[int, int, int, int]:
    """(early, warning, reached, breach) as the least integer value at each level."""
    n, d = limit.numerator, limit.denominator

    def ceil_of(share: Fraction) -> int:
        return -(-share.numerator * n // (share.denominator * d))

    return ceil_of(shares.early), ceil_of(shares.warning), -(-n // d), n // d + 1


def _level(value: int, t: tuple[int, int, int, int]) -> Level:
    if value >= t[3]:
        return Level.BREACH
    if value >= t[2]:
        return Level.REACHED
    if value >= t[1]:
        return Level.WARNING
    return Level.EARLY_WARNING if value >= t[0] else Level.OK


@dataclass(frozen=True, slots=True)
class Block:
    """New business stopped: by which reading (its subject: the firm, a client, a symbol)."""

    business: Business
    reading: Reading


@dataclass(frozen=True, slots=True)
class Room:
    """How much more new business one limit allows (fen or shares), and which limit."""

    amount: int
    indicator: Indicator


@dataclass(frozen=True, slots=True)
class SecurityRoom:
    """The rooms of one security; None where the rule keeps no such limit."""

    financed_shares: int | None = None  # FINANCED_TO_FLOAT
    short_shares: int | None = None  # SHORTS_TO_FLOAT
    collateral_shares: int | None = None  # COLLATERAL_TO_TOTAL_SHARES (stocks)
    amount_fen: int | None = None  # SECURITY_TO_NET_CAPITAL: financing + lending


@dataclass(frozen=True, slots=True)
class FirmBlocks:
    """Which new business the firm's limits stop, why, and the room they leave.

    ``financing`` / ``lending``: the smallest room of the firm-wide limits on each (None: no
    such limit); ``client_financing_cap`` / ``client_lending_cap``: the most one client may
    owe each way (the smaller of the net-capital and the line limit); ``clients``: clients a
    limit already binds, by business; ``securities``: the room of every security given."""

    blocks: tuple[Block, ...]
    financing: Room | None
    lending: Room | None
    client_financing_cap: Room | None
    client_lending_cap: Room | None
    clients: Mapping[tuple[str, Business], Indicator]
    securities: Mapping[str, SecurityRoom]

    def blocked(self, business: Business) -> tuple[Block, ...]:
        return tuple(b for b in self.blocks if b.business is business)


@dataclass(frozen=True, slots=True)
class FirmEvaluation:
    limits: FirmLimits
    table: tuple[Reading, ...]  # per kept indicator: the firm's value or the worst subject's
    alerts: tuple[Reading, ...]  # every reading at EARLY_WARNING or above, worst first
    blocks: FirmBlocks

    def level_of(self, indicator: Indicator, subject: str = "") -> Level:
        """A subject's level: from the alerts, else OK (not reaching the early warning)."""
        for reading in (*self.alerts, *self.table):
            if reading.indicator is indicator and reading.subject == subject:
                return reading.level
        return Level.OK


def _usage_above(value: int, limit: Fraction, other_value: int, other_limit: Fraction) -> bool:
    """value ÷ limit > other_value ÷ other_limit, exactly; a zero limit is an infinite usage
    (every value reaches it), and two of them compare by value."""
    if not limit or not other_limit:
        return not limit and (bool(other_limit) or value > other_value)
    left = value * limit.denominator * other_limit.numerator
    return left > other_value * other_limit.denominator * limit.numerator


class _Tally:
    """Readings of one evaluation: the alerts, the worst per indicator, the blocks."""

    def __init__(self, limits: FirmLimits) -> None:
        self.limits = limits
        self.alerts: list[Reading] = []
        self.worst: dict[Indicator, Reading] = {}
        self.blocks: list[Block] = []

    def read(
        self, indicator: Indicator, subject: str, value: int, limit: Fraction
    ) -> tuple[Level, int]:
        """The reading's level and room (⌊limit⌋ − value, at least 0)."""
        n, d = limit.numerator, limit.denominator
        t = _thresholds(limit, self.limits.rule.warning_shares(indicator))
        level, room = _level(value, t), max(n // d - value, 0)
        worst = self.worst.get(indicator)
        above = worst is None or _usage_above(value, limit, worst.value, worst.limit)
        if level is not Level.OK or above or room == 0:
            reading = Reading(indicator, subject, value, limit, level)
            if above:
                self.worst[indicator] = reading
            if level is not Level.OK:
                self.alerts.append(reading)
            if room == 0:  # not one more fen or share fits: the limit binds new business
                self.blocks += [Block(business, reading) for business in indicator.binds]
        return level, room


def _firm_rooms(tally: _Tally, exposures: FirmExposures) -> list[Room]:
    total = exposures.financing_fen + exposures.lending_fen
    values = {
        Indicator.TOTAL_TO_NET_CAPITAL: total,
        Indicator.TOTAL_TO_BUSINESS_CAP: total,
        Indicator.FINANCING_TO_NET_CAPITAL: exposures.financing_fen,
        Indicator.FINANCING_TO_LINE: exposures.financing_fen,
        Indicator.LENDING_TO_NET_CAPITAL: exposures.lending_fen,
        Indicator.LENDING_TO_LINE: exposures.lending_fen,
    }
    limits = tally.limits
    return [
        Room(tally.read(i, "", values[i], limits.limit_fen(i))[1], i)
        for i in limits.kept(Scope.FIRM)
    ]


def _smallest(rooms: Iterable[Room], business: Business) -> Room | None:
    """The room of the tightest limit on ``business``; None: no limit binds it."""
    candidates = [r for r in rooms if business in r.indicator.binds]
    return min(candidates, key=lambda r: r.amount) if candidates else None


def _client_blocks(
    tally: _Tally, exposures: FirmExposures
) -> dict[tuple[str, Business], Indicator]:
    limits, blocked = tally.limits, dict[tuple[str, Business], Indicator]()
    for i in limits.kept(Scope.CLIENT):
        limit = limits.limit_fen(i)
        business = _F if _F in i.binds else _S
        for client in exposures.clients:
            value = client.financing_fen if business is _F else client.lending_fen
            if tally.read(i, client.client_id, value, limit)[1] == 0:
                blocked.setdefault((client.client_id, business), i)
    return blocked


def _client_cap(limits: FirmLimits, business: Business) -> Room | None:
    """The most one client may owe: ⌊limit⌋ of the tightest client limit on ``business``."""
    kept = limits.kept(Scope.CLIENT)
    return _smallest((Room(int(limits.limit_fen(i)), i) for i in kept), business)


_SHARE_MEASURES = {  # indicator -> (exposure field, share count field)
    Indicator.FINANCED_TO_FLOAT: ("financed_shares", "float_shares"),
    Indicator.SHORTS_TO_FLOAT: ("short_shares", "float_shares"),
    Indicator.COLLATERAL_TO_TOTAL_SHARES: ("collateral_shares", "total_shares"),
}
_NO_EXPOSURE = SecurityExposure("", 0, 0, 0, 0, 0)


def _security_room(
    tally: _Tally, e: SecurityExposure, symbol: str, counts: SecurityShares | None
) -> SecurityRoom:
    limits, room = tally.limits, {}
    if Indicator.SECURITY_TO_NET_CAPITAL in limits.rule.limits:
        limit = limits.limit_fen(Indicator.SECURITY_TO_NET_CAPITAL)
        value = e.financing_fen + e.lending_fen
        room["amount_fen"] = tally.read(Indicator.SECURITY_TO_NET_CAPITAL, symbol, value, limit)[1]
    for i, (measure, base) in _SHARE_MEASURES.items():
        share = limits.rule.limits.get(i)
        if share is None or counts is None or (base == "total_shares" and not counts.stock):
            continue
        limit = share * getattr(counts, base)
        room[measure] = tally.read(i, symbol, getattr(e, measure), limit)[1]
    return SecurityRoom(**room)


def evaluate(
    limits: FirmLimits, exposures: FirmExposures, shares: Mapping[str, SecurityShares]
) -> FirmEvaluation:
    """Every kept indicator against its limit, exactly.  ``shares`` gives the share counts of
    every security a room is wanted for (all the lists' securities: a margin buy of one the
    book does not hold yet still meets the float limits); a security without counts gets no
    share limit."""
    tally = _Tally(limits)
    rooms = _firm_rooms(tally, exposures)
    clients = _client_blocks(tally, exposures)
    exposed = {e.symbol: e for e in exposures.securities}
    securities = {
        symbol: _security_room(tally, exposed.get(symbol, _NO_EXPOSURE), symbol, shares.get(symbol))
        for symbol in sorted(set(shares) | set(exposed))
    }
    blocks = FirmBlocks(
        blocks=tuple(tally.blocks),
        financing=_smallest(rooms, _F),
        lending=_smallest(rooms, _S),
        client_financing_cap=_client_cap(limits, _F),
        client_lending_cap=_client_cap(limits, _S),
        clients=MappingProxyType(clients),
        securities=MappingProxyType(securities),
    )
    table = [tally.worst[i] for i in Indicator if i in tally.worst]
    table += [  # client and amount indicators nobody is exposed to: 0 against the limit
        Reading(i, "", 0, limits.limit_fen(i), Level.OK)
        for i in (*limits.kept(Scope.CLIENT), *limits.kept(Scope.SECURITY))
        if i not in tally.worst and i.base not in _OF_SHARES
    ]
    alerts = sorted(tally.alerts, key=lambda r: (-r.level.value, r.indicator.name, r.subject))
    return FirmEvaluation(limits, tuple(table), tuple(alerts), blocks)


# --------------------------------------------------------------------------- the checks' view


@dataclass(frozen=True, slots=True)
class FirmUse:
    """What one order or request adds to the firm's exposures while it is open."""

    symbol: str
    financing_fen: int = 0  # margin buy: amount + fees (the financing it reserves)
    lending_fen: int = 0  # short sale: its amount
    financed_shares: int = 0
    short_shares: int = 0
    intake_shares: int = 0  # shares the firm takes in as collateral

    @staticmethod
    def margin_buy(symbol: str, quantity: int, financing_fen: int) -> FirmUse:
        return FirmUse(symbol, financing_fen, 0, quantity, 0, quantity)

    @staticmethod
    def short_sale(symbol: str, quantity: int, amount_fen: int) -> FirmUse:
        return FirmUse(symbol, 0, amount_fen, 0, quantity, 0)

    @staticmethod
    def intake(symbol: str, quantity: int) -> FirmUse:
        """A collateral buy or a transfer in."""
        return FirmUse(symbol, intake_shares=quantity)


@dataclass(slots=True)
class _Held:
    financed_shares: int = 0
    short_shares: int = 0
    intake_shares: int = 0
    amount_fen: int = 0


_NOTHING_HELD = _Held()


@dataclass(slots=True)
class FirmRoom:
    """The rooms of ``blocks`` less what open orders hold: what the front-end checks read.

    ``check`` returns the indicator the order would carry past its limit, in the checks'
    order (client, then security, then the firm), or None.  The book calls ``hold`` when it
    accepts an order and ``release`` when it is cancelled or expires unfilled.  A filled part
    stays held until the next evaluation counts it in the exposures; that evaluation starts
    a fresh room (``firm_room``) holding only what is still open.  Repayments and sales free
    room only at the next evaluation too, so between two the room errs on the safe side."""

    blocks: FirmBlocks
    financing_fen: int = 0  # held by open orders
    lending_fen: int = 0
    held: dict[str, _Held] = field(default_factory=dict)

    def check(
        self,
        use: FirmUse,
        client_id: str,
        client_financing_used_fen: int = 0,
        client_lending_used_fen: int = 0,
    ) -> Indicator | None:
        """``client_*_used_fen``: the client's debt each way with what its open orders
        already reserved (``CreditLimits.financing_used_fen`` / ``short_used_fen``)."""
        b = self.blocks
        for business, new, used, cap in (
            (_F, use.financing_fen, client_financing_used_fen, b.client_financing_cap),
            (_S, use.lending_fen, client_lending_used_fen, b.client_lending_cap),
        ):
            if new:
                blocked = b.clients.get((client_id, business))
                if blocked is not None:
                    return blocked
                if cap is not None and used + new > cap.amount:
                    return cap.indicator
        found = self._security(use)
        if found is not None:
            return found
        for new, room, held in (
            (use.financing_fen, b.financing, self.financing_fen),
            (use.lending_fen, b.lending, self.lending_fen),
        ):
            if new and room is not None and new > room.amount - held:
                return room.indicator
        return None

    def _security(self, use: FirmUse) -> Indicator | None:
        room = self.blocks.securities.get(use.symbol)
        if room is None:
            return None
        held = self.held.get(use.symbol, _NOTHING_HELD)
        amount = use.financing_fen + use.lending_fen
        if amount and room.amount_fen is not None and amount > room.amount_fen - held.amount_fen:
            return Indicator.SECURITY_TO_NET_CAPITAL
        for new, left, used, indicator in (
            (use.intake_shares, room.collateral_shares, held.intake_shares,
             Indicator.COLLATERAL_TO_TOTAL_SHARES),
            (use.financed_shares, room.financed_shares, held.financed_shares,
             Indicator.FINANCED_TO_FLOAT),
            (use.short_shares, room.short_shares, held.short_shares, Indicator.SHORTS_TO_FLOAT),
        ):  # fmt: skip
            if new and left is not None and new > left - used:
                return indicator
        return None

    def hold(self, use: FirmUse, sign: int = 1) -> None:
        self.financing_fen += sign * use.financing_fen
        self.lending_fen += sign * use.lending_fen
        held = self.held.setdefault(use.symbol, _Held())
        held.financed_shares += sign * use.financed_shares
        held.short_shares += sign * use.short_shares
        held.intake_shares += sign * use.intake_shares
        held.amount_fen += sign * (use.financing_fen + use.lending_fen)

    def release(self, use: FirmUse) -> None:
        self.hold(use, -1)


def firm_room(blocks: FirmBlocks, open_uses: Iterable[FirmUse] = ()) -> FirmRoom:
    """A fresh room from an evaluation, holding what the orders still open hold."""
    room = FirmRoom(blocks)
    for use in open_uses:
        room.hold(use)
    return room
