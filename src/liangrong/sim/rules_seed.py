"""The demo's rule data: the exchange's rule history with the dates of domain-notes §2, a demo
firm policy, negotiated client agreements, and the demo exchange and firm daily lists.

This is where the project's rule values are written, as dated data with their source; the
domain only ever receives them.  Invariants:
- the exchange history is the one documented in ``source`` of each version; a value the
  sources do not date exactly says so in its ``source``;
- the demo firm values are never looser than the exchange's over their whole period, so the
  seed loads through the same refusals as any other firm data;
- the demo lists are a deterministic function of the master, the P/E map and the rules (no
  randomness): the same inputs give the same lists.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import replace
from datetime import date
from fractions import Fraction
from typing import Any

from liangrong.domain.lists import (
    NOT_TARGET_STATUSES,
    DailyLists,
    ListLayer,
    PeRatios,
    collateral_haircuts,
)
from liangrong.domain.parameters import (
    ClientAgreement,
    ExchangeRules,
    FirmPolicy,
    HaircutCaps,
    Lines,
    SecurityMarginRatios,
    SecurityRatios,
)
from liangrong.domain.rule_book import RuleBook
from liangrong.domain.securities import Board, Kind, Security, Status
from liangrong.domain.versions import Version

F = Fraction

# --------------------------------------------------------------------------- exchange

_PILOT = ExchangeRules(
    financing_margin_ratio_floor=F("0.5"),
    short_margin_ratio_floor=F("0.5"),
    short_margin_ratio_floor_private_fund=F("0.5"),
    withdrawal_line=F(3),
    minimum_maintenance_ratio=F("1.3"),
    max_term_months=6,
    max_extension_months=0,  # the pilot measures forbade extensions
    haircut_caps=HaircutCaps(
        large_cap_stock=F("0.7"),
        other_stock=F("0.65"),
        etf=F("0.9"),
        government_bond_or_cash=F("0.95"),
        other_fund_or_bond=F("0.8"),
    ),
    zero_haircut_pe_from=None,
)

# (effective date, changes from the version before, source)
_EXCHANGE_STEPS: tuple[tuple[str, dict[str, Any], str], ...] = (
    ("2010-03-31", {}, "SSE/SZSE pilot rules, business launched 2010-03-31 (S3 pilot guidance)"),
    (
        "2015-07-01",
        {"max_extension_months": 6},
        "CSRC Order No. 117 (2015-07-01): extensions allowed, each within the exchange term",
    ),
    (
        "2015-11-23",
        {"financing_margin_ratio_floor": F(1)},
        "SSE/SZSE notice of 2015-11-13: financing margin ratio floor 100% (S0 ch5 §1)",
    ),
    (
        "2016-01-01",
        {"zero_haircut_pe_from": F(300)},
        "haircut 0 for static P/E of 300 or more or negative; domain-notes §2 dates the caps "
        "'2016 onward', the day is not in the sources",
    ),
    (
        "2019-08-09",
        {"minimum_maintenance_ratio": None},
        "SSE/SZSE implementation rules revised 2019: no exchange minimum maintenance ratio",
    ),
    (
        "2023-09-08",
        {"financing_margin_ratio_floor": F("0.8")},
        "SSE/SZSE notice: financing margin ratio floor 100% -> 80% from 2023-09-08",
    ),
    (
        "2023-10-30",
        {"short_margin_ratio_floor": F("0.8"), "short_margin_ratio_floor_private_fund": F(1)},
        "SSE/SZSE notice: short margin ratio floor 50% -> 80%, private securities funds 100%",
    ),
    (
        "2024-07-22",
        {"short_margin_ratio_floor": F(1), "short_margin_ratio_floor_private_fund": F("1.2")},
        "SSE/SZSE notice: short margin ratio floor 100%, private securities funds 120%",
    ),
    (
        "2026-01-14",
        {"financing_margin_ratio_floor": F(1)},
        "SSE/SZSE notice: financing margin ratio floor back to 100% for new contracts; "
        "open contracts keep theirs",
    ),
)


def exchange_rule_versions() -> tuple[Version[ExchangeRules], ...]:
    """The exchange's rule history; version ids are the effective dates."""
    versions: list[Version[ExchangeRules]] = []
    rules = _PILOT
    for day, changes, source in _EXCHANGE_STEPS:
        rules = replace(rules, **changes)
        versions.append(Version(day, date.fromisoformat(day), rules, source))
    return tuple(versions)


# --------------------------------------------------------------------------- firm

DEMO_FIRM_LINES = Lines(
    attention=F("1.5"), warning=F("1.4"), liquidation=F("1.3"), emergency=F("1.15")
)

_FIRM_2023 = FirmPolicy(
    lines=DEMO_FIRM_LINES,
    call_target=F("1.5"),
    call_deadline_trading_days=2,  # restore by T+2, else liquidation
    financing_margin_ratio=F("0.8"),
    short_margin_ratio=F(1),  # at least every short floor until 2026-01-14
    short_margin_ratio_private_fund=F("1.2"),
    withdrawal_line=F(3),
    max_term_months=6,
    max_extension_months=6,
    max_extensions=3,  # S1 art. 60
    financing_rate=F("0.0835"),
    lending_fee_rate=F("0.1035"),
    penalty_rate=F("0.18"),  # 0.05% a day on the 360-day basis
)


