"""Reconciling a site's snapshot in the cloud graph, on both engines: the demo site's first
snapshot written through the bulk importer's batched statements (a few queries, not one
transaction per twin and relationship), every write announced, and later snapshots that
change, move and remove things making the cloud's copy equal the edge's again.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import graph.site_sync as site_sync
from graph.events import ChangeEvent, ChangeKind, EventBus
from graph.falkordb import FalkorGraphStore
from graph.model_store import GraphModelStore
from graph.site_sync import reconcile
from graph.sites import outgoing_relationships, site_snapshot, site_twins
from graph.store import GraphStore
from graph.twins import TwinGraph
from kgtwin.demo import load_demo
from ontology.registry import ModelRegistry

SITE = "site-demo"


def _state(store: GraphStore, twins: TwinGraph) -> tuple[dict[str, Any], dict[Any, Any]]:
    found = {t.id: (t.model, t.properties) for t in site_twins(store, twins.models, SITE)}
    rels = {(r.source, r.id): (r.name, r.target, r.properties) for r in outgoing_relationships(store, found)}
    return found, rels


@pytest.fixture(params=["falkordb", pytest.param("neo4j", marks=pytest.mark.neo4j)])
def cloud_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[GraphStore]:
    store: GraphStore
    if request.param == "neo4j":
        store = request.getfixturevalue("neo4j_store")
        store.write("MATCH (n) DETACH DELETE n")
        yield store
        store.write("MATCH (n) DETACH DELETE n")
    else:
        store = FalkorGraphStore(tmp_path / "cloud")
        yield store
        store.close()


def test_a_site_snapshot_is_reconciled_in_batches_and_later_ones_make_the_cloud_equal(
    falkordb_store: FalkorGraphStore, cloud_store: GraphStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(site_sync, "BULK_FROM", 20)  # the batched path (the default)
    falkordb_store.write("MATCH (n) DETACH DELETE n")
    load_demo(falkordb_store)
    edge_registry = ModelRegistry(GraphModelStore(falkordb_store))
    edge = TwinGraph(falkordb_store, lambda: edge_registry.models)
    model_store = GraphModelStore(cloud_store)
    registry = ModelRegistry(model_store, version=model_store.version)
    bus = EventBus()
    seen: list[ChangeEvent] = []
    bus.subscribe(seen.append)
    cloud = TwinGraph(cloud_store, lambda: registry.models, events=bus)

    first = reconcile(
        cloud, SITE, site_snapshot(falkordb_store, edge.models, SITE), refresh_models=registry.refresh
    )
    assert not first.issues
    assert (first.twins_written, first.relationships_written) == (35, 60)
    assert _state(cloud_store, cloud) == _state(falkordb_store, edge)
    # Each twin and relationship written is announced, as TwinGraph announces its own writes.
    created = [e for e in seen if e.kind in (ChangeKind.TWIN_CREATED, ChangeKind.RELATIONSHIP_CREATED)]
    assert sorted(e.id for e in created if e.kind is ChangeKind.TWIN_CREATED) == sorted(
        _state(falkordb_store, edge)[0]
    )
    assert len(created) == 35 + 60
    # The same snapshot again changes nothing.
    again = reconcile(cloud, SITE, site_snapshot(falkordb_store, edge.models, SITE))
    assert (again.twins_written, again.relationships_written, again.twins_deleted) == (0, 0, 0)
    assert again.relationships_deleted == 0

    # Many changes at the edge: properties replaced whole (one dropped), a twin of another
    # model under the same id, relationships moved, twins gone.
    twins, rels = _state(falkordb_store, edge)
    rooms = sorted(t for t in twins if t.startswith("room-"))
    for room in rooms:
        edge.put_twin(room, twins[room][0], {"name": f"{room} renamed"})
    moved = [(s, rid, name) for (s, rid), (name, target, _) in rels.items() if target == "hall-1"]
    assert moved
    for source, rid, name in moved:
        edge.put_relationship(source, rid, name, rooms[0])
    gone = rooms[-1]
    edge.delete_twin(gone, cascade=True)
    second = reconcile(cloud, SITE, site_snapshot(falkordb_store, edge.models, SITE))
    assert not second.issues
    assert second.twins_written >= len(rooms) - 1
    assert _state(cloud_store, cloud) == _state(falkordb_store, edge)
    assert gone not in _state(cloud_store, cloud)[0]
