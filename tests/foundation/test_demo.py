"""The demo twin that ``make run`` serves: it imports cleanly, twice, and its devices talk valid MQTT."""

from __future__ import annotations

import json
import queue
from pathlib import Path

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion

from graph.falkordb import FalkorGraphStore
from ingest.broker import MqttBroker
from ingest.embedded_broker import EmbeddedBroker
from kgtwin.demo import DemoDevices, DemoTwin, demo_elements, load_demo
from ontology import base_model_set, validator_for
from tests.servers.process import free_port


def test_demo_imports_without_a_refused_line_and_again_without_change(tmp_path: Path) -> None:
    store = FalkorGraphStore(tmp_path)
    try:
        first = load_demo(store)
        assert first.ok, first.issues
        twins = sum(isinstance(e, DemoTwin) for e in demo_elements())
        assert first.twins == twins
        etags = dict(store.query_rows("MATCH (t:Twin) RETURN t.id, t.etag"))
        again = load_demo(store)
        assert again.ok
        assert dict(store.query_rows("MATCH (t:Twin) RETURN t.id, t.etag")) == etags
        rooms = store.query_rows(
            "MATCH (:Site {id: 'site-demo'})-[:contains*]->(r:Twin) WHERE r.id STARTS WITH 'room-' "
            "RETURN count(r)"
        )
        assert rooms[0][0] == 18
        fed = store.query_rows("MATCH (:Twin {id: 'buffer-1'})-[f:feeds]->(m) RETURN m.id ORDER BY m.id")
        assert [row[0] for row in fed] == ["weld-1", "weld-2"]
    finally:
        store.close()


def test_every_demo_device_message_is_valid_for_its_twin_model() -> None:
    models = base_model_set()
    model_of = {e.id: e.model for e in demo_elements() if isinstance(e, DemoTwin)}
    messages = DemoDevices(broker=_NoBroker()).messages(1_764_000_000.0)
    assert {twin for twin, _ in messages} >= {"room-a101", "ahu-1", "press-1"}
    for twin_id, payload in messages:
        values = {k: v for k, v in payload.items() if k != "ts"}
        issues = validator_for(models, model_of[twin_id]).validate_telemetry(values)
        assert issues == [], (twin_id, issues)


def test_demo_devices_publish_to_the_default_topics_over_the_embedded_broker() -> None:
    port = free_port()
    broker = EmbeddedBroker("127.0.0.1", port)
    broker.start()
    received: queue.Queue[mqtt.MQTTMessage] = queue.Queue()
    subscribed: queue.Queue[bool] = queue.Queue()
    listener = mqtt.Client(CallbackAPIVersion.VERSION2, protocol=MQTTProtocolVersion.MQTTv311)
    listener.on_message = lambda _c, _u, message: received.put(message)
    listener.on_subscribe = lambda *_args: subscribed.put(True)
    listener.connect("127.0.0.1", port)
    listener.loop_start()
    client = MqttBroker("127.0.0.1", port)
    try:
        listener.subscribe("kgtwin/twins/+/telemetry", qos=1)
        subscribed.get(timeout=10)
        sent = DemoDevices(client).publish_once()
        topics = {received.get(timeout=10).topic for _ in range(sent)}
        assert "kgtwin/twins/room-a101/telemetry" in topics
        assert len(topics) == sent
    finally:
        client.close()
        listener.disconnect()
        listener.loop_stop()
        broker.stop()


class _NoBroker:
    def publish(self, topic: str, payload: bytes, qos: int = 1, timeout: float = 10.0) -> None:
        raise AssertionError(f"unexpected publish to {topic}: {json.loads(payload)}")
