"""The published fee schedule (CON-5, REP-6): the rates in force on a date, a client's agreed
rates over the firm's, changes with their effective dates, and the files (CSV, HTML, PDF)."""

from __future__ import annotations

import csv
import io
import re
from dataclasses import replace
from datetime import date, timedelta
from fractions import Fraction
from pathlib import Path

import pytest
import typer
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from conftest import make_sqlite_engine
from liangrong.cli import fees as fees_cli
from liangrong.domain.contracts import ContractKind, ContractTerms
from liangrong.domain.fee_schedule import (
    Change,
    Item,
    Sources,
    schedule_on,
    values_on,
)
from liangrong.domain.fees import FeeSchedule, trade_fees
from liangrong.domain.interest import accrued_over, rate_steps
from liangrong.domain.orders import Side
from liangrong.domain.rule_book import terms_for
from liangrong.domain.versions import Version
from liangrong.eod.files import csv_bytes
from liangrong.eod.settings import demo_policies
from liangrong.ledger.journal import Ledger
from liangrong.reports.fee_schedule import (
    CSV_HEADER,
    daily_percent,
    exact_percent,
    schedule_html,
    schedule_pdf_bytes,
    schedule_rows,
    shown,
)
from liangrong.reports.statement_render import NoCjkFont, find_cjk_font
from liangrong.sim.book_generator import generate_book
from liangrong.sim.fee_seed import fee_history
from liangrong.sim.reference_day import load_reference_day
from liangrong.sim.rules_seed import demo_firm_versions, demo_rule_book, negotiated_agreement
from liangrong.store.rule_versions import save_rule_versions
from sim_helpers import DAY, load_reference, reference_clock
from test_statements import _streams, _texts

CLIENT = "C000004"
AGREED_ON = date(2025, 3, 1)  # the client's negotiated agreement takes effect
CUT_ON = date(2026, 12, 1)  # the firm's financing rate falls to 7.99%
CUT_RATE = Fraction("0.0799")


def _sources(*, with_client: bool = False, with_cut: bool = False) -> Sources:
    book = demo_rule_book()
    if with_client:
        book = book.with_client(negotiated_agreement(CLIENT, AGREED_ON))
    if with_cut:
        last = demo_firm_versions()[-1].value
        cut = replace(last, financing_rate=CUT_RATE)
        book = book.with_firm(Version("2026-12-01", CUT_ON, cut, "finance: rate cut"))
    return Sources(book, demo_policies().charges, fee_history())


def _applied(sources: Sources, item: Item, on: date, client: str | None = None):
    line = schedule_on(sources, on, client).line(item)
    assert line is not None, item
    return line


# --------------------------------------------------------------------------- in force


def test_the_firm_schedule_on_a_date() -> None:
    sources = _sources()
    schedule = schedule_on(sources, DAY)
    shown_values = {
        line.item: (shown(line.item, line.applied), line.since) for line in schedule.lines
    }
    assert shown_values == {
        Item.FINANCING_RATE: ("8.35%", date(2023, 9, 8)),
        Item.LENDING_FEE_RATE: ("10.35%", date(2023, 9, 8)),
        Item.PENALTY_RATE: ("18%", date(2023, 9, 8)),
        Item.MANAGEMENT_FEE_RATE: ("8.35%", date(2023, 9, 8)),
        Item.COMMISSION: ("0.025%", date(2015, 8, 1)),
        Item.COMMISSION_MINIMUM: ("5.00 元", date(2015, 8, 1)),
        Item.STAMP_DUTY_SELL: ("0.05%", date(2023, 8, 28)),
        Item.TRANSFER_FEE: ("0.001%", date(2022, 4, 29)),
        Item.SAME_DAY_USE: ("按管理费率计收一天 one day at the management fee rate",
                            date(2023, 9, 8)),
        Item.PENALTY_BASIS: ("在利率（费率）之外另计 in addition to the rate", date(2023, 9, 8)),
        Item.RATE_BASIS: ("自生效日起适用于未了结合约 reaches open contracts when in force",
                          date(2023, 9, 8)),
    }  # fmt: skip
    # the published rates are the ones the accrual reads, and the fees the ones fills pay
    terms = terms_for(sources.rules, None, DAY)
    assert _applied(sources, Item.FINANCING_RATE, DAY).applied == terms.financing_rate
    assert _applied(sources, Item.PENALTY_RATE, DAY).applied == terms.penalty_rate
    fees = FeeSchedule(250, 500, 500, 10)
    assert trade_fees(Side.SELL, 1_000_000 * 1000, fees).stamp_duty_fen == 50_000  # 0.05% of 1m
    assert schedule.version_date == date(2023, 9, 8)
    assert not schedule.agreement_on_file and schedule.announced == ()


