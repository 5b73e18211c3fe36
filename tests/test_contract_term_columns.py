"""The contracts projection's copies of the opening terms (``schema.CONTRACT_TERM_COLUMNS``),
on SQLite and PostgreSQL: written with each opening, read by the whole-book readers, checked
by the projection digest, and filled by migration 0020 from the terms' JSON."""

from __future__ import annotations

from datetime import date

import numpy as np
import pytest
from sqlalchemy import Engine, select, text, update

from ledger_helpers import DAY, financing_terms, open_client, short_terms
from liangrong.domain import accounts as acc
from liangrong.domain import operations as ops
from liangrong.domain.contracts import ContractTerms
from liangrong.eod.book_view import contract_columns
from liangrong.ledger import schema as s
from liangrong.ledger.columns import TERM_FIELDS, ContractTable, load_contract_table
from liangrong.ledger.journal import Ledger, decode_events
from liangrong.ledger.projections import contract_fields, projection_digest, rebuild
from liangrong.store.migrate import current_revision, downgrade, head_revision, upgrade

TERMS = (
    financing_terms("F-1", "C1", 50_000_00, quantity=1_300, maturity=date(2026, 8, 31)),
    short_terms("S-1", "C1", 100, 2_500_00),
    financing_terms("F-2", "C2", 7_777_77, quantity=500, security="000001.SZ"),
)


@pytest.fixture
def ledger(store: Engine, fixed_clock) -> Ledger:
    book = Ledger(store, fixed_clock)
    book.post(ops.fund_pool("fund-cash", DAY, acc.CASH_ASSET, 10_000_000_00))
    book.post(ops.fund_pool("fund-600036", DAY, "600036.SH", 100_000))
    for client in ("C1", "C2"):
        open_client(book, client)
        book.post(ops.deposit_cash(f"dep-{client}", DAY, client, 100_000_00))
    for terms in TERMS:
        opening = ops.open_financing if terms.kind.value == "financing" else ops.open_short
        book.post(opening(f"open-{terms.contract_id}", terms))
    return book


def _copied(terms: ContractTerms) -> tuple[object, ...]:
    """What the columns hold for these terms: the event's own values."""
    event = terms.to_event()
    return tuple(event[name] for name in s.CONTRACT_TERM_COLUMNS)


def _stored(engine: Engine) -> dict[str, tuple[object, ...]]:
    columns = [s.contracts.c[name] for name in s.CONTRACT_TERM_COLUMNS]
    with engine.connect() as conn:
        rows = conn.execute(select(s.contracts.c.contract_id, *columns))
        return {str(row[0]): tuple(row[1:]) for row in rows}


def test_an_opening_writes_its_terms_into_the_columns(ledger: Ledger) -> None:
    assert _stored(ledger.engine) == {t.contract_id: _copied(t) for t in TERMS}
    assert _copied(TERMS[0])[:5] == (1_300, 50_000_00, 38_461, "1", "167/2000")


def test_the_table_reads_the_columns_as_the_json_holds_them(ledger: Ledger) -> None:
    with ledger.engine.connect() as conn:
        table = load_contract_table(conn)
        documents = conn.execute(select(s.contracts.c.terms_json)).scalars().all()
    events = {e["contract_id"]: e for e in decode_events("[" + ",".join(documents) + "]")}
    assert sorted(table.ids) == sorted(events)
    for field in TERM_FIELDS:
        assert table.terms[field] == [events[cid][field] for cid in table.ids]
    assert table.clients == [events[cid]["client_id"] for cid in table.ids]


def test_integer_terms_are_gathered_as_the_table_holds_them(ledger: Ledger) -> None:
    with ledger.engine.connect() as conn:
        table = load_contract_table(conn)
    rows = [2, 0, 2]  # any rows, in any order, a row more than once
    for name in ("quantity", "amount_fen", "price_li"):
        gathered = table.ints_at(name, rows)
        assert gathered.dtype == np.int64
        assert gathered.tolist() == [table.terms[name][i] for i in rows]
        assert gathered.tolist() == table.term_at(name, rows, int)
    assert table.ints_at("quantity", []).tolist() == []


def test_date_terms_are_gathered_as_day_ordinals(ledger: Ledger) -> None:
    with ledger.engine.connect() as conn:
        table = load_contract_table(conn)
    rows = [1, 2, 1, 0]
    for name in ("open_date", "used_date", "maturity"):
        gathered = table.days_at(name, rows)
        assert gathered.dtype == np.int64
        days = [date.fromisoformat(table.terms[name][i]).toordinal() for i in rows]
        assert gathered.tolist() == days
    f1 = [table.row_of["F-1"]]
    assert table.days_at("maturity", f1).tolist() == [date(2026, 8, 31).toordinal()]
    assert table.days_at("maturity", []).tolist() == []


