"""Twin operations on both engines: create-or-replace, read, delete, relationships."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from graph.store import GraphStore
from graph.twins import TwinGraph, TwinRelationship
from ontology.errors import Conflict, ErrorCode, NotFound, ValidationFailed
from tests.graph.plant import PUMP, ROOM, TANK, plant_models

PUMP_PROPS: dict[str, Any] = {
    "serial": "P-100",
    "flow": 12.5,
    "speeds": [900, 1450],
    "location": {"lat": 52.5, "lon": 13.4},
    "tags": {"area": "north", "line": "2"},
}


@pytest.fixture
def twins(store: GraphStore) -> TwinGraph:
    return TwinGraph(store, plant_models())


def test_a_created_twin_reads_back_with_its_document_and_metadata(twins: TwinGraph) -> None:
    created = twins.put_twin("pump-1", PUMP, PUMP_PROPS)
    got = twins.get_twin("pump-1")
    assert got == created
    assert got.properties == PUMP_PROPS
    assert got.model == PUMP
    assert got.etag.startswith('W/"')
    assert got.created_at == got.updated_at
    assert got.created_at.endswith("Z")


def test_a_twin_node_carries_model_labels_and_flattened_properties(twins: TwinGraph) -> None:
    twins.put_twin("pump-1", PUMP, PUMP_PROPS)
    result = twins.store.read(
        "MATCH (p:Equipment) WHERE p.`location.lat` > 50 AND p.`tags.area` = 'north' "
        "RETURN labels(p) AS labels, p.flow AS flow, p.speeds AS speeds, p.model AS model"
    )
    assert len(result.rows) == 1
    labels, flow, speeds, model = result.rows[0]
    assert sorted(labels) == ["Equipment", "Pump", "Twin"]
    assert (flow, speeds, model) == (12.5, [900, 1450], PUMP)


def test_replacing_a_twin_keeps_created_at_and_changes_the_etag(twins: TwinGraph) -> None:
    first = twins.put_twin("pump-1", PUMP, PUMP_PROPS)
    second = twins.put_twin("pump-1", PUMP, {"serial": "P-101"})
    assert second.created_at == first.created_at
    assert second.etag != first.etag
    assert twins.get_twin("pump-1").properties == {"serial": "P-101"}
    # Properties of the replaced document are gone from the node too.
    assert twins.store.read("MATCH (t:Twin) RETURN t.flow, t.`location.lat`").rows == [[None, None]]


def test_an_invalid_twin_lists_every_error_and_writes_nothing(twins: TwinGraph) -> None:
    with pytest.raises(ValidationFailed) as caught:
        twins.put_twin("pump-1", PUMP, {"flow": "fast", "colour": "red", "model": "x"})
    errors = caught.value.details["errors"]
    assert {(e["path"], e["code"]) for e in errors} >= {
        ("/colour", "PROPERTY_UNKNOWN"),
        ("/model", "PROPERTY_RESERVED"),
    }
    assert any(e["path"] == "/flow" for e in errors)
    assert caught.value.code is ErrorCode.VALIDATION_FAILED
    assert twins.store.read("MATCH (n) RETURN count(n)").rows == [[0]]


def test_an_unknown_model_is_a_validation_error(twins: TwinGraph) -> None:
    with pytest.raises(ValidationFailed, match="not known"):
        twins.put_twin("x", "dtmi:ex:plant:Nothing;1", {})


def test_changing_a_twins_model_is_a_conflict(twins: TwinGraph) -> None:
    twins.put_twin("eq-1", PUMP, {})
    with pytest.raises(Conflict, match="delete it"):
        twins.put_twin("eq-1", TANK, {})
    assert twins.get_twin("eq-1").model == PUMP


def test_a_missing_twin_is_not_found(twins: TwinGraph) -> None:
    with pytest.raises(NotFound):
        twins.get_twin("nope")
    with pytest.raises(NotFound):
        twins.delete_twin("nope")
    with pytest.raises(NotFound):
        twins.relationships("nope")


def _plant(twins: TwinGraph) -> None:
    twins.put_twin("pump-1", PUMP, {"flow": 3.0})
    twins.put_twin("tank-1", TANK, {"capacity": 100.0})
    twins.put_twin("room-1", ROOM, {"name": "Pump room"})


def test_relationships_are_listed_both_ways(twins: TwinGraph) -> None:
    _plant(twins)
    feeds = twins.put_relationship("pump-1", "r-feeds", "feeds", "tank-1", {"since": "2024-01-01"})
    assert feeds == TwinRelationship("r-feeds", "feeds", "pump-1", "tank-1", {"since": "2024-01-01"})
    located = twins.put_relationship("pump-1", "r-in", "locatedIn", "room-1")
    assert twins.relationships("pump-1") == [feeds, located]
    assert twins.incoming_relationships("tank-1") == [feeds]
    assert twins.relationships("tank-1") == []
    edge = twins.store.read("MATCH (:Pump)-[r:feeds]->(:Tank) RETURN r.id, r.since").rows
    assert edge == [["r-feeds", "2024-01-01"]]


def test_a_relationship_to_the_wrong_kind_of_twin_is_refused(twins: TwinGraph) -> None:
    _plant(twins)
    with pytest.raises(ValidationFailed) as caught:
        twins.put_relationship("pump-1", "r-1", "feeds", "room-1")
    assert caught.value.details["errors"][0]["code"] == "TARGET_MODEL_INVALID"
    with pytest.raises(ValidationFailed, match="no relationship"):
        twins.put_relationship("pump-1", "r-2", "drains", "tank-1")
    with pytest.raises(NotFound):
        twins.put_relationship("pump-1", "r-3", "feeds", "tank-9")
    assert twins.relationships("pump-1") == []


def test_max_multiplicity_is_enforced_and_replacing_by_id_is_allowed(twins: TwinGraph) -> None:
    _plant(twins)
    twins.put_twin("room-2", ROOM, {"name": "Annex"})
    twins.put_relationship("pump-1", "r-in", "locatedIn", "room-1")
    with pytest.raises(Conflict, match="maxMultiplicity"):
        twins.put_relationship("pump-1", "r-in-2", "locatedIn", "room-2")
    moved = twins.put_relationship("pump-1", "r-in", "locatedIn", "room-2")
    assert twins.relationships("pump-1") == [moved]
    assert moved.target == "room-2"


def test_a_twin_with_relationships_is_deleted_only_with_cascade(twins: TwinGraph) -> None:
    _plant(twins)
    twins.put_relationship("pump-1", "r-feeds", "feeds", "tank-1")
    with pytest.raises(Conflict, match="1 relationships"):
        twins.delete_twin("tank-1")
    twins.get_twin("tank-1")
    twins.delete_twin("tank-1", cascade=True)
    assert twins.relationships("pump-1") == []
    twins.delete_twin("room-1")
    with pytest.raises(NotFound):
        twins.get_twin("room-1")


def test_a_link_from_a_simulation_run_does_not_hold_a_twin_back(twins: TwinGraph) -> None:
    twins.put_twin("room-1", ROOM, {"name": "Pump room"})
    twins.store.write("MATCH (t:Twin {id: 'room-1'}) CREATE (:SimulationRun {id: 'run-1'})-[:SIMULATED]->(t)")
    twins.delete_twin("room-1")
    with pytest.raises(NotFound):
        twins.get_twin("room-1")
    assert twins.store.query_rows("MATCH (r:SimulationRun) RETURN r.id") == [["run-1"]]


def test_deleting_a_relationship(twins: TwinGraph) -> None:
    _plant(twins)
    twins.put_relationship("pump-1", "r-feeds", "feeds", "tank-1")
    twins.delete_relationship("pump-1", "r-feeds")
    assert twins.incoming_relationships("tank-1") == []
    with pytest.raises(NotFound):
        twins.delete_relationship("pump-1", "r-feeds")


def test_twin_ids_are_unique_in_the_engine(twins: TwinGraph) -> None:
    twins.put_twin("pump-1", PUMP, {})
    with pytest.raises(Conflict):
        twins.store.write("CREATE (:Twin {id: $id})", {"id": "pump-1"})


def test_concurrent_writers_cannot_exceed_max_multiplicity(twins: TwinGraph) -> None:
    _plant(twins)
    rooms = [f"room-{i}" for i in range(2, 10)]
    for room in rooms:
        twins.put_twin(room, ROOM, {})

    def place(room: str) -> bool:
        try:
            twins.put_relationship("pump-1", f"in-{room}", "locatedIn", room)
        except Conflict:
            return False
        return True

    with ThreadPoolExecutor(max_workers=8) as pool:
        placed = list(pool.map(place, rooms))
    assert placed.count(True) == 1
    assert len(twins.relationships("pump-1")) == 1


def test_awkward_map_keys_and_empty_lists_round_trip(twins: TwinGraph) -> None:
    props = {
        "speeds": [],
        "serial": "q\"uo'te\\",
        "tags": {"a b": "1", "we`ird.key": "2", "ünï": "3", "": "4"},
    }
    twins.put_twin("pump-1", PUMP, props)
    assert twins.get_twin("pump-1").properties == props
    rows = twins.store.read("MATCH (t:Twin) RETURN t.`tags.a b`, t.`tags.ünï`, size(t.speeds), t.serial").rows
    assert rows == [["1", "3", 0, props["serial"]]]


def test_a_replace_with_if_match_needs_the_current_etag(twins: TwinGraph) -> None:
    first = twins.put_twin("pump-1", PUMP, PUMP_PROPS)
    second = twins.put_twin("pump-1", PUMP, {"serial": "P-2"}, if_match=first.etag)
    assert second.properties == {"serial": "P-2"}
    with pytest.raises(Conflict) as caught:
        twins.put_twin("pump-1", PUMP, {"serial": "P-3"}, if_match=first.etag)
    assert caught.value.details["etag"] == second.etag
    assert twins.get_twin("pump-1").properties == {"serial": "P-2"}
    assert twins.put_twin("pump-1", PUMP, {"serial": "P-4"}, if_match="*").properties == {"serial": "P-4"}


def test_a_replace_with_if_match_does_not_create_a_missing_twin(twins: TwinGraph) -> None:
    for if_match in ("*", 'W/"anything"'):
        with pytest.raises(NotFound):
            twins.put_twin("pump-9", PUMP, PUMP_PROPS, if_match=if_match)
    assert twins.store.read("MATCH (n:Twin) RETURN count(n)").rows == [[0]]
