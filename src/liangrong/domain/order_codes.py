"""Why a credit order or non-trade request was refused at the front end (ORD-3, CLI-4).

Invariants:
- every refusal of ``domain.pretrade`` is exactly one ``OrderCode`` member (never free text);
  its value is the (zh, en) message, so ``rejections.Rejection(code)`` renders it;
- ``PRECEDENCE`` lists every member exactly once, in the order the checks run: when an order
  breaks several rules, the one earliest here is the code returned (first failure wins);
- messages are unique (``@unique``), so no code is an alias of another.

The order, and why (docs/pretrade.md has the table with the requirement behind each code):
the book's own refusals (an order id used before, an unknown account), who sends (an
ordinary account, a missing flag), whether the order can be read at all, the
business type, then the security and the account's status; the exchange's order rules that
need no holding (suspension, tick, price limits); list eligibility, exchange halts and the
client's personal bans; the holdings the order draws on; the exchange's quantity and
short-price rules (after the holding, since a sale's odd lot and the "beyond the short
quantity" exception read it); the client's own limits (concentration, credit limits, then
margin); the firm-level limits of the business (RISK-11: one client, one security, the
whole business against net capital, the firm's lines and the board's cap), which bind the
firm and are said only when the client's own limits pass, narrowest first as the firm's
room is checked; the firm's pools, which are the firm's problem and said only when the
client is otherwise fine (a pool with cash left still may not lend past a firm limit, so
the limit is named first: it is the reason the order cannot be served at all today); and
last the cash that pays.
"""

from __future__ import annotations

from enum import unique

from liangrong.domain.bilingual import Bilingual


