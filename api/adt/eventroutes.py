"""ADT's event routes: list, get, put and delete routes; their endpoints are MQTT topic prefixes."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request, Response

from api.adt.errors import AdtError
from api.adt.http import json_body, permission, run_in_threadpool
from api.adt.shapes import route_body
from api.context import ApiContext
from api.roles import Permission
from graph.event_routes import EventRoute, EventRouteStore


def event_routes_router(context: ApiContext) -> APIRouter:
    router = APIRouter(tags=["EventRoutes"])

    def routes() -> EventRouteStore:
        graph = context.require_graph()
        return EventRouteStore(graph)

    @router.get("/eventroutes", dependencies=[Depends(permission(Permission.READ))])
    async def list_routes() -> dict[str, Any]:
        return {"value": [route_body(r) for r in await run_in_threadpool(lambda: routes().list())]}

    @router.get("/eventroutes/{id}", dependencies=[Depends(permission(Permission.READ))])
    async def get_route(id: str) -> dict[str, Any]:
        return route_body(await run_in_threadpool(lambda: routes().get(id)))

    @router.put("/eventroutes/{id}", status_code=204, dependencies=[Depends(permission(Permission.ADMIN))])
    async def put_route(id: str, request: Request) -> Response:
        body = await json_body(request)
        if not isinstance(body, dict):
            raise AdtError(400, "InvalidArgument", "an event route is a JSON object: endpointName and filter")
        endpoint, text = body.get("endpointName"), body.get("filter")
        if not isinstance(endpoint, str) or context.adt.topic_prefix(endpoint) is None:
            known = ", ".join(sorted(context.adt.endpoints)) or "none"
            raise AdtError(
                400,
                "EventRouteEndpointInvalid",
                f"endpoint {endpoint!r} does not exist (KGTWIN_ADT_ENDPOINTS names: {known})",
            )
        if not isinstance(text, str):
            raise AdtError(
                400, "EventRouteFilterInvalid", "an event route needs a filter ('true' passes every event)"
            )

        def put() -> None:
            routes().put(EventRoute(id, endpoint, text))
            if context.adt.refresh_routes is not None:
                context.adt.refresh_routes()

        await run_in_threadpool(put)
        return Response(status_code=204)

    @router.delete("/eventroutes/{id}", status_code=204, dependencies=[Depends(permission(Permission.ADMIN))])
    async def delete_route(id: str) -> Response:
        def delete() -> None:
            routes().delete(id)
            if context.adt.refresh_routes is not None:
                context.adt.refresh_routes()

        await run_in_threadpool(delete)
        return Response(status_code=204)

    return router
