"""ADT's query: ``POST /query`` with the query language, continuation tokens and ``max-items-per-page``.

The language is translated to read-only Cypher by ``graph.adt_query`` (docs/adt-query.md);
this route checks the request, makes the one call, and renders each item with the
renderers every other route uses: a twin of ``SELECT *`` is the twin itself, a projected
alias is the twin or relationship under its alias, a projected property or ``COUNT()``
its JSON value.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request

from api.adt.errors import AdtError
from api.adt.http import MAX_TOKEN_CHARS, json_body, page_size, permission, run_in_threadpool
from api.adt.shapes import relationship_body, twin_body
from api.context import ApiContext
from api.roles import Permission
from graph.adt_query import MAX_ITEMS, MAX_QUERY_CHARS, RELATIONSHIP_KEY, TWIN_KEY, run_query
from graph.twin import Twin, TwinRelationship
from ontology.model import ModelSet


def query_router(context: ApiContext) -> APIRouter:
    router = APIRouter(tags=["Query"])

    @router.post("/query", dependencies=[Depends(permission(Permission.READ))])
    async def query_twins(request: Request) -> dict[str, Any]:
        body = await json_body(request)
        if not isinstance(body, dict):
            raise AdtError(
                400, "SqlQueryError", 'the body is {"query": "..."} or {"continuationToken": "..."}'
            )
        text, token = body.get("query"), body.get("continuationToken")
        if token is not None and (not isinstance(token, str) or len(token) > MAX_TOKEN_CHARS):
            raise AdtError(400, "BadRequest", "the continuation token is invalid")
        if token is None and (not isinstance(text, str) or not text.strip()):
            raise AdtError(400, "SqlQueryError", "the query is missing or empty")
        if isinstance(text, str) and len(text) > MAX_QUERY_CHARS:
            raise AdtError(400, "SqlQueryError", f"the query is longer than {MAX_QUERY_CHARS} characters")
        size = min(page_size(request), MAX_ITEMS)  # the server may answer fewer than asked (ADT)

        def run() -> dict[str, Any]:
            graph = context.require_graph()
            registry = context.require_registry()
            page = run_query(
                graph,
                text if isinstance(text, str) else "",
                max_items=size,
                continuation=token,
                timeout_s=context.limits.cypher_timeout_s,
                models=registry.models,
            )
            answer: dict[str, Any] = {"value": [_item(item, registry.models) for item in page.items]}
            answer["continuationToken"] = page.continuation
            return answer

        return await run_in_threadpool(run)

    return router


def _item(item: dict[str, object], models: ModelSet) -> Any:
    if len(item) == 1 and TWIN_KEY in item:
        return _value(item[TWIN_KEY], models)
    if len(item) == 1 and RELATIONSHIP_KEY in item:
        return _value(item[RELATIONSHIP_KEY], models)
    return {key: _value(value, models) for key, value in item.items()}


def _value(value: object, models: ModelSet) -> Any:
    if isinstance(value, Twin):
        return twin_body(value, models)
    if isinstance(value, TwinRelationship):
        return relationship_body(value)
    return value
