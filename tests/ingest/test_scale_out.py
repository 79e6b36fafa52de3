"""Scale-out: two ``kgtwin ingest`` processes share one stream through a shared subscription.

InfluxDB is the store: DuckDB locks its file to one process.
"""

from __future__ import annotations

import json
import time
import uuid
from pathlib import Path

import pytest

from graph.neo4j import Neo4jGraphStore
from telemetry.influx import InfluxTelemetryStore
from tests.conftest import InfluxTarget
from tests.ingest.helpers import IngestProcess, Publisher, count_points, ingest_env, seed_sensors, wait_until

pytestmark = [pytest.mark.neo4j, pytest.mark.influxdb, pytest.mark.mosquitto, pytest.mark.timeout(600)]

MESSAGES = 20_000


def test_two_processes_store_every_point_exactly_once(
    tmp_path: Path, mqtt_url: str, neo4j_url: str, influx: InfluxTarget
) -> None:
    prefix = uuid.uuid4().hex[:6]
    sensors = [f"so-{prefix}-{i}" for i in range(20)]
    graph = Neo4jGraphStore(neo4j_url)
    try:
        seed_sensors(graph, sensors)
    finally:
        graph.close()
    group = f"scale-{prefix}"
    processes = [
        IngestProcess(
            tmp_path,
            f"ingest-{n}",
            ingest_env(
                graph_url=neo4j_url,
                telemetry_url=influx.kgtwin_url,
                mqtt_url=mqtt_url,
                client_id=f"{group}-{n}",
                group=group,
                spool_dir=tmp_path / f"spool-{n}",
            ),
        )
        for n in (1, 2)
    ]
    for process in processes:
        process.wait_started()
    base_ms = int(time.time() * 1000) - 3_600_000
    publisher = Publisher(mqtt_url, sensors, MESSAGES, base_ms)
    publisher.start()
    publisher.join(300)
    assert publisher.error is None

    store = InfluxTelemetryStore(influx.url, influx.token, influx.org, influx.bucket)
    try:
        wait_until(
            lambda: sum(count_points(store, sensors, base_ms, base_ms + MESSAGES)) >= MESSAGES,
            120,
            "every point in InfluxDB",
        )
        counts = count_points(store, sensors, base_ms, base_ms + MESSAGES)
    finally:
        store.close()
    assert counts == [MESSAGES // len(sensors)] * len(sensors)
    assert [p.terminate() for p in processes] == [0, 0]
    handled = [stopped(p)["messages"] for p in processes]
    assert sum(handled) == MESSAGES  # no message went to both
    assert min(handled) > MESSAGES // 10, handled  # and both took a real share


def stopped(process: IngestProcess) -> dict[str, int]:
    """The counters an ingest process logs when it stops."""
    for line in reversed(process.text().splitlines()):
        if line.startswith("{") and '"ingest.stopped"' in line:
            record: dict[str, int] = json.loads(line)
            return record
    raise AssertionError(f"no ingest.stopped record:\n{process.text()[-2000:]}")
