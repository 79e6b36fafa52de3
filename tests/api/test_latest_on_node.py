"""``latest(name)`` from the values the ingest copied onto twin nodes, before the telemetry store.

The cloud profile (``kgtwin api``) has no in-process last-value cache: without the node's
``_latest.*`` values every ``latest`` costs a time-series query. Here the app runs, over
HTTP, on each graph engine with a real telemetry store behind a counting proxy; the node
values are written with ``graph.latest.write_latest``, as the ingest service writes them.
The store holds older values (``rooms_with_temperatures``: 30 + i one minute ago), so an
answer shows which source it came from.
"""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta

from api.context import RequestContext
from api.loaders import Loaders
from api.roles import ANONYMOUS
from api.types import TwinNode
from graph.latest import write_latest
from telemetry.latest_values import LatestValues
from telemetry.points import Sample, TelemetryPoint
from tests.api.conftest import Api
from tests.api.test_graphql_telemetry import ROOMS, rooms_with_temperatures

ON_NODE = range(0, ROOMS, 2)
"""The rooms whose nodes carry a value; the others have only points in the store."""


def copy_to_nodes(api: Api, now: datetime, rooms: range = ON_NODE) -> datetime:
    """Room i's node reads 40 + i at ``now`` plus 123.456789 ms; the time a node keeps (to the ms)."""
    at_ns = int(now.timestamp()) * 1_000_000_000 + 123_456_789
    latest = {f"room-{i:02d}": ({"temperature": 40.0 + i}, {"temperature": at_ns}) for i in rooms}
    assert write_latest(api.graph.inner, latest) == len(rooms)
    return now + timedelta(milliseconds=123)


def each_twin(rooms: range) -> str:
    """One request naming each room by ``twin(id)``: each read brings its whole node."""
    fields = [
        f'r{i:02d}: twin(id: "room-{i:02d}") {{ latest(name: "temperature") {{ value time }} }}'
        for i in rooms
    ]
    return "{ " + "\n".join(fields) + " }"


def point(twin_id: str, value: float, at: datetime) -> TelemetryPoint:
    """A stored point of ``twin_id``'s temperature, as the in-process cache takes it."""
    return TelemetryPoint(
        "telemetry", "Room", {"twin_id": twin_id}, {"temperature": value}, int(at.timestamp() * 1e9)
    )


def answered(data: dict[str, dict[str, dict[str, object]]], i: int) -> tuple[object, datetime]:
    latest = data[f"r{i:02d}"]["latest"]
    return latest["value"], datetime.fromisoformat(str(latest["time"]))


def test_node_values_answer_latest_without_a_telemetry_query(api: Api) -> None:
    assert api.context.latest is None  # the cloud profile: ingest runs elsewhere
    at = copy_to_nodes(api, rooms_with_temperatures(api))
    api.telemetry.calls.clear()
    data = api.data(each_twin(ON_NODE))
    assert [answered(data, i) for i in ON_NODE] == [(40.0 + i, at) for i in ON_NODE]
    assert api.telemetry.calls == []


def test_a_twin_without_node_values_is_read_from_the_store(api: Api) -> None:
    now = rooms_with_temperatures(api)
    at = copy_to_nodes(api, now)
    api.telemetry.calls.clear()
    data = api.data(each_twin(range(2)))
    assert answered(data, 0) == (40.0, at)
    assert answered(data, 1) == (31.0, now - timedelta(minutes=1))
    assert api.telemetry.calls == ["latest"]


def test_the_twins_of_one_batch_without_node_values_cost_one_store_query(api: Api) -> None:
    """The loader's batch as a page of twins read whole would make it: half carry values."""
    now = rooms_with_temperatures(api)
    at = copy_to_nodes(api, now)
    assert api.context.twins is not None
    twins = [api.context.twins.get_twin(f"room-{i:02d}") for i in range(ROOMS)]
    api.telemetry.calls.clear()

    async def load() -> list[Sample | None]:
        loaders = Loaders(api.context)
        ctx = RequestContext(api.context, ANONYMOUS, loaders)
        keys = [TwinNode(twin=twin).latest_key(ctx, "temperature") for twin in twins]
        return await loaders.latest.load_many(keys)

    answers = asyncio.run(load())
    stored_at = now - timedelta(minutes=1)
    assert answers == [
        Sample(at, 40.0 + i) if i in ON_NODE else Sample(stored_at, 30.0 + i) for i in range(ROOMS)
    ]
    assert api.telemetry.calls == ["latest"]


def test_the_in_process_cache_and_the_node_answer_whichever_is_newer(api: Api) -> None:
    now = rooms_with_temperatures(api)
    at = copy_to_nodes(api, now, range(2))  # room-00 and room-01 read 40 and 41 at ``at``
    cache = LatestValues()
    newer, older = now + timedelta(seconds=1), now - timedelta(seconds=1)
    cache.update([point("room-00", 99.0, newer), point("room-01", 11.0, older)])
    api.context.latest = cache
    api.telemetry.calls.clear()
    data = api.data(each_twin(range(3)))
    assert answered(data, 0) == (99.0, newer)
    assert answered(data, 1) == (41.0, at)  # another ingest process wrote the node since
    assert answered(data, 2) == (32.0, now - timedelta(minutes=1))  # in neither: the store
    assert api.telemetry.calls == ["latest"]


def test_a_page_of_twins_with_node_values_makes_no_telemetry_query(api: Api) -> None:
    at = copy_to_nodes(api, rooms_with_temperatures(api), range(ROOMS))
    api.telemetry.calls.clear()
    nodes = api.data(
        '{ twins(model: "dtmi:kgtwin:space:Room;1", first: 100) { nodes { latest(name: "temperature") '
        "{ value time } } } }"
    )["twins"]["nodes"]
    assert [(n["latest"]["value"], datetime.fromisoformat(n["latest"]["time"])) for n in nodes] == [
        (40.0 + i, at) for i in range(ROOMS)
    ]
    assert api.telemetry.calls == []


def test_a_node_time_is_answered_in_utc(api: Api) -> None:
    at = copy_to_nodes(api, rooms_with_temperatures(api), range(1))
    time = datetime.fromisoformat(api.data(each_twin(range(1)))["r00"]["latest"]["time"])
    assert (time, time.utcoffset()) == (at, timedelta(0))
