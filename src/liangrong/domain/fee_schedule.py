"""The published fee schedule (收费标准, CON-5, REP-6): every rate and charge a credit client
pays, as in force on a day, with the day each value took effect and the changes around it.

What it lists, and where each value comes from (all dated versions handed in, none here):
- the financing rate, the lending fee rate and the penalty rate: the firm's base rates
  (``FirmPolicy``), each replaced by the client's agreed rate where the agreement sets one
  (``ClientAgreement``); the applied rate is read through ``rule_book.terms_for``, the same
  reading the end of day accrues with, so the published rate is the charged rate;
- the management fee rate and the charging choices (what same-day use pays, whether penalty
  interest is added to the rate or replaces it, whether a rate change reaches open contracts):
  the firm's ``ChargePolicy``;
- the trading charges: the firm's commission and its minimum, the state's stamp duty on sales
  and CSDC's transfer fee (``fees.FeeSchedule``).

Invariants:
- a line's value is what applies on the day; ``since`` is the first day from which that value
  has applied without a break (the value on every change date from ``since`` to the day is the
  same); a line whose source has no version in force on the day is not listed;
- the schedule's version is the latest change date on or before the day at which some listed
  value changed (``version_date``; None when nothing was ever in force); ``changes`` are the
  values that changed that day (``before`` None: newly listed), ``announced`` those recorded
  to change after the day, in date order;
- rates are exact (``Fraction``, annual on the 360-day basis), commission, duty and transfer
  fee in whole parts per million of the traded value, the commission minimum in fen.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from enum import Enum
from fractions import Fraction

from liangrong.domain.fees import FeeSchedule
from liangrong.domain.interest import ChargePolicy
from liangrong.domain.parameters import ClientAgreement
from liangrong.domain.rule_book import RuleBook, terms_for
from liangrong.domain.versions import History

Value = Fraction | int | str


class Unit(Enum):
    ANNUAL_RATE = "annual_rate_360"  # a rate a year, charged amount × rate × days ÷ 360
    PPM_OF_VALUE = "ppm_of_value"  # parts per million of the traded value
    FEN = "fen"
    CHOICE = "choice"  # one of an enumeration's values


class SetBy(Enum):
    """Who sets a charge (the firm collects the state's and CSDC's on their behalf)."""

    FIRM = "firm"
    STATE = "state"  # stamp duty (Ministry of Finance)
    CSDC = "csdc"  # transfer fee (China Securities Depository and Clearing)


class Item(Enum):
    """The schedule's lines, in published order."""

    FINANCING_RATE = "financing_rate"  # 融资利率
    LENDING_FEE_RATE = "lending_fee_rate"  # 融券费率
    PENALTY_RATE = "penalty_rate"  # 罚息利率
    MANAGEMENT_FEE_RATE = "management_fee_rate"  # 管理费率 (same-day use, S1 art. 73)
    COMMISSION = "commission"  # 佣金
    COMMISSION_MINIMUM = "commission_minimum"  # 最低佣金
    STAMP_DUTY_SELL = "stamp_duty_sell"  # 印花税 (sales only)
    TRANSFER_FEE = "transfer_fee"  # 过户费
    SAME_DAY_USE = "same_day_use"  # what a debt used and repaid within a day pays
    PENALTY_BASIS = "penalty_basis"  # penalty in addition to the rate, or instead of it
    RATE_BASIS = "rate_basis"  # rate changes reach open contracts, or the contract's rate

    @property
    def unit(self) -> Unit:
        return _UNITS[self]

    @property
    def set_by(self) -> SetBy:
        return _SET_BY.get(self, SetBy.FIRM)


_UNITS = {
    Item.FINANCING_RATE: Unit.ANNUAL_RATE,
    Item.LENDING_FEE_RATE: Unit.ANNUAL_RATE,
    Item.PENALTY_RATE: Unit.ANNUAL_RATE,
    Item.MANAGEMENT_FEE_RATE: Unit.ANNUAL_RATE,
    Item.COMMISSION: Unit.PPM_OF_VALUE,
    Item.COMMISSION_MINIMUM: Unit.FEN,
    Item.STAMP_DUTY_SELL: Unit.PPM_OF_VALUE,
    Item.TRANSFER_FEE: Unit.PPM_OF_VALUE,
    Item.SAME_DAY_USE: Unit.CHOICE,
    Item.PENALTY_BASIS: Unit.CHOICE,
    Item.RATE_BASIS: Unit.CHOICE,
}
_SET_BY = {Item.STAMP_DUTY_SELL: SetBy.STATE, Item.TRANSFER_FEE: SetBy.CSDC}
# The rates a client's agreement may set, and its field for each.
_AGREED_FIELD = {
    Item.FINANCING_RATE: "financing_rate",
    Item.LENDING_FEE_RATE: "lending_fee_rate",
    Item.PENALTY_RATE: "penalty_rate",
}
PENALTY_IN_ADDITION, PENALTY_INSTEAD = "in_addition", "instead"


@dataclass(frozen=True, slots=True)
class Sources:
    """The dated versions the schedule is read from."""

    rules: RuleBook  # the firm's policy and the clients' agreements (the exchange's too)
    charges: History[ChargePolicy]  # the firm's charging policy
    trading: History[FeeSchedule]  # commission, stamp duty, transfer fee

    def change_dates(self, client_id: str | None) -> list[date]:
        """Every day some source of the schedule took a new version, in order."""
        histories: list[Iterable[date]] = [
            (v.effective for v in self.rules.exchange.versions),  # rates need one in force
            (v.effective for v in self.rules.firm.versions),
            (v.effective for v in self.charges.versions),
            (v.effective for v in self.trading.versions),
        ]
        client = self.rules.clients.get(client_id) if client_id is not None else None
        if client is not None:
            histories.append(v.effective for v in client.versions)
        return sorted({day for days in histories for day in days})


