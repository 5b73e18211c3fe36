"""Defaults recorded by a user (CLI-5; S0 ch6 §2 资信不良、有违约记录, S1 art. 60 恶意违规记录):
what the system cannot derive from its own records, entered by the firm, cured later, or
withdrawn as recorded in error (录入错误撤销).

The end of day derives overdue contracts, missed margin calls and shortfalls after disposal
itself (``default_records``); a user records the rest: bad credit (资信不良) learnt from
outside the book, other defaults, and overdue interest or fees (息费逾期).  Each record says
whether the firm judges the default malicious (恶意违约), which refuses the client's
extensions (CON-2).

Invariants:
- only ``RECORDABLE`` kinds are recorded by a user (the derived ones are refused: the
  system records them, and two records of one default would be reported twice);
- a record is a fact and is never edited: curing it is a separate ``DefaultCure``, at most
  one per record, never dated before the default occurred; nothing is dated after the
  recording day (``today``);
- a record entered in error (wrong client, wrong malicious flag, ...) is withdrawn by a
  separate ``DefaultWithdrawal``, at most one per record, never dated before the default
  occurred, with a reason (one line of printable text, required), and by another user than
  the one who recorded it (four eyes: ``SAME_USER``); a cured record may be withdrawn (the
  cure stays), a withdrawn one is never cured (``WITHDRAWN``); the same withdrawal again
  (same date and reason, whoever sends it) changes nothing, another one is refused
  (``ALREADY_WITHDRAWN``);
- a record's id is the caller's (letters, digits, ``_.-``: never a ``:``, so it can never
  be one of the derived records' ids) or, without one, ``default:{client}:{kind}:{date}``;
  recording the same fact under the same id again changes nothing, another fact under it is
  refused (``RECORDED_OTHERWISE``); who records it is not part of the fact;
- amounts are fen, 0 or more (an overdue charge is more than 0); a note is one line of
  printable text (it goes into the exchange's file), required for bad credit and other;
- malicious default counts from the day it occurred, cured or not (``malicious_records``):
  S1 art. 60 asks for "no record of malicious default", and curing a default settles the
  debt without erasing the record (S2 art. 14: the firm assesses the client's credit
  standing, which a settled malicious default still describes);
- a withdrawn record does not count on any day on or after its withdrawal's date, and still
  counts before it: a withdrawal says the record was an error, but decisions already taken
  on it are facts of their own (recorded append-only, never re-decided), and the rule "as
  known on day D" lets a rerun of an earlier day decide as that day did; to have a record
  not count from the start, date the withdrawal on the day it occurred.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import date

from liangrong.domain.bilingual import Bilingual, BilingualRefused
from liangrong.domain.default_records import DefaultEvent, DefaultKind

RECORDABLE = (DefaultKind.BAD_CREDIT, DefaultKind.OTHER, DefaultKind.OVERDUE_CHARGES)
NOTE_REQUIRED = frozenset({DefaultKind.BAD_CREDIT, DefaultKind.OTHER})
MAX_NOTE = 500  # characters, a note's or a withdrawal's reason
MAX_USER = 64  # characters, the stored column's width
MAX_CLIENT = 32
MAX_AMOUNT_FEN = 10**15  # 10 trillion yuan: far above any client's debt, inside BIGINT
RECORD_ID_PATTERN = r"^[A-Za-z0-9_.-]{1,64}$"  # a caller's id: no ':', unlike derived ids
DERIVED_PREFIX = "default:"
_RECORD_ID = re.compile(RECORD_ID_PATTERN)


class DefaultRefusal(Bilingual):
    """Why a record or cure is refused.  Value: (zh, en); nothing is recorded."""

    INVALID_RECORD_ID = (
        "记录编号须为1至64位字母、数字或_.-",
        "a record id is 1 to 64 letters, digits or _.- (no ':')",
    )
    INVALID_USER = ("记录人须为1至64位可打印字符", "the user is 1 to 64 printable characters")
    UNKNOWN_CLIENT = ("客户无信用账户", "no credit account of this client")
    DERIVED_KIND = (
        "该类违约由系统根据合约、追保和平仓记录自动记录, 不得手工记录",
        "the system records this kind itself (overdue contracts, missed calls, shortfalls "
        "after disposal); record bad_credit, other or overdue_charges",
    )
    INVALID_AMOUNT = ("欠款金额须为0至10万亿元", "the amount owed is 0 to 10 trillion yuan")
    AMOUNT_REQUIRED = ("息费逾期须填欠款金额", "overdue charges need the amount owed")
    NOTE_REQUIRED = ("资信不良和其他违约须填说明", "bad credit and other defaults need a note")
    INVALID_NOTE = (
        "说明须为一行可打印文字, 至多500字",
        "a note is one line of printable text, at most 500 characters",
    )
    IN_THE_FUTURE = ("日期晚于当日", "the date is after today")
    RECORDED_OTHERWISE = (
        "该记录编号已记录了不同的内容",
        "this record id is recorded with other content (give another id to record another)",
    )
    UNKNOWN_RECORD = (
        "无此手工违约记录(系统记录的违约随还款或平仓自动解除)",
        "no such recorded default (derived records are cured by repayment or disposal)",
    )
    CURED_BEFORE_OCCURRED = ("解除日早于违约日", "cured before the default occurred")
    ALREADY_CURED = ("该记录已于其他日期解除", "the record is already cured, on another date")
    WITHDRAWN = ("该记录已撤销, 不得解除", "the record is withdrawn (recorded in error): no cure")
    REASON_REQUIRED = ("撤销须填原因", "a withdrawal needs its reason")
    INVALID_REASON = (
        "撤销原因须为一行可打印文字, 至多500字",
        "a reason is one line of printable text, at most 500 characters",
    )
    WITHDRAWN_BEFORE_OCCURRED = ("撤销日早于违约日", "withdrawn before the default occurred")
    SAME_USER = ("撤销人不得为记录人", "a record is withdrawn by another user than its recorder")
    ALREADY_WITHDRAWN = (
        "该记录已以其他日期或原因撤销",
        "the record is already withdrawn, on another date or for another reason",
    )


class DefaultRefused(BilingualRefused):
    code: DefaultRefusal


@dataclass(frozen=True, slots=True)
class DefaultEntry:
    """A default as a user records it."""

    record_id: str
    client_id: str
    kind: DefaultKind
    occurred_on: date
    amount_owed_fen: int
    note: str
    malicious: bool  # the firm judges it malicious (恶意违约)
    recorded_by: str

    def same_fact(self, other: DefaultEntry) -> bool:
        """Whether ``other`` records the same thing (whoever recorded it)."""
        return replace(other, recorded_by=self.recorded_by) == self


@dataclass(frozen=True, slots=True)
class DefaultCure:
    """A recorded default settled on ``cured_on``."""

    record_id: str
    cured_on: date
    cured_by: str
    note: str = ""


@dataclass(frozen=True, slots=True)
class DefaultWithdrawal:
    """A recorded default withdrawn on ``withdrawn_on`` as recorded in error (录入错误撤销)."""

    record_id: str
    withdrawn_on: date
    withdrawn_by: str
    reason: str


def _by(day: date | None, on: date | None) -> date | None:
    """``day`` if it is on or before ``on`` (any day when ``on`` is None)."""
    return None if day is None or (on is not None and day > on) else day


@dataclass(frozen=True, slots=True)
class RecordedDefault:
    """A record as stored: the entry, when it was recorded, its cure and its withdrawal, if
    any, each with when it was recorded."""

    entry: DefaultEntry
    recorded_at: str
    cure: DefaultCure | None = None
    cured_at: str | None = None
    withdrawal: DefaultWithdrawal | None = None
    withdrawn_at: str | None = None

    def cured_on(self, on: date | None = None) -> date | None:
        """The cure's date, if cured by ``on`` (any date when ``on`` is None)."""
        return _by(self.cure.cured_on if self.cure else None, on)

    def withdrawn_on(self, on: date | None = None) -> date | None:
        """The withdrawal's date, if withdrawn by ``on`` (any date when ``on`` is None)."""
        return _by(self.withdrawal.withdrawn_on if self.withdrawal else None, on)

    def as_of(self, on: date) -> RecordedDefault:
        """The record as it stood on ``on``: a cure or withdrawal dated later left out."""
        cured, withdrawn = self.cured_on(on) is not None, self.withdrawn_on(on) is not None
        return replace(
            self,
            cure=self.cure if cured else None,
            cured_at=self.cured_at if cured else None,
            withdrawal=self.withdrawal if withdrawn else None,
            withdrawn_at=self.withdrawn_at if withdrawn else None,
        )

    def event(self, client_name: str) -> DefaultEvent:
        """The record as the day's default-record report lists it."""
        e = self.entry
        return DefaultEvent(e.record_id, e.client_id, client_name, e.kind, e.occurred_on,
                            e.amount_owed_fen, self.cured_on(), e.note,
                            self.withdrawn_on())  # fmt: skip


