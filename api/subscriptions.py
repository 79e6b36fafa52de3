"""The ``Subscription`` root (websocket, graphql-transport-ws): graph changes and telemetry.

``twinChanged`` reads the in-process :class:`~graph.EventBus` through a bounded
:class:`~graph.EventStream`: a slow client loses the oldest events, never blocks a
writer, and sees ``dropped`` grow (then it should re-read what it shows). With
``within``, the containment subtree is computed when the subscription starts and again
whenever a containment relationship (``contains``, ``isPartOf``, ``locatedIn``) of a
twin in it changes, so twins moved in or out are followed.

``telemetry`` sends the current values first, then each newer value, polled every
``telemetry_poll_s`` from the ingest's last-value cache when ingest runs in this process
(the edge profile: no database read at all), else from the time-series store (one read
for all the subscribed twins).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator
from datetime import datetime

import strawberry
from strawberry.scalars import JSON

from api.context import ApiContext
from api.simulations import SimulationSubscription
from api.types import Ctx, context
from graph import ChangeEvent, ChangeKind, GraphStore, containment_tree
from graph.telemetry import Sample, TelemetryRef
from ingest.store import TelemetryStore
from ontology.errors import BadRequest
from ontology.model import ModelSet

_CONTAINMENT_NAMES = frozenset({"contains", "isPartOf", "locatedIn"})
_RELATIONSHIP_KINDS = frozenset(
    {ChangeKind.RELATIONSHIP_CREATED, ChangeKind.RELATIONSHIP_UPDATED, ChangeKind.RELATIONSHIP_DELETED}
)
_TWIN_KINDS = frozenset({ChangeKind.TWIN_CREATED, ChangeKind.TWIN_UPDATED, ChangeKind.TWIN_DELETED})


@strawberry.type(description="One committed change of the twin graph.")
class TwinChange:
    kind: str = strawberry.field(description="twin.created, twin.updated, twin.deleted, relationship.* ...")
    id: strawberry.ID = strawberry.field(
        description="The twin id, or the relationship id for relationship.*."
    )
    at: str = strawberry.field(description="UTC ISO 8601 time of the change.")
    model: str | None = strawberry.field(description="The twin's model (the source's for relationships).")
    source: strawberry.ID | None = strawberry.field(description="The source twin of a relationship.")
    data: JSON = strawberry.field(
        description="twin: {etag, properties} or {etag, patch}; relationship: {name, target...}."
    )
    dropped: int = strawberry.field(description="Events this subscription lost so far to a full buffer.")


@strawberry.type(description="A new value of one telemetry field of one twin.")
class TelemetryUpdate:
    twin_id: strawberry.ID
    name: str
    value: JSON
    time: datetime


class _Subtree:
    """The twins of ``root``'s containment tree, kept current as containment changes."""

    def __init__(self, graph: GraphStore, root: str) -> None:
        self.graph = graph
        self.root = root
        self.ids: set[str] = set()

    async def refresh(self) -> None:
        tree = await asyncio.to_thread(containment_tree, self.graph, self.root)
        self.ids = set(tree.ids())

    async def concerns(self, event: ChangeEvent) -> bool:
        if event.kind in _TWIN_KINDS:
            return event.id in self.ids
        ends = {event.source, event.data.get("target")}
        inside = bool(ends & self.ids)
        if inside and event.data.get("name") in _CONTAINMENT_NAMES:
            await self.refresh()
        return inside or bool(ends & self.ids)


def _matches(event: ChangeEvent, ids: set[str] | None, models: list[str] | None, known: ModelSet) -> bool:
    if event.kind not in _TWIN_KINDS and event.kind not in _RELATIONSHIP_KINDS:
        return False
    if ids is not None:
        ends = {event.id} if event.kind in _TWIN_KINDS else {event.source, event.data.get("target")}
        if not ends & ids:
            return False
    return models is None or any(event.model is not None and known.is_a(event.model, m) for m in models)


def _latest(
    api: ApiContext, store: TelemetryStore, refs: list[TelemetryRef], names: list[str] | None
) -> list[dict[str, Sample]]:
    """The newest values: from the ingest's last-value cache in this process, else one store read."""
    if api.latest is None:
        return store.latest(refs, names)
    found: list[dict[str, Sample]] = []
    for ref in refs:
        cached = api.latest.get(ref.twin_id)
        found.append(
            {
                n: Sample(v.time, v.value)
                for n, v in cached.items()
                if n in ref.fields and (not names or n in names)
            }
        )
    return found


@strawberry.type
class Subscription(SimulationSubscription):
    @strawberry.subscription(
        description="Changes of twins and relationships: of these ids, of these models (subtypes "
        "included), within this twin's containment subtree; the filters given must all hold."
    )
    async def twin_changed(
        self,
        info: Ctx,
        ids: list[strawberry.ID] | None = None,
        models: list[str] | None = None,
        within: strawberry.ID | None = None,
    ) -> AsyncGenerator[TwinChange, None]:
        api = context(info).api
        graph, registry, _ = api.require_graph()
        unknown = [m for m in models or () if m not in registry.models]
        if unknown:
            raise BadRequest(f"model {unknown[0]!r} is not registered", details={"models": unknown})
        subtree = _Subtree(graph, str(within)) if within is not None else None
        wanted = {str(i) for i in ids} if ids is not None else None
        with api.events.stream() as stream:
            if subtree is not None:
                await subtree.refresh()  # NotFound for a missing root
            async for event in stream:
                if not _matches(event, wanted, models, registry.models):
                    continue
                if subtree is not None and not await subtree.concerns(event):
                    continue
                yield TwinChange(
                    kind=event.kind.value,
                    id=strawberry.ID(event.id),
                    at=event.at,
                    model=event.model,
                    source=strawberry.ID(event.source) if event.source is not None else None,
                    data=JSON(dict(event.data)),
                    dropped=stream.dropped,
                )

    @strawberry.subscription(
        description="Telemetry of these twins (these fields, or all): the current values, then each new one."
    )
    async def telemetry(
        self, info: Ctx, twin_ids: list[strawberry.ID], names: list[str] | None = None
    ) -> AsyncGenerator[TelemetryUpdate, None]:
        api = context(info).api
        _, _, twins = api.require_graph()
        store = api.require_telemetry()
        if not twin_ids:
            raise BadRequest("telemetry needs at least one twin id", details={"twinIds": []})
        found = [await asyncio.to_thread(twins.get_twin, str(t)) for t in twin_ids]
        refs: list[TelemetryRef] = [t.telemetry for t in found]
        for twin, ref in zip(found, refs, strict=True):
            missing = [n for n in names or () if n not in ref.fields]
            if missing:
                raise BadRequest(
                    f"twin {twin.id!r} has no telemetry {missing[0]!r}",
                    details={"twinId": twin.id, "names": missing, "fields": list(ref.fields)},
                )
        seen: dict[tuple[str, str], datetime] = {}
        while True:
            values = await asyncio.to_thread(_latest, api, store, refs, names)
            for twin, samples in zip(found, values, strict=True):
                for name, sample in sorted(samples.items()):
                    if seen.get((twin.id, name)) == sample.time:
                        continue
                    seen[(twin.id, name)] = sample.time
                    yield TelemetryUpdate(
                        twin_id=strawberry.ID(twin.id), name=name, value=JSON(sample.value), time=sample.time
                    )
            await asyncio.sleep(api.telemetry_poll_s)
