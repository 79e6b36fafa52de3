"""Read your writes across services (issue 21 §1), with real processes.

A change committed before the next step starts must be honoured by it, whichever process
takes that step: a model uploaded, a twin created, replaced or deleted, then telemetry
published 0 ms, 10 ms and 100 ms later. In the edge profile (one ``kgtwin serve``), and in
the cloud profile on Neo4j, Mosquitto and InfluxDB, where two ``kgtwin api`` replicas,
``kgtwin ingest`` and ``kgtwin worker`` are separate processes: a model uploaded through one
replica is usable through the other at once (twins, subscriptions), telemetry of a twin
just created is stored, and a run started on twins just created sees them.
"""

from __future__ import annotations

import itertools
import json
import os
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from websockets.sync.client import connect as websocket

from tests.conftest import InfluxTarget
from tests.ingest.edge import KGTWIN, Letters, ServeProcess, send
from tests.ingest.helpers import (
    Collector,
    IngestProcess,
    connect,
    ingest_env,
    publish_all,
    topic,
    wait_until,
)
from tests.servers.process import free_port

pytestmark = pytest.mark.timeout(600)

DELAYS_MS = (0, 10, 100)
UPLOAD = "mutation($m: JSON!) { uploadModels(models: $m) { id } }"
CREATE = "mutation($id: ID!, $m: String!) { createTwin(id: $id, model: $m) { id } }"
DELETE = "mutation($id: ID!) { deleteTwin(id: $id) }"
LATEST = "query($id: ID!, $n: String!) { twin(id: $id) { latest(name: $n) { value } } }"


def model(name: str, telemetry: str, extends: str | None = None) -> dict[str, Any]:
    """A fresh Interface with one double Telemetry (each case uploads its own: nothing is cached yet)."""
    document: dict[str, Any] = {
        "@context": "dtmi:dtdl:context;3",
        "@id": f"dtmi:ex:ryw:{name};1",
        "@type": "Interface",
        "contents": [{"@type": "Telemetry", "name": telemetry, "schema": "double"}],
    }
    if extends is not None:
        document["extends"] = extends
    return document


def unique(label: str) -> str:
    return f"{label}{uuid.uuid4().hex[:8]}"


def pause(delay_ms: int) -> None:
    if delay_ms:
        time.sleep(delay_ms / 1000)