def derived_id(client_id: str, kind: DefaultKind, occurred_on: date) -> str:
    """The id of a record given without one: one per client, kind and day."""
    return f"{DERIVED_PREFIX}{client_id}:{kind.value}:{occurred_on.isoformat()}"


def _check_user(user: str) -> None:
    if not 0 < len(user) <= MAX_USER or not user.isprintable() or user != user.strip():
        raise DefaultRefused(DefaultRefusal.INVALID_USER, repr(user[:80]))


def _check_text(text: str, code: DefaultRefusal) -> None:
    """A note or reason: it goes into the files, so one line of printable text."""
    if len(text) > MAX_NOTE or not text.isprintable():
        raise DefaultRefused(code, f"{len(text)} characters")


def _check_note(note: str) -> None:
    _check_text(note, DefaultRefusal.INVALID_NOTE)


def _check_date(what: str, day: date, today: date) -> None:
    if day > today:
        raise DefaultRefused(DefaultRefusal.IN_THE_FUTURE, f"{what} {day} after {today}")


def _client_shape_ok(client_id: str) -> bool:
    """Whether ``client_id`` can be a client's id at all (before looking it up)."""
    return 0 < len(client_id) <= MAX_CLIENT and client_id.isprintable()


def check_entry(entry: DefaultEntry, today: date) -> None:
    """Everything about a new record that needs no store; raises ``DefaultRefused``."""
    record_id = entry.record_id
    derived = derived_id(entry.client_id, entry.kind, entry.occurred_on)
    if record_id != derived and not _RECORD_ID.match(record_id):
        raise DefaultRefused(DefaultRefusal.INVALID_RECORD_ID, repr(record_id[:80]))
    _check_user(entry.recorded_by)
    if not _client_shape_ok(entry.client_id):
        raise DefaultRefused(DefaultRefusal.UNKNOWN_CLIENT, repr(entry.client_id[:80]))
    if entry.kind not in RECORDABLE:
        raise DefaultRefused(DefaultRefusal.DERIVED_KIND, entry.kind.value)
    if not 0 <= entry.amount_owed_fen <= MAX_AMOUNT_FEN:
        raise DefaultRefused(DefaultRefusal.INVALID_AMOUNT, f"{entry.amount_owed_fen} fen")
    if entry.kind is DefaultKind.OVERDUE_CHARGES and entry.amount_owed_fen == 0:
        raise DefaultRefused(DefaultRefusal.AMOUNT_REQUIRED, "0 fen")
    _check_note(entry.note)
    if entry.kind in NOTE_REQUIRED and not entry.note.strip():
        raise DefaultRefused(DefaultRefusal.NOTE_REQUIRED, entry.kind.value)
    _check_date("occurred", entry.occurred_on, today)


