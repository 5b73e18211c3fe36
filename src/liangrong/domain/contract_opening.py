"""The terms a new debt contract is opened under (CON-1, RISK-4).

Reads the rule book and the calendar once, at opening, and freezes the result into
``ContractTerms``: the margin ratio with the rule version it came from, the rate, and the
maturity.  Invariant: the maturity is never more than the maximum term after the day the money
or securities were used, and is flagged provisional when it rests on calendar days past the
loaded horizon; later rule changes never reach an open contract through this path.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from fractions import Fraction

from liangrong.domain.contracts import ContractKind, ContractTerms, MaturityCalendar, maturity_for
from liangrong.domain.rule_book import RuleBook, margin_ratio, terms_for


@dataclass(frozen=True, slots=True)
class ContractRequest:
    """What a fill tells us: amount_fen is the principal (financing) or proceeds (short)."""

    contract_id: str
    kind: ContractKind
    client_id: str
    security: str
    quantity: int
    amount_fen: int
    price_li: int
    open_date: date
    used_date: date | None = None  # defaults to the open date
    haircut: Fraction | None = None  # the firm's haircut, for a haircut-linked ratio policy


def contract_terms(
    book: RuleBook, calendar: MaturityCalendar, request: ContractRequest
) -> ContractTerms:
    used = request.used_date or request.open_date
    ratio = margin_ratio(
        book, request.kind, request.security, request.open_date, request.client_id, request.haircut
    )
    terms = terms_for(book, request.client_id, request.open_date)
    maturity, provisional = maturity_for(calendar, used, terms.max_term_months)
    rate = (
        terms.financing_rate if request.kind is ContractKind.FINANCING else terms.lending_fee_rate
    )
    return ContractTerms(
        contract_id=request.contract_id,
        kind=request.kind,
        client_id=request.client_id,
        security=request.security,
        quantity=request.quantity,
        amount_fen=request.amount_fen,
        price_li=request.price_li,
        open_date=request.open_date,
        used_date=used,
        maturity=maturity,
        maturity_provisional=provisional,
        margin_ratio=ratio.ratio,
        rule_version=ratio.rule_version.identifier,
        annual_rate=rate,
    )
