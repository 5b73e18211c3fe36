"""The exchange daily report (REP-1) from the ledger: the day's debt movements, the debts at
the close, and the check of one against the other.

Invariants:
- the day's movements are the postings on debt accounts (``client:{c}:financing:{contract}``
  in fen, ``client:{c}:short:{contract}`` in shares) of the transactions whose business date
  is the trading date, classified by their transaction kind
  (``exchange_report.CHANNEL_OF_KIND``); a financing debt belongs to its contract's security
  (a sale of one security may repay another's financing: the repayment is reported under
  the security that was financed);
- the debts at the close are the ledger's balances less whatever was posted with a later
  business date, per security;
- a report is returned only when every movement was classified, every debt account has its
  contract, the identities hold against yesterday's rows and each security's financing
  balance and short quantity equal the ledger's; otherwise ``ReportRefused`` lists every
  difference and nothing is published.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from datetime import date
from functools import cached_property
from itertools import compress, repeat
from operator import is_, neg

import numpy as np
from sqlalchemy import ColumnElement, Connection, Engine, Table, func, or_, select

from liangrong.domain import accounts as acc
from liangrong.domain.contracts import ContractKind
from liangrong.domain.exchange_report import (
    DebtFigures,
    DebtMovement,
    ExchangeReport,
    ReportCheck,
    ReportRefused,
    ReportRow,
    ReportViolation,
    build_rows,
    check_rows,
    classify_posting,
    refuse_if_any,
    short_balance_fen,
    validated_report,
)
from liangrong.ledger import schema as s
from liangrong.ledger.columns import DebtRows, SecuritiesById, load_debt_rows

_KEY_CHUNK = 400  # IN-lists well below every driver's parameter limit
_BULK = 10_000  # more contracts than this: one scan of the contracts, not IN-lists
_ROWS_PER_FETCH = 50_000
DebtsBySecurity = dict[str, tuple[int, int]]  # security -> (financing fen, short shares)
Key = tuple[str, str]  # (account, asset)
Placed = tuple[ContractKind, str]  # (side, security)
# The chart's debt accounts, ``client:{client}:{side}:{contract}``; ids hold no colon.
_DEBT_PARTS = acc.financing_debt("c", "k").split(":")
_SIDES = {
    acc.financing_debt("c", "k").split(":")[2]: ContractKind.FINANCING,
    acc.short_debt("c", "k").split(":")[2]: ContractKind.SHORT,
}


def _debt_filter(account: ColumnElement[str]) -> ColumnElement[bool]:
    """Debt accounts only (no client or contract id may hold a colon, so this is exact)."""
    return or_(account.like("client:%:financing:%"), account.like("client:%:short:%"))


def _dated(postings: Table, day: date, equal: bool) -> ColumnElement[bool]:
    """Postings of the transactions dated ``day`` (``equal``) or later: found through the
    transactions' dates, then their postings by key (not every posting of the journal)."""
    t = s.journal_transactions
    dated = t.c.business_date == day if equal else t.c.business_date > day
    return postings.c.txn_seq.in_(select(t.c.seq).where(dated))


def _debt_side(account: str) -> tuple[ContractKind, str] | None:
    """(side, contract id) of a debt account; None for any other account.  The ledger took
    only names of its chart, where no id holds a colon: splitting is parsing them."""
    parts = account.split(":")
    if len(parts) != len(_DEBT_PARTS) or parts[0] != _DEBT_PARTS[0]:
        return None
    side = _SIDES.get(parts[2])
    return None if side is None else (side, parts[3])


def _contract_securities(conn: Connection, contract_ids: Iterable[str]) -> dict[str, str]:
    ids = sorted(set(contract_ids))
    table = s.contracts
    found: dict[str, str] = {}
    if len(ids) > _BULK:  # most of the book: one scan beats thousands of IN-lists
        wanted = set(ids)
        rows = conn.exec_driver_sql("SELECT contract_id, security FROM contracts")
        found.update((cid, security) for cid, security in rows if cid in wanted)
        return found
    for start in range(0, len(ids), _KEY_CHUNK):
        chunk = ids[start : start + _KEY_CHUNK]
        rows = conn.execute(
            select(table.c.contract_id, table.c.security).where(table.c.contract_id.in_(chunk))
        )
        found.update({cid: security for cid, security in rows})
    return found


def _financing(sides: Mapping[str, tuple[ContractKind, str] | None]) -> list[str]:
    """The financing contracts of some debt accounts' sides."""
    financing = ContractKind.FINANCING
    return [side[1] for side in sides.values() if side is not None and side[0] is financing]


