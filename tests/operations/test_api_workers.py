"""``kgtwin api --workers 2``: two processes on one port, kept in step, their metrics summed.

Which worker accepts a connection is the kernel's choice; the tests pin it by stopping the
other one (SIGSTOP) while a connection is made, so each step knows which process it talks
to: a model uploaded through one worker is used by the other, a change made through one
reaches a subscription held by the other, and either one's ``/metrics`` counts the
requests both served.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import psutil  # type: ignore[import-untyped]
import pytest
from websockets.sync.client import connect

from tests.operations.conftest import KGTWIN, Servers, Service

GRACE_S = 20.0
VALVE = "dtmi:example:workers:Valve;1"
VALVE_DOC: dict[str, Any] = {
    "@context": "dtmi:dtdl:context;3",
    "@id": VALVE,
    "@type": "Interface",
    "contents": [{"@type": "Property", "name": "opening", "schema": "double"}],
}
UPLOAD = "mutation($m: JSON!) { uploadModels(models: $m) { id } }"
CREATE = "mutation($id: ID!, $m: String!) { createTwin(id: $id, model: $m, properties: {}) { id } }"
PATCH = "mutation($id: ID!, $p: JSON!) { updateTwin(id: $id, patch: $p) { id } }"
OPENING = [{"op": "add", "path": "/opening", "value": 0.9}]
TWIN = "query($id: ID!) { twin(id: $id) { id } }"


@contextmanager
def only(worker: psutil.Process, workers: list[psutil.Process]) -> Iterator[None]:
    """While inside, every other worker is stopped: new connections go to ``worker``."""
    others = [w for w in workers if w.pid != worker.pid]
    for other in others:
        other.send_signal(signal.SIGSTOP)
    try:
        yield
    finally:
        for other in others:
            other.send_signal(signal.SIGCONT)


def post(client: httpx.Client, query: str, variables: dict[str, Any]) -> dict[str, Any]:
    response = client.post("/graphql", json={"query": query, "variables": variables}, timeout=30)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    assert not body.get("errors"), body
    return body


def workers_of(api: Service, count: int) -> list[psutil.Process]:
    """The supervisor's worker processes, once there are ``count`` of them and each is ready."""
    deadline = time.monotonic() + 120
    found: list[psutil.Process] = []
    while len(found := psutil.Process(api.process.pid).children()) < count:
        assert time.monotonic() < deadline, api.text()[-3000:]
        time.sleep(0.1)
    for worker in found:
        with only(worker, found):
            api.wait_ready()
    return found


def samples(api: Service) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return api.metrics()


@pytest.mark.neo4j
@pytest.mark.influxdb
@pytest.mark.mosquitto
@pytest.mark.timeout(400)
def test_two_workers_serve_one_port_in_step_and_sum_their_metrics(
    servers: Servers, services: Callable[..., Service]
) -> None:
    env = servers.env() | {"KGTWIN_SHUTDOWN_GRACE_S": str(GRACE_S)}
    api = services(["api", "--workers", "2"], "api", env)
    api.wait_ready()
    one, two = workers_of(api, 2)

    # The model registry: uploaded through one, used by the other.
    with only(one, [one, two]), httpx.Client(base_url=api.url) as client:
        post(client, UPLOAD, {"m": [VALVE_DOC]})
    with only(two, [one, two]), httpx.Client(base_url=api.url) as client:
        created = post(client, CREATE, {"id": "valve-1", "m": VALVE})
        assert created["data"]["createTwin"]["id"] == "valve-1"

    # Subscriptions: held by one, fed by a change made through the other.
    with only(one, [one, two]):
        ws = connect(f"ws://127.0.0.1:{api.port}/graphql", subprotocols=["graphql-transport-ws"])  # type: ignore[list-item]
        ws.send(json.dumps({"type": "connection_init"}))
        assert json.loads(ws.recv(10))["type"] == "connection_ack"
        query = 'subscription { twinChanged(ids: ["valve-1"]) { id kind } }'
        ws.send(json.dumps({"id": "1", "type": "subscribe", "payload": {"query": query}}))
        time.sleep(1.0)  # its event stream is open
    with only(two, [one, two]), httpx.Client(base_url=api.url) as client:
        post(client, PATCH, {"id": "valve-1", "p": OPENING})
    # Worker one was stopped while two created the twin, so that creation's event can reach
    # one's bus after the subscription opened (notifications are asynchronous): it may come
    # first, and nothing else may.
    changes = [json.loads(ws.recv(15))["payload"]["data"]["twinChanged"]]
    if changes[0] == {"id": "valve-1", "kind": "twin.created"}:
        changes.append(json.loads(ws.recv(15))["payload"]["data"]["twinChanged"])
    assert changes[-1] == {"id": "valve-1", "kind": "twin.updated"}, changes

    # Metrics: whichever worker answers /metrics counts what both served.
    for worker, count in ((one, 3), (two, 4)):
        with only(worker, [one, two]), httpx.Client(base_url=api.url) as client:
            for _ in range(count):
                post(client, TWIN, {"id": "valve-1"})
    labels = (("field", "twin"), ("operation", "query"))
    for worker in (one, two):
        with only(worker, [one, two]):
            scraped = samples(api)
        assert scraped[("kgtwin_api_request_duration_seconds_count", labels)] == 7
        assert scraped[("kgtwin_api_subscriptions_open", (("field", "twinChanged"),))] == 1
        assert scraped[("kgtwin_info", (("service", "api"), ("version", _version())))] == 1

    ws.close()
    assert api.terminate(GRACE_S + 10) == 0, api.text()[-3000:]
    assert api.stop_seconds is not None
    assert api.stop_seconds < GRACE_S
    assert not one.is_running()
    assert not two.is_running()
    assert "Traceback" not in api.text()


def test_several_workers_refuse_backends_of_one_process(tmp_path: object) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("KGTWIN_")}
    argv = [KGTWIN, "api", "--workers", "2"]
    done = subprocess.run(argv, env=env, cwd=str(tmp_path), capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert done.stderr.startswith("kgtwin: KGTWIN_API_WORKERS: 2 workers need backends every process")
    assert "Traceback" not in done.stderr


def _version() -> str:
    from kgtwin import __version__

    return __version__
