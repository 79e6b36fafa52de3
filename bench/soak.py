"""Soak: ``kgtwin serve`` under the mixed load of issue 21 §5, with what must not drift checked.

Run ``python bench/soak.py`` (30 minutes at the issue's rates) or, as CI does,
``python bench/soak.py --minutes 2 --scale 0.1``. ``kgtwin serve`` runs as its own process
on embedded defaults (FalkorDB, DuckDB, the embedded MQTT broker) in a temporary folder,
or with ``--broker mqtt://host:port`` its in-process ingest reads from that broker
(Mosquitto); this script is the load:

- devices: ``--scale`` x 2,000 telemetry messages/s at QoS 1 (one ``temperature`` each, a
  strictly increasing ``ts`` per twin) spread over ``--twins`` Room twins;
- front ends: ``--scale`` x 100 GraphQL requests/s over HTTP: a twin with its latest value,
  a page of twins, a twin update (a write), a telemetry window;
- 5 subscriptions over WebSocket (graphql-transport-ws): ``twinChanged`` and ``telemetry``;
- a simulation started every minute (a four-twin production line) and followed to its end;
- an analyst's read-only Cypher query every 10 s.

Every ``--sample-s`` seconds it records the RSS of the serve process (its FalkorDB
redis-server child apart), the 5xx answers so far, the ingest lag and the queue depth.
Lag: the age of the newest value of a probe twin that gets a message every 50 ms (minus
nothing: it is an upper bound, within 50 ms). Queue depth: messages published before now
but after the probe's newest visible point, i.e. acknowledged by the broker and not yet
queryable. After the load it waits for the queue to drain and reads every twin's series
back: each published ``ts`` must be stored exactly once (lost and duplicated points).

Rates scale with ``--scale`` because a shared 2-core machine cannot give the full ones;
the table shows the rates asked for and the rates achieved. ``--msg-scale`` and
``--req-scale`` set the devices' and the front ends' fractions apart (0 turns one off), so
the CPU cost of a message and of a request can be measured on their own: the results give
the CPU seconds of the serve process and of its children (FalkorDB's redis-server).

The output folder (``--out``, by default ``.artifacts/bench/soak-<UTC time>/``) gets
``soak.json`` (the results with every sample) and ``soak.png``, RSS and lag over time,
drawn with matplotlib when it is installed (the ``bench`` extra: ``pip install -e
'.[bench]'``). ``--json`` also writes the results where a test wants them
(tests/foundation/test_soak.py: RSS growth after warm-up < 10%, zero 5xx, zero lost or
duplicated points, no growing queue).
"""

from __future__ import annotations

import argparse
import itertools
import json
import math
import os
import random
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import paho.mqtt.client as mqtt
import psutil
import websockets.sync.client as ws_client
from paho.mqtt.enums import CallbackAPIVersion

ROOT = Path(__file__).resolve().parents[1]
KGTWIN = str(Path(sys.executable).with_name("kgtwin"))
ROOM = "dtmi:kgtwin:space:Room;1"
PROBE = "soak-probe"
P = "dtmi:kgtwin:production:"
LINE = [
    ("S", "Source", {"interarrivalTimeMean": 60.0, "interarrivalTimeDistribution": "exponential"}),
    ("B1", "Buffer", {"capacity": 4}),
    ("M1", "Machine", {"cycleTimeMean": 50.0, "cycleTimeDistribution": "exponential"}),
    ("K", "Sink", {}),
]
CREATE = "mutation($id: ID!, $m: String!, $p: JSON) { createTwin(id: $id, model: $m, properties: $p) { id } }"
RELATE = 'mutation($a: ID!, $b: ID!) { createRelationship(source: $a, target: $b, name: "feeds") { id } }'
START = """mutation { startSimulation(model: "flow", replications: 2, seed: 7,
  subset: {roots: ["S"], relationships: ["feeds"], maxDepth: 5}, parameters: {horizonS: 20000.0, samples: 5})
  { id } }"""
