"""``kgtwin serve`` as a newcomer runs it: embedded defaults, GraphiQL up, clean stop on SIGTERM."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import httpx

from tests.foundation.conftest import KGTWIN
from tests.servers.process import free_port


def test_serve_on_embedded_defaults_serves_graphiql_and_stops_cleanly(tmp_path: Path) -> None:
    port, broker_port = free_port(), free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("KGTWIN_")}
    env |= {
        "KGTWIN_PORT": str(port),
        "KGTWIN_BROKER_URL": f"embedded://127.0.0.1:{broker_port}",
        "KGTWIN_DEMO_INTERVAL_S": "0.5",
    }
    log = (tmp_path / "serve.log").open("w")
    process = subprocess.Popen([KGTWIN, "serve", "--demo"], cwd=tmp_path, env=env, stdout=log, stderr=log)
    try:
        deadline = time.monotonic() + 60
        page = None
        while time.monotonic() < deadline and process.poll() is None:
            try:
                page = httpx.get(f"http://127.0.0.1:{port}/graphql", headers={"Accept": "text/html"})
                break
            except httpx.TransportError:
                time.sleep(0.2)
        assert page is not None, (tmp_path / "serve.log").read_text()
        assert page.status_code == 200
        assert "GraphiQL" in page.text
        ready = httpx.get(f"http://127.0.0.1:{port}/readyz").json()
        assert [b["backend"] for b in ready["backends"]] == ["falkordb", "duckdb", "mqtt", "ingest"]
        _the_demo_twin_is_served_with_live_telemetry(port)
    finally:
        process.send_signal(signal.SIGTERM)
        code = process.wait(timeout=60)
        log.close()
    output = (tmp_path / "serve.log").read_text()
    assert code == 0, output
    assert '"event": "service.stopped"' in output
    assert "Traceback" not in output
    assert (tmp_path / "data" / "falkordb.rdb").exists()
    assert (tmp_path / "data" / "telemetry.duckdb").exists()


def _the_demo_twin_is_served_with_live_telemetry(port: int) -> None:
    """What a newcomer sees after `make run`: the demo's rooms, and their temperatures arriving."""
    query = """{ twins(model: "dtmi:kgtwin:space:Room;1", first: 50) {
        totalCount edges { node { id latest(name: "temperature") { value time } } } } }"""
    deadline = time.monotonic() + 30
    latest = None
    while time.monotonic() < deadline:
        body = httpx.post(f"http://127.0.0.1:{port}/graphql", json={"query": query}).json()
        assert "errors" not in body, body
        rooms = {e["node"]["id"]: e["node"]["latest"] for e in body["data"]["twins"]["edges"]}
        latest = rooms.get("room-a101")
        if latest is not None:
            break
        time.sleep(0.5)
    assert body["data"]["twins"]["totalCount"] == 19  # 18 office rooms and the assembly hall
    assert latest is not None, "no demo telemetry reached the last-value cache"
    assert 15.0 < latest["value"] < 30.0
