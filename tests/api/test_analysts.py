"""Analysts' Cypher through the API, on both engines: what they may see, how many run at once.

Internal nodes (API keys, version tokens) are not visible to the analyst role; an admin
sees them by asking (``internals: true``). Each role runs a bounded number of queries at
once in a process (``KGTWIN_CYPHER_CONCURRENCY``); one more is refused at once with
``LIMIT_EXCEEDED``, and other roles are not held up by it.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api.roles import Role
from graph.store import GraphStore
from tests.api.conftest_auth import Limits, app_client, keys_by_role

pytest_plugins = ["tests.api.conftest_auth"]

KEYS = '{ cypher(query: "MATCH (k:ApiKey) RETURN k.name ORDER BY k.name") { rows } }'
KEYS_AS_ADMIN = (
    '{ cypher(query: "MATCH (k:ApiKey) RETURN k.name ORDER BY k.name", internals: true) { rows } }'
)
TWINS = '{ cypher(query: "MATCH (t:Twin) RETURN count(t)") { rows } }'
# Counted row by row on both engines (Neo4j answers a bare cartesian count from its count store).
SLOW = (
    '{ cypher(query: "MATCH (a:Twin), (b:Twin), (c:Twin) WHERE a.id < b.id AND b.id < c.id '
    'RETURN count(*)", timeoutS: 6) { rows } }'
)


def gql(client: TestClient, key: str, query: str) -> dict[str, Any]:
    response = client.post("/graphql", json={"query": query}, headers={"X-API-Key": key})
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def code(body: dict[str, Any]) -> str | None:
    errors = body.get("errors") or []
    return errors[0]["extensions"]["code"] if errors else None


@pytest.fixture
def keyed(auth_any_graph: GraphStore) -> Iterator[tuple[TestClient, dict[Role, str]]]:
    keys = keys_by_role(auth_any_graph)
    auth_any_graph.write("UNWIND range(1, 1500) AS i CREATE (:Twin {id: 't' + toString(i)})")
    with app_client(auth_any_graph, limits=Limits(cypher_concurrency={"analyst": 1, "admin": 2})) as client:
        yield client, keys


def test_analysts_do_not_see_api_keys(keyed: tuple[TestClient, dict[Role, str]]) -> None:
    client, keys = keyed
    refused = gql(client, keys[Role.ANALYST], KEYS)
    assert code(refused) == "FORBIDDEN"
    assert "internal label ApiKey" in refused["errors"][0]["message"]
    assert code(gql(client, keys[Role.ANALYST], KEYS_AS_ADMIN)) == "FORBIDDEN"
    assert gql(client, keys[Role.ANALYST], TWINS)["data"]["cypher"]["rows"] == [[1500]]


def test_admins_see_api_keys_when_they_ask(keyed: tuple[TestClient, dict[Role, str]]) -> None:
    client, keys = keyed
    assert code(gql(client, keys[Role.ADMIN], KEYS)) == "FORBIDDEN"  # not without asking
    rows = gql(client, keys[Role.ADMIN], KEYS_AS_ADMIN)["data"]["cypher"]["rows"]
    assert rows == [[role.value] for role in sorted(Role, key=lambda r: r.value)]


def test_a_role_past_its_concurrency_is_refused_at_once_and_others_go_on(
    keyed: tuple[TestClient, dict[Role, str]],
) -> None:
    client, keys = keyed
    first: list[dict[str, Any]] = []
    slow = threading.Thread(target=lambda: first.append(gql(client, keys[Role.ANALYST], SLOW)))
    slow.start()
    time.sleep(1.5)  # the slow query holds the analyst role's one slot
    started = time.monotonic()
    refused = gql(client, keys[Role.ANALYST], TWINS)
    assert time.monotonic() - started < 2.0
    assert code(refused) == "LIMIT_EXCEEDED"
    assert refused["errors"][0]["extensions"]["details"]["role"] == "analyst"
    # Another role has slots of its own.
    assert gql(client, keys[Role.ADMIN], TWINS)["data"]["cypher"]["rows"] == [[1500]]
    slow.join()
    assert code(first[0]) == "TIMEOUT"
    # The slot is free again.
    assert gql(client, keys[Role.ANALYST], TWINS)["data"]["cypher"]["rows"] == [[1500]]


def test_a_query_that_would_stop_falkordb_is_a_bad_request_there_and_the_twin_goes_on(
    keyed: tuple[TestClient, dict[Role, str]], auth_any_graph: GraphStore
) -> None:
    client, keys = keyed
    for start, end in (("t1", "t2"), ("t2", "t3")):
        auth_any_graph.write(
            "MATCH (a:Twin {id: $a}), (b:Twin {id: $b}) CREATE (a)-[:contains {id: $a + $b}]->(b)",
            {"a": start, "b": end},
        )
    exact = "{ cypher(query: \"MATCH (a:Twin)-[*2..2]->(b:Twin) WHERE b.id = 't3' RETURN a.id\") { rows } }"
    for role in (Role.ANALYST, Role.ADMIN):
        body = gql(client, keys[role], exact)
        if auth_any_graph.backend == "falkordb":
            assert code(body) == "BAD_REQUEST", body
            assert body["errors"][0]["extensions"]["details"]["engine"] == "falkordb"
        else:
            assert body["data"]["cypher"]["rows"] == [["t1"]]
    assert gql(client, keys[Role.ANALYST], TWINS)["data"]["cypher"]["rows"] == [[1500]]
