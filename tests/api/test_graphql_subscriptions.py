"""Subscriptions over a websocket (graphql-transport-ws), fed by the graph's change events."""

from __future__ import annotations

import gc
import queue
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

import pytest
from graphql.execution.collect_fields import FieldDetails
from starlette.testclient import WebSocketTestSession

from telemetry.latest_values import LatestValues
from telemetry.points import TelemetryPoint
from tests.api.conftest import BUILDING, FLOOR, ROOM, SPACE, Api

pytestmark = pytest.mark.timeout(120)


@contextmanager
def subscription(
    api: Api, query: str, variables: dict[str, Any] | None = None
) -> Iterator[WebSocketTestSession]:
    """A live subscription: connected, acknowledged, subscribed (its event stream is open)."""
    with api.client.websocket_connect("/graphql", subprotocols=["graphql-transport-ws"]) as ws:
        ws.send_json({"type": "connection_init"})
        assert ws.receive_json()["type"] == "connection_ack"
        ws.send_json(
            {"id": "1", "type": "subscribe", "payload": {"query": query, "variables": variables or {}}}
        )
        yield ws
        ws.send_json({"id": "1", "type": "complete"})


def wait_subscribed(api: Api) -> None:
    assert api.bus.subscribed.acquire(timeout=10), "the subscription never opened its event stream"


def next_data(ws: WebSocketTestSession) -> dict[str, Any]:
    message = ws.receive_json()
    assert message["type"] == "next", message
    assert not message["payload"].get("errors"), message
    data: dict[str, Any] = message["payload"]["data"]
    return data


def put(api: Api, twin_id: str, model: str, **props: Any) -> None:
    assert api.context.twins is not None
    api.data(
        "mutation($id: ID!, $m: String!, $p: JSON) { createTwin(id: $id, model: $m, properties: $p) { id } }",
        {"id": twin_id, "m": model, "p": props},
    )


def relate(api: Api, source: str, target: str) -> None:
    api.data(
        'mutation($s: ID!, $t: ID!) { createRelationship(source: $s, target: $t, name: "contains") { id } }',
        {"s": source, "t": target},
    )


CHANGES = """subscription($ids: [ID!], $models: [String!], $within: ID) {
  twinChanged(ids: $ids, models: $models, within: $within) { kind id model source data dropped }
}"""


def test_twin_changed_by_id(api: Api) -> None:
    put(api, "r1", ROOM, area=1.0)
    with subscription(api, CHANGES, {"ids": ["r1"]}) as ws:
        wait_subscribed(api)
        put(api, "r2", ROOM)  # another twin: not sent
        api.data(
            'mutation { updateTwin(id: "r1", patch: [{op: "replace", path: "/area", value: 2.0}]) { id } }'
        )
        change = next_data(ws)["twinChanged"]
    assert change["kind"] == "twin.updated"
    assert change["id"] == "r1"
    assert change["model"] == ROOM
    assert change["data"]["patch"] == [{"op": "replace", "path": "/area", "value": 2.0}]
    assert change["dropped"] == 0


def test_twin_changed_by_model_includes_subtypes(api: Api) -> None:
    with subscription(api, CHANGES, {"models": [SPACE]}) as ws:
        wait_subscribed(api)
        thing = {"@context": "dtmi:dtdl:context;3", "@id": "dtmi:ex:Thing;1", "@type": "Interface"}
        api.data(
            "mutation($m: JSON!) { uploadModels(models: $m) { id } }", {"m": thing}
        )  # not a twin: not sent
        put(api, "r1", ROOM, area=3.0)
        change = next_data(ws)["twinChanged"]
    assert (change["kind"], change["id"], change["data"]["properties"]) == (
        "twin.created",
        "r1",
        {"area": 3.0},
    )


def test_twin_changed_within_a_containment_subtree_follows_moves(api: Api) -> None:
    put(api, "b1", BUILDING)
    put(api, "b2", BUILDING)
    put(api, "f1", FLOOR)
    relate(api, "b1", "f1")
    put(api, "r1", ROOM)
    with subscription(api, CHANGES, {"within": "b1"}) as ws:
        wait_subscribed(api)
        put(api, "b2", BUILDING, name="elsewhere")  # outside the subtree: not sent
        relate(api, "f1", "r1")  # r1 moves in
        moved = next_data(ws)["twinChanged"]
        put(api, "r1", ROOM, area=9.0)
        inside = next_data(ws)["twinChanged"]
        api.data('mutation { deleteRelationship(source: "f1", id: "contains:r1") }')
        moved_out = next_data(ws)["twinChanged"]
        put(api, "r1", ROOM, area=10.0)  # no longer inside: not sent
        put(api, "f1", FLOOR, level=3)
        last = next_data(ws)["twinChanged"]
    assert (moved["kind"], moved["source"], moved["data"]["target"]) == ("relationship.created", "f1", "r1")
    assert (inside["kind"], inside["id"]) == ("twin.updated", "r1")
    assert (moved_out["kind"], moved_out["id"]) == ("relationship.deleted", "contains:r1")
    assert (last["kind"], last["id"]) == ("twin.updated", "f1")


