"""The firm's charge posting as a dated parameter (``store/charge_posting.py``) and its CLI,
``liangrong eod posting record|show``, on both stores.  That the end of day books under the
recorded version, and that switching changes no figure: ``test_subledger_scenario.py``."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
import typer
from sqlalchemy import Engine, func, select, text
from sqlalchemy.exc import DatabaseError
from typer.testing import CliRunner

from cli_helpers import cli_app
from conftest import make_sqlite_engine
from liangrong.cli import eod as eod_cli
from liangrong.domain.interest import ChargePosting
from liangrong.domain.rule_codes import RuleRefused
from liangrong.domain.versions import Version
from liangrong.store.charge_posting import (
    ChargePostingConflict,
    ChargePostingTooLate,
    charge_posting_policies,
    load_charge_postings,
    posting_on,
    record_charge_posting,
)
from liangrong.store.eod_records import StepRecord, record_step

FROM = date(2026, 12, 1)
SUBLEDGER = Version("2026-12-01", FROM, ChargePosting.SUBLEDGER, "credit committee 2026-11")


def _clock() -> datetime:
    return datetime(2026, 11, 21, 9, tzinfo=UTC)


def _rows(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(charge_posting_policies)).scalar())


def _accrued(engine: Engine, day: date) -> None:
    """The end of day of ``day`` has booked charges (its accrual step is recorded)."""
    record_step(engine, StepRecord(day, "accrue", 1, "2026-11-21T18:00:00", "0" * 64, {}))


def test_a_recorded_posting_is_in_force_from_its_date(store: Engine) -> None:
    assert posting_on(store, FROM, ChargePosting.DAILY) is ChargePosting.DAILY  # none recorded
    assert record_charge_posting(store, SUBLEDGER, clock=_clock) == 1
    assert record_charge_posting(store, SUBLEDGER, clock=_clock) == 0  # as it is: nothing new
    before = date(2026, 11, 30)
    assert posting_on(store, before, ChargePosting.DAILY) is ChargePosting.DAILY
    assert posting_on(store, FROM, ChargePosting.DAILY) is ChargePosting.SUBLEDGER
    assert posting_on(store, date(2027, 6, 1), ChargePosting.DAILY) is ChargePosting.SUBLEDGER
    back = Version("2027-01-04", date(2027, 1, 4), ChargePosting.DAILY, "credit committee")
    assert record_charge_posting(store, back, clock=_clock) == 1
    assert posting_on(store, date(2027, 1, 4), ChargePosting.SUBLEDGER) is ChargePosting.DAILY
    assert load_charge_postings(store).versions == (SUBLEDGER, back)


def test_a_version_is_never_rewritten_nor_recorded_out_of_order(store: Engine) -> None:
    record_charge_posting(store, SUBLEDGER, clock=_clock)
    changed = Version(SUBLEDGER.version_id, FROM, ChargePosting.DAILY, SUBLEDGER.source)
    with pytest.raises(ChargePostingConflict, match="2026-12-01 is recorded with another"):
        record_charge_posting(store, changed, clock=_clock)
    earlier = Version("early", date(2026, 11, 25), ChargePosting.DAILY, "committee")
    with pytest.raises(RuleRefused):
        record_charge_posting(store, earlier, clock=_clock)
    assert load_charge_postings(store).versions == (SUBLEDGER,)
    with pytest.raises(DatabaseError), store.begin() as conn:
        conn.execute(text("UPDATE charge_posting_policies SET source = 'edited'"))
    assert load_charge_postings(store).versions == (SUBLEDGER,)


def test_a_posting_takes_effect_only_after_the_last_day_booked(store: Engine) -> None:
    _accrued(store, date(2026, 12, 1))
    with pytest.raises(ChargePostingTooLate, match="from 2026-12-02 at the earliest"):
        record_charge_posting(store, SUBLEDGER, clock=_clock)
    assert _rows(store) == 0
    later = Version("2026-12-02", date(2026, 12, 2), ChargePosting.SUBLEDGER, "committee")
    assert record_charge_posting(store, later, clock=_clock) == 1
    _accrued(store, date(2026, 12, 2))
    assert record_charge_posting(store, later, clock=_clock) == 0  # recorded before: accepted


def _app() -> typer.Typer:
    return cli_app(eod_cli)


def test_the_cli_records_and_shows_the_posting(tmp_path: object) -> None:
    engine = make_sqlite_engine(tmp_path)
    url = str(engine.url)
    runner = CliRunner()
    base = ["eod", "posting", "record"]
    source = ["--source", "credit committee 2026-11"]
    first = runner.invoke(
        _app(), [*base, "subledger", "--from", "2026-12-01", *source, "--store", url]
    )
    assert first.exit_code == 0, first.output
    assert "recorded: subledger from 2026-12-01 (version 2026-12-01)" in first.output
    again = runner.invoke(
        _app(), [*base, "subledger", "--from", "2026-12-01", *source, "--store", url]
    )
    assert again.exit_code == 0 and "already recorded" in again.output
    refusals = {
        "weekly": ([*base, "weekly", "--from", "2027-01-04", *source], "not a charge posting"),
        "conflict": (
            [*base, "daily", "--from", "2026-12-01", *source],
            "recorded with another effective date, value or source",
        ),
        "no source": ([*base, "daily", "--from", "2027-01-04", "--source", " "], "--source"),
        "bad date": ([*base, "daily", "--from", "2027-13-01", *source], "not a date"),
    }
    for name, (args, reason) in refusals.items():
        result = runner.invoke(_app(), [*args, "--store", url])
        assert result.exit_code != 0, name
        assert reason in " ".join(result.output.split()), (name, result.output)
    assert _rows(engine) == 1  # nothing refused was recorded
    shown = runner.invoke(_app(), ["eod", "posting", "show", "--store", url])
    assert shown.exit_code == 0, shown.output
    assert "subledger" in shown.output and "credit committee 2026-11" in shown.output
    assert "before 2026-12-01: the end of day's own policy (daily)" in shown.output
    engine.dispose()
