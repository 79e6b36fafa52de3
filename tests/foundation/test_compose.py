"""The compose stack is valid for Docker users, checked without a Docker engine."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from kgtwin.cli import app
from kgtwin.settings import ENV_PREFIX, Settings
from tests.conftest import unavailable
from tests.deploy.conftest import CONTRACT_SETTINGS

ROOT = Path(__file__).resolve().parents[2]
KGTWIN_SERVICES = ("api", "ingest", "worker")


@pytest.fixture(scope="module")
def compose_config() -> dict[str, Any]:
    """``docker-compose config``: the file as Docker reads it, anchors and merges resolved."""
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
    config: dict[str, Any] = yaml.safe_load(result.stdout)
    return config


def test_docker_compose_config_is_valid(compose_config: dict[str, Any]) -> None:
    services = compose_config["services"]
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


def test_compose_services_run_kgtwin_commands_with_real_settings(compose_config: dict[str, Any]) -> None:
    commands = {
        command.name or command.callback.__name__ for command in app.registered_commands if command.callback
    }
    known = {f"{ENV_PREFIX}{name.upper()}" for name in Settings.model_fields} | CONTRACT_SETTINGS
    for name in KGTWIN_SERVICES:
        service = compose_config["services"][name]
        assert service["command"][0] in commands, name
        variables = set(service["environment"])
        assert variables <= known, variables - known
        # The service gets its shutdown grace before Docker's SIGKILL.
        grace = service["stop_grace_period"]
        assert grace.endswith("s")
        assert int(service["environment"]["KGTWIN_SHUTDOWN_GRACE_S"]) < int(grace.removesuffix("s"))


def test_compose_ingest_spool_is_on_its_volume(compose_config: dict[str, Any]) -> None:
    ingest = compose_config["services"]["ingest"]
    spool = ingest["environment"]["KGTWIN_INGEST_SPOOL_DIR"]
    # docker-compose 1.x prints each volume as source:target:mode.
    targets = {volume.split(":")[1] for volume in ingest["volumes"]}
    assert spool in targets


@pytest.mark.parametrize("config", ["deploy/mosquitto/mosquitto.conf", "tests/servers/mosquitto_server.py"])
def test_every_shipped_mosquitto_config_sets_queue_limits(config: str) -> None:
    text = (ROOT / config).read_text()
    assert "max_queued_messages 0" in text
    assert "max_queued_bytes" in text
