"""A real ``kgtwin serve`` edge behind a real network link that the test cuts, and a real cloud.

The edge runs in a Linux network namespace of its own (``ip netns add``), joined to the
host by a veth pair with addresses only on that pair; the cloud half (Mosquitto on the
pair's host address, ``kgtwin uplink-receiver`` on the session's Neo4j and InfluxDB) runs
in the host namespace, where the test servers are. ``ip link set ... down`` cuts the link.

One run walks the issue's story: steady state equal; the link cut while the demo's
devices publish and an operator adds a twin to the site (the edge's GraphQL keeps answering);
the edge SIGKILLed during the cut and started again; the link restored: every point
the edge stored is in the cloud exactly once and the site's graph is equal.
"""

from __future__ import annotations

import getpass
import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from graph.falkordb import FalkorGraphStore
from graph.neo4j import Neo4jGraphStore
from graph.sites import SiteMarks, outgoing_relationships, site_twins
from kgtwin.demo import DemoTwin, demo_elements
from ontology.base import base_model_set
from telemetry.duckdb import DuckDbTelemetryStore
from telemetry.influx import InfluxTelemetryStore
from telemetry.refs import default_ref
from tests.conftest import InfluxTarget
from tests.servers.mosquitto_server import mosquitto_binary
from tests.servers.process import ServerProcess, ServerUnavailable, free_port, launch
from tests.uplink.harness import wait_for

pytestmark = [pytest.mark.neo4j, pytest.mark.influxdb, pytest.mark.mosquitto]

KGTWIN = str(Path(sys.executable).with_name("kgtwin"))
SITE = "site-demo"
ROOMS = [e.id for e in demo_elements() if isinstance(e, DemoTwin) and e.id.startswith("room-a1")]
ROOM = "dtmi:kgtwin:space:Room;1"


def _ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True)


@pytest.fixture
def link() -> Iterator[tuple[str, str, str, str]]:
    """An "edge" namespace and a veth pair to the host: (namespace, host device, host ip, edge ip)."""
    if os.geteuid() != 0 or shutil.which("ip") is None:
        pytest.skip("network namespaces need root and iproute2 (ip)")
    tag = uuid.uuid4().hex[:6]
    namespace, host_dev, edge_dev = f"kgtw-edge-{tag}", f"kgh{tag}", f"kge{tag}"
    octet = int(tag[:2], 16) % 250 + 1
    host_ip, edge_ip = f"10.231.{octet}.1", f"10.231.{octet}.2"
    try:
        _ip("netns", "add", namespace)
    except subprocess.CalledProcessError as exc:
        pytest.skip(f"cannot create a network namespace here: {exc.stderr.decode().strip()}")
    try:
        _ip("link", "add", host_dev, "type", "veth", "peer", "name", edge_dev)
        _ip("link", "set", edge_dev, "netns", namespace)
        _ip("addr", "add", f"{host_ip}/30", "dev", host_dev)
        _ip("link", "set", host_dev, "up")
        _ip("netns", "exec", namespace, "ip", "addr", "add", f"{edge_ip}/30", "dev", edge_dev)
        _ip("netns", "exec", namespace, "ip", "link", "set", edge_dev, "up")
        _ip("netns", "exec", namespace, "ip", "link", "set", "lo", "up")
        yield namespace, host_dev, host_ip, edge_ip
    finally:
        subprocess.run(["ip", "link", "del", host_dev], capture_output=True)
        subprocess.run(["ip", "netns", "del", namespace], capture_output=True)


def _mosquitto(workdir: Path, host_ip: str) -> tuple[ServerProcess, int, int]:
    """A broker on loopback (for the receiver) and on the veth address (for the edge)."""
    try:
        binary = mosquitto_binary()
    except ServerUnavailable as exc:
        pytest.skip(str(exc))
    (workdir / "data").mkdir(parents=True)
    local, remote = free_port(), free_port()
    config = workdir / "mosquitto.conf"
    config.write_text(
        f"listener {local} 127.0.0.1\nlistener {remote} {host_ip}\nallow_anonymous true\n"
        f"user {getpass.getuser()}\npersistence true\npersistence_location {workdir / 'data'}/\n"
        "max_queued_messages 0\nmax_queued_bytes 0\nmax_inflight_messages 0\nlog_dest stdout\n"
    )
    process = launch("mosquitto", [binary, "-c", str(config)], workdir, local)
    process.wait_until_listening(timeout=15)
    return process, local, remote


