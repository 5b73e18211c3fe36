"""A client's statement (对账单, ACC-5, REP-6): one credit account over one period, as pure
values with one canonical JSON form.

Units: money in integer fen, prices in integer li, quantities in shares.  A valuation
(quantity × price) is kept in li, where it is exact; it becomes fen only for display, by the
rule the figure's name implies (what the client has rounds down, what the client owes rounds
up).  The maintenance ratio is an exact ``Fraction`` (None without debt); its JSON form is
``rule_codec.exact_text`` and its display is a percentage truncated to 0.01%
(``money.ratio_text``: never shown above a line it is below).

Invariants, checked on construction (``AssertionError`` otherwise):
- figures: total assets = cash + locked cash + other collateral + securities value; total debt
  = financing owed + shorts at the day's price + charges owed; the ratio is their exact
  quotient; credit used is what the contracts owe (financing at principal, shorts at sale
  value);
- statement: the period does not end before it starts; the closing debt is the sum of the
  contracts' outstanding values and charges; the closing financing owed is the sum of the
  financing contracts' principal; the securities value is the sum of the positions'; every
  trade lies in the period, its amount is quantity × price (成交金额, half up) and it names a
  contract that is listed; a contract's accrued charges are positive amounts by kind.

The canonical JSON: keys sorted, no insignificant whitespace, UTF-8 (``journal.canonical_json``);
integers are JSON numbers, ratios and rates exact text, dates ISO; ``statement_from_json``
reads it back to an equal ``Statement``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from enum import Enum
from fractions import Fraction
from typing import Any

from liangrong.domain.contracts import ContractKind
from liangrong.domain.interest import ChargeKind
from liangrong.domain.journal import canonical_json
from liangrong.domain.money import LI_PER_FEN, ratio_text, trade_amount_fen
from liangrong.domain.pretrade_state import CreditLimits
from liangrong.domain.rule_codec import exact_text, parse_exact

FORMAT = "liangrong.statement/1"


class TradeKind(Enum):
    MARGIN_BUY = "margin_buy"  # 融资买入: opened a financing contract
    SHORT_SELL = "short_sell"  # 融券卖出: opened a short contract


def remaining(limits: CreditLimits) -> tuple[int, int, int]:
    """(financing, short, total) credit left, fen; never below zero (an account over a limit
    has nothing left, the excess shows in what is used)."""
    used = limits.financing_used_fen + limits.short_used_fen
    return (
        max(limits.financing_limit_fen - limits.financing_used_fen, 0),
        max(limits.short_limit_fen - limits.short_used_fen, 0),
        max(limits.total_limit_fen - used, 0),
    )


@dataclass(frozen=True, slots=True)
class Figures:
    """The account at one trading day's close."""

    valued_on: date  # the trading day whose prices value the account
    prices: str  # where those prices come from (recorded closes, or reference prices)
    cash_fen: int  # free cash in the credit cash account
    locked_cash_fen: int  # short-sale proceeds, locked while shorts are open
    other_collateral_fen: int
    securities_value_li: int  # collateral value: every security held, at the price, no haircut
    financing_owed_fen: int  # principal of the open financing contracts
    short_value_li: int  # shares owed on open shorts at the day's price
    short_sale_value_fen: int  # the same shorts at their sale value (what the limit counts)
    charges_owed_fen: int  # interest, fees and penalty accrued and unpaid
    total_assets_li: int
    total_debt_li: int
    maintenance_ratio: Fraction | None  # exact; None without debt
    available_margin_fen: int  # RISK-3, rounded down; negative: no new business
    withdrawable_fen: int  # RISK-8 cash the client may take out, rounded down
    status: str  # margin.RatioStatus value against the client's lines that day
    limits: CreditLimits | None  # None: the client's agreement is not on file

    def __post_init__(self) -> None:
        cash = self.cash_fen + self.locked_cash_fen + self.other_collateral_fen
        assert self.total_assets_li == cash * LI_PER_FEN + self.securities_value_li
        owed = self.financing_owed_fen + self.charges_owed_fen
        assert self.total_debt_li == owed * LI_PER_FEN + self.short_value_li
        debt = self.total_debt_li
        expected = Fraction(self.total_assets_li, debt) if debt else None
        assert self.maintenance_ratio == expected, (self.maintenance_ratio, expected)
        if self.limits is not None:
            assert self.limits.financing_used_fen == self.financing_owed_fen
            assert self.limits.short_used_fen == self.short_sale_value_fen


