"""A debt contract's term after opening: expiry notices, due and overdue, extension,
suspension and delisting (CON-1…CON-3, CLI-6 contract expiry; S0 ch4 §5, S1 art. 58-60 and
63, S2 art. 14 and 22-23).

The opening maturity is ``contract_opening.contract_terms``'s (at most the maximum term
after the day of use, rolled back to a trading day); a ``Term`` carries it from there.

Rules, each threshold a firm parameter (``LifecyclePolicy``, dated) or a rule-book term:
- expiry notice: from N trading days before maturity through the maturity day, one notice
  per contract and maturity (a deterministic id, so re-runs add nothing);
- on the maturity day the debt is due; still owed after it, the contract is overdue from the
  next calendar day (penalty interest, ``interest``) and a liquidation trigger from the next
  trading day (``LiquidationReason.CONTRACT_EXPIRED``; S1 art. 63);
- extension (展期) on the client's request, at the latest N trading days before maturity:
  at most ``max_extensions`` times, each at most ``max_extension_months`` after the current
  maturity, never past the master agreement's end; granted when the maintenance ratio is at
  least the higher line (140%), or at least the lower line (130%) with no forced liquidation
  in the lookback (6 months up to the request day, both ends counted), and no record of
  malicious default.  S1 art. 60 also lets the firm's committee grant an extension it judges
  necessary whatever the ratio; the count, term, agreement end and default record still
  hold.  "Not below" includes the bound (S1 art. 77).  Every check is recorded, passed or
  not, so a refusal lists every reason, never only the first;
- suspension (S2 art. 22, S0 ch4 §5): a security suspended on or before the maturity and
  resuming after it postpones the maturity; with no resumption date yet the contract waits,
  neither due nor overdue.  At resumption the agreed postponement applies: by default the
  clock stops while suspended (the maturity moves by the days lost), or N trading days after
  resumption if the agreement says so; either way the term counted before the suspension plus
  the term after resumption stays within the maximum term (S0);
- delisting (S2 art. 23): when the last trading day comes before the maturity, the maturity
  becomes the trading day before the last trading day (never before the day it is applied).

Invariants: a maturity is always a trading day (past the loaded calendar: a provisional
weekday, flagged); an extension never moves a maturity earlier, a delisting never later;
decisions compare exact ``Fraction``s.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date, timedelta
from enum import Enum
from fractions import Fraction

from liangrong.domain.calendar import TradingCalendar, add_months
from liangrong.domain.contracts import ContractTerms
from liangrong.domain.liquidation import LiquidationReason
from liangrong.domain.money import ratio_text
from liangrong.domain.rule_book import Terms
from liangrong.domain.versions import Version

_ONE_DAY = timedelta(days=1)


@dataclass(frozen=True, slots=True)
class LifecyclePolicy:
    """The firm's contract-term parameters (dated: ``Version[LifecyclePolicy]``)."""

    expiry_notice_trading_days: int  # notify from this many trading days before maturity
    request_cutoff_trading_days: int  # last request day: this many before maturity (0: on it)
    extension_ratio_high: Fraction  # at or above: granted on the ratio alone (140%)
    extension_ratio_low: Fraction  # at or above, no recent forced liquidation (130%)
    liquidation_lookback_months: int  # "no forced liquidation in the past 6 months"

    def __post_init__(self) -> None:
        if min(self.expiry_notice_trading_days, self.request_cutoff_trading_days) < 0:
            raise ValueError("notice and cutoff days are never negative")
        if not 1 < self.extension_ratio_low <= self.extension_ratio_high:
            raise ValueError("extension lines: 100% < low ≤ high")
        if self.liquidation_lookback_months < 0:
            raise ValueError("the lookback is never negative")


@dataclass(frozen=True, slots=True)
class Term:
    """A contract's current term: when it started (day of use, or the maturity it was
    extended from), when it ends, and how many extensions it has had."""

    contract_id: str
    started: date
    maturity: date
    provisional: bool = False  # the maturity lies past the loaded calendar
    extensions: int = 0

    def __post_init__(self) -> None:
        assert self.extensions >= 0, self.contract_id


def opening_term(terms: ContractTerms) -> Term:
    return Term(terms.contract_id, terms.used_date, terms.maturity, terms.maturity_provisional)


