"""Pages of other origins: CORS for the origins the operator lists, refusal for the rest.

``KGTWIN_CORS_ORIGINS`` lists the origins (``https://app.example.com``) whose pages may
call the API, credentials included (``Authorization``, ``X-API-Key``, cookies of a proxy
in front). Starlette's ``CORSMiddleware`` answers their preflight requests and adds the
``Access-Control-*`` headers, on every answer including refusals (401, 413, 429), so a
page can read why it was refused. With no origin listed (the default) no header is
added and browsers let only pages of the API's own origin read its answers.

CORS only stops a page from *reading* an answer. A browser sends some cross-origin
requests without asking first (a form ``POST``, a websocket), and the loopback edge
profile has no credentials to check: any page its owner visits could upload models or
subscribe to telemetry. So :class:`OriginGuard` refuses a state-changing request or a
websocket whose ``Origin`` is neither the API's own nor listed: 403 problem+json, or a
websocket closed with 4403. Requests without ``Origin`` (every non-browser client) pass.
"""

from __future__ import annotations

from collections.abc import Sequence
from urllib.parse import urlsplit

from fastapi import FastAPI
from starlette.datastructures import Headers
from starlette.middleware.cors import CORSMiddleware

from api.limits import Asgi, Receive, Scope, Send, refuse
from api.ws_handshake import refuse_socket
from ontology.errors import ErrorCode

_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
_ALLOWED_METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE"]
# What a front end sends beyond the CORS-safelisted headers.
_ALLOWED_HEADERS = ["Authorization", "X-API-Key", "Content-Type", "If-Match", "If-None-Match"]
# What a front end may read beyond the CORS-safelisted answer headers.
_EXPOSED_HEADERS = ["ETag", "Location", "Retry-After", "WWW-Authenticate"]
PREFLIGHT_MAX_AGE_S = 600
_DEFAULT_PORTS = {"http": 80, "https": 443, "ws": 80, "wss": 443}


def allow_origins(app: FastAPI, origins: Sequence[str]) -> None:
    """Install the origin guard and, for listed origins, CORS (outermost: after the other middleware)."""
    app.add_middleware(OriginGuard, allowed=frozenset(origins))
    if origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=list(origins),
            allow_credentials=True,
            allow_methods=_ALLOWED_METHODS,
            allow_headers=_ALLOWED_HEADERS,
            expose_headers=_EXPOSED_HEADERS,
            max_age=PREFLIGHT_MAX_AGE_S,
        )


class OriginGuard:
    """Refuses state-changing requests and websockets from pages of origins not allowed."""

    def __init__(self, app: Asgi, allowed: frozenset[str]) -> None:
        self.app = app
        self.allowed = allowed

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind not in ("http", "websocket") or (kind == "http" and scope.get("method") in _SAFE_METHODS):
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        origin = headers.get("origin")
        if origin is None or origin in self.allowed or _same_origin(origin, headers.get("host")):
            await self.app(scope, receive, send)
            return
        message = f"pages of {origin} may not call this API (KGTWIN_CORS_ORIGINS lists the allowed origins)"
        if kind == "websocket":
            await refuse_socket(receive, send, scope, 4403, f"FORBIDDEN: {message}")
            return
        await refuse(scope, receive, send, 403, ErrorCode.FORBIDDEN, message)


def _same_origin(origin: str, host: str | None) -> bool:
    """Whether ``origin`` names the host and port the request was sent to.

    The scheme is not compared (TLS may end at a proxy in front); a port left out is the
    default one of the origin's scheme on both sides.
    """
    if host is None:
        return False
    try:
        page = urlsplit(origin)
        target = urlsplit(f"//{host.strip()}")
        default = _DEFAULT_PORTS.get(page.scheme.lower())
        return page.hostname is not None and (page.hostname, page.port or default) == (
            target.hostname,
            target.port or default,
        )
    except ValueError:  # a port that is not a number
        return False
