"""Fair values (公允价格) of securities the market price does not value (RISK-2).

SSE member guide ch. 5 §2: a security in a credit account that is removed from the
collateral list, suspended, under risk warning, or in transit from a rights event (在途证券)
may be valued, as agreed with the client, at a fair price or by another pricing method when
the maintenance ratio is computed.  So the rule is named in the client's agreement
(``ClientAgreement.fair_value_rule``), else the firm's (``FirmPolicy.fair_value_rule``).

The named rules:
- ``LAST_CLOSE``: the reference close itself;
- ``INDEX_MOVED``: reference close × index level now ÷ index level on the reference close's
  day, rounded half up to the li (``ROUNDING``): the close moved as its index moved since.

The reference close is the last close before the suspension (a suspended security has no
later one), for a security that still trades the previous close, and for shares in transit
the close of the listed security they will become (the caller picks it).

Invariants: pure and exact (prices integer li, index levels exact ``Fraction``s; one
rounding, by a named rule, at the end); every ``FairValue`` carries its rule and the
inputs it was computed from, so the figure can be shown with the rule beside it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from enum import Enum
from fractions import Fraction

from liangrong.domain.money import Rounding, round_fraction
from liangrong.domain.securities import Status


class FairValueRule(Enum):
    """How a security needing a fair value is valued; the value is the stored name."""

    LAST_CLOSE = "last_close"  # the reference close
    INDEX_MOVED = "index_moved"  # the reference close moved by its index since that day


class FairValueReason(Enum):
    """Why a security needs a fair value (SSE member guide ch. 5 §2)."""

    SUSPENDED = "suspended"  # 被暂停交易
    RISK_WARNING = "risk_warning"  # 被实施风险警示
    OFF_COLLATERAL_LIST = "off_collateral_list"  # 被调出可充抵保证金证券范围
    RIGHTS_IN_TRANSIT = "rights_in_transit"  # 因权益处理等产生尚未到账的在途证券


ROUNDING = Rounding.HALF_UP  # a price, neither owed nor paid: to the nearest li

# A delisted security trades no more: like a suspended one it has no market price.  A
# security in the delisting period (退市整理期) trades under risk warning.
_STATUS_REASONS = {
    Status.SUSPENDED: FairValueReason.SUSPENDED,
    Status.DELISTED: FairValueReason.SUSPENDED,
    Status.RISK_WARNING: FairValueReason.RISK_WARNING,
    Status.DELISTING_PERIOD: FairValueReason.RISK_WARNING,
}


class FairValueError(ValueError):
    """The inputs a rule needs are missing or invalid (a data problem, named)."""


def reasons_for(
    status: Status, *, removed_from_list: bool = False, in_transit: bool = False
) -> frozenset[FairValueReason]:
    """Every reason a security needs a fair value; empty: the market price values it."""
    found = {_STATUS_REASONS[status]} if status in _STATUS_REASONS else set()
    if removed_from_list:
        found.add(FairValueReason.OFF_COLLATERAL_LIST)
    if in_transit:
        found.add(FairValueReason.RIGHTS_IN_TRANSIT)
    return frozenset(found)


def rule_in_force(agreed: FairValueRule | None, firm: FairValueRule) -> FairValueRule:
    """The client's agreed rule, else the firm's."""
    return firm if agreed is None else agreed


@dataclass(frozen=True, slots=True)
class ReferenceClose:
    """The close a rule starts from, and the index levels ``INDEX_MOVED`` reads.

    ``index_at_close`` is the index level on ``close_day``; ``index_now`` the level at the
    valuation (None when the rule in force does not need them)."""

    close_li: int
    close_day: date
    index_at_close: Fraction | None = None
    index_now: Fraction | None = None


@dataclass(frozen=True, slots=True)
class FairValue:
    """A security's fair value with the rule that gave it and what the rule read."""

    symbol: str
    price_li: int
    rule: FairValueRule
    reasons: frozenset[FairValueReason]
    reference: ReferenceClose
    exact_li: Fraction  # before rounding

    @property
    def rule_name(self) -> str:
        """The name recorded beside the figure (``BookArrays.set_valuation``'s ``rule``)."""
        return self.rule.value


def _index_moved(reference: ReferenceClose) -> Fraction:
    then, now = reference.index_at_close, reference.index_now
    if then is None or now is None:
        raise FairValueError(f"index levels on {reference.close_day} and now are needed")
    if then <= 0 or now <= 0:
        raise FairValueError("index levels must be positive")
    return reference.close_li * now / then


def fair_value(
    symbol: str,
    reasons: frozenset[FairValueReason],
    rule: FairValueRule,
    reference: ReferenceClose,
    rounding: Rounding = ROUNDING,
) -> FairValue:
    """The value of ``symbol`` under ``rule``; ``reasons`` must not be empty."""
    if not reasons:
        raise FairValueError(f"{symbol} needs no fair value: the market price values it")
    if reference.close_li <= 0:
        raise FairValueError(f"{symbol}: the reference close must be positive")
    if rule is FairValueRule.LAST_CLOSE:
        exact = Fraction(reference.close_li)
    else:
        exact = _index_moved(reference)
    price = round_fraction(exact, rounding)
    if price <= 0:  # only a close of a few li and an index fallen to a tenth of it
        raise FairValueError(f"{symbol}: the fair value {exact} li rounds to no price")
    return FairValue(symbol, price, rule, reasons, reference, exact)
