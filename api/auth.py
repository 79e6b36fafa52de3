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
why; a websocket is accepted and closed with 4403 (graphql-transport-ws's code for a
refused ``connection_init``; ``api.ws_handshake`` has the other close codes). Health
probes, the OpenAPI document and the web pages (GraphiQL, the explorer, their assets) are
public: they hold no data, and their requests need credentials.
"""

from __future__ import annotations

import math
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

import jwt
import strawberry
import structlog
from fastapi import FastAPI
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import Headers, QueryParams

from api.analysts import CypherSlots
from api.cors import allow_origins
from api.limits import (
    GRAPHQL_PATH,
    Asgi,
    BodyLimitMiddleware,
    FailureThrottle,
    GraphQLLimits,
    Limits,
    RateLimitMiddleware,
    Receive,
    Scope,
    Send,
    TokenBucket,
    refuse,
)
from api.roles import ANONYMOUS, LOCAL_ADMIN, Principal, Role, Unauthenticated, known_roles
from api.ui import ASSETS_PATH, PAGES
from api.ws_handshake import authenticate_socket, protocol_messages_only, refusal, refuse_socket
from graph.api_keys import KEY_PREFIX, ApiKey, ApiKeyStore, hash_key
from ontology.errors import BackendUnavailable, ErrorCode, KgtwinError

_log = structlog.get_logger("api.auth")

# Asymmetric algorithms only: a JWKS publishes public keys, and accepting HS* would let
# anyone who has the public key sign tokens with it (the classic algorithm confusion).
ALGORITHMS = ["RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"]
PUBLIC_PATHS = frozenset(
    {"/healthz", "/readyz", "/openapi.json", "/docs", "/docs/oauth2-redirect", "/redoc", *PAGES}
)
_CLOCK_SKEW_S = 10


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
    cors_origins: tuple[str, ...] = ()
    """Origins whose pages may call the API with credentials (``api.cors``); none: same origin only."""

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

    def __init__(
        self,
        app: Asgi,
        authenticator: Authenticator,
        init_timeout_s: float = 10.0,
        failures: FailureThrottle | None = None,
    ) -> None:
        self.app = app
        self.authenticator = authenticator
        self.init_timeout_s = init_timeout_s
        self.failures = failures if failures is not None else FailureThrottle(0, 1)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        state = scope.setdefault("state", {})
        if scope["type"] == "websocket":
            receive = protocol_messages_only(receive, send)
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
        authenticate = self._authenticator_for(scope)
        try:
            state["principal"] = await authenticate(headers.get("authorization"), headers.get("x-api-key"))
        except TooManyFailures as exc:
            retry = {"Retry-After": str(max(1, math.ceil(exc.retry_after_s)))}
            await refuse(scope, receive, send, 429, exc.code, exc.message, retry)
            return
        except KgtwinError as exc:
            status = 401 if exc.code == ErrorCode.UNAUTHENTICATED else 503
            extra = {"WWW-Authenticate": "Bearer"} if status == 401 else None
            await refuse(scope, receive, send, status, exc.code, exc.message, extra)
            return
        await self.app(scope, receive, send)

    def _authenticator_for(self, scope: Scope) -> Callable[[str | None, str | None], Awaitable[Principal]]:
        """``_authenticate`` for the client of ``scope``, throttled by its failed authentications."""
        client = scope.get("client")
        address = str(client[0]) if client else "unknown"

        async def authenticate(authorization: str | None, api_key: str | None) -> Principal:
            wait = self.failures.wait(address)
            if wait > 0:
                raise TooManyFailures(wait)
            try:
                return await self._authenticate(authorization, api_key)
            except KgtwinError as exc:
                if exc.code == ErrorCode.UNAUTHENTICATED:
                    self.failures.failed(address)
                raise

        return authenticate

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
        authenticate = self._authenticator_for(scope)
        if headers.get("authorization") or headers.get("x-api-key"):
            try:
                state["principal"] = await authenticate(
                    headers.get("authorization"), headers.get("x-api-key")
                )
            except TooManyFailures as exc:
                await refuse_socket(receive, send, scope, 1013, refusal(exc))  # try again later
                return
            except KgtwinError as exc:
                await refuse_socket(receive, send, scope, 4403, refusal(exc))
                return
            await self.app(scope, receive, send)
            return
        await authenticate_socket(self.app, scope, receive, send, authenticate, self.init_timeout_s)


class TooManyFailures(KgtwinError):
    """Raised, unchecked, for the credentials of a client past its failed authentications."""

    code = ErrorCode.LIMIT_EXCEEDED

    def __init__(self, retry_after_s: float) -> None:
        super().__init__(
            "too many failed authentications from this address: retry later",
            details={"retryAfterS": round(retry_after_s, 1)},
        )
        self.retry_after_s = retry_after_s


def _is_public(scope: Scope, headers: Headers) -> bool:
    path = scope.get("path", "").rstrip("/") or "/"
    if path in PUBLIC_PATHS or path.startswith(ASSETS_PATH):
        return True
    # The GraphiQL page (a browser GET without a query) holds no data; its queries need credentials.
    return (
        path == GRAPHQL_PATH
        and scope.get("method") == "GET"
        and "query" not in QueryParams(scope.get("query_string", b""))
        and "text/html" in headers.get("accept", "")
    )


def secure(
    app: FastAPI, schema: strawberry.Schema, *, auth: AuthConfig, limits: Limits, keys: ApiKeyStore | None
) -> Authenticator:
    """Install authentication and limits on ``app``: origin, body size, then auth, then the rate limit.

    Also adds the GraphQL depth and complexity rule to ``schema`` (once; it reads each
    app's limits from the request) and keeps the limits where resolvers find them
    (``app.state.kgtwin_limits``).
    """
    authenticator = Authenticator(auth, keys)
    app.state.kgtwin_limits = limits
    app.state.kgtwin_cypher_slots = CypherSlots(limits.cypher_concurrency)
    app.state.kgtwin_authenticator = authenticator
    if GraphQLLimits not in schema.extensions:
        schema.extensions = (*schema.extensions, GraphQLLimits)
    # add_middleware wraps: the last one added runs first.
    app.add_middleware(RateLimitMiddleware, bucket=TokenBucket(limits.rate_per_second, limits.rate_burst))
    app.add_middleware(
        AuthMiddleware,
        authenticator=authenticator,
        init_timeout_s=limits.ws_init_timeout_s,
        failures=FailureThrottle(limits.auth_failures_per_second, limits.auth_failure_burst),
    )
    app.add_middleware(BodyLimitMiddleware, max_bytes=limits.max_body_bytes)
    allow_origins(app, auth.cors_origins)  # outermost: preflights and refusals carry CORS headers
    return authenticator
