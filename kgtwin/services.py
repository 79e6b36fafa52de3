"""The long-running services: what ``serve`` and ``api`` start, and how they stop.

Kept apart from the CLI so that ``kgtwin --help`` does not import FastAPI and every
driver; the CLI imports this module only when a service starts.
"""

from __future__ import annotations

import gc
import signal
import socket
import threading
from collections.abc import Callable, Iterable
from dataclasses import replace
from types import FrameType
from typing import TYPE_CHECKING

import structlog
import uvicorn

from api import ApiContext, create_app, twin_context
from api.adt import AdtOptions
from api.adt.event_router import EventRouter
from api.auth import AuthConfig, OidcConfig
from api.lifecycle import Lifecycle
from api.limits import Limits
from api.notifications import ChangeNotifier
from api.observation import Observability
from api.remote_changes import RemoteChanges
from api.system import system_router
from graph.event_routes import EventRouteStore
from graph.events import EventBus
from graph.sites import SiteOwnership
from kgtwin import __version__
from kgtwin.backends import Backends, open_backends, open_executor
from kgtwin.demo import DemoDevices, load_demo
from kgtwin.deployment import deployment_report
from kgtwin.health import Probes, serve_probes
from kgtwin.lifecycle import CLOSE_MARGIN_S, ApiServer, Deadline, StopSignals
from kgtwin.metrics import ApiMetrics, IngestMetrics, Metrics, WorkerMetrics, watch_uplink
from kgtwin.settings import Settings
from kgtwin.uplink import open_uplink
from kgtwin.urls import MqttUrl
from kgtwin.wiring import (
    build_fmu_library,
    build_ingest,
    build_run_store,
    build_shadow_worker,
    build_shadows,
    build_worker,
    without_ingest,
)
from ontology.errors import KgtwinError
from simulation.jobs import RunStore
from telemetry.latest_values import LatestValues

if TYPE_CHECKING:
    from ingest.service import IngestService
    from simulation.fmu.library import FmuLibrary
    from simulation.fmu.shadow import Shadows
    from simulation.worker import Worker

_log = structlog.get_logger("kgtwin.service")


def _stop_on_sigterm(signum: int, _frame: FrameType | None) -> None:
    # uvicorn handles SIGTERM itself, then raises it again once it has shut down; this
    # handler turns that second delivery into SystemExit so the backends close in order.
    raise SystemExit(0)


def security(settings: Settings) -> tuple[AuthConfig, Limits]:
    """The API's authentication and limits, as the settings describe them (docs/security.md)."""
    oidc = None
    # The settings refuse an empty value and a partial set, so "given" is "not None" here.
    if (
        settings.oidc_jwks_url is not None
        and settings.oidc_issuer is not None
        and settings.oidc_audience is not None
    ):
        oidc = OidcConfig(
            issuer=settings.oidc_issuer,
            audience=settings.oidc_audience,
            jwks_url=settings.oidc_jwks_url,
            roles_claim=settings.oidc_roles_claim,
        )
    limits = Limits(
        max_body_bytes=settings.max_body_bytes,
        rate_per_second=settings.rate_limit_per_second,
        rate_burst=settings.rate_limit_burst,
        graphql_max_depth=settings.graphql_max_depth,
        graphql_max_complexity=settings.graphql_max_complexity,
        cypher_timeout_s=settings.cypher_timeout_s,
        cypher_max_rows=settings.cypher_max_rows,
        graphql_max_tokens=settings.graphql_max_tokens,
        cypher_concurrency=dict(settings.cypher_concurrency),
        ws_init_timeout_s=settings.ws_init_timeout_s,
        auth_failures_per_second=settings.auth_failures_per_second,
        auth_failure_burst=settings.auth_failure_burst,
    )
    auth = AuthConfig(api_keys=settings.api_keys, oidc=oidc, cors_origins=tuple(settings.cors_origins))
    return auth, limits


