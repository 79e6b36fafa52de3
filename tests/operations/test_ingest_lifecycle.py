"""Ingest processes replaced one at a time under a steady publish rate: published = stored, once each.

Two real ``kgtwin ingest`` processes share the stream (an MQTT shared subscription on
Mosquitto) into InfluxDB while devices publish at a steady rate. Each in turn gets SIGTERM:
it is unready from the signal on, makes its batch durable, acknowledges it and exits 0
within the grace; a new process with the same client id takes its session back. Every
message published is then in InfluxDB exactly once, and the metrics say what happened.
"""

from __future__ import annotations

import itertools
import signal
import threading
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from graph.neo4j import Neo4jGraphStore
from telemetry.influx import InfluxTelemetryStore
from tests.ingest.helpers import connect, count_points, ingest_env, reading, seed_sensors, topic, wait_until
from tests.operations.conftest import Servers, Service, unique

pytestmark = [pytest.mark.neo4j, pytest.mark.influxdb, pytest.mark.mosquitto, pytest.mark.timeout(600)]

GRACE_S = 20.0
RATE = 250  # messages per second
SECONDS = 24.0


class PacedPublisher(threading.Thread):
    """Publishes readings round-robin over ``twin_ids`` at ``rate`` per second, QoS 1, each its own ts."""

    def __init__(self, url: str, twin_ids: list[str], rate: float, seconds: float, base_ms: int) -> None:
        super().__init__(daemon=True)
        self.url, self.twin_ids, self.rate, self.seconds, self.base_ms = url, twin_ids, rate, seconds, base_ms
        self.published = 0
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            client = connect(self.url)
            pending = []
            began = time.monotonic()
            for i in range(int(self.rate * self.seconds)):
                due = began + i / self.rate
                if (wait := due - time.monotonic()) > 0:
                    time.sleep(wait)
                twin_id = self.twin_ids[i % len(self.twin_ids)]
                pending.append(client.publish(topic(twin_id), reading(i, self.base_ms + i), qos=1))
            for info in pending:
                info.wait_for_publish(60)
                assert info.is_published()
            self.published = len(pending)
            client.disconnect()
            client.loop_stop()
        except BaseException as exc:  # reported by the test
            self.error = exc


def replace(old: Service, start: Callable[[], Service]) -> Service:
    """SIGTERM ``old``: never ready again, exit 0 within the grace; start and await its successor."""
    assert httpx.get(f"{old.url}/readyz").status_code == 200
    began = time.monotonic()
    old.process.send_signal(signal.SIGTERM)
    time.sleep(0.05)  # the signal reaches the process
    answers = []
    while old.process.poll() is None:
        try:
            answers.append(httpx.get(f"{old.url}/readyz", timeout=5).status_code)
        except httpx.TimeoutException:  # a busy machine: ask again
            continue
        except httpx.TransportError:  # its health port is closed: it is on its way out
            break
        time.sleep(0.02)
    assert 200 not in answers, answers
    assert old.process.wait(GRACE_S + 5) == 0, old.text()[-3000:]
    assert time.monotonic() - began < GRACE_S
    stopped = [r for r in old.records() if r["event"] == "ingest.stopped"]
    assert stopped, old.text()[-3000:]
    assert stopped[-1]["drained"] is True
    successor = start()
    successor.wait_ready()
    return successor


def test_replacing_each_ingest_process_under_load_stores_every_message_exactly_once(
    servers: Servers, services: Callable[..., Service], tmp_path: Path
) -> None:
    prefix = unique("rl")
    sensors = [f"{prefix}-{i}" for i in range(10)]
    graph = Neo4jGraphStore(servers.graph_url)
    try:
        seed_sensors(graph, sensors)
    finally:
        graph.close()
    group = unique("rolling")

    def env(n: int) -> dict[str, str]:
        return ingest_env(
            graph_url=servers.graph_url,
            telemetry_url=servers.telemetry_url,
            mqtt_url=servers.broker_url,
            client_id=f"{group}-{n}",
            group=group,
            spool_dir=tmp_path / f"spool-{n}",
        ) | {
            "KGTWIN_SHUTDOWN_GRACE_S": str(GRACE_S),
            # The broker keeps a stopped member's share until its successor comes, however
            # long a start takes on a loaded machine (the group is this test's own).
            "KGTWIN_INGEST_SESSION_EXPIRY_S": "900",
        }

    generation = itertools.count(1)

    def starter(n: int) -> Callable[[], Service]:
        return lambda: services(["ingest"], f"ingest-{n}-{next(generation)}", env(n))

    first, second = starter(1)(), starter(2)()
    first.wait_ready()
    second.wait_ready()
    base_ms = int(time.time() * 1000) - 3_600_000
    publisher = PacedPublisher(servers.broker_url, sensors, RATE, SECONDS, base_ms)
    publisher.start()
    time.sleep(SECONDS / 4)
    # On a loaded machine a start can outlast the publishing: a process ready only after it
    # has nothing to take, and the share checks below apply to those ready in time.
    in_time = []
    third = replace(first, starter(1))
    in_time += [third] if publisher.is_alive() else []
    fourth = replace(second, starter(2))
    in_time += [fourth] if publisher.is_alive() else []
    publisher.join(SECONDS * 4)
    assert publisher.error is None, publisher.error
    published = publisher.published
    assert published == int(RATE * SECONDS)

    influx = servers.influx
    store = InfluxTelemetryStore(influx.url, influx.token, influx.org, influx.bucket)
    try:
        stop_ms = base_ms + published

        def all_stored() -> bool:
            return sum(count_points(store, sensors, base_ms, stop_ms)) >= published

        wait_until(all_stored, 120, "every point")
        counts = count_points(store, sensors, base_ms, stop_ms)
    finally:
        store.close()
    assert counts == [published // len(sensors)] * len(sensors)  # each message stored once

    for survivor in (third, fourth):
        metrics = survivor.metrics()
        assert metrics[("kgtwin_ingest_broker_connected", ())] == 1
        assert metrics[("kgtwin_ingest_spool_points", ())] == 0
        if survivor in in_time:
            assert metrics[("kgtwin_ingest_points_written_total", (("destination", "store"),))] > 0
            assert metrics[("kgtwin_ingest_ack_lag_seconds_count", ())] > 0
        assert ("kgtwin_ingest_dead_letters_total", (("reason", "UNKNOWN_TWIN"),)) not in metrics
    assert [survivor.terminate() for survivor in (third, fourth)] == [0, 0]
    taken = {
        s.name: sum(r["messages"] for r in s.records() if r["event"] == "ingest.stopped")
        for s in (first, second, third, fourth)
    }
    assert sum(taken.values()) >= published  # every message acknowledged by one process (redeliveries aside)
    assert all(taken[s.name] > 0 for s in (first, second, *in_time)), taken  # each took a share