@dataclass(frozen=True, slots=True)
class Position:
    """A security held in the credit securities account at the period's end."""

    security: str
    name: str
    quantity: int
    price_li: int
    value_li: int

    def __post_init__(self) -> None:
        assert self.quantity > 0 and self.value_li == self.quantity * self.price_li, self


@dataclass(frozen=True, slots=True)
class ContractLine:
    """One debt contract open at some time in the period."""

    contract_id: str
    kind: ContractKind
    security: str
    opened: date
    due: date  # the maturity in force at the period's end (extensions and term changes)
    due_provisional: bool  # the maturity lies past the loaded calendar
    annual_rate: Fraction
    quantity: int  # shares bought or sold at opening
    amount_fen: int  # principal (financing, with the fees financed) or sale proceeds (short)
    principal_owed: int  # at the period's end: fen (financing) or shares (short)
    value_li: int  # what that principal counts as debt: fen × 10, or shares × the day's price
    charges_accrued: Mapping[ChargeKind, int]  # posted in the period, fen, by kind
    charges_owed_fen: int  # at the period's end

    def __post_init__(self) -> None:
        assert self.principal_owed >= 0 and self.charges_owed_fen >= 0, self.contract_id
        assert all(v > 0 for v in self.charges_accrued.values()), self.contract_id
        if self.kind is ContractKind.FINANCING:
            assert self.value_li == self.principal_owed * LI_PER_FEN, self.contract_id

    @property
    def charges_accrued_fen(self) -> int:
        return sum(self.charges_accrued.values())

    @property
    def debt_li(self) -> int:
        return self.value_li + self.charges_owed_fen * LI_PER_FEN


@dataclass(frozen=True, slots=True)
class Trade:
    """A margin buy or short sale filled in the period (each opened its own contract)."""

    trade_date: date
    contract_id: str
    kind: TradeKind
    security: str
    price_li: int
    quantity: int
    amount_fen: int  # 成交金额: quantity × price, half up to the fen
    fees_fen: int  # commission, stamp duty and transfer fee

    def __post_init__(self) -> None:
        assert self.amount_fen == trade_amount_fen(self.quantity, self.price_li), self
        assert self.quantity > 0 and self.fees_fen >= 0, self


@dataclass(frozen=True, slots=True)
class Statement:
    client_id: str
    holder_name: str
    period_start: date
    period_end: date
    opening: Figures | None  # the close before the period; None: no reference data for it
    closing: Figures
    positions: tuple[Position, ...] = ()
    contracts: tuple[ContractLine, ...] = ()
    trades: tuple[Trade, ...] = ()
    notes: tuple[str, ...] = field(default=())  # what the reader should know (English)

    def __post_init__(self) -> None:
        assert self.period_start <= self.period_end, (self.period_start, self.period_end)
        close = self.closing
        assert close.total_debt_li == sum(c.debt_li for c in self.contracts), self.client_id
        financing = [c for c in self.contracts if c.kind is ContractKind.FINANCING]
        assert close.financing_owed_fen == sum(c.principal_owed for c in financing)
        assert close.charges_owed_fen == sum(c.charges_owed_fen for c in self.contracts)
        assert close.securities_value_li == sum(p.value_li for p in self.positions)
        listed = {c.contract_id for c in self.contracts}
        for trade in self.trades:
            assert self.period_start <= trade.trade_date <= self.period_end, trade
            assert trade.contract_id in listed, trade
        assert list(self.contracts) == sorted(self.contracts, key=lambda c: c.contract_id)
        assert list(self.trades) == sorted(self.trades, key=_trade_key)

    @property
    def charges_accrued_fen(self) -> int:
        return sum(c.charges_accrued_fen for c in self.contracts)


