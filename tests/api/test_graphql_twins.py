"""Twins and relationships through GraphQL over HTTP, on both graph engines."""

from __future__ import annotations

from typing import Any

from tests.api.conftest import BUILDING, FLOOR, ROOM, Api

CREATE = """
mutation($id: ID!, $model: String!, $props: JSON) {
  createTwin(id: $id, model: $model, properties: $props) { id etag model { id } properties }
}
"""
RELATE = """
mutation($s: ID!, $t: ID!, $n: String!, $p: JSON, $id: ID) {
  createRelationship(source: $s, target: $t, name: $n, properties: $p, id: $id) {
    id name source target properties
  }
}
"""


def create(api: Api, twin_id: str, model: str, **props: Any) -> dict[str, Any]:
    twin: dict[str, Any] = api.data(CREATE, {"id": twin_id, "model": model, "props": props})["createTwin"]
    return twin


def relate(api: Api, source: str, name: str, target: str) -> None:
    api.data(RELATE, {"s": source, "t": target, "n": name})


def building(api: Api) -> None:
    """b1 contains f1 and f2; f1 contains r1 and r2, f2 contains r3."""
    create(api, "b1", BUILDING, name="HQ", floorsAboveGround=2)
    for floor, level in (("f1", 1), ("f2", 2)):
        create(api, floor, FLOOR, level=level)
        relate(api, "b1", "contains", floor)
    for room, floor, area in (("r1", "f1", 20.0), ("r2", "f1", 35.5), ("r3", "f2", 50.0)):
        create(api, room, ROOM, name=room.upper(), area=area, maxOccupancy=int(area // 5))
        relate(api, floor, "contains", room)


def test_create_then_read_a_twin(api: Api) -> None:
    created = create(api, "r1", ROOM, name="Lab", area=20.0)
    assert created["id"] == "r1"
    assert created["model"]["id"] == ROOM
    assert created["etag"].startswith('W/"')
    twin = api.data(
        '{ twin(id: "r1") { id etag properties property(name: "area") missing: property(name: "volume") } }'
    )["twin"]
    assert twin == {
        "id": "r1",
        "etag": created["etag"],
        "properties": {"name": "Lab", "area": 20.0},
        "property": 20.0,
        "missing": None,
    }


def test_a_missing_twin_is_null(api: Api) -> None:
    assert api.data('{ twin(id: "nope") { id } }') == {"twin": None}


def test_invalid_properties_are_validation_failed_with_the_issues(api: Api) -> None:
    error = api.error(CREATE, {"id": "r1", "model": ROOM, "props": {"area": "big", "colour": 1}})
    assert error["extensions"]["code"] == "VALIDATION_FAILED"
    paths = {issue["path"] for issue in error["extensions"]["details"]["errors"]}
    assert {"/area", "/colour"} <= paths
    assert api.data('{ twin(id: "r1") { id } }') == {"twin": None}


def test_unknown_model_is_validation_failed(api: Api) -> None:
    error = api.error(CREATE, {"id": "x", "model": "dtmi:ex:Nope;1", "props": {}})
    assert error["extensions"]["code"] == "VALIDATION_FAILED"


def test_changing_a_twins_model_is_a_conflict(api: Api) -> None:
    create(api, "r1", ROOM)
    error = api.error(CREATE, {"id": "r1", "model": FLOOR, "props": {}})
    assert error["extensions"]["code"] == "CONFLICT"


def test_update_applies_a_json_patch_with_if_match(api: Api) -> None:
    etag = create(api, "r1", ROOM, name="Lab", area=20.0)["etag"]
    update = """
    mutation($patch: JSON!, $etag: String) {
      updateTwin(id: "r1", patch: $patch, ifMatch: $etag) { etag properties }
    }"""
    patch = [
        {"op": "replace", "path": "/area", "value": 25.0},
        {"op": "add", "path": "/volume", "value": 70.0},
    ]
    updated = api.data(update, {"patch": patch, "etag": etag})["updateTwin"]
    assert updated["properties"] == {"name": "Lab", "area": 25.0, "volume": 70.0}
    assert updated["etag"] != etag


def test_stale_etag_is_a_conflict(api: Api) -> None:
    etag = create(api, "r1", ROOM, area=20.0)["etag"]
    update = 'mutation($e: String) { updateTwin(id: "r1", patch: [], ifMatch: $e) { etag } }'
    api.data(update, {"e": etag})
    error = api.error(update, {"e": etag})
    assert error["extensions"]["code"] == "CONFLICT"
    assert error["extensions"]["details"]["twinId"] == "r1"


def test_a_patch_that_breaks_the_model_is_validation_failed(api: Api) -> None:
    create(api, "r1", ROOM, area=20.0)
    error = api.error(
        'mutation { updateTwin(id: "r1", patch: [{op: "replace", path: "/area", value: "x"}]) { id } }'
    )
    assert error["extensions"]["code"] == "VALIDATION_FAILED"


def test_a_patch_that_is_not_an_array_is_bad_request(api: Api) -> None:
    create(api, "r1", ROOM)
    error = api.error('mutation { updateTwin(id: "r1", patch: {op: "add"}) { id } }')
    assert error["extensions"]["code"] == "BAD_REQUEST"


def test_updating_a_missing_twin_is_not_found(api: Api) -> None:
    error = api.error('mutation { updateTwin(id: "nope", patch: []) { id } }')
    assert error["extensions"]["code"] == "NOT_FOUND"


def test_delete_twin_and_its_relationships_only_with_cascade(api: Api) -> None:
    building(api)
    error = api.error('mutation { deleteTwin(id: "f1") }')
    assert error["extensions"]["code"] == "CONFLICT"
    assert api.data('mutation { deleteTwin(id: "f1", cascade: true) }') == {"deleteTwin": "f1"}
    assert api.data('{ twin(id: "f1") { id } }') == {"twin": None}
    assert api.error('mutation { deleteTwin(id: "f1") }')["extensions"]["code"] == "NOT_FOUND"


def test_relationships_out_in_and_by_name(api: Api) -> None:
    building(api)
    query = """{ twin(id: "f1") {
        out: relationships { id name source target properties }
        into: relationships(direction: IN) { source name }
        both: relationships(direction: BOTH, name: "contains") { target }
    } }"""
    twin = api.data(query)["twin"]
    assert twin["out"] == [
        {"id": "contains:r1", "name": "contains", "source": "f1", "target": "r1", "properties": {}},
        {"id": "contains:r2", "name": "contains", "source": "f1", "target": "r2", "properties": {}},
    ]
    assert twin["into"] == [{"source": "b1", "name": "contains"}]
    assert sorted(r["target"] for r in twin["both"]) == ["f1", "r1", "r2"]


def test_relationship_to_a_wrong_target_is_validation_failed(api: Api) -> None:
    create(api, "r1", ROOM)
    create(api, "b1", BUILDING)
    body = api.error(RELATE, {"s": "r1", "t": "b1", "n": "noSuchRelationship"})
    assert body["extensions"]["code"] == "VALIDATION_FAILED"


def test_relationship_of_a_missing_twin_is_not_found(api: Api) -> None:
    create(api, "r1", ROOM)
    body = api.error(RELATE, {"s": "r1", "t": "ghost", "n": "contains"})
    assert body["extensions"]["code"] == "NOT_FOUND"


def test_delete_relationship(api: Api) -> None:
    building(api)
    assert api.data('mutation { deleteRelationship(source: "f1", id: "contains:r1") }') == {
        "deleteRelationship": "contains:r1"
    }
    out = api.data('{ twin(id: "f1") { relationships { target } } }')["twin"]["relationships"]
    assert out == [{"target": "r2"}]
    error = api.error('mutation { deleteRelationship(source: "f1", id: "contains:r1") }')
    assert error["extensions"]["code"] == "NOT_FOUND"


def test_neighbors_by_relationship_direction_and_depth(api: Api) -> None:
    building(api)
    down = api.data('{ twin(id: "b1") { neighbors(relationship: "contains", depth: 2) { id } } }')
    assert [t["id"] for t in down["twin"]["neighbors"]] == ["f1", "f2", "r1", "r2", "r3"]
    up = api.data('{ twin(id: "r1") { neighbors(direction: IN, depth: 3) { id } } }')
    assert [t["id"] for t in up["twin"]["neighbors"]] == ["f1", "b1"]
    error = api.error('{ twin(id: "b1") { neighbors(depth: 11) { id } } }')
    assert error["extensions"]["code"] == "LIMIT_EXCEEDED"


def test_twins_of_a_model_include_subtypes_and_page_by_cursor(api: Api) -> None:
    building(api)
    query = """query($after: String) {
      twins(model: "dtmi:kgtwin:space:Space;1", first: 2, after: $after) {
        totalCount edges { cursor node { id } } nodes { id } pageInfo { hasNextPage endCursor }
      }
    }"""
    seen: list[str] = []
    after = None
    for _ in range(4):
        page = api.data(query, {"after": after})["twins"]
        assert page["totalCount"] == 6
        seen += [n["id"] for n in page["nodes"]]
        assert [e["node"]["id"] for e in page["edges"]] == [n["id"] for n in page["nodes"]]
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    assert seen == ["b1", "f1", "f2", "r1", "r2", "r3"]


def test_an_edge_cursor_resumes_after_that_twin(api: Api) -> None:
    building(api)
    first = api.data(
        '{ twins(model: "dtmi:kgtwin:space:Space;1", first: 3) { edges { cursor node { id } } } }'
    )
    middle = first["twins"]["edges"][0]["cursor"]
    page = """query($a: String) {
        twins(model: "dtmi:kgtwin:space:Space;1", first: 2, after: $a) { nodes { id } }
    }"""
    rest = api.data(page, {"a": middle})
    assert [n["id"] for n in rest["twins"]["nodes"]] == ["f1", "f2"]


def test_twins_where_and_or_order_by(api: Api) -> None:
    building(api)
    query = """query($where: TwinFilter, $order: TwinOrder) {
      twins(model: "dtmi:kgtwin:space:Room;1", where: $where, orderBy: $order) { nodes { id } }
    }"""

    def ids(where: dict[str, Any], order: dict[str, Any] | None = None) -> list[str]:
        nodes = api.data(query, {"where": where, "order": order})["twins"]["nodes"]
        return [n["id"] for n in nodes]

    assert ids({"property": "area", "gt": 20.0}) == ["r2", "r3"]
    assert ids({"property": "area", "gte": 20.0, "lt": 50.0}) == ["r1", "r2"]
    assert ids({"property": "name", "in": ["R1", "R3"]}) == ["r1", "r3"]
    assert ids({"property": "name", "contains": "2"}) == ["r2"]
    assert ids({"property": "name", "ne": "R2"}) == ["r1", "r3"]
    assert ids({"or": [{"property": "area", "eq": 20.0}, {"property": "maxOccupancy", "eq": 10}]}) == [
        "r1",
        "r3",
    ]
    assert ids(
        {
            "and": [
                {"property": "area", "lte": 50.0},
                {"or": [{"property": "name", "eq": "R2"}, {"property": "name", "eq": "R3"}]},
            ]
        }
    ) == ["r2", "r3"]
    assert ids({"property": "area", "gt": 0.0}, {"property": "area", "descending": True}) == [
        "r3",
        "r2",
        "r1",
    ]


def test_bad_filters_are_bad_requests(api: Api) -> None:
    query = 'query($w: TwinFilter) { twins(model: "dtmi:kgtwin:space:Room;1", where: $w) { nodes { id } } }'
    bad: list[dict[str, Any]] = [
        {"property": "colour", "eq": "red"},
        {"property": "area", "eq": "twenty"},
        {"property": "area"},
        {"eq": 1},
        {},
        {"or": []},
    ]
    for where in bad:
        assert api.error(query, {"w": where})["extensions"]["code"] == "BAD_REQUEST", where
    for args in (
        'model: "dtmi:ex:Nope;1"',
        f'model: "{ROOM}", first: 0',
        f'model: "{ROOM}", after: "garbage"',
    ):
        error = api.error("{ twins(" + args + ") { nodes { id } } }")
        assert error["extensions"]["code"] == "BAD_REQUEST", args


def test_subgraph_twins_and_relationships(api: Api) -> None:
    building(api)
    query = """{ subgraph(roots: ["f1"], relationships: ["contains"], maxDepth: 2) {
        twins { id model { id } properties } relationships { id source target name }
    } }"""
    found = api.data(query)["subgraph"]
    assert sorted(t["id"] for t in found["twins"]) == ["f1", "r1", "r2"]
    assert sorted((r["source"], r["target"]) for r in found["relationships"]) == [("f1", "r1"), ("f1", "r2")]
    assert api.error('{ subgraph(roots: ["ghost"]) { twins { id } } }')["extensions"]["code"] == "NOT_FOUND"
    assert api.error('{ subgraph(roots: ["f1"], maxDepth: 11) { twins { id } } }')["extensions"]["code"] == (
        "LIMIT_EXCEEDED"
    )
    assert api.error("{ subgraph(roots: []) { twins { id } } }")["extensions"]["code"] == "BAD_REQUEST"
    assert api.error('{ subgraph(roots: ["f1"], maxDepth: -1) { twins { id } } }')["extensions"]["code"] == (
        "BAD_REQUEST"
    )


def test_timestamps_follow_changes(api: Api) -> None:
    create(api, "r1", ROOM, area=1.0)
    first = api.data('{ twin(id: "r1") { createdAt updatedAt } }')["twin"]
    api.data('mutation { updateTwin(id: "r1", patch: [{op: "replace", path: "/area", value: 2.0}]) { id } }')
    second = api.data('{ twin(id: "r1") { createdAt updatedAt } }')["twin"]
    assert second["createdAt"] == first["createdAt"]
    assert second["updatedAt"] >= first["updatedAt"]


def test_requests_that_are_not_graphql_are_400_without_a_traceback(api: Api) -> None:
    bad_json = api.client.post("/graphql", content=b"{oops", headers={"content-type": "application/json"})
    no_query = api.client.post("/graphql", json={"nope": 1})
    get_mutation = api.client.get("/graphql", params={"query": 'mutation { deleteTwin(id: "x") }'})
    for response in (bad_json, no_query):
        assert response.status_code == 400
        assert "Traceback" not in response.text
    # GraphQL over HTTP: a mutation over GET is 405, with the method that would do.
    assert get_mutation.status_code == 405
    assert get_mutation.headers["allow"] == "POST"


def test_relationships_of_a_list_of_twins_cost_a_constant_number_of_reads(api: Api) -> None:
    building(api)
    query = """{ twins(model: "dtmi:kgtwin:space:Space;1") { nodes {
        id relationships(name: "contains") { target } inbound: relationships(direction: IN) { source }
    } } }"""
    api.graph.calls.clear()
    nodes = {n["id"]: n for n in api.data(query)["twins"]["nodes"]}
    assert len(api.graph.calls) <= 1 + 2 * 3  # the page, then roots + step + close per kind asked
    assert [r["target"] for r in nodes["b1"]["relationships"]] == ["f1", "f2"]
    assert nodes["r3"]["relationships"] == []
    assert nodes["r3"]["inbound"] == [{"source": "f2"}]
    assert nodes["b1"]["inbound"] == []
