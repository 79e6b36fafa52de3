"""A live shadow on a real ``kgtwin serve``: telemetry in over MQTT, predictions in GraphQL, drift out."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import paho.mqtt.client as mqtt

from tests.servers.process import free_port
from tests.simulation.fmus import BuiltFmus

KGTWIN = str(Path(sys.executable).parent / "kgtwin")
ROOM = "dtmi:kgtwin:space:Room;1"


def test_a_shadow_on_kgtwin_serve_follows_mqtt_telemetry_and_reports_drift(
    tmp_path: Path, test_fmus: BuiltFmus, service_graph: dict[str, str]
) -> None:
    port, broker = free_port(), free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("KGTWIN_")}
    env |= {
        "KGTWIN_PORT": str(port),
        "KGTWIN_BROKER_URL": f"embedded://127.0.0.1:{broker}",
        "KGTWIN_CONFIG": str(tmp_path / "none.toml"),
        "KGTWIN_INGEST_BATCH_WAIT_MS": "10",
        **service_graph,
    }
    log = (tmp_path / "serve.log").open("w")
    serve = subprocess.Popen([KGTWIN, "serve"], cwd=tmp_path, env=env, stdout=log, stderr=log)
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_up(url, serve, tmp_path)
        gql = _client(url)
        gql(
            'mutation { createTwin(id: "room-1", model: "dtmi:kgtwin:space:Room;1", '
            "properties: {thermalCapacitance: 2000, envelopeConductance: 250}) { id } }"
        )
        upload = httpx.post(
            f"{url}/fmus", params={"for": ROOM}, files={"file": ("room.fmu", test_fmus.room.read_bytes())}
        )
        assert upload.status_code == 201, upload.text
        fmu_id = upload.json()["id"]
        drifts: list[dict[str, Any]] = []
        listener = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv311)
        listener.on_message = lambda _c, _u, m: drifts.append(json.loads(m.payload))
        listener.connect("127.0.0.1", broker)
        listener.subscribe("kgtwin/events/shadow.drift/#", qos=1)
        listener.loop_start()
        device = _Device(broker, 21.0)
        device.start()
        try:
            time.sleep(1.0)
            gql(
                """mutation($fmu: ID!) { startShadow(twin: "room-1", fmu: $fmu, step: 0.5, historyS: 1,
                bindings: {C: {property: "thermalCapacitance", scale: 1000},
                           UA: {property: "envelopeConductance"},
                           T0: {latest: "temperature"}, T_out: {constant: 21}},
                outputs: {T: {telemetry: "temperature", band: 0.5}}) { id } }""",
                {"fmu": fmu_id},
            )
            latest = """{ twin(id: "room-1") { p: latest(name: "temperature.predicted") { value }
                          r: latest(name: "temperature.residual") { value } } }"""
            seen = _wait(lambda: (lambda t: t if t["p"] and t["r"] else None)(gql(latest)["twin"]))
            assert abs(seen["p"]["value"] - 21.0) < 1e-3
            assert abs(seen["r"]["value"]) < 0.01
            device.value = 24.0  # a fault: the measured temperature drifts away from the model
            event = _wait(lambda: drifts[0] if drifts else None)
            assert event["kind"] == "shadow.drift"
            assert event["id"] == "room-1"
            assert event["data"]["residual"] > 0.5
            shadows = gql('{ shadows(twin: "room-1") { status worker } }')["shadows"]
            assert shadows[0]["status"] == "active"
            assert shadows[0]["worker"]
        finally:
            device.halt.set()
            device.join(5)
            listener.loop_stop()
            listener.disconnect()
    finally:
        serve.send_signal(signal.SIGTERM)
        code = serve.wait(timeout=60)
        log.close()
    output = (tmp_path / "serve.log").read_text()
    assert code == 0, output
    assert "Traceback" not in output


class _Device(threading.Thread):
    """The room's thermometer, publishing to kgtwin/twins/room-1/telemetry every 0.2 s."""

    def __init__(self, broker: int, value: float) -> None:
        super().__init__(daemon=True)
        self.broker, self.value, self.halt = broker, value, threading.Event()

    def run(self) -> None:
        client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv311)
        client.connect("127.0.0.1", self.broker)
        client.loop_start()
        try:
            while not self.halt.is_set():
                payload = json.dumps({"temperature": self.value})
                client.publish("kgtwin/twins/room-1/telemetry", payload, qos=1).wait_for_publish(5)
                self.halt.wait(0.2)
        finally:
            client.loop_stop()
            client.disconnect()


def _client(url: str) -> Any:
    def gql(query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
        body = httpx.post(f"{url}/graphql", json={"query": query, "variables": variables or {}}).json()
        assert not body.get("errors"), body
        data: dict[str, Any] = body["data"]
        return data

    return gql


def _wait(condition: Any, timeout_s: float = 30.0) -> Any:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        found = condition()
        if found:
            return found
        time.sleep(0.2)
    raise AssertionError("condition not met in time")


def _wait_up(url: str, serve: subprocess.Popen[bytes], folder: Path) -> None:
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline and serve.poll() is None:
        try:
            if httpx.get(f"{url}/readyz").status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.3)
    raise AssertionError((folder / "serve.log").read_text())
