"""Step ``reconcile``: the books checked against each other after the day (ACC-7, GOV-4);
every difference listed in ``reconciliation_{date}.csv``, none fixed.

Checks:
- ``balances``: each account's balance in the projection equals the sum of its postings in
  the journal, every account, every day (the projection is never repaired here:
  ``liangrong ledger rebuild`` does that, on purpose).  A full check sums every key's
  postings over the whole journal; on the days between full checks the balances' control
  total is compared with the journal's, carried from the last checkpoint over the postings
  since (``ledger_control``), and any disagreement brings the full check, which lists the
  keys; either way the journal's total is compared with the checkpoint's chain, so a change
  to transactions already checked is a difference too.  The store sums and compares; the
  totals are read in bulk, every weight computed from its key (``ledger.control_reads``);
- ``contracts``: each row of the contracts projection names a transaction that opened it,
  and there are as many rows as transactions that opened contracts (counted since the
  checkpoint);
- ``conservation``: every asset's postings and balances sum to zero;
- ``receivables``: the firm's receivables equal the clients' debts (financing principal,
  charges with the pending ones, shares lent per security);
- ``pending``: the charges subledger's control account equals minus the sum of every
  contract's pending charges (``store.charges_pending``);
- ``report``: the exchange daily report's financing balance and short quantity per
  security, read back from its file, equal the ledger's debts at the close;
- ``accrual``: what the day's accrual posted equals what its step recorded;
- ``clearing``: each credit account's positions at the close equal the clearing house's
  file of the day, and ``bank``: each client's credit cash equals the depository bank's
  (``external_checks``; a day without a file is itself a difference, ``missing``); copies of
  both received files are written beside the reconciliation file.

Invariants: read only but for the file; the file lists each check once as ``ok`` or each of
its differences, sorted, with no time in it.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import date
from typing import TypeVar

from sqlalchemy import Connection, Engine, select, text

from liangrong.domain import accounts as acc
from liangrong.domain import control_totals as ct
from liangrong.eod.context import Digest, StepOutcome, StepRun
from liangrong.eod.external_checks import external_reconciliation
from liangrong.eod.files import csv_bytes, write_atomic
from liangrong.eod.ledger_control import Checkpoint, full_check_due, latest_checkpoint
from liangrong.ledger import schema as s
from liangrong.ledger.control_reads import balances_control, postings_control, seq_ranges
from liangrong.ledger.journal import last_seq
from liangrong.ledger.projections import (
    BALANCES,
    JOURNAL,
    BalanceDifference,
    account_ranges,
    asset_totals,
    balance_differences,
    breaks_of,
    sampled_posting_ranges,
)
from liangrong.reports.daily_source import ledger_differences
from liangrong.reports.exchange_files import read_report_rows
from liangrong.store.accrual_state import AccrualStateDamaged
from liangrong.store.charges_pending import PendingChargesDamaged, book_pending
from liangrong.store.eod_records import completed_steps

HEADER = ("check", "status", "subject", "expected", "found")
Row = tuple[str, str, str, str, str]
T = TypeVar("T")
_PARTS = 32  # ranges of account names for the balances check, and for the balances' total
_SEQS = 25_000  # transactions in each part of the postings since the checkpoint
_THREADS = 2

_CONTRACTS_UNOPENED = """
SELECT c.contract_id FROM contracts c LEFT JOIN journal_transactions t ON t.seq = c.opened_seq
WHERE t.seq IS NULL
   OR t.events_json NOT LIKE '%"contract_id":"' || c.contract_id || '"%'
"""
_OPENINGS = """
SELECT COUNT(*) FROM journal_transactions
WHERE seq > :after AND seq <= :through AND events_json LIKE '%"contract_opened"%'
"""
_DEBTS = """
SELECT CASE WHEN account LIKE 'client:%:financing:%' THEN 'financing'
            WHEN account LIKE 'client:%:short:%' THEN 'short' ELSE 'charges' END AS side,
       asset, -SUM(amount)
FROM balances WHERE account >= 'client:' AND account < 'client;'
GROUP BY side, asset
"""
_FINANCING_OWED = """
SELECT c.security, -SUM(b.amount) FROM contracts c
JOIN balances b ON b.account = 'client:' || c.client_id || ':financing:' || c.contract_id
WHERE c.kind = 'financing' AND b.asset = 'CNY'
GROUP BY c.security
"""
_SHORTS_OWED = """
SELECT asset, -SUM(amount) FROM balances
WHERE account >= 'client:' AND account < 'client;' AND account LIKE 'client:%:short:%'
GROUP BY asset
"""
_LATER = """
SELECT p.account, p.asset, SUM(p.amount)
FROM journal_postings p
WHERE p.txn_seq IN (SELECT seq FROM journal_transactions WHERE business_date > :day)
  AND (p.account LIKE 'client:%:financing:%' OR p.account LIKE 'client:%:short:%')
