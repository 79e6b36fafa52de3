"""Modelers' REST: DTDL files and zips, Turtle, the dry run of a new version, batched migration."""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api.context import twin_context
from api.roles import Role
from graph.api_keys import ApiKeyStore
from graph.events import ChangeEvent
from graph.store import GraphStore
from tests.api.conftest_auth import app_client

pytest_plugins = ["tests.api.conftest_auth"]

CONTEXT = "dtmi:dtdl:context;3"
PUMP_1 = {
    "@context": CONTEXT,
    "@id": "dtmi:ex:Pump;1",
    "@type": "Interface",
    "contents": [
        {"@type": "Property", "name": "flow", "schema": "double"},
        {"@type": "Property", "name": "label", "schema": "string"},
        {"@type": "Relationship", "name": "feeds"},
    ],
}
VALVE_1 = {
    "@context": CONTEXT,
    "@id": "dtmi:ex:Valve;1",
    "@type": "Interface",
    "contents": [{"@type": "Relationship", "name": "controls", "target": "dtmi:ex:Pump;1"}],
}
# Version 2 types label as an integer and no longer declares feeds.
PUMP_2 = {
    "@context": CONTEXT,
    "@id": "dtmi:ex:Pump;2",
    "@type": "Interface",
    "contents": [
        {"@type": "Property", "name": "flow", "schema": "double"},
        {"@type": "Property", "name": "label", "schema": "integer"},
        {"@type": "Property", "name": "rated", "schema": "double"},
    ],
}
TURTLE = """
@prefix owl: <http://www.w3.org/2002/07/owl#> .
@prefix rdfs: <http://www.w3.org/2000/01/rdf-schema#> .
@prefix xsd: <http://www.w3.org/2001/XMLSchema#> .
@prefix ex: <https://example.test/plant#> .
ex:Machine a owl:Class ; rdfs:label "Machine"@en .
ex:Press a owl:Class ; rdfs:subClassOf ex:Machine .
ex:tonnage a owl:DatatypeProperty ; rdfs:domain ex:Press ; rdfs:range xsd:double .
ex:orphan a owl:DatatypeProperty ; rdfs:range xsd:string .
"""


@pytest.fixture
def modeler(auth_graph: GraphStore) -> Iterator[TestClient]:
    key = ApiKeyStore(auth_graph).create("modeler", [Role.MODELER]).secret
    with app_client(auth_graph) as client:
        client.headers["X-API-Key"] = key
        yield client


@pytest.fixture
def modeler_any(auth_any_graph: GraphStore) -> Iterator[TestClient]:
    """A modeler's client on each engine in turn."""
    key = ApiKeyStore(auth_any_graph).create("modeler", [Role.MODELER]).secret
    with app_client(auth_any_graph) as client:
        client.headers["X-API-Key"] = key
        yield client


def upload(client: TestClient, *documents: dict[str, Any], dry_run: bool = False) -> Any:
    files = [
        ("files", (f"{d['@id'].split(':')[-1]}.json", json.dumps(d), "application/json")) for d in documents
    ]
    return client.post("/models/files", files=files, params={"dryRun": str(dry_run).lower()})


def plant(graph: GraphStore) -> None:
    """Pumps of version 1: two ready to move, one with a retyped value, one feeding, one controlled."""
    twins = twin_context("1", graph, load_base=False).twins
    assert twins is not None
    twins.put_twin("p1", "dtmi:ex:Pump;1", {"flow": 1.0, "label": "north"})
    for twin_id in ("p2", "p3", "p4", "p5", "p6"):
        twins.put_twin(twin_id, "dtmi:ex:Pump;1", {"flow": 2.0})
    twins.put_twin("v1", "dtmi:ex:Valve;1", {})
    twins.put_relationship("p3", "r1", "feeds", "p2")
    twins.put_relationship("v1", "r2", "controls", "p4")


def blocked(report: dict[str, Any]) -> dict[str, list[str]]:
    return {t["twinId"]: [i["code"] for i in t["issues"]] for t in report["blocked"]}