def terms_with(terms: ContractTerms, term: Term) -> ContractTerms:
    """The contract's terms with the maturity in force: what orders repayments and what is
    due (``collection``)."""
    return replace(terms, maturity=term.maturity, maturity_provisional=term.provisional)


# --------------------------------------------------------------------------- status


class ContractStatus(Enum):
    CLOSED = "closed"  # nothing owed
    RUNNING = "running"
    EXPIRING = "expiring"  # inside the notice window, before the maturity day
    DUE = "due"  # the maturity day
    OVERDUE = "overdue"  # after the maturity day, still owed: penalty and liquidation
    AWAITING_RESUMPTION = "awaiting_resumption"  # suspended over the maturity (S2 art. 22)


@dataclass(frozen=True, slots=True)
class Suspension:
    """The underlying's suspension: first day suspended, first trading day again (None:
    not known yet)."""

    symbol: str
    suspended_from: date
    resumed_on: date | None = None

    def __post_init__(self) -> None:
        assert self.resumed_on is None or self.resumed_on > self.suspended_from, self.symbol

    def postpones(self, maturity: date) -> bool:
        """Suspended on or before the maturity and not trading again until after it."""
        return self.suspended_from <= maturity and (
            self.resumed_on is None or self.resumed_on > maturity
        )


@dataclass(frozen=True, slots=True)
class ExpiryNotice:
    notice_id: str  # expiry:<contract>:<maturity>: one per maturity
    client_id: str
    contract_id: str
    on: date
    maturity: date
    trading_days_left: int
    provisional: bool


@dataclass(frozen=True, slots=True)
class LiquidationTrigger:
    client_id: str
    contract_id: str
    overdue_since: date  # the day after maturity: penalty interest from here
    liquidate_from: date  # the first trading day after maturity
    reason: LiquidationReason = LiquidationReason.CONTRACT_EXPIRED


@dataclass(frozen=True, slots=True)
class LifecycleCheck:
    status: ContractStatus
    notice: ExpiryNotice | None = None
    trigger: LiquidationTrigger | None = None


def notice_date(term: Term, calendar: TradingCalendar, policy: LifecyclePolicy) -> date:
    return calendar.add_trading_days(term.maturity, -policy.expiry_notice_trading_days)


def check_on(
    terms: ContractTerms,
    term: Term,
    on: date,
    owed: bool,
    calendar: TradingCalendar,
    policy: LifecyclePolicy,
    suspension: Suspension | None = None,
) -> LifecycleCheck:
    """The contract's status on ``on`` and what monitoring sends (CLI-6 contract expiry)."""
    if not owed:
        return LifecycleCheck(ContractStatus.CLOSED)
    if on >= term.maturity and suspension is not None and suspension.postpones(term.maturity):
        return LifecycleCheck(ContractStatus.AWAITING_RESUMPTION)
    if on > term.maturity:
        trigger = LiquidationTrigger(
            terms.client_id,
            term.contract_id,
            term.maturity + _ONE_DAY,
            calendar.next_trading_day(term.maturity),
        )
        return LifecycleCheck(ContractStatus.OVERDUE, trigger=trigger)
    if on < notice_date(term, calendar, policy):
        return LifecycleCheck(ContractStatus.RUNNING)
    notice = ExpiryNotice(
        f"expiry:{term.contract_id}:{term.maturity.isoformat()}",
        terms.client_id,
        term.contract_id,
        on,
        term.maturity,
        calendar.trading_days_between(on, term.maturity),
        term.provisional,
    )
    status = ContractStatus.DUE if on == term.maturity else ContractStatus.EXPIRING
    return LifecycleCheck(status, notice=notice)


# --------------------------------------------------------------------------- extension


