"""The simulated third-party depository bank (第三方存管银行): its own record of each
client's credit fund account (客户信用资金账户, a sub-account of the firm's
client-collateral cash account at the bank), for the daily reconciliation (ACC-7).

The client's credit fund account at the bank holds all of the client's credit cash: the free
part and the short-sale proceeds the firm keeps locked (S2 art. 25: 融券卖出所得全部价款 are
held in the client-collateral cash account), so the ledger's figure it is compared with is
``firm:collateral_cash:{client}`` plus ``firm:collateral_cash:{client}:locked``.

What the record is built from, and nothing else:
- the opening: the credit cash both sides agree on when the book is created (the generated
  book's ``book:`` transactions), or the bank's own file of the last day it recorded;
- bank transfers (银证转账) the bank executed: deposits and withdrawals (``on_deposit``,
  ``on_withdrawal``);
- the clearing side's net cash settlement of the client's trades for the day
  (``on_settlement``; S2 art. 17: the bank changes the client's account from the clearing and
  settlement results the firm provides);
- the firm's payment instructions (资金划拨指令, S2 art. 43) that move cash out of the client's
  account into the firm's own: repayments of financing principal and of interest, fees and
  penalties, by direct repayment or from a sale's proceeds (``on_firm_transfer``; a book
  listener, ``on_posted``, reads them off the transactions the firm posts: only the legs
  that collect debt from the client's cash, never the trades or the transfers).

Invariants: a reference (request id, command id) is applied once; the settlement of a day is
applied once; nothing else changes a balance.  A balance may go negative (the record is
kept as told) so that the reconciliation lists it.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from datetime import date

from sqlalchemy import Engine

from liangrong.domain import accounts as acc
from liangrong.domain.journal import Transaction
from liangrong.domain.orders import NonTradeKind, NonTradeRequest
from liangrong.domain.purposes import Purpose
from liangrong.ledger import schema as s
from liangrong.sim.clearing import BOOK_PREFIX, ClearingDay, opening_sums
from liangrong.store.clearing_records import BANK, latest_received_before, load_bank_file
from liangrong.store.collections import collected_after_cutoff

CLIENT_CASH_PREFIX = "firm:collateral_cash:"  # free and locked credit cash of each client
_COLLECTIONS = frozenset({Purpose.COLLECT_DEBT, Purpose.INTEREST_FEES_TAXES})


def credit_cash_owner(account: str) -> str | None:
    """The client whose credit fund account at the bank holds ``account``'s cash, if any."""
    parsed = acc.parse_account(account)
    if parsed is None or parsed.kind not in (
        acc.AccountKind.CLIENT_CASH,
        acc.AccountKind.CLIENT_LOCKED_CASH,
    ):
        return None
    return parsed.client_id


def collected_fen(client_id: str, txn: Transaction) -> int:
    """Cash the transaction's debt-collecting legs take out of the client's credit fund
    account (repayments of principal and charges): the firm's payment instruction."""
    taken = 0
    for leg in txn.legs:
        if leg.purpose not in _COLLECTIONS:
            continue
        for posting in leg.postings:
            if posting.asset == acc.CASH_ASSET and credit_cash_owner(posting.account) == client_id:
                taken -= posting.amount
    return taken


class DepositoryBank:
    """The bank's record of the clients' credit fund accounts, one day open at a time."""

    def __init__(self, balances_fen: Mapping[str, int]) -> None:
        self._balances: Counter[str] = Counter(dict(balances_fen))
        self._day: date | None = None
        self._applied: set[str] = set()

    @classmethod
    def resume(cls, engine: Engine, day: date, opening_prefix: str = BOOK_PREFIX) -> DepositoryBank:
        """The bank as it stood at the close of the last day before ``day`` it recorded a
        file for, or, before its first file, with the book's opening cash.  The end of day's
        collection of that day (CON-6), in transit at its cut-off, settles now."""
        with engine.connect() as conn:
            last = latest_received_before(conn, BANK, day)
            recorded = load_bank_file(conn, last) if last is not None else None
            in_transit = collected_after_cutoff(conn, last) if last is not None else {}
        if recorded is not None:
            balances = Counter(recorded)
            balances.subtract(in_transit)
            return cls(balances)
        p = s.journal_postings
        sums = opening_sums(
            engine,
            s.starts_with(p.c.account, CLIENT_CASH_PREFIX),
            p.c.asset == acc.CASH_ASSET,
            opening_prefix,
        )
        opening: Counter[str] = Counter()
        for (account, _), fen in sums.items():
            owner = credit_cash_owner(account)
            if owner is not None:
                opening[owner] += fen
        return cls(opening)

    # --- the day ---------------------------------------------------------------------------

    def open_day(self, day: date) -> None:
        if self._day is not None:
            raise RuntimeError(f"{self._day} is still open: close it first")
        self._day = day

    def close_day(self) -> dict[str, int]:
        """Every client's balance (fen) at the close, zeros included."""
        self._require_day()
        self._day = None
        return dict(sorted(self._balances.items()))

    def balance_fen(self, client_id: str) -> int:
        return self._balances[client_id]

    # --- events ----------------------------------------------------------------------------

    def on_deposit(self, client_id: str, amount_fen: int, reference: str) -> bool:
        """Money in from the client's own bank account."""
        return self._apply(f"transfer:{reference}", client_id, amount_fen)

    def on_withdrawal(self, client_id: str, amount_fen: int, reference: str) -> bool:
        """Money out to the client's own bank account."""
        return self._apply(f"transfer:{reference}", client_id, -amount_fen)

    def on_request(self, request: NonTradeRequest) -> bool:
        """The bank transfer of a cash request the firm accepted; other kinds are not bank
        transfers (a direct repayment reaches the bank as ``on_firm_transfer``)."""
        if request.kind is NonTradeKind.CASH_DEPOSIT:
            return self.on_deposit(request.account_id, request.amount_fen, request.request_id)
        if request.kind is NonTradeKind.CASH_WITHDRAWAL:
            return self.on_withdrawal(request.account_id, request.amount_fen, request.request_id)
        return False

    def on_firm_transfer(self, client_id: str, amount_fen: int, reference: str) -> bool:
        """The firm's instruction moving cash out of the client's account into its own."""
        return self._apply(f"instruction:{reference}", client_id, -amount_fen)

    def on_posted(self, client_id: str, txn: Transaction) -> None:
        """A book listener: the payment instruction that goes with a posted transaction."""
        taken = collected_fen(client_id, txn)
        if taken:
            self.on_firm_transfer(client_id, taken, txn.command_id)

    def on_settlement(self, clearing: ClearingDay) -> bool:
        """The clearing side's net cash settlement of the day, per client."""
        if clearing.trading_date != self._require_day():
            raise ValueError(f"the settlement of {clearing.trading_date} is not of {self._day}")
        if not self._first(f"settlement:{clearing.trading_date.isoformat()}"):
            return False
        self._balances.update(clearing.cash_by_client)
        return True

    # --- helpers ---------------------------------------------------------------------------

    def _apply(self, key: str, client_id: str, amount_fen: int) -> bool:
        self._require_day()
        if amount_fen == 0:
            raise ValueError(f"{key}: nothing to move")
        if not self._first(key):
            return False
        self._balances[client_id] += amount_fen
        return True

    def _first(self, key: str) -> bool:
        if key in self._applied:
            return False
        self._applied.add(key)
        return True

    def _require_day(self) -> date:
        if self._day is None:
            raise RuntimeError("no trading day is open")
        return self._day
