"""The service's state: the store, the day's live market, the wall clock for the audit log,
and the demo users.

Invariants: the wall clock is read here and in the shell only (audit times, key issue
times); the book's own records keep the session's simulated clock.  Keys are looked up by
their hash (``store.api_access``); a key the store does not hold authenticates no one.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import Engine

from liangrong.api.market import LiveMarket
from liangrong.domain.access import Role
from liangrong.sim.session import Progress, Session, SessionConfig, open_session
from liangrong.store.api_access import ApiUser, issue_key, user_for_key, users

Clock = Callable[[], datetime]


def wall_clock() -> datetime:
    return datetime.now(UTC)


# The demo's users: one per role, the client user bound to the book's first client.
DEMO_STAFF = (
    ("desk", Role.MARGIN_DESK),
    ("risk", Role.RISK_OFFICER),
    ("ops", Role.OPERATIONS),
    ("audit", Role.AUDITOR),
)


@dataclass(frozen=True, slots=True)
class IssuedKey:
    user_id: str
    role: Role
    client_id: str | None
    key: str


class Service:
    def __init__(self, engine: Engine, market: LiveMarket, clock: Clock = wall_clock) -> None:
        self.engine, self.market, self.now = engine, market, clock
        self._ids = 0
        # Request ids taken today, done or refused: like an order id, a request id is used
        # once a day, so a reuse (a different request, or a retry) is refused, never run.
        self._request_ids: set[str] = set()

    @property
    def session(self) -> Session:
        return self.market.session

    def next_id(self, prefix: str) -> str:
        """A fresh id for an order or request the caller did not name (unique in the
        book's day: ids the book has seen are skipped)."""
        seen = self.session.book.seen_order_ids
        while True:
            self._ids += 1
            candidate = f"API-{prefix}{self.session.day:%Y%m%d}-{self._ids:06d}"
            if candidate not in seen:
                return candidate

    @property
    def reports_dir(self) -> Path:
        return self.market.reports_dir

    def claim_request(self, request_id: str) -> bool:
        if request_id in self._request_ids:
            return False
        self._request_ids.add(request_id)
        return True

    def authenticate(self, key: str) -> ApiUser | None:
        return user_for_key(self.engine, key)

    def issue(self, user_id: str, role: Role, client_id: str | None = None) -> IssuedKey:
        key = issue_key(self.engine, user_id, role, client_id, self.now())
        return IssuedKey(user_id, role, client_id, key)

    def demo_users(self, client_id: str) -> list[IssuedKey]:
        """Keys for the demo users that do not exist yet in the store (a second start of the
        service on the same store issues none: the first start printed them)."""
        known = {user.user_id for user in users(self.engine)}
        wanted = [*DEMO_STAFF, (f"client-{client_id}", Role.CLIENT)]
        return [
            self.issue(user_id, role, client_id if role is Role.CLIENT else None)
            for user_id, role in wanted
            if user_id not in known
        ]


def open_service(
    engine: Engine,
    config: SessionConfig,
    reports_dir: Path,
    *,
    pace: float = 0.0,
    clock: Clock = wall_clock,
    progress: Progress | None = None,
) -> Service:
    """The day's session opened on the store (reference data, the generated book, the
    desk), wrapped for the background market and the service."""
    session = open_session(engine, config, progress)
    market = LiveMarket(engine, session, reports_dir, pace)
    return Service(engine, market, clock)
