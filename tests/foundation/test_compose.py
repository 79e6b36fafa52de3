"""The compose stack is valid for Docker users, checked without a Docker engine."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from tests.conftest import unavailable

ROOT = Path(__file__).resolve().parents[2]


def test_docker_compose_config_is_valid() -> None:
    binary = shutil.which("docker-compose")
    if binary is None:
        unavailable(
            "docker-compose not installed: apt-get install docker-compose (it validates without an engine)"
        )
    result = subprocess.run(
        [binary, "-f", str(ROOT / "docker-compose.yml"), "config"],
        capture_output=True,
        text=True,
        check=False,
        cwd=ROOT,
    )
    assert result.returncode == 0, result.stderr
    config = yaml.safe_load(result.stdout)
    services = config["services"]
    assert {"neo4j", "influxdb", "mosquitto", "api", "ingest", "worker"} <= set(services)
    for name in ("api", "ingest", "worker"):
        depends = services[name]["depends_on"]
        assert all(
            depends[backend]["condition"] == "service_healthy"
            for backend in ("neo4j", "influxdb", "mosquitto")
        )
        assert services[name]["environment"]["KGTWIN_GRAPH_URL"].startswith("neo4j://")
    for backend in ("neo4j", "influxdb", "mosquitto"):
        assert "healthcheck" in services[backend], backend


@pytest.mark.parametrize("config", ["deploy/mosquitto/mosquitto.conf", "tests/servers/mosquitto_server.py"])
def test_every_shipped_mosquitto_config_sets_queue_limits(config: str) -> None:
    text = (ROOT / config).read_text()
    assert "max_queued_messages 0" in text
    assert "max_queued_bytes" in text
