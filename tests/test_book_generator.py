"""The book generator: deterministic plans, a ledger that conserves and rebuilds, ratios
spread down to the lines, valid contracts; the ledger's bulk opening of credit accounts."""

from __future__ import annotations

from collections import Counter
from datetime import date, timedelta
from fractions import Fraction
from pathlib import Path

import pytest
from sqlalchemy import Engine, select

from conftest import make_sqlite_engine
from liangrong.book.accounts import margin_account
from liangrong.book.loader import load_mirrors
from liangrong.domain import margin
from liangrong.domain.contracts import ContractKind, ContractTerms
from liangrong.domain.pretrade_state import AccountStatus
from liangrong.domain.rejections import LedgerCode, Rejection
from liangrong.domain.restrictions import HaltEvent, HaltKind
from liangrong.ledger import schema as s
from liangrong.ledger.journal import CreditAccountOpening, Ledger, decode_events
from liangrong.ledger.projections import conservation_breaks, rebuild
from liangrong.sim.book_generator import (
    BookMismatch,
    client_profile,
    generate_book,
    profiles_on,
    stored_marker,
)
from liangrong.sim.client_plans import Choices, plan_book
from liangrong.sim.reference_day import load_reference_day, opening_market
from liangrong.store.restrictions import load_person_events, load_share_events, save_events
from sim_helpers import DAY, load_reference, reference_clock

CLIENTS, SEED = 300, 7


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory):
    engine = make_sqlite_engine(tmp_path_factory.mktemp("generator"))
    load_reference(engine)
    ref = load_reference_day(engine, DAY)
    clock = reference_clock_ticking()
    book = generate_book(Ledger(engine, clock), ref, SEED, CLIENTS, clock=clock)
    yield engine, ref, book
    engine.dispose()


def reference_clock_ticking():
    ticks = iter(range(10**9))
    return lambda: reference_clock() + timedelta(microseconds=next(ticks))


def test_plans_are_a_function_of_the_seed(generated) -> None:
    _, ref, _ = generated
    first, again, other = plan_book(ref, SEED, 40), plan_book(ref, SEED, 40), plan_book(ref, 8, 40)

    def content(plans):
        return [
            (p.profile, [(t.command_id, t.payload_digest()) for t in p.transactions]) for p in plans
        ]

    assert content(first) == content(again)
    assert content(first) != content(other)
    # Client n is the same whatever the book's size: each has its own stream.
    assert content(plan_book(ref, SEED, 10)) == content(first)[:10]
    assert [p.profile.client_id for p in first[:3]] == ["C000001", "C000002", "C000003"]
    assert all("\u4e00" <= ch <= "\u9fff" for p in first for ch in p.profile.name)


def test_the_ledger_conserves_and_rebuilds_to_the_same_bytes(generated) -> None:
    engine, _, book = generated
    assert conservation_breaks(engine) == {}
    assert rebuild(engine).identical
    marker = stored_marker(engine)
    assert marker is not None and (marker.seed, marker.clients, marker.trading_date) == (
        SEED,
        CLIENTS,
        DAY,
    )
    with engine.connect() as conn:
        accounts = conn.execute(select(s.credit_accounts.c.client_id)).all()
    assert len(accounts) == 2 * CLIENTS  # SH and SZ for everyone
    assert book.posted > 3 * CLIENTS and book.contracts > CLIENTS


def test_the_ledger_gives_the_planned_ratios(generated) -> None:
    """What the book reads back from the ledger, valued at the day's previous closes, is
    exactly the maintenance ratio the generator planned."""
    engine, ref, book = generated
    market = opening_market(ref)
    ids = [p.client_id for p in book.profiles]
    mirrors = load_mirrors(engine, ids)
    for client, planned in zip(ids, book.ratios, strict=True):
        ratio = margin.maintenance_ratio(margin_account(mirrors[client], market))
        assert ratio == planned, client


def test_ratios_spread_from_safe_to_below_the_liquidation_line(generated) -> None:
    _, _, book = generated
    ratios = [r for r in book.ratios if r is not None]
    assert len(ratios) < len(book.ratios)  # some clients have no debt
    middle = sum(Fraction(2) <= r < 4 for r in ratios)
    assert middle > len(ratios) // 2
    assert sum(r < Fraction(3, 2) for r in ratios) >= 10
    assert sum(r < Fraction(13, 10) for r in ratios) >= 3
    statuses = Counter(p.status for p in book.profiles)
    assert statuses[AccountStatus.NORMAL] > 0.9 * CLIENTS
    assert statuses[AccountStatus.CALL_RESTRICTED] + statuses[AccountStatus.LIQUIDATION] > 0
    limits = Counter(p.concentration_limit_bp <= 10_000 for p in book.profiles)
    assert 0.1 * CLIENTS < limits[True] < 0.4 * CLIENTS
    assert any(p.restricted_shares for p in book.profiles)


