"""Stress scenarios (RISK-12): what each one does to every security's price, exactly.

A scenario is a price factor per security: the stressed price is ``price × factor``.
Factors are whole numbers of billionths (``FACTOR_SCALE``), so a factor is exact and the
risk layer can apply it with integer arithmetic (``risk.stress``: the stressed price is
``price_li × factor_e9 ÷ 10⁹`` rounded half up to the li).  Four kinds:

- ``uniform:P``: every security moves by P percent (``uniform:-10``: factor 0.9);
- ``board:B:P``: the securities of board B (``STAR``, ``CHINEXT``, ``SSE_MAIN``,
  ``SZSE_MAIN``, ``NONE``) move by P percent, the rest not at all;
- ``security:S:P``: security S moves by P percent, the rest not at all;
- ``history:FIRST:LAST`` and the presets ``2008``, ``2015``, ``2024-01``: the CSI 300's
  daily closes over a window replayed through each security's beta.  Each day the security
  moves by ``β × R`` (R the index's simple return that day, the simulator's model without
  its idiosyncratic noise), compounded from the window's first close to its last; the
  running factor is rounded half up to a billionth after every day, and a day whose move
  would be below -100% leaves the security worthless (factor 0; no real day comes close).
  Which closes a preset covers is the caller's data (``cli.stress``: from the window's
  first close to its lowest).

P is decimal text with at most seven decimals (a billionth of a factor), at least -100.
Betas are integer basis points (β = 1.25 is 12,500), index closes exact ``Fraction``s.

Invariants: every factor is an ``int`` ≥ 0 in billionths; the same inputs give the same
factors on any machine (integers only); a scenario's name is the text it was parsed from.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from enum import Enum
from fractions import Fraction
from itertools import pairwise
from math import lcm

from liangrong.domain.money import RATIO_SCALE, parse_ratio
from liangrong.domain.securities import Board

FACTOR_SCALE = 10**9  # factors in billionths
UNCHANGED = FACTOR_SCALE
HISTORY_PRESETS = ("2008", "2015", "2024-01")


class ScenarioError(ValueError):
    """A scenario text that cannot be read, or a shock that cannot be applied exactly."""


class Kind(Enum):
    UNIFORM = "uniform"
    BOARD = "board"
    SECURITY = "security"
    HISTORY = "history"


@dataclass(frozen=True, slots=True)
class ScenarioSpec:
    """A parsed scenario text; ``history`` specs still need the index's closes."""

    text: str
    kind: Kind
    percent: Fraction | None = None  # uniform, board, security
    board: Board | None = None
    symbol: str | None = None
    first: date | None = None  # history:FIRST:LAST
    last: date | None = None
    preset: str | None = None  # one of HISTORY_PRESETS


@dataclass(frozen=True, slots=True)
class Scenario:
    """Price factors (billionths): ``securities`` overrides ``boards``, which overrides
    ``default``."""

    name: str
    default_e9: int
    boards: tuple[tuple[Board, int], ...] = ()
    securities: tuple[tuple[str, int], ...] = ()

    def __post_init__(self) -> None:
        factors = [self.default_e9, *(f for _, f in self.boards), *(f for _, f in self.securities)]
        if any(f < 0 for f in factors):
            raise ScenarioError(f"{self.name}: a price factor is negative")

    def factor_e9(self, symbol: str, board: Board) -> int:
        own = dict(self.securities).get(symbol)
        if own is not None:
            return own
        return dict(self.boards).get(board, self.default_e9)


# --- parsing --------------------------------------------------------------------------------


def shock_factor_e9(percent: Fraction) -> int:
    """``1 + percent / 100`` in billionths; refused when not exact there or below 0."""
    factor = (1 + percent / 100) * FACTOR_SCALE
    if factor.denominator != 1:
        raise ScenarioError(f"a shock of {percent}% is finer than a billionth of a price")
    if factor < 0:
        raise ScenarioError(f"a shock of {percent}% is below -100%")
    return factor.numerator


def _percent(text: str) -> Fraction:
    try:
        percent = parse_ratio(text.removeprefix("+"), "shock percent")
    except ValueError as exc:
        raise ScenarioError(str(exc)) from None
    shock_factor_e9(percent)  # refuse early what cannot be applied
    return percent


