"""The firm-level limits' records (RISK-11, migration ``0007_firm_alerts``): the dated inputs
(the firm's net capital and its firm-limit rule, each a history of versions with their
source) and the alerts of every evaluation.

Invariants:
- both tables are append-only (the database refuses UPDATE and DELETE): a recorded version
  or alert is never rewritten (GOV-4);
- a version is keyed by (kind, version id); recording it again changes nothing, the same
  key with another effective date, value or source is refused (``FirmLimitConflict``);
  loading rebuilds each ``History`` through its own checks (dates strictly increasing);
- an alert is keyed by (trading date, indicator, subject, level), the subject being '' for
  the firm, a client id or a symbol: saving the same evaluation again adds nothing, and a
  reading that worsens during the day is recorded once at each level it reaches;
- ratios and limits are exact text (``rule_codec.exact_text``), amounts integers.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from fractions import Fraction
from typing import Any

from sqlalchemy import (
    BigInteger,
    Column,
    Date,
    Engine,
    String,
    Table,
    Text,
    UniqueConstraint,
    select,
)

from liangrong.domain.firm_limits import (
    FirmCapital,
    FirmEvaluation,
    FirmLimitRule,
    FirmLimits,
    Indicator,
    Level,
    Reading,
    WarningShares,
    limits_on,
)
from liangrong.domain.rule_book import NoRuleInForce
from liangrong.domain.rule_codec import exact_text, parse_exact
from liangrong.domain.versions import History, Version
from liangrong.ledger.schema import metadata
from liangrong.store.reference import Clock, ReferenceConflict, stamp, write_lock

firm_limit_versions = Table(
    "firm_limit_versions",
    metadata,
    Column("kind", String(16), primary_key=True),  # net_capital / rule
    Column("version_id", String(64), primary_key=True),
    Column("effective", Date, nullable=False),
    Column("payload_json", Text, nullable=False),  # canonical JSON, exact ratios
    Column("source", Text, nullable=False),  # the audit record: report, approval, why
    Column("recorded_at", String(32), nullable=False),
    UniqueConstraint("kind", "effective", name="uq_firm_limit_versions_effective"),
)

firm_alerts = Table(
    "firm_alerts",
    metadata,
    Column("trading_date", Date, primary_key=True),
    Column("indicator", String(48), primary_key=True),
    Column("subject", String(32), primary_key=True),  # '' the firm, a client id, a symbol
    Column("level", String(16), primary_key=True),
    Column("scope", String(16), nullable=False),
    Column("value", BigInteger, nullable=False),  # fen or shares
    Column("limit_value", String(64), nullable=False),  # exact text, same unit
    Column("blocks", String(64), nullable=False),  # businesses stopped, sorted; '' none
    Column("at", String(32), nullable=False),  # the evaluation's time
    Column("capital_version", String(64), nullable=False),
    Column("rule_version", String(64), nullable=False),
)

FIRM_LIMIT_TABLES = ("firm_limit_versions", "firm_alerts")
NET_CAPITAL, RULE = "net_capital", "rule"
# What is stored: readings at the warning level or above, and every reading that blocks.
STORED_FROM = Level.WARNING


class FirmLimitConflict(ReferenceConflict):
    """The same firm-limit version id was recorded with another date, value or source."""


# --------------------------------------------------------------------------- the codec


def _shares_json(shares: WarningShares) -> dict[str, str]:
    return {"early": exact_text(shares.early), "warning": exact_text(shares.warning)}


def _shares_of(document: Mapping[str, str]) -> WarningShares:
    return WarningShares(parse_exact(document["early"]), parse_exact(document["warning"]))


def encode_rule(rule: FirmLimitRule) -> str:
    """Canonical JSON: indicators by name, ratios exact, every field written."""
    document = {
        "limits": {i.name: exact_text(share) for i, share in rule.limits.items()},
        "warnings": _shares_json(rule.warnings),
        "warning_overrides": {i.name: _shares_json(s) for i, s in rule.warning_overrides.items()},
        "financing_line_fen": rule.financing_line_fen,
        "lending_line_fen": rule.lending_line_fen,
        "business_cap_fen": rule.business_cap_fen,
    }
    return json.dumps(document, sort_keys=True, separators=(",", ":"))


def decode_rule(text: str) -> FirmLimitRule:
    document = json.loads(text)
    overrides = document["warning_overrides"]
    return FirmLimitRule(
        limits={Indicator[name]: parse_exact(v, name) for name, v in document["limits"].items()},
        warnings=_shares_of(document["warnings"]),
        warning_overrides={Indicator[name]: _shares_of(v) for name, v in overrides.items()},
        financing_line_fen=document["financing_line_fen"],
        lending_line_fen=document["lending_line_fen"],
        business_cap_fen=document["business_cap_fen"],
    )


def _payload(value: FirmCapital | FirmLimitRule) -> str:
    if isinstance(value, FirmCapital):
        return json.dumps({"net_capital_fen": value.net_capital_fen}, separators=(",", ":"))
    return encode_rule(value)


# --------------------------------------------------------------------------- the versions


@dataclass(frozen=True, slots=True)
class FirmLimitHistories:
    capital: History[FirmCapital]
    rules: History[FirmLimitRule]

    def on(self, day: date) -> FirmLimits | None:
        """The limits in force on ``day``; None before the first of either."""
        try:
            return limits_on(self.capital, self.rules, day)
        except NoRuleInForce:
            return None


def _histories(
    rows: Iterable[Mapping[str, Any]], appended: Iterable[Mapping[str, Any]] = ()
) -> FirmLimitHistories:
    """Both histories from stored rows (by date), then ``appended`` in its order, through
    ``History``'s checks: a version not after its kind's last is refused (``RuleRefused``)."""
    capital: list[Version[FirmCapital]] = []
    rules: list[Version[FirmLimitRule]] = []
    ordered = sorted(rows, key=lambda r: (r["effective"], r["version_id"]))
    for row in (*ordered, *appended):
        version_id, effective, source = row["version_id"], row["effective"], row["source"]
        payload = row["payload_json"]
        if row["kind"] == NET_CAPITAL:
            value = FirmCapital(int(json.loads(payload)["net_capital_fen"]))
            capital.append(Version(version_id, effective, value, source))
        else:
            rules.append(Version(version_id, effective, decode_rule(payload), source))
    return FirmLimitHistories(History(tuple(capital)), History(tuple(rules)))


def save_firm_limit_versions(
    engine: Engine,
    capital: Iterable[Version[FirmCapital]],
    rules: Iterable[Version[FirmLimitRule]],
    *,
    clock: Clock,
) -> int:
    """Record net-capital and rule versions; returns how many were new.  New versions of a
    kind follow its stored ones in the order given, each after the one before (as
    ``History`` appends), else ``RuleRefused`` and nothing is written."""
    wanted: list[tuple[str, Version[FirmCapital] | Version[FirmLimitRule]]] = [
        *((NET_CAPITAL, v) for v in capital),
        *((RULE, v) for v in rules),
    ]
    with write_lock(engine) as conn:
        rows = conn.execute(select(firm_limit_versions)).mappings().all()
        known = {(r["kind"], r["version_id"]): dict(r) for r in rows}
        fresh: dict[tuple[str, str], dict[str, Any]] = {}
        for kind, version in wanted:
            row = {
                "kind": kind,
                "version_id": version.version_id,
                "effective": version.effective,
                "payload_json": _payload(version.value),
                "source": version.source,
            }
            key = (kind, version.version_id)
            seen = known.get(key) or fresh.get(key)
            if seen is None:
                fresh[key] = row
            elif any(seen[name] != row[name] for name in ("effective", "payload_json", "source")):
                raise FirmLimitConflict(
                    f"firm limit version {kind}/{version.version_id} is recorded with another "
                    "effective date, value or source; record a new version id instead"
                )
        if not fresh:
            return 0
        _histories(known.values(), fresh.values())  # refuses a version dated back
        recorded_at = stamp(clock)
        conn.execute(
            firm_limit_versions.insert(),
            [{**row, "recorded_at": recorded_at} for row in fresh.values()],
        )
    return len(fresh)


def load_firm_limit_histories(engine: Engine) -> FirmLimitHistories:
    with engine.connect() as conn:
        rows = conn.execute(select(firm_limit_versions)).mappings().all()
    return _histories(dict(row) for row in rows)


def load_firm_limits(engine: Engine, on: date) -> FirmLimits | None:
    """The limits in force on ``on``; None when the store holds none yet (no firm limit
    configured: the book then refuses nothing on the firm's account)."""
    return load_firm_limit_histories(engine).on(on)


# --------------------------------------------------------------------------- the alerts


@dataclass(frozen=True, slots=True)
class FirmAlert:
    trading_date: date
    indicator: Indicator
    subject: str
    level: Level
    value: int
    limit: Fraction
    blocks: tuple[str, ...]  # ``Business`` values, sorted
    at: str
    capital_version: str
    rule_version: str


def alerts_of(evaluation: FirmEvaluation, on: date, at: str) -> list[FirmAlert]:
    """The readings worth a record: at the warning level or above, or blocking."""
    blocked: dict[tuple[Indicator, str], set[str]] = {}
    readings: dict[tuple[Indicator, str], Reading] = {}
    for block in evaluation.blocks.blocks:
        key = (block.reading.indicator, block.reading.subject)
        blocked.setdefault(key, set()).add(block.business.value)
        readings[key] = block.reading
    for reading in evaluation.alerts:
        if reading.level.value >= STORED_FROM.value:
            readings.setdefault((reading.indicator, reading.subject), reading)
    limits = evaluation.limits
    return [
        FirmAlert(
            on, r.indicator, r.subject, r.level, r.value, r.limit,
            tuple(sorted(blocked.get(key, ()))), at, limits.capital_version, limits.rule_version,
        )
        for key, r in sorted(readings.items(), key=lambda kv: (kv[0][0].name, kv[0][1]))
    ]  # fmt: skip


def save_firm_alerts(engine: Engine, alerts: Iterable[FirmAlert]) -> int:
    """Append the alerts not recorded yet (by date, indicator, subject, level); returns how
    many were new."""
    rows = {
        (a.trading_date, a.indicator.name, a.subject, a.level.name): {
            "trading_date": a.trading_date,
            "indicator": a.indicator.name,
            "subject": a.subject,
            "level": a.level.name,
            "scope": a.indicator.scope.value,
            "value": a.value,
            "limit_value": exact_text(a.limit),
            "blocks": ",".join(a.blocks),
            "at": a.at,
            "capital_version": a.capital_version,
            "rule_version": a.rule_version,
        }
        for a in alerts
    }
    if not rows:
        return 0
    days = sorted({key[0] for key in rows})
    t = firm_alerts.c
    with write_lock(engine) as conn:
        known = conn.execute(
            select(t.trading_date, t.indicator, t.subject, t.level).where(t.trading_date.in_(days))
        )
        for row in known:
            rows.pop((row.trading_date, row.indicator, row.subject, row.level), None)
        if rows:
            conn.execute(firm_alerts.insert(), list(rows.values()))
    return len(rows)


def load_firm_alerts(engine: Engine, on: date | None = None) -> list[FirmAlert]:
    """The recorded alerts (of one trading date if given), by date, indicator, subject."""
    query = select(firm_alerts)
    if on is not None:
        query = query.where(firm_alerts.c.trading_date == on)
    with engine.connect() as conn:
        rows = conn.execute(query).all()
    alerts = [
        FirmAlert(
            row.trading_date, Indicator[row.indicator], row.subject, Level[row.level], row.value,
            Fraction(row.limit_value), tuple(filter(None, row.blocks.split(","))), row.at,
            row.capital_version, row.rule_version,
        )
        for row in rows
    ]  # fmt: skip
    return sorted(
        alerts, key=lambda a: (a.trading_date, a.indicator.name, a.subject, a.level.value)
    )
