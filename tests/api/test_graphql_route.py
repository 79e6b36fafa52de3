"""``GET``/``POST /graphql`` answered ahead of FastAPI's routing keep what the route gave them.

``api.graphql_route`` hands the two methods straight to ``api.graphql_http``: these tests
check what a client and an operator still see as from any route (metrics labels, errors
raised before the answer as problem+json) and that a query text seen before is answered
from the prepared documents. The app runs on the embedded FalkorDB with a recording
observer (a fake of the API's own ``ApiObserver`` protocol).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from graphql import parse

from api import create_app
from api.context import twin_context
from api.fastpath import prepared
from api.fastpath._validation import PreparedDocuments
from api.limits import Limits
from api.observation import Observability
from api.schema import schema
from graph.falkordb import FalkorGraphStore
from tests.api.test_observation import Recorder


@pytest.fixture(scope="module")
def graph(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FalkorGraphStore]:
    store = FalkorGraphStore(tmp_path_factory.mktemp("falkordb"))
    try:
        yield store
    finally:
        store.close()


def test_graphiql_and_refusals_at_graphql_keep_the_route_label_and_error_code(
    graph: FalkorGraphStore,
) -> None:
    recorder = Recorder()
    context = twin_context("test", graph, observability=Observability(recorder, slow_request_s=60.0))
    with TestClient(create_app(context)) as client:
        page = client.get("/graphql", headers={"Accept": "text/html"})
        assert page.status_code == 200
        assert "<html" in page.text.lower()
        refused = client.post("/graphql", content=b"query=x", headers={"Content-Type": "text/plain"})
        assert refused.status_code == 415
        assert refused.json()["errors"][0]["extensions"]["code"] == "BAD_REQUEST"
        assert client.post("/graphql", json={"query": "{ __typename }"}).json() == {
            "data": {"__typename": "Query"}
        }
    assert recorder.finished == [("http", "/graphql"), ("http", "/graphql"), ("query", "__typename")]
    assert recorder.errors == {"BAD_REQUEST": 1}


def test_a_graph_down_before_the_answer_is_503_problem_json_as_from_any_route(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    # A graph that stops answering: the request's check for models changed elsewhere fails first.
    down = FalkorGraphStore(tmp_path_factory.mktemp("falkordb-down"))
    context = twin_context("test", down, models_check_s=0.0)
    with TestClient(create_app(context), raise_server_exceptions=False) as client:
        assert client.post("/graphql", json={"query": "{ __typename }"}).status_code == 200
        down.close()
        answer = client.post("/graphql", json={"query": "{ __typename }"})
    assert answer.status_code == 503, answer.text
    assert answer.headers["content-type"] == "application/problem+json"
    problem = answer.json()
    assert problem["code"] == "BACKEND_UNAVAILABLE"
    assert problem["status"] == 503
    assert "Traceback" not in answer.text


def test_a_query_text_seen_before_is_found_prepared_with_its_validation_errors(
    graph: FalkorGraphStore,
) -> None:
    valid = '{ twin(id: "route-test-nobody") { id } }'
    invalid = '{ twin(id: "route-test-nobody") { nosuchfield } }'
    limits = Limits()
    assert prepared(schema._schema, valid, limits) is None
    with TestClient(create_app(twin_context("test", graph))) as client:
        first = client.post("/graphql", json={"query": valid}).json()
        assert prepared(schema._schema, valid, limits) is not None
        assert client.post("/graphql", json={"query": valid}).json() == first == {"data": {"twin": None}}
        refusals = [
            client.post(
                "/graphql", json={"query": invalid}, headers={"Accept": "application/graphql-response+json"}
            )
            for _ in range(2)
        ]
    assert prepared(schema._schema, invalid, limits) is not None
    assert [r.status_code for r in refusals] == [400, 400]
    assert refusals[0].json() == refusals[1].json()
    assert "nosuchfield" in refusals[1].json()["errors"][0]["message"]
    # Other limits validate again: a text prepared under the defaults is not under others.
    assert prepared(schema._schema, valid, Limits(graphql_max_depth=3)) is None


def test_prepared_documents_forget_the_least_recently_used_text_first() -> None:
    documents = PreparedDocuments(size=2)
    keys = [(1, text, 10, 5, 100) for text in ("{ a }", "{ b }", "{ c }")]
    for key in keys[:2]:
        documents.record(key, parse(key[1]))
    assert documents.find(keys[0]) is not None  # used: now the most recent
    documents.record(keys[2], parse(keys[2][1]))
    assert documents.find(keys[1]) is None
    assert documents.find(keys[0]) is not None
    assert documents.find(keys[2]) is not None
