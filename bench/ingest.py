"""Benchmark MQTT ingest end to end: devices -> broker -> ``kgtwin ingest`` -> time-series store.

Run ``python bench/ingest.py`` (``--points 200000`` for a quick check, ``--setups duckdb``
for one set-up, ``--drain`` for a backlog drain, below). A load generator in a separate
process (this script, ``generate``) publishes messages of 10 double fields from 10,000
simulated devices at QoS 1 to ``kgtwin/twins/<id>/telemetry``, each with ``ts`` = its
publish time. ``kgtwin ingest`` runs as its own process (or two, sharing the stream
through ``$share``) against:

- ``influx``: Mosquitto + InfluxDB 2 (the test servers, started in a temporary folder);
- ``duckdb``: Mosquitto + embedded DuckDB;
- ``embedded``: the embedded amqtt broker (inside the ingest process) + DuckDB;
- ``influx2``: as ``influx`` with two ingest processes.

The twins live in embedded FalkorDB (seeded once; each ingest process opens its own copy
of the data folder, since an embedded engine belongs to one process). Per set-up:

1. warm-up: one message per device (the twin cache fills), not measured;
2. burst: ``--points`` values as fast as the generator can publish; throughput is the
   points (field values) and messages stored divided by the time from the first publish
   to the moment everything is durable. "Durable" is detected with sentinels: messages to
   an unknown twin published last, whose dead letters come out only after every batch
   before them was written;
3. paced: ``--paced-s`` seconds at ``--paced-fraction`` of the burst rate; latency is the
   ingest process's lag (durable time minus ``ts``) logged every second: p50 is the median
   of the per-second p50s, p99 the worst per-second p99.

RSS is the peak resident memory of the ingest process(es) (the embedded broker included
for ``embedded``; FalkorDB's redis-server child excluded). Counts are checked against the
store at the end. Targets (issue 6): one process with Mosquitto >= 50,000 points/s into
InfluxDB and >= 100,000 into DuckDB, p99 < 1 s, RSS < 300 MB; two processes >= 1.7x one.

The burst measures the slower of generator and ingest: a Python generator publishes about
as fast as one ingest process stores, so on a small machine it hides what a second process
adds. ``--drain`` (``--setups influx,influx2`` to compare one and two processes) measures
ingest alone, from a backlog queued at Mosquitto (not for ``embedded``, whose broker lives
in the ingest process):

1. sessions: the ingest process(es) start, so their persistent sessions and ``$share``
   subscriptions exist at the broker, take the warm-up (InfluxDB creates the series), and
   stop on SIGTERM. The twin cache goes with the process: the drain fills it again, one
   graph round trip per batch, as any restart does;
2. backlog: the generators publish ``--points`` and the sentinels while ingest is down; not
   timed. Mosquitto 2 queues each message of a ``$share`` group for one member in turn,
   connected or not, so each offline session holds its share (the test config lifts
   ``max_queued_messages`` and ``max_queued_bytes``, so the queue holds it all);
3. drain: the same process(es) start again and take their queues. Start-up (spawn to the
   last session up, logged as ``ingest.connected``) is reported apart; the drain is timed
   from the first session up to the sentinels' dead letters (everything durable).

Per drain: points/s, messages each process took (their sum must be the backlog), and the
CPU seconds over the drain of the ingest processes, their FalkorDB redis-servers, Mosquitto,
influxd, this harness, the rest of the machine (other users included) and idle, from
``/proc`` through psutil: where the cores went. Two processes are compared with one within
the run. Each set-up's sessions are ended at the broker when it is done, so later set-ups
do not pay for queueing a copy of their stream to them.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import psutil
from paho.mqtt.enums import CallbackAPIVersion

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from _drain import CpuAccount, DrainResult
from _drain import report as report_drain
from _mqtt_load import CountingPublisher, epoch, records

FIELDS = [f"v{i}" for i in range(10)]
MODEL = "dtmi:bench:ingest:Sensor;1"
MODEL_DOC = {
    "@context": "dtmi:dtdl:context;3",
    "@id": MODEL,
    "@type": "Interface",
    "contents": [{"@type": "Telemetry", "name": f, "schema": "double"} for f in FIELDS],
}
TARGETS = {"influx": 50_000, "duckdb": 100_000}
SETUPS = ("influx", "duckdb", "embedded", "influx2")


def device(i: int) -> str:
    return f"dev-{i:05d}"


# --- the load generator (a separate process) ----------------------------------------------


def generate(args: argparse.Namespace) -> None:
    """Publish ``--messages`` messages round-robin over the devices, then the sentinels.

    One thread drives paho's loop by hand: with paho's network thread, each PUBACK costs a
    GIL hand-over between two threads, which caps a Python publisher far below the broker.
    """
    version = mqtt.MQTTv5 if args.protocol == "5" else mqtt.MQTTv311
    publisher = CountingPublisher(args.host, args.port, args.window, version)
    client = publisher.client
    topics = [f"kgtwin/twins/{device(i)}/telemetry" for i in range(args.devices)]
    template = "{" + ",".join(f'"{f}":%d.{i}' for i, f in enumerate(FIELDS)) + ',"ts":%d}'
    first = time.time_ns()
    sent = 0
    for k, n in enumerate(range(args.offset, args.messages, args.stride)):
        if args.rate:
            ahead = first + k * 1e9 / args.rate - time.time_ns()
            if ahead > 1e6:
                client.loop(ahead / 1e9)
        payload = (template % ((n,) * len(FIELDS) + (time.time_ns() // 1_000_000,))).encode()
        client.publish(topics[n % args.devices], payload, qos=1)
        sent += 1
        while sent - publisher.acked >= args.window:
            client.loop(0.01)
        if sent % 100 == 0:
            client.loop(0)
    for n in range(args.sentinels):
        client.publish(f"kgtwin/twins/sentinel-{args.tag}-{n}/telemetry", b'{"v0":1.0}', qos=1)
        sent += 1
    deadline = time.monotonic() + 600
    while publisher.acked < sent and time.monotonic() < deadline:
        client.loop(0.05)
    last = time.time_ns()
    print(
        json.dumps({"first_ns": first, "last_ns": last, "messages": args.messages, "acked": publisher.acked}),
        flush=True,
    )
    # Stay connected until the harness has seen the sentinels (it closes our stdin): amqtt
    # drops what a disconnecting publisher sent if it has not passed it on yet.
    sys.stdin.read()
    client.disconnect()


# --- the harness -------------------------------------------------------------------------


@dataclass
class Result:
    setup: str
    processes: int
    points: int
    messages: int
    seconds: float
    points_s: float
    messages_s: float
    lag_p50_ms: float | None
    lag_p99_ms: float | None
    paced_points_s: float
    rss_mb: float
    points_per_cpu_s: float
    publish_points_s: float
    stored_ok: bool
    notes: list[str] = field(default_factory=list)


class Letters:
    """Dead letters seen on ``kgtwin/deadletter`` (the sentinels say "everything before is durable")."""

    def __init__(self, host: str, port: int, protocol: str) -> None:
        self.twins: dict[str, float] = {}
        version = mqtt.MQTTv5 if protocol == "5" else mqtt.MQTTv311
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, protocol=version)
        self.client.on_message = self._on_message
        self.client.connect(host, port)
        self.client.subscribe("kgtwin/deadletter", qos=1)
        self.client.loop_start()
        time.sleep(0.3)

    def _on_message(self, _c: object, _u: object, message: mqtt.MQTTMessage) -> None:
        twin = json.loads(message.payload).get("twinId", "")
        self.twins.setdefault(twin, time.time())

    def wait(self, tag: str, count: int, timeout: float) -> float:
        names = [f"sentinel-{tag}-{n}" for n in range(count)]
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if all(n in self.twins for n in names):
                return max(self.twins[n] for n in names)
            time.sleep(0.05)
        raise RuntimeError(f"sentinels {tag} not seen within {timeout} s")

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


class RssWatch(threading.Thread):
    """Samples the resident memory of the ingest processes; ``peak_mb`` is the largest sum."""

    def __init__(self, pids: list[int]) -> None:
        super().__init__(daemon=True)
        self.procs = [psutil.Process(p) for p in pids]
        self.peak_mb = 0.0
        self.running = True

    def cpu_seconds(self) -> float:
        """User and system CPU time the ingest processes have used so far."""
        return float(sum(p.cpu_times().user + p.cpu_times().system for p in self.procs))

    def run(self) -> None:
        while self.running:
            try:
                total = sum(p.memory_info().rss for p in self.procs)
            except psutil.Error:
                return
            self.peak_mb = max(self.peak_mb, total / 2**20)
            time.sleep(0.25)


def seed_graph(folder: Path, devices: int) -> None:
    """One sensor twin per device in an embedded FalkorDB, through the bulk importer."""
    from graph.falkordb import FalkorGraphStore
    from graph.importer import import_bulk

    lines = [
        {"Section": "Header"},
        {"fileVersion": "1.0.0"},
        {"Section": "Models"},
        MODEL_DOC,
        {"Section": "Twins"},
        *({"$dtId": device(i), "$metadata": {"$model": MODEL}} for i in range(devices)),
    ]
    body = "\n".join(json.dumps(line) for line in lines).encode()
    store = FalkorGraphStore(folder)
    try:
        report = import_bulk(store, io.BytesIO(body))
        assert report.ok, report.issues
    finally:
        store.close()


def start_ingest(
    name: str, processes: int, work: Path, servers: dict[str, Any], broker_url: str, log: str
) -> tuple[list[subprocess.Popen[bytes]], list[Path]]:
    """Start the set-up's ``kgtwin ingest`` processes, logging to ``<log>.log`` in each one's folder.

    Each process has a fixed client id (``bench-<set-up>-<n>``), so a second start in the
    same set-up resumes the session the first one left at the broker.
    """
    influx: Any = servers.get("influx")
    telemetry_url = (
        f"influxdb://{influx.token}@{influx.url.removeprefix('http://')}?org={influx.org}&bucket={influx.bucket}"
        if name.startswith("influx")
        else f"duckdb:///{work / name / 'telemetry.duckdb'}"
    )
    procs: list[subprocess.Popen[bytes]] = []
    logs: list[Path] = []
    for n in range(processes):
        home = work / name / f"ingest-{n}"
        if not (home / "graph").exists():
            shutil.copytree(work / "graph-seed", home / "graph")
        env = {
            **os.environ,
            "KGTWIN_GRAPH_URL": f"falkordb:///{home / 'graph'}",
            "KGTWIN_TELEMETRY_URL": telemetry_url,
            "KGTWIN_BROKER_URL": broker_url,
            "KGTWIN_INGEST_CLIENT_ID": f"bench-{name}-{n}",
            "KGTWIN_INGEST_SHARED_GROUP": f"bench-{name}",
            "KGTWIN_INGEST_SPOOL_DIR": str(home / "spool"),
            "KGTWIN_INGEST_STATS_INTERVAL_S": "1",
            "KGTWIN_LOG_FORMAT": "json",
            # No health port: two processes here (and any other on the host) would want 8001.
            "KGTWIN_HEALTH_PORT": "0",
        }
        logs.append(home / f"{log}.log")
        with logs[-1].open("wb") as out:
            kgtwin = str(Path(sys.executable).with_name("kgtwin"))
            procs.append(subprocess.Popen([kgtwin, "ingest"], env=env, cwd=home, stdout=out, stderr=out))
    return procs, logs


def wait_logged(
    name: str, procs: list[subprocess.Popen[bytes]], logs: list[Path], event: str, timeout: float
) -> None:
    """Block until every process has logged ``event``; fail with the log if one exits first."""
    deadline = time.monotonic() + timeout
    while not all(event in log.read_text() for log in logs):
        if time.monotonic() > deadline or any(p.poll() is not None for p in procs):
            raise RuntimeError(f"{name}: no {event}:\n" + logs[0].read_text()[-3000:])
        time.sleep(0.02)


def stop_ingest(procs: list[subprocess.Popen[bytes]]) -> list[int]:
    """SIGTERM: each process stores and acknowledges what it received, then exits (0)."""
    for p in procs:
        p.send_signal(signal.SIGTERM)
    return [p.wait(120) for p in procs]


def start_generators(
    args: argparse.Namespace,
    host: str,
    port: int,
    protocol: str,
    tag: str,
    messages: int,
    rate: float,
    sentinels: int,
) -> list[subprocess.Popen[bytes]]:
    """Start ``--generators`` load generators, each publishing a share of ``messages``.

    Each prints one JSON summary line once the broker acknowledged all it sent, then waits
    for its stdin to close.
    """
    runs = []
    for g in range(args.generators):
        argv = [sys.executable, __file__, "generate", "--host", host, "--port", str(port)]
        argv += ["--protocol", protocol, "--devices", str(args.devices), "--messages", str(messages)]
        argv += ["--rate", str(rate / args.generators), "--tag", tag]
        argv += ["--stride", str(args.generators), "--offset", str(g)]
        argv += ["--sentinels", str(sentinels if g == 0 else 0)]
        runs.append(subprocess.Popen(argv, stdout=subprocess.PIPE, stdin=subprocess.PIPE))
    return runs


def forget_sessions(host: str, port: int, client_ids: list[str]) -> None:
    """End the set-up's persistent sessions at Mosquitto.

    Otherwise the broker keeps queueing a copy of every later set-up's stream for them
    (each ``$share`` group gets every message), which costs it CPU and memory.
    """
    for client_id in client_ids:
        client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv5)
        client.connect(host, port, clean_start=True)  # session expiry 0: gone at disconnect
        client.loop_start()
        deadline = time.monotonic() + 10
        while not client.is_connected() and time.monotonic() < deadline:
            time.sleep(0.02)
        client.disconnect()
        client.loop_stop()


def run_setup(name: str, args: argparse.Namespace, work: Path, servers: dict[str, Any]) -> Result:
    processes = 2 if name == "influx2" else 1
    setup_began = time.time()
    store_kind = "influx" if name.startswith("influx") else "duckdb"
    protocol = "311" if name == "embedded" else "5"
    if name == "embedded":
        from tests.servers.process import free_port

        host, port = "127.0.0.1", free_port()
        broker_url = f"embedded://{host}:{port}"
    else:
        host, port = servers["mosquitto"].host, servers["mosquitto"].port
        broker_url = servers["mosquitto"].url
    influx: Any = servers.get("influx")
    duck = work / name / "telemetry.duckdb"
    procs, logs = start_ingest(name, processes, work, servers, broker_url, "ingest")
    wait_logged(name, procs, logs, "ingest.started", 120)
    watch = RssWatch([p.pid for p in procs])
    watch.start()
    letters = Letters(host, port, protocol)
    sentinels = 4 * processes

    def publish(tag: str, messages: int, rate: float) -> dict[str, int]:
        """Run the generators (each a share of the messages) until the sentinels are seen.

        Returns the first and last publish times and when everything was durable.
        """
        runs = start_generators(args, host, port, protocol, tag, messages, rate, sentinels)
        summaries = [json.loads(run.stdout.readline()) for run in runs]  # type: ignore[union-attr]
        try:
            durable = letters.wait(tag, sentinels, 3600)
        finally:
            for run in runs:
                run.communicate(timeout=60)
        return {
            "first_ns": min(s["first_ns"] for s in summaries),
            "last_ns": max(s["last_ns"] for s in summaries),
            "durable_ns": int(durable * 1e9),
        }

    try:
        publish("warm", args.devices, 0)
        messages = args.points // len(FIELDS)
        cpu_before = watch.cpu_seconds()
        burst = publish("burst", messages, 0)
        durable_at = burst["durable_ns"] / 1e9
        cpu = watch.cpu_seconds() - cpu_before
        seconds = durable_at - burst["first_ns"] / 1e9
        publish_s = (burst["last_ns"] - burst["first_ns"]) / 1e9
        rate = args.paced_fraction * messages / seconds
        paced_start = time.time()
        publish("paced", int(rate * args.paced_s), rate)
        paced_stop = time.time()
    finally:
        letters.close()
        watch.running = False
        codes = stop_ingest(procs)
        if name != "embedded":
            forget_sessions(host, port, [f"bench-{name}-{n}" for n in range(processes)])
    lags = [r for log in logs for r in records(log) if r.get("event") == "ingest.stats"]
    window = [
        r
        for r in lags
        if paced_start + 1.5 < epoch(r["timestamp"]) <= paced_stop and r.get("lag_p50_ms") is not None
    ]
    expected = args.devices + messages + int(rate * args.paced_s)
    stored = count_stored(store_kind, influx, duck, args.devices, setup_began)
    notes = [] if codes == [0] * processes else [f"exit codes {codes}"]
    return Result(
        setup=name,
        processes=processes,
        points=messages * len(FIELDS),
        messages=messages,
        seconds=round(seconds, 2),
        points_s=round(messages * len(FIELDS) / seconds),
        messages_s=round(messages / seconds),
        lag_p50_ms=round(statistics.median(r["lag_p50_ms"] for r in window), 1) if window else None,
        lag_p99_ms=max(r["lag_p99_ms"] for r in window) if window else None,
        paced_points_s=round(rate * len(FIELDS)),
        rss_mb=round(watch.peak_mb, 1),
        points_per_cpu_s=round(messages * len(FIELDS) / cpu) if cpu else 0.0,
        publish_points_s=round(messages * len(FIELDS) / publish_s),
        stored_ok=stored == expected,
        notes=notes + ([] if stored == expected else [f"stored {stored} of {expected} messages"]),
    )


def open_sessions(
    name: str, processes: int, args: argparse.Namespace, work: Path, servers: dict[str, Any], letters: Letters
) -> list[int]:
    """Start the ingest process(es) so their sessions and ``$share`` subscriptions exist, warm up, stop.

    Returns the exit codes. What the warm-up leaves is the series in the store; the twin
    cache goes with the process.
    """
    mosquitto = servers["mosquitto"]
    sentinels = 4 * processes
    procs, logs = start_ingest(name, processes, work, servers, mosquitto.url, "session")
    try:
        wait_logged(name, procs, logs, "ingest.started", 120)
        runs = start_generators(args, mosquitto.host, mosquitto.port, "5", "warm", args.devices, 0, sentinels)
        try:
            letters.wait("warm", sentinels, 600)
        finally:
            for run in runs:
                run.communicate(timeout=60)
    finally:
        codes = stop_ingest(procs)
    return codes


def run_drain(name: str, args: argparse.Namespace, work: Path, servers: dict[str, Any]) -> DrainResult:
    """Queue ``--points`` at the broker while ingest is stopped, then time ingest storing them.

    The generators' time is not counted: the drain is ingest (and its store and broker)
    alone on the machine's cores.
    """
    if name == "embedded":
        raise SystemExit(
            "--drain: the embedded broker lives in the ingest process, so nothing queues while it is down"
        )
    processes = 2 if name == "influx2" else 1
    setup_began = time.time()
    mosquitto = servers["mosquitto"]
    influx = servers["influx"] if name.startswith("influx") else None
    host, port = mosquitto.host, mosquitto.port
    sentinels = 4 * processes
    messages = args.points // len(FIELDS)
    letters = Letters(host, port, "5")
    notes: list[str] = []
    try:
        codes = open_sessions(name, processes, args, work, servers, letters)
        # The backlog: Mosquitto queues each message for one member of the group, offline or not.
        runs = start_generators(args, host, port, "5", "drain", messages, 0, sentinels)
        summaries = [json.loads(run.communicate(timeout=3600)[0]) for run in runs]
        acked = sum(s["acked"] for s in summaries)
        if acked != messages + sentinels:
            notes.append(f"broker acknowledged {acked} of {messages + sentinels}")
        spawned = time.time()
        procs, logs = start_ingest(name, processes, work, servers, mosquitto.url, "drain")
        pids = {"mosquitto": mosquitto.process.process.pid}
        if influx is not None:
            pids["influxd"] = influx.process.process.pid
        try:
            wait_logged(name, procs, logs, "ingest.connected", 120)
            graphs = [log.parent / "graph" for log in logs]
            account = CpuAccount([p.pid for p in procs], pids, graphs)
            before, window_began = account.sample(), time.time()
            durable = letters.wait("drain", sentinels, 3600)
            after, window_ended, load_1m = account.sample(), time.time(), os.getloadavg()[0]
        finally:
            codes += stop_ingest(procs)
    finally:
        letters.close()
        forget_sessions(host, port, [f"bench-{name}-{n}" for n in range(processes)])
    connected = [
        epoch(next(r["timestamp"] for r in records(log) if r.get("event") == "ingest.connected"))
        for log in logs
    ]
    received = [
        next(r["messages"] for r in records(log) if r.get("event") == "ingest.stopped") for log in logs
    ]
    if sum(received) != messages + sentinels:
        notes.append(f"ingest took {sum(received)} messages of {messages + sentinels}")
    stored = count_stored(
        "influx" if influx is not None else "duckdb",
        influx,
        work / name / "telemetry.duckdb",
        args.devices,
        setup_began,
    )
    if stored != args.devices + messages:
        notes.append(f"stored {stored} of {args.devices + messages} messages")
    if codes != [0] * 2 * processes:
        notes.append(f"exit codes {codes}")
    seconds = durable - min(connected)
    return DrainResult(
        setup=name,
        processes=processes,
        points=messages * len(FIELDS),
        messages=messages,
        startup_s=round(max(connected) - spawned, 2),
        skew_s=round(max(connected) - min(connected), 2),
        seconds=round(seconds, 2),
        points_s=round(messages * len(FIELDS) / seconds),
        received=received,
        cpu_s={k: after[k] - before[k] for k in before},
        window_s=window_ended - window_began,
        stored_ok=stored == args.devices + messages,
        at=f"{datetime.fromtimestamp(window_ended, tz=UTC):%H:%M:%S}",
        load_1m=load_1m,
        notes=notes,
    )


def count_stored(kind: str, influx: Any, duck: Path, devices: int, since: float) -> int:
    """Distinct points of ``v0`` over all devices since ``since`` (epoch s), as a query sees them."""
    from telemetry.duckdb import DuckDbTelemetryStore
    from telemetry.influx import InfluxTelemetryStore
    from telemetry.refs import TelemetryRef
    from telemetry.store import TelemetryStore

    store: TelemetryStore
    if kind == "influx":
        store = InfluxTelemetryStore(influx.url, influx.token, influx.org, influx.bucket, timeout_ms=300_000)
    else:
        store = DuckDbTelemetryStore(duck)
    refs = [TelemetryRef("telemetry", "Sensor", {"twin_id": device(i)}) for i in range(devices)]
    start, stop = datetime.fromtimestamp(since, tz=UTC), datetime(2100, 1, 1, tzinfo=UTC)
    try:
        total = 0
        # InfluxDB's Flux refuses a predicate over many hundreds of references ("nested too deep").
        chunk = 100 if kind == "influx" else 1000
        for at in range(0, len(refs), chunk):
            total += sum(len(s) for s in store.query(refs[at : at + chunk], "v0", start, stop))
        return total
    finally:
        store.close()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    sub = parser.add_subparsers(dest="command")
    gen = sub.add_parser("generate")
    gen.add_argument("--host", required=True)
    gen.add_argument("--port", type=int, required=True)
    gen.add_argument("--protocol", choices=["5", "311"], default="5")
    gen.add_argument("--devices", type=int, default=10_000)
    gen.add_argument("--messages", type=int, required=True)
    gen.add_argument("--rate", type=float, default=0.0, help="messages/s; 0: as fast as possible")
    gen.add_argument("--sentinels", type=int, default=4)
    gen.add_argument("--tag", default="run")
    gen.add_argument("--window", type=int, default=2000, help="QoS 1 messages in flight")
    gen.add_argument("--stride", type=int, default=1, help="publish messages offset, offset+stride, ...")
    gen.add_argument("--offset", type=int, default=0)
    parser.add_argument("--points", type=int, default=1_000_000, help="field values in the burst")
    parser.add_argument("--devices", type=int, default=10_000)
    parser.add_argument("--setups", default=",".join(SETUPS))
    parser.add_argument("--paced-s", type=float, default=20.0)
    parser.add_argument("--paced-fraction", type=float, default=0.5)
    parser.add_argument("--json", type=Path, help="also write the results here")
    parser.add_argument("--generators", type=int, default=1, help="load generator processes")
    parser.add_argument(
        "--drain", action="store_true", help="time draining a queued backlog instead of burst and paced"
    )
    args = parser.parse_args()
    if args.command == "generate":
        generate(args)
        return
    bench(args)


def bench(args: argparse.Namespace) -> None:
    from tests.servers.influxdb_server import start_influxdb
    from tests.servers.mosquitto_server import start_mosquitto

    setups = [s for s in args.setups.split(",") if s]
    started = datetime.now(UTC)
    results: list[Result] = []
    drains: list[DrainResult] = []
    with tempfile.TemporaryDirectory(prefix="kgtwin-bench-ingest-") as tmp:
        work = Path(tmp)
        servers: dict[str, Any] = {"mosquitto": start_mosquitto(work / "mosquitto")}
        try:
            if any(s.startswith("influx") for s in setups):
                servers["influx"] = start_influxdb(work / "influx")
            seed_graph(work / "graph-seed", args.devices)
            for name in setups:
                print(f"running {name} ...", file=sys.stderr, flush=True)
                if args.drain:
                    drains.append(run_drain(name, args, work, servers))
                    done = drains[-1].__dict__
                else:
                    results.append(run_setup(name, args, work, servers))
                    done = results[-1].__dict__
                print(json.dumps(done), file=sys.stderr, flush=True)
        finally:
            for server in servers.values():
                server.stop()
    if args.drain:
        report_drain(drains, args.points, started)
        if args.json:
            args.json.write_text(json.dumps([r.__dict__ for r in drains], indent=2))
        return
    report(results, args)


def report(results: list[Result], args: argparse.Namespace) -> None:
    one = next((r for r in results if r.setup == "influx"), None)
    day = f"{datetime.now(UTC):%Y-%m-%d}"
    print(f"\nIngest benchmark, {day}, {os.cpu_count()} CPUs, burst {args.points:,} points")
    print(
        "| set-up | procs | points/s | messages/s | lag p50 | lag p99 (at points/s) | RSS MB "
        "| points per ingest CPU-s | generator points/s | stored | target |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for r in results:
        kind = "influx" if r.setup.startswith("influx") else "duckdb"
        target = f">= {TARGETS[kind]:,}/s" if r.setup in ("influx", "duckdb") else ""
        if r.setup == "influx2" and one is not None:
            target = f">= 1.7x one: {r.points_s / one.points_s:.2f}x"
        print(
            f"| {r.setup} | {r.processes} | {r.points_s:,.0f} | {r.messages_s:,.0f} | {r.lag_p50_ms} ms | "
            f"{r.lag_p99_ms} ms ({r.paced_points_s:,}) | {r.rss_mb} | {r.points_per_cpu_s:,.0f} | "
            f"{r.publish_points_s:,.0f} | {'ok' if r.stored_ok else 'NO'} | "
            f"{target} {' '.join(r.notes)} |"
        )
    if args.json:
        args.json.write_text(json.dumps([r.__dict__ for r in results], indent=2))


if __name__ == "__main__":
    main()
