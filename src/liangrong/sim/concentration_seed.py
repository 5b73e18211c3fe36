"""The demo firm's tiered concentration rule (RISK-10), dated like every firm parameter.

The caps are the demo credit committee's: the lower the maintenance ratio, the smaller the
share of one security a client may hold when buying it on margin; growth-board stocks are
capped harder than main-board ones, funds loosely, bonds not at all; from 300% up nothing is
capped.  The client's agreed limit (``ClientProfile.concentration_limit_bp``) still applies
when stricter.
"""

from __future__ import annotations

from datetime import date
from fractions import Fraction

from liangrong.domain.concentration import (
    ConcentrationClass,
    ConcentrationRule,
    ConcentrationTier,
    concentration_rule_on,
)
from liangrong.domain.versions import History, Version

_MAIN, _GROWTH = ConcentrationClass.MAIN_BOARD_STOCK, ConcentrationClass.GROWTH_BOARD_STOCK
_FUND, _BOND = ConcentrationClass.FUND, ConcentrationClass.BOND


def _tier(
    from_ratio: str, main: int | None, growth: int | None, fund: int | None
) -> ConcentrationTier:
    caps = {_MAIN: main, _GROWTH: growth, _FUND: fund, _BOND: None}
    return ConcentrationTier(Fraction(from_ratio), caps)


DEMO_RULE = ConcentrationRule(
    (
        _tier("0", 3_000, 2_000, 5_000),
        _tier("1.5", 5_000, 3_000, 8_000),
        _tier("2", 7_000, 5_000, None),
        _tier("3", None, None, None),
    )
)


def concentration_history() -> History[ConcentrationRule]:
    return History((Version("conc-2020", date(2020, 1, 2), DEMO_RULE, "credit committee 2020"),))


def concentration_rule_for(on: date) -> ConcentrationRule:
    return concentration_rule_on(concentration_history(), on)
