"""``GraphStore.query_rows``: kgtwin's lean read path, the same rows and refusals on both engines."""

from __future__ import annotations

import pytest

from graph.cypher import MAX_TIMEOUT_S
from graph.errors import CypherWriteRefused, LimitExceeded, QueryTimeout
from graph.store import GraphStore
from ontology.errors import BadRequest

PUMP_FEEDS_TANK = (
    "CREATE (:Twin:Pump {id: 'pump-1', model: 'dtmi:ex:Pump;1', flow: 12.5, `_document`: '{}'})"
    "-[:feeds {id: 'r-1', since: '2024-01-01'}]->"
    "(:Twin:Tank {id: 'tank-1', model: 'dtmi:ex:Tank;1', levels: [1, 2]})"
)


def test_rows_are_plain_values_in_column_order(store: GraphStore) -> None:
    store.write(PUMP_FEEDS_TANK)
    rows = store.query_rows(
        "MATCH (a:Twin)-[r]->(b:Twin) WHERE a.id IN $ids "
        "RETURN a.id, a.flow, a.`_document`, type(r), r.id, b.levels, b.missing",
        {"ids": ["pump-1"]},
    )
    assert rows == [["pump-1", 12.5, "{}", "feeds", "r-1", [1, 2], None]]


def test_every_row_comes_back_without_a_cap(store: GraphStore) -> None:
    rows = store.query_rows("UNWIND range(1, $n) AS x RETURN x, toString(x)", {"n": 12_000})
    assert len(rows) == 12_000
    assert rows[-1] == [12_000, "12000"]


def test_no_row_is_an_empty_list(store: GraphStore) -> None:
    assert store.query_rows("MATCH (t:Twin) WHERE t.id = $id RETURN t.id", {"id": "absent"}) == []


def test_writes_are_refused_by_the_engine(store: GraphStore) -> None:
    with pytest.raises(CypherWriteRefused):
        store.query_rows("CREATE (:Twin {id: $id})", {"id": "x"})
    assert store.query_rows("MATCH (n) RETURN count(n)") == [[0]]


def test_a_long_query_stops_at_its_time_budget(store: GraphStore) -> None:
    with pytest.raises(QueryTimeout):
        store.query_rows(
            "UNWIND range(1, 10000) AS x UNWIND range(1, 10000) AS y "
            "WITH x, y WHERE (x * y) % 7 = 0 RETURN count(*)",
            timeout_s=0.2,
        )


def test_errors_are_those_of_read(store: GraphStore) -> None:
    with pytest.raises(BadRequest):
        store.query_rows("MATCH (n RETURN n")
    with pytest.raises(LimitExceeded):
        store.query_rows("RETURN 1", timeout_s=MAX_TIMEOUT_S + 1)
    with pytest.raises(BadRequest):
        store.query_rows("RETURN 1", timeout_s=0)
