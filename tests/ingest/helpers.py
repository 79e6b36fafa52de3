"""What the ingest tests share: a sensor model, twins in a real graph, an ingest process.

The ingest process is the real ``kgtwin ingest`` command (a child process, so a test can
SIGKILL it) configured through ``KGTWIN_*`` variables, exactly as an operator runs it.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from graph.model_store import GraphModelStore
from graph.store import GraphStore
from graph.twins import TwinGraph
from ontology import ModelSet, parse
from ontology.registry import ModelRegistry
from telemetry.refs import TelemetryRef
from telemetry.store import TelemetryStore
from tests.servers.influxdb_server import InfluxServer
from tests.servers.process import launch

SENSOR = "dtmi:ex:ingest:Sensor;1"
FIELDS = tuple(f"v{i}" for i in range(10))
SENSOR_DOC: dict[str, Any] = {
    "@context": "dtmi:dtdl:context;3",
    "@id": SENSOR,
    "@type": "Interface",
    "contents": [
        *({"@type": "Telemetry", "name": name, "schema": "double"} for name in FIELDS),
        {"@type": "Telemetry", "name": "state", "schema": "string"},
        {"@type": "Telemetry", "name": "count", "schema": "integer"},
        {"@type": "Property", "name": "serial", "schema": "string"},
    ],
}


def sensor_models() -> ModelSet:
    return parse([SENSOR_DOC])


def seed_sensors(store: GraphStore, twin_ids: Iterable[str]) -> ModelSet:
    """Register the sensor model in the graph and create one sensor twin per id."""
    registry = ModelRegistry(GraphModelStore(store))
    if registry.models.get(SENSOR) is None:
        registry.upload([SENSOR_DOC])
    twins = TwinGraph(store, registry.models)
    for twin_id in twin_ids:
        twins.put_twin(twin_id, SENSOR, {"serial": twin_id})
    return registry.models


def topic(twin_id: str) -> str:
    return f"kgtwin/twins/{twin_id}/telemetry"


def connect(url: str, client_id: str = "") -> mqtt.Client:
    """A v5 publisher connected to ``mqtt://host:port`` (3.1.1 for the embedded broker)."""
    host, port = url.removeprefix("mqtt://").rsplit(":", 1)
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv5)
    client.max_inflight_messages_set(1000)
    client.max_queued_messages_set(0)
    client.connect(host, int(port))
    client.loop_start()
    return client


def publish_all(client: mqtt.Client, messages: Iterable[tuple[str, bytes]]) -> int:
    """Publish at QoS 1 and wait for every PUBACK; the number published."""
    infos = [client.publish(t, payload, qos=1) for t, payload in messages]
    for info in infos:
        info.wait_for_publish(60)
        assert info.is_published()
    return len(infos)


def reading(seq: int, ts_ms: int, **extra: Any) -> bytes:
    return json.dumps({**{f: float(seq) for f in FIELDS}, "ts": ts_ms, **extra}).encode()


class Collector:
    """Subscribes to a topic and keeps every payload (dead letters, in the tests)."""

    def __init__(self, url: str, topic_filter: str) -> None:
        self.payloads: list[dict[str, Any]] = []
        self.client = connect(url)
        self.client.on_message = lambda _c, _u, m: self.payloads.append(json.loads(m.payload))
        self.client.subscribe(topic_filter, qos=1)
        time.sleep(0.3)

    def wait_for(self, count: int, timeout: float = 20) -> list[dict[str, Any]]:
        wait_until(lambda: len(self.payloads) >= count, timeout, f"{count} messages")
        return self.payloads

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def wait_until(condition: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


class IngestProcess:
    """``kgtwin ingest`` as a child process, logging to ``workdir/<name>.log``."""

    def __init__(self, workdir: Path, name: str, env: dict[str, str]) -> None:
        self.log = workdir / f"{name}.log"
        workdir.mkdir(parents=True, exist_ok=True)
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(
                [_kgtwin(), "ingest"],
                cwd=workdir,
                env={**os.environ, "KGTWIN_LOG_FORMAT": "json", **env},
                stdout=out,
                stderr=subprocess.STDOUT,
            )

    def wait_started(self, timeout: float = 60) -> None:
        wait_until(
            lambda: "ingest.started" in self.text() or self.process.poll() is not None, timeout, "start"
        )
        assert self.process.poll() is None, self.text()

    def text(self) -> str:
        return self.log.read_text(errors="replace")

    def kill(self) -> None:
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(30)

    def terminate(self, timeout: float = 60) -> int:
        self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout)


