"""REP-1 / REP-2 files: the report from a real ledger, the three formats, reruns, refusals."""

from __future__ import annotations

import io
import re
import zipfile
from datetime import date
from pathlib import Path

import pytest
from openpyxl import load_workbook
from sqlalchemy import Engine

from ledger_helpers import financing_terms, open_client, short_terms
from liangrong.domain import operations as ops
from liangrong.domain.contracts import Allocation
from liangrong.domain.default_records import DefaultEvent, DefaultKind, default_record_rows
from liangrong.domain.exchange_report import (
    ADJUSTMENT_KIND,
    DebtFigures,
    ExchangeReport,
    ReportCheck,
    ReportRefused,
    ReportRow,
    validated_report,
)
from liangrong.domain.fees import Fees
from liangrong.domain.orders import OrderKind, Side
from liangrong.domain.settlement import Fill, settle_buy, settle_sale
from liangrong.ledger.journal import Ledger
from liangrong.reports.daily_source import build_daily_report, opening_rows
from liangrong.reports.exchange_files import (
    DEFAULT_COLUMNS,
    REPORT_COLUMNS,
    default_file_names,
    default_records_csv,
    default_records_xlsx,
    read_default_records_csv,
    read_default_records_xlsx,
    read_report_csv,
    read_report_rows,
    read_report_xlsx,
    report_csv,
    report_file_names,
    report_xlsx,
    write_default_files,
    write_report_files,
)

D1, D2, D3 = date(2026, 3, 2), date(2026, 3, 3), date(2026, 3, 4)
A, B, C = "600000.SH", "600036.SH", "000001.SZ"
CLOSES_D1 = {A: 10_000, B: 30_500, C: 12_000}
CLOSES_D2 = {A: 9_000, B: 29_500, C: 11_800}
TARGETS = frozenset({A, B, C})
NO_FEES = Fees(0, 0, 0)
DOCS = Path(__file__).resolve().parents[1] / "docs" / "reports.md"


@pytest.fixture
def ledger(store: Engine, fixed_clock) -> Ledger:
    book = Ledger(store, fixed_clock)
    book.post(ops.fund_pool("fund-cash", D1, "CNY", 100_000_000_00))
    book.post(ops.fund_pool("fund-600036", D1, B, 100_000))
    open_client(book, "C1", on=D1)
    open_client(book, "C2", "李四", on=D1)
    return book


def fill(trade_id: str, symbol: str, side: Side, price_li: int, quantity: int) -> Fill:
    return Fill(trade_id, f"o-{trade_id}", symbol, side, price_li, quantity, D2)


def post_day_one(ledger: Ledger) -> None:
    """Margin buys of A by both clients and of C by C1; C2 sells B short."""
    ledger.post(ops.open_financing("mb-1", financing_terms("F1", "C1", 10_000_000, 10_000, A, D1)))
    ledger.post(ops.open_financing("mb-2", financing_terms("F2", "C2", 5_000_000, 5_000, A, D1)))
    ledger.post(ops.open_financing("mb-3", financing_terms("F3", "C1", 2_400_000, 2_000, C, D1)))
    ledger.post(ops.open_short("ss-1", short_terms("S1", "C2", 3_000, 9_150_000, B, D1)))


