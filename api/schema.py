"""The GraphQL schema for front ends (Strawberry).

The twin, model, telemetry and simulation fields join with their releases; the schema
now answers what any client needs first: which kgtwin this is and whether it is healthy.
"""

from __future__ import annotations

import strawberry
from strawberry.types import Info

from api.context import ApiContext


@strawberry.type(description="The state of one backend behind a port.")
class BackendStatus:
    port: str = strawberry.field(description="graph, telemetry or broker")
    backend: str = strawberry.field(description="falkordb, neo4j, duckdb, influxdb, mqtt ...")
    ok: bool
    error: str | None


@strawberry.type
class Query:
    @strawberry.field(description="The kgtwin version serving this API.")
    def version(self, info: Info[dict[str, ApiContext], None]) -> str:
        return info.context["kgtwin"].version

    @strawberry.field(description="Each configured backend, pinged now.")
    def health(self, info: Info[dict[str, ApiContext], None]) -> list[BackendStatus]:
        return [
            BackendStatus(port=h.port, backend=h.backend, ok=h.ok, error=h.error)
            for h in info.context["kgtwin"].health()
        ]


schema = strawberry.Schema(query=Query)