def _placed(
    kind: ContractKind, contract_id: str, asset: str, by_contract: Mapping[str, str]
) -> Placed | None:
    """A debt's side and security: a short's is its asset, a financing's its contract's
    (None when the contract is unknown)."""
    if kind is ContractKind.SHORT:
        return kind, asset
    security = by_contract.get(contract_id)
    return None if security is None else (kind, security)


class _Securities:
    """Which security each debt posting belongs to: a financing contract's security from the
    contracts projection, a short's from the posting's asset (the shares owed)."""

    def __init__(
        self,
        sides: dict[str, tuple[ContractKind, str] | None],
        known: Mapping[str, str],
        missing: set[str] | None = None,
    ) -> None:
        """``sides``: each account's side and contract (None: not a debt account);
        ``known``: the security of (at least) each of their financing contracts on record,
        never changed here (``learn`` copies before it adds); ``missing``: their financing
        contracts not in ``known``, when already worked out."""
        self.sides = sides
        self.by_contract = known  # only a financing contract's is ever looked up
        self.learnt: dict[str, str] = {}  # beside what was known (maybe the whole book's)
        if missing is None:
            missing = set(_financing(sides)) - known.keys()
        self.missing = missing  # contracts not on record
        self.problems: list[ReportViolation] = []

    @classmethod
    def read(cls, conn: Connection, keys: Iterable[Key]) -> _Securities:
        """The accounts of ``keys`` placed, their financing contracts read from the store."""
        sides = {account: _debt_side(account) for account, _ in keys}
        return cls(sides, _contract_securities(conn, _financing(sides)))

    def learn(self, conn: Connection, keys: Iterable[Key]) -> None:
        """Place more accounts (those not seen yet)."""
        new = [(account, asset) for account, asset in keys if account not in self.sides]
        if new:
            more = _Securities.read(conn, new)
            self.sides.update(more.sides)
            self.learnt.update(more.by_contract)
            self.missing |= more.missing

    def placed(self, account: str, asset: str) -> Placed | None:
        """The side and security, or None (not a debt account, or its contract unknown)."""
        side = self.sides[account]
        if side is None:
            return None
        known = self.learnt if side[1] in self.learnt else self.by_contract
        return _placed(*side, asset, known)

    def unknown(self, account: str) -> bool:
        """A financing debt account whose contract the projection does not hold."""
        side = self.sides[account]
        return side is not None and side[0] is ContractKind.FINANCING and side[1] in self.missing

    def of(self, account: str, asset: str) -> Placed | None:
        placed = self.placed(account, asset)
        if placed is None and self.unknown(account):
            self.problems.append(ReportViolation(ReportCheck.UNKNOWN_CONTRACT, field=account))
        return placed


def day_movements(
    conn: Connection, trading_date: date
) -> tuple[list[DebtMovement], list[ReportViolation]]:
    """The day's classified debt movements and what could not be classified or placed."""
    t, p = s.journal_transactions, s.journal_postings
    rows = conn.execute(
        select(t.c.kind, p.c.account, p.c.asset, p.c.amount)
        .join(t, t.c.seq == p.c.txn_seq)
        .where(_dated(p, trading_date, equal=True), _debt_filter(p.c.account))
        .order_by(p.c.txn_seq, p.c.line_no)
    ).all()
    securities = _Securities.read(conn, ((account, asset) for _, account, asset, _ in rows))
    movements: list[DebtMovement] = []
    problems = securities.problems
    for kind, account, asset, amount in rows:
        placed = securities.of(account, asset)
        if placed is None:
            continue
        side, security = placed
        movement = classify_posting(kind, side, security, amount)
        if movement is None:
            problems.append(
                ReportViolation(ReportCheck.UNCLASSIFIED_MOVEMENT, security, kind, amount)
            )
        else:
            movements.append(movement)
    return movements, problems


