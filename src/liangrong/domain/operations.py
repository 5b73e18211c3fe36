"""Builders of the transactions for the book's operations.

Each function turns one business fact into a balanced ``Transaction``; the ledger checks
and stores it.  Invariant: builders only arrange postings; they decide nothing about
whether the operation is allowed (that is the checks' job) beyond asserting their inputs.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date

from liangrong.domain import accounts as acc
from liangrong.domain.contracts import Allocation, ContractKind, ContractTerms
from liangrong.domain.fees import Fees
from liangrong.domain.journal import Leg, Posting, Transaction
from liangrong.domain.moves import MoveBatch
from liangrong.domain.purposes import Purpose

CNY = acc.CASH_ASSET
NO_FEES = Fees(0, 0, 0)


def fee_postings(payer: str, fees: Fees) -> list[Posting]:
    """The payer's fees: commission is the firm's income, stamp duty and transfer fee levies."""
    if not fees.total_fen:
        return []
    return [Posting(payer, CNY, -fees.total_fen), *fee_credits(fees)]


def fee_credits(fees: Fees) -> list[Posting]:
    """Where fees go, without the payer's side."""
    postings = []
    if fees.commission_fen:
        postings.append(Posting(acc.INCOME_FEES, CNY, fees.commission_fen))
    levies = fees.stamp_duty_fen + fees.transfer_fee_fen
    if levies:
        postings.append(Posting(acc.TAX_AND_LEVIES, CNY, levies))
    return postings


def _exchange_of(security: str) -> str:
    return security.rsplit(".", 1)[1]


def _txn(
    command_id: str, on: date, kind: str, *legs: Leg, events: tuple[dict[str, object], ...] = ()
) -> Transaction:
    return Transaction(command_id, on, kind, tuple(legs), events)


def _move(purpose: Purpose, asset: str, amount: int, source: str, target: str) -> Leg:
    assert amount > 0
    return Leg(purpose, (Posting(source, asset, -amount), Posting(target, asset, amount)))


def deposit_cash(command_id: str, on: date, client_id: str, amount_fen: int) -> Transaction:
    """Bank -> credit cash account through the third-party depository (ACC-6)."""
    leg = _move(
        Purpose.DEPOSIT, CNY, amount_fen, acc.client_bank(client_id), acc.client_cash(client_id)
    )
    return _txn(command_id, on, "cash_deposit", leg)


def withdraw_cash(command_id: str, on: date, client_id: str, amount_fen: int) -> Transaction:
    leg = _move(
        Purpose.WITHDRAW_SURPLUS,
        CNY,
        amount_fen,
        acc.client_cash(client_id),
        acc.client_bank(client_id),
    )
    return _txn(command_id, on, "cash_withdrawal", leg)


def transfer_collateral_in(
    command_id: str, on: date, client_id: str, security: str, quantity: int
) -> Transaction:
    exchange = _exchange_of(security)
    leg = _move(
        Purpose.COLLATERAL_TRANSFER_IN,
        security,
        quantity,
        acc.client_ordinary(client_id, exchange),
        acc.client_securities(client_id, exchange),
    )
    return _txn(command_id, on, "collateral_transfer_in", leg)


def transfer_collateral_out(
    command_id: str, on: date, client_id: str, security: str, quantity: int
) -> Transaction:
    exchange = _exchange_of(security)
    leg = _move(
        Purpose.WITHDRAW_SURPLUS,
        security,
        quantity,
        acc.client_securities(client_id, exchange),
        acc.client_ordinary(client_id, exchange),
    )
    return _txn(command_id, on, "collateral_transfer_out", leg)


def fund_pool(command_id: str, on: date, asset: str, amount: int) -> Transaction:
    """The firm puts its own cash into the financing pool or securities into the lending pool."""
    pool = acc.FINANCING_POOL if asset == CNY else acc.LENDING_POOL
    return _txn(
        command_id,
        on,
        "pool_funding",
        _move(Purpose.POOL_FUNDING, asset, amount, acc.FIRM_CAPITAL, pool),
    )


def open_financing(command_id: str, terms: ContractTerms, fees: Fees = NO_FEES) -> Transaction:
    """A margin buy settled: the pool pays for the shares and their fees (financed: the
    principal ``terms.amount_fen`` includes ``fees``), the client owes the principal."""
    assert terms.kind is ContractKind.FINANCING
    client, principal = terms.client_id, terms.amount_fen
    assert principal > fees.total_fen
    exchange = _exchange_of(terms.security)
    postings = [
        Posting(acc.FINANCING_POOL, CNY, -principal),
        Posting(acc.MARKET, CNY, principal - fees.total_fen),
        Posting(acc.financing_debt(client, terms.contract_id), CNY, -principal),
        Posting(acc.RECEIVABLE_FINANCING, CNY, principal),
        Posting(acc.MARKET, terms.security, -terms.quantity),
        Posting(acc.client_securities(client, exchange), terms.security, terms.quantity),
    ]
    postings += fee_credits(fees)  # paid out of the principal: the fees are financed
    leg = Leg(Purpose.SETTLEMENT, tuple(postings))
    return _txn(command_id, terms.open_date, "margin_buy_fill", leg, events=(terms.to_event(),))


