"""Walking the twin graph on both engines: neighbours and the containment tree."""

from __future__ import annotations

import pytest

from graph.errors import LimitExceeded
from graph.queries import Neighbour, containment_tree, neighbours
from graph.store import GraphStore
from graph.twins import TwinGraph
from ontology import base_model_set
from ontology.errors import BadRequest, NotFound
from tests.graph.campus import EQUIPMENT, PUMP, SPACE, build_campus


@pytest.fixture
def twins(store: GraphStore) -> TwinGraph:
    graph = TwinGraph(store, base_model_set())
    build_campus(graph)
    return graph


def _ids(found: list[Neighbour]) -> list[tuple[str, int]]:
    return [(n.twin.id, n.depth) for n in found]


def test_direct_neighbours_follow_outgoing_relationships_of_any_name(twins: TwinGraph) -> None:
    found = neighbours(twins.store, "pump-1")
    assert _ids(found) == [("room-1", 1), ("tank-1", 1)]
    assert found[1].twin.properties == {"name": "Buffer tank", "volume": 3.0}


def test_neighbours_by_name_up_to_a_depth_report_the_fewest_hops(twins: TwinGraph) -> None:
    found = neighbours(twins.store, "pump-1", relationships=["feeds"], max_depth=5)
    # The loop back to pump-1 does not make it its own neighbour.
    assert _ids(found) == [("tank-1", 1), ("pump-2", 2)]


def test_incoming_and_both_directions(twins: TwinGraph) -> None:
    assert _ids(neighbours(twins.store, "room-1", direction="in")) == [("pump-1", 1), ("tank-1", 1)]
    both = neighbours(twins.store, "tank-1", relationships=["feeds"], direction="both")
    assert _ids(both) == [("pump-1", 1), ("pump-2", 1)]


def test_a_model_filter_prunes_the_walk_through_other_twins(twins: TwinGraph) -> None:
    models = base_model_set()
    # Through Spaces only: from pump-1 the room is reached, the tank is not.
    found = neighbours(twins.store, "pump-1", max_depth=3, models=models, model=SPACE)
    assert _ids(found) == [("room-1", 1), ("floor-1", 2)]
    # Subtypes count: Pumps and Tanks are Equipment.
    found = neighbours(
        twins.store, "pump-1", relationships=["feeds"], max_depth=3, models=models, model=EQUIPMENT
    )
    assert _ids(found) == [("tank-1", 1), ("pump-2", 2)]
    found = neighbours(twins.store, "pump-1", relationships=["feeds"], max_depth=3, models=models, model=PUMP)
    assert found == []


def test_depth_zero_has_no_neighbours_and_depth_is_bounded(twins: TwinGraph) -> None:
    assert neighbours(twins.store, "pump-1", max_depth=0) == []
    with pytest.raises(LimitExceeded):
        neighbours(twins.store, "pump-1", max_depth=11)
    with pytest.raises(BadRequest):
        neighbours(twins.store, "pump-1", max_depth=-1)


def test_a_relationship_name_is_never_written_raw_into_the_query(twins: TwinGraph) -> None:
    with pytest.raises(BadRequest, match="not a valid"):
        neighbours(twins.store, "pump-1", relationships=["feeds]->() DETACH DELETE (x"])


def test_neighbours_of_a_missing_twin_is_not_found(twins: TwinGraph) -> None:
    with pytest.raises(NotFound):
        neighbours(twins.store, "nope")


def test_too_many_neighbours_is_a_limit(twins: TwinGraph) -> None:
    with pytest.raises(LimitExceeded):
        neighbours(twins.store, "room-1", direction="both", max_twins=1)


def test_the_containment_tree_goes_from_site_to_equipment(twins: TwinGraph) -> None:
    tree = containment_tree(twins.store, "site-1")
    assert tree.ids() == [
        "site-1",
        "building-1",
        "floor-1",
        "room-1",  # isPartOf floor-1, followed backwards
        "pump-1",  # locatedIn room-1, followed backwards
        "tank-1",
        "floor-2",
        "room-2",
        "pump-2",
    ]
    floor_1 = tree.children[0].children[0]
    assert floor_1.twin.properties == {"level": 0}
    assert [c.twin.id for c in floor_1.children[0].children] == ["pump-1", "tank-1"]


def test_the_containment_tree_stops_at_its_depth_and_starts_anywhere(twins: TwinGraph) -> None:
    assert containment_tree(twins.store, "site-1", max_depth=2).ids() == [
        "site-1",
        "building-1",
        "floor-1",
        "floor-2",
    ]
    assert containment_tree(twins.store, "floor-2").ids() == ["floor-2", "room-2", "pump-2"]
    # Equipment contains nothing: feeds is not containment.
    assert containment_tree(twins.store, "pump-1").ids() == ["pump-1"]
