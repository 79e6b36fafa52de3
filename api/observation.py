"""What operators see of each API request: its id in every log line, its latency, its errors, slowness.

:class:`ObservedRequests` is the outermost ASGI middleware. For every HTTP request and
websocket (the probes ``/healthz``, ``/readyz`` and ``/metrics`` aside) it

- settles a **request id**: the caller's ``X-Request-Id`` when it is a short token, else a
  new one; bound to structlog's context variables, so every log line the request causes
  (resolvers, drivers, worker threads started with ``asyncio.to_thread``) carries
  ``request_id``, and sent back in the ``X-Request-Id`` response header;
- reports to an :class:`ApiObserver` (the composition root's metrics): requests in flight,
  each request's duration labelled with its GraphQL operation type and top-level field
  (which ``api.operation_labels`` leaves in the request's state) or ``rest``/``http``, and
  the code of every error response the app or a middleware refused with;
- logs a request slower than ``slow_request_s`` as ``request.slow`` with its operation.

The API knows nothing of Prometheus: an observer is a handful of calls, and the default
one does nothing (an app built without the composition root, as in most tests).
"""

from __future__ import annotations

import random
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

import orjson
import structlog

from api.lifecycle import Lifecycle
from api.limits import Asgi, Message, Receive, Scope, Send

PROBES = frozenset({"/healthz", "/readyz", "/metrics"})
"""Paths that are neither counted, timed nor logged: orchestrators ask them every few seconds."""
OPERATION = "kgtwin.operation"
"""Key in the ASGI scope's state of ``(operation type, top-level field, operation name)``."""
ERRORS_COUNTED = "kgtwin.errors_counted"
"""Key in the ASGI scope's state set once the GraphQL errors of a request were reported."""
_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,64}")
_ERROR_BODY_MAX = 16 * 1024
# The codes of refusals whose body says nothing parseable (a framework's plain-text 400).
_STATUS_CODES = {
    400: "BAD_REQUEST",
    401: "UNAUTHENTICATED",
    403: "FORBIDDEN",
    404: "NOT_FOUND",
    405: "BAD_REQUEST",
    409: "CONFLICT",
    413: "LIMIT_EXCEEDED",
    422: "VALIDATION_FAILED",
    429: "LIMIT_EXCEEDED",
    501: "NOT_IMPLEMENTED",
    503: "BACKEND_UNAVAILABLE",
    504: "TIMEOUT",
}

_log = structlog.get_logger("api.requests")


class ApiObserver(Protocol):
    """What the API reports about its requests (``kgtwin.metrics`` turns it into Prometheus metrics).

    ``operation`` is ``query``, ``mutation`` or ``subscription`` for GraphQL, ``invalid``
    for a GraphQL document refused before execution (syntax, validation, limits), ``rest``
    for the REST routes and ``http`` for anything else; ``field`` the GraphQL top-level
    field (``multiple`` when an operation selects several) or the route's path template.
    """

    def request_started(self) -> None: ...

    def request_finished(self, operation: str, field: str, seconds: float) -> None: ...

    def error(self, code: str) -> None: ...

    def subscription_opened(self, field: str) -> None: ...

    def subscription_closed(self, field: str) -> None: ...


class Unobserved:
    """The observer of an app nobody watches."""

    def request_started(self) -> None:
        return None

    def request_finished(self, operation: str, field: str, seconds: float) -> None:
        return None

    def error(self, code: str) -> None:
        return None

    def subscription_opened(self, field: str) -> None:
        return None

    def subscription_closed(self, field: str) -> None:
        return None


MetricsText = Callable[[], tuple[bytes, str]]
"""The metrics exposition: its bytes and content type (``/metrics``)."""


@dataclass
class Observability:
    """How this API process is watched: its observer, ``/metrics``, and the slow-request threshold."""

    observer: ApiObserver = field(default_factory=Unobserved)
    metrics: MetricsText | None = None
    """What ``/metrics`` answers; without it ``/metrics`` is 404."""
    slow_request_s: float = 1.0


