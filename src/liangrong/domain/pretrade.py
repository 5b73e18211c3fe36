"""Front-end checks of credit orders (ORD-3 items 1–14, CLI-4): ``check_order``.

``check_order`` returns the first ``OrderCode`` in ``order_codes.PRECEDENCE`` the order
breaks, or the ``Reservation`` it holds if it breaks none.  Non-trade requests are checked by
``check_nontrade`` (re-exported here, in ``pretrade_nontrade``); sales and covers live in
``pretrade_sells``.  docs/pretrade.md has every code, its requirement and its test.

Units and formulas (exact integers, no division on any decision):
- value_li = quantity × price_li; amount_fen = ``money.trade_amount_fen`` (half up);
- fees = ``reservations.order_fee_fen`` (== ``fees.fee_reserve_fen``) on value_li;
- margin buy: financing = amount + buy fees; margin_e4li = financing × 10 × ratio_bp, where
  ratio_bp is the client's override for (symbol, MARGIN_BUY), else the security's ratio;
  accepted only if margin_e4li ≤ available_margin_li × 10_000 − reserved_margin_e4li;
- short sale: short value = amount; margin_e4li = amount × 10 × short ratio_bp;
- limits: financing_used + financing ≤ financing_limit; short_used + short ≤ short_limit;
  financing_used + short_used + new ≤ total_limit; pools: financing ≤ pool cash, shares ≤
  pool shares (ACC-3: never over-lent);
- concentration (margin buys only): with H the security's value held, B the collateral base
  (``reservations.concentration_base_li``), L the limit in bp (the firm's tiered cap of the
  security's class at the account's ratio, ``AccountState.concentration_caps_bp``, never
  looser than the client's own; the client's own for a security without a class), V the
  buy's value_li: refused
  when H × 10_000 ≥ L × B with B > 0 (already reaches, "达到" includes the bound) or when
  (H + V) × 10_000 > L × (B + V) (the buy would carry it past L).  A limit above 10_000 bp
  can never be reached: it switches the check off.
- firm-level limits (RISK-11), when ``FirmState.limits`` is set: the order's ``FirmUse``
  (margin buy: financing = amount + fees, financed and taken-in shares = quantity; short
  sale: lending = amount, short shares = quantity; collateral buy: taken-in shares =
  quantity) must fit the room ``FirmRoom.check`` leaves: for the client, new + the client's
  used figure ≤ ⌊cap⌋ (``CreditLimits.*_used_fen``, open orders included); for a security or
  the firm, new ≤ room − what orders accepted since the evaluation hold.  The indicator it
  would carry past its limit gives the code by its scope (``FIRM_CODES``: client, security,
  the firm's scale).  A rights subscription is not checked: the entitlement comes with
  shares the firm already took in, and the next evaluation counts the new ones.

Who is checked for what:
- an account is ordinary if the book or the wire says so; every ``OrderKind`` is one of the
  four credit types the exchange lists (担保品/融资/融券/平仓), so an ordinary account may
  send none of them (item 1); a credit account's order must carry the flag;
- status (RISK-6, item 13): CALL_RESTRICTED refuses collateral buys (rights subscriptions
  included), margin buys and short sales; LIQUIDATION refuses every client order;
- forced orders (the firm's) skip the account status, lists, insider bans, concentration,
  credit limits, margin, the firm-level limits and pools (they only reduce exposure); they
  keep every exchange rule (suspension, tick, price limits, lots, the short-price rule, no
  same-day cover) and the holdings and cash they draw on.  Only the firm's liquidation
  function may create them (not checkable here);
- a rights subscription (business RIGHTS_SUBSCRIPTION) must be a collateral buy, pays the
  subscription amount from free cash (no fees, no locked proceeds, CA-3), and skips the lists,
  the lot and price-limit rules (its quantity and price are the entitlement's);
- ``limit_up_li == 0`` means the security has no price limit today (e.g. early IPO days).

Invariant: the checks read the state and never write it; on the normal path they raise
nothing and allocate only the returned ``Reservation``.
"""

from __future__ import annotations

