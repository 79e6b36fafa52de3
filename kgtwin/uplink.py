"""Wiring of edge and cloud together: the edge's uplink in ``kgtwin serve``, and ``kgtwin uplink-receiver``.

The receiver is a service of its own rather than a role of ``kgtwin ingest``: ingest
processes share the device stream through an MQTT shared subscription (any message to
any process), while a site's stream must be applied in order by one consumer; and the
receiver writes the cloud's graph, which ingest never does. It scales by site, not by
message rate, and can be restarted without touching device ingestion (docs/edge-cloud.md).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from dataclasses import dataclass, replace

import structlog

from api.notifications import ChangeNotifier
from graph.events import EventBus
from graph.model_store import GraphModelStore
from graph.sites import site_snapshot
from graph.store import GraphStore
from graph.twins import TwinGraph
from ingest.uplink import Forwarder, ForwardingTelemetryStore, SiteChanges, UplinkOptions
from ingest.uplink_downlink import ModelDownlink
from ingest.uplink_queue import UplinkQueue
from ingest.uplink_receiver import UplinkReceiver
from kgtwin.backends import Backends, open_backends
from kgtwin.health import Probes, serve_probes
from kgtwin.lifecycle import Deadline, StopSignals
from kgtwin.metrics import Metrics, watch_receiver
from kgtwin.settings import Settings
from kgtwin.wiring import broker_session
from ontology.model import ModelSet
from ontology.registry import ModelRegistry

_log = structlog.get_logger("kgtwin.uplink")
DRAIN_ON_STOP_S = 5.0
"""How long a stopping edge keeps sending its backlog while the link is up."""


@dataclass
class EdgeUplink:
    """The edge's uplink parts: its queue, the telemetry tap, and (once started) changes and forwarder."""

    settings: Settings
    queue: UplinkQueue
    forwarder: Forwarder | None = None
    changes: SiteChanges | None = None

    def start(self, store: GraphStore, events: EventBus, registry: Callable[[], ModelRegistry]) -> None:
        """Follow the site's changes and start sending (the link may be down: the queue waits).

        ``registry`` answers the edge's model registry, which the downlink changes.
        """
        site = self.settings.uplink_site
        url = self.settings.uplink
        assert site is not None
        assert url is not None

        def models() -> ModelSet:
            return registry().models

        changes = SiteChanges(store, models, self.queue, site)
        events.subscribe(changes.on_change)
        options = UplinkOptions(
            host=url.host,
            port=url.port,
            site=site,
            client_id=self.settings.uplink_client_id or f"kgtwin-uplink-{site}",
            user=url.user,
            password=url.password,
            tls=url.tls,
        )

        def snapshot() -> bytes:
            body = site_snapshot(store, models(), site)
            return json.dumps(body, separators=(",", ":")).encode("utf-8")

        downlink = ModelDownlink(store, registry, self.queue, site, policy=self.settings.dtdl_policy)
        self.changes = changes
        self.forwarder = Forwarder(
            self.queue, options, snapshot, before_snapshot=changes.refresh, on_model=downlink.apply
        )
        self.forwarder.start()
        _log.info("uplink.started", site=site, broker=f"{url.host}:{url.port}", waiting=len(self.queue))

    def stop(self) -> None:
        if self.forwarder is not None:
            # Ingest and the devices have stopped by now (closers run in reverse order).
            self.forwarder.stop(drain_s=DRAIN_ON_STOP_S)
        self.queue.close()


def open_uplink(settings: Settings, backends: Backends) -> EdgeUplink | None:
    """With ``KGTWIN_UPLINK_URL`` set: the queue, and the telemetry store wrapped to feed it.

    Call before ingest and the worker are built, so every point they store is forwarded.
    """
    if settings.uplink_url is None or backends.telemetry is None:
        return None
    queue = UplinkQueue(
        settings.uplink_queue_dir / "queue.sqlite3",
        max_bytes=settings.uplink_max_bytes,
        max_age_s=settings.uplink_max_age_s,
    )
    backends.telemetry = ForwardingTelemetryStore(backends.telemetry, queue)
    uplink = EdgeUplink(settings, queue)
    backends.on_close(uplink.stop)
    return uplink


def build_receiver(settings: Settings, backends: Backends, events: EventBus | None = None) -> UplinkReceiver:
    """The cloud's receiver over opened ``graph`` and ``telemetry`` backends."""
    graph, telemetry = backends.graph, backends.telemetry
    assert graph is not None
    assert telemetry is not None
    model_store = GraphModelStore(graph)
    registry = ModelRegistry(model_store, policy=settings.dtdl_policy, version=model_store.version)
    twins = TwinGraph(graph, lambda: registry.models, events=events)
    options = replace(broker_session(settings), client_id=settings.uplink_receiver_client_id)
    return UplinkReceiver(options, twins, telemetry, refresh_models=registry.refresh)


def run_receiver(settings: Settings) -> None:
    """``kgtwin uplink-receiver``: take every site's stream until SIGTERM or SIGINT.

    Like ``kgtwin ingest``, it answers ``/healthz``, ``/readyz`` and ``/metrics`` on
    ``KGTWIN_HEALTH_PORT`` (``kgtwin.health``); ready once its session is up, not while stopping.
    """
    stop = threading.Event()
    signals = StopSignals(stop.set, Deadline(settings.shutdown_grace_s))
    signals.install()
    metrics = Metrics("uplink-receiver")
    backends = open_backends(settings, ("graph", "telemetry", "broker"))
    health = None
    try:
        events = EventBus()
        if backends.broker is not None:
            # The API replicas read the cloud's change events from MQTT: the receiver's too.
            notifier = ChangeNotifier(events, backends.broker)
            notifier.start()
            backends.on_close(notifier.stop)
        receiver = build_receiver(settings, backends, events)
        watch_receiver(metrics, receiver)
        started = threading.Event()

        def ready() -> str | None:
            if signals.stopping:
                return "the service is stopping"
            if not started.is_set():
                return "the service is starting"
            return None if receiver.healthy() else "the MQTT session is down"

        health = serve_probes(
            settings,
            Probes(
                alive=lambda: not started.is_set() or signals.stopping or receiver.alive(),
                ready=ready,
                metrics=metrics.exposition,
            ),
        )
        receiver.start()
        started.set()
        _log.info("uplink_receiver.started")
        while not stop.wait(10.0):
            for site, counts in receiver.counts().items():
                _log.info("uplink_receiver.site", site=site, **counts.__dict__)
        receiver.stop()
    finally:
        if health is not None:
            health.stop()
        backends.close()
        _log.info("uplink_receiver.stopped")