def request_id_of(scope: Scope) -> str:
    """The caller's ``X-Request-Id`` when it is a token of 1-64 safe characters, else a new id.

    A new id is 64 random bits in hex: it must tell requests apart in the logs, not be
    unguessable, and ``secrets`` (a system call per id) was 3% of a small query's CPU.
    """
    for name, value in scope.get("headers", ()):
        if name == b"x-request-id":
            text = str(value.decode("latin-1"))
            if _REQUEST_ID.fullmatch(text):
                return text
            break
    return f"{random.getrandbits(64):016x}"


class ObservedRequests:
    """The outermost middleware: request id, in-flight count, latency, error codes, slow requests."""

    def __init__(self, app: Asgi, observability: Observability, lifecycle: Lifecycle) -> None:
        self.app = app
        self.observability = observability
        self.lifecycle = lifecycle

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind == "lifespan" or scope["path"] in PROBES:
            await self.app(scope, receive, send)
            return
        self.lifecycle.arrived()
        request_id = request_id_of(scope)
        state = scope.setdefault("state", {})
        state["request_id"] = request_id
        # Bound and reset by token: structlog's ``bound_contextvars`` reads every context
        # variable to restore them, several times the cost of this whole middleware.
        tokens = structlog.contextvars.bind_contextvars(request_id=request_id)
        try:
            if kind == "http":
                await self._http(scope, receive, send, state, request_id)
            else:  # a websocket: its subscriptions are counted by api.operation_labels
                await self.app(scope, receive, send)
        finally:
            structlog.contextvars.reset_contextvars(**tokens)

    async def _http(
        self, scope: Scope, receive: Receive, send: Send, state: dict[str, Any], request_id: str
    ) -> None:
        observer = self.observability.observer
        header = (b"x-request-id", request_id.encode())
        response: dict[str, Any] = {"status": 0, "body": None}

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                status = message["status"]
                response["status"] = status
                message["headers"] = [*message.get("headers", ()), header]
                if status >= 400:
                    response["body"] = bytearray()
            elif response["body"] is not None and len(response["body"]) < _ERROR_BODY_MAX:
                response["body"] += message.get("body", b"")
            await send(message)

        observer.request_started()
        start = time.perf_counter()
        try:
            await self.app(scope, receive, send_with_id)
        finally:
            seconds = time.perf_counter() - start
            operation, field_name, name = state.get(OPERATION) or _route_labels(scope)
            observer.request_finished(operation, field_name, seconds)
            status = response["status"] or 500  # nothing sent: the server answers 500
            if status >= 400 and not state.get(ERRORS_COUNTED):
                observer.error(_error_code(status, response["body"]))
            if seconds >= self.observability.slow_request_s:
                _log.warning(
                    "request.slow",
                    method=scope.get("method"),
                    path=scope.get("path"),
                    status=status,
                    duration_ms=round(seconds * 1000, 1),
                    operation=operation,
                    field=field_name,
                    operation_name=name,
                )


def _route_labels(scope: Scope) -> tuple[str, str, str | None]:
    """Labels of a request that ran no GraphQL operation: ``rest`` and its route's path template,
    or ``http`` (a refusal before routing, a 404, GraphiQL's page at ``/graphql``)."""
    template = getattr(scope.get("route"), "path", None)
    if isinstance(template, str) and template != "/graphql":
        return "rest", template, None
    return "http", template or "", None


def _error_code(status: int, body: bytearray | None) -> str:
    """The kgtwin code of an error response: ``code`` of problem+json, ``extensions.code`` of
    a GraphQL refusal, else the status's usual code (``INTERNAL`` for a 5xx without one)."""
    try:
        found = orjson.loads(bytes(body or b""))
    except orjson.JSONDecodeError:
        found = None
    if isinstance(found, dict):
        code = found.get("code")
        if isinstance(code, str):
            return code
        errors = found.get("errors")
        if isinstance(errors, list) and errors and isinstance(errors[0], dict):
            extensions = errors[0].get("extensions")
            if isinstance(extensions, dict) and isinstance(extensions.get("code"), str):
                return str(extensions["code"])
    return _STATUS_CODES.get(status, "INTERNAL" if status >= 500 else "BAD_REQUEST")