def test_contracts_are_valid_and_dated_on_past_trading_days(generated) -> None:
    engine, ref, _ = generated
    with engine.connect() as conn:
        rows = conn.execute(select(s.contracts.c.terms_json)).scalars().all()
    terms = [ContractTerms.from_event(decode_events(f"[{row}]")[0]) for row in rows]
    assert {t.kind for t in terms} == {ContractKind.FINANCING, ContractKind.SHORT}
    earliest = ref.calendar.add_trading_days(DAY, -60)
    for t in terms:
        assert earliest <= t.open_date < DAY and ref.calendar.is_trading_day(t.open_date)
        assert t.maturity > DAY and t.margin_ratio >= 1
        assert t.client_id == t.contract_id.split("-")[1]
    versions = {t.rule_version for t in terms}
    assert versions == {"exchange:2026-01-14/firm:2026-01-14"}


def test_a_second_run_plans_the_profiles_again_and_posts_nothing(generated) -> None:
    engine, ref, book = generated
    clock = reference_clock_ticking()
    again = generate_book(Ledger(engine, clock), ref, SEED, CLIENTS, clock=clock)
    assert again.posted == 0 and again.profiles == book.profiles
    assert client_profile(engine, "C000002") == book.profiles[1]
    assert client_profile(engine, "C999999") is None and client_profile(engine, "X1") is None
    with pytest.raises(BookMismatch, match="300 clients generated with seed 7"):
        generate_book(Ledger(engine, clock), ref, SEED + 1, CLIENTS, clock=clock)


def test_bans_and_restricted_shares_are_dated_events_read_back_by_day(generated) -> None:
    engine, _, book = generated
    people, shares = load_person_events(engine), load_share_events(engine)
    assert people and shares
    assert {e.effective for e in (*people, *shares)} == {date(2026, 8, 20)}  # funded then
    assert profiles_on(engine, book.profiles, DAY) == book.profiles
    before = profiles_on(engine, book.profiles, date(2026, 8, 19))
    assert not any(p.insider_symbols or p.restricted_shares for p in before)


def test_the_exchanges_halts_in_the_store_reach_the_market(generated) -> None:
    engine, _, _ = generated
    symbol = Choices.from_reference(load_reference_day(engine, DAY)).financing[0]
    event = HaltEvent(symbol, HaltKind.FINANCING, True, DAY, "test")
    save_events(engine, [("halt-1", event)], clock=reference_clock)
    ref = load_reference_day(engine, DAY)
    assert ref.halts.financing == {symbol}
    assert opening_market(ref).securities[symbol].financing_halted


# --------------------------------------------------------------------- bulk credit accounts


def opening(command: str, client: str, exchange: str = "SH", name: str = "张三") -> (
    CreditAccountOpening
):  # fmt: skip
    return CreditAccountOpening(command, client, exchange, name, name, date(2026, 3, 2))


def test_bulk_opening_has_the_checks_of_one_by_one(store: Engine, fixed_clock) -> None:
    ledger = Ledger(store, fixed_clock)
    batch = [opening("o1", "C1"), opening("o2", "C1", "SZ"), opening("o3", "C2", name="李四")]
    assert ledger.open_credit_accounts(batch) == 3
    assert ledger.open_credit_accounts(batch) == 0  # a replay changes nothing
    assert ledger.open_credit_account("o1", "C1", "SH", "张三", "张三", date(2026, 3, 2)) is False
    refusals = (
        ([opening("o1", "C1", "SZ")], LedgerCode.IDEMPOTENCY_CONFLICT),
        ([opening("o4", "C2")], LedgerCode.CREDIT_ACCOUNT_EXISTS),
        ([opening("o5", "C2", "SZ", "王五")], LedgerCode.HOLDER_NAME_MISMATCH),
        ([opening("o6", "C3"), opening("o7", "C3")], LedgerCode.CREDIT_ACCOUNT_EXISTS),
        ([opening("o8", "C4"), opening("o9", "C4", "SZ", "王五")], LedgerCode.HOLDER_NAME_MISMATCH),
        ([opening("o10", "C5", "BJ")], LedgerCode.INVALID_COMMAND),
        ([CreditAccountOpening("o11", "C6", "SH", "甲", "乙", date(2026, 3, 2))],
         LedgerCode.HOLDER_NAME_MISMATCH),
    )  # fmt: skip
    for openings, code in refusals:
        with pytest.raises(Rejection) as refused:
            ledger.open_credit_accounts(openings)
        assert refused.value.code is code
    with store.connect() as conn:
        count = len(conn.execute(select(s.credit_accounts)).all())
    assert count == 3  # every refused batch wrote nothing


def test_bulk_and_single_openings_store_the_same_rows(tmp_path: Path, fixed_clock) -> None:
    one, many = make_sqlite_engine(tmp_path), make_sqlite_engine(tmp_path)
    Ledger(one, lambda: reference_clock()).open_credit_account(
        "o1", "C1", "SH", "张三", "张三", date(2026, 3, 2)
    )
    Ledger(many, lambda: reference_clock()).open_credit_accounts([opening("o1", "C1")])
    rows = []
    for engine in (one, many):
        with engine.connect() as conn:
            rows.append(conn.execute(select(s.credit_accounts)).all())
        engine.dispose()
    assert rows[0] == rows[1]
