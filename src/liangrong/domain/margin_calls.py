"""The margin-call workflow (RISK-6; S3 盯市 template art. 5-7, S1 art. 62-63) as a pure
state machine: one evaluation of one account in, the new call state, the restriction to
apply and the notices to send out.

Rules (the template's, with the firm's values as parameters):
- after the day's settlement, a ratio below the warning line sends a warning notice to the
  client and informs the branch; the account is not restricted;
- after the day's settlement, a ratio below the liquidation line opens a call: the account is
  restricted (no buys, margin buys or shorts: ``AccountStatus.CALL_RESTRICTED``) and the
  client must restore the ratio to the target by the deadline;
- deadline "T+N": the N-th trading day after the evaluation day T (``add_trading_days``:
  T itself not counted, weekends and holidays skipped), so T+2 of a Thursday is the next
  Monday.  A date past the loaded calendar is provisional and every notice says so;
- cure: an evaluation (settlement or intraday) on or before the deadline finds the ratio at
  or above the target ("reaches" includes the bound; no debt always reaches) → CURED;
- missed: the settlement evaluation of the deadline day, or any evaluation after it, finds
  the ratio below the target → MISSED: liquidation from the next trading day (T+3 for T+2),
  ``AccountStatus.LIQUIDATION``;
- emergency: any evaluation (intraday included) below the emergency line → EMERGENCY:
  liquidation at once, whatever call is open;
- once liquidation is required the state stays until an evaluation finds the ratio at the
  target again (CLOSED), then the account is normal.
Intraday evaluations act only on the emergency line and on cures: calls are made after
settlement.  "Below" a line excludes the bound.  Invariants: an open call keeps its first
deadline and target whatever later evaluations find; decisions compare exact Fractions;
notice ids are deterministic, so re-running an evaluation adds nothing to the outbox.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from enum import Enum
from fractions import Fraction
from types import MappingProxyType
from typing import Protocol

from liangrong.domain.calendar import TradingCalendar
from liangrong.domain.liquidation import LiquidationReason
from liangrong.domain.margin import Account, NoSolution, maintenance_ratio, repay_to, top_up_to
from liangrong.domain.money import fen_to_yuan_text, ratio_text
from liangrong.domain.pretrade_state import AccountStatus
from liangrong.domain.rule_book import Terms


class CallState(Enum):
    NONE = "none"  # no call: at or above the warning line (or an intraday evaluation)
    WARNING = "warning"  # below the warning line, not below liquidation: a notice only
    OPEN = "open"  # below the liquidation line: restricted until restored or the deadline
    CURED = "cured"  # restored to the target by the deadline: the call is closed
    MISSED = "missed"  # not restored by the deadline: liquidation required
    EMERGENCY = "emergency"  # below the emergency line: liquidation required at once
    CLOSED = "closed"  # back at the target after liquidation was required


_LIQUIDATING = frozenset({CallState.MISSED, CallState.EMERGENCY})


class EvaluationKind(Enum):
    SETTLEMENT = "settlement"  # after the day's settlement (日终清算后)
    INTRADAY = "intraday"


class Channel(Enum):
    SMS = "sms"
    APP = "app"
    PHONE = "phone"
    EMAIL = "email"


class NoticeKind(Enum):
    WARNING = "warning"
    CALL = "call"
    REMINDER = "reminder"  # each settlement while a call stays open
    CURED = "cured"
    MISSED = "missed"
    EMERGENCY = "emergency"
    CLOSED = "closed"
    LIQUIDATION = "liquidation"  # the forced orders sent and their planned result (RISK-7)


DEFAULT_CHANNELS: Mapping[NoticeKind, tuple[Channel, ...]] = MappingProxyType(
    {
        NoticeKind.WARNING: (Channel.SMS, Channel.APP),
        NoticeKind.CALL: (Channel.SMS, Channel.APP, Channel.PHONE),
        NoticeKind.REMINDER: (Channel.SMS, Channel.APP),
        NoticeKind.CURED: (Channel.APP,),
        NoticeKind.MISSED: (Channel.SMS, Channel.APP, Channel.PHONE),
        NoticeKind.EMERGENCY: (Channel.SMS, Channel.APP, Channel.PHONE),
        NoticeKind.CLOSED: (Channel.APP,),
        NoticeKind.LIQUIDATION: (Channel.SMS, Channel.APP, Channel.PHONE),
    }
)
# The template (art. 6) has the business department inform the branch, which informs the
# client, whenever action is asked of the client or taken against the account.
_INFORM_BRANCH = frozenset(
    {
        NoticeKind.WARNING,
        NoticeKind.CALL,
        NoticeKind.MISSED,
        NoticeKind.EMERGENCY,
        NoticeKind.LIQUIDATION,
    }
)


class CallLines(Protocol):
    """Both ``margin.Lines`` and ``parameters.Lines`` (``rule_book.lines_for``) fit."""

    @property
    def warning(self) -> Fraction: ...

    @property
    def liquidation(self) -> Fraction: ...

    @property
    def emergency(self) -> Fraction | None: ...


@dataclass(frozen=True, slots=True)
class CallRule:
    """The firm's (or the client's agreed) call target and deadline, and the channels."""

    target: Fraction
    deadline_trading_days: int
    channels: Mapping[NoticeKind, tuple[Channel, ...]] = field(
        default_factory=lambda: DEFAULT_CHANNELS
    )

    def __post_init__(self) -> None:
        if self.deadline_trading_days < 1 or self.target <= 1:
            raise ValueError("a call gives at least one trading day and a target above 100%")

    @staticmethod
    def from_terms(
        terms: Terms, channels: Mapping[NoticeKind, tuple[Channel, ...]] = DEFAULT_CHANNELS
    ) -> CallRule:
        """From ``rule_book.terms_for``: its call target is already at least the warning line."""
        return CallRule(terms.call_target, terms.call_deadline_trading_days, channels)


@dataclass(frozen=True, slots=True)
class MarginCall:
    """A call that is open or requires liquidation; the caller keeps it between evaluations."""

    call_id: str
    client_id: str
    branch: str
    opened_on: date
    ratio_at_open: Fraction
    line: Fraction  # the line broken: liquidation (OPEN) or emergency (EMERGENCY)
    target: Fraction
    deadline: date  # the last day to restore; an emergency's is its own day
    deadline_provisional: bool
    state: CallState  # OPEN, MISSED or EMERGENCY

    @property
    def liquidation_required(self) -> bool:
        return self.state in _LIQUIDATING


@dataclass(frozen=True, slots=True, kw_only=True)
class Evaluation:
    client_id: str
    branch: str
    on: date  # the trading day evaluated (T)
    at: datetime  # when: the notices' time
    kind: EvaluationKind
    ratio: Fraction | None  # exact maintenance ratio; None: no debt
    account: Account | None = None  # when given, notices state the amounts to add or repay

    def __post_init__(self) -> None:
        if self.account is not None and maintenance_ratio(self.account) != self.ratio:
            raise ValueError("the ratio is not the given account's")


@dataclass(frozen=True, slots=True)
class Notice:
    notice_id: str
    client_id: str
    branch: str
    inform_branch: bool
    channels: tuple[Channel, ...]
    at: datetime
    kind: NoticeKind
    ratio: Fraction | None
    line: Fraction | None
    target: Fraction | None
    deadline: date | None
    deadline_provisional: bool
    liquidation_from: date | None
    top_up_fen: int | None  # collateral value to add to reach the target (x = T·D − A)
    repay_fen: int | None  # value to sell and repay with to reach it; None: selling cannot
    text_zh: str
    text_en: str


@dataclass(frozen=True, slots=True)
class CallDecision:
    state: CallState
    call: MarginCall | None  # to pass to the next evaluation; None: no call open
    account_status: AccountStatus
    notices: tuple[Notice, ...]
    liquidation: LiquidationReason | None  # set when liquidation is (still) required
    liquidation_from: date | None  # first day of forced orders, on the evaluation requiring them


@dataclass(frozen=True, slots=True)
class Outbox:
    """Notices sent, in order; queryable.  Adding a notice already there changes nothing."""

    notices: tuple[Notice, ...] = field(default=())

    def with_notices(self, notices: Iterable[Notice]) -> Outbox:
        seen = {n.notice_id for n in self.notices}
        new = []
        for notice in notices:
            if notice.notice_id not in seen:
                seen.add(notice.notice_id)
                new.append(notice)
        return Outbox((*self.notices, *new))

    def query(
        self,
        *,
        client_id: str | None = None,
        branch: str | None = None,
        kind: NoticeKind | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
    ) -> tuple[Notice, ...]:
        """Notices matching every given filter; ``since`` inclusive, ``until`` exclusive."""
        return tuple(
            n
            for n in self.notices
            if (client_id is None or n.client_id == client_id)
            and (branch is None or n.branch == branch)
            and (kind is None or n.kind is kind)
            and (since is None or n.at >= since)
            and (until is None or n.at < until)
        )


# --- the machine ------------------------------------------------------------------------------


def _below(ratio: Fraction | None, line: Fraction | None) -> bool:
    # No debt is never below a line; "below" excludes the bound.
    return ratio is not None and line is not None and ratio < line


def _reaches(ratio: Fraction | None, target: Fraction) -> bool:
    return ratio is None or ratio >= target


def evaluate(
    ev: Evaluation,
    lines: CallLines,
    rule: CallRule,
    calendar: TradingCalendar,
    open_call: MarginCall | None = None,
) -> CallDecision:
    """One evaluation of one account (see the module docstring for the rules)."""
    if open_call is not None and open_call.client_id != ev.client_id:
        raise ValueError("the open call is another client's")
    notify = _Notices(ev, rule, calendar)
    if _below(ev.ratio, lines.emergency):
        if open_call is not None and open_call.liquidation_required:
            return _liquidating(open_call, ())
        assert lines.emergency is not None and ev.ratio is not None
        if open_call is not None:  # the open call becomes the emergency: same id, same record
            call = replace(open_call, line=lines.emergency, state=CallState.EMERGENCY)
        else:
            call = MarginCall(
                f"{ev.client_id}:{ev.on.isoformat()}",
                ev.client_id,
                ev.branch,
                ev.on,
                ev.ratio,
                lines.emergency,
                rule.target,
                ev.on,
                False,
                CallState.EMERGENCY,
            )
        return _liquidating(call, (notify.emergency(call),))
    if open_call is not None:
        return _follow(ev, open_call, calendar, notify)
    if ev.kind is EvaluationKind.INTRADAY:
        return CallDecision(CallState.NONE, None, AccountStatus.NORMAL, (), None, None)
    if _below(ev.ratio, lines.liquidation):
        assert ev.ratio is not None
        deadline = calendar.add_trading_days(ev.on, rule.deadline_trading_days)
        call = MarginCall(
            f"{ev.client_id}:{ev.on.isoformat()}",
            ev.client_id,
            ev.branch,
            ev.on,
            ev.ratio,
            lines.liquidation,
            rule.target,
            deadline,
            calendar.span_is_provisional(ev.on, deadline),
            CallState.OPEN,
        )
        notice = notify.call(call, NoticeKind.CALL)
        return CallDecision(
            CallState.OPEN, call, AccountStatus.CALL_RESTRICTED, (notice,), None, None
        )
    if _below(ev.ratio, lines.warning):
        notice = notify.warning(lines.warning)
        return CallDecision(CallState.WARNING, None, AccountStatus.NORMAL, (notice,), None, None)
    return CallDecision(CallState.NONE, None, AccountStatus.NORMAL, (), None, None)


def _liquidating(call: MarginCall, notices: tuple[Notice, ...]) -> CallDecision:
    reason = (
        LiquidationReason.EMERGENCY_LINE
        if call.state is CallState.EMERGENCY
        else LiquidationReason.CALL_MISSED
    )
    start = notices[0].liquidation_from if notices else None
    return CallDecision(call.state, call, AccountStatus.LIQUIDATION, notices, reason, start)


def _follow(
    ev: Evaluation, call: MarginCall, calendar: TradingCalendar, notify: _Notices
) -> CallDecision:
    """An evaluation while a call is open or liquidation is required."""
    reached = _reaches(ev.ratio, call.target)
    if call.liquidation_required:
        if reached:
            notice = notify.simple(NoticeKind.CLOSED, call)
            return CallDecision(CallState.CLOSED, None, AccountStatus.NORMAL, (notice,), None, None)
        return _liquidating(call, ())
    if reached and ev.on <= call.deadline:
        notice = notify.simple(NoticeKind.CURED, call)
        return CallDecision(CallState.CURED, None, AccountStatus.NORMAL, (notice,), None, None)
    settled = ev.kind is EvaluationKind.SETTLEMENT
    if ev.on > call.deadline or (settled and ev.on == call.deadline):
        missed = replace(call, state=CallState.MISSED)
        return _liquidating(missed, (notify.missed(missed, calendar.next_trading_day(ev.on)),))
    # Still open: the first deadline and target stand; a reminder after each settlement.
    reminders = (
        (notify.call(call, NoticeKind.REMINDER),) if settled and ev.on > call.opened_on else ()
    )
    return CallDecision(CallState.OPEN, call, AccountStatus.CALL_RESTRICTED, reminders, None, None)


# --- notices ---------------------------------------------------------------------------------


def _pct(ratio: Fraction | None) -> str:
    # Truncated, never rounded up across a line: 129.999% reads 129.99%; no debt is ∞.
    return "∞" if ratio is None else f"{ratio_text(ratio * 100, 2)}%"


class _Notices:
    """Builds the notices of one evaluation: ids, channels, amounts and both languages."""

    def __init__(self, ev: Evaluation, rule: CallRule, calendar: TradingCalendar) -> None:
        self.ev, self.rule, self.calendar = ev, rule, calendar
        self.top_up: int | None = None
        self.repay: int | None = None
        if ev.account is not None:
            self.top_up = top_up_to(ev.account, rule.target)
            repay = repay_to(ev.account, rule.target)
            self.repay = None if isinstance(repay, NoSolution) else repay

    def _amounts(self) -> tuple[str, str]:
        if self.top_up is None:
            return "", ""
        top = fen_to_yuan_text(self.top_up)
        if self.repay is None:
            return (
                f"（需追加担保物{top}元；卖出证券偿还负债无法恢复）",
                f" (add collateral worth {top} yuan; selling to repay cannot restore it)",
            )
        repay = fen_to_yuan_text(self.repay)
        return (
            f"（需追加担保物{top}元，或卖出证券{repay}元偿还负债）",
            f" (add collateral worth {top} yuan, or sell {repay} yuan of securities and repay)",
        )

    def _notice(
        self,
        kind: NoticeKind,
        texts: tuple[str, str],
        *,
        line: Fraction | None = None,
        call: MarginCall | None = None,
        liquidation_from: date | None = None,
        provisional: bool = False,
    ) -> Notice:
        ev = self.ev
        return Notice(
            notice_id=f"{ev.client_id}:{ev.at.isoformat()}:{kind.value}",
            client_id=ev.client_id,
            branch=ev.branch,
            inform_branch=kind in _INFORM_BRANCH,
            channels=tuple(self.rule.channels.get(kind, ())),
            at=ev.at,
            kind=kind,
            ratio=ev.ratio,
            line=line,
            target=call.target if call is not None else self.rule.target,
            deadline=call.deadline if call is not None else None,
            deadline_provisional=provisional,
            liquidation_from=liquidation_from,
            top_up_fen=self.top_up,
            repay_fen=self.repay,
            text_zh=texts[0],
            text_en=texts[1],
        )

    def warning(self, line: Fraction) -> Notice:
        r, on, target = _pct(self.ev.ratio), self.ev.on, _pct(self.rule.target)
        zh, en = self._amounts()
        return self._notice(
            NoticeKind.WARNING,
            (
                f"【风险提示】您的信用账户{on}日终维持担保比例为{r}，低于警戒线{_pct(line)}。"
                f"请关注风险，及时追加担保物或偿还负债，使比例恢复到{target}以上{zh}。",
                f"[Risk warning] After settlement on {on} your credit account's maintenance "
                f"ratio is {r}, below the warning line of {_pct(line)}. Please add collateral "
                f"or repay debt to bring it back to at least {target}{en}.",
            ),
            line=line,
        )

    def call(self, call: MarginCall, kind: NoticeKind) -> Notice:
        """The call itself, or a reminder after a later settlement (same deadline)."""
        ev = self.ev
        n = self.calendar.trading_days_between(call.opened_on, call.deadline)
        start = self.calendar.next_trading_day(call.deadline)
        provisional = self.calendar.span_is_provisional(call.opened_on, start)
        r, line, target = _pct(ev.ratio), _pct(call.line), _pct(call.target)
        if kind is NoticeKind.CALL:
            state_zh = f"【追保通知】您的信用账户{ev.on}日终维持担保比例为{r}，低于平仓线{line}。"
            state_en = (
                f"[Margin call] After settlement on {ev.on} your credit account's maintenance "
                f"ratio is {r}, below the liquidation line of {line}."
            )
        else:
            state_zh = (
                f"【追保提醒】您的信用账户{ev.on}日终维持担保比例为{r}，尚未恢复到{target}"
                f"（{call.opened_on}起追保）。"
            )
            state_en = (
                f"[Margin call reminder] After settlement on {ev.on} your credit account's "
                f"maintenance ratio is {r}, not yet back to {target} (call opened on "
                f"{call.opened_on})."
            )
        zh, en = self._amounts()
        note_zh = "（上述日期所在期间的交易日历尚未公布，日期为暂定）" if provisional else ""
        note_en = " (Provisional dates: their exchange calendar is not yet published.)"
        return self._notice(
            kind,
            (
                f"{state_zh}账户已限制买入、融资买入和融券卖出。请于{call.deadline}（T+{n}）"
                f"日终前追加担保物或偿还负债，使维持担保比例恢复到{target}以上{zh}；"
                f"否则公司将自{start}起限制除担保物转入以外的操作，并执行强制平仓。{note_zh}",
                f"{state_en} Buys, margin buys and short sales are restricted. Restore the "
                f"ratio to at least {target} by the end of {call.deadline} (T+{n}) by adding "
                f"collateral or repaying debt{en}; otherwise from {start} only collateral "
                f"transfers in are allowed and the positions will be liquidated."
                f"{note_en if provisional else ''}",
            ),
            line=call.line,
            call=call,
            liquidation_from=start,
            provisional=provisional,
        )

    def missed(self, call: MarginCall, start: date) -> Notice:
        r, target = _pct(self.ev.ratio), _pct(call.target)
        return self._notice(
            NoticeKind.MISSED,
            (
                f"【强制平仓通知】您的信用账户未在{call.deadline}日终前将维持担保比例恢复到"
                f"{target}（当前{r}）。公司将自{start}起限制除担保物转入以外的操作，"
                f"并对账户执行强制平仓。",
                f"[Forced liquidation] Your credit account's maintenance ratio was not "
                f"restored to {target} by the end of {call.deadline} (now {r}). From {start} "
                f"only collateral transfers in are allowed and the positions will be "
                f"liquidated.",
            ),
            line=call.line,
            call=call,
            liquidation_from=start,
            provisional=self.calendar.is_provisional(start),
        )

    def emergency(self, call: MarginCall) -> Notice:
        r, line = _pct(self.ev.ratio), _pct(call.line)
        return self._notice(
            NoticeKind.EMERGENCY,
            (
                f"【强制平仓通知】您的信用账户维持担保比例为{r}，低于紧急平仓线{line}，"
                f"公司将立即对账户执行强制平仓。",
                f"[Forced liquidation] Your credit account's maintenance ratio is {r}, below "
                f"the emergency line of {line}: its positions will be liquidated at once.",
            ),
            line=call.line,
            call=call,
            liquidation_from=self.ev.on,
        )

    def simple(self, kind: NoticeKind, call: MarginCall) -> Notice:
        """CURED or CLOSED: the ratio is back at the target."""
        r, target = _pct(self.ev.ratio), _pct(call.target)
        if kind is NoticeKind.CURED:
            texts = (
                f"【追保解除】您的信用账户维持担保比例已恢复到{r}，达到{target}，"
                f"追保已解除，账户限制已取消。",
                f"[Margin call closed] Your credit account's maintenance ratio is back at {r}, "
                f"at least {target}: the call is closed and the restrictions lifted.",
            )
        else:
            texts = (
                f"【平仓结束】您的信用账户维持担保比例为{r}，已达到{target}，账户恢复正常。",
                f"[Liquidation ended] Your credit account's maintenance ratio is {r}, at least "
                f"{target}: the account is back to normal.",
            )
        return self._notice(kind, texts, call=call)
