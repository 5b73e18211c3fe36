"""Credit orders and non-trade operations as the client (or the firm) sends them (ORD-1, ORD-2).

Invariant: an order is a value; whether it may go to the exchange is decided by
``domain.pretrade`` against the state in ``domain.pretrade_state``, never here.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum


class AccountType(Enum):
    CREDIT = "credit"  # 信用账户
    ORDINARY = "ordinary"  # 普通账户


class Side(Enum):
    BUY = "buy"
    SELL = "sell"


class OrderKind(Enum):
    COLLATERAL_BUY = "collateral_buy"  # 担保品买入
    COLLATERAL_SELL = "collateral_sell"  # 担保品卖出
    MARGIN_BUY = "margin_buy"  # 融资买入
    SELL_TO_REPAY = "sell_to_repay"  # 卖券还款
    SHORT_SELL = "short_sell"  # 融券卖出
    BUY_TO_COVER = "buy_to_cover"  # 买券还券
    FORCED_BUY = "forced_buy"  # 平仓买入 (the firm's, to cover a short)
    FORCED_SELL = "forced_sell"  # 平仓卖出 (the firm's, to repay financing)

    @property
    def side(self) -> Side:
        return Side.BUY if self in _BUYS else Side.SELL

    @property
    def is_forced(self) -> bool:
        return self in (OrderKind.FORCED_BUY, OrderKind.FORCED_SELL)


_BUYS = frozenset(
    {OrderKind.COLLATERAL_BUY, OrderKind.MARGIN_BUY, OrderKind.BUY_TO_COVER, OrderKind.FORCED_BUY}
)
# What a client (or the desk for a client) may send: every kind but the firm's forced ones.
CLIENT_ORDER_KINDS = tuple(kind.value for kind in OrderKind if not kind.is_forced)


class BusinessType(Enum):
    """What the order is for at the exchange; credit accounts may do only some (ORD-3 item 5)."""

    TRADE = "trade"
    RIGHTS_SUBSCRIPTION = "rights_subscription"  # 配股: needs the cash in the credit account
    PRIVATE_PLACEMENT = "private_placement"
    TENDER_OFFER = "tender_offer"
    CASH_OPTION = "cash_option"
    FUND_SUBSCRIPTION = "fund_subscription"
    FUND_REDEMPTION = "fund_redemption"
    REPO = "repo"
    ETF_CREATION = "etf_creation"
    ETF_REDEMPTION = "etf_redemption"


BANNED_FOR_CREDIT_ACCOUNTS = frozenset(
    {
        BusinessType.PRIVATE_PLACEMENT,
        BusinessType.TENDER_OFFER,
        BusinessType.CASH_OPTION,
        BusinessType.FUND_SUBSCRIPTION,
        BusinessType.FUND_REDEMPTION,
        BusinessType.REPO,
        BusinessType.ETF_CREATION,
        BusinessType.ETF_REDEMPTION,
    }
)


@dataclass(frozen=True, slots=True)
class Order:
    """An order as received (ORD-2).  ``credit_flag`` is the flag on the wire; an ordinary
    account sending it set is refused.  ``business`` is TRADE for every ordinary order."""

    order_id: str
    account_id: str  # the credit (or ordinary) securities account the order is sent from
    account_type: AccountType
    trading_unit: str  # 交易单元 (the seat)
    symbol: str  # e.g. "600000.SH"
    kind: OrderKind
    side: Side
    price_li: int
    quantity: int
    credit_flag: bool = True
    business: BusinessType = BusinessType.TRADE


class NonTradeKind(Enum):
    DIRECT_REPAYMENT = "direct_repayment"  # 直接还款
    DIRECT_RETURN = "direct_return"  # 直接还券
    TRANSFER_IN = "collateral_transfer_in"  # ordinary -> credit
    TRANSFER_OUT = "collateral_transfer_out"  # credit -> ordinary
    CASH_DEPOSIT = "cash_deposit"  # bank -> credit cash (third-party depository)
    CASH_WITHDRAWAL = "cash_withdrawal"  # credit cash -> bank


@dataclass(frozen=True, slots=True)
class NonTradeRequest:
    """A non-trade operation: ``amount_fen`` for cash operations, ``symbol`` and ``quantity``
    for securities ones."""

    request_id: str
    account_id: str
    kind: NonTradeKind
    amount_fen: int = 0
    symbol: str = ""
    quantity: int = 0
    # The firm's own repayment from the account during forced liquidation (S1 art. 64):
    # like a forced order it is not the client's business and the status does not stop it.
    forced: bool = False
