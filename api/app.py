"""The FastAPI application: GraphQL at ``/graphql`` (GraphiQL in a browser), the explorer, some REST.

Errors leave as RFC 9457 problem+json with the stable kgtwin codes; no request yields a
traceback.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.requests import HTTPConnection
from fastapi.responses import JSONResponse, Response
from fastapi.routing import APIWebSocketRoute
from starlette.exceptions import HTTPException as StarletteHTTPException
from strawberry.fastapi import GraphQLRouter
from strawberry.subscriptions import GRAPHQL_TRANSPORT_WS_PROTOCOL

from api.adt.app import PREFIX as ADT_PREFIX
from api.adt.app import adt_app
from api.auth import secure
from api.context import ApiContext, RequestContext, principal_of
from api.fmus import fmu_router
from api.graphql_http import OPENAPI_GET, OPENAPI_POST, GraphQLHttp, encode_json
from api.graphql_route import GraphQLRoute
from api.loaders import Loaders
from api.modeling import modeling_router
from api.observation import ObservedRequests
from api.readiness import Readiness
from api.schema import schema
from api.ui import ui_router
from ontology.errors import ErrorCode, KgtwinError

_STATUS = {
    ErrorCode.VALIDATION_FAILED: 422,
    ErrorCode.NOT_FOUND: 404,
    ErrorCode.CONFLICT: 409,
    ErrorCode.FORBIDDEN: 403,
    ErrorCode.UNAUTHENTICATED: 401,
    ErrorCode.CYPHER_WRITE_REFUSED: 403,
    ErrorCode.TIMEOUT: 504,
    ErrorCode.LIMIT_EXCEEDED: 429,
    ErrorCode.BAD_REQUEST: 400,
    ErrorCode.NOT_IMPLEMENTED: 501,
    ErrorCode.CONFIGURATION_INVALID: 500,
    ErrorCode.BACKEND_UNAVAILABLE: 503,
}


def problem(status: int, code: str, title: str, detail: str, **extra: Any) -> JSONResponse:
    """An RFC 9457 problem+json response carrying kgtwin's stable ``code``."""
    body = {"type": "about:blank", "title": title, "status": status, "detail": detail, "code": code, **extra}
    return JSONResponse(body, status_code=status, media_type="application/problem+json")


class GraphQLSocket(GraphQLRouter[RequestContext, None]):
    """Strawberry's router for the websocket of ``/graphql`` only, writing its messages with orjson.

    ``GET`` and ``POST`` of ``/graphql`` are ``api.graphql_http``'s (the GraphQL-over-HTTP
    specification), so the router's own HTTP routes are dropped.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.routes = [route for route in self.routes if isinstance(route, APIWebSocketRoute)]

    def encode_json(self, data: object) -> str:
        return encode_json(data).decode()


def create_app(context: ApiContext) -> FastAPI:
    """Build the application around the backends the composition root opened."""
    app = FastAPI(title="kgtwin", version=context.version, summary="Knowledge-graph digital twin API")

    async def graphql_context(connection: HTTPConnection) -> RequestContext:
        # The caller comes from api.auth (request.state.principal) when it ran, else the
        # loopback edge profile's local admin. Models another replica changed are taken
        # up once per request (a read at most every models_check_s), before any resolver.
        if context.models_due():
            await asyncio.to_thread(context.follow_models)
        return RequestContext(context, principal_of(connection.state), Loaders(context))

    async def http_context(request: Request) -> RequestContext:
        found = await graphql_context(request)
        found.request = request
        return found

    graphql_http = GraphQLHttp(schema, http_context)
    for method, document in (("GET", OPENAPI_GET), ("POST", OPENAPI_POST)):
        app.add_api_route(
            "/graphql",
            graphql_http.handle,
            methods=[method],
            summary=f"GraphQL over HTTP ({method})",
            openapi_extra=document,
            response_class=Response,
        )
    # The innermost middleware (added first): GET and POST of /graphql skip FastAPI's routing.
    app.add_middleware(GraphQLRoute, endpoint=graphql_http, route=app.routes[-1])
    app.include_router(
        GraphQLSocket(
            schema,
            context_getter=graphql_context,
            graphql_ide=None,
            subscription_protocols=[GRAPHQL_TRANSPORT_WS_PROTOCOL],
            connection_init_wait_timeout=timedelta(seconds=context.limits.ws_init_timeout_s),
            # Strawberry refuses cross-origin sockets itself; api.cors has closed the others already.
            allowed_origins=context.auth.cors_origins,
        ),
        prefix="/graphql",
    )
    app.include_router(modeling_router(context))
    app.include_router(fmu_router(context))
    app.mount(ADT_PREFIX, adt_app(context))  # the Azure Digital Twins data plane (docs/adt-compatibility.md)
    app.include_router(ui_router())
    secure(app, schema, auth=context.auth, limits=context.limits, keys=context.keys)
    # Outermost, so that its request id is in every log line and refusals are counted too.
    app.add_middleware(ObservedRequests, observability=context.observability, lifecycle=context.lifecycle)

    readiness = Readiness(context.health)  # a probe never waits for the backends' round trips

    @app.get("/healthz", summary="Liveness: the process answers.")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get(
        "/readyz",
        summary="Readiness: every configured backend answers and the process is not stopping.",
        response_model=None,
    )
    async def readyz() -> dict[str, Any] | JSONResponse:
        if context.lifecycle.stopping:
            # The load balancer must stop sending now; what still arrives is answered.
            return problem(503, ErrorCode.BACKEND_UNAVAILABLE, "Not ready", "the service is stopping")
        checks = [vars(h) for h in await readiness.backends()]
        if all(check["ok"] for check in checks):
            return {"status": "ready", "backends": checks}
        return problem(
            503, ErrorCode.BACKEND_UNAVAILABLE, "Not ready", "a backend does not answer", backends=checks
        )

    @app.get("/metrics", summary="Prometheus metrics of this service (every worker process).")
    async def metrics() -> Response:
        exposition = context.observability.metrics
        if exposition is None:
            return problem(404, ErrorCode.NOT_FOUND, "Not found", "this service exposes no metrics")
        body, content_type = await asyncio.to_thread(exposition)
        return Response(body, media_type=content_type)

    @app.exception_handler(KgtwinError)
    async def kgtwin_error(_request: Request, exc: KgtwinError) -> JSONResponse:
        status = _STATUS.get(exc.code, 400)
        return problem(
            status, exc.code, exc.code.replace("_", " ").capitalize(), exc.message, details=exc.details
        )

    @app.exception_handler(RequestValidationError)
    async def invalid_request(_request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [{"loc": list(e["loc"]), "msg": e["msg"]} for e in exc.errors()]
        return problem(
            422, ErrorCode.VALIDATION_FAILED, "Validation failed", "invalid request", errors=errors
        )

    @app.exception_handler(StarletteHTTPException)
    async def http_error(_request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = ErrorCode.NOT_FOUND if exc.status_code == 404 else ErrorCode.BAD_REQUEST
        return problem(exc.status_code, code, str(exc.detail), str(exc.detail))

    @app.exception_handler(Exception)
    async def unexpected(_request: Request, exc: Exception) -> JSONResponse:
        # The one place an unforeseen error is turned into a response: logged, never shown.
        structlog.get_logger("api").error("request.failed", error=repr(exc))
        return problem(500, "INTERNAL", "Internal error", "an unexpected error occurred; it has been logged")

    return app
