"""The API application on the embedded backends: GraphiQL, GraphQL, health and problem+json errors."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from api import ApiContext, create_app
from graph.falkordb import FalkorGraphStore
from telemetry.duckdb import DuckDbTelemetryStore


@pytest.fixture
def client(tmp_path: Path) -> Iterator[TestClient]:
    graph = FalkorGraphStore(tmp_path / "graph")
    telemetry = DuckDbTelemetryStore(tmp_path / "telemetry.duckdb")
    context = ApiContext(version="9.9.9", graph=graph, telemetry=telemetry)
    try:
        with TestClient(create_app(context)) as test_client:
            yield test_client
    finally:
        telemetry.close()
        graph.close()


def test_graphiql_is_served_to_browsers(client: TestClient) -> None:
    response = client.get("/graphql", headers={"Accept": "text/html"})
    assert response.status_code == 200
    assert "GraphiQL" in response.text


def test_graphql_answers_version_and_health(client: TestClient) -> None:
    response = client.post("/graphql", json={"query": "{ version health { port backend ok error } }"})
    assert response.status_code == 200
    data = response.json()["data"]
    assert data["version"] == "9.9.9"
    assert data["health"] == [
        {"port": "graph", "backend": "falkordb", "ok": True, "error": None},
        {"port": "telemetry", "backend": "duckdb", "ok": True, "error": None},
    ]


def test_readiness_reports_every_backend(client: TestClient) -> None:
    assert client.get("/healthz").json() == {"status": "ok"}
    ready = client.get("/readyz")
    assert ready.status_code == 200
    assert [b["backend"] for b in ready.json()["backends"]] == ["falkordb", "duckdb"]


def test_readiness_is_503_problem_when_a_backend_is_down(client: TestClient, tmp_path: Path) -> None:
    context_graph = FalkorGraphStore(tmp_path / "other")
    context_graph.close()  # a store whose engine is gone
    app = create_app(ApiContext(version="1", graph=context_graph))
    with TestClient(app) as down:
        response = down.get("/readyz")
    assert response.status_code == 503
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert body["code"] == "BACKEND_UNAVAILABLE"
    assert body["backends"][0]["ok"] is False


def test_unknown_route_is_problem_json(client: TestClient) -> None:
    response = client.get("/no/such/route")
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["code"] == "NOT_FOUND"


def test_malformed_graphql_is_an_error_not_a_crash(client: TestClient) -> None:
    response = client.post("/graphql", json={"query": "{ version("})
    assert response.status_code < 500
    assert response.json()["errors"][0]["message"].startswith("Syntax Error")
