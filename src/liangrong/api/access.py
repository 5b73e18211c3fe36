"""Who is calling, whether their role may, and the audit log of every state-changing call.

Invariants:
- every route but ``/health`` and the documentation depends on ``allow(action)``: no key,
  an unknown or a revoked one is a 401; a role without the action a 403; a client user is
  confined to their own client id (``Caller.scope``);
- ``AuditTrail`` writes one entry per state-changing request (POST, PUT, PATCH, DELETE),
  whatever its outcome (done, refused by the book, malformed, unauthenticated, forbidden),
  with who, when, what (action, method, path, subject, body) and the result (status,
  response body), and writes it BEFORE the response leaves: a caller never sees a result the
  log does not hold.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from fastapi import Request, Security
from fastapi.security import APIKeyHeader
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from liangrong.api.problems import FORBIDDEN, OUT_OF_SCOPE, UNAUTHENTICATED, Problem
from liangrong.domain.access import Action, in_scope, permits
from liangrong.store.api_access import ApiUser, AuditEntry, append_audit

if TYPE_CHECKING:
    from liangrong.api.service import Service

API_KEY = APIKeyHeader(
    name="X-API-Key",
    auto_error=False,
    description="The user's API key (`liangrong serve` prints the demo users' keys).",
)
STATE_CHANGING = frozenset({"POST", "PUT", "PATCH", "DELETE"})
ANONYMOUS = "(unauthenticated)"


@dataclass(frozen=True, slots=True)
class Caller:
    user: ApiUser
    action: Action
    service: Service
    request: Request

    def scope(self, client_id: str) -> str:
        """The client id, if this caller may see it; else a 403."""
        if not in_scope(self.user.role, self.user.client_id, client_id):
            reason = "a client user sees and acts on their own account only"
            raise Problem(403, OUT_OF_SCOPE, reason)
        self.request.state.subject = client_id
        return client_id


def service_of(request: Request) -> Service:
    service: Service = request.app.state.service
    return service


def allow(action: Action) -> Callable[..., Caller]:
    """The dependency of a route that takes ``action``."""

    def caller(request: Request, key: str | None = Security(API_KEY)) -> Caller:
        request.state.action = action.value
        service = service_of(request)
        user = service.authenticate(key) if key else None
        if user is None:
            raise Problem(401, UNAUTHENTICATED, "send a valid API key in the X-API-Key header")
        request.state.user = user
        if not permits(user.role, action):
            raise Problem(403, FORBIDDEN, f"the role {user.role.value} may not {action.value}")
        return Caller(user, action, service, request)

    return caller


SECRET_FIELDS = frozenset({"api_key"})  # never written to the log


def _decoded(raw: bytes) -> object:
    if not raw:
        return None
    try:
        value = json.loads(raw)
        # a "\ud800" escape decodes to a lone surrogate, which no UTF-8 column can hold
        json.dumps(value, ensure_ascii=False).encode("utf-8")
    except (UnicodeDecodeError, UnicodeEncodeError, json.JSONDecodeError):
        return {"undecodable_bytes": len(raw)}
    if isinstance(value, dict):
        return {k: "(redacted)" if k in SECRET_FIELDS else v for k, v in value.items()}
    return value


class AuditTrail:
    """ASGI middleware: holds a state-changing request's response until its audit entry is
    written."""

    def __init__(self, app: ASGIApp, service: Service) -> None:
        self.app, self.service = app, service

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in STATE_CHANGING:
            await self.app(scope, receive, send)
            return
        scope.setdefault("state", {})  # where the routes leave who and what (request.state)
        received: list[bytes] = []
        held: list[Message] = []

        async def receiving() -> Message:
            message = await receive()
            if message["type"] == "http.request":
                received.append(message.get("body", b""))
            return message

        async def holding(message: Message) -> None:
            held.append(message)

        await self.app(scope, receiving, holding)
        self._write(scope, b"".join(received), held)
        for message in held:
            await send(message)

    def _write(self, scope: Scope, body: bytes, held: list[Message]) -> None:
        state: dict[str, Any] = scope.get("state", {})
        user: ApiUser | None = state.get("user")
        status = next((m["status"] for m in held if m["type"] == "http.response.start"), 500)
        answer = b"".join(m.get("body", b"") for m in held if m["type"] == "http.response.body")
        path = scope["path"]
        entry = AuditEntry(
            at=self.service.now().isoformat(),
            user_id=user.user_id if user else ANONYMOUS,
            role=user.role.value if user else "",
            action=state.get("action", "unknown"),
            method=scope["method"],
            path=path,
            subject=str(state.get("subject", path)),
            request=_decoded(body),
            status_code=status,
            outcome=_decoded(answer),
        )
        append_audit(self.service.engine, entry)
