"""The origin guard and CORS headers, in process (the browser's view is tests/http/test_cors_browser.py)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from starlette.websockets import WebSocketDisconnect

from graph.store import GraphStore
from tests.api.conftest_auth import AuthConfig, app_client

pytest_plugins = ["tests.api.conftest_auth"]

LISTED = "https://app.example.com"


@pytest.fixture
def edge(auth_graph: GraphStore) -> Iterator[TestClient]:
    """Auth off, as the loopback edge profile runs, with one origin listed."""
    with app_client(auth_graph, auth=AuthConfig(cors_origins=(LISTED,))) as client:
        yield client


def _post(client: TestClient, **headers: str) -> int:
    return client.post("/graphql", json={"query": "{ version }"}, headers=headers).status_code


@pytest.mark.parametrize(
    ("origin", "host"),
    [
        ("http://testserver", "testserver"),
        ("https://kgtwin.example.com", "kgtwin.example.com:443"),
        ("http://kgtwin.example.com:80", "kgtwin.example.com"),
        ("https://kgtwin.example.com", "kgtwin.example.com"),  # TLS ended at a proxy
    ],
)
def test_same_origin_and_listed_pages_may_post(edge: TestClient, origin: str, host: str) -> None:
    assert _post(edge, Origin=origin, Host=host) == 200
    assert _post(edge, Origin=LISTED) == 200
    assert _post(edge) == 200  # no Origin: not a browser


@pytest.mark.parametrize(
    "origin", ["https://evil.example.com", "null", "http://testserver:8080", "nonsense:::"]
)
def test_other_pages_may_not_post(edge: TestClient, origin: str) -> None:
    response = edge.post("/graphql", json={"query": "{ version }"}, headers={"Origin": origin})
    assert response.status_code == 403
    assert response.json()["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    # A GET changes nothing and its answer is unreadable without CORS headers: it passes.
    assert edge.get("/healthz", headers={"Origin": origin}).status_code == 200
    assert "access-control-allow-origin" not in edge.get("/healthz", headers={"Origin": origin}).headers


def test_a_socket_from_another_page_is_closed_4403(edge: TestClient) -> None:
    with (
        pytest.raises(WebSocketDisconnect) as closed,
        edge.websocket_connect(
            "/graphql", subprotocols=["graphql-transport-ws"], headers={"Origin": "https://evil.example.com"}
        ) as ws,
    ):
        ws.receive_text()
    assert closed.value.code == 4403


def test_listed_origins_get_cors_headers_on_answers_and_refusals(auth_graph: GraphStore) -> None:
    with app_client(auth_graph, auth=AuthConfig(api_keys=True, cors_origins=(LISTED,))) as client:
        refused = client.post("/graphql", json={"query": "{ version }"}, headers={"Origin": LISTED})
        assert refused.status_code == 401
        assert refused.headers["access-control-allow-origin"] == LISTED
        assert refused.headers["access-control-allow-credentials"] == "true"


def test_without_listed_origins_no_cors_header_is_sent(auth_graph: GraphStore) -> None:
    with app_client(auth_graph, auth=AuthConfig()) as client:
        answer = client.options(
            "/graphql", headers={"Origin": LISTED, "Access-Control-Request-Method": "POST"}
        )
        assert "access-control-allow-origin" not in answer.headers