from liangrong.domain.fees import FeeSchedule
from liangrong.domain.firm_limits import FirmRoom, FirmUse, Indicator, Scope
from liangrong.domain.order_codes import OrderCode
from liangrong.domain.orders import AccountType, BusinessType, Order, OrderKind
from liangrong.domain.pretrade_nontrade import check_nontrade
from liangrong.domain.pretrade_sells import check_cover, check_sale
from liangrong.domain.pretrade_state import AccountState, AccountStatus, FirmState, SecurityState
from liangrong.domain.reservations import (
    Reservation,
    concentration_base_li,
    lot_allows,
    order_fee_fen,
)

__all__ = [
    "FIRM_CODES",
    "Decision",
    "Reservation",
    "check_nontrade",
    "check_order",
    "firm_refusal",
    "firm_use",
]

Decision = OrderCode | Reservation

# Module-level constants: a global lookup is cheaper than an enum attribute on the hot path.
_ORDINARY = AccountType.ORDINARY
_NORMAL = AccountStatus.NORMAL
_LIQUIDATION = AccountStatus.LIQUIDATION
_TRADE = BusinessType.TRADE
_RIGHTS = BusinessType.RIGHTS_SUBSCRIPTION
_COLLATERAL_BUY = OrderKind.COLLATERAL_BUY
_MARGIN_BUY = OrderKind.MARGIN_BUY
_SHORT_SELL = OrderKind.SHORT_SELL
_SIDE = {kind: kind.side for kind in OrderKind}
_FORCED = frozenset({OrderKind.FORCED_BUY, OrderKind.FORCED_SELL})
# What CALL_RESTRICTED stops: everything that adds exposure (RISK-6: buys, margin, shorts).
_OPENING = frozenset({_COLLATERAL_BUY, _MARGIN_BUY, _SHORT_SELL})
_NEW_DEBT = frozenset({_MARGIN_BUY, _SHORT_SELL})
_SALES = frozenset({OrderKind.COLLATERAL_SELL, OrderKind.SELL_TO_REPAY, OrderKind.FORCED_SELL})
_COVERS = frozenset({OrderKind.BUY_TO_COVER, OrderKind.FORCED_BUY})

_C = OrderCode
_E4 = 10_000  # basis points per 1 (money.RATIO_SCALE)

# The code of a firm-level refusal: by the scope of the indicator the order would break.
_FIRM_CODE_OF_SCOPE = {
    Scope.CLIENT: OrderCode.FIRM_CLIENT_LIMIT,
    Scope.SECURITY: OrderCode.FIRM_SECURITY_LIMIT,
    Scope.FIRM: OrderCode.FIRM_SCALE_LIMIT,
}
FIRM_CODES: dict[Indicator, OrderCode] = {i: _FIRM_CODE_OF_SCOPE[i.scope] for i in Indicator}


def check_order(
    order: Order,
    account: AccountState | None,
    security: SecurityState | None,
    firm: FirmState,
    fees: FeeSchedule,
) -> OrderCode | Reservation:
    """The first code in ``PRECEDENCE`` the order breaks, else what it holds.

    ``account`` is the state of ``order.account_id`` and ``security`` that of
    ``order.symbol``; None if the book does not know it."""
    if account is None:
        return _C.UNKNOWN_ACCOUNT
    if account.account_type is _ORDINARY or order.account_type is _ORDINARY:
        return _C.ORDINARY_ACCOUNT_CREDIT_FLAG
    if not order.credit_flag:
        return _C.CREDIT_FLAG_MISSING
    kind = order.kind
    quantity = order.quantity
    price = order.price_li
    if (
        quantity <= 0
        or price <= 0
        or order.side is not _SIDE[kind]
        or order.account_id != account.account_id
    ):
        return _C.INVALID_ORDER
    business = order.business
    rights = False
    if business is not _TRADE:
        if business is not _RIGHTS or kind is not _COLLATERAL_BUY:
            return _C.BUSINESS_NOT_ALLOWED
        rights = True
    if security is None or security.symbol != order.symbol:
        return _C.UNKNOWN_SECURITY
    status = account.status
    if status is not _NORMAL and kind not in _FORCED:
        if status is _LIQUIDATION:
            return _C.ACCOUNT_IN_LIQUIDATION
        if kind in _OPENING:
            return _C.ACCOUNT_CALL_RESTRICTED
    if account.new_debt_refused and kind in _NEW_DEBT:
        return _C.IDENTITY_DOCUMENT_EXPIRED
    if security.suspended:
        return _C.SECURITY_SUSPENDED
    if price % security.tick_li:
        return _C.PRICE_TICK
    if rights:
        return _rights_subscription(quantity * price, account)
    limit_up = security.limit_up_li
    if limit_up and (price > limit_up or price < security.limit_down_li):
        return _C.PRICE_OUTSIDE_LIMITS
    if kind is _MARGIN_BUY:
        return _margin_buy(order, account, security, firm, fees)
    if kind in _SALES:
        return check_sale(order, account, security, fees)
    if kind is _COLLATERAL_BUY:
        return _collateral_buy(order, account, security, firm, fees)
    if kind is _SHORT_SELL:
        return _short_sell(order, account, security, firm, fees)
    if kind in _COVERS:
        return check_cover(order, account, security, fees)
    raise AssertionError(f"unhandled order kind {kind}")  # pragma: no cover


