"""Limits that keep one caller from exhausting the twin for everyone.

- request body size: checked on ``Content-Length`` and again on the bytes that arrive
  (a chunked body has no length), answered with 413 ``LIMIT_EXCEEDED``;
- a token bucket per authenticated principal (API key or token subject), answered with
  429 ``LIMIT_EXCEEDED`` and ``Retry-After``; the unauthenticated loopback edge profile has
  one caller, the machine's owner, and is not limited;
- GraphQL query depth and complexity, checked as a validation rule before anything
  executes (a GraphQL error with ``extensions.code`` ``LIMIT_EXCEEDED``; ``api.cost``),
  and the tokens of a document (``api.documents``);
- the Cypher time budget and row cap, carried here for the ``cypher`` resolver.

The rate limit is per API process: with N replicas a key gets at most N times the rate,
which bounds the load each process takes, the point of the limit.
"""

from __future__ import annotations

import contextlib
import functools
import math
import time
from collections.abc import Awaitable, Callable, Iterator, Mapping, MutableMapping
from dataclasses import dataclass, field
from typing import Any

from graphql import (
    GraphQLError,
    GraphQLNamedType,
    GraphQLSchema,
    OperationDefinitionNode,
    ValidationContext,
    ValidationRule,
)
from starlette.datastructures import Headers
from starlette.responses import JSONResponse
from strawberry.extensions import SchemaExtension

from api.adt.errors import ADT_PREFIX, refusal
from api.cost import OperationCost
from api.media import JSON, negotiate
from api.roles import ANONYMOUS, LOCAL_ADMIN, Principal
from graph.cypher import DEFAULT_MAX_ROWS, DEFAULT_TIMEOUT_S
from ontology.errors import ErrorCode

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
Asgi = Callable[[Scope, Receive, Send], Awaitable[None]]

GRAPHQL_PATH = "/graphql"


@dataclass(frozen=True)
class Limits:
    """The limits of one API process (settings ``KGTWIN_MAX_BODY_BYTES`` ... in the composition root)."""

    max_body_bytes: int = 32 * 1024 * 1024
    rate_per_second: float = 20.0
    """Sustained requests per second per principal; 0 switches the rate limit off."""
    rate_burst: int = 100
    graphql_max_depth: int = 12
    graphql_max_complexity: int = 10_000
    graphql_max_tokens: int = 10_000
    """Tokens a GraphQL document may hold (graphql-core's parser stops past them)."""
    cypher_timeout_s: float = DEFAULT_TIMEOUT_S
    cypher_max_rows: int = DEFAULT_MAX_ROWS
    cypher_concurrency: Mapping[str, int] = field(default_factory=lambda: {"analyst": 2, "admin": 2})
    """Cypher queries run at once per role (the caller's most generous role), in this process."""
    ws_init_timeout_s: float = 10.0
    """How long a websocket may take to send ``connection_init`` (graphql-transport-ws: 4408)."""
    auth_failures_per_second: float = 1.0
    """Failed authentications one client address may make a second, sustained; 0: no throttle."""
    auth_failure_burst: int = 10


async def refuse(
    scope: Scope,
    receive: Receive,
    send: Send,
    status: int,
    code: ErrorCode,
    message: str,
    headers: dict[str, str] | None = None,
) -> None:
    """Answer a request the middleware refuses before the application sees it.

    ``/graphql`` gets a GraphQL response (``errors[].extensions.code``) so GraphQL clients
    show the message; the ADT surface (``/adt/...``) ADT's error body (``api.adt.errors``);
    every other path gets RFC 9457 problem+json.
    """
    response: JSONResponse
    path = scope.get("path", "")
    if path == ADT_PREFIX or path.startswith(ADT_PREFIX + "/"):
        response = refusal(status, code, message, headers)
    elif path.rstrip("/") == GRAPHQL_PATH:
        # A request error of GraphQL over HTTP: no ``data`` in the specification's own media
        # type; ``data: null`` as ever in application/json.
        media = negotiate(Headers(scope=scope).get("accept")) or JSON
        body: dict[str, Any] = {"errors": [{"message": message, "extensions": {"code": code}}]}
        if media == JSON:
            body = {"data": None, **body}
        response = JSONResponse(body, status_code=status, headers=headers, media_type=media)
    else:
        title = code.replace("_", " ").capitalize()
        problem = {"type": "about:blank", "title": title, "status": status, "detail": message, "code": code}
        response = JSONResponse(
            problem, status_code=status, headers=headers, media_type="application/problem+json"
        )
    await response(scope, receive, send)


