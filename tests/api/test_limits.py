"""Limits: body size (413), rate per key (429 + Retry-After), GraphQL depth and complexity."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from api.limits import TokenBucket
from api.roles import Role
from graph.api_keys import ApiKeyStore
from graph.store import GraphStore
from tests.api.conftest_auth import AuthConfig, Limits, app_client

pytest_plugins = ["tests.api.conftest_auth"]

INTROSPECTION = """
query IntrospectionQuery { __schema { queryType { name } types { ...FullType } } }
fragment FullType on __Type { kind name fields(includeDeprecated: true) { name type { ...TypeRef } } }
fragment TypeRef on __Type { kind name ofType { kind name ofType { kind name ofType { kind name ofType {
  kind name ofType { kind name ofType { kind name ofType { kind name } } } } } } } }
"""


@pytest.fixture
def limited(auth_graph: GraphStore) -> Iterator[tuple[TestClient, str]]:
    key = ApiKeyStore(auth_graph).create("bot", [Role.ADMIN]).secret
    limits = Limits(max_body_bytes=2048, rate_per_second=1.0, rate_burst=3, graphql_max_depth=3)
    with app_client(auth_graph, limits=limits) as client:
        yield client, key


def test_a_body_over_the_limit_is_413_problem_json(limited: tuple[TestClient, str]) -> None:
    client, key = limited
    response = client.post("/models/files", content=b"x" * 4096, headers={"X-API-Key": key})
    assert response.status_code == 413
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["code"] == "LIMIT_EXCEEDED"


def test_a_chunked_body_over_the_limit_is_413_too(limited: tuple[TestClient, str]) -> None:
    client, key = limited

    def chunks() -> Iterator[bytes]:
        for _ in range(8):
            yield b"{" * 512

    response = client.post(
        "/graphql", content=chunks(), headers={"X-API-Key": key, "Content-Type": "application/json"}
    )
    assert response.status_code == 413
    assert response.json()["errors"][0]["extensions"]["code"] == "LIMIT_EXCEEDED"


def test_a_key_past_its_rate_gets_429_with_retry_after(limited: tuple[TestClient, str]) -> None:
    client, key = limited
    answers = [
        client.post("/graphql", json={"query": "{ version }"}, headers={"X-API-Key": key}) for _ in range(5)
    ]
    assert [a.status_code for a in answers[:3]] == [200, 200, 200]
    refused = answers[-1]
    assert refused.status_code == 429
    assert int(refused.headers["retry-after"]) >= 1
    assert refused.json()["errors"][0]["extensions"]["code"] == "LIMIT_EXCEEDED"
    # the limit is per key: another key is served
    other = ApiKeyStore(client.app.state.kgtwin_authenticator.keys.store).create("other", [Role.VIEWER])
    assert (
        client.post(
            "/graphql", json={"query": "{ version }"}, headers={"X-API-Key": other.secret}
        ).status_code
        == 200
    )


def test_the_unauthenticated_loopback_profile_is_not_rate_limited(auth_graph: GraphStore) -> None:
    with app_client(
        auth_graph, auth=AuthConfig(), limits=Limits(rate_per_second=1.0, rate_burst=1)
    ) as client:
        assert {client.get("/openapi.json").status_code for _ in range(5)} == {200}


def test_the_token_bucket_refills_at_its_rate() -> None:
    now = [0.0]
    bucket = TokenBucket(rate=2.0, burst=2, clock=lambda: now[0])
    assert bucket.take("a") == 0
    assert bucket.take("a") == 0
    assert bucket.take("a") == pytest.approx(0.5)
    assert bucket.take("b") == 0
    now[0] = 0.5
    assert bucket.take("a") == 0


def test_a_query_deeper_than_the_limit_is_refused_before_it_runs(limited: tuple[TestClient, str]) -> None:
    client, key = limited
    deep = "{ models { id extends { id extends { id extends { id } } } } }"
    body = client.post("/graphql", json={"query": deep}, headers={"X-API-Key": key}).json()
    assert body["data"] is None
    error = body["errors"][0]
    assert error["extensions"]["code"] == "LIMIT_EXCEEDED"
    assert "deeper than 3" in error["message"]
    shallow = client.post("/graphql", json={"query": "{ models { id } }"}, headers={"X-API-Key": key}).json()
    assert "errors" not in shallow


def test_fragments_count_towards_depth_and_cycles_do_not_hang(limited: tuple[TestClient, str]) -> None:
    client, key = limited
    via_fragment = "query Q { models { ...M } } fragment M on Model { extends { extends { id } } }"
    body = client.post("/graphql", json={"query": via_fragment}, headers={"X-API-Key": key}).json()
    assert body["errors"][0]["extensions"]["code"] == "LIMIT_EXCEEDED"
    cyclic = "query Q { models { ...A } } fragment A on Model { ...B } fragment B on Model { ...A }"
    response = client.post("/graphql", json={"query": cyclic}, headers={"X-API-Key": key})
    assert response.status_code < 500
    assert response.json()["errors"]


def test_a_query_costlier_than_the_limit_is_refused(auth_graph: GraphStore) -> None:
    key = ApiKeyStore(auth_graph).create("bot", [Role.ADMIN]).secret
    with app_client(auth_graph, limits=Limits(graphql_max_complexity=50)) as client:
        # a list without a page size counts 10 items: 1 + 10 * (1 + 10 * 1) > 50
        costly = "{ models { id extends { id } } }"
        body = client.post("/graphql", json={"query": costly}, headers={"X-API-Key": key}).json()
        assert body["errors"][0]["extensions"]["code"] == "LIMIT_EXCEEDED"
        assert "more than 50 fields" in body["errors"][0]["message"]
        cheap = client.post(
            "/graphql", json={"query": "{ version models { id } }"}, headers={"X-API-Key": key}
        )
        assert "errors" not in cheap.json()


def test_introspection_does_not_count_towards_depth(limited: tuple[TestClient, str]) -> None:
    # Deeper than the limit of 3, yet answered: its size is what bounds it (tests/api/test_cost.py).
    client, key = limited
    body = client.post("/graphql", json={"query": INTROSPECTION}, headers={"X-API-Key": key}).json()
    assert "errors" not in body, body["errors"]
    assert body["data"]["__schema"]["queryType"]["name"] == "Query"
