"""The health port of ``kgtwin ingest`` and ``kgtwin worker``: ``/healthz``, ``/readyz`` and ``/metrics``.

These services have no web server of their own, and must not load the API stack
(FastAPI, Strawberry) for three probes: the standard library's threaded HTTP server
answers them on ``KGTWIN_HOST``:``KGTWIN_HEALTH_PORT`` (8001), with the bodies the API's
own probes have (JSON, problem+json when not ready).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import structlog

from kgtwin.settings import ENV_PREFIX, Settings
from ontology.errors import ConfigurationInvalid, ErrorCode

_log = structlog.get_logger("kgtwin.health")


@dataclass(frozen=True)
class Probes:
    """What a service answers: alive (``/healthz``), ready (``/readyz``, with the reason when
    not) and its metrics (``/metrics``: bytes and content type)."""

    alive: Callable[[], bool]
    ready: Callable[[], str | None]
    """None when ready, else why not (``"stopping"``, ``"broker disconnected"`` ...)."""
    metrics: Callable[[], tuple[bytes, str]]


class HealthServer:
    """A threaded HTTP server answering the three probes until :meth:`stop`."""

    def __init__(self, host: str, port: int, probes: Probes) -> None:
        handler = type("ProbeHandler", (_ProbeHandler,), {"probes": probes})
        try:
            self._server = ThreadingHTTPServer((host, port), handler)
        except OSError as exc:
            raise ConfigurationInvalid(f"{ENV_PREFIX}HEALTH_PORT", f"{host}:{port}: {exc}") from None
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, name="health", daemon=True)

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    def start(self) -> None:
        self._thread.start()
        _log.info("health.listening", port=self.port)

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()


def serve_probes(settings: Settings, probes: Probes) -> HealthServer | None:
    """Start the health port the settings name (none when ``health_port`` is 0)."""
    if settings.health_port == 0:
        return None
    server = HealthServer(settings.host, settings.health_port, probes)
    server.start()
    return server


class _ProbeHandler(BaseHTTPRequestHandler):
    probes: Probes

    def do_GET(self) -> None:
        path = self.path.split("?", 1)[0]
        if path == "/healthz":
            if self.probes.alive():
                self._json(200, {"status": "ok"})
            else:
                self._problem(503, "Not alive", "a thread of the service has stopped")
        elif path == "/readyz":
            reason = self.probes.ready()
            if reason is None:
                self._json(200, {"status": "ready"})
            else:
                self._problem(503, "Not ready", reason)
        elif path == "/metrics":
            body, content_type = self.probes.metrics()
            self._send(200, body, content_type)
        else:
            self._problem(404, "Not found", f"{path}: this port answers /healthz, /readyz and /metrics")

    def _json(self, status: int, body: dict[str, Any]) -> None:
        self._send(status, json.dumps(body).encode(), "application/json")

    def _problem(self, status: int, title: str, detail: str) -> None:
        code = ErrorCode.NOT_FOUND if status == 404 else ErrorCode.BACKEND_UNAVAILABLE
        body = {"type": "about:blank", "title": title, "status": status, "detail": detail, "code": code}
        self._send(status, json.dumps(body).encode(), "application/problem+json")

    def _send(self, status: int, body: bytes, content_type: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        # Probes come every few seconds; their lines would drown the service's own.
        return
