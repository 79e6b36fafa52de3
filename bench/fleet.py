"""A fleet held steady: thousands of devices through Mosquitto into ``kgtwin ingest``, for minutes.

Run ``python bench/fleet.py`` (issue 17: 10,000 devices, one message of 5 values a second
each, 10 minutes: 50,000 points/s) or, on a small machine, ``--device-interval-s 40
--influx-cache-snapshot-mb 4`` (each device every 40 s: 1,250 points/s, the same 10,000
twins, what 2 cores hold beside the rest of the service; docs/performance.md, Fleet).
``--devices 500 --minutes 0.5`` checks the script itself. Everything runs on this
machine, each part in a process of its own:

- the test servers (tests/servers): Mosquitto, InfluxDB 2 and Neo4j, in a temporary folder;
  Neo4j holds ``--devices`` twins of ``dtmi:bench:fleet:RoomSensor;1`` (a Room with one
  more telemetry, ``illuminance``: 5 values a message), imported with ``graph.importer``;
- ``kgtwin ingest`` into InfluxDB, and a second ``kgtwin ingest`` into DuckDB: each in a
  shared-subscription group of its own, so each takes every message;
- ``kgtwin api`` on Neo4j + InfluxDB + Mosquitto: a GraphQL client asks the 50-room query
  (bench/api.py's) ``--query-rate`` times a second (open loop: latency counts from when a
  request was due), and 5 ``telemetry`` subscriptions (10 twins each) stay open;
- ``--publishers`` publisher processes (``publish``, below): each owns a slice of the
  devices and sends their messages at QoS 1 in a steady round, paho's loop driven by hand
  (no network thread), topics and payloads encoded before the run (a payload is one of 16
  pre-encoded value sets plus the ``ts``, the publish time in ms).

Before the fleet, the publishers run alone for ``--capacity-s`` seconds as fast as they
can, into Mosquitto with no subscriber: the rate the publisher itself reaches here, and
its CPU per message. Then the API's clients run for ``--warm-up-s`` seconds (60; not
counted) before the devices start, as in a twin service that was answering its front ends
when the devices connected (``--warm-up-s 0``: everything starts together on engines just
started). ``--influx-cache-snapshot-mb`` sets InfluxDB's
``storage-cache-snapshot-memory-size`` (its default: 25 MiB).

Every ``--sample-s`` seconds the RSS and CPU of every process are sampled; RSS is also split
into its anonymous part (heap and stacks: what a process allocated) and the pages of files
it maps, which a storage engine's RSS gains as its data grows; InfluxDB's own ``/metrics``
give its write cache (the points not yet snapshotted to a TSM file) and its Go heap in use,
which say what its memory holds, and the size of its engine folder, whose files it maps.
Memory growth compares the medians of minute 2 (120-180 s) and of the last minute. Ingest lag
(durable time minus the message's ``ts``) is each ingest process's own ``ingest.stats``
(p50/p99 of the interval, logged every ``--sample-s``). After the load the publishers'
acknowledged messages are compared with what each store holds: points published (messages
acknowledged by Mosquitto x 5) must equal points stored, exactly (InfluxDB: a Flux
``count()``; DuckDB: distinct (series, time) rows). Dead letters are the ingest processes'
``rejected`` counts over the whole run.

Results go to ``--out`` (default ``.artifacts/bench/fleet-<UTC time>/``): ``fleet.json``
and ``fleet.png`` (lag, RSS and load over time: ``bench/_fleet_plot.py``, which also
redraws a ``fleet.json``; matplotlib, the ``bench`` extra).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import resource
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psutil
from _fleet_plot import WARMUP_S
from _mqtt_load import CountingPublisher, epoch, records

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

KGTWIN = str(Path(sys.executable).with_name("kgtwin"))
MODEL = "dtmi:bench:fleet:RoomSensor;1"
MODEL_DOC = {
    "@context": "dtmi:dtdl:context;3",
    "@id": MODEL,
    "@type": "Interface",
    "extends": "dtmi:kgtwin:space:Room;1",
    "contents": [{"@type": "Telemetry", "name": "illuminance", "schema": "double"}],
}
FIELDS = ("temperature", "humidity", "co2", "occupancy", "illuminance")
VALUES_PER_MESSAGE = len(FIELDS)
ROOMS = """{ twins(model: "dtmi:kgtwin:space:Room;1",
               where: { property: "area", gte: 20.0, lt: 50.0 }, first: 50) {
  nodes { id latest(name: "temperature") { value }
          telemetry(name: "temperature", start: "-1h", every: "5m", fn: "mean") { time value } } } }"""


def device(i: int) -> str:
    return f"fleet-{i:05d}"


# --- the publisher (a process of its own) --------------------------------------------------


def payload_prefixes() -> list[bytes]:
    """16 value sets, encoded once: a message is one of them, its ``ts`` and ``}``."""
    return [
        (
            f'{{"temperature":{20 + k / 4:.2f},"humidity":{40 + k:.1f},"co2":{450 + 10 * k:.1f},'
            f'"occupancy":{k % 5},"illuminance":{300 + 5 * k:.1f},"ts":'
        ).encode()
        for k in range(16)
    ]


def publish(args: argparse.Namespace) -> None:
    """Send devices ``offset, offset+stride, ...`` in a steady round, one message each per interval.

    ``--interval-s 0``: as fast as possible (the capacity run). Prints one JSON line when
    done: messages sent and acknowledged, how far behind schedule it fell, its CPU seconds.
    """
    publisher = CountingPublisher(args.host, args.port, args.window)
    client = publisher.client
    mine = range(args.offset, args.devices, args.stride)
    topics = [f"kgtwin/twins/{device(i)}/telemetry" for i in mine]
    prefixes = payload_prefixes()
    rate = len(topics) / args.interval_s if args.interval_s else 0.0
    began = time.monotonic()
    end = began + args.seconds
    cpu0 = time.process_time()
    sent = 0
    worst_behind = 0.0
    while True:
        now = time.monotonic()
        if now >= end:
            break
        if rate:
            due = began + sent / rate
            if due > now:
                client.loop(min(due - now, 0.05))
                continue
            worst_behind = max(worst_behind, now - due)
        k = sent % len(topics)
        ts = time.time_ns() // 1_000_000
        client.publish(topics[k], prefixes[(sent // len(topics) + k) % 16] + str(ts).encode() + b"}", qos=1)
        sent += 1
        while sent - publisher.acked >= args.window:
            client.loop(0.01)
        if sent % 100 == 0:
            client.loop(0)
    stopped = time.monotonic()
    deadline = stopped + 120
    while publisher.acked < sent and time.monotonic() < deadline:
        client.loop(0.05)
    client.disconnect()
    print(
        json.dumps(
            {
                "sent": sent,
                "acked": publisher.acked,
                "seconds": stopped - began,
                "worst_behind_s": round(worst_behind, 3),
                "cpu_s": time.process_time() - cpu0,
            }
        ),
        flush=True,
    )


# --- the harness -------------------------------------------------------------------------------


@dataclass
class Sample:
    """RSS (MB) and cumulative CPU seconds of each process, seconds since the fleet began.

    ``anon_mb`` is the anonymous part of the RSS: the RSS less the resident pages of mapped
    files and shared memory.
    """

    t_s: float
    rss_mb: dict[str, float]
    cpu_s: dict[str, float]
    load_1m: float
    anon_mb: dict[str, float] = field(default_factory=dict)
    influx_mb: dict[str, float] = field(default_factory=dict)
    """InfluxDB's ``cache`` (its write cache, all shards), ``heap`` (Go heap in use) and
    ``files`` (its engine folder on disk: the TSM, index and WAL files it maps or appends)."""


@dataclass
class Results:
    devices: int
    device_interval_s: float
    minutes: float
    asked_points_s: float
    warm_up_s: float = 0.0
    influx_cache_snapshot_mb: float | None = None
    """InfluxDB's ``storage-cache-snapshot-memory-size``; None: its default, 25 MiB."""
    date: str = ""
    machine: str = ""
    capacity_msgs_s: float = 0.0
    capacity_cpu_us_per_msg: float = 0.0
    published_messages: int = 0
    published_points: int = 0
    achieved_points_s: float = 0.0
    publisher_worst_behind_s: float = 0.0
    stored_points: dict[str, int] = field(default_factory=dict)
    ingest_messages: dict[str, int] = field(default_factory=dict)
    dead_letters: dict[str, dict[str, int]] = field(default_factory=dict)
    lag: dict[str, list[tuple[float, float | None, float | None]]] = field(default_factory=dict)
    """Per ingest process: (seconds since the fleet began, p50 ms, p99 ms) per interval."""
    lag_summary: dict[str, dict[str, float]] = field(default_factory=dict)
    rss_growth_pct: dict[str, float] = field(default_factory=dict)
    anon_growth_pct: dict[str, float] = field(default_factory=dict)
    cpu_per_point_us: dict[str, float] = field(default_factory=dict)
    api_requests: int = 0
    api_failures: int = 0
    api_failure_examples: list[str] = field(default_factory=list)
    subscription_errors: list[str] = field(default_factory=list)
    api_p50_ms: float = 0.0
    api_p99_ms: float = 0.0
    subscription_events: list[int] = field(default_factory=list)
    load_average: tuple[float, float, float] = (0.0, 0.0, 0.0)
    samples: list[Sample] = field(default_factory=list)


