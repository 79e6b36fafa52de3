"""The event router: stored routes choose which change events reach which endpoint's topic.

The routes live in a real graph (both engines); the broker is a small fake of our own
``Broker`` protocol that records what was published (MQTT itself is exercised by the SDK
suite in tests/adt against the embedded broker and Mosquitto).
"""

from __future__ import annotations

import json
import time
from typing import Any

from api.adt import AdtOptions
from api.adt.event_router import EventRouter
from graph.event_routes import EventRoute, EventRouteStore
from graph.events import ChangeEvent, ChangeKind, EventBus
from graph.store import GraphStore


class RecordingBroker:
    """A ``Broker`` that keeps what it is asked to publish."""

    backend = "recording"
    protocol = "test"

    def __init__(self) -> None:
        self.sent: list[tuple[str, dict[str, Any]]] = []

    def ping(self) -> None:
        return None

    def publish(self, topic: str, payload: bytes, qos: int = 1, timeout: float = 10.0) -> None:
        self.sent.append((topic, json.loads(payload)))

    def close(self) -> None:
        return None


def _wait(broker: RecordingBroker, count: int) -> None:
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and len(broker.sent) < count:
        time.sleep(0.02)


def test_each_endpoint_gets_the_events_its_routes_pass(empty_graph: GraphStore) -> None:
    routes = EventRouteStore(empty_graph)
    routes.put(EventRoute("creates", "a", "type = 'Microsoft.DigitalTwins.Twin.Create'"))
    routes.put(
        EventRoute("rooms", "b", "$body.$metadata.$model = 'dtmi:ex:Room;1' OR STARTS_WITH(subject, 'p-')")
    )
    routes.put(EventRoute("off", "b", "false"))
    bus, broker = EventBus(), RecordingBroker()
    options = AdtOptions(endpoints={"a": "plant/a", "b": "plant/b"}, event_source="plant-1")
    router = EventRouter(bus, broker, routes, options)
    router.start()
    try:
        bus.publish(
            ChangeEvent.now(
                ChangeKind.TWIN_CREATED,
                "room-1",
                model="dtmi:ex:Room;1",
                data={"properties": {"name": "Lab"}},
            )
        )
        bus.publish(
            ChangeEvent.now(ChangeKind.TWIN_UPDATED, "p-1", model="dtmi:ex:Pump;1", data={"patch": []})
        )
        bus.publish(ChangeEvent.now(ChangeKind.MODEL_UPLOADED, "dtmi:ex:Room;1", model="dtmi:ex:Room;1"))
        bus.publish(
            ChangeEvent.now(ChangeKind.TWIN_UPDATED, "x-1", model="dtmi:ex:Pump;1", data={"patch": []})
        )
        _wait(broker, 3)
        time.sleep(0.1)
    finally:
        router.stop()
    topics = [topic for topic, _ in broker.sent]
    assert topics == [
        "plant/a/Microsoft.DigitalTwins.Twin.Create/room-1",
        "plant/b/Microsoft.DigitalTwins.Twin.Create/room-1",
        "plant/b/Microsoft.DigitalTwins.Twin.Update/p-1",
    ]
    created = broker.sent[0][1]
    assert (created["source"], created["specversion"]) == ("plant-1", "1.0")
    assert created["data"] == {"$dtId": "room-1", "$metadata": {"$model": "dtmi:ex:Room;1"}, "name": "Lab"}
    assert broker.sent[2][1]["data"] == {"modelId": "dtmi:ex:Pump;1", "patch": []}


def test_a_route_changed_by_this_process_applies_at_once(empty_graph: GraphStore) -> None:
    routes = EventRouteStore(empty_graph)
    bus, broker = EventBus(), RecordingBroker()
    router = EventRouter(bus, broker, routes, AdtOptions(), refresh_s=3600)
    router.start()
    try:
        bus.publish(ChangeEvent.now(ChangeKind.TWIN_DELETED, "t-1", model="dtmi:ex:Room;1"))
        time.sleep(0.2)
        assert broker.sent == []
        routes.put(EventRoute("all", "hub", "true"))
        router.refresh()
        bus.publish(
            ChangeEvent.now(
                ChangeKind.RELATIONSHIP_CREATED,
                "r1",
                model="m",
                data={"name": "feeds", "target": "t-2"},
                source="t-1",
            )
        )
        router.publish({"type": "microsoft.iot.telemetry", "subject": "t-1", "id": "m1"}, {"temperature": 20})
        _wait(broker, 2)
    finally:
        router.stop()
    assert [topic for topic, _ in broker.sent] == [
        "kgtwin/routes/hub/Microsoft.DigitalTwins.Relationship.Create/t-1%2Frelationships%2Fr1",
        "kgtwin/routes/hub/microsoft.iot.telemetry/t-1",
    ]
    assert broker.sent[0][1]["data"]["$targetId"] == "t-2"
