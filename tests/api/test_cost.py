"""What a GraphQL operation costs: linear in the document, fragments once, introspection counted.

Regressions of issue 21, defect 5: a 984-byte document of fragments each spreading the
next twice froze the API for 38 s (the complexity rule expanded every spread once per
path, and ``__typename`` cost nothing so it never stopped early); 1,000 aliased
``__schema`` fields were not counted at all and answered 43.7 MB.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from graphql import get_introspection_query, parse

from api.cost import OperationCost
from api.schema import schema
from graph.store import GraphStore
from tests.api.conftest_auth import AuthConfig, Limits, app_client

pytest_plugins = ["tests.api.conftest_auth"]

# What GraphiQL sends when it opens: every option of the introspection query on.
GRAPHIQL_INTROSPECTION = get_introspection_query(
    descriptions=True,
    specified_by_url=True,
    directive_is_repeatable=True,
    schema_description=True,
    input_value_deprecation=True,
)


def fragment_bomb(levels: int) -> str:
    """Fragments each spreading the next twice: 2**levels paths, one field in the answer."""
    spreads = "".join(f"fragment F{i} on Query {{ ...F{i + 1} ...F{i + 1} }}\n" for i in range(levels - 1))
    return f"query Q {{ ...F0 }}\n{spreads}fragment F{levels - 1} on Query {{ __typename }}\n"


@pytest.fixture
def client(auth_graph: GraphStore) -> Iterator[TestClient]:
    with app_client(auth_graph, auth=AuthConfig()) as found:
        yield found


def _errors(client: TestClient, query: str) -> list[dict[str, object]]:
    body = client.post("/graphql", json={"query": query}).json()
    errors: list[dict[str, object]] = body.get("errors") or []
    return errors


def test_a_fragment_bomb_is_refused_at_once(client: TestClient) -> None:
    bomb = fragment_bomb(30)
    assert len(bomb.encode()) < 1300
    started = time.perf_counter()
    errors = _errors(client, bomb)
    elapsed = time.perf_counter() - started
    assert errors[0]["extensions"] == {"code": "LIMIT_EXCEEDED"}
    assert elapsed < 5.0, f"{elapsed:.1f} s"  # it took 21.7 s (1,000 aliases) and 38 s (the bomb)


def test_costing_is_linear_in_the_document() -> None:
    timings = []
    for levels in (100, 200, 400):
        document = parse(fragment_bomb(levels))
        fragments = {d.name.value: d for d in document.definitions if hasattr(d, "type_condition")}
        operation = document.definitions[0]
        cost = OperationCost(schema._schema, fragments.get, max_complexity=5000)
        started = time.perf_counter()
        found = cost.operation(operation.selection_set, schema._schema.query_type)  # type: ignore[attr-defined]
        timings.append(time.perf_counter() - started)
        assert found.complexity == 5001  # saturated just past the limit
    # Doubling the document doubles the work (2**400 paths would never end); generous for noise.
    assert timings[2] < 0.5, timings


def test_introspection_counts_what_it_answers(auth_graph: GraphStore) -> None:
    types = len(schema._schema.type_map)
    query = "{ __schema { types { name } } }"  # answers __schema, types and one name per type
    with app_client(auth_graph, auth=AuthConfig(), limits=Limits(graphql_max_complexity=types + 2)) as client:
        assert _errors(client, query) == []
    with app_client(auth_graph, auth=AuthConfig(), limits=Limits(graphql_max_complexity=types + 1)) as client:
        errors = _errors(client, query)
        assert errors[0]["extensions"] == {"code": "LIMIT_EXCEEDED"}


def test_a_thousand_aliased_schemas_are_refused(client: TestClient) -> None:
    aliases = " ".join(f"a{i}: __schema {{ types {{ name }} }}" for i in range(1000))
    started = time.perf_counter()
    response = client.post("/graphql", json={"query": "{ " + aliases + " }"})
    elapsed = time.perf_counter() - started
    body = response.json()
    assert body["errors"][0]["extensions"] == {"code": "LIMIT_EXCEEDED"}
    assert len(response.content) < 1000
    assert elapsed < 5.0, f"{elapsed:.1f} s"  # it took 21.7 s (1,000 aliases) and 38 s (the bomb)


def test_graphiqls_introspection_fits_the_default_limits(client: TestClient) -> None:
    document = parse(GRAPHIQL_INTROSPECTION)
    fragments = {d.name.value: d for d in document.definitions if hasattr(d, "type_condition")}
    limit = Limits().graphql_max_complexity
    cost = OperationCost(schema._schema, fragments.get, limit).operation(
        document.definitions[0].selection_set,  # type: ignore[attr-defined]
        schema._schema.query_type,
    )
    # Room to grow: a schema whose introspection no longer fits would break GraphiQL.
    assert cost.complexity < 0.8 * limit, cost
    body = client.post("/graphql", json={"query": GRAPHIQL_INTROSPECTION}).json()
    assert "errors" not in body, body.get("errors")
    assert body["data"]["__schema"]["queryType"]["name"] == "Query"


def _fields_in(value: object) -> int:
    """How many fields a JSON answer has: every key of every object."""
    if isinstance(value, dict):
        return len(value) + sum(_fields_in(v) for v in value.values())
    if isinstance(value, list):
        return sum(_fields_in(v) for v in value)
    return 0


@pytest.mark.parametrize(
    "query",
    [
        "{ __schema { types { name kind } } }",
        "{ __schema { queryType { name } types { fields { type { fields { type { name } } } } } } }",
        "{ __schema { types { fields { args { type { name } } type { ofType { ofType { name } } } } } } }",
        "{ __schema { directives { name args { name type { kind } } } } }",
    ],
)
def test_nested_introspection_costs_exactly_the_fields_it_answers(client: TestClient, query: str) -> None:
    body = client.post("/graphql", json={"query": query}).json()
    assert "errors" not in body, body["errors"]
    document = parse(query)
    cost = OperationCost(schema._schema, lambda _: None, 10**9).operation(
        document.definitions[0].selection_set,  # type: ignore[attr-defined]
        schema._schema.query_type,
    )
    assert cost.complexity == _fields_in(body["data"])