def run_api(
    settings: Settings, *, ports: Iterable[str], profile: str, demo: bool, fd: int | None = None
) -> None:
    """Open the backends, serve the API until a signal, drain, then close everything.

    ``fd`` is a listening socket inherited from ``kgtwin api --workers N``'s supervisor
    (``kgtwin.workers``); without it the process binds ``host:port`` itself.
    """
    signal.signal(signal.SIGTERM, _stop_on_sigterm)
    settings.check_exposure()  # before anything opens: no unauthenticated twin off loopback
    deadline = Deadline(settings.shutdown_grace_s)
    lifecycle = Lifecycle()
    metrics = Metrics(profile)
    observability = Observability(ApiMetrics(metrics), metrics.exposition, settings.slow_request_ms / 1000)
    backends = open_backends(settings, ports)
    try:
        # Ingest is built first: with the embedded broker it claims the broker's intake, so
        # no device is acknowledged before ingest can take its messages; and the API answers
        # latest(name) from its last-value cache. It starts once the API's context has
        # loaded the base ontology (its caches read the graph's versions on every batch).
        ingest = None
        # Before ingest and the worker: the points they store are forwarded to the cloud.
        uplink = open_uplink(settings, backends) if profile == "edge" else None
        if profile == "edge":
            ingest_metrics = IngestMetrics(metrics)
            ingest = build_ingest(settings, backends, ingest_metrics)
            ingest_metrics.watch(ingest)
        else:
            without_ingest(settings)
        if demo and backends.graph is not None:
            report = load_demo(backends.graph)
            _log.info("demo.loaded", twins=report.twins, relationships=report.relationships, ok=report.ok)
        library = build_fmu_library(settings, backends)
        runs = build_run_store(backends, library, settings)
        # One process in the edge profile; in the cloud, replicas see each other's changes.
        context = api_context(
            backends,
            settings,
            follow_others=profile != "edge",
            latest=ingest.latest if ingest is not None else None,
            runs=runs,
            fmus=library,
            shadows=build_shadows(settings, backends, library),
            ingest_health=ingest.health if ingest is not None else None,
            lifecycle=lifecycle,
            observability=observability,
        )
        if uplink is not None and backends.graph is not None:
            uplink.start(backends.graph, context.events, context.require_registry)
            assert uplink.forwarder is not None
            watch_uplink(metrics, uplink.queue, uplink.forwarder)
        worker = None
        if ingest is not None:
            ingest.start()
            service = ingest
            backends.on_close(lambda: _stop_ingest(service, deadline))
            context.events.subscribe(ingest.on_change)  # new twins' telemetry is taken at once
            worker = start_worker(settings, backends, runs, library, WorkerMetrics(metrics))
            start_shadow_worker(settings, backends, library, context.events)
            if demo and backends.broker is not None and settings.demo_interval_s > 0:
                devices = DemoDevices(backends.broker, interval_s=settings.demo_interval_s)
                devices.start()
                backends.on_close(devices.stop)
        app = create_app(context)
        app.include_router(system_router(context, deployment_report(settings, profile, ingest, worker)))
        config = uvicorn.Config(
            app,
            host=settings.host,
            port=settings.port,
            timeout_keep_alive=settings.http_keepalive_s,
            log_config=None,
            # uvicorn logs each request at INFO: below that level it need not even build the line.
            access_log=settings.log_level in ("debug", "info"),
            ssl_certfile=settings.tls_cert_file,
            ssl_keyfile=settings.tls_key_file,
        )
        server = ApiServer(config, lifecycle, drain_s=settings.shutdown_drain_s, deadline=deadline)
        scheme = "https" if settings.tls else "http"
        _log.info(
            "service.starting",
            profile=profile,
            url=f"{scheme}://{settings.host}:{settings.port}/graphql",
            graph=backends.graph.backend if backends.graph else None,
            telemetry=backends.telemetry.backend if backends.telemetry else None,
        )
        _tune_garbage_collector()
        server.run(sockets=None if fd is None else [socket.socket(fileno=fd)])
        if not server.started:
            # uvicorn logs the cause (address in use ...) and returns without serving.
            raise SystemExit(2)
    finally:
        backends.close()
        _log.info("service.stopped", profile=profile)


