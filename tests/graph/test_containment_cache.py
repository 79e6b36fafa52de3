"""Cached containment trees on both engines: fast repeats, and never stale after a change.

The cache is checked against the graph's version token, so a change is seen whether it was
made by this ``TwinGraph``, another one, an import, or another process.
"""

from __future__ import annotations

import io
import subprocess
import sys
from pathlib import Path

import pytest

from graph.bulk import relationship_line, twin_line, write_bulk
from graph.falkordb import FalkorGraphStore
from graph.importer import import_bulk
from graph.queries import containment_tree
from graph.store import GraphStore
from graph.twins import TwinGraph
from ontology import base_model_set, base_models
from ontology.errors import NotFound
from tests.graph.campus import PUMP, ROOM, build_campus

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def twins(store: GraphStore) -> TwinGraph:
    graph = TwinGraph(store, base_model_set())
    build_campus(graph)
    return graph


def test_an_unchanged_tree_is_answered_from_the_cache(twins: TwinGraph) -> None:
    first = containment_tree(twins.store, "building-1")
    assert containment_tree(twins.store, "building-1") is first
    assert containment_tree(twins.store, "building-1", cached=False) == first


def test_changes_through_the_twin_graph_are_seen_at_once(twins: TwinGraph) -> None:
    before = containment_tree(twins.store, "floor-2").ids()
    twins.put_twin("room-3", ROOM, {"name": "Store"})
    twins.put_relationship("floor-2", "c-9", "contains", "room-3")
    assert containment_tree(twins.store, "floor-2").ids() == [*before, "room-3"]
    twins.patch_twin("room-3", [{"op": "replace", "path": "/name", "value": "Archive"}])
    tree = containment_tree(twins.store, "floor-2")
    assert [c.twin.properties.get("name") for c in tree.children] == ["Boiler room", "Archive"]
    twins.delete_relationship("floor-2", "c-9")
    assert containment_tree(twins.store, "floor-2").ids() == before
    twins.delete_twin("room-2", cascade=True)
    assert containment_tree(twins.store, "floor-2").ids() == ["floor-2"]
    twins.delete_twin("floor-2", cascade=True)
    with pytest.raises(NotFound):
        containment_tree(twins.store, "floor-2")


def test_a_bulk_import_is_seen(twins: TwinGraph) -> None:
    containment_tree(twins.store, "room-2")
    out = io.StringIO()
    write_bulk(
        out,
        base_models(),
        [twin_line("pump-9", PUMP, {"name": "Spare pump"})],
        [relationship_line("pump-9", "l-9", "locatedIn", "room-2", {})],
    )
    assert import_bulk(twins.store, io.BytesIO(out.getvalue().encode())).ok
    assert containment_tree(twins.store, "room-2").ids() == ["room-2", "pump-2", "pump-9"]


# Another process: its own store, TwinGraph and event bus; only the graph is shared.
_WRITER = """
import sys
from graph.twins import TwinGraph
from ontology import base_model_set, base_models
engine, where = sys.argv[1], sys.argv[2]
if engine == "falkordb":
    from pathlib import Path
    from graph.falkordb import FalkorGraphStore
    store = FalkorGraphStore(Path(where))
else:
    from graph.neo4j import Neo4jGraphStore
    store = Neo4jGraphStore(where)
twins = TwinGraph(store, base_model_set())
twins.put_twin("pump-7", "dtmi:kgtwin:fluid:Pump;1", {"name": "Pump of the other process"})
twins.put_relationship("pump-7", "l-7", "locatedIn", "room-1")
store.close()
"""


def test_a_change_made_by_another_process_is_seen(twins: TwinGraph, request: pytest.FixtureRequest) -> None:
    before = containment_tree(twins.store, "room-1").ids()
    store = twins.store
    where = (
        str(store.data_dir) if isinstance(store, FalkorGraphStore) else request.getfixturevalue("neo4j_url")
    )
    subprocess.run([sys.executable, "-c", _WRITER, store.backend, where], cwd=ROOT, check=True, timeout=120)
    assert before == ["room-1", "pump-1", "tank-1"]
    assert containment_tree(twins.store, "room-1").ids() == ["room-1", "pump-1", "pump-7", "tank-1"]
