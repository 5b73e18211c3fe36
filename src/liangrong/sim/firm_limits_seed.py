"""The demo firm's firm-level limits (RISK-11) as dated reference data: the regulator's
ceilings, the firm's net capital and its firm-limit rule, each a history of versions with
its source; ``save_demo_firm_limits`` records them in a store (``liangrong demo`` does).

Sources and values:
- regulator (``regulator_ceilings``): CSRC Order No. 117, in force from its publication on
  2015-07-01, art. 20: financing and lending ≤ 4 × net capital (S2); the CSRC's
  concentration indicators as S3 quotes them: one client's financing ≤ 5% of net capital,
  one client's lending ≤ 5%, one collateral stock accepted ≤ 20% of its total market value
  (the day these were set is not in the sources; they are dated with Order 117 here);
- the firm's own indicators (S3 risk spec art. 7, the firm's targets): total financing ≤
  100% of net capital, total lending ≤ 30%, all clients' financed holdings of one security ≤
  5% of its float, all clients' shorts of one security ≤ 2% of its float, the totals ≤ 100%
  of the firm's financing and lending lines and of the board's cap;
- GENERATED (no source gives a number; the demo firm's credit committee is invented): the
  net capital figures, the lines and the board's cap, one security's financing and lending
  ≤ 30% of net capital, and the warning shares (early warning at 80%, warning at 90% of
  each limit).  Their sources say "generated".

Invariants: every rule version is within the regulator's ceilings on its effective date (a
test checks ``check_against_regulator``); the values are exact (``Fraction``, fen).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from fractions import Fraction

from sqlalchemy import Engine

from liangrong.domain.firm_limits import (
    FirmCapital,
    FirmLimitRule,
    FirmLimits,
    Indicator,
    WarningShares,
    limits_on,
)
from liangrong.domain.versions import History, Version
from liangrong.store.firm_alerts import save_firm_limit_versions
from liangrong.store.reference import Clock

I = Indicator  # noqa: E741
F = Fraction
YUAN_100M = 100_000_000 * 100  # 亿元 in fen

_ORDER_117 = date(2015, 7, 1)
_CEILINGS: Mapping[Indicator, Fraction] = {
    I.TOTAL_TO_NET_CAPITAL: F(4),
    I.CLIENT_FINANCING_TO_NET_CAPITAL: F(1, 20),
    I.CLIENT_LENDING_TO_NET_CAPITAL: F(1, 20),
    I.COLLATERAL_TO_TOTAL_SHARES: F(1, 5),
}


def regulator_ceilings() -> History[Mapping[Indicator, Fraction]]:
    return History(
        (
            Version(
                "csrc-order-117",
                _ORDER_117,
                _CEILINGS,
                "CSRC Order No. 117 art. 20 (4 x net capital, from 2015-07-01); one client 5% "
                "each way and one collateral stock 20% of its total value as S3 quotes the "
                "CSRC's indicators (their own date is not in the sources)",
            ),
        )
    )


def _demo_rule(net_capital_fen: int) -> FirmLimitRule:
    """The demo firm's rule: the regulator's ceilings, the firm's own targets (S3 risk spec
    art. 7) and generated lines sized on the net capital they were approved with."""
    return FirmLimitRule(
        limits={
            **_CEILINGS,
            I.FINANCING_TO_NET_CAPITAL: F(1),
            I.LENDING_TO_NET_CAPITAL: F(3, 10),
            I.FINANCING_TO_LINE: F(1),
            I.LENDING_TO_LINE: F(1),
            I.TOTAL_TO_BUSINESS_CAP: F(1),
            I.SECURITY_TO_NET_CAPITAL: F(3, 10),  # generated
            I.FINANCED_TO_FLOAT: F(1, 20),
            I.SHORTS_TO_FLOAT: F(1, 50),
        },
        warnings=WarningShares(early=F(4, 5), warning=F(9, 10)),  # generated
        financing_line_fen=net_capital_fen * 9 // 10,  # generated: 90% of net capital
        lending_line_fen=net_capital_fen // 4,  # generated: 25%
        business_cap_fen=net_capital_fen * 11 // 10,  # generated: 110%
    )


# (version id, effective, net capital in 亿元, source) -- all GENERATED figures.
_CAPITAL = (
    ("nc-2023-12", date(2024, 1, 15), 180, "generated: the demo firm's 2023 year-end report"),
    ("nc-2024-12", date(2025, 1, 15), 195, "generated: the demo firm's 2024 year-end report"),
    ("nc-2025-12", date(2026, 1, 15), 205, "generated: the demo firm's 2025 year-end report"),
)


def capital_history() -> History[FirmCapital]:
    return History(
        tuple(
            Version(version_id, effective, FirmCapital(yi * YUAN_100M), source)
            for version_id, effective, yi, source in _CAPITAL
        )
    )


def rule_history() -> History[FirmLimitRule]:
    """One rule version per net capital (the lines are approved on it), effective the same
    day the figure starts to bind."""
    return History(
        tuple(
            Version(
                f"limits-{version_id[3:]}",
                effective,
                _demo_rule(yi * YUAN_100M),
                "S2 art. 20, S3 CSRC indicators and S3 risk spec art. 7 targets; lines, the "
                "board's cap, the one-security limit and the warning shares generated "
                "(demo credit committee)",
            )
            for version_id, effective, yi, _ in _CAPITAL
        )
    )


def demo_firm_limits(on: date) -> FirmLimits:
    """The demo firm's limits in force on ``on`` (``NoRuleInForce`` before 2024-01-15)."""
    return limits_on(capital_history(), rule_history(), on)


def save_demo_firm_limits(engine: Engine, *, clock: Clock) -> int:
    """Record the demo firm's net capital and rule versions; returns how many were new."""
    return save_firm_limit_versions(
        engine, capital_history().versions, rule_history().versions, clock=clock
    )
