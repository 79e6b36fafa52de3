"""Bulk import on both engines: its change events, and decommissioned models."""

from __future__ import annotations

import io
from typing import Any

from graph.bulk import relationship_line, twin_line, write_bulk
from graph.events import ChangeEvent, ChangeKind, EventBus
from graph.importer import import_bulk
from graph.model_store import GraphModelStore
from graph.store import GraphStore
from ontology.registry import ModelRegistry
from tests.graph.plant import DOCS, PUMP, ROOM, TANK


def bulk(models: list[dict[str, Any]], twins: list[dict[str, Any]], rels: list[dict[str, Any]]) -> io.BytesIO:
    out = io.StringIO()
    write_bulk(out, models, twins, rels)
    return io.BytesIO(out.getvalue().encode())


def test_an_import_announces_what_it_wrote_after_each_batch(store: GraphStore) -> None:
    bus = EventBus()
    seen: list[ChangeEvent] = []
    # Each event is published once its batch is in the graph: the subscriber can read it.
    present: list[bool] = []
    bus.subscribe(seen.append)

    def check(event: ChangeEvent) -> None:
        if not event.kind.startswith("model."):
            found = store.query_rows("MATCH (t:Twin {id: $id}) RETURN t.id", {"id": event.source or event.id})
            present.append(bool(found))

    bus.subscribe(check)
    twins = [
        twin_line("pump-1", PUMP, {"flow": 1.0}),
        twin_line("tank-1", TANK, {}),
        twin_line("room-1", ROOM, {}),
    ]
    rels = [relationship_line("pump-1", "f1", "feeds", "tank-1", {"since": "2024-01-01"})]
    assert import_bulk(store, bulk(DOCS, twins, rels), batch_size=2, events=bus).ok
    kinds = [(e.kind, e.id) for e in seen]
    assert kinds[:4] == [(ChangeKind.MODEL_UPLOADED, d["@id"]) for d in DOCS]
    assert kinds[4:] == [
        (ChangeKind.TWIN_CREATED, "pump-1"),
        (ChangeKind.TWIN_CREATED, "tank-1"),
        (ChangeKind.TWIN_CREATED, "room-1"),
        (ChangeKind.RELATIONSHIP_CREATED, "f1"),
    ]
    assert present == [True] * 4
    assert seen[4].data["properties"] == {"flow": 1.0}
    assert (seen[-1].source, seen[-1].model, seen[-1].data) == (
        "pump-1",
        PUMP,
        {"name": "feeds", "target": "tank-1", "properties": {"since": "2024-01-01"}},
    )
    # A re-run with one change announces only that change.
    seen.clear()
    twins[0] = twin_line("pump-1", PUMP, {"flow": 2.0})
    rels[0] = relationship_line("pump-1", "f1", "feeds", "tank-1", {"since": "2025-01-01"})
    assert import_bulk(store, bulk(DOCS, twins, rels), events=bus).ok
    assert [(e.kind, e.id) for e in seen] == [
        (ChangeKind.TWIN_UPDATED, "pump-1"),
        (ChangeKind.RELATIONSHIP_UPDATED, "f1"),
    ]
    assert seen[0].data["patch"] == [{"op": "replace", "path": "/flow", "value": 2.0}]


def test_new_twins_of_a_decommissioned_model_are_refused_and_existing_ones_replaced(
    store: GraphStore,
) -> None:
    assert import_bulk(store, bulk(DOCS, [twin_line("tank-1", TANK, {"capacity": 1.0})], [])).ok
    ModelRegistry(GraphModelStore(store)).decommission(TANK)
    report = import_bulk(
        store,
        bulk(DOCS, [twin_line("tank-1", TANK, {"capacity": 2.0}), twin_line("tank-2", TANK, {})], []),
    )
    assert [(i.line, i.code) for i in report.issues] == [(10, "MODEL_DECOMMISSIONED")]
    assert "tank-2" in report.issues[0].message
    assert "decommissioned" in report.issues[0].message
    assert store.query_rows("MATCH (t:Twin) RETURN t.id, t.capacity") == [["tank-1", 2.0]]
