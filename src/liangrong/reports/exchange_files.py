"""The report files: the exchange daily report (REP-1), one file per exchange, and the
default-record file (REP-2, CLI-5), each as CSV in UTF-8, CSV in GB18030 and XLSX.

The layout of every column is in ``docs/reports.md``; the header is the exchange's own
Chinese name of each column, the English name is the documented one.

Invariants:
- the same rows give the same bytes: CSV is plain text (CRLF line ends, no BOM); the XLSX
  workbook's document times and every zip entry's time are the trading date at 00:00, so
  a rerun of the end of day rewrites byte-identical files;
- a day with nothing to report still gives every file, with the header only;
- amounts are yuan with exactly two decimals, prices yuan with three, quantities whole
  shares: each is the exact image of the integer fen, li or shares (no float on the way
  out; on the way back an XLSX number is read through its shortest decimal text);
- reading a file back gives the rows it was written from, and refuses a file whose
  derived columns (repaid totals, total balance) disagree with their parts;
- a file is replaced atomically (written beside, then renamed).
"""

from __future__ import annotations

import csv
import io
import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from enum import Enum
from pathlib import Path
from typing import Generic, TypeVar

from openpyxl import load_workbook

from liangrong.domain.default_records import DefaultKind, DefaultRecordRow, RecordStatus
from liangrong.domain.exchange_report import (
    DebtFigures,
    ExchangeReport,
    ReportRow,
    SubmittedReport,
)
from liangrong.domain.money import fen_to_yuan_text, li_to_yuan_text, yuan_to_fen, yuan_to_li
from liangrong.reports.xlsx_sheet import sheet_xlsx

R = TypeVar("R")
E = TypeVar("E", bound=Enum)
CSV_ENCODINGS = ("utf-8", "gb18030")
EXCHANGES = ("SH", "SZ")


class Unit(Enum):
    DATE = "YYYYMMDD"
    TEXT = "text"
    YUAN = "yuan, 2 decimals"  # from fen
    PRICE = "yuan, 3 decimals"  # from li
    SHARES = "shares"


Value = int | str | date | None


@dataclass(frozen=True, slots=True)
class Column(Generic[R]):
    zh: str  # the header, the exchange's name
    en: str  # the documented English name
    unit: Unit
    value: Callable[[R], Value]


def _text(unit: Unit, value: Value) -> str:
    if value is None:
        return ""
    if unit is Unit.DATE:
        assert isinstance(value, date)
        return value.strftime("%Y%m%d")
    if unit is Unit.YUAN:
        assert isinstance(value, int)
        return fen_to_yuan_text(value)
    if unit is Unit.PRICE:
        assert isinstance(value, int)
        return li_to_yuan_text(value)
    return str(value)


def _parse(unit: Unit, text: str) -> Value:
    if unit is Unit.TEXT:
        return text
    if not text:
        return None
    if unit is Unit.DATE:
        return date(int(text[:4]), int(text[4:6]), int(text[6:8]))
    if unit is Unit.YUAN:
        return yuan_to_fen(text)
    if unit is Unit.PRICE:
        return yuan_to_li(text)
    return int(text)


# --------------------------------------------------------------------------- layouts

FLAG_YES, FLAG_NO = "是", "否"


def _f(part: Callable[[DebtFigures], int]) -> Callable[[ReportRow], Value]:
    return lambda row: part(row.financing)


def _s(part: Callable[[DebtFigures], int]) -> Callable[[ReportRow], Value]:
    return lambda row: part(row.short)


