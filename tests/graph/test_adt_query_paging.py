"""Paging ADT query results on both engines: tokens, TOP across pages, changes between pages."""

from __future__ import annotations

import pytest

from graph.adt_query import COUNT_KEY, TWIN_KEY, run_query
from graph.neo4j import Neo4jGraphStore
from graph.store import GraphStore
from graph.twins import TwinGraph
from tests.graph.adt_building import ROOM, build_building, building_models
from tests.graph.adt_golden import ALL


@pytest.fixture
def building(store: GraphStore) -> GraphStore:
    build_building(store)
    return store


def _ids(items: list[dict[str, object]]) -> list[str]:
    return [getattr(item[TWIN_KEY], "id", "") for item in items]


def test_pages_cover_the_rows_once_in_order(building: GraphStore) -> None:
    seen: list[str] = []
    token = None
    sizes = []
    while True:
        page = run_query(building, "SELECT * FROM DIGITALTWINS", max_items=4, continuation=token)
        seen += _ids(page.items)
        sizes.append(len(page.items))
        token = page.continuation
        if token is None:
            break
    assert seen == ALL
    assert sizes == [4, 4, 4, 2]


def test_the_last_full_page_has_no_token(building: GraphStore) -> None:
    page = run_query(building, "SELECT * FROM DIGITALTWINS", max_items=14)
    assert (len(page.items), page.continuation) == (14, None)


def test_top_counts_across_pages(building: GraphStore) -> None:
    first = run_query(building, "SELECT TOP(5) FROM DIGITALTWINS", max_items=2)
    second = run_query(
        building, "SELECT TOP(5) FROM DIGITALTWINS", max_items=2, continuation=first.continuation
    )
    third = run_query(
        building, "SELECT TOP(5) FROM DIGITALTWINS", max_items=2, continuation=second.continuation
    )
    assert [_ids(p.items) for p in (first, second, third)] == [ALL[:2], ALL[2:4], ALL[4:5]]
    assert third.continuation is None


def test_count_is_one_row_whatever_the_page_size(building: GraphStore) -> None:
    page = run_query(building, "SELECT COUNT() FROM DIGITALTWINS", max_items=1)
    assert (page.items, page.continuation) == ([{COUNT_KEY: 14}], None)


def test_twins_created_or_deleted_between_pages_do_not_shift_the_rest(building: GraphStore) -> None:
    twins = TwinGraph(building, building_models())
    query = f"SELECT * FROM DIGITALTWINS WHERE IS_OF_MODEL('{ROOM}')"
    first = run_query(building, query, max_items=2)
    assert _ids(first.items) == ["room-a", "room-b"]
    twins.put_twin("room-0", ROOM, {"name": "Before the page"})
    twins.put_twin("room-bb", ROOM, {"name": "After the page"})
    twins.delete_twin("room-b", cascade=True)
    rest = run_query(building, query, max_items=10, continuation=first.continuation)
    assert _ids(rest.items) == ["room-bb", "room-c", "room-d"]


def test_a_token_pages_rows_with_relationships_whose_ids_repeat(building: GraphStore) -> None:
    query = "SELECT R FROM RELATIONSHIPS R WHERE R.$relationshipId = 'l-1'"
    rows: list[str] = []
    token = None
    while True:
        page = run_query(building, query, max_items=1, continuation=token)
        rows += [f"{item['R'].source}/{item['R'].id}" for item in page.items]  # type: ignore[attr-defined]
        token = page.continuation
        if token is None:
            break
    assert rows == [f"{s}/l-1" for s in ("ahu-1", "pump-1", "pump-2", "pump-3", "tank-1", "tank-2")]


def test_a_token_is_good_for_another_client_of_the_same_graph(
    request: pytest.FixtureRequest, building: GraphStore
) -> None:
    if building.backend != "neo4j":
        pytest.skip("an embedded FalkorDB has a single client")
    query = "SELECT * FROM DIGITALTWINS"
    token = run_query(building, query, max_items=10).continuation
    other = Neo4jGraphStore(request.getfixturevalue("neo4j_url"))
    try:
        assert _ids(run_query(other, query, max_items=10, continuation=token).items) == ALL[10:]
    finally:
        other.close()


def test_the_models_given_answer_as_the_models_in_the_graph(building: GraphStore) -> None:
    for dtmi in ("dtmi:ex:adt:Asset;1", "dtmi:ex:adt:Sensor;1", "dtmi:ex:adt:Pump;1"):
        query = f"SELECT * FROM DIGITALTWINS WHERE IS_OF_MODEL('{dtmi}')"
        from_graph = run_query(building, query).items
        given = run_query(building, query, models=building_models()).items
        assert _ids(given) == _ids(from_graph) != []


def test_a_query_reads_nothing_but_twins_and_writes_only_its_token_key(building: GraphStore) -> None:
    before = building.query_rows("MATCH (n) RETURN count(n)")[0][0]
    run_query(building, "SELECT * FROM DIGITALTWINS", max_items=1)
    run_query(building, "SELECT * FROM DIGITALTWINS", max_items=1)
    after = building.query_rows("MATCH (n) RETURN count(n)")[0][0]
    assert after == before + 1  # the (:KgtwinMeta {id: 'adt-query'}) node, once
    assert building.query_rows("MATCH (m:KgtwinMeta {id: 'adt-query'}) RETURN size(m.secret)")[0][0] == 64