class OpenDebts:
    """Every debt account's balance now, each placed on its security, read once; the debts at
    the close of any date are these less what was posted with a later business date, so the
    first report's two dates (yesterday's close, today's) share one reading of the book.

    The per-account maps (what each account owes, its side and contract) are built only for
    a date with later postings or a debt whose contract is unknown: today's close, on a
    routine day, needs only the per-security totals (millions of accounts at a firm)."""

    def __init__(
        self,
        conn: Connection,
        rows: DebtRows | None = None,
        securities: Mapping[str, str] | None = None,
    ) -> None:
        """``rows``: the debt accounts' balances already read on this connection's snapshot
        (else read here); ``securities``: the security of every contract on record (else
        the financing contracts' are read here)."""
        debts = rows if rows is not None else load_debt_rows(conn)
        debt = list(map(_SIDES.__contains__, debts.sides))  # not charges
        self._accounts = list(compress(debts.accounts, debt))
        self._assets = list(compress(debts.assets, debt))
        self._values = list(map(neg, compress(debts.amounts, debt)))  # a debt is negative
        self._kinds = list(map(_SIDES.__getitem__, compress(debts.sides, debt)))
        self._contracts = list(compress(debts.contracts, debt))
        if securities is None:
            financing = map(is_, self._kinds, repeat(ContractKind.FINANCING))
            financing_ids = list(compress(self._contracts, financing))
            securities = _contract_securities(conn, financing_ids)
        self._known = securities
        where = _securities_of(self._kinds, self._contracts, self._assets, securities)
        # only a financing debt's security can be None: its contract's unknown
        self._missing = set(compress(self._contracts, map(is_, where, repeat(None))))
        self._totals, self._counts = _security_totals(where, self._kinds, self._values)

    @cached_property
    def owed(self) -> dict[Key, int]:
        """What each debt account owes now, by (account, asset)."""
        keys = zip(self._accounts, self._assets, strict=True)
        return dict(zip(keys, self._values, strict=True))

    @cached_property
    def securities(self) -> _Securities:
        """Each debt account placed: its side and contract, and the contracts' securities."""
        placed = zip(self._kinds, self._contracts, strict=True)
        sides: dict[str, tuple[ContractKind, str] | None] = dict(
            zip(self._accounts, placed, strict=True)
        )
        return _Securities(sides, self._known, set(self._missing))

    def at_close(
        self, conn: Connection, trading_date: date
    ) -> tuple[DebtsBySecurity, list[ReportViolation]]:
        """Each security's financing debt (fen) and short quantity (shares) owed at the close
        of ``trading_date``, and every debt account owing then whose contract is unknown."""
        later = _posted_after(conn, trading_date)
        if not later and not self._missing:  # the balances are the close's, all placed
            return self._owing(self._totals, self._counts), []
        securities = self.securities
        securities.learn(conn, later)
        totals = {k: list(v) for k, v in self._totals.items()}
        counts = dict(self._counts)
        for key, amount in later.items():
            now = self.owed.get(key, 0)
            placed = securities.placed(*key)
            if placed is None or not amount:
                continue
            side, security = placed
            totals.setdefault(security, [0, 0])[_column(side)] += amount
            counts[security] = counts.get(security, 0) + bool(now + amount) - bool(now)
        # the debts owing at the close in the order they are read (balances, then the
        # accounts only later postings name), each unknown contract listed once
        problems: list[ReportViolation] = []
        if securities.missing:  # never for a ledger that opened its contracts itself
            for key in [*self.owed, *(k for k in later if k not in self.owed)]:
                if securities.unknown(key[0]) and self.owed.get(key, 0) + later.get(key, 0):
                    problems.append(ReportViolation(ReportCheck.UNKNOWN_CONTRACT, field=key[0]))
        return self._owing(totals, counts), problems

    @staticmethod
    def _owing(totals: Mapping[str, list[int]], counts: Mapping[str, int]) -> DebtsBySecurity:
        """The securities with a debt owing, with their totals."""
        return {k: (v[0], v[1]) for k, v in totals.items() if counts.get(k, 0) > 0}


def _each_security(by_contract: Mapping[str, str], contract_ids: Sequence[str]) -> list[str | None]:
    """Each contract's security, in order (None: unknown); a table's own (``SecuritiesById``)
    placed by its rows, in C."""
    if isinstance(by_contract, SecuritiesById):
        return by_contract.of_each(contract_ids)
    return list(map(by_contract.get, contract_ids))


def _securities_of(
    kinds: Sequence[ContractKind],
    contracts: Sequence[str],
    assets: Sequence[str],
    by_contract: Mapping[str, str],
) -> list[str | None]:
    """Each debt's security (``_placed``): a short's is its asset, a financing's its
    contract's (None for an unknown contract), the contracts placed all at once."""
    financing = list(map(is_, kinds, repeat(ContractKind.FINANCING)))
    securities = _each_security(by_contract, list(compress(contracts, financing)))
    placed = np.array(assets, dtype=object)
    placed[np.flatnonzero(financing)] = np.array(securities, dtype=object)
    found: list[str | None] = placed.tolist()
    return found


