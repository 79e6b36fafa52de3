"""``kgtwin serve`` as a child process, for the tests of the edge profile's ingest.

The edge profile is one process: API, ingest, embedded FalkorDB and DuckDB, and the
embedded amqtt broker, which (unlike Mosquitto) lets through topics MQTT forbids, such as
one holding U+0000. The tests talk to it as devices and users do: paho publishers on its
MQTT port, GraphQL and ``/readyz`` on its HTTP port, SIGKILL to cut the power.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from tests.ingest.helpers import SENSOR_DOC, stats, wait_until
from tests.servers.process import free_port

KGTWIN = str(Path(sys.executable).with_name("kgtwin"))


class ServeProcess:
    """``kgtwin serve`` in ``workdir`` (its data under ``workdir/data``) on free ports."""

    def __init__(self, workdir: Path, env: dict[str, str] | None = None, *, name: str = "serve") -> None:
        self.workdir = workdir
        self.port = free_port()
        self.mqtt_port = free_port()
        self.name = name
        self.extra = dict(env or {})
        self.log = workdir / f"{name}.log"
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 90) -> ServeProcess:
        """Start (again, on the same ports and data) and wait until ``/readyz`` says ready."""
        base = {k: v for k, v in os.environ.items() if not k.startswith("KGTWIN_")}
        env = base | {
            "KGTWIN_PORT": str(self.port),
            "KGTWIN_BROKER_URL": f"embedded://127.0.0.1:{self.mqtt_port}",
            "KGTWIN_LOG_FORMAT": "json",
            "KGTWIN_INGEST_LATEST_INTERVAL_S": "0.2",
            # One slot per logical core: enough for the tests, spares the shared machine.
            "KGTWIN_EXECUTOR_URL": "local://?workers=1",
            **self.extra,
        }
        self.workdir.mkdir(parents=True, exist_ok=True)
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(
                [KGTWIN, "serve"], cwd=self.workdir, env=env, stdout=out, stderr=subprocess.STDOUT
            )

        def ready() -> bool:
            assert self.process is not None
            if self.process.poll() is not None:
                raise AssertionError(f"kgtwin serve exited:\n{self.text()[-4000:]}")
            try:
                return httpx.get(f"{self.url}/readyz", timeout=2).status_code == 200
            except httpx.TransportError:
                return False

        wait_until(ready, timeout, "kgtwin serve to be ready")
        return self

    def text(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def events(self, name: str) -> list[dict[str, Any]]:
        """The JSON log records named ``name``."""
        return [r for r in stats(self.text()) if r.get("event") == name]

    def readyz(self) -> httpx.Response:
        return httpx.get(f"{self.url}/readyz", timeout=10)

    def graphql(self, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
        response = httpx.post(
            f"{self.url}/graphql", json={"query": query, "variables": variables or {}}, timeout=60
        )
        body: dict[str, Any] = response.json()
        return body

    def kill(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(30)

    def stop(self, timeout: float = 60) -> int:
        assert self.process is not None
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout)


UPLOAD = "mutation($m: JSON!) { uploadModels(models: $m) { id } }"
CREATE = "mutation($id: ID!, $model: String!) { createTwin(id: $id, model: $model) { id } }"


def seed(serve: ServeProcess, twin_ids: list[str], document: dict[str, Any] = SENSOR_DOC) -> None:
    """Upload the sensor model (once) and create ``twin_ids`` through GraphQL, as a user does."""
    known = serve.graphql("query($id: ID!) { model(id: $id) { id } }", {"id": document["@id"]})
    if known["data"]["model"] is None:
        body = serve.graphql(UPLOAD, {"m": [document]})
        assert "errors" not in body, body
    for twin_id in twin_ids:
        body = serve.graphql(CREATE, {"id": twin_id, "model": document["@id"]})
        assert "errors" not in body, body


def latest(serve: ServeProcess, twin_id: str, name: str) -> Any:
    """``twin(id) { latest(name) { value time } }`` as GraphQL answers it (the whole body)."""
    return serve.graphql(
        "query($id: ID!, $n: String!) { twin(id: $id) { latest(name: $n) { value time } } }",
        {"id": twin_id, "n": name},
    )


def device(port: int, client_id: str = "") -> mqtt.Client:
    """A paho MQTT 3.1.1 client (amqtt's version) connected to the embedded broker."""
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv311)
    client.max_inflight_messages_set(1000)
    client.max_queued_messages_set(0)
    client.connect("127.0.0.1", port)
    client.loop_start()
    return client


def send(port: int, messages: list[tuple[str, bytes]], timeout: float = 60) -> None:
    """Publish at QoS 1, wait for every PUBACK, then disconnect."""
    client = device(port)
    try:
        infos = [client.publish(t, p, qos=1) for t, p in messages]
        for info in infos:
            info.wait_for_publish(timeout)
            assert info.is_published()
    finally:
        client.disconnect()
        client.loop_stop()


def body(values: object) -> bytes:
    """A payload: one JSON object, or a JSON array of them (a batch)."""
    return json.dumps(values).encode()


def time_ms() -> int:
    return int(time.time() * 1000)


class Letters:
    """Subscribes to the dead-letter topic of a ``kgtwin serve`` and keeps every letter."""

    def __init__(self, port: int) -> None:
        self.payloads: list[dict[str, Any]] = []
        self.client = device(port)
        self.client.on_message = lambda _c, _u, m: self.payloads.append(json.loads(m.payload))
        subscribed = self.client.subscribe("kgtwin/deadletter", qos=1)
        assert subscribed[0] == mqtt.MQTT_ERR_SUCCESS
        time.sleep(0.3)

    def about(self, twin_id: str, timeout: float = 30) -> dict[str, Any]:
        """The first letter naming ``twin_id``, waited for."""
        wait_until(
            lambda: any(p.get("twinId") == twin_id for p in self.payloads), timeout, f"{twin_id!r}'s letter"
        )
        return next(p for p in self.payloads if p.get("twinId") == twin_id)

    def on_topic(self, topic: str, timeout: float = 30) -> dict[str, Any]:
        shown = topic if len(topic) < 80 else topic[:60] + f"... ({len(topic)} characters)"
        wait_until(
            lambda: any(p.get("topic") == topic for p in self.payloads), timeout, f"a letter of {shown!r}"
        )
        return next(p for p in self.payloads if p.get("topic") == topic)

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


CYPHER = "query($q: String!, $p: JSON) { cypher(query: $q, params: $p) { rows } }"


def node_value(serve: ServeProcess, twin_id: str, name: str) -> Any:
    """``_latest.<name>`` on the twin's graph node (what ingest copied there), or None."""
    found = serve.graphql(
        CYPHER, {"q": f"MATCH (t:Twin {{id: $id}}) RETURN t.`_latest.{name}`", "p": {"id": twin_id}}
    )
    assert "errors" not in found, found
    rows = found["data"]["cypher"]["rows"]
    return rows[0][0] if rows else None
