"""The exchange daily report (REP-1): per trading date and security, the day's financing
and lending business, its identities, and when a submission counts.

Units: amounts in fen, quantities in shares, prices in li.  Each row carries two sets of
``DebtFigures``, one for financing (fen) and one for short (shares):

    new             融资买入额 / 融券卖出量: debt opened today
    direct          直接还款 / 直接还券
    trade           卖券还款 / 买券还券 (the client's own sale or purchase)
    forced          强制平仓 (the firm's forced sell or forced buy)
    adjustment      权益调整 (corporate actions), signed: positive reduces the debt
    balance         融资余额 / 融券余量 at the close

Invariants (``check_rows`` returns each breach as a ``ReportViolation``):
- identity (domain-notes §1): balance = yesterday's balance + new − repaid, where
  repaid = direct + trade + forced + adjustment, for the financing balance and the short
  quantity of every security;
- no figure but the adjustment is negative, and no balance is;
- carry-forward: a security with an open balance yesterday has a row today, whatever the
  lists say (S0 ch6 §1: it stays until its business is closed); a row is dropped the day
  after its balances reach zero with nothing moving;
- short balance (融券余额) = short quantity × closing price, rounded half up to the fen
  (``Rounding.HALF_UP``, as a trade amount is); a short open without a close is refused;
- an ``ExchangeReport`` exists only through ``validated_report``: a report that breaks any
  check is never published (REP-1: accepted only when validation passes).

Submission (S0 ch6 §1): before the cut-off (22:00 local time, exclusive: 22:00:00 is late),
each submission replaces the previous one; after it, a submission is LATE, to be completed
before the late deadline (11:00 of the next trading day, exclusive), and after that OVERDUE.
The deadlines are a dated parameter (``SubmissionWindow`` versions), never constants here.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone
from enum import Enum

from liangrong.domain.contracts import ContractKind
from liangrong.domain.money import Rounding, li_to_fen, value_li
from liangrong.domain.orders import OrderKind
from liangrong.domain.versions import History

# --------------------------------------------------------------------------- movements


class Channel(Enum):
    """How a debt moved; the same five channels for financing and for shorts."""

    NEW = "new"  # 融资买入 / 融券卖出
    DIRECT = "direct"  # 直接还款 / 直接还券
    TRADE = "trade"  # 卖券还款 / 买券还券
    FORCED = "forced"  # 平仓卖出 / 平仓买入
    ADJUSTMENT = "adjustment"  # 权益调整: corporate actions, either sign


def _fill(kind: OrderKind) -> str:
    """The journal kind of a fill (``domain.settlement`` names them ``<order kind>_fill``)."""
    return f"{kind.value}_fill"


# The journal's transaction kind tells the channel.  A collateral sell that repays financing
# (ORD-4: proceeds of a margin-bought security repay financing first) is a sell to repay.
# Corporate actions on debts are not posted by any builder yet; they are reserved the kind
# ``ADJUSTMENT_KIND`` and may move a debt either way.
ADJUSTMENT_KIND = "corporate_action_adjustment"
CHANNEL_OF_KIND: Mapping[ContractKind, Mapping[str, Channel]] = {
    ContractKind.FINANCING: {
        _fill(OrderKind.MARGIN_BUY): Channel.NEW,
        "direct_repayment": Channel.DIRECT,
        _fill(OrderKind.SELL_TO_REPAY): Channel.TRADE,
        _fill(OrderKind.COLLATERAL_SELL): Channel.TRADE,
        _fill(OrderKind.FORCED_SELL): Channel.FORCED,
        ADJUSTMENT_KIND: Channel.ADJUSTMENT,
    },
    ContractKind.SHORT: {
        _fill(OrderKind.SHORT_SELL): Channel.NEW,
        "direct_return": Channel.DIRECT,
        _fill(OrderKind.BUY_TO_COVER): Channel.TRADE,
        _fill(OrderKind.FORCED_BUY): Channel.FORCED,
        ADJUSTMENT_KIND: Channel.ADJUSTMENT,
    },
}


@dataclass(frozen=True, slots=True)
class DebtMovement:
    """One change of debt as the report counts it.  ``amount``: fen or shares, positive for
    NEW and the repayments; for ADJUSTMENT signed, positive when it reduces the debt."""

    security: str
    side: ContractKind
    channel: Channel
    amount: int


def classify_posting(
    txn_kind: str, side: ContractKind, security: str, ledger_amount: int
) -> DebtMovement | None:
    """The movement a posting on a debt account makes, or None when the report cannot tell
    (an unknown transaction kind, or a sign the kind does not allow).  On a debt account a
    negative posting grows the debt, a positive one repays it."""
    channel = CHANNEL_OF_KIND[side].get(txn_kind)
    if channel is None or ledger_amount == 0:
        return None
    if channel is Channel.ADJUSTMENT:
        return DebtMovement(security, side, channel, ledger_amount)
    if (channel is Channel.NEW) != (ledger_amount < 0):
        return None
    return DebtMovement(security, side, channel, abs(ledger_amount))


# --------------------------------------------------------------------------- rows


@dataclass(frozen=True, slots=True)
class DebtFigures:
    """One side of a row (fen for financing, shares for shorts)."""

    new: int = 0
    direct: int = 0
    trade: int = 0
    forced: int = 0
    adjustment: int = 0
    balance: int = 0

    @property
    def repaid(self) -> int:
        """融资还款额 / 融券偿还量: every channel that reduces the debt."""
        return self.direct + self.trade + self.forced + self.adjustment

    @property
    def moved(self) -> bool:
        return any((self.new, self.direct, self.trade, self.forced, self.adjustment))


@dataclass(frozen=True, slots=True)
class ReportRow:
    trading_date: date
    security: str  # ledger asset, e.g. "600000.SH"
    financing: DebtFigures  # fen
    short: DebtFigures  # shares
    close_price_li: int | None  # the day's close; required while a short is open
    short_balance_fen: int  # 融券余额 = short quantity × close, half up to the fen
    on_target_list: bool  # a financing or short target of the exchange that day

    @property
    def total_balance_fen(self) -> int:
        """融资融券余额 = financing balance + short balance (domain-notes §1)."""
        return self.financing.balance + self.short_balance_fen

    @property
    def is_open(self) -> bool:
        return self.financing.balance > 0 or self.short.balance > 0

    @property
    def exchange(self) -> str:
        return self.security.rsplit(".", 1)[1]


def short_balance_fen(quantity: int, close_price_li: int) -> int:
    """融券余额 of ``quantity`` shares at the close, rounded half up to the fen."""
    return li_to_fen(value_li(quantity, close_price_li), Rounding.HALF_UP)


def _figures(opening: int, moves: Iterable[DebtMovement]) -> DebtFigures:
    by_channel: dict[Channel, int] = defaultdict(int)
    for move in moves:
        by_channel[move.channel] += move.amount
    figures = DebtFigures(
        by_channel[Channel.NEW],
        by_channel[Channel.DIRECT],
        by_channel[Channel.TRADE],
        by_channel[Channel.FORCED],
        by_channel[Channel.ADJUSTMENT],
    )
    return _with_balance(figures, opening + figures.new - figures.repaid)


def _with_balance(figures: DebtFigures, balance: int) -> DebtFigures:
    f = figures
    return DebtFigures(f.new, f.direct, f.trade, f.forced, f.adjustment, balance)


def _previous_balances(
    trading_date: date, previous: Sequence[ReportRow]
) -> dict[str, tuple[int, int]]:
    dates = {row.trading_date for row in previous}
    if len(dates) > 1 or any(d >= trading_date for d in dates):
        raise ValueError(f"previous rows must be of one date before {trading_date}: {dates}")
    return {row.security: (row.financing.balance, row.short.balance) for row in previous}


def build_rows(
    trading_date: date,
    previous: Sequence[ReportRow],
    movements: Iterable[DebtMovement],
    closes_li: Mapping[str, int],
    targets: Collection[str],
) -> tuple[ReportRow, ...]:
    """The day's rows, sorted by security: every security with business today or a balance
    open at yesterday's close.  ``previous``: yesterday's rows (empty before the first
    report); ``targets``: the exchange's financing and short targets that day.  Raises
    ``ReportRefused`` when a short is open at the close of a security without a close."""
    opening = _previous_balances(trading_date, previous)
    moves: dict[str, list[DebtMovement]] = defaultdict(list)
    for move in movements:
        moves[move.security].append(move)
    securities = {s for s, (f, q) in opening.items() if f or q} | moves.keys()
    rows = []
    for security in sorted(securities):
        financing_open, short_open = opening.get(security, (0, 0))
        day = moves.get(security, [])
        financing = _figures(financing_open, (m for m in day if m.side is ContractKind.FINANCING))
        short = _figures(short_open, (m for m in day if m.side is ContractKind.SHORT))
        close = closes_li.get(security)
        balance = short_balance_fen(short.balance, close) if close and short.balance > 0 else 0
        rows.append(
            ReportRow(trading_date, security, financing, short, close, balance, security in targets)
        )
    missing = [
        ReportViolation(ReportCheck.MISSING_CLOSE_PRICE, row.security, "close_price")
        for row in rows
        if row.short.balance > 0 and not row.close_price_li
    ]
    refuse_if_any(missing)
    return tuple(rows)


# --------------------------------------------------------------------------- checks


class ReportCheck(Enum):
    """Why a report may not be published.  Value: (zh, en) message templates."""

    WRONG_DATE = ("报表日期错误 {security}", "row of another date {security}")
    DUPLICATE_SECURITY = ("证券重复 {security}", "security reported twice {security}")
    FINANCING_IDENTITY = (
        "融资余额不等于上日余额+融资买入额-融资还款额 {security}: {actual} ≠ {expected}",
        "financing balance != yesterday + buys - repaid {security}: {actual} != {expected}",
    )
    SHORT_IDENTITY = (
        "融券余量不等于上日余量+融券卖出量-融券偿还量 {security}: {actual} ≠ {expected}",
        "short quantity != yesterday + sold - repaid {security}: {actual} != {expected}",
    )
    NEGATIVE_FIGURE = (
        "{field}为负 {security}: {actual}",
        "{field} is negative {security}: {actual}",
    )
    DROPPED_OPEN_SECURITY = (
        "上日未了结的证券缺报 {security}",
        "security open at yesterday's close is missing {security}",
    )
    MISSING_CLOSE_PRICE = (
        "融券未了结但无收盘价 {security}",
        "short open without a close {security}",
    )
    SHORT_BALANCE = (
        "融券余额不等于融券余量×收盘价 {security}: {actual} ≠ {expected}",
        "short balance != quantity x close {security}: {actual} != {expected}",
    )
    UNCLASSIFIED_MOVEMENT = (
        "无法归类的负债变动 {security} {field}: {actual}",
        "debt movement the report cannot classify {security} {field}: {actual}",
    )
    UNKNOWN_CONTRACT = ("负债账户无合约记录 {field}", "debt account without a contract {field}")
    LEDGER_MISMATCH = (
        "报表与账簿不符 {security} {field}: 报表 {actual}, 账簿 {expected}",
        "report and ledger differ {security} {field}: report {actual}, ledger {expected}",
    )


@dataclass(frozen=True, slots=True)
class ReportViolation:
    code: ReportCheck
    security: str = ""
    field: str = ""
    actual: int | None = None
    expected: int | None = None

    def _render(self, template: str) -> str:
        return template.format(
            security=self.security, field=self.field, actual=self.actual, expected=self.expected
        )

    @property
    def message_zh(self) -> str:
        return self._render(self.code.value[0])

    @property
    def message_en(self) -> str:
        return self._render(self.code.value[1])


class ReportRefused(ValueError):
    """The report is not published; carries every violation found."""

    def __init__(self, violations: Sequence[ReportViolation]) -> None:
        assert violations, "ReportRefused needs at least one violation"
        self.violations = tuple(violations)
        super().__init__("; ".join(f"{v.code.name}: {v.message_en}" for v in self.violations))

    @property
    def codes(self) -> frozenset[ReportCheck]:
        return frozenset(v.code for v in self.violations)


def refuse_if_any(found: Sequence[ReportViolation]) -> None:
    if found:
        raise ReportRefused(found)


def _side_violations(
    security: str, name: str, figures: DebtFigures, opening: int, identity: ReportCheck
) -> list[ReportViolation]:
    found = [
        ReportViolation(ReportCheck.NEGATIVE_FIGURE, security, f"{name}.{part}", value)
        for part, value in (
            ("new", figures.new),
            ("direct", figures.direct),
            ("trade", figures.trade),
            ("forced", figures.forced),
            ("balance", figures.balance),
        )
        if value < 0
    ]
    expected = opening + figures.new - figures.repaid
    if figures.balance != expected:
        found.append(ReportViolation(identity, security, name, figures.balance, expected))
    return found


def _row_violations(row: ReportRow, opening: tuple[int, int]) -> list[ReportViolation]:
    s = row.security
    found = _side_violations(
        s, "financing", row.financing, opening[0], ReportCheck.FINANCING_IDENTITY
    )
    found += _side_violations(s, "short", row.short, opening[1], ReportCheck.SHORT_IDENTITY)
    if row.short.balance > 0 and not row.close_price_li:
        found.append(ReportViolation(ReportCheck.MISSING_CLOSE_PRICE, s, "close_price"))
    else:
        price = row.close_price_li or 0
        expected = short_balance_fen(row.short.balance, price) if row.short.balance > 0 else 0
        if row.short_balance_fen != expected:
            found.append(
                ReportViolation(
                    ReportCheck.SHORT_BALANCE, s, "short_balance", row.short_balance_fen, expected
                )
            )
    return found


def check_rows(
    trading_date: date, previous: Sequence[ReportRow], rows: Sequence[ReportRow]
) -> list[ReportViolation]:
    """Every breach of the report's invariants (see the module docstring); empty: publishable."""
    opening = _previous_balances(trading_date, previous)
    found: list[ReportViolation] = []
    seen: set[str] = set()
    for row in rows:
        if row.trading_date != trading_date:
            found.append(ReportViolation(ReportCheck.WRONG_DATE, row.security))
        if row.security in seen:
            found.append(ReportViolation(ReportCheck.DUPLICATE_SECURITY, row.security))
        seen.add(row.security)
        found += _row_violations(row, opening.get(row.security, (0, 0)))
    found += [
        ReportViolation(ReportCheck.DROPPED_OPEN_SECURITY, security)
        for security, (f, q) in sorted(opening.items())
        if (f or q) and security not in seen
    ]
    return found


