"""A client statement as files: canonical JSON, and a bilingual PDF (Chinese first) through
WeasyPrint with a CJK font embedded.

Display rules (``docs/statements.md``): amounts in yuan with two decimals and thousands
separators from integer fen; a valuation kept in li becomes fen by the rule its meaning
implies: what the client has rounds down, what the client owes rounds up; prices in yuan with
three decimals; the maintenance ratio as a percentage truncated to 0.01%
(``statement.ratio_display``).

Invariants: the JSON bytes are the statement's canonical JSON in UTF-8 and read back to an
equal statement; every text of the HTML is escaped; the PDF is rendered with a font that
fontconfig lists for Chinese, or not at all: ``NoCjkFont`` names the package to install.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from fractions import Fraction
from html import escape

from liangrong.domain.contracts import ContractKind
from liangrong.domain.interest import ChargeKind
from liangrong.domain.money import Rounding, fen_to_yuan_text, li_to_fen, li_to_yuan_text
from liangrong.domain.pretrade_state import CreditLimits
from liangrong.domain.statement import (
    ContractLine,
    Figures,
    Statement,
    TradeKind,
    ratio_display,
    remaining,
    statement_json,
)

CJK_PACKAGE = "fonts-noto-cjk"  # Debian's Noto Sans CJK (SC, TC, JP, KR)
PREFERRED_FAMILY = "Noto Sans CJK SC"


class NoCjkFont(RuntimeError):
    """No font for Chinese is installed: the PDF would show empty boxes."""


@dataclass(frozen=True, slots=True, order=True)
class PdfFont:
    family: str  # as fontconfig names it (WeasyPrint resolves it there)
    path: str


def statement_json_bytes(statement: Statement) -> bytes:
    return statement_json(statement).encode("utf-8")


def find_cjk_font() -> PdfFont:
    """The installed font for Chinese text: Noto Sans CJK SC if present, else the first
    family fontconfig lists for ``zh`` (sorted, so the choice is stable)."""
    fc_list = shutil.which("fc-list")
    if fc_list is None:
        raise NoCjkFont(f"fontconfig (fc-list) is missing: install {CJK_PACKAGE} (Debian)")
    listed = subprocess.run(
        [fc_list, "--format", "%{family[0]}\t%{file}\n", ":lang=zh"],
        capture_output=True,
        text=True,
        check=False,
    ).stdout
    fonts = sorted(
        PdfFont(family, path)
        for family, _, path in (line.partition("\t") for line in listed.splitlines())
        if family and path
    )
    if not fonts:
        raise NoCjkFont(
            f"no font for Chinese is installed (fc-list :lang=zh lists none): install the "
            f"Debian package {CJK_PACKAGE} ({PREFERRED_FAMILY})"
        )
    return next((f for f in fonts if f.family == PREFERRED_FAMILY), fonts[0])


def statement_pdf_bytes(statement: Statement, font: PdfFont | None = None) -> bytes:
    """The PDF, its text in ``font`` (default: ``find_cjk_font()``), the font embedded."""
    from weasyprint import HTML  # heavy: loaded only when a PDF is made

    chosen = font or find_cjk_font()
    document = HTML(string=statement_html(statement, chosen.family))
    return bytes(document.write_pdf())


# --------------------------------------------------------------------------- display


def _grouped(text: str) -> str:
    """``"-1234567.89"`` -> ``"-1,234,567.89"``."""
    sign = "-" if text.startswith("-") else ""
    whole, dot, part = text.lstrip("-").partition(".")
    groups: list[str] = []
    while len(whole) > 3:
        whole, groups = whole[:-3], [whole[-3:], *groups]
    return sign + ",".join([whole, *groups]) + dot + part


def yuan(amount_fen: int) -> str:
    return _grouped(fen_to_yuan_text(amount_fen))


def yuan_held(value_li: int) -> str:
    """A value the client has: rounded down to the fen."""
    return yuan(li_to_fen(value_li, Rounding.DOWN))


def yuan_owed(value_li: int) -> str:
    """A value the client owes: rounded up to the fen."""
    return yuan(li_to_fen(value_li, Rounding.UP))


def price(price_li: int) -> str:
    return _grouped(li_to_yuan_text(price_li))


def shares(quantity: int) -> str:
    return f"{quantity:,}"


def percent(rate: Fraction) -> str:
    return ratio_display(rate) or ""


_KIND_ZH = {ContractKind.FINANCING: "融资 financing", ContractKind.SHORT: "融券 short"}
_TRADE_ZH = {
    TradeKind.MARGIN_BUY: "融资买入 margin buy",
    TradeKind.SHORT_SELL: "融券卖出 short sell",
}
_CHARGE_ZH = {
    ChargeKind.INTEREST: "利息 interest",
    ChargeKind.LENDING_FEE: "融券费用 lending fee",
    ChargeKind.PENALTY: "罚息 penalty",
    ChargeKind.MANAGEMENT_FEE: "管理费 management fee",
}
_STATUS_ZH = {
    "safe": "正常 safe",
    "attention": "关注 attention",
    "warning": "警戒 warning",
    "liquidation": "平仓 liquidation",
    "emergency": "紧急 emergency",
}


def _limit_rows(limits: CreditLimits | None) -> list[tuple[str, str]]:
    if limits is None:
        return [("授信额度 Credit limits", "未登记 not on file")]
    financing_left, short_left, total_left = remaining(limits)
    return [
        ("融资额度 Financing limit", yuan(limits.financing_limit_fen)),
        ("融资剩余额度 Financing limit remaining", yuan(financing_left)),
        ("融券额度 Short limit", yuan(limits.short_limit_fen)),
        ("融券剩余额度 Short limit remaining", yuan(short_left)),
        ("总额度 Total limit", yuan(limits.total_limit_fen)),
        ("总剩余额度 Total limit remaining", yuan(total_left)),
    ]


def figure_rows(f: Figures) -> list[tuple[str, str]]:
    """(label, value) of every figure, in the statement's order."""
    return [
        *_limit_rows(f.limits),
        ("可用资金 Cash, free", yuan(f.cash_fen)),
        ("融券卖出冻结资金 Cash, locked short proceeds", yuan(f.locked_cash_fen)),
        ("担保证券市值 Collateral value (securities)", yuan_held(f.securities_value_li)),
        ("其他担保物 Other collateral", yuan(f.other_collateral_fen)),
        ("总资产 Total assets", yuan_held(f.total_assets_li)),
        ("融资负债 Financing owed", yuan(f.financing_owed_fen)),
        ("融券负债（市值） Shorts at market", yuan_owed(f.short_value_li)),
        ("应付利息及费用 Interest and fees owed", yuan(f.charges_owed_fen)),
        ("总负债 Total debt", yuan_owed(f.total_debt_li)),
        ("维持担保比例 Maintenance ratio", ratio_display(f.maintenance_ratio) or "无负债 no debt"),
        ("风险状态 Status", _STATUS_ZH.get(f.status, f.status)),
        ("保证金可用余额 Available margin", yuan(f.available_margin_fen)),
        ("可取资金 Withdrawable cash", yuan(f.withdrawable_fen)),
    ]


