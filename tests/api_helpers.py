"""A small live service for the API tests: a real store, the generated demo book, the
session opened but stepped by the test (no background thread), one user per role."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from liangrong.api.app import create_app
from liangrong.api.service import Service, open_service
from liangrong.domain.access import Role
from liangrong.sim.session import SessionConfig

DAY = date(2026, 11, 20)
ROLES = {
    "desk": Role.MARGIN_DESK,
    "risk": Role.RISK_OFFICER,
    "ops": Role.OPERATIONS,
    "audit": Role.AUDITOR,
    "client": Role.CLIENT,
}


def ticking_clock() -> object:
    start, ticks = datetime(2026, 11, 20, 9, 0, tzinfo=UTC), iter(range(10**9))
    return lambda: start + timedelta(milliseconds=next(ticks))


@dataclass
class Live:
    service: Service
    app: FastAPI
    client: TestClient
    keys: dict[str, str]
    own: str  # the client user's client id
    other: str  # another client's id

    def headers(self, user: str) -> dict[str, str]:
        return {"X-API-Key": self.keys[user]}

    def get(self, user: str, path: str) -> object:
        return self.client.get(path, headers=self.headers(user))

    def post(self, user: str, path: str, body: object = None) -> object:
        return self.client.post(path, headers=self.headers(user), json=body)

    def delete(self, user: str, path: str) -> object:
        return self.client.delete(path, headers=self.headers(user))


def open_live(engine: Engine, reports: Path, clients: int = 20, minutes: int = 2) -> Live:
    config = SessionConfig(clients, minutes, 1, DAY)
    service = open_service(engine, config, reports, clock=ticking_clock())
    ids = sorted(service.session.book.profiles)
    keys = {}
    for user, role in ROLES.items():
        keys[user] = service.issue(user, role, ids[0] if role is Role.CLIENT else None).key
    app = create_app(service)
    return Live(service, app, TestClient(app), keys, ids[0], ids[1])
