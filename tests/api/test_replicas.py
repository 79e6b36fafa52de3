"""Two API replicas on one graph: a model change made through one is seen by the other."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from api.app import create_app
from api.context import twin_context
from graph.store import GraphStore

VALVE = "dtmi:example:replicas:Valve;1"
VALVE_DOC: dict[str, Any] = {
    "@context": "dtmi:dtdl:context;3",
    "@id": VALVE,
    "@type": "Interface",
    "contents": [{"@type": "Property", "name": "opening", "schema": "double"}],
}
UPLOAD = "mutation($m: JSON!) { uploadModels(models: $m) { id } }"
CREATE = "mutation($id: ID!, $m: String!) { createTwin(id: $id, model: $m, properties: {opening: 0.5}) {id} }"
DECOMMISSION = "mutation($m: ID!) { decommissionModel(id: $m) { id decommissioned } }"
MODEL = "query($m: ID!) { model(id: $m) { decommissioned } }"


def post(client: TestClient, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
    response = client.post("/graphql", json={"query": query, "variables": variables or {}})
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def test_a_model_uploaded_through_one_replica_is_used_by_the_other_at_once(empty_graph: GraphStore) -> None:
    first, second = twin_context("test", empty_graph), twin_context("test", empty_graph)
    second.models_check_s = 3600.0  # its timer would not look for an hour: the miss must
    with TestClient(create_app(first)) as one, TestClient(create_app(second)) as two:
        assert post(one, UPLOAD, {"m": [VALVE_DOC]}).get("errors") is None
        assert post(two, MODEL, {"m": VALVE})["data"]["model"] is not None
        extended = dict(
            VALVE_DOC, **{"@id": "dtmi:example:replicas:BigValve;1", "extends": VALVE, "contents": []}
        )
        assert post(two, UPLOAD, {"m": [extended]}).get("errors") is None  # extends what one uploaded
        created = post(two, CREATE, {"id": "valve-1", "m": VALVE})
        assert created.get("errors") is None, created
        assert created["data"]["createTwin"]["id"] == "valve-1"
        second.models_check_s = 0.0  # a decommission is no miss: the timer carries it
        assert post(one, DECOMMISSION, {"m": VALVE})["data"]["decommissionModel"]["decommissioned"] is True
        listed = post(two, MODEL, {"m": VALVE})
        assert listed["data"]["model"]["decommissioned"] is True
        refused_again = post(two, CREATE, {"id": "valve-2", "m": VALVE})
        assert refused_again["errors"][0]["extensions"]["code"] == "CONFLICT", refused_again


def test_a_replica_does_not_reload_for_its_own_changes_but_does_for_anothers(empty_graph: GraphStore) -> None:
    first, second = twin_context("test", empty_graph), twin_context("test", empty_graph)
    first.models_check_s = 0.0
    assert first.registry is not None
    reloads: list[int] = []
    reload = first.registry.reload

    def counted() -> None:
        reloads.append(1)
        reload()

    first.registry.reload = counted  # type: ignore[method-assign]
    with TestClient(create_app(first)) as one, TestClient(create_app(second)) as two:
        # The base ontology both contexts loaded, then an upload and a decommission of its own.
        assert post(one, UPLOAD, {"m": [VALVE_DOC]}).get("errors") is None
        assert post(one, DECOMMISSION, {"m": VALVE}).get("errors") is None
        assert post(one, MODEL, {"m": VALVE})["data"]["model"]["decommissioned"] is True
        assert reloads == []
        # The other replica's change is on the way from what ``first`` saw: one reload.
        other = dict(VALVE_DOC, **{"@id": "dtmi:example:replicas:Pump;1"})
        assert post(two, UPLOAD, {"m": [other]}).get("errors") is None
        assert post(one, MODEL, {"m": "dtmi:example:replicas:Pump;1"})["data"]["model"] is not None
        assert reloads == [1]