def post_day_two(ledger: Ledger) -> None:
    """Every repayment channel: direct (with charges), sell to repay of another security's
    financing, forced sell, buy to cover, direct return, forced buy."""
    ledger.post(ops.deposit_cash("dep-1", D2, "C1", 5_000_000))
    ledger.post(ops.accrue_charges("acc-1", D2, "C1", "F1", 1_234))
    ledger.post(ops.repay_financing("rep-1", D2, "C1", [Allocation("F1", 1_234, 3_000_000)]))
    # C1 sells 2000 A to repay: ORD-4 order sends it to F3, the financing of C
    sale = fill("t1", A, Side.SELL, 10_000, 2_000)
    ledger.post(
        settle_sale(
            OrderKind.SELL_TO_REPAY,
            "C1",
            sale,
            2_000_000,
            NO_FEES,
            [Allocation("F3", 0, 1_000_000)],
        )
    )
    forced = fill("t2", A, Side.SELL, 9_000, 5_000)
    ledger.post(
        settle_sale(
            OrderKind.FORCED_SELL,
            "C2",
            forced,
            4_500_000,
            NO_FEES,
            [Allocation("F2", 0, 4_500_000)],
        )
    )
    cover = fill("t3", B, Side.BUY, 29_000, 1_000)
    ledger.post(
        settle_buy(
            OrderKind.BUY_TO_COVER,
            "C2",
            cover,
            2_900_000,
            NO_FEES,
            2_900_000,
            [Allocation("S1", 0, 1_000)],
        )
    )
    ledger.post(ops.transfer_collateral_in("in-1", D2, "C2", B, 500))
    ledger.post(ops.return_securities("ret-1", D2, "C2", B, [Allocation("S1", 0, 500)]))
    forced_buy = fill("t4", B, Side.BUY, 29_000, 500)
    ledger.post(
        settle_buy(
            OrderKind.FORCED_BUY,
            "C2",
            forced_buy,
            1_450_000,
            NO_FEES,
            1_450_000,
            [Allocation("S1", 0, 500)],
        )
    )


def by_security(report: ExchangeReport) -> dict[str, ReportRow]:
    return {row.security: row for row in report.rows}


# --------------------------------------------------------------------------- ledger-backed


def test_the_report_from_the_ledger_has_every_channel_on_the_financed_security(
    ledger: Ledger, tmp_path: Path
) -> None:
    post_day_one(ledger)
    first = build_daily_report(ledger.engine, D1, (), CLOSES_D1, TARGETS)
    rows = by_security(first)
    assert rows[A].financing == DebtFigures(new=15_000_000, balance=15_000_000)
    assert rows[C].financing == DebtFigures(new=2_400_000, balance=2_400_000)
    assert rows[B].short == DebtFigures(new=3_000, balance=3_000)
    assert rows[B].short_balance_fen == 9_150_000  # 3000 × 30.500
    write_report_files(tmp_path, first)

    post_day_two(ledger)
    yesterday = read_report_rows(tmp_path, D1)
    assert yesterday == first.rows
    second = by_security(build_daily_report(ledger.engine, D2, yesterday, CLOSES_D2, {A, B}))
    # A: 15,000,000 + 0 − (3,000,000 direct + 4,500,000 forced); the charges are not principal
    assert second[A].financing == DebtFigures(0, 3_000_000, 0, 4_500_000, 0, 7_500_000)
    # C: repaid by selling A, reported under C; C left the lists and stays while open
    assert second[C].financing == DebtFigures(0, 0, 1_000_000, 0, 0, 1_400_000)
    assert (second[C].on_target_list, second[A].on_target_list) == (False, True)
    # B: 3000 − (500 direct + 1000 bought + 500 forced) = 1000 at 29.500
    assert second[B].short == DebtFigures(0, 500, 1_000, 500, 0, 1_000)
    assert (second[B].short_balance_fen, second[B].total_balance_fen) == (2_950_000, 2_950_000)


def test_opening_rows_from_the_ledger_stand_in_for_a_missing_previous_report(
    ledger: Ledger,
) -> None:
    post_day_one(ledger)
    post_day_two(ledger)
    opening = opening_rows(ledger.engine, D1, CLOSES_D1)
    assert [(r.security, r.financing.balance, r.short.balance) for r in opening] == [
        (C, 2_400_000, 0),
        (A, 15_000_000, 0),
        (B, 0, 3_000),
    ]
    report = build_daily_report(ledger.engine, D2, opening, CLOSES_D2, TARGETS)
    assert by_security(report)[A].financing.balance == 7_500_000


def test_a_rerun_after_later_business_rewrites_byte_identical_files(
    ledger: Ledger, tmp_path: Path
) -> None:
    post_day_one(ledger)
    paths = write_report_files(
        tmp_path, build_daily_report(ledger.engine, D1, (), CLOSES_D1, TARGETS)
    )
    first = {p.name: p.read_bytes() for p in paths}
    post_day_two(ledger)  # business of the next day is already in the journal
    again = write_report_files(
        tmp_path, build_daily_report(ledger.engine, D1, (), CLOSES_D1, TARGETS)
    )
    assert {p.name: p.read_bytes() for p in again} == first
    assert sorted(first) == sorted(
        name for ex in ("SH", "SZ") for name in report_file_names(D1, ex).values()
    )
    assert not list(tmp_path.glob("*.partial"))


