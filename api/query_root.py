"""The ``Query`` root: twins, models, read-only Cypher, subgraphs, health.

``twins`` is a Relay connection over ``graph.find_twins``: the model's label (so subtypes
are included), property filters combined with ``and``/``or``, a sort, and cursor paging
that never skips or repeats a twin when others are written between pages.
"""

from __future__ import annotations

import asyncio
import math
from typing import Annotated

import strawberry
from strawberry.scalars import JSON

from api.analysts import run_cypher, slots_of
from api.fastpath import fast_field
from api.filters import TwinFilter, TwinOrder, to_filter
from api.fmus import FmuQuery
from api.overview import OverviewQuery
from api.roles import Permission
from api.shadows import ShadowQuery
from api.simulations import SimulationQuery
from api.types import Ctx, ModelNode, RelationshipDirection, RelationshipNode, TwinNode, context
from graph import (
    MAX_DEPTH,
    Filter,
    LimitExceeded,
    SubgraphSpec,
    TwinPage,
    find_twins,
    select_subgraph,
)
from graph.counting import count_twins
from graph.subgraph import subgraph_relationships, subgraph_twins
from ontology.errors import BadRequest, NotFound


@strawberry.type
class PageInfo:
    has_next_page: bool
    has_previous_page: bool
    start_cursor: str | None
    end_cursor: str | None


@strawberry.type
class TwinEdge:
    node: TwinNode
    page: strawberry.Private[TwinPage]
    index: strawberry.Private[int]

    @fast_field(description="Resumes the twins right after this one, as after.")
    def cursor(self) -> str:
        # Made when asked for: a page read for its nodes makes none.
        return self.page.cursor(self.index)


@strawberry.type(description="One page of twins (Relay connection).")
class TwinConnection:
    edges: list[TwinEdge]
    page_info: PageInfo
    query: strawberry.Private[tuple[str, Filter | None]]

    @strawberry.field(description="The twins of this page (the edges' nodes).")
    def nodes(self) -> list[TwinNode]:
        return [edge.node for edge in self.edges]

    @strawberry.field(description="How many twins match, over every page (one count, no twin read).")
    async def total_count(self, info: Ctx) -> int:
        api = context(info).api
        model, where = self.query
        return await asyncio.to_thread(
            count_twins, api.require_graph(), api.require_registry().models, model, where
        )


@strawberry.type(description="The answer to a read-only Cypher query.")
class CypherResult:
    columns: list[str]
    rows: JSON = strawberry.field(
        description="A list of rows, each a list of JSON values (nodes as objects)."
    )
    truncated: bool = strawberry.field(description="True when there were more rows than maxRows.")


@strawberry.type(description="The twins reached from the roots and the relationships between them.")
class Subgraph:
    twins: list[TwinNode]
    relationships: list[RelationshipNode]


@strawberry.type(description="The state of one backend behind a port.")
class BackendStatus:
    port: str = strawberry.field(description="graph, telemetry or broker")
    backend: str = strawberry.field(description="falkordb, neo4j, duckdb, influxdb, mqtt ...")
    ok: bool
    error: str | None


