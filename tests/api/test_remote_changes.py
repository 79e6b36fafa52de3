"""API replicas see each other's changes in their subscriptions, through a real Mosquitto.

Two apps on one graph, each with its notifier (``api.notifications``) and its feed of the
other processes' events (``api.remote_changes``), as ``kgtwin api`` wires them: a change
made through one reaches a ``twinChanged`` subscription held by the other, once, and each
sees its own changes once, not a second time when they come back from the broker.
"""

from __future__ import annotations

import json
import queue
import threading
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from typing import Any

import pytest
from fastapi.testclient import TestClient
from starlette.testclient import WebSocketTestSession

from api.app import create_app
from api.context import ApiContext, twin_context
from api.notifications import ChangeNotifier
from api.remote_changes import RemoteChanges
from graph.events import ChangeEvent, ChangeKind, EventBus
from graph.store import GraphStore
from ingest.broker import MqttBroker
from tests.api.conftest import ROOM, WatchedBus

pytestmark = [pytest.mark.mosquitto, pytest.mark.timeout(120)]

CHANGES = 'subscription { twinChanged(ids: ["r1", "r2"]) { kind id } }'
CREATE = "mutation($id: ID!, $m: String!) { createTwin(id: $id, model: $m, properties: {}) { id } }"
QUIET_S = 1.0
"""How long to listen for a duplicate that must not come (events arrive in milliseconds)."""


@dataclass
class Replica:
    context: ApiContext
    bus: WatchedBus
    notifier: ChangeNotifier
    remote: RemoteChanges
    client: TestClient


@pytest.fixture
def replicas(empty_graph: GraphStore, mqtt_url: str) -> Iterator[tuple[Replica, Replica]]:
    host, port = mqtt_url.split("://", 1)[1].rsplit(":", 1)
    with ExitStack() as stack:
        made: list[Replica] = []
        for _ in range(2):
            bus = WatchedBus()
            context = twin_context("test", empty_graph, events=bus)
            broker = MqttBroker(host, int(port))
            stack.callback(broker.close)
            notifier = ChangeNotifier(bus, broker)
            notifier.start()
            stack.callback(notifier.stop)
            remote = RemoteChanges(bus, broker, notifier.origin)
            remote.start()
            stack.callback(remote.stop)
            client = stack.enter_context(TestClient(create_app(context)))
            made.append(Replica(context, bus, notifier, remote, client))
        yield made[0], made[1]


@contextmanager
def changes(replica: Replica) -> Iterator[queue.Queue[dict[str, Any]]]:
    """The ``twinChanged`` events one replica's subscription receives, read by a thread."""
    received: queue.Queue[dict[str, Any]] = queue.Queue()
    while replica.bus.subscribed.acquire(blocking=False):
        pass  # the replica's own notifier and feed subscribed at start
    with replica.client.websocket_connect("/graphql", subprotocols=["graphql-transport-ws"]) as ws:
        ws.send_json({"type": "connection_init"})
        assert ws.receive_json()["type"] == "connection_ack"
        ws.send_json({"id": "1", "type": "subscribe", "payload": {"query": CHANGES}})
        assert replica.bus.subscribed.acquire(timeout=10), "the subscription never opened its stream"
        threading.Thread(target=_read, args=(ws, received), daemon=True).start()
        yield received
        ws.send_json({"id": "1", "type": "complete"})


def _read(ws: WebSocketTestSession, received: queue.Queue[dict[str, Any]]) -> None:
    try:
        while True:
            message = ws.receive_json()
            if message["type"] != "next":
                return
            received.put(message["payload"]["data"]["twinChanged"])
    except Exception:  # the socket closed at the end of the test
        return


def create(replica: Replica, twin_id: str) -> None:
    answer = replica.client.post("/graphql", json={"query": CREATE, "variables": {"id": twin_id, "m": ROOM}})
    assert answer.status_code == 200, answer.text
    assert not answer.json().get("errors"), answer.text