def test_a_backdated_posting_makes_the_next_report_differ_from_the_ledger(ledger: Ledger) -> None:
    post_day_one(ledger)
    first = build_daily_report(ledger.engine, D1, (), CLOSES_D1, TARGETS)
    # posted after D1's report was published, dated D1
    ledger.post(ops.open_financing("mb-late", financing_terms("F9", "C2", 77_700, 100, A, D1)))
    with pytest.raises(ReportRefused) as refused:
        build_daily_report(ledger.engine, D2, first.rows, CLOSES_D2, TARGETS)
    assert [
        (v.code, v.security, v.field, v.actual, v.expected) for v in refused.value.violations
    ] == [(ReportCheck.LEDGER_MISMATCH, A, "financing_balance", 15_000_000, 15_077_700)]


def test_a_debt_movement_of_an_unknown_kind_is_refused_and_an_adjustment_is_reported(
    ledger: Ledger,
) -> None:
    post_day_one(ledger)
    first = build_daily_report(ledger.engine, D1, (), CLOSES_D1, TARGETS)
    ledger.post(ops.deposit_cash("dep-1", D2, "C1", 1_000_000))
    ledger.post(
        ops.repay_financing("adj-1", D2, "C1", [Allocation("F1", 0, 4_321)], kind=ADJUSTMENT_KIND)
    )
    report = build_daily_report(ledger.engine, D2, first.rows, CLOSES_D2, TARGETS)
    assert by_security(report)[A].financing == DebtFigures(adjustment=4_321, balance=14_995_679)
    ledger.post(
        ops.repay_financing("odd-1", D2, "C1", [Allocation("F1", 0, 100)], kind="mystery_repayment")
    )
    with pytest.raises(ReportRefused) as refused:
        build_daily_report(ledger.engine, D2, first.rows, CLOSES_D2, TARGETS)
    assert [(v.code, v.security, v.field, v.actual) for v in refused.value.violations] == [
        (ReportCheck.UNCLASSIFIED_MOVEMENT, A, "mystery_repayment", 100),
        (ReportCheck.LEDGER_MISMATCH, A, "financing_balance", 14_995_679),
    ]


def test_a_day_without_business_still_gives_every_file_with_the_header_only(
    store: Engine, tmp_path: Path
) -> None:
    report = build_daily_report(store, D1, (), {}, TARGETS)
    assert report.rows == ()
    paths = write_report_files(tmp_path, report)
    paths += write_default_files(tmp_path, D1, default_record_rows(D1, []))
    assert len(paths) == 9
    for path in paths:
        data = path.read_bytes()
        if path.suffix == ".csv":
            encoding = "gb18030" if ".gb18030." in path.name else "utf-8"
            assert data.decode(encoding).count("\r\n") == 1
        else:
            sheet = load_workbook(io.BytesIO(data)).worksheets[0]
            assert sheet.max_row == 1 and sheet["A1"].value == "交易日期"
    assert read_report_rows(tmp_path, D1) == ()


# --------------------------------------------------------------------------- formats


def sample_report() -> ExchangeReport:
    rows = (
        ReportRow(
            D1, C, DebtFigures(1_000_001, 0, 0, 0, 0, 1_000_001), DebtFigures(), 11_800, 0, False
        ),
        ReportRow(
            D1,
            A,
            DebtFigures(12_345_678_901, 0, 0, 0, 0, 12_345_678_901),
            DebtFigures(3_300, 0, 0, 0, 0, 3_300),
            10_005,
            3_301_650,
            True,
        ),
        ReportRow(D1, B, DebtFigures(7, 0, 0, 0, 0, 7), DebtFigures(), None, 0, True),
    )
    return validated_report(D1, (), rows)


@pytest.mark.parametrize("exchange", ["SH", "SZ"])
def test_each_format_reads_back_the_rows_of_its_exchange(exchange: str) -> None:
    report = sample_report()
    mine = report.for_exchange(exchange)
    assert read_report_csv(report_csv(report, exchange), exchange) == mine
    gb = report_csv(report, exchange, "gb18030")
    assert read_report_csv(gb, exchange, "gb18030") == mine
    assert read_report_xlsx(report_xlsx(report, exchange), exchange) == mine


