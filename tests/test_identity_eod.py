"""CLI-6 in the end of day: the ``identity`` step over a small store — reminders for
documents in the window, on their last day, within and past the grace, none for renewed and
long-term ones; the restriction decided for the next trading day and read back by
``restricted_clients`` (a renewal lifts it the day it is recorded); a rerun records nothing
twice, a run interrupted after a batch completes to the very same records; the store's
refusals; the demo seed's mix."""

from __future__ import annotations

import shutil
from collections import Counter
from dataclasses import replace
from datetime import date, datetime, timedelta
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine, text
from sqlalchemy.exc import DBAPIError

from conftest import make_sqlite_engine
from liangrong.domain.identity_expiry import (
    DocumentKind,
    DocumentStatus,
    ExpiryAction,
    IdentityDocument,
    IdentityExpiryPolicy,
    check_document,
    notice_text,
    on_file,
    restriction_starts,
)
from liangrong.domain.rule_codes import RuleRefused
from liangrong.domain.versions import Version
from liangrong.eod import identity_step as step_module
from liangrong.eod.context import EOD_START, STEP_MINUTES, Digest, EodContext, StepOutcome, StepRun
from liangrong.eod.identity_step import identity_step
from liangrong.eod.runner import run
from liangrong.eod.settings import EodSettings
from liangrong.eod.steps import STEP_NAMES
from liangrong.ledger.engine import open_engine
from liangrong.ledger.schema import metadata
from liangrong.sim.identity_seed import demo_documents, seed_identity_documents
from liangrong.sim.session import CST
from liangrong.store.identity_documents import (
    IDENTITY_TABLES,
    DocumentRecord,
    IdentityConflict,
    IdentityNotice,
    RestrictionDecision,
    documents_due,
    load_decisions,
    load_notices,
    record_documents,
    restricted_clients,
    restriction_reason,
    save_notices,
    save_policy_versions,
    save_restriction_decisions,
)
from sim_helpers import load_reference
from test_eod import build_store, copy_of

D, NEXT = date(2026, 11, 20), date(2026, 11, 23)  # a Friday and the Monday after
POLICY = IdentityExpiryPolicy(notice_days=30, grace_days=10, action=ExpiryAction.RESTRICT_NEW_DEBT)
CARD, LICENCE = DocumentKind.IDENTITY_CARD, DocumentKind.BUSINESS_LICENCE
LEGAL, AGENT = DocumentKind.LEGAL_REPRESENTATIVE_IDENTITY, DocumentKind.AGENT_IDENTITY
ON_FILE = date(2016, 11, 1)
S = DocumentStatus


def _clock() -> datetime:
    return datetime(2026, 11, 20, 8, 0)


def _doc(
    client: str, until: date | None, kind: DocumentKind = CARD, on: date = ON_FILE
) -> DocumentRecord:
    number = f"{client}-{kind.value}-{until}"
    return DocumentRecord(
        f"{number}@{on}", IdentityDocument(client, kind, number, until, on), False, "test"
    )


# Each client's documents and what they are on D (30 days' notice, 10 days' grace).
DOCUMENTS = (
    _doc("WINDOW", D + timedelta(days=30)),  # the window's first day: reminded, 30 left
    _doc("OUTSIDE", D + timedelta(days=31)),  # the day before the window: nothing yet
    _doc("LASTDAY", D),  # its last valid day: reminded, 0 left
    _doc("GRACE", date(2026, 11, 15)),  # expired 5 days ago: in grace on D and on Monday
    _doc("WEEKEND", date(2026, 11, 12)),  # in grace on D, its grace ends Sunday the 22nd
    _doc("PAST", date(2026, 10, 1)),  # past the grace: restricted
    _doc("RENEWED", date(2026, 9, 1)),
    _doc("RENEWED", date(2046, 10, 15), on=date(2026, 10, 15)),  # renewed before: fine
    _doc("LONG", None),  # long-term (长期)
    _doc("INST", None, LICENCE),
    _doc("INST", date(2026, 9, 10), LEGAL),  # past the grace: the institution is restricted
    _doc("INST", date(2026, 12, 1), AGENT),  # expiring in 11 days
    _doc("LIFTED", date(2026, 8, 1)),  # restricted before D, renewed on D (below)
)
LIFTED_RENEWAL = _doc("LIFTED", date(2046, 11, 20), on=D)