# The checks that need the member's balances at the previous close.
_IDENTITIES = frozenset({ReportCheck.FINANCING_IDENTITY, ReportCheck.SHORT_IDENTITY})


def review_rows(
    trading_date: date, previous: Sequence[ReportRow] | None, rows: Sequence[ReportRow]
) -> list[ReportViolation]:
    """The exchange's review (审核) of a member's submitted report: ``check_rows`` against
    the report of record of the previous trading day.  ``previous`` None: the exchange
    holds no report of that day (the member's first, or a day never submitted), so the
    identities cannot be checked there; every other check still is."""
    if previous is not None:
        return check_rows(trading_date, previous, rows)
    return [v for v in check_rows(trading_date, (), rows) if v.code not in _IDENTITIES]


@dataclass(frozen=True, slots=True)
class ExchangeReport:
    """A day's report that passed ``check_rows``; obtain it through ``validated_report``."""

    trading_date: date
    rows: tuple[ReportRow, ...]
    previous_date: date | None  # the report it was checked against (None: the first one)

    def for_exchange(self, exchange: str) -> tuple[ReportRow, ...]:
        """The rows one exchange receives (its own securities)."""
        return tuple(row for row in self.rows if row.exchange == exchange)


def validated_report(
    trading_date: date, previous: Sequence[ReportRow], rows: Sequence[ReportRow]
) -> ExchangeReport:
    """The publishable report, or ``ReportRefused`` listing every violation."""
    refuse_if_any(check_rows(trading_date, previous, rows))
    previous_date = previous[0].trading_date if previous else None
    return ExchangeReport(trading_date, tuple(rows), previous_date)


