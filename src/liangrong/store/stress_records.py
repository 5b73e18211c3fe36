"""Stress tests in the store (RISK-12, migration ``0009_stress_runs``): the firm's scenario
sets, dated, and the result of each scenario of each end of day.

- A scenario set is a dated parameter (a ``Version`` of the scenario texts that
  ``domain.stress.parse_scenario`` reads), effective from its date until the next one:
  which scenarios the end of day runs is reference data, not code.
- A stress record is one scenario's figures over the whole book at one day's close
  (``risk.stress.ScenarioResult``: counts and debt under each line, the shortfall, the
  liquidation), with its detail (ratio distribution, liquidation per security) as canonical
  JSON and the result's fingerprint.

Invariants: both tables are append-only (the database refuses UPDATE and DELETE); a set is
keyed by its version id, a record by (trading date, scenario); saving what is stored
records nothing, another value under a stored key is refused (``ScenarioSetConflict``,
``StressRunConflict``) and nothing of that call is written; a set whose texts do not parse
is refused before anything is written.  Money in li, as the stress figures.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import date
from typing import Any

from sqlalchemy import BigInteger, Column, Date, Engine, Integer, String, Table, Text, select

from liangrong.domain.stress import parse_scenario
from liangrong.domain.versions import History, Version
from liangrong.ledger.schema import metadata
from liangrong.store.reference import Clock, ReferenceConflict, stamp, write_lock

ScenarioTexts = tuple[str, ...]
LINE_NAMES = ("attention", "warning", "liquidation", "emergency")  # risk.stress's order

stress_scenario_sets = Table(
    "stress_scenario_sets",
    metadata,
    Column("version_id", String(64), primary_key=True),
    Column("effective", Date, nullable=False),
    Column("scenarios_json", Text, nullable=False),  # canonical JSON list of scenario texts
    Column("source", Text, nullable=False),
    Column("recorded_at", String(32), nullable=False),
)


def _line_columns() -> list[Column[int]]:
    columns: list[Column[int]] = []
    for name in LINE_NAMES:
        columns.append(Column(f"below_{name}", BigInteger, nullable=False))
        columns.append(Column(f"below_{name}_debt_li", BigInteger, nullable=False))
    return columns


stress_runs = Table(
    "stress_runs",
    metadata,
    Column("trading_date", Date, primary_key=True),
    Column("scenario", String(128), primary_key=True),
    Column("seq", Integer, nullable=False),  # its place in the day's run (0: the book as is)
    Column("set_version", String(64), nullable=True),  # the scenario set; None: no set
    Column("prices", String(64), nullable=False),  # what valued the book
    Column("accounts", BigInteger, nullable=False),
    Column("no_debt", BigInteger, nullable=False),
    *_line_columns(),
    Column("shortfall_accounts", BigInteger, nullable=False),
    Column("shortfall_li", BigInteger, nullable=False),
    Column("liquidated_accounts", BigInteger, nullable=False),
    Column("sale_value_li", BigInteger, nullable=False),
    Column("cover_value_li", BigInteger, nullable=False),
    Column("detail_json", Text, nullable=False),  # canonical JSON
    Column("fingerprint", String(64), nullable=False),
    Column("recorded_at", String(32), nullable=False),
)

STRESS_APPEND_ONLY_TABLES = ("stress_scenario_sets", "stress_runs")


class ScenarioSetConflict(ReferenceConflict):
    """A scenario set's version id recorded with another date, scenarios or source."""


class StressRunConflict(ReferenceConflict):
    """A scenario of a day recorded with other figures: the rerun computed something else."""


def _canonical(value: object) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


# --- scenario sets ----------------------------------------------------------------------------


def save_scenario_sets(
    engine: Engine, versions: Iterable[Version[ScenarioTexts]], *, clock: Clock
) -> int:
    """Record scenario set versions; returns how many were new."""
    versions = list(versions)
    for version in versions:
        if not version.value:
            raise ValueError(f"scenario set {version.version_id} names no scenario")
        for text in version.value:
            parse_scenario(text)  # a ScenarioError names the text
    table = stress_scenario_sets
    with write_lock(engine) as conn:
        known = {v.version_id: v for v in _versions(conn.execute(select(table)))}
        new: list[Version[ScenarioTexts]] = []
        for given in versions:
            version = Version(given.version_id, given.effective, tuple(given.value), given.source)
            seen = known.get(version.version_id)
            if seen is None:
                new.append(version)
                known[version.version_id] = version
            elif seen != version:
                raise ScenarioSetConflict(f"scenario set {version.version_id} already recorded")
        # Refuses, before anything is written, a set not dated after the one before it.
        History(tuple(sorted(known.values(), key=_effective)))
        if new:
            recorded_at = stamp(clock)
            rows = [
                {
                    "version_id": v.version_id,
                    "effective": v.effective,
                    "scenarios_json": _canonical(list(v.value)),
                    "source": v.source,
                    "recorded_at": recorded_at,
                }
                for v in new
            ]
            conn.execute(table.insert(), rows)
    return len(new)


