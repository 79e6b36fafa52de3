"""Analysts' Cypher sees twins and models, never kgtwin's own nodes, on both engines.

The check (``graph.visibility``) reads the engine's own plan; these tests give it what
an analyst might write to reach an ``ApiKey`` or ``KgtwinMeta`` node, on a graph that holds
both, and check that what passes returns none of them.
"""

from __future__ import annotations

import pytest

from api.roles import Role
from graph._version import bump
from graph.api_keys import ApiKeyStore
from graph.store import GraphStore
from graph.visibility import InternalsRefused, read_as_analyst


@pytest.fixture
def populated(store: GraphStore) -> GraphStore:
    store.write(
        "CREATE (:Twin:Room {id: 'room-1', area: 20.0})-[:contains {id: 'c1'}]->(:Twin:Desk {id: 'desk-1'})"
    )
    store.write("CREATE (:Model {id: 'dtmi:x:Room;1'})")
    ApiKeyStore(store).create("ci", [Role.VIEWER])
    bump(store)  # a KgtwinMeta node
    return store


REFUSED = [
    "MATCH (k:ApiKey) RETURN k.name",
    "MATCH (k:`ApiKey`) RETURN k",
    "MATCH (m:KgtwinMeta) RETURN m.version",
    "MATCH (n) RETURN n",
    "MATCH (n {id: 'room-1'}) RETURN n",
    "MATCH (n) WHERE n.name = 'ci' RETURN n.roles",
    "MATCH (n) WHERE id(n) = 0 RETURN n",
    "OPTIONAL MATCH (n) RETURN n",
    "MATCH (t:Twin) WITH t MATCH (n) RETURN n",
    "MATCH (t:Twin) RETURN t UNION MATCH (n) RETURN n AS t",
    "MATCH (t:Twin) CALL { MATCH (n) RETURN n } RETURN n",
    "CALL db.labels()",
    "EXPLAIN MATCH (n) RETURN n",
]


@pytest.mark.parametrize("query", REFUSED)
def test_queries_that_could_see_internal_nodes_are_refused(populated: GraphStore, query: str) -> None:
    with pytest.raises(InternalsRefused) as refused:
        read_as_analyst(populated, query)
    assert refused.value.code == "FORBIDDEN"


ALLOWED = [
    ("MATCH (t:Twin) RETURN t.id ORDER BY t.id", [["desk-1"], ["room-1"]]),
    ("MATCH (r:Room)-[c]->(d) RETURN r.id, d.id", [["room-1", "desk-1"]]),
    ("MATCH (t:Twin)-[*1..3]-(x) RETURN DISTINCT x.id ORDER BY x.id", [["desk-1"], ["room-1"]]),
    ("MATCH (t:Twin) RETURN count(t)", [[2]]),
    ("MATCH (m:Model) RETURN m.id", [["dtmi:x:Room;1"]]),
    ("RETURN 'ApiKey' AS label", [["ApiKey"]]),
    ("MATCH (t:Twin {id: 'room-1'}) // not an ApiKey\nRETURN t.area", [[20.0]]),
]


@pytest.mark.parametrize(("query", "rows"), ALLOWED)
def test_queries_of_twins_and_models_run_and_see_no_internal_node(
    populated: GraphStore, query: str, rows: list[list[object]]
) -> None:
    assert read_as_analyst(populated, query).rows == rows


def test_counting_every_node_counts_no_internal_node(populated: GraphStore) -> None:
    # Neo4j's plan reads the count store for every label: refused. FalkorDB plans it as
    # one Project, with no scan to see; its analysts' copy has no internal node to count.
    try:
        result = read_as_analyst(populated, "MATCH (n) RETURN count(n)")
    except InternalsRefused:
        return
    assert result.rows == [[3]]  # two twins and a model


def test_relationship_scans_reach_no_internal_node(populated: GraphStore) -> None:
    # Internal nodes have no relationships, so the ends of every relationship are twins.
    try:
        result = read_as_analyst(populated, "MATCH ()-[r]->(b) RETURN labels(b)")
    except InternalsRefused:
        return  # FalkorDB plans this as a scan of every node: refused, which is as safe
    assert all("Twin" in row[0] for row in result.rows)


def test_a_role_that_may_see_internals_sees_them(populated: GraphStore) -> None:
    rows = read_as_analyst(populated, "MATCH (k:ApiKey) RETURN k.name", internals=True).rows
    assert rows == [["ci"]]
    assert read_as_analyst(populated, "MATCH (n) RETURN count(n)", internals=True).rows == [[5]]


@pytest.mark.neo4j
def test_dynamic_labels_are_refused(neo4j_store: GraphStore) -> None:
    with pytest.raises(InternalsRefused):
        read_as_analyst(neo4j_store, "MATCH (n:$($label)) RETURN n", {"label": "ApiKey"})
