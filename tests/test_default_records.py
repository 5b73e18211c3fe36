"""Defaults recorded by a user (CLI-5; S0 ch6 §2, S1 art. 60): bad credit, other defaults and
overdue charges recorded append-only with who and when, cured once by a separate row,
withdrawn once as recorded in error by another user (four eyes), each bad input refused
with its own code and nothing written; idempotent by id; the records' place in the day's
default-record report and in the extension rule; the command; on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
import typer
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine, text
from sqlalchemy.exc import DBAPIError
from typer.testing import CliRunner

from ledger_helpers import open_client
from liangrong.cli import account as account_cli
from liangrong.cli.store_option import open_store
from liangrong.domain.default_records import (
    DefaultKind,
    RecordStatus,
    clients_on_record,
    default_record_rows,
)
from liangrong.domain.recorded_defaults import (
    MAX_AMOUNT_FEN,
    DefaultCure,
    DefaultEntry,
    DefaultRefusal,
    DefaultRefused,
    DefaultWithdrawal,
    RecordedDefault,
    derived_id,
    malicious_records,
)
from liangrong.ledger import schema as s
from liangrong.ledger.journal import Ledger
from liangrong.reports.exchange_files import (
    default_records_csv,
    default_records_xlsx,
    read_default_records_csv,
    read_default_records_xlsx,
)
from liangrong.store.recorded_defaults import (
    DEFAULT_RECORD_TABLES,
    cure_default,
    find_recorded_default,
    load_recorded_defaults,
    record_default,
    withdraw_default,
)

TODAY = date(2026, 11, 20)
OCCURRED = date(2026, 11, 16)
BAD_CREDIT = DefaultEntry(
    derived_id("C1", DefaultKind.BAD_CREDIT, OCCURRED), "C1", DefaultKind.BAD_CREDIT, OCCURRED,
    0, "人民银行征信报告显示逾期贷款", True, "risk1",
)  # fmt: skip


def _clock() -> Callable[[], datetime]:
    start, ticks = datetime(2026, 11, 20, 10, 0, tzinfo=UTC), iter(range(10**6))
    return lambda: start + timedelta(seconds=next(ticks))


@pytest.fixture
def clients(store: Engine) -> Engine:
    ledger = Ledger(store, _clock())
    for client in ("C1", "C2"):
        open_client(ledger, client, name=f"客户{client}")
    return store


def record(engine: Engine, entry: DefaultEntry, today: date = TODAY) -> bool:
    return record_default(engine, entry, today=today, clock=_clock())


def cure(engine: Engine, cure: DefaultCure, today: date = TODAY) -> bool:
    return cure_default(engine, cure, today=today, clock=_clock())


def withdraw(engine: Engine, withdrawal: DefaultWithdrawal, today: date = TODAY) -> bool:
    return withdraw_default(engine, withdrawal, today=today, clock=_clock())


def test_a_default_is_recorded_once_with_who_and_when(clients: Engine) -> None:
    assert record(clients, BAD_CREDIT)
    # the same fact again, by someone else: nothing changes, the first recorder stays
    assert not record(clients, replace(BAD_CREDIT, recorded_by="risk2"))
    (stored,) = load_recorded_defaults(clients)
    assert stored == RecordedDefault(BAD_CREDIT, "2026-11-20T10:00:00.000000+00:00")
    assert stored.entry.record_id == "default:C1:bad_credit:2026-11-16"
    # another fact under the same id is refused, the stored one untouched
    assert record(clients, replace(BAD_CREDIT, record_id="R-1", client_id="C2"))
    for changed in (
        replace(BAD_CREDIT, note="另一份报告"),
        replace(BAD_CREDIT, malicious=False),
        replace(BAD_CREDIT, amount_owed_fen=1),
        replace(BAD_CREDIT, record_id="R-1"),  # R-1 is C2's
    ):
        with pytest.raises(DefaultRefused) as refused:
            record(clients, changed)
        assert refused.value.code is DefaultRefusal.RECORDED_OTHERWISE
    assert [r.entry for r in load_recorded_defaults(clients)] == [
        BAD_CREDIT, replace(BAD_CREDIT, record_id="R-1", client_id="C2"),
    ]  # fmt: skip
    # a second record of the same client, kind and day needs its own id
    other = replace(BAD_CREDIT, record_id="BC-2", note="法院失信被执行人名单")
    assert record(clients, other)
    assert len(load_recorded_defaults(clients, clients=["C1"])) == 2


CHARGES = DefaultEntry("OC-1", "C1", DefaultKind.OVERDUE_CHARGES, OCCURRED, 1_250, "", False,
                       "risk1")  # fmt: skip


@pytest.mark.parametrize(
    ("entry", "code"),
    [
        (replace(BAD_CREDIT, record_id="a:b"), DefaultRefusal.INVALID_RECORD_ID),
        (replace(BAD_CREDIT, record_id=""), DefaultRefusal.INVALID_RECORD_ID),
        (replace(BAD_CREDIT, record_id="x" * 65), DefaultRefusal.INVALID_RECORD_ID),
        (replace(BAD_CREDIT, record_id="bad id"), DefaultRefusal.INVALID_RECORD_ID),
        (replace(BAD_CREDIT, recorded_by=""), DefaultRefusal.INVALID_USER),
        (replace(BAD_CREDIT, recorded_by=" risk1"), DefaultRefusal.INVALID_USER),
        (replace(BAD_CREDIT, recorded_by="u" * 65), DefaultRefusal.INVALID_USER),
        (replace(CHARGES, client_id="C9"), DefaultRefusal.UNKNOWN_CLIENT),
        (replace(CHARGES, client_id=""), DefaultRefusal.UNKNOWN_CLIENT),
        (replace(CHARGES, client_id="C" * 33), DefaultRefusal.UNKNOWN_CLIENT),
        (replace(CHARGES, kind=DefaultKind.OVERDUE_DEBT), DefaultRefusal.DERIVED_KIND),
        (replace(CHARGES, kind=DefaultKind.MARGIN_CALL_UNMET), DefaultRefusal.DERIVED_KIND),
        (replace(CHARGES, kind=DefaultKind.LIQUIDATION_SHORTFALL), DefaultRefusal.DERIVED_KIND),
        (replace(CHARGES, amount_owed_fen=-1), DefaultRefusal.INVALID_AMOUNT),
        (replace(CHARGES, amount_owed_fen=MAX_AMOUNT_FEN + 1), DefaultRefusal.INVALID_AMOUNT),
        (replace(CHARGES, amount_owed_fen=0), DefaultRefusal.AMOUNT_REQUIRED),
        (replace(BAD_CREDIT, note=""), DefaultRefusal.NOTE_REQUIRED),
        (replace(BAD_CREDIT, note="   "), DefaultRefusal.NOTE_REQUIRED),
        (replace(CHARGES, kind=DefaultKind.OTHER, note=""), DefaultRefusal.NOTE_REQUIRED),
        (replace(BAD_CREDIT, note="two\nlines"), DefaultRefusal.INVALID_NOTE),
        (replace(BAD_CREDIT, note="nul\x00"), DefaultRefusal.INVALID_NOTE),
        (replace(BAD_CREDIT, note="\ud800"), DefaultRefusal.INVALID_NOTE),
        (replace(BAD_CREDIT, note="长" * 501), DefaultRefusal.INVALID_NOTE),
        (replace(CHARGES, occurred_on=TODAY + timedelta(days=1)), DefaultRefusal.IN_THE_FUTURE),
    ],
    ids=lambda value: value.name if isinstance(value, DefaultRefusal) else "",
)
def test_each_bad_record_is_refused_with_its_code_and_nothing_is_written(
    clients: Engine, entry: DefaultEntry, code: DefaultRefusal
) -> None:
    record(clients, CHARGES)
    before = load_recorded_defaults(clients)
    with pytest.raises(DefaultRefused) as refused:
        record(clients, entry)
    assert refused.value.code is code and refused.value.detail
    assert str(refused.value).startswith(f"{code.name}: {code.en}")
    assert load_recorded_defaults(clients) == before


def test_the_edges_that_are_accepted(clients: Engine) -> None:
    edges = [
        replace(CHARGES, record_id="x" * 64, amount_owed_fen=MAX_AMOUNT_FEN, note="长" * 500),
        replace(CHARGES, record_id="today", occurred_on=TODAY),
        replace(CHARGES, record_id="OTHER-1", kind=DefaultKind.OTHER, amount_owed_fen=0,
                note="拒不配合司法协助"),
    ]  # fmt: skip
    for entry in edges:
        assert record(clients, entry)
    assert [r.entry for r in load_recorded_defaults(clients)] == sorted(
        edges, key=lambda e: (e.occurred_on, e.record_id)
    )


def test_a_cure_is_appended_once_and_never_before_the_default(clients: Engine) -> None:
    record(clients, BAD_CREDIT)
    cured = DefaultCure(BAD_CREDIT.record_id, TODAY, "risk2", "征信异议已更正")
    assert cure(clients, cured)
    assert not cure(clients, replace(cured, cured_by="risk3"))  # the same cure again
    found = find_recorded_default(clients, BAD_CREDIT.record_id)
    assert found is not None and found.cure == cured
    assert found.cured_at == "2026-11-20T10:00:00.000000+00:00"
    assert (found.cured_on(), found.cured_on(TODAY), found.cured_on(OCCURRED)) == (
        TODAY, TODAY, None  # as of the day it occurred, it was open
    )  # fmt: skip
    for other, code in (
        (replace(cured, cured_on=TODAY - timedelta(days=1)), DefaultRefusal.ALREADY_CURED),
        (replace(cured, note="另一原因"), DefaultRefusal.ALREADY_CURED),
    ):
        with pytest.raises(DefaultRefused) as refused:
            cure(clients, other)
        assert refused.value.code is code
    assert find_recorded_default(clients, BAD_CREDIT.record_id) == found


@pytest.mark.parametrize(
    ("cured", "code"),
    [
        (DefaultCure("nope", TODAY, "risk1"), DefaultRefusal.UNKNOWN_RECORD),
        (DefaultCure("overdue:F1:2026-11-19", TODAY, "risk1"), DefaultRefusal.UNKNOWN_RECORD),
        (
            DefaultCure("OC-1", OCCURRED - timedelta(days=1), "risk1"),
            DefaultRefusal.CURED_BEFORE_OCCURRED,
        ),
        (DefaultCure("OC-1", TODAY + timedelta(days=1), "risk1"), DefaultRefusal.IN_THE_FUTURE),
        (DefaultCure("OC-1", TODAY, ""), DefaultRefusal.INVALID_USER),
        (DefaultCure("OC-1", TODAY, "risk1", "a\tb"), DefaultRefusal.INVALID_NOTE),
    ],
    ids=lambda value: value.name if isinstance(value, DefaultRefusal) else "",
)
def test_each_bad_cure_is_refused_with_its_code_and_nothing_is_written(
    clients: Engine, cured: DefaultCure, code: DefaultRefusal
) -> None:
    record(clients, CHARGES)
    with pytest.raises(DefaultRefused) as refused:
        cure(clients, cured)
    assert refused.value.code is code
    (stored,) = load_recorded_defaults(clients)
    assert stored.cure is None
    # cured on the very day it occurred is allowed
    assert cure(clients, DefaultCure("OC-1", OCCURRED, "risk1"))


MISTAKE = DefaultWithdrawal(BAD_CREDIT.record_id, TODAY, "risk2", "客户代码录错, 应为C2")


def test_a_withdrawal_is_appended_once_by_another_user_than_the_recorder(
    clients: Engine,
) -> None:
    record(clients, BAD_CREDIT)  # recorded by risk1
    assert withdraw(clients, MISTAKE)
    assert not withdraw(clients, replace(MISTAKE, withdrawn_by="risk3"))  # the same again
    found = find_recorded_default(clients, BAD_CREDIT.record_id)
    assert found is not None and found.withdrawal == MISTAKE and found.cure is None
    assert found.withdrawn_at == "2026-11-20T10:00:00.000000+00:00"
    assert (found.withdrawn_on(), found.withdrawn_on(TODAY), found.withdrawn_on(OCCURRED)) == (
        TODAY, TODAY, None  # as of the day it occurred, it stood
    )  # fmt: skip
    for other, code in (
        (replace(MISTAKE, withdrawn_on=OCCURRED), DefaultRefusal.ALREADY_WITHDRAWN),
        (replace(MISTAKE, reason="另一原因"), DefaultRefusal.ALREADY_WITHDRAWN),
        (replace(MISTAKE, withdrawn_by="risk1"), DefaultRefusal.SAME_USER),  # even the same
    ):
        with pytest.raises(DefaultRefused) as refused:
            withdraw(clients, other)
        assert refused.value.code is code
    assert find_recorded_default(clients, BAD_CREDIT.record_id) == found
    # the record itself, recorded again by its first recorder, changes nothing either
    assert not record(clients, BAD_CREDIT)
    assert load_recorded_defaults(clients) == [found]


@pytest.mark.parametrize(
    ("withdrawal", "code"),
    [
        (DefaultWithdrawal("nope", TODAY, "risk2", "录错"), DefaultRefusal.UNKNOWN_RECORD),
        (
            DefaultWithdrawal("overdue:F1:2026-11-19", TODAY, "risk2", "录错"),
            DefaultRefusal.UNKNOWN_RECORD,
        ),
        (
            DefaultWithdrawal("OC-1", OCCURRED - timedelta(days=1), "risk2", "录错"),
            DefaultRefusal.WITHDRAWN_BEFORE_OCCURRED,
        ),
        (
            DefaultWithdrawal("OC-1", TODAY + timedelta(days=1), "risk2", "录错"),
            DefaultRefusal.IN_THE_FUTURE,
        ),
        (DefaultWithdrawal("OC-1", TODAY, "", "录错"), DefaultRefusal.INVALID_USER),
        (DefaultWithdrawal("OC-1", TODAY, "risk2 ", "录错"), DefaultRefusal.INVALID_USER),
        (DefaultWithdrawal("OC-1", TODAY, "risk2", ""), DefaultRefusal.REASON_REQUIRED),
        (DefaultWithdrawal("OC-1", TODAY, "risk2", "  "), DefaultRefusal.REASON_REQUIRED),
        (DefaultWithdrawal("OC-1", TODAY, "risk2", "a\nb"), DefaultRefusal.INVALID_REASON),
        (DefaultWithdrawal("OC-1", TODAY, "risk2", "长" * 501), DefaultRefusal.INVALID_REASON),
        (DefaultWithdrawal("OC-1", TODAY, "risk1", "录错"), DefaultRefusal.SAME_USER),
    ],
    ids=lambda value: value.name if isinstance(value, DefaultRefusal) else "",
)
def test_each_bad_withdrawal_is_refused_with_its_code_and_nothing_is_written(
    clients: Engine, withdrawal: DefaultWithdrawal, code: DefaultRefusal
) -> None:
    record(clients, CHARGES)  # recorded by risk1
    before = load_recorded_defaults(clients)
    with pytest.raises(DefaultRefused) as refused:
        withdraw(clients, withdrawal)
    assert refused.value.code is code and refused.value.detail
    assert str(refused.value).startswith(f"{code.name}: {code.en}")
    assert load_recorded_defaults(clients) == before
    # withdrawn on the very day it occurred, with the longest reason, is allowed
    assert withdraw(clients, DefaultWithdrawal("OC-1", OCCURRED, "risk2", "长" * 500))


def test_a_cured_record_may_be_withdrawn_a_withdrawn_one_is_never_cured(clients: Engine) -> None:
    cured_first = replace(CHARGES, record_id="OC-CURED")
    for entry in (CHARGES, cured_first):
        record(clients, entry)
    settled = DefaultCure("OC-CURED", date(2026, 11, 18), "risk1", "已扣收")
    assert cure(clients, settled)
    assert withdraw(clients, DefaultWithdrawal("OC-CURED", TODAY, "risk2", "金额录错"))
    assert not cure(clients, settled)  # the cure sent again: it stays, nothing changes
    found = find_recorded_default(clients, "OC-CURED")
    assert found is not None and found.cure == settled and found.withdrawal is not None
    assert withdraw(clients, DefaultWithdrawal("OC-1", OCCURRED, "risk2", "客户录错"))
    for cured_on in (OCCURRED, TODAY):  # before or after the withdrawal's date
        with pytest.raises(DefaultRefused) as refused:
            cure(clients, DefaultCure("OC-1", cured_on, "risk1"))
        assert refused.value.code is DefaultRefusal.WITHDRAWN
    with pytest.raises(DefaultRefused) as refused:  # another cure of the cured one
        cure(clients, replace(settled, cured_on=TODAY))
    assert refused.value.code is DefaultRefusal.ALREADY_CURED
    assert [r.cure for r in load_recorded_defaults(clients)] == [None, settled]


def test_loading_by_client_and_date(clients: Engine) -> None:
    later = replace(CHARGES, record_id="OC-2", client_id="C2", occurred_on=TODAY)
    for entry in (BAD_CREDIT, CHARGES, later):
        record(clients, entry)
    ids = [r.entry.record_id for r in load_recorded_defaults(clients)]
    assert ids == ["OC-1", BAD_CREDIT.record_id, "OC-2"]  # by client, date, id (code points)
    assert [r.entry.record_id for r in load_recorded_defaults(clients, clients=["C2"])] == ["OC-2"]
    before = load_recorded_defaults(clients, through=TODAY - timedelta(days=1))
    assert [r.entry.record_id for r in before] == ["OC-1", BAD_CREDIT.record_id]
    assert load_recorded_defaults(clients, clients=[]) == []


def test_the_tables_are_the_migrations_and_append_only(clients: Engine) -> None:
    with clients.connect() as conn:
        diffs = compare_metadata(MigrationContext.configure(conn), s.metadata)
    assert [d for d in diffs if any(t in str(d) for t in DEFAULT_RECORD_TABLES)] == []
    record(clients, BAD_CREDIT)
    cure(clients, DefaultCure(BAD_CREDIT.record_id, TODAY, "risk1"))
    withdraw(clients, DefaultWithdrawal(BAD_CREDIT.record_id, TODAY, "risk2", "客户录错"))
    for statement in (
        "UPDATE default_records SET malicious = false",
        "DELETE FROM default_records",
        "UPDATE default_cures SET cured_on = cured_on",
        "DELETE FROM default_cures",
        "UPDATE default_withdrawals SET reason = 'x'",
        "DELETE FROM default_withdrawals",
    ):
        with pytest.raises(DBAPIError, match="append-only"), clients.begin() as conn:
            conn.execute(text(statement))
    (stored,) = load_recorded_defaults(clients)
    assert stored.entry.malicious and stored.cure is not None
    assert stored.withdrawal is not None and stored.withdrawal.reason == "客户录错"


# --------------------------------------------------------------------------- the rules


def _recorded(entry: DefaultEntry, cured_on: date | None = None) -> RecordedDefault:
    cured = DefaultCure(entry.record_id, cured_on, "risk1") if cured_on else None
    return RecordedDefault(entry, "t", cured)


def test_a_malicious_default_counts_from_its_day_cured_or_not() -> None:
    records = [
        _recorded(BAD_CREDIT, cured_on=TODAY),  # malicious, cured the 20th: still counts
        _recorded(replace(BAD_CREDIT, record_id="M-LATER", occurred_on=TODAY)),
        _recorded(replace(BAD_CREDIT, record_id="PLAIN", malicious=False)),
        _recorded(replace(BAD_CREDIT, record_id="OTHER-CLIENT", client_id="C2")),
    ]
    assert malicious_records(records, "C1", OCCURRED - timedelta(days=1)) == []
    assert malicious_records(records, "C1", OCCURRED) == [BAD_CREDIT.record_id]
    assert malicious_records(records, "C1", TODAY + timedelta(days=30)) == [
        "M-LATER", BAD_CREDIT.record_id,
    ]  # fmt: skip
    assert malicious_records(records, "C3", TODAY) == []


def _withdrawn(record: RecordedDefault, on: date) -> RecordedDefault:
    withdrawal = DefaultWithdrawal(record.entry.record_id, on, "risk2", "录入错误")
    return replace(record, withdrawal=withdrawal, withdrawn_at="t")


def test_a_withdrawn_malicious_default_counts_only_before_its_withdrawal() -> None:
    """A record withdrawn on or before day D does not count on D, cured or not; before its
    withdrawal's date it counts as any other (decisions then were taken on it)."""
    withdrawn_on = date(2026, 11, 18)
    records = [
        _withdrawn(_recorded(BAD_CREDIT), withdrawn_on),
        _withdrawn(_recorded(replace(BAD_CREDIT, record_id="CURED"), TODAY), withdrawn_on),
        _recorded(replace(BAD_CREDIT, record_id="STANDS")),
    ]
    assert malicious_records(records, "C1", date(2026, 11, 17)) == [
        "CURED", "STANDS", BAD_CREDIT.record_id,
    ]  # fmt: skip
    for day in (withdrawn_on, TODAY, TODAY + timedelta(days=365)):
        assert malicious_records(records, "C1", day) == ["STANDS"]
    # withdrawn on the day it occurred: it never counts
    at_once = [_withdrawn(_recorded(BAD_CREDIT), OCCURRED)]
    assert all(malicious_records(at_once, "C1", d) == [] for d in (OCCURRED, TODAY))
    # as of a day, a withdrawal dated later is not shown
    assert records[0].as_of(date(2026, 11, 17)) == _recorded(BAD_CREDIT)
    assert records[0].as_of(withdrawn_on) == records[0]


