"""Microsoft's Python SDK (``azure-digitaltwins-core``) against a real kgtwin, over TLS, with an API key.

Each call is checked against what ADT's documentation says it returns; the same suite
runs on ``kgtwin serve`` (embedded) and on ``kgtwin api`` over Neo4j and InfluxDB. Tests
share one process per engine and use their own twin ids; the deletion job runs last.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import paho.mqtt.client as mqtt
import pytest
from azure.core import MatchConditions
from azure.core.exceptions import (
    ClientAuthenticationError,
    HttpResponseError,
    ResourceExistsError,
    ResourceModifiedError,
    ResourceNotFoundError,
)
from azure.digitaltwins.core import DigitalTwinsClient, DigitalTwinsEventRoute
from azure.digitaltwins.core._generated.models import (
    DigitalTwinModelsListOptions,
    ImportJob,
    QueryTwinsOptions,
)
from paho.mqtt.enums import CallbackAPIVersion

from tests.adt.conftest import AdtServer, ApiKeyCredential
from tests.graph.adt_models import DOCS, ROOM, SENSOR, THERMOSTAT

pytestmark = pytest.mark.timeout(300)


@pytest.fixture(scope="module")
def client(adt: AdtServer) -> DigitalTwinsClient:
    """The SDK's client on the kgtwin endpoint, trusting the test CA, with the admin key; models uploaded."""
    found = DigitalTwinsClient(adt.endpoint, ApiKeyCredential(adt.admin_key), connection_verify=str(adt.ca))
    created = found.create_models(DOCS)
    assert sorted(m.id for m in created) == sorted([SENSOR, ROOM, THERMOSTAT])
    return found


def _thermostat(client: DigitalTwinsClient, twin_id: str, setpoint: float = 21.0) -> dict[str, Any]:
    twin = {
        "$metadata": {"$model": THERMOSTAT, "setpoint": {"sourceTime": "2026-01-02T03:04:05.1234567Z"}},
        "setpoint": setpoint,
        "label": "hall",
        "sensor": {"$metadata": {}, "offset": 0.5, "unit": "K"},
    }
    return dict(client.upsert_digital_twin(twin_id, twin))


def _code(caught: pytest.ExceptionInfo[HttpResponseError]) -> str | None:
    """The ADT error code the SDK read from the error body."""
    error = caught.value.error
    return None if error is None else str(error.code)


def _unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def test_uploaded_models_read_back_as_adt_describes_them(client: DigitalTwinsClient) -> None:
    model = client.get_model(THERMOSTAT, include_model_definition=True)
    assert model.id == THERMOSTAT
    assert model.decommissioned is False
    assert model.upload_time is not None
    assert model.description == {"en": "A thermostat with its own sensor."}
    assert model.model["@id"] == THERMOSTAT
    room = client.get_model(ROOM)
    assert room.display_name == {"en": "Room", "de": "Raum"}
    assert room.model is None  # no definition unless asked


def test_models_are_listed_in_pages_and_with_their_dependencies(client: DigitalTwinsClient) -> None:
    # DigitalTwinsClient.list_models(results_per_page=...) of SDK 1.3.0 hands azure-core an
    # unknown keyword (max_item_count) and fails before sending; the SDK's generated layer
    # sends the max-items-per-page header as the specification describes.
    options = DigitalTwinModelsListOptions(max_items_per_page=2)
    pages = [
        list(page)
        for page in client._client.digital_twin_models.list(
            digital_twin_models_list_options=options
        ).by_page()
    ]
    ids = [m.id for page in pages for m in page]
    assert len(pages) >= 2
    assert all(len(page) <= 2 for page in pages)
    assert {SENSOR, ROOM, THERMOSTAT} <= set(ids)
    assert len(ids) == len(set(ids))
    assert {m.id for m in client.list_models()} == set(ids)
    needed = {m.id for m in client.list_models(dependencies_for=[THERMOSTAT], include_model_definition=True)}
    assert needed == {THERMOSTAT, SENSOR}  # the Component's schema; the relationship target is no dependency


def test_a_model_uploaded_twice_or_invalid_is_refused_with_adts_codes(client: DigitalTwinsClient) -> None:
    with pytest.raises(ResourceExistsError) as exists:
        client.create_models([DOCS[0]])
    assert _code(exists) == "ModelAlreadyExists"
    broken = {
        "@context": "dtmi:dtdl:context;3",
        "@id": "dtmi:ex:adt:Broken;1",
        "@type": "Interface",
        "contents": [{"@type": "Property", "name": "x", "schema": "nothing"}],
    }
    with pytest.raises(HttpResponseError) as invalid:
        client.create_models([broken])
    assert invalid.value.status_code == 400
    assert _code(invalid) == "DTDLParserError"
    with pytest.raises(ResourceNotFoundError) as missing:
        client.get_model("dtmi:ex:adt:Nothing;1")
    assert _code(missing) == "ModelNotFound"