def _rights_subscription(value_li: int, account: AccountState) -> OrderCode | Reservation:
    """配股/配债/行权: the whole subscription amount must be free cash already (CA-3)."""
    amount = (value_li + 5) // 10  # money.trade_amount_fen, inlined
    if amount > account.cash_free_fen:
        return _C.RIGHTS_SUBSCRIPTION_NEEDS_CASH
    return Reservation(cash_fen=amount)


def _collateral_buy(
    order: Order,
    account: AccountState,
    security: SecurityState,
    firm: FirmState,
    fees: FeeSchedule,
) -> OrderCode | Reservation:
    """Only collateral or target securities (item 2); lots; the firm's intake of the stock
    (RISK-11); amount + fees from free cash, except a money-market fund, which locked short
    proceeds pay first (ORD-5)."""
    if not (security.collateral or security.financing_target or security.short_target):
        return _C.NOT_COLLATERAL_OR_TARGET
    quantity = order.quantity
    if not lot_allows(quantity, security.lot_minimum, security.lot_step):
        return _C.LOT_SIZE
    room = firm.limits
    if room is not None:
        code = firm_refusal(room, FirmUse.intake(order.symbol, quantity), account)
        if code is not None:
            return code
    value_li = quantity * order.price_li
    cost = (value_li + 5) // 10 + order_fee_fen(False, value_li, fees)
    locked = 0
    if security.money_market:
        locked = min(cost, account.cash_locked_fen)
    if cost - locked > account.cash_free_fen:
        return _C.INSUFFICIENT_CASH
    return Reservation(cash_fen=cost - locked, locked_cash_fen=locked)


def _margin_buy(
    order: Order,
    account: AccountState,
    security: SecurityState,
    firm: FirmState,
    fees: FeeSchedule,
) -> OrderCode | Reservation:
    """Financing target, not halted, not an insider; lots; concentration; financing and total
    limits; margin; the firm-level limits; the financing pool.  Fees are financed with the
    amount."""
    if not security.financing_target:
        return _C.NOT_FINANCING_TARGET
    if security.financing_halted:
        return _C.FINANCING_HALTED
    symbol = order.symbol
    if symbol in account.insider_symbols:
        return _C.INSIDER_TRADING
    quantity = order.quantity
    if not lot_allows(quantity, security.lot_minimum, security.lot_step):
        return _C.LOT_SIZE
    value_li = quantity * order.price_li
    position = account.positions.get(symbol)
    held = position.value_li if position is not None else 0
    base = concentration_base_li(account)
    limit_bp = account.concentration_limit_bp
    if security.concentration_class is not None:
        limit_bp = account.concentration_caps_bp.get(security.concentration_class, limit_bp)
    if (base > 0 and held * _E4 >= limit_bp * base) or (
        (held + value_li) * _E4 > limit_bp * (base + value_li)
    ):
        return _C.CONCENTRATION_LIMIT
    financing = (value_li + 5) // 10 + order_fee_fen(False, value_li, fees)
    limits = account.limits
    used = limits.financing_used_fen
    if used + financing > limits.financing_limit_fen:
        return _C.FINANCING_LIMIT
    if used + limits.short_used_fen + financing > limits.total_limit_fen:
        return _C.TOTAL_LIMIT
    margin = _margin_e4li(account, symbol, _MARGIN_BUY, security.financing_margin_bp, financing)
    if margin > account.available_margin_li * _E4 - account.reserved_margin_e4li:
        return _C.INSUFFICIENT_MARGIN
    room = firm.limits
    if room is not None:
        code = firm_refusal(room, FirmUse.margin_buy(symbol, quantity, financing), account)
        if code is not None:
            return code
    if financing > firm.financing_pool_available_fen:
        return _C.FINANCING_POOL_EXHAUSTED
    return Reservation(margin_e4li=margin, financing_fen=financing)