@unique
class OrderCode(Bilingual):
    """A front-end refusal.  Value: (zh, en) message; no placeholders (the hot path returns
    the bare code; a caller may add a detail through ``Rejection(code, detail)``)."""

    DUPLICATE_ORDER_ID = ("委托编号重复", "the order id was already used")
    UNKNOWN_ACCOUNT = ("信用账户不存在", "unknown credit account")
    ORDINARY_ACCOUNT_CREDIT_FLAG = (
        "普通证券账户不得申报带担保品、融资、融券或平仓标识的委托或信用非交易业务",
        "an ordinary securities account may not send credit-flagged orders or credit requests",
    )
    CREDIT_FLAG_MISSING = (
        "信用证券账户的委托须带融资融券标识",
        "an order from a credit account must carry the credit flag",
    )
    INVALID_ORDER = (
        "委托或申请要素不合规: 账户不符、价格或数量非正数、或买卖方向与委托类型不符",
        "malformed order or request: wrong account, non-positive price, quantity or amount, "
        "or a side that does not match the kind",
    )
    BUSINESS_NOT_ALLOWED = (
        "信用证券账户不得从事该类业务(定向增发、预受要约、现金选择权、基金申赎、回购、ETF申赎等)",
        "a credit account may not do this business (placements, tender offers, cash options, "
        "fund or ETF creation and redemption, repo)",
    )
    UNKNOWN_SECURITY = ("证券代码不存在", "unknown security")
    ACCOUNT_CALL_RESTRICTED = (
        "账户维持担保比例低于平仓线, 已限制担保品买入、融资买入和融券卖出",
        "the account is below the liquidation line: collateral buys, margin buys and short "
        "sales are restricted",
    )
    ACCOUNT_IN_LIQUIDATION = (
        "账户处于强制平仓状态, 仅允许公司平仓委托和提交担保物",
        "the account is in forced liquidation: only the firm's forced orders and deposits of "
        "collateral are accepted",
    )
    IDENTITY_DOCUMENT_EXPIRED = (
        "身份证明文件已过期且未在宽限期内更新, 暂停融资买入和融券卖出",
        "an identity document on file expired and was not renewed within the grace: margin "
        "buys and short sales are suspended until it is renewed",
    )
    SECURITY_SUSPENDED = ("证券停牌, 不接受委托", "the security is suspended")
    PRICE_TICK = ("委托价格不是最小价格变动单位的整数倍", "the price is not on the tick")
    PRICE_OUTSIDE_LIMITS = ("委托价格超出涨跌幅限制", "the price is outside today's price limits")
    NOT_COLLATERAL_OR_TARGET = (
        "信用账户只能买入或转入可充抵保证金证券或标的证券",
        "a credit account may buy or take in only collateral or target securities",
    )
    NOT_FINANCING_TARGET = ("该证券不是融资标的证券", "not a financing target security")
    NOT_SHORT_TARGET = ("该证券不是融券标的证券", "not a short target security")
    FINANCING_HALTED = (
        "交易所已暂停该证券的融资买入",
        "the exchange has halted margin buys of this security",
    )
    SHORT_HALTED = (
        "交易所已暂停该证券的融券卖出",
        "the exchange has halted short sales of this security",
    )
    INSIDER_TRADING = (
        "上市公司董事、监事、高级管理人员及持股5%以上股东不得融资买入或融券卖出本公司股票",
        "directors, supervisors, senior managers and 5% holders may not buy their company's "
        "stock on margin or sell it short",
    )
    LOCKUP_SHORT = (
        "战略配售投资者在承诺持有期内不得融券卖出该股票",
        "a strategic placement investor may not sell the stock short during the lock-up",
    )
    NOTHING_TO_REPAY = ("没有未了结的融资负债", "there is no open financing to repay")
    NOTHING_TO_COVER = ("没有该证券的融券负债", "there is no short of this security to cover")
    COVER_EXCEEDS_SHORT = (
        "还券数量超过尚未归还的融券数量",
        "the quantity exceeds the shares still owed on the short",
    )
    SAME_DAY_COVER = (
        "当日融券卖出的证券不得当日归还, 自下一交易日起方可还券",
        "shares sold short today can be returned only from the next trading day",
    )
    RESTRICTED_SHARES = (
        "被查封、冻结、设定第三方权利或减持受限的证券不得作为担保物、出借或归还融券负债",
        "seized, frozen, encumbered or reduced-holding restricted shares cannot serve as "
        "collateral, be lent, sold or returned against a short",
    )
    INSUFFICIENT_POSITION = (
        "可用证券数量不足(当日买入、已冻结和已委托的不可用)",
        "not enough sellable shares (today's purchases, restricted and reserved shares excluded)",
    )
    LOT_SIZE = ("委托数量不符合交易单位规则", "the quantity breaks the lot rule")
    SHORT_PRICE_BELOW_LAST = (
        "融券卖出价格不得低于最新成交价(当日无成交的, 不得低于前收盘价)",
        "a short sale may not be priced below the latest trade (previous close if none today)",
    )
    SELL_PRICE_BELOW_LAST_WHILE_SHORT = (
        "融券未了结期间卖出同一证券, 价格不得低于最新成交价(超出融券数量的部分除外)",
        "while short, a sale of the same security may not be priced below the latest trade, "
        "except the part beyond the short quantity",
    )
    CONCENTRATION_LIMIT = (
        "该证券市值占担保物比例已达到或将超过约定比例, 暂停融资买入",
        "the security's share of the collateral reaches or would pass the agreed level: "
        "margin buys of it stop",
    )
    FINANCING_LIMIT = ("超过融资授信额度", "the financing credit limit would be exceeded")
    SHORT_LIMIT = ("超过融券授信额度", "the short credit limit would be exceeded")
    TOTAL_LIMIT = ("超过总授信额度", "the total credit limit would be exceeded")
    INSUFFICIENT_MARGIN = (
        "保证金可用余额不足",
        "the available margin does not cover the margin this order needs",
    )
    FIRM_CLIENT_LIMIT = (
        "超过公司对单一客户的融资或融券规模控制指标(占净资本或公司融资、融券总额度的比例)",
        "the firm's limit on one client's financing or lending (a share of net capital or of "
        "the firm's line) would be exceeded",
    )
    FIRM_SECURITY_LIMIT = (
        "超过公司对单一证券的业务集中度控制指标(融资融券金额占净资本、融资持仓或融券余量占"
        "流通股本、接受担保股票市值占总市值的比例)",
        "the firm's limit on one security (its financing and lending against net capital, "
        "financed holdings or shorts against its float, or collateral held against its total "
        "value) would be exceeded",
    )
    FIRM_SCALE_LIMIT = (
        "超过公司融资融券业务总规模控制指标(净资本倍数、公司融资或融券总额度、董事会规模上限)",
        "the firm's limit on the whole business (a multiple of net capital, the firm's "
        "financing or lending line, or the board's cap) would be exceeded",
    )
    FINANCING_POOL_EXHAUSTED = (
        "公司融资专用资金账户余额不足, 不得超额融出资金",
        "the firm's financing cash pool cannot lend this much",
    )
    LENDING_POOL_EXHAUSTED = (
        "公司融券专用证券账户该证券数量不足, 不得超额融出证券",
        "the firm's lending securities pool cannot lend this many shares",
    )
    WITHDRAWAL_LINE = (
        "提取后维持担保比例将低于提取线",
        "the withdrawal would take the account below the withdrawal line",
    )
    RIGHTS_SUBSCRIPTION_NEEDS_CASH = (
        "配股、配债、行权须在信用资金账户中准备足额资金",
        "a rights subscription needs the full amount in free cash in the credit account",
    )
    INSUFFICIENT_CASH = ("可用资金不足", "not enough usable cash")


