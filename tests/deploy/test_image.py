"""The container image, built from the Dockerfile with podman and run for real.

The base image (a Debian root file system with Python >= 3.12, see
tests/servers/container/build-base.sh) is made by the provisioning, since no registry is
reachable; the build fetches kgtwin's dependencies from the package index as any build
would. The container runs the edge profile (`kgtwin serve --demo`) on a read-only root
with its data on a named volume, the way the Helm chart's edge pod runs it.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.conftest import unavailable
from tests.servers.process import CACHE_DIR, free_port

ROOT = Path(__file__).resolve().parents[2]
pytestmark = [pytest.mark.podman, pytest.mark.timeout(1800)]

IMAGE = "localhost/kgtwin:test"
BASE_IMAGE_FILE = CACHE_DIR / "container" / "image"
# Podman on these machines refuses the host's open-file and process limits inside a container.
ULIMITS = ("--ulimit", "nofile=1024:1024", "--ulimit", "nproc=1024:1024")
# A CA bundle given to the build stage only (for a package index behind a TLS-inspecting proxy).
BUILD_CA = "/run/kgtwin-build/ca.pem"
# The demo twin's rooms; `serve --demo` imports them before it serves.
ROOM_MODEL = "dtmi:kgtwin:space:Room;1"
START_TIMEOUT_S = 180.0


def podman(*args: str, timeout: float = 120, check: bool = True) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(["podman", *args], capture_output=True, text=True, check=False, timeout=timeout)
    if check:
        assert result.returncode == 0, f"podman {' '.join(args)}:\n{result.stderr[-3000:]}"
    return result


def pip_build_args() -> list[str]:
    """Hand this machine's package index settings to the build stage, and nothing else.

    The CA bundle pip trusts here (PIP_CERT, or pip's own configuration) is mounted for the
    build and named by the build argument PIP_CERT, which only the build stage declares.
    """
    args: list[str] = []
    cert = os.environ.get("PIP_CERT") or _pip_config("global.cert")
    if cert and Path(cert).is_file():
        args += ["--volume", f"{cert}:{BUILD_CA}:ro", "--build-arg", f"PIP_CERT={BUILD_CA}"]
    index = os.environ.get("PIP_INDEX_URL") or _pip_config("global.index-url")
    if index:
        args += ["--build-arg", f"PIP_INDEX_URL={index}"]
    return args


def _pip_config(key: str) -> str | None:
    result = subprocess.run(
        [sys.executable, "-m", "pip", "config", "get", key], capture_output=True, text=True, check=False
    )
    return result.stdout.strip() or None if result.returncode == 0 else None


@dataclass(frozen=True)
class BuiltImage:
    name: str
    size_bytes: int
    build_seconds: float
    inspect: dict[str, object]


@pytest.fixture(scope="module")
def kgtwin_image(request: pytest.FixtureRequest) -> BuiltImage:
    """The image built from the working tree on the provisioned base (layers cached by podman)."""
    if shutil.which("podman") is None:
        unavailable("podman not installed: apt-get install podman buildah")
    if not BASE_IMAGE_FILE.is_file():
        unavailable("the container base image is not provisioned: run tests/servers/provision.sh")
    base = BASE_IMAGE_FILE.read_text().strip()
    if podman("image", "exists", base, check=False).returncode != 0:
        unavailable(f"base image {base} is not in podman's storage: run tests/servers/provision.sh")
    previous = podman("image", "inspect", "--format", "{{.Id}}", IMAGE, check=False).stdout.strip()
    started = time.monotonic()
    podman(
        "build",
        "--format",
        "docker",
        "--layers",
        "--network",
        "host",
        *ULIMITS,
        "--build-arg",
        f"PYTHON_IMAGE={base}",
        *pip_build_args(),
        "--tag",
        IMAGE,
        "--file",
        str(ROOT / "Dockerfile"),
        str(ROOT),
        timeout=1500,
    )
    seconds = time.monotonic() - started
    (inspect,) = json.loads(podman("image", "inspect", IMAGE).stdout)
    if previous and previous != inspect["Id"]:
        # The last run's image, now untagged: its layers would pile up run after run.
        podman("rmi", previous, check=False)
    image = BuiltImage(IMAGE, int(inspect["Size"]), seconds, inspect)
    reporter = request.config.pluginmanager.get_plugin("terminalreporter")
    if reporter is not None:
        reporter.write_line(f"\n{IMAGE}: {image.size_bytes / 1e6:.0f} MB on {base}, built in {seconds:.0f} s")
    return image


def run_in_image(*args: str, entrypoint: str | None = None) -> subprocess.CompletedProcess[str]:
    options = ["--entrypoint", entrypoint] if entrypoint else []
    return podman("run", "--rm", *ULIMITS, "--network", "none", *options, IMAGE, *args)


def test_image_runs_as_an_unprivileged_user(kgtwin_image: BuiltImage) -> None:
    config = kgtwin_image.inspect["Config"]
    assert isinstance(config, dict)
    assert config["User"] == "10001:10001"
    assert run_in_image("-u", entrypoint="id").stdout.strip() == "10001"


def test_image_keeps_no_build_tools_or_build_secrets(kgtwin_image: BuiltImage) -> None:
    config = kgtwin_image.inspect["Config"]
    assert isinstance(config, dict)
    assert config["Entrypoint"] == ["kgtwin"]
    assert not [env for env in config["Env"] if env.startswith("PIP_")]
    history = podman("history", "--no-trunc", "--format", "{{.CreatedBy}}", IMAGE).stdout
    assert "PIP_CERT" not in history
    assert BUILD_CA not in history
    # No wheels, no pip and no compiler in the runtime stage.
    probe = run_in_image(
        "-c",
        "import importlib.util, os, shutil; print(importlib.util.find_spec('pip') is None,"
        " os.path.exists('/wheels'), shutil.which('gcc') is None, shutil.which('cc') is None)",
        entrypoint="/opt/kgtwin/bin/python",
    )
    assert probe.stdout.split() == ["True", "False", "True", "True"]


def test_image_size_stays_within_its_budget(kgtwin_image: BuiltImage) -> None:
    # 509 MB when this was written: a 125 MB Debian base, the rest the virtual environment,
    # mostly the dependencies (DuckDB, FalkorDB's redis-server, numpy, dask, the drivers).
    assert kgtwin_image.size_bytes < 700_000_000


def test_the_command_picks_the_service(kgtwin_image: BuiltImage) -> None:
    help_text = run_in_image("--help").stdout
    for command in ("serve", "api", "ingest", "worker"):
        assert command in help_text
    assert kgtwin_image.inspect["Config"]["Cmd"] == ["serve"]  # type: ignore[index]


@dataclass
class RunningTwin:
    container: str
    url: str
    api_key: str


@pytest.fixture(scope="module")
def running_twin(kgtwin_image: BuiltImage) -> Iterator[RunningTwin]:
    """`kgtwin serve --demo` in a container: read-only root, data on a named volume."""
    suffix = secrets.token_hex(4)
    container, volume = f"kgtwin-test-{suffix}", f"kgtwin-test-data-{suffix}"
    port = free_port()
    podman("volume", "create", volume)
    try:
        podman(
            "run",
            "--detach",
            "--name",
            container,
            *ULIMITS,
            "--read-only",
            "--tmpfs",
            "/tmp",
            "--volume",
            f"{volume}:/var/lib/kgtwin/data",
            "--publish",
            f"127.0.0.1:{port}:8000",
            "--env",
            "KGTWIN_API_KEYS=true",
            kgtwin_image.name,
            "serve",
            "--demo",
        )
        url = f"http://127.0.0.1:{port}"
        _wait_until_healthy(container, url)
        # The documented way to make the first key: a second process in the running container.
        key = podman(
            "exec", container, "kgtwin", "keys", "create", "tests", "--role", "viewer"
        ).stdout.strip()
        assert key.startswith("kgt_")
        yield RunningTwin(container, url, key)
    finally:
        podman("rm", "--force", "--time", "5", container, check=False)
        podman("volume", "rm", "--force", volume, check=False)


def _wait_until_healthy(container: str, url: str) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        state = podman("inspect", "--format", "{{.State.Status}}", container, check=False).stdout.strip()
        if state not in {"running", "created", "configured"}:
            pytest.fail(f"container {state}:\n{podman('logs', container, check=False).stderr[-3000:]}")
        try:
            if httpx.get(f"{url}/healthz", timeout=2.0).status_code == httpx.codes.OK:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.5)
    pytest.fail(
        f"no /healthz within {START_TIMEOUT_S} s:\n{podman('logs', container, check=False).stderr[-3000:]}"
    )


def test_running_container_answers_health_and_readiness(running_twin: RunningTwin) -> None:
    assert httpx.get(f"{running_twin.url}/healthz", timeout=10).status_code == httpx.codes.OK
    ready = httpx.get(f"{running_twin.url}/readyz", timeout=10)
    assert ready.status_code == httpx.codes.OK, ready.text


def test_running_container_answers_a_graphql_query(running_twin: RunningTwin) -> None:
    query = {
        "query": f'{{ twins(model: "{ROOM_MODEL}", first: 3) {{ totalCount edges {{ node {{ id }} }} }} }}'
    }
    refused = httpx.post(f"{running_twin.url}/graphql", json=query, timeout=30)
    assert refused.status_code == httpx.codes.UNAUTHORIZED
    answer = httpx.post(
        f"{running_twin.url}/graphql", json=query, headers={"X-API-Key": running_twin.api_key}, timeout=30
    )
    assert answer.status_code == httpx.codes.OK, answer.text
    body = answer.json()
    assert "errors" not in body, body
    twins = body["data"]["twins"]
    assert twins["totalCount"] > 3
    assert len(twins["edges"]) == 3


def test_the_images_healthcheck_reports_the_running_service_healthy(running_twin: RunningTwin) -> None:
    result = podman("healthcheck", "run", running_twin.container, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    status = podman("inspect", "--format", "{{.State.Health.Status}}", running_twin.container).stdout.strip()
    assert status == "healthy"


def test_sigterm_stops_the_container_cleanly(running_twin: RunningTwin) -> None:
    # Last in this module: it stops the shared container.
    started = time.monotonic()
    podman("stop", "--time", "30", running_twin.container, timeout=60)
    stopped_in = time.monotonic() - started
    exit_code = podman("inspect", "--format", "{{.State.ExitCode}}", running_twin.container).stdout.strip()
    assert exit_code == "0", podman("logs", running_twin.container, check=False).stderr[-3000:]
    assert stopped_in < 30, "the service waited for SIGKILL"
