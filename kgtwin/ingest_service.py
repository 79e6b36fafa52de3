"""The ``kgtwin ingest`` service: MQTT in, points out, in a process of its own.

Kept apart from ``kgtwin.services`` so that an ingest process never imports the API stack
(FastAPI, Strawberry, uvicorn): the microservices profile gives ingest a memory budget.
Its probes and metrics are on the health port (``kgtwin.health``).
"""

from __future__ import annotations

import threading

import structlog

from kgtwin.backends import open_backends
from kgtwin.health import Probes, serve_probes
from kgtwin.lifecycle import CLOSE_MARGIN_S, Deadline, StopSignals
from kgtwin.metrics import IngestMetrics, Metrics
from kgtwin.settings import Settings
from kgtwin.wiring import build_ingest

_log = structlog.get_logger("kgtwin.ingest")


def run_ingest(settings: Settings) -> None:
    """Run the MQTT ingest service until SIGTERM or SIGINT, then drain and return (exit 0).

    Draining stores and acknowledges what was received; what the broker still holds
    stays in the session for the next start (or goes to the group's other processes).
    ``/readyz`` is 503 from the signal on, and while the broker session is down.
    """
    deadline = Deadline(settings.shutdown_grace_s)
    stop = threading.Event()
    signals = StopSignals(stop.set, deadline)
    signals.install()
    metrics = Metrics("ingest")
    observer = IngestMetrics(metrics)
    started = threading.Event()
    backends = open_backends(settings, ("graph", "telemetry", "broker"))
    health = None
    try:
        service = build_ingest(settings, backends, observer)
        observer.watch(service)

        def ready() -> str | None:
            if signals.stopping:
                return "the service is stopping"
            if not started.is_set():
                return "the service is starting"
            return None if service.subscriber.is_connected() else "the MQTT session is down"

        health = serve_probes(
            settings,
            Probes(
                alive=lambda: not started.is_set() or signals.stopping or service.alive(),
                ready=ready,
                metrics=metrics.exposition,
            ),
        )
        service.start()
        started.set()
        _log.info(
            "ingest.started",
            client_id=settings.ingest_client_id,
            subscriptions=service.subscriber.subscriptions,
            protocol=service.subscriber.protocol,
            telemetry=service.store.backend,
        )
        try:
            while not stop.wait(settings.ingest_stats_interval_s):
                _log.info("ingest.stats", **service.stats.to_dict(), spool_points=service.spool.points)
                problem = service.health()
                if problem is not None:
                    # What is not acknowledged stays with the broker: a supervisor restarting
                    # the process loses nothing, a process that lingers unready takes nothing.
                    _log.error("ingest.unhealthy", error=problem)
                    raise SystemExit(1)
        finally:
            clean = service.stop(timeout=max(1.0, deadline.remaining() - CLOSE_MARGIN_S))
            whole_run = service.stats.to_dict(recent=False)
            _log.info("ingest.stopped", **whole_run, spool_points=service.spool.points, drained=clean)
    finally:
        if health is not None:
            health.stop()
        backends.close()
