"""schemathesis against the lookup API's own OpenAPI schema: no 5xx, no response that breaks the schema,
for a reader, a GREEN-cleared contributor and an organisation outside the group."""

from __future__ import annotations

import os
from typing import Any

import orjson
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance

from tests.factories import indicator

CHECKS = [not_a_server_error, response_schema_conformance]
EXAMPLES = int(os.environ.get("HUB_TEST_FUZZ_EXAMPLES", "40"))


@pytest.mark.parametrize("who", ["cert-c", "cert-g", "outsider"])
def test_lookup_api_conforms_to_its_schema(app: Any, client: Any, world: Any, who: str) -> None:
    stored = [indicator(700 + i) for i in range(3)]
    r = client.post(
        world.objects_url(), content=orjson.dumps({"objects": stored}), headers=world.post_headers("cert-b")
    )
    assert r.status_code == 202, r.text
    schema = schemathesis.openapi.from_asgi("/lookup/v1/openapi.json", app)
    headers = {"Authorization": f"Bearer {world.keys[who]}"}
    # random values mostly meet 404s; half the cases aim at a stored object
    cases = st.one_of(
        schema.as_strategy(), schema.as_strategy(path_parameters={"object_id": stored[0]["id"]})
    )
    statuses: list[int] = []

    @settings(max_examples=EXAMPLES, deadline=None, database=None, suppress_health_check=list(HealthCheck))
    @given(case=cases)
    def run(case: Any) -> None:
        statuses.append(case.call_and_validate(headers=headers, checks=CHECKS).status_code)

    run()
    assert any(s < 300 for s in statuses)
