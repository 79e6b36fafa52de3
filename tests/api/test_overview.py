"""``twinGraph``: the explorer's opening view, on each graph engine."""

from __future__ import annotations

from typing import Any

import pytest

from api.roles import Role
from graph.api_keys import ApiKeyStore
from graph.overview import count_elements
from kgtwin.demo import DemoLink, DemoTwin, demo_elements, load_demo
from tests.api.conftest import ROOM, SPACE, Api

QUERY = """query($first: Int!, $model: String) {
  twinGraph(first: $first, model: $model) {
    totalCount truncated
    twins { id model { id } properties }
    relationships { id name source target }
  }
}"""
DEMO_TWINS = [e for e in demo_elements() if isinstance(e, DemoTwin)]
DEMO_LINKS = [e for e in demo_elements() if isinstance(e, DemoLink)]


def _view(api: Api, first: int, model: str | None = None) -> dict[str, Any]:
    view: dict[str, Any] = api.data(QUERY, {"first": first, "model": model})["twinGraph"]
    return view


def test_the_whole_demo_comes_in_one_request_with_every_relationship(api: Api) -> None:
    load_demo(api.graph)
    view = _view(api, 1000)
    assert [t["id"] for t in view["twins"]] == sorted(t.id for t in DEMO_TWINS)
    assert view["totalCount"] == len(DEMO_TWINS)
    assert view["truncated"] is False
    found = {(r["source"], r["name"], r["target"]) for r in view["relationships"]}
    assert found == {(link.source, link.name, link.target) for link in DEMO_LINKS}
    room = next(t for t in view["twins"] if t["id"] == "room-a101")
    assert room["model"]["id"] == ROOM
    assert room["properties"]["name"] == "Room A1.01"


def test_a_cut_view_says_how_many_twins_match_and_keeps_only_relationships_among_its_twins(api: Api) -> None:
    load_demo(api.graph)
    view = _view(api, 10)
    ids = {t["id"] for t in view["twins"]}
    assert len(ids) == 10
    assert view["totalCount"] == len(DEMO_TWINS)
    assert view["truncated"] is True
    assert view["relationships"]
    assert all(r["source"] in ids and r["target"] in ids for r in view["relationships"])


def test_a_model_includes_its_subtypes(api: Api) -> None:
    load_demo(api.graph)
    view = _view(api, 1000, SPACE)
    spaces = {t.id for t in DEMO_TWINS if ":space:" in t.model}
    assert {t["id"] for t in view["twins"]} == spaces
    assert view["totalCount"] == len(spaces)


@pytest.mark.parametrize(("first", "model"), [(0, None), (10_001, None), (10, "dtmi:x:Nothing;1")])
def test_bad_arguments_are_bad_requests(api: Api, first: int, model: str | None) -> None:
    error = api.error(QUERY, {"first": first, "model": model})
    assert error["extensions"]["code"] == "BAD_REQUEST"


def test_the_view_costs_three_reads_whatever_the_twins(api: Api) -> None:
    load_demo(api.graph)
    api.graph.calls.clear()
    _view(api, 5)
    assert api.graph.calls == ["query_rows"] * 3


def test_elements_are_counted_without_runs_or_keys(api: Api) -> None:
    load_demo(api.graph)
    ApiKeyStore(api.graph).create("reader", [Role.VIEWER])
    assert api.context.runs is not None
    api.context.runs.create("flow", {"roots": ["source-1"], "relationships": ["feeds"], "maxDepth": 10})
    assert count_elements(api.graph) == (len(DEMO_TWINS), len(DEMO_LINKS))