def settle(received: queue.Queue[dict[str, Any]], wanted: int) -> list[dict[str, Any]]:
    """The first ``wanted`` events (10 s each at most), then whatever else comes within QUIET_S."""
    found = [received.get(timeout=10) for _ in range(wanted)]
    try:
        while True:
            found.append(received.get(timeout=QUIET_S))
    except queue.Empty:
        return found


def test_a_change_through_one_replica_reaches_the_others_subscription_once(
    replicas: tuple[Replica, Replica],
) -> None:
    one, two = replicas
    with changes(one) as seen_by_one, changes(two) as seen_by_two:
        create(one, "r1")
        create(two, "r2")
        by_one = settle(seen_by_one, 2)
        by_two = settle(seen_by_two, 2)
    created = [{"kind": "twin.created", "id": "r1"}, {"kind": "twin.created", "id": "r2"}]
    assert sorted(by_one, key=json.dumps) == created
    assert sorted(by_two, key=json.dumps) == created
    # Each notifier published its own change only: nothing came back round.
    assert (one.notifier.published, two.notifier.published) == (1, 1)
    assert one.remote.malformed == two.remote.malformed == 0


def test_payloads_that_are_not_change_events_are_counted_and_dropped(
    replicas: tuple[Replica, Replica],
) -> None:
    one, two = replicas
    with changes(two) as seen_by_two:
        one.notifier.broker.publish("kgtwin/events/twin.created/x", b"not json")
        one.notifier.broker.publish("kgtwin/events/twin.created/y", json.dumps({"kind": "?"}).encode())
        create(one, "r1")
        assert settle(seen_by_two, 1) == [{"kind": "twin.created", "id": "r1"}]
    assert two.remote.malformed == 2


def test_events_of_another_process_are_not_published_again() -> None:
    bus = EventBus()
    published: list[str] = []

    class Recorder:
        backend = protocol = "test"

        def ping(self) -> None: ...

        def publish(self, topic: str, payload: bytes, qos: int = 1, timeout: float = 10.0) -> None:
            published.append(json.loads(payload)["id"])

        def close(self) -> None: ...

    notifier = ChangeNotifier(bus, Recorder())
    notifier.start()
    try:
        bus.publish(ChangeEvent(ChangeKind.TWIN_CREATED, "theirs", "t", origin="elsewhere"))
        bus.publish(ChangeEvent(ChangeKind.TWIN_CREATED, "ours", "t"))
    finally:
        notifier.stop()
    assert published == ["ours"]


def test_the_cloud_profile_wires_the_feed_and_the_edge_profile_does_not(
    falkordb_store: GraphStore, mqtt_url: str
) -> None:
    from kgtwin.backends import Backends
    from kgtwin.services import api_context
    from kgtwin.settings import Settings

    falkordb_store.write("MATCH (n) DETACH DELETE n")
    host, port = mqtt_url.split("://", 1)[1].rsplit(":", 1)
    settings = Settings(broker_url=mqtt_url)
    outside = MqttBroker(host, int(port))
    seen: dict[str, list[str]] = {}
    try:
        for profile in ("cloud", "edge"):
            backends = Backends(graph=falkordb_store, broker=MqttBroker(host, int(port)))
            try:
                context = api_context(backends, settings, follow_others=profile == "cloud")
                arrived: queue.Queue[str] = queue.Queue()
                context.events.subscribe(lambda event, arrived=arrived: arrived.put(event.id))
                # Another process's notifier: its own origin on the payload.
                event = ChangeEvent(ChangeKind.TWIN_CREATED, f"from-{profile}", "t", ROOM)
                payload = {**event.to_dict(), "origin": "another-process"}
                outside.publish(f"kgtwin/events/twin.created/from-{profile}", json.dumps(payload).encode())
                try:  # an event that must not come is given QUIET_S to show up
                    seen[profile] = [arrived.get(timeout=10 if profile == "cloud" else QUIET_S)]
                except queue.Empty:
                    seen[profile] = []
            finally:
                backends.close()
    finally:
        outside.close()
    assert seen == {"cloud": ["from-cloud"], "edge": []}
