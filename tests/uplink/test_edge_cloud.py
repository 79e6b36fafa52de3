"""An edge site forwarded to a cloud twin over a real Mosquitto: equal in steady state, every point
exactly once across a cut link, overflow counted and repaired by a resync, replays stored once.

The edge graph is an embedded FalkorDB, the cloud graph the session's Neo4j; the link is
cut by stopping the test's own broker (its sessions persisted) and starting it again.
"""

from __future__ import annotations

import getpass
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api import create_app
from api.context import twin_context
from api.notifications import ChangeNotifier
from graph.events import ChangeEvent, ChangeKind, EventBus
from graph.falkordb import FalkorGraphStore
from graph.model_store import GraphModelStore
from graph.neo4j import Neo4jGraphStore
from graph.sites import SiteOwnership
from ingest.broker import MqttBroker
from ingest.uplink_messages import uplink_topic
from ingest.uplink_queue import MessageKind
from ontology.errors import Conflict
from ontology.registry import ModelRegistry
from tests.conftest import unavailable
from tests.servers.mosquitto_server import CONFIG, mosquitto_binary
from tests.servers.process import ServerUnavailable, free_port, launch
from tests.uplink.harness import (
    SITE,
    Broker,
    Cloud,
    Edge,
    build_site,
    drained,
    open_cloud,
    open_edge,
    points,
    series,
    site_state,
    wait_for,
)

pytestmark = [pytest.mark.neo4j, pytest.mark.mosquitto]


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[Broker]:
    try:
        binary = mosquitto_binary()
    except ServerUnavailable as exc:
        unavailable(str(exc))
    workdir = tmp_path / "mosquitto"
    (workdir / "data").mkdir(parents=True)
    port = free_port()
    config = workdir / "mosquitto.conf"
    config.write_text(CONFIG.format(port=port, data=workdir / "data", user=getpass.getuser()))
    process = launch("mosquitto", [binary, "-c", str(config)], workdir, port)
    process.wait_until_listening(timeout=15)
    found = Broker(workdir, binary, config, port, process)
    yield found
    found.stop()


@pytest.fixture
def pair(
    tmp_path: Path, broker: Broker, falkordb_store: FalkorGraphStore, neo4j_store: Neo4jGraphStore
) -> Iterator[tuple[Edge, Cloud]]:
    for store in (falkordb_store, neo4j_store):
        store.write("MATCH (n) DETACH DELETE n")
    cloud = open_cloud(neo4j_store, broker.port, f"receiver-{tmp_path.name}")
    cloud.receiver.start()  # its persistent session exists before the edge sends anything
    edge = open_edge(falkordb_store, tmp_path / "edge" / "uplink.sqlite3", broker.port)
    build_site(edge.twins)
    yield edge, cloud
    edge.forwarder.stop()
    cloud.receiver.stop()
    edge.queue.close()
    for store in (falkordb_store, neo4j_store):
        store.write("MATCH (n) DETACH DELETE n")


def _equal(edge: Edge, cloud: Cloud) -> None:
    assert site_state(cloud.graph, cloud.twins) == site_state(edge.graph, edge.twins)


def test_steady_state_the_cloud_site_equals_the_edge_site(pair: tuple[Edge, Cloud]) -> None:
    edge, cloud = pair
    edge.forwarder.start()
    wait_for(lambda: drained(edge, cloud), what="the first snapshot")
    _equal(edge, cloud)
    # Changes after the snapshot travel one by one: patch, a twin joining, a delete.
    edge.twins.patch_twin("room-1", [{"op": "replace", "path": "/name", "value": "Boiler room"}])
    edge.twins.put_twin("sensor-3", "dtmi:kgtwin:asset:Sensor;1", {"name": "Sensor 3"})
    edge.twins.put_relationship("sensor-3", "in", "locatedIn", "room-2")
    edge.twins.delete_twin("sensor-1", cascade=True)
    edge.twins.patch_twin("elsewhere", [{"op": "replace", "path": "/name", "value": "still not"}])
    edge.telemetry.write(points("sensor-2", 0, 50))
    wait_for(lambda: drained(edge, cloud), what="the changes")
    _equal(edge, cloud)
    assert cloud.twins.get_twin("room-1").properties["name"] == "Boiler room"
    assert "sensor-3" in site_state(cloud.graph, cloud.twins)[0]
    assert not cloud.graph.query_rows("MATCH (t:Twin {id: 'elsewhere'}) RETURN t.id")  # not the site's
    assert series(cloud.telemetry, "sensor-2", {"site": SITE}) == series(edge.telemetry.inner, "sensor-2")
    assert len(series(cloud.telemetry, "sensor-2")) == 50


