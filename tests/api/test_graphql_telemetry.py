"""Graph plus telemetry in one request: one graph read and one batched time-series read.

The stores are the real ones (FalkorDB or Neo4j, DuckDB) behind counting proxies of our
own ports, so the tests see how many backend calls a request costs, whatever the number
of twins.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from telemetry.latest_values import LatestValues
from telemetry.points import TelemetryPoint
from tests.api.conftest import ROOM, Api

ROOMS = 12


def rooms_with_temperatures(api: Api) -> datetime:
    """ROOMS rooms; room i reads 20 + i degrees at 50 and 10 minutes ago, 30 + i now - 1 min."""
    assert api.context.twins is not None
    for i in range(ROOMS):
        api.context.twins.put_twin(f"room-{i:02d}", ROOM, {"area": 10.0 + i})
    now = datetime.now(UTC).replace(microsecond=0)
    points = [
        TelemetryPoint("telemetry", "Room", {"twin_id": f"room-{i:02d}"}, {"temperature": value}, at)
        for i in range(ROOMS)
        for at, value in (
            (int((now - timedelta(minutes=50)).timestamp() * 1e9), 20.0 + i),
            (int((now - timedelta(minutes=10)).timestamp() * 1e9), 20.0 + i),
            (int((now - timedelta(minutes=1)).timestamp() * 1e9), 30.0 + i),
        )
    ]
    api.telemetry.write(points)
    return now


DASHBOARD = """{
  twins(model: "dtmi:kgtwin:space:Room;1", where: {property: "area", gte: 10.0}, first: 100) {
    nodes {
      id
      latest(name: "temperature") { name value time }
      telemetry(name: "temperature", start: "-1h", every: "5m", fn: "mean") { time value }
    }
  }
}"""


def test_graph_and_telemetry_cost_one_graph_query_and_one_query_per_kind(api: Api) -> None:
    rooms_with_temperatures(api)
    api.graph.calls.clear()
    api.telemetry.calls.clear()
    nodes = api.data(DASHBOARD)["twins"]["nodes"]
    assert len(nodes) == ROOMS
    assert api.graph.calls == ["query_rows"]
    assert sorted(api.telemetry.calls) == ["latest", "query"]
    for i, node in enumerate(nodes):
        assert node["latest"]["value"] == 30.0 + i
        assert node["latest"]["name"] == "temperature"
        assert [p["value"] for p in node["telemetry"]] == [20.0 + i, 20.0 + i, 30.0 + i]


def test_raw_points_without_every(api: Api) -> None:
    rooms_with_temperatures(api)
    query = '{ twin(id: "room-03") { telemetry(name: "temperature", start: "-30m") { value } } }'
    assert api.data(query)["twin"]["telemetry"] == [{"value": 23.0}, {"value": 33.0}]
    iso = (datetime.now(UTC) - timedelta(hours=2)).isoformat()
    query = """query($start: String!) { twin(id: "room-03") {
        telemetry(name: "temperature", start: $start, every: "PT1H", fn: "count") { value }
    } }"""
    counts = api.data(query, {"start": iso})["twin"]["telemetry"]
    assert sum(p["value"] for p in counts) == 3


def test_latest_comes_from_the_last_value_cache_when_there_is_one(api: Api) -> None:
    rooms_with_temperatures(api)
    cache = LatestValues()
    now_ns = int(datetime.now(UTC).timestamp() * 1e9)
    cache.update([TelemetryPoint("telemetry", "Room", {"twin_id": "room-01"}, {"temperature": 99.5}, now_ns)])
    api.context.latest = cache
    api.telemetry.calls.clear()
    query = """{
        a: twin(id: "room-01") { latest(name: "temperature") { value } }
        b: twin(id: "room-02") { latest(name: "temperature") { value } }
    }"""
    data = api.data(query)
    assert data["a"]["latest"]["value"] == 99.5
    assert data["b"]["latest"]["value"] == 32.0  # not cached: read from the store
    assert api.telemetry.calls == ["latest"]


def test_a_twin_without_values_has_null_latest_and_no_points(api: Api) -> None:
    assert api.context.twins is not None
    api.context.twins.put_twin("quiet", ROOM, {})
    twin = api.data(
        '{ twin(id: "quiet") { latest(name: "co2") { value } telemetry(name: "co2") { value } } }'
    )
    assert twin["twin"] == {"latest": None, "telemetry": []}


def test_telemetry_ref_names_the_series(api: Api) -> None:
    assert api.context.twins is not None
    api.context.twins.put_twin("r1", ROOM, {})
    ref = api.data('{ twin(id: "r1") { telemetryRef { bucket measurement tags fields } } }')["twin"][
        "telemetryRef"
    ]
    assert ref["measurement"] == "Room"
    assert ref["tags"] == {"twin_id": "r1"}
    assert {"temperature", "humidity", "co2", "occupancy"} <= set(ref["fields"])


def test_bad_telemetry_arguments_name_what_is_wrong(api: Api) -> None:
    assert api.context.twins is not None
    api.context.twins.put_twin("r1", ROOM, {})
    cases = {
        'latest(name: "colour") { value }': "BAD_REQUEST",
        'telemetry(name: "colour") { value }': "BAD_REQUEST",
        'telemetry(name: "temperature", start: "yesterday") { value }': "BAD_REQUEST",
        'telemetry(name: "temperature", every: "0s") { value }': "BAD_REQUEST",
        'telemetry(name: "temperature", every: "fortnight") { value }': "BAD_REQUEST",
        'telemetry(name: "temperature", fn: "median", every: "5m") { value }': "BAD_REQUEST",
        'telemetry(name: "temperature", start: "-1h", stop: "-2h") { value }': "BAD_REQUEST",
        'telemetry(name: "temperature", start: "-3650d", every: "1s") { value }': "LIMIT_EXCEEDED",
    }
    for selection, code in cases.items():
        error = api.error('{ twin(id: "r1") { ' + selection + " } }")
        assert error["extensions"]["code"] == code, selection