def open_short(command_id: str, terms: ContractTerms, fees: Fees = NO_FEES) -> Transaction:
    """A short sale settled: lent shares go out, the proceeds stay locked (ORD-5) and pay
    the sale's fees (a permitted use)."""
    assert terms.kind is ContractKind.SHORT
    client = terms.client_id
    postings = [
        Posting(acc.LENDING_POOL, terms.security, -terms.quantity),
        Posting(acc.MARKET, terms.security, terms.quantity),
        Posting(acc.short_debt(client, terms.contract_id), terms.security, -terms.quantity),
        Posting(acc.RECEIVABLE_LENDING, terms.security, terms.quantity),
        Posting(acc.MARKET, CNY, -terms.amount_fen),
        Posting(acc.client_locked_cash(client), CNY, terms.amount_fen),
        *fee_postings(acc.client_locked_cash(client), fees),
    ]
    leg = Leg(Purpose.SETTLEMENT, tuple(postings))
    return _txn(command_id, terms.open_date, "short_sell_fill", leg, events=(terms.to_event(),))


def repay_financing(
    command_id: str,
    on: date,
    client_id: str,
    allocations: Sequence[Allocation],
    kind: str = "direct_repayment",
) -> Transaction:
    """Cash from the client's credit cash account repays charges and principal as allocated."""
    return _txn(command_id, on, kind, *repayment_legs(client_id, allocations))


def repayment_legs(client_id: str, allocations: Sequence[Allocation]) -> list[Leg]:
    """Legs that repay charges (as interest, fees and taxes) then principal, from free cash.
    Even after a forced sale, what is collected is the client's debt: COLLECT_DEBT.  A client
    with many contracts gets several legs, so no leg passes the journal's posting limit."""
    charges = [(a.contract_id, a.charges_fen) for a in allocations if a.charges_fen > 0]
    principal = [(a.contract_id, a.principal) for a in allocations if a.principal > 0]
    assert charges or principal, "nothing to repay"
    legs = [
        _repayment_leg(client_id, part, Purpose.INTEREST_FEES_TAXES, acc.charges_debt)
        for part in _parts(charges)
    ]
    legs += [
        _repayment_leg(client_id, part, Purpose.COLLECT_DEBT, acc.financing_debt)
        for part in _parts(principal)
    ]
    return legs


CONTRACTS_PER_LEG = 48  # + 3 fixed postings stays under the journal's 64 per leg


def _parts(items: Sequence[tuple[str, int]]) -> list[Sequence[tuple[str, int]]]:
    return [items[i : i + CONTRACTS_PER_LEG] for i in range(0, len(items), CONTRACTS_PER_LEG)]


def _repayment_leg(
    client_id: str,
    amounts: Sequence[tuple[str, int]],
    purpose: Purpose,
    debt_account: Callable[[str, str], str],
) -> Leg:
    total = sum(amount for _, amount in amounts)
    is_charges = purpose is Purpose.INTEREST_FEES_TAXES
    target = acc.INCOME_INTEREST if is_charges else acc.FINANCING_POOL
    receivable = acc.RECEIVABLE_CHARGES if is_charges else acc.RECEIVABLE_FINANCING
    return Leg(
        purpose,
        (
            Posting(acc.client_cash(client_id), CNY, -total),
            Posting(target, CNY, total),
            *(Posting(debt_account(client_id, cid), CNY, n) for cid, n in amounts),
            Posting(receivable, CNY, -total),
        ),
    )


def return_securities(
    command_id: str, on: date, client_id: str, security: str, allocations: Sequence[Allocation]
) -> Transaction:
    """Direct return: shares in the credit securities account go back to the lending pool."""
    return _txn(command_id, on, "direct_return", *return_legs(client_id, security, allocations))


def return_legs(client_id: str, security: str, allocations: Sequence[Allocation]) -> list[Leg]:
    """Shares from the credit securities account to the lending pool, reducing the shorts;
    several legs when many contracts are repaid, so none passes the posting limit."""
    assert sum(a.principal for a in allocations) > 0, "nothing to return"
    exchange = _exchange_of(security)
    legs = []
    for start in range(0, len(allocations), CONTRACTS_PER_LEG):
        part = [a for a in allocations[start : start + CONTRACTS_PER_LEG] if a.principal]
        total = sum(a.principal for a in part)
        if not total:
            continue
        debts = (
            Posting(acc.short_debt(client_id, a.contract_id), security, a.principal) for a in part
        )
        legs.append(
            Leg(
                Purpose.COLLECT_DEBT,
                (
                    Posting(acc.client_securities(client_id, exchange), security, -total),
                    Posting(acc.LENDING_POOL, security, total),
                    *debts,
                    Posting(acc.RECEIVABLE_LENDING, security, -total),
                ),
            )
        )
    return legs


