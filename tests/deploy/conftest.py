"""The chart, its values profiles, and the tools that render and check them."""

from __future__ import annotations

import copy
import functools
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import unavailable
from tests.servers.kubernetes_server import KubeApiServer, kube_tool, start_kube_apiserver
from tests.servers.process import ServerUnavailable

ROOT = Path(__file__).resolve().parents[2]
CHART = ROOT / "deploy" / "helm" / "kgtwin"
PROFILES = ("minimal", "production", "edge")
# Settings whose names the lead fixed for the operations work (health port of ingest and
# worker, API worker processes, shutdown grace); the chart relies on them already.
CONTRACT_SETTINGS = {"KGTWIN_HEALTH_PORT", "KGTWIN_API_WORKERS", "KGTWIN_SHUTDOWN_GRACE_S"}

Manifest = dict[str, Any]


def values_file(profile: str) -> Path:
    return CHART / f"values-{profile}.yaml"


@pytest.fixture(scope="session")
def helm() -> Path:
    """The helm binary built by the provisioning."""
    try:
        return kube_tool("helm")
    except ServerUnavailable as exc:
        unavailable(str(exc))
        raise


@pytest.fixture(scope="session")
def kube_apiserver(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KubeApiServer]:
    """A real kube-apiserver on etcd (validation, defaulting, admission; no nodes)."""
    try:
        server = start_kube_apiserver(tmp_path_factory.mktemp("kubernetes"))
    except ServerUnavailable as exc:
        unavailable(str(exc))
        raise
    try:
        yield server
    finally:
        server.stop()


def run_helm(helm: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(helm), *args], capture_output=True, text=True, check=False, timeout=120)


def render(helm: Path, profile: str, *overrides: str, release: str = "kgtwin") -> list[Manifest]:
    """``helm template`` of one profile, with ``--set`` overrides, as a list of objects.

    Each rendering is made once per session (helm takes about a second); callers get
    their own copy to change.
    """
    return copy.deepcopy(_render(helm, profile, overrides, release))


@functools.cache
def _render(helm: Path, profile: str, overrides: tuple[str, ...], release: str) -> list[Manifest]:
    sets = [arg for override in overrides for arg in ("--set", override)]
    result = run_helm(
        helm, "template", release, str(CHART), "--namespace", "twin", "-f", str(values_file(profile)), *sets
    )
    assert result.returncode == 0, result.stderr
    return [doc for doc in yaml.safe_load_all(result.stdout) if doc]


def find(manifests: list[Manifest], kind: str, name: str) -> Manifest:
    found = [m for m in manifests if m["kind"] == kind and m["metadata"]["name"] == name]
    assert len(found) == 1, f"{kind}/{name} in {[(m['kind'], m['metadata']['name']) for m in manifests]}"
    return found[0]


def containers(manifests: list[Manifest]) -> list[Manifest]:
    """Every container of every workload."""
    return [
        container
        for m in manifests
        if m["kind"] in {"Deployment", "StatefulSet"}
        for container in m["spec"]["template"]["spec"]["containers"]
    ]


def env_of(container: Manifest) -> dict[str, Manifest]:
    return {entry["name"]: entry for entry in container.get("env", [])}
