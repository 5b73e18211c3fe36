"""The one-sheet XLSX writer: what a spreadsheet reads back is exactly what was written."""

from __future__ import annotations

import io
import zipfile
from datetime import datetime
from decimal import Decimal
from xml.etree import ElementTree

import pytest
from hypothesis import given
from hypothesis import strategies as st
from openpyxl import load_workbook

from liangrong.domain.money import fen_to_yuan_text
from liangrong.reports.xlsx_sheet import sheet_xlsx

STAMP = datetime(2026, 11, 20)
HEADER = ["代码", "金额", "价格", "数量", "说明"]
FORMATS = [None, "0.00", "0.000", "0", None]


def _book(rows: list[list[object]], read_only: bool = False):  # type: ignore[no-untyped-def]
    data = sheet_xlsx("融资融券交易日报", HEADER, FORMATS, rows, STAMP)  # type: ignore[arg-type]
    return load_workbook(io.BytesIO(data), read_only=read_only).worksheets[0]


def test_a_sheet_runs_past_column_z() -> None:
    header = [f"c{i}" for i in range(30)]
    data = sheet_xlsx("s", header, [None] * 30, [list(range(30))], STAMP)
    sheet = load_workbook(io.BytesIO(data)).worksheets[0]
    assert (sheet["Z2"].value, sheet["AA2"].value, sheet["AD2"].value) == (25, 26, 29)
    assert sheet.max_column == 30


def test_a_decimal_in_exponent_form_is_written_plainly() -> None:
    data = sheet_xlsx("s", ["a", "b"], ["0.00", "0"], [[Decimal("0E-2"), Decimal("1E+2")]], STAMP)
    sheet = load_workbook(io.BytesIO(data)).worksheets[0]
    assert (sheet["A2"].value, sheet["B2"].value) == (0, 100)
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        assert "<v>0.00</v>" in archive.read("xl/worksheets/sheet1.xml").decode()


def test_cells_read_back_as_written_with_their_formats_and_the_header_frozen() -> None:
    rows = [
        ["000001", Decimal("12345678.90"), Decimal("10.005"), 3300, "  a < b & c  "],
        ["600000", Decimal("-0.07"), None, 0, "𠮷"],
    ]
    sheet = _book(rows)  # type: ignore[arg-type]
    assert sheet.title == "融资融券交易日报"
    assert sheet.freeze_panes == "A2"
    assert [c.value for c in sheet[1]] == HEADER
    assert [c.value for c in sheet[2]] == ["000001", 12345678.9, 10.005, 3300, "  a < b & c  "]
    assert [c.value for c in sheet[3]] == ["600000", -0.07, None, 0, "𠮷"]
    assert [c.number_format for c in sheet[2]][1:4] == ["0.00", "0.000", "0"]
    assert sheet["C3"].number_format == "0.000"  # an empty cell keeps its column's format
    assert sheet["A2"].data_type == "s"  # a code stays text, its zeros kept
    read_only = _book(rows, read_only=True)  # type: ignore[arg-type]
    assert [list(r) for r in read_only.iter_rows(min_row=2, values_only=True)] == [
        ["000001", 12345678.9, 10.005, 3300, "  a < b & c  "],
        ["600000", -0.07, None, 0, "𠮷"],
    ]


def test_every_part_is_well_formed_and_dated_at_the_moment_given() -> None:
    data = sheet_xlsx("s", ["a"], [None], [["x"]], STAMP)
    assert data == sheet_xlsx("s", ["a"], [None], [["x"]], STAMP)
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        assert {i.date_time for i in archive.infolist()} == {(2026, 11, 20, 0, 0, 0)}
        for name in archive.namelist():
            ElementTree.fromstring(archive.read(name))
        assert "2026-11-20T00:00:00Z" in archive.read("docProps/core.xml").decode()


def test_a_header_only_sheet_has_one_row() -> None:
    sheet = _book([])
    assert sheet.max_row == 1 and sheet["A1"].value == "代码"


@pytest.mark.parametrize(
    ("rows", "error"),
    [
        ([["a\x01b", None, None, None, None]], ValueError),  # XML cannot hold it
        ([["a", 1.5, None, None, None]], TypeError),  # a float is never written
        ([["a", True, None, None, None]], TypeError),
        ([["a", Decimal("NaN"), None, None, None]], TypeError),
        ([["a", None, None, None]], ValueError),  # one cell short
    ],
)
def test_what_a_workbook_cannot_hold_exactly_is_refused(
    rows: list[list[object]], error: type
) -> None:
    with pytest.raises(error):
        sheet_xlsx("s", HEADER, FORMATS, rows, STAMP)  # type: ignore[arg-type]


def test_a_bad_sheet_name_or_format_count_is_refused() -> None:
    with pytest.raises(ValueError, match="sheet name"):
        sheet_xlsx("a/b", ["a"], [None], [], STAMP)
    with pytest.raises(ValueError, match="formats"):
        sheet_xlsx("s", ["a", "b"], [None], [], STAMP)


@given(
    st.lists(
        st.tuples(
            st.text(
                st.characters(exclude_categories=("Cs", "Cc"), exclude_characters="\ufffe\uffff")
            ),
            st.integers(-(10**15), 10**15),
        ),
        max_size=20,
    )
)
def test_any_text_and_whole_amount_reads_back_exactly(rows: list[tuple[str, int]]) -> None:
    cells = [[text, Decimal(fen_to_yuan_text(fen)), None, fen, None] for text, fen in rows]
    sheet = _book(cells, read_only=True)  # type: ignore[arg-type]
    back = [list(r) for r in sheet.iter_rows(min_row=2, values_only=True)]
    assert len(back) == len(rows)
    for (text, fen), (got_text, amount, _, quantity, _) in zip(rows, back, strict=True):
        assert (got_text or "") == text and quantity == fen
        assert Decimal(repr(amount)) == Decimal(fen_to_yuan_text(fen))


def test_quotes_in_a_sheet_name_and_a_format_code_stay_well_formed() -> None:
    data = sheet_xlsx('a "b" & <c>', ["x"], ['"¥"#,##0.00'], [[Decimal("1.50")]], STAMP)
    sheet = load_workbook(io.BytesIO(data)).worksheets[0]
    assert sheet.title == 'a "b" & <c>'
    assert (sheet["A2"].value, sheet["A2"].number_format) == (1.5, '"¥"#,##0.00')
