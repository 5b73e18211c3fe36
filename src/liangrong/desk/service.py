"""The desk over one trading day: risk in step with the book, margin calls after settlement
(and intraday on the emergency line), forced liquidation through the trading path.

See the package docstring for the invariants.  Times: every record carries the desk's clock
reading (simulated in a session); status changes carry the price time they used.

Firm-level limits (RISK-11).  With limits in force (``Desk.open`` reads them from the store
for the trading date; none stored: none configured, nothing refused), the desk evaluates
them from the engine's exposures (``risk.exposure``: the book version the engine holds, every
posted fill included) at the open, after every settlement evaluation, and every
``firm_every_s`` seconds of price time if set; each evaluation gives the book a fresh room
(``Book.set_firm_blocks``: open orders keep their holds) and, when recording, appends the
readings at the warning level or above and the blocks to ``firm_alerts``.

Overdue contracts (CON-3, CLI-6 contract expiry).  The end of day records an ``overdue``
trigger when a contract is owed after its maturity, with the first day its liquidation may
start (``liquidate_from``), and clears it once the contract is repaid.  The desk opening a
trading day on or after that day puts the client due for liquidation with the trigger's
reason (``CONTRACT_EXPIRED``) and the account in liquidation, as a missed call does; the
plan repays what clears the overdue contracts under the book's repayment order
(``REPAY_REQUIRED``: their principal and charges and whatever that order puts ahead of
them), selling no more than needed.  A trigger cleared, or a contract found repaid in the
book, is never liquidated.  When a call's own liquidation has started too (emergency line,
or the call's deadline past) the call's reason stands for the day's one run; the overdue
contract, still uncleared, is taken up again the next trading day.
"""

from __future__ import annotations

from collections import ChainMap
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from fractions import Fraction

from sqlalchemy import Engine

from liangrong.book.accounts import margin_account
from liangrong.book.market import MarketDay
from liangrong.book.service import Book
from liangrong.desk.liquidation import (
    Submitted,
    canonical_json,
    liquidation_input,
    overdue_requirement,
    plan_json,
    repay_from_cash,
    submit_orders,
)
from liangrong.domain import margin
from liangrong.domain.fair_value import FairValueRule
from liangrong.domain.firm_limits import FirmEvaluation, FirmLimits, SecurityShares
from liangrong.domain.firm_limits import evaluate as evaluate_firm
from liangrong.domain.journal import Transaction
from liangrong.domain.liquidation import (
    LiquidationMode,
    LiquidationPlan,
    LiquidationPolicy,
    LiquidationReason,
    RepayRequirement,
    default_mode,
    plan_liquidation,
)
from liangrong.domain.margin import RatioStatus
from liangrong.domain.margin_calls import (
    DEFAULT_CHANNELS,
    CallDecision,
    CallRule,
    Evaluation,
    EvaluationKind,
    MarginCall,
    Notice,
    NoticeKind,
    evaluate,
)
from liangrong.domain.money import fen_to_yuan_text
from liangrong.domain.pretrade_state import AccountStatus
from liangrong.domain.rule_book import lines_for, terms_for
from liangrong.domain.rule_codec import exact_text
from liangrong.domain.securities import Kind
from liangrong.risk import fair_values
from liangrong.risk.engine import RiskEngine
from liangrong.risk.exposure import book_exposure, firm_exposures
from liangrong.risk.fair_values import FairValuePlan
from liangrong.risk.loader import load_book
from liangrong.risk.statuses import StatusChange, rule_book_lines
from liangrong.store import risk_records as records
from liangrong.store.contract_terms import open_overdue
from liangrong.store.firm_alerts import alerts_of, load_firm_limits, save_firm_alerts
from liangrong.store.identity_documents import restricted_clients
from liangrong.store.reference import load_securities