# First failure wins: the checks run in this order (see the module docstring for why).
PRECEDENCE: tuple[OrderCode, ...] = (
    OrderCode.DUPLICATE_ORDER_ID,
    OrderCode.UNKNOWN_ACCOUNT,
    OrderCode.ORDINARY_ACCOUNT_CREDIT_FLAG,
    OrderCode.CREDIT_FLAG_MISSING,
    OrderCode.INVALID_ORDER,
    OrderCode.BUSINESS_NOT_ALLOWED,
    OrderCode.UNKNOWN_SECURITY,
    OrderCode.ACCOUNT_CALL_RESTRICTED,
    OrderCode.ACCOUNT_IN_LIQUIDATION,
    OrderCode.IDENTITY_DOCUMENT_EXPIRED,
    OrderCode.SECURITY_SUSPENDED,
    OrderCode.PRICE_TICK,
    OrderCode.PRICE_OUTSIDE_LIMITS,
    OrderCode.NOT_COLLATERAL_OR_TARGET,
    OrderCode.NOT_FINANCING_TARGET,
    OrderCode.NOT_SHORT_TARGET,
    OrderCode.FINANCING_HALTED,
    OrderCode.SHORT_HALTED,
    OrderCode.INSIDER_TRADING,
    OrderCode.LOCKUP_SHORT,
    OrderCode.NOTHING_TO_REPAY,
    OrderCode.NOTHING_TO_COVER,
    OrderCode.COVER_EXCEEDS_SHORT,
    OrderCode.SAME_DAY_COVER,
    OrderCode.RESTRICTED_SHARES,
    OrderCode.INSUFFICIENT_POSITION,
    OrderCode.LOT_SIZE,
    OrderCode.SHORT_PRICE_BELOW_LAST,
    OrderCode.SELL_PRICE_BELOW_LAST_WHILE_SHORT,
    OrderCode.CONCENTRATION_LIMIT,
    OrderCode.FINANCING_LIMIT,
    OrderCode.SHORT_LIMIT,
    OrderCode.TOTAL_LIMIT,
    OrderCode.INSUFFICIENT_MARGIN,
    OrderCode.FIRM_CLIENT_LIMIT,
    OrderCode.FIRM_SECURITY_LIMIT,
    OrderCode.FIRM_SCALE_LIMIT,
    OrderCode.FINANCING_POOL_EXHAUSTED,
    OrderCode.LENDING_POOL_EXHAUSTED,
    OrderCode.WITHDRAWAL_LINE,
    OrderCode.RIGHTS_SUBSCRIPTION_NEEDS_CASH,
    OrderCode.INSUFFICIENT_CASH,
)

RANK: dict[OrderCode, int] = {code: rank for rank, code in enumerate(PRECEDENCE)}

# Codes only the book can decide (it keeps the order registry): never returned by the pure
# checks, proved by the book's own tests.
CHECKED_BY_BOOK = frozenset({OrderCode.DUPLICATE_ORDER_ID})