def test_a_twin_with_a_component_reads_back_in_adts_shape(client: DigitalTwinsClient) -> None:
    twin_id = _unique("thermo")
    created = _thermostat(client, twin_id)
    got = dict(client.get_digital_twin(twin_id))
    assert got == created
    assert got["$dtId"] == twin_id
    assert got["$etag"].startswith('W/"')
    meta = got["$metadata"]
    assert meta["$model"] == THERMOSTAT
    assert meta["setpoint"]["lastUpdateTime"] == meta["$lastUpdateTime"]
    assert meta["setpoint"]["sourceTime"] == "2026-01-02T03:04:05.1234567Z"
    assert meta["label"] == {"lastUpdateTime": meta["$lastUpdateTime"]}
    assert got["sensor"]["offset"] == 0.5
    assert got["sensor"]["$metadata"]["offset"]["lastUpdateTime"] == meta["$lastUpdateTime"]
    component = dict(client.get_component(twin_id, "sensor"))
    assert component == got["sensor"]


def test_if_none_match_creates_only_once(client: DigitalTwinsClient) -> None:
    twin_id = _unique("room")
    body = {"$metadata": {"$model": ROOM}, "name": "Lab"}
    client.upsert_digital_twin(twin_id, body, match_condition=MatchConditions.IfMissing)
    with pytest.raises(ResourceExistsError) as caught:
        client.upsert_digital_twin(twin_id, body, match_condition=MatchConditions.IfMissing)
    assert _code(caught) == "PreconditionFailed"


def test_a_patch_with_a_stale_etag_fails_as_the_sdk_expects(client: DigitalTwinsClient) -> None:
    twin_id = _unique("thermo")
    first = _thermostat(client, twin_id)
    patch = [{"op": "replace", "path": "/setpoint", "value": 23.5}]
    assert (
        client.update_digital_twin(
            twin_id, patch, etag=first["$etag"], match_condition=MatchConditions.IfNotModified
        )
        is None
    )
    second = dict(client.get_digital_twin(twin_id))
    assert second["setpoint"] == 23.5
    assert second["$etag"] != first["$etag"]
    assert (
        second["$metadata"]["setpoint"]["lastUpdateTime"] >= first["$metadata"]["setpoint"]["lastUpdateTime"]
    )
    assert "sourceTime" not in second["$metadata"]["setpoint"]  # a new value, observed when nobody said
    with pytest.raises(ResourceModifiedError) as stale:
        client.update_digital_twin(
            twin_id, patch, etag=first["$etag"], match_condition=MatchConditions.IfNotModified
        )
    assert stale.value.status_code == 412
    client.update_component(twin_id, "sensor", [{"op": "replace", "path": "/offset", "value": 1.25}])
    assert client.get_component(twin_id, "sensor")["offset"] == 1.25
    with pytest.raises(ResourceNotFoundError) as missing:
        client.get_component(twin_id, "nothing")
    assert _code(missing) == "ComponentNotFound"


def test_invalid_twin_data_is_a_validation_failure(client: DigitalTwinsClient) -> None:
    with pytest.raises(HttpResponseError) as caught:
        client.upsert_digital_twin(
            _unique("room"), {"$metadata": {"$model": ROOM}, "name": 12, "colour": "red"}
        )
    assert caught.value.status_code == 400
    assert _code(caught) == "ValidationFailed"
    with pytest.raises(HttpResponseError) as patch:
        client.update_digital_twin(_unique("ghost"), [{"op": "replace", "path": "/name", "value": "x"}])
    assert patch.value.status_code == 404
    assert _code(patch) == "DigitalTwinNotFound"