Clock = Callable[[], datetime]
DEFAULT_BRANCH = "HQ"
# Accounts the settlement evaluation must look at: below the warning line (or an open call).
_CALLABLE = frozenset({RatioStatus.WARNING, RatioStatus.LIQUIDATION, RatioStatus.EMERGENCY})


@dataclass(frozen=True, slots=True)
class LiquidationRun:
    run_id: str
    plan: LiquidationPlan
    submitted: tuple[Submitted, ...]


@dataclass(frozen=True, slots=True)
class OverdueDue:
    """A client's overdue contracts whose liquidation day has come, uncleared on record."""

    reason: LiquidationReason  # the triggers' reason (``CONTRACT_EXPIRED``)
    contract_ids: frozenset[str]


@dataclass
class SettlementReport:
    """What one settlement evaluation decided, by call state."""

    on: date
    evaluated: int = 0
    decisions: dict[str, CallDecision] = field(default_factory=dict)

    def count(self, state: str) -> int:
        return sum(1 for d in self.decisions.values() if d.state.value == state)


class Desk:
    def __init__(
        self,
        store: Engine,
        book: Book,
        risk: RiskEngine,
        clock: Clock,
        branches: Mapping[str, str] | None = None,
        recording: bool = True,
        *,
        firm_limits: FirmLimits | None = None,
        security_shares: Mapping[str, SecurityShares] | None = None,
        firm_every_s: int | None = None,
    ) -> None:
        """``firm_limits``: the firm-level limits in force today (None: none configured);
        ``security_shares``: the share counts the security limits need; ``firm_every_s``:
        re-evaluate the limits when the prices are that many seconds past the last
        evaluation (None: only at the open and after settlement)."""
        self.store, self.book, self.risk, self.clock = store, book, risk, clock
        # False: a what-if view; decisions apply in memory only and nothing is stored.
        self.recording = recording
        self.branches = dict(branches or {})
        self.calls: dict[str, MarginCall] = {}
        self.liquidation_due: dict[str, LiquidationReason] = {}
        self.overdue: dict[str, OverdueDue] = {}
        self.runs: dict[str, LiquidationRun] = {}
        self.status_changes = 0
        self.firm_limits = firm_limits
        self.security_shares = dict(security_shares or {})
        self.firm_every_s = firm_every_s
        self.firm_evaluation: FirmEvaluation | None = None
        self._firm_at: datetime | None = None
        self.fair: FairValuePlan | None = None  # the day's fair values (RISK-2), once fed
        self._fair_prices: dict[FairValueRule, Mapping[str, int]] = {}
        book.listeners.append(self._posted)
        self._restore()

    @classmethod
    def open(
        cls,
        store: Engine,
        book: Book,
        clock: Clock,
        branches: Mapping[str, str] | None = None,
        prices_at: datetime | None = None,
        recording: bool = True,
        firm_every_s: int | None = None,
        fair: FairValuePlan | None = None,
    ) -> Desk:
        """The risk engine loaded from the store (which must hold what the book holds), with
        the day's lists and opening prices (taken at ``prices_at``, by default now), the
        day's fair values (``fair``), the clients' call states restored, and the firm-level
        limits in force that day, if the store holds any, evaluated at those prices."""
        market = book.market
        firm, own = rule_book_lines(market.rule_book, market.trading_date, sorted(book.profiles))
        risk = RiskEngine(load_book(store), firm, own)
        known = risk.book.accounts.index
        for client, status in records.latest_statuses(store).items():
            if client in known:
                risk.statuses.restore(client, RatioStatus(status))
        risk.on_haircuts({symbol: market.haircut(symbol) for symbol in market.securities})
        limits, shares = firm_limits_on(store, market)
        desk = cls(
            store, book, risk, clock, branches, recording,
            firm_limits=limits, security_shares=shares, firm_every_s=firm_every_s,
        )  # fmt: skip
        at = prices_at or clock()
        desk.on_prices(at, market.prices_li)
        if fair is not None:
            desk.on_fair_values(at, fair)
        desk.evaluate_firm_limits(at)
        return desk

    def _restore(self) -> None:
        """Open calls and restrictions carry over from earlier days; so do the overdue
        contracts whose liquidation may start today, and the refusal of new debt to a
        client whose identity document expired past its grace (CLI-6).  A desk with no
        clients (one that records what the whole book's prices change) has none to carry."""
        if not self.book.profiles:
            return  # each read below is of the whole store: seconds at a firm's size
        on = self.book.market.trading_date
        restricted = restricted_clients(self.store, on)
        for client, profile in sorted(self.book.profiles.items()):
            reason = restricted.get(client)
            if profile.identity_restriction != reason:
                profile.identity_restriction = reason
                self.book.revalue(client)
        for trigger in open_overdue(self.store, on):
            client = trigger.client_id
            if client not in self.book.profiles or trigger.liquidate_from > on:
                continue
            known = self.overdue[client].contract_ids if client in self.overdue else frozenset()
            ids = known | {trigger.contract_id}
            self.overdue[client] = OverdueDue(LiquidationReason(trigger.reason), ids)
        latest = records.latest_calls(self.store, self.book.profiles)
        for client in sorted(self.book.profiles):
            record = latest.get(client)
            if record is None:  # no call on record: nothing restricts the account
                self._apply_due(client, None, AccountStatus.NORMAL)
                continue
            if record.call is not None:
                self.calls[client] = record.call
            self._apply_due(client, record.liquidation_reason, record.account_status)

    def _apply_due(
        self, client_id: str, reason: LiquidationReason | None, status: AccountStatus
    ) -> None:
        """The call's liquidation reason and restriction, unless an overdue contract is
        still owed and the call's liquidation has not started: then the contract's reason
        stands and the account is in liquidation."""
        overdue = self.overdue.get(client_id)
        call_started = reason is not None and self._call_started(client_id, reason)
        if overdue is not None and self.overdue_owed(client_id) and not call_started:
            reason, status = overdue.reason, AccountStatus.LIQUIDATION
        if reason is None:
            self.liquidation_due.pop(client_id, None)
        else:
            self.liquidation_due[client_id] = reason
        self._restrict(client_id, status)

    def overdue_owed(self, client_id: str) -> frozenset[str]:
        """The client's overdue contracts due for liquidation and still owed in the book
        (one repaid since the desk opened is not liquidated)."""
        overdue = self.overdue.get(client_id)
        if overdue is None:
            return frozenset()
        contracts = self.book.mirrors[client_id].contracts
        return frozenset(
            cid for cid in overdue.contract_ids if cid in contracts and contracts[cid].is_open
        )

    def _restrict(self, client_id: str, status: AccountStatus) -> None:
        profile = self.book.profiles.get(client_id)
        if profile is not None and profile.status is not status:
            profile.status = status
            self.book.revalue(client_id)

    def branch(self, client_id: str) -> str:
        return self.branches.get(client_id, DEFAULT_BRANCH)

    # -- risk in step --------------------------------------------------------------------------
    def _posted(self, client_id: str, txn: Transaction) -> None:
        self._record(self.risk.on_transaction(txn, self.clock()))

    def on_prices(self, at: datetime, prices_li: Mapping[str, int]) -> list[StatusChange]:
        """A snapshot: the book's valuation prices and the engine's move together."""
        market = self.book.market
        for symbol, price in prices_li.items():
            if market.prices_li.get(symbol) != price:
                market.set_price(symbol, price)
        market.prices_at = at.isoformat()
        changes = self.risk.on_prices(at, prices_li)
        self._record(changes)
        every, last = self.firm_every_s, self._firm_at
        if every is not None and last is not None and (at - last).total_seconds() >= every:
            self.evaluate_firm_limits(at)
        return changes

    # -- fair values (RISK-2) ------------------------------------------------------------------
    def on_fair_values(self, at: datetime, fair: FairValuePlan) -> list[StatusChange]:
        """The day's fair values from ``at`` on, in the engine (``fair_values.feed``) and in
        the desk's own evaluations; the status changes they make are recorded."""
        self.use_fair_values(fair)
        changes = fair_values.feed(self.risk, at, fair)
        self._record(changes)
        return changes

    def use_fair_values(self, fair: FairValuePlan) -> None:
        """Evaluate at ``fair`` (an engine that holds them already: nothing is fed)."""
        self.fair, self._fair_prices = fair, {}

    def valuation_prices(self, client_id: str) -> Mapping[str, int]:
        """The prices the client's account is valued at: the market's, with the fair value
        of each security that needs one under the client's rule over them."""
        fair, market = self.fair, self.book.market
        if fair is None:
            return market.prices_li
        rule = fair.client_rules.get(client_id, fair.firm_rule)
        prices = self._fair_prices.get(rule)
        if prices is None:  # read through: the market's prices move under it
            own = {symbol: value.price_li for symbol, value in fair.values[rule].items()}
            prices = self._fair_prices[rule] = ChainMap(own, market.prices_li)
        return prices

    # -- firm-level limits (RISK-11) -----------------------------------------------------------
    def evaluate_firm_limits(self, at: datetime) -> FirmEvaluation | None:
        """Evaluate the firm's limits on the book as the engine holds it now, give the book
        the fresh room and record the alerts; None when no firm limit is configured."""
        limits = self.firm_limits
        if limits is None:
            return None
        exposures = firm_exposures(book_exposure(self.risk.book), limits.client_watch_fen())
        evaluation = evaluate_firm(limits, exposures, self.security_shares)
        self.book.set_firm_blocks(evaluation.blocks)
        self.firm_evaluation, self._firm_at = evaluation, at
        if self.recording:
            on = self.book.market.trading_date
            save_firm_alerts(self.store, alerts_of(evaluation, on, at.isoformat()))
        return evaluation

    def _record(self, changes: list[StatusChange]) -> None:
        if not changes:
            return
        self.status_changes += len(changes)
        if self.recording:
            self._save_changes(changes)
        for change in changes:
            if change.new is RatioStatus.EMERGENCY and change.client_id in self.book.profiles:
                self.evaluate(change.client_id, EvaluationKind.INTRADAY, change.at)

    def _save_changes(self, changes: list[StatusChange]) -> None:
        records.save_status_changes(
            self.store,
            [
                records.StatusRecord(
                    c.client_id,
                    c.old.value,
                    c.new.value,
                    c.at.isoformat(),
                    c.ratio,
                    _lines_text(c.lines),
                    c.prices_at.isoformat(),
                )
                for c in changes
            ],
        )

    # -- margin calls --------------------------------------------------------------------------
    def ratio(self, client_id: str) -> tuple[margin.Account, Fraction | None]:
        """The client's account at its valuation prices (``valuation_prices``), and ratio."""
        mirror, market = self.book.mirrors[client_id], self.book.market
        account = margin_account(mirror, market, self.valuation_prices(client_id))
        return account, margin.maintenance_ratio(account)

    def evaluate(
        self,
        client_id: str,
        kind: EvaluationKind,
        at: datetime,
        pending: list[records.CallDecisionRecord] | None = None,
    ) -> CallDecision:
        """One evaluation of one account, recorded (or added to ``pending``, for the caller
        to record) and applied to its trading status."""
        market, on = self.book.market, self.book.market.trading_date
        account, ratio = self.ratio(client_id)
        ev = Evaluation(
            client_id=client_id,
            branch=self.branch(client_id),
            on=on,
            at=at,
            kind=kind,
            ratio=ratio,
            account=account,
        )
        lines = lines_for(market.rule_book, client_id, on).lines
        rule = CallRule.from_terms(terms_for(market.rule_book, client_id, on))
        before = self.calls.get(client_id)
        decision = evaluate(ev, lines, rule, self.book.calendar, before)
        if pending is not None:
            pending.append((ev, decision, before))
        elif self.recording:
            records.save_call_decision(self.store, ev, decision, before)
        if decision.call is None:
            self.calls.pop(client_id, None)
        else:
            self.calls[client_id] = decision.call
        self._apply_due(client_id, decision.liquidation, decision.account_status)
        return decision

    def candidates(self) -> list[str]:
        """Accounts a settlement evaluation must look at: the engine's exact status below
        the warning line, or a call open; every other account would be left as it is."""
        statuses = self.risk.statuses
        return sorted(
            client
            for client in self.book.profiles
            if client in self.calls or statuses.status(client) in _CALLABLE
        )

    def settle(self, at: datetime, clients: Iterable[str] | None = None) -> SettlementReport:
        """The evaluation after the day's settlement (RISK-6)."""
        report = SettlementReport(self.book.market.trading_date)
        pending: list[records.CallDecisionRecord] = []  # recorded at once: one transaction
        for client in self.candidates() if clients is None else clients:
            decision = self.evaluate(client, EvaluationKind.SETTLEMENT, at, pending)
            report.decisions[client] = decision
            report.evaluated += 1
        if self.recording:
            records.save_call_decisions(self.store, pending)
        self.evaluate_firm_limits(at)
        return report

    # -- forced liquidation --------------------------------------------------------------------
    def plan(self, client_id: str, reason: LiquidationReason | None = None) -> LiquidationPlan:
        """The plan for an account at the book's current prices (nothing is sent); for an
        expired contract, what repays the overdue contracts still owed."""
        why = reason or self.liquidation_due.get(client_id, LiquidationReason.CALL_MISSED)
        market = self.book.market
        target = terms_for(market.rule_book, client_id, market.trading_date).call_target
        policy = LiquidationPolicy(target)
        required: RepayRequirement | None = None
        if default_mode(why) is LiquidationMode.REPAY_REQUIRED:
            required = overdue_requirement(self.book, client_id, self.overdue_owed(client_id))
        account = liquidation_input(self.book, client_id, why)
        return plan_liquidation(account, policy, market.fees, required=required)

    def _run_id(self, client_id: str) -> str:
        return f"liquidation:{client_id}:{self.book.market.trading_date.isoformat()}"

    def _call_started(self, client_id: str, reason: LiquidationReason) -> bool:
        """A call's liquidation starts at once below the emergency line, else the day after
        the call's deadline."""
        if reason is LiquidationReason.EMERGENCY_LINE:
            return True
        call = self.calls.get(client_id)
        return call is not None and self.book.market.trading_date > call.deadline

    def due_today(self) -> list[str]:
        """Accounts whose liquidation starts on or before today and has no run today yet:
        at once below the emergency line, from the day after a call's deadline, and from
        an overdue contract's liquidation day while it is owed."""

        def started(client: str) -> bool:
            reason, overdue = self.liquidation_due[client], self.overdue.get(client)
            if overdue is not None and reason is overdue.reason:
                return bool(self.overdue_owed(client))
            return self._call_started(client, reason)

        return [
            client
            for client in sorted(self.liquidation_due)
            if started(client) and self._run_id(client) not in self.runs
        ]

    def liquidate(self, client_id: str, reason: LiquidationReason | None = None) -> LiquidationRun:
        """Plan and send the forced orders; record the run, its recovery case and the report
        to the client.  A second call on the same day returns the first run."""
        if not self.recording:
            raise RuntimeError("a what-if desk plans only: liquidation is recorded")
        on = self.book.market.trading_date
        run_id = self._run_id(client_id)
        if run_id in self.runs:
            return self.runs[run_id]
        plan = self.plan(client_id, reason)
        submitted = tuple(submit_orders(self.book, run_id, plan))
        run = LiquidationRun(run_id, plan, submitted)
        self.runs[run_id] = run
        at = self.clock()
        orders = [
            {"order_id": s.order.order_id, "accepted": s.ack.accepted,
             "code": s.ack.code.name if s.ack.code else None}
            for s in submitted if s.order is not None
        ]  # fmt: skip
        records.save_liquidation_run(
            self.store,
            records.RunRecord(
                run_id, client_id, on, at.isoformat(), plan.reason.value, plan.mode.value,
                plan.ratio_before, plan.ratio_after, plan.reached, plan_json(plan),
                canonical_json(orders),
            ),
            plan.recovery,
        )  # fmt: skip
        records.save_notices(self.store, [self._report(run, at)])
        return run

    def complete(self, run: LiquidationRun) -> list[Submitted]:
        """After the run's orders filled: the plan's direct repayments from free cash."""
        return repay_from_cash(self.book, run.run_id, run.plan)

    def _report(self, run: LiquidationRun, at: datetime) -> Notice:
        plan, on = run.plan, self.book.market.trading_date
        sent = sum(1 for s in run.submitted if s.ack.accepted)
        sold = fen_to_yuan_text(plan.sold_value_fen)
        shortfall = plan.recovery.shortfall_fen if plan.recovery else 0
        zh = (
            f"【强制平仓】{on}日因{_REASON_ZH[plan.reason]}对您的信用账户强制平仓："
            f"委托{sent}笔，计划卖出{sold}元。"
        )
        en = (
            f"[Forced liquidation] On {on} your credit account is being liquidated "
            f"({plan.reason.value}): {sent} orders sent, {sold} yuan planned to be sold."
        )
        if shortfall:
            zh += f"平仓后仍欠{fen_to_yuan_text(shortfall)}元，将依法追索。"
            en += (
                f" After liquidation {fen_to_yuan_text(shortfall)} yuan remain owed "
                "and will be recovered."
            )
        return Notice(
            notice_id=f"{run.run_id}:report",
            client_id=plan.client_id,
            branch=self.branch(plan.client_id),
            inform_branch=True,
            channels=DEFAULT_CHANNELS[NoticeKind.LIQUIDATION],
            at=at,
            kind=NoticeKind.LIQUIDATION,
            ratio=plan.ratio_before,
            line=None,
            target=plan.target,
            deadline=None,
            deadline_provisional=False,
            liquidation_from=on,
            top_up_fen=None,
            repay_fen=None,
            text_zh=zh,
            text_en=en,
        )


