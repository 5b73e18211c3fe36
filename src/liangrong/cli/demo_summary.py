"""The demo's summary of a day, as data: titled sections of text rows, built from what the
store holds (master, calendar, rule book, lists, prices).  No printing here: ``demo`` turns
the sections into tables, and tests read the rows.

Invariants: a pure function of its inputs, so the same store and date give the same rows;
every ratio is shown from its exact value (``percent_text``); a day that is not a trading
day shows the lists of the last trading day before it, and says so.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields
from datetime import date
from fractions import Fraction

from liangrong.domain.calendar import TradingCalendar
from liangrong.domain.contracts import ContractKind
from liangrong.domain.lists import DailyLists, ListLayer, ListStore
from liangrong.domain.parameters import ExchangeRules, HaircutCaps
from liangrong.domain.rule_book import (
    NoRuleInForce,
    RuleBook,
    RuleVersion,
    lines_for,
    margin_ratio,
    terms_for,
)
from liangrong.domain.rule_codec import exact_text
from liangrong.domain.rule_codes import percent_text
from liangrong.domain.securities import Board, Kind, Security, Status
from liangrong.store.calendar_loads import CalendarLoad
from liangrong.store.reference import ReferencePrice

Row = tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Section:
    title: str
    columns: Row
    rows: tuple[Row, ...]
    note: str = ""


@dataclass(frozen=True, slots=True)
class DemoState:
    """What the summary reads, all loaded from the store."""

    on: date
    master: Sequence[Security]
    calendar: TradingCalendar
    loads: Sequence[CalendarLoad]
    book: RuleBook
    lists: ListStore
    prices: Mapping[str, ReferencePrice]


# Not strftime("%A"): its names follow the process locale, and the summary must not.
_WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


def _day(d: date) -> str:
    return f"{d.isoformat()} ({_WEEKDAYS[d.weekday()]})"


def _name(master: Mapping[str, Security], symbol: str) -> str:
    security = master.get(symbol)
    return f"{symbol} {security.name}" if security else symbol


# --------------------------------------------------------------------------- today


def _today(state: DemoState, in_force: date) -> Section:
    on, calendar = state.on, state.calendar
    trading = "yes" if calendar.is_trading_day(on) else f"no: {_day(in_force)} is in force"
    ranges = ", ".join(f"{a}..{b}" for a, b in calendar.loaded_ranges)
    sources = "; ".join(f"#{x.load_id} {x.source}" for x in state.loads)
    provisional = (
        "yes: outside the loaded calendar, weekdays are assumed to trade"
        if calendar.is_provisional(on)
        else "no: inside the loaded calendar"
    )
    days = sorted({p.trading_date for p in state.prices.values()})
    generated = sum(p.generated for p in state.prices.values())
    prices = f"{len(state.prices)} ({generated} generated), of {', '.join(map(str, days))}"
    return Section(
        "Today",
        (),
        (
            ("date", _day(on)),
            ("trading day", trading),
            ("calendar loaded", f"{ranges}; later days are provisional"),
            ("calendar loads", sources or "none"),
            ("date provisional", provisional),
            ("reference prices", prices if state.prices else "none"),
            ("rule versions in force", _rule_version(state.book, on)),
        ),
    )


def _rule_version(book: RuleBook, on: date) -> str:
    exchange, firm = book.exchange.version_at(on), book.firm.version_at(on)
    if exchange is None or firm is None:
        return f"no {'exchange rules' if exchange is None else 'firm policy'} in force"
    return RuleVersion(exchange.version_id, firm.version_id).identifier


# --------------------------------------------------------------------------- securities


def _securities(state: DemoState) -> tuple[Section, ...]:
    master = state.master
    boards = Counter((s.board, s.kind) for s in master)
    order = {b: i for i, b in enumerate(Board)} | {k: i for i, k in enumerate(Kind)}
    by_board = tuple(
        (board.value, kind.value, str(count))
        for (board, kind), count in sorted(
            boards.items(), key=lambda x: (order[x[0][0]], order[x[0][1]])
        )
    )
    statuses = Counter(s.status for s in master)

    def named(status: Status) -> str:  # a normal security is no news; the others are few
        if status is Status.NORMAL:
            return ""
        return ", ".join(f"{s.symbol} {s.name}" for s in master if s.status is status)

    by_status = tuple(
        (status.value, str(statuses[status]), named(status))
        for status in Status
        if statuses[status]
    )
    generated = Counter((s.kind, s.generated) for s in master)
    by_generated = tuple(
        (kind.value, str(count), ", ".join(sorted(names)) or "none")
        for (kind, names), count in sorted(generated.items(), key=lambda x: order[x[0][0]])
    )
    return (
        Section(f"Securities master: {len(master)}", ("board", "kind", "count"), by_board),
        Section(
            "By status",
            ("status", "count", "securities"),
            by_status,
            "statuses are generated demo values, not market facts",
        ),
        Section(
            "Generated attributes (no offline source has them)",
            ("kind", "count", "generated"),
            by_generated,
            "codes, names and index membership of stocks and ETFs are real",
        ),
    )


# --------------------------------------------------------------------------- lists


def _counts(lists: DailyLists) -> Counter[str]:
    counts = Counter(
        {
            "financing targets": len(lists.financing_targets),
            "short targets": len(lists.short_targets),
            "collateral": len(lists.collateral),
        }
    )
    counts.update(f"  haircut {percent_text(h)}" for h in lists.collateral.values())
    return counts


def _lists(state: DemoState, in_force: date) -> tuple[Section, ...]:
    title = f"Lists in force on {state.on}"
    exchange = state.lists.lists_on(ListLayer.EXCHANGE, in_force)
    if exchange is None:
        return (Section(title, (), (), "no lists published on or before it"),)
    has_firm = state.lists.lists_on(ListLayer.FIRM, in_force) is not None
    firm = state.lists.firm_lists_on(in_force) if has_firm else None
    published: Row = (exchange.trading_date.isoformat(),)
    counts = [_counts(exchange)]
    if firm is not None:
        published += (firm.firm_published.isoformat(),)
        counts.append(_counts(firm.lists))
    haircuts = sorted(
        {label for c in counts for label in c if label.startswith("  ")},
        key=lambda label: Fraction(label.split()[-1].rstrip("%")),
        reverse=True,
    )
    labels = ["financing targets", "short targets", "collateral", *haircuts]
    rows = [("published", *published)] + [(x, *(str(c[x]) for c in counts)) for x in labels]
    if firm is not None:
        rows.append(("firm entries cut to the exchange's", "", str(len(firm.adjustments))))
    columns = ("", "exchange", *(("firm",) if firm else ()))
    previous_day = state.calendar.previous_trading_day(in_force)
    return (
        Section(title, columns, tuple(rows)),
        _changes(state, in_force, previous_day),
    )


def _diff(before: DailyLists, after: DailyLists) -> dict[str, list[str]]:
    changes: dict[str, list[str]] = {}
    for label, old, new in (
        ("financing target", before.financing_targets, after.financing_targets),
        ("short target", before.short_targets, after.short_targets),
        ("collateral", before.collateral.keys(), after.collateral.keys()),
    ):
        for symbol in sorted(set(old) - set(new)):
            changes.setdefault(symbol, []).append(f"left {label}s")
        for symbol in sorted(set(new) - set(old)):
            changes.setdefault(symbol, []).append(f"became a {label}")
    for symbol in sorted(before.collateral.keys() & after.collateral.keys()):
        was, now = before.collateral[symbol], after.collateral[symbol]
        if was != now:
            changes.setdefault(symbol, []).append(
                f"haircut {percent_text(was)} -> {percent_text(now)}"
            )
    return changes


def _changes(state: DemoState, in_force: date, previous: date) -> Section:
    master = {s.symbol: s for s in state.master}
    rows: list[Row] = []
    for layer in ListLayer:
        now, then = state.lists.lists_on(layer, in_force), state.lists.lists_on(layer, previous)
        if now is None or then is None or now.trading_date == then.trading_date:
            continue
        for symbol, what in sorted(_diff(then, now).items()):
            status = master[symbol].status.value if symbol in master else "?"
            rows.append(
                (layer.value, _name(master, symbol), f"{'; '.join(what)} (status {status})")
            )
    return Section(
        f"List changes on {in_force} vs {previous}",
        ("layer", "security", "change"),
        tuple(rows),
        "" if rows else "no change",
    )


# --------------------------------------------------------------------------- rules


def _value(value: object) -> str:
    if value is None:
        return "none"
    if isinstance(value, Fraction):
        return percent_text(value)
    return str(value)


def _exchange_values(rules: ExchangeRules) -> dict[str, str]:
    """Each exchange parameter as shown, by label."""
    shown: dict[str, str] = {}
    for f in fields(ExchangeRules):
        value = getattr(rules, f.name)
        label = f.name.replace("_", " ")
        if isinstance(value, HaircutCaps):
            for cap in fields(HaircutCaps):
                shown[f"max haircut, {cap.name.replace('_', ' ')}"] = _value(
                    getattr(value, cap.name)
                )
        elif f.name == "zero_haircut_pe_from":  # a P/E, not a ratio in percent
            shown["haircut 0 from static P/E"] = "none" if value is None else exact_text(value)
        else:
            shown[label] = _value(value) + (" months" if isinstance(value, int) else "")
    return shown


def _exchange(state: DemoState) -> Section:
    history = state.book.exchange
    current = history.version_at(state.on)
    if current is None:
        return Section("Exchange rules", (), (), f"no exchange rules in force on {state.on}")
    shown = [_exchange_values(v.value) for v in history.versions]
    index = history.versions.index(current)

    def since(label: str) -> str:  # the first version of the run that ends with the current
        first = index
        while first > 0 and shown[first - 1][label] == shown[index][label]:
            first -= 1
        return history.versions[first].effective.isoformat()

    return Section(
        f"Exchange rules in force: version {current.version_id}",
        ("parameter", "value", "since"),
        tuple((label, value, since(label)) for label, value in shown[index].items()),
        current.source,
    )


def _firm(state: DemoState) -> Section:
    on, book = state.on, state.book
    version = book.firm.version_at(on)
    if version is None or book.exchange.version_at(on) is None:
        return Section("Firm policy", (), (), f"no firm policy in force on {on}")
    try:
        lines = lines_for(book, None, on)
        terms = terms_for(book, None, on)
        financing = margin_ratio(book, ContractKind.FINANCING, "", on)
        short = margin_ratio(book, ContractKind.SHORT, "", on)
    except NoRuleInForce as exc:
        return Section("Firm policy", (), (), str(exc))
    policy = version.value
    own = Counter((r.financing, r.short) for r in policy.security_ratios.values())
    per_security = "; ".join(
        f"{n} securities: financing {_value(fin)}, short {_value(sh)}"
        for (fin, sh), n in own.items()
    )
    rows: tuple[Row, ...] = (
        ("attention line", _value(lines.lines.attention)),
        ("warning line", _value(lines.lines.warning)),
        ("liquidation line", _value(lines.lines.liquidation)),
        ("emergency line", _value(lines.lines.emergency)),
        ("financing margin ratio", _value(financing.ratio)),
        ("short margin ratio", _value(short.ratio)),
        ("short margin ratio, private funds", _value(policy.short_margin_ratio_private_fund)),
        ("per-security margin ratios", per_security or "none"),
        ("financing rate (annual, /360)", _value(terms.financing_rate)),
        ("lending fee rate (annual, /360)", _value(terms.lending_fee_rate)),
        ("penalty rate (annual, /360)", _value(terms.penalty_rate)),
        (
            "margin call",
            f"restore to {_value(terms.call_target)} within T+{terms.call_deadline_trading_days}",
        ),
        ("withdrawal line", f"above {_value(terms.withdrawal_line)}, and stay at or above it"),
        ("maximum term", f"{terms.max_term_months} months"),
        ("extensions", f"up to {terms.max_extensions} x {terms.max_extension_months} months"),
    )
    overrides = [
        o for o in (financing.override, short.override, lines.override, *terms.overrides) if o
    ]
    note = f"{version.source}; effective {version.effective}"
    if overrides:
        note += "; raised to the exchange's: " + ", ".join(
            f"{o.field} {_value(o.configured)} -> {_value(o.applied)}" for o in overrides
        )
    return Section(
        f"Firm policy in force: rule version {financing.rule_version.identifier}",
        ("parameter", "value"),
        rows,
        note,
    )


def build_summary(state: DemoState) -> tuple[Section, ...]:
    """The demo's summary of ``state.on``, section by section."""
    in_force = state.calendar.on_or_before(state.on)
    return (
        _today(state, in_force),
        *_securities(state),
        *_lists(state, in_force),
        _exchange(state),
        _firm(state),
    )
