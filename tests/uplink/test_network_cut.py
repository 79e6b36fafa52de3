"""An edge and a cloud in two network namespaces joined by one link, which the test cuts for two minutes.

The test makes two Linux network namespaces ("edge" and "cloud", ``ip netns add``) joined
by a veth pair whose addresses exist only inside them. In "cloud": Mosquitto,
``kgtwin uplink-receiver``, ``kgtwin api`` and ``kgtwin ingest``, on the session's Neo4j
and InfluxDB. Those test servers listen on the host's loopback only, so a second veth
pair joins "cloud" to the host namespace and a TCP relay process (``tests.uplink.relay``)
on its host end forwards to them; nothing in "cloud" reaches the edge link's far side
but the edge. In "edge": ``kgtwin serve --demo`` on embedded defaults (FalkorDB,
DuckDB, its embedded broker) with ``--uplink`` to the cloud's Mosquitto, and simulated
devices (``tests.uplink.devices``) publishing room readings at 500 messages/s.

One run walks the issue's story: steady state (the cloud holds the site; its API refuses
a change to it); ``ip link set ... down`` for two minutes while the devices publish and an
operator changes the site at the edge, the edge's GraphQL latency recorded against the
link-up baseline; the edge SIGKILLed near the end of the cut and started again; the link
restored: every reading the edge acknowledged, and every point it stored, is in the
cloud exactly once with its value, and the site's graph is equal on both sides.

``KGTWIN_TEST_CUT_S`` and ``KGTWIN_TEST_DEVICE_RATE`` shorten the cut or change the rate
when working on the test (defaults 120 and 500).
"""

from __future__ import annotations

import getpass
import json
import os
import shutil
import signal
import sqlite3
import statistics
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from graph.falkordb import FalkorGraphStore
from graph.neo4j import Neo4jGraphStore
from graph.sites import SiteMarks, outgoing_relationships, site_twins
from kgtwin.demo import DemoTwin, demo_elements
from ontology.base import base_model_set
from telemetry.duckdb import DuckDbTelemetryStore
from telemetry.influx import InfluxTelemetryStore
from telemetry.refs import default_ref
from tests.conftest import InfluxTarget, unavailable
from tests.servers.mosquitto_server import mosquitto_binary
from tests.servers.process import ServerUnavailable, free_port
from tests.uplink.harness import wait_for
from tests.uplink.netns_probe import RENAMED

pytestmark = [pytest.mark.neo4j, pytest.mark.influxdb, pytest.mark.mosquitto]

KGTWIN = str(Path(sys.executable).with_name("kgtwin"))
ROOT = Path(__file__).parents[2]
SITE = "site-demo"
ROOM = "dtmi:kgtwin:space:Room;1"
ROOMS = [e.id for e in demo_elements() if isinstance(e, DemoTwin) and e.model == ROOM]
CUT_S = float(os.environ.get("KGTWIN_TEST_CUT_S", "120"))
RATE = float(os.environ.get("KGTWIN_TEST_DEVICE_RATE", "500"))
BASELINE_S = 8.0
RESTART_S = 30.0
"""The edge is killed this long before the link comes back (its restart takes part of it)."""
API, INGEST_HEALTH, RECEIVER_HEALTH = 8000, 8001, 8002


def _ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True)


@dataclass(frozen=True)
class Network:
    """The namespaces and links of one run."""

    edge: str
    cloud: str
    cloud_dev: str
    """The cloud's end of the edge link: the one the test cuts."""
    cloud_ip: str
    """The cloud's address on the edge link (where the edge finds Mosquitto)."""
    host_ip: str
    """The host's address on the cloud's second link (where the relay listens)."""

    def inside(self, namespace: str, *argv: str) -> list[str]:
        return ["ip", "netns", "exec", namespace, *argv]