def _security_totals(
    placed: Sequence[str | None], kinds: Sequence[ContractKind], values: Sequence[int]
) -> tuple[dict[str, list[int]], dict[str, int]]:
    """Per security (in the order its first owing debt is read): the financing and short
    totals of the debts placed on it, and how many of them owe something.  Millions of
    debts: grouped by numpy, each group summed as Python integers (exact at any size)."""
    # an unknown contract's debt (None) is on no security: ``at_close`` lists it
    securities = list(dict.fromkeys(filter(None, compress(placed, values))))
    unplaced = len(securities)
    group_of: dict[str | None, int] = {security: i for i, security in enumerate(securities)}
    shorts = np.fromiter(map(is_, kinds, repeat(ContractKind.SHORT)), bool, len(kinds))
    groups = np.fromiter(map(group_of.get, placed, repeat(unplaced)), np.int64, len(placed))
    groups = groups * 2 + shorts  # (security, column): 0 financing, 1 short
    by_group = np.argsort(groups, kind="stable")
    sorted_values = [values[i] for i in by_group.tolist()]
    bounds = np.searchsorted(groups[by_group], np.arange(2 * unplaced + 1)).tolist()
    live = np.fromiter(map(bool, values), bool, len(values))
    counts = np.bincount(groups[live] // 2, minlength=unplaced + 1).tolist()
    totals = {
        security: [sum(sorted_values[bounds[2 * i + c] : bounds[2 * i + c + 1]]) for c in (0, 1)]
        for i, security in enumerate(securities)
    }
    return totals, {security: counts[i] for i, security in enumerate(securities)}


def _column(side: ContractKind) -> int:
    return 0 if side is ContractKind.FINANCING else 1


def _posted_after(conn: Connection, trading_date: date) -> dict[Key, int]:
    """What was posted on each debt account with a business date after ``trading_date``."""
    p = s.journal_postings
    later = conn.execute(
        select(p.c.account, p.c.asset, func.sum(p.c.amount))
        .where(_dated(p, trading_date, equal=False), _debt_filter(p.c.account))
        .group_by(p.c.account, p.c.asset)
    )
    return {(account, asset): int(amount) for account, asset, amount in later}


def debts_at_close(
    conn: Connection, trading_date: date, debts: OpenDebts | None = None
) -> tuple[DebtsBySecurity, list[ReportViolation]]:
    """Each security's financing debt (fen) and short quantity (shares) owed at the close of
    ``trading_date``: the balances less what was posted with a later business date.
    ``debts``: the book's debts already read on this connection's snapshot."""
    return (debts or OpenDebts(conn)).at_close(conn, trading_date)


def ledger_differences(
    rows: Sequence[ReportRow], debts: Mapping[str, tuple[int, int]]
) -> list[ReportViolation]:
    """Every security whose reported financing balance or short quantity is not the
    ledger's (a security the ledger owes on but the report omits counts as reported 0)."""
    reported = {row.security: (row.financing.balance, row.short.balance) for row in rows}
    found = []
    for security in sorted(reported.keys() | debts.keys()):
        mine, theirs = reported.get(security, (0, 0)), debts.get(security, (0, 0))
        for name, index in (("financing_balance", 0), ("short_quantity", 1)):
            if mine[index] != theirs[index]:
                found.append(
                    ReportViolation(
                        ReportCheck.LEDGER_MISMATCH, security, name, mine[index], theirs[index]
                    )
                )
    return found


def build_daily_report(
    engine: Engine,
    trading_date: date,
    previous: Sequence[ReportRow],
    closes_li: Mapping[str, int],
    targets: Collection[str],
    debts_now: OpenDebts | None = None,
) -> ExchangeReport:
    """The day's report from the ledger and yesterday's rows, validated against both.
    ``closes_li``: the day's closing prices; ``targets``: the exchange's financing and short
    targets that day; ``debts_now``: the ledger's debts already read (else read here).
    Raises ``ReportRefused`` listing every problem found."""
    with engine.connect() as conn:
        movements, problems = day_movements(conn, trading_date)
        debts, unplaced = debts_at_close(conn, trading_date, debts_now)
    found = problems + unplaced
    try:
        rows = build_rows(trading_date, previous, movements, closes_li, targets)
    except ReportRefused as refused:
        raise ReportRefused([*found, *refused.violations]) from None
    found += check_rows(trading_date, previous, rows)
    found += ledger_differences(rows, debts)
    refuse_if_any(found)
    return validated_report(trading_date, previous, rows)


def opening_rows(
    engine: Engine,
    as_of: date,
    closes_li: Mapping[str, int] | None = None,
    debts_now: OpenDebts | None = None,
) -> tuple[ReportRow, ...]:
    """Rows of the debts open at the close of ``as_of`` with no flows: yesterday's rows for
    the first report, when no report of ``as_of`` was kept.  The target flag is False
    (it is not read back by the next day's checks)."""
    with engine.connect() as conn:
        debts, problems = debts_at_close(conn, as_of, debts_now)
    refuse_if_any(problems)
    closes = closes_li or {}
    rows = []
    for security, (financing, quantity) in sorted(debts.items()):
        close = closes.get(security)
        balance = short_balance_fen(quantity, close) if close and quantity else 0
        rows.append(
            ReportRow(
                as_of,
                security,
                DebtFigures(balance=financing),
                DebtFigures(balance=quantity),
                close,
                balance,
                False,
            )
        )
    return tuple(rows)
