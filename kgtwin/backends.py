"""The backends of each port, by URL scheme, and opening them.

One table per port maps a URL scheme to its backend: how its URL is read (a type of
``kgtwin.urls``, whose fields are the adapter's keyword arguments) and which adapter opens
it (its module imported only then, so a process loads only the drivers it uses: the Neo4j
driver, influxdb-client and the simulation stack each cost tens of MB of RSS, and
``kgtwin ingest`` has a memory budget). Adding a backend is its adapter module plus one
line in its port's table (and a URL type in ``kgtwin.urls`` when none of those there
reads its URL).

Every backend is pinged before a service starts, so a wrong URL or an unreachable server
stops start-up with one line that names the setting and the cause.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import structlog

from kgtwin.urls import (
    BrokerUrl,
    DaskUrl,
    DuckDbUrl,
    EmbeddedBrokerUrl,
    ExecutorUrl,
    FalkorUrl,
    GraphUrl,
    InfluxUrl,
    LocalExecutorUrl,
    MemoryUrl,
    MqttUrl,
    Neo4jUrl,
    TelemetryUrl,
    scheme_of,
)
from ontology.errors import ConfigurationInvalid, KgtwinError

if TYPE_CHECKING:
    from graph.store import GraphStore
    from ingest.broker import Broker
    from kgtwin.settings import Settings
    from simulation.executor import Executor
    from telemetry.store import TelemetryStore

_log = structlog.get_logger("kgtwin.backends")


@dataclass(frozen=True)
class Backend:
    """One backend of a port: how its URL is read, and the adapter that opens it.

    ``url`` parses a URL into its typed value (``kgtwin.urls``), whose fields are the
    adapter's keyword arguments. ``adapter`` is ``module:name`` of the class (or function)
    that opens the backend; its module is imported only when the backend is opened.
    """

    url: Callable[[str], Any]
    adapter: str

    def load(self) -> Callable[..., Any]:
        """The adapter, its module imported now."""
        module, _, name = self.adapter.partition(":")
        found: Callable[..., Any] = getattr(importlib.import_module(module), name)
        return found

    def open(self, url: str) -> Any:
        """The backend of ``url``, opened (not pinged)."""
        return self.load()(**vars(self.url(url)))


@dataclass(frozen=True)
class Port:
    """The backends of one port by URL scheme; ``bare`` schemes may be given without ``:``."""

    name: str
    backends: dict[str, Backend]
    usage: str
    bare: frozenset[str] = frozenset()

    def backend(self, url: str) -> Backend:
        """The backend of ``url``'s scheme; ``ValueError`` naming the ones there are."""
        scheme = url if url in self.bare else scheme_of(url)
        found = self.backends.get(scheme)
        if found is None:
            raise ValueError(f"unknown {self.name} {scheme!r}: use {self.usage}")
        return found

    def parse(self, url: str) -> Any:
        """``url`` as its backend's typed value (``kgtwin.urls``); ``ValueError`` says what is wrong."""
        return self.backend(url).url(url)

    def open(self, url: str) -> Any:
        """The backend of ``url``, opened (not pinged)."""
        return self.backend(url).open(url)


_NEO4J = Backend(Neo4jUrl.parse, "graph.neo4j:Neo4jGraphStore")
_INFLUX = Backend(InfluxUrl.parse, "telemetry.influx:InfluxTelemetryStore")
_MQTT = Backend(MqttUrl.parse, "ingest.broker:MqttBroker")
_DASK = Backend(DaskUrl.parse, "simulation.dask:DaskExecutor")

# One line per backend: its scheme, its URL type, its adapter.
GRAPH = Port(
    "graph backend",
    {
        "falkordb": Backend(FalkorUrl.parse, "graph.falkordb:FalkorGraphStore"),
        **dict.fromkeys(("neo4j", "neo4j+s", "neo4j+ssc", "bolt", "bolt+s", "bolt+ssc"), _NEO4J),
    },
    "falkordb:///<data-dir> or neo4j://host:7687",
)
TELEMETRY = Port(
    "telemetry backend",
    {
        "duckdb": Backend(DuckDbUrl.parse, "telemetry.duckdb:DuckDbTelemetryStore"),
        **dict.fromkeys(("influxdb", "influxdbs"), _INFLUX),
        "memory": Backend(MemoryUrl.parse, "telemetry.memory:MemoryTelemetryStore"),
    },
    "duckdb:///<file>, influxdb://<token>@host:8086 or memory://",
)
BROKER = Port(
    "broker",
    {
        # amqtt, started in this process; closing its client stops it.
        "embedded": Backend(EmbeddedBrokerUrl.parse, "ingest.embedded_broker:start_embedded"),
        **dict.fromkeys(("mqtt", "mqtts"), _MQTT),
    },
    "embedded or mqtt://host:1883",
    bare=frozenset({"embedded"}),
)
EXECUTOR = Port(
    "executor",
    {
        "local": Backend(LocalExecutorUrl.parse, "simulation.local:LocalExecutor"),
        **dict.fromkeys(("dask", "tcp", "tls"), _DASK),
    },
    "local, local://?workers=N or dask://host:8786",
    bare=frozenset({"local"}),
)
PORTS = (GRAPH, TELEMETRY, BROKER, EXECUTOR)


