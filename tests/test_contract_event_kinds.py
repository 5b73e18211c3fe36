"""Contract events read by kind (migration 0021): the end of day's term readers take the
term changes only, through the kind and date index, however many expiry notices the days
kept have recorded; on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, inspect

from conftest import make_sqlite_engine, query_plan
from ledger_helpers import financing_terms
from liangrong.domain.contracts import ContractTerms
from liangrong.store.contract_terms import (
    EXPIRY_NOTICE,
    EXTENSION_DECIDED,
    TERM_CHANGED,
    TermEvents,
    load_term_events,
)
from liangrong.store.eod_records import (
    ContractEvent,
    load_contract_events,
    recorded_event_ids,
    save_contract_events,
)
from liangrong.store.migrate import downgrade, upgrade

INDEX = "ix_contract_events_kind_date"
DAY = date(2026, 11, 20)
STAMP = "2026-11-20T18:00:00.000000+08:00"


def _term_change(event_id: str, contract: str, on: date, kind: str, new: date) -> ContractEvent:
    payload: dict[str, Any] = {"type": kind, "new_maturity": new.isoformat(), "provisional": False}
    if kind == EXTENSION_DECIDED:
        payload["granted"] = True
    return ContractEvent(event_id, contract, "C1", on, kind, new, payload)


def _notices(days: int, contracts: int) -> list[ContractEvent]:
    """An expiry notice a day for each contract: what the days kept pile up."""
    return [
        ContractEvent(f"expiry:K{k}:{d}", f"K{k}", "C1", DAY - timedelta(days=d), EXPIRY_NOTICE,
                      DAY, {"trading_days_left": 3, "provisional": False})
        for d in range(days, 0, -1)
        for k in range(contracts)
    ]  # fmt: skip


def _record(store: Engine) -> Engine:
    save_contract_events(store, _notices(30, 20), STAMP)
    save_contract_events(
        store,
        [
            _term_change("extension:R1", "K1", DAY - timedelta(days=9), EXTENSION_DECIDED,
                         date(2027, 3, 1)),
            _term_change("suspension:K1", "K1", DAY - timedelta(days=2), TERM_CHANGED,
                         date(2027, 3, 9)),
            _term_change("delisting:K2", "K2", DAY, TERM_CHANGED, date(2026, 12, 30)),
        ],
        STAMP,
    )  # fmt: skip
    return store


@pytest.fixture
def recorded(store: Engine) -> Engine:
    return _record(store)


def _opening(contract: str) -> ContractTerms:
    return financing_terms(contract, "C1", 1_000_00, maturity=date(2027, 5, 2))


def test_the_term_readers_fold_what_every_event_folds(recorded: Engine) -> None:
    for through in (DAY - timedelta(days=3), DAY):
        every = TermEvents(load_contract_events(recorded, through=through))
        terms = load_term_events(recorded, through=through)
        assert terms.contracts() == every.contracts()
        for contract in ("K1", "K2", "K3"):
            assert terms.term(_opening(contract)) == every.term(_opening(contract))
    assert load_term_events(recorded, through=DAY - timedelta(days=3)).contracts() == {"K1"}
    assert load_term_events(recorded).term(_opening("K1")).maturity == date(2027, 3, 9)


def test_recorded_event_ids_are_the_asked_ones_already_recorded(recorded: Engine) -> None:
    """More ids than one IN-list takes: the extension decisions probe their requests' ids."""
    asked = [f"expiry:K{k}:{d}" for d in range(1, 41) for k in range(20)]  # days 31-40: none
    asked += ["extension:R1", "extension:R2", "delisting:K2"]
    found = recorded_event_ids(recorded, asked)
    assert found == {f"expiry:K{k}:{d}" for d in range(1, 31) for k in range(20)} | {
        "extension:R1",
        "delisting:K2",
    }
    assert recorded_event_ids(recorded, []) == set()


def test_a_term_read_searches_the_kind_index_not_the_notices(tmp_path: Path) -> None:
    """On SQLite only: PostgreSQL plans a table this small as a scan, index or not."""
    recorded = _record(make_sqlite_engine(tmp_path))
    plan = query_plan(
        recorded, "FROM contract_events", lambda: load_term_events(recorded, through=DAY)
    )
    assert any(f"USING INDEX {INDEX}" in str(row[-1]) for row in plan), plan


def test_migration_0021_drops_the_index_and_makes_it_again(store: Engine) -> None:
    def indexes() -> set[str]:
        return {str(i["name"]) for i in inspect(store).get_indexes("contract_events")}

    assert INDEX in indexes()
    downgrade(store, "0020")
    assert INDEX not in indexes()
    upgrade(store)
    assert INDEX in indexes()
