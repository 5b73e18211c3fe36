"""Dated restrictions (CLI-4, REF-7): insiders and lock-ups, restricted shares, exchange halts,
as events folded by date, stored append-only on both backends, and honoured by the checks."""

from __future__ import annotations

from datetime import date

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine, text

from book_helpers import DAY1, fund_firm, open_book, order, profile
from liangrong.book.market import Halts
from liangrong.domain.order_codes import OrderCode
from liangrong.domain.orders import OrderKind
from liangrong.domain.restrictions import (
    HaltEvent,
    HaltKind,
    PersonEvent,
    PersonRole,
    RestrictionError,
    ShareEvent,
    ShareReason,
    halts_in_force,
    personal_bans,
    restricted_shares,
)
from liangrong.ledger.journal import Ledger
from liangrong.store import restriction_tables
from liangrong.store.restrictions import (
    RestrictionConflict,
    load_halt_events,
    load_person_events,
    load_share_events,
    save_events,
)

JAN, FEB, MAR = date(2026, 1, 5), date(2026, 2, 2), date(2026, 3, 2)
PEOPLE = [
    PersonEvent("C1", "600036.SH", PersonRole.DIRECTOR, True, JAN, "board minutes"),
    PersonEvent("C1", "600000.SH", PersonRole.STRATEGIC_LOCKUP, True, JAN, "placement"),
    PersonEvent("C1", "600036.SH", PersonRole.DIRECTOR, False, MAR, "resigned"),
]
SHARES = [
    ShareEvent("C1", "600000.SH", ShareReason.FROZEN, 3_000, JAN, "court order 1"),
    ShareEvent("C1", "600000.SH", ShareReason.SEIZED, 1_000, FEB, "court order 2"),
    ShareEvent("C1", "600000.SH", ShareReason.FROZEN, -3_000, MAR, "unfrozen"),
]
HALTS = [
    HaltEvent("600036.SH", HaltKind.FINANCING, True, FEB, "SSE notice: financing indicator 25%"),
    HaltEvent("600036.SH", HaltKind.FINANCING, False, MAR, "SSE notice: back under 20%"),
    HaltEvent("000001.SZ", HaltKind.SHORT, True, MAR, "SZSE notice"),
]


def test_roles_fold_by_date() -> None:
    assert personal_bans(PEOPLE, "C1", FEB).insider_symbols == {"600036.SH"}
    on_march = personal_bans(PEOPLE, "C1", MAR)
    assert on_march.insider_symbols == frozenset() and on_march.lockup_symbols == {"600000.SH"}
    assert personal_bans(PEOPLE, "C2", FEB).insider_symbols == frozenset()


def test_restricted_shares_fold_by_date() -> None:
    assert restricted_shares(SHARES, "C1", date(2025, 12, 31)) == {}
    assert restricted_shares(SHARES, "C1", FEB) == {"600000.SH": 4_000}
    assert restricted_shares(SHARES, "C1", MAR) == {"600000.SH": 1_000}


def test_halts_fold_by_date() -> None:
    assert halts_in_force(HALTS, FEB) == (frozenset({"600036.SH"}), frozenset())
    assert halts_in_force(HALTS, MAR) == (frozenset(), frozenset({"000001.SZ"}))


def test_contradicting_events_are_refused() -> None:
    with pytest.raises(RestrictionError):
        personal_bans(
            [PersonEvent("C1", "600036.SH", PersonRole.DIRECTOR, False, JAN, "x")], "C1", FEB
        )
    with pytest.raises(RestrictionError):
        restricted_shares(
            [ShareEvent("C1", "600000.SH", ShareReason.FROZEN, -1, JAN, "x")], "C1", FEB
        )
    with pytest.raises(RestrictionError):
        halts_in_force([HaltEvent("600036.SH", HaltKind.SHORT, False, JAN, "x")], FEB)


def test_events_round_trip_append_only_and_idempotent(store: Engine, fixed_clock) -> None:
    events = [(f"p{n}", e) for n, e in enumerate(PEOPLE)]
    events += [(f"s{n}", e) for n, e in enumerate(SHARES)]
    events += [(f"h{n}", e) for n, e in enumerate(HALTS)]
    assert save_events(store, events, clock=fixed_clock) == 9
    assert save_events(store, events, clock=fixed_clock) == 0
    assert load_person_events(store) == PEOPLE
    assert load_share_events(store) == SHARES
    assert load_halt_events(store) == HALTS
    with pytest.raises(RestrictionConflict):
        save_events(store, [("h0", HALTS[1])], clock=fixed_clock)
    for table in ("person_events", "share_events", "halt_events"):
        with pytest.raises(Exception, match="append-only"), store.begin() as conn:
            conn.execute(text(f"DELETE FROM {table}"))
    with store.connect() as conn:
        diffs = compare_metadata(MigrationContext.configure(conn), restriction_tables.metadata)
    mine = ("person_events", "share_events", "halt_events")
    assert [d for d in diffs if any(name in str(d) for name in mine)] == []


def test_the_checks_honour_them(store: Engine, fixed_clock) -> None:
    ledger = Ledger(store, fixed_clock)
    fund_firm(ledger)
    for exchange in ("SH", "SZ"):
        ledger.open_credit_account(f"open-{exchange}", "C1", exchange, "赵六", "赵六", DAY1)
    from liangrong.domain import operations as ops

    ledger.post(ops.deposit_cash("dep", DAY1, "C1", 10_000_000_00))
    ledger.post(ops.transfer_collateral_in("tin", DAY1, "C1", "600000.SH", 5_000))
    bans = personal_bans(PEOPLE, "C1", FEB)
    client = profile(
        "C1",
        "赵六",
        insider_symbols=bans.insider_symbols,
        lockup_symbols=bans.lockup_symbols,
        restricted_shares=restricted_shares(SHARES, "C1", FEB),
    )
    financing, short = halts_in_force(HALTS, MAR)
    book = open_book(store, fixed_clock, DAY1, [client], halts=Halts(financing, short))
    codes = {
        "insider margin buy": book.submit(
            order("a", "C1", OrderKind.MARGIN_BUY, "600036.SH", 30_000, 100)
        ).code,
        "lock-up short": book.submit(
            order("b", "C1", OrderKind.SHORT_SELL, "600000.SH", 10_000, 100)
        ).code,
        "halted short": book.submit(
            order("c", "C1", OrderKind.SHORT_SELL, "000001.SZ", 12_000, 100)
        ).code,
        "restricted sale": book.submit(
            order("d", "C1", OrderKind.COLLATERAL_SELL, "600000.SH", 10_000, 1_100)
        ).code,
    }
    assert codes == {
        "insider margin buy": OrderCode.INSIDER_TRADING,
        "lock-up short": OrderCode.LOCKUP_SHORT,
        "halted short": OrderCode.SHORT_HALTED,
        "restricted sale": OrderCode.RESTRICTED_SHARES,  # 4,000 of the 5,000 are restricted
    }
    assert book.submit(
        order("e", "C1", OrderKind.COLLATERAL_SELL, "600000.SH", 10_000, 1_000)
    ).accepted
