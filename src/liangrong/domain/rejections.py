"""Business refusals: an enumerated code with a message in Chinese and English.

Invariant: every refusal the system gives a user is a ``Rejection`` whose code is a
member of one of the enumerations below; exceptions of other types are programmer errors.
"""

from __future__ import annotations

from enum import Enum


class LedgerCode(Enum):
    """Why the ledger refused a command.  Value: (zh, en) message templates."""

    EMPTY_ENTRY = ("分录没有任何过账", "the entry has no postings")
    ZERO_AMOUNT = ("过账金额为零: {detail}", "a posting has a zero amount: {detail}")
    UNBALANCED = ("分录借贷不平: {detail}", "postings do not sum to zero per asset: {detail}")
    UNKNOWN_ACCOUNT = ("账户名称不合规: {detail}", "not an account of the chart: {detail}")
    UNKNOWN_PURPOSE = ("用途不在允许范围内: {detail}", "purpose is not a permitted use: {detail}")
    PURPOSE_NOT_PERMITTED = (
        "该用途不允许此资金或证券流向: {detail}",
        "this purpose does not permit the movement: {detail}",
    )
    CROSS_CLIENT = (
        "一笔分录不得涉及多个客户的账户: {detail}",
        "one entry may not touch more than one client's accounts: {detail}",
    )
    NOT_FROM_POOL = (
        "融资只能来自融资专用资金账户, 融券只能来自融券专用证券账户: {detail}",
        "financing must come out of the financing pool and lending out of the lending pool: "
        "{detail}",
    )
    OVERDRAWN = ("余额不足: {detail}", "balance would go below zero: {detail}")
    POOL_OVERDRAWN = (
        "融资融券专用账户不得超额出借: {detail}",
        "the financing or lending pool would be over-lent: {detail}",
    )
    DEBT_SIGN = ("负债账户余额方向错误: {detail}", "a debt account would turn positive: {detail}")
    ACCOUNT_NOT_OPEN = (
        "客户信用账户未开立: {detail}",
        "the client's credit account is not open: {detail}",
    )
    IDEMPOTENCY_CONFLICT = (
        "同一调用编号对应不同内容: {detail}",
        "the same command id was used with a different payload: {detail}",
    )
    HOLDER_NAME_MISMATCH = (
        "信用账户户名须与普通账户一致: {detail}",
        "the credit account holder's name must match the ordinary account: {detail}",
    )
    CREDIT_ACCOUNT_EXISTS = (
        "每个客户在每个交易所只能开立一个信用证券账户: {detail}",
        "a client has one credit securities account per exchange: {detail}",
    )
    INVALID_COMMAND = ("指令内容不合规: {detail}", "the command is malformed: {detail}")


class Rejection(Exception):
    """A refused business command.  ``code`` is an enum member; messages are rendered."""

    def __init__(self, code: Enum, detail: str = "") -> None:
        zh, en = code.value
        self.code = code
        self.detail = detail
        self.message_zh = zh.format(detail=detail)
        self.message_en = en.format(detail=detail)
        super().__init__(f"{code.name}: {self.message_en}")

    def __reduce__(self) -> tuple[type[Rejection], tuple[Enum, str]]:
        # Pickled as its arguments (the message is rendered from them): a worker process
        # may raise it for the parent to raise.
        return (type(self), (self.code, self.detail))

    @property
    def code_name(self) -> str:
        return self.code.name
