"""What the ADT surface needs of the twin operations, on both engines: preconditions,
per-property metadata, Components, relationship etags and patches."""

from __future__ import annotations

import time
from typing import Any

import pytest

from graph.store import GraphStore
from graph.twins import TwinGraph
from ontology.errors import BadRequest, Conflict, NotFound, PreconditionFailed
from tests.graph.adt_models import ROOM, THERMOSTAT, adt_models


@pytest.fixture
def twins(store: GraphStore) -> TwinGraph:
    return TwinGraph(store, adt_models())


def _thermostat(twins: TwinGraph, twin_id: str = "t-1", **extra: Any) -> Any:
    return twins.put_twin(twin_id, THERMOSTAT, {"setpoint": 21.0, "sensor": {"offset": 0.5}, **extra})


def test_if_none_match_creates_once_and_then_fails_the_precondition(twins: TwinGraph) -> None:
    created = twins.put_twin("t-1", THERMOSTAT, {"setpoint": 20.0}, if_none_match=True)
    with pytest.raises(PreconditionFailed, match="already exists"):
        twins.put_twin("t-1", THERMOSTAT, {"setpoint": 25.0}, if_none_match=True)
    assert twins.get_twin("t-1") == created  # nothing was written by the refused create
    assert twins.store.read("MATCH (t:Twin) RETURN count(t)").rows == [[1]]


def test_a_stale_etag_fails_the_precondition_and_stays_a_conflict(twins: TwinGraph) -> None:
    first = _thermostat(twins)
    twins.patch_twin("t-1", [{"op": "replace", "path": "/setpoint", "value": 22.0}])
    with pytest.raises(PreconditionFailed) as caught:
        twins.patch_twin("t-1", [{"op": "replace", "path": "/setpoint", "value": 23.0}], if_match=first.etag)
    assert isinstance(caught.value, Conflict)  # GraphQL clients keep seeing CONFLICT
    assert twins.get_twin("t-1").properties["setpoint"] == 22.0


def test_delete_with_a_stale_etag_keeps_the_twin(twins: TwinGraph) -> None:
    first = _thermostat(twins)
    second = twins.patch_twin("t-1", [{"op": "replace", "path": "/setpoint", "value": 22.0}])
    with pytest.raises(PreconditionFailed):
        twins.delete_twin("t-1", if_match=first.etag)
    twins.delete_twin("t-1", if_match=second.etag)
    with pytest.raises(NotFound):
        twins.get_twin("t-1")


def test_delete_is_refused_while_an_incoming_relationship_exists(twins: TwinGraph) -> None:
    _thermostat(twins)
    twins.put_twin("room-1", ROOM, {"name": "Lab"})
    twins.put_relationship("t-1", "c1", "controls", "room-1")
    with pytest.raises(Conflict) as caught:
        twins.delete_twin("room-1")
    assert caught.value.details["reason"] == "RELATIONSHIPS_EXIST"
    assert twins.get_twin("room-1").properties == {"name": "Lab"}


def test_every_written_property_gets_its_last_update_time_and_source_time(twins: TwinGraph) -> None:
    twin = twins.put_twin(
        "t-1",
        THERMOSTAT,
        {"setpoint": 21.0, "label": "A", "sensor": {"offset": 0.5}},
        source_times={
            "setpoint": "2026-01-02T03:04:05.1234567Z",
            "sensor": {"offset": "2026-01-01T00:00:00Z"},
        },
    )
    meta = twins.get_twin("t-1").metadata
    assert meta["setpoint"] == {
        "lastUpdateTime": twin.updated_at,
        "sourceTime": "2026-01-02T03:04:05.1234567Z",
    }
    assert meta["label"] == {"lastUpdateTime": twin.updated_at}
    assert meta["sensor"]["$lastUpdateTime"] == twin.updated_at
    assert meta["sensor"]["offset"]["sourceTime"] == "2026-01-01T00:00:00Z"


