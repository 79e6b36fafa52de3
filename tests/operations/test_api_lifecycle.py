"""``kgtwin api`` on SIGTERM, as a real process on Neo4j, InfluxDB and Mosquitto.

Unready at once, answering what still arrives while its load balancer takes it out, then
no new connections, the request in flight finished, the subscription closed with 1012
(service restart), exit 0 within ``KGTWIN_SHUTDOWN_GRACE_S``. Its log lines carry the
request id its answers carry, and slow requests are logged with their operation.
"""

from __future__ import annotations

import json
import signal
import threading
import time
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from tests.operations.conftest import Servers, Service

pytestmark = [pytest.mark.neo4j, pytest.mark.influxdb, pytest.mark.mosquitto, pytest.mark.timeout(300)]

GRACE_S = 20.0
COUNT = """query($p: JSON) {
  cypher(query: "UNWIND range(1, $n) AS x WITH x WHERE x % 7 = 0 RETURN count(x) AS c", params: $p) { rows }
}"""
ROOM = "dtmi:kgtwin:space:Room;1"


def count_query(client: httpx.Client, n: int) -> tuple[httpx.Response, float]:
    began = time.monotonic()
    response = client.post("/graphql", json={"query": COUNT, "variables": {"p": {"n": n}}}, timeout=60)
    return response, time.monotonic() - began


def slow_enough(client: httpx.Client, seconds: float) -> int:
    """A row count whose Cypher count takes about ``seconds`` on this machine now."""
    n = 1_000_000
    while True:
        response, took = count_query(client, n)
        assert response.status_code == 200, response.text
        if took >= seconds / 2 or n >= 400_000_000:
            return min(400_000_000, int(n * seconds / max(took, 0.01)))
        n *= 2 if took >= seconds / 8 else 4


def subscribe(port: int) -> Any:
    ws = connect(f"ws://127.0.0.1:{port}/graphql", subprotocols=["graphql-transport-ws"])  # type: ignore[list-item]
    ws.send(json.dumps({"type": "connection_init"}))
    assert json.loads(ws.recv(10))["type"] == "connection_ack"
    payload = {"query": "subscription { twinChanged { id kind } }"}
    ws.send(json.dumps({"id": "1", "type": "subscribe", "payload": payload}))
    return ws


def close_code(ws: Any, timeout: float) -> int | None:
    """Read until the server closes the socket; its close code."""
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            try:
                ws.recv(max(0.1, deadline - time.monotonic()))
            except TimeoutError:
                continue
    except ConnectionClosed as closed:
        return closed.rcvd.code if closed.rcvd is not None else None
    raise AssertionError(f"the socket stayed open for {timeout} s")


def test_sigterm_drains_finishes_in_flight_closes_subscriptions_and_exits_0(
    servers: Servers, services: Callable[..., Service]
) -> None:
    env = servers.env() | {
        "KGTWIN_SHUTDOWN_GRACE_S": str(GRACE_S),
        "KGTWIN_SHUTDOWN_DRAIN_S": "5",
        "KGTWIN_SLOW_REQUEST_MS": "500",
    }
    api = services(["api"], "api", env)
    api.wait_ready()
    client = httpx.Client(base_url=api.url)
    n = slow_enough(client, 8.0)
    ws = subscribe(api.port)
    create = 'mutation($m: String!) { createTwin(id: "lc-1", model: $m, properties: {}) { id } }'
    created = client.post("/graphql", json={"query": create, "variables": {"m": ROOM}})
    assert created.json()["data"]["createTwin"]["id"] == "lc-1"
    assert json.loads(ws.recv(10))["payload"]["data"]["twinChanged"] == {"id": "lc-1", "kind": "twin.created"}

    in_flight: dict[str, Any] = {}

    def slow_request() -> None:
        with httpx.Client(base_url=api.url) as own:
            response, _ = count_query(own, n)
            in_flight["response"] = response
            in_flight["done_at"] = time.monotonic()

    worker = threading.Thread(target=slow_request)
    worker.start()
    time.sleep(0.5)  # the request is in the server
    signalled = time.monotonic()
    api.process.send_signal(signal.SIGTERM)

    first_probe = httpx.get(f"{api.url}/readyz", timeout=5)
    assert first_probe.status_code == 503, first_probe.text
    assert time.monotonic() - signalled < 1.0
    during = client.post("/graphql", json={"query": "{ version }"})  # the balancer has not noticed yet
    assert during.status_code == 200
    assert during.json()["data"]["version"]

    assert close_code(ws, GRACE_S) == 1012  # service restart: reconnect, through the balancer
    shutting_down = time.monotonic()  # the drain is over: no new connections from here on

    worker.join(GRACE_S)
    response = in_flight["response"]
    assert response.status_code == 200, response.text
    assert response.json()["data"]["cypher"]["rows"] == [[n // 7]]
    assert in_flight["done_at"] > shutting_down  # it was in flight when the server stopped accepting

    code = api.process.wait(GRACE_S + 5)
    stopped_after = time.monotonic() - signalled
    assert code == 0, api.text()[-3000:]
    assert stopped_after < GRACE_S
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{api.url}/healthz", timeout=2)

    records = api.records()
    events = [r["event"] for r in records]
    assert "service.stopping" in events
    assert "service.drained" in events
    assert "Traceback" not in api.text()
    slow = [r for r in records if r["event"] == "request.slow" and r.get("field") == "cypher"]
    assert slow, "the slow Cypher request was not logged"
    assert slow[-1]["operation"] == "query"
    assert slow[-1]["request_id"] == response.headers["x-request-id"]
    # Every line a request causes carries its id: uvicorn's access line of the same request too.
    access = [r for r in records if r.get("request_id") == response.headers["x-request-id"]]
    assert any(r.get("logger") == "uvicorn.access" for r in access), access
