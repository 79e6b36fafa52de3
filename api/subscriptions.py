"""The ``Subscription`` root (websocket, graphql-transport-ws): graph changes and telemetry.

``twinChanged`` reads the in-process :class:`~graph.EventBus` through a bounded
:class:`~graph.EventStream`: a slow client loses the oldest events, never blocks a
writer, and sees ``dropped`` grow (then it should re-read what it shows). With
``within``, the containment subtree is computed when the subscription starts and again
whenever a containment relationship (``contains``, ``isPartOf``, ``locatedIn``) of a
twin in it changes, so twins moved in or out are followed.

``telemetry`` sends the current values first, then each newer value. When ingest runs in
this process (the edge profile, ``kgtwin serve``) the values come from its last-value cache,
which wakes the subscription the moment ingest takes a value of a subscribed twin: pushed,
no database read and no polling (but one, for the first answer, of the twins the cache
has no value of: quiet since the service started). A burst that arrives while the client
is still being sent to is coalesced to the newest value of each telemetry, and ingest
never waits for a client.
Without that cache (the cloud profile, ``kgtwin api`` beside a separate ``kgtwin ingest``)
the time-series store is polled every ``telemetry_poll_s`` (one read for all the
subscribed twins).
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncGenerator, Callable, Iterator, Sequence
from datetime import datetime

import strawberry
from strawberry.scalars import JSON

from api.shadows import ShadowSubscription
from api.simulations import SimulationSubscription
from api.types import Ctx, context
from graph import ChangeEvent, ChangeKind, GraphStore, Twin, containment_tree
from ontology.errors import BadRequest
from ontology.model import ModelSet
from simulation.fmu.shadow_spec import measured_name
from telemetry.latest_values import LatestValues
from telemetry.points import Sample
from telemetry.refs import TelemetryRef
from telemetry.store import TelemetryStore

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


class _TelemetryWakeup:
    """Wakes one ``telemetry`` subscription's coroutine when ingest changes its twins' values.

    Called by :class:`~telemetry.LatestValues` in ingest's threads, so it only records
    the twin ids and, once per burst, schedules a wake-up on the subscription's loop: the
    loop's queue stays bounded however fast values arrive, and ingest never waits for it.
    """

    def __init__(self, loop: asyncio.AbstractEventLoop, twin_ids: set[str]) -> None:
        self._loop = loop
        self._twin_ids = frozenset(twin_ids)
        self._lock = threading.Lock()
        self._changed: set[str] = set()
        self._wake_pending = False
        self._ready = asyncio.Event()
        self.stop: Callable[[], None] = lambda: None

    def __call__(self, changed: frozenset[str]) -> None:
        hits = changed & self._twin_ids
        if not hits:
            return
        with self._lock:
            self._changed |= hits
            wake, self._wake_pending = not self._wake_pending, True
        if wake:
            try:
                self._loop.call_soon_threadsafe(self._ready.set)
            except RuntimeError:  # the subscription's loop is closed: nobody will read this
                self.stop()
                raise

    async def changed(self) -> set[str]:
        """The subscribed twins changed since the last call, waiting for at least one."""
        while True:
            with self._lock:
                if self._changed:
                    changed, self._changed = self._changed, set()
                    return changed
                self._wake_pending = False
                self._ready.clear()
            await self._ready.wait()


def _newer(
    twins: Sequence[Twin], latest: Sequence[dict[str, Sample]], sent: dict[tuple[str, str], Sample]
) -> Iterator[TelemetryUpdate]:
    """The values not sent yet (``sent`` is updated), in twin order, names sorted.

    A sample is compared whole, not by time only: a corrected value redelivered with the
    same timestamp replaces the cached one, and the client must see it.
    """
    for twin, samples in zip(twins, latest, strict=True):
        for name, sample in sorted(samples.items()):
            if sent.get((twin.id, name)) == sample:
                continue
            sent[(twin.id, name)] = sample
            yield TelemetryUpdate(
                twin_id=strawberry.ID(twin.id), name=name, value=JSON(sample.value), time=sample.time
            )


def _cached(
    cache: LatestValues, refs: Sequence[TelemetryRef], names: list[str] | None
) -> list[dict[str, Sample]]:
    """The newest values of each twin from the last-value cache (a dict read, no store)."""
    found: list[dict[str, Sample]] = []
    for ref in refs:
        found.append(
            {
                n: Sample(v.time, v.value)
                for n, v in cache.get(ref.twin_id).items()
                if n in ref.fields and (not names or n in names)
            }
        )
    return found


async def _fill_from_store(
    store: TelemetryStore,
    refs: Sequence[TelemetryRef],
    names: list[str] | None,
    current: list[dict[str, Sample]],
) -> None:
    """Complete the first answer with the store's values of what the cache has not seen.

    The cache holds what ingest took since this process started: a twin whose device has
    been quiet since would otherwise get no current value. One store read, for the
    twins missing a value; later values come from the cache as they arrive.
    """
    missing = [i for i, ref in enumerate(refs) if any(n not in current[i] for n in (names or ref.fields))]
    if not missing:
        return
    stored = await asyncio.to_thread(store.latest, [refs[i] for i in missing], names)
    for i, samples in zip(missing, stored, strict=True):
        for name, sample in samples.items():
            current[i].setdefault(name, sample)


@strawberry.type
class Subscription(SimulationSubscription, ShadowSubscription):
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
        graph, registry = api.require_graph(), api.require_registry()
        unknown = [m for m in models or () if not await asyncio.to_thread(registry.knows, m)]
        if unknown:
            raise BadRequest(f"model {unknown[0]!r} is not registered", details={"models": unknown})
        subtree = _Subtree(graph, str(within)) if within is not None else None
        wanted = {str(i) for i in ids} if ids is not None else None
        with api.events.stream() as stream:
            if subtree is not None:
                await subtree.refresh()  # NotFound for a missing root
            async for event in stream:
                if models and event.model is not None and event.model not in registry.models:
                    # A model another replica registered a moment ago: is it a subtype of one asked for?
                    await asyncio.to_thread(registry.knows, event.model)
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
        twins = api.require_twins()
        store = api.require_telemetry()
        if not twin_ids:
            raise BadRequest("telemetry needs at least one twin id", details={"twinIds": []})
        found = [await asyncio.to_thread(twins.get_twin, str(t)) for t in twin_ids]
        refs: list[TelemetryRef] = [t.telemetry for t in found]
        for twin, ref in zip(found, refs, strict=True):
            missing = [n for n in names or () if measured_name(n) not in ref.fields]
            if missing:
                raise BadRequest(
                    f"twin {twin.id!r} has no telemetry {missing[0]!r}",
                    details={"twinId": twin.id, "names": missing, "fields": list(ref.fields)},
                )
        sent: dict[tuple[str, str], Sample] = {}
        cache = api.latest
        if cache is None:  # ingest is another process: poll the store
            while True:
                values = await asyncio.to_thread(store.latest, refs, names)
                for update in _newer(found, values, sent):
                    yield update
                await asyncio.sleep(api.telemetry_poll_s)
        wakeup = _TelemetryWakeup(asyncio.get_running_loop(), {t.id for t in found})
        wakeup.stop = cache.watch(wakeup)  # before the first read, so no value falls between
        try:
            pairs = list(zip(found, refs, strict=True))
            current = _cached(cache, refs, names)
            await _fill_from_store(store, refs, names, current)
            for update in _newer(found, current, sent):
                yield update
            while True:
                changed = await wakeup.changed()
                # Read when woken, not when told: a burst costs one read of the newest values.
                woken = [(t, r) for t, r in pairs if t.id in changed]
                values = _cached(cache, [r for _, r in woken], names)
                for update in _newer([t for t, _ in woken], values, sent):
                    yield update
        finally:  # the client left or the server stops: ingest must stop calling us
            wakeup.stop()
