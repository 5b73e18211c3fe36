"""Identity-document expiry monitoring (CLI-6; S3 盯市 template art. 4: account monitoring
covers "身份证明文件到期监控").

The documents are those the intake takes (S3 account-opening guide): a natural person's
identity card; an institution's business licence (organisation-code and tax-registration
certificates too unless it holds a "three in one" licence) and the identity cards of its
authorised agent and legal representative.  A long-term (长期) document has no expiry.

The source asks for monitoring and says nothing of the consequence; what follows is firm
policy, dated like any parameter (``Version[IdentityExpiryPolicy]``), modelled on the
anti-money-laundering practice of suspending business for a client whose identity document
has expired and was not renewed within a reasonable time:
- from ``notice_days`` calendar days before the expiry day through that day: EXPIRING, the
  client is reminded (one notice per document and expiry: a deterministic id);
- from the day after the expiry day: EXPIRED, reminded, nothing restricted for
  ``grace_days`` calendar days;
- after the grace: the firm's ``action`` applies to the whole credit account — no new
  financing or shorts (repaying, returning, selling and depositing stay allowed), or only
  the reminder.
Documents are recorded as events, never edited: a renewal is a new record of the same client
and kind, and the last record of each kind is the one on file.

Invariant: a client's restriction is the strictest over the documents on file, and a
renewal on file lifts it the day it is recorded.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta
from enum import Enum


class DocumentKind(Enum):
    IDENTITY_CARD = "identity_card"  # 身份证
    BUSINESS_LICENCE = "business_licence"  # 营业执照
    ORGANISATION_CODE = "organisation_code"  # 组织机构代码证
    TAX_REGISTRATION = "tax_registration"  # 税务登记证
    AGENT_IDENTITY = "agent_identity"  # 授权代理人身份证
    LEGAL_REPRESENTATIVE_IDENTITY = "legal_representative_identity"  # 法定代表人身份证


class ExpiryAction(Enum):
    REMIND_ONLY = "remind_only"
    RESTRICT_NEW_DEBT = "restrict_new_debt"  # no margin buys, no short sales


class DocumentStatus(Enum):
    VALID = "valid"
    EXPIRING = "expiring"
    EXPIRED = "expired"  # within the grace
    RESTRICTED = "restricted"  # past the grace, and the firm restricts


@dataclass(frozen=True, slots=True)
class IdentityExpiryPolicy:
    notice_days: int  # remind from this many calendar days before the expiry day
    grace_days: int  # after expiry, days before the action applies
    action: ExpiryAction

    def __post_init__(self) -> None:
        if self.notice_days < 0 or self.grace_days < 0:
            raise ValueError("notice and grace days are never negative")


@dataclass(frozen=True, slots=True)
class IdentityDocument:
    client_id: str
    kind: DocumentKind
    number: str
    valid_until: date | None  # the last valid day; None: long-term (长期)
    recorded_on: date  # when the firm took it on file


@dataclass(frozen=True, slots=True)
class DocumentCheck:
    document: IdentityDocument
    status: DocumentStatus
    days_left: int | None  # to the last valid day (negative once expired); None: long-term
    notice_id: str | None  # set when the client is to be reminded


def check_document(
    document: IdentityDocument, on: date, policy: IdentityExpiryPolicy
) -> DocumentCheck:
    """One document's status on ``on``."""
    until = document.valid_until
    if until is None:
        return DocumentCheck(document, DocumentStatus.VALID, None, None)
    days_left = (until - on).days
    if days_left > policy.notice_days:
        return DocumentCheck(document, DocumentStatus.VALID, days_left, None)
    notice_id = f"identity:{document.client_id}:{document.kind.value}:{until.isoformat()}"
    if days_left >= 0:
        status = DocumentStatus.EXPIRING
    elif -days_left > policy.grace_days and policy.action is ExpiryAction.RESTRICT_NEW_DEBT:
        status = DocumentStatus.RESTRICTED
    else:
        status = DocumentStatus.EXPIRED
    return DocumentCheck(document, status, days_left, notice_id)


