"""Wiring: settings in, connected backends out.

One registry per port maps a parsed URL type to the adapter that serves it; adding a
backend is one adapter module plus one line here. Every backend is pinged before a
service starts, so a wrong URL or an unreachable server stops start-up with one line
that names the setting and the cause.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import structlog

from graph.falkordb import FalkorGraphStore
from graph.neo4j import Neo4jGraphStore
from graph.store import GraphStore
from ingest.broker import Broker, MqttBroker
from ingest.duckdb import DuckDbTelemetryStore
from ingest.embedded_broker import EmbeddedBroker
from ingest.influx import InfluxTelemetryStore
from ingest.store import TelemetryStore
from kgtwin.settings import ENV_PREFIX, Settings
from kgtwin.urls import DuckDbUrl, EmbeddedBrokerUrl, FalkorUrl, InfluxUrl, MqttUrl, Neo4jUrl
from ontology.errors import ConfigurationInvalid, KgtwinError

_log = structlog.get_logger("kgtwin.wiring")

GRAPH_BACKENDS: dict[type[Any], Callable[[Any], GraphStore]] = {
    FalkorUrl: lambda url: FalkorGraphStore(url.data_dir, url.graph),
    Neo4jUrl: lambda url: Neo4jGraphStore(url.uri, url.user, url.password, url.database),
}

TELEMETRY_BACKENDS: dict[type[Any], Callable[[Any], TelemetryStore]] = {
    DuckDbUrl: lambda url: DuckDbTelemetryStore(url.path),
    InfluxUrl: lambda url: InfluxTelemetryStore(url.url, url.token, url.org, url.bucket),
}


@dataclass
class Backends:
    """The connected backends of one process; ``close`` releases them in reverse order."""

    graph: GraphStore | None = None
    telemetry: TelemetryStore | None = None
    broker: Broker | None = None
    embedded_broker: EmbeddedBroker | None = None
    _closers: list[Callable[[], None]] = field(default_factory=list)

    def close(self) -> None:
        for closer in reversed(self._closers):
            try:
                closer()
            except Exception as exc:  # closing on the way out: report and go on with the rest
                _log.warning("backend.close_failed", error=str(exc) or type(exc).__name__)
        self._closers.clear()


def _setting(name: str) -> str:
    return f"{ENV_PREFIX}{name.upper()}"


def open_graph(settings: Settings) -> GraphStore:
    url = settings.graph
    store = GRAPH_BACKENDS[type(url)](url)
    store.ping()
    return store


def open_telemetry(settings: Settings) -> TelemetryStore:
    url = settings.telemetry
    store = TELEMETRY_BACKENDS[type(url)](url)
    store.ping()
    return store


def open_broker(settings: Settings) -> tuple[Broker, EmbeddedBroker | None]:
    """Connect to the configured broker, first starting the embedded one if that is it."""
    url = settings.broker
    embedded = None
    if isinstance(url, EmbeddedBrokerUrl):
        embedded = EmbeddedBroker(url.host, url.port)
        embedded.start()
        try:
            # amqtt speaks 3.1.1 only: do not waste a v5 CONNECT on it.
            return MqttBroker(url.host, url.port, prefer_v5=False, client_id="kgtwin-core"), embedded
        except KgtwinError:
            embedded.stop()
            raise
    assert isinstance(url, MqttUrl)
    client = MqttBroker(url.host, url.port, user=url.user, password=url.password, tls=url.tls)
    return client, None


def open_backends(settings: Settings, ports: Iterable[str]) -> Backends:
    """Open and ping the backends of ``ports`` (``graph``, ``telemetry``, ``broker``).

    On failure, everything opened so far is closed and ``ConfigurationInvalid`` names
    the setting (``KGTWIN_GRAPH_URL`` ...) and the cause.
    """
    backends = Backends()
    wanted = set(ports)
    try:
        if "graph" in wanted:
            backends.graph = _open("graph_url", lambda: open_graph(settings))
            backends._closers.append(backends.graph.close)
            _log.info("backend.ready", port="graph", backend=backends.graph.backend)
        if "telemetry" in wanted:
            backends.telemetry = _open("telemetry_url", lambda: open_telemetry(settings))
            backends._closers.append(backends.telemetry.close)
            _log.info("backend.ready", port="telemetry", backend=backends.telemetry.backend)
        if "broker" in wanted:
            broker, embedded = _open("broker_url", lambda: open_broker(settings))
            if embedded is not None:
                backends.embedded_broker = embedded
                backends._closers.append(embedded.stop)
            backends.broker = broker
            backends._closers.append(broker.close)
            _log.info("backend.ready", port="broker", embedded=embedded is not None, protocol=broker.protocol)
    except ConfigurationInvalid:
        backends.close()
        raise
    return backends


def _open[T](setting: str, opener: Callable[[], T]) -> T:
    try:
        return opener()
    except KgtwinError as exc:
        raise ConfigurationInvalid(_setting(setting), exc.message) from exc