class Reason(Enum):
    """A finding of an extension decision.  Value: (passed, zh, en) with ``{detail}``."""

    REQUESTED_IN_TIME = (True, "申请日在截止日之前: {detail}", "requested in time: {detail}")
    REQUESTED_TOO_LATE = (False, "申请日晚于截止日: {detail}", "requested too late: {detail}")
    EXTENSIONS_LEFT = (True, "展期次数未满: {detail}", "extensions left: {detail}")
    NO_EXTENSIONS_LEFT = (False, "展期次数已满: {detail}", "no extension left: {detail}")
    NO_MALICIOUS_DEFAULT = (True, "无恶意违约记录", "no record of malicious default")
    MALICIOUS_DEFAULT = (False, "有恶意违约记录", "a record of malicious default")
    RATIO_AT_HIGH_LINE = (
        True,
        "维持担保比例不低于{detail}",
        "maintenance ratio not below the higher line: {detail}",
    )
    RATIO_AT_LOW_LINE_NO_LIQUIDATION = (
        True,
        "维持担保比例不低于较低线且期内未被强制平仓: {detail}",
        "ratio not below the lower line and no forced liquidation in the lookback: {detail}",
    )
    RATIO_AT_LOW_LINE_RECENT_LIQUIDATION = (
        False,
        "维持担保比例低于较高线且期内被强制平仓: {detail}",
        "ratio below the higher line with a forced liquidation in the lookback: {detail}",
    )
    RATIO_BELOW_LOW_LINE = (
        False,
        "维持担保比例低于较低线: {detail}",
        "maintenance ratio below the lower line: {detail}",
    )
    COMMITTEE_APPROVED = (
        True,
        "公司评估认定确有展期必要: {detail}",
        "the firm's committee judged the extension necessary: {detail}",
    )
    TERM_WITHIN_LIMIT = (True, "展期期限未超上限: {detail}", "extension within the limit: {detail}")
    TERM_TOO_LONG = (False, "展期期限超过上限: {detail}", "extension longer than allowed: {detail}")
    WITHIN_AGREEMENT = (
        True,
        "到期日不晚于合同终止日: {detail}",
        "maturity not after the agreement's end: {detail}",
    )
    PAST_AGREEMENT_END = (
        False,
        "到期日晚于合同终止日: {detail}",
        "maturity after the agreement's end: {detail}",
    )
    NOT_LATER = (
        False,
        "申请的到期日不晚于原到期日: {detail}",
        "the requested maturity is not after the current one: {detail}",
    )


@dataclass(frozen=True, slots=True)
class Finding:
    reason: Reason
    detail: str = ""

    @property
    def passed(self) -> bool:
        return bool(self.reason.value[0])

    @property
    def message_zh(self) -> str:
        return str(self.reason.value[1]).format(detail=self.detail)

    @property
    def message_en(self) -> str:
        return str(self.reason.value[2]).format(detail=self.detail)


@dataclass(frozen=True, slots=True)
class ExtensionRequest:
    contract_id: str
    requested_on: date
    new_maturity: date | None = None  # None: the longest the rules and the agreement allow


@dataclass(frozen=True, slots=True)
class Standing:
    """What the firm assesses before extending (S2 art. 14): the client's ratio, record of
    forced liquidations and of malicious default, and any committee approval (S1 art. 60)."""

    maintenance_ratio: Fraction | None  # None: no debt, above every line
    forced_liquidations: tuple[date, ...] = ()
    malicious_default: bool = False
    committee_approval: str | None = None  # the approval's reference


@dataclass(frozen=True, slots=True)
class ExtensionLimits:
    """The rule book's limits for the client on the request day and the agreement's end."""

    max_extensions: int
    max_extension_months: int
    agreement_end: date

    @staticmethod
    def from_terms(terms: Terms, agreement_end: date) -> ExtensionLimits:
        return ExtensionLimits(terms.max_extensions, terms.max_extension_months, agreement_end)


@dataclass(frozen=True, slots=True)
class ExtensionDecision:
    contract_id: str
    decided_on: date
    old_maturity: date
    new_maturity: date | None  # set when granted
    provisional: bool
    extension_number: int  # which extension this is (granted or not)
    findings: tuple[Finding, ...]
    policy_version: str
    standing: Standing

    @property
    def granted(self) -> bool:
        return all(f.passed for f in self.findings)

    @property
    def refusals(self) -> tuple[Finding, ...]:
        return tuple(f for f in self.findings if not f.passed)

    def to_event(self) -> dict[str, object]:
        """The decision as recorded, with every reason."""
        return {
            "type": "extension_decided",
            "contract_id": self.contract_id,
            "decided_on": self.decided_on.isoformat(),
            "granted": self.granted,
            "old_maturity": self.old_maturity.isoformat(),
            "new_maturity": self.new_maturity.isoformat() if self.new_maturity else None,
            "provisional": self.provisional,
            "extension_number": self.extension_number,
            "findings": [[f.reason.name, f.detail] for f in self.findings],
            "policy_version": self.policy_version,
            "maintenance_ratio": _ratio(self.standing.maintenance_ratio),
            "forced_liquidations": [d.isoformat() for d in self.standing.forced_liquidations],
            "malicious_default": self.standing.malicious_default,
            "committee_approval": self.standing.committee_approval,
        }


