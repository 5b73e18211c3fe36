"""The book as the service shows it: pure reads of the live session's book, desk and risk
engine, taken under the market's lock by the routes.

Invariant: nothing here changes the book; each figure is the one the book's checks use at
that moment (the same valuation, the same prices), so what a user reads is what an order
would be checked against.
"""

from __future__ import annotations

from liangrong.api.schemas import (
    AccountOut,
    AccountRow,
    CallOut,
    ContractOut,
    Figures,
    Limits,
    NoticeOut,
    OrderOut,
    PositionOut,
    RiskOut,
)
from liangrong.book.accounts import withdrawal_headroom_li
from liangrong.book.service import OpenOrder
from liangrong.domain.calculator import figures
from liangrong.domain.margin_calls import MarginCall, Notice
from liangrong.domain.money import Rounding, li_to_fen
from liangrong.domain.pretrade_state import CreditLimits
from liangrong.domain.rule_book import terms_for
from liangrong.sim.reference_day import status_lines
from liangrong.sim.session import Session


def _ratio(session: Session, client_id: str) -> str | None:
    _, ratio = session.desk.ratio(client_id)  # at the client's fair values (RISK-2)
    return None if ratio is None else str(ratio)


def account_row(session: Session, client_id: str) -> AccountRow:
    book = session.book
    return AccountRow(
        client_id=client_id,
        name=book.profiles[client_id].name,
        account_status=book.profiles[client_id].status.value,
        risk_status=session.desk.risk.statuses.status(client_id).value,
        maintenance_ratio=_ratio(session, client_id),
    )


def _limits(limits: CreditLimits) -> Limits:
    used = limits.financing_used_fen + limits.short_used_fen
    return Limits(
        financing_limit_fen=limits.financing_limit_fen,
        short_limit_fen=limits.short_limit_fen,
        total_limit_fen=limits.total_limit_fen,
        financing_used_fen=limits.financing_used_fen,
        short_used_fen=limits.short_used_fen,
        financing_remaining_fen=max(0, limits.financing_limit_fen - limits.financing_used_fen),
        short_remaining_fen=max(0, limits.short_limit_fen - limits.short_used_fen),
        total_remaining_fen=max(0, limits.total_limit_fen - used),
    )


def account(session: Session, client_id: str) -> AccountOut:
    """One account now: its limits, cash and the exchange formulas' figures."""
    book = session.book
    state = book.revalue(client_id)
    mirror, market = book.mirrors[client_id], book.market
    rules = terms_for(market.rule_book, client_id, market.trading_date)
    headroom_li = withdrawal_headroom_li(mirror, market, rules.withdrawal_line)
    lines = status_lines(session.ref, client_id)
    return AccountOut(
        client_id=client_id,
        name=book.profiles[client_id].name,
        account_status=state.status.value,
        risk_status=session.desk.risk.statuses.status(client_id).value,
        prices_at=market.prices_at,
        cash_free_fen=state.cash_free_fen,
        cash_locked_fen=state.cash_locked_fen,
        withdrawable_fen=min(state.cash_free_fen, li_to_fen(headroom_li, Rounding.DOWN)),
        limits=_limits(state.limits),
        figures=Figures.model_validate(figures(session.desk.ratio(client_id)[0], lines)),
    )


def positions(session: Session, client_id: str) -> list[PositionOut]:
    market = session.book.market
    holdings = session.book.mirrors[client_id].holdings
    return [
        PositionOut(
            symbol=symbol,
            quantity=quantity,
            price_li=market.prices_li[symbol],
            value_li=quantity * market.prices_li[symbol],
            haircut=str(market.haircut(symbol)),
        )
        for symbol, quantity in sorted(holdings.items())
    ]


def contracts(session: Session, client_id: str) -> list[ContractOut]:
    mirror = session.book.mirrors[client_id]
    rows = []
    for contract_id, contract in sorted(mirror.contracts.items()):
        if not contract.is_open:
            continue
        terms = contract.terms
        rows.append(
            ContractOut(
                contract_id=contract_id,
                kind=terms.kind.value,
                symbol=terms.security,
                opened=terms.open_date.isoformat(),
                maturity=terms.maturity.isoformat(),
                maturity_provisional=terms.maturity_provisional,
                quantity=terms.quantity,
                amount_fen=terms.amount_fen,
                price_li=terms.price_li,
                principal_outstanding=contract.principal_outstanding,
                charges_outstanding_fen=contract.charges_outstanding_fen,
            )
        )
    return rows


def order(open_order: OpenOrder) -> OrderOut:
    o = open_order.order
    return OrderOut(
        order_id=o.order_id,
        client_id=open_order.client_id,
        kind=o.kind.value,
        symbol=o.symbol,
        side=o.side.value,
        price_li=o.price_li,
        quantity=o.quantity,
        filled_quantity=open_order.filled_quantity,
        filled_value_li=open_order.filled_value_li,
        status=open_order.status.value,
    )


def risk(session: Session) -> RiskOut:
    desk = session.desk
    counts = desk.risk.statuses.counts()
    return RiskOut(
        trading_date=session.day.isoformat(),
        prices_at=session.book.market.prices_at,
        accounts=len(session.book.profiles),
        by_status={status.value: n for status, n in counts.items()},
        open_calls=len(desk.calls),
        liquidation_due=len(desk.liquidation_due),
        liquidation_runs=len(desk.runs),
        timeline=session.summary.risk_timeline,
    )


def call(c: MarginCall) -> CallOut:
    return CallOut(
        client_id=c.client_id,
        call_id=c.call_id,
        opened_on=c.opened_on.isoformat(),
        deadline=c.deadline.isoformat(),
        state=c.state.value,
        ratio_at_open=str(c.ratio_at_open),
        line=str(c.line),
        target=str(c.target),
    )


def notice(n: Notice) -> NoticeOut:
    return NoticeOut(
        client_id=n.client_id, kind=n.kind.value, at=n.at.isoformat(),
        text_zh=n.text_zh, text_en=n.text_en,
    )  # fmt: skip