def check_again(stored: DefaultEntry, entry: DefaultEntry) -> None:
    """The same id recorded again: nothing to do if it is the same fact, else refused."""
    if not stored.same_fact(entry):
        raise DefaultRefused(DefaultRefusal.RECORDED_OTHERWISE, entry.record_id)


def check_cure(record: RecordedDefault | None, cure: DefaultCure, today: date) -> bool:
    """Whether ``cure`` is new (False: this very cure is recorded); raises
    ``DefaultRefused`` when it cannot be recorded."""
    _check_user(cure.cured_by)
    _check_note(cure.note)
    if record is None:
        raise DefaultRefused(DefaultRefusal.UNKNOWN_RECORD, cure.record_id[:100])
    _check_date("cured", cure.cured_on, today)
    if cure.cured_on < record.entry.occurred_on:
        detail = f"{cure.cured_on} before {record.entry.occurred_on}"
        raise DefaultRefused(DefaultRefusal.CURED_BEFORE_OCCURRED, detail)
    if record.cure is not None:  # ahead of the withdrawal: its own cure again changes nothing
        if (record.cure.cured_on, record.cure.note) != (cure.cured_on, cure.note):
            raise DefaultRefused(DefaultRefusal.ALREADY_CURED, f"cured on {record.cure.cured_on}")
        return False
    if record.withdrawal is not None:
        raise DefaultRefused(DefaultRefusal.WITHDRAWN, f"withdrawn on {record.withdrawn_on()}")
    return True


