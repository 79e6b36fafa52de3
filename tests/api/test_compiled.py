"""Compiled queries answer exactly what the resolvers answer, on every query shape of docs/api.md.

Each query runs twice through the real app on the same data: as served (``api.fastpath``:
a query of twins compiled to projected reads, anything else on the fast executor), then
with Strawberry's stock executor (every resolver, graphql-core's completion). The whole
answers are compared: data, and errors with their messages, paths, locations and codes.
Each case also says whether it must compile (answered from ``graph.projection`` reads
only) or must be left to the resolvers, and that is checked too, so a case cannot pass by
comparing the plain path with itself. Both graph engines, with data chosen for the places
a projection could differ: doubles FalkorDB rounds, Objects, Maps, arrays, a property one
model declares as a scalar and another as an Object, relationships with properties, a
self-loop and parallel edges, a twin pointed at other series, last values on the nodes.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext

import graph.projection
from api.context import RequestContext
from api.roles import ANONYMOUS
from api.schema import schema
from graph.latest import write_latest
from telemetry.refs import TelemetryRef
from tests.api.conftest import Api
from tests.api.test_graphql_telemetry import rooms_with_temperatures
from tests.api.test_graphql_twins import building, create

THING = "dtmi:test:compiled:Thing;1"
OTHER = "dtmi:test:compiled:Other;1"
MODELS = [
    {
        "@context": "dtmi:dtdl:context;3",
        "@id": THING,
        "@type": "Interface",
        "contents": [
            {"@type": "Property", "name": "ratio", "schema": "double"},
            {"@type": "Property", "name": "count", "schema": "integer"},
            {"@type": "Property", "name": "label", "schema": "string"},
            {"@type": "Property", "name": "flag", "schema": "boolean"},
            {
                "@type": "Property",
                "name": "mode",
                "schema": {
                    "@type": "Enum",
                    "valueSchema": "string",
                    "enumValues": [
                        {"name": "auto", "enumValue": "auto"},
                        {"name": "manual", "enumValue": "manual"},
                    ],
                },
            },
            {
                "@type": "Property",
                "name": "location",
                "schema": {
                    "@type": "Object",
                    "fields": [
                        {"name": "lat", "schema": "double"},
                        {"name": "lon", "schema": "double"},
                        {"name": "site", "schema": "string"},
                    ],
                },
            },
            {
                "@type": "Property",
                "name": "tags",
                "schema": {
                    "@type": "Map",
                    "mapKey": {"name": "key", "schema": "string"},
                    "mapValue": {"name": "value", "schema": "string"},
                },
            },
            {"@type": "Property", "name": "speeds", "schema": {"@type": "Array", "elementSchema": "double"}},
            {"@type": "Telemetry", "name": "temperature", "schema": "double"},
            {
                "@type": "Relationship",
                "name": "feeds",
                "target": THING,
                "properties": [{"@type": "Property", "name": "since", "schema": "string"}],
            },
        ],
    },
    {
        "@context": "dtmi:dtdl:context;3",
        "@id": OTHER,
        "@type": "Interface",
        "contents": [
            {
                "@type": "Property",
                "name": "label",
                "schema": {"@type": "Object", "fields": [{"name": "text", "schema": "string"}]},
            },
        ],
    },
]
RELATE = """mutation($s: ID!, $t: ID!, $n: String!, $p: JSON, $id: ID) {
  createRelationship(source: $s, target: $t, name: $n, properties: $p, id: $id) { id }
}"""


def things(api: Api) -> None:
    """The building and rooms of the other suites, plus twins whose properties a projection must get right."""
    building(api)
    rooms_with_temperatures(api)
    api.data("mutation($m: JSON!) { uploadModels(models: $m) { id } }", {"m": MODELS})
    create(
        api,
        "t1",
        THING,
        ratio=0.1 + 0.2,
        count=7,
        label="first",
        flag=True,
        mode="auto",
        location={"lat": 1 / 3, "lon": 2.5, "site": "north"},
        tags={"area": "north", "a.b": "dotted"},
        speeds=[1, 2.5],
    )
    create(api, "t2", THING, ratio=1e22, count=-3, label="second", flag=False, location={"lat": 0.0})
    create(api, "t3", THING, ratio=123456789.123456789)
    create(api, "o1", OTHER, label={"text": "an object"})
    for source, target, rel_id, since in (
        ("t1", "t2", "f-1", "2024-01-01"),
        ("t1", "t2", "f-2", "2025-06-30"),  # a parallel edge
        ("t1", "t1", "loop", "2020-02-02"),  # a self-loop
        ("t2", "t3", "f-3", "2023-03-03"),
    ):
        api.data(RELATE, {"s": source, "t": target, "n": "feeds", "p": {"since": since}, "id": rel_id})
    assert api.context.twins is not None
    api.context.twins.set_telemetry_ref(
        "t3", TelemetryRef("telemetry", "Legacy", {"twin_id": "t3", "line": "7"}, ("temperature", "rpm"))
    )
    # Last values on the nodes, as a separate ingest process leaves them.
    at = 1_790_000_000_123_000_000
    write_latest(
        api.graph,
        {
            "room-03": ({"temperature": 99.5}, {"temperature": at}),
            "t1": ({"temperature": 4.0}, {"temperature": at}),
        },
    )


PAGE = 'twins(model: "dtmi:kgtwin:space:Space;1", first: 2)'
TWIN_FIELDS = """id etag model { id __typename } properties createdAt updatedAt __typename
  area: property(name: "area") missing: property(name: "volume") name: property(name: "name")"""

COMPILED = "compiled"
"""Answered from projected reads alone."""
PLAIN = "plain"
"""Left to the resolvers before anything is read."""
FALLS_BACK = "falls back"
"""Read, then answered by the resolvers: what was read holds what they must report (an error)."""

# name -> (query, variables, which path answers)
CASES: dict[str, tuple[str, dict[str, Any] | None, str]] = {
    "a twin's own fields": (f'{{ twin(id: "r1") {{ {TWIN_FIELDS} }} }}', None, COMPILED),
    "a missing twin": ('{ twin(id: "nobody") { id etag } }', None, COMPILED),
    "a twin by variable": ("query($id: ID!) { twin(id: $id) { id properties } }", {"id": "f1"}, COMPILED),
    "properties by path": (
        """{ twin(id: "t1") { ratio: property(name: "ratio") count: property(name: "count")
            label: property(name: "label") flag: property(name: "flag") mode: property(name: "mode")
            lat: property(name: "location.lat") site: property(name: "location.site")
            location: property(name: "location") area: property(name: "tags.area")
            dotted: property(name: "tags.a.b") speeds: property(name: "speeds")
            deep: property(name: "location.lat.x") none: property(name: "nothing") } }""",
        None,
        COMPILED,
    ),
    "doubles an engine may round": (
        '{ twins(model: "dtmi:test:compiled:Thing;1") { nodes { id r: property(name: "ratio") '
        'l: property(name: "location.lat") properties } } }',
        None,
        COMPILED,
    ),
    "a property one model says is a scalar and another an Object": (
        '{ a: twin(id: "t1") { l: property(name: "label") } b: twin(id: "o1") { l: property(name: "label") '
        't: property(name: "label.text") } }',
        None,
        COMPILED,
    ),
    "relationships every way": (
        """{ twin(id: "t1") { out: relationships { id name source target properties __typename }
            into: relationships(direction: IN) { source name }
            both: relationships(direction: BOTH, name: "feeds") { id source target }
            none: relationships(name: "contains") { id } } }""",
        None,
        COMPILED,
    ),
    "relationships into a twin": (
        '{ twin(id: "t2") { relationships(direction: IN) { id source properties } } }',
        None,
        COMPILED,
    ),
    "neighbours one hop, every way": (
        """{ twin(id: "f1") { down: neighbors(relationship: "contains") { id etag }
            up: neighbors(direction: IN) { id model { id } }
            both: neighbors(direction: BOTH) { id name: property(name: "name") } } }""",
        None,
        COMPILED,
    ),
    "neighbours across a self-loop and parallel edges": (
        '{ twin(id: "t1") { neighbors { id } '
        'both: neighbors(direction: BOTH, relationship: "feeds") { id } } }',
        None,
        COMPILED,
    ),
    "neighbours of neighbours": (
        """{ twin(id: "b1") { neighbors(relationship: "contains") { id
            neighbors(relationship: "contains") { id area: property(name: "area")
              relationships(direction: IN) { source } } } } }""",
        None,
        COMPILED,
    ),
    "neighbours of a page": (
        f"{{ {PAGE} {{ nodes {{ id neighbors(direction: BOTH) {{ id }} }} }} }}",
        None,
        COMPILED,
    ),
    "neighbours further than one hop": (
        '{ twin(id: "b1") { neighbors(relationship: "contains", depth: 2) { id } } }',
        None,
        PLAIN,
    ),
    "a relationship name that is not one": (
        '{ twin(id: "b1") { neighbors(relationship: "not a name") { id } } }',
        None,
        PLAIN,
    ),
    "a telemetry reference": (
        '{ a: twin(id: "t3") { telemetryRef { bucket measurement tags fields __typename } } '
        'b: twin(id: "room-01") { telemetryRef { fields tags } } }',
        None,
        COMPILED,
    ),
    "latest and telemetry of a twin": (
        """{ twin(id: "room-02") { id latest(name: "temperature") { name value time __typename }
            telemetry(name: "temperature", start: "-1h", every: "5m", fn: "max") { time value } } }""",
        None,
        COMPILED,
    ),
    "latest from the node": (
        '{ a: twin(id: "room-03") { latest(name: "temperature") { value time } } '
        f"{PAGE.replace('Space', 'Room').replace('first: 2', 'first: 5')} "
        '{ nodes { id latest(name: "temperature") { value time } } } }',
        None,
        COMPILED,
    ),
    "latest of neighbours comes from the store": (
        '{ twin(id: "t2") { neighbors(direction: IN) { id latest(name: "temperature") { value } } } }',
        None,
        COMPILED,
    ),
    "raw points and other windows": (
        """{ twins(model: "dtmi:kgtwin:space:Room;1", first: 4) { nodes { id
            raw: telemetry(name: "temperature", start: "-2h") { time value }
            hourly: telemetry(name: "temperature", every: "1h", fn: "count") { time value } } } }""",
        None,
        COMPILED,
    ),
    "telemetry a twin does not have": (
        '{ twin(id: "room-01") { id latest(name: "rpm") { value } } }',
        None,
        FALLS_BACK,
    ),
    "a bad window": (
        '{ twin(id: "room-01") { telemetry(name: "temperature", every: "soon") { value } } }',
        None,
        PLAIN,
    ),
    "a page with everything a connection has": (
        f"""{{ {PAGE} {{ totalCount __typename
            edges {{ cursor __typename node {{ id name: property(name: "name") }} }}
            nodes {{ id model {{ id }} }}
            pageInfo {{ hasNextPage hasPreviousPage startCursor endCursor __typename }} }} }}""",
        None,
        COMPILED,
    ),
    "the next page": (
        """query($after: String) { twins(model: "dtmi:kgtwin:space:Space;1", first: 2, after: $after) {
            totalCount nodes { id } pageInfo { hasNextPage hasPreviousPage startCursor endCursor } } }""",
        {"after": "eyJ0d2luSWQiOiJmMSJ9"},  # replaced by a real cursor in the test
        COMPILED,
    ),
    "a page past the last twin": (
        """query($after: String) { twins(model: "dtmi:kgtwin:space:Room;1", first: 5, after: $after) {
            totalCount nodes { id } pageInfo { hasNextPage startCursor endCursor } } }""",
        {"after": "last"},  # replaced by the last twin's cursor in the test
        COMPILED,
    ),
    "filters, sort and count": (
        """query($where: TwinFilter, $order: TwinOrder) {
            twins(model: "dtmi:kgtwin:space:Space;1", where: $where, orderBy: $order, first: 10) {
              totalCount edges { cursor node { id area: property(name: "area") } } } }""",
        {
            "where": {
                "or": [
                    {"property": "area", "gte": 20.0, "lt": 50.0},
                    {"property": "name", "in": ["R3", "HQ"]},
                    {"and": [{"property": "level", "eq": 2}, {"property": "id", "contains": "f"}]},
                ]
            },
            "order": {"property": "area", "descending": True},
        },
        COMPILED,
    ),
    "a sort by a property some twins lack": (
        '{ twins(model: "dtmi:kgtwin:space:Space;1", orderBy: {property: "name"}, first: 4) '
        "{ edges { cursor node { id } } pageInfo { endCursor hasNextPage } } }",
        None,
        COMPILED,
    ),
    "a filter the graph refuses": (
        '{ twins(model: "dtmi:kgtwin:space:Space;1", where: {property: "nope", eq: 1}) { totalCount } }',
        None,
        PLAIN,
    ),
    "an empty filter": (
        '{ twins(model: "dtmi:kgtwin:space:Space;1", where: {}) { nodes { id } } }',
        None,
        PLAIN,
    ),
    "a cursor from another sort": (
        '{ twins(model: "dtmi:kgtwin:space:Space;1", orderBy: {property: "area"}, after: "bm9wZQ") '
        "{ nodes { id } } }",
        None,
        PLAIN,
    ),
    "a page size out of range": (
        '{ twins(model: "dtmi:kgtwin:space:Space;1", first: 0) { nodes { id } } }',
        None,
        PLAIN,
    ),
    "an unknown model": ('{ twins(model: "dtmi:ex:Nope;1") { nodes { id } } }', None, PLAIN),
    "fragments, aliases, skip and include": (
        """query($yes: Boolean!, $no: Boolean!) {
            ... on Query { __typename }
            one: twin(id: "r2") { ...T ... on Twin { again: id } skipped: etag @skip(if: $yes) }
            page: twins(model: "dtmi:kgtwin:space:Room;1", first: 3) @include(if: $yes) {
              nodes { ...T etag @include(if: $no) } } }
        fragment T on Twin { id area: property(name: "area") model { ... on Model { id } } }""",
        {"yes": True, "no": False},
        COMPILED,
    ),
    "a twin and a page in one query": (
        f'{{ __typename twin(id: "f2") {{ id }} {PAGE} {{ nodes {{ id }} }} }}',
        None,
        COMPILED,
    ),
    "a model's display name": ('{ twin(id: "r1") { model { id displayName } } }', None, PLAIN),
    "another root field beside twins": (f"{{ version {PAGE} {{ nodes {{ id }} }} }}", None, PLAIN),
    "a subgraph": (
        '{ subgraph(roots: ["b1"], maxDepth: 2) { twins { id properties } relationships { id source } } }',
        None,
        PLAIN,
    ),
}


@pytest.fixture
def compiled_reads(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The projected reads run, by kind, as ``api.fastpath`` runs them."""
    made: list[str] = []
    read_twin, run_page = graph.projection.read_twin, graph.projection.PageRead.run

    def twin(*args: Any, **kwargs: Any) -> Any:
        made.append("twin")
        return read_twin(*args, **kwargs)

    def page(self: graph.projection.PageRead, store: Any) -> Any:
        made.append("page")
        return run_page(self, store)

    monkeypatch.setattr(graph.projection, "read_twin", twin)
    monkeypatch.setattr(graph.projection.PageRead, "run", page)
    return made


