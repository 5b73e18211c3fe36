"""The whole API fuzzed from its own OpenAPI document (schemathesis): valid and invalid
requests for every operation, sent with each role's key, never get a 5xx.

One live service serves the whole module (the fuzz places orders and requests on it, as
users would); the session is stepped a few snapshots first so orders meet a live market.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis.generation import GenerationMode
from schemathesis.schemas import APIOperation

from api_helpers import ROLES, Live, open_live
from conftest import make_sqlite_engine

EXAMPLES = 25  # per operation and role


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    folder: Path = tmp_path_factory.mktemp("fuzz")
    live = open_live(make_sqlite_engine(folder), folder / "reports", clients=12, minutes=1)
    for _ in range(5):
        live.service.session.step()
    yield live


def _operations(live: Live) -> list[APIOperation]:
    schema = schemathesis.openapi.from_asgi("/openapi.json", live.app)
    return [result.ok() for result in schema.get_all_operations()]


def _fuzz(live: Live, operation: APIOperation, mode: GenerationMode) -> None:
    """Each generated request, sent with every role's key: a 4xx at worst."""

    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(max_examples=EXAMPLES, deadline=None, derandomize=True,
              suppress_health_check=list(HealthCheck), database=None)  # fmt: skip
    def run(case: schemathesis.Case) -> None:
        for user in ROLES:
            response = case.call(headers={**(case.headers or {}), **live.headers(user)})
            assert response.status_code < 500, (
                user, case.method, case.formatted_path, case.body, response.text,
            )  # fmt: skip

    run()


def test_the_document_lists_every_operation(live: Live) -> None:
    found = {(op.method.upper(), op.path) for op in _operations(live)}
    assert ("POST", "/api/v1/orders") in found and ("DELETE", "/api/v1/orders/{order_id}") in found
    assert len(found) >= 20


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
def test_no_request_gets_a_server_error(live: Live, mode: GenerationMode) -> None:
    fuzzed = 0
    for operation in _operations(live):
        try:
            _fuzz(live, operation, mode)
        except Unsatisfiable:
            # No invalid request exists for an operation without parameters or body.
            assert mode is GenerationMode.NEGATIVE and not _has_inputs(operation)
            continue
        fuzzed += 1
    assert fuzzed >= 12


def _has_inputs(operation: APIOperation) -> bool:
    return bool(list(operation.iter_parameters())) or bool(operation.body)
