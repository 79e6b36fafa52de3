"""Limits that keep one caller from exhausting the twin for everyone.

- request body size: checked on ``Content-Length`` and again on the bytes that arrive
  (a chunked body has no length), answered with 413 ``LIMIT_EXCEEDED``;
- a token bucket per authenticated principal (API key or token subject), answered with
  429 ``LIMIT_EXCEEDED`` and ``Retry-After``; the unauthenticated loopback edge profile has
  one caller, the machine's owner, and is not limited;
- GraphQL query depth and complexity, checked as a validation rule before anything
  executes (a GraphQL error with ``extensions.code`` ``LIMIT_EXCEEDED``);
- the Cypher time budget and row cap, carried here for the ``cypher`` resolver.

The rate limit is per API process: with N replicas a key gets at most N times the rate,
which bounds the load each process takes, the point of the limit.
"""

from __future__ import annotations

import contextlib
import functools
import math
import time
from collections.abc import Awaitable, Callable, Iterator, MutableMapping
from dataclasses import dataclass
from typing import Any

from graphql import (
    FieldNode,
    FragmentSpreadNode,
    GraphQLError,
    GraphQLInterfaceType,
    GraphQLList,
    GraphQLNamedType,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLSchema,
    InlineFragmentNode,
    IntValueNode,
    OperationDefinitionNode,
    SelectionSetNode,
    ValidationContext,
    ValidationRule,
)
from starlette.datastructures import Headers
from starlette.responses import JSONResponse
from strawberry.extensions import SchemaExtension

from api.adt.errors import ADT_PREFIX, refusal
from api.roles import ANONYMOUS, LOCAL_ADMIN, Principal
from graph.cypher import DEFAULT_MAX_ROWS, DEFAULT_TIMEOUT_S
from ontology.errors import ErrorCode

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
Asgi = Callable[[Scope, Receive, Send], Awaitable[None]]

GRAPHQL_PATH = "/graphql"
# Arguments that bound the size of a list field; without one a list counts this many items.
_PAGE_ARGUMENTS = ("first", "last", "limit", "pageSize", "size")
_DEFAULT_LIST_SIZE = 10


@dataclass(frozen=True)
class Limits:
    """The limits of one API process (settings ``KGTWIN_MAX_BODY_BYTES`` ... in the composition root)."""

    max_body_bytes: int = 32 * 1024 * 1024
    rate_per_second: float = 20.0
    """Sustained requests per second per principal; 0 switches the rate limit off."""
    rate_burst: int = 100
    graphql_max_depth: int = 12
    graphql_max_complexity: int = 5000
    cypher_timeout_s: float = DEFAULT_TIMEOUT_S
    cypher_max_rows: int = DEFAULT_MAX_ROWS


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
        body: dict[str, Any] = {"data": None, "errors": [{"message": message, "extensions": {"code": code}}]}
        response = JSONResponse(body, status_code=status, headers=headers)
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
    counting once per item (its ``first``/``limit`` argument, else 10). Introspection
    (``__schema``, ``__type``) is not counted: GraphiQL's own query is deep but cheap.
    """

    class OperationLimits(ValidationRule):
        def enter_operation_definition(self, node: OperationDefinitionNode, *_: Any) -> None:
            root = _root_type(self.context.schema, node)
            walk = _Walk(self.context, max_depth, max_complexity)
            cost = walk.selections(node.selection_set, root, 1, frozenset())
            name = node.name.value if node.name else "the operation"
            if walk.depth > max_depth:
                self.report_error(_limit_error(f"{name} is nested deeper than {max_depth} levels", node))
            elif cost > max_complexity:
                self.report_error(
                    _limit_error(
                        f"{name} asks for more than {max_complexity} fields (complexity {cost})", node
                    )
                )

    return OperationLimits


class _Walk:
    """One pass over an operation's selections, stopping as soon as a limit is passed."""

    def __init__(self, context: ValidationContext, max_depth: int, max_complexity: int) -> None:
        self.context = context
        self.max_depth = max_depth
        self.max_complexity = max_complexity
        self.depth = 0

    def selections(
        self,
        selection_set: SelectionSetNode,
        parent: GraphQLNamedType | None,
        depth: int,
        fragments: frozenset[str],
    ) -> int:
        self.depth = max(self.depth, depth)
        if depth > self.max_depth:
            return 0
        cost = 0
        for field, owner, seen in self._fields(selection_set, parent, fragments):
            if cost > self.max_complexity:
                break
            if field.name.value.startswith("__"):
                continue
            field_type = _field_type(owner, field.name.value)
            cost += 1
            if field.selection_set is not None:
                inner = self.selections(field.selection_set, _named(field_type), depth + 1, seen)
                cost += _list_size(field, field_type) * inner
        return cost

    def _fields(
        self, selection_set: SelectionSetNode, parent: GraphQLNamedType | None, fragments: frozenset[str]
    ) -> Iterator[tuple[FieldNode, GraphQLNamedType | None, frozenset[str]]]:
        """The fields of a selection set with their parent type, fragments spread in (each once per path)."""
        for selection in selection_set.selections:
            if isinstance(selection, FieldNode):
                yield selection, parent, fragments
            elif isinstance(selection, InlineFragmentNode):
                owner = parent
                if selection.type_condition is not None:
                    owner = self.context.schema.get_type(selection.type_condition.name.value)
                yield from self._fields(selection.selection_set, owner, fragments)
            elif isinstance(selection, FragmentSpreadNode):
                name = selection.name.value
                fragment = self.context.get_fragment(name)
                if fragment is None or name in fragments:  # unknown or cyclic: other rules report it
                    continue
                owner = self.context.schema.get_type(fragment.type_condition.name.value)
                yield from self._fields(fragment.selection_set, owner, fragments | {name})


