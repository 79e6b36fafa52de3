"""The ``telemetry_store`` fixture: each ``TelemetryStore`` backend in turn.

Memory gets a fresh store per test, DuckDB a fresh file per test; InfluxDB is the
session's real server, and each test gets its own bucket (``bucket`` fixture), so no test
sees another's points.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from telemetry.duckdb import DuckDbTelemetryStore
from telemetry.influx import InfluxTelemetryStore
from telemetry.memory import MemoryTelemetryStore
from telemetry.store import TelemetryStore


@pytest.fixture
def bucket() -> str:
    """A bucket name no other test uses (created by the store's first write to it)."""
    return f"test-{uuid.uuid4().hex[:12]}"


@pytest.fixture(params=["memory", "duckdb", pytest.param("influxdb", marks=pytest.mark.influxdb)])
def telemetry_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[TelemetryStore]:
    """Each backend of the ``TelemetryStore`` port, freshly opened."""
    store: TelemetryStore
    if request.param == "memory":
        store = MemoryTelemetryStore()
    elif request.param == "duckdb":
        store = DuckDbTelemetryStore(tmp_path / "telemetry.duckdb")
    else:
        influx = request.getfixturevalue("influx")
        store = InfluxTelemetryStore(influx.url, influx.token, influx.org, influx.bucket)
    try:
        yield store
    finally:
        store.close()
