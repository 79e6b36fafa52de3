"""The ingest service in-process against the real Mosquitto, embedded FalkorDB and DuckDB."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from fastapi.testclient import TestClient
from paho.mqtt.enums import CallbackAPIVersion

from api import ApiContext, create_app
from graph.model_store import GraphModelStore
from graph.telemetry import TwinTarget, telemetry_targets
from graph.twins import TwinGraph
from ingest.dead_letters import DEADLETTER_TOPIC
from ingest.embedded_broker import EmbeddedBroker
from ingest.service import IngestService
from ingest.targets import TwinTargets
from kgtwin.backends import Backends, open_backends
from kgtwin.settings import Settings, load_settings
from kgtwin.wiring import build_ingest
from ontology import ModelSet
from ontology.errors import BadRequest
from ontology.registry import ModelRegistry
from tests.ingest.helpers import (
    FIELDS,
    Collector,
    connect,
    publish_all,
    reading,
    seed_sensors,
    topic,
    wait_until,
)
from tests.servers.process import free_port


@dataclass
class Twin:
    """The module's backends and the sensor twins in their graph."""

    backends: Backends
    models: ModelSet
    data: Path
    mqtt_url: str

    def settings(self, **overrides: object) -> Settings:
        values: dict[str, object] = {
            "graph_url": f"falkordb:///{self.data}/graph",
            "telemetry_url": f"duckdb:///{self.data}/telemetry.duckdb",
            "broker_url": self.mqtt_url,
            "ingest_client_id": f"test-{uuid.uuid4().hex[:8]}",
            # Each test's session is its own group: a stopped session keeps its share of a
            # group's stream, and expires soon so the shared test broker does not hoard copies.
            "ingest_shared_group": f"test-{uuid.uuid4().hex[:8]}",
            "ingest_session_expiry_s": 10,
            "ingest_spool_dir": str(self.data / "spool"),
            "ingest_latest_interval_s": 0.2,
        }
        return load_settings(**{**values, **overrides})


SENSORS = [f"s-{i}" for i in range(5)]
pytestmark = pytest.mark.mosquitto


@pytest.fixture(scope="module")
def twin(tmp_path_factory: pytest.TempPathFactory, mqtt_url: str) -> Iterator[Twin]:
    data = tmp_path_factory.mktemp("ingest-service")
    probe = Twin(Backends(), ModelSet({}), data, mqtt_url)
    backends = open_backends(probe.settings(), ("graph", "telemetry", "broker"))
    assert backends.graph is not None
    try:
        models = seed_sensors(backends.graph, SENSORS)
        yield Twin(backends, models, data, mqtt_url)
    finally:
        backends.close()


@pytest.fixture
def service(twin: Twin) -> Iterator[IngestService]:
    running = build_ingest(twin.settings(), twin.backends)
    running.start()
    yield running
    running.stop()


def test_ingest_caches_the_twins_before_its_first_message(twin: Twin) -> None:
    warm = build_ingest(twin.settings(), twin.backends)
    cold = build_ingest(twin.settings(ingest_warm_twins=0), twin.backends)
    warm.start()
    cold.start()
    try:
        assert set(warm.pipeline.targets.targets(SENSORS)) == set(SENSORS)
        assert warm.pipeline.targets.lookups == 0
        assert set(cold.pipeline.targets.targets(SENSORS)) == set(SENSORS)
        assert cold.pipeline.targets.lookups == 1
    finally:
        warm.stop()
        cold.stop()


