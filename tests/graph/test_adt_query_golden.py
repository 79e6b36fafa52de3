"""The golden ADT queries (tests/graph/adt_golden.py) on both engines, whole and paged by two.

The building is written once per engine for the module (writing it per query would
dominate the run); every test here only reads it.
"""

from __future__ import annotations

from typing import Any

import pytest

from graph import Twin, TwinGraph, TwinRelationship
from graph.adt_query import COUNT_KEY, RELATIONSHIP_KEY, TWIN_KEY, run_query
from graph.store import GraphStore
from tests.graph.adt_building import PUMP, build_building, building_models
from tests.graph.adt_golden import GOLDEN


@pytest.fixture(scope="module", params=["falkordb", pytest.param("neo4j", marks=pytest.mark.neo4j)])
def building(request: pytest.FixtureRequest) -> GraphStore:
    """The building on an otherwise empty graph of each engine in turn."""
    store: GraphStore = request.getfixturevalue(f"{request.param}_store")
    store.write("MATCH (n) DETACH DELETE n")
    build_building(store)
    return store


def simplify(item: dict[str, object]) -> Any:
    """A row as the golden list writes it: twins as ids, relationships as ``source/id``."""
    if set(item) == {TWIN_KEY}:
        return _short(item[TWIN_KEY])
    if set(item) == {RELATIONSHIP_KEY}:
        return _short(item[RELATIONSHIP_KEY])
    if set(item) == {COUNT_KEY}:
        return item[COUNT_KEY]
    return {key: _short(value) for key, value in item.items()}


def _short(value: object) -> object:
    if isinstance(value, Twin):
        return value.id
    if isinstance(value, TwinRelationship):
        return f"{value.source}/{value.id}"
    return value


def all_rows(store: GraphStore, query: str, max_items: int) -> list[Any]:
    """Every row of ``query``, page by page; each page holds at most ``max_items``."""
    rows: list[Any] = []
    token: str | None = None
    for _ in range(1000):
        page = run_query(store, query, max_items=max_items, continuation=token)
        assert len(page.items) <= max_items
        rows += [simplify(item) for item in page.items]
        token = page.continuation
        if token is None:
            return rows
        assert page.items, "a page that promises more has rows"
    raise AssertionError("paging did not end")


@pytest.mark.parametrize(("query", "expected"), GOLDEN, ids=[f"g{i:03d}" for i in range(len(GOLDEN))])
def test_golden_query(building: GraphStore, query: str, expected: Any) -> None:
    want = [expected] if isinstance(expected, int) else expected
    assert all_rows(building, query, 100) == want
    assert all_rows(building, query, 2) == want, "paging by two gives the same rows"


def test_the_golden_list_is_long_enough_and_has_no_repeats() -> None:
    queries = [q for q, _ in GOLDEN]
    assert len(queries) >= 150
    assert len(set(queries)) == len(queries)


def test_rows_hold_the_twins_and_relationships_the_twin_graph_reads(building: GraphStore) -> None:
    twins = TwinGraph(building, building_models())
    page = run_query(building, "SELECT * FROM DIGITALTWINS WHERE $dtId = 'pump-1'")
    assert page.items == [{TWIN_KEY: twins.get_twin("pump-1")}]
    page = run_query(building, "SELECT R FROM RELATIONSHIPS R WHERE R.$sourceId = 'pump-1'")
    assert [item["R"] for item in page.items] == twins.relationships("pump-1")


def test_a_twin_row_carries_its_model_etag_and_document(building: GraphStore) -> None:
    (item,) = run_query(building, "SELECT T FROM DIGITALTWINS T WHERE T.$dtId = 'pump-2'").items
    twin = item["T"]
    assert isinstance(twin, Twin)
    assert (twin.model, twin.properties["motor"], twin.etag[:3]) == (PUMP, {"power": 0.75}, 'W/"')