def test_recorded_defaults_in_the_report_new_continuing_cured_by_date() -> None:
    cured = _recorded(CHARGES, cured_on=date(2026, 11, 18))
    events = [cured.event("客户C1")]
    statuses = {
        day: [(r.event_id, r.status, r.amount_owed_fen, r.client_name)
              for r in default_record_rows(day, events)]
        for day in (date(2026, 11, 13), OCCURRED, date(2026, 11, 17), date(2026, 11, 18), TODAY)
    }  # fmt: skip
    assert statuses == {
        date(2026, 11, 13): [],
        OCCURRED: [("OC-1", RecordStatus.NEW, 1_250, "客户C1")],
        date(2026, 11, 17): [("OC-1", RecordStatus.CONTINUING, 1_250, "客户C1")],
        date(2026, 11, 18): [("OC-1", RecordStatus.CURED, 1_250, "客户C1")],
        TODAY: [],
    }


def _listed(records: list[RecordedDefault], days: list[date]) -> dict[date, list[object]]:
    events = [r.event("客户C1") for r in records]
    return {day: [(r.event_id, r.status) for r in default_record_rows(day, events)]
            for day in days}  # fmt: skip


def test_a_withdrawn_record_is_listed_as_withdrawn_on_its_day_only() -> None:
    """The file is each day's list of open records: a withdrawal is reported on its day
    (the exchange learns the record was an error), and the record is gone after."""
    d17, d18, d19 = (date(2026, 11, day) for day in (17, 18, 19))
    open_one = _withdrawn(_recorded(CHARGES), d18)
    days = [OCCURRED, d17, d18, d19]
    assert _listed([open_one], days) == {
        OCCURRED: [("OC-1", RecordStatus.NEW)],
        d17: [("OC-1", RecordStatus.CONTINUING)],
        d18: [("OC-1", RecordStatus.WITHDRAWN)],
        d19: [],
    }
    # cured on the 17th, left the file; its withdrawal on the 19th is still reported
    cured_first = _withdrawn(_recorded(CHARGES, cured_on=d17), d19)
    assert _listed([cured_first], [d17, d18, d19, TODAY]) == {
        d17: [("OC-1", RecordStatus.CURED)],
        d18: [],
        d19: [("OC-1", RecordStatus.WITHDRAWN)],
        TODAY: [],
    }
    # cured and withdrawn the same day: withdrawn; withdrawn the day it occurred: once
    both = _withdrawn(_recorded(CHARGES, cured_on=d18), d18)
    assert _listed([both], [d18]) == {d18: [("OC-1", RecordStatus.WITHDRAWN)]}
    at_once = _withdrawn(_recorded(CHARGES), OCCURRED)
    assert _listed([at_once], [OCCURRED, d17]) == {
        OCCURRED: [("OC-1", RecordStatus.WITHDRAWN)],
        d17: [],
    }
    # a withdrawn record leaves the client's history from its date, a cured one stays
    events = [open_one.event("客户C1"), _recorded(replace(CHARGES, client_id="C2"), d17).event("")]
    assert clients_on_record(events, d17) == {"C1", "C2"}
    assert clients_on_record(events, d18) == {"C2"}
    # the state reads back from every format of the file
    rows = default_record_rows(d18, [open_one.event("客户C1")])
    assert "撤销" in default_records_csv(rows).decode()
    for encoding in ("utf-8", "gb18030"):
        assert read_default_records_csv(default_records_csv(rows, encoding), encoding) == rows
    assert read_default_records_xlsx(default_records_xlsx(d18, rows)) == rows


