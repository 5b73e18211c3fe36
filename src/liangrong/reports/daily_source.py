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

from collections import defaultdict
from collections.abc import Collection, Iterable, Mapping, Sequence
from datetime import date

from sqlalchemy import ColumnElement, Connection, Engine, func, or_, select

from liangrong.domain import accounts as acc
from liangrong.domain.accounts import AccountKind
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

_KEY_CHUNK = 400  # IN-lists well below every driver's parameter limit
DebtsBySecurity = dict[str, tuple[int, int]]  # security -> (financing fen, short shares)


def _debt_filter(account: ColumnElement[str]) -> ColumnElement[bool]:
    """Debt accounts only (no client or contract id may hold a colon, so this is exact)."""
    return or_(account.like("client:%:financing:%"), account.like("client:%:short:%"))


def _debt_side(account: str) -> tuple[ContractKind, str] | None:
    """(side, contract id) of a debt account; None for any other account."""
    parsed = acc.parse_account(account)
    if parsed is None or parsed.contract_id is None:
        return None
    if parsed.kind is AccountKind.CLIENT_FINANCING_DEBT:
        return ContractKind.FINANCING, parsed.contract_id
    if parsed.kind is AccountKind.CLIENT_SHORT_DEBT:
        return ContractKind.SHORT, parsed.contract_id
    return None


def _contract_securities(conn: Connection, contract_ids: Iterable[str]) -> dict[str, str]:
    ids = sorted(set(contract_ids))
    table = s.contracts
    found: dict[str, str] = {}
    for start in range(0, len(ids), _KEY_CHUNK):
        chunk = ids[start : start + _KEY_CHUNK]
        rows = conn.execute(
            select(table.c.contract_id, table.c.security).where(table.c.contract_id.in_(chunk))
        )
        found.update({cid: security for cid, security in rows})
    return found


class _Securities:
    """Which security each debt posting belongs to: a financing contract's security from the
    contracts projection, a short's from the posting's asset (the shares owed)."""

    def __init__(self, conn: Connection, keys: Iterable[tuple[str, str]]) -> None:
        self.sides = {account: _debt_side(account) for account, _ in keys}
        financing = [
            side[1]
            for side in self.sides.values()
            if side is not None and side[0] is ContractKind.FINANCING
        ]
        self.by_contract = _contract_securities(conn, financing)
        self.problems: list[ReportViolation] = []

    def of(self, account: str, asset: str) -> tuple[ContractKind, str] | None:
        side = self.sides[account]
        if side is None:
            return None
        kind, contract_id = side
        if kind is ContractKind.SHORT:
            return kind, asset
        security = self.by_contract.get(contract_id)
        if security is None:
            self.problems.append(ReportViolation(ReportCheck.UNKNOWN_CONTRACT, field=account))
            return None
        return kind, security


def day_movements(
    conn: Connection, trading_date: date
) -> tuple[list[DebtMovement], list[ReportViolation]]:
    """The day's classified debt movements and what could not be classified or placed."""
    t, p = s.journal_transactions, s.journal_postings
    rows = conn.execute(
        select(t.c.kind, p.c.account, p.c.asset, p.c.amount)
        .join(t, t.c.seq == p.c.txn_seq)
        .where(t.c.business_date == trading_date, _debt_filter(p.c.account))
        .order_by(p.c.txn_seq, p.c.line_no)
    ).all()
    securities = _Securities(conn, ((account, asset) for _, account, asset, _ in rows))
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


def debts_at_close(
    conn: Connection, trading_date: date
) -> tuple[DebtsBySecurity, list[ReportViolation]]:
    """Each security's financing debt (fen) and short quantity (shares) owed at the close of
    ``trading_date``: the balances less what was posted with a later business date."""
    b, t, p = s.balances, s.journal_transactions, s.journal_postings
    owed: dict[tuple[str, str], int] = defaultdict(int)
    for account, asset, amount in conn.execute(
        select(b.c.account, b.c.asset, b.c.amount).where(_debt_filter(b.c.account))
    ):
        owed[(account, asset)] -= amount  # a debt is a negative balance
    later = conn.execute(
        select(p.c.account, p.c.asset, func.sum(p.c.amount))
        .join(t, t.c.seq == p.c.txn_seq)
        .where(t.c.business_date > trading_date, _debt_filter(p.c.account))
        .group_by(p.c.account, p.c.asset)
    )
    for account, asset, amount in later:
        owed[(account, asset)] += int(amount)
    open_debts = {key: value for key, value in owed.items() if value}
    securities = _Securities(conn, open_debts)
    totals: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for (account, asset), value in open_debts.items():
        placed = securities.of(account, asset)
        if placed is not None:
            side, security = placed
            totals[security][0 if side is ContractKind.FINANCING else 1] += value
    return {k: (v[0], v[1]) for k, v in totals.items()}, securities.problems


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
) -> ExchangeReport:
    """The day's report from the ledger and yesterday's rows, validated against both.
    ``closes_li``: the day's closing prices; ``targets``: the exchange's financing and short
    targets that day.  Raises ``ReportRefused`` listing every problem found."""
    with engine.connect() as conn:
        movements, problems = day_movements(conn, trading_date)
        debts, unplaced = debts_at_close(conn, trading_date)
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
    engine: Engine, as_of: date, closes_li: Mapping[str, int] | None = None
) -> tuple[ReportRow, ...]:
    """Rows of the debts open at the close of ``as_of`` with no flows: yesterday's rows for
    the first report, when no report of ``as_of`` was kept.  The target flag is False
    (it is not read back by the next day's checks)."""
    with engine.connect() as conn:
        debts, problems = debts_at_close(conn, as_of)
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
