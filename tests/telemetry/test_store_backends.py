"""What only one ``TelemetryStore`` backend does: DuckDB's file, InfluxDB's server errors."""

from __future__ import annotations

import socket
import uuid
from datetime import UTC, datetime
from pathlib import Path

import pytest
from influxdb_client.client.influxdb_client import InfluxDBClient
from influxdb_client.domain.permission import Permission
from influxdb_client.domain.permission_resource import PermissionResource

from ontology.errors import BackendUnavailable
from telemetry.duckdb import DuckDbTelemetryStore
from telemetry.influx import InfluxTelemetryStore, flux_string
from telemetry.points import Sample, TelemetryPoint
from telemetry.refs import TelemetryRef
from tests.conftest import InfluxTarget

T0 = datetime(2026, 11, 25, tzinfo=UTC)
T0_NS = int(T0.timestamp()) * 1_000_000_000


def closed_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def test_duckdb_keeps_points_and_series_across_reopening(tmp_path: Path) -> None:
    path = tmp_path / "telemetry.duckdb"
    store = DuckDbTelemetryStore(path)
    store.write([TelemetryPoint("telemetry", "Room", {"twin_id": "r1"}, {"t": 1.0}, T0_NS)])
    store.close()
    store = DuckDbTelemetryStore(path)
    try:
        # A new field of a known series, and a rewrite that must win over the first write.
        store.write([TelemetryPoint("telemetry", "Room", {"twin_id": "r1"}, {"t": 2.0, "h": 3}, T0_NS)])
        assert store.latest([TelemetryRef("telemetry", "Room", {"twin_id": "r1"})]) == [
            {"t": Sample(T0, 2.0), "h": Sample(T0, 3)}
        ]
    finally:
        store.close()


@pytest.mark.influxdb
def test_an_unreachable_influxdb_is_backend_unavailable() -> None:
    store = InfluxTelemetryStore(f"http://127.0.0.1:{closed_port()}", "token", "kgtwin", "telemetry", 2_000)
    ref = TelemetryRef("telemetry", "Room", {"twin_id": "r1"}, ("t",))
    try:
        with pytest.raises(BackendUnavailable, match="influxdb unavailable"):
            store.ping()
        with pytest.raises(BackendUnavailable):
            store.write([TelemetryPoint("telemetry", "Room", {"twin_id": "r1"}, {"t": 1.0}, T0_NS)])
        with pytest.raises(BackendUnavailable):
            store.latest([ref])
        with pytest.raises(BackendUnavailable):
            store.query([ref], "t", T0, datetime(2026, 11, 26, tzinfo=UTC), every_s=60)
    finally:
        store.close()


@pytest.mark.influxdb
def test_a_rejected_token_is_backend_unavailable_so_points_are_spooled(influx: InfluxTarget) -> None:
    store = InfluxTelemetryStore(influx.url, "wrong-token", influx.org, influx.bucket)
    try:
        with pytest.raises(BackendUnavailable, match="401"):
            store.write([TelemetryPoint(influx.bucket, "Room", {"twin_id": "r1"}, {"t": 1.0}, T0_NS)])
    finally:
        store.close()


def test_flux_strings_escape_quotes_backslashes_and_interpolation() -> None:
    assert flux_string('a"b\\c${d}\n') == '"a\\"b\\\\c\\${d}\\n"'


@pytest.mark.influxdb
def test_a_token_that_may_not_create_buckets_gets_a_clear_error(influx: InfluxTarget) -> None:
    with InfluxDBClient(url=influx.url, token=influx.token, org=influx.org) as admin:
        org = admin.organizations_api().find_organizations(org=influx.org)[0]
        bucket = admin.buckets_api().find_bucket_by_name(influx.bucket)
        resource = PermissionResource(type="buckets", id=bucket.id, org_id=org.id)
        granted = admin.authorizations_api().create_authorization(
            org_id=org.id,
            permissions=[
                Permission(action="read", resource=resource),
                Permission(action="write", resource=resource),
            ],
        )
    store = InfluxTelemetryStore(influx.url, granted.token, influx.org, influx.bucket)
    try:
        twin = f"r-{uuid.uuid4().hex[:8]}"
        store.write([TelemetryPoint(influx.bucket, "Room", {"twin_id": twin}, {"t": 1.0}, T0_NS)])
        with pytest.raises(BackendUnavailable, match="may not create it"):
            store.write([TelemetryPoint("simulation-denied", "Run", {"twin_id": twin}, {"t": 1.0}, T0_NS)])
    finally:
        store.close()
