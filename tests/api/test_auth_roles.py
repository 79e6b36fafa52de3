"""Each role, through HTTP with its own API key: one action it may take, one it may not.

viewer reads; operator writes twins; analyst runs Cypher; modeler edits models (REST
modeling endpoints, GraphQL ``uploadModels``); admin does all. "Allowed" means the
permission check passed: the answer is data, or an error other than FORBIDDEN.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api.roles import Role
from graph.store import GraphStore
from tests.api.conftest_auth import app_client, keys_by_role

pytest_plugins = ["tests.api.conftest_auth"]

READ = "{ models { id } }"
WRITE_TWIN = 'mutation { deleteTwin(id: "no-such-twin") }'
CYPHER = '{ cypher(query: "RETURN 1 AS one") { columns rows } }'


@pytest.fixture
def client_and_keys(auth_graph: GraphStore) -> Iterator[tuple[TestClient, dict[Role, str]]]:
    keys = keys_by_role(auth_graph)
    with app_client(auth_graph) as client:
        yield client, keys


def gql(client: TestClient, key: str, query: str) -> dict[str, Any]:
    response = client.post("/graphql", json={"query": query}, headers={"X-API-Key": key})
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def code(body: dict[str, Any]) -> str | None:
    errors = body.get("errors") or []
    return errors[0]["extensions"]["code"] if errors else None


def modeling(client: TestClient, key: str) -> int:
    """A modeler's dry-run upload of one valid model: 200 when allowed."""
    model = b'{"@context": "dtmi:dtdl:context;3", "@id": "dtmi:ex:Pump;1", "@type": "Interface"}'
    response = client.post(
        "/models/files",
        params={"dryRun": "true"},
        files=[("files", ("pump.json", model, "application/json"))],
        headers={"X-API-Key": key},
    )
    return response.status_code


def test_viewer_reads_but_may_not_write_twins(client_and_keys: tuple[TestClient, dict[Role, str]]) -> None:
    client, keys = client_and_keys
    assert gql(client, keys[Role.VIEWER], READ) == {"data": {"models": []}}
    assert code(gql(client, keys[Role.VIEWER], WRITE_TWIN)) == "FORBIDDEN"


def test_operator_writes_twins_but_may_not_run_cypher(
    client_and_keys: tuple[TestClient, dict[Role, str]],
) -> None:
    client, keys = client_and_keys
    assert code(gql(client, keys[Role.OPERATOR], WRITE_TWIN)) == "NOT_FOUND"
    assert code(gql(client, keys[Role.OPERATOR], CYPHER)) == "FORBIDDEN"


def test_analyst_runs_cypher_but_may_not_edit_models(
    client_and_keys: tuple[TestClient, dict[Role, str]],
) -> None:
    client, keys = client_and_keys
    body = gql(client, keys[Role.ANALYST], CYPHER)
    assert body["data"]["cypher"] == {"columns": ["one"], "rows": [[1]]}
    response = client.get(
        "/models/evolution",
        params={"from": "dtmi:ex:Pump;1", "to": "dtmi:ex:Pump;2"},
        headers={"X-API-Key": keys[Role.ANALYST]},
    )
    assert response.status_code == 403
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["code"] == "FORBIDDEN"
    assert response.json()["details"] == {"permission": "models", "roles": ["analyst"]}


def test_modeler_edits_models_but_may_not_write_twins(
    client_and_keys: tuple[TestClient, dict[Role, str]],
) -> None:
    client, keys = client_and_keys
    assert modeling(client, keys[Role.MODELER]) == 200
    assert code(gql(client, keys[Role.MODELER], WRITE_TWIN)) == "FORBIDDEN"


def test_admin_may_do_everything(client_and_keys: tuple[TestClient, dict[Role, str]]) -> None:
    client, keys = client_and_keys
    admin = keys[Role.ADMIN]
    assert code(gql(client, admin, READ)) is None
    assert code(gql(client, admin, WRITE_TWIN)) == "NOT_FOUND"
    assert code(gql(client, admin, CYPHER)) is None
    assert modeling(client, admin) == 200


@pytest.mark.parametrize("role", [Role.VIEWER, Role.OPERATOR, Role.ANALYST])
def test_roles_without_models_may_not_upload_models(
    client_and_keys: tuple[TestClient, dict[Role, str]], role: Role
) -> None:
    client, keys = client_and_keys
    assert modeling(client, keys[role]) == 403
