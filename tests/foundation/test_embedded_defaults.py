"""Smoke tests of the embedded defaults: falkordblite, DuckDB and the amqtt broker, through our adapters."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest
from paho.mqtt.enums import MQTTProtocolVersion

from graph.falkordb import DB_FILE, FalkorGraphStore
from ingest.broker import MqttBroker
from ingest.embedded_broker import EmbeddedBroker
from ontology.errors import BackendUnavailable
from telemetry.duckdb import DuckDbTelemetryStore
from tests.foundation.mqtt_relay import relay_qos1
from tests.servers.process import free_port


def test_embedded_falkordb_answers_and_persists(tmp_path: Path) -> None:
    store = FalkorGraphStore(tmp_path / "graph")
    try:
        store.ping()
        result = store.read("RETURN 1 AS one, $name AS name", {"name": "pump-1"})
        assert result.columns == ["one", "name"]
        assert result.rows == [[1, "pump-1"]]
    finally:
        store.close()
    assert (tmp_path / "graph" / DB_FILE).exists()


def test_embedded_falkordb_refuses_writes_in_read_mode(tmp_path: Path) -> None:
    store = FalkorGraphStore(tmp_path / "graph")
    try:
        with pytest.raises(Exception, match=r"(?i)read-only|write"):
            store.read("CREATE (:Twin {id: 'x'})")
        assert store.read("MATCH (n) RETURN count(n)").rows == [[0]]
    finally:
        store.close()


def test_duckdb_file_store_opens_and_keeps_data(tmp_path: Path) -> None:
    path = tmp_path / "telemetry" / "points.duckdb"
    store = DuckDbTelemetryStore(path)
    store.ping()
    store.close()
    with duckdb.connect(str(path)) as conn:
        conn.execute("CREATE TABLE probe (twin_id VARCHAR, value DOUBLE)")
        conn.execute("INSERT INTO probe VALUES ('room-1', 21.5)")
    with duckdb.connect(str(path)) as conn:
        assert conn.execute("SELECT twin_id, value FROM probe").fetchall() == [("room-1", 21.5)]


def test_duckdb_in_memory_store(tmp_path: Path) -> None:
    store = DuckDbTelemetryStore(None)
    store.ping()
    store.close()


def test_duckdb_file_that_is_not_a_database_is_backend_unavailable(tmp_path: Path) -> None:
    path = tmp_path / "points.duckdb"
    path.write_text("this is not a duckdb file")
    with pytest.raises(BackendUnavailable, match="duckdb"):
        DuckDbTelemetryStore(path)


def test_embedded_broker_relays_qos1_between_two_clients() -> None:
    port = free_port()
    broker = EmbeddedBroker("127.0.0.1", port)
    broker.start()
    try:
        payload, qos = relay_qos1("127.0.0.1", port, MQTTProtocolVersion.MQTTv311, b'{"temperature": 21.5}')
        assert payload == b'{"temperature": 21.5}'
        assert qos == 1
        # Our client prefers v5; amqtt refuses it, so the client falls back to 3.1.1.
        client = MqttBroker("127.0.0.1", port)
        try:
            assert client.protocol == "3.1.1"
            client.ping()
            client.publish("kgtwin/test/ack", b"x", qos=1)
        finally:
            client.close()
    finally:
        broker.stop()


def test_embedded_broker_on_a_busy_port_is_backend_unavailable() -> None:
    port = free_port()
    first = EmbeddedBroker("127.0.0.1", port)
    first.start()
    try:
        with pytest.raises(BackendUnavailable, match=f"cannot listen on 127.0.0.1:{port}"):
            EmbeddedBroker("127.0.0.1", port).start()
    finally:
        first.stop()