def test_columns_place_contracts_through_the_tables_own_index(ledger: Ledger) -> None:
    """A position in some columns, found through the table's index of its rows: -1 for a
    contract the table has not and for one it has that the columns left out."""
    with ledger.engine.connect() as conn:
        table = load_contract_table(conn)
    cols = contract_columns(table, {"S-1", "F-1", "X-9"})
    assert cols.ids == ["F-1", "S-1"] and cols.row_of is table.row_of
    asked = ["S-1", "F-2", "X-9", "F-1", "S-1"]
    assert cols.positions_of(asked).tolist() == [1, -1, -1, 0, 1]
    assert cols.positions_of([]).tolist() == []
    assert cols.placed(asked) == [("S-1", 1), ("F-1", 0), ("S-1", 1)]
    whole = contract_columns(table, set(table.ids))
    assert whole.positions_of(table.ids).tolist() == [whole.ids.index(c) for c in table.ids]


def test_securities_by_id_read_through_the_tables_index(ledger: Ledger) -> None:
    """The contracts' securities by id, as a map would give them, but looked up through the
    table's index of rows: a contract the table has not is unknown, never the last row's."""
    with ledger.engine.connect() as conn:
        table = load_contract_table(conn)
    by_id = table.securities_by_id()
    expected = {t.contract_id: t.security for t in TERMS}
    assert dict(by_id) == expected and len(by_id) == 3 and list(by_id) == table.ids
    assert by_id["F-2"] == "000001.SZ" and "X-9" not in by_id and by_id.get("X-9") is None
    with pytest.raises(KeyError):
        by_id["X-9"]
    asked = ["F-2", "X-9", "F-1", "F-2"]
    assert by_id.of_each(asked) == [expected.get(cid) for cid in asked]
    assert by_id.of_each([]) == []


def test_ids_are_known_unique_once_the_index_of_rows_is_made() -> None:
    """The index of rows proves the ids unique (one entry a row), and is carried to a table
    that follows; ids that repeat make no index."""
    table = ContractTable(["F-1", "S-1"], ["C1", "C1"], ["financing", "short"], ["A", "B"], {})
    assert not table.ids_unique
    assert table.row_of == {"F-1": 0, "S-1": 1} and table.ids_unique
    later = ContractTable(["F-2"], ["C2"], ["financing"], ["A"], {})
    assert table.followed_by(later).ids_unique
    with pytest.raises(ValueError, match="contract ids repeat"):
        table.followed_by(ContractTable(["S-1"], ["C2"], ["short"], ["B"], {}))
    twice = ContractTable(["F-1", "F-1"], ["C1", "C1"], ["financing"] * 2, ["A", "A"], {})
    with pytest.raises(ValueError, match="contract ids repeat: 2 rows, 1 ids"):
        _ = twice.row_of
    assert not twice.ids_unique


def test_only_a_copied_term_is_read(ledger: Ledger) -> None:
    with ledger.engine.connect() as conn, pytest.raises(ValueError, match="rule_version"):
        next(contract_fields(conn, ["quantity", "rule_version"]))


def test_a_copy_that_differs_from_the_journal_is_found_and_rebuilt(ledger: Ledger) -> None:
    sound = projection_digest_of(ledger.engine)
    with ledger.engine.begin() as conn:
        conn.execute(
            update(s.contracts).where(s.contracts.c.contract_id == "F-2").values(price_li=1)
        )
    assert projection_digest_of(ledger.engine) != sound
    result = rebuild(ledger.engine)
    assert not result.identical and result.digest_after == sound
    assert _stored(ledger.engine)["F-2"] == _copied(TERMS[2])


def test_migration_0020_drops_the_copies_and_fills_them_again(ledger: Ledger) -> None:
    engine = ledger.engine
    before = (projection_digest_of(engine), _stored(engine))
    downgrade(engine, "0019")
    with engine.connect() as conn:
        names = conn.execute(text("SELECT * FROM contracts")).keys()
    assert set(names).isdisjoint(s.CONTRACT_TERM_COLUMNS) and "terms_json" in names
    upgrade(engine)
    assert current_revision(engine) == head_revision()
    assert (projection_digest_of(engine), _stored(engine)) == before


def projection_digest_of(engine: Engine) -> str:
    with engine.connect() as conn:
        return projection_digest(conn)
