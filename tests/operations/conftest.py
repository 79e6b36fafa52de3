"""Real ``kgtwin`` service processes on the real test servers, as an operator runs them.

Each process is the real command (``kgtwin api``, ``ingest``, ``worker``) configured with
``KGTWIN_*`` variables, logging JSON to a file the test reads. :class:`Service` starts
it, waits for its ``/readyz``, scrapes its ``/metrics`` and stops it with SIGTERM, timing
the stop.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from graph.neo4j import Neo4jGraphStore
from tests.conftest import InfluxTarget
from tests.servers.process import free_port

KGTWIN = str(Path(sys.executable).with_name("kgtwin"))


@dataclass(frozen=True)
class Servers:
    """The session's Neo4j, InfluxDB and Mosquitto, as kgtwin's settings name them."""

    graph_url: str
    telemetry_url: str
    broker_url: str
    influx: InfluxTarget

    def env(self) -> dict[str, str]:
        return {
            "KGTWIN_GRAPH_URL": self.graph_url,
            "KGTWIN_TELEMETRY_URL": self.telemetry_url,
            "KGTWIN_BROKER_URL": self.broker_url,
        }


@pytest.fixture
def servers(neo4j_url: str, influx: InfluxTarget, mqtt_url: str) -> Servers:
    """The real servers, the graph emptied (the services load the base ontology as they start)."""
    graph = Neo4jGraphStore(neo4j_url)
    try:
        graph.write("MATCH (n) DETACH DELETE n")
    finally:
        graph.close()
    return Servers(neo4j_url, influx.kgtwin_url, mqtt_url, influx)


class Service:
    """One ``kgtwin <command>`` process, its log in ``workdir/<name>.log``."""

    def __init__(
        self, command: list[str], workdir: Path, name: str, env: dict[str, str], *, port: int
    ) -> None:
        self.name = name
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        self.log = workdir / f"{name}.log"
        workdir.mkdir(parents=True, exist_ok=True)
        base = {k: v for k, v in os.environ.items() if not k.startswith("KGTWIN_")}
        settings = {
            "KGTWIN_LOG_FORMAT": "json",
            "KGTWIN_CONFIG": str(workdir / "none.toml"),
            **env,
            # The port this Service watches wins over any an environment helper chose.
            "KGTWIN_PORT": str(port),
            "KGTWIN_HEALTH_PORT": str(port),
        }
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(
                [KGTWIN, *command],
                cwd=workdir,
                env={**base, **settings},
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        self.stop_seconds: float | None = None

    def text(self) -> str:
        return self.log.read_text(errors="replace")

    def records(self) -> list[dict[str, Any]]:
        """The process's JSON log records."""
        found = []
        for line in self.text().splitlines():
            if line.startswith("{"):
                try:
                    found.append(json.loads(line))
                except ValueError:
                    continue
        return found

    def wait_ready(self, timeout: float = 180) -> None:
        """Wait until ``/readyz`` answers 200; fail with the log if the process dies first."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.process.poll() is None, f"{self.name} exited:\n{self.text()[-3000:]}"
            try:
                if httpx.get(f"{self.url}/readyz", timeout=2).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        raise AssertionError(f"{self.name} not ready within {timeout} s:\n{self.text()[-3000:]}")

    def metrics(self) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
        """Every sample ``/metrics`` answers, by name and sorted labels."""
        response = httpx.get(f"{self.url}/metrics", timeout=10)
        assert response.status_code == 200, response.text
        found = {}
        for family in text_string_to_metric_families(response.text):
            for sample in family.samples:
                found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
        return found

    def terminate(self, timeout: float = 60) -> int:
        """SIGTERM, then wait: the exit code; :attr:`stop_seconds` is how long the stop took."""
        began = time.monotonic()
        self.process.send_signal(signal.SIGTERM)
        code = self.process.wait(timeout)
        self.stop_seconds = time.monotonic() - began
        return code

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(30)


@pytest.fixture
def services(tmp_path: Path) -> Iterator[Callable[..., Service]]:
    """Start services; any still running when the test ends is killed."""
    started: list[Service] = []

    def start(command: list[str], name: str, env: dict[str, str], *, port: int | None = None) -> Service:
        service = Service(command, tmp_path, name, env, port=port or free_port())
        started.append(service)
        return service

    try:
        yield start
    finally:
        for service in started:
            service.kill()


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:6]}"
