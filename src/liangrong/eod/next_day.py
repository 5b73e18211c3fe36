"""Step ``next_day``: the next trading day's lists and parameters applied (REF-2, REF-5):
published through the settings' reference source, then read back and checked to be in
force: the exchange's and the firm's lists of the day, the rule versions that govern it.

Invariants: publishing is idempotent (the same lists and versions record nothing new); the
step fails, and the end of day stops, when the next day would open without lists or rules
in force; its digest covers the lists' own digests and the versions read, never a time.
"""

from __future__ import annotations

from sqlalchemy import select

from liangrong.domain.lists import ListLayer
from liangrong.domain.rule_book import terms_for
from liangrong.eod.context import Digest, StepOutcome, StepRun
from liangrong.store import schema as s
from liangrong.store.list_publications import load_list_store
from liangrong.store.reference import load_prices
from liangrong.store.rule_versions import load_rule_book


class NextDayNotReady(LookupError):
    """The next trading day has no lists or rules in force."""


def next_day_step(run: StepRun) -> StepOutcome:
    ctx = run.ctx
    engine, upcoming = ctx.engine, ctx.next_day()
    ctx.settings.reference_source(engine, upcoming, run.clock())
    run.progress(1, 2)
    store = load_list_store(engine, upcoming, upcoming)
    exchange = store.lists_on(ListLayer.EXCHANGE, upcoming)
    try:
        firm = store.firm_lists_on(upcoming)
    except LookupError as missing:
        raise NextDayNotReady(f"{upcoming}: {missing}") from None
    assert exchange is not None  # firm_lists_on found it
    book = load_rule_book(engine)
    today = terms_for(book, None, ctx.day).rule_version.identifier
    terms = terms_for(book, None, upcoming)
    prices = load_prices(engine, upcoming)
    t = s.list_publications
    with engine.connect() as conn:
        published = conn.execute(
            select(t.c.layer, t.c.trading_date, t.c.digest).where(
                t.c.trading_date.in_([exchange.trading_date, firm.firm_published])
            )
        ).all()
    digest = Digest()
    for layer, day, list_digest in sorted(published):
        digest.line("lists", layer, day, list_digest)
    digest.line("rules", terms.rule_version.identifier)
    digest.line("prices", len(prices), max((p.trading_date for p in prices.values()), default=""))
    run.progress(2, 2)
    lists = firm.lists
    return StepOutcome(
        digest.hexdigest(),
        {
            "next_day": upcoming.isoformat(),
            "exchange_lists_of": exchange.trading_date.isoformat(),
            "firm_lists_of": firm.firm_published.isoformat(),
            "financing_targets": len(lists.financing_targets),
            "short_targets": len(lists.short_targets),
            "collateral": len(lists.collateral),
            "adjustments": len(firm.adjustments),
            "rules": terms.rule_version.identifier,
            "rules_changed": terms.rule_version.identifier != today,
            "reference_prices": len(prices),
        },
    )
