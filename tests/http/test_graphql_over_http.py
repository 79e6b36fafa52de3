"""GraphQL over HTTP to the letter, against a real ``kgtwin serve``.

The graphql-http server audit (npm ``graphql-http``, the reference implementation's own
conformance checks of the GraphQL-over-HTTP specification) must pass whole: no error, no
warning, not even a notice. Then the probes of issue 21 (defect 8) that answered 500 or
ran the wrong operation.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.http.conftest import Served, run_node

GRAPHQL_RESPONSE = "application/graphql-response+json"


def test_the_graphql_http_server_audit_passes_whole(serve: Served, node_modules: Path) -> None:
    output = run_node(node_modules, "audit.cjs", f"{serve.url}/graphql")
    results = [json.loads(line) for line in output.splitlines() if line.strip()]
    assert len(results) >= 60
    failed = [r for r in results if r["status"] != "ok"]
    assert failed == [], json.dumps(failed, indent=1)


def _post(
    served: Served, body: bytes | str, accept: str = "application/json", **headers: str
) -> httpx.Response:
    return httpx.post(
        f"{served.url}/graphql",
        content=body,
        headers={"Content-Type": "application/json", "Accept": accept, **headers},
        timeout=30,
    )


@pytest.mark.parametrize("body", ["null", '"str"', "123", "[]", "true", '[{"query": "{ version }"}]'])
def test_a_body_that_is_json_but_not_an_object_is_400_not_500(serve: Served, body: str) -> None:
    for accept in ("application/json", GRAPHQL_RESPONSE):
        response = _post(serve, body, accept)
        assert response.status_code == 400, response.text
        answer = response.json()
        assert "data" not in answer
        assert answer["errors"][0]["extensions"]["code"] == "BAD_REQUEST"
        assert "JSON object" in answer["errors"][0]["message"]


def test_json_nested_ten_thousand_deep_is_400_not_500(serve: Served) -> None:
    deep = '{"query": "{ version }", "variables": {"a": ' + "[" * 10_000 + "]" * 10_000 + "}}"
    response = _post(serve, deep)
    assert response.status_code == 400, response.text
    assert response.json()["errors"][0]["extensions"]["code"] == "BAD_REQUEST"
    assert serve.process.poll() is None


@pytest.mark.parametrize(
    ("body", "content_type", "status"),
    [
        ("{ not json", "application/json", 400),
        ("", "application/json", 400),
        ('{"query": "{ version }"}', "text/plain", 415),
        ('{"query": "{ version }"}', "application/json; charset=latin-1", 415),
        ("query=%7B+version+%7D", "application/x-www-form-urlencoded", 415),
    ],
)
def test_bad_json_or_content_type_is_a_structured_error_not_plain_text(
    serve: Served, body: str, content_type: str, status: int
) -> None:
    response = _post(serve, body, **{"Content-Type": content_type})
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    assert response.json()["errors"][0]["extensions"]["code"] == "BAD_REQUEST"


def _gql(served: Served, query: str, accept: str = "application/json", **params: Any) -> httpx.Response:
    return _post(served, json.dumps({"query": query, **params}), accept)


TWO_OPERATIONS = """
query Read { twin(id: "probe-two-ops") { id } }
mutation Write { createTwin(id: "probe-two-ops", model: "dtmi:kgtwin:space:Room;1", properties: {}) { id } }
"""


def test_two_operations_without_an_operation_name_run_neither(serve: Served) -> None:
    for document in (TWO_OPERATIONS, "\n".join(reversed(TWO_OPERATIONS.strip().splitlines()))):
        for accept, status in (("application/json", 200), (GRAPHQL_RESPONSE, 400)):
            response = _gql(serve, document, accept)
            assert response.status_code == status
            error = response.json()["errors"][0]
            assert error["extensions"]["code"] == "BAD_REQUEST"
            assert "operationName" in error["message"]
    # The mutation never ran.
    check = _gql(serve, TWO_OPERATIONS, operationName="Read").json()
    assert check == {"data": {"twin": None}}


def test_the_named_operation_of_several_runs(serve: Served) -> None:
    body = _gql(serve, "query A { version } query B { __typename }", operationName="B").json()
    assert body == {"data": {"__typename": "Query"}}
    unknown = _gql(serve, "query A { version }", GRAPHQL_RESPONSE, operationName="C")
    assert unknown.status_code == 400
    assert "no operation named 'C'" in unknown.json()["errors"][0]["message"]


def test_a_request_error_has_no_data_in_the_new_media_type_and_data_null_in_json(serve: Served) -> None:
    for query in ("{", "{ noSuchField }", "query ($id: ID!) { twin(id: $id) { id } }"):
        new = _gql(serve, query, GRAPHQL_RESPONSE, variables={})
        assert new.status_code == 400
        assert new.headers["content-type"].startswith(GRAPHQL_RESPONSE)
        assert "data" not in new.json()
        legacy = _gql(serve, query, variables={})
        assert legacy.status_code == 200
        assert legacy.headers["content-type"].startswith("application/json")
        assert legacy.json()["data"] is None


def test_a_field_error_is_200_with_data_in_both_media_types(serve: Served) -> None:
    query = '{ version twins(model: "dtmi:no:such;1", first: 1) { totalCount } }'
    for accept in ("application/json", GRAPHQL_RESPONSE):
        response = _gql(serve, query, accept)
        assert response.status_code == 200
        body = response.json()
        assert "data" in body
        assert body["errors"][0]["path"] == ["twins"]


def test_get_runs_queries_and_refuses_mutations_with_405(serve: Served) -> None:
    ok = httpx.get(f"{serve.url}/graphql", params={"query": "{ version }"})
    assert ok.status_code == 200
    assert ok.json()["data"]["version"]
    refused = httpx.get(
        f"{serve.url}/graphql",
        params={"query": 'mutation { deleteTwin(id: "x") }'},
        headers={"Accept": GRAPHQL_RESPONSE},
    )
    assert refused.status_code == 405
    assert refused.headers["allow"] == "POST"


def test_an_accept_naming_neither_media_type_is_406(serve: Served) -> None:
    response = _gql(serve, "{ version }", "text/csv")
    assert response.status_code == 406


def test_graphiql_is_still_served_to_browsers(serve: Served) -> None:
    page = httpx.get(f"{serve.url}/graphql", headers={"Accept": "text/html"})
    assert page.status_code == 200
    assert "graphiql" in page.text.lower()
