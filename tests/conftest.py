"""Session fixtures: the real test servers, and where the shared reference material is.

Each server fixture starts its server once per test session on a free loopback port with
temporary data, or uses the server named by ``KGTWIN_TEST_NEO4J_URL``,
``KGTWIN_TEST_INFLUX_URL`` or ``KGTWIN_TEST_MQTT_URL`` (for example a ``docker compose``
stack on a laptop). A server that is not provisioned skips its tests with one line saying
how to get it; under CI (``CI=true``) it fails them instead, so CI cannot go green by
skipping.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from graph.falkordb import FalkorGraphStore
from graph.neo4j import Neo4jGraphStore
from tests.servers.process import ServerUnavailable

IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}
SHARED = Path(__file__).resolve().parents[1].parent / "shared"


def unavailable(reason: str) -> None:
    """Skip locally, fail under CI."""
    if IN_CI:
        pytest.fail(f"{reason} (CI=true: a missing test server fails the run)")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    """``../shared`` beside the checkout: the DTDL specs and real ontologies."""
    if not SHARED.is_dir():
        unavailable(f"reference material not found at {SHARED}")
    return SHARED


@dataclass(frozen=True)
class InfluxTarget:
    """An InfluxDB 2 server the tests may write to."""

    url: str
    token: str
    org: str
    bucket: str

    @property
    def kgtwin_url(self) -> str:
        """The server as kgtwin's telemetry setting spells it."""
        host = self.url.split("://", 1)[1]
        return f"influxdb://{self.token}@{host}?org={self.org}&bucket={self.bucket}"


@pytest.fixture(scope="session")
def neo4j_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A Bolt URL of a real Neo4j 5 server with auth disabled."""
    if url := os.environ.get("KGTWIN_TEST_NEO4J_URL"):
        yield url
        return
    from tests.servers.neo4j_server import start_neo4j

    try:
        server = start_neo4j(tmp_path_factory.mktemp("neo4j"))
    except ServerUnavailable as exc:
        unavailable(str(exc))
    try:
        yield server.url
    finally:
        server.stop()


@pytest.fixture(scope="session")
def influx(tmp_path_factory: pytest.TempPathFactory) -> Iterator[InfluxTarget]:
    """A real InfluxDB 2 server, onboarded, with a token, an org and a bucket."""
    if url := os.environ.get("KGTWIN_TEST_INFLUX_URL"):
        from kgtwin.backends import parse_telemetry_url
        from kgtwin.urls import InfluxUrl

        parsed = parse_telemetry_url(url)
        assert isinstance(parsed, InfluxUrl), (
            "KGTWIN_TEST_INFLUX_URL must be influxdb://<token>@host:port?org=&bucket="
        )
        yield InfluxTarget(parsed.url, parsed.token, parsed.org, parsed.bucket)
        return
    from tests.servers.influxdb_server import start_influxdb

    try:
        server = start_influxdb(tmp_path_factory.mktemp("influxdb"))
    except ServerUnavailable as exc:
        unavailable(str(exc))
    try:
        yield InfluxTarget(server.url, server.token, server.org, server.bucket)
    finally:
        server.stop()


@pytest.fixture(scope="session")
def mqtt_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """An ``mqtt://host:port`` URL of a real Mosquitto 2 broker."""
    if url := os.environ.get("KGTWIN_TEST_MQTT_URL"):
        yield url
        return
    from tests.servers.mosquitto_server import start_mosquitto

    try:
        server = start_mosquitto(tmp_path_factory.mktemp("mosquitto"))
    except ServerUnavailable as exc:
        unavailable(str(exc))
    try:
        yield server.url
    finally:
        server.stop()


# One store per engine for the whole session, shared by the graph, API and simulation
# suites (each of their fixtures wipes the graph first): stopping an embedded
# redis-server costs about 4 s, too much to pay per test or per suite.
@pytest.fixture(scope="session")
def falkordb_store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FalkorGraphStore]:
    """One embedded FalkorDB for the session."""
    backend = FalkorGraphStore(tmp_path_factory.mktemp("falkordb"))
    try:
        yield backend
    finally:
        backend.close()


@pytest.fixture(scope="session")
def neo4j_store(neo4j_url: str) -> Iterator[Neo4jGraphStore]:
    """One driver to the session's Neo4j server."""
    backend = Neo4jGraphStore(neo4j_url)
    try:
        yield backend
    finally:
        backend.close()
