"""Models, read-only Cypher, roles and error shapes through GraphQL over HTTP, on both engines."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api import create_app
from api.auth import AuthConfig
from api.roles import Role
from graph.api_keys import ApiKeyStore
from tests.api.conftest import ROOM, SPACE, Api

PUMP = "dtmi:ex:plant:Pump;1"
TANK = "dtmi:ex:plant:Tank;1"
EQUIPMENT = "dtmi:kgtwin:asset:Equipment;1"
UPLOAD = "mutation($m: JSON!) { uploadModels(models: $m) { id displayName extends { id } } }"
MODEL_IDS = "query($id: ID!) { model(id: $id) { id } }"
DECOMMISSION = "mutation($id: ID!) { decommissionModel(id: $id) { id decommissioned } }"
DELETE = "mutation($id: ID!) { deleteModel(id: $id) }"
CREATE_TWIN = (
    "mutation($id: ID!, $m: String!, $p: JSON) { createTwin(id: $id, model: $m, properties: $p) { id } }"
)


def pump(**extra: Any) -> dict[str, Any]:
    return {
        "@context": "dtmi:dtdl:context;3",
        "@id": PUMP,
        "@type": "Interface",
        "displayName": "Pump",
        "extends": EQUIPMENT,
        "contents": [
            {"@type": "Property", "name": "flow", "schema": "double"},
            {"@type": "Telemetry", "name": "pressure", "schema": "double"},
            {"@type": "Relationship", "name": "fills", "target": TANK},
        ],
        **extra,
    }


def tank() -> dict[str, Any]:
    return {
        "@context": "dtmi:dtdl:context;3",
        "@id": TANK,
        "@type": "Interface",
        "extends": EQUIPMENT,
        "contents": [{"@type": "Property", "name": "capacity", "schema": "double"}],
    }


def test_base_ontology_is_loaded(api: Api) -> None:
    models = api.data("{ models { id } }")["models"]
    assert {ROOM, SPACE, EQUIPMENT} <= {m["id"] for m in models}


def test_upload_models_then_read_them(api: Api) -> None:
    uploaded = api.data(UPLOAD, {"m": [pump(), tank()]})["uploadModels"]
    assert uploaded == [
        {"id": PUMP, "displayName": "Pump", "extends": [{"id": EQUIPMENT}]},
        {"id": TANK, "displayName": "Tank", "extends": [{"id": EQUIPMENT}]},
    ]
    query = """query($id: ID!) { model(id: $id) {
        id decommissioned twinCount dtdl
        contents { name kind schema definedIn target }
    } }"""
    model = api.data(query, {"id": PUMP})["model"]
    assert model["dtdl"] == pump()
    assert model["decommissioned"] is False
    assert model["twinCount"] == 0
    contents = {c["name"]: c for c in model["contents"]}
    assert contents["flow"] == {
        "name": "flow",
        "kind": "Property",
        "schema": "double",
        "definedIn": PUMP,
        "target": None,
    }
    assert contents["fills"]["target"] == TANK
    assert contents["ratedPower"]["definedIn"] == EQUIPMENT  # inherited
    assert api.data('{ model(id: "dtmi:ex:Nope;1") { id } }') == {"model": None}


def test_an_invalid_model_is_validation_failed_with_the_ontologys_errors(api: Api) -> None:
    bad = pump(contents=[{"@type": "Property", "name": "flow", "schema": "nonsense"}])
    error = api.error(UPLOAD, {"m": [bad, tank()]})
    assert error["extensions"]["code"] == "VALIDATION_FAILED"
    issues = error["extensions"]["details"]["errors"]
    assert issues
    assert all({"code", "path", "message"} <= issue.keys() for issue in issues)
    # all or nothing: the valid Tank of the same batch was not registered either
    assert api.data(MODEL_IDS, {"id": TANK}) == {"model": None}


def test_uploading_a_model_twice_is_a_conflict(api: Api) -> None:
    api.data(UPLOAD, {"m": [tank()]})
    assert api.error(UPLOAD, {"m": [tank()]})["extensions"]["code"] == "CONFLICT"


def test_upload_needs_an_array_of_interfaces(api: Api) -> None:
    assert api.error(UPLOAD, {"m": "not models"})["extensions"]["code"] == "BAD_REQUEST"
    assert api.error(UPLOAD, {"m": []})["extensions"]["code"] == "BAD_REQUEST"


def test_decommission_keeps_twins_but_refuses_new_ones(api: Api) -> None:
    api.data(UPLOAD, {"m": [tank()]})
    create = "mutation($id: ID!, $m: String!) { createTwin(id: $id, model: $m) { id } }"
    api.data(create, {"id": "t1", "m": TANK})
    decommissioned = api.data(DECOMMISSION, {"id": TANK})
    assert decommissioned["decommissionModel"] == {"id": TANK, "decommissioned": True}
    assert api.error(create, {"id": "t2", "m": TANK})["extensions"]["code"] == "CONFLICT"
    api.data(create, {"id": "t1", "m": TANK})  # the existing twin may still be replaced
    listed = api.data("{ models(includeDecommissioned: false) { id } }")["models"]
    assert TANK not in {m["id"] for m in listed}
    count = api.data("query($id: ID!) { model(id: $id) { twinCount } }", {"id": TANK})
    assert count["model"]["twinCount"] == 1


def test_delete_model_refused_while_twins_use_it(api: Api) -> None:
    api.data(UPLOAD, {"m": [tank()]})
    api.data('mutation($m: String!) { createTwin(id: "t1", model: $m) { id } }', {"m": TANK})
    error = api.error(DELETE, {"id": TANK})
    assert error["extensions"]["code"] == "CONFLICT"
    assert error["extensions"]["details"]["reason"] == "TWINS_EXIST"
    api.data('mutation { deleteTwin(id: "t1") }')
    assert api.data(DELETE, {"id": TANK}) == {"deleteModel": TANK}
    assert api.error(DELETE, {"id": TANK})["extensions"]["code"] == "NOT_FOUND"
    assert api.error(DECOMMISSION, {"id": TANK})["extensions"]["code"] == "NOT_FOUND"


def test_cypher_answers_columns_and_rows(api: Api) -> None:
    api.data(CREATE_TWIN, {"id": "r1", "m": ROOM, "p": {"area": 12.5}})
    query = "query($q: String!, $p: JSON) { cypher(query: $q, params: $p) { columns rows truncated } }"
    cypher = "MATCH (r:Room) WHERE r.area > $min RETURN r.id AS id, r.area AS area"
    result = api.data(query, {"q": cypher, "p": {"min": 10}})["cypher"]
    assert result == {"columns": ["id", "area"], "rows": [["r1", 12.5]], "truncated": False}
    capped = api.data('{ cypher(query: "UNWIND range(1, 5) AS x RETURN x", maxRows: 2) { rows truncated } }')
    assert capped["cypher"] == {"rows": [[1], [2]], "truncated": True}


def test_cypher_errors_have_their_codes(api: Api) -> None:
    write = api.error("{ cypher(query: \"CREATE (n:Twin {id: 'x'}) RETURN n\") { rows } }")
    assert write["extensions"]["code"] == "CYPHER_WRITE_REFUSED"
    assert api.error('{ cypher(query: "MATCH (n RETURN n") { rows } }')["extensions"]["code"] == "BAD_REQUEST"
    limit = api.error('{ cypher(query: "RETURN 1", maxRows: 100000000) { rows } }')
    assert limit["extensions"]["code"] == "LIMIT_EXCEEDED"
    assert api.error('{ cypher(query: "RETURN 1", params: [1]) { rows } }')["extensions"]["code"] == (
        "BAD_REQUEST"
    )


def test_a_cypher_query_past_its_budget_is_a_timeout(api: Api) -> None:
    # 10^8 rows: seconds on either engine, far past the 0.2 s budget (tests/graph uses the same).
    slow = (
        "UNWIND range(1, 10000) AS x UNWIND range(1, 10000) AS y "
        "WITH x, y WHERE (x * y) % 7 = 0 RETURN count(*)"
    )
    error = api.error("query($q: String!) { cypher(query: $q, timeoutS: 0.2) { rows } }", {"q": slow})
    assert error["extensions"]["code"] == "TIMEOUT"


def test_graphql_mistakes_are_bad_requests(api: Api) -> None:
    for query in ("{ twin(id: 1) { nope } }", "{ twins { id } }", "{ version("):
        body = api.gql(query)
        assert body["errors"][0]["extensions"]["code"] == "BAD_REQUEST", query


def test_an_unexpected_failure_is_internal_without_details(api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(*_args: Any, **_kwargs: Any) -> Any:
        raise RuntimeError("secret driver detail")

    assert api.context.registry is not None
    monkeypatch.setattr(api.context.registry, "list", broken)
    response = api.client.post("/graphql", json={"query": "{ models { id } }"})
    assert response.status_code == 200
    error = response.json()["errors"][0]
    assert error["extensions"] == {"code": "INTERNAL"}
    assert "secret" not in response.text
    assert "Traceback" not in response.text


@pytest.fixture
def keyed(api: Api) -> Iterator[tuple[TestClient, dict[Role, str]]]:
    """The same twin served with API keys required, and one key per role."""
    store = ApiKeyStore(api.graph)
    keys = {role: store.create(role.value, [role]).secret for role in Role}
    context = replace(api.context, auth=AuthConfig(api_keys=True, key_cache_s=0))
    with TestClient(create_app(context)) as client:
        yield client, keys


@pytest.mark.parametrize(
    ("role", "operation", "allowed"),
    [
        (Role.VIEWER, "{ models { id } }", True),
        (Role.VIEWER, '{ cypher(query: "RETURN 1") { rows } }', False),
        (Role.ANALYST, '{ cypher(query: "RETURN 1") { rows } }', True),
        (Role.VIEWER, f'mutation {{ createTwin(id: "r9", model: "{ROOM}") {{ id }} }}', False),
        (Role.OPERATOR, f'mutation {{ createTwin(id: "r9", model: "{ROOM}") {{ id }} }}', True),
        (Role.OPERATOR, f'mutation {{ decommissionModel(id: "{ROOM}") {{ id }} }}', False),
        (Role.MODELER, 'mutation { deleteTwin(id: "r9") }', False),
    ],
)
def test_roles_decide_who_may_do_what(
    keyed: tuple[TestClient, dict[Role, str]], role: Role, operation: str, allowed: bool
) -> None:
    client, keys = keyed
    body = client.post("/graphql", json={"query": operation}, headers={"X-API-Key": keys[role]}).json()
    if allowed:
        assert not body.get("errors"), body
    else:
        assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"


def test_without_credentials_a_request_is_unauthenticated(keyed: tuple[TestClient, dict[Role, str]]) -> None:
    client, _ = keyed
    response = client.post("/graphql", json={"query": "{ models { id } }"})
    assert response.status_code == 401
    assert response.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


def test_an_upload_that_lengthens_a_label_keeps_existing_twins_findable(api: Api) -> None:
    ctx = "dtmi:dtdl:context;3"
    first, second = "dtmi:ex:a:Valve;1", "dtmi:ex:b:Valve;1"
    api.data(UPLOAD, {"m": [{"@context": ctx, "@id": first, "@type": "Interface"}]})
    api.data(CREATE_TWIN, {"id": "v-1", "m": first, "p": {}})
    labels = "query { cypher(query: \"MATCH (t:Twin {id: 'v-1'}) RETURN labels(t)\") { rows } }"
    assert sorted(api.data(labels)["cypher"]["rows"][0][0]) == ["Twin", "Valve"]
    # A second Valve: both models need longer labels now, and v-1 is relabelled at once.
    api.data(UPLOAD, {"m": [{"@context": ctx, "@id": second, "@type": "Interface"}]})
    assert sorted(api.data(labels)["cypher"]["rows"][0][0]) == ["Twin", "a_Valve"]
    found = api.data('query { twins(model: "dtmi:ex:a:Valve;1") { totalCount edges { node { id } } } }')
    assert found["twins"]["totalCount"] == 1
