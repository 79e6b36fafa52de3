"""``twinGraph``: the twin graph at a glance, as the explorer opens on it.

The first twins in id order (of a model and its subtypes, or of any) with every
relationship among them and how many twins match in all (``graph.overview``), so a front
end draws a twin of a few thousand elements from one request.
"""

from __future__ import annotations

import asyncio

import strawberry

from api.types import Ctx, RelationshipNode, TwinNode, context
from graph.overview import MAX_OVERVIEW_TWINS, overview


@strawberry.type(
    name="TwinGraph", description="Twins, every relationship among them, and how many match in all."
)
class TwinGraphView:
    twins: list[TwinNode]
    relationships: list[RelationshipNode]
    total_count: int = strawberry.field(description="How many twins match, beyond those given.")
    truncated: bool = strawberry.field(description="True when more twins match than first.")


@strawberry.type
class OverviewQuery:
    @strawberry.field(
        description=f"The first twins in id order (of model and its subtypes, or of any; first at most "
        f"{MAX_OVERVIEW_TWINS}) and every relationship among them."
    )
    async def twin_graph(self, info: Ctx, model: str | None = None, first: int = 1000) -> TwinGraphView:
        api = context(info).api
        graph, models = api.require_graph(), api.require_registry().models
        found = await asyncio.to_thread(overview, graph, models, first=first, model=model)
        return TwinGraphView(
            twins=[TwinNode(twin=twin) for twin in found.twins],
            relationships=[RelationshipNode.of(rel) for rel in found.relationships],
            total_count=found.total,
            truncated=found.truncated,
        )