def test_valid_telemetry_is_stored_cached_and_copied_onto_the_twin_node(
    twin: Twin, service: IngestService
) -> None:
    graph = twin.backends.graph
    assert graph is not None
    etag_before = TwinGraph(graph, twin.models).get_twin("s-1").etag
    base_ms = int(time.time() * 1000) - 60_000
    publisher = connect(twin.mqtt_url)
    try:
        published = publish_all(
            publisher, [(topic(s), reading(i, base_ms + i)) for i in range(20) for s in SENSORS[:3]]
        )
        # The batch form: two readings of s-3 in one message.
        both = json.dumps([{"v0": 1.0, "ts": base_ms}, {"v0": 2.0, "state": "run", "ts": base_ms + 1}])
        published += publish_all(publisher, [(topic("s-3"), both.encode())])
    finally:
        publisher.disconnect()
    wait_until(lambda: service.stats.messages >= published, 30, "every message taken")
    assert service.stats.points == 62
    assert service.stats.values == 20 * 3 * len(FIELDS) + 3

    ref = TwinGraph(graph, twin.models).get_twin("s-1").telemetry
    start = datetime.fromtimestamp(base_ms / 1000 - 1, tz=UTC)
    stop = datetime.fromtimestamp(base_ms / 1000 + 1, tz=UTC)
    store = twin.backends.telemetry
    assert store is not None
    [samples] = store.query([ref], "v9", start, stop)
    assert [s.value for s in samples] == [float(i) for i in range(20)]

    latest = service.latest.get("s-1")
    assert latest["v0"].value == 19.0
    assert latest["v0"].time_ns == (base_ms + 19) * 1_000_000
    assert service.latest.get("s-3")["state"].value == "run"

    def on_node() -> bool:
        rows = graph.query_rows("MATCH (t:Twin {id: 's-1'}) RETURN t.`_latest.v0`, t.`_latestAt.v0`, t.etag")
        return bool(rows[0][0] == 19.0)

    wait_until(on_node, 10, "latest values on the twin node")
    [[_, at, etag]] = graph.query_rows(
        "MATCH (t:Twin {id: 's-1'}) RETURN t.`_latest.v0`, t.`_latestAt.v0`, t.etag"
    )
    assert (
        at
        == datetime.fromtimestamp((base_ms + 19) / 1000, tz=UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
    )
    assert etag == etag_before  # telemetry is not an edit of the twin
    # Analysts filter on current state in Cypher:
    hot = graph.query_rows("MATCH (t:Twin) WHERE t.`_latest.v0` >= 19.0 RETURN t.id ORDER BY t.id")
    assert [r[0] for r in hot] == ["s-0", "s-1", "s-2"]


def test_invalid_messages_become_dead_letters_and_the_stream_goes_on(
    twin: Twin, service: IngestService
) -> None:
    letters = Collector(twin.mqtt_url, DEADLETTER_TOPIC)
    publisher = connect(twin.mqtt_url)
    now_ms = int(time.time() * 1000)
    try:
        publish_all(
            publisher,
            [
                (topic("s-4"), b"{not json"),
                (topic("ghost"), reading(1, now_ms)),
                (topic("s-4"), b'{"v0": 1.0, "pressure": 3}'),
                (topic("s-4"), b'{"v0": "hot"}'),
                (topic("s-4"), b'{"v0": 1.0, "ts": "noon"}'),
                (topic("s-4"), b'{"v0": [' + b"1.0," * 100_000 + b"1.0]}"),
                (topic("s-4"), reading(7, now_ms)),
            ],
        )
        found = letters.wait_for(6)
    finally:
        publisher.disconnect()
        letters.close()
    reasons = sorted(letter["reason"] for letter in found)
    assert reasons == sorted(
        ["BAD_JSON", "UNKNOWN_TWIN", "UNKNOWN_FIELD", "WRONG_TYPE", "BAD_TIMESTAMP", "OVERSIZED"]
    )
    unknown = next(letter for letter in found if letter["reason"] == "UNKNOWN_FIELD")
    assert unknown["twinId"] == "s-4"
    assert unknown["path"] == "/pressure"
    assert unknown["topic"] == topic("s-4")
    assert json.loads(unknown["payload"]) == {"v0": 1.0, "pressure": 3}
    wait_until(lambda: "v0" in service.latest.get("s-4"), 10, "the valid message after the bad ones")
    assert service.latest.get("s-4")["v0"].value == 7.0
    # Counted once acknowledged (after the dead letters' own PUBACKs):
    wait_until(lambda: sum(service.stats.rejected.values()) == 6, 10, "six rejections counted")


# A model the checks take but the stores refuse: "time" is a valid DTDL name, and a column
# InfluxDB reserves (telemetry/checks.py), so its points are refused by every store.
CLOCK = "dtmi:ex:ingest:Clock;1"
CLOCK_DOC = {
    "@context": "dtmi:dtdl:context;3",
    "@id": CLOCK,
    "@type": "Interface",
    "contents": [
        {"@type": "Telemetry", "name": "v0", "schema": "double"},
        {"@type": "Telemetry", "name": "time", "schema": "double"},
    ],
}


def test_dead_letters_of_a_batch_name_the_object_that_failed(twin: Twin, service: IngestService) -> None:
    """Issue 21 §6.8: each refused object of a JSON array is named by its index, store refusals too."""
    graph = twin.backends.graph
    assert graph is not None
    registry = ModelRegistry(GraphModelStore(graph))
    if registry.models.get(CLOCK) is None:
        registry.upload([CLOCK_DOC])
    clock = f"clock-{uuid.uuid4().hex[:6]}"
    TwinGraph(graph, registry.models).put_twin(clock, CLOCK, {})
    now_ms = int(time.time() * 1000)
    batch = [
        {"v0": 1.0, "ts": now_ms},
        {"v0": "hot"},
        {"time": 2.0, "ts": now_ms + 1},
        {"v0": 3.0, "ts": "noon"},
        {"v0": 4.0, "ts": now_ms + 2},
    ]
    letters = Collector(twin.mqtt_url, DEADLETTER_TOPIC)
    publisher = connect(twin.mqtt_url)
    try:
        publish_all(publisher, [(topic(clock), json.dumps(batch).encode())])
        found = letters.wait_for(3)
    finally:
        publisher.disconnect()
        letters.close()
    named = sorted((letter["path"], letter["reason"]) for letter in found)
    assert named == [("/1/v0", "WRONG_TYPE"), ("/2", "STORE_REFUSED"), ("/3/ts", "BAD_TIMESTAMP")]
    refused = next(letter for letter in found if letter["reason"] == "STORE_REFUSED")
    assert refused["twinId"] == clock
    assert "reserved" in refused["detail"]
    assert all(json.loads(letter["payload"]) == batch for letter in found)
    # The objects nobody refused are stored, the last one included.
    wait_until(lambda: "v0" in service.latest.get(clock), 10, "the good objects of the batch")
    assert service.latest.get(clock)["v0"].value == 4.0
    assert "time" not in service.latest.get(clock)


def test_the_embedded_broker_acknowledges_ingest_topics_only_once_durable(twin: Twin) -> None:
    """In-process, the broker hands telemetry to ingest and sends PUBACK only once it is stored."""
    port = free_port()
    broker = EmbeddedBroker("127.0.0.1", port)
    broker.start()
    publisher = mqtt.Client(CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv311)
    try:
        # Built, so the intake is claimed; not started, so nothing is stored yet.
        running = build_ingest(twin.settings(broker_url=f"embedded://127.0.0.1:{port}"), twin.backends)
        assert running.subscriber.protocol == "in-process"
        assert running.subscriber.subscriptions == ["kgtwin/twins/+/telemetry"]
        publisher.connect("127.0.0.1", port)
        publisher.loop_start()
        now_ms = int(time.time() * 1000)
        first = publisher.publish(topic("s-0"), reading(0, now_ms), qos=1)
        other = publisher.publish("plant/not-telemetry", b"{}", qos=1)  # not ingest's: at once
        other.wait_for_publish(10)
        assert other.is_published()
        first.wait_for_publish(1.0)
        assert not first.is_published(), "acknowledged before ingest took it"
        running.start()
        try:
            first.wait_for_publish(30)
            assert first.is_published()
            assert running.latest.get("s-0")["v0"].value == 0.0  # stored before the PUBACK
            publish_all(publisher, [(topic("s-1"), reading(i, now_ms + i)) for i in range(1, 51)])
            publisher.disconnect()  # at once: every PUBACK already meant stored
            assert running.latest.get("s-1")["v3"].value == 50.0
        finally:
            running.stop()
    finally:
        publisher.loop_stop()
        broker.stop()


def test_a_message_that_fails_on_its_own_is_a_dead_letter_and_the_loop_goes_on(twin: Twin) -> None:
    """A batch that raises is taken apart: the failing message is lettered, the rest stored."""
    graph = twin.backends.graph
    assert graph is not None
    running = build_ingest(twin.settings(), twin.backends)

    def resolve(ids: Sequence[str]) -> Mapping[str, TwinTarget]:
        if "boom" in ids:  # what an engine refusing one id looked like (issue 21 §6.1)
            raise BadRequest("Cypher query failed: Failed to parse query parameter 'ids' value")
        return telemetry_targets(graph, ids)

    running.pipeline.targets = TwinTargets(resolve)
    running.start()
    letters = Collector(twin.mqtt_url, DEADLETTER_TOPIC)
    publisher = connect(twin.mqtt_url)
    now_ms = int(time.time() * 1000)
    try:
        publish_all(publisher, [(topic("boom"), reading(1, now_ms)), (topic("s-2"), reading(5, now_ms))])
        [letter] = letters.wait_for(1)
        assert (letter["reason"], letter["topic"]) == ("UNPROCESSABLE", topic("boom"))
        assert "Failed to parse query parameter" in letter["detail"]
        wait_until(lambda: running.latest.get("s-2").get("v0") is not None, 10, "the good message")
        publish_all(publisher, [(topic("s-2"), reading(6, now_ms + 1))])
        wait_until(lambda: running.latest.get("s-2")["v0"].value == 6.0, 10, "a later message")
        assert running.health() is None
    finally:
        publisher.disconnect()
        letters.close()
        running.stop()


def test_a_loop_that_keeps_failing_turns_readyz_unready_and_ready_again(
    twin: Twin, monkeypatch: pytest.MonkeyPatch
) -> None:
    running = build_ingest(twin.settings(), twin.backends)
    running.config = replace(running.config, unhealthy_after_s=0.5)
    running.start()
    client = TestClient(create_app(ApiContext(version="test", ingest_health=running.health)))
    try:
        assert client.get("/readyz").status_code == 200
        poll = running.subscriber.poll

        def broken(timeout: float, max_messages: int = 256) -> None:
            raise RuntimeError("the session is broken")

        monkeypatch.setattr(running.subscriber, "poll", broken)
        wait_until(lambda: client.get("/readyz").status_code == 503, 10, "/readyz to say not ready")
        [check] = client.get("/readyz").json()["backends"]
        assert check["port"] == "ingest"
        assert check["ok"] is False
        assert "the session is broken" in check["error"]
        monkeypatch.setattr(running.subscriber, "poll", poll)
        wait_until(lambda: client.get("/readyz").status_code == 200, 10, "/readyz to be ready again")
    finally:
        running.stop()
