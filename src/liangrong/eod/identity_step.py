"""Step ``identity``: identity-document expiry monitoring (CLI-6; the rules are
``domain.identity_expiry``'s, the records ``store.identity_documents``'s).

- every document on file that needs attention on the trading date (expiring within the
  notice window, expired) gets its reminder, once per document and expiry: the domain's
  ``identity:{client}:{kind}:{valid until}`` id, recorded the first day it is found;
- the restriction of each client is decided for the next trading day, under the policy in
  force that day (so the first day the policy restricts is the first day the trading
  refuses, weekends and holidays included), and recorded when it changes from the client's
  last decision: restricted, with the documents that restrict, or lifted.

Invariants: only the documents whose last valid day is within the notice window, or past,
and that are still on file are read (``documents_due``), so the step's cost follows the
documents needing attention, not the book; what it records is computed from the documents,
the policy and the decisions of earlier dates only (never from its own records), saved in
batches whose moments are fixed by their position (``StepRun.stamp``), and keyed, so a
rerun after a crash records exactly what the interrupted run had not; the digest covers
what is recorded for the date, read back from the store.  No policy in force: nothing is
reminded and every restriction is lifted.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import date, timedelta
from typing import TypeVar

from sqlalchemy import Engine

from liangrong.domain.identity_expiry import (
    DocumentStatus,
    IdentityDocument,
    IdentityExpiryPolicy,
    check_document,
    monitor,
    notice_text,
    restriction_starts,
)
from liangrong.domain.versions import Version
from liangrong.eod.context import Digest, StepOutcome, StepRun
from liangrong.store.identity_documents import (
    IdentityNotice,
    Restricting,
    RestrictionDecision,
    documents_due,
    latest_decisions,
    load_decisions,
    load_notices,
    load_policy_history,
    save_notices,
    save_restriction_decisions,
)

_BATCH = 2_000
_Record = TypeVar("_Record", IdentityNotice, RestrictionDecision)
_RESTRICTIONS = 100_000  # the restriction batches' moments follow the notices'


def _notices(
    run: StepRun, documents: Sequence[IdentityDocument], version: Version[IdentityExpiryPolicy]
) -> list[IdentityNotice]:
    """The reminders due on the date (the ones recorded before are skipped when saved)."""
    day, policy = run.ctx.day, version.value
    found: list[IdentityNotice] = []
    for document in documents:
        check = check_document(document, day, policy)
        if check.notice_id is None or document.valid_until is None or check.days_left is None:
            continue
        zh, en = notice_text(check, policy)
        found.append(
            IdentityNotice(
                check.notice_id, document.client_id, document.kind, document.valid_until, day,
                check.status, check.days_left, restriction_starts(document, policy),
                version.version_id, "", zh, en,
            )
        )  # fmt: skip
    return found


def _decisions(
    run: StepRun,
    documents: Sequence[IdentityDocument],
    version: Version[IdentityExpiryPolicy] | None,
    effective: date,
) -> list[RestrictionDecision]:
    """Each client's restriction from ``effective`` where it differs from its last decision
    of an earlier date (by client)."""
    day = run.ctx.day
    now: dict[str, Restricting] = {}
    if version is not None:
        for status in monitor(documents, effective, version.value):
            if status.restricted:
                now[status.client_id] = tuple(
                    sorted(
                        (c.document.kind, c.document.valid_until)
                        for c in status.checks
                        if c.status is DocumentStatus.RESTRICTED and c.document.valid_until
                    )
                )  # fmt: skip
    before = latest_decisions(run.ctx.engine, decided_before=day)
    version_id = version.version_id if version is not None else None
    changed: list[RestrictionDecision] = []
    for client in sorted(set(now) | {c for c, d in before.items() if d.restricted}):
        wanted = now.get(client, ())
        last = before.get(client)
        if last is not None and (last.restricted, last.documents) == (bool(wanted), wanted):
            continue
        changed.append(
            RestrictionDecision(client, effective, day, bool(wanted), wanted, version_id, "")
        )
    return changed


def _save_in_batches(
    run: StepRun,
    items: Sequence[_Record],
    save: Callable[[Engine, Sequence[_Record]], int],
    ticks: tuple[int, int, int],
) -> int:
    """Save ``items`` batch by batch, each stamped with its own moment; ``ticks``: (the
    first batch's tick, records saved before, records in all); returns the records saved."""
    first_tick, done, total = ticks
    records = run.ctx.records_engine()
    for number, start in enumerate(range(0, len(items), _BATCH)):
        at = run.stamp(first_tick + number)
        batch = items[start : start + _BATCH]
        save(records, [replace(item, at=at) for item in batch])
        done += len(batch)
        run.progress(done, total)
    return done


def identity_step(run: StepRun) -> StepOutcome:
    ctx = run.ctx
    day, effective = ctx.day, ctx.next_day()
    history = load_policy_history(ctx.engine)
    today, then = history.version_at(day), history.version_at(effective)
    horizon = max(effective, day + timedelta(days=today.value.notice_days if today else 0))
    documents = documents_due(ctx.engine, day, horizon) if today or then else []
    notices = _notices(run, documents, today) if today is not None else []
    decisions = _decisions(run, documents, then, effective)
    total = len(notices) + len(decisions)
    done = _save_in_batches(run, notices, save_notices, (0, 0, total))
    _save_in_batches(run, decisions, save_restriction_decisions, (_RESTRICTIONS, done, total))
    return _outcome(run, len(documents), today, then, effective)


def _outcome(
    run: StepRun,
    examined: int,
    today: Version[IdentityExpiryPolicy] | None,
    then: Version[IdentityExpiryPolicy] | None,
    effective: date,
) -> StepOutcome:
    """The digest of what is recorded for the date, read back (the same after a rerun)."""
    day = run.ctx.day
    digest = Digest()
    notices = load_notices(run.ctx.engine, decided_on=day)
    for n in notices:
        digest.line("notice", n.notice_id, n.status.value, n.days_left, n.restricts_from, n.at)
    decisions = load_decisions(run.ctx.engine, decided_on=day)
    for d in decisions:
        documents = ",".join(f"{kind.value}:{until}" for kind, until in d.documents)
        digest.line("restriction", d.client_id, d.effective, d.restricted, documents, d.at)
    run.progress(1, 1)
    return StepOutcome(
        digest.hexdigest(),
        {
            "policy": today.version_id if today else None,
            "policy_next_day": then.version_id if then else None,
            "effective": effective.isoformat(),
            "documents_examined": examined,
            "notices": len(notices),
            "restricted": sum(1 for d in decisions if d.restricted),
            "lifted": sum(1 for d in decisions if not d.restricted),
        },
    )
