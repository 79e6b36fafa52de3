"""Compiled queries: a request's twins read in one statement each, their answer built without resolvers.

Private to ``api.fastpath`` (the module doc there says what the fast path is). A query
whose root fields are ``twin(id)`` and ``twins(...)`` (and ``__typename``), selecting only
twin fields this module knows (``_plan.py``), is compiled: the planner turns each root's
selection into a ``graph.projection`` read of exactly those fields, the reads run in one
worker thread, and the answer is built from what they brought, with ``latest`` and
``telemetry`` loaded afterwards through the request's DataLoaders (one batched read per
kind, as before). graphql-core's resolvers, info objects and per-field completion are
not run; the executor still parses, validates, limits and coerces variables as always.

Anything else takes the plain path, whole, with the same answers and errors: another root
field, a field the planner does not know (a model's display name, neighbours further
than one hop), and every error, since the plain path is what reports errors: a caller
without ``READ``, a bad argument, a filter the graph refuses, an engine that fails, a
value graphql-core would refuse. Reads have no side effects, so answering a request the
plain way after a compiled attempt is safe. ``tests/api/test_compiled.py`` holds both
paths to the same answers on every query shape of docs/api.md.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import structlog
from graphql import GraphQLObjectType
from graphql.execution.collect_fields import GroupedFieldSet

from api.context import RequestContext
from api.fastpath._plan import (
    Answer,
    Completer,
    FieldsWanted,
    NotCompiled,
    Planner,
    Selection,
    complete_object,
    constant,
    object_type,
)
from api.filters import TwinOrder, to_filter
from api.roles import Permission
from graph import projection
from graph.projection import PageView, TwinView
from graph.store import GraphStore
from ontology.errors import KgtwinError
from ontology.model import ModelSet

if TYPE_CHECKING:
    from api.fastpath._executor import FastExecutor

_log = structlog.get_logger("api.fastpath")

Read = Callable[[GraphStore, ModelSet], Any]


@dataclass
class Root:
    """One root field: what it reads (None: nothing) and how its answer is made of it."""

    key: str
    read: Read | None
    complete: Callable[[Any, Answer], Any]


def compile_query(
    executor: FastExecutor, root_type: GraphQLObjectType, grouped_field_set: GroupedFieldSet
) -> list[Root] | None:
    """The query's roots compiled, or None when the plain path must answer it."""
    ctx = executor.context_value
    if root_type is not executor.schema.query_type:  # a mutation's or a subscription's fields
        return None
    if not isinstance(ctx, RequestContext) or ctx.api.graph is None or ctx.api.registry is None:
        return None
    try:
        ctx.allow(Permission.READ)
        planner = Planner(executor, ctx, ctx.api.graph, ctx.api.registry.models)
        roots = []
        for key, details in grouped_field_set.items():
            if any(d.defer_usage is not None or d.fragment_variable_values for d in details):
                return None
            name = details[0].node.name.value
            field = root_type.fields.get(name)
            if name == "__typename":
                roots.append(Root(key, None, constant(root_type.name)))
            elif name == "twin" and field is not None:
                roots.append(_twin(planner, key, field, details))
            elif name == "twins" and field is not None:
                roots.append(_twins(planner, key, field, details))
            else:
                return None
    except (NotCompiled, KgtwinError):
        return None
    except Exception as exc:  # a shape this module mishandles: the plain path answers, the log says why
        _log.warning("compile.failed", error=repr(exc))
        return None
    return roots


async def answer(executor: FastExecutor, roots: list[Root]) -> dict[str, Any] | None:
    """The data of a compiled query, or None when the plain path must answer it after all."""
    ctx = executor.context_value
    assert isinstance(ctx, RequestContext)
    graph, registry = ctx.api.require_graph(), ctx.api.require_registry()
    try:
        reads = any(root.read is not None for root in roots)  # `__typename` alone reads nothing
        values = (
            await asyncio.to_thread(_read, roots, graph, registry.models) if reads else [None] * len(roots)
        )
        answering = Answer(ctx)
        data = {root.key: root.complete(value, answering) for root, value in zip(roots, values, strict=True)}
        await answering.settle()
    except (NotCompiled, KgtwinError):
        return None
    except Exception as exc:
        _log.warning("answer.failed", error=repr(exc))
        return None
    return data


