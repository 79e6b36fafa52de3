"""Fixtures of the HTTP suite: real ``kgtwin serve`` processes, and the Node clients that call them.

``serve`` starts one ``kgtwin serve`` on embedded defaults per test module (auth off, on
loopback, as ``make run`` does); ``serve_with_keys`` starts one with API keys on, after
creating an admin key and a viewer key with ``kgtwin keys create`` in its data folder. The
Node packages (graphql-http's audit, the graphql-ws client) are installed by
``tests/servers/provision.sh`` from ``tests/http/package-lock.json`` into the test-servers
cache; without them the tests that need them skip (fail under CI).
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from tests.conftest import unavailable
from tests.foundation.conftest import KGTWIN
from tests.servers.process import CACHE_DIR, free_port

HERE = Path(__file__).resolve().parent
NODE_MODULES = Path(os.environ.get("KGTWIN_TEST_NODE_MODULES", CACHE_DIR / "node" / "http" / "node_modules"))


@dataclass
class Served:
    """A running ``kgtwin serve``: its base URL, its keys (when auth is on) and its log."""

    url: str
    process: subprocess.Popen[bytes]
    log: Path
    keys: dict[str, str] = field(default_factory=dict)

    @property
    def ws_url(self) -> str:
        return self.url.replace("http://", "ws://", 1) + "/graphql"

    def log_text(self) -> str:
        return self.log.read_text(errors="replace")


def _clean_env(extra: Mapping[str, str]) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("KGTWIN_")}
    return {**env, **extra}


def _create_key(folder: Path, env: Mapping[str, str], name: str, role: str) -> str:
    done = subprocess.run(
        [KGTWIN, "keys", "create", name, "--role", role],
        cwd=folder,
        env=dict(env),
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return done.stdout.strip().splitlines()[0]


def start_serve(
    folder: Path, settings: Mapping[str, str] | None = None, keys: Mapping[str, str] | None = None
) -> Served:
    """Start ``kgtwin serve`` in ``folder`` with these ``KGTWIN_*`` settings; keys made first (name: role)."""
    port, broker_port = free_port(), free_port()
    env = _clean_env(
        {
            "KGTWIN_PORT": str(port),
            "KGTWIN_BROKER_URL": f"embedded://127.0.0.1:{broker_port}",
            "KGTWIN_LOG_LEVEL": "warning",
            **(settings or {}),
        }
    )
    made = {name: _create_key(folder, env, name, role) for name, role in (keys or {}).items()}
    log = folder / "serve.log"
    with log.open("wb") as out:
        process = subprocess.Popen([KGTWIN, "serve"], cwd=folder, env=env, stdout=out, stderr=out)
    served = Served(f"http://127.0.0.1:{port}", process, log, made)
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"kgtwin serve exited with {process.returncode}:\n{served.log_text()}")
        try:
            if httpx.get(f"{served.url}/readyz", timeout=2).status_code == 200:
                return served
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    stop_serve(served)
    raise AssertionError(f"kgtwin serve was not ready within 90 s:\n{served.log_text()}")


def stop_serve(served: Served) -> None:
    """SIGTERM and wait, as an operator stops it; SIGKILL if it hangs."""
    if served.process.poll() is None:
        served.process.send_signal(signal.SIGTERM)
        try:
            served.process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            served.process.kill()
            served.process.wait()


@pytest.fixture(scope="module")
def serve(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """``kgtwin serve`` on embedded defaults, auth off on loopback."""
    served = start_serve(tmp_path_factory.mktemp("serve"))
    try:
        yield served
    finally:
        stop_serve(served)


@pytest.fixture(scope="module")
def serve_with_keys(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """``kgtwin serve`` with API keys required; ``keys["admin"]`` and ``keys["viewer"]``."""
    served = start_serve(
        tmp_path_factory.mktemp("serve-keys"),
        {"KGTWIN_API_KEYS": "true", "KGTWIN_WS_INIT_TIMEOUT_S": "1.5", "KGTWIN_RATE_LIMIT_PER_SECOND": "0"},
        keys={"admin": "admin", "viewer": "viewer"},
    )
    try:
        yield served
    finally:
        stop_serve(served)


@pytest.fixture(scope="session")
def node_modules() -> Path:
    """The Node packages of ``tests/http/package.json``, as ``tests/servers/provision.sh`` installs them."""
    if shutil.which("node") is None:
        unavailable("node is not installed (Node 20 or later)")
    for package in ("graphql-http", "graphql-ws", "ws"):
        if not (NODE_MODULES / package / "package.json").is_file():
            unavailable(f"{package} is not installed in {NODE_MODULES}: run tests/servers/provision.sh")
    return NODE_MODULES


def run_node(node_modules: Path, script: str, *args: str, timeout: float = 120) -> str:
    """Run one of this folder's Node scripts with the installed packages; its stdout."""
    done = subprocess.run(
        ["node", str(HERE / script), *args],
        env={**os.environ, "NODE_PATH": str(node_modules)},
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout
