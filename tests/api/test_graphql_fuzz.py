"""A fuzz of GraphQL arguments: whatever a client sends, no 500, no traceback, always a code.

Each operation of the contract is sent with variables drawn by hypothesis from arbitrary
JSON (wrong types, odd strings, deep objects, huge numbers). The server may refuse them,
but only as a client error: a GraphQL error whose ``extensions.code`` is one of the
contract's codes, never ``INTERNAL`` (an unexpected exception) and never a 5xx.
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.api.conftest import ROOM, Api

pytestmark = pytest.mark.timeout(600)

CODES = {
    "VALIDATION_FAILED",
    "NOT_FOUND",
    "CONFLICT",
    "FORBIDDEN",
    "UNAUTHENTICATED",
    "CYPHER_WRITE_REFUSED",
    "TIMEOUT",
    "LIMIT_EXCEEDED",
    "BAD_REQUEST",
}

# Each operation with its variables' kinds: the values are drawn to fit GraphQL's types, so
# they pass its coercion and reach our resolvers, where the meaning is checked.
OPERATIONS: dict[str, tuple[str, dict[str, str]]] = {
    "twin": (
        "query($a: ID!) { twin(id: $a) { id etag properties telemetryRef { bucket tags } } }",
        {"a": "id"},
    ),
    "twins": (
        """query($a: String!, $b: TwinFilter, $c: Int!, $d: String) {
        twins(model: $a, where: $b, first: $c, after: $d) { totalCount edges { node { id } } } }""",
        {"a": "model", "b": "filter", "c": "int", "d": "id"},
    ),
    "model": ("query($a: ID!) { model(id: $a) { id twinCount dtdl } }", {"a": "id"}),
    "cypher": (
        "query($a: String!, $b: JSON) { cypher(query: $a, params: $b) { columns rows } }",
        {"a": "cypher", "b": "json"},
    ),
    "subgraph": (
        """query($a: [ID!]!, $b: [String!], $c: Int) {
        subgraph(roots: $a, relationships: $b, maxDepth: $c) { twins { id } } }""",
        {"a": "ids", "b": "ids", "c": "int"},
    ),
    "neighbors": (
        """query($a: ID!, $b: String, $c: Int) {
        twin(id: $a) { neighbors(relationship: $b, depth: $c) { id } } }""",
        {"a": "id", "b": "id", "c": "int"},
    ),
    "telemetry": (
        """query($a: ID!, $b: String!, $c: String, $d: String) {
        twin(id: $a) {
          latest(name: $b) { value } telemetry(name: $b, start: $c, every: $d) { time value } } }""",
        {"a": "id", "b": "id", "c": "id", "d": "id"},
    ),
    "createTwin": (
        """mutation($a: ID!, $b: String!, $c: JSON) {
        createTwin(id: $a, model: $b, properties: $c) { id } }""",
        {"a": "id", "b": "id", "c": "json"},
    ),
    "updateTwin": (
        """mutation($a: ID!, $b: JSON!, $c: String) {
        updateTwin(id: $a, patch: $b, ifMatch: $c) { id } }""",
        {"a": "id", "b": "json", "c": "id"},
    ),
    "createRelationship": (
        """mutation($a: ID!, $b: ID!, $c: String!, $d: JSON) {
        createRelationship(source: $a, target: $b, name: $c, properties: $d) { id } }""",
        {"a": "id", "b": "id", "c": "id", "d": "json"},
    ),
    "uploadModels": ("mutation($b: JSON!) { uploadModels(models: $b) { id } }", {"b": "json"}),
    "startSimulation": (
        """mutation($a: String!, $b: JSON!, $c: JSON, $d: Int!) {
        startSimulation(model: $a, subset: $b, parameters: $c, replications: $d) { id } }""",
        {"a": "id", "b": "json", "c": "json", "d": "int"},
    ),
}

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12,
)
ids = st.sampled_from(["room-1", "", "a'b`c", ROOM, "flow", "feeds", "contains", "-1h", "5m"]) | st.text(
    max_size=30
)
_conditions = st.builds(
    lambda prop, op, value: {"property": prop, op: value},
    st.sampled_from(["name", "area", "id", "location.lat", "", "a`b"]) | st.text(max_size=10),
    st.sampled_from(["eq", "ne", "gt", "gte", "lt", "lte", "contains"]),
    json_values,
) | st.fixed_dictionaries({"property": st.just("name"), "in": st.lists(st.text(max_size=5), max_size=3)})
filters = st.recursive(
    _conditions,
    lambda inner: st.fixed_dictionaries(
        {}, optional={"and": st.lists(inner, max_size=3), "or": st.lists(inner, max_size=3)}
    ),
    max_leaves=6,
)
KINDS: dict[str, st.SearchStrategy[Any]] = {
    "id": ids,
    "model": st.sampled_from([ROOM, "dtmi:kgtwin:core:Entity;1", "dtmi:ex:none;1"]) | ids,
    "filter": filters,
    "ids": st.lists(ids, max_size=4),
    "int": st.integers(min_value=-2, max_value=60) | st.integers(min_value=-(2**31), max_value=2**31 - 1),
    "json": json_values,
    "cypher": st.sampled_from(
        ["MATCH (n) RETURN n LIMIT 3", "CREATE (n) RETURN n", "RETURN $x", "EXPLAIN MATCH (n) RETURN n", ""]
    )
    | st.text(max_size=40),
}


def variables(name: str) -> st.SearchStrategy[dict[str, Any]]:
    return st.fixed_dictionaries({var: KINDS[kind] for var, kind in OPERATIONS[name][1].items()})


def _check(api: Api, name: str, values: dict[str, Any]) -> None:
    response = api.client.post("/graphql", json={"query": OPERATIONS[name][0], "variables": values})
    assert response.status_code < 500, response.text
    assert "Traceback" not in response.text
    body = response.json()
    for error in body.get("errors") or []:
        code = (error.get("extensions") or {}).get("code")
        # GraphQL's own refusals (a variable of the wrong type) are answered before any
        # resolver runs; ours carry a contract code; none may be an unexpected failure.
        assert code != "INTERNAL", (name, values, error)
        assert code is None or code in CODES, (name, values, error)


@pytest.mark.parametrize("name", sorted(OPERATIONS))
def test_no_argument_makes_the_server_fail(api: Api, name: str) -> None:
    api.data(
        'mutation { createTwin(id: "room-1", model: "dtmi:kgtwin:space:Room;1", properties: {}) { id } }'
    )

    @settings(
        max_examples=40,
        deadline=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )
    @given(values=variables(name))
    def run(values: dict[str, Any]) -> None:
        _check(api, name, values)

    run()