def test_the_csv_text_is_the_exchange_header_then_exact_yuan_and_shares() -> None:
    report = sample_report()
    utf8, gb = report_csv(report, "SH"), report_csv(report, "SH", "gb18030")
    assert utf8 != gb and utf8.decode("utf-8") == gb.decode("gb18030")
    lines = utf8.decode("utf-8").split("\r\n")
    assert lines[0].split(",")[:4] == ["交易日期", "证券代码", "融资买入额", "融资还款额"]
    assert lines[1] == (
        "20260302,600000,123456789.01,0.00,0.00,0.00,0.00,0.00,123456789.01,"
        "3300,0,0,0,0,0,3300,10.005,33016.50,123489805.51,是"
    )
    assert lines[2].endswith(",0,,0.00,0.07,是")  # no close and no short: blank price


def test_the_xlsx_keeps_codes_as_text_and_amounts_as_exact_numbers() -> None:
    data = report_xlsx(sample_report(), "SZ")
    sheet = load_workbook(io.BytesIO(data)).worksheets[0]
    assert sheet.title == "融资融券交易日报"
    assert (sheet["B2"].value, sheet["C2"].value, sheet["C2"].number_format) == (
        "000001",
        10000.01,
        "0.00",
    )


def test_xlsx_bytes_carry_no_clock_and_reruns_are_identical() -> None:
    report = sample_report()
    data = report_xlsx(report, "SH")
    assert report_xlsx(report, "SH") == data
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        assert {info.date_time for info in archive.infolist()} == {(2026, 3, 2, 0, 0, 0)}
        core = archive.read("docProps/core.xml").decode()
    assert set(re.findall(r"\d{4}-\d\d-\d\dT[\d:]+Z?", core)) == {"2026-03-02T00:00:00Z"}


def test_a_file_whose_totals_disagree_with_their_parts_is_refused() -> None:
    text = report_csv(sample_report(), "SH").decode("utf-8")
    tampered = text.replace("123489805.51", "123489805.52")
    with pytest.raises(ValueError, match="total_balance"):
        read_report_csv(tampered.encode("utf-8"), "SH")
    with pytest.raises(ValueError, match="not this layout"):
        read_report_csv(b"a,b\r\n", "SH")


def test_default_record_files_round_trip_names_outside_gbk() -> None:
    shortfall, overdue = DefaultKind.LIQUIDATION_SHORTFALL, DefaultKind.OVERDUE_DEBT
    events = [
        DefaultEvent("E1", "C1", "张𠮷", shortfall, D1, 98_765, None, "平仓后欠款, 已催收"),
        DefaultEvent("E2", "C2", "李四", overdue, D1, 0, D2),
    ]
    rows = default_record_rows(D2, events)
    for encoding in ("utf-8", "gb18030"):
        data = default_records_csv(rows, encoding)
        assert read_default_records_csv(data, encoding) == rows
    with pytest.raises(UnicodeEncodeError):
        "张𠮷".encode("gbk")  # why GB18030 and not GBK
    line = default_records_csv(rows).decode().split("\r\n")[1]
    assert line == '20260303,E1,C1,张𠮷,平仓后仍有欠款,20260302,987.65,存续,"平仓后欠款, 已催收"'
    assert read_default_records_xlsx(default_records_xlsx(D2, rows)) == rows
    with pytest.raises(ValueError, match="in the file of"):
        default_records_xlsx(D1, rows)


def test_write_default_files_names_and_rerun_bytes(tmp_path: Path) -> None:
    rows = default_record_rows(D2, [DefaultEvent("E1", "C1", "王五", DefaultKind.OTHER, D2, 1)])
    first = {p.name: p.read_bytes() for p in write_default_files(tmp_path, D2, rows)}
    again = {p.name: p.read_bytes() for p in write_default_files(tmp_path, D2, rows)}
    assert first == again
    assert sorted(first) == sorted(default_file_names(D2).values())


def test_the_layout_doc_names_every_column() -> None:
    text = DOCS.read_text(encoding="utf-8")
    for column in (*REPORT_COLUMNS, *DEFAULT_COLUMNS):
        assert f"| {column.zh} | `{column.en}` |" in text, column.en
