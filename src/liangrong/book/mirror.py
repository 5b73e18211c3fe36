"""An in-memory mirror of one client's ledger balances and open contracts.

It learns only from transactions the ledger accepted (``apply``), so it can never hold a
value the journal does not.  Invariant: after ``apply`` of every posted transaction, each
figure equals the ledger's balance of the matching account, except a contract's charges,
which are what the client owes on them: the account plus the pending charges
(``store.charges_pending``).  Posting the pending (``Purpose.CHARGE_POSTING``) moves it into
the account and leaves that figure as it was.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from liangrong.domain import accounts as acc
from liangrong.domain.accounts import AccountKind
from liangrong.domain.contracts import ContractBalance, ContractKind, ContractTerms
from liangrong.domain.journal import Transaction, net_changes, pending_posted
from liangrong.domain.purposes import Purpose


@dataclass(slots=True)
class OpenContract:
    terms: ContractTerms
    principal_outstanding: int  # fen (financing) or shares (short)
    charges_outstanding_fen: int = 0  # owed: on the charges account and pending
    charges_pending: Mapping[str, int] = field(default_factory=dict)  # by kind, fen

    @property
    def charges_pending_fen(self) -> int:
        return sum(self.charges_pending.values())

    @property
    def is_open(self) -> bool:
        return self.principal_outstanding > 0 or self.charges_outstanding_fen > 0

    def balance(self) -> ContractBalance:
        return ContractBalance(self.terms, self.principal_outstanding, self.charges_outstanding_fen)


@dataclass(slots=True)
class ClientMirror:
    client_id: str
    cash_fen: int = 0  # free cash in the credit cash account
    locked_fen: int = 0  # locked short-sale proceeds
    holdings: dict[str, int] = field(default_factory=dict)  # symbol -> shares
    contracts: dict[str, OpenContract] = field(default_factory=dict)

    def apply(self, txn: Transaction) -> None:
        for event in txn.events:
            if event.get("type") == "contract_opened":
                terms = ContractTerms.from_event(event)
                if terms.client_id == self.client_id:
                    self.contracts[terms.contract_id] = OpenContract(terms, 0)
        for (account, asset), change in net_changes(txn, Purpose.CHARGE_POSTING).items():
            self._apply_change(account, asset, change)
        for account, fen in pending_posted(txn).items():
            self._pending_posted(account, -fen)

    def _apply_change(self, account: str, asset: str, change: int) -> None:
        parsed = acc.parse_account(account)
        if parsed is None or parsed.client_id != self.client_id:
            return
        kind = parsed.kind
        if kind is AccountKind.CLIENT_CASH:
            self.cash_fen += change
        elif kind is AccountKind.CLIENT_LOCKED_CASH:
            self.locked_fen += change
        elif kind is AccountKind.CLIENT_SECURITIES:
            left = self.holdings.get(asset, 0) + change
            if left:
                self.holdings[asset] = left
            else:
                self.holdings.pop(asset, None)
        elif kind in (AccountKind.CLIENT_FINANCING_DEBT, AccountKind.CLIENT_SHORT_DEBT):
            self._contract(parsed.contract_id).principal_outstanding -= change
        elif kind is AccountKind.CLIENT_CHARGES_DEBT:
            self._contract(parsed.contract_id).charges_outstanding_fen -= change

    def _pending_posted(self, account: str, fen: int) -> None:
        """The contract's pending reached its account: all of it, every kind at once."""
        parsed = acc.parse_account(account)
        if parsed is None or parsed.client_id != self.client_id:
            return
        contract = self._contract(parsed.contract_id)
        assert fen == contract.charges_pending_fen, (account, fen, contract.charges_pending)
        contract.charges_pending = {}

    def _contract(self, contract_id: str | None) -> OpenContract:
        assert contract_id is not None and contract_id in self.contracts, contract_id
        return self.contracts[contract_id]

    def open_contracts(self, kind: ContractKind) -> list[OpenContract]:
        return [c for c in self.contracts.values() if c.terms.kind is kind and c.is_open]

    def forget_closed(self) -> None:
        """Drop closed contracts from memory (the journal keeps them)."""
        self.contracts = {cid: c for cid, c in self.contracts.items() if c.is_open}
