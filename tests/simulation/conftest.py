"""Fixtures of the simulation tests.

``graph_store`` yields an embedded FalkorDB, then the session's real Neo4j 5, each wiped
(as in ``tests/graph``): runs are nodes of the twin graph. ``flow_line`` adds a small
production line the ``flow`` model can run.
"""

from __future__ import annotations

import itertools
import json

import pytest

from graph.store import GraphStore
from tests.simulation.builders import InProcessExecutor
from tests.simulation.fmus import BuiltFmus, build_all


@pytest.fixture(scope="session")
def test_fmus() -> BuiltFmus:
    """The room, pump and tank FMUs built by pythonfmu (once per machine and content)."""
    return build_all()


@pytest.fixture
def executor() -> InProcessExecutor:
    """Replications run in the test process, counted."""
    return InProcessExecutor()


@pytest.fixture(params=["falkordb", pytest.param("neo4j", marks=pytest.mark.neo4j)])
def graph_store(request: pytest.FixtureRequest) -> GraphStore:
    """A ``GraphStore`` on an empty graph of each engine in turn."""
    backend: GraphStore = request.getfixturevalue(f"{request.param}_store")
    backend.write("MATCH (n) DETACH DELETE n")
    return backend


@pytest.fixture(params=["falkordb", pytest.param("neo4j", marks=pytest.mark.neo4j)])
def service_graph(request: pytest.FixtureRequest) -> dict[str, str]:
    """The ``KGTWIN_*`` settings of a ``kgtwin`` process's graph: the embedded default, then a
    wiped Neo4j."""
    if request.param == "falkordb":
        return {}
    store: GraphStore = request.getfixturevalue("neo4j_store")
    store.write("MATCH (n) DETACH DELETE n")
    return {"KGTWIN_GRAPH_URL": str(request.getfixturevalue("neo4j_url"))}


LINE = [
    ("S", "Source", {"interarrivalTimeMean": 60.0, "interarrivalTimeDistribution": "exponential"}),
    ("B1", "Buffer", {"capacity": 4}),
    ("M1", "Machine", {"cycleTimeMean": 50.0, "cycleTimeDistribution": "exponential"}),
    ("K", "Sink", {}),
]


@pytest.fixture
def flow_line(graph_store: GraphStore) -> GraphStore:
    """A source, a buffer, a machine and a sink joined by ``feeds``, written as twins are stored."""
    twins = [
        {
            "id": twin_id,
            "model": f"dtmi:kgtwin:production:{kind};1",
            "etag": 'W/"1"',
            "createdAt": "2026-11-25T08:00:00.000Z",
            "updatedAt": "2026-11-25T08:00:00.000Z",
            "_document": json.dumps(properties),
        }
        for twin_id, kind, properties in LINE
    ]
    graph_store.write("UNWIND $twins AS t CREATE (n:Twin) SET n = t", {"twins": twins})
    pairs = [[a[0], b[0]] for a, b in itertools.pairwise(LINE)]
    graph_store.write(
        "UNWIND $pairs AS p MATCH (a:Twin {id: p[0]}), (b:Twin {id: p[1]}) "
        "CREATE (a)-[:feeds {id: 'f-' + p[0], _document: '{}'}]->(b)",
        {"pairs": pairs},
    )
    return graph_store
