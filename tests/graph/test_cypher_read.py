"""Analysts' read-only Cypher: the same answers, refusals and limits on FalkorDB and Neo4j."""

from __future__ import annotations

import pytest

from graph.cypher import MAX_ROWS
from graph.errors import CypherWriteRefused, LimitExceeded, QueryTimeout
from graph.store import GraphStore
from ontology.errors import BadRequest, ErrorCode

PUMP_FEEDS_TANK = (
    "CREATE (:Twin:Pump {id: 'pump-1', model: 'dtmi:ex:Pump;1', flow: 12.5})"
    "-[:feeds {id: 'r-1', since: '2024-01-01'}]->"
    "(:Twin:Tank {id: 'tank-1', model: 'dtmi:ex:Tank;1', levels: [1, 2]})"
)
PUMP = {
    "id": "pump-1",
    "labels": ["Pump", "Twin"],
    "properties": {"id": "pump-1", "model": "dtmi:ex:Pump;1", "flow": 12.5},
}
TANK = {
    "id": "tank-1",
    "labels": ["Tank", "Twin"],
    "properties": {"id": "tank-1", "model": "dtmi:ex:Tank;1", "levels": [1, 2]},
}
FEEDS = {
    "id": "r-1",
    "type": "feeds",
    "start": "pump-1",
    "end": "tank-1",
    "properties": {"id": "r-1", "since": "2024-01-01"},
}


def test_scalars_and_parameters_come_back_as_columns_and_rows(store: GraphStore) -> None:
    result = store.read("RETURN 1 AS one, $name AS name, [1, 'a'] AS list, {k: 2.5} AS map", {"name": "p"})
    assert result.columns == ["one", "name", "list", "map"]
    assert result.rows == [[1, "p", [1, "a"], {"k": 2.5}]]
    assert result.truncated is False


def test_nodes_relationships_and_paths_render_as_the_same_json(store: GraphStore) -> None:
    store.write(PUMP_FEEDS_TANK)
    result = store.read("MATCH p = (a:Pump)-[r:feeds]->(b) RETURN a, r, b, p")
    assert result.columns == ["a", "r", "b", "p"]
    assert result.rows == [[PUMP, FEEDS, TANK, [PUMP, FEEDS, TANK]]]


def test_a_relationship_alone_still_names_its_end_twins(store: GraphStore) -> None:
    store.write(PUMP_FEEDS_TANK)
    assert store.read("MATCH ()-[r]->() RETURN r").rows == [[FEEDS]]
    assert store.read("MATCH (a)-[r]->() RETURN collect(r) AS rs").rows == [[[FEEDS]]]


def test_writes_are_refused_by_the_engine(store: GraphStore) -> None:
    for query in ("CREATE (:Twin {id: 'x'})", "MATCH (n) SET n.hacked = true", "MERGE (n:Twin {id: 'y'})"):
        with pytest.raises(CypherWriteRefused) as caught:
            store.read(query)
        assert caught.value.code is ErrorCode.CYPHER_WRITE_REFUSED
        assert isinstance(caught.value, BadRequest)
    assert store.read("MATCH (n) RETURN count(n) AS n").rows == [[0]]


def test_a_long_query_stops_at_its_time_budget(store: GraphStore) -> None:
    with pytest.raises(QueryTimeout) as caught:
        store.read(
            "UNWIND range(1, 10000) AS x UNWIND range(1, 10000) AS y "
            "WITH x, y WHERE (x * y) % 7 = 0 RETURN count(*)",
            timeout_s=0.2,
        )
    assert caught.value.code is ErrorCode.TIMEOUT
    assert caught.value.details["timeout_s"] == 0.2


def test_more_rows_than_the_cap_are_cut_and_flagged(store: GraphStore) -> None:
    result = store.read("UNWIND range(1, 50) AS x RETURN x", max_rows=10)
    assert result.rows == [[x] for x in range(1, 11)]
    assert result.truncated is True
    exact = store.read("UNWIND range(1, 10) AS x RETURN x", max_rows=10)
    assert len(exact.rows) == 10
    assert exact.truncated is False


def test_limits_above_the_ceilings_are_refused(store: GraphStore) -> None:
    with pytest.raises(LimitExceeded) as caught:
        store.read("RETURN 1", max_rows=MAX_ROWS + 1)
    assert caught.value.code is ErrorCode.LIMIT_EXCEEDED
    with pytest.raises(LimitExceeded):
        store.read("RETURN 1", timeout_s=3600)
    with pytest.raises(BadRequest):
        store.read("RETURN 1", max_rows=0)


def test_a_syntax_error_is_a_bad_request_with_the_engine_message(store: GraphStore) -> None:
    with pytest.raises(BadRequest, match=r"(?i)invalid input") as caught:
        store.read("MATCH (n RETURN n")
    assert caught.value.code is ErrorCode.BAD_REQUEST


def test_a_missing_parameter_is_a_bad_request(store: GraphStore) -> None:
    with pytest.raises(BadRequest, match=r"(?i)param"):
        store.read("RETURN $absent")


def test_explain_answers_the_plan_without_running_the_query(store: GraphStore) -> None:
    result = store.read("EXPLAIN MATCH (n:Twin) WHERE n.id = $id RETURN n", {"id": "x"})
    assert result.columns == ["plan"]
    assert result.rows
    assert all(isinstance(row[0], str) for row in result.rows)
    assert not result.rows[0][0].startswith(" ")
    # EXPLAIN of a write only plans it: nothing is written.
    plan = store.read("explain CREATE (:Twin {id: 'x'})")
    assert any("Create" in row[0] for row in plan.rows)
    assert store.read("MATCH (n) RETURN count(n) AS n").rows == [[0]]


@pytest.mark.parametrize("value", [2**63, -(2**63) - 1, {"deep": [1, 2**70]}])
def test_an_integer_beyond_64_bits_is_a_bad_request_and_the_store_stays_usable(
    store: GraphStore, value: object
) -> None:
    with pytest.raises(BadRequest, match="64-bit"):
        store.read("RETURN $x AS x", {"x": value})
    assert store.read("RETURN $x AS x", {"x": 2**63 - 1}).rows == [[2**63 - 1]]


def _nested(depth: int) -> object:
    value: object = "core"
    for level in range(depth - 1):
        value = [value] if level % 2 else {"in": value}
    return value


def test_parameters_nested_too_deep_are_a_bad_request_and_the_store_stays_usable(store: GraphStore) -> None:
    # Regression (issue 21, defect 8): 1,000 levels failed inside the drivers as BACKEND_UNAVAILABLE.
    with pytest.raises(BadRequest, match="nested more than 32"):
        store.read("RETURN $x AS x", {"x": _nested(1000)})
    nested = _nested(31)  # with the parameters' own map: 32 levels
    assert store.read("RETURN $x AS x", {"x": nested}).rows == [[nested]]