GROUP BY p.account, p.asset
"""
# The day's accrual transactions by their command ids' key range, then their postings by key
# (CROSS JOIN fixes that order on SQLite): the receivable's postings grow with every day.
_ACCRUED = """
SELECT COALESCE(SUM(p.amount), 0) FROM journal_transactions t
CROSS JOIN journal_postings p
WHERE p.txn_seq = t.seq AND t.command_id >= :prefix AND t.command_id < :after
  AND p.account = :receivable
"""


def _balances(low: str, high: str | None) -> Callable[[Connection], list[BalanceDifference]]:
    return lambda conn: balance_differences(conn, low, high)


def _balances_total(low: str, high: str | None) -> Callable[[Connection], int]:
    return lambda conn: balances_control(conn, low, high)


def _postings_total(after: int, through: int) -> Callable[[Connection], int]:
    return lambda conn: postings_control(conn, after, through)


def _difference_rows(found: list[BalanceDifference]) -> list[Row]:
    return [
        ("balances", "difference", f"{account} {asset}", str(journal), str(projection))
        for account, asset, journal, projection in found
    ]


def _journal_total(balances: int, found: list[BalanceDifference]) -> int:
    """The journal's control total learnt from a full check: the balances' own, with each
    differing key's balance replaced by the sum of its postings."""
    projection = ct.weighted(((a, asset), p or 0) for a, asset, _, p in found)
    journal = ct.weighted(((a, asset), j) for a, asset, j, _ in found)
    return ct.plus(ct.minus(balances, projection), journal)


def _conservation(conn: Connection, balances: dict[str, int], exact: bool) -> list[Row]:
    """Every asset's postings and balances sum to zero.  ``exact``: the balances check found
    every key's balance equal to the sum of its postings, so each asset's postings sum to
    what its balances sum to (no second pass over the journal); else they are summed."""
    journal = balances if exact else asset_totals(conn, JOURNAL)
    return [
        ("conservation", "difference", key, "0", str(total))
        for key, total in sorted(breaks_of(journal, balances).items())
    ]


def _contracts(conn: Connection) -> list[Row]:
    return [
        ("contracts", "difference", cid, "an opening transaction", "none")
        for (cid,) in conn.execute(text(_CONTRACTS_UNOPENED))
    ]


def _openings(after: int, through: int) -> Callable[[Connection], int]:
    def count(conn: Connection) -> int:
        found = conn.execute(text(_OPENINGS), {"after": after, "through": through})
        return int(found.scalar_one())

    return count


def _contract_count(conn: Connection, openings: int) -> list[Row]:
    contracts = int(conn.execute(text("SELECT COUNT(*) FROM contracts")).scalar_one())
    if openings == contracts:
        return []
    return [("contracts", "difference", "count", str(openings), str(contracts))]


def _receivables(conn: Connection) -> list[Row]:
    owed: dict[tuple[str, str], int] = {}
    for side, asset, amount in conn.execute(text(_DEBTS)):
        owed[(side, asset)] = int(amount)
    firm = {
        (account, asset): int(amount)
        for account, asset, amount in conn.execute(
            text(
                "SELECT account, asset, amount FROM balances "
                "WHERE account >= 'firm:receivable:' AND account < 'firm:receivable;'"
            )
        )
    }
    pending = -_control_balance(conn)  # owed by the clients, on no contract yet
    expected = {
        (acc.RECEIVABLE_FINANCING, acc.CASH_ASSET): owed.get(("financing", acc.CASH_ASSET), 0),
        (acc.RECEIVABLE_CHARGES, acc.CASH_ASSET): owed.get(("charges", acc.CASH_ASSET), 0)
        + pending,
    }
    for (side, asset), amount in owed.items():
        if side == "short":
            expected[(acc.RECEIVABLE_LENDING, asset)] = amount
    rows = []
    for key in sorted(expected.keys() | firm.keys()):
        if expected.get(key, 0) != firm.get(key, 0):
            rows.append(("receivables", "difference", " ".join(key), str(expected.get(key, 0)),
                         str(firm.get(key, 0))))  # fmt: skip
    return rows