def _stop_ingest(service: IngestService, deadline: Deadline) -> None:
    if not service.stop(timeout=max(1.0, deadline.remaining() - CLOSE_MARGIN_S)):
        _log.warning("ingest.stop_incomplete", grace_s=deadline.grace_s)


def _tune_garbage_collector() -> None:
    """Keep Python's cyclic collector off the request path.

    Under 32 concurrent GraphQL requests the collector was the largest single cost of the
    server (22-43% of CPU per request, bench/api.py): every request allocates thousands of
    short-lived objects and each young-generation pass also rescans what start-up built.
    Freezing the start-up heap and collecting the young generation less often removes
    that; reference counting still frees everything acyclic at once.
    """
    gc.collect()
    gc.freeze()
    gc.set_threshold(20_000, 10, 10)


def api_context(
    backends: Backends,
    settings: Settings,
    *,
    follow_others: bool,
    latest: LatestValues | None = None,
    runs: RunStore | None = None,
    fmus: FmuLibrary | None = None,
    shadows: Shadows | None = None,
    ingest_health: Callable[[], str | None] | None = None,
    lifecycle: Lifecycle | None = None,
    observability: Observability | None = None,
) -> ApiContext:
    """What the API serves, whole: with a graph, its model registry (base ontology loaded), twin
    graph, API keys and change events; with a broker too, those events published to MQTT
    (``kgtwin/events/...``); authentication and limits as ``settings`` say. With
    ``follow_others`` (the cloud's replicas), twins of edge sites are read-only (``FORBIDDEN``).

    With ``follow_others`` (the cloud profile, where the API may run as several processes),
    the other processes' events are read back from MQTT into this one's subscriptions
    (``api.remote_changes``). ``latest`` is ingest's last-value cache when ingest runs in
    this process, and ``ingest_health`` its readiness (``/readyz``); ``runs`` the simulation
    runs; ``fmus`` and ``shadows`` the FMU library and the live shadows; ``lifecycle`` and
    ``observability`` how the process is stopped and watched (``kgtwin.lifecycle``,
    ``kgtwin.metrics``). The model registry reads models with the DTDL policy of ``settings``.
    """
    auth, limits = security(settings)
    bus = EventBus()
    adt = adt_surface(backends, settings, bus)
    lifecycle = lifecycle or Lifecycle()
    observability = observability or Observability(slow_request_s=settings.slow_request_ms / 1000)
    if backends.graph is None:
        return ApiContext(
            version=__version__,
            telemetry=backends.telemetry,
            broker=backends.broker,
            latest=latest,
            runs=runs,
            fmus=fmus,
            shadows=shadows,
            auth=auth,
            limits=limits,
            ingest_health=ingest_health,
            lifecycle=lifecycle,
            observability=observability,
            events=bus,
            adt=adt,
        )
    # In the cloud, the twins of edge sites change only through their site (docs/edge-cloud.md).
    guard = SiteOwnership(backends.graph).check_writable if follow_others else None
    context = twin_context(
        __version__,
        backends.graph,
        telemetry=backends.telemetry,
        broker=backends.broker,
        latest=latest,
        runs=runs,
        fmus=fmus,
        shadows=shadows,
        auth=auth,
        limits=limits,
        policy=settings.dtdl_policy,
        ingest_health=ingest_health,
        lifecycle=lifecycle,
        observability=observability,
        events=bus,
        adt=adt,
        guard=guard,
    )
    if backends.broker is not None:
        notifier = ChangeNotifier(context.events, backends.broker)
        notifier.start()
        backends.on_close(notifier.stop)  # closers run in reverse: before the broker closes
        if follow_others:
            remote = RemoteChanges(context.events, backends.broker, notifier.origin)
            try:
                remote.start()
            except KgtwinError as exc:  # serve anyway: only other replicas' changes go unseen
                _log.warning("remote_changes.unavailable", error=exc.message)
            else:
                backends.on_close(remote.stop)
    return context


