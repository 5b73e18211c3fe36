"""Default records (CLI-5) and the day's default-record report to the exchange (REP-2).

The firm records every client with bad credit or a default (S0 ch6 §2: 资信不良、有违约记录)
and may report them to the exchange before the day's cut-off (the same window as REP-1).

Invariants:
- a record is a ``DefaultEvent`` with its own id; ids are unique, a record is cured at most
  once and never before it occurred; amounts are fen, never negative;
- the report of a trading date lists every record open that day (occurred on or before
  it, not cured before it): NEW when it occurred that day, CURED when it was cured that day,
  CONTINUING otherwise; records cured earlier and records dated later are not listed;
- a record stays on the client's history after it is cured: ``clients_on_record`` answers
  "has this client a default record?" (CLI-1 eligibility, CON-2 extension) as of a date.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from enum import Enum


class DefaultKind(Enum):
    OVERDUE_DEBT = "overdue_debt"  # 合约到期未偿还: a contract not repaid at maturity
    MARGIN_CALL_UNMET = "margin_call_unmet"  # 追加担保物未到位: the call's deadline passed
    LIQUIDATION_SHORTFALL = "liquidation_shortfall"  # 平仓后仍有欠款: debt left after disposal
    OVERDUE_CHARGES = "overdue_charges"  # 息费逾期: interest or fees unpaid when due
    BAD_CREDIT = "bad_credit"  # 资信不良: other adverse credit information
    OTHER = "other"  # 其他违约


@dataclass(frozen=True, slots=True)
class DefaultEvent:
    """One default on the client's record."""

    event_id: str
    client_id: str
    client_name: str
    kind: DefaultKind
    occurred_on: date
    amount_owed_fen: int  # what the client owed when it was recorded (0: not a money default)
    cured_on: date | None = None  # the day the default was settled, None while open
    note: str = ""

    def __post_init__(self) -> None:
        if self.amount_owed_fen < 0:
            raise ValueError(f"{self.event_id}: negative amount {self.amount_owed_fen}")
        if self.cured_on is not None and self.cured_on < self.occurred_on:
            raise ValueError(f"{self.event_id}: cured {self.cured_on} before {self.occurred_on}")

    def is_listed_on(self, on: date) -> bool:
        return self.occurred_on <= on and (self.cured_on is None or self.cured_on >= on)


class RecordStatus(Enum):
    NEW = "new"  # 新增: occurred on the report's date
    CONTINUING = "continuing"  # 存续: occurred earlier, still open
    CURED = "cured"  # 解除: settled on the report's date


@dataclass(frozen=True, slots=True)
class DefaultRecordRow:
    trading_date: date
    event_id: str
    client_id: str
    client_name: str
    kind: DefaultKind
    occurred_on: date
    amount_owed_fen: int
    status: RecordStatus
    note: str


def repeated_ids(ids: Iterable[str]) -> list[str]:
    """The ids that occur more than once, sorted."""
    return sorted(i for i, n in Counter(ids).items() if n > 1)


def _check_unique(events: Sequence[DefaultEvent]) -> None:
    repeated = repeated_ids(e.event_id for e in events)
    if repeated:
        raise ValueError(f"default record ids repeated: {repeated}")


def review_default_rows(trading_date: date, rows: Iterable[DefaultRecordRow]) -> list[str]:
    """Why an exchange would refuse a default-record file of ``trading_date`` (empty: it
    passes): a row of another date, a record id twice."""
    rows = tuple(rows)
    other_dates = [r for r in rows if r.trading_date != trading_date]
    reasons = [f"row {r.event_id} is of {r.trading_date}" for r in other_dates]
    return reasons + [f"record {i} twice" for i in repeated_ids(r.event_id for r in rows)]


def _status(event: DefaultEvent, on: date) -> RecordStatus:
    if event.cured_on == on:
        return RecordStatus.CURED
    return RecordStatus.NEW if event.occurred_on == on else RecordStatus.CONTINUING


def default_record_rows(
    trading_date: date, events: Iterable[DefaultEvent]
) -> tuple[DefaultRecordRow, ...]:
    """The default-record report of ``trading_date``, sorted by client, date and id; empty
    on a day with no record (the file is still produced, header only)."""
    events = tuple(events)
    _check_unique(events)
    listed = sorted(
        (e for e in events if e.is_listed_on(trading_date)),
        key=lambda e: (e.client_id, e.occurred_on, e.event_id),
    )
    return tuple(
        DefaultRecordRow(
            trading_date,
            e.event_id,
            e.client_id,
            e.client_name,
            e.kind,
            e.occurred_on,
            e.amount_owed_fen,
            _status(e, trading_date),
            e.note,
        )
        for e in listed
    )


def clients_on_record(events: Iterable[DefaultEvent], on: date) -> frozenset[str]:
    """Clients with any default recorded on or before ``on``, cured or not."""
    return frozenset(e.client_id for e in events if e.occurred_on <= on)