def check_withdrawal(
    record: RecordedDefault | None, withdrawal: DefaultWithdrawal, today: date
) -> bool:
    """Whether ``withdrawal`` is new (False: this very withdrawal is recorded); raises
    ``DefaultRefused`` when it cannot be recorded."""
    w = withdrawal
    _check_user(w.withdrawn_by)
    _check_reason(w)
    if record is None:
        raise DefaultRefused(DefaultRefusal.UNKNOWN_RECORD, w.record_id[:100])
    _check_date("withdrawn", w.withdrawn_on, today)
    if w.withdrawn_on < record.entry.occurred_on:
        detail = f"{w.withdrawn_on} before {record.entry.occurred_on}"
        raise DefaultRefused(DefaultRefusal.WITHDRAWN_BEFORE_OCCURRED, detail)
    if w.withdrawn_by == record.entry.recorded_by:  # four eyes, even for a repeat
        raise DefaultRefused(DefaultRefusal.SAME_USER, f"recorded by {w.withdrawn_by}")
    if record.withdrawal is None:
        return True
    _check_withdrawn_alike(record.withdrawal, w)
    return False


def _check_reason(withdrawal: DefaultWithdrawal) -> None:
    _check_text(withdrawal.reason, DefaultRefusal.INVALID_REASON)
    if not withdrawal.reason.strip():
        raise DefaultRefused(DefaultRefusal.REASON_REQUIRED, withdrawal.record_id[:100])


def _check_withdrawn_alike(stored: DefaultWithdrawal, withdrawal: DefaultWithdrawal) -> None:
    """The same withdrawal again (whoever sends it) passes; another one is refused."""
    if (stored.withdrawn_on, stored.reason) != (withdrawal.withdrawn_on, withdrawal.reason):
        detail = f"withdrawn on {stored.withdrawn_on}"
        raise DefaultRefused(DefaultRefusal.ALREADY_WITHDRAWN, detail)


def _counts_on(record: RecordedDefault, client_id: str, on: date) -> bool:
    e = record.entry
    in_force = e.occurred_on <= on and record.withdrawn_on(on) is None
    return e.client_id == client_id and e.malicious and in_force


def malicious_records(records: Iterable[RecordedDefault], client_id: str, on: date) -> list[str]:
    """The ids of the client's records the firm judged malicious that occurred on or
    before ``on``, cured or not, not withdrawn by then (the module's docstring says why a
    cure does not erase them and a withdrawal does), sorted."""
    return sorted(r.entry.record_id for r in records if _counts_on(r, client_id, on))
