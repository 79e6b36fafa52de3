"""A page's telemetry is loaded before its twins are completed, and nothing a client sees changes.

``api.fastpath`` starts the ``latest`` and ``telemetry`` fields selected on the ``nodes``
of a ``twins`` page for every twin at once, so their loads batch. These tests hold it to
the fields' own answers, errors and backend calls: fragments and aliases,
``@skip``/``@include``, a null argument, an unknown telemetry name.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.api.conftest import Api
from tests.api.test_graphql_telemetry import ROOMS, rooms_with_temperatures

PAGE = 'twins(model: "dtmi:kgtwin:space:Room;1", first: 100)'
pytestmark = pytest.mark.parametrize("api", ["falkordb"], indirect=True)


def _each_twin(api: Api, selection: str, fragments: str = "") -> list[dict[str, Any]]:
    """What ``twin(id)`` answers for each room: no page, nothing prefetched."""
    queries = [f'{{ twin(id: "room-{i:02d}") {{ {selection} }} }} {fragments}' for i in range(ROOMS)]
    return [api.data(query)["twin"] for query in queries]


def test_fragments_and_aliases_answer_what_each_twin_answers_in_one_read_per_kind(api: Api) -> None:
    rooms_with_temperatures(api)
    selection = """id ...T
        hourly: telemetry(name: "temperature", every: "1h", fn: "max") { time value }"""
    fragment = """fragment T on Twin {
        latest(name: "temperature") { value time }
        ... on Twin { telemetry(name: "temperature", start: "-1h", every: "5m") { time value } }
    }"""
    api.telemetry.calls.clear()
    page = api.data(f"{{ {PAGE} {{ nodes {{ {selection} }} }} }} {fragment}")["twins"]["nodes"]
    assert sorted(api.telemetry.calls) == ["latest", "query", "query"]  # two windows
    assert page == _each_twin(api, selection, fragment)


def test_a_field_left_out_by_skip_or_include_is_not_read(api: Api) -> None:
    rooms_with_temperatures(api)
    query = f"""query($on: Boolean!) {{ {PAGE} {{ nodes {{
        id
        telemetry(name: "temperature", every: "5m") @include(if: $on) {{ value }}
        latest(name: "temperature") @skip(if: true) {{ value }}
    }} }} }}"""
    api.telemetry.calls.clear()
    nodes = api.data(query, {"on": False})["twins"]["nodes"]
    assert api.telemetry.calls == []
    assert all(set(node) == {"id"} for node in nodes)
    nodes = api.data(query, {"on": True})["twins"]["nodes"]
    assert api.telemetry.calls == ["query"]
    each = _each_twin(api, 'telemetry(name: "temperature", every: "5m") { value }')
    assert [node["telemetry"] for node in nodes] == [twin["telemetry"] for twin in each]


def test_a_null_argument_means_what_the_field_makes_of_it(api: Api) -> None:
    rooms_with_temperatures(api)
    query = f"""query($every: String) {{ {PAGE} {{ nodes {{
        telemetry(name: "temperature", every: $every) {{ value }} }} }} }}"""
    api.telemetry.calls.clear()
    nodes = api.data(query, {"every": None})["twins"]["nodes"]
    assert api.telemetry.calls == ["query"]
    assert nodes == _each_twin(api, 'telemetry(name: "temperature") { value }')


def test_an_unknown_telemetry_name_fails_each_field_at_its_own_path(api: Api) -> None:
    rooms_with_temperatures(api)
    body = api.gql(f'{{ {PAGE} {{ nodes {{ id latest(name: "colour") {{ value }} }} }} }}')
    assert [node["latest"] for node in body["data"]["twins"]["nodes"]] == [None] * ROOMS
    assert [e["path"] for e in body["errors"]] == [["twins", "nodes", i, "latest"] for i in range(ROOMS)]
    assert {e["extensions"]["code"] for e in body["errors"]} == {"BAD_REQUEST"}
