"""The middleware's refusals under /adt take ADT's error shape; roles guard ADT's operations."""

from __future__ import annotations

from api.limits import Limits
from api.roles import Role
from graph.store import GraphStore
from tests.api.conftest_auth import app_client, keys_by_role

pytest_plugins = ["tests.api.conftest_auth"]

V = {"api-version": "2023-10-31"}


def test_no_key_a_bad_key_and_too_many_requests_get_adts_error_body(auth_graph: GraphStore) -> None:
    keys = keys_by_role(auth_graph)
    with app_client(auth_graph, limits=Limits(rate_per_second=1, rate_burst=1)) as client:
        missing = client.get("/adt/models", params=V)
        assert missing.status_code == 401
        assert missing.headers["x-ms-error-code"] == "Unauthorized"
        assert missing.json()["error"]["code"] == "Unauthorized"
        assert (
            client.get("/adt/models", params=V, headers={"Authorization": "Bearer kgt_x_y"}).status_code
            == 401
        )
        viewer = {"Authorization": f"Bearer {keys[Role.VIEWER]}"}
        assert client.get("/adt/models", params=V, headers=viewer).status_code == 200
        limited = client.get("/adt/models", params=V, headers=viewer)
        assert limited.status_code == 429
        assert limited.headers["x-ms-error-code"] == "QuotaReachedError"
        assert limited.headers["retry-after"]
        assert (
            client.get("/models/evolution", params={"from": "a", "to": "b"})
            .headers["content-type"]
            .startswith("application/problem+json")
        )  # outside /adt: problem+json as before


def test_each_role_reaches_only_its_adt_operations(auth_graph: GraphStore) -> None:
    keys = keys_by_role(auth_graph)
    with app_client(auth_graph) as client:

        def status(role: Role, method: str, path: str, body: object = None) -> int:
            headers = {"Authorization": f"Bearer {keys[role]}"}
            return client.request(method, path, params=V, headers=headers, json=body).status_code

        route = {"endpointName": "hub", "filter": "true"}
        assert status(Role.VIEWER, "PUT", "/adt/digitaltwins/x", {"$metadata": {"$model": "dtmi:x;1"}}) == 403
        assert status(Role.OPERATOR, "POST", "/adt/models", [{"@id": "dtmi:x;1"}]) == 403
        assert status(Role.OPERATOR, "PUT", "/adt/eventroutes/r", route) == 403
        assert status(Role.MODELER, "GET", "/adt/jobs/imports") == 403
        assert status(Role.ADMIN, "PUT", "/adt/eventroutes/r", route) == 204
        assert status(Role.VIEWER, "GET", "/adt/eventroutes/r") == 200
        assert status(Role.ADMIN, "GET", "/adt/jobs/imports") == 200
