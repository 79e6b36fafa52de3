"""Graph changes reach MQTT subscribers: a real Mosquitto broker and a paho subscriber."""

from __future__ import annotations

import json
import queue
import threading
import time
from collections.abc import Iterator
from typing import Any, ClassVar

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from api.notifications import ChangeNotifier, topic
from graph.events import ChangeEvent, ChangeKind, EventBus
from ingest.broker import MqttBroker
from tests.api.conftest import ROOM, Api

pytestmark = [pytest.mark.mosquitto, pytest.mark.timeout(120)]


def _host_port(url: str) -> tuple[str, int]:
    host, port = url.split("://", 1)[1].rsplit(":", 1)
    return host, int(port)


@pytest.fixture
def received(mqtt_url: str) -> Iterator[queue.Queue[tuple[str, dict[str, Any]]]]:
    """Messages on kgtwin/events/# as (topic, payload), from a paho client subscribed before the test."""
    host, port = _host_port(mqtt_url)
    messages: queue.Queue[tuple[str, dict[str, Any]]] = queue.Queue()
    subscribed = threading.Event()
    client = mqtt.Client(CallbackAPIVersion.VERSION2)
    client.on_message = lambda _c, _u, msg: messages.put((msg.topic, json.loads(msg.payload)))
    client.on_subscribe = lambda *_args: subscribed.set()
    client.on_connect = lambda c, *_args: c.subscribe("kgtwin/events/#", qos=1)
    client.connect(host, port)
    client.loop_start()
    assert subscribed.wait(10), "the test subscriber could not subscribe"
    try:
        yield messages
    finally:
        client.loop_stop()
        client.disconnect()


@pytest.fixture
def notifier(api: Api, mqtt_url: str) -> Iterator[ChangeNotifier]:
    host, port = _host_port(mqtt_url)
    broker = MqttBroker(host, port)
    found = ChangeNotifier(api.bus, broker)
    found.start()
    try:
        yield found
    finally:
        found.stop()
        broker.close()


@pytest.mark.parametrize("api", ["falkordb"], indirect=True)
def test_graph_changes_are_published_under_kind_and_id(
    api: Api, notifier: ChangeNotifier, received: queue.Queue[tuple[str, dict[str, Any]]]
) -> None:
    create = (
        "mutation($id: ID!, $m: String!, $p: JSON) { createTwin(id: $id, model: $m, properties: $p) { id } }"
    )
    api.data(create, {"id": "r1", "m": ROOM, "p": {"area": 4.0}})
    api.data(create, {"id": "r2", "m": ROOM})
    api.data('mutation { createRelationship(source: "r1", target: "r2", name: "contains") { id } }')
    api.data('mutation { deleteTwin(id: "r1", cascade: true) }')
    got = [received.get(timeout=10) for _ in range(5)]
    assert [t for t, _ in got] == [
        "kgtwin/events/twin.created/r1",
        "kgtwin/events/twin.created/r2",
        "kgtwin/events/relationship.created/contains:r2",
        "kgtwin/events/relationship.deleted/contains:r2",
        "kgtwin/events/twin.deleted/r1",
    ]
    created = got[0][1]
    assert created["kind"] == "twin.created"
    assert created["model"] == ROOM
    assert created["data"]["properties"] == {"area": 4.0}
    assert got[2][1]["source"] == "r1"
    # The count moves when the broker's PUBACK reaches the notifier, which can come after
    # the broker already delivered the message to us: wait for it rather than read it once.
    deadline = time.monotonic() + 10
    while notifier.published < 5 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert notifier.published == 5
    assert notifier.failed == notifier.dropped == 0


def test_ids_are_escaped_to_one_topic_level() -> None:
    event = ChangeEvent.now(ChangeKind.TWIN_UPDATED, "a/b+c#d%e")
    assert topic(event) == "kgtwin/events/twin.updated/a%2Fb%2Bc%23d%25e"


def test_a_full_queue_drops_the_oldest_and_never_blocks_the_writer() -> None:
    class Stuck:
        backend, protocol = "mqtt", "5"
        release = threading.Event()
        topics: ClassVar[list[str]] = []

        def ping(self) -> None: ...

        def publish(self, topic: str, payload: bytes, qos: int = 1, timeout: float = 10.0) -> None:
            self.release.wait(10)
            self.topics.append(topic)

        def close(self) -> None: ...

    bus = EventBus()
    broker = Stuck()
    notifier = ChangeNotifier(bus, broker, maxsize=2)
    notifier.start()
    for i in range(6):
        bus.publish(ChangeEvent.now(ChangeKind.TWIN_CREATED, f"t{i}"))
    broker.release.set()
    notifier.stop()
    assert notifier.dropped >= 2
    assert broker.topics[-1] == "kgtwin/events/twin.created/t5"