def _prepare(engine: Engine) -> None:
    load_reference(engine)
    load_reference(engine, NEXT)
    version = Version("idp-1", date(2024, 1, 2), POLICY, "test: the firm's policy")
    assert save_policy_versions(engine, [version], clock=_clock) == 1
    assert record_documents(engine, DOCUMENTS, clock=_clock) == len(DOCUMENTS)
    earlier = RestrictionDecision(
        "LIFTED", D, D - timedelta(days=1), True, ((CARD, date(2026, 8, 1)),), "idp-1", "t"
    )
    assert save_restriction_decisions(engine, [earlier]) == 1


@pytest.fixture(scope="module")
def prepared(tmp_path_factory: pytest.TempPathFactory) -> Path:
    engine = make_sqlite_engine(tmp_path_factory.mktemp("identity"))
    _prepare(engine)
    path = Path(engine.url.database or "")
    engine.dispose()
    return path


def _copy(prepared: Path, folder: Path) -> Engine:
    shutil.copy(prepared, folder / "store.sqlite")
    return open_engine(f"sqlite:///{folder / 'store.sqlite'}")


def _run(engine: Engine, day: date, told: list[tuple[int, int]] | None = None) -> StepOutcome:
    ctx = EodContext(engine, day, EodSettings())
    sink = told if told is not None else []
    run = StepRun(ctx, "identity", STEP_NAMES.index("identity"), lambda *p: sink.append(p))
    try:
        return identity_step(run)
    finally:
        ctx.close()


def _records(engine: Engine) -> dict[str, list[tuple[object, ...]]]:
    with engine.connect() as conn:
        return {
            table: sorted(
                (tuple(r) for r in conn.execute(text(f"SELECT * FROM {table}"))), key=repr
            )
            for table in ("identity_notices", "identity_restrictions")
        }