class EdgeProcess:
    """``kgtwin serve --demo --uplink ... --site site-demo`` inside the edge namespace."""

    def __init__(self, namespace: str, folder: Path, uplink: str) -> None:
        self.namespace, self.folder = namespace, folder
        self.url = "http://127.0.0.1:8000"
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("KGTWIN_")}
        self.env |= {
            "KGTWIN_PORT": "8000",
            "KGTWIN_BROKER_URL": "embedded://127.0.0.1:1883",
            "KGTWIN_DEMO_INTERVAL_S": "0.1",
            "KGTWIN_UPLINK_URL": uplink,
            "KGTWIN_UPLINK_SITE": SITE,
            "KGTWIN_LOG_LEVEL": "info",
            "KGTWIN_SHUTDOWN_DRAIN_S": "0.2",
        }
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with (self.folder / "serve.log").open("a") as out:
            argv = ["ip", "netns", "exec", self.namespace, KGTWIN, "serve", "--demo"]
            self.process = subprocess.Popen(argv, cwd=self.folder, env=self.env, stdout=out, stderr=out)
        assert self.run_inside("ready", self.url).returncode == 0, self.log_tail()

    def run_inside(self, *args: str) -> subprocess.CompletedProcess[str]:
        argv = ["ip", "netns", "exec", self.namespace, sys.executable, "-m", "tests.uplink.edge_probe", *args]
        cwd = Path(__file__).parents[2]
        return subprocess.run(argv, cwd=cwd, env=self.env, capture_output=True, text=True, timeout=300)

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(sig)
            try:
                self.process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None

    def log_tail(self) -> str:
        return "\n".join((self.folder / "serve.log").read_text(errors="replace").splitlines()[-40:])

    def queue_state(self) -> tuple[int, int, bool]:
        """(messages waiting, last sequence, resync asked) read from the queue's file."""
        db = sqlite3.connect(self.folder / "data" / "uplink" / "queue.sqlite3", timeout=10)
        try:
            waiting = db.execute("SELECT count(*) FROM messages").fetchone()[0]
            last = db.execute("SELECT seq FROM sqlite_sequence WHERE name = 'messages'").fetchone()
            flag = db.execute("SELECT count(*) FROM flags WHERE name = 'resync'").fetchone()[0]
        finally:
            db.close()
        return int(waiting), int(last[0]) if last else 0, bool(flag)


