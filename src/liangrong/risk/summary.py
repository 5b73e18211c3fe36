"""Risk classification of the credit accounts and the daily risk summary (RISK-13, with the
concentrations of RISK-10 and the firm indicators of RISK-11).

Classes.  The five-grade classification banks and brokers use for credit assets (S1 art. 18
asks the margin department to classify the credit accounts; S1 art. 23 has the risk
department analyse high-risk accounts, bad debts and concentration), placed by what says
how likely the firm's claim is to be paid back:

- LOSS (损失类): an open recovery case: liquidation left debt no asset covers (bad debt);
- DOUBTFUL (可疑类): assets below debt (maintenance ratio below 100%, "穿仓"): even a full
  liquidation would not repay the firm;
- SUBSTANDARD (次级类): below the liquidation line (RISK-6: restricted, called or in
  liquidation) while assets still cover the debt;
- ATTENTION (关注类): below the attention or warning line, or with debt and one security's
  share of the collateral at or above the cap the firm's tiered rule sets at the account's
  ratio (RISK-10: one price move away from the lines);
- NORMAL (正常类): everything else, every account without debt included.
The worst that applies wins.  Every placement is exact: statuses compare assets × den with
line × debt in integers (a ratio at a line is not below it), and concentration compares
value × 10_000 with cap × base, as the front-end check does.

The summary (plain dataclasses; rendering is the CLI's): accounts, counts and debt by status
and by class, the top concentrations of clients with debt (one security's share of the
client's collateral, ranked by share then value) and of securities across all clients (one
security's share of all clients' securities), the firm indicator table and its alerts,
bad debts.  Debt per row is summed in li and rounded up to the fen once.

Invariant: everything is computed from one ``BookExposure`` (one book version and price
time, which the summary carries), so its parts never mix two states of the book.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from enum import Enum
from fractions import Fraction

import numpy as np
import numpy.typing as npt

from liangrong.domain import margin
from liangrong.domain.concentration import (
    UNCAPPED_BP,
    ConcentrationClass,
    ConcentrationRule,
    check_limit_bp,
)
from liangrong.domain.firm_limits import FirmEvaluation, FirmLimits, SecurityShares, evaluate
from liangrong.domain.liquidation import RecoveryCase
from liangrong.domain.margin import RatioStatus
from liangrong.domain.money import LI_PER_FEN, RATIO_SCALE
from liangrong.risk.book_arrays import BookArrays
from liangrong.risk.columns import IntArray
from liangrong.risk.exposure import BookExposure, book_exposure, firm_exposures, int_sum_by
from liangrong.risk.statuses import LEVELS

Small = npt.NDArray[np.int8]
Flags = npt.NDArray[np.bool_]
_INT64_SAFE = 2**62


class RiskClass(Enum):
    """Value: (rank, zh, en); a higher rank is worse."""

    NORMAL = (0, "正常类", "normal")
    ATTENTION = (1, "关注类", "attention")
    SUBSTANDARD = (2, "次级类", "substandard")
    DOUBTFUL = (3, "可疑类", "doubtful")
    LOSS = (4, "损失类", "loss")

    @property
    def zh(self) -> str:
        return str(self.value[1])

    @property
    def en(self) -> str:
        return str(self.value[2])


CLASSES = tuple(RiskClass)
# Indices into ``statuses.LEVELS`` and ``CLASSES``, for the vectorised placements.
_ATTENTION, _WARNING, _LIQUIDATION, _EMERGENCY = (
    LEVELS.index(s)
    for s in (
        RatioStatus.ATTENTION,
        RatioStatus.WARNING,
        RatioStatus.LIQUIDATION,
        RatioStatus.EMERGENCY,
    )
)
_C_ATTENTION, _C_SUBSTANDARD, _C_DOUBTFUL, _C_LOSS = (
    CLASSES.index(c)
    for c in (RiskClass.ATTENTION, RiskClass.SUBSTANDARD, RiskClass.DOUBTFUL, RiskClass.LOSS)
)


@dataclass(frozen=True, slots=True)
class BadDebt:
    """A client's recovery case (RISK-7): the debt liquidation left uncovered."""

    client_id: str
    shortfall_fen: int
    provisional: bool = False  # positions remain (blocked today): the shortfall may change

    @staticmethod
    def of(case: RecoveryCase) -> BadDebt:
        return BadDebt(case.client_id, case.shortfall_fen, case.positions_left)