def _root_type(schema: GraphQLSchema, node: OperationDefinitionNode) -> GraphQLNamedType | None:
    operation = node.operation.value
    return {
        "query": schema.query_type,
        "mutation": schema.mutation_type,
        "subscription": schema.subscription_type,
    }.get(operation)


def _field_type(owner: GraphQLNamedType | None, name: str) -> Any:
    if isinstance(owner, GraphQLObjectType | GraphQLInterfaceType):
        field = owner.fields.get(name)
        return field.type if field is not None else None
    return None


def _named(field_type: Any) -> GraphQLNamedType | None:
    while isinstance(field_type, GraphQLNonNull | GraphQLList):
        field_type = field_type.of_type
    return field_type if isinstance(field_type, GraphQLNamedType) else None


def _list_size(field: FieldNode, field_type: Any) -> int:
    """How many items a field under a list is counted for: its page argument, else a default."""
    while isinstance(field_type, GraphQLNonNull):
        field_type = field_type.of_type
    if not isinstance(field_type, GraphQLList):
        return 1
    for argument in field.arguments or ():
        if argument.name.value in _PAGE_ARGUMENTS and isinstance(argument.value, IntValueNode):
            return max(1, int(argument.value.value))
    return _DEFAULT_LIST_SIZE


def _limit_error(message: str, node: OperationDefinitionNode) -> GraphQLError:
    return GraphQLError(message, node, extensions={"code": ErrorCode.LIMIT_EXCEEDED})


class GraphQLLimits(SchemaExtension):
    """Adds the depth and complexity rule to every operation, with the limits of the app serving it.

    The limits come from the app (``app.state.kgtwin_limits``, set by ``api.auth.secure``)
    through the request in the GraphQL context, so one schema serves apps with different
    settings; without them the defaults of :class:`Limits` apply.
    """

    def on_operation(self) -> Iterator[None]:
        limits = _limits_of(self.execution_context.context)
        rule = limit_rule(limits.graphql_max_depth, limits.graphql_max_complexity)
        self.execution_context.validation_rules = (*self.execution_context.validation_rules, rule)
        yield


def _limits_of(context: Any) -> Limits:
    request = context.get("request") if isinstance(context, dict) else getattr(context, "request", None)
    app = getattr(request, "scope", {}).get("app") if request is not None else None
    found = getattr(getattr(app, "state", None), "kgtwin_limits", None)
    return found if isinstance(found, Limits) else Limits()
