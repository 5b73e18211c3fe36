"""Rule versions (REF-5): every parameter version of the three layers, with its effective
date and source, recorded append-only as canonical JSON (``liangrong.domain.rule_codec``).

Invariants: a version is keyed by (layer, subject, version id), the subject being the client
id of a client agreement and '' otherwise; recording the same version again changes
nothing, the same key with another effective date, value or source is refused
(``RuleVersionConflict``); saving and loading both go through ``RuleBook.with_*``, so a
firm or client value looser than the exchange's is refused (``RuleRefused``) whether it
arrives through ``save_rule_versions`` or was written into the table some other way.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, cast

from sqlalchemy import Connection, Engine, select

from liangrong.domain.parameters import ClientAgreement, ExchangeRules, FirmPolicy
from liangrong.domain.rule_book import RuleBook
from liangrong.domain.rule_codec import RuleLayer, decode_layer, encode_rules, layer_of
from liangrong.domain.versions import Version
from liangrong.store import schema as s
from liangrong.store.reference import Clock, ReferenceConflict, stamp, write_lock

AnyVersion = Version[ExchangeRules] | Version[FirmPolicy] | Version[ClientAgreement]


class RuleVersionConflict(ReferenceConflict):
    """The same rule version id was recorded with another effective date, value or source."""


_LAYER_ORDER = {layer: index for index, layer in enumerate(RuleLayer)}


def _subject(version: AnyVersion) -> str:
    value = version.value
    return value.client_id if isinstance(value, ClientAgreement) else ""


def _flatten(book_or_versions: RuleBook | Iterable[AnyVersion]) -> list[AnyVersion]:
    if isinstance(book_or_versions, RuleBook):
        book = book_or_versions
        versions: list[AnyVersion] = [*book.exchange.versions, *book.firm.versions]
        for client_id in sorted(book.clients):
            versions += book.clients[client_id].versions
        return versions
    return list(book_or_versions)


def _stored_versions(conn: Connection) -> dict[tuple[str, str, str], AnyVersion]:
    """Every stored version by (layer, subject, version id), in loading order."""
    rows = sorted(
        conn.execute(select(s.rule_versions)),
        key=lambda r: (_LAYER_ORDER[RuleLayer(r.layer)], r.subject, r.effective),
    )
    stored: dict[tuple[str, str, str], AnyVersion] = {}
    for row in rows:
        value = decode_layer(RuleLayer(row.layer), row.payload_json)
        # the layer column and the value's type agree: decode_layer picked the type by it
        version = cast(AnyVersion, Version(row.version_id, row.effective, value, row.source))
        stored[(row.layer, row.subject, row.version_id)] = version
    return stored


def _with_versions(book: RuleBook, versions: Sequence[AnyVersion]) -> RuleBook:
    """``book`` with ``versions`` appended through the refusals: exchange first, so firm and
    client versions are checked against every exchange version known."""
    by_layer: dict[RuleLayer, list[Any]] = {layer: [] for layer in RuleLayer}
    for version in versions:
        by_layer[layer_of(version.value)].append(version)
    if by_layer[RuleLayer.EXCHANGE]:
        book = book.with_exchange(*by_layer[RuleLayer.EXCHANGE])
    if by_layer[RuleLayer.FIRM]:
        book = book.with_firm(*by_layer[RuleLayer.FIRM])
    clients: dict[str, list[Version[ClientAgreement]]] = {}
    for version in by_layer[RuleLayer.CLIENT]:
        clients.setdefault(version.value.client_id, []).append(version)
    for client_id in sorted(clients):
        book = book.with_client(*clients[client_id])
    return book


def save_rule_versions(
    engine: Engine, book_or_versions: RuleBook | Iterable[AnyVersion], *, clock: Clock
) -> int:
    """Record rule versions (each with its source, the audit record); returns how many
    were new.  The layer comes from the value's type.  New versions are appended to the
    stored book through ``RuleBook.with_*``: a looser firm or client value, or a version not
    after its layer's last, is refused (``RuleRefused``) and nothing is written."""
    with write_lock(engine) as conn:
        stored = _stored_versions(conn)
        fresh: dict[tuple[str, str, str], AnyVersion] = {}
        for version in _flatten(book_or_versions):
            key = (layer_of(version.value).value, _subject(version), version.version_id)
            known = stored.get(key) or fresh.get(key)
            if known is not None:
                if known != version:
                    raise RuleVersionConflict(
                        f"rule version {'/'.join(filter(None, key))} is recorded with another "
                        "effective date, value or source; record a new version id instead"
                    )
                continue
            fresh[key] = version
        if not fresh:
            return 0
        _with_versions(_with_versions(RuleBook(), list(stored.values())), list(fresh.values()))
        recorded_at = stamp(clock)
        conn.execute(
            s.rule_versions.insert(),
            [
                {
                    "layer": layer,
                    "subject": subject,
                    "version_id": version_id,
                    "effective": version.effective,
                    "payload_json": encode_rules(version.value),
                    "source": version.source,
                    "recorded_at": recorded_at,
                }
                for (layer, subject, version_id), version in fresh.items()
            ],
        )
    return len(fresh)


def load_rule_book(engine: Engine) -> RuleBook:
    """The stored rule book, rebuilt through ``RuleBook.with_*``: a stored value looser than
    the exchange's is refused here (``RuleRefused``) even if it was written around
    ``save_rule_versions``."""
    with engine.connect() as conn:
        return _with_versions(RuleBook(), list(_stored_versions(conn).values()))