@dataclass(frozen=True, slots=True)
class Classification:
    """Per account (the arrays' account index): exact status level (``statuses.LEVELS``),
    risk class (index into ``CLASSES``) and whether a security reaches its cap."""

    status: Small
    risk_class: Small
    concentrated: Flags
    assets_li: IntArray
    debt_li: IntArray
    slot_cap_bp: IntArray  # per held slot of the exposure: its cap (``UNCAPPED_BP``: none)

    def class_of(self, account: int) -> RiskClass:
        return CLASSES[int(self.risk_class[account])]

    def status_of(self, account: int) -> RatioStatus:
        return LEVELS[int(self.status[account])]


@dataclass(frozen=True, slots=True)
class GroupRow:
    """Accounts in one status or class and their debt (rounded up to the fen)."""

    group: RatioStatus | RiskClass
    accounts: int
    debt_fen: int


@dataclass(frozen=True, slots=True)
class ClientConcentration:
    client_id: str
    symbol: str
    value_li: int
    base_li: int  # the client's collateral
    cap_bp: int | None  # the cap at the account's ratio; None: uncapped

    @property
    def share(self) -> Fraction:
        return Fraction(self.value_li, self.base_li)

    @property
    def reaches_cap(self) -> bool:
        return self.cap_bp is not None and self.value_li * RATIO_SCALE >= self.cap_bp * self.base_li


@dataclass(frozen=True, slots=True)
class SecurityConcentration:
    symbol: str
    value_li: int  # all clients' shares × price
    total_li: int  # all clients' securities

    @property
    def share(self) -> Fraction:
        return Fraction(self.value_li, self.total_li)


@dataclass(frozen=True, slots=True)
class RiskSummary:
    on: date
    prices_at: datetime | None
    version: int
    accounts: int
    accounts_with_debt: int
    by_status: tuple[GroupRow, ...]  # every status, in ``statuses.LEVELS`` order
    by_class: tuple[GroupRow, ...]  # every class, NORMAL first
    client_concentrations: tuple[ClientConcentration, ...]
    security_concentrations: tuple[SecurityConcentration, ...]
    firm: FirmEvaluation | None
    bad_debts: tuple[BadDebt, ...]  # largest shortfall first
    bad_debt_fen: int


# --------------------------------------------------------------------------- exact compares


def _times(values: IntArray, factor: int) -> IntArray:
    """values × factor in int64, refused where it could overflow."""
    if len(values) and float(np.abs(values).max()) * abs(factor) >= _INT64_SAFE:
        raise OverflowError("the book's figures are too large for an exact comparison")
    product: IntArray = values * factor
    return product


def _reaches(assets: IntArray, debt: IntArray, ratio: Fraction) -> Flags:
    """assets ÷ debt ≥ ratio, exactly (debt > 0 where it matters: callers mask)."""
    reached: Flags = _times(assets, ratio.denominator) >= _times(debt, ratio.numerator)
    return reached


def status_levels(assets: IntArray, debt: IntArray, lines: margin.Lines) -> Small:
    """The lowest line the ratio is strictly below, as a ``statuses.LEVELS`` index; SAFE
    without debt (``margin.ratio_status``, vectorised)."""
    level = np.zeros(len(debt), dtype=np.int8)
    has_debt = debt > 0
    for code, line in (
        (_ATTENTION, lines.attention),
        (_WARNING, lines.warning),
        (_LIQUIDATION, lines.liquidation),
        (_EMERGENCY, lines.emergency),
    ):  # each line lies below the one before, so a lower line overwrites a higher one
        if line is not None:
            level[has_debt & ~_reaches(assets, debt, line)] = code
    return level


def _statuses(
    exposure: BookExposure, firm_lines: margin.Lines, client_lines: Mapping[str, margin.Lines]
) -> Small:
    assets, debt = exposure.assets_li, exposure.debt_li
    level = status_levels(assets, debt, firm_lines)
    for a in _accounts_of(exposure, client_lines):
        lines = client_lines[exposure.client_ids[a]]
        level[a] = status_levels(assets[a : a + 1], debt[a : a + 1], lines)[0]
    return level


