"""The GraphQL object types front ends read: twins, their relationships, models, telemetry.

Each type wraps the domain value (``graph.Twin``, a DTMI) in a private field and resolves
its other fields on demand, so a query pays only for what it selects. Fields that reach a
backend check the caller's ``READ`` permission and go through the request's DataLoaders.
Fields a list of twins asks once per twin are ``fast_field``s: the executor calls them
itself (``api.fastpath``); they are written as any Strawberry field.
"""

from __future__ import annotations

from datetime import datetime
from enum import Enum
from typing import Any

import strawberry
from strawberry.scalars import JSON
from strawberry.types import Info

from api.context import RequestContext
from api.fastpath import fast_field
from api.loaders import LatestKey, NeighborsKey, RelationshipsKey, SeriesKey, latest_key, series_key
from api.roles import Permission
from graph import Direction, Twin, TwinRelationship
from ontology.errors import NotFound
from ontology.labels import display_name
from ontology.model import (
    ArraySchema,
    Component,
    EnumSchema,
    Interface,
    ObjectSchema,
    PrimitiveSchema,
    Relationship,
    Schema,
)
from telemetry.points import Sample
from telemetry.refs import TelemetryRef

Ctx = Info[RequestContext, None]
START = "-1h"
"""``telemetry``'s default start."""
FN = "mean"
"""``telemetry``'s default window function."""


def context(info: Ctx, permission: Permission = Permission.READ) -> RequestContext:
    """The request's context, once the caller is allowed ``permission`` (``RequestContext.allow``)."""
    ctx = info.context
    ctx.allow(permission)
    return ctx


@strawberry.enum(description="Which way relationships are followed from a twin.")
class RelationshipDirection(Enum):
    OUT = "out"
    IN = "in"
    BOTH = "both"

    @property
    def graph(self) -> Direction:
        return Direction(self.value)


@strawberry.type(description="Where a twin's time series live in the time-series store.")
class TelemetryReference:
    bucket: str
    measurement: str
    tags: JSON = strawberry.field(description="Tag set selecting the series; always has twin_id.")
    fields: list[str] = strawberry.field(description="The Telemetry names stored as fields.")

    @classmethod
    def of(cls, ref: TelemetryRef) -> TelemetryReference:
        return cls(
            bucket=ref.bucket, measurement=ref.measurement, tags=JSON(dict(ref.tags)), fields=list(ref.fields)
        )


@strawberry.type(description="The newest value of one telemetry field.")
class LatestValue:
    name: str
    value: JSON
    time: datetime


@strawberry.type(description="One telemetry value, or one window's aggregate (time = the window's start).")
class TelemetryPoint:
    time: datetime
    value: JSON


@strawberry.type(name="Relationship", description="A directed, named relationship between two twins.")
class RelationshipNode:
    id: strawberry.ID = strawberry.field(description="Unique among the source twin's relationships.")
    name: str = strawberry.field(description="The DTDL relationship name (contains, feeds ...).")
    source: strawberry.ID
    target: strawberry.ID
    properties: JSON

    @classmethod
    def of(cls, rel: TwinRelationship) -> RelationshipNode:
        return cls(
            id=strawberry.ID(rel.id),
            name=rel.name,
            source=strawberry.ID(rel.source),
            target=strawberry.ID(rel.target),
            properties=JSON(rel.properties),
        )


@strawberry.type(name="Twin", description="A digital twin: an instance of a model, with its DTDL properties.")
class TwinNode:
    twin: strawberry.Private[Twin]

    @fast_field()
    def id(self) -> strawberry.ID:
        return strawberry.ID(self.twin.id)

    @fast_field(description="The model (DTDL Interface) the twin instantiates.")
    def model(self) -> ModelNode:
        return ModelNode(dtmi=self.twin.model)

    @fast_field(description="Changes on every write; pass it as ifMatch to updateTwin.")
    def etag(self) -> str:
        return self.twin.etag

    @fast_field(description="UTC ISO 8601; null for twins of a subgraph.")
    def created_at(self) -> str | None:
        return self.twin.created_at or None

    @fast_field(description="UTC ISO 8601 of the last change; null for twins of a subgraph.")
    def updated_at(self) -> str | None:
        return self.twin.updated_at or None

    @fast_field(description="The DTDL property document.")
    def properties(self) -> JSON:
        return JSON(self.twin.properties)

    @fast_field(description="One property by name, or a field of one by path (location.lat); null if unset.")
    def property(self, name: str) -> JSON | None:
        value: Any = self.twin.properties
        for segment in name.split("."):
            if not isinstance(value, dict) or segment not in value:
                return None
            value = value[segment]
        return JSON(value)

    @strawberry.field(
        description="The twin's relationships with that name (any when omitted), out, in or both."
    )
    async def relationships(
        self, info: Ctx, name: str | None = None, direction: RelationshipDirection = RelationshipDirection.OUT
    ) -> list[RelationshipNode]:
        key = RelationshipsKey(self.twin.id, name, direction.graph)
        found = await context(info).loaders.relationships.load(key)
        return [RelationshipNode.of(r) for r in found]

    @strawberry.field(
        description="Twins up to depth (at most 10) relationships away, nearest first, then by id."
    )
    async def neighbors(
        self,
        info: Ctx,
        relationship: str | None = None,
        direction: RelationshipDirection = RelationshipDirection.OUT,
        depth: int = 1,
    ) -> list[TwinNode]:
        ctx = context(info)
        ctx.api.require_graph()  # BACKEND_UNAVAILABLE before a key is made
        key = NeighborsKey(self.twin.id, relationship or None, direction.graph, depth)
        return [TwinNode(twin=twin) for twin in await ctx.loaders.neighbors.load(key)]

    @strawberry.field(description="Where this twin's telemetry lives.")
    def telemetry_ref(self, info: Ctx) -> TelemetryReference:
        context(info)
        return TelemetryReference.of(self.twin.telemetry)

    @fast_field(description="The newest value of telemetry field name; null when none was received.")
    async def latest(self, info: Ctx, name: str) -> LatestValue | None:
        ctx = context(info)
        sample = await ctx.loaders.latest.load(self.latest_key(ctx, name))
        return None if sample is None else LatestValue(name=name, value=JSON(sample.value), time=sample.time)

    @fast_field(
        graphql_type=list[TelemetryPoint],
        description="Points of telemetry field name in [start, stop); with every, one fn per window.",
    )
    async def telemetry(
        self,
        info: Ctx,
        name: str,
        start: str = START,
        stop: str | None = None,
        every: str | None = None,
        fn: str = FN,
    ) -> list[Sample]:
        # The samples themselves: a TelemetryPoint's fields are read by attribute, and a
        # Sample has both (time, value), so 650 points of a 50-room answer need no copy.
        ctx = context(info)
        return await ctx.loaders.series.load(self.series_key(ctx, name, start, stop, every, fn))

    def latest_key(self, ctx: RequestContext, name: str) -> LatestKey:
        """What ``latest(name)`` of this twin loads (``api.loaders.latest_key``)."""
        return latest_key(self.twin.id, self.twin.telemetry, self.twin.latest.get(name), name)

    def series_key(
        self,
        ctx: RequestContext,
        name: str,
        start: str = START,
        stop: str | None = None,
        every: str | None = None,
        fn: str = FN,
    ) -> SeriesKey:
        """What ``telemetry(...)`` of this twin loads (``api.loaders.series_key``)."""
        return series_key(ctx, self.twin.id, self.twin.telemetry, name, start, stop, every, fn)


