"""Migration reads a model's twins in batches by id: every twin is checked and moved once, whatever its id."""

from __future__ import annotations

from graph.migration import migrate_twins
from graph.store import GraphStore
from graph.twins import TwinGraph
from ontology import parse
from tests.graph.adt_models import CTX, DOCS, ROOM

ROOM_2 = "dtmi:ex:adt:Room;2"
# Ids where the engines' string comparisons and ORDER BY disagree (``graph.keyset``): beyond
# ASCII (FalkorDB's index), in U+E000..U+FFFF and above U+FFFF (Neo4j's filter).
IDS = ["a", "b", "é", "a\U0001f600", "a\uff21", "\U0001d400", "\uff21", "\ue000b", "z"]


def test_every_twin_is_moved_once_in_batches_whatever_its_id(store: GraphStore) -> None:
    room = next(doc for doc in DOCS if doc["@id"] == ROOM)
    models = parse([*DOCS, {**room, "@context": CTX, "@id": ROOM_2}])
    twins = TwinGraph(store, models)
    for twin_id in IDS:
        twins.put_twin(twin_id, ROOM, {"name": twin_id})

    report = migrate_twins(store, models, ROOM, ROOM_2, 2, migrate=True)

    assert report.twins == len(IDS)
    moved = store.read("MATCH (t:Twin {model: $m}) RETURN t.id", {"m": ROOM_2}).rows
    assert sorted(str(row[0]) for row in moved) == sorted(IDS)