def _margin_e4li(
    account: AccountState, symbol: str, kind: OrderKind, security_bp: int, amount_fen: int
) -> int:
    """Margin a new financing or short uses (RISK-4), in li × bp: the client's ratio for this
    security and kind if the agreement sets one, else the security's."""
    overrides = account.margin_overrides_bp
    ratio_bp = overrides.get((symbol, kind), security_bp) if overrides else security_bp
    return amount_fen * 10 * ratio_bp


def _short_sell(
    order: Order,
    account: AccountState,
    security: SecurityState,
    firm: FirmState,
    fees: FeeSchedule,
) -> OrderCode | Reservation:
    """Short target, not halted, not an insider or lock-up holder; lots; price not below the
    latest trade; short and total limits; margin; the firm-level limits; the lending pool.
    The fees come out of the proceeds; free cash pays only the part they do not cover."""
    if not security.short_target:
        return _C.NOT_SHORT_TARGET
    if security.short_halted:
        return _C.SHORT_HALTED
    symbol = order.symbol
    if symbol in account.insider_symbols:
        return _C.INSIDER_TRADING
    if symbol in account.lockup_symbols:
        return _C.LOCKUP_SHORT
    quantity = order.quantity
    if not lot_allows(quantity, security.lot_minimum, security.lot_step):
        return _C.LOT_SIZE
    price = order.price_li
    if price < security.last_price_li:  # "不得低于": equal is allowed
        return _C.SHORT_PRICE_BELOW_LAST
    value_li = quantity * price
    amount = (value_li + 5) // 10
    limits = account.limits
    short_used = limits.short_used_fen
    if short_used + amount > limits.short_limit_fen:
        return _C.SHORT_LIMIT
    if limits.financing_used_fen + short_used + amount > limits.total_limit_fen:
        return _C.TOTAL_LIMIT
    margin = _margin_e4li(account, symbol, _SHORT_SELL, security.short_margin_bp, amount)
    if margin > account.available_margin_li * _E4 - account.reserved_margin_e4li:
        return _C.INSUFFICIENT_MARGIN
    room = firm.limits
    if room is not None:
        code = firm_refusal(room, FirmUse.short_sale(symbol, quantity, amount), account)
        if code is not None:
            return code
    if quantity > firm.lending_pool_available.get(symbol, 0):
        return _C.LENDING_POOL_EXHAUSTED
    shortfall = order_fee_fen(True, value_li, fees) - amount
    if shortfall > 0:
        if shortfall > account.cash_free_fen:
            return _C.INSUFFICIENT_CASH
        return Reservation(
            margin_e4li=margin, cash_fen=shortfall, short_value_fen=amount, pool_shares=quantity
        )
    return Reservation(margin_e4li=margin, short_value_fen=amount, pool_shares=quantity)


def firm_refusal(room: FirmRoom, use: FirmUse, account: AccountState) -> OrderCode | None:
    """The firm-level code ``use`` breaks (``FirmRoom.check``, the client's used figures from
    its credit limits), else None.  Also what the book asks for a transfer in."""
    limits = account.limits
    found = room.check(use, account.client_id, limits.financing_used_fen, limits.short_used_fen)
    return None if found is None else FIRM_CODES[found]


def firm_use(order: Order, reservation: Reservation) -> FirmUse | None:
    """What an accepted order adds to the firm's exposures while open: exactly the use its
    check asked the firm's room about (None for an order that adds none)."""
    kind = order.kind
    if kind is _MARGIN_BUY:
        return FirmUse.margin_buy(order.symbol, order.quantity, reservation.financing_fen)
    if kind is _SHORT_SELL:
        return FirmUse.short_sale(order.symbol, order.quantity, reservation.short_value_fen)
    if kind is _COLLATERAL_BUY and order.business is _TRADE:
        return FirmUse.intake(order.symbol, order.quantity)
    return None
