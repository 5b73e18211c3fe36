"""Other collateral (其他担保物, RISK-9): property pledged outside the credit account.

What the rules say (SSE member guide ch. 5 §2; the firm's rules art. 76; RISK-8, RISK-9):
- a client below the minimum maintenance ratio may, with the firm's approval (经会员认可),
  pledge securities other than marginable ones, real estate, equity or other property as
  other collateral; the firm and the client may agree the ratio required after adding it;
- collateral (担保物) includes that other collateral and the maintenance ratio is the value
  of all collateral over the debt, so it counts in the maintenance ratio
  (``margin.total_assets``);
- it does not count in the available margin: 保证金可用余额 is cash, securities' value and
  floating profit after haircut less the margin used (guide ch. 5 §4;
  ``margin.available_margin`` leaves it out), nor in the 300% withdrawal ratio, which counts
  only cash and the credit securities account (``margin.cash_and_securities``);
- it may be released while the maintenance ratio exceeds (超过: strictly above) the agreed
  number, and only so far that the ratio after is not below (不得低于: at or above) it.  No
  debt: no ratio, the client may take everything back (as with a client who has closed
  every contract).

The agreed number is the ratio the client must restore after adding collateral, i.e. the
call target (``FirmPolicy.call_target``, a client's agreed ``call_target`` overriding it,
never below the warning line: ``rule_book.terms_for``); ``agreed_release_ratio`` reads it.

Invariants: amounts in integer fen, haircuts in basis points (折算率: the share of the
declared value that counts); the counted value rounds down (it is what the client may use);
every release decision compares exact ``Fraction``s; an item's history is an append-only
list of events (registered, revalued, released), and the items in force are their fold.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import date
from enum import Enum
from fractions import Fraction

from liangrong.domain import margin
from liangrong.domain.money import RATIO_SCALE, Rounding, ratio_text, round_fraction
from liangrong.domain.rejections import Rejection
from liangrong.domain.rule_book import RuleBook, terms_for


class CollateralKind(Enum):
    REAL_ESTATE = "real_estate"  # 不动产
    EQUITY = "equity"  # 股权
    UNLISTED_SECURITIES = "unlisted_securities"  # 其他证券: not marginable, e.g. unlisted
    OTHER = "other"  # other property or property rights that may lawfully secure a debt


class CollateralAction(Enum):
    REGISTERED = "registered"
    REVALUED = "revalued"  # a new appraisal: declared value and haircut replaced
    RELEASED = "released"  # 解除担保: no longer counts


class OtherCollateralCode(Enum):
    """Why an other-collateral command was refused.  Value: (zh, en) message templates."""

    MALFORMED = (
        "其他担保物记录不合规: {detail}",
        "the other-collateral record is malformed: {detail}",
    )
    ALREADY_REGISTERED = (
        "其他担保物编号已登记: {detail}",
        "other collateral with this id is already registered: {detail}",
    )
    NOT_IN_FORCE = (
        "其他担保物不存在或已解除担保: {detail}",
        "no such other collateral in force for this client: {detail}",
    )
    RATIO_NOT_ABOVE_AGREED = (
        "维持担保比例未超过约定比例, 不得解除其他担保物: {detail}",
        "the maintenance ratio is not above the agreed ratio: other collateral stays: {detail}",
    )
    RATIO_BELOW_AGREED_AFTER = (
        "解除担保后维持担保比例将低于约定比例: {detail}",
        "the maintenance ratio after the release would be below the agreed ratio: {detail}",
    )


@dataclass(frozen=True, slots=True)
class CollateralEvent:
    """One approved step in an item's life; registration and revaluation carry the value."""

    collateral_id: str
    client_id: str
    action: CollateralAction
    effective: date
    approver: str  # who approved it
    approved_on: date
    source: str  # the approval record: appraisal report, committee minute
    kind: CollateralKind | None = None  # registration only
    description: str = ""
    declared_value_fen: int | None = None  # registration and revaluation: the appraisal
    haircut_bp: int | None = None  # registration and revaluation: the share that counts


@dataclass(frozen=True, slots=True)
class OtherCollateral:
    """An item in force: its latest appraisal and who approved it."""

    collateral_id: str
    client_id: str
    kind: CollateralKind
    description: str
    declared_value_fen: int
    haircut_bp: int
    approver: str  # of the latest registration or revaluation
    approved_on: date
    registered_on: date
    valued_on: date  # effective date of the latest appraisal

    @property
    def counted_value_fen(self) -> int:
        """Declared value × haircut, rounded down: the value the maintenance ratio counts."""
        return self.declared_value_fen * self.haircut_bp // RATIO_SCALE


def _malformed(event: CollateralEvent) -> str | None:
    """What is wrong with the event on its own, or None."""
    if not event.collateral_id or not event.client_id:
        return "collateral id and client id are required"
    if not event.approver.strip():
        return "an approver is required"
    if event.approved_on > event.effective:
        return "approved after it took effect"
    valued = event.action is not CollateralAction.RELEASED
    if (event.kind is not None) != (event.action is CollateralAction.REGISTERED):
        return "a kind belongs to a registration only"
    has_value = event.declared_value_fen is not None and event.haircut_bp is not None
    if valued != has_value or (event.declared_value_fen is None) != (event.haircut_bp is None):
        return "a registration or revaluation carries a value and a haircut, a release none"
    if event.declared_value_fen is not None and event.declared_value_fen <= 0:
        return f"declared value {event.declared_value_fen} fen is not positive"
    if event.haircut_bp is not None and not 0 <= event.haircut_bp <= RATIO_SCALE:
        return f"haircut {event.haircut_bp} bp is outside [0, {RATIO_SCALE}]"
    return None