def test_the_cloud_catches_up_exactly_once_after_a_cut_link_and_a_killed_edge(
    tmp_path: Path, link: tuple[str, str, str, str], neo4j_url: str, influx: InfluxTarget
) -> None:
    namespace, host_dev, host_ip, _ = link
    began = datetime.now(UTC)
    cloud_graph = Neo4jGraphStore(neo4j_url)
    cloud_graph.write("MATCH (n) DETACH DELETE n")
    bucket = influx.bucket  # shared: only this test's time window is compared
    broker, local_port, remote_port = _mosquitto(tmp_path / "mosquitto", host_ip)
    receiver_env = {k: v for k, v in os.environ.items() if not k.startswith("KGTWIN_")} | {
        "KGTWIN_GRAPH_URL": neo4j_url,
        "KGTWIN_TELEMETRY_URL": f"influxdb://{influx.token}@{influx.url.split('://', 1)[1]}"
        f"?org={influx.org}&bucket={bucket}",
        "KGTWIN_BROKER_URL": f"mqtt://127.0.0.1:{local_port}",
        "KGTWIN_UPLINK_RECEIVER_CLIENT_ID": f"receiver-{uuid.uuid4().hex[:8]}",
    }
    with (tmp_path / "receiver.log").open("w") as out:
        receiver = subprocess.Popen([KGTWIN, "uplink-receiver"], env=receiver_env, stdout=out, stderr=out)
    edge = EdgeProcess(namespace, tmp_path / "edge", f"mqtt://{host_ip}:{remote_port}")
    edge.folder.mkdir()
    marks = SiteMarks(cloud_graph)
    try:
        # The receiver's session exists before the edge sends.
        wait_for(
            lambda: (
                receiver.poll() is not None
                or "uplink_receiver.started" in (tmp_path / "receiver.log").read_text()
            ),
            timeout=60,
            what="the receiver",
        )
        assert receiver.poll() is None, (tmp_path / "receiver.log").read_text()
        edge.start()

        def caught_up() -> bool:
            waiting, last, resync = edge.queue_state()
            return not waiting and not resync and last > 0 and marks.high_water(SITE) >= last

        wait_for(lambda: marks.high_water(SITE) > 0, timeout=60, what="the first snapshot")
        # The cut: devices keep publishing at the edge, an operator adds a sensor to a room there.
        _ip("link", "set", host_dev, "down")
        cut_at = datetime.now(UTC)
        probe = edge.run_inside("probe", edge.url, "4", ROOMS[0])
        answer = json.loads(probe.stdout)
        assert not answer["errors"], answer
        latencies = sorted(answer["latencies_ms"])
        assert len(latencies) > 20
        assert latencies[len(latencies) // 2] < 250, latencies  # the edge answers while cut off
        assert edge.queue_state()[0] > 0  # the backlog waits on disk
        # SIGKILL during the cut, start again: what was acknowledged survives in its files.
        edge.stop(signal.SIGKILL)
        edge.start()
        time.sleep(2)  # devices publish into the restarted edge while still cut off
        restored_at = datetime.now(UTC)
        _ip("link", "set", host_dev, "up")
        wait_for(lambda: edge.queue_state()[0] < 20, timeout=60, what="the backlog to drain")
        edge.stop()  # the devices stop first, then the uplink sends what is left
        wait_for(caught_up, timeout=60, what="the last messages")
    finally:
        edge.stop(signal.SIGKILL)
        receiver.send_signal(signal.SIGTERM)
        receiver.wait(timeout=60)
        broker.stop()
    edge_graph = FalkorGraphStore(edge.folder / "data")
    edge_points = DuckDbTelemetryStore(edge.folder / "data" / "telemetry.duckdb")
    cloud_points = InfluxTelemetryStore(influx.url, influx.token, influx.org, bucket)
    try:
        models = base_model_set()
        edge_twins = {t.id: (t.model, t.properties) for t in site_twins(edge_graph, models, SITE)}
        cloud_twins = {t.id: (t.model, t.properties) for t in site_twins(cloud_graph, models, SITE)}
        assert cloud_twins == edge_twins
        assert edge_twins["probe-sensor"][1]["name"] == "added during the cut"
        edge_rels = {
            (r.source, r.id, r.name, r.target) for r in outgoing_relationships(edge_graph, edge_twins)
        }
        cloud_rels = {
            (r.source, r.id, r.name, r.target) for r in outgoing_relationships(cloud_graph, cloud_twins)
        }
        assert cloud_rels == edge_rels
        start, stop = began, datetime.now(UTC) + timedelta(hours=1)  # this run's points only
        during_cut = 0
        for room in ROOMS:
            ref = default_ref(models, ROOM, room)
            cloud_ref = type(ref)(ref.bucket, ref.measurement, {**ref.tags, "site": SITE}, ref.fields)
            mine = edge_points.query([ref], "temperature", start, stop)[0]
            theirs = cloud_points.query([cloud_ref], "temperature", start, stop)[0]
            assert [(s.time, s.value) for s in theirs] == [(s.time, s.value) for s in mine], room
            during_cut += sum(1 for sample in mine if cut_at <= sample.time <= restored_at)
        assert during_cut > 0  # points stored while the link was down (across the kill) arrived
    finally:
        edge_graph.close()
        edge_points.close()
        cloud_points.close()
        cloud_graph.close()
