"""The long-running services: what ``serve`` and ``api`` start, and how they stop.

Kept apart from the CLI so that ``kgtwin --help`` does not import FastAPI and every
driver; the CLI imports this module only when a service starts.
"""

from __future__ import annotations

import signal
from collections.abc import Iterable
from types import FrameType

import structlog
import uvicorn

from api import ApiContext, create_app
from kgtwin import __version__
from kgtwin.settings import Settings
from kgtwin.wiring import open_backends

_log = structlog.get_logger("kgtwin.service")


def _stop_on_sigterm(signum: int, _frame: FrameType | None) -> None:
    # uvicorn handles SIGTERM itself, then raises it again once it has shut down; this
    # handler turns that second delivery into SystemExit so the backends close in order.
    raise SystemExit(0)


def run_api(settings: Settings, *, ports: Iterable[str], profile: str, demo: bool) -> None:
    """Open the backends, serve the API until interrupted, then close everything."""
    signal.signal(signal.SIGTERM, _stop_on_sigterm)
    backends = open_backends(settings, ports)
    try:
        if demo:
            _log.warning("demo.unavailable", reason="the demo twin lands in a later release; serving empty")
        if profile == "edge":
            _log.info(
                "service.partial",
                reason="MQTT ingest and the simulation worker land in later releases; serving the API",
            )
        context = ApiContext(
            version=__version__, graph=backends.graph, telemetry=backends.telemetry, broker=backends.broker
        )
        config = uvicorn.Config(
            create_app(context), host=settings.host, port=settings.port, log_config=None, access_log=True
        )
        server = uvicorn.Server(config)
        _log.info(
            "service.starting",
            profile=profile,
            url=f"http://{settings.host}:{settings.port}/graphql",
            graph=backends.graph.backend if backends.graph else None,
            telemetry=backends.telemetry.backend if backends.telemetry else None,
        )
        server.run()
        if not server.started:
            # uvicorn logs the cause (address in use ...) and returns without serving.
            raise SystemExit(2)
    finally:
        backends.close()
        _log.info("service.stopped", profile=profile)