class _BodyTooLarge(Exception):
    """Raised by the counting ``receive`` once a body passes the limit (caught by the middleware)."""


class BodyLimitMiddleware:
    """Answer 413 ``LIMIT_EXCEEDED`` to a request body larger than ``max_bytes``."""

    def __init__(self, app: Asgi, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        message = f"the request body is larger than {self.max_bytes} bytes"
        declared = Headers(scope=scope).get("content-length", "")
        if declared.isdigit() and int(declared) > self.max_bytes:
            await refuse(scope, receive, send, 413, ErrorCode.LIMIT_EXCEEDED, message)
            return
        state = {"received": 0, "exceeded": False, "started": False}

        async def counting_receive() -> Message:
            received = await receive()
            if received["type"] == "http.request":
                state["received"] += len(received.get("body", b""))
                if state["received"] > self.max_bytes:
                    state["exceeded"] = True
                    raise _BodyTooLarge
            return received

        async def guarded_send(outgoing: Message) -> None:
            # A framework may turn the failed read into its own 400; the caller gets the 413.
            if state["exceeded"]:
                return
            state["started"] = True
            await send(outgoing)

        with contextlib.suppress(_BodyTooLarge):
            await self.app(scope, counting_receive, guarded_send)
        if state["exceeded"] and not state["started"]:
            await refuse(scope, receive, send, 413, ErrorCode.LIMIT_EXCEEDED, message)


class TokenBucket:
    """``rate`` tokens a second up to ``burst``, one bucket per principal name."""

    def __init__(self, rate: float, burst: int, clock: Callable[[], float] = time.monotonic) -> None:
        self.rate = rate
        self.burst = burst
        self.clock = clock
        self._buckets: dict[str, tuple[float, float]] = {}

    def take(self, who: str) -> float:
        """Spend one token of ``who``: 0 if granted, else the seconds until one is available."""
        now = self.clock()
        tokens, last = self._buckets.get(who, (float(self.burst), now))
        tokens = min(float(self.burst), tokens + (now - last) * self.rate)
        if tokens >= 1:
            self._buckets[who] = (tokens - 1, now)
            return 0.0
        self._buckets[who] = (tokens, now)
        return (1 - tokens) / self.rate


class FailureThrottle:
    """Failed authentications per client address: a token bucket that only failures spend.

    A client past its failures (``burst`` at once, ``rate`` a second after) has its next
    credentials refused unchecked until a token is back, so keys and tokens cannot be
    guessed at the speed of the API, nor a broken client flood the logs. Successful
    authentications cost nothing, so a client with good credentials is never slowed.
    At most ``max_clients`` addresses are remembered (the oldest forgotten first), so a
    flood of addresses cannot grow the memory.
    """

    def __init__(
        self, rate: float, burst: int, clock: Callable[[], float] = time.monotonic, max_clients: int = 10_000
    ) -> None:
        self.rate = rate
        self.burst = burst
        self.clock = clock
        self.max_clients = max_clients
        self._buckets: dict[str, tuple[float, float]] = {}

    def wait(self, client: str) -> float:
        """Seconds until ``client`` may try credentials again (0: now)."""
        if self.rate <= 0 or client not in self._buckets:
            return 0.0
        tokens = self._tokens(client)
        return 0.0 if tokens >= 1 else (1 - tokens) / self.rate

    def failed(self, client: str) -> None:
        """Spend one of ``client``'s tokens for a failed authentication."""
        if self.rate <= 0:
            return
        tokens = self._tokens(client)
        self._buckets.pop(client, None)  # re-inserted last: the most recent is forgotten last
        self._buckets[client] = (max(0.0, tokens - 1), self.clock())
        if len(self._buckets) > self.max_clients:
            del self._buckets[next(iter(self._buckets))]

    def _tokens(self, client: str) -> float:
        now = self.clock()
        tokens, last = self._buckets.get(client, (float(self.burst), now))
        return min(float(self.burst), tokens + (now - last) * self.rate)


class RateLimitMiddleware:
    """Answer 429 ``LIMIT_EXCEEDED`` with ``Retry-After`` once a principal's bucket is empty.

    Runs after authentication, which put the principal in ``scope["state"]``.
    """

    def __init__(self, app: Asgi, bucket: TokenBucket) -> None:
        self.app = app
        self.bucket = bucket

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        principal = scope.get("state", {}).get("principal")
        if (
            scope["type"] in ("http", "websocket")
            and self.bucket.rate > 0
            and isinstance(principal, Principal)
            and principal not in (LOCAL_ADMIN, ANONYMOUS)
        ):
            wait = self.bucket.take(principal.name)
            if wait > 0:
                if scope["type"] == "websocket":
                    # Accepted first: a browser sees a close code (1013: try again later),
                    # never the HTTP status of a refused upgrade.
                    if (await receive())["type"] == "websocket.connect":
                        offered = scope.get("subprotocols", [])
                        protocol = "graphql-transport-ws" if "graphql-transport-ws" in offered else None
                        await send({"type": "websocket.accept", "subprotocol": protocol})
                        await send({"type": "websocket.close", "code": 1013, "reason": "LIMIT_EXCEEDED"})
                    return
                retry = str(max(1, math.ceil(wait)))
                await refuse(
                    scope,
                    receive,
                    send,
                    429,
                    ErrorCode.LIMIT_EXCEEDED,
                    f"{principal.name} sent more than {self.bucket.rate:g} requests a second; "
                    f"retry in {retry} s",
                    headers={"Retry-After": retry},
                )
                return
        await self.app(scope, receive, send)


# -- GraphQL depth and complexity ---------------------------------------------------------------


@functools.cache
def limit_rule(max_depth: int, max_complexity: int) -> type[ValidationRule]:
    """A graphql-core validation rule refusing operations deeper or costlier than the limits.

    Depth counts nested selections; complexity counts fields, a field under a list
    counting once per item (its ``first``/``limit`` argument, else 10); introspection
    counts the fields it answers (``api.cost``, linear in the document's size).
    """

    class OperationLimits(ValidationRule):
        def __init__(self, context: ValidationContext) -> None:
            super().__init__(context)
            # One costing per document: fragments shared by its operations are costed once.
            self.cost = OperationCost(context.schema, context.get_fragment, max_complexity)

        def enter_operation_definition(self, node: OperationDefinitionNode, *_: Any) -> None:
            cost = self.cost.operation(node.selection_set, _root_type(self.context.schema, node))
            name = node.name.value if node.name else "the operation"
            if cost.depth > max_depth:
                self.report_error(_limit_error(f"{name} is nested deeper than {max_depth} levels", node))
            elif cost.complexity > max_complexity:
                self.report_error(
                    _limit_error(
                        f"{name} asks for more than {max_complexity} fields "
                        f"(complexity {cost.complexity - 1}+)",
                        node,
                    )
                )

    return OperationLimits


def _root_type(schema: GraphQLSchema, node: OperationDefinitionNode) -> GraphQLNamedType | None:
    operation = node.operation.value
    return {
        "query": schema.query_type,
        "mutation": schema.mutation_type,
        "subscription": schema.subscription_type,
    }.get(operation)


def _limit_error(message: str, node: OperationDefinitionNode) -> GraphQLError:
    return GraphQLError(message, node, extensions={"code": ErrorCode.LIMIT_EXCEEDED})


class GraphQLLimits(SchemaExtension):
    """Adds the depth and complexity rule to every operation, with the limits of the app serving it.

    The limits come from the app (``app.state.kgtwin_limits``, set by ``api.auth.secure``)
    through the request in the GraphQL context, so one schema serves apps with different
    settings; without them the defaults of :class:`Limits` apply.
    """

    def on_operation(self) -> Iterator[None]:
        limits = limits_of(self.execution_context.context)
        rule = limit_rule(limits.graphql_max_depth, limits.graphql_max_complexity)
        self.execution_context.validation_rules = (*self.execution_context.validation_rules, rule)
        yield


def limits_of(context: Any) -> Limits:
    """The limits of the app serving the request of a GraphQL ``context`` (the defaults without one)."""
    request = context.get("request") if isinstance(context, dict) else getattr(context, "request", None)
    app = getattr(request, "scope", {}).get("app") if request is not None else None
    found = getattr(getattr(app, "state", None), "kgtwin_limits", None)
    return found if isinstance(found, Limits) else Limits()
