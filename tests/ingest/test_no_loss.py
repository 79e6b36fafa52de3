"""No data loss with real processes: SIGKILL of ``kgtwin ingest`` and an InfluxDB restart mid-stream.

Bursts are far larger than Mosquitto's default queue of 1,000 messages per client (the
test broker, like the compose stack, lifts it). Every message carries ``ts``, so a
message redelivered after a crash rewrites the same point: a query sees each once.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from graph.neo4j import Neo4jGraphStore
from ingest.dead_letters import DEADLETTER_TOPIC
from telemetry.duckdb import DuckDbTelemetryStore
from telemetry.influx import InfluxTelemetryStore
from tests.ingest.helpers import (
    Collector,
    IngestProcess,
    Publisher,
    connect,
    count_points,
    ingest_env,
    publish_all,
    reading,
    restart_influxdb,
    seed_sensors,
    stats,
    topic,
    wait_until,
)
from tests.servers.influxdb_server import InfluxServer, start_influxdb
from tests.servers.process import ServerUnavailable

pytestmark = [pytest.mark.neo4j, pytest.mark.mosquitto, pytest.mark.timeout(600)]

MESSAGES = 20_000


@pytest.fixture
def sensors(neo4j_url: str) -> Iterator[list[str]]:
    """Twenty sensor twins with ids no other test uses, in the session's Neo4j."""
    prefix = uuid.uuid4().hex[:6]
    ids = [f"nl-{prefix}-{i}" for i in range(20)]
    store = Neo4jGraphStore(neo4j_url)
    try:
        seed_sensors(store, ids)
        yield ids
    finally:
        store.close()


def finish(mqtt_url: str, letters: Collector, base_ms: int) -> None:
    """Publish a sentinel to an unknown twin and wait for its dead letter.

    The writer handles batches in order, so once the sentinel's dead letter is out,
    every message received before it is durable.
    """
    sentinel = f"sentinel-{uuid.uuid4().hex[:6]}"
    client = connect(mqtt_url)
    publish_all(client, [(topic(sentinel), reading(0, base_ms))])
    client.disconnect()
    wait_until(lambda: any(p.get("twinId") == sentinel for p in letters.payloads), 300, "the sentinel")


@dataclass
class Stream:
    """An ingest process taking a quarter of the way into a published stream (then the test strikes)."""

    env: dict[str, str]
    ingest: IngestProcess
    letters: Collector
    base_ms: int
    publisher: Publisher


def start_stream(
    tmp_path: Path, mqtt_url: str, graph_url: str, telemetry_url: str, sensors: list[str]
) -> Stream:
    """Start ``kgtwin ingest`` (its own client id and share group), then publish a quarter of the stream."""
    name = uuid.uuid4().hex[:6]
    env = ingest_env(
        graph_url=graph_url,
        telemetry_url=telemetry_url,
        mqtt_url=mqtt_url,
        client_id=f"noloss-{name}",
        group=f"noloss-{name}",
        spool_dir=tmp_path / "spool",
    )
    ingest = IngestProcess(tmp_path, "ingest", env)
    ingest.wait_started()
    letters = Collector(mqtt_url, DEADLETTER_TOPIC)
    base_ms = int(time.time() * 1000) - 3_600_000
    publisher = Publisher(mqtt_url, sensors, MESSAGES, base_ms)
    publisher.start()
    wait_until(lambda: publisher.published >= MESSAGES // 4, 120, "a quarter of the stream")
    return Stream(env, ingest, letters, base_ms, publisher)


def test_sigkill_mid_stream_loses_nothing(
    tmp_path: Path, mqtt_url: str, neo4j_url: str, sensors: list[str]
) -> None:
    telemetry = tmp_path / "telemetry.duckdb"
    stream = start_stream(tmp_path, mqtt_url, neo4j_url, f"duckdb:///{telemetry}", sensors)
    letters, base_ms, publisher = stream.letters, stream.base_ms, stream.publisher
    stream.ingest.kill()
    killed_at = publisher.published
    time.sleep(1.0)
    ingest = IngestProcess(tmp_path, "ingest", stream.env)  # same client id: the session's messages come back
    ingest.wait_started()
    publisher.join(300)
    assert publisher.error is None
    assert killed_at < MESSAGES, "the kill must land mid-stream"
    finish(mqtt_url, letters, base_ms)
    letters.close()
    assert ingest.terminate() == 0  # SIGTERM drains and exits 0
    resumed = [r for r in stats(ingest.text()) if r.get("event") == "ingest.connected"]
    assert resumed[-1]["session_present"] is True  # the broker kept the session over the kill

    store = DuckDbTelemetryStore(telemetry)
    try:
        counts = count_points(store, sensors, base_ms, base_ms + MESSAGES)
    finally:
        store.close()
    assert sum(counts) == MESSAGES
    assert counts == [MESSAGES // len(sensors)] * len(sensors)


@pytest.fixture
def own_influx(tmp_path_factory: pytest.TempPathFactory) -> Iterator[InfluxServer]:
    """An InfluxDB of this test alone, so stopping it hurts no other test."""
    try:
        server = start_influxdb(tmp_path_factory.mktemp("own-influx"))
    except ServerUnavailable as exc:
        pytest.skip(str(exc))
    try:
        yield server
    finally:
        server.stop()


@pytest.mark.influxdb
def test_influxdb_restart_mid_stream_loses_nothing(
    tmp_path: Path, mqtt_url: str, neo4j_url: str, sensors: list[str], own_influx: InfluxServer
) -> None:
    host = own_influx.url.removeprefix("http://")
    url = f"influxdb://{own_influx.token}@{host}?org={own_influx.org}&bucket={own_influx.bucket}"
    stream = start_stream(tmp_path, mqtt_url, neo4j_url, url, sensors)
    ingest, letters, base_ms, publisher = stream.ingest, stream.letters, stream.base_ms, stream.publisher
    own_influx.stop()
    stopped_at = publisher.published
    time.sleep(3.0)
    restart_influxdb(own_influx)
    publisher.join(300)
    assert publisher.error is None
    assert stopped_at < MESSAGES, "the restart must land mid-stream"
    finish(mqtt_url, letters, base_ms)
    letters.close()

    store = InfluxTelemetryStore(own_influx.url, own_influx.token, own_influx.org, own_influx.bucket)
    try:
        wait_until(
            lambda: sum(count_points(store, sensors, base_ms, base_ms + MESSAGES)) == MESSAGES,
            120,
            "the spool to drain into InfluxDB",
        )
        counts = count_points(store, sensors, base_ms, base_ms + MESSAGES)
    finally:
        store.close()
    assert counts == [MESSAGES // len(sensors)] * len(sensors)
    assert ingest.terminate() == 0
    assert any(r.get("event") == "ingest.store_failed" for r in stats(ingest.text())), "no outage seen"