@pytest.fixture
def network() -> Iterator[Network]:
    if os.geteuid() != 0 or shutil.which("ip") is None:
        pytest.skip("network namespaces need root and iproute2 (ip)")
    tag = uuid.uuid4().hex[:6]
    edge, cloud = f"kgtw-edge-{tag}", f"kgtw-cloud-{tag}"
    octet = int(tag[:2], 16) % 250 + 1
    cloud_ip, edge_ip = f"10.231.{octet}.1", f"10.231.{octet}.2"
    host_ip, cloud_host_ip = f"10.232.{octet}.1", f"10.232.{octet}.2"
    made: list[str] = []
    try:
        for namespace in (edge, cloud):
            _ip("netns", "add", namespace)
            made.append(namespace)
    except subprocess.CalledProcessError as exc:
        for namespace in made:
            subprocess.run(["ip", "netns", "del", namespace], capture_output=True)
        pytest.skip(f"cannot create a network namespace here: {exc.stderr.decode().strip()}")
    host_dev = f"kgh{tag}"
    try:
        # The edge link: both ends inside the namespaces, addresses only there.
        _ip(
            "link",
            "add",
            f"kgc{tag}",
            "netns",
            cloud,
            "type",
            "veth",
            "peer",
            "name",
            f"kge{tag}",
            "netns",
            edge,
        )
        # The cloud's way to the test servers: its host end is where the relay listens.
        _ip("link", "add", host_dev, "type", "veth", "peer", "name", f"kgs{tag}", "netns", cloud)
        _ip("addr", "add", f"{host_ip}/30", "dev", host_dev)
        _ip("link", "set", host_dev, "up")
        for namespace, commands in (
            (
                edge,
                [("addr", "add", f"{edge_ip}/30", "dev", f"kge{tag}"), ("link", "set", f"kge{tag}", "up")],
            ),
            (
                cloud,
                [
                    ("addr", "add", f"{cloud_ip}/30", "dev", f"kgc{tag}"),
                    ("link", "set", f"kgc{tag}", "up"),
                    ("addr", "add", f"{cloud_host_ip}/30", "dev", f"kgs{tag}"),
                    ("link", "set", f"kgs{tag}", "up"),
                ],
            ),
        ):
            for command in [("link", "set", "lo", "up"), *commands]:
                _ip("netns", "exec", namespace, "ip", *command)
        yield Network(edge, cloud, f"kgc{tag}", cloud_ip, host_ip)
    finally:
        subprocess.run(["ip", "link", "del", host_dev], capture_output=True)
        for namespace in (edge, cloud):
            subprocess.run(["ip", "netns", "del", namespace], capture_output=True)


class Processes:
    """The processes of one run, each with its log file; all stopped at the end, whatever happened."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.running: dict[str, subprocess.Popen[bytes]] = {}

    def start(self, name: str, argv: list[str], env: dict[str, str], cwd: Path | None = None) -> None:
        with (self.folder / f"{name}.log").open("ab") as out:
            self.running[name] = subprocess.Popen(
                argv, cwd=cwd or self.folder, env=env, stdout=out, stderr=subprocess.STDOUT
            )

    def stop(self, name: str, sig: int = signal.SIGTERM, timeout: float = 60) -> int | None:
        process = self.running.pop(name, None)
        if process is None or process.poll() is not None:
            return None if process is None else process.returncode
        process.send_signal(sig)
        try:
            return process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            return process.wait()

    def check_alive(self, *names: str) -> None:
        for name in names:
            code = self.running[name].poll()
            assert code is None, f"{name} exited with {code}:\n{self.log(name)}"

    def log(self, name: str) -> str:
        path = self.folder / f"{name}.log"
        return "\n".join(path.read_text(errors="replace").splitlines()[-40:]) if path.exists() else ""

    def stop_all(self, timeout: float = 60) -> None:
        """Signal every process at once (the edge is killed), then wait for each."""
        running, self.running = self.running, {}
        for name, process in running.items():
            if process.poll() is None:
                process.send_signal(signal.SIGKILL if name == "edge" else signal.SIGTERM)
        deadline = time.monotonic() + timeout
        for process in running.values():
            try:
                process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def _environment(**settings: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("KGTWIN_")}
    return env | {"PYTHONPATH": str(ROOT)} | {f"KGTWIN_{k.upper()}": v for k, v in settings.items()}


def _probe(
    net: Network, namespace: str, *args: str, timeout: float = 400
) -> subprocess.CompletedProcess[str]:
    argv = net.inside(namespace, sys.executable, "-m", "tests.uplink.netns_probe", *args)
    return subprocess.run(argv, cwd=ROOT, env=_environment(), capture_output=True, text=True, timeout=timeout)


def _queue_state(folder: Path) -> tuple[int, int, bool]:
    """(messages waiting, last sequence, resync asked) read from the edge's queue file."""
    db = sqlite3.connect(folder / "data" / "uplink" / "queue.sqlite3", timeout=10)
    try:
        waiting = db.execute("SELECT count(*) FROM messages").fetchone()[0]
        last = db.execute("SELECT seq FROM sqlite_sequence WHERE name = 'messages'").fetchone()
        flag = db.execute("SELECT count(*) FROM flags WHERE name = 'resync'").fetchone()[0]
    finally:
        db.close()
    return int(waiting), int(last[0]) if last else 0, bool(flag)