@strawberry.type(
    description="One element of a model: a Property, Telemetry, Relationship, Component or Command."
)
class Content:
    name: str
    kind: str = strawberry.field(description="Property, Telemetry, Relationship, Component or Command.")
    display_name: str
    defined_in: str = strawberry.field(
        description="The DTMI of the Interface that declares it (maybe inherited)."
    )
    schema: JSON | None = strawberry.field(
        description="The value's schema: a primitive name or a DTDL object."
    )
    unit: str | None = None
    writable: bool = False
    target: str | None = strawberry.field(default=None, description="A Relationship's target model.")


@strawberry.type(name="Model", description="A DTDL Interface twins may instantiate.")
class ModelNode:
    dtmi: strawberry.Private[str]

    @strawberry.field
    def id(self) -> strawberry.ID:
        return strawberry.ID(self.dtmi)

    @strawberry.field
    def display_name(self, info: Ctx, language: str = "en") -> str:
        return display_name(self._interface(info), language)

    @strawberry.field(description="The models this one extends directly.")
    def extends(self, info: Ctx) -> list[ModelNode]:
        return [ModelNode(dtmi=d) for d in self._interface(info).extends]

    @strawberry.field(description="Every element, inherited ones included.")
    def contents(self, info: Ctx) -> list[Content]:
        return [_content(c) for c in self._interface(info).contents.values()]

    @strawberry.field(description="True once no new twin may use it (its twins keep it).")
    def decommissioned(self, info: Ctx) -> bool:
        return context(info).api.require_registry().resolve(self.dtmi).decommissioned

    @strawberry.field(
        description="The DTDL document as uploaded; null for an Interface defined inside another."
    )
    async def dtdl(self, info: Ctx) -> JSON | None:
        stored = await context(info).loaders.stored_model(self.dtmi)
        return JSON(stored.document) if stored is not None else None

    @strawberry.field(description="How many twins have exactly this model.")
    async def twin_count(self, info: Ctx) -> int:
        return await context(info).loaders.twin_count.load(self.dtmi)

    def _interface(self, info: Ctx) -> Interface:
        found = context(info).api.require_registry().models.get(self.dtmi)
        if found is None:
            raise NotFound(f"model {self.dtmi} does not exist", details={"dtmi": self.dtmi})
        return found


def _content(content: Any) -> Content:
    target = content.target if isinstance(content, Relationship) else None
    schema_value: Any = getattr(content, "schema", None)
    if isinstance(content, Component):
        schema_json: Any = content.schema
    elif schema_value is not None:
        schema_json = schema_to_json(schema_value)
    else:
        schema_json = None
    return Content(
        name=content.name,
        kind=type(content).__name__,
        display_name=display_name(content),
        defined_in=content.defined_in,
        schema=JSON(schema_json) if schema_json is not None else None,
        unit=getattr(content, "unit", None),
        writable=bool(getattr(content, "writable", False)),
        target=target,
    )


def schema_to_json(schema: Schema) -> Any:
    """A DTDL schema as DTDL writes it: a primitive's name, or an Enum/Object/Array/Map object."""
    if isinstance(schema, PrimitiveSchema):
        return schema.kind
    if isinstance(schema, EnumSchema):
        return {
            "@type": "Enum",
            "valueSchema": schema.value_schema,
            "enumValues": [{"name": v.name, "enumValue": v.value} for v in schema.values],
        }
    if isinstance(schema, ObjectSchema):
        return {
            "@type": "Object",
            "fields": [{"name": f.name, "schema": schema_to_json(f.schema)} for f in schema.fields],
        }
    if isinstance(schema, ArraySchema):
        return {"@type": "Array", "elementSchema": schema_to_json(schema.element)}
    return {
        "@type": "Map",
        "mapKey": {"name": schema.key_name, "schema": "string"},
        "mapValue": {"name": schema.value_name, "schema": schema_to_json(schema.value)},
    }