def adt_surface(backends: Backends, settings: Settings, bus: EventBus) -> AdtOptions:
    """The ADT surface's settings, with its event router when there is a graph and a broker.

    The router publishes the events chosen by the stored event routes to their endpoints'
    MQTT topics (docs/adt-compatibility.md); it stops before the broker closes.
    """
    options = AdtOptions(
        endpoints=dict(settings.adt_endpoints),
        files_dir=settings.adt_files_dir,
        event_source=settings.adt_event_source,
        job_lease_s=settings.adt_job_lease_s,
    )
    if backends.graph is None or backends.broker is None:
        return options
    router = EventRouter(bus, backends.broker, EventRouteStore(backends.graph), options)
    router.start()
    backends.on_close(router.stop)
    return replace(options, publish_telemetry=router.publish, refresh_routes=router.refresh)


def start_worker(
    settings: Settings,
    backends: Backends,
    runs: RunStore,
    library: FmuLibrary | None = None,
    observer: WorkerMetrics | None = None,
) -> Worker:
    """Run a simulation worker in a thread of this process until the backends close.

    Closing stops it first: its current run goes back to the queue, then the executor's
    processes stop.
    """
    executor = open_executor(settings)
    backends.on_close(executor.close)
    worker = build_worker(settings, backends, runs, executor, library, observer)
    if observer is not None:
        observer.watch(worker)
    thread = threading.Thread(target=worker.serve, name="simulation-worker", daemon=True)
    thread.start()

    def stop() -> None:
        worker.stop()
        thread.join(worker.grace_s + worker.heartbeat_s)

    backends.on_close(stop)
    return worker


def start_shadow_worker(
    settings: Settings, backends: Backends, library: FmuLibrary, events: EventBus | None
) -> threading.Thread:
    """Run the live shadows this process claims, in a thread, until the backends close.

    Closing stops it: its shadows are released for another worker at once.
    """
    shadows = build_shadow_worker(settings, backends, library, events)
    thread = threading.Thread(target=shadows.serve, name="shadow-worker", daemon=True)
    thread.start()

    def stop() -> None:
        shadows.stop()
        thread.join(10.0)

    backends.on_close(stop)
    return thread


def run_worker(settings: Settings) -> None:
    """Run the simulation worker service until SIGTERM or SIGINT, then return (exit 0).

    A signal stops the current run through its ``cancelled`` callable and puts it back in
    the queue for another worker (docs/simulation-jobs.md), so a stop takes at most one
    batch of replications, not a whole run. ``/readyz`` on the health port is 503 from
    the signal on, and while the graph (the queue) does not answer.
    """
    deadline = Deadline(settings.shutdown_grace_s)
    metrics = Metrics("worker")
    observer = WorkerMetrics(metrics)
    worker: Worker | None = None

    def stop() -> None:
        if worker is not None:
            worker.stop()

    signals = StopSignals(stop, deadline)
    signals.install()
    # An external broker carries shadows' drift events; the embedded one is `kgtwin serve`'s.
    external = isinstance(settings.broker, MqttUrl)
    ports = ("graph", "telemetry", "broker") if external else ("graph", "telemetry")
    backends = open_backends(settings, ports)
    health = None
    try:
        executor = open_executor(settings)
        backends.on_close(executor.close)
        library = build_fmu_library(settings, backends)
        worker = build_worker(
            settings, backends, build_run_store(backends, library, settings), executor, library, observer
        )
        observer.watch(worker)
        events = EventBus()
        if backends.broker is not None:
            notifier = ChangeNotifier(events, backends.broker)
            notifier.start()
            backends.on_close(notifier.stop)
        start_shadow_worker(settings, backends, library, events)
        graph = backends.graph
        assert graph is not None

        def ready() -> str | None:
            if signals.stopping:
                return "the worker is stopping"
            try:
                graph.ping()
            except KgtwinError as exc:
                return f"the graph does not answer: {exc.message}"
            return None

        health = serve_probes(settings, Probes(alive=lambda: True, ready=ready, metrics=metrics.exposition))
        if signals.stopping:  # the signal came while the backends were opening
            worker.stop()
        _log.info("worker.starting", executor=settings.executor_url, worker=worker.name)
        worker.serve()
    finally:
        if health is not None:
            health.stop()
        backends.close()
