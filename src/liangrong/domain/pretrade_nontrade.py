"""Front-end checks of non-trade requests (ORD-1): ``check_nontrade``.

Precedence is ``order_codes.PRECEDENCE``, as for orders.  What each kind needs:
- every kind: a known account (UNKNOWN_ACCOUNT), a credit account
  (ORDINARY_ACCOUNT_CREDIT_FLAG), the request's own account and a positive amount (cash
  kinds) or quantity (securities kinds) (INVALID_ORDER), a known security for the
  securities kinds (UNKNOWN_SECURITY);
- status (RISK-6): in LIQUIDATION only deposits of collateral are taken (cash deposit,
  transfer in: "everything but collateral transfer-in" is restricted), and the firm's own
  (``forced``) direct repayments and returns from the account; in CALL_RESTRICTED
  nothing may leave the account (cash withdrawal, transfer out), because an account below
  the liquidation line is far below the withdrawal line whether or not that hook is wired;
- TRANSFER_IN: only collateral or target securities (ORD-3 item 2, "take in only those");
  shares the depository reports as seized, frozen, encumbered or holding-restricted in the
  ordinary account (``encumbered_in``) are refused as collateral (item 9, RESTRICTED_SHARES);
  whether the ordinary account holds enough is the depository's check, not ours;
- TRANSFER_OUT: the shares must be sellable (T+1, not restricted, not reserved), then the
  withdrawal line;
- DIRECT_RETURN: the short must be owed, not already held by covers, opened before today
  (SAME_DAY_COVER), and paid with sellable shares: never restricted ones (CLI-4, item 6);
- DIRECT_REPAYMENT: open financing (NOTHING_TO_REPAY), amount ≤ free cash (locked proceeds
  do not repay financing).  Paying more than is owed is not refused here: the book applies
  the repayment in the stated order (CON-6) and the rest stays free cash;
- CASH_WITHDRAWAL: the withdrawal line, then amount ≤ free cash;
- CASH_DEPOSIT: always (a positive amount).

The withdrawal line (RISK-8, 300%) is the risk engine's: it is passed in as
``withdrawal_headroom_li``, the value that may leave while the ratio stays at or above the
line.  ``None`` means the hook is not wired yet and the line is not checked here: the caller
must check it.  A transfer out is valued at the security's last price.

Invariant: pure and read only; the firm's pools only grow by a return, so ``firm`` is read by
no check today (kept for one signature across the book's calls).
"""

from __future__ import annotations

from liangrong.domain.order_codes import OrderCode
from liangrong.domain.orders import AccountType, NonTradeKind, NonTradeRequest
from liangrong.domain.pretrade_sells import holding_code, short_code
from liangrong.domain.pretrade_state import AccountState, AccountStatus, FirmState, SecurityState
from liangrong.domain.reservations import NO_POSITION, NOTHING_HELD, Reservation

_C = OrderCode
_K = NonTradeKind
_CASH_KINDS = frozenset({_K.CASH_DEPOSIT, _K.CASH_WITHDRAWAL, _K.DIRECT_REPAYMENT})
_LIQUIDATION_ALLOWS = frozenset({_K.CASH_DEPOSIT, _K.TRANSFER_IN})
_CALL_RESTRICTS = frozenset({_K.CASH_WITHDRAWAL, _K.TRANSFER_OUT})
_FIRM_MAY_FORCE = frozenset({_K.DIRECT_REPAYMENT, _K.DIRECT_RETURN})


def check_nontrade(
    request: NonTradeRequest,
    account: AccountState | None,
    security: SecurityState | None,
    firm: FirmState,
    *,
    encumbered_in: bool = False,
    withdrawal_headroom_li: int | None = None,
) -> OrderCode | Reservation:
    """The first code in ``PRECEDENCE`` the request breaks, else what it holds.

    ``account`` is the state of ``request.account_id`` (None if unknown); ``security`` is
    the state of ``request.symbol`` (None for cash requests or if unknown);
    ``encumbered_in``: for a transfer in, the depository reports some of the shares as
    seized, frozen, encumbered or holding-restricted; ``withdrawal_headroom_li``: see the
    module docstring."""
    del firm  # no pool is drawn on by a non-trade request
    if account is None:
        return _C.UNKNOWN_ACCOUNT
    if account.account_type is AccountType.ORDINARY:
        return _C.ORDINARY_ACCOUNT_CREDIT_FLAG
    kind = request.kind
    cash_kind = kind in _CASH_KINDS
    size = request.amount_fen if cash_kind else request.quantity
    if size <= 0 or request.account_id != account.account_id:
        return _C.INVALID_ORDER
    if not cash_kind and (security is None or security.symbol != request.symbol):
        return _C.UNKNOWN_SECURITY
    status = account.status
    if status is AccountStatus.CALL_RESTRICTED and kind in _CALL_RESTRICTS:
        return _C.ACCOUNT_CALL_RESTRICTED
    firm_forced = request.forced and kind in _FIRM_MAY_FORCE
    if status is AccountStatus.LIQUIDATION and kind not in _LIQUIDATION_ALLOWS and not firm_forced:
        return _C.ACCOUNT_IN_LIQUIDATION
    if kind is _K.CASH_DEPOSIT:
        return NOTHING_HELD
    if cash_kind:
        return _cash_out(kind, size, account, withdrawal_headroom_li)
    assert security is not None  # for mypy: checked above for every securities kind
    position = account.positions.get(request.symbol, NO_POSITION)
    if kind is _K.TRANSFER_IN:
        if not (security.collateral or security.financing_target or security.short_target):
            return _C.NOT_COLLATERAL_OR_TARGET
        if encumbered_in:
            return _C.RESTRICTED_SHARES
        return NOTHING_HELD
    if kind is _K.DIRECT_RETURN:
        code = short_code(size, position)
        if code is None:
            code = holding_code(size, position)
        if code is not None:
            return code
        return Reservation(sell_shares=size, cover_shares=size)
    # TRANSFER_OUT
    code = holding_code(size, position)
    if code is not None:
        return code
    if withdrawal_headroom_li is not None and size * security.last_price_li > (
        withdrawal_headroom_li
    ):
        return _C.WITHDRAWAL_LINE
    return Reservation(sell_shares=size)


def _cash_out(
    kind: NonTradeKind, amount_fen: int, account: AccountState, headroom_li: int | None
) -> OrderCode | Reservation:
    """Direct repayment and cash withdrawal: both take free cash only."""
    if kind is _K.DIRECT_REPAYMENT:
        if not account.has_open_financing:
            return _C.NOTHING_TO_REPAY
    elif headroom_li is not None and amount_fen * 10 > headroom_li:
        return _C.WITHDRAWAL_LINE
    if amount_fen > account.cash_free_fen:
        return _C.INSUFFICIENT_CASH
    return Reservation(cash_fen=amount_fen)
