"""A fuzz of MQTT topics and payloads against ``kgtwin ingest`` on Mosquitto, Neo4j and InfluxDB.

The cloud profile's counterpart of tests/ingest/test_ingest_fuzz.py (the edge profile): the
real Mosquitto test broker, which (unlike the embedded one) drops a client that sends a
topic MQTT forbids, and a separate ``kgtwin ingest`` process resolving twins in Neo4j and
writing to InfluxDB. A payload-key mapping is configured too, so fuzzed twin ids reach
the graph lookup from payloads as well as from topics. After each example a valid reading
of a sentinel twin must be stored in InfluxDB. At the end the process is alive and ready
(``/readyz`` on its health port), its loop never failed, every dead letter is a structured
document, two known-bad batches are lettered with the index of each refused object
(issue 21 §6.8), readings through the mapping are stored, and SIGTERM drains and exits 0.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx
import paho.mqtt.client as mqtt
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from graph.neo4j import Neo4jGraphStore
from ingest.dead_letters import DEADLETTER_TOPIC, Reason
from telemetry.influx import InfluxTelemetryStore
from telemetry.refs import TelemetryRef
from tests.conftest import InfluxTarget
from tests.ingest.fuzzing import (
    ANY_TEXT,
    as_json,
    payloads,
    publishable,
    readings,
    twin_ids,
)
from tests.ingest.helpers import (
    IngestProcess,
    connect,
    ingest_env,
    publish_all,
    seed_sensors,
    stats,
    topic,
    wait_until,
)
from tests.servers.process import free_port

pytestmark = [pytest.mark.neo4j, pytest.mark.mosquitto, pytest.mark.influxdb, pytest.mark.timeout(600)]

PREFIX = uuid.uuid4().hex[:6]
KNOWN = [f"cf-{PREFIX}-{i}" for i in range(3)]
SENTINEL = f"cf-{PREFIX}-sentinel"
GATEWAY = f"cf-{PREFIX}/gw"  # the mapping's topics: the twin id is the payload key "device"
MAPPING = [{"topic": f"{GATEWAY}/#", "twin_id_key": "device", "fields": {"t": "v1"}}]

GATEWAY_READING = readings(st.fixed_dictionaries({"device": twin_ids(KNOWN), "t": st.floats()}))
# Only topics ingest subscribes to: Mosquitto delivers no other (the edge fuzz covers those).
MESSAGES = st.lists(
    st.one_of(
        st.tuples(twin_ids(KNOWN).map(topic).filter(publishable), payloads(readings())),
        st.tuples(
            st.builds(lambda rest: f"{GATEWAY}/{rest}", ANY_TEXT).filter(publishable),
            payloads(GATEWAY_READING),
        ),
    ),
    min_size=1,
    max_size=5,
)
# Every dead letter has these, of these types (docs/ingest.md, Dead letters).
LETTER_KEYS = {"reason": str, "detail": str, "topic": str, "receivedAt": str}
REASONS = {str(reason) for reason in Reason}


class RawLetters:
    """Every payload published to the dead-letter topic, kept as bytes (parsed by the test)."""

    def __init__(self, url: str) -> None:
        self.payloads: list[bytes] = []
        self.client = connect(url)
        self.client.on_message = lambda _c, _u, m: self.payloads.append(bytes(m.payload))
        assert self.client.subscribe(DEADLETTER_TOPIC, qos=1)[0] == mqtt.MQTT_ERR_SUCCESS
        time.sleep(0.3)

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


@dataclass
class Cloud:
    """``kgtwin ingest`` on the session's servers, with its health port and the dead letters."""

    ingest: IngestProcess
    health_port: int
    mqtt_url: str
    store: InfluxTelemetryStore
    letters: RawLetters
    base_ms: int

    def readyz(self) -> httpx.Response:
        return httpx.get(f"http://127.0.0.1:{self.health_port}/readyz", timeout=10)


@pytest.fixture(scope="module")
def cloud(
    tmp_path_factory: pytest.TempPathFactory, mqtt_url: str, neo4j_url: str, influx: InfluxTarget
) -> Iterator[Cloud]:
    graph = Neo4jGraphStore(neo4j_url)
    try:
        seed_sensors(graph, [*KNOWN, SENTINEL])
    finally:
        graph.close()
    workdir = tmp_path_factory.mktemp("cloud-fuzz")
    health_port = free_port()
    env = {
        **ingest_env(
            graph_url=neo4j_url,
            telemetry_url=influx.kgtwin_url,
            mqtt_url=mqtt_url,
            client_id=f"fuzz-{PREFIX}",
            group=f"fuzz-{PREFIX}",
            spool_dir=workdir / "spool",
        ),
        "KGTWIN_HEALTH_PORT": str(health_port),
        "KGTWIN_INGEST_MAPPINGS": json.dumps(MAPPING),
    }
    ingest = IngestProcess(workdir, "ingest", env)
    store = InfluxTelemetryStore(influx.url, influx.token, influx.org, influx.bucket)
    letters = RawLetters(mqtt_url)
    try:
        ingest.wait_started()
        yield Cloud(ingest, health_port, mqtt_url, store, letters, int(time.time() * 1000) - 600_000)
    finally:
        letters.close()
        store.close()
        if ingest.process.poll() is None:
            ingest.kill()


