"""DataLoaders: one request's reads, batched across every twin that asks.

A list of twins that each ask for ``latest`` and ``telemetry`` costs one latest-values
read and one time-series query per distinct window (field, start, stop, every, fn), not
one per twin: each resolver ``load``s a key, and the loader answers all keys gathered in
one event-loop tick with one backend call. The loaders also cache per request, so a
twin's model document or count is read once however often the query names it.
Relationships batch too: one depth-1 walk from every twin that asks for the same
``(name, direction)``; and so do neighbours: one walk (one read per level) from every twin
that asks for the same ``(relationship, direction, depth)`` (``graph.queries``'s
``relationships_of_each`` and ``neighbours_of_each``). The loaders only group the keys;
the graph does the reading.

Backend calls block (drivers are synchronous), so each batch runs in a worker thread
and the event loop keeps serving other requests.
"""

from __future__ import annotations

import asyncio
from collections.abc import Hashable
from dataclasses import dataclass, field
from datetime import datetime
from functools import cached_property

from strawberry.dataloader import DataLoader

from api.context import ApiContext, RequestContext
from graph import Direction, Twin, TwinRelationship
from graph.counting import count_by_model
from graph.queries import neighbours_of_each, relationships_of_each
from ontology.errors import BadRequest
from ontology.model_store import StoredModel
from simulation.fmu.shadow_spec import measured_name
from telemetry.latest_values import freshest
from telemetry.points import Aggregate, Sample
from telemetry.refs import TelemetryRef


@dataclass(frozen=True)
class LatestKey:
    """The newest value of field ``name`` of the series ``ref`` names.

    ``on_node`` is the value the ingest service copied onto the twin's node, when the read
    of the twin carried one (``graph.Twin.latest``). It is what the key knows, not what it
    asks: keys that differ only in it are one load.
    """

    ref: TelemetryRef
    name: str
    on_node: Sample | None = field(default=None, compare=False)


@dataclass(frozen=True)
class RelationshipsKey:
    """The relationships of twin ``twin_id`` named ``name`` (any when None), in ``direction``."""

    twin_id: str
    name: str | None
    direction: Direction


@dataclass(frozen=True)
class SeriesKey:
    """The points (or window aggregates) of field ``name`` of ``ref`` in ``[start, stop)``."""

    ref: TelemetryRef
    name: str
    start: datetime
    stop: datetime
    every_s: float | None
    fn: Aggregate

    @property
    def window(self) -> tuple[str, datetime, datetime, float | None, Aggregate]:
        """What one batched query shares: everything but the series."""
        return (self.name, self.start, self.stop, self.every_s, self.fn)


@dataclass(frozen=True)
class NeighborsKey:
    """The twins up to ``depth`` relationships named ``name`` (any when None) from ``twin_id``."""

    twin_id: str
    name: str | None
    direction: Direction
    depth: int


def latest_key(twin_id: str, ref: TelemetryRef, on_node: Sample | None, name: str) -> LatestKey:
    """What ``latest(name)`` of a twin loads; ``BadRequest`` for a name it has no telemetry of.

    ``on_node`` is the value on the twin's node, if its read brought one, so the loader
    need not ask the time-series store for it.
    """
    return LatestKey(telemetry_of(twin_id, ref, name), name, on_node)


def series_key(
    ctx: RequestContext,
    twin_id: str,
    ref: TelemetryRef,
    name: str,
    start: str,
    stop: str | None,
    every: str | None,
    fn: str,
) -> SeriesKey:
    """What ``telemetry(...)`` of a twin loads; ``BadRequest`` for a bad name or window."""
    return SeriesKey(telemetry_of(twin_id, ref, name), name, *ctx.window(start, stop, every, fn))


def telemetry_of(twin_id: str, ref: TelemetryRef, name: str) -> TelemetryRef:
    """The reference of a twin's telemetry ``name``; ``BadRequest`` when the twin has none of that name."""
    # A live shadow's temperature.predicted and .residual are series of the twin too.
    if measured_name(name) not in ref.fields:
        raise BadRequest(
            f"twin {twin_id!r} has no telemetry {name!r}; it has {', '.join(ref.fields) or 'none'}",
            details={"twinId": twin_id, "name": name, "fields": list(ref.fields)},
        )
    return ref


def ref_key(ref: TelemetryRef) -> Hashable:
    """A hashable identity of a reference (its tags are a mapping)."""
    return (ref.bucket, ref.measurement, tuple(sorted(ref.tags.items())), ref.fields)