def _ratio(ratio: Fraction | None) -> str:
    return "∞" if ratio is None else ratio_text(ratio, 4)


def decide_extension(
    request: ExtensionRequest,
    term: Term,
    standing: Standing,
    limits: ExtensionLimits,
    calendar: TradingCalendar,
    policy: Version[LifecyclePolicy],
) -> ExtensionDecision:
    """Grant or refuse an extension, recording every check (S1 art. 60, S2 art. 14)."""
    assert request.contract_id == term.contract_id
    rules = policy.value
    findings = [_timing(request, term, calendar, rules), _count(term, limits)]
    findings.append(
        Finding(Reason.MALICIOUS_DEFAULT)
        if standing.malicious_default
        else Finding(Reason.NO_MALICIOUS_DEFAULT)
    )
    findings.append(_ratio_finding(request.requested_on, standing, rules))
    new_maturity, maturity_findings = _new_maturity(request, term, limits, calendar)
    findings += maturity_findings
    granted = all(f.passed for f in findings)
    return ExtensionDecision(
        contract_id=term.contract_id,
        decided_on=request.requested_on,
        old_maturity=term.maturity,
        new_maturity=new_maturity if granted else None,
        provisional=granted and calendar.span_is_provisional(term.maturity, new_maturity),
        extension_number=term.extensions + 1,
        findings=tuple(findings),
        policy_version=policy.version_id,
        standing=standing,
    )


def _timing(
    request: ExtensionRequest, term: Term, calendar: TradingCalendar, rules: LifecyclePolicy
) -> Finding:
    cutoff = calendar.add_trading_days(term.maturity, -rules.request_cutoff_trading_days)
    detail = f"{request.requested_on} / {cutoff}"
    if request.requested_on <= cutoff:
        return Finding(Reason.REQUESTED_IN_TIME, detail)
    return Finding(Reason.REQUESTED_TOO_LATE, detail)


def _count(term: Term, limits: ExtensionLimits) -> Finding:
    detail = f"{term.extensions} / {limits.max_extensions}"
    if term.extensions < limits.max_extensions:
        return Finding(Reason.EXTENSIONS_LEFT, detail)
    return Finding(Reason.NO_EXTENSIONS_LEFT, detail)


def _ratio_finding(on: date, standing: Standing, rules: LifecyclePolicy) -> Finding:
    ratio = standing.maintenance_ratio
    high, low = rules.extension_ratio_high, rules.extension_ratio_low
    since = add_months(on, -rules.liquidation_lookback_months)
    recent = sorted(d for d in standing.forced_liquidations if since <= d <= on)
    lines = f"{_ratio(ratio)} (≥{_ratio(high)}; ≥{_ratio(low)})"
    if ratio is None or ratio >= high:
        finding = Finding(Reason.RATIO_AT_HIGH_LINE, lines)
    elif ratio >= low and not recent:
        finding = Finding(Reason.RATIO_AT_LOW_LINE_NO_LIQUIDATION, f"{lines}, since {since}")
    elif ratio >= low:
        dates = ", ".join(d.isoformat() for d in recent)
        finding = Finding(Reason.RATIO_AT_LOW_LINE_RECENT_LIQUIDATION, f"{lines}: {dates}")
    else:
        finding = Finding(Reason.RATIO_BELOW_LOW_LINE, lines)
    if not finding.passed and standing.committee_approval is not None:
        detail = f"{standing.committee_approval}; {finding.message_en}"
        return Finding(Reason.COMMITTEE_APPROVED, detail)
    return finding


def _new_maturity(
    request: ExtensionRequest, term: Term, limits: ExtensionLimits, calendar: TradingCalendar
) -> tuple[date, list[Finding]]:
    """The maturity asked for (or the longest allowed) and the term and agreement checks."""
    months = limits.max_extension_months
    longest = calendar.maturity_date(term.maturity, months) if months > 0 else term.maturity
    latest = calendar.on_or_before(limits.agreement_end)
    if request.new_maturity is None:
        wanted = min(longest, latest)
    else:
        wanted = calendar.on_or_before(request.new_maturity)
    findings: list[Finding] = []
    if wanted <= term.maturity:
        findings.append(Finding(Reason.NOT_LATER, f"{wanted} / {term.maturity}"))
    term_detail = f"{wanted} / {longest} ({months} months after {term.maturity})"
    if wanted <= longest:
        findings.append(Finding(Reason.TERM_WITHIN_LIMIT, term_detail))
    else:
        findings.append(Finding(Reason.TERM_TOO_LONG, term_detail))
    end_detail = f"{wanted} / {limits.agreement_end}"
    if wanted <= limits.agreement_end:
        findings.append(Finding(Reason.WITHIN_AGREEMENT, end_detail))
    else:
        findings.append(Finding(Reason.PAST_AGREEMENT_END, end_detail))
    return wanted, findings