REPORT_COLUMNS: tuple[Column[ReportRow], ...] = (
    Column("交易日期", "trading_date", Unit.DATE, lambda r: r.trading_date),
    Column("证券代码", "security_code", Unit.TEXT, lambda r: r.security.split(".")[0]),
    Column("融资买入额", "financing_buy_amount", Unit.YUAN, _f(lambda f: f.new)),
    Column("融资还款额", "financing_repaid_amount", Unit.YUAN, _f(lambda f: f.repaid)),
    Column("融资直接还款额", "financing_repaid_direct", Unit.YUAN, _f(lambda f: f.direct)),
    Column("融资卖券还款额", "financing_repaid_sell", Unit.YUAN, _f(lambda f: f.trade)),
    Column("融资强制平仓还款额", "financing_repaid_forced", Unit.YUAN, _f(lambda f: f.forced)),
    Column("融资权益调整额", "financing_adjustment", Unit.YUAN, _f(lambda f: f.adjustment)),
    Column("融资余额", "financing_balance", Unit.YUAN, _f(lambda f: f.balance)),
    Column("融券卖出量", "short_sold_quantity", Unit.SHARES, _s(lambda f: f.new)),
    Column("融券偿还量", "short_repaid_quantity", Unit.SHARES, _s(lambda f: f.repaid)),
    Column("融券直接还券量", "short_repaid_direct", Unit.SHARES, _s(lambda f: f.direct)),
    Column("融券买券还券量", "short_repaid_buy", Unit.SHARES, _s(lambda f: f.trade)),
    Column("融券强制平仓还券量", "short_repaid_forced", Unit.SHARES, _s(lambda f: f.forced)),
    Column("融券权益调整量", "short_adjustment", Unit.SHARES, _s(lambda f: f.adjustment)),
    Column("融券余量", "short_quantity", Unit.SHARES, _s(lambda f: f.balance)),
    Column("收盘价", "close_price", Unit.PRICE, lambda r: r.close_price_li),
    Column("融券余额", "short_balance", Unit.YUAN, lambda r: r.short_balance_fen),
    Column("融资融券余额", "total_balance", Unit.YUAN, lambda r: r.total_balance_fen),
    Column(
        "是否标的证券",
        "on_target_list",
        Unit.TEXT,
        lambda r: FLAG_YES if r.on_target_list else FLAG_NO,
    ),
)

DEFAULT_KIND_LABELS = {
    DefaultKind.OVERDUE_DEBT: "合约到期未偿还",
    DefaultKind.MARGIN_CALL_UNMET: "追加担保物未到位",
    DefaultKind.LIQUIDATION_SHORTFALL: "平仓后仍有欠款",
    DefaultKind.OVERDUE_CHARGES: "息费逾期",
    DefaultKind.BAD_CREDIT: "资信不良",
    DefaultKind.OTHER: "其他",
}
RECORD_STATUS_LABELS = {
    RecordStatus.NEW: "新增",
    RecordStatus.CONTINUING: "存续",
    RecordStatus.CURED: "解除",
    RecordStatus.WITHDRAWN: "撤销",
}

DEFAULT_COLUMNS: tuple[Column[DefaultRecordRow], ...] = (
    Column("交易日期", "trading_date", Unit.DATE, lambda r: r.trading_date),
    Column("记录编号", "record_id", Unit.TEXT, lambda r: r.event_id),
    Column("客户代码", "client_id", Unit.TEXT, lambda r: r.client_id),
    Column("客户名称", "client_name", Unit.TEXT, lambda r: r.client_name),
    Column("违约类型", "default_kind", Unit.TEXT, lambda r: DEFAULT_KIND_LABELS[r.kind]),
    Column("违约日期", "occurred_on", Unit.DATE, lambda r: r.occurred_on),
    Column("欠款金额", "amount_owed", Unit.YUAN, lambda r: r.amount_owed_fen),
    Column("记录状态", "record_status", Unit.TEXT, lambda r: RECORD_STATUS_LABELS[r.status]),
    Column("说明", "note", Unit.TEXT, lambda r: r.note),
)

# --------------------------------------------------------------------------- writers


def _csv_bytes(columns: Sequence[Column[R]], rows: Iterable[R], encoding: str) -> bytes:
    if encoding not in CSV_ENCODINGS:
        raise ValueError(f"encoding {encoding!r}: one of {CSV_ENCODINGS}")
    out = io.StringIO(newline="")
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow([c.zh for c in columns])
    for row in rows:
        writer.writerow([_text(c.unit, c.value(row)) for c in columns])
    return out.getvalue().encode(encoding)


_NUMBER_FORMATS = {Unit.YUAN: "0.00", Unit.PRICE: "0.000", Unit.SHARES: "0"}


def _cell(unit: Unit, value: Value) -> Decimal | int | str | None:
    """What the workbook holds: codes and dates as text, amounts as exact decimals."""
    if value is None:
        return None
    if unit in (Unit.YUAN, Unit.PRICE):
        return Decimal(_text(unit, value))
    if unit is Unit.SHARES:
        assert isinstance(value, int)
        return value
    return _text(unit, value)


def _xlsx_bytes(
    title: str, columns: Sequence[Column[R]], rows: Iterable[R], trading_date: date
) -> bytes:
    return sheet_xlsx(
        title,
        [c.zh for c in columns],
        [_NUMBER_FORMATS.get(c.unit) for c in columns],
        ([_cell(c.unit, c.value(row)) for c in columns] for row in rows),
        datetime.combine(trading_date, datetime.min.time()),
    )