def _read(roots: list[Root], graph: GraphStore, models: ModelSet) -> list[Any]:
    return [root.read(graph, models) if root.read is not None else None for root in roots]


def _twin(planner: Planner, key: str, field: Any, details: Any) -> Root:
    """``twin(id)``: the twin's projection, or null when there is none."""
    twin_id = str(planner.arguments(field, details)["id"])
    wanted = FieldsWanted()
    selection = planner.twin(field.type, details, wanted, on_node=True)
    fields = wanted.frozen()
    projection.prepare(fields)

    def complete(view: TwinView | None, answer: Answer) -> dict[str, Any] | None:
        return None if view is None else complete_object(view, selection, answer)

    return Root(key, lambda graph, models: projection.read_twin(graph, models, twin_id, fields), complete)


def _twins(planner: Planner, key: str, field: Any, details: Any) -> Root:
    """``twins(...)``: a page of projected twins, its cursors, and the count of every match when asked."""
    kwargs = planner.arguments(field, details)
    where = to_filter(kwargs["where"]) if kwargs["where"] is not None else None
    order = kwargs["order_by"] or TwinOrder()
    model, first, after = kwargs["model"], kwargs["first"], kwargs["after"]
    wanted = FieldsWanted()
    connection: Selection = []
    total = False
    connection_type = object_type(field.type)
    for response_key, name, child, child_details in planner.fields(connection_type, details):
        if name == "__typename":
            connection.append((response_key, constant(connection_type.name)))
        elif name == "nodes" and child is not None:
            nodes = planner.twin(child.type, child_details, wanted, on_node=True)
            connection.append((response_key, _nodes(nodes)))
        elif name == "edges" and child is not None:
            connection.append((response_key, _edges(planner, child, child_details, wanted)))
        elif name == "pageInfo" and child is not None:
            info = planner.leaves(child.type, child_details, _page_info(after))
            connection.append((response_key, _object(info)))
        elif name == "totalCount" and child is not None:
            total = True
            connection.append((response_key, planner.leaf(lambda page: page.total, child)))
        else:
            raise NotCompiled(f"TwinConnection.{name}")
    fields = wanted.frozen()
    projection.prepare(fields)

    read = projection.page_read(
        planner.graph,
        planner.models,
        model,
        fields,
        where=where,
        order_by=order.property,
        descending=order.descending,
        first=first,
        after=after,
        total=total,
    )
    return Root(key, lambda graph, _models: read.run(graph), _object(connection))


def _object(selection: Selection) -> Completer:
    return lambda source, answer: complete_object(source, selection, answer)


def _edge_node(selection: Selection) -> Completer:
    return lambda edge, answer: complete_object(edge[0].twins[edge[1]], selection, answer)


def _nodes(selection: Selection) -> Callable[[PageView, Answer], list[dict[str, Any]]]:
    return lambda page, answer: [complete_object(twin, selection, answer) for twin in page.twins]


def _edges(
    planner: Planner, field: Any, details: Any, wanted: FieldsWanted
) -> Callable[[PageView, Answer], Any]:
    edge_type = object_type(field.type)
    selection: Selection = []
    for response_key, name, child, child_details in planner.fields(edge_type, details):
        if name == "__typename":
            selection.append((response_key, constant(edge_type.name)))
        elif name == "cursor" and child is not None:
            selection.append((response_key, planner.leaf(lambda edge: edge[0].cursor(edge[1]), child)))
        elif name == "node" and child is not None:
            node = planner.twin(child.type, child_details, wanted, on_node=True)
            selection.append((response_key, _edge_node(node)))
        else:
            raise NotCompiled(f"TwinEdge.{name}")
    return lambda page, answer: [
        complete_object((page, i), selection, answer) for i in range(len(page.twins))
    ]


def _page_info(after: str | None) -> dict[str, Callable[[PageView], Any]]:
    """``PageInfo`` as the ``twins`` resolver makes it."""
    return {
        "hasNextPage": lambda page: page.has_next,
        "hasPreviousPage": lambda _page: after is not None,
        "startCursor": lambda page: page.cursor(0) if page.twins else None,
        "endCursor": lambda page: page.cursor(len(page.twins) - 1) if page.twins else None,
    }