def test_a_cut_link_loses_nothing_and_stores_every_point_once(
    pair: tuple[Edge, Cloud], broker: Broker
) -> None:
    edge, cloud = pair
    edge.forwarder.start()
    wait_for(lambda: drained(edge, cloud), what="the first snapshot")
    broker.stop()
    wait_for(lambda: not edge.forwarder.connected, what="the edge to see the cut")
    for batch in range(40):
        edge.telemetry.write(points("sensor-1", batch * 25, 25))
        edge.telemetry.write(points("sensor-2", batch * 25, 25))
        if batch % 10 == 0:
            edge.twins.patch_twin("room-2", [{"op": "replace", "path": "/name", "value": f"Room 2 v{batch}"}])
    assert len(edge.queue) >= 80  # waiting on disk while the link is down
    broker.start()
    wait_for(lambda: drained(edge, cloud), what="the backlog to reach the cloud")
    _equal(edge, cloud)
    for sensor in ("sensor-1", "sensor-2"):
        assert series(cloud.telemetry, sensor, {"site": SITE}) == series(edge.telemetry.inner, sensor)
    counts = cloud.receiver.counts()[SITE]
    assert counts.points == 2 * 40 * 25  # each point applied once: none twice, none lost
    assert cloud.twins.get_twin("room-2").properties["name"] == "Room 2 v30"


def test_overflow_drops_telemetry_counted_and_a_resync_makes_the_graph_equal(
    tmp_path: Path, broker: Broker, falkordb_store: FalkorGraphStore, neo4j_store: Neo4jGraphStore
) -> None:
    for store in (falkordb_store, neo4j_store):
        store.write("MATCH (n) DETACH DELETE n")
    cloud = open_cloud(neo4j_store, broker.port, f"receiver-{tmp_path.name}")
    cloud.receiver.start()
    edge = open_edge(falkordb_store, tmp_path / "edge" / "uplink.sqlite3", broker.port, max_bytes=32 * 1024)
    try:
        build_site(edge.twins)
        edge.forwarder.start()
        wait_for(lambda: drained(edge, cloud), what="the first snapshot")
        broker.stop()
        wait_for(lambda: not edge.forwarder.connected, what="the edge to see the cut")
        for n in range(250):
            edge.twins.patch_twin("room-1", [{"op": "replace", "path": "/name", "value": f"name {n:04d}"}])
        edge.twins.delete_twin("sensor-2", cascade=True)
        assert edge.queue.needs_resync()  # the changes alone passed the bound
        for batch in range(60):
            edge.telemetry.write(points("sensor-1", batch * 50, 50))
        assert edge.queue.dropped_points > 0  # telemetry gave way, oldest first
        assert edge.queue.waiting_bytes <= 32 * 1024
        broker.start()
        wait_for(lambda: drained(edge, cloud), what="the resync")
        _equal(edge, cloud)
        assert cloud.twins.get_twin("room-1").properties["name"] == "name 0249"
        kept = series(cloud.telemetry, "sensor-1", {"site": SITE})
        assert len(kept) == 60 * 50 - edge.queue.dropped_points
        assert kept
        assert kept == series(edge.telemetry.inner, "sensor-1")[-len(kept) :]  # the newest ones
    finally:
        edge.forwarder.stop()
        cloud.receiver.stop()
        edge.queue.close()


def test_a_replayed_message_is_stored_once(pair: tuple[Edge, Cloud], broker: Broker) -> None:
    edge, cloud = pair
    edge.forwarder.start()
    edge.telemetry.write(points("sensor-1", 0, 10))
    wait_for(lambda: drained(edge, cloud), what="the first messages")
    counts = cloud.receiver.counts()[SITE]
    applied, duplicates = counts.applied, counts.duplicates
    # The same message again, as a reconnect would send it: the same site and sequence.
    replay = (
        b'{"id":"site-a:2","site":"site-a","seq":2,"kind":"telemetry","body":'
        b'[["kgtwin","Sensor",{"twin_id":"sensor-1"},{"value":99.0},1780000000000000000]]}'
    )
    client = MqttBroker("127.0.0.1", broker.port)
    try:
        client.publish(uplink_topic(SITE, MessageKind.TELEMETRY), replay)
    finally:
        client.close()
    wait_for(lambda: cloud.receiver.counts()[SITE].duplicates == duplicates + 1, what="the replay")
    assert cloud.receiver.counts()[SITE].applied == applied
    assert series(cloud.telemetry, "sensor-1")[0][1] == 0.0  # not overwritten by the replay's 99


def test_the_cloud_api_refuses_changes_to_a_site_twin_naming_the_site(pair: tuple[Edge, Cloud]) -> None:
    edge, cloud = pair
    edge.forwarder.start()
    wait_for(lambda: drained(edge, cloud), what="the first snapshot")
    context = twin_context("test", cloud.graph, guard=SiteOwnership(cloud.graph).check_writable)
    with TestClient(create_app(context)) as http:

        def gql(query: str) -> dict[str, Any]:
            answer: dict[str, Any] = http.post("/graphql", json={"query": query}).json()
            return answer

        refused = gql(
            'mutation { updateTwin(id: "room-1", '
            'patch: [{op: "replace", path: "/name", value: "x"}]) { etag } }'
        )
        error = refused["errors"][0]
        assert error["extensions"]["code"] == "FORBIDDEN"
        assert "site-a" in error["message"]
        assert cloud.twins.get_twin("room-1").properties["name"] == "Room 1"
        # A twin of the cloud's own may be made, but not put inside the site.
        made = gql(
            'mutation { createTwin(id: "cloud-only", '
            'model: "dtmi:kgtwin:asset:Sensor;1", properties: {}) { id } }'
        )
        assert made["data"]["createTwin"]["id"] == "cloud-only"
        linked = gql(
            'mutation { createRelationship(source: "cloud-only", '
            'target: "room-1", name: "locatedIn", id: "in") { id } }'
        )
        assert linked["errors"][0]["extensions"]["code"] == "FORBIDDEN"
        assert gql('mutation { deleteTwin(id: "sensor-2", cascade: true) }')["errors"][0]["extensions"][
            "code"
        ] == ("FORBIDDEN")


