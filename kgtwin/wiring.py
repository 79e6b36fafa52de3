"""Wiring: the services built over opened backends (``kgtwin.backends`` opens them).

Ingest, the simulation runs and the worker are built here, once their backends are open,
so each service command (``serve``, ``api``, ``ingest``, ``worker``) assembles only what
it runs. Heavy modules are imported inside the builders: ``kgtwin ingest`` must not load
the simulation stack, nor ``kgtwin worker`` the ingest path.
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

from kgtwin.backends import Backends
from kgtwin.settings import ENV_PREFIX, Settings
from kgtwin.urls import EmbeddedBrokerUrl, MqttUrl
from ontology.errors import ConfigurationInvalid

if TYPE_CHECKING:
    from collections.abc import Callable

    from graph.events import EventBus
    from graph.store import GraphStore
    from ingest.observer import IngestObserver
    from ingest.service import IngestService
    from ingest.source import Source
    from ingest.spool import Spool
    from ingest.subscriber import SessionOptions
    from ontology.model import ModelSet
    from simulation.executor import Executor
    from simulation.fmu.library import FmuLibrary
    from simulation.fmu.shadow import Shadows, ShadowWorker
    from simulation.jobs import RunStore
    from simulation.observer import WorkerObserver
    from simulation.worker import Worker


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


def build_ingest(
    settings: Settings, backends: Backends, observer: IngestObserver | None = None
) -> IngestService:
    """The MQTT ingest service over already opened backends (``graph``, ``telemetry``, ``broker``).

    With an external broker its session is its own connection (persistent, acknowledged by
    hand), next to the backends' broker client. With the embedded broker of this process,
    it claims the broker's intake at once: messages on its topics are handed over in-process
    and acknowledged to their publishers only once durable (``ingest.intake``). Build it
    right after the backends open, so nothing is acknowledged before that.
    """
    from graph.latest import write_latest
    from graph.model_store import GraphModelStore
    from graph.telemetry import some_telemetry_targets, targets_version, telemetry_targets
    from ingest.embedded_broker import running_at
    from ingest.messages import DEFAULT_MAPPING, MessageDecoder
    from ingest.pipeline import Models, Pipeline
    from ingest.service import IngestConfig, IngestService
    from ingest.source import SourceFactory
    from ingest.subscriber import Inbound
    from ingest.targets import TwinTargets
    from ontology.registry import ModelRegistry

    graph, telemetry = backends.graph, backends.telemetry
    assert graph is not None
    assert telemetry is not None
    url = settings.broker
    embedded = isinstance(url, EmbeddedBrokerUrl)
    decoder = MessageDecoder(
        [*settings.ingest_mappings, DEFAULT_MAPPING],
        max_payload_bytes=settings.ingest_max_payload_bytes,
        max_twin_id_length=settings.ingest_max_twin_id_length,
        max_future_skew_s=settings.ingest_max_future_skew_s,
    )
    options = replace(
        broker_session(settings),
        client_id=settings.ingest_client_id,
        filters=decoder.filters,
        share_group=None if embedded else (settings.ingest_shared_group or None),
        session_expiry_s=settings.ingest_session_expiry_s,
    )
    source: SessionOptions | SourceFactory = options
    broker = running_at(url.host, url.port) if embedded else None
    if broker is not None:
        intake, filters = broker.intake, decoder.filters

        def claim(deliver: Callable[[Inbound], None]) -> Source:
            return intake.claim(filters, deliver)

        source = claim

    model_store = GraphModelStore(graph)
    pipeline = Pipeline(
        decoder,
        TwinTargets(
            lambda ids: telemetry_targets(graph, ids),
            version=lambda: targets_version(graph),
            listing=lambda limit: some_telemetry_targets(graph, limit),
            ttl_s=settings.ingest_twin_cache_ttl_s,
            max_bytes=settings.ingest_twin_cache_max_bytes,
        ),
        Models(
            lambda: ModelRegistry(model_store, policy=settings.dtdl_policy).models,
            version=model_store.version,
        ),
    )
    spool = open_spool(settings)
    config = IngestConfig(
        batch_points=settings.ingest_batch_points,
        batch_wait_s=settings.ingest_batch_wait_ms / 1000,
        graph_interval_s=settings.ingest_latest_interval_s,
        warm_twins=settings.ingest_warm_twins,
    )
    backends.on_close(spool.close)
    return IngestService(
        source,
        telemetry,
        pipeline,
        spool,
        write_latest=lambda v: write_latest(graph, v),
        config=config,
        observer=observer,
    )


def without_ingest(settings: Settings) -> None:
    """Tell this process's embedded broker (if any) that no ingest will take its messages.

    It then acknowledges at once, as any broker does, instead of holding messages for an
    ingest that is never built (``kgtwin api`` on the embedded broker).
    """
    from ingest.embedded_broker import running_at

    url = settings.broker
    if isinstance(url, EmbeddedBrokerUrl):
        embedded = running_at(url.host, url.port)
        if embedded is not None:
            embedded.intake.release()


def open_spool(settings: Settings) -> Spool:
    """Ingest's spool file in ``KGTWIN_INGEST_SPOOL_DIR``, or a setting error naming that directory.

    A directory the process cannot create or write (a read-only volume, a file in the way,
    a volume owned by another user) is the operator's to fix: one line, not a traceback.
    """
    import sqlite3

    from ingest.spool import Spool

    path = settings.ingest_spool_dir / f"{settings.ingest_client_id}.sqlite"
    try:
        return Spool(path, max_points=settings.ingest_spool_max_points)
    except (OSError, sqlite3.Error) as exc:
        cause = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise ConfigurationInvalid(
            f"{ENV_PREFIX}INGEST_SPOOL_DIR", f"cannot keep the spool {path} there: {cause}"
        ) from None


def build_run_store(
    backends: Backends, library: FmuLibrary | None = None, settings: Settings | None = None
) -> RunStore:
    """The simulation runs over the graph, checking requests with the runner's models.

    One per process: the API and an in-process worker share it, so its events carry the
    worker's progress to GraphQL subscriptions. With ``library``, an ``fmu`` request is
    checked against its FMUs and their Interfaces before it is queued.
    """
    from simulation.jobs import RunStore, Validator
    from simulation.worker import check_request

    graph = backends.graph
    assert graph is not None
    validate: Validator = check_request
    if library is not None:
        from simulation.fmu.runs import request_check

        validate = request_check(library, lambda: _models(graph, settings))
    runs = RunStore(graph, validate=validate)
    runs.ensure_schema()
    return runs


def build_fmu_library(settings: Settings, backends: Backends) -> FmuLibrary:
    """The FMUs: files under ``KGTWIN_FMU_DIR``, reference nodes in the graph."""
    from graph.fmus import FmuNodes
    from simulation.fmu.library import FmuLibrary
    from simulation.fmu.store import FmuFiles

    assert backends.graph is not None
    nodes = FmuNodes(backends.graph)
    nodes.ensure_schema()
    return FmuLibrary(nodes, FmuFiles(settings.fmu_dir), max_bytes=settings.fmu_max_bytes)


def _models(graph: GraphStore, settings: Settings | None) -> ModelSet:
    from graph.model_store import GraphModelStore
    from ontology.registry import ModelRegistry

    # Read afresh each time: models may have been uploaded since the process started.
    if settings is None:
        return ModelRegistry(GraphModelStore(graph)).models
    return ModelRegistry(GraphModelStore(graph), policy=settings.dtdl_policy).models


def build_worker(
    settings: Settings,
    backends: Backends,
    runs: RunStore,
    executor: Executor,
    library: FmuLibrary | None = None,
    observer: WorkerObserver | None = None,
) -> Worker:
    """A simulation worker over opened backends; its result series go to the telemetry store."""
    from simulation.fmu.runs import prepare_hook
    from simulation.worker import Worker, simulation_job

    graph = backends.graph
    assert graph is not None
    library = library or build_fmu_library(settings, backends)
    job = simulation_job(
        graph,
        lambda: _models(graph, settings),
        executor,
        history=backends.telemetry,
        prepare=prepare_hook(library, backends.telemetry),
    )
    return Worker(
        runs,
        job,
        sink=backends.telemetry,
        lease_s=settings.worker_lease_s,
        time_limit_s=settings.run_time_limit_s,
        # The job's own grace after a stop is part of the service's (the run is requeued first).
        grace_s=min(10.0, settings.shutdown_grace_s / 2),
        observer=observer,
    )


def build_shadows(settings: Settings, backends: Backends, library: FmuLibrary) -> Shadows:
    """Live shadows to start, stop and list, stored in the graph."""
    from graph.shadows import ShadowNodes
    from simulation.fmu.shadow import Shadows

    graph = backends.graph
    assert graph is not None
    nodes = ShadowNodes(graph)
    nodes.ensure_schema()
    return Shadows(nodes, library, graph, lambda: _models(graph, settings))


def build_shadow_worker(
    settings: Settings, backends: Backends, library: FmuLibrary, events: EventBus | None
) -> ShadowWorker:
    """A worker of live shadows over opened backends (graph and telemetry)."""
    from graph.shadows import ShadowNodes
    from simulation.fmu.shadow import ShadowWorker

    graph, telemetry = backends.graph, backends.telemetry
    assert graph is not None
    assert telemetry is not None
    return ShadowWorker(
        ShadowNodes(graph),
        library,
        graph,
        lambda: _models(graph, settings),
        telemetry,
        events=events,
        lease_s=settings.shadow_lease_s,
        capacity=settings.shadow_capacity,
    )