class Service:
    """``kgtwin <command>`` as a child process; with a port, ready once ``/readyz`` answers 200."""

    def __init__(self, workdir: Path, command: str, env: dict[str, str], *, http: bool = True) -> None:
        self.port = free_port() if http else None
        self.log = workdir / f"{command}-{uuid.uuid4().hex[:4]}.log"
        workdir.mkdir(parents=True, exist_ok=True)
        base = {k: v for k, v in os.environ.items() if not k.startswith("KGTWIN_")}
        extra = {"KGTWIN_PORT": str(self.port)} if self.port is not None else {}
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(
                [KGTWIN, command],
                cwd=workdir,
                env=base | {"KGTWIN_LOG_FORMAT": "json"} | env | extra,
                stdout=out,
                stderr=subprocess.STDOUT,
            )

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def wait_ready(self, marker: str | None = None, timeout: float = 120) -> None:
        def ready() -> bool:
            if self.process.poll() is not None:
                raise AssertionError(f"{self.log.name} exited:\n{self.log.read_text()[-3000:]}")
            if marker is not None:
                return marker in self.log.read_text(errors="replace")
            try:
                return httpx.get(f"{self.url}/readyz", timeout=2).status_code == 200
            except httpx.TransportError:
                return False

        wait_until(ready, timeout, f"{self.log.name} to be ready")

    def graphql(self, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
        response = httpx.post(
            f"{self.url}/graphql", json={"query": query, "variables": variables}, timeout=60
        )
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    def data(self, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
        body = self.graphql(query, variables)
        assert "errors" not in body, body
        found: dict[str, Any] = body["data"]
        return found

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(60)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(30)


def stored(api: ServeProcess | Service, twin_id: str, name: str, value: float, timeout: float = 30) -> None:
    """Wait until ``latest`` of ``twin_id`` answers ``value`` through the API."""

    def found() -> bool:
        body = api.graphql(LATEST, {"id": twin_id, "n": name})
        latest = (body.get("data") or {}).get("twin") or {}
        return (latest.get("latest") or {}).get("value") == value

    wait_until(found, timeout, f"{value} stored for {twin_id}")


# The edge profile: one ``kgtwin serve`` (embedded broker, FalkorDB, DuckDB, in-process ingest).


@pytest.fixture(scope="module")
def serve(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServeProcess]:
    process = ServeProcess(tmp_path_factory.mktemp("ryw-edge"))
    process.start()
    try:
        yield process
    finally:
        process.stop()


@pytest.fixture
def letters(serve: ServeProcess) -> Iterator[Letters]:
    found = Letters(serve.mqtt_port)
    yield found
    found.close()


def edge_data(serve: ServeProcess, query: str, variables: dict[str, Any]) -> dict[str, Any]:
    body = serve.graphql(query, variables)
    assert "errors" not in body, body
    found: dict[str, Any] = body["data"]
    return found


@pytest.mark.parametrize("delay_ms", DELAYS_MS)
def test_edge_telemetry_of_a_model_and_twin_just_made_is_stored(
    serve: ServeProcess, letters: Letters, delay_ms: int
) -> None:
    name, twin_id = unique("EdgeNew"), unique("edge-new-")
    edge_data(serve, UPLOAD, {"m": [model(name, "w")]})
    edge_data(serve, CREATE, {"id": twin_id, "m": f"dtmi:ex:ryw:{name};1"})
    pause(delay_ms)
    send(serve.mqtt_port, [(topic(twin_id), json.dumps({"w": 1.5}).encode())])
    stored(serve, twin_id, "w", 1.5)
    assert [p for p in letters.payloads if p.get("twinId") == twin_id] == []


@pytest.mark.parametrize("delay_ms", DELAYS_MS)
def test_edge_a_twin_deleted_or_replaced_is_honoured_by_the_next_message(
    serve: ServeProcess, letters: Letters, delay_ms: int
) -> None:
    first, second = unique("EdgeOld"), unique("EdgeRe")
    gone, replaced = unique("edge-gone-"), unique("edge-re-")
    edge_data(serve, UPLOAD, {"m": [model(first, "a"), model(second, "b")]})
    for twin_id in (gone, replaced):
        edge_data(serve, CREATE, {"id": twin_id, "m": f"dtmi:ex:ryw:{first};1"})
        send(serve.mqtt_port, [(topic(twin_id), json.dumps({"a": 1.0}).encode())])
        stored(serve, twin_id, "a", 1.0)  # ingest holds both twins in its cache now
    edge_data(serve, DELETE, {"id": gone})
    edge_data(serve, DELETE, {"id": replaced})
    edge_data(serve, CREATE, {"id": replaced, "m": f"dtmi:ex:ryw:{second};1"})
    pause(delay_ms)
    send(
        serve.mqtt_port,
        [(topic(gone), json.dumps({"a": 2.0}).encode()), (topic(replaced), json.dumps({"b": 3.0}).encode())],
    )
    assert letters.about(gone)["reason"] == "UNKNOWN_TWIN"
    stored(serve, replaced, "b", 3.0)
    assert [p for p in letters.payloads if p.get("twinId") == replaced] == []


# The cloud profile: two API replicas, ingest and a worker as separate processes.


@dataclass
class Cloud:
    one: Service
    two: Service
    ingest: IngestProcess
    worker: Service
    mqtt_url: str


@pytest.fixture(scope="module")
def cloud(
    tmp_path_factory: pytest.TempPathFactory, neo4j_url: str, mqtt_url: str, influx: InfluxTarget
) -> Iterator[Cloud]:
    workdir = tmp_path_factory.mktemp("ryw-cloud")
    common = {
        "KGTWIN_GRAPH_URL": neo4j_url,
        "KGTWIN_TELEMETRY_URL": influx.kgtwin_url,
        "KGTWIN_BROKER_URL": mqtt_url,
        "KGTWIN_EXECUTOR_URL": "local://?workers=1",
        "KGTWIN_HEALTH_PORT": "0",  # the worker runs beside ingest on one host
    }
    group = unique("ryw-")
    env = ingest_env(
        graph_url=neo4j_url,
        telemetry_url=influx.kgtwin_url,
        mqtt_url=mqtt_url,
        client_id=group,
        group=group,
        spool_dir=workdir / "spool",
    )
    started: list[Service] = []
    ingest = IngestProcess(workdir, "ingest", env)
    try:
        one = Service(workdir, "api", common)
        started.append(one)
        one.wait_ready()  # the first creates the schema; the others start on it
        two = Service(workdir, "api", common)
        started.append(two)
        worker = Service(workdir, "worker", common, http=False)
        started.append(worker)
        two.wait_ready()
        worker.wait_ready("worker.starting")
        ingest.wait_started()
        yield Cloud(one, two, ingest, worker, mqtt_url)
    finally:
        if ingest.process.poll() is None:
            ingest.terminate()
        for service in started:
            service.stop()


def on_servers[F: Callable[..., None]](test: F) -> F:
    """Mark a test of the cloud profile with the servers it needs."""
    for mark in (pytest.mark.neo4j, pytest.mark.influxdb, pytest.mark.mosquitto):
        test = mark(test)
    return test


@on_servers
@pytest.mark.parametrize("delay_ms", DELAYS_MS)
def test_cloud_a_model_uploaded_through_one_replica_is_usable_through_the_other(
    cloud: Cloud, delay_ms: int
) -> None:
    name = unique("Replica")
    cloud.one.data(UPLOAD, {"m": [model(name, "w")]})
    pause(delay_ms)
    dtmi = f"dtmi:ex:ryw:{name};1"
    assert cloud.two.data("query($m: ID!) { model(id: $m) { id } }", {"m": dtmi})["model"] == {"id": dtmi}
    twin_id = unique("replica-twin-")
    assert cloud.two.data(CREATE, {"id": twin_id, "m": dtmi})["createTwin"] == {"id": twin_id}
    # A model that extends it, uploaded through the second at once.
    cloud.two.data(UPLOAD, {"m": [model(unique("ReplicaSub"), "x", extends=dtmi)]})


@on_servers
@pytest.mark.parametrize("delay_ms", DELAYS_MS)
def test_cloud_telemetry_of_a_twin_just_created_through_the_api_is_stored_by_ingest(
    cloud: Cloud, delay_ms: int
) -> None:
    name, twin_id = unique("Cloud"), unique("cloud-new-")
    letters = Collector(cloud.mqtt_url, "kgtwin/deadletter")
    publisher = connect(cloud.mqtt_url)
    try:
        cloud.one.data(UPLOAD, {"m": [model(name, "w")]})
        cloud.two.data(CREATE, {"id": twin_id, "m": f"dtmi:ex:ryw:{name};1"})
        pause(delay_ms)
        publish_all(publisher, [(topic(twin_id), json.dumps({"w": 2.5}).encode())])
        stored(cloud.one, twin_id, "w", 2.5)
        assert [p for p in letters.payloads if p.get("twinId") == twin_id] == []
    finally:
        publisher.disconnect()
        publisher.loop_stop()
        letters.close()


@on_servers
@pytest.mark.parametrize("delay_ms", DELAYS_MS)
def test_cloud_a_twin_deleted_or_replaced_through_the_api_is_honoured_by_ingest(
    cloud: Cloud, delay_ms: int
) -> None:
    first, second = unique("CloudOld"), unique("CloudRe")
    gone, replaced = unique("cloud-gone-"), unique("cloud-re-")
    letters = Collector(cloud.mqtt_url, "kgtwin/deadletter")
    publisher = connect(cloud.mqtt_url)
    try:
        cloud.one.data(UPLOAD, {"m": [model(first, "a"), model(second, "b")]})
        for twin_id in (gone, replaced):
            cloud.one.data(CREATE, {"id": twin_id, "m": f"dtmi:ex:ryw:{first};1"})
            publish_all(publisher, [(topic(twin_id), json.dumps({"a": 1.0}).encode())])
            stored(cloud.one, twin_id, "a", 1.0)  # ingest holds both twins in its cache now
        cloud.two.data(DELETE, {"id": gone})
        cloud.two.data(DELETE, {"id": replaced})
        cloud.two.data(CREATE, {"id": replaced, "m": f"dtmi:ex:ryw:{second};1"})
        pause(delay_ms)
        publish_all(
            publisher,
            [
                (topic(gone), json.dumps({"a": 2.0}).encode()),
                (topic(replaced), json.dumps({"b": 3.0}).encode()),
            ],
        )
        wait_until(
            lambda: any(p.get("twinId") == gone for p in letters.payloads), 30, "the deleted twin's letter"
        )
        assert next(p for p in letters.payloads if p.get("twinId") == gone)["reason"] == "UNKNOWN_TWIN"
        stored(cloud.one, replaced, "b", 3.0)
        assert [p for p in letters.payloads if p.get("twinId") == replaced] == []
    finally:
        publisher.disconnect()
        publisher.loop_stop()
        letters.close()


SUBSCRIBE = "subscription($m: [String!]) { twinChanged(models: $m) { kind id model } }"


@on_servers
@pytest.mark.parametrize("delay_ms", DELAYS_MS)
def test_cloud_a_subscription_follows_models_uploaded_through_another_replica(
    cloud: Cloud, delay_ms: int
) -> None:
    base, sub = unique("Watched"), unique("WatchedSub")
    base_dtmi, sub_dtmi = f"dtmi:ex:ryw:{base};1", f"dtmi:ex:ryw:{sub};1"
    cloud.one.data(UPLOAD, {"m": [model(base, "w")]})
    pause(delay_ms)
    url = cloud.two.url.replace("http://", "ws://") + "/graphql"
    with websocket(url, subprotocols=["graphql-transport-ws"], open_timeout=30) as ws:  # type: ignore[list-item]
        ws.send(json.dumps({"type": "connection_init"}))
        assert json.loads(ws.recv(30))["type"] == "connection_ack"
        ws.send(
            json.dumps(
                {
                    "id": "1",
                    "type": "subscribe",
                    "payload": {"query": SUBSCRIBE, "variables": {"m": [base_dtmi]}},
                }
            )
        )
        time.sleep(0.5)  # an error for an unknown model would come now
        # Through the first replica: a subtype and a twin of it; the second learns of both.
        cloud.one.data(UPLOAD, {"m": [model(sub, "x", extends=base_dtmi)]})
        twin_id = unique("watched-")
        cloud.one.data(CREATE, {"id": twin_id, "m": sub_dtmi})
        message = json.loads(ws.recv(30))
    assert message["type"] == "next", message
    assert message["payload"]["data"]["twinChanged"] == {
        "kind": "twin.created",
        "id": twin_id,
        "model": sub_dtmi,
    }


P = "dtmi:kgtwin:production:"
LINE = [
    ("S", "Source", {"interarrivalTimeMean": 60.0, "interarrivalTimeDistribution": "exponential"}),
    ("M", "Machine", {"cycleTimeMean": 50.0, "cycleTimeDistribution": "exponential"}),
    ("K", "Sink", {}),
]
START = """mutation($subset: JSON!) {
  startSimulation(model: "flow", subset: $subset, parameters: {horizonS: 5000.0, samples: 2},
                  replications: 1, seed: 7) { id }
}"""
RUN = "query($id: ID!) { simulationRun(id: $id) { status error result } }"
CREATE_WITH = (
    "mutation($id: ID!, $m: String!, $p: JSON) { createTwin(id: $id, model: $m, properties: $p) { id } }"
)
RELATE = 'mutation($a: ID!, $b: ID!) { createRelationship(source: $a, target: $b, name: "feeds") { id } }'


@on_servers
@pytest.mark.parametrize("delay_ms", DELAYS_MS)
def test_cloud_a_run_started_on_twins_just_created_sees_them_in_the_worker(
    cloud: Cloud, delay_ms: int
) -> None:
    prefix = unique("line-")
    ids = [f"{prefix}-{twin_id}" for twin_id, _, _ in LINE]
    for twin_id, (_, kind, properties) in zip(ids, LINE, strict=True):
        cloud.one.data(CREATE_WITH, {"id": twin_id, "m": f"{P}{kind};1", "p": properties})
    for source, target in itertools.pairwise(ids):
        cloud.one.data(RELATE, {"a": source, "b": target})
    pause(delay_ms)
    subset = {"roots": [ids[0]], "relationships": ["feeds"], "maxDepth": 5}
    run_id = cloud.two.data(START, {"subset": subset})["startSimulation"]["id"]

    def finished() -> bool:
        status: str = cloud.one.data(RUN, {"id": run_id})["simulationRun"]["status"]
        return status in {"SUCCEEDED", "FAILED", "CANCELLED"}

    wait_until(finished, 120, "the worker to finish the run")
    run = cloud.one.data(RUN, {"id": run_id})["simulationRun"]
    assert run["status"] == "SUCCEEDED", run
    assert ids[1] in json.dumps(run["result"]), run["result"]  # the machine made a moment before