def test_a_client_agreement_overrides_the_firm_rates() -> None:
    sources = _sources(with_client=True)
    financing = _applied(sources, Item.FINANCING_RATE, DAY, CLIENT)
    assert (financing.base, financing.agreed, financing.applied) == (
        Fraction("0.0835"), Fraction("0.055"), Fraction("0.055")
    )  # fmt: skip
    assert financing.since == AGREED_ON
    lending = _applied(sources, Item.LENDING_FEE_RATE, DAY, CLIENT)
    assert (lending.applied, lending.since) == (Fraction("0.0935"), AGREED_ON)
    penalty = _applied(sources, Item.PENALTY_RATE, DAY, CLIENT)  # the agreement leaves it
    assert (penalty.agreed, penalty.applied, penalty.since) == (
        None,
        Fraction("0.18"),
        date(2023, 9, 8),
    )
    # what the client is charged: a 100,000-yuan financing over 30 days at the agreed 5.5%
    terms = ContractTerms(
        "F1", ContractKind.FINANCING, CLIENT, "600036.SH", 10_000, 10_000_000, 1_000, DAY, DAY,
        DAY + timedelta(days=180), False, Fraction(1), "rv", Fraction("0.0835"),
    )  # fmt: skip
    policy = demo_policies().charges_on(DAY)
    end = DAY + timedelta(days=30)
    steps = rate_steps(sources.rules, terms, DAY, end, policy)
    charged = accrued_over(terms, DAY, end, [(DAY, 10_000_000)], terms.maturity, steps, policy)
    # 10,000,000 fen × 5.5% × 30 ÷ 360 = 45,833.33 fen, half up: the agreed rate, not 8.35%
    assert list(charged.values()) == [45_833]
    schedule = schedule_on(sources, DAY, CLIENT)
    assert schedule.agreement_on_file and schedule.version_date == AGREED_ON
    assert [(c.item, c.before, c.after) for c in schedule.changes] == [
        (Item.FINANCING_RATE, Fraction("0.0835"), Fraction("0.055")),
        (Item.LENDING_FEE_RATE, Fraction("0.1035"), Fraction("0.0935")),
    ]
    # the firm's schedule is not touched by one client's agreement
    assert _applied(sources, Item.FINANCING_RATE, DAY).applied == Fraction("0.0835")


def test_a_change_with_its_effective_date() -> None:
    sources = _sources(with_cut=True)
    cut = Change(CUT_ON, Item.FINANCING_RATE, Fraction("0.0835"), CUT_RATE)
    before = schedule_on(sources, CUT_ON - timedelta(days=1))
    assert before.announced == (cut,)
    assert before.line(Item.FINANCING_RATE).applied == Fraction("0.0835")  # type: ignore[union-attr]
    after = schedule_on(sources, CUT_ON)
    assert after.version_date == CUT_ON and after.changes == (cut,) and after.announced == ()
    line = after.line(Item.FINANCING_RATE)
    assert line is not None and (line.applied, line.since) == (CUT_RATE, CUT_ON)
    lending = after.line(Item.LENDING_FEE_RATE)
    assert lending is not None and lending.since == date(2023, 9, 8)  # unchanged: same since
    # the state's stamp duty halving of 2023-08-28, before the firm's rates were in force
    duty_day = schedule_on(sources, date(2023, 8, 28))
    assert duty_day.changes == (Change(date(2023, 8, 28), Item.STAMP_DUTY_SELL, 1000, 500),)
    assert duty_day.line(Item.FINANCING_RATE) is None


def test_a_client_agreed_rate_survives_the_firm_cut() -> None:
    sources = _sources(with_client=True, with_cut=True)
    after = schedule_on(sources, CUT_ON, CLIENT)
    financing = after.line(Item.FINANCING_RATE)
    assert financing is not None
    assert (financing.base, financing.applied, financing.since) == (
        CUT_RATE, Fraction("0.055"), AGREED_ON
    )  # fmt: skip
    assert after.version_date == AGREED_ON  # the cut changes nothing the client pays


_DAYS = st.dates(date(2015, 1, 1), date(2027, 12, 31))


@settings(max_examples=60, deadline=None)
@given(on=_DAYS, client=st.sampled_from([None, CLIENT]))
def test_every_line_applied_unchanged_since_its_date(on: date, client: str | None) -> None:
    sources = _sources(with_client=True, with_cut=True)
    schedule = schedule_on(sources, on, client)
    for line in schedule.lines:
        assert line.since <= on
        for day in sources.change_dates(client):
            if line.since <= day <= on:
                assert values_on(sources, day, client)[line.item].applied == line.applied
        earlier = values_on(sources, line.since - timedelta(days=1), client).get(line.item)
        assert earlier is None or earlier.applied != line.applied


# --------------------------------------------------------------------------- display


def test_rates_are_shown_exactly() -> None:
    assert exact_percent(Fraction("0.0835")) == "8.35%"
    assert exact_percent(Fraction(1, 3)) == "100/3%"  # never rounded
    assert daily_percent(Fraction("0.18")) == "0.05%"
    assert daily_percent(Fraction("0.0835")) == "≈0.023194%"  # 0.0231944…% truncated


