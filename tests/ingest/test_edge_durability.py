"""A PUBACK from the edge means durable: SIGKILL of ``kgtwin serve`` mid-stream, and a
publisher that disconnects right after its acknowledgements (issue 21 §6.6).

A real ``kgtwin serve`` (embedded amqtt broker, DuckDB) takes 50,000 QoS 1 messages from
a paho publisher. Every message carries its own ``ts`` and its sequence number as
``v0``, so the DuckDB file, read once the process is gone, says exactly which messages
were stored: each one the publisher saw acknowledged must be among them.
"""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest

from telemetry.duckdb import DuckDbTelemetryStore
from telemetry.refs import TelemetryRef
from tests.ingest.edge import ServeProcess, device, seed, time_ms
from tests.ingest.helpers import topic, wait_until

pytestmark = pytest.mark.timeout(900)

MESSAGES = 50_000
TWINS = 20


class AckedPublisher(threading.Thread):
    """Publishes ``MESSAGES`` QoS 1 messages round-robin over ``twins``, sequence ``i`` as ``v0``.

    ``acknowledged()`` is the set of sequence numbers whose PUBACK arrived.
    """

    def __init__(self, port: int, twins: list[str], base_ms: int) -> None:
        super().__init__(daemon=True)
        self.client = device(port, client_id=f"durability-{uuid.uuid4().hex[:6]}")
        self.twins, self.base_ms = twins, base_ms
        self.infos: list[mqtt.MQTTMessageInfo] = []
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            for i in range(MESSAGES):
                payload = json.dumps({"v0": float(i), "v1": 1.0, "v2": 2.0, "ts": self.base_ms + i})
                self.infos.append(self.client.publish(topic(self.twins[i % TWINS]), payload, qos=1))
        except BaseException as exc:  # reported by the test
            self.error = exc

    def acknowledged(self) -> set[int]:
        return {i for i, info in enumerate(list(self.infos)) if info.is_published()}

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def stored(data: Path, twins: list[str], base_ms: int) -> set[int]:
    """The sequence numbers stored in the DuckDB file of a stopped ``kgtwin serve``."""
    store = DuckDbTelemetryStore(data / "telemetry.duckdb")
    try:
        refs = [TelemetryRef("telemetry", "Sensor", {"twin_id": t}) for t in twins]
        start = datetime.fromtimestamp(base_ms / 1000, tz=UTC)
        stop = datetime.fromtimestamp((base_ms + MESSAGES) / 1000 + 1, tz=UTC)
        return {int(s.value) for series in store.query(refs, "v0", start, stop) for s in series}
    finally:
        store.close()


@pytest.fixture
def serve(tmp_path: Path) -> Iterator[ServeProcess]:
    process = ServeProcess(tmp_path / "edge")
    process.start()
    try:
        yield process
    finally:
        if process.process is not None and process.process.poll() is None:
            process.stop()


def sensors(serve: ServeProcess) -> list[str]:
    ids = [f"dur-{i}" for i in range(TWINS)]
    seed(serve, ids)
    return ids


def test_sigkill_mid_stream_loses_no_acknowledged_message(serve: ServeProcess) -> None:
    twins = sensors(serve)
    base_ms = time_ms() - 3_600_000
    publisher = AckedPublisher(serve.mqtt_port, twins, base_ms)
    publisher.start()
    wait_until(
        lambda: len(publisher.acknowledged()) >= MESSAGES // 3, 300, "a third of the stream acknowledged"
    )
    serve.kill()
    publisher.join(60)
    acked = publisher.acknowledged()
    publisher.close()
    assert publisher.error is None
    assert len(acked) < MESSAGES, "the kill must land mid-stream"
    serve.start()  # what a restart replays (the spool) is stored before the count
    assert serve.stop() == 0
    lost = acked - stored(serve.workdir / "data", twins, base_ms)
    assert not lost, f"{len(lost)} of {len(acked)} acknowledged messages lost"


def test_a_publisher_that_disconnects_right_after_its_acks_loses_nothing(serve: ServeProcess) -> None:
    twins = sensors(serve)
    base_ms = time_ms() - 7_200_000
    publisher = AckedPublisher(serve.mqtt_port, twins, base_ms)
    publisher.start()
    publisher.join(300)
    wait_until(lambda: len(publisher.acknowledged()) == MESSAGES, 300, "every PUBACK")
    publisher.close()  # at once: nothing waits for the broker to pass the messages on
    assert publisher.error is None
    assert serve.stop() == 0
    lost = set(range(MESSAGES)) - stored(serve.workdir / "data", twins, base_ms)
    assert not lost, f"{len(lost)} of {MESSAGES} acknowledged messages lost"