def _trade_key(trade: Trade) -> tuple[date, str]:
    return (trade.trade_date, trade.contract_id)


def ratio_display(ratio: Fraction | None) -> str | None:
    """The ratio as a percentage truncated to 0.01% (``"153.27%"``); None without debt."""
    return None if ratio is None else ratio_text(ratio * 100, 2) + "%"


# --------------------------------------------------------------------------- JSON


def _limits_doc(limits: CreditLimits | None) -> dict[str, int] | None:
    if limits is None:
        return None
    financing_left, short_left, total_left = remaining(limits)
    return {
        "financing_limit_fen": limits.financing_limit_fen,
        "short_limit_fen": limits.short_limit_fen,
        "total_limit_fen": limits.total_limit_fen,
        "financing_used_fen": limits.financing_used_fen,
        "short_used_fen": limits.short_used_fen,
        "financing_remaining_fen": financing_left,
        "short_remaining_fen": short_left,
        "total_remaining_fen": total_left,
    }


def _ratio_doc(value: Fraction | None) -> str | None:
    return None if value is None else exact_text(value)


def _figures_doc(f: Figures) -> dict[str, object]:
    return {
        "valued_on": f.valued_on.isoformat(),
        "prices": f.prices,
        "cash_fen": f.cash_fen,
        "locked_cash_fen": f.locked_cash_fen,
        "other_collateral_fen": f.other_collateral_fen,
        "securities_value_li": f.securities_value_li,
        "financing_owed_fen": f.financing_owed_fen,
        "short_value_li": f.short_value_li,
        "short_sale_value_fen": f.short_sale_value_fen,
        "charges_owed_fen": f.charges_owed_fen,
        "total_assets_li": f.total_assets_li,
        "total_debt_li": f.total_debt_li,
        "maintenance_ratio": _ratio_doc(f.maintenance_ratio),
        "available_margin_fen": f.available_margin_fen,
        "withdrawable_fen": f.withdrawable_fen,
        "status": f.status,
        "credit_limits": _limits_doc(f.limits),
    }


def _position_doc(p: Position) -> dict[str, object]:
    return {
        "security": p.security,
        "name": p.name,
        "quantity": p.quantity,
        "price_li": p.price_li,
        "value_li": p.value_li,
    }


def _contract_doc(c: ContractLine) -> dict[str, object]:
    return {
        "contract_id": c.contract_id,
        "kind": c.kind.value,
        "security": c.security,
        "opened": c.opened.isoformat(),
        "due": c.due.isoformat(),
        "due_provisional": c.due_provisional,
        "annual_rate": exact_text(c.annual_rate),
        "quantity": c.quantity,
        "amount_fen": c.amount_fen,
        "principal_owed": c.principal_owed,
        "value_li": c.value_li,
        "charges_accrued_fen": {k.value: v for k, v in c.charges_accrued.items()},
        "charges_owed_fen": c.charges_owed_fen,
    }


def _trade_doc(t: Trade) -> dict[str, object]:
    return {
        "trade_date": t.trade_date.isoformat(),
        "contract_id": t.contract_id,
        "kind": t.kind.value,
        "security": t.security,
        "price_li": t.price_li,
        "quantity": t.quantity,
        "amount_fen": t.amount_fen,
        "fees_fen": t.fees_fen,
    }