# --------------------------------------------------------------------------- submission


class SubmittedReport(Enum):
    """What a member submits each trading day (S0 ch6)."""

    DAILY = "daily"  # 融资融券数据申报: the daily report (REP-1)
    DEFAULTS = "defaults"  # 融资融券信用违约申报: the default records (REP-2)


class SubmissionStatus(Enum):
    ON_TIME = "on_time"  # before the cut-off: replaces any earlier submission of the day
    LATE = "late"  # after the cut-off: marked late, completes the day by the next morning
    OVERDUE = "overdue"  # after the late deadline too: the exchange may take measures


@dataclass(frozen=True, slots=True)
class SubmissionWindow:
    """The exchange's deadlines for a day's report (S0 ch6 §1), in the exchange's local time.
    Both bounds are exclusive: on time means strictly before ``cut_off``."""

    cut_off: time  # on the trading date, e.g. 22:00
    late_deadline: time  # on the next trading day, e.g. 11:00
    utc_offset: timedelta = field(default=timedelta(hours=8))  # China Standard Time


@dataclass(frozen=True, slots=True)
class SubmissionDecision:
    trading_date: date
    submitted_at: datetime
    status: SubmissionStatus
    cut_off_at: datetime
    late_deadline_at: datetime  # on the next trading day

    @property
    def replaces_earlier(self) -> bool:
        """An on-time resubmission overwrites the day's earlier ones."""
        return self.status is SubmissionStatus.ON_TIME