def on_file(documents: Iterable[IdentityDocument], on: date) -> list[IdentityDocument]:
    """The documents on file on ``on``: the last recorded of each client and kind."""
    latest: dict[tuple[str, DocumentKind], IdentityDocument] = {}
    for document in documents:
        if document.recorded_on <= on:
            latest[(document.client_id, document.kind)] = document
    return list(latest.values())


@dataclass(frozen=True, slots=True)
class ClientIdentityStatus:
    client_id: str
    restricted: bool  # no new financing or shorts until a renewal is on file
    checks: tuple[DocumentCheck, ...]  # the documents that need attention, soonest first


def monitor(
    documents: Iterable[IdentityDocument], on: date, policy: IdentityExpiryPolicy
) -> list[ClientIdentityStatus]:
    """Every client with a document expiring, expired or restricting on ``on``."""
    by_client: dict[str, list[DocumentCheck]] = {}
    for document in on_file(documents, on):
        check = check_document(document, on, policy)
        if check.status is not DocumentStatus.VALID:
            by_client.setdefault(document.client_id, []).append(check)
    return [
        ClientIdentityStatus(
            client_id,
            any(c.status is DocumentStatus.RESTRICTED for c in checks),
            tuple(sorted(checks, key=lambda c: (c.days_left, c.document.kind.value))),
        )
        for client_id, checks in sorted(by_client.items())
    ]


def restriction_starts(document: IdentityDocument, policy: IdentityExpiryPolicy) -> date | None:
    """The first day the document restricts the account, if it ever does."""
    if document.valid_until is None or policy.action is ExpiryAction.REMIND_ONLY:
        return None
    return document.valid_until + timedelta(days=policy.grace_days + 1)


KIND_ZH: dict[DocumentKind, str] = {
    DocumentKind.IDENTITY_CARD: "身份证",
    DocumentKind.BUSINESS_LICENCE: "营业执照",
    DocumentKind.ORGANISATION_CODE: "组织机构代码证",
    DocumentKind.TAX_REGISTRATION: "税务登记证",
    DocumentKind.AGENT_IDENTITY: "授权代理人身份证",
    DocumentKind.LEGAL_REPRESENTATIVE_IDENTITY: "法定代表人身份证",
}


def notice_text(check: DocumentCheck, policy: IdentityExpiryPolicy) -> tuple[str, str]:
    """The reminder of a document that needs attention: (zh, en).  It names the day the
    restriction starts when the firm restricts, so the client knows the consequence before
    it applies."""
    document, until = check.document, check.document.valid_until
    if until is None or check.days_left is None:
        raise ValueError("a long-term document is never the subject of a reminder")
    kind_zh, kind_en = KIND_ZH[document.kind], document.kind.value.replace("_", " ")
    starts = restriction_starts(document, policy)
    if check.status is DocumentStatus.EXPIRING:
        zh = f"您的{kind_zh}将于{until.isoformat()}到期(剩余{check.days_left}天), 请及时更新。"
        en = f"Your {kind_en} expires on {until.isoformat()} ({check.days_left} days left): "
        en += "please renew it."
    elif check.status is DocumentStatus.EXPIRED:
        zh = f"您的{kind_zh}已于{until.isoformat()}到期, 请尽快更新。"
        en = f"Your {kind_en} expired on {until.isoformat()}: please renew it."
    else:
        zh = f"您的{kind_zh}已于{until.isoformat()}到期且未在宽限期内更新, "
        zh += "信用账户已暂停融资买入和融券卖出, 更新后恢复。"
        en = f"Your {kind_en} expired on {until.isoformat()} and was not renewed within the "
        en += "grace: margin buys and short sales are suspended until it is renewed."
        return zh, en
    if starts is not None:
        zh += f" 逾期未更新的, 自{starts.isoformat()}起暂停融资买入和融券卖出。"
        en += f" If it is not renewed, margin buys and short sales stop from {starts.isoformat()}."
    return zh, en