def test_relationships_round_trip_with_etags_and_incoming_lists(client: DigitalTwinsClient) -> None:
    thermo, room = _unique("thermo"), _unique("room")
    _thermostat(client, thermo)
    client.upsert_digital_twin(room, {"$metadata": {"$model": ROOM}, "name": "Lab"})
    rel = dict(
        client.upsert_relationship(
            thermo, "c1", {"$relationshipName": "controls", "$targetId": room, "priority": 1}
        )
    )
    assert (rel["$relationshipId"], rel["$sourceId"], rel["$targetId"]) == ("c1", thermo, room)
    assert (rel["$relationshipName"], rel["priority"]) == ("controls", 1)
    assert dict(client.get_relationship(thermo, "c1")) == rel
    assert [r["$relationshipId"] for r in client.list_relationships(thermo, "controls")] == ["c1"]
    assert list(client.list_relationships(thermo, "nothing")) == []
    incoming = list(client.list_incoming_relationships(room))
    assert [(i.source_id, i.relationship_id, i.relationship_name) for i in incoming] == [
        (thermo, "c1", "controls")
    ]
    assert incoming[0].relationship_link.endswith(f"/digitaltwins/{thermo}/relationships/c1")
    client.update_relationship(
        thermo,
        "c1",
        [{"op": "replace", "path": "/priority", "value": 2}],
        etag=rel["$etag"],
        match_condition=MatchConditions.IfNotModified,
    )
    with pytest.raises(ResourceModifiedError):
        client.delete_relationship(
            thermo, "c1", etag=rel["$etag"], match_condition=MatchConditions.IfNotModified
        )
    with pytest.raises(HttpResponseError) as held:
        client.delete_digital_twin(room)
    assert held.value.status_code == 400
    assert _code(held) == "RelationshipsNotDeleted"
    client.delete_relationship(thermo, "c1")
    with pytest.raises(ResourceNotFoundError) as gone:
        client.get_relationship(thermo, "c1")
    assert _code(gone) == "RelationshipNotFound"
    with pytest.raises(HttpResponseError) as target:
        client.upsert_relationship(
            thermo, "c2", {"$relationshipName": "controls", "$targetId": _unique("ghost")}
        )
    assert _code(target) == "TargetTwinNotFound"
    client.delete_digital_twin(room)
    client.delete_digital_twin(thermo)
    with pytest.raises(ResourceNotFoundError):
        client.get_digital_twin(thermo)


def test_relationship_lists_come_in_pages_through_the_sdks_pager(client: DigitalTwinsClient) -> None:
    """ADT pages relationship lists with nextLink; the SDK's pager follows it to the end."""
    thermos, room = sorted(_unique("pager-thermo") for _ in range(3)), _unique("pager-room")
    client.upsert_digital_twin(room, {"$metadata": {"$model": ROOM}, "name": "Pager"})
    for thermo in thermos:
        _thermostat(client, thermo)
    edges = [(thermos[0], f"c{n}") for n in range(5)] + [(t, "c0") for t in thermos[1:]]
    for source, rel_id in edges:
        client.upsert_relationship(source, rel_id, {"$relationshipName": "controls", "$targetId": room})
    small = {"headers": {"max-items-per-page": "2"}}
    pages = client.list_relationships(thermos[0], "controls", **small).by_page()
    assert [[r["$relationshipId"] for r in page] for page in pages] == [["c0", "c1"], ["c2", "c3"], ["c4"]]
    pages = client.list_incoming_relationships(room, **small).by_page()
    incoming = [[(i.source_id, i.relationship_id) for i in page] for page in pages]
    assert [len(page) for page in incoming] == [2, 2, 2, 1]
    assert [pair for page in incoming for pair in page] == sorted(edges)
    assert len(list(client.list_incoming_relationships(room))) == 7  # one page of the default size
    for source, rel_id in edges:
        client.delete_relationship(source, rel_id)
    for twin_id in [*thermos, room]:
        client.delete_digital_twin(twin_id)