def _kgtwin() -> str:
    return str(Path(sys.executable).with_name("kgtwin"))


def stats(lines: str) -> list[dict[str, Any]]:
    """The JSON log records of an ingest process."""
    found = []
    for line in lines.splitlines():
        if line.startswith("{"):
            try:
                found.append(json.loads(line))
            except ValueError:
                continue
    return found


def distinct(values: Sequence[Any]) -> int:
    return len(set(values))


def ingest_env(
    *,
    graph_url: str,
    telemetry_url: str,
    mqtt_url: str,
    client_id: str,
    group: str,
    spool_dir: Path,
) -> dict[str, str]:
    """The ``KGTWIN_*`` settings of one ``kgtwin ingest`` process in the tests."""
    return {
        "KGTWIN_GRAPH_URL": graph_url,
        "KGTWIN_TELEMETRY_URL": telemetry_url,
        "KGTWIN_BROKER_URL": mqtt_url,
        "KGTWIN_INGEST_CLIENT_ID": client_id,
        "KGTWIN_INGEST_SHARED_GROUP": group,
        "KGTWIN_INGEST_SPOOL_DIR": str(spool_dir),
        # Long enough to outlive a kill and restart, short enough not to hoard copies of
        # later tests' messages in the session broker.
        "KGTWIN_INGEST_SESSION_EXPIRY_S": "60",
        "KGTWIN_INGEST_STATS_INTERVAL_S": "1",
        # No health port: tests run several ingest processes (and workers) side by side.
        "KGTWIN_HEALTH_PORT": "0",
    }


class Publisher(threading.Thread):
    """Publishes ``count`` readings round-robin over ``twin_ids`` at QoS 1, each with its own ts."""

    def __init__(self, url: str, twin_ids: Sequence[str], count: int, base_ms: int) -> None:
        super().__init__(daemon=True)
        self.url, self.twin_ids, self.count, self.base_ms = url, list(twin_ids), count, base_ms
        self.published = 0
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            client = connect(self.url)
            pending = []
            for i in range(self.count):
                twin_id = self.twin_ids[i % len(self.twin_ids)]
                pending.append(client.publish(topic(twin_id), reading(i, self.base_ms + i), qos=1))
                if len(pending) >= 500:
                    for info in pending:
                        info.wait_for_publish(60)
                    self.published += len(pending)
                    pending = []
            for info in pending:
                info.wait_for_publish(60)
            self.published += len(pending)
            client.disconnect()
            client.loop_stop()
        except BaseException as exc:  # reported by the test
            self.error = exc


def restart_influxdb(server: InfluxServer) -> None:
    """Start a stopped test InfluxDB again on the same port with the same data."""
    old = server.process
    argv = [str(a) for a in old.process.args]  # type: ignore[union-attr]
    server.process = launch(
        "influxdb", argv, old.log_path.parent, old.port, env={"INFLUXD_CONFIG_PATH": str(old.log_path.parent)}
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{server.url}/health", timeout=2).json().get("status") == "pass":
                return
        except (httpx.HTTPError, ValueError):
            pass
        time.sleep(0.2)
    raise AssertionError(f"influxd did not come back:\n{server.process.log_tail()}")


def count_points(store: TelemetryStore, twin_ids: Sequence[str], start_ms: int, stop_ms: int) -> list[int]:
    """Per twin, how many distinct points of ``v0`` a query sees in [start, stop)."""
    refs = [TelemetryRef("telemetry", "Sensor", {"twin_id": t}) for t in twin_ids]
    start = datetime.fromtimestamp(start_ms / 1000, tz=UTC)
    stop = datetime.fromtimestamp(stop_ms / 1000, tz=UTC)
    series = store.query(refs, "v0", start, stop)
    return [len(samples) for samples in series]
