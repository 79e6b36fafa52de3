"""What operators see of API requests: request ids, labels per operation, errors by code, readiness.

The app runs on the embedded FalkorDB with a recording observer (a fake of the API's own
``ApiObserver`` protocol); ``tests/foundation/test_metrics.py`` checks the Prometheus side.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest
from fastapi.testclient import TestClient

from api import create_app
from api.auth import AuthConfig
from api.context import twin_context
from api.lifecycle import Lifecycle
from api.observation import Observability
from graph.falkordb import FalkorGraphStore

ROOM = "dtmi:kgtwin:space:Room;1"


@dataclass
class Recorder:
    """Keeps every report an ``ApiObserver`` gets."""

    in_flight: int = 0
    finished: list[tuple[str, str]] = field(default_factory=list)
    errors: Counter[str] = field(default_factory=Counter)
    open_subscriptions: Counter[str] = field(default_factory=Counter)

    def request_started(self) -> None:
        self.in_flight += 1

    def request_finished(self, operation: str, field: str, seconds: float) -> None:
        assert seconds >= 0
        self.in_flight -= 1
        self.finished.append((operation, field))

    def error(self, code: str) -> None:
        self.errors[code] += 1

    def subscription_opened(self, field: str) -> None:
        self.open_subscriptions[field] += 1

    def subscription_closed(self, field: str) -> None:
        self.open_subscriptions[field] -= 1


@dataclass
class Observed:
    client: TestClient
    recorder: Recorder
    lifecycle: Lifecycle


@pytest.fixture(scope="module")
def graph(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FalkorGraphStore]:
    store = FalkorGraphStore(tmp_path_factory.mktemp("falkordb"))
    try:
        yield store
    finally:
        store.close()


def observed_app(graph: FalkorGraphStore, auth: AuthConfig | None = None) -> Observed:
    graph.write("MATCH (n) DETACH DELETE n")
    recorder, lifecycle = Recorder(), Lifecycle()

    def exposition() -> tuple[bytes, str]:
        return b"kgtwin_info 1\n", "text/plain; version=0.0.4"

    context = twin_context(
        "test",
        graph,
        auth=auth,
        lifecycle=lifecycle,
        observability=Observability(recorder, exposition, slow_request_s=60.0),
    )
    return Observed(TestClient(create_app(context)), recorder, lifecycle)


@pytest.fixture
def observed(graph: FalkorGraphStore) -> Iterator[Observed]:
    found = observed_app(graph)
    with found.client:
        yield found


def gql(observed: Observed, query: str, **headers: str) -> dict[str, object]:
    response = observed.client.post("/graphql", json={"query": query}, headers=headers)
    assert response.status_code == 200, response.text
    body: dict[str, object] = response.json()
    return body


def test_each_request_is_labelled_with_its_operation_and_top_level_field(observed: Observed) -> None:
    gql(observed, '{ twin(id: "nobody") { id } }')
    gql(observed, 'query Named { me: twin(id: "nobody") { id } }')
    gql(observed, '{ twin(id: "a") { id } models { id } }')
    gql(observed, f'mutation {{ createTwin(id: "r1", model: "{ROOM}", properties: {{}}) {{ id }} }}')
    gql(observed, "{ nosuchfield }")
    observed.client.get("/models/evolution", params={"from": "dtmi:x:A;1", "to": "dtmi:x:A;2"})
    assert observed.client.get("/nowhere").status_code == 404
    assert observed.recorder.finished == [
        ("query", "twin"),
        ("query", "twin"),  # an alias is not a label: the schema's field is
        ("query", "multiple"),
        ("mutation", "createTwin"),
        ("invalid", ""),
        ("rest", "/models/evolution"),
        ("http", ""),
    ]
    assert observed.recorder.in_flight == 0


def test_probes_and_metrics_are_not_counted_and_metrics_are_served(observed: Observed) -> None:
    assert observed.client.get("/healthz").status_code == 200
    assert observed.client.get("/readyz").status_code == 200
    metrics = observed.client.get("/metrics")
    assert metrics.status_code == 200
    assert metrics.text == "kgtwin_info 1\n"
    assert observed.recorder.finished == []
    assert "x-request-id" not in metrics.headers


def test_errors_are_counted_once_by_code_whether_graphql_or_http(graph: FalkorGraphStore) -> None:
    observed = observed_app(graph, AuthConfig(api_keys=True))
    with observed.client as client:
        refused = client.post("/graphql", json={"query": "{ models { id } }"})
        assert refused.status_code == 401
        assert client.get("/models/evolution").status_code == 401
    assert observed.recorder.errors == {"UNAUTHENTICATED": 2}
    observed = observed_app(graph)
    with observed.client as client:
        body = gql(observed, "{ nosuchfield }")
        assert body["errors"]
        missing = client.get("/models/evolution", params={"from": "dtmi:x:A;1", "to": "dtmi:x:A;2"})
        assert missing.status_code == 404, missing.text
        assert client.get("/nowhere").status_code == 404
        json_type = {"Content-Type": "application/json"}
        malformed = client.post("/graphql", content=b"{not json", headers=json_type)
        assert malformed.status_code == 400
    assert observed.recorder.errors == {"BAD_REQUEST": 2, "NOT_FOUND": 2}


def test_a_request_id_is_made_or_kept_and_always_answered(observed: Observed) -> None:
    made = observed.client.post("/graphql", json={"query": "{ version }"})
    kept = observed.client.post(
        "/graphql", json={"query": "{ version }"}, headers={"X-Request-Id": "abc-123"}
    )
    unsafe = observed.client.post(
        "/graphql", json={"query": "{ version }"}, headers={"X-Request-Id": "x" * 65}
    )
    assert len(made.headers["x-request-id"]) == 16
    assert kept.headers["x-request-id"] == "abc-123"
    assert unsafe.headers["x-request-id"] != "x" * 65


def test_an_open_subscription_is_counted_until_it_ends(observed: Observed) -> None:
    query = "subscription { twinChanged { id } }"
    with observed.client.websocket_connect("/graphql", subprotocols=["graphql-transport-ws"]) as ws:
        ws.send_json({"type": "connection_init"})
        assert ws.receive_json()["type"] == "connection_ack"
        ws.send_json({"id": "1", "type": "subscribe", "payload": {"query": query}})
        deadline = time.monotonic() + 10
        while observed.recorder.open_subscriptions["twinChanged"] != 1:
            assert time.monotonic() < deadline, "the subscription was never counted"
            time.sleep(0.02)
        ws.send_json({"id": "1", "type": "complete"})
        deadline = time.monotonic() + 10
        while observed.recorder.open_subscriptions["twinChanged"] != 0:
            assert time.monotonic() < deadline, "the subscription was never counted closed"
            time.sleep(0.02)
    assert observed.recorder.finished == []  # a websocket is not a timed request


def test_readyz_turns_unready_the_moment_shutdown_starts_while_requests_are_still_answered(
    observed: Observed,
) -> None:
    assert observed.client.get("/readyz").status_code == 200
    observed.lifecycle.begin_shutdown()
    unready = observed.client.get("/readyz")
    assert unready.status_code == 503
    assert unready.json()["detail"] == "the service is stopping"
    assert gql(observed, "{ version }") == {"data": {"version": "test"}}


def test_the_last_request_time_ignores_probes(observed: Observed) -> None:
    gql(observed, "{ version }")
    time.sleep(0.3)
    observed.client.get("/readyz")
    observed.client.get("/metrics")
    assert observed.lifecycle.quiet_s() >= 0.3
    gql(observed, "{ version }")
    assert observed.lifecycle.quiet_s() < 0.3