def test_queries_join_match_and_filter_by_model_across_pages(client: DigitalTwinsClient) -> None:
    prefix = _unique("q")
    thermo = f"{prefix}-thermo"
    _thermostat(client, thermo)
    rooms = [f"{prefix}-room-{n}" for n in range(5)]
    for n, room in enumerate(rooms):
        client.upsert_digital_twin(
            room, {"$metadata": {"$model": ROOM}, "name": f"Room {n}", "area": 10.0 + n}
        )
        client.upsert_relationship(thermo, f"c{n}", {"$relationshipName": "controls", "$targetId": room})
    by_model = (
        f"SELECT * FROM DIGITALTWINS T WHERE IS_OF_MODEL(T, '{ROOM}') AND STARTS_WITH(T.$dtId, '{prefix}')"
    )
    pages = [
        list(p)
        for p in client.query_twins(
            by_model, query_twins_options=QueryTwinsOptions(max_items_per_page=2)
        ).by_page()
    ]
    assert [len(page) for page in pages] == [2, 2, 1]
    found = [twin for page in pages for twin in page]
    assert sorted(t["$dtId"] for t in found) == rooms
    assert found[0] == dict(client.get_digital_twin(found[0]["$dtId"]))  # the shape GET answers
    join = f"SELECT T, R FROM DIGITALTWINS T JOIN R RELATED T.controls WHERE T.$dtId = '{thermo}'"
    join += " AND R.area > 12"
    joined = list(client.query_twins(join))
    assert sorted(item["R"]["$dtId"] for item in joined) == rooms[3:]
    assert {item["T"]["$dtId"] for item in joined} == {thermo}
    match = f"SELECT R FROM DIGITALTWINS MATCH (T)-[:controls]->(R) WHERE T.$dtId = '{thermo}'"
    assert sorted(item["R"]["$dtId"] for item in client.query_twins(match)) == rooms
    names = f"SELECT T.name FROM DIGITALTWINS T WHERE T.$dtId = '{rooms[1]}'"
    assert list(client.query_twins(names)) == [{"name": "Room 1"}]
    count = by_model.replace("SELECT *", "SELECT COUNT()")
    assert list(client.query_twins(count)) == [{"COUNT": 5}]
    relationships = f"SELECT * FROM RELATIONSHIPS R WHERE R.$sourceId = '{thermo}'"
    assert sorted(r["$targetId"] for r in client.query_twins(relationships)) == rooms
    with pytest.raises(HttpResponseError) as bad:
        list(client.query_twins("SELECT * FROM DIGITALTWINS WHERE NOPE(1)"))
    assert _code(bad) == "SqlQueryError"


def test_telemetry_is_validated_stored_and_read_back_through_graphql(
    adt: AdtServer, client: DigitalTwinsClient
) -> None:
    twin_id = _unique("thermo")
    _thermostat(client, twin_id)
    client.publish_telemetry(twin_id, {"temperature": 22.5})
    client.publish_component_telemetry(twin_id, "sensor", {"reading": 1.5})
    with pytest.raises(HttpResponseError) as invalid:
        client.publish_telemetry(twin_id, {"temperature": "warm"})
    assert _code(invalid) == "ValidationFailed"
    query = """query($id: ID!) { twin(id: $id) {
        telemetry(name: "temperature", start: "-1h") { value } latest(name: "temperature") { value } } }"""
    with adt.http() as http:
        body = http.post("/graphql", json={"query": query, "variables": {"id": twin_id}}).json()
    assert "errors" not in body, body
    assert [p["value"] for p in body["data"]["twin"]["telemetry"]] == [22.5]
    assert body["data"]["twin"]["latest"]["value"] == 22.5


def test_event_routes_send_the_changes_their_filters_pass_to_mqtt(
    adt: AdtServer, client: DigitalTwinsClient
) -> None:
    route = DigitalTwinsEventRoute(
        endpoint_name="hub",
        filter="type = 'Microsoft.DigitalTwins.Twin.Create' AND STARTS_WITH(subject, 'routed-')",
    )
    client.upsert_event_route("r-create", route)
    got = client.get_event_route("r-create")
    assert (got.id, got.endpoint_name, got.filter) == ("r-create", "hub", route.filter)
    assert "r-create" in [r.id for r in client.list_event_routes()]
    with pytest.raises(HttpResponseError) as bad:
        client.upsert_event_route("r-bad", DigitalTwinsEventRoute(endpoint_name="hub", filter="type = "))
    assert _code(bad) == "EventRouteFilterInvalid"
    with _subscribed(adt, "kgtwin/routes/hub/#") as received:
        time.sleep(1.5)  # the router reads routes at most a second old
        client.upsert_digital_twin("other-1", {"$metadata": {"$model": ROOM}, "name": "not routed"})
        twin_id = _unique("routed")
        client.upsert_digital_twin(twin_id, {"$metadata": {"$model": ROOM}, "name": "routed"})
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline and not received:
            time.sleep(0.1)
    assert [m["subject"] for _, m in received] == [twin_id]
    topic, event = received[0]
    assert topic == f"kgtwin/routes/hub/Microsoft.DigitalTwins.Twin.Create/{twin_id}"
    assert event["type"] == "Microsoft.DigitalTwins.Twin.Create"
    assert (event["data"]["$metadata"]["$model"], event["data"]["name"]) == (ROOM, "routed")
    client.delete_event_route("r-create")
    with pytest.raises(ResourceNotFoundError) as gone:
        client.get_event_route("r-create")
    assert _code(gone) == "EventRouteNotFound"


