"""The long-running services: what ``serve`` and ``api`` start, and how they stop.

Kept apart from the CLI so that ``kgtwin --help`` does not import FastAPI and every
driver; the CLI imports this module only when a service starts.
"""

from __future__ import annotations

import gc
import signal
import threading
from collections.abc import Iterable
from types import FrameType

import structlog
import uvicorn

from api import ApiContext, create_app
from api.adt import AdtOptions
from api.adt.event_router import EventRouter
from api.auth import AuthConfig, OidcConfig
from api.context import twin_context
from api.limits import Limits
from api.notifications import ChangeNotifier
from api.remote_changes import RemoteChanges
from graph.event_routes import EventRouteStore
from kgtwin import __version__
from kgtwin.demo import DemoDevices, load_demo
from kgtwin.settings import Settings
from kgtwin.wiring import (
    Backends,
    broker_session,
    build_ingest,
    build_run_store,
    build_worker,
    open_backends,
    open_executor,
)
from ontology.errors import KgtwinError
from simulation.jobs import RunStore

_log = structlog.get_logger("kgtwin.service")


def _stop_on_sigterm(signum: int, _frame: FrameType | None) -> None:
    # uvicorn handles SIGTERM itself, then raises it again once it has shut down; this
    # handler turns that second delivery into SystemExit so the backends close in order.
    raise SystemExit(0)


def security(settings: Settings) -> tuple[AuthConfig, Limits]:
    """The API's authentication and limits, as the settings describe them (docs/security.md)."""
    oidc = None
    if settings.oidc_jwks_url and settings.oidc_issuer and settings.oidc_audience:
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
    )
    return AuthConfig(api_keys=settings.api_keys, oidc=oidc), limits


def run_api(settings: Settings, *, ports: Iterable[str], profile: str, demo: bool) -> None:
    """Open the backends, serve the API until interrupted, then close everything."""
    signal.signal(signal.SIGTERM, _stop_on_sigterm)
    settings.check_exposure()  # before anything opens: no unauthenticated twin off loopback
    backends = open_backends(settings, ports)
    try:
        if demo and backends.graph is not None:
            # Before the API and ingest start, so their caches begin with the demo's twins.
            report = load_demo(backends.graph)
            _log.info("demo.loaded", twins=report.twins, relationships=report.relationships, ok=report.ok)
        runs = build_run_store(backends)
        # One process in the edge profile; in the cloud, replicas see each other's changes.
        context = api_context(backends, settings=settings if profile != "edge" else None)
        if profile == "edge":
            ingest = build_ingest(settings, backends)
            ingest.start()
            backends._closers.append(ingest.stop)
            context.latest = ingest.latest  # the API answers latest(name) from ingest's cache
            context.events.subscribe(ingest.on_change)  # new twins' telemetry is taken at once
            start_worker(settings, backends, runs)
            if demo and backends.broker is not None:
                devices = DemoDevices(backends.broker, interval_s=settings.demo_interval_s)
                devices.start()
                backends._closers.append(devices.stop)
        context.auth, context.limits = security(settings)
        context.runs = runs
        start_adt(context, backends, settings)
        config = uvicorn.Config(
            create_app(context),
            host=settings.host,
            port=settings.port,
            log_config=None,
            access_log=True,
            ssl_certfile=settings.tls_cert_file,
            ssl_keyfile=settings.tls_key_file,
        )
        server = uvicorn.Server(config)
        scheme = "https" if settings.tls else "http"
        _log.info(
            "service.starting",
            profile=profile,
            url=f"{scheme}://{settings.host}:{settings.port}/graphql",
            graph=backends.graph.backend if backends.graph else None,
            telemetry=backends.telemetry.backend if backends.telemetry else None,
        )
        _tune_garbage_collector()
        server.run()
        if not server.started:
            # uvicorn logs the cause (address in use ...) and returns without serving.
            raise SystemExit(2)
    finally:
        backends.close()
        _log.info("service.stopped", profile=profile)


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


def api_context(backends: Backends, *, settings: Settings | None = None) -> ApiContext:
    """What the API serves: with a graph, its model registry (base ontology loaded), twin graph
    and change events; with a broker too, those events published to MQTT (``kgtwin/events/...``).

    With ``settings`` (the cloud profile, where the API may run as several processes), the
    other processes' events are read back from MQTT into this one's subscriptions
    (``api.remote_changes``).
    """
    if backends.graph is None:
        return ApiContext(version=__version__, telemetry=backends.telemetry, broker=backends.broker)
    context = twin_context(__version__, backends.graph, telemetry=backends.telemetry, broker=backends.broker)
    if backends.broker is not None:
        notifier = ChangeNotifier(context.events, backends.broker)
        notifier.start()
        backends._closers.append(notifier.stop)  # closers run in reverse: before the broker closes
        if settings is not None:
            remote = RemoteChanges(context.events, broker_session(settings), notifier.origin)
            try:
                remote.start()
            except KgtwinError as exc:  # serve anyway: only other replicas' changes go unseen
                _log.warning("remote_changes.unavailable", error=exc.message)
            else:
                backends._closers.append(remote.stop)
    return context


def start_adt(context: ApiContext, backends: Backends, settings: Settings) -> None:
    """The ADT surface's settings, and its event router when there is a graph and a broker.

    The router publishes the events chosen by the stored event routes to their endpoints'
    MQTT topics (docs/adt-compatibility.md); it stops before the broker closes.
    """
    context.adt = AdtOptions(
        endpoints=dict(settings.adt_endpoints),
        files_dir=settings.adt_files_dir,
        event_source=settings.adt_event_source,
    )
    if backends.graph is None or backends.broker is None:
        return
    router = EventRouter(context.events, backends.broker, EventRouteStore(backends.graph), context.adt)
    router.start()
    backends._closers.append(router.stop)
    context.adt.publish_telemetry = router.publish
    context.adt.refresh_routes = router.refresh


def start_worker(settings: Settings, backends: Backends, runs: RunStore) -> None:
    """Run a simulation worker in a thread of this process until the backends close.

    Closing stops it first: its current run goes back to the queue, then the executor's
    processes stop.
    """
    executor = open_executor(settings)
    backends._closers.append(executor.close)
    worker = build_worker(settings, backends, runs, executor)
    thread = threading.Thread(target=worker.serve, name="simulation-worker", daemon=True)
    thread.start()

    def stop() -> None:
        worker.stop()
        thread.join(worker.grace_s + worker.heartbeat_s)

    backends._closers.append(stop)


def run_worker(settings: Settings) -> None:
    """Run the simulation worker service until SIGTERM or SIGINT, then return (exit 0).

    A signal stops the current run through its ``cancelled`` callable and puts it back in
    the queue for another worker (docs/simulation-jobs.md), so a stop takes at most one
    batch of replications, not a whole run.
    """
    backends = open_backends(settings, ("graph", "telemetry"))
    try:
        executor = open_executor(settings)
        backends._closers.append(executor.close)
        worker = build_worker(settings, backends, build_run_store(backends), executor)

        def _request_stop(signum: int, _frame: FrameType | None) -> None:
            # Not worker.stop() here: the handler may interrupt the main thread inside the
            # very Event it would set, and threading's locks are not reentrant.
            threading.Thread(target=worker.stop).start()

        signal.signal(signal.SIGTERM, _request_stop)
        signal.signal(signal.SIGINT, _request_stop)
        _log.info("worker.starting", executor=settings.executor_url, worker=worker.name)
        worker.serve()
    finally:
        backends.close()