def _control_balance(conn: Connection) -> int:
    b = s.balances
    found = conn.execute(
        select(b.c.amount).where(b.c.account == acc.CHARGES_ACCRUED, b.c.asset == acc.CASH_ASSET)
    ).scalar()
    return int(found or 0)


def _pending(conn: Connection) -> list[Row]:
    """The subledger's control account holds the opposite of every contract's pending
    charges (``docs/charges-subledger.md``); a state that cannot be read is listed too."""
    control = _control_balance(conn)
    try:
        pending = sum(book_pending(conn).totals().values())
    except (PendingChargesDamaged, AccrualStateDamaged) as error:
        return [("pending", "damaged", acc.CHARGES_ACCRUED, "", str(error))]
    if control == -pending:
        return []
    return [("pending", "difference", acc.CHARGES_ACCRUED, str(-pending), str(control))]


def ledger_debts(conn: Connection, day: date) -> dict[str, tuple[int, int]]:
    """Each security's financing principal (fen) and shares owed at the close of ``day``,
    by joins in the store (an independent path from the report's own reading)."""
    debts: dict[str, list[int]] = {}
    params = {"day": day}
    for security, owed in conn.execute(text(_FINANCING_OWED)):
        debts.setdefault(security, [0, 0])[0] += int(owed)
    for security, owed in conn.execute(text(_SHORTS_OWED)):
        debts.setdefault(security, [0, 0])[1] += int(owed)
    later = conn.execute(text(_LATER), params).all()  # posted since: not owed at that close
    financing = {account.rsplit(":", 1)[1] for account, _, _ in later if ":financing:" in account}
    securities = _securities(conn, financing)
    for account, asset, amount in later:
        contract = account.rsplit(":", 1)[1]
        if ":financing:" in account:
            debts.setdefault(securities.get(contract, f"?{contract}"), [0, 0])[0] += int(amount)
        else:
            debts.setdefault(asset, [0, 0])[1] += int(amount)
    return {k: (v[0], v[1]) for k, v in debts.items() if v != [0, 0]}


def _securities(conn: Connection, contract_ids: set[str]) -> dict[str, str]:
    ids = sorted(contract_ids)
    found: dict[str, str] = {}
    for start in range(0, len(ids), 400):
        chunk = ids[start : start + 400]
        rows = conn.execute(
            select(s.contracts.c.contract_id, s.contracts.c.security).where(
                s.contracts.c.contract_id.in_(chunk)
            )
        )
        found.update({cid: security for cid, security in rows})
    return found


def _report(run: StepRun, conn: Connection) -> list[Row]:
    rows = read_report_rows(run.ctx.out_dir, run.ctx.day)
    # ``expected``: the ledger's figure; ``found``: the report's
    return [
        ("report", "difference", f"{v.security} {v.field}", str(v.expected), str(v.actual))
        for v in ledger_differences(rows, ledger_debts(conn, run.ctx.day))
    ]


def _accrual(run: StepRun, conn: Connection, recorded: int) -> list[Row]:
    prefix = f"eod:{run.ctx.day.isoformat()}:charges:"
    bounds = {"prefix": prefix, "after": s.prefix_end(prefix)}
    posted = int(
        conn.execute(text(_ACCRUED), {**bounds, "receivable": acc.RECEIVABLE_CHARGES}).scalar_one()
    )
    if posted == recorded:
        return []
    return [("accrual", "difference", run.ctx.day.isoformat(), str(recorded), str(posted))]


def _on_connection(engine: Engine, check: Callable[[Connection], T]) -> T:
    with engine.connect() as conn:
        return check(conn)