@dataclass(frozen=True, slots=True)
class InForce:
    """One item's values on one day: the firm's (or the state's, CSDC's), and the client's."""

    base: Value
    agreed: Value | None = None  # the client's agreement sets it

    @property
    def applied(self) -> Value:
        return self.base if self.agreed is None else self.agreed


@dataclass(frozen=True, slots=True)
class Line:
    item: Item
    base: Value
    agreed: Value | None
    since: date  # the applied value has applied from this day without a break

    @property
    def applied(self) -> Value:
        return self.base if self.agreed is None else self.agreed


@dataclass(frozen=True, slots=True)
class Change:
    effective: date
    item: Item
    before: Value | None  # None: newly listed
    after: Value | None  # None: no longer listed


@dataclass(frozen=True, slots=True)
class PublishedSchedule:
    on: date
    client_id: str | None  # None: the firm's base schedule, for every client
    version_date: date | None
    lines: tuple[Line, ...]
    changes: tuple[Change, ...]  # what changed on version_date
    announced: tuple[Change, ...]  # recorded changes after ``on``

    def line(self, item: Item) -> Line | None:
        return next((line for line in self.lines if line.item is item), None)

    @property
    def agreement_on_file(self) -> bool:
        return any(line.agreed is not None for line in self.lines)


# --------------------------------------------------------------------------- one day


def _rates(rules: RuleBook, client_id: str | None, on: date) -> dict[Item, InForce]:
    """The three rates on ``on``: the firm's base, the client's where the agreement sets it."""
    if rules.firm.version_at(on) is None or rules.exchange.version_at(on) is None:
        return {}
    base, applied = terms_for(rules, None, on), terms_for(rules, client_id, on)
    version = rules.client_version(client_id, on)
    agreement: ClientAgreement | None = version.value if version is not None else None
    found: dict[Item, InForce] = {}
    for item, name in _AGREED_FIELD.items():
        agreed = getattr(agreement, name) if agreement is not None else None
        # the agreed rate is the one ``terms_for`` applies (the accrual's own reading)
        applied_rate = getattr(applied, name) if agreed is not None else None
        found[item] = InForce(getattr(base, name), applied_rate)
    return found


def _charging(policy: ChargePolicy) -> dict[Item, InForce]:
    basis = PENALTY_IN_ADDITION if policy.penalty_in_addition else PENALTY_INSTEAD
    return {
        Item.MANAGEMENT_FEE_RATE: InForce(policy.management_fee_rate),
        Item.SAME_DAY_USE: InForce(policy.same_day_use.value),
        Item.PENALTY_BASIS: InForce(basis),
        Item.RATE_BASIS: InForce(policy.rate_basis.value),
    }


def _trading(fees: FeeSchedule) -> dict[Item, InForce]:
    return {
        Item.COMMISSION: InForce(fees.commission_ppm),
        Item.COMMISSION_MINIMUM: InForce(fees.commission_minimum_fen),
        Item.STAMP_DUTY_SELL: InForce(fees.stamp_duty_sell_ppm),
        Item.TRANSFER_FEE: InForce(fees.transfer_fee_ppm),
    }


def values_on(sources: Sources, on: date, client_id: str | None = None) -> dict[Item, InForce]:
    """Every item in force on ``on``, in published order (items without a source left out)."""
    found = _rates(sources.rules, client_id, on)
    if (policy := sources.charges.version_at(on)) is not None:
        found |= _charging(policy.value)
    if (fees := sources.trading.version_at(on)) is not None:
        found |= _trading(fees.value)
    return {item: found[item] for item in Item if item in found}


# --------------------------------------------------------------------------- over time


def _changes(
    day: date, before: Mapping[Item, InForce], after: Mapping[Item, InForce]
) -> list[Change]:
    """The items whose applied value differs between two readings, in published order."""
    found = []
    for item in Item:
        old, new = before.get(item), after.get(item)
        old_value = None if old is None else old.applied
        new_value = None if new is None else new.applied
        if old_value != new_value:
            found.append(Change(day, item, old_value, new_value))
    return found


def schedule_on(sources: Sources, on: date, client_id: str | None = None) -> PublishedSchedule:
    """The schedule in force on ``on`` (for a client: with the client's agreed rates)."""
    dates = sources.change_dates(client_id)
    past = [day for day in dates if day <= on]
    readings = [(day, values_on(sources, day, client_id)) for day in past]
    current = values_on(sources, on, client_id)
    since: dict[Item, date] = {}
    changes: list[Change] = []
    previous: Mapping[Item, InForce] = {}
    for day, reading in readings:
        changed = _changes(day, previous, reading)
        for change in changed:
            since[change.item] = day
        changes = changed or changes
        previous = reading
    lines = tuple(
        Line(item, value.base, value.agreed, since[item]) for item, value in current.items()
    )
    announced = []
    for day in (d for d in dates if d > on):
        reading = values_on(sources, day, client_id)
        announced += _changes(day, previous, reading)
        previous = reading
    version_date = changes[0].effective if changes else None
    return PublishedSchedule(on, client_id, version_date, lines, tuple(changes), tuple(announced))
