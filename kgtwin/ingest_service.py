"""The ``kgtwin ingest`` service: MQTT in, points out, in a process of its own.

Kept apart from ``kgtwin.services`` so that an ingest process never imports the API stack
(FastAPI, Strawberry, uvicorn): the microservices profile gives ingest a memory budget.
"""

from __future__ import annotations

import signal
import threading
from types import FrameType

import structlog

from kgtwin.backends import open_backends
from kgtwin.settings import Settings
from kgtwin.wiring import build_ingest

_log = structlog.get_logger("kgtwin.ingest")


def run_ingest(settings: Settings) -> None:
    """Run the MQTT ingest service until SIGTERM or SIGINT, then drain and return (exit 0).

    Draining stores and acknowledges what was received; what the broker still holds
    stays in the session for the next start (or goes to the group's other processes).
    """
    stop = threading.Event()

    def _request_stop(signum: int, _frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, _request_stop)
    signal.signal(signal.SIGINT, _request_stop)
    backends = open_backends(settings, ("graph", "telemetry", "broker"))
    try:
        service = build_ingest(settings, backends)
        service.start()
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
            service.stop()
            whole_run = service.stats.to_dict(recent=False)
            _log.info("ingest.stopped", **whole_run, spool_points=service.spool.points)
    finally:
        backends.close()
