"""Real kgtwin processes serving the ADT surface over TLS, for Microsoft's own SDKs.

``adt`` yields, in turn, ``kgtwin serve`` on its embedded defaults (FalkorDB, DuckDB, the
embedded broker) and ``kgtwin api`` on the session's real Neo4j, InfluxDB and Mosquitto
servers: the same SDK suite runs against both. Each process serves https with a
certificate of a throw-away CA (``tests.adt.tls``), requires API keys, and has an admin
key and a viewer key made with ``kgtwin keys create`` before it started.
"""

from __future__ import annotations

import os
import signal
import ssl
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from azure.core.credentials import AccessToken

from graph.store import GraphStore
from tests.adt.tls import TestCertificates, make_certificates
from tests.conftest import InfluxTarget
from tests.foundation.conftest import KGTWIN
from tests.servers.process import free_port


class ApiKeyCredential:
    """What the SDKs call for a token: a kgtwin API key, handed over as the bearer token."""

    def __init__(self, key: str) -> None:
        self.key = key

    def get_token(self, *scopes: str, **kwargs: object) -> AccessToken:
        return AccessToken(self.key, int(time.time()) + 3600)


@dataclass
class AdtServer:
    """A running kgtwin process and how to reach it."""

    engine: str
    base: str
    admin_key: str
    viewer_key: str
    ca: Path
    broker: tuple[str, int]
    folder: Path
    process: subprocess.Popen[bytes]
    log: Path

    @property
    def endpoint(self) -> str:
        """The ADT endpoint an SDK is given."""
        return f"{self.base}/adt"

    def http(self, key: str | None = None) -> httpx.Client:
        """An https client trusting the test CA, authenticated with ``key`` (the admin key by default)."""
        return httpx.Client(
            base_url=self.base,
            verify=ssl.create_default_context(cafile=self.ca),
            headers={"Authorization": f"Bearer {key or self.admin_key}"},
            timeout=30,
        )

    def stop(self) -> str:
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        return self.log.read_text()


@pytest.fixture(scope="session")
def certificates(tmp_path_factory: pytest.TempPathFactory) -> TestCertificates:
    return make_certificates(tmp_path_factory.mktemp("tls"))


def _environment(extra: dict[str, str]) -> dict[str, str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith("KGTWIN_")}
    return {**base, **extra}


def _key(folder: Path, env: dict[str, str], name: str, role: str) -> str:
    done = subprocess.run(
        [KGTWIN, "keys", "create", name, "--role", role],
        cwd=folder,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.strip().splitlines()[0]


def start_server(
    engine: str,
    command: str,
    folder: Path,
    certificates: TestCertificates,
    settings: dict[str, str],
    broker: tuple[str, int],
    keys: tuple[str, str] | None = None,
) -> AdtServer:
    """Make the keys (unless ``keys``, an admin and a viewer key made before, are given), start
    ``kgtwin <command>`` with TLS and API keys, wait until it answers."""
    port = free_port()
    env = _environment(
        {
            "KGTWIN_PORT": str(port),
            "KGTWIN_API_KEYS": "true",
            "KGTWIN_TLS_CERT_FILE": str(certificates.cert),
            "KGTWIN_TLS_KEY_FILE": str(certificates.key),
            "KGTWIN_RATE_LIMIT_PER_SECOND": "0",
            "KGTWIN_LOG_LEVEL": "info",
            **settings,
        }
    )
    if keys is None:
        keys = (_key(folder, env, "sdk-admin", "admin"), _key(folder, env, "sdk-viewer", "viewer"))
    admin, viewer = keys
    log = folder / f"{command}.log"
    with log.open("ab") as out:
        process = subprocess.Popen([KGTWIN, command], cwd=folder, env=env, stdout=out, stderr=out)
    server = AdtServer(
        engine, f"https://127.0.0.1:{port}", admin, viewer, certificates.ca, broker, folder, process, log
    )
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"kgtwin {command} exited with {process.returncode}:\n{log.read_text()}")
        try:
            trust = ssl.create_default_context(cafile=certificates.ca)
            if httpx.get(f"{server.base}/readyz", verify=trust, timeout=2).status_code == 200:
                return server
        except httpx.TransportError:
            pass
        time.sleep(0.3)
    server.stop()
    pytest.fail(f"kgtwin {command} did not become ready:\n{log.read_text()}")


@pytest.fixture(scope="module")
def serve_server(
    tmp_path_factory: pytest.TempPathFactory, certificates: TestCertificates
) -> Iterator[AdtServer]:
    """``kgtwin serve``: FalkorDB, DuckDB and the embedded broker, in one process."""
    folder = tmp_path_factory.mktemp("adt-serve")
    broker_port = free_port()
    settings = {"KGTWIN_BROKER_URL": f"embedded://127.0.0.1:{broker_port}", "KGTWIN_DEMO_INTERVAL_S": "60"}
    server = start_server("falkordb", "serve", folder, certificates, settings, ("127.0.0.1", broker_port))
    yield server
    output = server.stop()
    assert "Traceback" not in output, output


@pytest.fixture(scope="module")
def neo4j_server(
    tmp_path_factory: pytest.TempPathFactory,
    certificates: TestCertificates,
    neo4j_url: str,
    neo4j_store: GraphStore,
    influx: InfluxTarget,
    mqtt_url: str,
) -> Iterator[AdtServer]:
    """``kgtwin api`` on the session's Neo4j, InfluxDB and Mosquitto (the graph wiped first)."""
    neo4j_store.write("MATCH (n) DETACH DELETE n")
    folder = tmp_path_factory.mktemp("adt-api")
    host, _, port = mqtt_url.removeprefix("mqtt://").rpartition(":")
    settings = {
        "KGTWIN_GRAPH_URL": neo4j_url,
        "KGTWIN_TELEMETRY_URL": influx.kgtwin_url,
        "KGTWIN_BROKER_URL": mqtt_url,
    }
    server = start_server("neo4j", "api", folder, certificates, settings, (host, int(port)))
    yield server
    output = server.stop()
    assert "Traceback" not in output, output


@pytest.fixture(scope="module", params=["serve", pytest.param("neo4j", marks=pytest.mark.neo4j)])
def adt(request: pytest.FixtureRequest) -> AdtServer:
    """Each kgtwin process in turn."""
    server: AdtServer = request.getfixturevalue(f"{request.param}_server")
    return server