def _versions(rows: Iterable[Any]) -> list[Version[ScenarioTexts]]:
    return [
        Version(r.version_id, r.effective, tuple(json.loads(r.scenarios_json)), r.source)
        for r in rows
    ]


def _effective(version: Version[ScenarioTexts]) -> date:
    return version.effective


def load_scenario_sets(engine: Engine) -> History[ScenarioTexts]:
    with engine.connect() as conn:
        rows = conn.execute(select(stress_scenario_sets)).all()
    return History(tuple(sorted(_versions(rows), key=_effective)))


def scenario_set_on(engine: Engine, day: date) -> Version[ScenarioTexts] | None:
    """The scenario set in force on ``day`` (None before the first)."""
    return load_scenario_sets(engine).version_at(day)


# --- stress runs ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class StressRecord:
    """One scenario's figures over the book at one day's close (``risk.stress``)."""

    trading_date: date
    scenario: str
    seq: int
    set_version: str | None
    prices: str
    accounts: int
    no_debt: int
    below_accounts: tuple[int, ...]  # per line of LINE_NAMES
    below_debt_li: tuple[int, ...]
    shortfall_accounts: int
    shortfall_li: int
    liquidated_accounts: int
    sale_value_li: int
    cover_value_li: int
    fingerprint: str
    detail: dict[str, Any] = field(default_factory=dict)

    def row(self) -> dict[str, object]:
        values = asdict(self)
        below, debt = values.pop("below_accounts"), values.pop("below_debt_li")
        values["detail_json"] = _canonical(values.pop("detail"))
        for name, count, owed in zip(LINE_NAMES, below, debt, strict=True):
            values[f"below_{name}"], values[f"below_{name}_debt_li"] = count, owed
        return values


def _record(row: Any) -> StressRecord:
    return StressRecord(
        trading_date=row.trading_date,
        scenario=row.scenario,
        seq=row.seq,
        set_version=row.set_version,
        prices=row.prices,
        accounts=row.accounts,
        no_debt=row.no_debt,
        below_accounts=tuple(getattr(row, f"below_{name}") for name in LINE_NAMES),
        below_debt_li=tuple(getattr(row, f"below_{name}_debt_li") for name in LINE_NAMES),
        shortfall_accounts=row.shortfall_accounts,
        shortfall_li=row.shortfall_li,
        liquidated_accounts=row.liquidated_accounts,
        sale_value_li=row.sale_value_li,
        cover_value_li=row.cover_value_li,
        fingerprint=row.fingerprint,
        detail=json.loads(row.detail_json),
    )


def save_stress_runs(engine: Engine, records: Sequence[StressRecord], recorded_at: str) -> int:
    """Record a day's stress results; returns how many were new (one transaction)."""
    table = stress_runs
    keys = {(r.trading_date, r.scenario) for r in records}
    if len(keys) != len(records):
        raise ValueError("a scenario appears twice in one day's stress records")
    with write_lock(engine) as conn:
        days = sorted({r.trading_date for r in records})
        stored = {
            (row.trading_date, row.scenario): _record(row)
            for row in conn.execute(select(table).where(table.c.trading_date.in_(days)))
        }
        new = []
        for record in records:
            known = stored.get((record.trading_date, record.scenario))
            if known is None:
                new.append(record.row() | {"recorded_at": recorded_at})
            elif known != record:
                raise StressRunConflict(
                    f"stress result of {record.scenario!r} on {record.trading_date} "
                    "already recorded with other figures"
                )
        if new:
            conn.execute(table.insert(), new)
    return len(new)


def load_stress_runs(
    engine: Engine, first: date | None = None, last: date | None = None
) -> list[StressRecord]:
    """Stored results with a trading date in [first, last] (unbounded by default), by date
    and place in the run."""
    table = stress_runs
    query = select(table).order_by(table.c.trading_date, table.c.seq)
    if first is not None:
        query = query.where(table.c.trading_date >= first)
    if last is not None:
        query = query.where(table.c.trading_date <= last)
    with engine.connect() as conn:
        return [_record(row) for row in conn.execute(query)]
