"""Fair values from the store's closing prices (RISK-2), on SQLite.

- ``last_closes``: each symbol's latest close strictly before a day, or on or before it,
  in bulk (more symbols than one query takes), against the history it was saved from;
- ``store_closes``: a security suspended for several days is valued at its last traded
  close (the close before its suspension began, with that close's day, so an index rule
  moves it from then), a trading one at its latest close; a suspension with no recorded
  start keeps the price but refuses a rule that needs its day;
- the engine fed with those values decides statuses on them.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from fractions import Fraction

import pytest
from sqlalchemy import Engine

from conftest import make_sqlite_engine
from ledger_helpers import financing_terms
from liangrong.domain import margin
from liangrong.domain import operations as ops
from liangrong.domain.fair_value import FairValueRule
from liangrong.domain.margin import RatioStatus
from liangrong.domain.securities import Status
from liangrong.risk.book_arrays import BookArrays
from liangrong.risk.engine import RiskEngine
from liangrong.risk.fair_values import FairValueInputs, LastClose, feed, plan, store_closes
from liangrong.risk.layout import BookData
from liangrong.store.closing_prices import (
    DatedClose,
    last_closes,
    last_closes_before,
    save_closing_prices,
)

DAYS = [date(2026, 3, 2) + timedelta(days=i) for i in (0, 1, 2, 3, 4, 7, 8)]  # Mon..Fri, Mon, Tue
TODAY = DAYS[-1]
SUSP, ST, QUIET, LISTED = "600001.SH", "600002.SH", "600003.SH", "600004.SH"
LINES = margin.Lines(attention=Fraction(3, 2), warning=Fraction(7, 5), liquidation=Fraction(13, 10))
# SUSP trades Mon and Tue, is suspended from Wed: the sessions keep recording its last close.
SUSPENDED_FROM = DAYS[2]
HISTORY = {
    SUSP: [10_000, 10_500, 10_500, 10_500, 10_500, 10_500, 10_500],
    ST: [5_000, 5_100, 4_900, 4_800, 4_700, 4_600, 4_650],
    QUIET: [20_000, 20_100, 20_200, 20_300, 20_400, 20_500, 20_600],
}
CSI300 = {day: Fraction(4_000 - 50 * i) for i, day in enumerate(DAYS)}  # 4,000 down to 3,700


@pytest.fixture
def store(tmp_path: object) -> Engine:
    engine = make_sqlite_engine(tmp_path)
    for i, day in enumerate(DAYS):
        save_closing_prices(engine, day, {symbol: prices[i] for symbol, prices in HISTORY.items()})
    return engine


def test_the_last_close_before_or_on_a_day_for_each_symbol(store: Engine) -> None:
    symbols = [SUSP, ST, QUIET, LISTED]  # LISTED has no close at all
    assert last_closes(store, symbols, DAYS[3]) == {
        SUSP: DatedClose(DAYS[2], 10_500),
        ST: DatedClose(DAYS[2], 4_900),
        QUIET: DatedClose(DAYS[2], 20_200),
    }
    on = last_closes(store, symbols, DAYS[3], inclusive=True)
    assert on[ST] == DatedClose(DAYS[3], 4_800)
    assert last_closes(store, symbols, DAYS[0]) == {}  # nothing before the first session
    assert last_closes(store, symbols, DAYS[5] - timedelta(days=1))[QUIET] == DatedClose(
        DAYS[4], 20_400
    )  # a Sunday: Friday's close
    per_symbol = last_closes_before(store, {SUSP: SUSPENDED_FROM, ST: TODAY, QUIET: DAYS[1]})
    assert per_symbol == {
        SUSP: DatedClose(DAYS[1], 10_500),
        ST: DatedClose(DAYS[5], 4_600),
        QUIET: DatedClose(DAYS[0], 20_000),
    }


def test_many_symbols_are_read_in_bulk(tmp_path: object) -> None:
    engine = make_sqlite_engine(tmp_path)
    symbols = [f"{600000 + i:06d}.SH" for i in range(1_203)]
    # Symbol i closes on the days i mod 3 allows: some only early, some every day.
    for d, day in enumerate(DAYS[:4]):
        closes = {s: 1_000 + 10 * i + d for i, s in enumerate(symbols) if d <= i % 3}
        save_closing_prices(engine, day, closes)
    found = last_closes(engine, symbols, DAYS[3])
    expected = {s: DatedClose(DAYS[i % 3], 1_000 + 10 * i + i % 3) for i, s in enumerate(symbols)}
    assert found == expected


def inputs(statuses: dict[str, Status]) -> FairValueInputs:
    return FairValueInputs(
        day=TODAY,
        statuses=statuses,
        last_closes={},
        indexes={"CSI300": CSI300},
        default_index="CSI300",
        in_transit={"700004.SH": QUIET},
    )


def test_a_security_suspended_for_days_is_valued_at_its_last_traded_close(store: Engine) -> None:
    day = inputs({SUSP: Status.SUSPENDED, ST: Status.RISK_WARNING})
    closes = store_closes(store, day, {SUSP: SUSPENDED_FROM})
    assert closes == {
        SUSP: LastClose(DAYS[1], 10_500),  # Tuesday's: the last before the suspension
        ST: LastClose(TODAY, 4_650),  # still trading: today's close (at the close)
        QUIET: LastClose(TODAY, 20_600),  # what the shares in transit will become
    }
    fair = plan(
        FairValueInputs(
            TODAY, day.statuses, closes, day.indexes, "CSI300", in_transit=day.in_transit
        ),
        FairValueRule.INDEX_MOVED,
    )
    firm = fair.firm_values()
    values = {symbol: (v.price_li, v.reference.close_day) for symbol, v in firm.items()}
    # 10.500 × 3,700 ÷ 3,950 (Tuesday's level) = 9.835443…: 9.835
    assert values[SUSP] == (9_835, DAYS[1])
    assert fair.firm_values()[SUSP].exact_li == Fraction(10_500 * 3_700, 3_950)
    assert values[ST] == (4_650, TODAY) and values["700004.SH"] == (20_600, TODAY)


def test_a_suspension_without_a_recorded_start_keeps_the_price_not_the_day(store: Engine) -> None:
    day = inputs({SUSP: Status.SUSPENDED})
    closes = store_closes(store, day, {})  # no suspension event recorded
    assert closes[SUSP] == LastClose(TODAY, 10_500, day_known=False)
    full = FairValueInputs(TODAY, day.statuses, closes, day.indexes, "CSI300")
    assert plan(full, FairValueRule.LAST_CLOSE).firm_values()[SUSP].price_li == 10_500
    moved = plan(full, FairValueRule.INDEX_MOVED)
    assert SUSP not in moved.firm_values()
    assert moved.missing[SUSP] == f"index_moved: the suspension of {SUSP} has no recorded start"


def test_the_engine_fed_from_the_store_decides_on_the_last_traded_close(store: Engine) -> None:
    # 1,000 SUSP bought on margin for 8,000 yuan.  The market's last trade would say 10.500
    # (131.25%), the index rule values it 9.835: 122.94%, below the liquidation line.
    terms = financing_terms("F1", "c1", 800_000, 1_000, SUSP, DAYS[0])
    book = BookArrays(BookData.empty())
    engine = RiskEngine(book, LINES)
    engine.on_transaction(ops.open_financing("m1", terms))
    at = datetime(2026, 3, 10, 7, 0, tzinfo=UTC)
    engine.on_prices(at, {SUSP: 10_500})
    assert engine.statuses.status("c1") is RatioStatus.WARNING
    day = inputs({SUSP: Status.SUSPENDED})
    closes = store_closes(store, day, {SUSP: SUSPENDED_FROM})
    full = FairValueInputs(TODAY, day.statuses, closes, day.indexes, "CSI300")
    (change,) = feed(engine, at, plan(full, FairValueRule.INDEX_MOVED))
    assert (change.new, change.ratio) == (RatioStatus.LIQUIDATION, Fraction(9_835, 8_000))
    assert book.valuation_rule(SUSP) == "index_moved"
