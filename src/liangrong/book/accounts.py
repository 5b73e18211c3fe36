"""A client's figures for the checks: valuation by the exchange formulas and the
``AccountState`` the front-end checks read, derived from the mirror, the client's profile,
what open orders hold, and the day's prices.

Invariant: ``refresh`` derives every field afresh from those inputs (nothing accumulates
here), so a state can always be recomputed and compared.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field
from fractions import Fraction

from liangrong.book.market import MarketDay
from liangrong.book.mirror import ClientMirror, OpenContract
from liangrong.domain import margin
from liangrong.domain.concentration import ConcentrationClass, check_limit_bp
from liangrong.domain.contracts import ContractKind, ContractOrder, sort_contracts
from liangrong.domain.money import LI_PER_FEN, Rounding, round_fraction
from liangrong.domain.orders import AccountType
from liangrong.domain.pretrade_state import AccountState, AccountStatus, CreditLimits, PositionState


@dataclass(slots=True)
class ClientProfile:
    """What the master agreement and the firm's records say about a client (CLI-3, CLI-4)."""

    client_id: str
    name: str
    financing_limit_fen: int
    short_limit_fen: int
    total_limit_fen: int
    concentration_limit_bp: int
    status: AccountStatus = AccountStatus.NORMAL
    insider_symbols: frozenset[str] = frozenset()
    lockup_symbols: frozenset[str] = frozenset()
    restricted_shares: dict[str, int] = field(default_factory=dict)  # frozen, seized, ...
    identity_restriction: str | None = None  # CLI-6: why new debt is refused, if it is


@dataclass(slots=True)
class Held:
    """What a client's open orders hold, summed."""

    margin_e4li: int = 0
    cash_fen: int = 0
    locked_fen: int = 0
    financing_fen: int = 0
    short_value_fen: int = 0
    sell_shares: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    cover_shares: dict[str, int] = field(default_factory=lambda: defaultdict(int))


@dataclass(slots=True)
class Today:
    """What happened today, for the T+1 rules."""

    bought: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    shorted: dict[str, int] = field(default_factory=lambda: defaultdict(int))


def _short_value_fen(contract: OpenContract) -> int:
    """An open short at its sale price (what the short credit limit counts)."""
    value = Fraction(contract.terms.price_li * contract.principal_outstanding, LI_PER_FEN)
    return round_fraction(value, Rounding.HALF_UP)