class Loaders:
    """The DataLoaders of one request, each made when the request first uses it (most use none or one)."""

    def __init__(self, api: ApiContext) -> None:
        self.api = api
        self._stored: asyncio.Task[dict[str, StoredModel]] | None = None

    @cached_property
    def latest(self) -> DataLoader[LatestKey, Sample | None]:
        return DataLoader(self._load_latest, cache_key_fn=lambda k: (ref_key(k.ref), k.name))

    @cached_property
    def series(self) -> DataLoader[SeriesKey, list[Sample]]:
        return DataLoader(self._load_series, cache_key_fn=lambda k: (ref_key(k.ref), *k.window))

    @cached_property
    def twin_count(self) -> DataLoader[str, int]:
        return DataLoader(self._load_twin_counts)

    @cached_property
    def relationships(self) -> DataLoader[RelationshipsKey, list[TwinRelationship]]:
        return DataLoader(self._load_relationships)

    @cached_property
    def neighbors(self) -> DataLoader[NeighborsKey, list[Twin]]:
        return DataLoader(self._load_neighbors)

    async def stored_model(self, dtmi: str) -> StoredModel | None:
        """The stored document of top-level model ``dtmi`` (one read of all models per request)."""
        if self._stored is None:
            self._stored = asyncio.ensure_future(asyncio.to_thread(self._read_stored))
        return (await self._stored).get(dtmi)

    def _read_stored(self) -> dict[str, StoredModel]:
        return {m.dtmi: m for m in self.api.require_registry().list()}

    async def _load_latest(self, keys: list[LatestKey]) -> list[Sample | None]:
        """Each key's newest value from the nearest source that has one; the rest in one store read.

        First the ingest's last-value cache, when ingest runs in this process (``kgtwin
        serve``): it holds each value once it is durable. Then the value on the twin's
        node (``LatestKey.on_node``), which the ingest copies there from its cache every
        ``KGTWIN_INGEST_LATEST_INTERVAL_S`` (1 s; longer when the graph is slow), so with
        ingest in another process (``kgtwin api``) a twin read costs no time-series
        query. Of the two, the newer wins (``telemetry.freshest``): the node is newer only
        when another ingest process wrote it. A node value may lag the store by that
        interval, carries its time to the millisecond, and is gone from the node after a
        write of the twin until the next value arrives; values written to the store by
        anything but the ingest service never reach the node. Keys with neither cost one
        batched store query.
        """
        answers: list[Sample | None] = [None] * len(keys)
        cache = self.api.latest
        misses: list[int] = []
        for i, key in enumerate(keys):
            cached = cache.sample(key.ref.twin_id, key.name) if cache is not None else None
            answers[i] = freshest(cached, key.on_node)
            if answers[i] is None:
                misses.append(i)
        if misses:
            store = self.api.require_telemetry()
            identities = {i: ref_key(keys[i].ref) for i in misses}
            refs: dict[Hashable, TelemetryRef] = {}
            for i in misses:
                refs.setdefault(identities[i], keys[i].ref)
            names = sorted({keys[i].name for i in misses})
            found = await asyncio.to_thread(store.latest, list(refs.values()), names)
            by_ref = dict(zip(refs, found, strict=True))
            for i in misses:
                answers[i] = by_ref[identities[i]].get(keys[i].name)
        return answers

    async def _load_series(self, keys: list[SeriesKey]) -> list[list[Sample]]:
        """One store query per window (field, start, stop, every, fn) for every series asking it."""
        store = self.api.require_telemetry()
        asked = [(ref_key(key.ref), key.window) for key in keys]
        groups: dict[tuple[str, datetime, datetime, float | None, Aggregate], dict[Hashable, TelemetryRef]]
        groups = {}
        for key, (identity, window) in zip(keys, asked, strict=True):
            groups.setdefault(window, {}).setdefault(identity, key.ref)
        answers: dict[tuple[Hashable, tuple[object, ...]], list[Sample]] = {}
        for window, refs in groups.items():
            name, start, stop, every_s, fn = window
            series = await asyncio.to_thread(store.query, list(refs.values()), name, start, stop, every_s, fn)
            for identity, samples in zip(refs, series, strict=True):
                answers[(identity, window)] = samples
        return [answers[pair] for pair in asked]

    async def _load_twin_counts(self, dtmis: list[str]) -> list[int]:
        counts = await asyncio.to_thread(count_by_model, self.api.require_graph(), dtmis)
        return [counts[dtmi] for dtmi in dtmis]

    async def _load_relationships(self, keys: list[RelationshipsKey]) -> list[list[TwinRelationship]]:
        """One subgraph walk of depth 1 per (name, direction) asked, from every twin asking it."""
        graph, models = self.api.require_graph(), self.api.require_registry().models
        groups: dict[tuple[str | None, Direction], list[str]] = {}
        for key in keys:
            groups.setdefault((key.name, key.direction), []).append(key.twin_id)
        found: dict[RelationshipsKey, list[TwinRelationship]] = {}
        for (name, direction), twin_ids in groups.items():
            each = await asyncio.to_thread(relationships_of_each, graph, models, twin_ids, name, direction)
            for twin_id, rels in each.items():
                found[RelationshipsKey(twin_id, name, direction)] = rels
        return [found[key] for key in keys]

    async def _load_neighbors(self, keys: list[NeighborsKey]) -> list[list[Twin] | BaseException]:
        """One walk per (name, direction, depth) from all the twins asking; each twin's share after."""
        graph = self.api.require_graph()
        groups: dict[tuple[str | None, Direction, int], list[str]] = {}
        for key in keys:
            groups.setdefault((key.name, key.direction, key.depth), []).append(key.twin_id)
        found: dict[NeighborsKey, list[Twin] | BaseException] = {}
        for (name, direction, depth), twin_ids in groups.items():
            answers = await asyncio.to_thread(neighbours_of_each, graph, twin_ids, name, direction, depth)
            for twin_id, answer in answers.items():
                found[NeighborsKey(twin_id, name, direction, depth)] = answer
        return [found[key] for key in keys]
