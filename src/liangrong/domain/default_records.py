"""Default records (CLI-5) and the day's default-record report to the exchange (REP-2).

The firm records every client with bad credit or a default (S0 ch6 §2: 资信不良、有违约记录)
and may report them to the exchange before the day's cut-off (the same window as REP-1).

Invariants:
- a record is a ``DefaultEvent`` with its own id; ids are unique, a record is cured at most
  once and withdrawn (recorded in error) at most once, neither before it occurred; amounts
  are fen, never negative;
- the report of a trading date lists every record open that day (occurred on or before
  it, neither cured nor withdrawn before it): WITHDRAWN when it was withdrawn that day
  (whatever else happened to it: the exchange learns of every correction, even of a record
  cured earlier), else CURED when it was cured that day, NEW when it occurred that day,
  CONTINUING otherwise; records cured or withdrawn earlier and records dated later are not
  listed; a record withdrawn on the day it occurred is listed once, as WITHDRAWN (as a
  record cured that day is listed once, as CURED);
- a record stays on the client's history after it is cured, but not after it is withdrawn
  (it was never true): ``clients_on_record`` answers "has this client a default record?"
  (CLI-1 eligibility, CON-2 extension) as of a date.
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
    withdrawn_on: date | None = None  # the day it was withdrawn as recorded in error

    def __post_init__(self) -> None:
        if self.amount_owed_fen < 0:
            raise ValueError(f"{self.event_id}: negative amount {self.amount_owed_fen}")
        for what, day in (("cured", self.cured_on), ("withdrawn", self.withdrawn_on)):
            if day is not None and day < self.occurred_on:
                raise ValueError(f"{self.event_id}: {what} {day} before {self.occurred_on}")

    def is_withdrawn_by(self, on: date) -> bool:
        return self.withdrawn_on is not None and self.withdrawn_on <= on

    def is_listed_on(self, on: date) -> bool:
        if self.withdrawn_on == on:  # the correction is reported, even of a record cured before
            return True
        open_on = self.cured_on is None or self.cured_on >= on
        return self.occurred_on <= on and open_on and not self.is_withdrawn_by(on)


class RecordStatus(Enum):
    NEW = "new"  # 新增: occurred on the report's date
    CONTINUING = "continuing"  # 存续: occurred earlier, still open
    CURED = "cured"  # 解除: settled on the report's date
    WITHDRAWN = "withdrawn"  # 撤销: withdrawn on the report's date, recorded in error


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
    if event.withdrawn_on == on:
        return RecordStatus.WITHDRAWN
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
    """Clients with any default recorded on or before ``on``, cured or not, not withdrawn
    by then."""
    return frozenset(
        e.client_id for e in events if e.occurred_on <= on and not e.is_withdrawn_by(on)
    )