def publish_without_waiting(url: str, messages: list[tuple[str, bytes]]) -> None:
    """Publish at QoS 1 and wait for the PUBACKs, or for the broker to drop the client.

    Mosquitto drops a client that sends a topic MQTT forbids (U+0000, malformed UTF-8);
    the messages after it are never sent, which the stream must survive.
    """
    client = connect(url)
    dropped = threading.Event()
    client.on_disconnect = lambda *_args: dropped.set()
    try:
        infos = [client.publish(t, p, qos=1) for t, p in messages]
        deadline = time.monotonic() + 10
        while not all(info.is_published() for info in infos) and not dropped.is_set():
            assert time.monotonic() < deadline, "the broker neither acknowledged nor dropped the client"
            time.sleep(0.01)
    finally:
        client.disconnect()
        client.loop_stop()


class Sentinel:
    """Valid readings of a known twin, one more each time, that must all reach InfluxDB."""

    def __init__(self, cloud: Cloud) -> None:
        self.cloud = cloud
        self.sent = 0
        self.client = connect(cloud.mqtt_url)

    def flows(self) -> None:
        self.sent += 1
        sent, base_ms = self.sent, self.cloud.base_ms
        publish_all(self.client, [(topic(SENTINEL), as_json({"v3": float(sent), "ts": base_ms + sent}))])

        def stored() -> bool:
            return points_of(self.cloud, SENTINEL, "v3") == sent

        wait_until(stored, 30, f"the sentinel's reading {sent} in InfluxDB after the fuzzed messages")

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def structured(raw: bytes) -> dict[str, Any]:
    """A dead letter parsed, with every field a device relies on checked."""
    letter = json.loads(raw)
    assert isinstance(letter, dict), raw
    for key, kind in LETTER_KEYS.items():
        assert isinstance(letter.get(key), kind), (key, letter)
    assert letter["reason"] in REASONS, letter
    assert ("payload" in letter) != ("payloadBase64" in letter), letter
    if "path" in letter:
        assert letter["path"].startswith("/"), letter
    return letter


def test_fuzzed_topics_and_payloads_never_stop_kgtwin_ingest(cloud: Cloud) -> None:
    sentinel = Sentinel(cloud)
    examples = 0

    @settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck), database=None)
    @given(MESSAGES)
    def stream_flows_after(messages: list[tuple[str, bytes]]) -> None:
        nonlocal examples
        examples += 1
        publish_without_waiting(cloud.mqtt_url, messages)
        sentinel.flows()

    try:
        sentinel.flows()
        stream_flows_after()
        # Through the mapping too (the twin id from the payload, a key renamed), and two
        # known-bad batches whose letters must name the objects that failed.
        publish_all(
            sentinel.client,
            [
                (f"{GATEWAY}/site", as_json({"device": SENTINEL, "t": 7.5, "ts": cloud.base_ms})),
                (topic(KNOWN[0]), as_json([{"v0": 1.0}, {"v0": "hot"}])),
                (f"{GATEWAY}/site", as_json([{"device": SENTINEL, "t": 1.0}, {"device": "ghost", "t": 2.0}])),
            ],
        )
    finally:
        sentinel.close()
    assert examples >= 40
    wait_until(lambda: points_of(cloud, SENTINEL, "v1") == 2, 30, "the readings sent through the mapping")

    def lettered(path: str) -> bool:
        return any(json.loads(raw).get("path") == path for raw in list(cloud.letters.payloads))

    wait_until(lambda: lettered("/1/v0") and lettered("/1/device"), 30, "the known-bad batches' letters")
    assert cloud.ingest.process.poll() is None, cloud.ingest.text()[-4000:]
    assert cloud.readyz().status_code == 200, cloud.readyz().text
    events = [record.get("event") for record in stats(cloud.ingest.text())]
    assert "ingest.loop_failed" not in events
    assert "ingest.loop_error" not in events
    letters = [structured(raw) for raw in list(cloud.letters.payloads)]
    named = {(letter["reason"], letter.get("path")) for letter in letters if letter.get("twinId") != SENTINEL}
    assert {("WRONG_TYPE", "/1/v0"), ("UNKNOWN_TWIN", "/1/device")} <= named
    assert cloud.ingest.terminate() == 0  # SIGTERM drains and exits 0


def points_of(cloud: Cloud, twin_id: str, field: str) -> int:
    """How many points of ``field`` the twin has in InfluxDB from the base time on."""
    ref = TelemetryRef("telemetry", "Sensor", {"twin_id": twin_id})
    start = datetime.fromtimestamp(cloud.base_ms / 1000 - 1, tz=UTC)
    stop = datetime.fromtimestamp(time.time() + 1, tz=UTC)
    [samples] = cloud.store.query([ref], field, start, stop)
    return len(samples)