def statement_document(s: Statement) -> dict[str, object]:
    """The JSON-ready document (every value a str, int, bool, None, list or dict)."""
    return {
        "format": FORMAT,
        "client_id": s.client_id,
        "holder_name": s.holder_name,
        "period": {"start": s.period_start.isoformat(), "end": s.period_end.isoformat()},
        "opening": None if s.opening is None else _figures_doc(s.opening),
        "closing": _figures_doc(s.closing),
        "positions": [_position_doc(p) for p in s.positions],
        "contracts": [_contract_doc(c) for c in s.contracts],
        "trades": [_trade_doc(t) for t in s.trades],
        "charges_accrued_fen": s.charges_accrued_fen,
        "notes": list(s.notes),
    }


def statement_json(s: Statement) -> str:
    return canonical_json(statement_document(s))


def _day(value: Any) -> date:
    return date.fromisoformat(str(value))


def _limits(doc: Any) -> CreditLimits | None:
    if doc is None:
        return None
    return CreditLimits(
        doc["financing_limit_fen"], doc["short_limit_fen"], doc["total_limit_fen"],
        doc["financing_used_fen"], doc["short_used_fen"],
    )  # fmt: skip


def _figures(doc: Any) -> Figures:
    ratio = doc["maintenance_ratio"]
    return Figures(
        valued_on=_day(doc["valued_on"]),
        prices=doc["prices"],
        cash_fen=doc["cash_fen"],
        locked_cash_fen=doc["locked_cash_fen"],
        other_collateral_fen=doc["other_collateral_fen"],
        securities_value_li=doc["securities_value_li"],
        financing_owed_fen=doc["financing_owed_fen"],
        short_value_li=doc["short_value_li"],
        short_sale_value_fen=doc["short_sale_value_fen"],
        charges_owed_fen=doc["charges_owed_fen"],
        total_assets_li=doc["total_assets_li"],
        total_debt_li=doc["total_debt_li"],
        maintenance_ratio=None if ratio is None else parse_exact(ratio, "maintenance_ratio"),
        available_margin_fen=doc["available_margin_fen"],
        withdrawable_fen=doc["withdrawable_fen"],
        status=doc["status"],
        limits=_limits(doc["credit_limits"]),
    )


def _contract(doc: Any) -> ContractLine:
    return ContractLine(
        contract_id=doc["contract_id"],
        kind=ContractKind(doc["kind"]),
        security=doc["security"],
        opened=_day(doc["opened"]),
        due=_day(doc["due"]),
        due_provisional=doc["due_provisional"],
        annual_rate=parse_exact(doc["annual_rate"], "annual_rate"),
        quantity=doc["quantity"],
        amount_fen=doc["amount_fen"],
        principal_owed=doc["principal_owed"],
        value_li=doc["value_li"],
        charges_accrued={ChargeKind(k): v for k, v in doc["charges_accrued_fen"].items()},
        charges_owed_fen=doc["charges_owed_fen"],
    )


def _trade(doc: Any) -> Trade:
    return Trade(
        _day(doc["trade_date"]), doc["contract_id"], TradeKind(doc["kind"]), doc["security"],
        doc["price_li"], doc["quantity"], doc["amount_fen"], doc["fees_fen"],
    )  # fmt: skip


def statement_from_json(text: str) -> Statement:
    """The statement a canonical JSON text describes (its invariants checked again)."""
    doc = json.loads(text)
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise ValueError(f"not a {FORMAT} document")
    return Statement(
        client_id=doc["client_id"],
        holder_name=doc["holder_name"],
        period_start=_day(doc["period"]["start"]),
        period_end=_day(doc["period"]["end"]),
        opening=None if doc["opening"] is None else _figures(doc["opening"]),
        closing=_figures(doc["closing"]),
        positions=tuple(
            Position(p["security"], p["name"], p["quantity"], p["price_li"], p["value_li"])
            for p in doc["positions"]
        ),
        contracts=tuple(_contract(c) for c in doc["contracts"]),
        trades=tuple(_trade(t) for t in doc["trades"]),
        notes=tuple(doc["notes"]),
    )
