"""Building the book's in-memory mirrors and pools from the ledger's projections, in bulk.

Invariants: a contract's charges are what the client owes on them, the charges account plus
the pending charges (``store.charges_pending``); a mirror's contract terms carry the maturity
in force (the opening maturity folded with the recorded extensions and term changes,
``store.contract_terms``), so the book orders repayments by the maturity that binds today
(CON-2, CON-3); everything is read with a fixed number of queries, whatever the number of
clients and contracts.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from sqlalchemy import Engine, select

from liangrong.book.mirror import ClientMirror, OpenContract
from liangrong.domain import accounts as acc
from liangrong.domain.accounts import AccountKind
from liangrong.domain.contracts import ContractKind, ContractTerms
from liangrong.domain.pretrade_state import FirmState
from liangrong.domain.securities import Exchange
from liangrong.ledger import schema as s
from liangrong.ledger.journal import decode_events, read_account_balances
from liangrong.store.charges_pending import PendingCharges, pending_charges
from liangrong.store.contract_terms import load_term_events


def load_mirrors(engine: Engine, client_ids: Iterable[str]) -> dict[str, ClientMirror]:
    """Every client's balances and open contracts as the ledger holds them now, each
    contract with the terms in force (the events recorded so far).  Read by key: the
    clients' contracts by client id, then the balances of their accounts by name, so a few
    clients cost a few lookups whatever the size of the book."""
    mirrors = {client: ClientMirror(client) for client in client_ids}
    events = load_term_events(engine)
    c = s.contracts
    with engine.connect() as conn:
        for chunk in s.key_chunks(sorted(mirrors)):
            rows = conn.execute(
                select(c.c.client_id, c.c.terms_json)
                .where(c.c.client_id.in_(chunk))
                .order_by(c.c.opened_seq)
            )
            for row in rows:
                opening = ContractTerms.from_event(decode_events(f"[{row.terms_json}]")[0])
                terms = events.in_force(opening)
                mirrors[row.client_id].contracts[terms.contract_id] = OpenContract(terms, 0)
        found = read_account_balances(conn, _accounts_of(mirrors.values()))
        pending = pending_charges(conn, _clients_of(mirrors.values()))
    for (account, asset), amount in found.items():
        if amount:
            _place(mirrors, account, asset, amount)
    _add_pending(mirrors, pending)
    for mirror in mirrors.values():
        mirror.forget_closed()
    return mirrors


def _clients_of(mirrors: Iterable[ClientMirror]) -> dict[str, str]:
    return {cid: mirror.client_id for mirror in mirrors for cid in mirror.contracts}


def _add_pending(mirrors: dict[str, ClientMirror], pending: PendingCharges) -> None:
    """What the contracts owe on their charges includes what is booked and not yet posted
    (a contract owing only that is open)."""
    for mirror in mirrors.values():
        for cid, contract in mirror.contracts.items():
            by_kind = pending.by_contract.get(cid)
            if by_kind:
                contract.charges_pending = dict(by_kind)
                contract.charges_outstanding_fen += contract.charges_pending_fen


def _accounts_of(mirrors: Iterable[ClientMirror]) -> Iterator[str]:
    """Every account of the clients: cash, locked cash, securities, each contract's debts."""
    for mirror in mirrors:
        client = mirror.client_id
        yield acc.client_cash(client)
        yield acc.client_locked_cash(client)
        for exchange in Exchange:
            yield acc.client_securities(client, exchange.value)
        for cid, contract in mirror.contracts.items():
            debt = (
                acc.financing_debt
                if contract.terms.kind is ContractKind.FINANCING
                else acc.short_debt
            )
            yield debt(client, cid)
            yield acc.charges_debt(client, cid)


def _place(mirrors: dict[str, ClientMirror], account: str, asset: str, amount: int) -> None:
    parsed = acc.parse_account(account)
    if parsed is None or parsed.client_id not in mirrors:
        return
    mirror, kind = mirrors[parsed.client_id], parsed.kind
    if kind is AccountKind.CLIENT_CASH:
        mirror.cash_fen = amount
    elif kind is AccountKind.CLIENT_LOCKED_CASH:
        mirror.locked_fen = amount
    elif kind is AccountKind.CLIENT_SECURITIES:
        mirror.holdings[asset] = mirror.holdings.get(asset, 0) + amount
    elif kind in (AccountKind.CLIENT_FINANCING_DEBT, AccountKind.CLIENT_SHORT_DEBT):
        mirror.contracts[str(parsed.contract_id)].principal_outstanding = -amount
    elif kind is AccountKind.CLIENT_CHARGES_DEBT:
        mirror.contracts[str(parsed.contract_id)].charges_outstanding_fen = -amount


def load_firm_state(engine: Engine) -> FirmState:
    """The lending pools as the ledger holds them (no order holds anything yet)."""
    with engine.connect() as conn:
        rows = conn.execute(
            select(s.balances.c.account, s.balances.c.asset, s.balances.c.amount).where(
                s.balances.c.account.in_([acc.FINANCING_POOL, acc.LENDING_POOL])
            )
        )
        firm = FirmState(financing_pool_available_fen=0)
        for account, asset, amount in rows:
            if account == acc.FINANCING_POOL:
                firm.financing_pool_available_fen = amount
            else:
                firm.lending_pool_available[asset] = amount
    return firm
