"""List publications (REF-2, REF-3): each layer's daily lists, one publication per trading
date, stored whole (every entry) and append-only.

Invariants: a publication is never rewritten; a later date publishes a new version, and
the lists in force on a date are the latest publication on or before it; publishing goes
through ``ListStore.published`` (a date after the layer's latest, firm lists within the
exchange's in force that day); the same lists again change nothing, other entries for a
published date are refused (``ListPublicationConflict``); haircuts are exact fraction text.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from fractions import Fraction

from sqlalchemy import Connection, Engine, select

from liangrong.domain.lists import DailyLists, ListLayer, ListStore
from liangrong.domain.rule_codec import exact_text, parse_exact
from liangrong.store import schema as s
from liangrong.store.reference import Clock, ReferenceConflict, digest, stamp, write_lock


class ListPublicationConflict(ReferenceConflict):
    """Lists for the same layer and trading date were published with other entries."""


def _entries(lists: DailyLists) -> list[tuple[str, bool, bool, str | None]]:
    named = lists.financing_targets | lists.short_targets | lists.collateral.keys()
    return [
        (
            symbol,
            symbol in lists.financing_targets,
            symbol in lists.short_targets,
            exact_text(haircut) if (haircut := lists.haircut(symbol)) is not None else None,
        )
        for symbol in sorted(named)
    ]


def _read_lists(conn: Connection, layer: ListLayer, trading_date: date) -> DailyLists:
    table = s.list_entries
    rows = conn.execute(
        select(table).where(table.c.layer == layer.value, table.c.trading_date == trading_date)
    )
    financing: set[str] = set()
    short: set[str] = set()
    collateral: dict[str, Fraction] = {}
    for row in rows:
        if row.financing_target:
            financing.add(row.symbol)
        if row.short_target:
            short.add(row.symbol)
        if row.haircut is not None:
            collateral[row.symbol] = parse_exact(row.haircut, f"{row.symbol}.haircut")
    return DailyLists(trading_date, layer, frozenset(financing), frozenset(short), collateral)


def _publication_dates(
    conn: Connection, layer: ListLayer, start: date | None = None, end: date | None = None
) -> list[date]:
    """Dates of ``layer``'s publications in force on some day of [start, end]."""
    table = s.list_publications
    query = select(table.c.trading_date).where(table.c.layer == layer.value)
    if end is not None:
        query = query.where(table.c.trading_date <= end)
    dates = list(conn.execute(query.order_by(table.c.trading_date)).scalars())
    if start is not None:
        in_force = [d for d in dates if d <= start][-1:]  # the one in force on ``start``
        dates = in_force + [d for d in dates if d > start]
    return dates


def _latest_lists(conn: Connection, layer: ListLayer, on: date | None) -> tuple[DailyLists, ...]:
    dates = _publication_dates(conn, layer, end=on)[-1:]
    return tuple(_read_lists(conn, layer, d) for d in dates)


def publish_lists(engine: Engine, lists: Iterable[DailyLists], *, clock: Clock) -> int:
    """Publish daily lists (exchange before firm on the same date); returns how many
    publications were new.  Each goes through ``ListStore.published``: a date not after
    the layer's latest, or firm lists that do not fit the exchange's in force that day, are
    refused (``RuleRefused``); publishing identical lists again changes nothing."""
    order = sorted(lists, key=lambda x: (x.trading_date, x.layer is ListLayer.FIRM))
    published = 0
    with write_lock(engine) as conn:
        for item in order:
            entries = _entries(item)
            entries_digest = digest(entries)
            table = s.list_publications
            known = conn.execute(
                select(table.c.digest).where(
                    table.c.layer == item.layer.value, table.c.trading_date == item.trading_date
                )
            ).scalar_one_or_none()
            if known is not None:
                if known != entries_digest:
                    raise ListPublicationConflict(
                        f"{item.layer.value} lists of {item.trading_date} are published with "
                        "other entries; a published list is never rewritten"
                    )
                continue
            # Only what the checks read: the layer's latest and the exchange's in force.
            store = ListStore(
                exchange=_latest_lists(
                    conn,
                    ListLayer.EXCHANGE,
                    None if item.layer is ListLayer.EXCHANGE else item.trading_date,
                ),
                firm=_latest_lists(conn, ListLayer.FIRM, None)
                if item.layer is ListLayer.FIRM
                else (),
            )
            store.published(item)
            conn.execute(
                table.insert().values(
                    layer=item.layer.value,
                    trading_date=item.trading_date,
                    entry_count=len(entries),
                    digest=entries_digest,
                    published_at=stamp(clock),
                )
            )
            if entries:
                conn.execute(
                    s.list_entries.insert(),
                    [
                        {
                            "layer": item.layer.value,
                            "trading_date": item.trading_date,
                            "symbol": symbol,
                            "financing_target": financing,
                            "short_target": short,
                            "haircut": haircut,
                        }
                        for symbol, financing, short, haircut in entries
                    ],
                )
            published += 1
    return published


def latest_publication(engine: Engine, layer: ListLayer) -> date | None:
    """The date of ``layer``'s latest published lists, None before the first."""
    with engine.connect() as conn:
        dates = _publication_dates(conn, layer)
    return dates[-1] if dates else None


def load_list_store(
    engine: Engine, start: date | None = None, end: date | None = None
) -> ListStore:
    """The published lists in force on some day of [start, end] (unbounded by default):
    ``lists_on(layer, d)`` for d in that range reads exactly what was published."""
    with engine.connect() as conn:
        layers = {
            layer: tuple(
                _read_lists(conn, layer, d) for d in _publication_dates(conn, layer, start, end)
            )
            for layer in ListLayer
        }
    return ListStore(exchange=layers[ListLayer.EXCHANGE], firm=layers[ListLayer.FIRM])
