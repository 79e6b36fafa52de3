"""An edge and a cloud joined by a real Mosquitto: the parts the uplink tests drive.

The edge is an embedded FalkorDB graph with its telemetry store wrapped by the uplink's
``ForwardingTelemetryStore``, its ``SiteChanges`` on the graph's event bus and a
``Forwarder``; the cloud is the session's Neo4j with its own store and an
``UplinkReceiver``. The broker is the test's own Mosquitto, so a test can stop it (the
link is down) and start it again on the same port with its persisted sessions.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from graph.events import EventBus
from graph.model_store import GraphModelStore
from graph.sites import outgoing_relationships, site_snapshot, site_twins
from graph.store import GraphStore
from graph.twins import TwinGraph
from ingest.subscriber import SessionOptions
from ingest.uplink import Forwarder, ForwardingTelemetryStore, SiteChanges, UplinkOptions
from ingest.uplink_downlink import ModelDownlink
from ingest.uplink_queue import UplinkQueue
from ingest.uplink_receiver import UplinkReceiver
from ontology.base import base_models
from ontology.registry import ModelRegistry
from telemetry.memory import MemoryTelemetryStore
from telemetry.points import TelemetryPoint
from telemetry.refs import TelemetryRef
from telemetry.store import TelemetryStore
from tests.servers.process import ServerProcess, launch

SITE = "site-a"
ROOM = "dtmi:kgtwin:space:Room;1"
SENSOR = "dtmi:kgtwin:asset:Sensor;1"
T0_NS = 1_780_000_000 * 1_000_000_000


def wait_for(condition: Callable[[], bool], timeout: float = 60.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.05)


class Broker:
    """The test's Mosquitto, stopped and started again on one port with its persisted state."""

    def __init__(self, workdir: Path, binary: str, config: Path, port: int, process: ServerProcess) -> None:
        self.workdir, self.binary, self.config, self.port = workdir, binary, config, port
        self.process: ServerProcess | None = process

    def stop(self) -> None:
        if self.process is not None:
            self.process.stop()
            self.process = None

    def start(self) -> None:
        if self.process is None:
            self.process = launch("mosquitto", [self.binary, "-c", str(self.config)], self.workdir, self.port)
            self.process.wait_until_listening(timeout=15)


@dataclass
class Edge:
    graph: GraphStore
    twins: TwinGraph
    telemetry: ForwardingTelemetryStore
    queue: UplinkQueue
    forwarder: Forwarder
    changes: SiteChanges
    registry: ModelRegistry
    downlink: ModelDownlink


@dataclass
class Cloud:
    graph: GraphStore
    twins: TwinGraph
    telemetry: MemoryTelemetryStore
    receiver: UplinkReceiver


def build_site(twins: TwinGraph) -> None:
    """site-a > building > room-1, room-2; a sensor in each room; a twin outside the site."""
    twins.put_twin(SITE, "dtmi:kgtwin:space:Site;1", {"name": "Site A"})
    twins.put_twin("bldg-1", "dtmi:kgtwin:space:Building;1", {"name": "Building 1"})
    twins.put_relationship(SITE, "c-b1", "contains", "bldg-1")
    for n in (1, 2):
        twins.put_twin(f"room-{n}", ROOM, {"name": f"Room {n}"})
        twins.put_relationship("bldg-1", f"c-r{n}", "contains", f"room-{n}")
        twins.put_twin(f"sensor-{n}", SENSOR, {"name": f"Sensor {n}"})
        twins.put_relationship(f"sensor-{n}", "in", "locatedIn", f"room-{n}")
    twins.put_twin("elsewhere", ROOM, {"name": "Not in the site"})


def open_edge(
    graph: GraphStore, queue_path: Path, broker_port: int, *, max_bytes: int = 64 * 1024 * 1024
) -> Edge:
    model_store = GraphModelStore(graph)
    registry = ModelRegistry(model_store, version=model_store.version)
    if not registry.models.interfaces:
        registry.upload(base_models())
    bus = EventBus()
    twins = TwinGraph(graph, lambda: registry.models, events=bus)
    queue = UplinkQueue(queue_path, max_bytes=max_bytes)
    changes = SiteChanges(graph, lambda: registry.models, queue, SITE)
    bus.subscribe(changes.on_change)
    options = UplinkOptions(
        host="127.0.0.1", port=broker_port, site=SITE, client_id=f"uplink-{queue_path.parent.name}"
    )

    def snapshot() -> bytes:
        return json.dumps(site_snapshot(graph, registry.models, SITE)).encode("utf-8")

    downlink = ModelDownlink(graph, lambda: registry, queue, SITE)
    forwarder = Forwarder(queue, options, snapshot, before_snapshot=changes.refresh, on_model=downlink.apply)
    telemetry = ForwardingTelemetryStore(MemoryTelemetryStore(), queue)
    return Edge(graph, twins, telemetry, queue, forwarder, changes, registry, downlink)


def open_cloud(graph: GraphStore, broker_port: int, client_id: str) -> Cloud:
    model_store = GraphModelStore(graph)
    registry = ModelRegistry(model_store, version=model_store.version)
    twins = TwinGraph(graph, lambda: registry.models)
    telemetry = MemoryTelemetryStore()
    options = SessionOptions(host="127.0.0.1", port=broker_port, client_id=client_id, filters=())
    receiver = UplinkReceiver(options, twins, telemetry, refresh_models=registry.refresh)
    return Cloud(graph, twins, telemetry, receiver)


def points(twin_id: str, first: int, count: int) -> list[TelemetryPoint]:
    """``count`` readings of a sensor, one a second from ``T0_NS + first`` seconds; value = index."""
    return [
        TelemetryPoint(
            "kgtwin", "Sensor", {"twin_id": twin_id}, {"value": float(first + i)}, T0_NS + (first + i) * 10**9
        )
        for i in range(count)
    ]


def series(store: TelemetryStore, twin_id: str, tags: dict[str, str] | None = None) -> list[tuple[Any, Any]]:
    ref = TelemetryRef("kgtwin", "Sensor", {"twin_id": twin_id, **(tags or {})}, ("value",))
    start = datetime.fromtimestamp(T0_NS / 1e9 - 1, UTC)
    stop = datetime.fromtimestamp(T0_NS / 1e9 + 10**6, UTC)
    return [(s.time, s.value) for s in store.query([ref], "value", start, stop)[0]]


def site_state(graph: GraphStore, twins: TwinGraph) -> tuple[dict[str, Any], dict[Any, Any]]:
    """The site as comparable data: twins by id (model, properties), relationships by (source, id)."""
    found = {t.id: (t.model, t.properties) for t in site_twins(graph, twins.models, SITE)}
    rels = {(r.source, r.id): (r.name, r.target, r.properties) for r in outgoing_relationships(graph, found)}
    return found, rels


def drained(edge: Edge, cloud: Cloud) -> bool:
    """Everything the edge queued was acknowledged and the cloud applied it (up to the last sequence)."""
    if len(edge.queue) or edge.queue.needs_resync():
        return False
    counts = cloud.receiver.counts().get(SITE)
    return counts is not None and counts.high_water >= edge.queue.last_sequence()