REPORT_SHEET = "融资融券交易日报"
DEFAULT_SHEET = "融资融券信用违约"


def report_csv(report: ExchangeReport, exchange: str, encoding: str = "utf-8") -> bytes:
    return _csv_bytes(REPORT_COLUMNS, report.for_exchange(exchange), encoding)


def report_xlsx(report: ExchangeReport, exchange: str) -> bytes:
    rows = report.for_exchange(exchange)
    return _xlsx_bytes(REPORT_SHEET, REPORT_COLUMNS, rows, report.trading_date)


def default_records_csv(rows: Sequence[DefaultRecordRow], encoding: str = "utf-8") -> bytes:
    return _csv_bytes(DEFAULT_COLUMNS, rows, encoding)


def default_records_xlsx(trading_date: date, rows: Sequence[DefaultRecordRow]) -> bytes:
    _check_dates(trading_date, (r.trading_date for r in rows))
    return _xlsx_bytes(DEFAULT_SHEET, DEFAULT_COLUMNS, rows, trading_date)


def _check_dates(trading_date: date, dates: Iterable[date]) -> None:
    others = sorted({d for d in dates if d != trading_date})
    if others:
        raise ValueError(f"rows of {others} in the file of {trading_date}")


# --------------------------------------------------------------------------- file names


def _suffix(encoding: str) -> str:
    return ".csv" if encoding == "utf-8" else f".{encoding}.csv"


def report_file_names(trading_date: date, exchange: str) -> dict[str, str]:
    """Format ("utf-8", "gb18030", "xlsx") -> file name of one exchange's daily report."""
    stem = f"rzrq_daily_{exchange}_{trading_date:%Y%m%d}"
    names = {encoding: stem + _suffix(encoding) for encoding in CSV_ENCODINGS}
    return names | {"xlsx": f"{stem}.xlsx"}


def default_file_names(trading_date: date) -> dict[str, str]:
    stem = f"rzrq_default_{trading_date:%Y%m%d}"
    names = {encoding: stem + _suffix(encoding) for encoding in CSV_ENCODINGS}
    return names | {"xlsx": f"{stem}.xlsx"}


def submission_file(
    directory: Path, trading_date: date, report: SubmittedReport, exchange: str
) -> Path:
    """The file a member submits to ``exchange`` (the UTF-8 CSV): its daily report, or the
    default records (one file for every exchange)."""
    if report is SubmittedReport.DAILY:
        return directory / report_file_names(trading_date, exchange)["utf-8"]
    return directory / default_file_names(trading_date)["utf-8"]


def _write_atomic(path: Path, data: bytes) -> Path:
    partial = path.with_name(path.name + ".partial")
    partial.write_bytes(data)
    os.replace(partial, path)
    return path


def write_report_files(
    directory: Path, report: ExchangeReport, exchanges: Sequence[str] = EXCHANGES
) -> list[Path]:
    """Every format of each exchange's daily report; the same report rewrites the same bytes."""
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for exchange in exchanges:
        names = report_file_names(report.trading_date, exchange)
        for encoding in CSV_ENCODINGS:
            data = report_csv(report, exchange, encoding)
            written.append(_write_atomic(directory / names[encoding], data))
        written.append(_write_atomic(directory / names["xlsx"], report_xlsx(report, exchange)))
    return written


def write_default_files(
    directory: Path, trading_date: date, rows: Sequence[DefaultRecordRow]
) -> list[Path]:
    """Every format of the default-record file of ``trading_date`` (header only when empty)."""
    _check_dates(trading_date, (r.trading_date for r in rows))
    directory.mkdir(parents=True, exist_ok=True)
    names = default_file_names(trading_date)
    written = [
        _write_atomic(directory / names[encoding], default_records_csv(rows, encoding))
        for encoding in CSV_ENCODINGS
    ]
    written.append(
        _write_atomic(directory / names["xlsx"], default_records_xlsx(trading_date, rows))
    )
    return written


# --------------------------------------------------------------------------- readers


def _records(columns: Sequence[Column[R]], table: list[list[str]]) -> list[dict[str, Value]]:
    if not table or table[0] != [c.zh for c in columns]:
        raise ValueError(f"not this layout: header {table[0] if table else None}")
    return [
        {c.en: _parse(c.unit, text) for c, text in zip(columns, line, strict=True)}
        for line in table[1:]
    ]


