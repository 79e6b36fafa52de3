"""Finding twins by model on both engines: subtypes, filters, sorting and cursor paging."""

from __future__ import annotations

from typing import Any

import pytest

from graph.search import AllOf, AnyOf, Condition, Filter, find_twins
from graph.store import GraphStore
from graph.twins import TwinGraph
from ontology import base_model_set
from ontology.errors import BadRequest
from tests.graph.campus import EQUIPMENT, PUMP, SPACE, build_campus
from tests.graph.plant import PUMP as PLANT_PUMP
from tests.graph.plant import plant_models

MODELS = base_model_set()


@pytest.fixture
def twins(store: GraphStore) -> TwinGraph:
    graph = TwinGraph(store, MODELS)
    build_campus(graph)
    return graph


def _ids(twins: TwinGraph, model: str, **kwargs: Any) -> list[str]:
    return [t.id for t in find_twins(twins.store, MODELS, model, **kwargs).twins]


def test_a_model_finds_twins_of_its_subtypes_by_id(twins: TwinGraph) -> None:
    assert _ids(twins, EQUIPMENT) == ["pump-1", "pump-2", "tank-1"]
    assert _ids(twins, PUMP) == ["pump-1", "pump-2"]
    assert _ids(twins, SPACE) == ["building-1", "floor-1", "floor-2", "room-1", "room-2", "site-1"]


@pytest.mark.parametrize(
    ("where", "expected"),
    [
        (Condition("ratedFlow", "gt", 10), ["pump-1"]),
        (Condition("ratedFlow", "lte", 12.5), ["pump-1", "pump-2"]),
        (Condition("name", "eq", "Return pump"), ["pump-2"]),
        (Condition("name", "ne", "Return pump"), ["pump-1", "tank-1"]),
        (Condition("name", "contains", "pump"), ["pump-1", "pump-2"]),
        (Condition("serialNumber", "in", ["P-200", "X"]), ["pump-2"]),
        (Condition("externalIds.sap", "eq", "4711"), ["pump-1"]),
        (Condition("id", "gte", "pump-2"), ["pump-2", "tank-1"]),
        (AllOf((Condition("ratedPower", "lt", 1), Condition("name", "eq", "x"))), []),
        (
            AnyOf((Condition("name", "eq", "Buffer tank"), AllOf((Condition("ratedFlow", "lt", 10),)))),
            ["pump-2", "tank-1"],
        ),
    ],
)
def test_property_filters(twins: TwinGraph, where: Filter, expected: list[str]) -> None:
    assert _ids(twins, EQUIPMENT, where=where) == expected


def test_contains_on_an_array_property_is_membership(store: GraphStore) -> None:
    # The base ontology has no array property; the plant's Pump has one (speeds).
    plant = TwinGraph(store, plant_models())
    plant.put_twin("p-1", PLANT_PUMP, {"speeds": [900, 1450]})
    plant.put_twin("p-2", PLANT_PUMP, {"speeds": [1450]})
    page = find_twins(store, plant.models, PLANT_PUMP, where=Condition("speeds", "contains", 900))
    assert [t.id for t in page.twins] == ["p-1"]


def test_sorting_by_a_property_puts_twins_without_it_last(twins: TwinGraph) -> None:
    assert _ids(twins, EQUIPMENT, order_by="ratedFlow") == ["pump-2", "pump-1", "tank-1"]
    assert _ids(twins, EQUIPMENT, order_by="ratedFlow", descending=True) == ["pump-1", "pump-2", "tank-1"]


@pytest.mark.parametrize(("order_by", "descending"), [("id", False), ("name", True), ("level", False)])
def test_cursor_paging_walks_every_twin_once(twins: TwinGraph, order_by: str, descending: bool) -> None:
    everything = _ids(twins, SPACE, order_by=order_by, descending=descending, first=1000)
    seen: list[str] = []
    after = None
    while True:
        page = find_twins(
            twins.store, MODELS, SPACE, order_by=order_by, descending=descending, first=2, after=after
        )
        seen += [t.id for t in page.twins]
        if not page.has_next:
            break
        after = page.end_cursor
    assert seen == everything
    assert len(seen) == 6


def test_paging_does_not_drift_when_twins_appear_before_the_cursor(twins: TwinGraph) -> None:
    first = find_twins(twins.store, MODELS, EQUIPMENT, first=2)
    assert [t.id for t in first.twins] == ["pump-1", "pump-2"]
    twins.put_twin("pump-0", PUMP, {})
    rest = find_twins(twins.store, MODELS, EQUIPMENT, first=2, after=first.end_cursor)
    assert [t.id for t in rest.twins] == ["tank-1"]
    assert not rest.has_next


@pytest.mark.parametrize(
    "where",
    [
        Condition("flow", "eq", 1),  # not a property of Equipment or of a model extending it
        Condition("level", "eq", 1),  # a Floor property
        Condition("name`) DETACH DELETE (t", "eq", 1),
        Condition("externalIds", "eq", "x"),  # a map: name one of its keys
        Condition("externalIds.a`b", "eq", "x"),
        Condition("name", "like", "x"),
        Condition("name", "in", "x"),
        Condition("ratedPower", "contains", 1),
        Condition("ratedPower", "gt", "high"),  # a double compared with a string
        Condition("ratedPower", "in", [1, True]),
        Condition("name", "eq", 3),
        AnyOf(()),
    ],
)
def test_bad_filters_are_refused(twins: TwinGraph, where: Filter) -> None:
    with pytest.raises(BadRequest):
        find_twins(twins.store, MODELS, EQUIPMENT, where=where)


def test_bad_sorts_pages_models_and_cursors_are_refused(twins: TwinGraph) -> None:
    with pytest.raises(BadRequest):
        find_twins(twins.store, MODELS, EQUIPMENT, order_by="externalIds")
    with pytest.raises(BadRequest):
        find_twins(twins.store, MODELS, EQUIPMENT, first=0)
    with pytest.raises(BadRequest):
        find_twins(twins.store, MODELS, "dtmi:x:Nope;1")
    with pytest.raises(BadRequest):
        find_twins(twins.store, MODELS, EQUIPMENT, after="not base64!")
    cursor = find_twins(twins.store, MODELS, EQUIPMENT, first=1).end_cursor
    with pytest.raises(BadRequest, match="another query"):
        find_twins(twins.store, MODELS, EQUIPMENT, order_by="name", after=cursor)
