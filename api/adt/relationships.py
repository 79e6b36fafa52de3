"""ADT's relationships: list (by name), get, put (If-None-Match), patch and delete (If-Match), incoming."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.responses import JSONResponse

from api.adt.http import (
    continuation,
    etag_header,
    if_match,
    if_none_match,
    json_body,
    json_patch,
    next_link,
    page_size,
    permission,
    run_in_threadpool,
)
from api.adt.shapes import incoming_body, relationship_body, relationship_input
from api.context import ApiContext
from api.roles import Permission
from ontology.errors import NotFound

READ = [Depends(permission(Permission.READ))]
WRITE = [Depends(permission(Permission.WRITE_TWINS))]
PATH = "/digitaltwins/{id}/relationships/{relationshipId}"


def relationships_router(context: ApiContext) -> APIRouter:
    router = APIRouter(tags=["Twins"])

    @router.get("/digitaltwins/{id}/relationships", dependencies=READ)
    async def list_relationships(
        id: str, request: Request, name: Annotated[str | None, Query(alias="relationshipName")] = None
    ) -> dict[str, Any]:
        size, after = page_size(request), continuation(request)

        def listed() -> dict[str, Any]:
            page = context.require_twins().relationship_page(id, name=name, after=after, size=size)
            return _paged([relationship_body(r) for r in page.relationships], page.after, request, size)

        return await run_in_threadpool(listed)

    @router.get("/digitaltwins/{id}/incomingrelationships", dependencies=READ)
    async def list_incoming(id: str, request: Request) -> dict[str, Any]:
        prefix = request.scope.get("root_path", "")
        size, after = page_size(request), continuation(request)

        def listed() -> dict[str, Any]:
            page = context.require_twins().incoming_page(id, after=after, size=size)
            return _paged([incoming_body(r, prefix) for r in page.relationships], page.after, request, size)

        return await run_in_threadpool(listed)

    @router.get(PATH, dependencies=READ)
    async def get_relationship(id: str, relationshipId: str) -> JSONResponse:  # noqa: N803 (ADT's name)
        def get() -> tuple[dict[str, Any], str]:
            twins = context.require_twins()
            rel = twins.get_relationship(id, relationshipId)
            return relationship_body(rel), rel.etag

        body, etag = await run_in_threadpool(get)
        return JSONResponse(body, headers=etag_header(etag))

    @router.put(PATH, dependencies=WRITE)
    async def put_relationship(id: str, relationshipId: str, request: Request) -> JSONResponse:  # noqa: N803
        name, target, properties = relationship_input(await json_body(request))
        create_only = if_none_match(request)

        def put() -> tuple[dict[str, Any], str]:
            twins = context.require_twins()
            try:
                rel = twins.put_relationship(
                    id, relationshipId, name, target, properties, if_none_match=create_only
                )
            except NotFound as exc:
                if exc.details.get("twinId") == target and target != id:
                    raise NotFound(exc.message, details={"targetId": target}) from None
                raise
            return relationship_body(rel), rel.etag

        body, etag = await run_in_threadpool(put)
        return JSONResponse(body, headers=etag_header(etag))

    @router.patch(PATH, status_code=204, dependencies=WRITE)
    async def patch_relationship(id: str, relationshipId: str, request: Request) -> Response:  # noqa: N803
        patch, etag = await json_patch(request), if_match(request)

        def update() -> str:
            twins = context.require_twins()
            return twins.patch_relationship(id, relationshipId, patch, if_match=etag).etag

        return Response(status_code=204, headers=etag_header(await run_in_threadpool(update)))

    @router.delete(PATH, status_code=204, dependencies=WRITE)
    async def delete_relationship(id: str, relationshipId: str, request: Request) -> Response:  # noqa: N803
        etag = if_match(request)

        def delete() -> None:
            twins = context.require_twins()
            twins.delete_relationship(id, relationshipId, if_match=etag)

        await run_in_threadpool(delete)
        return Response(status_code=204)

    return router


def _paged(value: list[dict[str, Any]], after: str | None, request: Request, size: int) -> dict[str, Any]:
    """ADT's page: the items, and a ``nextLink`` to the rest when there is more."""
    body: dict[str, Any] = {"value": value}
    if after is not None:
        body["nextLink"] = next_link(request, after, size)
    return body
