"""Read-only Cypher that would stop the embedded FalkorDB server is refused, on FalkorDB only.

falkordblite 0.11's server dies on an exact variable-length count of two or more walked
against its direction (``MATCH (a:Twin)-[*2..2]->(b:Twin) WHERE b.id = ...``), and the ADT
query work found it dying on a named path tested in its own ``MATCH``'s ``WHERE``. One
analyst's query would then stop the twin: writes, ingest and every reader. FalkorDB
refuses both shapes with ``BAD_REQUEST`` and the rewrite that works; Neo4j runs them.
"""

from __future__ import annotations

import contextlib
from pathlib import Path

import pytest
from redis.exceptions import ConnectionError as RedisConnectionError

from graph._falkor_guard import QueryRefused, check_query
from graph.falkordb import FalkorGraphStore
from graph.store import GraphStore
from graph.visibility import read_as_analyst

CHAIN = (
    "CREATE (:Twin:Floor {id: 'f0'})-[:contains {id: 'c1'}]->(:Twin:Room {id: 'r1'})"
    "-[:contains {id: 'c2'}]->(:Twin:Desk {id: 'd1'})"
)
# Each with the rows Neo4j answers.
CRASHERS = [
    ("MATCH (a:Twin)-[*2..2]->(b:Twin) WHERE b.id = 'd1' RETURN a.id", [["f0"]]),
    ("MATCH (a:Twin {id: 'd1'})<-[*2]-(b:Twin) RETURN b.id", [["f0"]]),
    ("MATCH (a:Twin)<-[:contains*2..2]-(b:Twin) WHERE a.id = 'd1' RETURN b.id", [["f0"]]),
    ("MATCH p = (a:Twin)-[*1..2]->(b:Twin) WHERE length(p) >= 2 RETURN a.id, b.id", [["f0", "d1"]]),
]
REWRITTEN = (
    "MATCH p = (a:Twin)-[*1..2]->(b:Twin) WITH p, a, b WHERE length(p) >= 2 AND b.id = 'd1' RETURN a.id"
)


@pytest.fixture
def chain(store: GraphStore) -> GraphStore:
    store.write(CHAIN)
    return store


@pytest.mark.parametrize(("query", "rows"), CRASHERS)
def test_a_query_that_would_stop_falkordb_is_refused_and_the_twin_goes_on(
    chain: GraphStore, query: str, rows: list[list[str]]
) -> None:
    if chain.backend == "falkordb":
        with pytest.raises(QueryRefused) as refused:
            read_as_analyst(chain, query)
        assert refused.value.to_dict()["code"] == "BAD_REQUEST"
        assert "WITH" in refused.value.message  # the rewrite that works
        with pytest.raises(QueryRefused):
            chain.read(query)  # kgtwin's own read path, and an admin's, refuse it too
    else:
        assert read_as_analyst(chain, query).rows == rows
    # The engine is alive: a write and a read after it.
    chain.write("CREATE (:Twin:Desk {id: 'd2'})")
    assert chain.read("MATCH (t:Twin) RETURN count(t)").rows == [[4]]


def test_the_rewrite_the_refusal_offers_runs_on_both_engines(chain: GraphStore) -> None:
    assert read_as_analyst(chain, REWRITTEN).rows == [["f0"]]


def test_the_engine_fault_is_real_so_the_refusal_is_needed(tmp_path: Path) -> None:
    # Sent past the guard, on a server of its own: the server dies (falkordblite 0.11). When
    # this fails, a new FalkorDB has fixed the fault and graph._falkor_guard can relax.
    own = FalkorGraphStore(tmp_path)
    try:
        own.write(CHAIN)
        with pytest.raises(RedisConnectionError):
            own._graph.ro_query("MATCH (a:Twin)-[*2..2]->(b:Twin) WHERE b.id = 'd1' RETURN a.id")
        with pytest.raises(RedisConnectionError):
            own._graph.ro_query("RETURN 1")
    finally:
        with contextlib.suppress(RedisConnectionError):  # its server is gone already
            own.close()


@pytest.mark.parametrize(
    "query",
    [
        "MATCH (a)-[*1..2]->(b) RETURN b",
        "MATCH (a)-[*2..]->(b) RETURN b",
        "MATCH (a)-[*..2]->(b) RETURN b",
        "MATCH (a)-[*1..1]->(b) RETURN b",
        "RETURN [1, 2, 3][2*1] AS x",
        "RETURN '-[*2..2]-' AS x // -[*3]-",
        "MATCH p = (a:Twin)-[*1..2]->(b) WHERE a.id = 'p' RETURN length(p)",
        "MATCH p = (a)-[*1..2]->(b) RETURN [n IN nodes(p) WHERE n.x > 1]",
        "MATCH (p:Twin) WHERE p.id = 'x' RETURN p",
    ],
)
def test_queries_of_other_shapes_pass_the_guard(query: str) -> None:
    check_query(query)
