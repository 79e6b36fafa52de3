"""Fixtures of the GraphQL suite: the real app over HTTP, on each graph engine in turn.

``api`` builds the application on an emptied graph of FalkorDB (embedded) and then of the
session's real Neo4j server, with the base ontology loaded and a real DuckDB telemetry
store. The graph and telemetry stores are wrapped in counting proxies of our own ports,
so tests can assert how many backend calls a request costs.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api import create_app
from api.context import ApiContext, twin_context
from graph.events import EventBus, Subscriber
from graph.store import CypherResult, GraphCapabilities, GraphStore, Statement
from simulation.jobs import RunStore
from simulation.worker import check_request
from telemetry.duckdb import DuckDbTelemetryStore
from telemetry.points import Aggregate, Sample, TelemetryPoint
from telemetry.refs import TelemetryRef

ROOM = "dtmi:kgtwin:space:Room;1"
SPACE = "dtmi:kgtwin:space:Space;1"
FLOOR = "dtmi:kgtwin:space:Floor;1"
BUILDING = "dtmi:kgtwin:space:Building;1"


class CountingGraph:
    """A ``GraphStore`` that counts the calls it passes on to a real one."""

    def __init__(self, inner: GraphStore) -> None:
        self.inner = inner
        self.calls: list[str] = []

    @property
    def backend(self) -> str:
        return self.inner.backend

    @property
    def capabilities(self) -> GraphCapabilities:
        return self.inner.capabilities

    def ping(self) -> None:
        self.inner.ping()

    def read(self, query: str, params: Mapping[str, Any] | None = None, **kw: Any) -> CypherResult:
        self.calls.append("read")
        return self.inner.read(query, params, **kw)

    def analyst_read(self, query: str, params: Mapping[str, Any] | None = None, **kw: Any) -> CypherResult:
        self.calls.append("read")
        return self.inner.analyst_read(query, params, **kw)

    def query_rows(self, query: str, params: Mapping[str, Any] | None = None, **kw: Any) -> list[list[Any]]:
        self.calls.append("query_rows")
        return self.inner.query_rows(query, params, **kw)

    def write(self, query: str, params: Mapping[str, Any] | None = None) -> CypherResult:
        self.calls.append("write")
        return self.inner.write(query, params)

    def prepare(self, query: str, params: Mapping[str, Any] | None = None) -> Statement:
        return self.inner.prepare(query, params)

    def send(self, statement: Statement) -> CypherResult:
        self.calls.append("write")
        return self.inner.send(statement)

    def ensure_schema(self) -> None:
        self.inner.ensure_schema()

    def close(self) -> None:
        """The session owns the real store."""


class CountingTelemetry:
    """A ``TelemetryStore`` that counts the reads it passes on to a real one."""

    def __init__(self, inner: DuckDbTelemetryStore) -> None:
        self.inner = inner
        self.calls: list[str] = []

    @property
    def backend(self) -> str:
        return self.inner.backend

    def ping(self) -> None:
        self.inner.ping()

    def write(self, points: Sequence[TelemetryPoint]) -> None:
        self.inner.write(points)

    def latest(
        self, refs: Sequence[TelemetryRef], fields: Sequence[str] | None = None
    ) -> list[dict[str, Sample]]:
        self.calls.append("latest")
        return self.inner.latest(refs, fields)

    def query(
        self,
        refs: Sequence[TelemetryRef],
        field: str,
        start: datetime,
        stop: datetime,
        every_s: float | None = None,
        fn: Aggregate = Aggregate.MEAN,
    ) -> list[list[Sample]]:
        self.calls.append("query")
        return self.inner.query(refs, field, start, stop, every_s, fn)

    def close(self) -> None:
        self.inner.close()


class WatchedBus(EventBus):
    """An event bus that says when someone subscribes: a subscription is live once it has."""

    def __init__(self) -> None:
        super().__init__()
        self.subscribed = threading.Semaphore(0)

    def subscribe(self, callback: Subscriber) -> Any:
        stop = super().subscribe(callback)
        self.subscribed.release()
        return stop


@dataclass
class Api:
    """The app under test and what it runs on."""

    client: TestClient
    context: ApiContext
    graph: CountingGraph
    telemetry: CountingTelemetry
    bus: WatchedBus
    engine: str
    _ids: list[int] = field(default_factory=lambda: [0])

    def gql(self, query: str, variables: Mapping[str, Any] | None = None, **headers: str) -> dict[str, Any]:
        """POST a GraphQL request; the JSON answer (data and errors)."""
        response = self.client.post("/graphql", json={"query": query, "variables": dict(variables or {})})
        assert response.status_code < 500, response.text
        body: dict[str, Any] = response.json()
        return body

    def data(self, query: str, variables: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """The data of a request that must succeed."""
        body = self.gql(query, variables)
        assert "errors" not in body or not body["errors"], body
        result: dict[str, Any] = body["data"]
        return result

    def error(self, query: str, variables: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """The first error of a request that must fail; ``extensions.code`` is always set."""
        body = self.gql(query, variables)
        assert body.get("errors"), body
        error: dict[str, Any] = body["errors"][0]
        assert "code" in error["extensions"], error
        return error


@pytest.fixture(params=["falkordb", pytest.param("neo4j", marks=pytest.mark.neo4j)])
def empty_graph(request: pytest.FixtureRequest) -> GraphStore:
    """Each engine's session store, wiped: for tests that build several apps on one graph."""
    store: GraphStore = request.getfixturevalue(f"{request.param}_store")
    store.write("MATCH (n) DETACH DELETE n")
    return store


@pytest.fixture(params=["falkordb", pytest.param("neo4j", marks=pytest.mark.neo4j)])
def api(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Api]:
    """The app on an empty graph of each engine, base ontology loaded, DuckDB telemetry."""
    store: GraphStore = request.getfixturevalue(f"{request.param}_store")
    store.write("MATCH (n) DETACH DELETE n")
    graph = CountingGraph(store)
    telemetry = CountingTelemetry(DuckDbTelemetryStore(tmp_path / "telemetry.duckdb"))
    bus = WatchedBus()
    runs = RunStore(graph, validate=check_request)
    runs.ensure_schema()
    context = twin_context(
        "9.9.9",
        graph,
        telemetry=telemetry,
        events=bus,
        runs=runs,
        telemetry_poll_s=0.05,
        # The models' token is read once a second (api.context); tests count a request's
        # backend calls, and that read would fall into whichever request ran a second late.
        # tests/api/test_replicas.py tests the reading on contexts of its own.
        models_check_s=float("inf"),
    )
    try:
        with TestClient(create_app(context)) as client:
            yield Api(client, context, graph, telemetry, bus, request.param)
    finally:
        telemetry.close()