def _model(dtmi: str) -> dict[str, Any]:
    return {
        "@context": "dtmi:dtdl:context;3",
        "@id": dtmi,
        "@type": "Interface",
        "contents": [{"@type": "Property", "name": "setpoint", "schema": "double"}],
    }


@pytest.fixture
def cloud_bus(broker: Broker) -> Iterator[EventBus]:
    """The cloud's change events, published on the broker as the cloud's API publishes them."""
    bus = EventBus()
    notifier = ChangeNotifier(bus, MqttBroker("127.0.0.1", broker.port))
    notifier.start()
    yield bus
    notifier.stop()


def _refusals(cloud: Cloud) -> list[dict[str, Any]]:
    counts = cloud.receiver.counts().get(SITE)
    return counts.last_refusals if counts is not None else []


def test_a_model_published_in_the_cloud_reaches_the_edge_and_a_conflicting_one_is_refused(
    pair: tuple[Edge, Cloud], cloud_bus: EventBus
) -> None:
    edge, cloud = pair
    edge.forwarder.start()
    wait_for(lambda: drained(edge, cloud), what="the first snapshot")
    chiller = "dtmi:example:uplink:Chiller;1"
    site_model = "dtmi:kgtwin:space:Site;1"
    clash = {**_model(chiller), "@id": site_model}  # a model the edge holds, with another meaning
    cloud_models = GraphModelStore(cloud.graph, events=cloud_bus)
    ModelRegistry(cloud_models).upload([_model(chiller)])
    edge_models = GraphModelStore(edge.graph)
    wait_for(lambda: edge_models.get(chiller) is not None, what="the model at the edge")
    # A modeler's document under a DTMI the edge holds with another document: refused there,
    # and the refusal reported back to the cloud.
    cloud_bus.publish(ChangeEvent.now(ChangeKind.MODEL_UPLOADED, site_model, data={"document": clash}))
    wait_for(lambda: bool(_refusals(cloud)), what="the refusal in the cloud")
    refusal = _refusals(cloud)[0]
    assert (refusal["change"], refusal["dtmi"], refusal["code"]) == (
        "model.uploaded",
        site_model,
        "MODEL_CONFLICT",
    )
    assert cloud.receiver.counts()[SITE].refusals == 1
    kept = edge_models.get(site_model)
    assert kept is not None
    assert kept.document != clash


def test_decommissions_and_deletes_reach_the_edge_and_a_delete_its_twins_forbid_is_reported(
    pair: tuple[Edge, Cloud], cloud_bus: EventBus
) -> None:
    edge, cloud = pair
    edge.forwarder.start()
    wait_for(lambda: drained(edge, cloud), what="the first snapshot")
    spare, used = "dtmi:example:uplink:Spare;1", "dtmi:example:uplink:Pump;1"
    cloud_models = GraphModelStore(cloud.graph, events=cloud_bus)
    cloud_registry = ModelRegistry(cloud_models)
    cloud_registry.upload([_model(spare), _model(used)])
    edge_models = GraphModelStore(edge.graph)
    wait_for(
        lambda: edge_models.get(spare) is not None and edge_models.get(used) is not None, what="the models"
    )
    # Decommissioned in the cloud: no new twin of it at the edge either.
    cloud_registry.decommission(spare)
    wait_for(lambda: edge.registry.resolve(spare).decommissioned, what="the decommission at the edge")
    with pytest.raises(Conflict, match="decommissioned"):
        edge.registry.ensure_instantiable(spare)
    # Deleted in the cloud, where no twin uses it: gone at the edge too.
    cloud_registry.delete(spare, twin_count=cloud_models.twin_count)
    wait_for(lambda: edge_models.get(spare) is None, what="the delete at the edge")
    # A pump at the edge outside the site (the cloud has no twin of it): the cloud may delete
    # the model, the edge refuses, keeps it, and the cloud hears why.
    edge.twins.put_twin("pump-outside", used, {"setpoint": 3.5})
    cloud_registry.delete(used, twin_count=cloud_models.twin_count)
    wait_for(lambda: bool(_refusals(cloud)), what="the refusal in the cloud")
    refusal = _refusals(cloud)[0]
    assert (refusal["change"], refusal["dtmi"], refusal["code"]) == ("model.deleted", used, "CONFLICT")
    assert refusal["details"]["reason"] == "TWINS_EXIST"
    assert "used by 1 twin" in refusal["reason"]
    assert edge_models.get(used) is not None
    assert edge.downlink.refused == 1
    assert edge.downlink.applied >= 4  # two uploads, the decommission, the delete
