"""``GET /me`` and ``GET /system``: the caller, and the deployment in five dimensions."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from api import create_app
from api.auth import AuthConfig
from api.context import twin_context
from api.roles import Role
from api.system import Deployment, IngestFigures, ServiceState, system_router
from graph.api_keys import ApiKeyStore
from graph.store import GraphStore
from kgtwin.demo import load_demo
from simulation.jobs import RunStore
from simulation.worker import check_request

EDGE = Deployment(
    profile="edge",
    services=[
        ServiceState("api", "running", "127.0.0.1:8000"),
        ServiceState("ingest", "running", "in process"),
    ],
    ingest=IngestFigures(
        devices=29,
        messages=120,
        values=480,
        dead_letters={"UNKNOWN_TWIN": 2},
        spooled_points=0,
        connected=True,
    ),
    broker="embedded mqtt://127.0.0.1:1883",
)


@pytest.fixture
def served(empty_graph: GraphStore) -> Iterator[tuple[TestClient, dict[str, str]]]:
    """The app with API keys on, the demo loaded, one queued run; and a key per role."""
    load_demo(empty_graph)
    runs = RunStore(empty_graph, validate=check_request)
    runs.ensure_schema()
    runs.create("flow", {"roots": ["source-1"], "relationships": ["feeds"], "maxDepth": 10})
    context = twin_context("9.9.9", empty_graph, runs=runs, auth=AuthConfig(api_keys=True, key_cache_s=0))
    keys = {role.value: ApiKeyStore(empty_graph).create(role.value, [role]).secret for role in Role}
    app = create_app(context)
    app.include_router(system_router(context, lambda: EDGE))
    with TestClient(app) as client:
        yield client, keys


def test_me_names_the_roles_and_the_permissions_they_grant(served: tuple[TestClient, dict[str, str]]) -> None:
    client, keys = served
    viewer = client.get("/me", headers={"X-API-Key": keys["viewer"]}).json()
    assert viewer == {"name": "key:viewer", "roles": ["viewer"], "permissions": ["read"]}
    operator = client.get("/me", headers={"X-API-Key": keys["operator"]}).json()
    assert operator["permissions"] == ["read", "simulate", "write_twins"]


def test_me_without_credentials_is_unauthenticated(served: tuple[TestClient, dict[str, str]]) -> None:
    client, _ = served
    response = client.get("/me")
    assert response.status_code == 401
    assert response.json()["code"] == "UNAUTHENTICATED"


def test_system_reports_the_five_dimensions(served: tuple[TestClient, dict[str, str]]) -> None:
    client, keys = served
    report = client.get("/system", headers={"X-API-Key": keys["viewer"]}).json()
    assert report["version"] == "9.9.9"
    assert report["profile"] == "edge"
    assert report["physical"] == {
        "devices": 29,
        "messages": 120,
        "values": 480,
        "deadLetters": {"UNKNOWN_TWIN": 2},
        "spooledPoints": 0,
        "connected": True,
    }
    virtual = report["virtual"]
    assert (virtual["twins"], virtual["relationships"]) == (35, 60)
    assert virtual["models"] > 0
    assert virtual["runs"]["queued"] == 1
    assert [r["model"] for r in virtual["runs"]["recent"]] == ["flow"]
    assert [b["port"] for b in report["data"]["backends"]] == ["graph"]
    assert all(b["ok"] for b in report["data"]["backends"])
    assert [s["name"] for s in report["services"]] == ["api", "ingest"]
    assert report["connection"] == {"broker": None, "telemetrySubscriptions": None}


def test_system_needs_credentials(served: tuple[TestClient, dict[str, str]]) -> None:
    client, _ = served
    assert client.get("/system").status_code == 401
