"""The published fee schedule (CON-5, REP-6) as files: a CSV table (exact values, one row per
line in force, per change of this version and per announced change) and a bilingual HTML
page (Chinese first) rendered to PDF the way statements are (``statement_render``: its table,
page style and CJK font).

Display rules: a rate is shown **exactly** as a percentage (``8.35%``; a schedule is never
truncated or rounded, unlike a ratio against a line), its daily rate (÷360) exactly when that
fits six decimals of a percent, else to six decimals marked ``≈``; parts per million as an
exact percentage (250 ppm = ``0.025%``); fen as yuan with two decimals.  The CSV holds the
exact values (``rule_codec.exact_text`` for rates: ``0.0835``; integers for ppm and fen;
the enumeration's value for a choice) next to their display.

Invariants: the same schedule gives the same rows, HTML and PDF bytes; every text of the
HTML is escaped (``statement_render.html_table``).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from fractions import Fraction
from html import escape

from liangrong.domain.fee_schedule import (
    PENALTY_IN_ADDITION,
    PENALTY_INSTEAD,
    Change,
    Item,
    Line,
    PublishedSchedule,
    SetBy,
    Unit,
    Value,
)
from liangrong.domain.fees import PPM
from liangrong.domain.interest import DAYS_PER_YEAR, RateBasis, SameDayUse
from liangrong.domain.money import ratio_text
from liangrong.domain.rule_codec import exact_text
from liangrong.reports.statement_render import PAGE_CSS, PdfFont, find_cjk_font, html_table, yuan

DAILY_PLACES = 6  # decimals of a percent shown for a daily rate that is not exact there

ITEM_NAMES = {
    Item.FINANCING_RATE: "融资利率 Financing rate",
    Item.LENDING_FEE_RATE: "融券费率 Securities lending fee rate",
    Item.PENALTY_RATE: "罚息利率 Penalty interest rate (overdue debt)",
    Item.MANAGEMENT_FEE_RATE: "管理费率 Management fee rate (same-day use)",
    Item.COMMISSION: "佣金 Commission",
    Item.COMMISSION_MINIMUM: "最低佣金（每笔） Minimum commission per order",
    Item.STAMP_DUTY_SELL: "印花税（仅卖出） Stamp duty (sales only)",
    Item.TRANSFER_FEE: "过户费 Transfer fee",
    Item.SAME_DAY_USE: "当日借入当日归还 Used and repaid the same day",
    Item.PENALTY_BASIS: "罚息计收方式 Penalty interest",
    Item.RATE_BASIS: "利率调整的适用 Rate changes",
}
_CHOICES = {
    SameDayUse.MANAGEMENT_FEE.value: "按管理费率计收一天 one day at the management fee rate",
    SameDayUse.ONE_DAY_AT_RATE.value: "按利率（费率）计收一天 one day at the contract's rate",
    PENALTY_IN_ADDITION: "在利率（费率）之外另计 in addition to the rate",
    PENALTY_INSTEAD: "代替利率（费率） instead of the rate",
    RateBasis.IN_FORCE.value: "自生效日起适用于未了结合约 reaches open contracts when in force",
    RateBasis.CONTRACT.value: "按合约约定利率，不随调整 the contract's own rate, unchanged",
}
_SET_BY = {
    SetBy.FIRM: "本公司 the firm",
    SetBy.STATE: "国家税收 the state (tax)",
    SetBy.CSDC: "中国结算 CSDC",
}
_RATES = (Item.FINANCING_RATE, Item.LENDING_FEE_RATE, Item.PENALTY_RATE, Item.MANAGEMENT_FEE_RATE)
_TRADING = (Item.COMMISSION, Item.COMMISSION_MINIMUM, Item.STAMP_DUTY_SELL, Item.TRANSFER_FEE)
_RULES = (Item.SAME_DAY_USE, Item.PENALTY_BASIS, Item.RATE_BASIS)
NONE = "—"


def file_stem(on: date, client_id: str | None) -> str:
    """``fee_schedule_2026-11-20`` (the firm's), ``fee_schedule_2026-11-20_C000004``."""
    return f"fee_schedule_{on.isoformat()}" + (f"_{client_id}" if client_id else "")


# --------------------------------------------------------------------------- values


def exact_percent(rate: Fraction) -> str:
    """``Fraction(167, 2000)`` -> ``"8.35%"``; never rounded (``1/3%`` when no decimal is)."""
    return exact_text(rate * 100) + "%"


def daily_percent(annual_rate: Fraction) -> str:
    """The day's rate (annual ÷ 360) as a percentage: exact, or ``≈`` to six decimals."""
    daily = annual_rate * 100 / DAYS_PER_YEAR
    if (daily * 10**DAILY_PLACES).denominator == 1:
        return exact_text(daily) + "%"
    return "≈" + ratio_text(daily, DAILY_PLACES) + "%"


def exact_value(value: Value) -> str:
    """The CSV's exact text: a rate as ``exact_text``, integers and choices as they are."""
    return exact_text(value) if isinstance(value, Fraction) else str(value)


def shown(item: Item, value: Value | None) -> str:
    """A value for a reader, by the item's unit."""
    if value is None:
        return NONE
    unit = item.unit
    if unit is Unit.ANNUAL_RATE:
        assert isinstance(value, Fraction), (item, value)
        return exact_percent(value)
    if unit is Unit.PPM_OF_VALUE:
        assert isinstance(value, int), (item, value)
        return exact_percent(Fraction(value, PPM))
    if unit is Unit.FEN:
        assert isinstance(value, int), (item, value)
        return yuan(value) + " 元"
    return _CHOICES.get(str(value), str(value))


# --------------------------------------------------------------------------- CSV rows

CSV_HEADER = (
    "schedule_date", "client_id", "record", "item", "name", "unit", "value", "shown",
    "firm_value", "client_value", "effective", "previous_value", "set_by",
)  # fmt: skip


def _line_row(s: PublishedSchedule, line: Line) -> tuple[str, ...]:
    agreed = "" if line.agreed is None else exact_value(line.agreed)
    return (
        s.on.isoformat(), s.client_id or "", "in_force", line.item.value,
        ITEM_NAMES[line.item], line.item.unit.value, exact_value(line.applied),
        shown(line.item, line.applied), exact_value(line.base), agreed,
        line.since.isoformat(), "", line.item.set_by.value,
    )  # fmt: skip


def _change_row(s: PublishedSchedule, record: str, change: Change) -> tuple[str, ...]:
    def text(value: Value | None) -> str:
        return "" if value is None else exact_value(value)

    item = change.item
    return (
        s.on.isoformat(), s.client_id or "", record, item.value, ITEM_NAMES[item],
        item.unit.value, text(change.after), shown(item, change.after), "", "",
        change.effective.isoformat(), text(change.before), item.set_by.value,
    )  # fmt: skip


def schedule_rows(s: PublishedSchedule) -> list[tuple[str, ...]]:
    """The CSV's rows under ``CSV_HEADER``: the lines in force, this version's changes
    (``change``) and the announced ones (``announced``)."""
    rows = [_line_row(s, line) for line in s.lines]
    rows += [_change_row(s, "change", c) for c in s.changes]
    return rows + [_change_row(s, "announced", c) for c in s.announced]


# --------------------------------------------------------------------------- HTML and PDF


def _lines(s: PublishedSchedule, items: Sequence[Item]) -> list[Line]:
    return [line for line in s.lines if line.item in items]


def _rates_table(s: PublishedSchedule) -> str:
    headers = (
        "项目 Item", "年利率 Annual rate", "日利率 Daily rate (÷360)", "公司基准 Firm base",
        "客户约定 Client agreed", "生效日 In force since",
    )  # fmt: skip
    rows = []
    for line in _lines(s, _RATES):
        applied = line.applied
        assert isinstance(applied, Fraction), line
        rows.append(
            (ITEM_NAMES[line.item], exact_percent(applied), daily_percent(applied),
             shown(line.item, line.base), shown(line.item, line.agreed),
             line.since.isoformat())
        )  # fmt: skip
    return html_table(headers, rows, 1)


def _trading_table(s: PublishedSchedule) -> str:
    headers = ("项目 Item", "标准 Rate", "收取方 Set by", "生效日 In force since")
    rows = [
        (ITEM_NAMES[line.item], shown(line.item, line.applied), _SET_BY[line.item.set_by],
         line.since.isoformat())
        for line in _lines(s, _TRADING)
    ]  # fmt: skip
    return html_table(headers, rows, 1)


def _rules_table(s: PublishedSchedule) -> str:
    headers = ("项目 Item", "规则 Rule", "生效日 In force since")
    rows = [
        (ITEM_NAMES[line.item], shown(line.item, line.applied), line.since.isoformat())
        for line in _lines(s, _RULES)
    ]
    return html_table(headers, rows, 2)


def _changes_table(changes: Sequence[Change]) -> str:
    headers = ("生效日 Effective", "项目 Item", "调整前 Before", "调整后 After")
    rows = [
        (c.effective.isoformat(), ITEM_NAMES[c.item], shown(c.item, c.before),
         shown(c.item, c.after))
        for c in changes
    ]  # fmt: skip
    return html_table(headers, rows, 2)


def _meta(s: PublishedSchedule) -> list[tuple[str, str]]:
    if s.client_id is None:
        audience = "全体客户（公司基准） all clients (the firm's base schedule)"
    elif s.agreement_on_file:
        audience = f"{s.client_id}（含客户约定利率 with the client's agreed rates）"
    else:
        audience = f"{s.client_id}（无单独约定，适用公司基准 no agreed rates: the firm's base）"
    version = s.version_date.isoformat() if s.version_date else NONE
    return [
        ("适用日期 In force on", s.on.isoformat()),
        ("适用客户 For", audience),
        ("本版本生效日 This version effective", version),
    ]


def schedule_html(s: PublishedSchedule, family: str) -> str:
    """The schedule as one HTML page (WeasyPrint's input), text in ``family``."""
    meta = "".join(f"<tr><td>{escape(k)}</td><td>{escape(v)}</td></tr>" for k, v in _meta(s))
    title = f"融资融券业务收费标准 Fee schedule {s.on.isoformat()} {s.client_id or ''}".strip()
    return f"""<!DOCTYPE html>
<html lang="zh-CN"><head><meta charset="utf-8"><title>{escape(title)}</title>
<style>{PAGE_CSS % {"family": family.replace('"', "")}}</style></head>
<body>
<h1>融资融券业务收费标准 Margin Financing and Securities Lending Fee Schedule</h1>
<table class="meta">{meta}</table>
<h2>利率与费率 Rates</h2>
{_rates_table(s)}
<p class="note">按自然日计提：每日按日终所欠金额 × 年利率 ÷ 360（融券以所欠股数 × 卖出价格为基数）；
到期日次日起未还部分另计罚息。 Charged every calendar day on what is owed at the day's end:
amount × annual rate ÷ 360 (a short: shares owed × their sale price); debt unpaid after its
maturity also pays penalty interest from the next day.</p>
<h2>交易费用 Trading charges</h2>
{_trading_table(s)}
<h2>计收规则 Charging rules</h2>
{_rules_table(s)}
<h2>本版本调整 Changes in this version</h2>
{_changes_table(s.changes)}
<h2>已公告的调整 Announced changes</h2>
{_changes_table(s.announced)}
<p class="note">“—”：无 none. 费率按交易金额计收 Trading charges are on the traded value.</p>
</body></html>
"""


def schedule_pdf_bytes(s: PublishedSchedule, font: PdfFont | None = None) -> bytes:
    """The PDF, text in ``font`` (default: ``find_cjk_font()``; ``NoCjkFont`` without one)."""
    from weasyprint import HTML  # heavy: loaded only when a PDF is made

    chosen = font or find_cjk_font()
    return bytes(HTML(string=schedule_html(s, chosen.family)).write_pdf())