def _answer(api: Api, query: str, variables: dict[str, Any] | None) -> dict[str, Any]:
    response = api.client.post("/graphql", json={"query": query, "variables": variables or {}})
    assert response.status_code < 500, response.text
    body: dict[str, Any] = response.json()
    return body


def _plain(api: Api, query: str, variables: dict[str, Any] | None, monkeypatch: pytest.MonkeyPatch) -> Any:
    with monkeypatch.context() as patch:
        patch.setattr(schema, "execution_context_class", StrawberryGraphQLCoreExecutionContext)
        return _answer(api, query, variables)


def _variables(api: Api, name: str, variables: dict[str, Any] | None) -> dict[str, Any] | None:
    """The case's variables, with a real cursor where the case needs one."""
    if name == "the next page":
        first = api.data(f"{{ {PAGE} {{ pageInfo {{ endCursor }} }} }}")
        return {"after": first["twins"]["pageInfo"]["endCursor"]}
    if name == "a page past the last twin":
        every = api.data('{ twins(model: "dtmi:kgtwin:space:Room;1", first: 1000) { edges { cursor } } }')
        return {"after": every["twins"]["edges"][-1]["cursor"]}
    return variables


@pytest.mark.parametrize("name", CASES)
def test_a_compiled_query_answers_what_the_resolvers_answer(
    api: Api, name: str, compiled_reads: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    things(api)
    query, variables, path = CASES[name]
    variables = _variables(api, name, variables)
    compiled_reads.clear()
    api.graph.calls.clear()
    served = _answer(api, query, variables)
    plain = _plain(api, query, variables, monkeypatch)
    assert json.dumps(served, sort_keys=True) == json.dumps(plain, sort_keys=True)
    # Keys come in the order the query selects them, as graphql-core answers them.
    assert json.dumps(served) == json.dumps(plain)
    if path == COMPILED:
        assert compiled_reads
        assert "errors" not in served, served
    elif path == FALLS_BACK:
        assert compiled_reads
        assert served.get("errors"), served
    else:
        assert not compiled_reads, compiled_reads


def test_a_compiled_query_reads_the_graph_once_per_root(api: Api, compiled_reads: list[str]) -> None:
    things(api)
    api.graph.calls.clear()
    answer = api.data(
        """{ twin(id: "b1") { id neighbors(relationship: "contains") { id
            neighbors(relationship: "contains") { id relationships(direction: BOTH) { id } } } }
          twins(model: "dtmi:kgtwin:space:Room;1", first: 3) { totalCount nodes { id
            neighbors(direction: IN) { id } } } }"""
    )
    assert [n["id"] for n in answer["twin"]["neighbors"]] == ["f1", "f2"]
    assert api.graph.calls == ["query_rows", "query_rows"]
    assert sorted(compiled_reads) == ["page", "twin"]


def test_a_caller_without_read_gets_the_resolvers_answer(api: Api, compiled_reads: list[str]) -> None:
    """Permission errors are the resolvers' to report: nothing is compiled for such a caller."""
    things(api)
    original = RequestContext.__init__

    def anonymous(self: RequestContext, api_context: Any, _principal: Any, loaders: Any) -> None:
        original(self, api_context, ANONYMOUS, loaders)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(RequestContext, "__init__", anonymous)
        body = api.gql('{ twin(id: "r1") { id } }')
    assert compiled_reads == []
    assert body["data"] == {"twin": None}
    assert body["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
