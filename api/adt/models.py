"""ADT's models: upload (all or none), list with dependencies and pages, get, decommission, delete."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.responses import JSONResponse

from api.adt.errors import AdtError
from api.adt.http import json_body, json_patch, next_link, offset, page_size, permission, run_in_threadpool
from api.adt.shapes import model_data
from api.context import ApiContext
from api.roles import Permission
from graph.relabel import upload_models
from ontology.errors import BadRequest

MAX_DEPENDENCIES_FOR = 250
"""The most DTMIs one ``dependenciesFor`` may name (ADT answers LimitExceeded past its limit)."""


def models_router(context: ApiContext) -> APIRouter:
    router = APIRouter(tags=["Models"])

    @router.post("/models", status_code=201, dependencies=[Depends(permission(Permission.MODELS))])
    async def add_models(request: Request) -> JSONResponse:
        documents = await json_body(request)
        if not isinstance(documents, list) or not documents:
            raise AdtError(400, "InvalidArgument", "the body is a non-empty array of DTDL models")

        def add() -> list[dict[str, Any]]:
            graph = context.require_graph()
            registry = context.require_registry()
            stored = upload_models(graph, registry, documents)
            return [model_data(m, include_definition=False) for m in stored]

        return JSONResponse(await run_in_threadpool(add), status_code=201)

    @router.get("/models", dependencies=[Depends(permission(Permission.READ))])
    async def list_models(
        request: Request,
        dependencies_for: Annotated[list[str] | None, Query(alias="dependenciesFor")] = None,
        include_definition: Annotated[bool, Query(alias="includeModelDefinition")] = False,
    ) -> dict[str, Any]:
        size, start = page_size(request), offset(request)
        if dependencies_for is not None and len(dependencies_for) > MAX_DEPENDENCIES_FOR:
            raise AdtError(
                400, "LimitExceeded", f"dependenciesFor names at most {MAX_DEPENDENCIES_FOR} models"
            )

        def page() -> dict[str, Any]:
            registry = context.require_registry()
            found = registry.list(dependencies_for=dependencies_for)
            chosen = found[start : start + size]
            body: dict[str, Any] = {
                "value": [model_data(m, include_definition=include_definition) for m in chosen]
            }
            if start + size < len(found):
                body["nextLink"] = next_link(request, start + size, size)
            return body

        return await run_in_threadpool(page)

    @router.get("/models/{id}", dependencies=[Depends(permission(Permission.READ))])
    async def get_model(
        id: str, include_definition: Annotated[bool, Query(alias="includeModelDefinition")] = False
    ) -> dict[str, Any]:
        def get() -> dict[str, Any]:
            registry = context.require_registry()
            return model_data(registry.get(id)[0], include_definition=include_definition)

        return await run_in_threadpool(get)

    @router.patch("/models/{id}", status_code=204, dependencies=[Depends(permission(Permission.MODELS))])
    async def update_model(id: str, request: Request) -> Response:
        patch = await json_patch(request)
        decommission = [{"op": "replace", "path": "/decommissioned", "value": True}]
        if patch != decommission:
            raise AdtError(
                400,
                "JsonPatchInvalid",
                'only [{"op": "replace", "path": "/decommissioned", "value": true}] may change a model '
                "(decommissioning cannot be undone)",
            )

        def decommission_model() -> None:
            registry = context.require_registry()
            registry.decommission(id)

        await run_in_threadpool(decommission_model)
        return Response(status_code=204)

    @router.delete("/models/{id}", status_code=204, dependencies=[Depends(permission(Permission.MODELS))])
    async def delete_model(id: str) -> Response:
        def delete() -> None:
            registry = context.require_registry()
            if context.model_store is None:
                raise BadRequest("this service keeps no models in the graph")
            registry.delete(id, twin_count=context.model_store.twin_count)

        await run_in_threadpool(delete)
        return Response(status_code=204)

    return router
