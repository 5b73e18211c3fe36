"""Small builders shared by the ledger tests."""

from __future__ import annotations

from datetime import date
from fractions import Fraction

from liangrong.domain.contracts import ContractKind, ContractTerms
from liangrong.ledger.columns import DebtRows
from liangrong.ledger.journal import Ledger

DAY = date(2026, 3, 2)


def open_client(ledger: Ledger, client_id: str, name: str = "张三", on: date = DAY) -> None:
    for exchange in ("SH", "SZ"):
        ledger.open_credit_account(
            f"open-{client_id}-{exchange}", client_id, exchange, name, name, on
        )


def financing_terms(
    contract_id: str,
    client_id: str,
    principal_fen: int,
    quantity: int = 1000,
    security: str = "600000.SH",
    open_date: date = DAY,
    maturity: date = date(2026, 9, 2),
) -> ContractTerms:
    return ContractTerms(
        contract_id=contract_id,
        kind=ContractKind.FINANCING,
        client_id=client_id,
        security=security,
        quantity=quantity,
        amount_fen=principal_fen,
        price_li=max(1, principal_fen * 10 // quantity),
        open_date=open_date,
        used_date=open_date,
        maturity=maturity,
        maturity_provisional=False,
        margin_ratio=Fraction(1),
        rule_version="exchange:2026-01-14/firm:2026-01-14",
        annual_rate=Fraction(835, 10000),
    )


def short_terms(
    contract_id: str,
    client_id: str,
    quantity: int,
    proceeds_fen: int,
    security: str = "600036.SH",
    open_date: date = DAY,
    maturity: date = date(2026, 9, 2),
) -> ContractTerms:
    return ContractTerms(
        contract_id=contract_id,
        kind=ContractKind.SHORT,
        client_id=client_id,
        security=security,
        quantity=quantity,
        amount_fen=proceeds_fen,
        price_li=max(1, proceeds_fen * 10 // quantity),
        open_date=open_date,
        used_date=open_date,
        maturity=maturity,
        maturity_provisional=False,
        margin_ratio=Fraction(1),
        rule_version="exchange:2024-07-22/firm:2024-07-22",
        annual_rate=Fraction(1035, 10000),
    )


def owed_by_id(rows: DebtRows) -> tuple[dict[str, int], dict[str, int]]:
    """(principal, charges) owed by contract id, worked out from debt rows one by one (a
    debt is a negative balance; zero balances left out)."""
    principal: dict[str, int] = {}
    charges: dict[str, int] = {}
    for side, contract, amount in zip(rows.sides, rows.contracts, rows.amounts, strict=True):
        if amount:
            (charges if side == "charges" else principal)[contract] = -amount
    return principal, charges