def _step(items: dict[str, OtherCollateral], event: CollateralEvent) -> None:
    problem = _malformed(event)
    if problem is not None:
        raise Rejection(OtherCollateralCode.MALFORMED, f"{event.collateral_id}: {problem}")
    current = items.get(event.collateral_id)
    if event.action is CollateralAction.REGISTERED:
        if current is not None:
            raise Rejection(OtherCollateralCode.ALREADY_REGISTERED, event.collateral_id)
        assert event.kind is not None and event.declared_value_fen is not None
        assert event.haircut_bp is not None
        items[event.collateral_id] = OtherCollateral(
            event.collateral_id,
            event.client_id,
            event.kind,
            event.description,
            event.declared_value_fen,
            event.haircut_bp,
            event.approver,
            event.approved_on,
            event.effective,
            event.effective,
        )
        return
    if current is None or current.client_id != event.client_id:
        detail = f"{event.client_id}/{event.collateral_id}"
        raise Rejection(OtherCollateralCode.NOT_IN_FORCE, detail)
    if event.action is CollateralAction.RELEASED:
        del items[event.collateral_id]
        return
    assert event.declared_value_fen is not None and event.haircut_bp is not None
    items[event.collateral_id] = replace(
        current,
        description=event.description or current.description,
        declared_value_fen=event.declared_value_fen,
        haircut_bp=event.haircut_bp,
        approver=event.approver,
        approved_on=event.approved_on,
        valued_on=event.effective,
    )


def in_force(
    events: Iterable[CollateralEvent], on: date | None = None
) -> dict[str, OtherCollateral]:
    """The items in force on ``on`` (None: after every event), by collateral id.

    Events apply in (effective date, given order): the given order is the record order.
    One that contradicts those before it is refused with a ``Rejection``."""
    ordered = sorted(enumerate(events), key=lambda pair: (pair[1].effective, pair[0]))
    items: dict[str, OtherCollateral] = {}
    for _, event in ordered:
        if on is not None and event.effective > on:
            break
        _step(items, event)
    return items


def by_client(items: Mapping[str, OtherCollateral]) -> dict[str, tuple[OtherCollateral, ...]]:
    """Items grouped per client, each group in collateral-id order."""
    grouped: dict[str, list[OtherCollateral]] = {}
    for item in sorted(items.values(), key=lambda i: i.collateral_id):
        grouped.setdefault(item.client_id, []).append(item)
    return {client: tuple(group) for client, group in grouped.items()}


def counted_total(items: Iterable[OtherCollateral]) -> int:
    """The other-collateral value an account counts (``Account.other_collateral_fen``)."""
    return sum(item.counted_value_fen for item in items)


# --- release (RISK-8, RISK-9) -------------------------------------------------------------


def agreed_release_ratio(book: RuleBook, client_id: str, on: date) -> Fraction:
    """The agreed ratio a release must keep: the client's call target in force on ``on``."""
    return terms_for(book, client_id, on).call_target


@dataclass(frozen=True, slots=True)
class ReleaseCheck:
    """A release decision with the exact ratios it compared; ``refusal`` None: allowed."""

    released_fen: int
    agreed_ratio: Fraction
    ratio_before: Fraction | None  # None: no debt
    ratio_after: Fraction | None
    refusal: OtherCollateralCode | None

    @property
    def allowed(self) -> bool:
        return self.refusal is None

    def rejection(self) -> Rejection:
        """The refusal as a ``Rejection`` with the ratios in its detail."""
        if self.refusal is None:
            raise ValueError("the release is allowed")
        before = "-" if self.ratio_before is None else ratio_text(self.ratio_before)
        after = "-" if self.ratio_after is None else ratio_text(self.ratio_after)
        agreed = ratio_text(self.agreed_ratio)
        return Rejection(self.refusal, f"{before} -> {after} / {agreed}")


def check_release(
    account: margin.Account, released_fen: int, agreed_ratio: Fraction
) -> ReleaseCheck:
    """May other collateral counted at ``released_fen`` leave ``account``?

    Allowed when there is no debt; else only while the ratio is strictly above the agreed
    ratio and stays at or above it after the release."""
    if not 0 < released_fen <= account.other_collateral_fen:
        raise ValueError(
            f"release {released_fen} fen of {account.other_collateral_fen} fen counted"
        )
    after_account = replace(
        account, other_collateral_fen=account.other_collateral_fen - released_fen
    )
    before, after = margin.maintenance_ratio(account), margin.maintenance_ratio(after_account)
    refusal = None
    if before is not None and after is not None:
        if before <= agreed_ratio:
            refusal = OtherCollateralCode.RATIO_NOT_ABOVE_AGREED
        elif after < agreed_ratio:
            refusal = OtherCollateralCode.RATIO_BELOW_AGREED_AFTER
    return ReleaseCheck(released_fen, agreed_ratio, before, after, refusal)


def max_releasable_fen(account: margin.Account, agreed_ratio: Fraction) -> int:
    """The most counted value a release may take, in whole fen (rounded down)."""
    debt = margin.total_debt(account)
    if debt == 0:
        return account.other_collateral_fen
    surplus = margin.total_assets(account) - agreed_ratio * debt
    if surplus <= 0:
        return 0
    return min(account.other_collateral_fen, round_fraction(surplus, Rounding.DOWN))