def seed(neo4j_url: str, devices: int, folder: Path) -> None:
    """``devices`` RoomSensor twins (area 15-64 m2) in Neo4j, through the bulk importer."""
    from graph.bulk import twin_line, write_bulk
    from graph.importer import import_bulk
    from graph.neo4j import Neo4jGraphStore
    from ontology import base_models

    path = folder / "fleet.ndjson"
    with path.open("w", encoding="utf-8") as out:
        twins = (
            twin_line(device(i), MODEL, {"name": device(i), "area": 15.0 + i % 50, "volume": 90.0})
            for i in range(devices)
        )
        write_bulk(out, [*base_models(), MODEL_DOC], twins, [])
    store = Neo4jGraphStore(neo4j_url)
    try:
        store.ensure_schema()
        with path.open("rb") as stream:
            report = import_bulk(store, stream)
        if not report.ok or report.twins != devices:
            raise SystemExit(f"import refused lines: {report.issues[:3]}")
    finally:
        store.close()


class Fleet:
    """The processes of one run, the API client and subscriptions, and the sampler."""

    def __init__(self, args: argparse.Namespace, work: Path) -> None:
        self.args = args
        self.work = work
        self.stop = threading.Event()
        self.latencies: list[float] = []
        self.failures: list[str] = []
        self.subscription_errors: list[str] = []
        self.events = [0] * 5
        self.counting_from = float("inf")
        """Monotonic time from which the 50-room queries' latencies count (the fleet's start)."""
        self.procs: dict[str, subprocess.Popen[bytes]] = {}
        self.logs: dict[str, Path] = {}

    def spawn(self, name: str, argv: list[str], env: dict[str, str]) -> subprocess.Popen[bytes]:
        self.logs[name] = self.work / f"{name}.log"
        with self.logs[name].open("wb") as log:
            process = subprocess.Popen(argv, env=env, cwd=self.work, stdout=log, stderr=log)
        self.procs[name] = process
        return process

    def start_ingest(self, name: str, telemetry_url: str, base: dict[str, str]) -> None:
        env = {
            **base,
            "KGTWIN_TELEMETRY_URL": telemetry_url,
            "KGTWIN_INGEST_CLIENT_ID": f"fleet-{name}",
            "KGTWIN_INGEST_SHARED_GROUP": f"fleet-{name}",
            "KGTWIN_INGEST_SPOOL_DIR": str(self.work / name / "spool"),
            "KGTWIN_INGEST_STATS_INTERVAL_S": str(self.args.sample_s),
            "KGTWIN_LOG_FORMAT": "json",
            "KGTWIN_HEALTH_PORT": "0",
        }
        (self.work / name).mkdir()
        self.spawn(name, [KGTWIN, "ingest"], env)

    def wait_logged(self, name: str, text: str, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while text not in self.logs[name].read_text(errors="replace"):
            if time.monotonic() > deadline or self.procs[name].poll() is not None:
                raise RuntimeError(f"{name}: no {text!r}:\n" + self.logs[name].read_text()[-3000:])
            time.sleep(0.1)

    # -- the API's clients ---------------------------------------------------------------------
    def rooms_client(self, url: str) -> None:
        """A share of the 50-room queries, open loop; a failure is a non-200, an error, or not 50 rooms."""
        import httpx

        rate = self.args.query_rate / self.args.query_connections
        with httpx.Client(timeout=30) as client:
            began, made = time.monotonic(), 0
            while not self.stop.is_set():
                due = began + made / rate
                wait = due - time.monotonic()
                if wait > 0:
                    time.sleep(min(wait, 0.05))
                    continue
                made += 1
                problem = None
                try:
                    answer = client.post(url + "/graphql", json={"query": ROOMS})
                    body = answer.json()
                    if answer.status_code != 200 or body.get("errors"):
                        problem = f"{answer.status_code} {body.get('errors')}"
                    elif len(body["data"]["twins"]["nodes"]) != 50:
                        problem = f"{len(body['data']['twins']['nodes'])} rooms, not 50"
                except (httpx.HTTPError, ValueError, KeyError, TypeError) as exc:
                    problem = repr(exc)
                if due >= self.counting_from:
                    self.latencies.append(time.monotonic() - due)
                if problem is not None:
                    self.failures.append(problem[:300])

    def subscriber(self, url: str, index: int) -> None:
        import websockets.sync.client as ws_client

        ids = ", ".join(f'"{device((index * 997 + k) % self.args.devices)}"' for k in range(10))
        query = f"subscription {{ telemetry(twinIds: [{ids}]) {{ twinId }} }}"
        with ws_client.connect(
            url.replace("http", "ws") + "/graphql", subprotocols=["graphql-transport-ws"]
        ) as ws:  # type: ignore[list-item]
            ws.send(json.dumps({"type": "connection_init"}))
            ws.recv(timeout=30)
            ws.send(json.dumps({"id": "1", "type": "subscribe", "payload": {"query": query}}))
            while not self.stop.is_set():
                try:
                    message = json.loads(ws.recv(timeout=1))
                except TimeoutError:
                    continue
                if message.get("type") == "next" and (message["payload"].get("data") or {}).get("telemetry"):
                    self.events[index] += 1
                elif message.get("type") in ("error", "complete"):
                    self.subscription_errors.append(json.dumps(message)[:300])
                    return

    # -- sampling ------------------------------------------------------------------------------
    def sample(self, watched: dict[str, psutil.Process], t0: float, influx_url: str) -> Sample:
        """One sample of every process, and InfluxDB's memory by its own account and its files."""
        rss: dict[str, float] = {}
        anon: dict[str, float] = {}
        cpu: dict[str, float] = {}
        for name, process in watched.items():
            with contextlib.suppress(psutil.Error), process.oneshot():
                memory = process.memory_info()
                rss[name] = round(memory.rss / 2**20, 1)
                anon[name] = round((memory.rss - memory.shared) / 2**20, 1)  # shared: file + shmem
                times = process.cpu_times()
                cpu[name] = round(times.user + times.system, 2)
        return Sample(
            round(time.monotonic() - t0, 1),
            rss,
            cpu,
            os.getloadavg()[0],
            anon,
            influx_memory(influx_url) | {"files": folder_mb(self.work / "influx" / "engine")},
        )


def start_publishers(
    args: argparse.Namespace, host: str, port: int, interval_s: float, seconds: float
) -> list[subprocess.Popen[bytes]]:
    runs = []
    for g in range(args.publishers):
        argv = [sys.executable, __file__, "publish", "--host", host, "--port", str(port)]
        argv += ["--devices", str(args.devices), "--stride", str(args.publishers), "--offset", str(g)]
        argv += ["--interval-s", str(interval_s), "--seconds", str(seconds)]
        runs.append(subprocess.Popen(["nice", "-n", str(args.nice), *argv], stdout=subprocess.PIPE))
    return runs


def finish_publishers(runs: list[subprocess.Popen[bytes]]) -> list[dict[str, Any]]:
    return [json.loads(run.communicate(timeout=600)[0]) for run in runs]


INFLUX_MEMORY = {"storage_cache_inuse_bytes": "cache", "go_memstats_heap_inuse_bytes": "heap"}


def influx_memory(url: str) -> dict[str, float]:
    """InfluxDB's write cache (summed over its shards) and Go heap in use, MB, from ``/metrics``."""
    import httpx

    found: dict[str, float] = {}
    with contextlib.suppress(httpx.HTTPError):
        for line in httpx.get(f"{url}/metrics", timeout=5).text.splitlines():
            name = line.split("{", 1)[0].split(" ", 1)[0]
            if name in INFLUX_MEMORY:
                key = INFLUX_MEMORY[name]
                found[key] = round(found.get(key, 0.0) + float(line.rsplit(" ", 1)[1]) / 2**20, 1)
    return found


def folder_mb(path: Path) -> float:
    """The size of the files under ``path``, MB (files a compaction removes meanwhile are skipped)."""
    total = 0
    for found in path.rglob("*"):
        with contextlib.suppress(OSError):
            if found.is_file():
                total += found.stat().st_size
    return round(total / 2**20, 1)


def minutes_compared(samples: list[Sample]) -> tuple[list[Sample], list[Sample]]:
    """The samples of minute 2 (120-180 s) and of the run's last minute.

    Memory is compared between these two windows, by their medians, rather than between two
    single samples: a garbage-collected heap or a write cache that is snapshotted has a
    saw-tooth, and one sample can fall at its top or its bottom.
    """
    after = [s for s in samples if s.t_s >= WARMUP_S] or samples
    first = [s for s in after if s.t_s < after[0].t_s + 60]
    last = [s for s in after if s.t_s >= after[-1].t_s - 60]
    return first, last


def median_of(samples: list[Sample], part: str, name: str) -> float | None:
    """The median of one process's (or InfluxDB's) figure in ``part`` over ``samples``."""
    values = [getattr(s, part)[name] for s in samples if name in getattr(s, part)]
    return round(statistics.median(values), 1) if values else None


def count_influx(influx: Any) -> int:
    """Points in the bucket (every field of every series), by Flux ``count()``."""
    import httpx

    flux = f'from(bucket: "{influx.bucket}") |> range(start: 0) |> group() |> count() |> yield(name: "n")'
    answer = httpx.post(
        f"{influx.url}/api/v2/query",
        params={"org": influx.org},
        headers={"Authorization": f"Token {influx.token}", "Accept": "application/csv"},
        json={"query": flux, "type": "flux"},
        timeout=600,
    )
    answer.raise_for_status()
    lines = [line.split(",") for line in answer.text.strip().splitlines() if line.strip()]
    column = lines[0].index("_value")
    return sum(int(row[column]) for row in lines[1:] if len(row) > column and row[column].isdigit())


def count_duckdb(path: Path) -> int:
    """Distinct (series, time) rows: a point stored twice counts once."""
    import duckdb

    with duckdb.connect(str(path), read_only=True) as conn:
        row = conn.execute("SELECT count(*) FROM (SELECT DISTINCT sid, time FROM points)").fetchone()
    return int(row[0]) if row else 0


def run(args: argparse.Namespace, work: Path) -> Results:
    from tests.servers.influxdb_server import start_influxdb
    from tests.servers.mosquitto_server import start_mosquitto
    from tests.servers.neo4j_server import start_neo4j
    from tests.servers.process import free_port

    results = Results(
        args.devices,
        args.device_interval_s,
        args.minutes,
        args.devices * VALUES_PER_MESSAGE / args.device_interval_s,
        args.warm_up_s,
        args.influx_cache_snapshot_mb,
        datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        f"{os.cpu_count()} CPUs, {psutil.virtual_memory().total / 2**30:.0f} GiB",
    )
    fleet = Fleet(args, work)
    for name in ("mosquitto", "influx", "neo4j"):
        (work / name).mkdir()
    mosquitto = start_mosquitto(work / "mosquitto")
    influx = neo4j = None
    try:
        snapshot = args.influx_cache_snapshot_mb
        influx = start_influxdb(
            work / "influx",
            {"storage-cache-snapshot-memory-size": str(int(snapshot * 2**20))} if snapshot else None,
        )
        neo4j = start_neo4j(work / "neo4j")
        log(f"seeding {args.devices:,} twins into Neo4j")
        seed(neo4j.url, args.devices, work)

        # The publisher alone, as fast as it goes, before anything subscribes.
        log(f"publisher capacity: {args.publishers} process(es) for {args.capacity_s:g} s")
        capacity = finish_publishers(
            start_publishers(args, mosquitto.host, mosquitto.port, 0, args.capacity_s)
        )
        sent = sum(c["sent"] for c in capacity)
        results.capacity_msgs_s = round(sent / max(c["seconds"] for c in capacity))
        results.capacity_cpu_us_per_msg = round(sum(c["cpu_s"] for c in capacity) * 1e6 / sent, 1)
        log(f"publisher: {results.capacity_msgs_s:,} msg/s, {results.capacity_cpu_us_per_msg} us CPU/msg")

        host = influx.url.split("://", 1)[1]
        base = {
            **{k: v for k, v in os.environ.items() if not k.startswith("KGTWIN_")},
            "KGTWIN_GRAPH_URL": neo4j.url,
            "KGTWIN_BROKER_URL": mosquitto.url,
            "KGTWIN_LOG_LEVEL": "info",
        }
        influx_url = f"influxdb://{influx.token}@{host}?org={influx.org}&bucket={influx.bucket}"
        duck = work / "duckdb" / "telemetry.duckdb"
        fleet.start_ingest("ingest-influx", influx_url, base)
        fleet.start_ingest("ingest-duckdb", f"duckdb:///{duck}", base)
        port = free_port()
        api_env = {
            **base,
            "KGTWIN_TELEMETRY_URL": influx_url,
            "KGTWIN_HOST": "127.0.0.1",
            "KGTWIN_PORT": str(port),
            "KGTWIN_LOG_LEVEL": "warning",
            "KGTWIN_HEALTH_PORT": "0",
        }
        fleet.spawn("api", [KGTWIN, "api"], api_env)
        for name in ("ingest-influx", "ingest-duckdb"):
            fleet.wait_logged(name, "ingest.started", 180)
        url = f"http://127.0.0.1:{port}"
        wait_ready(url, fleet.procs["api"], 180)

        watched = {name: psutil.Process(p.pid) for name, p in fleet.procs.items()}
        watched |= {
            "mosquitto": psutil.Process(mosquitto.process.process.pid),
            "influxd": psutil.Process(influx.process.process.pid),
            "neo4j": psutil.Process(neo4j.process.process.pid),
            "harness": psutil.Process(),
        }
        # The front ends first: the service has answered them before the devices connect, as
        # a twin service in operation has (the graph engine's JIT and caches are warm).
        threads = [
            threading.Thread(target=fleet.rooms_client, args=(url,), daemon=True)
            for _ in range(args.query_connections)
        ]
        threads += [threading.Thread(target=fleet.subscriber, args=(url, i), daemon=True) for i in range(5)]
        for thread in threads:
            thread.start()
        if args.warm_up_s > 0:
            log(f"warm-up: the 50-room query {args.query_rate:g} times a second for {args.warm_up_s:g} s")
            time.sleep(args.warm_up_s)
        seconds = args.minutes * 60
        log(f"fleet: {args.devices:,} devices every {args.device_interval_s:g} s for {seconds:g} s")
        t0 = time.monotonic()
        wall0 = time.time()
        fleet.counting_from = t0
        publishers = start_publishers(args, mosquitto.host, mosquitto.port, args.device_interval_s, seconds)
        for n, run_ in enumerate(publishers):
            watched[f"publisher-{n}"] = psutil.Process(run_.pid)
        while time.monotonic() - t0 < seconds:
            fleet.stop.wait(min(args.sample_s, max(seconds - (time.monotonic() - t0), 0.1)))
            results.samples.append(fleet.sample(watched, t0, influx.url))
            s = results.samples[-1]
            log(
                f"t={s.t_s:6.0f}s load {s.load_1m:.2f} "
                + " ".join(f"{k}={v:.0f}" for k, v in s.rss_mb.items())
            )
        published = finish_publishers(publishers)
        # A client that stopped early would quietly thin the load: count it as a failure.
        fleet.failures += [f"{t.name} ended before the run did" for t in threads if not t.is_alive()]
        fleet.stop.set()
        for thread in threads:
            thread.join(timeout=30)
        acked = sum(p["acked"] for p in published)
        results.published_messages = acked
        results.published_points = acked * VALUES_PER_MESSAGE
        results.achieved_points_s = round(results.published_points / max(p["seconds"] for p in published))
        results.publisher_worst_behind_s = max(p["worst_behind_s"] for p in published)

        # Drained: each ingest process has counted every acknowledged message (its stats).
        deadline = time.monotonic() + args.drain_s
        for name in ("ingest-influx", "ingest-duckdb"):
            while time.monotonic() < deadline:
                stats = [r for r in records(fleet.logs[name]) if r.get("event") == "ingest.stats"]
                if stats and stats[-1]["messages"] >= acked:
                    break
                time.sleep(args.sample_s / 2)
        results.samples.append(fleet.sample(watched, t0, influx.url))
        for name in ("ingest-influx", "ingest-duckdb", "api"):
            fleet.procs[name].send_signal(signal.SIGTERM)
        for name in ("ingest-influx", "ingest-duckdb", "api"):
            try:
                fleet.procs[name].wait(120)
            except subprocess.TimeoutExpired:
                fleet.procs[name].kill()
        results.load_average = os.getloadavg()
        summarize(results, fleet, wall0)
        results.stored_points = {"ingest-influx": count_influx(influx), "ingest-duckdb": count_duckdb(duck)}
    finally:
        for process in fleet.procs.values():
            if process.poll() is None:
                process.kill()
        for server in (neo4j, influx, mosquitto):
            if server is not None:
                server.stop()
    return results


def wait_ready(url: str, process: subprocess.Popen[bytes], timeout: float) -> None:
    import httpx

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError("kgtwin api stopped")
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(url + "/readyz", timeout=2).status_code == 200:
                return
        time.sleep(0.5)
    raise RuntimeError("kgtwin api was not ready")


def summarize(results: Results, fleet: Fleet, wall0: float) -> None:
    """Lag, dead letters and counts from the ingest logs; RSS growth and CPU from the samples."""
    for name in ("ingest-influx", "ingest-duckdb"):
        found = records(fleet.logs[name])
        stats = [r for r in found if r.get("event") == "ingest.stats"]
        results.lag[name] = [
            (round(epoch(r["timestamp"]) - wall0, 1), r.get("lag_p50_ms"), r.get("lag_p99_ms"))
            for r in stats
            if epoch(r["timestamp"]) >= wall0
        ]
        stopped = next((r for r in found if r.get("event") == "ingest.stopped"), None)
        final = stopped or (stats[-1] if stats else {})
        results.dead_letters[name] = dict(final.get("rejected") or {})
        results.ingest_messages[name] = int(final.get("messages") or 0)
        p50s = [p50 for t, p50, _ in results.lag[name] if p50 is not None]
        p99s = [p99 for t, _, p99 in results.lag[name] if p99 is not None]
        after2 = [p99 for t, _, p99 in results.lag[name] if p99 is not None and t >= WARMUP_S]
        if p50s:
            results.lag_summary[name] = {
                "p50_median_ms": round(statistics.median(p50s), 1),
                "p99_median_ms": round(statistics.median(p99s), 1),
                "p99_worst_ms": max(p99s),
                "p99_worst_after_2min_ms": max(after2) if after2 else float("nan"),
            }
    early, late = minutes_compared(results.samples[:-1])  # the last sample is after the drain
    if len(results.samples) > 2:
        for name in early[0].rss_mb:
            for part, growth in (("rss_mb", results.rss_growth_pct), ("anon_mb", results.anon_growth_pct)):
                first, last = median_of(early, part, name), median_of(late, part, name)
                if first and last:
                    growth[name] = round((last - first) / first * 100, 1)
    if len(results.samples) >= 2 and results.published_points:
        first_s, last_s = results.samples[0], results.samples[-1]
        for name in last_s.cpu_s:
            if name in first_s.cpu_s:
                spent = last_s.cpu_s[name] - first_s.cpu_s[name]
                results.cpu_per_point_us[name] = round(spent * 1e6 / results.published_points, 2)
    latencies = sorted(fleet.latencies)
    results.api_requests = len(latencies)
    results.api_failures = len(fleet.failures)
    results.api_failure_examples = fleet.failures[:5]
    results.subscription_errors = fleet.subscription_errors
    if latencies:
        results.api_p50_ms = round(latencies[len(latencies) // 2] * 1000, 1)
        results.api_p99_ms = round(latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))] * 1000, 1)
    results.subscription_events = list(fleet.events)


