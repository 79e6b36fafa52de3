"""Wiring: settings in, connected backends out.

One registry per port maps a parsed URL type to the adapter that serves it; adding a
backend is one adapter module plus one line here. Every backend is pinged before a
service starts, so a wrong URL or an unreachable server stops start-up with one line
that names the setting and the cause.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

import structlog

from graph.store import GraphStore
from ingest.broker import Broker, MqttBroker
from ingest.store import TelemetryStore
from kgtwin.settings import ENV_PREFIX, Settings
from kgtwin.urls import (
    DaskUrl,
    DuckDbUrl,
    EmbeddedBrokerUrl,
    FalkorUrl,
    InfluxUrl,
    LocalExecutorUrl,
    MqttUrl,
    Neo4jUrl,
)
from ontology.errors import ConfigurationInvalid, KgtwinError
from simulation.executor import Executor

if TYPE_CHECKING:
    from ingest.embedded_broker import EmbeddedBroker
    from ingest.service import IngestService
    from ingest.subscriber import SessionOptions
    from simulation.jobs import RunStore
    from simulation.worker import Worker

_log = structlog.get_logger("kgtwin.wiring")

# Each adapter is imported when its URL is configured, not before: a process loads only the
# drivers it uses (the Neo4j driver, influxdb-client and the simulation stack each cost tens
# of MB of RSS, and `kgtwin ingest` has a memory budget).


def _falkordb(url: FalkorUrl) -> GraphStore:
    from graph.falkordb import FalkorGraphStore

    return FalkorGraphStore(url.data_dir, url.graph)


def _neo4j(url: Neo4jUrl) -> GraphStore:
    from graph.neo4j import Neo4jGraphStore

    return Neo4jGraphStore(url.uri, url.user, url.password, url.database)


def _duckdb(url: DuckDbUrl) -> TelemetryStore:
    from ingest.duckdb import DuckDbTelemetryStore

    return DuckDbTelemetryStore(url.path)


def _influx(url: InfluxUrl) -> TelemetryStore:
    from ingest.influx import InfluxTelemetryStore

    return InfluxTelemetryStore(url.url, url.token, url.org, url.bucket)


GRAPH_BACKENDS: dict[type[Any], Callable[[Any], GraphStore]] = {FalkorUrl: _falkordb, Neo4jUrl: _neo4j}

TELEMETRY_BACKENDS: dict[type[Any], Callable[[Any], TelemetryStore]] = {
    DuckDbUrl: _duckdb,
    InfluxUrl: _influx,
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
        from ingest.embedded_broker import EmbeddedBroker

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


def broker_session(settings: Settings) -> SessionOptions:
    """Where the configured broker is, as a subscriber connects to it (no client id or filters yet).

    The embedded broker (amqtt) speaks MQTT 3.1.1 only; an external one is asked for 5 first.
    """
    from ingest.subscriber import SessionOptions

    url = settings.broker
    if not isinstance(url, EmbeddedBrokerUrl | MqttUrl):
        raise ConfigurationInvalid("broker_url", "subscribing needs an MQTT broker")
    mqtt = url if isinstance(url, MqttUrl) else None
    user, password, tls = (mqtt.user, mqtt.password, mqtt.tls) if mqtt else (None, None, False)
    return SessionOptions(
        host=url.host,
        port=url.port,
        client_id="",
        filters=(),
        user=user,
        password=password,
        tls=tls,
        prefer_v5=mqtt is not None,
    )


def build_ingest(settings: Settings, backends: Backends) -> IngestService:
    """The MQTT ingest service over already opened backends (``graph``, ``telemetry``, ``broker``).

    Its session is its own connection (persistent, acknowledged by hand), next to the
    backends' broker client; with the embedded broker, which has no shared subscriptions,
    it subscribes plainly.
    """
    from graph.latest import write_latest
    from graph.model_store import GraphModelStore
    from graph.telemetry import telemetry_targets
    from ingest.messages import DEFAULT_MAPPING, MessageDecoder
    from ingest.pipeline import Models, Pipeline
    from ingest.service import IngestConfig, IngestService
    from ingest.spool import Spool
    from ingest.twins import TwinTargets
    from ontology.registry import ModelRegistry

    graph, telemetry = backends.graph, backends.telemetry
    assert graph is not None
    assert telemetry is not None
    url = settings.broker
    embedded = isinstance(url, EmbeddedBrokerUrl)
    decoder = MessageDecoder(
        [*settings.ingest_mappings, DEFAULT_MAPPING], max_payload_bytes=settings.ingest_max_payload_bytes
    )
    options = replace(
        broker_session(settings),
        client_id=settings.ingest_client_id,
        filters=decoder.filters,
        share_group=None if embedded else (settings.ingest_shared_group or None),
        session_expiry_s=settings.ingest_session_expiry_s,
    )
    pipeline = Pipeline(
        decoder,
        TwinTargets(lambda ids: telemetry_targets(graph, ids), ttl_s=settings.ingest_twin_cache_ttl_s),
        Models(lambda: ModelRegistry(GraphModelStore(graph), policy=settings.dtdl_policy).models),
    )
    spool = Spool(
        settings.ingest_spool_dir / f"{settings.ingest_client_id}.sqlite",
        max_points=settings.ingest_spool_max_points,
    )
    config = IngestConfig(
        batch_points=settings.ingest_batch_points,
        batch_wait_s=settings.ingest_batch_wait_ms / 1000,
        graph_interval_s=settings.ingest_latest_interval_s,
    )
    backends._closers.append(spool.close)
    return IngestService(
        options, telemetry, pipeline, spool, write_latest=lambda v: write_latest(graph, v), config=config
    )


def _dask(url: DaskUrl) -> Executor:
    # dask.distributed takes a second to import: only when it is the configured executor.
    from simulation.dask import DaskExecutor

    return DaskExecutor(url.address)


def _local(url: LocalExecutorUrl) -> Executor:
    from simulation.local import LocalExecutor

    return LocalExecutor(url.workers)


EXECUTORS: dict[type[Any], Callable[[Any], Executor]] = {LocalExecutorUrl: _local, DaskUrl: _dask}


def open_executor(settings: Settings) -> Executor:
    """The configured executor; an unreachable Dask scheduler names ``KGTWIN_EXECUTOR_URL``."""
    url = settings.executor
    return _open("executor_url", lambda: EXECUTORS[type(url)](url))


def build_run_store(backends: Backends) -> RunStore:
    """The simulation runs over the graph, checking requests with the runner's models.

    One per process: the API and an in-process worker share it, so its events carry the
    worker's progress to GraphQL subscriptions.
    """
    from simulation.jobs import RunStore
    from simulation.worker import check_request

    assert backends.graph is not None
    runs = RunStore(backends.graph, validate=check_request)
    runs.ensure_schema()
    return runs


def build_worker(settings: Settings, backends: Backends, runs: RunStore, executor: Executor) -> Worker:
    """A simulation worker over opened backends; its result series go to the telemetry store."""
    from graph.model_store import GraphModelStore
    from ontology.model import ModelSet
    from ontology.registry import ModelRegistry
    from simulation.worker import Worker, simulation_job

    graph = backends.graph
    assert graph is not None

    def models() -> ModelSet:
        # Read afresh for each run: models may have been uploaded since the worker started.
        return ModelRegistry(GraphModelStore(graph), policy=settings.dtdl_policy).models

    job = simulation_job(graph, models, executor, history=backends.telemetry)
    return Worker(
        runs,
        job,
        sink=backends.telemetry,
        lease_s=settings.worker_lease_s,
        time_limit_s=settings.run_time_limit_s,
    )