_REASON_ZH = {
    LiquidationReason.CALL_MISSED: "未在期限内补足担保物",
    LiquidationReason.EMERGENCY_LINE: "维持担保比例低于紧急平仓线",
    LiquidationReason.CONTRACT_EXPIRED: "合约到期未了结",
    LiquidationReason.JUDICIAL_ENFORCEMENT: "司法强制执行",
    LiquidationReason.EARLY_TERMINATION: "合同提前终止",
}


def firm_limits_on(
    store: Engine, market: MarketDay
) -> tuple[FirmLimits | None, dict[str, SecurityShares] | None]:
    """The firm-level limits in force on the market's day, if the store holds any, and the
    share counts their security limits need."""
    limits = load_firm_limits(store, market.trading_date)
    if limits is None:
        return None, None
    return limits, _security_shares(store, market.securities)


def _security_shares(store: Engine, symbols: Iterable[str]) -> dict[str, SecurityShares]:
    """The master's share counts of the day's securities (the 20% rule is for stocks)."""
    wanted = set(symbols)
    return {
        s.symbol: SecurityShares(s.total_shares, s.float_shares, s.kind is Kind.STOCK)
        for s in load_securities(store)
        if s.symbol in wanted
    }


def _lines_text(lines: margin.Lines) -> str:
    def text(line: Fraction | None) -> str:
        return "-" if line is None else exact_text(line)

    return (
        f"attention={text(lines.attention)} warning={text(lines.warning)} "
        f"liquidation={text(lines.liquidation)} emergency={text(lines.emergency)}"
    )