RUN = "query($id: ID!) { simulationRun(id: $id) { status } }"
LATEST = 'query($id: ID!) { twin(id: $id) { id latest(name: "temperature") { value time } } }'
PAGE = f'{{ twins(model: "{ROOM}", first: 20) {{ edges {{ node {{ id }} }} pageInfo {{ endCursor }} }} }}'
UPDATE = "mutation($id: ID!, $p: JSON!) { updateTwin(id: $id, patch: $p) { etag } }"
WINDOW = 'query($id: ID!) { twin(id: $id) { telemetry(name: "temperature", start: "-1m") { value } } }'
SERIES = (
    'query($id: ID!, $s: String!) { twin(id: $id) { telemetry(name: "temperature", start: $s) { time } } }'
)
ANALYST = '{ cypher(query: "MATCH (t:Twin)-[r]->(u) RETURN t.model, count(r) ORDER BY t.model") { rows } }'
_TEN_ROOMS = ", ".join(f'"room-{i:03d}"' for i in range(10))
SUBSCRIPTIONS = [
    (f'subscription {{ twinChanged(models: ["{ROOM}"]) {{ kind id }} }}', "twinChanged"),
    (
        f"subscription {{ twinChanged(ids: [{_TEN_ROOMS}]) {{ kind id }} }}",
        "twinChanged",
    ),
    ("subscription { twinChanged { kind id } }", "twinChanged"),
    ('subscription { telemetry(twinIds: ["room-000"]) { twinId } }', "telemetry"),
    (f'subscription {{ telemetry(twinIds: ["{PROBE}"]) {{ twinId }} }}', "telemetry"),
]


@dataclass
class Sample:
    """One row of the time series: seconds since the load began and what was measured then."""

    t_s: float
    rss_mb: float
    redis_rss_mb: float
    http_5xx: int
    lag_ms: float | None
    queue: int | None
    published: int
    requests: int


@dataclass
class Results:
    """What a soak measured; ``ok`` says whether every bound held."""

    minutes: float
    scale: float
    broker: str
    twins: int
    asked_msgs_per_s: float
    asked_requests_per_s: float
    warmup_s: float = 0.0
    date: str = ""
    achieved_msgs_per_s: float = 0.0
    achieved_requests_per_s: float = 0.0
    published: int = 0
    stored: int = 0
    lost: int = 0
    duplicated: int = 0
    http_5xx: int = 0
    graphql_errors: dict[str, int] = field(default_factory=dict)
    request_p50_ms: float = 0.0
    request_p99_ms: float = 0.0
    subscription_events: list[int] = field(default_factory=list)
    simulations: dict[str, int] = field(default_factory=dict)
    analyst_queries: int = 0
    rss_growth_pct: float = 0.0
    queue_growing: bool = False
    drain_s: float = 0.0
    serve_cpu_s: float = 0.0
    serve_cpu_ms_per_message: float = 0.0
    """CPU of the serve process (API load included) per message, over the load and the drain."""
    children_cpu_s: float = 0.0
    """CPU of serve's child processes (FalkorDB's redis-server) over the load and the drain."""
    load_s: float = 0.0
    """How long the load ran (the drain apart)."""
    load_average: tuple[float, float, float] = (0.0, 0.0, 0.0)
    samples: list[Sample] = field(default_factory=list)


