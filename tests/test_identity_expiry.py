"""CLI-6: identity-document expiry monitoring — the notice window, expiry, the grace and the
firm's action at their bounds, long-term documents, renewals on file, institutions with
several documents."""

from __future__ import annotations

from dataclasses import replace
from datetime import date

import pytest

from liangrong.domain.identity_expiry import (
    ClientIdentityStatus,
    DocumentKind,
    DocumentStatus,
    ExpiryAction,
    IdentityDocument,
    IdentityExpiryPolicy,
    check_document,
    monitor,
    notice_text,
    on_file,
    restriction_starts,
)

D = date
POLICY = IdentityExpiryPolicy(notice_days=30, grace_days=10, action=ExpiryAction.RESTRICT_NEW_DEBT)
CARD = IdentityDocument("C1", DocumentKind.IDENTITY_CARD, "3101…", D(2026, 10, 31), D(2016, 10, 31))


@pytest.mark.parametrize(
    ("on", "status", "days_left"),
    [
        (D(2026, 9, 30), DocumentStatus.VALID, 31),  # one day before the window
        (D(2026, 10, 1), DocumentStatus.EXPIRING, 30),  # 30 days before: reminded
        (D(2026, 10, 31), DocumentStatus.EXPIRING, 0),  # its last valid day
        (D(2026, 11, 1), DocumentStatus.EXPIRED, -1),  # expired: grace of 10 days
        (D(2026, 11, 10), DocumentStatus.EXPIRED, -10),  # last day of grace
        (D(2026, 11, 11), DocumentStatus.RESTRICTED, -11),  # the firm restricts new debt
    ],
)
def test_window_expiry_and_grace_at_their_bounds(
    on: date, status: DocumentStatus, days_left: int
) -> None:
    check = check_document(CARD, on, POLICY)
    assert (check.status, check.days_left) == (status, days_left)
    reminded = status is not DocumentStatus.VALID
    assert (check.notice_id == "identity:C1:identity_card:2026-10-31") is reminded
    assert restriction_starts(CARD, POLICY) == D(2026, 11, 11)


def test_a_firm_that_only_reminds_never_restricts() -> None:
    remind = replace(POLICY, action=ExpiryAction.REMIND_ONLY)
    assert check_document(CARD, D(2027, 6, 1), remind).status is DocumentStatus.EXPIRED
    assert restriction_starts(CARD, remind) is None


def test_a_long_term_document_never_expires() -> None:
    long_term = replace(CARD, valid_until=None)
    check = check_document(long_term, D(2060, 1, 1), POLICY)
    assert (check.status, check.days_left, check.notice_id) == (DocumentStatus.VALID, None, None)
    assert restriction_starts(long_term, POLICY) is None


def test_a_renewal_on_file_lifts_the_restriction_the_day_it_is_recorded() -> None:
    renewed = replace(CARD, valid_until=D(2046, 11, 20), recorded_on=D(2026, 11, 20))
    documents = [CARD, renewed]
    restricted = monitor(documents, D(2026, 11, 19), POLICY)
    assert [(s.client_id, s.restricted) for s in restricted] == [("C1", True)]
    assert monitor(documents, D(2026, 11, 20), POLICY) == []
    assert on_file(documents, D(2026, 11, 19)) == [CARD]


def test_an_institution_is_restricted_by_any_of_its_documents() -> None:
    licence = IdentityDocument("I9", DocumentKind.BUSINESS_LICENCE, "9131…", None, D(2020, 1, 1))
    legal = IdentityDocument(
        "I9", DocumentKind.LEGAL_REPRESENTATIVE_IDENTITY, "1101…", D(2026, 9, 1), D(2016, 9, 1)
    )
    agent = IdentityDocument(
        "I9", DocumentKind.AGENT_IDENTITY, "3201…", D(2026, 12, 1), D(2016, 12, 1)
    )
    found = monitor([licence, legal, agent, CARD], D(2026, 11, 5), POLICY)
    assert [s.client_id for s in found] == ["C1", "I9"]
    c1, i9 = found
    assert isinstance(i9, ClientIdentityStatus) and i9.restricted and not c1.restricted
    # soonest first: the legal representative's card expired 65 days ago, the agent's in 26
    assert [(c.document.kind, c.status, c.days_left) for c in i9.checks] == [
        (DocumentKind.LEGAL_REPRESENTATIVE_IDENTITY, DocumentStatus.RESTRICTED, -65),
        (DocumentKind.AGENT_IDENTITY, DocumentStatus.EXPIRING, 26),
    ]


def test_policy_values_are_checked() -> None:
    with pytest.raises(ValueError):
        IdentityExpiryPolicy(-1, 0, ExpiryAction.REMIND_ONLY)


def test_the_reminder_says_when_the_restriction_starts() -> None:
    expiring = notice_text(check_document(CARD, D(2026, 10, 21), POLICY), POLICY)
    assert expiring == (
        "您的身份证将于2026-10-31到期(剩余10天), 请及时更新。 "
        "逾期未更新的, 自2026-11-11起暂停融资买入和融券卖出。",
        "Your identity card expires on 2026-10-31 (10 days left): please renew it. "
        "If it is not renewed, margin buys and short sales stop from 2026-11-11.",
    )
    expired = notice_text(check_document(CARD, D(2026, 11, 3), POLICY), POLICY)
    assert expired[1].startswith("Your identity card expired on 2026-10-31: please renew it.")
    restricted = notice_text(check_document(CARD, D(2026, 11, 11), POLICY), POLICY)
    assert "暂停融资买入和融券卖出, 更新后恢复" in restricted[0]
    remind = replace(POLICY, action=ExpiryAction.REMIND_ONLY)
    only = notice_text(check_document(CARD, D(2026, 12, 1), remind), remind)
    assert only == ("您的身份证已于2026-10-31到期, 请尽快更新。",
                    "Your identity card expired on 2026-10-31: please renew it.")  # fmt: skip
    with pytest.raises(ValueError):
        notice_text(check_document(replace(CARD, valid_until=None), D(2026, 1, 1), POLICY), POLICY)
