"""An in-memory mirror of one client's ledger balances and open contracts.

It learns only from transactions the ledger accepted (``apply``), so it can never hold a
value the journal does not.  Invariant: after ``apply`` of every posted transaction, each
figure equals the ledger's balance of the matching account.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from liangrong.domain import accounts as acc
from liangrong.domain.accounts import AccountKind
from liangrong.domain.contracts import ContractBalance, ContractKind, ContractTerms
from liangrong.domain.journal import Transaction, net_changes


@dataclass(slots=True)
class OpenContract:
    terms: ContractTerms
    principal_outstanding: int  # fen (financing) or shares (short)
    charges_outstanding_fen: int = 0

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
        for (account, asset), change in net_changes(txn).items():
            self._apply_change(account, asset, change)

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

    def _contract(self, contract_id: str | None) -> OpenContract:
        assert contract_id is not None and contract_id in self.contracts, contract_id
        return self.contracts[contract_id]

    def open_contracts(self, kind: ContractKind) -> list[OpenContract]:
        return [c for c in self.contracts.values() if c.terms.kind is kind and c.is_open]

    def forget_closed(self) -> None:
        """Drop closed contracts from memory (the journal keeps them)."""
        self.contracts = {cid: c for cid, c in self.contracts.items() if c.is_open}