def test_the_step_reminds_and_decides_the_next_days_restriction(
    prepared: Path, tmp_path: Path
) -> None:
    engine = _copy(prepared, tmp_path)
    # the earlier decision stands until the renewal is on file, the very day it is recorded
    assert restricted_clients(engine, D) == {
        "LIFTED": restriction_reason(((CARD, date(2026, 8, 1)),))
    }
    record_documents(engine, [LIFTED_RENEWAL], clock=_clock)
    assert restricted_clients(engine, D) == {}
    told: list[tuple[int, int]] = []
    outcome = _run(engine, D, told)

    notices = load_notices(engine, decided_on=D)
    assert [(n.notice_id, n.status, n.days_left, n.restricts_from) for n in notices] == [
        (f"identity:GRACE:{CARD.value}:2026-11-15", S.EXPIRED, -5, date(2026, 11, 26)),
        ("identity:INST:agent_identity:2026-12-01", S.EXPIRING, 11, date(2026, 12, 12)),
        (f"identity:INST:{LEGAL.value}:2026-09-10", S.RESTRICTED, -71, date(2026, 9, 21)),
        (f"identity:LASTDAY:{CARD.value}:2026-11-20", S.EXPIRING, 0, date(2026, 12, 1)),
        (f"identity:PAST:{CARD.value}:2026-10-01", S.RESTRICTED, -50, date(2026, 10, 12)),
        (f"identity:WEEKEND:{CARD.value}:2026-11-12", S.EXPIRED, -8, date(2026, 11, 23)),
        (f"identity:WINDOW:{CARD.value}:2026-12-20", S.EXPIRING, 30, date(2026, 12, 31)),
    ]
    last_day = notices[3]
    assert (last_day.text_zh, last_day.text_en) == notice_text(
        check_document(IdentityDocument("LASTDAY", CARD, "", D, ON_FILE), D, POLICY), POLICY
    )
    step_start = datetime.combine(D, EOD_START, CST) + timedelta(
        minutes=STEP_MINUTES * STEP_NAMES.index("identity")
    )  # the step's own fixed moment, whatever runs before it
    assert "2026-12-01" in last_day.text_zh
    assert last_day.at == step_start.isoformat(timespec="microseconds")

    decisions = load_decisions(engine, decided_on=D)
    assert [(d.client_id, d.effective, d.restricted, d.documents) for d in decisions] == [
        ("INST", NEXT, True, ((LEGAL, date(2026, 9, 10)),)),
        ("LIFTED", NEXT, False, ()),
        ("PAST", NEXT, True, ((CARD, date(2026, 10, 1)),)),
        ("WEEKEND", NEXT, True, ((CARD, date(2026, 11, 12)),)),  # the grace ended on Sunday
    ]
    assert restricted_clients(engine, D) == {}  # decided for Monday's trading
    assert restricted_clients(engine, NEXT) == {
        "INST": restriction_reason(((LEGAL, date(2026, 9, 10)),)),
        "PAST": restriction_reason(((CARD, date(2026, 10, 1)),)),
        "WEEKEND": restriction_reason(((CARD, date(2026, 11, 12)),)),
    }
    assert outcome.summary == {
        "policy": "idp-1", "policy_next_day": "idp-1", "effective": "2026-11-23",
        "documents_examined": 7, "notices": 7, "restricted": 3, "lifted": 1,
    }  # fmt: skip
    assert told[-1] == (1, 1) and (11, 11) in told

    digest = Digest()
    for n in notices:
        digest.line("notice", n.notice_id, n.status.value, n.days_left, n.restricts_from, n.at)
    for d in decisions:
        listed = ",".join(f"{kind.value}:{until}" for kind, until in d.documents)
        digest.line("restriction", d.client_id, d.effective, d.restricted, listed, d.at)
    assert outcome.digest == digest.hexdigest()

    # a rerun records nothing twice and says the same
    before = _records(engine)
    assert _run(engine, D) == outcome
    assert _records(engine) == before

    # Monday: one more document enters the window, the restrictions stand; a renewal
    # recorded that day lifts PAST at once, and Monday's end of day records the lift
    record_documents(engine, [_doc("PAST", date(2046, 11, 23), on=NEXT)], clock=_clock)
    assert set(restricted_clients(engine, NEXT)) == {"INST", "WEEKEND"}
    monday = _run(engine, NEXT)
    assert [n.notice_id for n in load_notices(engine, decided_on=NEXT)] == [
        "identity:OUTSIDE:identity_card:2026-12-21"
    ]
    tuesday = NEXT + timedelta(days=1)
    assert [
        (d.client_id, d.effective, d.restricted) for d in load_decisions(engine, decided_on=NEXT)
    ] == [("PAST", tuesday, False)]
    assert monday.summary["notices"] == 1 and monday.summary["lifted"] == 1
    assert set(restricted_clients(engine, tuesday)) == {"INST", "WEEKEND"}