def test_csv_rows_hold_exact_values() -> None:
    schedule = schedule_on(_sources(with_client=True, with_cut=True), DAY, CLIENT)
    rows = schedule_rows(schedule)
    assert rows[0] == (
        "2026-11-20", CLIENT, "in_force", "financing_rate", "融资利率 Financing rate",
        "annual_rate_360", "0.055", "5.5%", "0.0835", "0.055", "2025-03-01", "", "firm",
    )  # fmt: skip
    announced = [row for row in rows if row[2] == "announced"]
    assert announced == []  # the firm's cut does not reach the client's agreed rate
    firm_rows = schedule_rows(schedule_on(_sources(with_cut=True), DAY))
    assert [row for row in firm_rows if row[2] == "announced"] == [
        ("2026-11-20", "", "announced", "financing_rate", "融资利率 Financing rate",
         "annual_rate_360", "0.0799", "7.99%", "", "", "2026-12-01", "0.0835", "firm"),
    ]  # fmt: skip
    data = csv_bytes(CSV_HEADER, rows)
    parsed = list(csv.reader(io.StringIO(data.decode("utf-8"))))
    assert tuple(parsed[0]) == CSV_HEADER and [tuple(r) for r in parsed[1:]] == rows


def test_html_shows_base_and_agreed_rates() -> None:
    schedule = schedule_on(_sources(with_client=True), DAY, CLIENT)
    html = schedule_html(schedule, 'Evil" font')
    row = re.search(r"<tr><td class=\"t\">融资利率 Financing rate</td>(.*?)</tr>", html)
    assert row is not None
    cells = re.findall(r">([^<]*)</td>", row.group(1))
    assert cells == ["5.5%", "≈0.015277%", "8.35%", "5.5%", "2025-03-01"]
    assert 'font-family: "Evil font"' in html and 'Evil"' not in html


@pytest.fixture(scope="module")
def font():
    try:
        return find_cjk_font()
    except NoCjkFont as exc:  # run.py installs fonts-noto-cjk
        pytest.skip(str(exc))


def test_pdf_is_the_same_bytes_and_shows_the_rates(font) -> None:
    schedule = schedule_on(_sources(with_client=True), DAY, CLIENT)
    first, second = schedule_pdf_bytes(schedule, font), schedule_pdf_bytes(schedule, font)
    assert first.startswith(b"%PDF-") and first == second
    assert re.search(rb"/FontFile[23]?\b", b"".join(_streams(first)) + first)
    text = "\n".join(_texts(first))
    for expected in (CLIENT, "融资利率", "5.5%", "8.35%", "2025-03-01", "Announced changes"):
        assert expected in text, expected


# --------------------------------------------------------------------------- command


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> str:
    """The demo reference data, a small generated book and one negotiated agreement."""
    engine = make_sqlite_engine(tmp_path_factory.mktemp("fees"))
    load_reference(engine)
    ticks = iter(range(10**9))

    def clock():
        return reference_clock() + timedelta(microseconds=next(ticks))

    generate_book(Ledger(engine, clock), load_reference_day(engine, DAY), 7, 6, clock=clock)
    save_rule_versions(engine, [negotiated_agreement(CLIENT, AGREED_ON)], clock=clock)
    url = str(engine.url)
    engine.dispose()
    return url


def _invoke(store: str, *args: str):
    app = typer.Typer()

    @app.callback()
    def root() -> None:
        """test root"""

    fees_cli.register(app)
    return CliRunner().invoke(app, ["fees", "schedule", *args, "--store", store])


def test_command_writes_the_files_again_byte_identical(store: str, tmp_path: Path) -> None:
    out = tmp_path / "fees"
    result = _invoke(store, "2026-11-20", "--client", CLIENT, "--out", str(out))
    assert result.exit_code == 0, result.output
    names = sorted(p.name for p in out.iterdir())
    stem = f"fee_schedule_2026-11-20_{CLIENT}"
    assert names == [f"{stem}.csv", f"{stem}.html", f"{stem}.pdf"]
    first = {name: (out / name).read_bytes() for name in names}
    rows = list(csv.reader(io.StringIO(first[f"{stem}.csv"].decode("utf-8"))))
    financing = next(r for r in rows if r[2:4] == ["in_force", "financing_rate"])
    assert financing[6:11] == ["0.055", "5.5%", "0.0835", "0.055", "2025-03-01"]
    assert _invoke(store, "2026-11-20", "--client", CLIENT, "--out", str(out)).exit_code == 0
    assert {name: (out / name).read_bytes() for name in names} == first
    firm = _invoke(store, "2026-11-20", "--no-pdf", "--out", str(out))
    assert firm.exit_code == 0
    firm_csv = (out / "fee_schedule_2026-11-20.csv").read_text("utf-8")
    firm_rows = list(csv.reader(io.StringIO(firm_csv)))
    assert firm_rows[1][6:10] == ["0.0835", "8.35%", "0.0835", ""]
    assert not (out / "fee_schedule_2026-11-20.pdf").exists()


def test_command_refusals(store: str, tmp_path: Path) -> None:
    unknown = _invoke(store, "2026-11-20", "--client", "C999999", "--out", str(tmp_path))
    assert unknown.exit_code == 1 and "no credit account of C999999" in unknown.stderr
    too_early = _invoke(store, "2010-01-04", "--no-pdf", "--out", str(tmp_path))
    assert (
        too_early.exit_code == 1 and "no fee schedule is in force on 2010-01-04" in too_early.stderr
    )
