"""Smoke tests of the real test servers: Neo4j over Bolt, InfluxDB 2 with Flux, Mosquitto relaying QoS 1."""

from __future__ import annotations

import time
import uuid
from urllib.parse import urlsplit

import neo4j
import pytest
from influxdb_client.client.influxdb_client import InfluxDBClient
from influxdb_client.client.write_api import SYNCHRONOUS
from paho.mqtt.enums import MQTTProtocolVersion

from graph.neo4j import Neo4jGraphStore
from ingest.broker import MqttBroker
from ontology.errors import BackendUnavailable, BadRequest
from telemetry.influx import InfluxTelemetryStore
from tests.conftest import InfluxTarget
from tests.foundation.mqtt_relay import relay_qos1


@pytest.mark.neo4j
def test_neo4j_answers_return_1_over_bolt(neo4j_url: str) -> None:
    with neo4j.GraphDatabase.driver(neo4j_url) as driver:
        records, _, _ = driver.execute_query("RETURN 1 AS one")
    assert records[0]["one"] == 1
    store = Neo4jGraphStore(neo4j_url)
    try:
        store.ping()
        assert store.read("RETURN 1 AS one").rows == [[1]]
    finally:
        store.close()


@pytest.mark.neo4j
def test_neo4j_read_mode_refuses_writes(neo4j_url: str) -> None:
    store = Neo4jGraphStore(neo4j_url)
    try:
        with pytest.raises(BadRequest, match="read access mode"):
            store.read("CREATE (:Probe {id: $id})", {"id": "x"})
        assert store.read("MATCH (p:Probe) RETURN count(p) AS n").rows == [[0]]
    finally:
        store.close()


@pytest.mark.influxdb
def test_influxdb_accepts_a_write_and_returns_it_in_flux(influx: InfluxTarget) -> None:
    twin = f"pump-{uuid.uuid4().hex[:8]}"
    with InfluxDBClient(url=influx.url, token=influx.token, org=influx.org) as client:
        client.write_api(write_options=SYNCHRONOUS).write(
            bucket=influx.bucket, record=f"telemetry,twin_id={twin} flow=12.5 {time.time_ns()}"
        )
        tables = client.query_api().query(
            f'from(bucket: "{influx.bucket}") |> range(start: -1h) '
            f'|> filter(fn: (r) => r.twin_id == "{twin}" and r._field == "flow")'
        )
    values = [record.get_value() for table in tables for record in table.records]
    assert values == [12.5]
    store = InfluxTelemetryStore(influx.url, influx.token, influx.org, influx.bucket)
    try:
        store.ping()
    finally:
        store.close()


@pytest.mark.influxdb
def test_influxdb_missing_bucket_or_bad_token_is_backend_unavailable(influx: InfluxTarget) -> None:
    store = InfluxTelemetryStore(influx.url, influx.token, influx.org, "no-such-bucket")
    with pytest.raises(BackendUnavailable, match="no-such-bucket"):
        store.ping()
    store.close()
    store = InfluxTelemetryStore(influx.url, "wrong-token", influx.org, influx.bucket)
    with pytest.raises(BackendUnavailable, match="401"):
        store.ping()
    store.close()


@pytest.mark.mosquitto
def test_mosquitto_relays_qos1_between_two_clients(mqtt_url: str) -> None:
    parts = urlsplit(mqtt_url)
    assert parts.hostname
    assert parts.port
    payload, qos = relay_qos1(parts.hostname, parts.port, MQTTProtocolVersion.MQTTv5, b'{"power": 3.2}')
    assert (payload, qos) == (b'{"power": 3.2}', 1)
    client = MqttBroker(parts.hostname, parts.port)
    try:
        assert client.protocol == "5"
    finally:
        client.close()
