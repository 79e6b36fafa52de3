"""Paged lists over GraphQL: every item once while others write, and cursors that cannot be abused.

A client walks ``twins`` (by area, descending) and ``simulationRuns`` page by page with
random page sizes while another client creates and deletes twins and starts runs through
the same API; every item present from the first page to the last is seen exactly once.
A cursor is opaque: any text, or a well-formed cursor holding forged values, answers a page
or ``BAD_REQUEST``, never another error; a cursor of another list is ``BAD_REQUEST``.
"""

from __future__ import annotations

import random
from collections import Counter
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from graph.cursors import encode_cursor
from graph.search import query_fingerprint
from tests.api.conftest import ROOM, Api
from tests.api.test_graphql_simulations import flow_line, start
from tests.api.test_graphql_twins import create

_SORT = 'orderBy: {property: "area", descending: true}'
_PAGE = (
    f'query($first: Int!, $after: String) {{ twins(model: "{ROOM}", first: $first, after: $after, {_SORT})'
    " { edges { cursor node { id } } pageInfo { hasNextPage endCursor } } }"
)
_DELETE = "mutation($id: ID!) { deleteTwin(id: $id) }"
_RUNS = """query($first: Int!, $after: String, $status: SimulationStatus) {
  simulationRuns(first: $first, after: $after, status: $status) { nodes { id } endCursor hasNextPage }
}"""
_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=3), inner, max_size=3),
    max_leaves=6,
)


def test_a_twin_walk_sees_every_lasting_twin_once_while_another_client_writes(api: Api) -> None:
    rng = random.Random(3)
    lasting = [f"r{i:02d}" for i in range(30)]
    for i, twin_id in enumerate(lasting):
        # Ties on area (i % 4) and twins without one: the id breaks the ties.
        create(api, twin_id, ROOM, **({"area": float(i % 4) / 3} if i % 5 else {}))
    volatile = [f"v{i:02d}" for i in range(10)]
    for twin_id in volatile:
        create(api, twin_id, ROOM, area=1.0)
    seen: list[str] = []
    after = None
    made = 0
    while True:
        page = api.data(_PAGE, {"first": rng.randint(1, 6), "after": after})["twins"]
        seen += [edge["node"]["id"] for edge in page["edges"]]
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = rng.choice([page["pageInfo"]["endCursor"], page["edges"][-1]["cursor"]])
        if volatile:
            api.data(_DELETE, {"id": volatile.pop(rng.randrange(len(volatile)))})
        create(api, f"n{made:02d}", ROOM, area=rng.choice([0.0, 1.0, 2.0]))
        made += 1
    assert [i for i, n in Counter(seen).items() if n > 1] == []
    assert sorted(set(lasting) - set(seen)) == []
    assert made > 5


def test_a_run_walk_sees_every_run_once_while_runs_start(api: Api) -> None:
    flow_line(api)
    lasting = [start(api)["id"] for _ in range(12)]
    rng = random.Random(5)
    seen: list[str] = []
    after = None
    while True:
        page = api.data(_RUNS, {"first": rng.randint(1, 4), "after": after})["simulationRuns"]
        seen += [run["id"] for run in page["nodes"]]
        if not page["hasNextPage"]:
            break
        after = page["endCursor"]
        start(api)
    assert [i for i, n in Counter(seen).items() if n > 1] == []
    assert set(lasting) <= set(seen)
    # A cursor of the whole list does not resume the list of queued runs.
    cursor = api.data(_RUNS, {"first": 1})["simulationRuns"]["endCursor"]
    error = api.error(_RUNS, {"first": 1, "after": cursor, "status": "QUEUED"})
    assert error["extensions"]["code"] == "BAD_REQUEST"


def test_a_cursor_of_another_sort_or_model_is_a_bad_request(api: Api) -> None:
    for i in range(3):
        create(api, f"r{i}", ROOM, area=float(i))
    cursor = api.data(_PAGE, {"first": 1})["twins"]["pageInfo"]["endCursor"]
    for model, sort in ((ROOM, ""), ("dtmi:kgtwin:space:Space;1", _SORT)):
        other = f'{{ twins(model: "{model}", first: 1, after: "{cursor}", {sort}) {{ nodes {{ id }} }} }}'
        assert api.error(other)["extensions"]["code"] == "BAD_REQUEST"


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=st.text(max_size=40), key=_JSON, twin_id=_JSON)
def test_any_cursor_is_a_page_or_a_bad_request(api: Api, text: str, key: Any, twin_id: Any) -> None:
    forged = encode_cursor([query_fingerprint(ROOM, None, "area", True), key, twin_id])
    for cursor in (text, forged):
        body = api.gql(_PAGE, {"first": 2, "after": cursor})
        if body.get("errors"):
            assert body["errors"][0]["extensions"]["code"] == "BAD_REQUEST", (cursor, body)
        else:
            assert isinstance(body["data"]["twins"]["edges"], list)
    body = api.gql(_RUNS, {"first": 2, "after": encode_cursor([None, key, twin_id])})
    if body.get("errors"):
        assert body["errors"][0]["extensions"]["code"] == "BAD_REQUEST", body
