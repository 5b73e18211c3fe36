"""A workbook of one sheet (XLSX, SpreadsheetML), written as its parts directly: a header
row, frozen, then rows of text, integers and exact decimals.

Written here rather than through a spreadsheet library's cell objects: a report's default
records run to hundreds of thousands of cells, which those build one object each (about
18 µs a cell), where this writes each cell's text once.

Invariants:
- the same cells and moment give the same bytes: the document's created and modified times
  and every zip entry's time are the moment given, and nothing else varies;
- text is stored as inline strings, whole (spaces kept); a number as the exact decimal text
  of its value (an ``int`` or a ``Decimal``, never a float), in its column's number format;
  an empty cell (None) is written only for its column's number format;
- text a workbook cannot hold (XML's forbidden control characters) is refused, not dropped.
"""

from __future__ import annotations

import io
import re
import zipfile
from collections.abc import Iterable, Sequence
from datetime import datetime
from decimal import Decimal
from xml.sax.saxutils import escape

from openpyxl.utils import get_column_letter

Cell = Decimal | int | str | None

_MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
_RELS = "http://schemas.openxmlformats.org/package/2006/relationships"
_DOC_RELS = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
_SHEET_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml"
_BUILT_IN_FORMATS = {"0": 1, "0.00": 2}  # the rest are declared from id 164
_FIRST_CUSTOM_FORMAT = 164
_FORBIDDEN = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
_DECLARATION = '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'


def _text(value: str) -> str:
    if _FORBIDDEN.search(value):
        raise ValueError(f"text a workbook cannot hold (a control character): {value!r}")
    return escape(value)


def _attribute(value: str) -> str:
    """``_text`` inside an attribute's double quotes (a format code often holds quotes)."""
    return _text(value).replace('"', "&quot;")


def _cells(
    row_number: int, letters: Sequence[str], styles: Sequence[str], row: Sequence[Cell]
) -> str:
    parts = [f'<row r="{row_number}">']
    for letter, style, value in zip(letters, styles, row, strict=True):
        at = f"{letter}{row_number}"
        if value is None:  # kept only for its column's number format
            parts.append(f'<c r="{at}"{style}/>' if style else "")
            continue
        if isinstance(value, str):
            parts.append(
                f'<c r="{at}" t="inlineStr"><is><t xml:space="preserve">{_text(value)}</t></is></c>'
            )
        elif isinstance(value, int) and not isinstance(value, bool):
            parts.append(f'<c r="{at}"{style}><v>{value}</v></c>')
        elif isinstance(value, Decimal) and value.is_finite():
            parts.append(f'<c r="{at}"{style}><v>{value:f}</v></c>')  # never in E notation
        else:
            raise TypeError(f"a cell holds text, an int or a finite Decimal, not {value!r}")
    parts.append("</row>")
    return "".join(parts)


def _styles(formats: Sequence[str | None]) -> tuple[str, dict[str, int]]:
    """The styles part, and each number format's cell style (its position in cellXfs)."""
    distinct = sorted({f for f in formats if f is not None})
    custom = [f for f in distinct if f not in _BUILT_IN_FORMATS]
    ids = {f: _BUILT_IN_FORMATS.get(f) or _FIRST_CUSTOM_FORMAT + custom.index(f) for f in distinct}
    declared = "".join(
        f'<numFmt numFmtId="{ids[f]}" formatCode="{_attribute(f)}"/>' for f in custom
    )
    xfs = '<xf numFmtId="0" fontId="0" fillId="0" borderId="0" xfId="0"/>' + "".join(
        f'<xf numFmtId="{ids[f]}" fontId="0" fillId="0" borderId="0" xfId="0" '
        'applyNumberFormat="1"/>'
        for f in distinct
    )
    part = (
        f'{_DECLARATION}<styleSheet xmlns="{_MAIN}">'
        + (f'<numFmts count="{len(custom)}">{declared}</numFmts>' if custom else "")
        + '<fonts count="1"><font><sz val="11"/><name val="Calibri"/><family val="2"/></font>'
        "</fonts>"
        '<fills count="2"><fill><patternFill patternType="none"/></fill>'
        '<fill><patternFill patternType="gray125"/></fill></fills>'
        '<borders count="1"><border><left/><right/><top/><bottom/><diagonal/></border>'
        "</borders>"
        '<cellStyleXfs count="1"><xf numFmtId="0" fontId="0" fillId="0" borderId="0"/>'
        "</cellStyleXfs>"
        f'<cellXfs count="{len(distinct) + 1}">{xfs}</cellXfs>'
        '<cellStyles count="1"><cellStyle name="Normal" xfId="0" builtinId="0"/></cellStyles>'
        "</styleSheet>"
    )
    return part, {f: position for position, f in enumerate(distinct, start=1)}