# --------------------------------------------------------------------------- HTML


def html_table(headers: Sequence[str], rows: Iterable[Sequence[str]], numeric_from: int) -> str:
    head = "".join(f"<th>{escape(h)}</th>" for h in headers)
    body = []
    for row in rows:
        cells = "".join(
            f'<td class="{"n" if i >= numeric_from else "t"}">{escape(v)}</td>'
            for i, v in enumerate(row)
        )
        body.append(f"<tr>{cells}</tr>")
    if not body:
        body.append(f'<tr><td colspan="{len(headers)}" class="t">无 none</td></tr>')
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def _figures_table(s: Statement) -> str:
    closing = figure_rows(s.closing)
    if s.opening is None:
        rows = [(label, "—", value) for label, value in closing]
    else:
        opening = dict(figure_rows(s.opening))
        rows = [(label, opening.get(label, "—"), value) for label, value in closing]
    headers = ("项目 Item", "期初 Opening", "期末 Closing")
    return html_table(headers, rows, 1)


def _accrued_text(c: ContractLine) -> str:
    parts = [f"{_CHARGE_ZH[k]} {yuan(v)}" for k, v in c.charges_accrued.items()]
    return "; ".join(parts) or "0.00"


def _contracts_table(s: Statement) -> str:
    headers = (
        "合约 Contract", "类型 Kind", "证券 Security", "开仓日 Opened", "到期日 Due",
        "利率 Rate", "未还本金 Principal owed", "期内计提 Accrued in period",
        "未付利息费用 Charges owed",
    )  # fmt: skip
    rows = [
        (
            c.contract_id,
            _KIND_ZH[c.kind],
            c.security,
            c.opened.isoformat(),
            c.due.isoformat() + (" *" if c.due_provisional else ""),
            percent(c.annual_rate),
            yuan(c.principal_owed)
            if c.kind is ContractKind.FINANCING
            else f"{shares(c.principal_owed)} 股 shares ({yuan_owed(c.value_li)})",
            _accrued_text(c),
            yuan(c.charges_owed_fen),
        )
        for c in s.contracts
    ]
    return html_table(headers, rows, 5)