def _board(text: str) -> Board:
    for board in Board:
        if text.lower() in (board.name.lower(), board.value):
            return board
    known = ", ".join(b.name for b in Board)
    raise ScenarioError(f"unknown board {text!r}; known: {known}")


def _date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise ScenarioError(f"{text!r} is not a date YYYY-MM-DD") from None


def parse_scenario(text: str) -> ScenarioSpec:
    """Read ``uniform:P``, ``board:B:P``, ``security:S:P``, ``history:FIRST:LAST`` or a
    preset name; see the module docstring."""
    if text in HISTORY_PRESETS:
        return ScenarioSpec(text, Kind.HISTORY, preset=text)
    head, _, rest = text.partition(":")
    parts = rest.split(":") if rest else []
    try:
        kind = Kind(head.lower())
    except ValueError:
        raise ScenarioError(
            f"unknown scenario {text!r}: expected uniform:P, board:B:P, security:S:P, "
            f"history:FIRST:LAST or one of {', '.join(HISTORY_PRESETS)}"
        ) from None
    expected = {Kind.UNIFORM: 1, Kind.BOARD: 2, Kind.SECURITY: 2, Kind.HISTORY: 2}[kind]
    if len(parts) != expected:
        raise ScenarioError(f"{text!r}: {kind.value} takes {expected} field(s) after the colon")
    if kind is Kind.UNIFORM:
        return ScenarioSpec(text, kind, percent=_percent(parts[0]))
    if kind is Kind.BOARD:
        return ScenarioSpec(text, kind, percent=_percent(parts[1]), board=_board(parts[0]))
    if kind is Kind.SECURITY:
        return ScenarioSpec(text, kind, percent=_percent(parts[1]), symbol=parts[0].upper())
    first, last = _date(parts[0]), _date(parts[1])
    if last <= first:
        raise ScenarioError(f"{text!r}: the last date must follow the first")
    return ScenarioSpec(text, kind, first=first, last=last)


# --- scenarios ------------------------------------------------------------------------------


def shock(spec: ScenarioSpec) -> Scenario:
    """The scenario of a uniform, board or security spec."""
    if spec.percent is None or spec.kind is Kind.HISTORY:
        raise ScenarioError(f"{spec.text!r} is a historical replay: use ``replay``")
    factor = shock_factor_e9(spec.percent)
    if spec.kind is Kind.UNIFORM:
        return Scenario(spec.text, factor)
    if spec.kind is Kind.BOARD:
        assert spec.board is not None
        return Scenario(spec.text, UNCHANGED, boards=((spec.board, factor),))
    assert spec.symbol is not None
    return Scenario(spec.text, UNCHANGED, securities=((spec.symbol, factor),))


def _scaled_closes(closes: Sequence[Fraction]) -> list[int]:
    if len(closes) < 2 or any(c <= 0 for c in closes):
        raise ScenarioError("a replay needs at least two positive closes")
    common = lcm(*(c.denominator for c in closes))
    return [int(c * common) for c in closes]


def replay_factor_e9(closes: Sequence[Fraction], beta_bp: int) -> int:
    """The compounded factor of a security with beta ``beta_bp`` over the closes' days."""
    return _compound(_scaled_closes(closes), beta_bp)


def _compound(scaled: Sequence[int], beta_bp: int) -> int:
    factor = FACTOR_SCALE
    for before, after in pairwise(scaled):
        # 1 + β·R = (10⁴·before + β_bp·(after − before)) ÷ (10⁴·before)
        numerator = RATIO_SCALE * before + beta_bp * (after - before)
        if numerator <= 0:
            return 0
        denominator = RATIO_SCALE * before
        factor = (2 * factor * numerator + denominator) // (2 * denominator)
    return factor


def replay(name: str, closes: Sequence[Fraction], betas_bp: Mapping[str, int]) -> Scenario:
    """The index's closes replayed through each security's beta; a security without a
    beta moves with the index (β = 1): that is the default factor."""
    scaled = _scaled_closes(closes)
    by_beta: dict[int, int] = {}
    for beta in {RATIO_SCALE, *betas_bp.values()}:
        by_beta[beta] = _compound(scaled, beta)
    own = tuple(sorted((symbol, by_beta[beta]) for symbol, beta in betas_bp.items()))
    return Scenario(name, by_beta[RATIO_SCALE], securities=own)