def test_an_interrupted_run_completes_to_the_same_records(
    prepared: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Batches of two: a crash right after the first batch is committed (the progress it
    tells comes after the commit), then a rerun, leaves what an uninterrupted run leaves."""
    monkeypatch.setattr(step_module, "_BATCH", 2)
    (tmp_path / "whole").mkdir()
    (tmp_path / "cut").mkdir()
    whole, cut = _copy(prepared, tmp_path / "whole"), _copy(prepared, tmp_path / "cut")
    expected = _run(whole, D)

    class Crash(Exception):
        pass

    def crash(_done: int, _total: int) -> None:
        raise Crash

    ctx = EodContext(cut, D, EodSettings())
    with pytest.raises(Crash):
        identity_step(StepRun(ctx, "identity", STEP_NAMES.index("identity"), crash))
    ctx.close()
    assert len(load_notices(cut, decided_on=D)) == 2  # one batch made it
    assert _run(cut, D) == expected
    assert _records(cut) == _records(whole)
    stamps = Counter(n.at for n in load_notices(whole, decided_on=D))
    # eight notices (LIFTED is not renewed in this store), a moment per batch of two
    assert sorted(stamps.values()) == [2, 2, 2, 2]


def test_without_a_policy_nothing_is_reminded_and_restrictions_lift(tmp_path: Path) -> None:
    engine = make_sqlite_engine(tmp_path)
    load_reference(engine)
    record_documents(engine, DOCUMENTS, clock=_clock)
    earlier = RestrictionDecision(
        "PAST", D, D - timedelta(days=1), True, ((CARD, date(2026, 10, 1)),), None, "t"
    )
    save_restriction_decisions(engine, [earlier])
    outcome = _run(engine, D)
    assert load_notices(engine) == []
    assert [(d.client_id, d.restricted) for d in load_decisions(engine, decided_on=D)] == [
        ("PAST", False)
    ]
    assert outcome.summary["policy"] is None and restricted_clients(engine, NEXT) == {}


def test_a_firm_that_only_reminds_restricts_nobody(tmp_path: Path) -> None:
    engine = make_sqlite_engine(tmp_path)
    load_reference(engine)
    remind = replace(POLICY, action=ExpiryAction.REMIND_ONLY)
    save_policy_versions(
        engine, [Version("remind", date(2024, 1, 2), remind, "test")], clock=_clock
    )
    record_documents(engine, DOCUMENTS, clock=_clock)
    _run(engine, D)
    assert len(load_notices(engine, decided_on=D)) == 8  # LIFTED is not renewed here
    assert all(n.restricts_from is None for n in load_notices(engine))
    assert load_decisions(engine) == [] and restricted_clients(engine, NEXT) == {}


def test_only_the_documents_on_file_near_or_past_expiry_are_read(
    prepared: Path, tmp_path: Path
) -> None:
    engine = _copy(prepared, tmp_path)
    due = documents_due(engine, D, D + timedelta(days=30))
    assert [(d.client_id, d.kind, d.valid_until) for d in due] == [
        ("GRACE", CARD, date(2026, 11, 15)),
        ("INST", AGENT, date(2026, 12, 1)),
        ("INST", LEGAL, date(2026, 9, 10)),
        ("LASTDAY", CARD, D),
        ("LIFTED", CARD, date(2026, 8, 1)),
        ("PAST", CARD, date(2026, 10, 1)),
        ("WEEKEND", CARD, date(2026, 11, 12)),
        ("WINDOW", CARD, date(2026, 12, 20)),
    ]
    # the same day's later record of the same kind wins (recording order), an earlier day's
    # view does not see a later record
    same_day = _doc("GRACE", date(2046, 11, 20), on=date(2026, 11, 15))
    record_documents(engine, [same_day], clock=_clock)
    assert "GRACE" not in {d.client_id for d in documents_due(engine, D, D)}
    assert "GRACE" in {d.client_id for d in documents_due(engine, date(2026, 11, 14), D)}


def test_the_tables_are_migrated_append_only_and_refuse_rewrites(tmp_path: Path) -> None:
    engine = make_sqlite_engine(tmp_path)
    with engine.connect() as conn:
        diffs = compare_metadata(MigrationContext.configure(conn), metadata)
    assert set(IDENTITY_TABLES) <= set(metadata.tables)
    assert [d for d in diffs if any(name in str(d) for name in IDENTITY_TABLES)] == []
    first = DOCUMENTS[0]
    assert record_documents(engine, [first, first], clock=_clock) == 1
    assert record_documents(engine, [first], clock=_clock) == 0
    with pytest.raises(IdentityConflict):
        record_documents(engine, [replace(first, source="edited")], clock=_clock)
    version = Version("idp-1", date(2024, 1, 2), POLICY, "test")
    assert save_policy_versions(engine, [version], clock=_clock) == 1
    assert save_policy_versions(engine, [version], clock=_clock) == 0
    with pytest.raises(IdentityConflict):
        save_policy_versions(engine, [replace(version, source="other")], clock=_clock)
    with pytest.raises(RuleRefused):  # dated before the version in force
        save_policy_versions(
            engine, [Version("idp-0", date(2023, 1, 2), POLICY, "t")], clock=_clock
        )
    decision = RestrictionDecision("X", D, D, True, ((CARD, D),), "idp-1", "t")
    assert save_restriction_decisions(engine, [decision]) == 1
    with pytest.raises(IdentityConflict):
        save_restriction_decisions(engine, [replace(decision, restricted=False, documents=())])
    notice = IdentityNotice(
        "identity:X:identity_card:2026-11-20", "X", CARD, D, D, S.EXPIRING, 0, None, "idp-1",
        "t", "zh", "en",
    )  # fmt: skip
    assert save_notices(engine, [notice, notice]) == 1 and save_notices(engine, [notice]) == 0
    for table in IDENTITY_TABLES:  # every table holds a row: the triggers fire per row
        column = "source" if table == "identity_policy_versions" else "client_id"
        for statement in (f"DELETE FROM {table}", f"UPDATE {table} SET {column} = 'x'"):
            with pytest.raises(DBAPIError), engine.begin() as conn:
                conn.execute(text(statement))


def test_the_demo_seed_is_a_deterministic_mix_marked_generated(tmp_path: Path) -> None:
    engine = make_sqlite_engine(tmp_path)
    load_reference(engine)
    clients = [f"C{n:06d}" for n in range(1, 251)]
    records = demo_documents(clients, D, seed=7)
    assert records == demo_documents(clients, D, seed=7) != demo_documents(clients, D, seed=8)
    assert all(r.generated and r.document.recorded_on <= D for r in records)
    added = seed_identity_documents(engine, clients, D, 7, clock=_clock)
    assert (
        added == len(records) + 1
        and seed_identity_documents(engine, clients, D, 7, clock=_clock) == 0
    )
    _run(engine, D)
    policy = IdentityExpiryPolicy(30, 30, ExpiryAction.RESTRICT_NEW_DEBT)  # the seed's
    documents = on_file([r.document for r in records], D)  # a renewal replaces its card
    assert len(documents) == len(clients)
    expected = Counter(check_document(d, D, policy).status for d in documents)
    del expected[DocumentStatus.VALID]
    assert Counter(n.status for n in load_notices(engine, decided_on=D)) == expected
    # 2½ blocks of 100: at least 2 expiring, 1 in grace, 1 past it, 1 renewed in each whole one
    assert expected[DocumentStatus.EXPIRING] >= 4 and expected[DocumentStatus.EXPIRED] >= 2
    assert expected[DocumentStatus.RESTRICTED] >= 2
    assert sum(1 for r in records if r.record_id.endswith(":renewal")) >= 2
    assert set(restricted_clients(engine, NEXT)) == {
        d.client_id
        for d in documents
        if (starts := restriction_starts(d, policy)) is not None and starts <= NEXT
    }


def test_the_runner_runs_the_step_after_the_term_rules(tmp_path: Path) -> None:
    """On test_eod's store (five clients with contracts): C1's card is past the grace, C2's
    expires within the window; the step runs in its place and is recorded with its digest."""
    build_store(tmp_path / "store.sqlite")
    copy = copy_of(tmp_path / "store.sqlite", tmp_path / "copy")
    version = Version("idp-1", date(2024, 1, 2), POLICY, "test: the firm's policy")
    save_policy_versions(copy.engine, [version], clock=_clock)
    record_documents(
        copy.engine, [_doc("C1", date(2026, 10, 1)), _doc("C2", date(2026, 12, 1))], clock=_clock
    )
    report = run(copy.engine, D, copy.settings(), stop_after="identity")
    assert report.ran == list(STEP_NAMES[: STEP_NAMES.index("identity") + 1])
    record = report.records["identity"]
    assert (record.summary["notices"], record.summary["restricted"]) == (2, 1)
    assert restricted_clients(copy.engine, NEXT) == {
        "C1": restriction_reason(((CARD, date(2026, 10, 1)),))
    }
    assert _run(copy.engine, D).digest == record.digest  # the same step again: same digest
