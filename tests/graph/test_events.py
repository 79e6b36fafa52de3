"""Change events: published after a change is written, never for a refused or failed one, on both engines."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import pytest

from graph.cypher import DEFAULT_MAX_ROWS, DEFAULT_TIMEOUT_S
from graph.events import ChangeEvent, ChangeKind, EventBus, document_patch
from graph.model_store import GraphModelStore
from graph.store import CypherResult, GraphStore, Statement
from graph.twins import TwinGraph
from ontology import Conflict, ModelError, ModelRegistry, NotFound, StoredModel, ValidationFailed, apply_patch
from ontology.errors import BackendUnavailable
from tests.graph.plant import DOCS, EQUIPMENT, PUMP, ROOM, TANK, plant_models

WHEN = datetime(2026, 1, 2, tzinfo=UTC)


@pytest.fixture
def bus() -> EventBus:
    return EventBus()


@pytest.fixture
def seen(bus: EventBus) -> list[ChangeEvent]:
    """Every event published on ``bus``, in order."""
    events: list[ChangeEvent] = []
    bus.subscribe(events.append)
    return events


@pytest.fixture
def twins(store: GraphStore, bus: EventBus) -> TwinGraph:
    return TwinGraph(store, plant_models(), events=bus)


def kinds(events: list[ChangeEvent]) -> list[tuple[str, str]]:
    return [(e.kind.value, e.id) for e in events]


def test_creating_and_replacing_a_twin_announce_the_twin_then_its_patch(
    twins: TwinGraph, seen: list[ChangeEvent]
) -> None:
    first = twins.put_twin("pump-1", PUMP, {"serial": "P-1", "location": {"lat": 1.0, "lon": 2.0}})
    second = twins.put_twin("pump-1", PUMP, {"location": {"lat": 1.5, "lon": 2.0}, "flow": 3.0})
    created, updated = seen
    assert (created.kind, created.id, created.model, created.at) == (
        ChangeKind.TWIN_CREATED,
        "pump-1",
        PUMP,
        first.updated_at,
    )
    assert created.data == {
        "etag": first.etag,
        "properties": first.properties,
        "telemetry": first.telemetry.to_dict(),
    }
    assert (updated.kind, updated.data["etag"], updated.at) == (
        ChangeKind.TWIN_UPDATED,
        second.etag,
        second.updated_at,
    )
    assert apply_patch(first.properties, updated.data["patch"]) == second.properties


def test_a_patched_twin_announces_the_patch_it_was_given(twins: TwinGraph, seen: list[ChangeEvent]) -> None:
    twins.put_twin("pump-1", PUMP, {"flow": 1.0})
    patch = [{"op": "replace", "path": "/flow", "value": 2.0}]
    patched = twins.patch_twin("pump-1", patch)
    assert seen[-1] == ChangeEvent(
        ChangeKind.TWIN_UPDATED, "pump-1", patched.updated_at, PUMP, {"etag": patched.etag, "patch": patch}
    )


def test_relationships_announce_creation_replacement_and_deletion_with_their_source(
    twins: TwinGraph, seen: list[ChangeEvent]
) -> None:
    twins.put_twin("pump-1", PUMP, {})
    twins.put_twin("tank-1", TANK, {})
    twins.put_relationship("pump-1", "f1", "feeds", "tank-1", {"since": "2024-01-01"})
    twins.put_relationship("pump-1", "f1", "feeds", "tank-1", {"since": "2025-01-01"})
    twins.delete_relationship("pump-1", "f1")
    created, replaced, deleted = seen[2:]
    assert (created.kind, replaced.kind, deleted.kind) == (
        ChangeKind.RELATIONSHIP_CREATED,
        ChangeKind.RELATIONSHIP_UPDATED,
        ChangeKind.RELATIONSHIP_DELETED,
    )
    assert all((e.id, e.source, e.model) == ("f1", "pump-1", PUMP) for e in (created, replaced, deleted))
    assert replaced.data == {"name": "feeds", "target": "tank-1", "properties": {"since": "2025-01-01"}}
    assert deleted.data == {"name": "feeds", "target": "tank-1"}


def test_a_cascading_delete_announces_each_relationship_then_the_twin(
    twins: TwinGraph, seen: list[ChangeEvent]
) -> None:
    twins.put_twin("pump-1", PUMP, {})
    twins.put_twin("tank-1", TANK, {})
    twins.put_twin("room-1", ROOM, {})
    twins.put_relationship("pump-1", "f1", "feeds", "tank-1")
    twins.put_relationship("tank-1", "in", "locatedIn", "room-1")
    del seen[:]
    twins.delete_twin("tank-1", cascade=True)
    assert sorted(kinds(seen[:2])) == [("relationship.deleted", "f1"), ("relationship.deleted", "in")]
    by_id = {e.id: e for e in seen[:2]}
    assert (by_id["f1"].source, by_id["f1"].model, by_id["f1"].data) == (
        "pump-1",
        PUMP,
        {"name": "feeds", "target": "tank-1"},
    )
    assert (by_id["in"].source, by_id["in"].model) == ("tank-1", TANK)
    assert (seen[2].kind, seen[2].id, seen[2].model) == (ChangeKind.TWIN_DELETED, "tank-1", TANK)


def test_refused_changes_announce_nothing(twins: TwinGraph, seen: list[ChangeEvent]) -> None:
    twins.put_twin("pump-1", PUMP, {})
    twins.put_twin("room-1", ROOM, {})
    twins.put_twin("room-2", ROOM, {})
    twins.put_relationship("pump-1", "in", "locatedIn", "room-1")
    before = list(seen)
    refusals: list[tuple[type[Exception], Any]] = [
        (ValidationFailed, lambda: twins.put_twin("pump-1", PUMP, {"flow": "fast"})),
        (Conflict, lambda: twins.put_twin("pump-1", TANK, {})),
        (Conflict, lambda: twins.patch_twin("pump-1", [], if_match='W/"old"')),
        (Conflict, lambda: twins.put_relationship("pump-1", "in-2", "locatedIn", "room-2")),
        (Conflict, lambda: twins.delete_twin("room-1")),
        (NotFound, lambda: twins.delete_twin("nobody")),
        (NotFound, lambda: twins.delete_relationship("pump-1", "nothing")),
    ]
    for error, change in refusals:
        with pytest.raises(error):
            change()
    assert seen == before


def test_a_refused_relationship_leaves_the_one_it_would_replace(twins: TwinGraph) -> None:
    twins.put_twin("pump-1", PUMP, {})
    twins.put_twin("tank-1", TANK, {})
    twins.put_twin("room-1", ROOM, {})
    twins.put_twin("room-2", ROOM, {})
    twins.put_relationship("pump-1", "in", "locatedIn", "room-1")
    twins.put_relationship("pump-1", "f1", "feeds", "tank-1")
    # Reusing f1's id for a second locatedIn would exceed its maxMultiplicity of 1.
    with pytest.raises(Conflict):
        twins.put_relationship("pump-1", "f1", "locatedIn", "room-2")
    assert [r.id for r in twins.relationships("pump-1")] == ["f1", "in"]


class FailingWrites:
    """A ``GraphStore`` whose engine fails every write (reads go to the real one)."""

    backend = "failing"

    def __init__(self, store: GraphStore) -> None:
        self._store = store
        self.capabilities = store.capabilities

    def ping(self) -> None:
        self._store.ping()

    def read(
        self,
        query: str,
        params: Mapping[str, Any] | None = None,
        *,
        timeout_s: float = DEFAULT_TIMEOUT_S,
        max_rows: int = DEFAULT_MAX_ROWS,
    ) -> CypherResult:
        return self._store.read(query, params, timeout_s=timeout_s, max_rows=max_rows)

    def query_rows(
        self, query: str, params: Mapping[str, Any] | None = None, *, timeout_s: float = DEFAULT_TIMEOUT_S
    ) -> list[list[Any]]:
        return self._store.query_rows(query, params, timeout_s=timeout_s)

    def write(self, query: str, params: Mapping[str, Any] | None = None) -> CypherResult:
        raise BackendUnavailable("failing", "the connection dropped during the write")

    def prepare(self, query: str, params: Mapping[str, Any] | None = None) -> Statement:
        return self._store.prepare(query, params)

    def send(self, statement: Statement) -> CypherResult:
        raise BackendUnavailable("failing", "the connection dropped during the write")

    def ensure_schema(self) -> None:
        self._store.ensure_schema()

    def close(self) -> None:
        self._store.close()


def test_failed_writes_announce_nothing(twins: TwinGraph, bus: EventBus, seen: list[ChangeEvent]) -> None:
    twins.put_twin("pump-1", PUMP, {})
    twins.put_twin("tank-1", TANK, {})
    before = list(seen)
    failing = TwinGraph(FailingWrites(twins.store), twins.models, events=bus)
    models = GraphModelStore(FailingWrites(twins.store), events=bus)
    changes: list[Any] = [
        lambda: failing.put_twin("pump-2", PUMP, {}),
        lambda: failing.patch_twin("pump-1", [{"op": "add", "path": "/flow", "value": 1.0}]),
        lambda: failing.put_relationship("pump-1", "f1", "feeds", "tank-1"),
        lambda: failing.delete_twin("pump-1"),
        lambda: models.add([StoredModel(EQUIPMENT, {"@id": EQUIPMENT}, WHEN)]),
    ]
    for change in changes:
        with pytest.raises(BackendUnavailable):
            change()
    assert seen == before


def test_a_failing_subscriber_is_logged_and_breaks_neither_the_writer_nor_the_others(
    twins: TwinGraph, bus: EventBus, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(event: ChangeEvent) -> None:
        raise RuntimeError("subscriber bug")

    later: list[ChangeEvent] = []
    bus.subscribe(broken)
    bus.subscribe(later.append)
    with caplog.at_level(logging.ERROR, logger="graph.events"):
        twins.put_twin("pump-1", PUMP, {})
    assert twins.get_twin("pump-1").model == PUMP
    assert kinds(later) == [("twin.created", "pump-1")]
    assert "subscriber bug" in caplog.text


def test_an_unsubscribed_callback_hears_nothing_more(twins: TwinGraph, bus: EventBus) -> None:
    heard: list[ChangeEvent] = []
    stop = bus.subscribe(heard.append)
    twins.put_twin("room-1", ROOM, {})
    stop()
    twins.put_twin("room-2", ROOM, {})
    assert kinds(heard) == [("twin.created", "room-1")]


def test_a_stream_receives_changes_written_in_other_threads(twins: TwinGraph, bus: EventBus) -> None:
    async def listen() -> list[ChangeEvent]:
        with bus.stream() as stream:
            await asyncio.to_thread(twins.put_twin, "room-1", ROOM, {"name": "hall"})
            await asyncio.to_thread(twins.delete_twin, "room-1")
            return [await asyncio.wait_for(stream.get(), 5), await asyncio.wait_for(stream.get(), 5)]

    received = asyncio.run(listen())
    assert kinds(received) == [("twin.created", "room-1"), ("twin.deleted", "room-1")]
    assert received[0].data["properties"] == {"name": "hall"}


def test_a_full_stream_drops_its_oldest_events_and_counts_them(bus: EventBus) -> None:
    async def slow_consumer() -> tuple[list[str], int]:
        with bus.stream(maxsize=2) as stream:
            for n in range(5):
                bus.publish(ChangeEvent.now(ChangeKind.TWIN_DELETED, f"t{n}"))
            return [(await stream.get()).id, (await stream.get()).id], stream.dropped

    assert asyncio.run(slow_consumer()) == (["t3", "t4"], 3)


def test_model_changes_are_announced_and_refused_uploads_are_not(
    store: GraphStore, bus: EventBus, seen: list[ChangeEvent]
) -> None:
    models = GraphModelStore(store, events=bus)
    registry = ModelRegistry(models)
    registry.upload(DOCS)
    with pytest.raises(Conflict):
        registry.upload(DOCS[:1])
    with pytest.raises(ModelError):
        registry.upload([{**DOCS[3], "@id": "dtmi:ex:plant:Bad;1", "extends": "dtmi:ex:nowhere;1"}])
    registry.decommission(ROOM)
    registry.delete(TANK, twin_count=models.twin_count)
    assert kinds(seen) == [
        *[("model.uploaded", d["@id"]) for d in DOCS],
        ("model.decommissioned", ROOM),
        ("model.deleted", TANK),
    ]
    assert seen[0].data == {"document": DOCS[0]}
    assert all(e.model == e.id for e in seen)


def test_a_document_patch_escapes_pointers_and_recurses_into_objects() -> None:
    before = {"a/b": 1, "m": {"x": 1, "y": 2}, "gone": True, "n": 1}
    after = {"a/b": 2, "m": {"x": 1, "z": 3}, "n": 1.0, "new~": []}
    patch = document_patch(before, after)
    assert apply_patch(before, patch) == after
    assert {"op": "replace", "path": "/a~1b", "value": 2} in patch
    assert {"op": "add", "path": "/new~0", "value": []} in patch


@pytest.mark.parametrize(
    "event",
    [
        ChangeEvent(ChangeKind.TWIN_UPDATED, "pump-1", "2026-11-25T06:00:00.000Z", ROOM, {"patch": []}),
        ChangeEvent(ChangeKind.RELATIONSHIP_CREATED, "feeds:t1", "2026-11-25T06:00:00.000Z", ROOM, {}, "p1"),
        ChangeEvent(ChangeKind.MODEL_DELETED, TANK, "2026-11-25T06:00:00.000Z", TANK),
    ],
)
def test_an_event_read_back_from_its_json_is_the_same_event(event: ChangeEvent) -> None:
    found = ChangeEvent.from_dict(json.loads(json.dumps(event.to_dict())), origin="elsewhere")
    assert found == event
    assert found.origin == "elsewhere"


@pytest.mark.parametrize(
    "payload",
    [
        [],
        {},
        {"kind": "twin.exploded", "id": "x", "at": "t"},
        {"kind": "twin.created", "at": "t"},
        {"kind": "twin.created", "id": 1, "at": "t"},
        {"kind": "twin.created", "id": "x", "at": "t", "data": []},
        {"kind": "twin.created", "id": "x", "at": "t", "model": 3},
    ],
)
def test_a_payload_that_is_not_an_event_is_a_value_error(payload: Any) -> None:
    with pytest.raises(ValueError, match="not a change event"):
        ChangeEvent.from_dict(payload)