def test_several_files_upload_as_one_batch(modeler: TestClient) -> None:
    response = upload(modeler, VALVE_1, PUMP_1)  # the valve names the pump: one batch resolves it
    assert response.status_code == 201, response.text
    assert sorted(response.json()["models"]) == ["dtmi:ex:Pump;1", "dtmi:ex:Valve;1"]
    listed = modeler.post("/graphql", json={"query": "{ models { id } }"}).json()["data"]["models"]
    assert {m["id"] for m in listed} == {"dtmi:ex:Pump;1", "dtmi:ex:Valve;1"}


def test_a_zipped_folder_uploads(modeler: TestClient) -> None:
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("models/pump.json", json.dumps(PUMP_1))
        zf.writestr("models/valves/valve.json", json.dumps(VALVE_1))
        zf.writestr("models/README.md", "not a model")
        zf.writestr("__MACOSX/models/._pump.json", "junk")
    files = [("files", ("models.zip", archive.getvalue(), "application/zip"))]
    response = modeler.post("/models/files", files=files)
    assert response.status_code == 201, response.text
    assert sorted(response.json()["models"]) == ["dtmi:ex:Pump;1", "dtmi:ex:Valve;1"]


def test_invalid_files_are_422_naming_file_and_pointer(modeler: TestClient) -> None:
    bad = {**PUMP_1, "contents": [{"@type": "Property", "name": "flow", "schema": "decimalish"}]}
    response = upload(modeler, bad)
    assert response.status_code == 422
    body = response.json()
    assert body["code"] == "VALIDATION_FAILED"
    error = body["details"]["errors"][0]
    assert error["file"] == "Pump;1.json"
    assert error["path"].startswith("/contents/0")
    assert body["detail"].startswith("Pump;1.json:/contents/0")


@pytest.mark.parametrize(
    ("content", "name", "message"),
    [
        (b"PK\x03\x04 broken", "models.zip", "not a readable zip archive"),
        (b"\xff\xfe\x00bad", "pump.json", "not UTF-8 text"),
    ],
)
def test_unreadable_uploads_are_400(modeler: TestClient, content: bytes, name: str, message: str) -> None:
    response = modeler.post("/models/files", files=[("files", (name, content, "application/octet-stream"))])
    assert response.status_code == 400
    assert message in response.json()["detail"]


def test_a_turtle_ontology_uploads_as_dtdl_with_what_was_dropped(modeler: TestClient) -> None:
    files = [("file", ("plant.ttl", TURTLE.encode(), "text/turtle"))]
    response = modeler.post("/models/turtle", files=files, params={"namespace": "dtmi:example:plant"})
    assert response.status_code == 201, response.text
    body = response.json()
    assert sorted(body["models"]) == ["dtmi:example:plant:Machine;1", "dtmi:example:plant:Press;1"]
    assert any(d["subject"].endswith("#orphan") for d in body["dropped"])
    bad = modeler.post("/models/turtle", files=[("file", ("x.ttl", b"not turtle at all", "text/turtle"))])
    assert bad.status_code == 400
    assert bad.json()["code"] == "BAD_REQUEST"


def test_a_dry_run_upload_reports_what_the_new_version_would_break(
    modeler_any: TestClient, auth_any_graph: GraphStore
) -> None:
    assert upload(modeler_any, PUMP_1, VALVE_1).status_code == 201
    plant(auth_any_graph)
    response = upload(modeler_any, PUMP_2, dry_run=True)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["dryRun"] is True
    assert body["models"] == ["dtmi:ex:Pump;2"]
    [report] = body["evolution"]
    assert (report["from"], report["to"]) == ("dtmi:ex:Pump;1", "dtmi:ex:Pump;2")
    assert report["retyped"] == ["label"]
    assert report["removedRelationships"] == ["feeds"]
    assert (report["twins"], report["ready"], report["blockedCount"]) == (6, 3, 3)
    assert blocked(report) == {
        "p1": ["VALUE_INVALID"],  # the string label no longer fits an integer
        "p3": ["RELATIONSHIP_REMOVED"],
        "p4": ["TARGET_MODEL_INVALID"],
    }
    # nothing was stored
    gone = modeler_any.get("/models/evolution", params={"from": "dtmi:ex:Pump;1", "to": "dtmi:ex:Pump;2"})
    assert gone.status_code == 404


