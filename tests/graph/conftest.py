"""The one parametrised fixture of the twin-graph suite: every test runs on both engines.

``store`` yields an embedded FalkorDB, then a Neo4j store on the session's real Neo4j 5
server, each with its graph wiped (constraints kept), so the same assertions hold on each
engine. It is wiped again afterwards: suites that share the session's Neo4j without this
fixture (ingest, simulation) must not meet nodes a graph test left, such as a ``(:Model)``
with no document. The session's stores (``falkordb_store``, ``neo4j_store``) are in ``tests/conftest.py``,
shared by every suite that needs a graph.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from graph.store import GraphStore


@pytest.fixture(params=["falkordb", pytest.param("neo4j", marks=pytest.mark.neo4j)])
def store(request: pytest.FixtureRequest) -> Iterator[GraphStore]:
    """A ``GraphStore`` on an empty graph of each engine in turn, left empty."""
    backend: GraphStore = request.getfixturevalue(f"{request.param}_store")
    backend.write("MATCH (n) DETACH DELETE n")
    yield backend
    backend.write("MATCH (n) DETACH DELETE n")