def report(r: Results) -> None:
    print(f"\nFleet, {r.date}, {r.machine}, load average at the end {r.load_average}")
    print(
        f"publisher alone: {r.capacity_msgs_s:,} msg/s "
        f"({r.capacity_msgs_s * VALUES_PER_MESSAGE:,} points/s), "
        f"{r.capacity_cpu_us_per_msg} us CPU per message"
    )
    print(f"warm-up {r.warm_up_s:g} s; InfluxDB cache snapshot at {r.influx_cache_snapshot_mb or 25:g} MiB")
    print(
        f"asked {r.asked_points_s:,.0f} points/s ({r.devices:,} devices every {r.device_interval_s:g} s); "
        f"achieved {r.achieved_points_s:,.0f}; "
        f"publisher at most {r.publisher_worst_behind_s} s behind schedule"
    )
    print(
        "| ingest | lag p50 (median) | lag p99 (median) | lag p99 worst | after minute 2 | "
        "messages | stored points | published points | equal | dead letters |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|")
    for name in ("ingest-influx", "ingest-duckdb"):
        lag = r.lag_summary.get(name, {})
        stored = r.stored_points.get(name)
        print(
            f"| {name} | {lag.get('p50_median_ms')} ms | {lag.get('p99_median_ms')} ms | "
            f"{lag.get('p99_worst_ms')} ms | {lag.get('p99_worst_after_2min_ms')} ms | "
            f"{r.ingest_messages.get(name)} | {stored} | {r.published_points} | "
            f"{'yes' if stored == r.published_points else 'NO'} | "
            f"{sum(r.dead_letters.get(name, {}).values())} |"
        )
    print(
        "| process | RSS, minute 2 MB | RSS, last minute MB | growth | anonymous, minute 2 MB | "
        "anonymous, last minute MB | growth | CPU us per point |"
    )
    print("|---|---|---|---|---|---|---|---|")
    early, late = minutes_compared(r.samples[:-1])
    for name in sorted(r.rss_growth_pct):
        print(
            f"| {name} | {median_of(early, 'rss_mb', name)} | {median_of(late, 'rss_mb', name)} | "
            f"{r.rss_growth_pct[name]}% | {median_of(early, 'anon_mb', name)} | "
            f"{median_of(late, 'anon_mb', name)} | {r.anon_growth_pct.get(name)}% | "
            f"{r.cpu_per_point_us.get(name)} |"
        )
    influx = {
        k: (median_of(early, "influx_mb", k), median_of(late, "influx_mb", k))
        for k in ("cache", "heap", "files")
    }
    print(
        "InfluxDB, minute 2 / last minute (medians): "
        + ", ".join(f"{k} {a} / {b} MB" for k, (a, b) in influx.items())
        + " (cache: its write cache; heap: Go heap in use; files: its engine folder on disk)"
    )
    print(
        f"API: {r.api_requests} 50-room queries, {r.api_failures} failures, p50 {r.api_p50_ms} ms, "
        f"p99 {r.api_p99_ms} ms; subscription events {r.subscription_events}, "
        f"{len(r.subscription_errors)} ended with an error"
    )
    for example in [*r.api_failure_examples, *r.subscription_errors]:
        print(f"  {example}")