# --------------------------------------------------------------------------- the command


def _invoke(*args: str):  # type: ignore[no-untyped-def]
    app = typer.Typer()
    account_cli.register(app)
    return CliRunner().invoke(app, list(args), env={"COLUMNS": "250"})


def test_the_command_records_cures_and_lists(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'store.sqlite'}"
    engine = open_store(url)
    open_client(Ledger(engine, _clock()), "C1", name="客户C1")
    common = ("--store", url, "--user", "risk1")

    def record_cli(*args: str):  # type: ignore[no-untyped-def]
        return _invoke("account", "default", "record", *args, *common)

    bad_credit = ("C1", "--kind", "bad_credit", "--on", "2026-11-16", "--note", "征信报告逾期")
    done = record_cli(*bad_credit, "--malicious")
    assert done.exit_code == 0, done.output
    assert "default:C1:bad_credit:2026-11-16: recorded" in done.output
    again = record_cli(*bad_credit, "--malicious")
    assert again.exit_code == 0 and "recorded before" in again.output
    charges = record_cli("C1", "--kind", "overdue_charges", "--on", "2026-11-18",
                         "--amount", "12.50", "--id", "OC-1")  # fmt: skip
    assert charges.exit_code == 0, charges.output
    (stored,) = load_recorded_defaults(engine, through=date(2026, 11, 16))
    assert stored.entry == replace(BAD_CREDIT, note="征信报告逾期")
    oc = find_recorded_default(engine, "OC-1")
    assert oc is not None and oc.entry.amount_owed_fen == 1_250
    # refusals: exit 1 with the code, nothing recorded
    for args, code in (
        (("C1", "--kind", "overdue_debt", "--on", "2026-11-18"), "DERIVED_KIND"),
        (("C9", "--kind", "other", "--on", "2026-11-18", "--note", "x"), "UNKNOWN_CLIENT"),
        (("C1", "--kind", "other", "--on", "2026-11-18"), "NOTE_REQUIRED"),
        (("C1", "--kind", "overdue_charges", "--on", "2026-11-18", "--amount", "-1"),
         "INVALID_AMOUNT"),
        (("C1", "--kind", "other", "--on", "2099-01-01", "--note", "x"), "IN_THE_FUTURE"),
        (("C1", "--kind", "other", "--on", "2026-11-18", "--note", "x", "--id", "a:b"),
         "INVALID_RECORD_ID"),
    ):  # fmt: skip
        refused = record_cli(*args)
        assert refused.exit_code == 1 and code in refused.output, (args, refused.output)
    for args in (
        ("C1", "--kind", "bad_credit", "--on", "2026-11-31", "--note", "x"),
        ("C1", "--kind", "overdue_charges", "--on", "2026-11-18", "--amount", "1.234"),
        ("C1", "--kind", "fraud", "--on", "2026-11-18"),
    ):
        assert record_cli(*args).exit_code == 2
    assert len(load_recorded_defaults(engine)) == 2
    cured = _invoke("account", "default", "cure", "OC-1", "--on", "2026-11-20",
                    "--note", "已扣收", *common)  # fmt: skip
    assert cured.exit_code == 0 and "OC-1: cured on 2026-11-20" in cured.output
    early = _invoke("account", "default", "cure", "OC-1", "--on", "2026-11-19", *common)
    assert early.exit_code == 1 and "ALREADY_CURED" in early.output
    unknown = _invoke("account", "default", "cure", "nope", "--on", "2026-11-19", *common)
    assert unknown.exit_code == 1 and "UNKNOWN_RECORD" in unknown.output
    listed = _invoke("account", "default", "list", "--client", "C1", "--store", url)
    assert listed.exit_code == 0, listed.output
    lines = [line for line in listed.output.splitlines() if "risk1" in line]
    assert len(lines) == 2 and "yes" in lines[0] and "open" in lines[0]
    assert "12.50" in lines[1] and "cured 2026-11-20" in lines[1]
    as_of = _invoke("account", "default", "list", "--on", "2026-11-19", "--store", url)
    lines = [line for line in as_of.output.splitlines() if "risk1" in line]
    assert len(lines) == 2 and "cured" not in as_of.output  # cured after the 19th
    assert "as of 2026-11-19" in as_of.output


