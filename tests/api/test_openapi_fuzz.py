"""Schemathesis against the OpenAPI document: no generated request ever yields a 500.

Every operation the document lists (REST, and GraphQL's GET and POST) is called with
generated inputs, as an admin (so every handler's own checks run) and without credentials
(so the refusals run), on a real embedded FalkorDB holding a model and two twins.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error

from api import create_app
from api.context import twin_context
from api.roles import Role
from graph.api_keys import ApiKeyStore
from graph.falkordb import FalkorGraphStore
from graph.fmus import FmuNodes
from simulation.fmu.library import FmuLibrary
from simulation.fmu.store import FmuFiles
from tests.api.conftest_auth import AuthConfig, Limits

PUMP = {
    "@context": "dtmi:dtdl:context;3",
    "@id": "dtmi:ex:Pump;1",
    "@type": "Interface",
    "contents": [{"@type": "Property", "name": "flow", "schema": "double"}],
}


@pytest.fixture(scope="module")
def fuzzed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Any, str]]:
    graph = FalkorGraphStore(tmp_path_factory.mktemp("fuzz"))
    try:
        # as every kgtwin service has one, so that /fmus is fuzzed too
        nodes = FmuNodes(graph)
        nodes.ensure_schema()
        fmus = FmuLibrary(nodes, FmuFiles(tmp_path_factory.mktemp("fmus")))
        context = twin_context(
            "9.9.9",
            graph,
            load_base=False,
            auth=AuthConfig(api_keys=True, key_cache_s=60),
            # generous enough that the fuzzer is never rate limited; small enough to hit the body limit
            limits=Limits(max_body_bytes=256 * 1024, rate_per_second=10_000, rate_burst=10_000),
            fmus=fmus,
        )
        context.require_registry().upload([PUMP])
        context.require_twins().put_twin("p1", "dtmi:ex:Pump;1", {"flow": 1.0})
        context.require_twins().put_twin("p2", "dtmi:ex:Pump;1", {})
        key = ApiKeyStore(graph).create("fuzzer", [Role.ADMIN]).secret
        yield schemathesis.openapi.from_asgi("/openapi.json", create_app(context)), key
    finally:
        graph.close()


def test_no_request_yields_a_server_error(fuzzed: tuple[Any, str]) -> None:
    api_schema, key = fuzzed
    operations = [result.ok() for result in api_schema.get_all_operations()]
    assert {op.path for op in operations} >= {"/models/files", "/models/migrations", "/graphql"}
    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck), database=None)
        def no_server_error(case: Any) -> None:
            case.call_and_validate(headers={"X-API-Key": key}, checks=[not_a_server_error])
            case.call_and_validate(checks=[not_a_server_error])

        no_server_error()