def test_migration_moves_valid_twins_in_batches_and_reports_the_rest(
    modeler_any: TestClient, auth_any_graph: GraphStore
) -> None:
    assert upload(modeler_any, PUMP_1, VALVE_1).status_code == 201
    plant(auth_any_graph)
    assert upload(modeler_any, PUMP_2).status_code == 201
    before = modeler_any.get("/models/evolution", params={"from": "dtmi:ex:Pump;1", "to": "dtmi:ex:Pump;2"})
    assert before.json()["ready"] == 3

    dry = modeler_any.post(
        "/models/migrations", json={"from": "dtmi:ex:Pump;1", "to": "dtmi:ex:Pump;2", "dryRun": True}
    )
    assert dry.status_code == 200
    assert "migrated" not in dry.json()

    events: list[ChangeEvent] = []
    modeler_any.app.state.kgtwin_context.events.subscribe(events.append)
    response = modeler_any.post(
        "/models/migrations", json={"from": "dtmi:ex:Pump;1", "to": "dtmi:ex:Pump;2", "batchSize": 2}
    )
    assert response.status_code == 200, response.text
    report = response.json()
    assert report["migrated"] == 3
    assert report["batches"] == 3  # six twins in pages of 2
    assert sorted(blocked(report)) == ["p1", "p3", "p4"]
    # In pages by id on Neo4j, by internal id on FalkorDB (which reuses a deleted node's).
    moved_events = sorted((e.kind, e.id, e.model, e.data["previousModel"]) for e in events)
    assert moved_events == [
        ("twin.updated", t, "dtmi:ex:Pump;2", "dtmi:ex:Pump;1") for t in ("p2", "p5", "p6")
    ]
    rows = auth_any_graph.read(
        "MATCH (t:Twin) WHERE t.model = 'dtmi:ex:Pump;2' RETURN t.id ORDER BY t.id"
    ).rows
    assert [r[0] for r in rows] == ["p2", "p5", "p6"]
    moved = twin_context("1", auth_any_graph, load_base=False).twins
    assert moved is not None
    assert moved.get_twin("p2").model == "dtmi:ex:Pump;2"
    assert moved.get_twin("p1").model == "dtmi:ex:Pump;1"
    # a second run finds only the blocked ones left
    again = modeler_any.post(
        "/models/migrations", json={"from": "dtmi:ex:Pump;1", "to": "dtmi:ex:Pump;2"}
    ).json()
    assert (again["twins"], again["migrated"]) == (3, 0)


def test_migration_requests_are_checked(modeler: TestClient) -> None:
    assert upload(modeler, PUMP_1, VALVE_1).status_code == 201
    assert upload(modeler, PUMP_2).status_code == 201
    other = modeler.post("/models/migrations", json={"from": "dtmi:ex:Pump;1", "to": "dtmi:ex:Valve;1"})
    assert other.status_code == 400
    assert other.json()["code"] == "BAD_REQUEST"
    missing = modeler.post("/models/migrations", json={"from": "dtmi:ex:Pump;1", "to": "dtmi:ex:Pump;9"})
    assert missing.status_code == 404
    malformed = modeler.post("/models/migrations", json={"from": "dtmi:ex:Pump;1", "batchSize": 0})
    assert malformed.status_code == 422
    decommission = 'mutation { decommissionModel(id: "dtmi:ex:Pump;2") { id } }'
    assert "errors" not in modeler.post("/graphql", json={"query": decommission}).json()
    refused = modeler.post("/models/migrations", json={"from": "dtmi:ex:Pump;1", "to": "dtmi:ex:Pump;2"})
    assert refused.status_code == 409
