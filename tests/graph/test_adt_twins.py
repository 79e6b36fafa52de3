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


def test_relationship_lists_page_behind_their_cursor(twins: TwinGraph) -> None:
    """Outgoing pages by id, incoming by source then id; a write between pages moves nothing read."""
    for n in range(1, 4):
        _thermostat(twins, f"t-{n}")
    for n in range(1, 6):
        twins.put_twin(f"room-{n}", ROOM, {"name": f"Room {n}"})
        twins.put_relationship("t-1", f"c{n}", "controls", f"room-{n}")
    twins.put_relationship("t-2", "a", "controls", "room-1")
    twins.put_relationship("t-3", "b", "controls", "room-1")
    twins.put_relationship("t-3", "a", "controls", "room-1")

    first = twins.relationship_page("t-1", size=2)
    assert [r.id for r in first.relationships] == ["c1", "c2"]
    assert first.after is not None
    twins.put_relationship("t-1", "c0", "controls", "room-2")  # sorts before the cursor: not seen
    seen, after = [r.id for r in first.relationships], first.after
    while after is not None:
        page = twins.relationship_page("t-1", name="controls", after=after, size=2)
        seen += [r.id for r in page.relationships]
        after = page.after
    assert seen == ["c1", "c2", "c3", "c4", "c5"]
    assert twins.relationship_page("t-1", name="feeds").relationships == []
    whole = twins.relationship_page("t-1", size=6)
    assert len(whole.relationships) == 6
    assert whole.after is None  # exactly one page: no cursor

    incoming: list[tuple[str, str]] = []
    cursor: str | None = None
    while True:
        page = twins.incoming_page("room-1", after=cursor, size=1)
        incoming += [(r.source, r.id) for r in page.relationships]
        if page.after is None:
            break
        cursor = page.after
    assert incoming == [("t-1", "c1"), ("t-2", "a"), ("t-3", "a"), ("t-3", "b")]
    assert twins.incoming_page("t-1").relationships == []


def test_relationship_pages_hold_every_id_once_whatever_its_characters(twins: TwinGraph) -> None:
    """Ids with characters above U+FFFF and in U+E000..U+FFFF, where Neo4j's ``>`` and ``ORDER BY``
    disagree (``graph.keyset``): paged one by one, each relationship comes once, in list order."""
    names = ["a", "a\U0001f600", "a\uff21", "\U0001d400", "\uff21", "\ue000b", "z"]
    for n, name in enumerate(names):
        _thermostat(twins, f"t{name}")
        twins.put_twin(f"room-{n}", ROOM, {"name": f"Room {n}"})
        twins.put_relationship(f"t{names[0]}", f"c{name}", "controls", f"room-{n}")
        twins.put_relationship(f"t{name}", f"i{name}", "controls", "room-0")

    def walk(page_of: Any) -> list[tuple[str, str]]:
        found: list[tuple[str, str]] = []
        cursor: str | None = None
        while True:
            page = page_of(cursor)
            found += [(r.source, r.id) for r in page.relationships]
            if page.after is None:
                return found
            cursor = page.after

    outgoing = walk(lambda cursor: twins.relationship_page(f"t{names[0]}", after=cursor, size=1))
    assert outgoing == [(r.source, r.id) for r in twins.relationships(f"t{names[0]}")]
    assert len(outgoing) == len(set(outgoing)) == len(names) + 1  # and t-a's own i-a
    incoming = walk(lambda cursor: twins.incoming_page("room-0", after=cursor, size=1))
    assert incoming == [(r.source, r.id) for r in twins.incoming_relationships("room-0")]
    assert len(incoming) == len(set(incoming)) == len(names) + 1


def test_a_forged_relationship_cursor_is_a_bad_request(twins: TwinGraph) -> None:
    _thermostat(twins)
    for forged in ("not-a-cursor", "WzFd", "WyJhIiwiYiJd"):  # text, [1], ["a","b"] (two parts)
        with pytest.raises(BadRequest, match="continuation token"):
            twins.relationship_page("t-1", after=forged)
    with pytest.raises(NotFound):
        twins.relationship_page("ghost")
    with pytest.raises(NotFound):
        twins.incoming_page("ghost")