def parse_graph_url(url: str) -> GraphUrl:
    """``falkordb:///<data-dir>[?graph=name]`` or ``neo4j://user:pass@host:7687[/database]``."""
    parsed: GraphUrl = GRAPH.parse(url)
    return parsed


def parse_telemetry_url(url: str) -> TelemetryUrl:
    """``duckdb:///<file>``, ``influxdb://<token>@host:8086?org=<org>&bucket=<bucket>`` or ``memory://``."""
    parsed: TelemetryUrl = TELEMETRY.parse(url)
    return parsed


def parse_broker_url(url: str) -> BrokerUrl:
    """``embedded``, ``embedded://host:port`` or ``mqtt://user:pass@host:1883`` (``mqtts`` for TLS)."""
    parsed: BrokerUrl = BROKER.parse(url)
    return parsed


def parse_executor_url(url: str) -> ExecutorUrl:
    """``local``, ``local://?workers=N`` or ``dask://host:8786`` (``tls://`` kept for dask's TLS)."""
    parsed: ExecutorUrl = EXECUTOR.parse(url)
    return parsed


@dataclass
class Backends:
    """The connected backends of one process; ``close`` releases them, and what was handed to
    :meth:`on_close`, in reverse order."""

    graph: GraphStore | None = None
    telemetry: TelemetryStore | None = None
    broker: Broker | None = None
    _closers: list[Callable[[], None]] = field(default_factory=list)

    def on_close(self, closer: Callable[[], None]) -> None:
        """Run ``closer`` when the backends close, before what was opened earlier closes."""
        self._closers.append(closer)

    def close(self) -> None:
        for closer in reversed(self._closers):
            try:
                closer()
            except Exception as exc:  # closing on the way out: report and go on with the rest
                _log.warning("backend.close_failed", error=str(exc) or type(exc).__name__)
        self._closers.clear()


def open_backends(settings: Settings, ports: Iterable[str]) -> Backends:
    """Open and ping the backends of ``ports`` (``graph``, ``telemetry``, ``broker``).

    On failure, everything opened so far is closed and ``ConfigurationInvalid`` names
    the setting (``KGTWIN_GRAPH_URL`` ...) and the cause.
    """
    backends = Backends()
    wanted = set(ports)
    try:
        if "graph" in wanted:
            backends.graph = _open(settings, "graph_url", GRAPH)
            backends.on_close(backends.graph.close)
            _log.info("backend.ready", port="graph", backend=backends.graph.backend)
        if "telemetry" in wanted:
            backends.telemetry = _open(settings, "telemetry_url", TELEMETRY)
            backends.on_close(backends.telemetry.close)
            _log.info("backend.ready", port="telemetry", backend=backends.telemetry.backend)
        if "broker" in wanted:
            backends.broker = _open(settings, "broker_url", BROKER, ping=False)
            backends.on_close(backends.broker.close)
            embedded = isinstance(settings.broker, EmbeddedBrokerUrl)
            _log.info("backend.ready", port="broker", embedded=embedded, protocol=backends.broker.protocol)
    except ConfigurationInvalid:
        backends.close()
        raise
    return backends


def open_executor(settings: Settings) -> Executor:
    """The configured executor; an unreachable Dask scheduler names ``KGTWIN_EXECUTOR_URL``."""
    executor: Executor = _open(settings, "executor_url", EXECUTOR, ping=False)
    return executor


def _open(settings: Settings, setting: str, port: Port, *, ping: bool = True) -> Any:
    """Open (and ping) the backend of ``setting``; its failure names the setting as users write it."""
    try:
        opened = port.open(getattr(settings, setting))
        if ping:
            opened.ping()
    except KgtwinError as exc:
        prefix = settings.model_config.get("env_prefix", "")
        raise ConfigurationInvalid(f"{prefix}{setting.upper()}", exc.message) from exc
    return opened
