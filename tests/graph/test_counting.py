"""Counting search matches on both engines: the same answer as paging through find_twins."""

from __future__ import annotations

import pytest

from graph.counting import count_twins
from graph.search import AllOf, AnyOf, Condition, Filter, find_twins
from graph.store import GraphStore
from graph.twins import TwinGraph
from ontology import base_model_set
from ontology.errors import BadRequest
from tests.graph.campus import EQUIPMENT, PUMP, SPACE, build_campus

MODELS = base_model_set()
ROOM = "dtmi:kgtwin:space:Room;1"


@pytest.fixture
def twins(store: GraphStore) -> TwinGraph:
    graph = TwinGraph(store, MODELS)
    build_campus(graph)
    return graph


def _paged(store: GraphStore, model: str, where: Filter | None) -> int:
    """What totalCount used to do: read every page and count the twins."""
    total, after = 0, None
    while True:
        page = find_twins(store, MODELS, model, where=where, first=2, after=after)
        total += len(page.twins)
        if not page.has_next:
            return total
        after = page.end_cursor


@pytest.mark.parametrize(
    ("model", "where", "expected"),
    [
        (EQUIPMENT, None, 3),
        (PUMP, None, 2),
        (SPACE, None, 6),
        (EQUIPMENT, Condition("ratedFlow", "gt", 10), 1),
        (EQUIPMENT, Condition("name", "contains", "pump"), 2),
        (EQUIPMENT, Condition("serialNumber", "in", ["P-200", "X"]), 1),
        (EQUIPMENT, Condition("externalIds.sap", "eq", "4711"), 1),
        (EQUIPMENT, AllOf((Condition("ratedPower", "lt", 1), Condition("name", "eq", "x"))), 0),
        (
            EQUIPMENT,
            AnyOf((Condition("name", "eq", "Buffer tank"), AllOf((Condition("ratedFlow", "lt", 10),)))),
            2,
        ),
        (SPACE, Condition("volume", "gte", 100.0), 1),
    ],
)
def test_the_count_is_the_number_of_twins_find_twins_pages_through(
    twins: TwinGraph, model: str, where: Filter | None, expected: int
) -> None:
    assert count_twins(twins.store, MODELS, model, where) == expected
    assert _paged(twins.store, model, where) == expected


def test_a_model_without_twins_counts_zero(store: GraphStore) -> None:
    assert count_twins(store, MODELS, ROOM) == 0


def test_a_count_follows_deletions(twins: TwinGraph) -> None:
    twins.delete_twin("pump-2", cascade=True)
    assert count_twins(twins.store, MODELS, PUMP) == 1


@pytest.mark.parametrize(
    ("model", "where"),
    [
        ("dtmi:example:Nothing;1", None),
        (EQUIPMENT, Condition("noSuchProperty", "eq", 1)),
        (EQUIPMENT, Condition("ratedFlow", "between", 1)),
        (EQUIPMENT, Condition("ratedFlow", "eq", "fast")),
    ],
)
def test_what_find_twins_refuses_a_count_refuses_too(
    twins: TwinGraph, model: str, where: Filter | None
) -> None:
    with pytest.raises(BadRequest):
        count_twins(twins.store, MODELS, model, where)
    with pytest.raises(BadRequest):
        find_twins(twins.store, MODELS, model, where=where)