class Soak:
    """The load generators and the sampler around one ``kgtwin serve`` process."""

    def __init__(self, args: argparse.Namespace, folder: Path) -> None:
        self.args = args
        self.folder = folder
        self.port = free_port()
        self.broker = args.broker or f"embedded://127.0.0.1:{free_port()}"
        self.broker_port = int(self.broker.rsplit(":", 1)[1].split("/")[0])
        self.url = f"http://127.0.0.1:{self.port}"
        self.ids = [f"room-{i:03d}" for i in range(args.twins)]
        self.stop = threading.Event()
        self.lock = threading.Lock()
        self.published: dict[str, list[int]] = {twin: [] for twin in [*self.ids, PROBE]}
        self.publish_log: list[tuple[float, int]] = []  # (time, messages published so far)
        self.count = 0
        self.requests = 0
        self.http_5xx = 0
        self.errors: Counter[str] = Counter()
        self.latencies: list[float] = []
        self.events = [0] * len(SUBSCRIPTIONS)
        self.simulations: Counter[str] = Counter()
        self.analyst = 0
        self.t0 = 0.0

    # -- the process ------------------------------------------------------------------
    def start_serve(self) -> subprocess.Popen[bytes]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("KGTWIN_")}
        env |= {
            "KGTWIN_PORT": str(self.port),
            "KGTWIN_BROKER_URL": self.broker,
            "KGTWIN_LOG_LEVEL": "warning",
        }
        log = (self.folder / "serve.log").open("wb")
        process = subprocess.Popen([KGTWIN, "serve"], cwd=self.folder, env=env, stdout=log, stderr=log)
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise RuntimeError("kgtwin serve ended: " + (self.folder / "serve.log").read_text()[-2000:])
            try:
                if httpx.get(self.url + "/readyz", timeout=5).status_code == 200:
                    return process
            except httpx.TransportError:
                pass
            time.sleep(0.3)
        raise RuntimeError("kgtwin serve was not ready within 120 s")

    def gql(self, client: httpx.Client, query: str, variables: dict[str, Any] | None = None) -> Any:
        started = time.perf_counter()
        response = client.post(self.url + "/graphql", json={"query": query, "variables": variables or {}})
        elapsed = time.perf_counter() - started
        with self.lock:
            self.requests += 1
            self.latencies.append(elapsed)
            if response.status_code >= 500:
                self.http_5xx += 1
                return None
        body = response.json()
        for error in body.get("errors") or []:
            with self.lock:
                self.errors[str((error.get("extensions") or {}).get("code"))] += 1
        return body.get("data")

    def seed(self) -> None:
        with httpx.Client(timeout=60) as client:
            for twin in [*self.ids, PROBE]:
                self.gql(client, CREATE, {"id": twin, "m": ROOM, "p": {"name": twin}})
            for twin, kind, props in LINE:
                self.gql(client, CREATE, {"id": twin, "m": f"{P}{kind};1", "p": props})
            for (a, _, _), (b, _, _) in itertools.pairwise(LINE):
                self.gql(client, RELATE, {"a": a, "b": b})

    # -- the load ---------------------------------------------------------------------
    def devices(self, rate: float, index: int, ids: list[str], probe: bool) -> None:
        """Publish to ``ids`` at ``rate`` (and the probe every 50 ms); a message counts once acknowledged.

        A gateway's window of 20 messages in flight (paho's default), as devices have.
        """
        client = mqtt.Client(
            CallbackAPIVersion.VERSION2, client_id=f"soak-devices-{index}", protocol=mqtt.MQTTv311
        )
        client.max_inflight_messages_set(20)
        client.max_queued_messages_set(0)
        client.connect("127.0.0.1", self.broker_port)
        client.loop_start()
        last_ts = dict.fromkeys(self.published, 0)
        pending: list[tuple[str, int, mqtt.MQTTMessageInfo]] = []
        next_probe = began = time.monotonic()
        sent = 0
        stopped_at: float | None = None
        try:
            # After the stop, acknowledgements still due are awaited for 10 s: one never
            # received leaves its message uncounted (the broker did not accept it).
            while True:
                if self.stop.is_set():
                    stopped_at = stopped_at or time.monotonic()
                    if not pending or time.monotonic() - stopped_at > 10:
                        break
                now = time.monotonic()
                targets: list[str] = []
                if not self.stop.is_set():
                    due = int((now - began) * rate) - sent
                    targets = [ids[(sent + i) % len(ids)] for i in range(max(due, 0))]
                    sent += len(targets)
                    if probe and now >= next_probe:
                        targets.append(PROBE)
                        next_probe = max(next_probe + 0.05, now)
                for twin in targets:
                    ts = max(int(time.time() * 1000), last_ts[twin] + 1)
                    last_ts[twin] = ts
                    payload = json.dumps({"temperature": 20 + (ts % 1000) / 100, "ts": ts})
                    pending.append(
                        (twin, ts, client.publish(f"kgtwin/twins/{twin}/telemetry", payload, qos=1))
                    )
                done = [p for p in pending if p[2].is_published()]
                if done:
                    pending = [p for p in pending if not p[2].is_published()]
                    with self.lock:
                        for twin, ts, _ in done:
                            self.published[twin].append(ts)
                        self.count += len(done)
                        self.publish_log.append((time.time(), self.count))
                time.sleep(0.005)
        finally:
            client.loop_stop()
            client.disconnect()

    def front_end(self, rate: float, seed: int) -> None:
        rng = random.Random(seed)
        with httpx.Client(timeout=60) as client:
            began, made = time.monotonic(), 0
            while not self.stop.is_set():
                if made >= (time.monotonic() - began) * rate:
                    time.sleep(0.005)
                    continue
                made += 1
                twin = rng.choice(self.ids)
                kind = rng.random()
                if kind < 0.4:
                    self.gql(client, LATEST, {"id": twin})
                elif kind < 0.7:
                    self.gql(client, PAGE)
                elif kind < 0.9:
                    patch = [{"op": "replace", "path": "/name", "value": f"{twin}-{made}"}]
                    self.gql(client, UPDATE, {"id": twin, "p": patch})
                else:
                    self.gql(client, WINDOW, {"id": twin})

    def subscriber(self, index: int) -> None:
        query, field_name = SUBSCRIPTIONS[index]
        url = f"ws://127.0.0.1:{self.port}/graphql"
        with ws_client.connect(url, subprotocols=["graphql-transport-ws"]) as ws:  # type: ignore[list-item]
            ws.send(json.dumps({"type": "connection_init"}))
            json.loads(ws.recv(timeout=30))
            ws.send(json.dumps({"id": "1", "type": "subscribe", "payload": {"query": query}}))
            while not self.stop.is_set():
                try:
                    message = json.loads(ws.recv(timeout=1))
                except TimeoutError:
                    continue
                if message.get("type") == "next" and (message["payload"].get("data") or {}).get(field_name):
                    self.events[index] += 1
                elif message.get("type") in ("error", "complete"):
                    with self.lock:
                        self.errors["subscription " + message["type"]] += 1
                    return

    def simulations_and_analyst(self) -> None:
        with httpx.Client(timeout=120) as client:
            next_sim = next_query = time.monotonic()
            running: list[str] = []
            while not self.stop.is_set():
                now = time.monotonic()
                if now >= next_sim:
                    data = self.gql(client, START)
                    if data:
                        running.append(data["startSimulation"]["id"])
                    next_sim += self.args.simulation_every_s
                if now >= next_query:
                    if self.gql(client, ANALYST):
                        self.analyst += 1
                    next_query += self.args.analyst_every_s
                for run in list(running):
                    status = (self.gql(client, RUN, {"id": run}) or {}).get("simulationRun", {}).get("status")
                    if status in ("SUCCEEDED", "FAILED", "CANCELLED"):
                        self.simulations[status] += 1
                        running.remove(run)
                self.stop.wait(1)
            self.simulations["unfinished"] += len(running)

    # -- measuring --------------------------------------------------------------------
    def probe(self, client: httpx.Client) -> tuple[float | None, int | None]:
        """(lag in ms, queue depth in messages) from the probe twin's newest visible value."""
        data = self.gql(client, LATEST, {"id": PROBE})
        latest = ((data or {}).get("twin") or {}).get("latest")
        if not latest:
            return None, None
        seen = datetime.fromisoformat(latest["time"].replace("Z", "+00:00")).timestamp()
        now = time.time()
        with self.lock:
            log = list(self.publish_log)
            total = self.count
        before = next((count for at, count in reversed(log) if at <= seen + 0.001), 0)
        return (now - seen) * 1000, max(total - before, 0)

    def run(self) -> Results:
        args = self.args
        results = Results(
            args.minutes,
            args.scale,
            self.broker.split(":")[0],
            args.twins,
            2000 * args.msg_scale,
            100 * args.req_scale,
            args.warmup_s,
            datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        )
        process = self.start_serve()
        serve = psutil.Process(process.pid)
        try:
            self.seed()
            self.t0 = time.monotonic()
            gateways = args.gateways or gateways_for(2000 * args.msg_scale, args.twins)
            threads = [
                threading.Thread(
                    target=self.devices,
                    args=(2000 * args.msg_scale / gateways, i, self.ids[i::gateways], i == 0),
                    daemon=True,
                )
                for i in range(gateways)
            ]
            clients = args.front_ends or max(1, round(100 * args.req_scale / 10))
            threads += [
                threading.Thread(target=self.front_end, args=(100 * args.req_scale / clients, i), daemon=True)
                for i in range(clients)
            ]
            threads += [threading.Thread(target=self.subscriber, args=(i,), daemon=True) for i in range(5)]
            threads.append(threading.Thread(target=self.simulations_and_analyst, daemon=True))
            cpu0, children0 = cpu_seconds(serve), children_cpu_seconds(serve)
            for thread in threads:
                thread.start()
            end = self.t0 + args.minutes * 60
            with httpx.Client(timeout=60) as client:
                while time.monotonic() < end:
                    time.sleep(min(args.sample_s, max(end - time.monotonic(), 0)))
                    lag, queue = self.probe(client)
                    results.samples.append(
                        Sample(
                            round(time.monotonic() - self.t0, 1),
                            serve.memory_info().rss / 2**20,
                            sum(c.memory_info().rss for c in serve.children(recursive=True)) / 2**20,
                            self.http_5xx,
                            None if lag is None else round(lag, 1),
                            queue,
                            self.count,
                            self.requests,
                        )
                    )
                    print(_row(results.samples[-1]), flush=True)
                elapsed = time.monotonic() - self.t0
                self.stop.set()
                joined = time.monotonic() + 60
                for thread in threads:
                    thread.join(timeout=max(joined - time.monotonic(), 0.1))
                # Drained: the probe's newest point is the last one published. Waited for
                # while the queue shrinks (up to --drain-s): what is still missing after
                # that counts as lost.
                drained = progress_at = time.monotonic()
                smallest: int | None = None
                while time.monotonic() - drained < args.drain_s and time.monotonic() - progress_at < 20:
                    _, queue = self.probe(client)
                    if queue == 0:
                        break
                    if queue is not None and (smallest is None or queue < smallest):
                        smallest, progress_at = queue, time.monotonic()
                    time.sleep(0.5)
                results.drain_s = round(time.monotonic() - drained, 1)
                results.serve_cpu_s = round(cpu_seconds(serve) - cpu0, 1)
                results.children_cpu_s = round(children_cpu_seconds(serve) - children0, 1)
                self.check_points(client, results)
            results.load_s = round(elapsed, 1)
            results.achieved_msgs_per_s = round(self.count / elapsed, 1)
            results.achieved_requests_per_s = round(self.requests / elapsed, 1)
        finally:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                process.kill()
        results.published = self.count
        if self.count:
            results.serve_cpu_ms_per_message = round(results.serve_cpu_s * 1000 / self.count, 3)
        results.http_5xx = self.http_5xx
        results.graphql_errors = dict(self.errors)
        latencies = sorted(self.latencies)
        if latencies:
            results.request_p50_ms = round(latencies[len(latencies) // 2] * 1000, 1)
            results.request_p99_ms = round(latencies[int(len(latencies) * 0.99)] * 1000, 1)
        results.subscription_events = list(self.events)
        results.simulations = dict(self.simulations)
        results.analyst_queries = self.analyst
        results.rss_growth_pct, results.queue_growing = _drift(results.samples, args.warmup_s)
        results.load_average = os.getloadavg()
        return results

    def check_points(self, client: httpx.Client, results: Results) -> None:
        """Read every twin's series back: each published ts stored once."""
        start = datetime.fromtimestamp(time.time() - self.args.minutes * 60 - 600, UTC).isoformat()
        for twin, sent in self.published.items():
            data = self.gql(client, SERIES, {"id": twin, "s": start.replace("+00:00", "Z")})
            points = ((data or {}).get("twin") or {}).get("telemetry") or []
            stored = Counter(
                int(datetime.fromisoformat(p["time"].replace("Z", "+00:00")).timestamp() * 1000 + 0.5)
                for p in points
            )
            wanted = set(sent)
            results.stored += sum(stored.values())
            results.lost += len(wanted - set(stored))
            results.duplicated += sum(n - 1 for n in stored.values() if n > 1)


def _drift(samples: list[Sample], warmup_s: float) -> tuple[float, bool]:
    """RSS growth (%) from the first sample after warm-up to the median of the last third; a growing queue."""
    after = [s for s in samples if s.t_s >= warmup_s]
    if len(after) < 3:
        return 0.0, False
    tail = after[-max(1, len(after) // 3) :]
    base = after[0].rss_mb
    growth = (statistics.median(s.rss_mb for s in tail) - base) / base * 100
    # Growing: the last third's mean queue is over 1.5 times the first third's (and over
    # 100 messages): ingest falls further behind as the load goes on.
    queues = [s.queue for s in after if s.queue is not None]
    third = len(queues) // 3
    growing = bool(third) and statistics.mean(queues[-third:]) > max(
        100, 1.5 * statistics.mean(queues[:third])
    )
    return round(growth, 1), growing


HEADER = (
    f"{'t s':>7} {'RSS MB':>8} {'redis MB':>8} {'5xx':>5} {'lag ms':>8} {'queue':>7} {'published':>9}"
    f" {'requests':>8}"
)


def _row(s: Sample) -> str:
    lag = "-" if s.lag_ms is None else f"{s.lag_ms:.0f}"
    return (
        f"{s.t_s:7.1f} {s.rss_mb:8.1f} {s.redis_rss_mb:8.1f} {s.http_5xx:5d} {lag:>8} "
        f"{'-' if s.queue is None else s.queue:>7} {s.published:9d} {s.requests:8d}"
    )


def cpu_seconds(process: psutil.Process) -> float:
    times = process.cpu_times()
    return float(times.user + times.system)


def children_cpu_seconds(process: psutil.Process) -> float:
    """CPU seconds of the live children of ``process`` (FalkorDB's redis-server)."""
    total = 0.0
    for child in process.children(recursive=True):
        try:
            total += cpu_seconds(child)
        except psutil.NoSuchProcess:
            continue
    return total


def write_plot(results: Results, out: Path) -> Path | None:
    """``out/soak.png`` (RSS and lag over time), or None with a hint when matplotlib is missing."""
    if __package__:
        from bench._soak_plot import INSTALL_HINT, plot
    else:  # run as a script: bench/ is on the path
        from _soak_plot import INSTALL_HINT, plot
    summary = asdict(results)
    try:
        return plot(summary.pop("samples"), summary, out / "soak.png")
    except ModuleNotFoundError as exc:
        if exc.name != "matplotlib" and not (exc.name or "").startswith("matplotlib."):
            raise
        print(INSTALL_HINT, file=sys.stderr)
        return None


def gateways_for(rate: float, twins: int) -> int:
    """Enough gateways for ``rate``: each holds at most 20 messages unacknowledged (paho's window),
    and the broker acknowledges once the points are durable (one ingest batch, 50 to 300 ms), so
    one gateway carries at most some 60 to 400 messages a second whatever the server's speed."""
    return max(4, min(twins, math.ceil(rate / 60)))


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def main(argv: list[str] | None = None) -> Results:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--minutes", type=float, default=30.0)
    parser.add_argument("--scale", type=float, default=1.0, help="fraction of 2,000 msg/s and 100 req/s")
    parser.add_argument("--msg-scale", type=float, help="fraction of 2,000 msg/s (default: --scale; 0: none)")
    parser.add_argument("--req-scale", type=float, help="fraction of 100 req/s (default: --scale; 0: none)")
    parser.add_argument("--twins", type=int, default=100)
    parser.add_argument(
        "--gateways",
        type=int,
        help="MQTT clients the devices publish through (default: one per 60 msg/s, at least 4)",
    )
    parser.add_argument(
        "--front-ends",
        type=int,
        help="HTTP clients the requests are spread over, each paced, one request at a time"
        " (default: one per 10 req/s; more keep the rate when answers take longer)",
    )
    parser.add_argument("--sample-s", type=float, default=10.0)
    parser.add_argument("--warmup-s", type=float, default=60.0)
    parser.add_argument("--simulation-every-s", type=float, default=60.0)
    parser.add_argument("--analyst-every-s", type=float, default=10.0)
    parser.add_argument(
        "--broker", help="mqtt://host:port of a broker for serve's ingest (default: its embedded broker)"
    )
    parser.add_argument("--drain-s", type=float, default=600.0, help="longest wait for the queue to drain")
    parser.add_argument("--json", type=Path, help="also write the results here")
    parser.add_argument(
        "--out", type=Path, help="folder for soak.json and soak.png (default .artifacts/bench/soak-<time>)"
    )
    args = parser.parse_args(argv)
    args.msg_scale = args.scale if args.msg_scale is None else args.msg_scale
    args.req_scale = args.scale if args.req_scale is None else args.req_scale
    out = args.out or ROOT / ".artifacts" / "bench" / f"soak-{datetime.now(UTC):%Y%m%dT%H%M%SZ}"
    folder = Path(tempfile.mkdtemp(prefix="kgtwin-soak-"))
    print(HEADER)
    try:
        results = Soak(args, folder).run()
    finally:
        if args.json is None:
            shutil.rmtree(folder, ignore_errors=True)
    summary = {k: v for k, v in asdict(results).items() if k != "samples"}
    for key, value in summary.items():
        print(f"{key:>26}: {value}")
    document = json.dumps({**asdict(results), "folder": str(folder)}, indent=1)
    out.mkdir(parents=True, exist_ok=True)
    (out / "soak.json").write_text(document)
    if args.json is not None:
        args.json.write_text(document)
    drawn = write_plot(results, out)
    print(f"{'results':>26}: {out / 'soak.json'}")
    print(f"{'plot':>26}: {drawn if drawn is not None else 'none (matplotlib missing, see above)'}")
    return results


if __name__ == "__main__":
    main()
