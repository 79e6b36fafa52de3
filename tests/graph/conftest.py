"""The one parametrised fixture of the twin-graph suite: every test runs on both engines.

``store`` yields an embedded FalkorDB, then a Neo4j store on the session's real Neo4j 5
server, each with its graph wiped (constraints kept), so the same assertions hold on each
engine. The FalkorDB store lives for the session in a temporary folder: stopping the
embedded redis-server costs about 4 s, too much to pay per test.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from graph.falkordb import FalkorGraphStore
from graph.neo4j import Neo4jGraphStore
from graph.store import GraphStore


@pytest.fixture(scope="session")
def falkordb_store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FalkorGraphStore]:
    """One embedded FalkorDB for the session."""
    backend = FalkorGraphStore(tmp_path_factory.mktemp("falkordb"))
    try:
        yield backend
    finally:
        backend.close()


@pytest.fixture(scope="session")
def neo4j_store(neo4j_url: str) -> Iterator[Neo4jGraphStore]:
    """One driver to the session's Neo4j server."""
    backend = Neo4jGraphStore(neo4j_url)
    try:
        yield backend
    finally:
        backend.close()


@pytest.fixture(params=["falkordb", pytest.param("neo4j", marks=pytest.mark.neo4j)])
def store(request: pytest.FixtureRequest) -> GraphStore:
    """A ``GraphStore`` on an empty graph of each engine in turn."""
    backend: GraphStore = request.getfixturevalue(f"{request.param}_store")
    backend.write("MATCH (n) DETACH DELETE n")
    return backend