def test_a_patch_stamps_only_what_it_touches(twins: TwinGraph) -> None:
    first = _thermostat(twins, label="A")
    time.sleep(0.01)
    second = twins.patch_twin(
        "t-1",
        [
            {"op": "replace", "path": "/setpoint", "value": 22.5},
            {"op": "add", "path": "/$metadata/setpoint/sourceTime", "value": "2026-03-01T10:00:00Z"},
            {"op": "remove", "path": "/label"},
        ],
    )
    meta = twins.get_twin("t-1").metadata
    assert second.updated_at > first.updated_at
    assert meta["setpoint"] == {"lastUpdateTime": second.updated_at, "sourceTime": "2026-03-01T10:00:00Z"}
    assert "label" not in meta  # gone with its property
    assert meta["sensor"]["offset"]["lastUpdateTime"] == first.updated_at  # untouched


def test_patching_the_model_through_metadata_is_refused(twins: TwinGraph) -> None:
    _thermostat(twins)
    with pytest.raises(BadRequest, match="migration"):
        twins.patch_twin("t-1", [{"op": "replace", "path": "/$metadata/$model", "value": ROOM}])


def test_a_component_patch_is_relative_to_the_component_and_may_start_it(twins: TwinGraph) -> None:
    twins.put_twin("t-1", THERMOSTAT, {"setpoint": 21.0})
    patched = twins.patch_component("t-1", "sensor", [{"op": "add", "path": "/offset", "value": 1.5}])
    assert patched.properties["sensor"] == {"offset": 1.5}
    assert patched.metadata["sensor"]["offset"]["lastUpdateTime"] == patched.updated_at
    with pytest.raises(NotFound) as caught:
        twins.patch_component("t-1", "nothing", [{"op": "add", "path": "/x", "value": 1}])
    assert caught.value.details["component"] == "nothing"


def test_relationships_carry_etags_that_change_with_them(twins: TwinGraph) -> None:
    _thermostat(twins)
    twins.put_twin("room-1", ROOM, {"name": "Lab"})
    created = twins.put_relationship("t-1", "c1", "controls", "room-1", {"priority": 1})
    assert created.etag.startswith('W/"')
    assert twins.get_relationship("t-1", "c1") == created
    assert twins.get_relationship("t-1", "c1").etag == created.etag
    patched = twins.patch_relationship("t-1", "c1", [{"op": "replace", "path": "/priority", "value": 2}])
    assert patched.properties == {"priority": 2}
    assert patched.etag != created.etag
    with pytest.raises(PreconditionFailed):
        twins.patch_relationship("t-1", "c1", [{"op": "remove", "path": "/priority"}], if_match=created.etag)
    with pytest.raises(PreconditionFailed):
        twins.delete_relationship("t-1", "c1", if_match=created.etag)
    twins.delete_relationship("t-1", "c1", if_match=patched.etag)
    assert twins.relationships("t-1") == []


def test_a_create_only_relationship_fails_when_its_id_is_taken(twins: TwinGraph) -> None:
    _thermostat(twins)
    twins.put_twin("room-1", ROOM, {"name": "Lab"})
    twins.put_relationship("t-1", "c1", "controls", "room-1", if_none_match=True)
    with pytest.raises(PreconditionFailed):
        twins.put_relationship("t-1", "c1", "controls", "room-1", {"priority": 3}, if_none_match=True)
    assert twins.get_relationship("t-1", "c1").properties == {}


def test_a_missing_relationship_and_a_missing_twin_are_told_apart(twins: TwinGraph) -> None:
    _thermostat(twins)
    with pytest.raises(NotFound) as missing_rel:
        twins.get_relationship("t-1", "nope")
    with pytest.raises(NotFound) as missing_twin:
        twins.get_relationship("ghost", "nope")
    assert "relationshipId" in missing_rel.value.details
    assert missing_twin.value.details == {"twinId": "ghost"}


def test_relationships_are_listed_by_name(twins: TwinGraph) -> None:
    _thermostat(twins)
    twins.put_twin("room-1", ROOM, {"name": "Lab"})
    twins.put_twin("room-2", ROOM, {"name": "Hall"})
    twins.put_relationship("t-1", "c1", "controls", "room-1")
    twins.put_relationship("t-1", "c2", "controls", "room-2")
    assert [r.id for r in twins.relationships("t-1", "controls")] == ["c1", "c2"]
    assert twins.relationships("t-1", "feeds") == []
    assert [(r.source, r.id) for r in twins.incoming_relationships("room-2")] == [("t-1", "c2")]
