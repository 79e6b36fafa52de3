"""Migration reads a model's twins in batches by id: every twin is checked and moved once, whatever its id."""

from __future__ import annotations

import pytest

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


def test_twins_of_other_models_between_them_and_many_scans_lose_none(
    store: GraphStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Batches that end inside a scan's range and ranges that hold none of the model's twins."""
    monkeypatch.setattr("graph.migration.SCAN_SPAN", 3)  # FalkorDB: many ranges of internal ids
    room = next(doc for doc in DOCS if doc["@id"] == ROOM)
    models = parse([*DOCS, {**room, "@context": CTX, "@id": ROOM_2}])
    twins = TwinGraph(store, models)
    rooms = [f"room-{n:02}" for n in range(20)]
    for n, twin_id in enumerate(rooms):
        twins.put_twin(twin_id, ROOM, {"name": twin_id})
        if n % 3 == 0:  # other models' twins between the rooms
            twins.put_twin(f"other-{n:02}", ROOM_2, {"name": "already moved"})
    for n in range(7):  # a run of internal ids with no room at all
        twins.put_twin(f"late-{n}", ROOM_2, {"name": "already moved"})
    twins.put_twin("room-last", ROOM, {"name": "room-last"})

    report = migrate_twins(store, models, ROOM, ROOM_2, 4, migrate=True)

    assert (report.twins, report.migrated) == (21, 21)
    left = store.read("MATCH (t:Twin {model: $m}) RETURN count(t)", {"m": ROOM}).rows
    assert left == [[0]]
    moved = store.read("MATCH (t:Twin {model: $m}) RETURN t.id", {"m": ROOM_2}).rows
    assert sorted(str(row[0]) for row in moved if str(row[0]).startswith("room-")) == sorted(
        [*rooms, "room-last"]
    )