def reconcile_step(run: StepRun) -> StepOutcome:
    ctx = run.ctx
    accrued = completed_steps(ctx.engine, ctx.day).get("accrue")
    recorded = sum(accrued.summary["booked_fen"].values()) if accrued else 0
    previous = latest_checkpoint(ctx.engine, ctx.day)
    reader = ctx.reader_engine()
    # Each check, or part of one (the balances: a range of account names each), on its own
    # reading connection, ``_THREADS`` at a time: the store does the work (the driver lets
    # go of the interpreter while a query runs), so they overlap; ``guard`` holds the write
    # lock meanwhile, so every one of them reads the same state.  A check is a list of rows.
    with ctx.engine.connect() as guard, ThreadPoolExecutor(_THREADS) as pool:
        through = last_seq(guard)
        full = full_check_due(previous, ctx.day, through, ctx.settings.full_reconciliation_days)
        after = 0 if previous is None or full else previous.through_seq

        def start(check: Callable[[Connection], T]) -> Future[T]:
            return pool.submit(_on_connection, reader, check)

        def by_key_checks() -> list[Callable[[Connection], list[BalanceDifference]]]:
            return [_balances(low, high) for low, high in sampled_posting_ranges(guard, _PARTS)]

        # The checks in one part first, the longest first, the interpreter's (the outside
        # files', the report's) before the store's; then the many small parts, shared out
        # as the threads finish, in turns: a range's keys hashed for the balances' total
        # between two of the store's parts (keys compared, postings summed by key), so that
        # one thread hashes while the other waits on the store.
        external = start(lambda conn: external_reconciliation(conn, ctx.day))
        report = start(lambda conn: _report(run, conn))
        balance_totals = start(lambda conn: asset_totals(conn, BALANCES))
        openings = start(_openings(after, through))
        parts: dict[str, Future[list[Row]]] = {
            "contracts": start(_contracts),
            "report": report,
            "receivables": start(_receivables),
            "pending": start(_pending),
            "accrual": start(lambda conn: _accrual(run, conn, recorded)),
        }
        compared = by_key_checks() if full else []
        summed = (
            [_postings_total(a, t) for a, t in seq_ranges(previous.through_seq, through, _SEQS)]
            if previous
            else []
        )
        hashed = [_balances_total(low, high) for low, high in account_ranges(guard, _PARTS)]
        by_key: list[Future[list[BalanceDifference]]] = []
        since_parts: list[Future[int]] = []
        balances_parts: list[Future[int]] = []
        for turn in range(max(len(compared), len(summed), len(hashed))):
            by_key += [start(compared[turn])] if turn < len(compared) else []
            since_parts += [start(summed[turn])] if turn < len(summed) else []
            balances_parts += [start(hashed[turn])] if turn < len(hashed) else []
        # The checks read the store, never what the steps kept of it: that is dropped here,
        # while the store works for them (freeing gigabytes of objects takes seconds).
        ctx.forget_readings()
        found: dict[str, list[Row]] = {}
        for done, (check, future) in enumerate(parts.items(), start=1):
            found[check] = future.result()
            run.progress(done, len(parts) + 3)
        opening_count = openings.result() + (previous.openings if previous and after else 0)
        found["contracts"] += _contract_count(guard, opening_count)
        balances_total = ct.plus(*(part.result() for part in balances_parts))
        chain = (
            ct.plus(previous.journal_total, *(part.result() for part in since_parts))
            if previous
            else None
        )
        if not full and chain != balances_total:
            # the totals disagree: find the keys
            full, by_key = True, [start(check) for check in by_key_checks()]
        differences = [d for future in by_key for d in future.result()]
        journal_total = _journal_total(balances_total, differences) if full else chain
        assert journal_total is not None
        found["balances"] = _difference_rows(differences) + _history_rows(
            previous, chain, journal_total
        )
        run.progress(len(parts) + 1, len(parts) + 3)
        exact = not found["balances"]
        found["conservation"] = _conservation(guard, balance_totals.result(), exact)
        external_found, copies = external.result()
        found.update(external_found)
    ok_subject = "" if full or previous is None else _since(previous)
    rows: list[Row] = []
    for check in sorted(found):
        subject = ok_subject if check == "balances" else ""
        rows += sorted(found[check]) or [(check, "ok", subject, "", "")]
    data = csv_bytes(HEADER, rows)
    name = f"reconciliation_{ctx.day:%Y%m%d}.csv"
    write_atomic(ctx.out_dir / name, data)
    digest = Digest()
    digest.data(name, data)
    for copy_name, copy in sorted(copies.items()):
        write_atomic(ctx.out_dir / copy_name, copy)
        digest.data(copy_name, copy)
    run.progress(1, 1)
    full_on = ctx.day if full or previous is None else previous.full_on
    checkpoint = Checkpoint(ctx.day, through, journal_total, opening_count, full_on)
    return StepOutcome(
        digest.hexdigest(),
        {
            "differences": {check: len(items) for check, items in sorted(found.items())},
            "balances_check": "full" if full else "control_total",
            "control": checkpoint.to_summary(),
        },
    )


def _since(previous: Checkpoint) -> str:
    return f"control total since {previous.trading_date} (seq {previous.through_seq})"


def _history_rows(previous: Checkpoint | None, chain: int | None, journal: int) -> list[Row]:
    """A difference when the journal's total is not the checkpoint's plus what was posted
    since: a transaction the checkpoint counted has changed (or the checkpoint has)."""
    if previous is None or chain is None or chain == journal:
        return []
    return [("balances", "difference", f"journal, {_since(previous)}", str(chain), str(journal))]