@pytest.mark.parametrize(
    ("variables", "code"),
    [({"within": "ghost"}, "NOT_FOUND"), ({"models": ["dtmi:ex:Nope;1"]}, "BAD_REQUEST")],
)
def test_a_bad_subscription_is_an_error_with_a_code(api: Api, variables: dict[str, Any], code: str) -> None:
    with subscription(api, CHANGES, variables) as ws:
        message = ws.receive_json()
    assert message["type"] in ("next", "error"), message
    errors = message["payload"]["errors"] if message["type"] == "next" else message["payload"]
    assert errors[0]["extensions"]["code"] == code


def test_telemetry_sends_current_values_then_new_ones(api: Api) -> None:
    put(api, "r1", ROOM)
    now_ns = int(datetime.now(UTC).timestamp() * 1e9)
    api.telemetry.write(
        [TelemetryPoint("telemetry", "Room", {"twin_id": "r1"}, {"temperature": 21.0}, now_ns)]
    )
    query = 'subscription { telemetry(twinIds: ["r1"], names: ["temperature"]) { twinId name value time } }'
    with subscription(api, query) as ws:
        first = next_data(ws)["telemetry"]
        point = TelemetryPoint("telemetry", "Room", {"twin_id": "r1"}, {"temperature": 22.5}, now_ns + 10**9)
        api.telemetry.write([point])
        second = next_data(ws)["telemetry"]
    assert (first["twinId"], first["name"], first["value"]) == ("r1", "temperature", 21.0)
    assert second["value"] == 22.5
    assert second["time"] > first["time"]


def test_telemetry_of_an_unknown_field_is_bad_request(api: Api) -> None:
    put(api, "r1", ROOM)
    with subscription(api, 'subscription { telemetry(twinIds: ["r1"], names: ["colour"]) { value } }') as ws:
        message = ws.receive_json()
    errors = message["payload"]["errors"] if message["type"] == "next" else message["payload"]
    assert errors[0]["extensions"]["code"] == "BAD_REQUEST"


# --- telemetry pushed from the in-process last-value cache (the edge profile) ----------

# Far above the push's latency, far below the poll interval: only a push can make it.
PUSH_DEADLINE_S = 2.0
ROOM_TEMPERATURE = (
    'subscription { telemetry(twinIds: ["r1"], names: ["temperature"]) { twinId name value time } }'
)


@pytest.fixture
def cache(api: Api) -> LatestValues:
    """The app with ingest's last-value cache in process, polling too slow to deliver in a test."""
    latest = LatestValues()
    api.context.latest = latest
    api.context.telemetry_poll_s = 30.0
    return latest


def room_temperature(twin_id: str, value: float, time_ns: int) -> TelemetryPoint:
    return TelemetryPoint("telemetry", "Room", {"twin_id": twin_id}, {"temperature": value}, time_ns)


def next_data_within(ws: WebSocketTestSession, seconds: float) -> dict[str, Any]:
    """The next message's data, failing if it takes longer than ``seconds``."""
    arrived: queue.Queue[dict[str, Any]] = queue.Queue()
    threading.Thread(target=lambda: arrived.put(next_data(ws)), daemon=True).start()
    try:
        return arrived.get(timeout=seconds)
    except queue.Empty:
        pytest.fail(f"no message within {seconds} s")


