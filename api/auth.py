"""Who is calling: API keys and OIDC bearer tokens, turned into ``request.state.principal``.

Every HTTP request and websocket connection passes :class:`AuthMiddleware`, which puts
an :class:`~api.roles.Principal` in the ASGI scope's state, where resolvers and REST
handlers find it as ``request.state.principal`` and check it with ``principal.require``.

- Auth off (the edge profile on loopback; ``Settings.check_exposure`` refuses any other
  bind address): every caller is ``LOCAL_ADMIN``.
- Auth on: ``Authorization: Bearer <token>`` carries an API key (``kgt_...``) or a JWT
  from the OIDC provider; ``X-API-Key: kgt_...`` carries a key. A websocket (GraphQL
  subscriptions) may send either as headers or, since browsers cannot set websocket
  headers, in the ``connection_init`` payload (``{"Authorization": "Bearer ..."}`` or
  ``{"apiKey": "kgt_..."}``), which is read here before the GraphQL server sees the
  connection, so the principal is settled before any context is built.

A request without valid credentials is refused before it reaches a handler: REST with
401 problem+json ``UNAUTHENTICATED``; ``/graphql`` over HTTP with 401 and a GraphQL body
(``errors[0].extensions.code`` ``UNAUTHENTICATED``), so both HTTP and GraphQL clients see
why; a websocket is closed with 4403 (graphql-transport-ws's code for a refused
``connection_init``). Health probes, the OpenAPI document and the GraphiQL page are public.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import jwt
import strawberry
import structlog
from fastapi import FastAPI
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import Headers, QueryParams

from api.limits import (
    GRAPHQL_PATH,
    Asgi,
    BodyLimitMiddleware,
    GraphQLLimits,
    Limits,
    Message,
    RateLimitMiddleware,
    Receive,
    Scope,
    Send,
    TokenBucket,
    refuse,
)
from api.roles import ANONYMOUS, LOCAL_ADMIN, Principal, Role, Unauthenticated, known_roles
from graph.api_keys import KEY_PREFIX, ApiKey, ApiKeyStore, hash_key
from ontology.errors import BackendUnavailable, ErrorCode, KgtwinError

_log = structlog.get_logger("api.auth")

# Asymmetric algorithms only: a JWKS publishes public keys, and accepting HS* would let
# anyone who has the public key sign tokens with it (the classic algorithm confusion).
ALGORITHMS = ["RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"]
PUBLIC_PATHS = frozenset({"/healthz", "/readyz", "/openapi.json", "/docs", "/docs/oauth2-redirect", "/redoc"})
_GRAPHQL_WS = ("graphql-transport-ws", "graphql-ws")
_CLOCK_SKEW_S = 10
# A socket that never sends connection_init must not be held open for ever.
_INIT_TIMEOUT_S = 10.0


@dataclass(frozen=True)
class OidcConfig:
    """The identity provider whose tokens are accepted (all three of issuer, audience, JWKS URL)."""

    issuer: str
    audience: str
    jwks_url: str
    roles_claim: str = "roles"
    """Dotted path to the claim listing kgtwin role names, e.g. ``realm_access.roles`` for Keycloak."""


@dataclass(frozen=True)
class AuthConfig:
    """How callers prove who they are; neither API keys nor OIDC means auth is off."""

    api_keys: bool = False
    oidc: OidcConfig | None = None
    key_cache_s: float = 10.0
    """How long a looked-up key is trusted: a revocation reaches every process within this."""

    @property
    def enabled(self) -> bool:
        return self.api_keys or self.oidc is not None


class Authenticator:
    """Turns the credentials of a request into a principal, or raises ``Unauthenticated``.

    Blocking (a graph lookup, a JWKS fetch): the middleware calls it in a thread.
    """

    def __init__(self, config: AuthConfig, keys: ApiKeyStore | None) -> None:
        self.config = config
        self.keys = keys
        self._key_cache: dict[str, tuple[ApiKey | None, float]] = {}
        self._jwks = (
            jwt.PyJWKClient(config.oidc.jwks_url, cache_keys=True, lifespan=300, timeout=5)
            if config.oidc is not None
            else None
        )

    def authenticate(self, authorization: str | None, api_key: str | None) -> Principal:
        """The principal of a request with these ``Authorization`` and ``X-API-Key`` values."""
        if not self.config.enabled:
            return LOCAL_ADMIN
        if api_key:
            return self._key_principal(api_key.strip())
        if not authorization:
            raise Unauthenticated(
                "credentials required: send Authorization: Bearer <API key or token>, or X-API-Key"
            )
        scheme, _, token = authorization.strip().partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            raise Unauthenticated("the Authorization header must read: Bearer <API key or token>")
        if token.startswith(KEY_PREFIX):
            return self._key_principal(token)
        return self._token_principal(token)

    def _key_principal(self, secret: str) -> Principal:
        if not self.config.api_keys or self.keys is None:
            raise Unauthenticated("API keys are not accepted by this twin")
        key = self._find_key(secret)
        if key is None:
            raise Unauthenticated("unknown API key")
        if key.revoked:
            raise Unauthenticated(f"API key {key.id} ({key.name}) was revoked at {key.revoked_at}")
        return Principal(name=f"key:{key.name}", roles=known_roles(key.roles))

    def _find_key(self, secret: str) -> ApiKey | None:
        assert self.keys is not None
        digest = hash_key(secret)
        now = time.monotonic()
        cached = self._key_cache.get(digest)
        if cached is not None and cached[1] > now:
            return cached[0]
        key = self.keys.find(secret)
        if len(self._key_cache) > 10_000:  # bounded: a flood of made-up keys must not grow it forever
            self._key_cache.clear()
        self._key_cache[digest] = (key, now + self.config.key_cache_s)
        return key

    def _token_principal(self, token: str) -> Principal:
        oidc = self.config.oidc
        if oidc is None or self._jwks is None:
            raise Unauthenticated("bearer tokens are not accepted by this twin; use an API key")
        try:
            signing_key = self._jwks.get_signing_key_from_jwt(token)
        except jwt.PyJWKClientConnectionError as exc:
            raise BackendUnavailable("OIDC JWKS", str(exc)) from None
        except (jwt.PyJWKClientError, jwt.PyJWTError) as exc:
            raise Unauthenticated(f"bearer token rejected: {exc}") from None
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                signing_key.key,
                algorithms=ALGORITHMS,
                audience=oidc.audience,
                issuer=oidc.issuer,
                leeway=_CLOCK_SKEW_S,
                options={"require": ["exp", "iss", "aud"]},
            )
        except jwt.PyJWTError as exc:
            raise Unauthenticated(f"bearer token rejected: {exc}") from None
        subject = claims.get("sub") or claims.get("azp") or claims.get("client_id") or "unknown"
        return Principal(name=f"oidc:{subject}", roles=token_roles(claims, oidc.roles_claim))


def token_roles(claims: Mapping[str, Any], path: str) -> frozenset[Role]:
    """The kgtwin roles named in the claim at dotted ``path`` (a list, or a space-separated string).

    Names that are not kgtwin roles are ignored: identity providers put many roles in a token.
    """
    value: Any = claims
    for part in path.split("."):
        value = value.get(part) if isinstance(value, Mapping) else None
    names = value.split() if isinstance(value, str) else value if isinstance(value, list) else []
    known = {r.value: r for r in Role}
    return frozenset(known[n.lower()] for n in names if isinstance(n, str) and n.lower() in known)


class AuthMiddleware:
    """Settles ``scope["state"]["principal"]`` for every request and refuses the unauthenticated."""

    def __init__(self, app: Asgi, authenticator: Authenticator) -> None:
        self.app = app
        self.authenticator = authenticator

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        state = scope.setdefault("state", {})
        if not self.authenticator.config.enabled:
            state["principal"] = LOCAL_ADMIN
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        if scope["type"] == "websocket":
            await self._websocket(scope, receive, send, headers)
            return
        if _is_public(scope, headers):
            state["principal"] = ANONYMOUS
            await self.app(scope, receive, send)
            return
        try:
            state["principal"] = await self._authenticate(
                headers.get("authorization"), headers.get("x-api-key")
            )
        except KgtwinError as exc:
            status = 401 if exc.code == ErrorCode.UNAUTHENTICATED else 503
            extra = {"WWW-Authenticate": "Bearer"} if status == 401 else None
            await refuse(scope, receive, send, status, exc.code, exc.message, extra)
            return
        await self.app(scope, receive, send)

    async def _authenticate(self, authorization: str | None, api_key: str | None) -> Principal:
        try:
            return await run_in_threadpool(self.authenticator.authenticate, authorization, api_key)
        except KgtwinError:
            raise
        except Exception as exc:  # never a 500: log it, refuse the request
            _log.error("auth.failed", error=repr(exc))
            raise BackendUnavailable("authentication", "credentials could not be checked") from None

    async def _websocket(self, scope: Scope, receive: Receive, send: Send, headers: Headers) -> None:
        state = scope["state"]
        if headers.get("authorization") or headers.get("x-api-key"):
            try:
                state["principal"] = await self._authenticate(
                    headers.get("authorization"), headers.get("x-api-key")
                )
            except KgtwinError as exc:
                await receive()  # websocket.connect
                await send({"type": "websocket.close", "code": 4403, "reason": _reason(exc)})
                return
            await self.app(scope, receive, send)
            return
        await self._authenticate_on_init(scope, receive, send)

    async def _authenticate_on_init(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Accept the socket, read ``connection_init``, authenticate its payload, then hand over.

        The application then sees the handshake and the ``connection_init`` replayed; its
        own accept is not sent twice.
        """
        connect = await receive()
        if connect["type"] != "websocket.connect":
            return
        offered = list(scope.get("subprotocols", []))
        subprotocol = next((p for p in offered if p in _GRAPHQL_WS), None)
        await send({"type": "websocket.accept", "subprotocol": subprotocol})
        try:
            first = await asyncio.wait_for(receive(), _INIT_TIMEOUT_S)
        except TimeoutError:
            # graphql-transport-ws: 4408 when connection_init does not come in time.
            await send({"type": "websocket.close", "code": 4408, "reason": "connection_init timeout"})
            return
        if first["type"] != "websocket.receive":
            return
        payload = _init_payload(first)
        if payload is None:
            await send(
                {"type": "websocket.close", "code": 4401, "reason": "UNAUTHENTICATED: connection_init first"}
            )
            return
        authorization = payload.get("Authorization") or payload.get("authorization")
        api_key = payload.get("apiKey") or payload.get("X-API-Key") or payload.get("x-api-key")
        try:
            scope["state"]["principal"] = await self._authenticate(
                authorization if isinstance(authorization, str) else None,
                api_key if isinstance(api_key, str) else None,
            )
        except KgtwinError as exc:
            await send({"type": "websocket.close", "code": 4403, "reason": _reason(exc)})
            return
        replay = [connect, first]

        async def replaying_receive() -> Message:
            return replay.pop(0) if replay else await receive()

        accepted = {"done": False}

        async def send_once_accepted(message: Message) -> None:
            if message["type"] == "websocket.accept" and not accepted["done"]:
                accepted["done"] = True
                return
            await send(message)

        await self.app(scope, replaying_receive, send_once_accepted)