def log(message: str) -> None:
    print(f"{datetime.now(UTC):%H:%M:%S} {message}", file=sys.stderr, flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    sub = parser.add_subparsers(dest="command")
    pub = sub.add_parser("publish")
    pub.add_argument("--host", required=True)
    pub.add_argument("--port", type=int, required=True)
    pub.add_argument("--devices", type=int, required=True)
    pub.add_argument("--stride", type=int, default=1)
    pub.add_argument("--offset", type=int, default=0)
    pub.add_argument("--interval-s", type=float, required=True, help="0: as fast as possible")
    pub.add_argument("--seconds", type=float, required=True)
    pub.add_argument("--window", type=int, default=1000, help="QoS 1 messages in flight")
    parser.add_argument("--devices", type=int, default=10_000)
    parser.add_argument(
        "--device-interval-s", type=float, default=1.0, help="seconds between a device's messages"
    )
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--publishers", type=int, default=2, help="publisher processes")
    parser.add_argument("--capacity-s", type=float, default=15.0, help="the publisher-alone run")
    parser.add_argument("--query-rate", type=float, default=10.0, help="50-room queries per second")
    parser.add_argument(
        "--query-connections", type=int, default=4, help="HTTP connections the queries are spread over"
    )
    parser.add_argument(
        "--warm-up-s",
        type=float,
        default=60.0,
        help="seconds the API's clients run before the devices start (not counted); 0: a cold start",
    )
    parser.add_argument(
        "--influx-cache-snapshot-mb",
        type=float,
        help="InfluxDB's storage-cache-snapshot-memory-size in MiB (default: InfluxDB's 25)",
    )
    parser.add_argument("--sample-s", type=float, default=5.0)
    parser.add_argument("--drain-s", type=float, default=300.0, help="longest wait for ingest to catch up")
    parser.add_argument("--nice", type=int, default=0, help="niceness of the publishers")
    parser.add_argument("--out", type=Path)
    parser.add_argument("--png", type=Path, help="also draw the plot here (e.g. docs/img/fleet.png)")
    args = parser.parse_args()
    if args.command == "publish":
        publish(args)
        return
    logging.getLogger("neo4j").setLevel(logging.ERROR)  # schema notifications while seeding
    out = args.out or ROOT / ".artifacts" / "bench" / f"fleet-{datetime.now(UTC):%Y%m%dT%H%M%SZ}"
    out.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="kgtwin-fleet-"))
    try:
        results = run(args, work)
    finally:
        for name in ("ingest-influx.log", "ingest-duckdb.log", "api.log"):
            if (work / name).exists():
                shutil.copy(work / name, out / name)
        shutil.rmtree(work, ignore_errors=True)
    (out / "fleet.json").write_text(json.dumps(asdict(results), indent=1))
    report(results)
    from _fleet_plot import plot

    try:
        print(f"plot: {plot(asdict(results), out / 'fleet.png')}")
        if args.png:
            plot(asdict(results), args.png, dpi=60)
    except ModuleNotFoundError:
        print("no plot: matplotlib is not installed (pip install -e '.[bench]')", file=sys.stderr)
    print(f"results: {out / 'fleet.json'}")


if __name__ == "__main__":
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, min(4096, hard)), hard))
    main()
