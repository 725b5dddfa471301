"""Property tests of the API against its own OpenAPI schema: no generated input
gives a 5xx, and responses conform to the documented schemas.

Bounded: ``MAX_EXAMPLES`` cases per operation, derandomized (reproducible).
"""

from __future__ import annotations

import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error, response_schema_conformance

from tests.detections.store.test_store import make_engine
from tests.service.api.support import make_client

MAX_EXAMPLES = 15


def fuzz(operation, key: str, statuses: dict[int, int]) -> None:
    """Run one operation's generated cases against the app."""

    @given(case=operation.as_strategy())
    @settings(
        max_examples=MAX_EXAMPLES,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    def check(case) -> None:
        response = case.call(headers={"X-API-Key": key})
        statuses[response.status_code] = statuses.get(response.status_code, 0) + 1
        assert response.status_code < 500, (
            f"{case.method} {case.formatted_path} -> {response.status_code}: {response.text[:300]}"
        )
        case.validate_response(response, checks=[not_a_server_error, response_schema_conformance])

    check()


def test_generated_requests_never_get_a_server_error(tmp_path):
    for engine in make_engine("sqlite", tmp_path):
        client, keys = make_client(engine, tmp_path)
        with client:
            schema = schemathesis.openapi.from_asgi("/openapi.json", client.app)
            operations = [result.ok() for result in schema.get_all_operations()]
            assert len(operations) >= 9
            statuses: dict[int, int] = {}
            for operation in operations:
                fuzz(operation, keys["admin"], statuses)
            assert sum(statuses.values()) >= 5 * len(operations), statuses
            assert 200 in statuses and 422 in statuses, statuses  # valid and invalid inputs
