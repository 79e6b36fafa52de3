"""``GET`` and ``POST`` of ``/graphql`` handed straight to ``api.graphql_http``, ahead of FastAPI's routing.

Matching the route, FastAPI's request handler (its dependency solving, exit stacks,
exception middleware) and their send wrappers were about a tenth of a small query's
server CPU (``bench/http_stack.py``, docs/performance.md). :class:`GraphQLRoute` is the
innermost of the app's own middleware: the origin guard, body limit, authentication,
rate limit and request observation have run as for every request, and it answers the
two GraphQL methods of ``/graphql`` itself. Everything else (``HEAD``, the websocket of
subscriptions, the REST routes) goes on to FastAPI as before.

What FastAPI's route gave these requests is kept: the route in the scope (the metrics
label ``/graphql`` of a request that executed no operation, ``api.observation``), the
app's exception handlers for an error raised before the answer (a ``KgtwinError`` is
problem+json with its status, as from any route), and anything unforeseen left to the
server-error handler, which logs it and answers 500 problem+json. The routes stay
registered, so the OpenAPI document still describes ``/graphql``.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.routing import BaseRoute

from api.graphql_http import GraphQLHttp
from api.limits import GRAPHQL_PATH, Asgi, Receive, Scope, Send

_METHODS = frozenset({"GET", "POST"})
ExceptionHandler = Callable[[Request, Exception], Any]


class GraphQLRoute:
    """ASGI middleware answering ``GET``/``POST /graphql`` with :class:`GraphQLHttp`, the rest passed on."""

    def __init__(self, app: Asgi, endpoint: GraphQLHttp, route: BaseRoute | None = None) -> None:
        self.app = app
        self.endpoint = endpoint
        self.route = route

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in _METHODS or _route_path(scope) != GRAPHQL_PATH:
            await self.app(scope, receive, send)
            return
        if self.route is not None:
            scope["route"] = self.route  # as the router leaves it
        request = Request(scope, receive, send)
        try:
            response = await self.endpoint.handle(request)
        except Exception as exc:
            handler = _handler_for(exc, getattr(scope.get("app"), "exception_handlers", {}))
            if handler is None:
                raise  # to the server-error handler, as from any route
            response = (
                await handler(request, exc)
                if inspect.iscoroutinefunction(handler)
                else await run_in_threadpool(handler, request, exc)
            )
        await response(scope, receive, send)


def _route_path(scope: Scope) -> str:
    """The path the router matches: without the ``root_path`` a proxy mounts the app under."""
    path: str = scope["path"]
    root: str = scope.get("root_path", "")
    return path[len(root) :] if root and path.startswith(root) else path


def _handler_for(exc: Exception, handlers: Mapping[Any, Any]) -> ExceptionHandler | None:
    """The app's handler of ``exc``'s nearest class, as Starlette's exception middleware finds it.

    ``Exception`` itself is the server-error handler's, which runs outside (and logs).
    """
    for kind in type(exc).__mro__:
        if kind is Exception:
            return None
        handler = handlers.get(kind)
        if handler is not None:
            found: ExceptionHandler = handler
            return found
    return None