def _trades_table(s: Statement) -> str:
    headers = (
        "日期 Date", "类型 Kind", "证券 Security", "合约 Contract", "价格 Price",
        "数量 Quantity", "成交金额 Amount", "费用 Fees",
    )  # fmt: skip
    rows = [
        (
            t.trade_date.isoformat(), _TRADE_ZH[t.kind], t.security, t.contract_id,
            price(t.price_li), shares(t.quantity), yuan(t.amount_fen), yuan(t.fees_fen),
        )
        for t in s.trades
    ]  # fmt: skip
    return html_table(headers, rows, 4)


def _positions_table(s: Statement) -> str:
    headers = ("证券 Security", "名称 Name", "数量 Quantity", "价格 Price", "市值 Value")
    rows = [
        (p.security, p.name, shares(p.quantity), price(p.price_li), yuan_held(p.value_li))
        for p in s.positions
    ]
    return html_table(headers, rows, 2)


PAGE_CSS = """
@page { size: A4 landscape; margin: 14mm 12mm;
        @bottom-right { content: counter(page) " / " counter(pages); font-size: 8pt; } }
body { font-family: "%(family)s"; font-size: 9pt; color: #111; }
h1 { font-size: 15pt; margin: 0 0 4pt 0; }
h2 { font-size: 11pt; margin: 12pt 0 4pt 0; border-bottom: 0.6pt solid #444; }
table { border-collapse: collapse; width: 100%%; }
th, td { border: 0.4pt solid #999; padding: 2pt 4pt; }
th { background: #eee; text-align: left; }
td.n { text-align: right; white-space: nowrap; }
.meta td { border: none; padding: 1pt 8pt 1pt 0; }
.note { font-size: 8pt; color: #444; }
"""


def statement_html(s: Statement, family: str) -> str:
    """The statement as one HTML page (WeasyPrint's input), text in ``family``."""
    close = s.closing
    period = f"{s.period_start.isoformat()} — {s.period_end.isoformat()}"
    opening = "—" if s.opening is None else f"{s.opening.valued_on} ({s.opening.prices})"
    meta = [
        ("客户号 Client", s.client_id),
        ("客户姓名 Name", s.holder_name),
        ("对账期间 Period", period),
        ("期初估值 Opening valued at", opening),
        ("期末估值 Closing valued at", f"{close.valued_on} ({close.prices})"),
        ("期内计提利息费用 Charges accrued in period", yuan(s.charges_accrued_fen)),
    ]
    meta_rows = "".join(f"<tr><td>{escape(k)}</td><td>{escape(v)}</td></tr>" for k, v in meta)
    notes = "".join(f'<p class="note">{escape(n)}</p>' for n in s.notes)
    title = f"融资融券对账单 Margin account statement {s.client_id} {period}"
    family_css = family.replace('"', "")
    return f"""<!DOCTYPE html>
<html lang="zh-CN"><head><meta charset="utf-8"><title>{escape(title)}</title>
<style>{PAGE_CSS % {"family": family_css}}</style></head>
<body>
<h1>融资融券对账单 Margin Account Statement</h1>
<table class="meta">{meta_rows}</table>
<h2>资产与负债 Assets and debt</h2>
{_figures_table(s)}
<h2>持仓 Positions ({escape(close.valued_on.isoformat())})</h2>
{_positions_table(s)}
<h2>负债合约 Debt contracts</h2>
{_contracts_table(s)}
<p class="note">* 到期日超出已载交易日历 the due date lies past the loaded trading calendar</p>
<h2>融资买入与融券卖出 Margin buys and short sales</h2>
{_trades_table(s)}
<p class="note">金额单位：元 Amounts in yuan. 资产按分向下取整，负债向上取整 Assets round down,
debts round up to the fen; 维持担保比例截断至0.01% the ratio is truncated to 0.01%.</p>
{notes}
</body></html>
"""
