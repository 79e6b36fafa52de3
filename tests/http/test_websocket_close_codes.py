"""The websocket of ``/graphql`` closes with graphql-transport-ws's codes, with auth off and on.

Raw frames (the ``websockets`` package) for every code, since a well-behaved client never
sends what earns most of them; then the ``graphql-ws`` client that front ends use, for
what it can provoke: a subscription served, 4403 for refused credentials, 4408 for a
``connection_init`` that comes too late. Both against real ``kgtwin serve`` processes.
"""

from __future__ import annotations

import itertools
import json
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection, connect
from websockets.typing import Subprotocol

from tests.http.conftest import Served, run_node, start_serve, stop_serve

PROTOCOL = "graphql-transport-ws"
SUBSCRIBE = {"id": "1", "type": "subscribe", "payload": {"query": "{ version }"}}


@pytest.fixture(scope="module")
def open_serve(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """``kgtwin serve`` with auth off (loopback) and a short init timeout."""
    served = start_serve(tmp_path_factory.mktemp("serve-ws"), {"KGTWIN_WS_INIT_TIMEOUT_S": "1.5"})
    try:
        yield served
    finally:
        stop_serve(served)


@pytest.fixture(params=["auth off", "api keys"])
def served(request: pytest.FixtureRequest) -> Served:
    name = "open_serve" if request.param == "auth off" else "serve_with_keys"
    found: Served = request.getfixturevalue(name)
    return found


def _init(served: Served, key: str | None = None) -> dict[str, Any]:
    if not served.keys:
        return {"type": "connection_init"}
    return {"type": "connection_init", "payload": {"apiKey": key or served.keys["admin"]}}


def _socket(served: Served, **headers: str) -> ClientConnection:
    return connect(
        served.ws_url, subprotocols=[Subprotocol(PROTOCOL)], additional_headers=headers, open_timeout=10
    )


def _closed_with(ws: ClientConnection, *frames: Any) -> tuple[int, str]:
    """Send ``frames`` (dicts as JSON, strings as they are); the close code and reason that follow."""
    for frame in frames:
        ws.send(frame if isinstance(frame, str | bytes) else json.dumps(frame))
    with pytest.raises(ConnectionClosed) as closed:
        _read_until_closed(ws)
    received = closed.value.rcvd
    assert received is not None, "the server did not send a close frame"
    return received.code, received.reason


def _read_until_closed(ws: ClientConnection) -> None:
    while True:
        ws.recv(timeout=10)


def _ack(ws: ClientConnection, served: Served) -> None:
    ws.send(json.dumps(_init(served)))
    assert json.loads(ws.recv(timeout=10))["type"] == "connection_ack"


@pytest.mark.parametrize("frame", ["{not json", "[1, 2]", json.dumps({"id": "1"}), json.dumps({"type": 7})])
def test_a_message_that_is_not_a_protocol_message_is_4400(served: Served, frame: str) -> None:
    with _socket(served) as ws:
        assert _closed_with(ws, frame)[0] == 4400


def test_an_unknown_message_type_is_4400(served: Served) -> None:
    with _socket(served) as ws:
        assert _closed_with(ws, {"type": "start", "id": "1"})[0] == 4400


def test_an_init_payload_that_is_not_an_object_is_4400(served: Served) -> None:
    with _socket(served) as ws:
        assert _closed_with(ws, {"type": "connection_init", "payload": "key"})[0] == 4400


def test_subscribe_before_the_ack_is_4401(served: Served) -> None:
    with _socket(served) as ws:
        assert _closed_with(ws, SUBSCRIBE)[0] == 4401


def test_no_connection_init_in_time_is_4408(served: Served) -> None:
    with _socket(served) as ws:
        code, reason = _closed_with(ws)
    assert code == 4408
    assert "timeout" in reason.lower()


def test_a_ping_before_init_is_answered_and_the_connection_goes_on(served: Served) -> None:
    with _socket(served) as ws:
        ws.send(json.dumps({"type": "ping"}))
        assert json.loads(ws.recv(timeout=10)) == {"type": "pong"}
        _ack(ws, served)
        ws.send(json.dumps(SUBSCRIBE))
        answer = json.loads(ws.recv(timeout=10))
        assert answer["type"] == "next"
        assert answer["payload"]["data"]["version"]


def test_two_operations_without_an_operation_name_are_an_error_not_the_first_run(served: Served) -> None:
    document = 'query A { version } mutation B { deleteTwin(id: "nobody") }'
    with _socket(served) as ws:
        _ack(ws, served)
        ws.send(json.dumps({"id": "two", "type": "subscribe", "payload": {"query": document}}))
        answer = json.loads(ws.recv(timeout=10))
        assert answer["type"] == "error"
        assert answer["id"] == "two"
        assert answer["payload"][0]["extensions"]["code"] == "BAD_REQUEST"
        named = {"query": document, "operationName": "A"}
        ws.send(json.dumps({"id": "one", "type": "subscribe", "payload": named}))
        assert json.loads(ws.recv(timeout=10))["payload"]["data"]["version"]


def test_a_second_connection_init_is_4429(served: Served) -> None:
    with _socket(served) as ws:
        _ack(ws, served)
        assert _closed_with(ws, _init(served))[0] == 4429


def test_a_duplicate_operation_id_is_4409(served: Served) -> None:
    subscription = {
        "id": "dup",
        "type": "subscribe",
        "payload": {"query": "subscription { twinChanged { id } }"},
    }
    with _socket(served) as ws:
        _ack(ws, served)
        ws.send(json.dumps(subscription))
        code, reason = _closed_with(ws, subscription)
    assert code == 4409
    assert "dup" in reason


def test_refused_credentials_in_connection_init_are_4403(serve_with_keys: Served) -> None:
    for payload in ({"apiKey": "kgt_nope_nope"}, {}, {"Authorization": "Basic abc"}):
        with _socket(serve_with_keys) as ws:
            code, reason = _closed_with(ws, {"type": "connection_init", "payload": payload})
        assert code == 4403
        assert reason.startswith("UNAUTHENTICATED")


def test_a_wrong_key_in_the_upgrade_headers_is_close_4403_not_http_403(serve_with_keys: Served) -> None:
    with _socket(serve_with_keys, **{"X-API-Key": "kgt_wrong_key"}) as ws:
        assert ws.subprotocol == PROTOCOL
        code, reason = _closed_with(ws)
    assert code == 4403
    assert reason.startswith("UNAUTHENTICATED")


def test_a_good_key_in_the_upgrade_headers_is_served(serve_with_keys: Served) -> None:
    with _socket(serve_with_keys, **{"X-API-Key": serve_with_keys.keys["viewer"]}) as ws:
        ws.send(json.dumps({"type": "connection_init"}))
        assert json.loads(ws.recv(timeout=10))["type"] == "connection_ack"


# -- the graphql-ws client -------------------------------------------------------------------------


def _client(node_modules: Path, served: Served, **scenario: Any) -> dict[str, Any]:
    output = run_node(node_modules, "ws_client.cjs", served.ws_url, json.dumps(scenario))
    result: dict[str, Any] = json.loads(output)
    return result


def test_the_graphql_ws_client_receives_a_subscription(serve_with_keys: Served, node_modules: Path) -> None:
    key = serve_with_keys.keys["admin"]
    done = threading.Event()

    def change_until_done() -> None:
        # Twins created until the client has its event: the first may come before it subscribed.
        for attempt in itertools.count():
            if done.wait(0.25):
                return
            httpx.post(
                f"{serve_with_keys.url}/graphql",
                headers={"X-API-Key": key},
                json={
                    "query": "mutation($id: ID!) { createTwin(id: $id, model: "
                    '"dtmi:kgtwin:space:Room;1", properties: {}) { id } }',
                    "variables": {"id": f"ws-client-{attempt}"},
                },
            )

    writer = threading.Thread(target=change_until_done)
    writer.start()
    try:
        outcome = _client(
            node_modules,
            serve_with_keys,
            connectionParams={"apiKey": key},
            query="subscription { twinChanged { kind id } }",
            take=1,
        )
    finally:
        done.set()
        writer.join()
    assert outcome["errors"] == []
    change = outcome["results"][0]["data"]["twinChanged"]
    assert change["kind"] == "twin.created"
    assert change["id"].startswith("ws-client-")


def test_the_graphql_ws_client_sees_4403_for_a_wrong_key(serve_with_keys: Served, node_modules: Path) -> None:
    outcome = _client(
        node_modules, serve_with_keys, connectionParams={"apiKey": "kgt_wrong"}, query="{ version }"
    )
    assert outcome["closed"]["code"] == 4403
    assert outcome["results"] == []


def test_the_graphql_ws_client_sees_4408_when_its_init_comes_late(
    serve_with_keys: Served, node_modules: Path
) -> None:
    outcome = _client(
        node_modules,
        serve_with_keys,
        connectionParams={"apiKey": serve_with_keys.keys["admin"]},
        initDelayMs=3000,
        query="{ version }",
    )
    assert outcome["closed"]["code"] == 4408