def test_a_viewer_key_reads_but_may_not_write(adt: AdtServer, client: DigitalTwinsClient) -> None:
    viewer = DigitalTwinsClient(adt.endpoint, ApiKeyCredential(adt.viewer_key), connection_verify=str(adt.ca))
    assert viewer.get_model(ROOM).id == ROOM
    with pytest.raises(HttpResponseError) as caught:
        viewer.upsert_digital_twin(_unique("room"), {"$metadata": {"$model": ROOM}})
    assert caught.value.status_code == 403
    stranger = DigitalTwinsClient(
        adt.endpoint, ApiKeyCredential("kgt_not-a-key"), connection_verify=str(adt.ca)
    )
    with pytest.raises(ClientAuthenticationError):
        stranger.get_model(ROOM)


def test_an_import_job_reads_an_uploaded_adt_file(adt: AdtServer, client: DigitalTwinsClient) -> None:
    lines = [
        {"Section": "Header"},
        {"fileVersion": "1.0.0", "author": "tests", "organization": "kgtwin"},
        {"Section": "Twins"},
        {"$dtId": "imported-room", "$metadata": {"$model": ROOM}, "name": "Imported"},
        {"$dtId": "imported-bad", "$metadata": {"$model": ROOM}, "name": 7},
        {"Section": "Relationships"},
    ]
    with adt.http() as http:
        uploaded = http.put(
            "/adt/files/import-1.ndjson",
            params={"api-version": "2023-10-31"},
            content="\n".join(json.dumps(line) for line in lines).encode(),
        )
        assert uploaded.status_code == 201, uploaded.text
    job = client._client.import_jobs.add(
        "import-1",
        ImportJob(input_blob_uri="import-1.ndjson", output_blob_uri=f"{adt.endpoint}/files/import-1.log"),
    )
    assert job.status in ("notstarted", "running", "failed")
    deadline = time.monotonic() + 60
    while job.status not in ("succeeded", "failed") and time.monotonic() < deadline:
        time.sleep(0.3)
        job = client._client.import_jobs.get_by_id("import-1")
    assert job.status == "failed"
    assert job.error is not None
    assert job.error.code == "ImportFailed"
    assert client.get_digital_twin("imported-room")["name"] == "Imported"  # the valid lines were written
    with adt.http() as http:
        log = [
            json.loads(line)
            for line in http.get(
                "/adt/files/import-1.log", params={"api-version": "2023-10-31"}
            ).text.splitlines()
        ]
    assert [entry["logType"] for entry in log] == ["Error", "Info"]
    assert log[0]["details"]["line"] == 5
    assert "import-1" in [j.id for j in client._client.import_jobs.list()]
    client._client.import_jobs.delete("import-1")
    with pytest.raises(ResourceNotFoundError):
        client._client.import_jobs.get_by_id("import-1")


def test_a_deletion_job_empties_the_twin_and_reports_done(client: DigitalTwinsClient) -> None:
    twin_id = _unique("thermo")
    _thermostat(client, twin_id)
    poller = client._client.delete_jobs.begin_add(polling_interval=0.5)
    job = poller.result(timeout=120)
    assert job.status == "succeeded"
    assert job.finished_date_time is not None
    with pytest.raises(ResourceNotFoundError):
        client.get_digital_twin(twin_id)
    assert THERMOSTAT not in {m.id for m in client.list_models()}
    assert job.id in [j.id for j in client._client.delete_jobs.list()]


class _Inbox(list[tuple[str, dict[str, Any]]]):
    """Messages a test subscriber received: (topic, JSON payload)."""


@contextmanager
def _subscribed(adt: AdtServer, topic: str) -> Iterator[_Inbox]:
    """An MQTT subscription on the server's broker, collecting JSON messages."""
    inbox = _Inbox()
    ready = threading.Event()
    subscriber = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"adt-test-{uuid.uuid4().hex[:6]}")
    subscriber.on_connect = lambda c, *_: c.subscribe(topic, qos=1)
    subscriber.on_subscribe = lambda *_: ready.set()
    subscriber.on_message = lambda _c, _u, m: inbox.append((m.topic, json.loads(m.payload)))
    subscriber.connect(*adt.broker)
    subscriber.loop_start()
    try:
        assert ready.wait(10), "the test subscriber did not subscribe"
        yield inbox
    finally:
        subscriber.loop_stop()
        subscriber.disconnect()