def _accounts_of(exposure: BookExposure, clients: Iterable[str]) -> list[int]:
    """The account indices of those clients the book has (a dict only when asked)."""
    wanted = set(clients)
    if not wanted:
        return []
    return [a for a, client in enumerate(exposure.client_ids) if client in wanted]


def _tiers(assets: IntArray, debt: IntArray, rule: ConcentrationRule) -> Small:
    """Each account's tier index; no debt: the top tier."""
    tier = np.zeros(len(debt), dtype=np.int8)
    for tier_rule in rule.tiers[1:]:
        tier += _reaches(assets, debt, tier_rule.from_ratio)
    tier[debt <= 0] = len(rule.tiers) - 1
    return tier


def _slot_caps(
    exposure: BookExposure,
    tier: Small,
    rule: ConcentrationRule,
    classes: Mapping[str, ConcentrationClass],
    agreed_caps_bp: Mapping[str, int],
) -> IntArray:
    """The cap (bp; ``UNCAPPED_BP`` for none) of every held slot at its account's tier."""
    order = list(ConcentrationClass)
    present = np.bincount(exposure.slot_security, minlength=len(exposure.symbols))
    held = np.flatnonzero(present).tolist()
    missing = sorted(exposure.symbols[s] for s in held if exposure.symbols[s] not in classes)
    if missing:
        raise ValueError(f"no concentration class for {missing[:5]}")
    security_class = np.zeros(len(exposure.symbols), dtype=np.intp)
    for s in held:
        security_class[s] = order.index(classes[exposure.symbols[s]])
    table = np.asarray(
        [[check_limit_bp(t.caps_bp[c]) for c in order] for t in rule.tiers], dtype=np.int64
    )
    caps = table[tier[exposure.slot_account], security_class[exposure.slot_security]]
    if agreed_caps_bp:
        agreed = np.full(len(exposure.client_ids), UNCAPPED_BP, dtype=np.int64)
        for a in _accounts_of(exposure, agreed_caps_bp):
            agreed[a] = agreed_caps_bp[exposure.client_ids[a]]
        caps = np.minimum(caps, agreed[exposure.slot_account])
    capped: IntArray = caps
    return capped


def _reaching(exposure: BookExposure, caps: IntArray, assets: IntArray) -> Flags:
    """Per held slot: its value reaches its cap of the account's collateral, which is the
    maintenance ratio's assets: cash, other collateral and every security (li)."""
    base = assets[exposure.slot_account]
    if len(caps) and float(base.max()) * UNCAPPED_BP >= _INT64_SAFE:
        raise OverflowError("an account's collateral is too large for an exact comparison")
    reaching: Flags = (base > 0) & (_times(exposure.slot_value_li, RATIO_SCALE) >= caps * base)
    return reaching


def classify(
    exposure: BookExposure,
    firm_lines: margin.Lines,
    rule: ConcentrationRule,
    classes: Mapping[str, ConcentrationClass],
    *,
    client_lines: Mapping[str, margin.Lines] | None = None,
    agreed_caps_bp: Mapping[str, int] | None = None,
    bad_debt_clients: Iterable[str] = (),
) -> Classification:
    """Status, class and concentration of every account; see the module for the classes."""
    assets, debt = exposure.assets_li, exposure.debt_li
    status = _statuses(exposure, firm_lines, client_lines or {})
    tier = _tiers(assets, debt, rule)
    caps = _slot_caps(exposure, tier, rule, classes, agreed_caps_bp or {})
    has_debt = debt > 0
    concentrated = np.zeros(len(debt), dtype=bool)
    concentrated[exposure.slot_account[_reaching(exposure, caps, assets)]] = True
    concentrated &= has_debt
    risk_class = np.zeros(len(debt), dtype=np.int8)  # NORMAL; then each worse class over it
    risk_class[(status == _ATTENTION) | (status == _WARNING) | concentrated] = _C_ATTENTION
    risk_class[status >= _LIQUIDATION] = _C_SUBSTANDARD
    risk_class[has_debt & (assets < debt)] = _C_DOUBTFUL
    losses = np.asarray(_accounts_of(exposure, bad_debt_clients), dtype=np.intp)
    risk_class[losses] = _C_LOSS
    return Classification(status, risk_class, concentrated, assets, debt, caps)


# --------------------------------------------------------------------------- the summary