def demo_firm_versions(
    security_ratios: SecurityRatios | None = None,
) -> tuple[Version[FirmPolicy], ...]:
    """The demo firm: 80% financing ratio from 2023-09-08, 100% from 2026-01-14."""
    first = replace(_FIRM_2023, security_ratios=security_ratios or {})
    return (
        Version("2023-09-08", date(2023, 9, 8), first, "demo firm policy, credit committee"),
        Version(
            "2026-01-14",
            date(2026, 1, 14),
            replace(first, financing_margin_ratio=F(1)),
            "demo firm policy: financing ratio follows the exchange floor back to 100%",
        ),
    )


# STAR and ChiNext move up to 20% a day: the demo firm asks more margin for them.
_VOLATILE_BOARDS = frozenset({Board.STAR, Board.CHINEXT})
VOLATILE_BOARD_RATIOS = SecurityMarginRatios(financing=F("1.2"), short=F("1.2"))


def demo_security_ratios(securities: Iterable[Security]) -> dict[str, SecurityMarginRatios]:
    """The demo firm's per-security margin ratios: 120% for STAR and ChiNext stocks."""
    return {
        s.symbol: VOLATILE_BOARD_RATIOS
        for s in securities
        if s.kind is Kind.STOCK and s.board in _VOLATILE_BOARDS
    }


def negotiated_agreement(
    client_id: str, effective: date, private_fund: bool = False
) -> Version[ClientAgreement]:
    """A demo negotiated agreement: 2025 negotiated rates and lower lines (a large client)."""
    agreement = ClientAgreement(
        client_id=client_id,
        private_fund=private_fund,
        lines=Lines(attention=F("1.4"), warning=F("1.3"), liquidation=F("1.2")),
        financing_rate=F("0.055"),
        lending_fee_rate=F("0.0935"),
    )
    version_id = f"{client_id}@{effective.isoformat()}"
    return Version(version_id, effective, agreement, "demo negotiated agreement")


def demo_rule_book(security_ratios: SecurityRatios | None = None) -> RuleBook:
    """Exchange history and demo firm policy, loaded through the refusals."""
    book = RuleBook().with_exchange(*exchange_rule_versions())
    return book.with_firm(*demo_firm_versions(security_ratios))


# --------------------------------------------------------------------------- lists

_TARGET_KINDS = frozenset({Kind.STOCK, Kind.ETF})
FIRM_FINANCING_PE_LIMIT = F(100)  # the demo firm finances no stock at or above this P/E
FIRM_HAIRCUT_DISCOUNT = F("0.05")  # below the exchange's, for stocks outside the large caps


def _listed(securities: Iterable[Security], on: date) -> dict[str, Security]:
    return {
        s.symbol: s for s in securities if s.listing_date <= on and s.status is not Status.DELISTED
    }


def demo_exchange_lists(
    trading_date: date,
    securities: Iterable[Security],
    pe: PeRatios,
    rules: ExchangeRules,
    cash_products: Collection[str] = frozenset(),
) -> DailyLists:
    """Every listed stock and ETF that may be a target is a financing and short target (cash
    products are not); everything listed is collateral at its cap."""
    master = _listed(securities, trading_date)
    targets = frozenset(
        symbol
        for symbol, s in master.items()
        if s.kind in _TARGET_KINDS
        and s.status not in NOT_TARGET_STATUSES
        and symbol not in cash_products
    )
    haircuts = collateral_haircuts(master, master, pe, rules, cash_products)
    return DailyLists(trading_date, ListLayer.EXCHANGE, targets, targets, haircuts)


def demo_firm_lists(
    exchange: DailyLists, securities: Iterable[Security], pe: PeRatios
) -> DailyLists:
    """The demo firm's lists: a rule-based subset of the exchange's.

    Financing targets: the exchange's, less stocks at or above the firm's P/E limit or with
    a negative P/E.  Short targets: large caps and ETFs (what its lending pool holds).
    Collateral: all of the exchange's; large caps, funds and bonds at the exchange haircut,
    other stocks 5 points below it (never below 0).
    """
    master = {s.symbol: s for s in securities}

    def risky(symbol: str) -> bool:
        ratio = pe.get(symbol)
        is_stock = master[symbol].kind is Kind.STOCK
        return is_stock and (ratio is None or ratio < 0 or ratio >= FIRM_FINANCING_PE_LIMIT)

    def haircut(symbol: str, exchange_haircut: Fraction) -> Fraction:
        s = master[symbol]
        if s.kind is not Kind.STOCK or s.large_cap_constituent:
            return exchange_haircut
        return max(exchange_haircut - FIRM_HAIRCUT_DISCOUNT, Fraction(0))

    short_pool = {
        symbol
        for symbol in exchange.short_targets
        if master[symbol].kind is Kind.ETF or master[symbol].large_cap_constituent
    }
    return DailyLists(
        exchange.trading_date,
        ListLayer.FIRM,
        frozenset(s for s in exchange.financing_targets if not risky(s)),
        frozenset(short_pool),
        {s: haircut(s, h) for s, h in exchange.collateral.items()},
    )


def demo_lists(
    trading_date: date,
    securities: Iterable[Security],
    pe: PeRatios,
    book: RuleBook,
    cash_products: Collection[str] = frozenset(),
) -> tuple[DailyLists, DailyLists]:
    """The exchange's and the demo firm's lists for a date, under the rules in force."""
    version = book.exchange.version_at(trading_date)
    if version is None:
        raise LookupError(f"no exchange rules in force on {trading_date}")
    master = tuple(securities)
    exchange = demo_exchange_lists(trading_date, master, pe, version.value, cash_products)
    return exchange, demo_firm_lists(exchange, master, pe)