@strawberry.type
class Query(SimulationQuery, FmuQuery, ShadowQuery, OverviewQuery):
    @strawberry.field(description="The kgtwin version serving this API.")
    def version(self, info: Ctx) -> str:
        return info.context.api.version

    @strawberry.field(description="Each configured backend, pinged now.")
    def health(self, info: Ctx) -> list[BackendStatus]:
        return [
            BackendStatus(port=h.port, backend=h.backend, ok=h.ok, error=h.error)
            for h in info.context.api.health()
        ]

    @strawberry.field(description="One twin; null when there is none.")
    async def twin(self, info: Ctx, id: strawberry.ID) -> TwinNode | None:
        twins = context(info).api.require_twins()
        try:
            return TwinNode(twin=await asyncio.to_thread(twins.get_twin, str(id)))
        except NotFound:
            return None

    @strawberry.field(
        description="Twins of model (or a model extending it) matching where, one page at a time."
    )
    async def twins(
        self,
        info: Ctx,
        model: str,
        where: TwinFilter | None = None,
        order_by: TwinOrder | None = None,
        first: int = 100,
        after: str | None = None,
    ) -> TwinConnection:
        api = context(info).api
        condition = to_filter(where) if where is not None else None
        order = order_by or TwinOrder()
        page = await asyncio.to_thread(
            find_twins,
            api.require_graph(),
            api.require_registry().models,
            model,
            where=condition,
            order_by=order.property,
            descending=order.descending,
            first=first,
            after=after,
        )
        edges = [TwinEdge(node=TwinNode(twin=t), page=page, index=i) for i, t in enumerate(page.twins)]
        return TwinConnection(
            edges=edges,
            page_info=PageInfo(
                has_next_page=page.has_next,
                has_previous_page=after is not None,
                start_cursor=page.cursor(0) if page.twins else None,
                end_cursor=page.end_cursor,
            ),
            query=(model, condition),
        )

    @strawberry.field(description="One model by DTMI; null when it is not registered.")
    async def model(self, info: Ctx, id: strawberry.ID) -> ModelNode | None:
        registry = context(info).api.require_registry()
        known = str(id) in registry.models or await asyncio.to_thread(registry.knows, str(id))
        return ModelNode(dtmi=str(id)) if known else None

    @strawberry.field(description="The uploaded models (top-level Interfaces) in upload order.")
    async def models(self, info: Ctx, include_decommissioned: bool = True) -> list[ModelNode]:
        registry = context(info).api.require_registry()
        stored = await asyncio.to_thread(registry.list, include_decommissioned=include_decommissioned)
        return [ModelNode(dtmi=m.dtmi) for m in stored]

    @strawberry.field(
        description="Run a read-only Cypher query (analysts) of twins and models. Writes are refused by "
        "the engine; each role runs a few at once (KGTWIN_CYPHER_CONCURRENCY)."
    )
    async def cypher(
        self,
        info: Ctx,
        query: str,
        params: JSON | None = None,
        timeout_s: float | None = None,
        max_rows: int | None = None,
        internals: Annotated[
            bool,
            strawberry.argument(
                description="Admins: see kgtwin's own nodes too (API keys, version tokens), on the "
                "live graph; on FalkorDB such a query holds up writes while it runs."
            ),
        ] = False,
    ) -> CypherResult:
        request = context(info, Permission.CYPHER_INTERNALS if internals else Permission.CYPHER)
        api = request.api
        graph = api.require_graph()
        if params is not None and not isinstance(params, dict):
            raise BadRequest("params must be a JSON object of query parameters", details={"params": params})
        # The service's limits are the defaults and the ceilings (KGTWIN_CYPHER_*).
        limits = api.limits
        if timeout_s is not None and timeout_s > limits.cypher_timeout_s:
            raise LimitExceeded(f"timeoutS {timeout_s:g}", math.floor(limits.cypher_timeout_s))
        if max_rows is not None and max_rows > limits.cypher_max_rows:
            raise LimitExceeded(f"maxRows {max_rows}", limits.cypher_max_rows)
        result = await run_cypher(
            graph,
            slots_of(request),
            request.principal,
            query,
            params,
            timeout_s=timeout_s if timeout_s is not None else limits.cypher_timeout_s,
            max_rows=max_rows if max_rows is not None else limits.cypher_max_rows,
            internals=internals,
        )
        return CypherResult(columns=result.columns, rows=JSON(result.rows), truncated=result.truncated)

    @strawberry.field(description="The twins reached from roots and every relationship between them.")
    async def subgraph(
        self,
        info: Ctx,
        roots: list[strawberry.ID],
        relationships: list[str] | None = None,
        direction: RelationshipDirection = RelationshipDirection.OUT,
        max_depth: int = 1,
        models: list[str] | None = None,
    ) -> Subgraph:
        api = context(info).api
        graph, models_set = api.require_graph(), api.require_registry().models
        if max_depth > MAX_DEPTH:
            raise LimitExceeded("maxDepth", MAX_DEPTH)
        if not roots:
            raise BadRequest("subgraph needs at least one root twin", details={"roots": []})
        spec = SubgraphSpec(
            roots=tuple(str(r) for r in roots),
            relationships=tuple(relationships or ()),
            direction=direction.graph,
            max_depth=max_depth,
            models=tuple(models or ()),
        )
        found = await asyncio.to_thread(select_subgraph, graph, models_set, spec)
        return Subgraph(
            twins=[TwinNode(twin=twin) for twin in subgraph_twins(found, models_set)],
            relationships=[RelationshipNode.of(rel) for rel in subgraph_relationships(found)],
        )