def _rows(
    groups: Sequence[RatioStatus | RiskClass], key: Small, debt_li: IntArray
) -> tuple[GroupRow, ...]:
    index = key.astype(np.intp)
    counts = np.bincount(index, minlength=len(groups))
    debts = int_sum_by(index, debt_li, len(groups))
    return tuple(
        GroupRow(g, int(counts[i]), -(-int(debts[i]) // LI_PER_FEN)) for i, g in enumerate(groups)
    )


def _top_clients(
    exposure: BookExposure, found: Classification, top: int
) -> tuple[ClientConcentration, ...]:
    """The ``top`` largest shares among clients with debt, ties by value.  Floats choose a
    few candidates in linear time, exact fractions order them (a near-tie closer than float
    precision at the cut could change who is listed; no decision rests on it)."""
    base, caps, owner = found.assets_li, found.slot_cap_bp, exposure.slot_account
    slots = np.flatnonzero((found.debt_li[owner] > 0) & (base[owner] > 0))
    if top <= 0 or len(slots) == 0:
        return ()
    value = exposure.slot_value_li[slots]
    share = value / base[owner[slots]]
    k = min(4 * top, len(slots))
    cut = np.partition(share, len(share) - k)[len(share) - k]  # the k-th largest share
    above, tied = np.flatnonzero(share > cut), np.flatnonzero(share == cut)
    need = k - len(above)
    if len(tied) > need:  # many equal shares (e.g. all-in accounts at 100%): the largest
        tied = tied[np.argpartition(-value[tied], need - 1)[:need]]
    candidates = slots[np.concatenate([above, tied])]
    rows = [
        ClientConcentration(
            exposure.client_ids[int(owner[s])],
            exposure.symbols[int(exposure.slot_security[s])],
            int(exposure.slot_value_li[s]),
            int(base[owner[s]]),
            None if int(caps[s]) == UNCAPPED_BP else int(caps[s]),
        )
        for s in candidates.tolist()
    ]
    rows.sort(key=lambda r: (-r.share, -r.value_li, r.client_id, r.symbol))
    return tuple(rows[:top])


def _top_securities(exposure: BookExposure, top: int) -> tuple[SecurityConcentration, ...]:
    value = exposure.held_value_li
    total = sum(value.tolist())
    if total == 0 or top <= 0:
        return ()
    order = np.lexsort((np.arange(len(value)), -value))[:top]
    return tuple(
        SecurityConcentration(exposure.symbols[s], int(value[s]), total)
        for s in order.tolist()
        if value[s] > 0
    )


def daily_summary(
    book: BookArrays,
    *,
    on: date,
    firm_lines: margin.Lines,
    concentration: ConcentrationRule,
    classes: Mapping[str, ConcentrationClass],
    client_lines: Mapping[str, margin.Lines] | None = None,
    agreed_caps_bp: Mapping[str, int] | None = None,
    firm_limits: FirmLimits | None = None,
    shares: Mapping[str, SecurityShares] | None = None,
    bad_debts: Iterable[BadDebt] = (),
    top: int = 10,
) -> RiskSummary:
    """The day's risk summary of the book at its current prices (see the module)."""
    exposure = book_exposure(book)
    debts = tuple(sorted(bad_debts, key=lambda d: (-d.shortfall_fen, d.client_id)))
    found = classify(
        exposure,
        firm_lines,
        concentration,
        classes,
        client_lines=client_lines,
        agreed_caps_bp=agreed_caps_bp,
        bad_debt_clients=[d.client_id for d in debts],
    )
    firm = None
    if firm_limits is not None:
        watch = firm_limits.client_watch_fen()
        firm = evaluate(firm_limits, firm_exposures(exposure, watch, top), shares or {})
    return RiskSummary(
        on=on,
        prices_at=exposure.prices_at,
        version=exposure.version,
        accounts=len(found.debt_li),
        accounts_with_debt=int(np.count_nonzero(found.debt_li > 0)),
        by_status=_rows(LEVELS, found.status, found.debt_li),
        by_class=_rows(CLASSES, found.risk_class, found.debt_li),
        client_concentrations=_top_clients(exposure, found, top),
        security_concentrations=_top_securities(exposure, top),
        firm=firm,
        bad_debts=debts,
        bad_debt_fen=sum(d.shortfall_fen for d in debts),
    )
