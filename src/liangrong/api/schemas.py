"""The service's request and response bodies.

Units follow the project: amounts in fen, prices in li, quantities in shares, all integers;
where a person types a figure (a price, an amount) the request takes yuan as decimal text
and the service converts it exactly (``domain.money``), refusing more places than the unit
has.  Identifiers are constrained by pattern, so nothing unprintable reaches the store.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from liangrong.domain.default_records import DefaultKind
from liangrong.domain.orders import CLIENT_ORDER_KINDS, NonTradeKind
from liangrong.domain.recorded_defaults import MAX_NOTE, RECORD_ID_PATTERN

ID_PATTERN = r"^[A-Za-z0-9_.:-]{1,48}$"
CLIENT_PATTERN = r"^[A-Za-z0-9_-]{1,32}$"
SYMBOL_PATTERN = r"^[0-9]{6}\.(SH|SZ|BJ)$"
YUAN_PATTERN = r"^[0-9]{1,12}(\.[0-9]{1,3})?$"
DATE_PATTERN = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$"

Identifier = Annotated[str, Field(pattern=ID_PATTERN)]
ClientId = Annotated[str, Field(pattern=CLIENT_PATTERN)]
Symbol = Annotated[str, Field(pattern=SYMBOL_PATTERN)]
Yuan = Annotated[str, Field(pattern=YUAN_PATTERN, description="yuan as decimal text")]
Shares = Annotated[int, Field(gt=0, le=1_000_000_000)]

ClientOrderKind = Literal[
    "collateral_buy",
    "collateral_sell",
    "margin_buy",
    "sell_to_repay",
    "short_sell",
    "buy_to_cover",
]
assert set(ClientOrderKind.__args__) == set(CLIENT_ORDER_KINDS)  # type: ignore[attr-defined]
RequestKind = Literal[
    "direct_repayment",
    "direct_return",
    "collateral_transfer_in",
    "collateral_transfer_out",
    "cash_deposit",
    "cash_withdrawal",
]
assert set(RequestKind.__args__) == {k.value for k in NonTradeKind}  # type: ignore[attr-defined]
# Every kind, so that a derived one gets its own refusal (DERIVED_KIND), not a schema error.
DefaultKindName = Literal[
    "overdue_debt",
    "margin_call_unmet",
    "liquidation_shortfall",
    "overdue_charges",
    "bad_credit",
    "other",
]
assert set(DefaultKindName.__args__) == {k.value for k in DefaultKind}  # type: ignore[attr-defined]
DateText = Annotated[str, Field(pattern=DATE_PATTERN, description="YYYY-MM-DD")]
Note = Annotated[str, Field(max_length=MAX_NOTE, description="one line of printable text")]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class OrderIn(Strict):
    client_id: ClientId
    kind: ClientOrderKind
    symbol: Symbol
    price: Yuan
    quantity: Shares
    order_id: Identifier | None = Field(
        default=None, description="the caller's id for the order (default: the service's)"
    )


class OrderOut(BaseModel):
    order_id: str
    client_id: str
    kind: str
    symbol: str
    side: str
    price_li: int
    quantity: int
    filled_quantity: int
    filled_value_li: int
    status: str


class RequestIn(Strict):
    client_id: ClientId
    kind: RequestKind
    amount: Yuan | None = Field(default=None, description="cash operations: yuan")
    symbol: Symbol | None = Field(default=None, description="securities operations")
    quantity: Shares | None = None
    request_id: Identifier | None = None


class RequestOut(BaseModel):
    request_id: str
    client_id: str
    kind: str
    amount_fen: int
    symbol: str
    quantity: int
    done: bool


class Limits(BaseModel):
    financing_limit_fen: int
    short_limit_fen: int
    total_limit_fen: int
    financing_used_fen: int
    short_used_fen: int
    financing_remaining_fen: int
    short_remaining_fen: int
    total_remaining_fen: int


class Figures(BaseModel):
    """The exchange formulas at the book's current prices; yuan text rounded to the safe
    side (assets down, debt up), ratios exact."""

    total_assets: str
    total_debt: str
    maintenance_ratio: str | None
    maintenance_ratio_exact: str | None
    cash_and_securities_ratio: str | None
    available_margin: str
    status: str


class AccountRow(BaseModel):
    client_id: str
    name: str
    account_status: str
    risk_status: str
    maintenance_ratio: str | None


class AccountPage(BaseModel):
    total: int
    offset: int
    accounts: list[AccountRow]


class AccountOut(BaseModel):
    client_id: str
    name: str
    account_status: str
    risk_status: str
    prices_at: str
    cash_free_fen: int
    cash_locked_fen: int
    withdrawable_fen: int
    limits: Limits
    figures: Figures


class PositionOut(BaseModel):
    symbol: str
    quantity: int
    price_li: int
    value_li: int
    haircut: str


class ContractOut(BaseModel):
    contract_id: str
    kind: str
    symbol: str
    opened: str
    maturity: str
    maturity_provisional: bool
    quantity: int
    amount_fen: int
    price_li: int
    principal_outstanding: int = Field(description="fen (financing) or shares (short)")
    charges_outstanding_fen: int


class RiskOut(BaseModel):
    trading_date: str
    prices_at: str
    accounts: int
    by_status: dict[str, int]
    open_calls: int
    liquidation_due: int
    liquidation_runs: int
    timeline: list[tuple[str, dict[str, int]]]


class CallOut(BaseModel):
    client_id: str
    call_id: str
    opened_on: str
    deadline: str
    state: str
    ratio_at_open: str
    line: str
    target: str


class NoticeOut(BaseModel):
    client_id: str
    kind: str
    at: str
    text_zh: str
    text_en: str


class LiquidationOut(BaseModel):
    run_id: str
    client_id: str
    reason: str
    reached: bool
    orders: list[OrderOut]


class MarketOut(BaseModel):
    trading_date: str
    at: str
    snapshots: int
    total_snapshots: int
    closed: bool
    failure: str | None


class StepOut(BaseModel):
    step: str
    title: str
    position: int
    completed_at: str | None
    digest: str | None


class EodOut(BaseModel):
    trading_date: str
    complete: bool
    steps: list[StepOut]
    reports_dir: str


class ReportFileOut(BaseModel):
    name: str
    bytes: int


class SubmissionIn(Strict):
    exchange: Literal["SH", "SZ"]
    report: Literal["daily", "defaults"] = "daily"


class SubmissionOut(BaseModel):
    submission_id: str
    report: str
    exchange: str
    trading_date: str
    submitted_at: str  # ISO 8601, UTC
    status: str  # on_time, late, overdue
    file_name: str
    sha256: str
    identities_checked: bool  # the exchange held the previous trading day's report
    submitted_by: str
    of_record: bool  # the one the exchange uses for its report and date


class DefaultIn(Strict):
    client_id: ClientId
    kind: DefaultKindName = Field(description="bad_credit, other or overdue_charges")
    occurred_on: DateText
    amount_owed: Yuan = "0"
    note: Note = Field(default="", description="required for bad_credit and other")
    malicious: bool = Field(default=False, description="the firm judges it malicious (恶意违约)")
    record_id: str | None = Field(
        default=None,
        pattern=RECORD_ID_PATTERN,
        description="the firm's id (default: default:{client}:{kind}:{date})",
    )


class DefaultCureIn(Strict):
    cured_on: DateText
    note: Note = ""


class DefaultWithdrawalIn(Strict):
    reason: Note = Field(description="why it was recorded in error (required)")
    withdrawn_on: DateText | None = Field(
        default=None, description="the withdrawal's date (default: the trading date)"
    )


class DefaultOut(BaseModel):
    record_id: str
    client_id: str
    kind: str
    occurred_on: str
    amount_owed_fen: int
    note: str
    malicious: bool
    recorded_by: str
    recorded_at: str
    cured_on: str | None  # None: open
    cured_by: str | None
    cure_note: str | None
    cured_at: str | None
    withdrawn_on: str | None  # None: not withdrawn (as of the day asked)
    withdrawn_by: str | None
    withdrawal_reason: str | None
    withdrawn_at: str | None


class UserIn(Strict):
    user_id: Identifier
    role: Literal["margin_desk", "risk_officer", "operations", "client", "auditor"]
    client_id: ClientId | None = None


class UserOut(BaseModel):
    user_id: str
    role: str
    client_id: str | None
    actions: list[str]


class KeyOut(UserOut):
    api_key: str = Field(description="shown once; the store keeps only its hash")


class AuditOut(BaseModel):
    seq: int
    at: str
    user_id: str
    role: str
    action: str
    method: str
    path: str
    subject: str
    request: object
    status_code: int
    outcome: object