def test_the_command_withdraws_by_another_user_and_lists_it(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'store.sqlite'}"
    engine = open_store(url)
    open_client(Ledger(engine, _clock()), "C1", name="客户C1")
    record(engine, BAD_CREDIT)  # recorded by risk1, occurred on the 16th
    record(engine, CHARGES)
    record_id = BAD_CREDIT.record_id

    def withdraw_cli(*args: str, user: str = "risk2"):  # type: ignore[no-untyped-def]
        return _invoke("account", "default", "withdraw", *args, "--store", url, "--user", user)

    reason = ("--reason", "客户代码录错")
    for args, user, code in (
        ((record_id, *reason), "risk1", "SAME_USER"),
        (("nope", *reason), "risk2", "UNKNOWN_RECORD"),
        ((record_id, "--reason", " "), "risk2", "REASON_REQUIRED"),
        ((record_id, *reason, "--on", "2026-11-15"), "risk2", "WITHDRAWN_BEFORE_OCCURRED"),
        ((record_id, *reason, "--on", "2099-01-01"), "risk2", "IN_THE_FUTURE"),
    ):
        refused = withdraw_cli(*args, user=user)
        assert refused.exit_code == 1 and code in refused.output, (args, refused.output)
    assert withdraw_cli(record_id, "--on", "2026-11-31", *reason).exit_code == 2
    assert withdraw_cli(record_id).exit_code == 2  # the reason is required
    assert all(r.withdrawal is None for r in load_recorded_defaults(engine))
    done = withdraw_cli(record_id, *reason, "--on", "2026-11-18")
    assert done.exit_code == 0 and f"{record_id}: withdrawn on 2026-11-18" in done.output
    again = withdraw_cli(record_id, *reason, "--on", "2026-11-18", user="risk3")
    assert again.exit_code == 0 and "withdrawn before" in again.output
    other = withdraw_cli(record_id, "--reason", "另一原因", "--on", "2026-11-18")
    assert other.exit_code == 1 and "ALREADY_WITHDRAWN" in other.output
    cured = _invoke("account", "default", "cure", record_id, "--on", "2026-11-19",
                    "--store", url, "--user", "risk2")  # fmt: skip
    assert cured.exit_code == 1 and "refused WITHDRAWN:" in cured.output
    found = find_recorded_default(engine, record_id)
    assert found is not None and found.withdrawal == DefaultWithdrawal(
        record_id, date(2026, 11, 18), "risk2", "客户代码录错"
    )
    assert found.cure is None

    def states(*args: str) -> list[str]:
        listed = _invoke("account", "default", "list", "--store", url, *args)
        assert listed.exit_code == 0, listed.output
        return [line for line in listed.output.splitlines() if "risk1" in line]

    lines = states()
    assert "open" in lines[0] and "OC-1" in lines[0]
    assert "withdrawn 2026-11-18" in lines[1] and "yes" in lines[1]
    before = states("--on", "2026-11-17")  # as of the 17th it stood
    assert "open" in before[1] and "withdrawn" not in "".join(before)