def extended(term: Term, decision: ExtensionDecision) -> Term:
    """The term after a granted extension: it starts at the old maturity."""
    assert decision.granted and decision.new_maturity is not None
    assert decision.contract_id == term.contract_id and decision.old_maturity == term.maturity
    return Term(
        term.contract_id,
        term.maturity,
        decision.new_maturity,
        decision.provisional,
        term.extensions + 1,
    )


# --------------------------------------------------------------------------- suspension, delisting


class ChangeKind(Enum):
    SUSPENSION = "suspension"  # postponed: resumption after the maturity
    DELISTING = "delisting"  # shortened: last trading day before the maturity


@dataclass(frozen=True, slots=True)
class TermChange:
    contract_id: str
    kind: ChangeKind
    old_maturity: date
    new_maturity: date
    provisional: bool
    detail: str

    def to_event(self) -> dict[str, object]:
        return {
            "type": "term_changed",
            "contract_id": self.contract_id,
            "kind": self.kind.value,
            "old_maturity": self.old_maturity.isoformat(),
            "new_maturity": self.new_maturity.isoformat(),
            "provisional": self.provisional,
            "detail": self.detail,
        }

    def applied(self, term: Term) -> Term:
        assert term.contract_id == self.contract_id and term.maturity == self.old_maturity
        return replace(term, maturity=self.new_maturity, provisional=self.provisional)


def after_resumption(
    term: Term,
    suspension: Suspension,
    calendar: TradingCalendar,
    max_term_months: int,
    agreed_trading_days_after_resumption: int | None = None,
) -> TermChange | None:
    """The postponed maturity once trading resumes after the maturity (S2 art. 22, S0 ch4 §5);
    None when the suspension does not reach past the maturity or has not ended.

    The rules' limit: the term counted before the suspension plus the term after resumption
    is at most ``max_term_months`` from the term's start.  The agreement's postponement: the
    days lost to the suspension (None), or N trading days after resumption."""
    resumed = suspension.resumed_on
    if resumed is None or not suspension.postpones(term.maturity):
        return None
    left_in_limit = add_months(term.started, max_term_months) - suspension.suspended_from
    limit = calendar.on_or_before(resumed + left_in_limit)
    if agreed_trading_days_after_resumption is None:
        agreed = calendar.on_or_before(resumed + (term.maturity - suspension.suspended_from))
        how = "clock stopped while suspended"
    else:
        agreed = calendar.add_trading_days(resumed, agreed_trading_days_after_resumption)
        how = f"{agreed_trading_days_after_resumption} trading days after resumption"
    new = min(agreed, limit)
    detail = (
        f"{suspension.symbol} suspended {suspension.suspended_from}, resumed {resumed}; "
        f"{how}: {agreed}; limit {limit} ({max_term_months} months counted from {term.started})"
    )
    provisional = calendar.is_provisional(new) or calendar.span_is_provisional(resumed, new)
    return TermChange(
        term.contract_id, ChangeKind.SUSPENSION, term.maturity, new, provisional, detail
    )


def after_delisting(
    term: Term, symbol: str, last_trading_day: date, on: date, calendar: TradingCalendar
) -> TermChange | None:
    """The shortened maturity when the last trading day comes before it (S2 art. 23): the
    trading day before the last trading day, never before ``on`` (the day it is applied)."""
    if last_trading_day >= term.maturity:
        return None
    new = max(calendar.previous_trading_day(last_trading_day), on)
    if new >= term.maturity:
        return None
    detail = f"{symbol} last trading day {last_trading_day}, applied on {on}"
    return TermChange(
        term.contract_id,
        ChangeKind.DELISTING,
        term.maturity,
        new,
        calendar.is_provisional(new),
        detail,
    )