def _financed_positions(
    mirror: ClientMirror, market: MarketDay, prices_li: Mapping[str, int] | None = None
) -> tuple[list[margin.FinancedPosition], dict[str, int]]:
    """One position per open financing contract, with the shares still backing it (the
    bought quantity scaled by what is still owed, never more than is held)."""
    prices = market.prices_li if prices_li is None else prices_li
    left = dict(mirror.holdings)
    positions: list[margin.FinancedPosition] = []
    financed: dict[str, int] = defaultdict(int)
    contracts = [c.balance() for c in mirror.open_contracts(ContractKind.FINANCING)]
    for contract in sort_contracts(contracts, ContractOrder.OLDEST_FIRST):
        terms, symbol = contract.terms, contract.terms.security
        backing = -(-terms.quantity * contract.principal_outstanding // terms.amount_fen)
        quantity = min(left.get(symbol, 0), backing)
        left[symbol] = left.get(symbol, 0) - quantity
        financed[symbol] += quantity
        positions.append(
            margin.FinancedPosition(
                symbol,
                quantity,
                contract.principal_outstanding,
                prices.get(symbol, terms.price_li),
                market.haircut(symbol),
                terms.margin_ratio,
            )
        )
    return positions, financed


def margin_account(
    mirror: ClientMirror, market: MarketDay, prices_li: Mapping[str, int] | None = None
) -> margin.Account:
    """The exchange formulas' view of the account at the market's prices, or at
    ``prices_li`` (the market's with the client's fair values over them, RISK-2)."""
    prices = market.prices_li if prices_li is None else prices_li
    financing, financed = _financed_positions(mirror, market, prices)
    holdings = tuple(
        margin.Holding(
            symbol,
            quantity - financed.get(symbol, 0),
            prices[symbol],
            market.haircut(symbol),
        )
        for symbol, quantity in sorted(mirror.holdings.items())
        if quantity - financed.get(symbol, 0) > 0
    )
    shorts = tuple(
        margin.ShortPosition(
            c.terms.security,
            c.principal_outstanding,
            _short_value_fen(c),
            prices.get(c.terms.security, c.terms.price_li),
            market.haircut(c.terms.security),
            c.terms.margin_ratio,
        )
        for c in mirror.open_contracts(ContractKind.SHORT)
        if c.principal_outstanding > 0
    )
    charges = sum(c.charges_outstanding_fen for c in mirror.contracts.values())
    return margin.Account(
        cash_fen=mirror.cash_fen + mirror.locked_fen,
        interest_and_fees_fen=charges,
        holdings=holdings,
        financing=tuple(financing),
        shorts=shorts,
    )


def refresh(
    state: AccountState | None,
    mirror: ClientMirror,
    profile: ClientProfile,
    held: Held,
    today: Today,
    market: MarketDay,
) -> AccountState:
    """The checks' state for a client, derived afresh."""
    account = margin_account(mirror, market)
    available_li = round_fraction(margin.available_margin(account) * LI_PER_FEN, Rounding.DOWN)
    _, financed = _financed_positions(mirror, market)
    shorts: dict[str, int] = defaultdict(int)
    for contract in mirror.open_contracts(ContractKind.SHORT):
        shorts[contract.terms.security] += contract.principal_outstanding
    positions: dict[str, PositionState] = {}
    for symbol in sorted(set(mirror.holdings) | set(shorts)):
        quantity = mirror.holdings.get(symbol, 0)
        positions[symbol] = PositionState(
            quantity=quantity,
            bought_today=min(today.bought.get(symbol, 0), quantity),
            restricted=min(profile.restricted_shares.get(symbol, 0), quantity),
            reserved_for_sale=held.sell_shares.get(symbol, 0),
            financed_quantity=financed.get(symbol, 0),
            short_quantity=shorts.get(symbol, 0),
            short_opened_today=min(today.shorted.get(symbol, 0), shorts.get(symbol, 0)),
            value_li=quantity * market.prices_li.get(symbol, 0),
            reserved_for_cover=held.cover_shares.get(symbol, 0),
        )
    financing_owed = sum(
        c.principal_outstanding for c in mirror.open_contracts(ContractKind.FINANCING)
    )
    short_owed = sum(_short_value_fen(c) for c in mirror.open_contracts(ContractKind.SHORT))
    return AccountState(
        account_id=profile.client_id,
        client_id=profile.client_id,
        account_type=AccountType.CREDIT,
        status=profile.status,
        limits=CreditLimits(
            financing_limit_fen=profile.financing_limit_fen,
            short_limit_fen=profile.short_limit_fen,
            total_limit_fen=profile.total_limit_fen,
            financing_used_fen=financing_owed + held.financing_fen,
            short_used_fen=short_owed + held.short_value_fen,
        ),
        available_margin_li=available_li,
        valued_at=market.prices_at,
        cash_free_fen=mirror.cash_fen - held.cash_fen,
        cash_locked_fen=mirror.locked_fen - held.locked_fen,
        collateral_value_li=sum(p.value_li for p in positions.values()),
        concentration_limit_bp=profile.concentration_limit_bp,
        reserved_margin_e4li=held.margin_e4li,
        positions=positions,
        margin_overrides_bp=state.margin_overrides_bp if state is not None else {},
        insider_symbols=profile.insider_symbols,
        lockup_symbols=profile.lockup_symbols,
        new_debt_refused=profile.identity_restriction is not None,
        has_open_financing=financing_owed > 0
        or any(c.charges_outstanding_fen for c in mirror.open_contracts(ContractKind.FINANCING)),
        concentration_caps_bp=_tiered_caps(account, profile, market),
    )


def _tiered_caps(
    account: margin.Account, profile: ClientProfile, market: MarketDay
) -> dict[ConcentrationClass, int]:
    """The firm's caps at the account's ratio now, never looser than the client's own."""
    rule = market.concentration_rule
    if rule is None:
        return {}
    caps = rule.caps_for(margin.maintenance_ratio(account))
    agreed = profile.concentration_limit_bp
    return {cls: min(check_limit_bp(cap), agreed) for cls, cap in caps.items()}


NO_LIMIT_LI = 10**18  # no debt: everything may leave (RISK-8)


def withdrawal_headroom_li(mirror: ClientMirror, market: MarketDay, line: Fraction) -> int:
    """The value (li) that may leave the account while its cash-and-securities ratio stays at
    or above the withdrawal line; 0 unless the ratio is strictly above it now (RISK-8)."""
    account = margin_account(mirror, market)
    debt = margin.total_debt(account)
    if debt == 0:
        return NO_LIMIT_LI
    assets = margin.cash_and_securities(account)
    if assets <= line * debt:
        return 0
    return round_fraction((assets - line * debt) * LI_PER_FEN, Rounding.DOWN)
