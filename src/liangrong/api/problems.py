"""Every refusal the service gives, as one body: a code, a reason in English and, for the
book's own refusals, in Chinese.

Invariants: a refusal is always a 4xx (``Problem`` refuses any other status); business
refusals carry the book's enumerated code (``OrderCode``) unchanged, so a client sees the
same code at the API, in the CLI and in the journal.
"""

from __future__ import annotations

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException

from liangrong.domain.order_codes import OrderCode


class ProblemBody(BaseModel):
    code: str
    reason: str
    reason_zh: str | None = None


class Problem(Exception):
    """A refusal with its HTTP status (4xx only)."""

    def __init__(self, status: int, code: str, reason: str, reason_zh: str | None = None):
        if not 400 <= status < 500:
            raise ValueError(f"a refusal is a 4xx, not {status}")
        super().__init__(reason)
        self.status, self.body = status, ProblemBody(code=code, reason=reason, reason_zh=reason_zh)

    @classmethod
    def refused(cls, code: OrderCode) -> Problem:
        """The book refused: 422 with the book's code and both messages."""
        return cls(422, code.name, code.en, code.zh)

    def response(self) -> JSONResponse:
        return JSONResponse(self.body.model_dump(), status_code=self.status)


UNAUTHENTICATED = "UNAUTHENTICATED"
FORBIDDEN = "FORBIDDEN"
OUT_OF_SCOPE = "OUT_OF_SCOPE"
NOT_FOUND = "NOT_FOUND"
MARKET_CLOSED = "MARKET_CLOSED"
CONFLICT = "CONFLICT"
INVALID_REQUEST = "INVALID_REQUEST"

PROBLEM_RESPONSES: dict[int | str, dict[str, object]] = {
    status: {"model": ProblemBody, "description": text}
    for status, text in (
        (401, "no API key, or an unknown or revoked one"),
        (403, "the role may not do this, or the account is not the caller's"),
        (404, "no such account, order, date or file"),
        (409, "not now: the market is closed or the day is not over"),
        (422, "the request is malformed, or the book refused it (its code)"),
    )
}


def validation_reason(exc: RequestValidationError) -> str:
    parts = []
    for error in exc.errors():
        where = ".".join(str(p) for p in error.get("loc", ()) if p != "body")
        parts.append(f"{where}: {error.get('msg', 'invalid')}")
    return "; ".join(parts) or "invalid request"


async def problem_handler(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, Problem)
    return exc.response()


async def http_error_handler(_request: Request, exc: Exception) -> JSONResponse:
    """Starlette's own refusals (unknown path, wrong method) in the same body."""
    assert isinstance(exc, StarletteHTTPException)
    status = exc.status_code if 400 <= exc.status_code < 500 else 400
    code = {404: NOT_FOUND, 405: "METHOD_NOT_ALLOWED"}.get(status, INVALID_REQUEST)
    body = ProblemBody(code=code, reason=str(exc.detail))
    return JSONResponse(body.model_dump(), status_code=status, headers=exc.headers)
