"""The whole book as dense arrays, kept in step with the ledger (issue #4; RISK-1, -3 inputs).

Accounts and securities are mapped to array indices. What is stored (``tables``): per
security the market price and the valuation price (li) with the valuation rule's name (the
RISK-2 hook: a fair-value rule fills the valuation price and its name is recorded), the
haircut (bp: the firm's list haircut, 0 when not on it) and the time of the prices; per
account cash = free + locked (fen), the counted value of other collateral (fen, RISK-9: set
by ``set_other_collateral``, counted in assets and so in the maintenance ratio, not in the
available margin; the ledger does not hold it) and charges owed (fen: the charges accounts
plus the pending charges, ``store.charges_pending``, which posting them leaves as it was);
holdings = what the ledger holds per (account, security), financed shares included;
financing contracts with the shares still backing them (allotted oldest first, ceil(bought ×
outstanding ÷ principal), never more than held: the book's rule), principal outstanding
(fen) and margin ratio (bp); shorts with shares outstanding, sale amount (fen, sale price ×
shares, half-up) and ratio.

Invariants:
- after ``apply`` of every transaction the ledger posted, the exact columns equal a fresh
  bulk load of the ledger (``loader.load_book``), and ``views.exact_account`` equals the
  margin account the book builds for the client (``book.accounts.margin_account``);
- per account at most one slot names a given security (a freed slot keeps its security and
  is reused for it first), so an incremental revaluation adds per slot without counting a
  position twice;
- ``version`` rises with every change; figures carry the version they were computed at;
- ``prices_at`` never goes backwards: an older snapshot is refused, not applied.

Layout (why blocks): the full revaluation must sum ~8M holdings into 1M accounts in a few
passes over memory.  A segmented sum over variable-length runs (``np.add.reduceat``) costs
~17 ns a segment here; a row sum over a dense (blocks × BLOCK) matrix (``np.einsum``) well
under 1 ns a slot.  So each account present at the bulk load owns the block of its own
index, overflow blocks and later accounts' blocks are appended at the tail and chained,
and empty slots hold quantity 0.  A new position takes a free slot in place (no reload, no
shifting of 8M rows); a full account gets one more tail block.  ``compacted`` rebuilds the
layout and the indexes, dropping closed contracts (e.g. at the start of a day).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from fractions import Fraction

import numpy as np

from liangrong.domain.accounts import AccountKind, parse_account
from liangrong.domain.contracts import ContractKind, ContractTerms
from liangrong.domain.journal import Transaction, net_changes
from liangrong.domain.money import scaled_ratio
from liangrong.domain.purposes import Purpose
from liangrong.risk.columns import FloatArray, IndexArray, IntArray
from liangrong.risk.layout import BookData, build
from liangrong.risk.tables import BLOCK, BP, MARKET_RULE, Financing, Shorts

_CREDIT_KINDS = frozenset(
    {
        AccountKind.CLIENT_CASH,
        AccountKind.CLIENT_LOCKED_CASH,
        AccountKind.CLIENT_SECURITIES,
        AccountKind.CLIENT_FINANCING_DEBT,
        AccountKind.CLIENT_SHORT_DEBT,
        AccountKind.CLIENT_CHARGES_DEBT,
    }
)


class UnknownContract(LookupError):
    """A debt posting names a contract whose opening these arrays never saw."""


class StalePrices(ValueError):
    """A price update older than the prices already applied."""


Valuation = tuple[int, str]  # a fair value: (price_li, the rule's name)


@dataclass(frozen=True, slots=True)
class PriceMoves:
    """Securities whose valuation price changed, with the float price before."""

    securities: IndexArray
    previous_f: FloatArray


class BookArrays:
    """Dense arrays of every credit account; see the module docstring."""

    def __init__(self, data: BookData) -> None:
        layout = build(data)
        self.securities = layout.securities
        self.accounts = layout.accounts
        self.blocks = layout.blocks
        self.financing = layout.financing
        self.shorts = layout.shorts
        self.slots_by_security = layout.slots_by_security
        self.financing_by_security = layout.financing_by_security
        self.shorts_by_security = layout.shorts_by_security
        self.financing_by_account = layout.financing_by_account
        self.shorts_by_account = layout.shorts_by_account
        self.prices_at: datetime | None = None
        self.version = 0
        self.refresh_derived()
        self.refresh_bases()

    # -- sizes and names ---------------------------------------------------------------
    @property
    def n_accounts(self) -> int:
        return self.accounts.n

    def account_of(self, client_id: str) -> int:
        return self.accounts.index[client_id]

    def security_of(self, symbol: str) -> int:
        return self.securities.index[symbol]

    def _account(self, client_id: str) -> int:
        accounts = self.accounts
        found = accounts.index.get(client_id)
        if found is not None:
            return found
        a = accounts.n
        accounts.ensure(a + 1)
        accounts.ids.append(client_id)
        accounts.index[client_id] = a
        accounts.first_block[a] = self.blocks.new_block(a)
        accounts.n = a + 1
        return a

    def _security(self, symbol: str) -> int:
        return self.securities.add(symbol)  # the indexes take new keys as rows are added

    def holders_of(self, securities: list[int]) -> IndexArray:
        """Accounts (sorted) holding, owing financing on or short any of these securities:
        the accounts whose exact contents carry one of their prices."""
        blocks, fin, sh = self.blocks, self.financing, self.shorts
        slots, source = self.slots_by_security.gather(securities)
        live = (blocks.sec[slots] == source) & (blocks.qty[slots] > 0)
        rows, _ = self.financing_by_security.gather(securities)
        owed = rows[(fin.outstanding[rows] > 0) | (fin.charges[rows] > 0)]
        short_rows, _ = self.shorts_by_security.gather(securities)
        shorted = short_rows[sh.outstanding[short_rows] > 0]
        found: IndexArray = np.unique(
            np.concatenate(
                [blocks.owner[slots[live] // BLOCK], fin.account[owed], sh.account[shorted]]
            )
        )
        return found

    def securities_of(self, a: int) -> set[int]:
        """The securities the account holds, owes financing on or is short (``holders_of``
        for one account)."""
        fin, sh = self.financing, self.shorts
        found = set(self.held(a))
        rows = self.financing_by_account.get(a)
        found.update(fin.security[rows[(fin.outstanding[rows] > 0) | (fin.charges[rows] > 0)]])
        rows = self.shorts_by_account.get(a)
        found.update(sh.security[rows[sh.outstanding[rows] > 0]])
        return {int(s) for s in found}

    # -- holdings ------------------------------------------------------------------------
    def _chain(self, a: int) -> list[int]:
        blocks, b = [], int(self.accounts.first_block[a])
        while b >= 0:
            blocks.append(b)
            b = int(self.blocks.next[b])
        return blocks

    def slots_of(self, a: int) -> IndexArray:
        """Every slot of an account (used or not)."""
        chain = self._chain(a)
        return (np.asarray(chain, dtype=np.intp)[:, None] * BLOCK + np.arange(BLOCK)).ravel()

    def held(self, a: int) -> dict[int, int]:
        """Security index -> shares held, for the account's non-empty slots."""
        slots = self.slots_of(a)
        qty = self.blocks.qty[slots]
        live = qty != 0
        return dict(zip(self.blocks.sec[slots][live].tolist(), qty[live].tolist(), strict=True))

    def _slot(self, a: int, s: int) -> int:
        """The account's slot for security ``s``: its own, else a free one, else a new block."""
        blocks, free = self.blocks, -1
        last = -1
        for b in self._chain(a):
            lo = b * BLOCK
            secs = blocks.sec[lo : lo + BLOCK].tolist()
            if s in secs:
                return lo + int(secs.index(s))
            if free < 0:
                qtys = blocks.qty[lo : lo + BLOCK].tolist()
                free = next((lo + i for i, q in enumerate(qtys) if q == 0), -1)
            last = b
        if free < 0:
            b = blocks.new_block(a)
            blocks.next[last] = b
            free = b * BLOCK
        blocks.sec[free] = s
        self.slots_by_security.add(s, free)
        return free

    def _add_held(self, a: int, s: int, change: int) -> None:
        blocks = self.blocks
        slot = self._slot(a, s)
        quantity = int(blocks.qty[slot]) + change
        if quantity < 0:
            raise ValueError(f"{self.accounts.ids[a]} would hold {quantity} of {s}")
        blocks.qty[slot] = quantity
        blocks.qf[slot] = quantity
        blocks.qh[slot] = quantity * self.securities.haircut_f[s]

    # -- contracts -----------------------------------------------------------------------
    def _open_contract(self, terms: ContractTerms) -> int:
        a, s = self._account(terms.client_id), self._security(terms.security)
        table: Financing | Shorts
        if terms.kind is ContractKind.FINANCING:
            table, by_account, by_security = (
                self.financing,
                self.financing_by_account,
                self.financing_by_security,
            )
        else:
            table, by_account, by_security = (
                self.shorts,
                self.shorts_by_account,
                self.shorts_by_security,
            )
        if terms.contract_id in table.by_id:
            raise ValueError(f"contract {terms.contract_id} opened twice")
        c = table.n
        table.ensure(c + 1)
        table.account[c], table.security[c] = a, s
        table.ratio_bp[c] = scaled_ratio(terms.margin_ratio)
        table.open[c] = terms.open_date.toordinal()
        table.price_li[c] = terms.price_li
        if isinstance(table, Financing):
            table.bought[c], table.amount[c] = terms.quantity, terms.amount_fen
        table.ids.append(terms.contract_id)
        table.by_id[terms.contract_id] = c
        table.n = c + 1
        by_account.add(a, c)
        by_security.add(s, c)
        if self.securities.value_li[s] == 0:  # no quote yet: the trade price (as the book)
            self._set_value(s, terms.price_li)
        return a

    def _contract(self, contract_id: str | None) -> tuple[Financing | Shorts, int]:
        for table in (self.financing, self.shorts):
            c = table.by_id.get(str(contract_id))
            if c is not None:
                return table, c
        raise UnknownContract(str(contract_id))

    def _allot(self, a: int, s: int) -> None:
        """Shares backing each financing contract of (a, s), oldest first (the book's rule)."""
        fin = self.financing
        rows = [c for c in self.financing_by_account.get(a).tolist() if fin.security[c] == s]
        rows.sort(key=lambda c: (int(fin.open[c]), fin.ids[c]))
        left = self.held(a).get(s, 0)
        for c in rows:
            need = -(-int(fin.bought[c]) * int(fin.outstanding[c]) // int(fin.amount[c]))
            fin.backing[c] = taken = min(left, need)
            left -= taken
        self._refresh_financing(np.asarray(rows, dtype=np.intp))

    def _refresh_financing(self, rows: IndexArray) -> None:
        fin, keep = self.financing, 1.0 - self.securities.haircut_f[self.financing.security[rows]]
        fin.bh[rows] = keep * fin.backing[rows]
        fin.ah[rows] = keep * fin.outstanding[rows] * 10.0

    def _refresh_shorts(self, rows: IndexArray) -> None:
        sh = self.shorts
        h = self.securities.haircut_f[sh.security[rows]]
        r = sh.ratio_bp[rows] / BP
        q = sh.outstanding[rows].astype(np.float64)
        sale_li = sh.sale[rows] * 10.0
        sh.q[rows], sh.a1[rows], sh.b1[rows] = q, sale_li, (1.0 + r) * q
        sh.a2[rows], sh.b2[rows] = h * sale_li, (h + r) * q

    def refresh_bases(self) -> None:
        """``_refresh_base`` for every account at once (bulk build, compaction)."""
        acc, fin, sh, n = self.accounts, self.financing, self.shorts, self.accounts.n
        fa, sa = fin.account[: fin.n], sh.account[: sh.n]
        acc.financing_fen[:n] = 0
        np.add.at(acc.financing_fen, fa, fin.outstanding[: fin.n])  # exact, int64
        acc.short_sale_fen[:n] = 0
        np.add.at(acc.short_sale_fen, sa, sh.sale[: sh.n])
        weights = fin.outstanding[: fin.n] * (fin.ratio_bp[: fin.n] / BP)
        acc.financing_margin_f[:n] = np.bincount(fa, weights, minlength=n)
        cash, charges = acc.cash_fen[:n], acc.charges_fen[:n]
        acc.base_assets_li[:n] = (cash + acc.other_collateral_fen[:n]) * 10.0
        acc.base_debt_li[:n] = (acc.financing_fen[:n] + charges) * 10.0
        free = cash - charges - acc.financing_fen[:n] - acc.short_sale_fen[:n]
        acc.base_available_li[:n] = (free - acc.financing_margin_f[:n]) * 10.0

    def _refresh_base(self, a: int) -> None:
        """The account's price-independent sums, from its exact columns."""
        acc, fin, sh = self.accounts, self.financing, self.shorts
        f_rows, s_rows = self.financing_by_account.get(a), self.shorts_by_account.get(a)
        owed = fin.outstanding[f_rows].tolist()
        financing = sum(owed)
        margin_f = sum(o * r for o, r in zip(owed, fin.ratio_bp[f_rows].tolist(), strict=True))
        short_sale = sum(sh.sale[s_rows].tolist())
        cash, charges = int(acc.cash_fen[a]), int(acc.charges_fen[a])
        acc.financing_fen[a], acc.short_sale_fen[a] = financing, short_sale
        acc.financing_margin_f[a] = margin_f / BP
        acc.base_assets_li[a] = (cash + int(acc.other_collateral_fen[a])) * 10.0
        acc.base_debt_li[a] = (financing + charges) * 10.0
        acc.base_available_li[a] = (
            float(cash - charges - financing - short_sale) - margin_f / BP
        ) * 10

    # -- other collateral ----------------------------------------------------------------
    def set_other_collateral(self, client_id: str, value_fen: int) -> int:
        """The client's other collateral now counts ``value_fen`` (the counted value of every
        item in force, ``domain.other_collateral.counted_total``); returns the account index.

        Only the account's base assets change: ``Revaluer.figures`` of the account shows it
        at once, no price-dependent sum moves."""
        if value_fen < 0:
            raise ValueError(f"other collateral of {client_id} cannot be {value_fen} fen")
        a = self._account(client_id)
        self.accounts.other_collateral_fen[a] = value_fen
        self._refresh_base(a)
        self.version += 1
        return a

    # -- transactions --------------------------------------------------------------------
    def apply(self, txn: Transaction) -> list[int]:
        """Learn a posted transaction; returns the accounts it touched (sorted)."""
        touched: set[int] = set()
        groups: set[tuple[int, int]] = set()
        for event in txn.events:
            if event.get("type") == "contract_opened":
                terms = ContractTerms.from_event(event)
                touched.add(self._open_contract(terms))
        # posting the pending leaves what a client owes as it was
        for (account, asset), change in net_changes(txn, Purpose.CHARGE_POSTING).items():
            parsed = parse_account(account)
            if parsed is None or parsed.kind not in _CREDIT_KINDS or parsed.client_id is None:
                continue  # the firm's own accounts and the outside world are not the book
            a, kind = self._account(parsed.client_id), parsed.kind
            touched.add(a)
            if kind in (AccountKind.CLIENT_CASH, AccountKind.CLIENT_LOCKED_CASH):
                self.accounts.cash_fen[a] += change
            elif kind is AccountKind.CLIENT_SECURITIES:
                s = self._security(asset)
                self._add_held(a, s, change)
                groups.add((a, s))
            else:
                table, c = self._contract(parsed.contract_id)
                if kind is AccountKind.CLIENT_CHARGES_DEBT:
                    table.charges[c] -= change  # debts are negative balances
                    self.accounts.charges_fen[a] -= change
                else:
                    table.outstanding[c] -= change
                    self._after_principal(table, c)
                    groups.add((a, int(table.security[c])))
        for a, s in groups:
            self._allot(a, s)
        for a in touched:
            self._refresh_base(a)
        self.version += 1
        return sorted(touched)

    def _after_principal(self, table: Financing | Shorts, c: int) -> None:
        if isinstance(table, Shorts):
            # The short credit figure: sale price × shares still owed, half-up to the fen.
            table.sale[c] = (int(table.price_li[c]) * int(table.outstanding[c]) + 5) // 10
            self._refresh_shorts(np.asarray([c], dtype=np.intp))

    # -- prices, rules, haircuts ---------------------------------------------------------
    def _set_value(self, s: int, price_li: int) -> None:
        self.securities.value_li[s] = price_li
        self.securities.value_f[s] = price_li

    def _advance(self, at: datetime) -> None:
        if self.prices_at is not None and at < self.prices_at:
            raise StalePrices(f"prices of {at.isoformat()} are older than {self.prices_at}")
        self.prices_at = at
        self.version += 1

    def set_prices(self, at: datetime, prices_li: Mapping[str, int]) -> PriceMoves:
        """A market snapshot taken at ``at``: the latest trade of each security named.

        Securities not named did not trade since the last snapshot: their price stands at
        ``at`` too.  Returns the securities whose valuation price moved (a security under
        a fair-value rule keeps its rule's price)."""
        symbols = list(prices_li)
        index = np.fromiter((self._security(sym) for sym in symbols), np.intp, len(symbols))
        return self.set_price_array(at, index, np.fromiter(prices_li.values(), np.int64))

    def set_price_array(self, at: datetime, index: IndexArray, prices: IntArray) -> PriceMoves:
        """``set_prices`` for index and price arrays (a simulator's snapshot)."""
        if len(prices) and int(prices.min()) <= 0:
            raise ValueError("prices must be positive")
        self._advance(at)
        sec = self.securities
        sec.market_li[index] = prices
        moving = (sec.rule[index] == 0) & (sec.value_li[index] != prices)
        moved = index[moving]
        previous = sec.value_f[moved].copy()
        sec.value_li[moved] = prices[moving]
        sec.value_f[moved] = prices[moving]
        return PriceMoves(moved, previous)

    def set_valuation(self, at: datetime, symbol: str, price_li: int, rule: str) -> PriceMoves:
        """A fair-value rule (RISK-2) values ``symbol`` at ``price_li`` from ``at`` on."""
        if price_li <= 0 or not rule or rule == MARKET_RULE:
            raise ValueError("a fair value needs a positive price and its rule's name")
        self._advance(at)
        sec = self.securities
        s = self._security(symbol)
        if rule not in sec.rule_names:
            sec.rule_names.append(rule)
        sec.rule[s] = sec.rule_names.index(rule)
        return self._revalue_one(s, price_li)

    def clear_valuation(self, at: datetime, symbol: str) -> PriceMoves:
        """Back to the market price (the rule no longer applies)."""
        self._advance(at)
        s = self.security_of(symbol)
        self.securities.rule[s] = 0
        return self._revalue_one(s, int(self.securities.market_li[s]))

    def set_valuations(self, at: datetime, changes: Mapping[str, Valuation | None]) -> PriceMoves:
        """Several ``set_valuation`` (a (price, rule)) or ``clear_valuation`` (None) at once,
        in symbol order; every security whose valuation price moved, once."""
        moved: list[PriceMoves] = []
        for symbol, change in sorted(changes.items()):
            if change is None:
                moved.append(self.clear_valuation(at, symbol))
            else:
                moved.append(self.set_valuation(at, symbol, *change))
        if not moved:
            return PriceMoves(np.zeros(0, np.intp), np.zeros(0))
        return PriceMoves(
            np.concatenate([m.securities for m in moved]),
            np.concatenate([m.previous_f for m in moved]),
        )

    def _revalue_one(self, s: int, price_li: int) -> PriceMoves:
        previous = float(self.securities.value_f[s])
        if int(self.securities.value_li[s]) == price_li:
            return PriceMoves(np.zeros(0, np.intp), np.zeros(0))
        self._set_value(s, price_li)
        return PriceMoves(np.asarray([s], dtype=np.intp), np.asarray([previous]))

    def valuation_rule(self, symbol: str) -> str:
        sec = self.securities
        return sec.rule_names[int(sec.rule[self.security_of(symbol)])]

    def set_haircuts(self, haircuts: Mapping[str, Fraction]) -> None:
        """The firm's collateral list: these haircuts, 0 for every security not on it.

        Rewrites every derived float that depends on a haircut; a full revaluation must
        follow (the engine does it)."""
        sec = self.securities
        index = {self._security(symbol): scaled_ratio(h) for symbol, h in haircuts.items()}
        sec.haircut_bp[:] = 0  # (the columns may have grown for new symbols just above)
        for s, bp in index.items():
            sec.haircut_bp[s] = bp
        sec.haircut_f[:] = sec.haircut_bp / BP
        self.refresh_derived()
        self.version += 1

    def refresh_derived(self) -> None:
        """Recompute every float column from the exact ones (vectorised)."""
        blocks, sec = self.blocks, self.securities
        ns = blocks.n * BLOCK
        blocks.qf[:ns] = blocks.qty[:ns]
        blocks.qh[:ns] = blocks.qf[:ns] * np.take(sec.haircut_f, blocks.sec[:ns], mode="wrap")
        self._refresh_financing(np.arange(self.financing.n, dtype=np.intp))
        self._refresh_shorts(np.arange(self.shorts.n, dtype=np.intp))