def judge_submission(
    trading_date: date,
    submitted_at: datetime,
    next_trading_day: date,
    windows: History[SubmissionWindow],
) -> SubmissionDecision:
    """When a submission of ``trading_date``'s report counts, under the window in force on
    that date.  ``submitted_at`` must carry its time zone."""
    if submitted_at.tzinfo is None or submitted_at.utcoffset() is None:
        raise ValueError("submitted_at needs a time zone")
    if next_trading_day <= trading_date:
        raise ValueError(f"next trading day {next_trading_day} is not after {trading_date}")
    version = windows.version_at(trading_date)
    if version is None:
        raise LookupError(f"no submission window in force on {trading_date}")
    window = version.value
    zone = timezone(window.utc_offset)
    local = submitted_at.astimezone(zone)
    if local.date() < trading_date:
        raise ValueError(f"a report of {trading_date} cannot be submitted on {local.date()}")
    cut_off = datetime.combine(trading_date, window.cut_off, zone)
    late = datetime.combine(next_trading_day, window.late_deadline, zone)
    if local < cut_off:
        status = SubmissionStatus.ON_TIME
    elif local < late:
        status = SubmissionStatus.LATE
    else:
        status = SubmissionStatus.OVERDUE
    return SubmissionDecision(trading_date, submitted_at, status, cut_off, late)


def submission_of_record(decisions: Iterable[SubmissionDecision]) -> SubmissionDecision | None:
    """The submission the exchange uses: the last on time; without one, the last late one;
    without that, the last overdue one (S0 ch6 §1: the last upload before 22:00 counts)."""
    ordered = sorted(decisions, key=lambda d: d.submitted_at)
    for status in SubmissionStatus:
        of_status = [d for d in ordered if d.status is status]
        if of_status:
            return of_status[-1]
    return None
