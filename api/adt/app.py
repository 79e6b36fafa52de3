"""The ADT sub-application: its routes, the ``api-version`` check, and ADT-shaped errors.

Mounted by ``api.app`` at ``/adt``. Authentication, the body limit and the rate limit are
the main application's middleware, which wrap this one too (their refusals take ADT's
error shape under ``/adt``: ``api.limits.refuse``). Every error a handler raises leaves
through the handlers below as ADT's body and ``x-ms-error-code``; nothing else does.
"""

from __future__ import annotations

import structlog
from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from api.adt.errors import ADT_PREFIX, AdtError, adt_response, translate
from api.adt.eventroutes import event_routes_router
from api.adt.files import files_router
from api.adt.http import check_version
from api.adt.jobs import AdtJobs, jobs_router
from api.adt.models import models_router
from api.adt.options import API_VERSION
from api.adt.query import query_router
from api.adt.relationships import relationships_router
from api.adt.twins import twins_router
from api.context import ApiContext
from ontology.errors import KgtwinError

PREFIX = ADT_PREFIX
_log = structlog.get_logger("api.adt")


def adt_app(context: ApiContext) -> FastAPI:
    """The Azure Digital Twins data plane over ``context``'s graph, registry, telemetry and events."""

    def follow_models() -> None:
        # Models another replica changed are taken up once per request, before the route runs.
        context.follow_models()

    app = FastAPI(
        title="kgtwin: Azure Digital Twins data plane",
        version=API_VERSION,
        summary="ADT's REST API (2023-10-31) over the twin graph; see docs/adt-compatibility.md.",
        dependencies=[Depends(check_version), Depends(follow_models)],
        docs_url=None,
        redoc_url=None,
    )
    jobs = AdtJobs(context)
    for router in (
        models_router(context),
        twins_router(context),
        relationships_router(context),
        query_router(context),
        event_routes_router(context),
        jobs_router(jobs),
        files_router(context),
    ):
        app.include_router(router)

    @app.exception_handler(AdtError)
    async def adt_error(_request: Request, exc: AdtError) -> JSONResponse:
        return adt_response(exc)

    @app.exception_handler(KgtwinError)
    async def kgtwin_error(request: Request, exc: KgtwinError) -> JSONResponse:
        route = getattr(request.scope.get("route"), "path", "")
        error = translate(exc, route, request.method)
        _log.info("adt.error", code=error.code, status=error.status, route=route)
        return adt_response(error)

    @app.exception_handler(RequestValidationError)
    async def invalid_request(_request: Request, exc: RequestValidationError) -> JSONResponse:
        details = [
            {"code": "InvalidArgument", "message": f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}"}
            for e in exc.errors()
        ]
        message = details[0]["message"] if details else "invalid request"
        return adt_response(AdtError(400, "InvalidArgument", message, details))

    @app.exception_handler(StarletteHTTPException)
    async def http_error(_request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = {404: "NotFound", 405: "MethodNotAllowed"}.get(exc.status_code, "InvalidArgument")
        return adt_response(AdtError(exc.status_code, code, str(exc.detail)))

    @app.exception_handler(Exception)
    async def unexpected(_request: Request, exc: Exception) -> JSONResponse:
        # The one place an unforeseen error becomes a response: logged, never shown.
        _log.error("adt.request_failed", error=repr(exc))
        return adt_response(
            AdtError(500, "InternalServerError", "an unexpected error occurred; it has been logged")
        )

    return app