def _sheet(
    header: Sequence[str], formats: Sequence[str | None], rows: Iterable[Sequence[Cell]]
) -> tuple[str, str]:
    """The worksheet part, and the styles part its cells refer to."""
    styles_part, style_of = _styles(formats)
    letters = [get_column_letter(i) for i in range(1, len(header) + 1)]
    styles = [f' s="{style_of[f]}"' if f is not None else "" for f in formats]
    lines = [_cells(1, letters, [""] * len(header), header)]
    lines.extend(_cells(n, letters, styles, row) for n, row in enumerate(rows, start=2))
    last = f"{letters[-1]}{len(lines)}" if letters else "A1"
    sheet = (
        f'{_DECLARATION}<worksheet xmlns="{_MAIN}" xmlns:r="{_DOC_RELS}">'
        f'<dimension ref="A1:{last}"/>'
        '<sheetViews><sheetView workbookViewId="0">'
        '<pane ySplit="1" topLeftCell="A2" activePane="bottomLeft" state="frozen"/>'
        '<selection pane="bottomLeft" activeCell="A2" sqref="A2"/></sheetView></sheetViews>'
        '<sheetFormatPr defaultRowHeight="15"/>'
        f"<sheetData>{''.join(lines)}</sheetData></worksheet>"
    )
    return sheet, styles_part


def _package(title: str, stamp: datetime) -> dict[str, str]:
    """Every part but the sheet and its styles."""
    when = stamp.strftime("%Y-%m-%dT%H:%M:%SZ")
    return {
        "[Content_Types].xml": (
            f'{_DECLARATION}<Types xmlns="http://schemas.openxmlformats.org/package/2006/'
            'content-types">'
            f'<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.'
            'relationships+xml"/>'
            '<Default Extension="xml" ContentType="application/xml"/>'
            f'<Override PartName="/xl/workbook.xml" ContentType="{_SHEET_TYPE}.sheet.main+xml"/>'
            '<Override PartName="/xl/worksheets/sheet1.xml" '
            f'ContentType="{_SHEET_TYPE}.worksheet+xml"/>'
            f'<Override PartName="/xl/styles.xml" ContentType="{_SHEET_TYPE}.styles+xml"/>'
            '<Override PartName="/docProps/core.xml" ContentType="application/vnd.'
            'openxmlformats-package.core-properties+xml"/>'
            '<Override PartName="/docProps/app.xml" ContentType="application/vnd.'
            'openxmlformats-officedocument.extended-properties+xml"/>'
            "</Types>"
        ),
        "_rels/.rels": (
            f'{_DECLARATION}<Relationships xmlns="{_RELS}">'
            f'<Relationship Id="rId1" Type="{_DOC_RELS}/officeDocument" Target="xl/workbook.xml"/>'
            f'<Relationship Id="rId2" Type="{_RELS}/metadata/core-properties" '
            'Target="docProps/core.xml"/>'
            f'<Relationship Id="rId3" Type="{_DOC_RELS}/extended-properties" '
            'Target="docProps/app.xml"/>'
            "</Relationships>"
        ),
        "docProps/app.xml": (
            f"{_DECLARATION}<Properties "
            'xmlns="http://schemas.openxmlformats.org/officeDocument/2006/extended-properties">'
            "<Application>liangrong</Application></Properties>"
        ),
        "docProps/core.xml": (
            f"{_DECLARATION}<cp:coreProperties "
            'xmlns:cp="http://schemas.openxmlformats.org/package/2006/metadata/core-properties" '
            'xmlns:dc="http://purl.org/dc/elements/1.1/" '
            'xmlns:dcterms="http://purl.org/dc/terms/" '
            'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">'
            f"<dc:title>{_text(title)}</dc:title>"
            f'<dcterms:created xsi:type="dcterms:W3CDTF">{when}</dcterms:created>'
            f'<dcterms:modified xsi:type="dcterms:W3CDTF">{when}</dcterms:modified>'
            "</cp:coreProperties>"
        ),
        "xl/workbook.xml": (
            f'{_DECLARATION}<workbook xmlns="{_MAIN}" xmlns:r="{_DOC_RELS}">'
            '<bookViews><workbookView activeTab="0"/></bookViews>'
            f'<sheets><sheet name="{_attribute(title)}" sheetId="1" r:id="rId1"/></sheets>'
            "</workbook>"
        ),
        "xl/_rels/workbook.xml.rels": (
            f'{_DECLARATION}<Relationships xmlns="{_RELS}">'
            f'<Relationship Id="rId1" Type="{_DOC_RELS}/worksheet" '
            'Target="worksheets/sheet1.xml"/>'
            f'<Relationship Id="rId2" Type="{_DOC_RELS}/styles" Target="styles.xml"/>'
            "</Relationships>"
        ),
    }


def sheet_xlsx(
    title: str,
    header: Sequence[str],
    formats: Sequence[str | None],
    rows: Iterable[Sequence[Cell]],
    stamp: datetime,
) -> bytes:
    """The workbook: sheet ``title``, ``header`` in row 1 (frozen), then ``rows``; a number
    in column ``i`` shown in ``formats[i]`` (None: as it is); every time in it ``stamp``."""
    if len(formats) != len(header):
        raise ValueError(f"{len(formats)} formats for {len(header)} columns")
    if not 0 < len(title) <= 31 or set(title) & set("[]:*?/\\"):
        raise ValueError(f"not a sheet name: {title!r}")
    sheet, styles = _sheet(header, formats, rows)
    parts = _package(title, stamp) | {"xl/worksheets/sheet1.xml": sheet, "xl/styles.xml": styles}
    fixed_time = (stamp.year, stamp.month, stamp.day, stamp.hour, stamp.minute, stamp.second)
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, text in parts.items():
            entry = zipfile.ZipInfo(name, date_time=fixed_time)
            entry.compress_type = zipfile.ZIP_DEFLATED
            entry.external_attr = 0o600 << 16
            archive.writestr(entry, text.encode("utf-8"))
    return out.getvalue()
