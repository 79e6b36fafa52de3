"""A real ``kgtwin serve`` in a process of its own, as a newcomer starts it (``make run``).

Embedded FalkorDB, DuckDB and MQTT broker in a temporary folder, on free loopback ports;
with ``demo`` the demo twin and its simulated devices. The browser tests and the tutorial
tests talk to it exactly as a user's browser or script would.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import paho.mqtt.publish as mqtt_publish

from tests.servers.process import free_port

KGTWIN = str(Path(sys.executable).with_name("kgtwin"))
"""The ``kgtwin`` of the interpreter running the tests."""


@dataclass(frozen=True)
class TwinService:
    """A running ``kgtwin serve``: where it answers, its broker, its folder and log."""

    url: str
    port: int
    broker_port: int
    folder: Path
    log: Path
    env: Mapping[str, str]

    def graphql(self, query: str, variables: Mapping[str, Any] | None = None, key: str | None = None) -> Any:
        """The data of a GraphQL request that must succeed."""
        headers = {"X-API-Key": key} if key else {}
        body = httpx.post(
            f"{self.url}/graphql", json={"query": query, "variables": dict(variables or {})}, headers=headers
        ).json()
        assert not body.get("errors"), body
        return body["data"]

    def publish(self, twin_id: str, payload: Mapping[str, Any]) -> None:
        """Publish telemetry for ``twin_id`` as a device does."""
        mqtt_publish.single(
            f"kgtwin/twins/{twin_id}/telemetry",
            json.dumps(payload),
            qos=1,
            hostname="127.0.0.1",
            port=self.broker_port,
        )

    def log_tail(self, lines: int = 60) -> str:
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])


def environment(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The process environment: this machine's, without any KGTWIN_ setting of the developer's."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("KGTWIN_")}
    return {**env, **(extra or {})}


@contextmanager
def running_twin(
    folder: Path, *, demo: bool = True, settings: Mapping[str, str] | None = None, timeout_s: float = 120
) -> Iterator[TwinService]:
    """Start ``kgtwin serve [--demo]`` in ``folder``; stop it with SIGTERM when done."""
    folder.mkdir(parents=True, exist_ok=True)
    port, broker_port = free_port(), free_port()
    env = environment(
        {
            "KGTWIN_PORT": str(port),
            "KGTWIN_BROKER_URL": f"embedded://127.0.0.1:{broker_port}",
            "KGTWIN_DEMO_INTERVAL_S": "2",
            "KGTWIN_LOG_LEVEL": "warning",
            **(settings or {}),
        },
    )
    log = folder / "serve.log"
    argv = [KGTWIN, "serve", *(["--demo"] if demo else [])]
    with log.open("w") as out:
        process = subprocess.Popen(argv, cwd=folder, env=env, stdout=out, stderr=subprocess.STDOUT)
    service = TwinService(f"http://127.0.0.1:{port}", port, broker_port, folder, log, env)
    try:
        _wait_ready(service, process, timeout_s)
        yield service
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _wait_ready(service: TwinService, process: subprocess.Popen[bytes], timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"kgtwin serve exited with {process.returncode}:\n{service.log_tail()}")
        try:
            # Another process on this shared host may have taken the free port first: only
            # our own server's answer counts (ours then exits, failing to bind, and says so).
            if httpx.get(f"{service.url}/readyz", timeout=2).status_code == 200 and _listens(
                process.pid, service.port
            ):
                return
        except httpx.TransportError:
            pass
        time.sleep(0.3)
    raise RuntimeError(f"kgtwin serve did not get ready in {timeout_s} s:\n{service.log_tail()}")


def _listens(pid: int, port: int) -> bool:
    """Whether process ``pid`` holds the socket listening on ``port`` (Linux ``/proc``; elsewhere: yes)."""
    table = Path("/proc/net/tcp")
    if not table.exists():
        return True
    sockets = set()
    for line in table.read_text().splitlines()[1:]:
        fields = line.split()
        if fields[3] == "0A" and int(fields[1].rsplit(":", 1)[1], 16) == port:  # 0A: LISTEN
            sockets.add(f"socket:[{fields[9]}]")
    for fd in Path(f"/proc/{pid}/fd").glob("*"):
        try:
            if os.readlink(fd) in sockets:
                return True
        except OSError:
            continue
    return False


def wait_for(check: Any, timeout_s: float = 30, every_s: float = 0.3) -> Any:
    """Poll ``check()`` until it returns something truthy; that value."""
    deadline = time.monotonic() + timeout_s
    while True:
        found = check()
        if found:
            return found
        if time.monotonic() > deadline:
            raise AssertionError(f"not so after {timeout_s} s: {check}")
        time.sleep(every_s)