def accrue_charges(
    command_id: str, on: date, client_id: str, contract_id: str, amount_fen: int
) -> Transaction:
    """Interest, fees or penalty fall due on a contract: the client owes more, no cash moves."""
    accrual = ChargeAccrual(command_id, client_id, (contract_id,), (amount_fen,))
    return charge_accruals(on, [accrual]).transaction(0)


@dataclass(frozen=True, slots=True)
class ChargeAccrual:
    """One transaction of ``charge_accruals``: its contracts (at most ``CONTRACTS_PER_LEG``)
    and what each falls due, in this order."""

    command_id: str
    client_id: str
    contract_ids: Sequence[str]
    amounts_fen: Sequence[int]
    events: Sequence[Mapping[str, object]] = ()


def charge_accruals(on: date, accruals: Sequence[ChargeAccrual]) -> MoveBatch:
    """Charges falling due on many contracts, as moves: each transaction one leg
    (``Purpose.CHARGE_ACCRUAL``) taking each contract's amount into its charges debt and
    their sum into the firm's receivable side (one receivable posting per transaction, not
    one per contract: two million fewer a day at a million clients of three contracts)."""
    return _charge_moves(
        on, "charge_accrual", Purpose.CHARGE_ACCRUAL, acc.RECEIVABLE_CHARGES, accruals
    )


def pending_postings(on: date, postings: Sequence[ChargeAccrual]) -> MoveBatch:
    """Pending charges reaching their contracts (结转, ``docs/charges-subledger.md``): each
    transaction one leg (``Purpose.CHARGE_POSTING``) taking each contract's pending into its
    charges debt and their sum out of the subledger's control account.  What the client owes
    does not change; the contract's own account then holds it, with its split by kind in the
    same ``charges_accrued`` events as a daily accrual's."""
    return _charge_moves(
        on, "charge_posting", Purpose.CHARGE_POSTING, acc.CHARGES_ACCRUED, postings
    )


def pending_legs(postings: Sequence[ChargeAccrual]) -> tuple[list[Leg], list[Mapping[str, object]]]:
    """The legs and events of ``pending_postings``, for a repayment's own transaction: the
    charges it pays are on the contracts when it pays them, and a crash leaves both or
    neither."""
    txns = pending_postings(date.min, postings).transactions()
    return [leg for t in txns for leg in t.legs], [event for t in txns for event in t.events]


def control_accrual(
    command_id: str, on: date, amount_fen: int, event: Mapping[str, object]
) -> Transaction:
    """The day's booked charges, one posting for the whole book: out of the subledger's
    control account (the clients owe them, on no contract yet) into the receivable."""
    assert amount_fen > 0
    postings = (
        Posting(acc.CHARGES_ACCRUED, CNY, -amount_fen),
        Posting(acc.RECEIVABLE_CHARGES, CNY, amount_fen),
    )
    leg = Leg(Purpose.CHARGE_ACCRUAL, postings)
    return _txn(command_id, on, "charge_accrual", leg, events=(dict(event),))


def _charge_moves(
    on: date, kind: str, purpose: Purpose, target: str, accruals: Sequence[ChargeAccrual]
) -> MoveBatch:
    sources: list[str] = []
    amounts: list[int] = []
    source_ends: list[int] = []
    for accrual in accruals:
        assert len(accrual.contract_ids) == len(accrual.amounts_fen)
        assert 0 < len(accrual.amounts_fen) <= CONTRACTS_PER_LEG
        assert all(amount > 0 for amount in accrual.amounts_fen)
        client = accrual.client_id
        sources.extend(acc.charges_debt(client, contract) for contract in accrual.contract_ids)
        amounts.extend(accrual.amounts_fen)
        source_ends.append(len(amounts))
    legs = len(accruals)
    return MoveBatch(
        on,
        kind,
        [a.command_id for a in accruals],
        range(1, legs + 1),
        [purpose] * legs,
        [CNY] * legs,
        sources,
        [target] * legs,
        amounts,
        [a.events for a in accruals],
        source_ends,
    )


def release_short_proceeds(
    command_id: str, on: date, client_id: str, amount_fen: int
) -> Transaction:
    leg = _move(
        Purpose.LOCK_RELEASE,
        CNY,
        amount_fen,
        acc.client_locked_cash(client_id),
        acc.client_cash(client_id),
    )
    return _txn(command_id, on, "short_proceeds_release", leg)
