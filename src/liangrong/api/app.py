"""The FastAPI application over one ``Service``: its routes, its refusals, its audit trail.

Invariants: every refusal is a 4xx ``ProblemBody`` (validation errors included); the audit
trail wraps the whole application, so no state-changing request escapes it; the OpenAPI
document at ``/openapi.json`` describes every route with its security scheme.
"""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

import liangrong
from liangrong.api import (
    routes_book,
    routes_day,
    routes_defaults,
    routes_desk,
    routes_submissions,
)
from liangrong.api.access import AuditTrail
from liangrong.api.problems import (
    INVALID_REQUEST,
    Problem,
    ProblemBody,
    http_error_handler,
    problem_handler,
    validation_reason,
)
from liangrong.api.service import Service

DESCRIPTION = """The margin financing and securities lending book (两融) as a service:
accounts, positions and contracts; credit orders and non-trade requests through the book's
front-end checks; the risk desk's figures, calls and notices; the end of day and its files;
the margin calculator.  Every call needs an API key (header `X-API-Key`); each user has one
role (margin desk, risk officer, operations, client, auditor).  Amounts are integer fen,
prices integer li (1/1000 yuan), quantities shares."""


async def _invalid(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    body = ProblemBody(code=INVALID_REQUEST, reason=validation_reason(exc))
    return JSONResponse(body.model_dump(), status_code=422)


def create_app(service: Service) -> FastAPI:
    app = FastAPI(
        title="liangrong",
        version=getattr(liangrong, "__version__", "0"),
        description=DESCRIPTION,
    )
    app.state.service = service
    routers = (routes_book, routes_desk, routes_defaults, routes_day, routes_submissions)
    for router in (module.router for module in routers):
        app.include_router(router)
    app.add_exception_handler(Problem, problem_handler)
    app.add_exception_handler(RequestValidationError, _invalid)
    app.add_exception_handler(StarletteHTTPException, http_error_handler)
    app.add_middleware(AuditTrail, service=service)

    @app.get("/health", tags=["service"])
    def health() -> dict[str, object]:
        """Alive, and which day it runs (no key needed)."""
        session = service.session
        return {"status": "ok", "trading_date": session.day.isoformat(), "closed": session.closed}

    return app
