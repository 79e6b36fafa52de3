"""Fixtures for the security and modeling tests: an embedded FalkorDB, apps with auth on, keys.

Not a ``conftest.py`` (that one belongs to the GraphQL suite): test modules load it with
``pytest_plugins`` and import its helpers; its fixture names are prefixed ``auth_`` so they
never shadow the GraphQL suite's. The graph is a real embedded FalkorDB, one per test module, wiped
before each test; ``auth_any_graph`` runs a test on FalkorDB and on the real Neo4j server.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from fastapi.testclient import TestClient

from api import create_app
from api.auth import AuthConfig, OidcConfig
from api.context import twin_context
from api.limits import Limits
from api.roles import Role
from graph.api_keys import ApiKeyStore
from graph.falkordb import FalkorGraphStore
from graph.neo4j import Neo4jGraphStore
from graph.store import GraphStore

__all__ = ["AuthConfig", "Limits", "OidcConfig", "app_client", "keys_by_role"]


@pytest.fixture(scope="module")
def auth_graph_store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FalkorGraphStore]:
    """One embedded FalkorDB per test module (starting one costs seconds)."""
    store = FalkorGraphStore(tmp_path_factory.mktemp("falkordb"))
    try:
        yield store
    finally:
        store.close()


@pytest.fixture
def auth_graph(auth_graph_store: FalkorGraphStore) -> GraphStore:
    """The module's graph, empty."""
    auth_graph_store.write("MATCH (n) DETACH DELETE n")
    return auth_graph_store


@pytest.fixture(scope="module")
def auth_neo4j_store(neo4j_url: str) -> Iterator[Neo4jGraphStore]:
    """A driver to the session's real Neo4j server (``tests/conftest.py``)."""
    store = Neo4jGraphStore(neo4j_url)
    try:
        yield store
    finally:
        store.close()


@pytest.fixture(params=["falkordb", pytest.param("neo4j", marks=pytest.mark.neo4j)])
def auth_any_graph(request: pytest.FixtureRequest) -> GraphStore:
    """An empty graph on each engine in turn, for the tests whose Cypher differs by engine."""
    name = "auth_graph_store" if request.param == "falkordb" else "auth_neo4j_store"
    store: GraphStore = request.getfixturevalue(name)
    store.write("MATCH (n) DETACH DELETE n")
    return store


@contextmanager
def app_client(
    graph: GraphStore, *, auth: AuthConfig | None = None, limits: Limits | None = None
) -> Iterator[TestClient]:
    """A client of the whole application on ``graph`` (no base ontology: tests bring their models)."""
    context = twin_context(
        "9.9.9",
        graph,
        load_base=False,
        auth=auth or AuthConfig(api_keys=True, key_cache_s=0),
        limits=limits or Limits(),
    )
    app = create_app(context)
    app.state.kgtwin_context = context  # for tests that watch the context's events
    with TestClient(app, raise_server_exceptions=False) as client:
        yield client


def keys_by_role(graph: GraphStore) -> dict[Role, str]:
    """One API key secret per role, named after it."""
    store = ApiKeyStore(graph)
    return {role: store.create(role.value, [role]).secret for role in Role}