def eventually(condition: Callable[[], bool], seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, f"timed out after {seconds} s waiting for {what}"
        time.sleep(0.02)


def test_telemetry_pushes_a_new_value_of_the_cache_at_once(api: Api, cache: LatestValues) -> None:
    put(api, "r1", ROOM)
    put(api, "r2", ROOM)
    now_ns = time.time_ns()
    cache.update([room_temperature("r1", 21.0, now_ns)])
    with subscription(api, ROOM_TEMPERATURE) as ws:
        first = next_data_within(ws, PUSH_DEADLINE_S)["telemetry"]  # the current value
        cache.update([room_temperature("r2", 5.0, now_ns + 1)])  # another twin: not sent
        began = time.monotonic()
        cache.update([room_temperature("r1", 22.5, now_ns + 10**9)])
        second = next_data_within(ws, PUSH_DEADLINE_S)["telemetry"]
        latency = time.monotonic() - began
    assert (first["twinId"], first["value"]) == ("r1", 21.0)
    assert (second["twinId"], second["name"], second["value"]) == ("r1", "temperature", 22.5)
    assert second["time"] > first["time"]
    assert latency < PUSH_DEADLINE_S
    assert api.telemetry.calls == []  # no store read: the cache answers


def test_telemetry_push_of_a_burst_ends_on_the_newest_value(api: Api, cache: LatestValues) -> None:
    put(api, "r1", ROOM)
    now_ns = time.time_ns()
    cache.update([room_temperature("r1", 0.0, now_ns)])
    with subscription(api, ROOM_TEMPERATURE) as ws:
        next_data_within(ws, PUSH_DEADLINE_S)
        for i in range(1, 201):
            cache.update([room_temperature("r1", float(i), now_ns + i * 10**6)])  # 1 ms apart
        values = [next_data_within(ws, PUSH_DEADLINE_S)["telemetry"]["value"]]
        while values[-1] != 200.0:
            values.append(next_data_within(ws, PUSH_DEADLINE_S)["telemetry"]["value"])
    assert values == sorted(set(values))  # never an older value after a newer one, never twice


@pytest.mark.parametrize("ending", ["complete", "disconnect"])
def test_telemetry_push_stops_watching_the_cache_when_the_client_leaves(
    api: Api, cache: LatestValues, ending: str
) -> None:
    put(api, "r1", ROOM)
    cache.update([room_temperature("r1", 21.0, time.time_ns())])
    with api.client.websocket_connect("/graphql", subprotocols=["graphql-transport-ws"]) as ws:
        ws.send_json({"type": "connection_init"})
        assert ws.receive_json()["type"] == "connection_ack"
        ws.send_json({"id": "1", "type": "subscribe", "payload": {"query": ROOM_TEMPERATURE}})
        next_data_within(ws, PUSH_DEADLINE_S)
        assert cache.watchers == 1
        if ending == "complete":
            ws.send_json({"id": "1", "type": "complete"})
            eventually(lambda: cache.watchers == 0, 10, "the completed subscription to stop watching")
    eventually(lambda: cache.watchers == 0, 10, "the closed subscription to stop watching")


def test_telemetry_push_starts_from_the_store_for_a_twin_quiet_since_start(
    api: Api, cache: LatestValues
) -> None:
    put(api, "r1", ROOM)
    before_ns = time.time_ns() - 60 * 10**9  # stored a minute ago, before this process took any value
    api.telemetry.write([room_temperature("r1", 19.5, before_ns)])
    api.telemetry.calls.clear()
    with subscription(api, ROOM_TEMPERATURE) as ws:
        first = next_data_within(ws, PUSH_DEADLINE_S)["telemetry"]
        cache.update([room_temperature("r1", 20.5, time.time_ns())])
        second = next_data_within(ws, PUSH_DEADLINE_S)["telemetry"]
    assert (first["value"], second["value"]) == (19.5, 20.5)
    assert api.telemetry.calls == ["latest"]  # once, for the first answer; then the cache


def selections_held() -> int:
    """How many selections graphql-core has collected and not freed, in this process."""
    gc.collect()
    return sum(1 for o in gc.get_objects() if isinstance(o, FieldDetails))


def test_a_long_subscription_does_not_keep_each_event_s_selections(api: Api, cache: LatestValues) -> None:
    put(api, "r1", ROOM)
    now_ns = time.time_ns()
    cache.update([room_temperature("r1", 0.0, now_ns)])

    def events(first: int, count: int) -> None:
        for i in range(first, first + count):
            cache.update([room_temperature("r1", float(i), now_ns + i * 10**6)])
            assert next_data_within(ws, PUSH_DEADLINE_S)["telemetry"]["value"] == float(i)

    with subscription(api, ROOM_TEMPERATURE) as ws:
        next_data_within(ws, PUSH_DEADLINE_S)
        events(1, 50)  # past any first-use caches
        before = selections_held()
        events(51, 300)
        grown = selections_held() - before
    # Each event collects 5 selections; kept, 300 events would hold 1,500 more.
    assert grown < 50, f"{grown} selections more after 300 events"
