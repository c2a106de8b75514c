"""schemathesis against the admin API's own OpenAPI schema: no 5xx, no response that breaks the schema."""

from __future__ import annotations

import os
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance

CHECKS = [not_a_server_error, response_schema_conformance]
# a longer hunt before a release: HUB_TEST_FUZZ_EXAMPLES=2000 (docs/architecture.md)
EXAMPLES = int(os.environ.get("HUB_TEST_FUZZ_EXAMPLES", "80"))


@pytest.mark.parametrize("who", ["admin", "cert-a", "cert-b"])
def test_admin_api_conforms_to_its_schema(app: Any, admin_world: Any, who: str) -> None:
    schema = schemathesis.openapi.from_asgi("/admin/v1/openapi.json", app)
    headers = {"Authorization": f"Bearer {admin_world.keys[who]}"}
    # random path values mostly meet 404s; half the cases aim at a real group, member and collection
    known = {"group": "africa", "org": "vendor", "collection": "indicators"}
    cases = st.one_of(schema.as_strategy(), schema.as_strategy(path_parameters=known))
    statuses: list[int] = []

    # bounded: a fixed number of generated requests, each checked as it returns
    @settings(max_examples=EXAMPLES, deadline=None, database=None, suppress_health_check=list(HealthCheck))
    @given(case=cases)
    def run(case: Any) -> None:
        statuses.append(case.call_and_validate(headers=headers, checks=CHECKS).status_code)

    run()
    assert any(s < 300 for s in statuses)  # the run reached the API's working paths, not only refusals