def _is_public(scope: Scope, headers: Headers) -> bool:
    path = scope.get("path", "").rstrip("/") or "/"
    if path in PUBLIC_PATHS:
        return True
    # The GraphiQL page (a browser GET without a query) holds no data; its queries need credentials.
    return (
        path == GRAPHQL_PATH
        and scope.get("method") == "GET"
        and "query" not in QueryParams(scope.get("query_string", b""))
        and "text/html" in headers.get("accept", "")
    )


def _init_payload(message: Message) -> dict[str, Any] | None:
    """The payload of a ``connection_init`` message, or None if the message is not one."""
    text = message.get("text") or (message.get("bytes") or b"").decode("utf-8", "replace")
    try:
        data = json.loads(text)
    except ValueError:
        return None
    if not isinstance(data, dict) or data.get("type") != "connection_init":
        return None
    payload = data.get("payload")
    return payload if isinstance(payload, dict) else {}


def _reason(exc: KgtwinError) -> str:
    # A websocket close reason is at most 123 bytes (RFC 6455 §5.5).
    return f"{exc.code}: {exc.message}".encode()[:120].decode("utf-8", "ignore")


def secure(
    app: FastAPI, schema: strawberry.Schema, *, auth: AuthConfig, limits: Limits, keys: ApiKeyStore | None
) -> Authenticator:
    """Install authentication and limits on ``app``: body size, then auth, then the rate limit.

    Also adds the GraphQL depth and complexity rule to ``schema`` (once; it reads each
    app's limits from the request) and keeps the limits where resolvers find them
    (``app.state.kgtwin_limits``).
    """
    authenticator = Authenticator(auth, keys)
    app.state.kgtwin_limits = limits
    app.state.kgtwin_authenticator = authenticator
    if GraphQLLimits not in schema.extensions:
        schema.extensions = (*schema.extensions, GraphQLLimits)
    # add_middleware wraps: the last one added runs first.
    app.add_middleware(RateLimitMiddleware, bucket=TokenBucket(limits.rate_per_second, limits.rate_burst))
    app.add_middleware(AuthMiddleware, authenticator=authenticator)
    app.add_middleware(BodyLimitMiddleware, max_bytes=limits.max_body_bytes)
    return authenticator