def _median(latencies: list[float]) -> float:
    return statistics.median(latencies) if latencies else float("inf")


def test_a_two_minute_cut_loses_nothing_and_the_edge_keeps_answering(
    tmp_path: Path, network: Network, neo4j_url: str, influx: InfluxTarget
) -> None:
    net = network
    began = datetime.now(UTC)
    try:
        mosquitto = mosquitto_binary()
    except ServerUnavailable as exc:
        unavailable(str(exc))
    cloud_graph = Neo4jGraphStore(neo4j_url)
    cloud_graph.write("MATCH (n) DETACH DELETE n")
    marks = SiteMarks(cloud_graph)
    procs = Processes(tmp_path)
    edge_dir = tmp_path / "edge"
    edge_dir.mkdir()
    (tmp_path / "mosquitto").mkdir()
    config = tmp_path / "mosquitto.conf"
    config.write_text(
        f"listener 1883 0.0.0.0\nallow_anonymous true\nuser {getpass.getuser()}\npersistence true\n"
        f"persistence_location {tmp_path / 'mosquitto'}/\nmax_queued_messages 0\nmax_queued_bytes 0\n"
        "max_inflight_messages 0\nlog_dest stdout\n"
    )
    neo4j, influx_at = urlsplit(neo4j_url), urlsplit(influx.url)
    relay_neo4j, relay_influx = free_port(), free_port()
    credentials = neo4j.netloc.rsplit("@", 1)[0] + "@" if "@" in neo4j.netloc else ""
    cloud = _environment(
        graph_url=f"{neo4j.scheme}://{credentials}{net.host_ip}:{relay_neo4j}{neo4j.path}",
        telemetry_url=f"influxdb://{influx.token}@{net.host_ip}:{relay_influx}?org={influx.org}&bucket={influx.bucket}",
        broker_url="mqtt://127.0.0.1:1883",
        uplink_receiver_client_id="cloud-receiver",
        ingest_client_id="cloud-ingest",
        ingest_spool_dir=str(tmp_path / "spool"),
        shutdown_grace_s="20",
    )
    edge = _environment(
        port=str(API),
        broker_url="embedded://127.0.0.1:1883",
        # The demo's own devices stay silent: a reading of theirs stamped with the same
        # millisecond as one of the test's devices would replace it (one value per series
        # and instant), and the test would count the device's reading as lost.
        demo_interval_s="0",
        uplink_url=f"mqtt://{net.cloud_ip}:1883",
        uplink_site=SITE,
        log_level="info",
        shutdown_drain_s="0.2",
    )
    edge_url = f"http://127.0.0.1:{API}"
    devices_out = tmp_path / "devices.json"
    summary: dict[str, object] = {}
    try:
        procs.start(
            "relay",
            [
                sys.executable,
                "-m",
                "tests.uplink.relay",
                net.host_ip,
                f"{relay_neo4j}={neo4j.hostname}:{neo4j.port}",
                f"{relay_influx}={influx_at.hostname}:{influx_at.port}",
            ],
            _environment(),
            cwd=ROOT,
        )
        procs.start("mosquitto", net.inside(net.cloud, mosquitto, "-c", str(config)), _environment())
        # The receiver's persistent session must exist before the edge sends its first
        # message: every process starts at once (they take a while on a loaded machine), with
        # the edge link down until the receiver is ready.
        _ip("netns", "exec", net.cloud, "ip", "link", "set", net.cloud_dev, "down")
        procs.start(
            "receiver",
            net.inside(net.cloud, KGTWIN, "uplink-receiver"),
            cloud | {"KGTWIN_HEALTH_PORT": str(RECEIVER_HEALTH)},
        )
        procs.start("api", net.inside(net.cloud, KGTWIN, "api"), cloud | {"KGTWIN_PORT": str(API)})
        procs.start(
            "ingest",
            net.inside(net.cloud, KGTWIN, "ingest"),
            cloud | {"KGTWIN_HEALTH_PORT": str(INGEST_HEALTH)},
        )
        procs.start("edge", net.inside(net.edge, KGTWIN, "serve", "--demo"), edge, cwd=edge_dir)
        assert _probe(net, net.cloud, "ready", f"http://127.0.0.1:{RECEIVER_HEALTH}").returncode == 0, (
            procs.log("receiver")
        )
        _ip("netns", "exec", net.cloud, "ip", "link", "set", net.cloud_dev, "up")
        assert _probe(net, net.edge, "ready", edge_url).returncode == 0, procs.log("edge")
        procs.start(
            "devices",
            net.inside(
                net.edge,
                sys.executable,
                "-m",
                "tests.uplink.devices",
                "127.0.0.1",
                "1883",
                str(RATE),
                str(devices_out),
                ",".join(ROOMS),
            ),
            _environment(),
            cwd=ROOT,
        )

        # 1. Steady state: the edge's latency with the link up (while the cloud services come
        # up); the cloud holds the site, read-only through its own API.
        baseline = json.loads(_probe(net, net.edge, "probe", edge_url, str(BASELINE_S), ROOMS[0]).stdout)
        assert not baseline["errors"], baseline
        cloud_ready = _probe(
            net, net.cloud, "ready", f"http://127.0.0.1:{API}", f"http://127.0.0.1:{INGEST_HEALTH}"
        )
        assert cloud_ready.returncode == 0, (cloud_ready.stderr, procs.log("api"), procs.log("ingest"))
        wait_for(
            lambda: "uplink.reconciled" in (tmp_path / "receiver.log").read_text(errors="replace"),
            timeout=120,
            what="the first snapshot",
        )
        steady_twins = {t.id for t in site_twins(cloud_graph, base_model_set(), SITE)}
        assert set(ROOMS) <= steady_twins
        refused = json.loads(
            _probe(
                net,
                net.cloud,
                "graphql",
                f"http://127.0.0.1:{API}",
                f'mutation {{ updateTwin(id: "{ROOMS[0]}", '
                'patch: [{op: "add", path: "/name", value: "x"}]) { id } }',
            ).stdout
        )
        assert refused["errors"][0]["extensions"]["code"] == "FORBIDDEN", refused
        assert SITE in refused["errors"][0]["message"]

        # 2. The cut: devices publish, an operator changes the site, GraphQL keeps answering.
        _ip("netns", "exec", net.cloud, "ip", "link", "set", net.cloud_dev, "down")
        cut_at, cut_began = datetime.now(UTC), time.monotonic()
        during = json.loads(
            _probe(net, net.edge, "probe", edge_url, str(CUT_S - RESTART_S), ROOMS[0], "operate").stdout
        )
        assert not during["errors"], during
        assert during["operations_left"] == 0
        waiting_before_kill = _queue_state(edge_dir)[0]
        assert waiting_before_kill > 0  # the backlog waits on disk
        # 3. SIGKILL during the cut, start again: what was acknowledged survives in its files.
        procs.stop("edge", signal.SIGKILL)
        procs.start("edge", net.inside(net.edge, KGTWIN, "serve", "--demo"), edge, cwd=edge_dir)
        assert _probe(net, net.edge, "ready", edge_url).returncode == 0, procs.log("edge")
        time.sleep(max(0.0, CUT_S - (time.monotonic() - cut_began)))
        backlog = _queue_state(edge_dir)[0]
        restored_at = datetime.now(UTC)
        _ip("netns", "exec", net.cloud, "ip", "link", "set", net.cloud_dev, "up")
        restored = time.monotonic()
        wait_for(lambda: _queue_state(edge_dir)[0] < 50, timeout=240, what="the backlog to drain")
        summary["catch_up_s"] = round(time.monotonic() - restored, 1)
        procs.check_alive("devices", "edge", "receiver", "api", "ingest")
        assert procs.stop("devices") == 0, procs.log("devices")
        # The devices have stopped: the edge stores what is in flight and sends the rest.
        wait_for(lambda: _queue_state(edge_dir)[0] == 0, timeout=60, what="the last messages to leave")
        assert procs.stop("edge") == 0, procs.log("edge")

        def caught_up() -> bool:
            waiting, last, resync = _queue_state(edge_dir)
            return not waiting and not resync and last > 0 and marks.high_water(SITE) >= last

        wait_for(caught_up, timeout=60, what="the cloud to apply the last messages")
        renamed = json.loads(
            _probe(
                net,
                net.cloud,
                "graphql",
                f"http://127.0.0.1:{API}",
                '{ twin(id: "probe-sensor") { properties } }',
            ).stdout
        )
        assert renamed["data"]["twin"]["properties"]["name"] == RENAMED, renamed
        base_ms, cut_ms = _median(baseline["latencies_ms"]), _median(during["latencies_ms"])
        summary |= {
            "baseline_median_ms": round(base_ms, 1),
            "cut_median_ms": round(cut_ms, 1),
            "cut_p95_ms": round(sorted(during["latencies_ms"])[int(len(during["latencies_ms"]) * 0.95)], 1),
            "cut_requests": len(during["latencies_ms"]),
            "backlog_messages": backlog,
        }
    finally:
        procs.stop_all()
    devices = json.loads(devices_out.read_text())
    edge_graph = FalkorGraphStore(edge_dir / "data")
    edge_points = DuckDbTelemetryStore(edge_dir / "data" / "telemetry.duckdb")
    cloud_points = InfluxTelemetryStore(influx.url, influx.token, influx.org, influx.bucket)
    try:
        models = base_model_set()
        edge_twins = {t.id: (t.model, t.properties) for t in site_twins(edge_graph, models, SITE)}
        cloud_twins = {t.id: (t.model, t.properties) for t in site_twins(cloud_graph, models, SITE)}
        assert cloud_twins == edge_twins
        assert set(edge_twins) == steady_twins | {"probe-sensor"}  # "probe-gone" came and went
        assert edge_twins["probe-sensor"][1]["name"] == RENAMED
        edge_rels = {
            (r.source, r.id, r.name, r.target) for r in outgoing_relationships(edge_graph, edge_twins)
        }
        cloud_rels = {
            (r.source, r.id, r.name, r.target) for r in outgoing_relationships(cloud_graph, cloud_twins)
        }
        assert cloud_rels == edge_rels
        assert ("probe-sensor", "in", "locatedIn", ROOMS[0]) in edge_rels
        start, stop = began, datetime.now(UTC) + timedelta(hours=1)  # this run's points only
        stored: set[tuple[str, int, float]] = set()
        during_cut = total = 0
        for room in ROOMS:
            ref = default_ref(models, ROOM, room)
            cloud_ref = type(ref)(ref.bucket, ref.measurement, {**ref.tags, "site": SITE}, ref.fields)
            mine = [(s.time, s.value) for s in edge_points.query([ref], "temperature", start, stop)[0]]
            theirs = [
                (s.time, s.value) for s in cloud_points.query([cloud_ref], "temperature", start, stop)[0]
            ]
            assert theirs == mine, room  # every point once, with its value
            total += len(mine)
            during_cut += sum(1 for at, _ in mine if cut_at <= at <= restored_at)
            stored |= {(room, round(at.timestamp() * 1000), float(value)) for at, value in mine}
        acked = {(twin, int(ts), float(value)) for twin, ts, value in devices["acked"]}
        assert acked <= stored, f"{len(acked - stored)} acknowledged readings missing at the edge"
        assert during_cut > 0  # points stored while the link was down (across the kill) arrived
        rate = devices["published"] / devices["seconds"]
        summary |= {
            "published": devices["published"],
            "rate_per_s": round(rate, 1),
            "acked": len(acked),
            "points_compared": total,
            "points_during_cut": during_cut,
            "load": os.getloadavg(),
        }
        print(f"\nnetwork cut: {json.dumps(summary)}")
        # The edge answers as it did with the link up, give or take the noise of a shared machine.
        assert cut_ms <= max(3 * base_ms, base_ms + 200), summary
    finally:
        edge_graph.close()
        edge_points.close()
        cloud_points.close()
        cloud_graph.close()
