"""ADT's digital twins: get, put (If-None-Match), patch and delete (If-Match), components, telemetry."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import JSONResponse

from api.adt.errors import AdtError
from api.adt.http import (
    etag_header,
    if_match,
    if_none_match,
    json_body,
    json_patch,
    permission,
    run_in_threadpool,
)
from api.adt.shapes import component_of, twin_body, twin_input
from api.context import ApiContext
from api.roles import Permission
from graph.latest import write_latest
from graph.twin_metadata import trim_fraction
from ingest.messages import parse_ts
from ingest.posted import PostedTelemetry
from ontology.errors import NotFound

READ = [Depends(permission(Permission.READ))]
WRITE = [Depends(permission(Permission.WRITE_TWINS))]


def twins_router(context: ApiContext) -> APIRouter:
    router = APIRouter(tags=["Twins"])
    posted: list[PostedTelemetry] = []

    def telemetry() -> PostedTelemetry:
        """The posted-telemetry path, built on first use (a profile without a time-series store has none)."""
        if not posted:
            graph = context.require_graph()
            posted.append(
                PostedTelemetry(
                    context.require_telemetry(),
                    latest=context.latest,
                    write_latest=lambda values: write_latest(graph, values),
                )
            )
        return posted[0]

    @router.get("/digitaltwins/{id}", dependencies=READ)
    async def get_twin(id: str) -> JSONResponse:
        def get() -> tuple[dict[str, Any], str]:
            registry = context.require_registry()
            twins = context.require_twins()
            twin = twins.get_twin(id)
            return twin_body(twin, registry.models), twin.etag

        body, etag = await run_in_threadpool(get)
        return JSONResponse(body, headers=etag_header(etag))

    @router.put("/digitaltwins/{id}", dependencies=WRITE)
    async def put_twin(id: str, request: Request) -> JSONResponse:
        body = await json_body(request)
        create_only = if_none_match(request)

        def put() -> tuple[dict[str, Any], str]:
            registry = context.require_registry()
            twins = context.require_twins()
            model, document, times = twin_input(body, registry.models)
            if model in registry.models:
                try:
                    twins.get_twin(id)
                except NotFound:
                    registry.ensure_instantiable(model)  # a decommissioned model takes no new twin
            twin = twins.put_twin(id, model, document, if_none_match=create_only, source_times=times)
            return twin_body(twin, registry.models), twin.etag

        answer, etag = await run_in_threadpool(put)
        return JSONResponse(answer, headers=etag_header(etag))

    @router.patch("/digitaltwins/{id}", status_code=204, dependencies=WRITE)
    async def patch_twin(id: str, request: Request) -> Response:
        patch, etag = await json_patch(request), if_match(request)

        def update() -> str:
            twins = context.require_twins()
            return twins.patch_twin(id, patch, if_match=etag).etag

        return Response(status_code=204, headers=etag_header(await run_in_threadpool(update)))

    @router.delete("/digitaltwins/{id}", status_code=204, dependencies=WRITE)
    async def delete_twin(id: str, request: Request) -> Response:
        etag = if_match(request)

        def delete() -> None:
            twins = context.require_twins()
            twins.delete_twin(id, if_match=etag)

        await run_in_threadpool(delete)
        return Response(status_code=204)

    @router.get("/digitaltwins/{id}/components/{componentPath}", dependencies=READ)
    async def get_component(id: str, componentPath: str) -> JSONResponse:  # noqa: N803 (ADT's name)
        def get() -> tuple[dict[str, Any], str]:
            registry = context.require_registry()
            twins = context.require_twins()
            twin = twins.get_twin(id)
            return component_of(twin, registry.models, componentPath), twin.etag

        body, etag = await run_in_threadpool(get)
        return JSONResponse(body, headers=etag_header(etag))

    @router.patch("/digitaltwins/{id}/components/{componentPath}", status_code=204, dependencies=WRITE)
    async def patch_component(id: str, componentPath: str, request: Request) -> Response:  # noqa: N803
        patch, etag = await json_patch(request), if_match(request)

        def update() -> str:
            twins = context.require_twins()
            return twins.patch_component(id, componentPath, patch, if_match=etag).etag

        return Response(status_code=204, headers=etag_header(await run_in_threadpool(update)))

    async def send(id: str, component: str | None, request: Request) -> Response:
        message_id = request.headers.get("message-id")
        if not message_id:
            raise AdtError(400, "InvalidArgument", "the Message-Id header is required")
        time_ns = _source_time(request.headers.get("telemetry-source-time"))
        message = await json_body(request)
        if not isinstance(message, dict):
            raise AdtError(400, "ValidationFailed", "telemetry is a JSON object of telemetry names to values")

        def store() -> None:
            registry = context.require_registry()
            twins = context.require_twins()
            twin = twins.get_twin(id)
            point = telemetry().send(
                registry.models, twin, message, message_id=message_id, time_ns=time_ns, component=component
            )
            if point is not None and context.adt.publish_telemetry is not None:
                interface = registry.models[twin.model]
                schema = interface.components[component].schema if component else twin.model
                subject = f"{id}/components/{component}" if component else id
                attributes = {
                    "type": "microsoft.iot.telemetry",
                    "source": context.adt.event_source,
                    "subject": subject,
                    "id": message_id,
                    "dataschema": schema,
                    "datacontenttype": "application/json",
                    "specversion": "1.0",
                    "time": datetime.fromtimestamp(time_ns / 1e9, UTC).isoformat().replace("+00:00", "Z"),
                }
                context.adt.publish_telemetry(attributes, message)

        await run_in_threadpool(store)
        return Response(status_code=204)

    @router.post("/digitaltwins/{id}/telemetry", status_code=204, dependencies=WRITE)
    async def send_telemetry(id: str, request: Request) -> Response:
        return await send(id, None, request)

    @router.post(
        "/digitaltwins/{id}/components/{componentPath}/telemetry", status_code=204, dependencies=WRITE
    )
    async def send_component_telemetry(id: str, componentPath: str, request: Request) -> Response:  # noqa: N803
        return await send(id, componentPath, request)

    return router


def _source_time(text: str | None) -> int:
    """Nanoseconds of ``Telemetry-Source-Time`` (RFC 3339; ADT writes 7 fraction digits), now without it."""
    if not text:
        return time.time_ns()
    try:
        return parse_ts(trim_fraction(text.strip()))
    except ValueError as exc:
        raise AdtError(400, "InvalidArgument", f"Telemetry-Source-Time: {exc}") from None
