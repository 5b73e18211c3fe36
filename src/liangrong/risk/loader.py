"""Bulk load of the risk arrays from the ledger's projections (balances and contracts).

Invariant: the arrays hold exactly what the ledger holds now: every credit account opened
(with or without balances), each client's cash (free + locked), holdings per security,
and every contract still owing principal or charges with those amounts.  The firm's own
accounts and the outside world are not read.
"""

from __future__ import annotations

from collections import defaultdict

import numpy as np
from sqlalchemy import Engine, select

from liangrong.domain.accounts import AccountKind, parse_account
from liangrong.domain.contracts import ContractKind, ContractTerms
from liangrong.domain.money import scaled_ratio
from liangrong.ledger import schema as s
from liangrong.ledger.journal import decode_events
from liangrong.risk.book_arrays import BookArrays
from liangrong.risk.layout import BookData, ContractData
from liangrong.store.other_collateral import load_counted_values


def load_book(engine: Engine) -> BookArrays:
    book = BookArrays(load_data(engine))
    for client, value_fen in sorted(load_counted_values(engine).items()):
        if client in book.accounts.index:
            book.set_other_collateral(client, value_fen)
    return book


def load_data(engine: Engine) -> BookData:
    """The book as columns, read in three queries."""
    with engine.connect() as conn:
        clients = sorted({row[0] for row in conn.execute(select(s.credit_accounts.c.client_id))})
        terms = [
            ContractTerms.from_event(decode_events(f"[{row[0]}]")[0])
            for row in conn.execute(select(s.contracts.c.terms_json))
        ]
        rows = conn.execute(
            select(s.balances.c.account, s.balances.c.asset, s.balances.c.amount).where(
                s.balances.c.amount != 0
            )
        ).all()
    index = {client: a for a, client in enumerate(clients)}
    cash = [0] * len(clients)
    held: dict[tuple[int, str], int] = defaultdict(int)
    owed: dict[str, int] = {}
    charges: dict[str, int] = {}
    for account, asset, amount in rows:
        parsed = parse_account(account)
        if parsed is None or parsed.client_id not in index:
            continue
        a, kind = index[parsed.client_id], parsed.kind
        if kind in (AccountKind.CLIENT_CASH, AccountKind.CLIENT_LOCKED_CASH):
            cash[a] += amount
        elif kind is AccountKind.CLIENT_SECURITIES:
            held[(a, asset)] += amount
        elif kind in (AccountKind.CLIENT_FINANCING_DEBT, AccountKind.CLIENT_SHORT_DEBT):
            owed[str(parsed.contract_id)] = -amount  # debts are negative balances
        elif kind is AccountKind.CLIENT_CHARGES_DEBT:
            charges[str(parsed.contract_id)] = -amount
    open_terms = [
        t for t in terms if owed.get(t.contract_id, 0) > 0 or charges.get(t.contract_id, 0) > 0
    ]
    symbols = sorted({symbol for _, symbol in held} | {t.security for t in open_terms})
    sec = {symbol: i for i, symbol in enumerate(symbols)}
    positions = sorted((a, sec[symbol], q) for (a, symbol), q in held.items() if q)
    return BookData(
        client_ids=clients,
        symbols=symbols,
        cash_fen=np.asarray(cash, dtype=np.int64),
        position_account=np.asarray([p[0] for p in positions], dtype=np.intp),
        position_security=np.asarray([p[1] for p in positions], dtype=np.intp),
        position_quantity=np.asarray([p[2] for p in positions], dtype=np.int64),
        financing=_contracts(
            [t for t in open_terms if t.kind is ContractKind.FINANCING], index, sec, owed, charges
        ),
        shorts=_contracts(
            [t for t in open_terms if t.kind is ContractKind.SHORT], index, sec, owed, charges
        ),
    )


def _contracts(
    terms: list[ContractTerms],
    clients: dict[str, int],
    securities: dict[str, int],
    owed: dict[str, int],
    charges: dict[str, int],
) -> ContractData:
    def ints(values: list[int]) -> np.ndarray[tuple[int], np.dtype[np.int64]]:
        return np.asarray(values, dtype=np.int64)

    return ContractData(
        account=np.asarray([clients[t.client_id] for t in terms], dtype=np.intp),
        security=np.asarray([securities[t.security] for t in terms], dtype=np.intp),
        ids=[t.contract_id for t in terms],
        outstanding=ints([owed.get(t.contract_id, 0) for t in terms]),
        charges=ints([charges.get(t.contract_id, 0) for t in terms]),
        ratio_bp=ints([scaled_ratio(t.margin_ratio) for t in terms]),
        open=ints([t.open_date.toordinal() for t in terms]),
        price_li=ints([t.price_li for t in terms]),
        bought=ints([t.quantity for t in terms]),
        amount=ints([t.amount_fen for t in terms]),
    )