def _csv_table(data: bytes, encoding: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(data.decode(encoding), newline="")))


def _cell_text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return repr(value)  # the shortest text of the stored decimal: 100.0, 1234.56
    return str(value)


def _xlsx_table(data: bytes) -> list[list[str]]:
    workbook = load_workbook(io.BytesIO(data), read_only=True)
    sheet = workbook.worksheets[0]
    table = [[_cell_text(v) for v in line] for line in sheet.iter_rows(values_only=True)]
    workbook.close()
    return table


def _int(record: dict[str, Value], name: str) -> int:
    value = record[name]
    assert isinstance(value, int), name
    return value


def _figures(record: dict[str, Value], names: Sequence[str]) -> DebtFigures:
    return DebtFigures(*(_int(record, name) for name in names))


_FINANCING = (
    "financing_buy_amount",
    "financing_repaid_direct",
    "financing_repaid_sell",
    "financing_repaid_forced",
    "financing_adjustment",
    "financing_balance",
)
_SHORT = (
    "short_sold_quantity",
    "short_repaid_direct",
    "short_repaid_buy",
    "short_repaid_forced",
    "short_adjustment",
    "short_quantity",
)


def _report_row(record: dict[str, Value], exchange: str) -> ReportRow:
    trading_date = record["trading_date"]
    close = record["close_price"]
    assert isinstance(trading_date, date) and (close is None or isinstance(close, int))
    row = ReportRow(
        trading_date,
        f"{record['security_code']}.{exchange}",
        _figures(record, _FINANCING),
        _figures(record, _SHORT),
        close,
        _int(record, "short_balance"),
        record["on_target_list"] == FLAG_YES,
    )
    derived = (
        ("financing_repaid_amount", row.financing.repaid),
        ("short_repaid_quantity", row.short.repaid),
        ("total_balance", row.total_balance_fen),
    )
    for name, expected in derived:
        if record[name] != expected:
            raise ValueError(f"{row.security}: {name} {record[name]} is not {expected}")
    return row


def read_report_csv(data: bytes, exchange: str, encoding: str = "utf-8") -> tuple[ReportRow, ...]:
    records = _records(REPORT_COLUMNS, _csv_table(data, encoding))
    return tuple(_report_row(r, exchange) for r in records)


def read_report_xlsx(data: bytes, exchange: str) -> tuple[ReportRow, ...]:
    return tuple(_report_row(r, exchange) for r in _records(REPORT_COLUMNS, _xlsx_table(data)))


def read_report_rows(directory: Path, trading_date: date) -> tuple[ReportRow, ...]:
    """A day's report rows of every exchange, from its UTF-8 files: yesterday's rows for
    today's report.  A missing file is an error, never an empty day."""
    rows: list[ReportRow] = []
    for exchange in EXCHANGES:
        path = directory / report_file_names(trading_date, exchange)["utf-8"]
        rows.extend(read_report_csv(path.read_bytes(), exchange))
    return tuple(sorted(rows, key=lambda r: r.security))


def _label(labels: Mapping[E, str], text: Value) -> E:
    found = [member for member, label in labels.items() if label == text]
    if len(found) != 1:
        raise ValueError(f"unknown label {text!r}")
    return found[0]


def _default_row(record: dict[str, Value]) -> DefaultRecordRow:
    kind = _label(DEFAULT_KIND_LABELS, record["default_kind"])
    status = _label(RECORD_STATUS_LABELS, record["record_status"])
    trading_date, occurred_on = record["trading_date"], record["occurred_on"]
    assert isinstance(trading_date, date) and isinstance(occurred_on, date)
    return DefaultRecordRow(
        trading_date,
        str(record["record_id"]),
        str(record["client_id"]),
        str(record["client_name"]),
        kind,
        occurred_on,
        _int(record, "amount_owed"),
        status,
        str(record["note"]),
    )


def read_default_records_csv(data: bytes, encoding: str = "utf-8") -> tuple[DefaultRecordRow, ...]:
    return tuple(_default_row(r) for r in _records(DEFAULT_COLUMNS, _csv_table(data, encoding)))


def read_default_records_xlsx(data: bytes) -> tuple[DefaultRecordRow, ...]:
    return tuple(_default_row(r) for r in _records(DEFAULT_COLUMNS, _xlsx_table(data)))
