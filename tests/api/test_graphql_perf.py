"""What a request costs the backends, and that the per-query caches never change an answer.

The counting proxies of ``tests/api/conftest.py`` see every backend call, so these tests
pin the cost of the fields that used to grow with the data (``totalCount``) and check
that the parsed-query and validation caches (``api.schema``) keep every answer and every
refusal per request.
"""

from __future__ import annotations

from tests.api.conftest import ROOM, Api
from tests.api.test_graphql_twins import building, create

SPACE_PAGE = """query($where: TwinFilter) {
  twins(model: "dtmi:kgtwin:space:Space;1", where: $where, first: 1) { totalCount nodes { id } }
}"""


def test_total_count_is_one_count_read_whatever_the_number_of_pages(api: Api) -> None:
    building(api)
    for i in range(12):
        create(api, f"extra-{i:02d}", ROOM, name=f"Extra {i}", area=10.0 + i)
    api.graph.calls.clear()
    page = api.data(SPACE_PAGE)["twins"]
    assert page["totalCount"] == 6 + 12
    assert api.graph.calls == ["query_rows"]  # the page and the count, in one statement


def test_total_count_applies_the_filter_of_the_page(api: Api) -> None:
    building(api)
    where = {"or": [{"property": "area", "gte": 35.0}, {"property": "level", "eq": 1}]}
    page = api.data(SPACE_PAGE, {"where": where})["twins"]
    assert page["totalCount"] == 3  # r2, r3 and f1
    assert page["nodes"] == [{"id": "f1"}]


def test_a_bad_filter_is_refused_by_the_count_as_by_the_page(api: Api) -> None:
    error = api.error(
        '{ twins(model: "dtmi:kgtwin:space:Space;1", where: {property: "nope", eq: 1}) { totalCount } }'
    )
    assert error["extensions"]["code"] == "BAD_REQUEST"


def test_one_query_text_answers_each_request_with_its_own_variables(api: Api) -> None:
    building(api)
    query = "query($id: ID!) { twin(id: $id) { id properties } }"
    for twin_id in ("r1", "r2", "r1", "nobody"):
        twin = api.data(query, {"id": twin_id})["twin"]
        assert (twin or {}).get("id") == (None if twin_id == "nobody" else twin_id)


def test_a_refused_query_is_refused_again_when_sent_again(api: Api) -> None:
    deep = '{ twin(id: "r1") { ' + "neighbors { " * 12 + "id" + " }" * 12 + " } }"
    unknown = '{ twin(id: "r1") { noSuchField } }'
    for _ in range(3):
        assert api.error(deep)["extensions"]["code"] == "LIMIT_EXCEEDED"
        assert api.error(unknown)["extensions"]["code"] == "BAD_REQUEST"


NEIGHBOURS = """{ twins(model: "dtmi:kgtwin:space:Space;1") { nodes { id
  down: neighbors(relationship: "contains", depth: 2) { id }
  up: neighbors(direction: IN, depth: 3) { id }
  both: neighbors(direction: BOTH) { id etag createdAt }
} } }"""


def test_neighbors_of_a_list_are_each_twins_own_neighbors(api: Api) -> None:
    building(api)
    listed = {node["id"]: node for node in api.data(NEIGHBOURS)["twins"]["nodes"]}
    for twin_id, node in listed.items():
        alone = api.data(
            NEIGHBOURS.replace("twins(", "one: twins(").replace(
                '"dtmi:kgtwin:space:Space;1")',
                f'"dtmi:kgtwin:space:Space;1", where: {{property: "id", eq: "{twin_id}"}})',
            )
        )["one"]["nodes"][0]
        assert node == alone, twin_id
    assert [t["id"] for t in listed["b1"]["down"]] == ["f1", "f2", "r1", "r2", "r3"]
    assert [t["id"] for t in listed["r1"]["up"]] == ["f1", "b1"]
    assert [t["id"] for t in listed["f1"]["both"]] == ["b1", "r1", "r2"]
    assert all(t["createdAt"] for t in listed["f1"]["both"])


def test_neighbors_of_a_list_cost_one_walk_per_kind_whatever_the_number_of_twins(api: Api) -> None:
    building(api)
    api.graph.calls.clear()
    api.data(NEIGHBOURS)
    # The page, then per kind asked the roots and one read per level: 1 + (1+2) + (1+3) + (1+1).
    assert len(api.graph.calls) <= 10


def test_a_bad_neighbors_argument_fails_that_field_only(api: Api) -> None:
    building(api)
    body = api.gql("""{ twins(model: "dtmi:kgtwin:space:Floor;1") { nodes { id
      ok: neighbors(relationship: "contains") { id }
      deep: neighbors(depth: 11) { id }
    } } }""")
    assert {e["extensions"]["code"] for e in body["errors"]} == {"LIMIT_EXCEEDED"}
    assert body["data"] is None or all(n is None or n["ok"] for n in body["data"]["twins"]["nodes"])
