"""Benchmark the GraphQL API as a client sees it: a real server, load from another process.

Run ``python bench/api.py`` (``--setups embedded`` for the edge profile only,
``--duration 5`` for a quick look). For each setup it

1. writes a data set straight into the backends: the demo twin (``kgtwin.demo``) and
   ``--rooms`` generated rooms, each room with one temperature point a minute over the
   last 70 minutes, so ``latest`` and ``telemetry`` answer data; and, for ``kgtwin api``,
   each room's newest value on its node, as a separate ingest process leaves it
   (:func:`copy_latest_to_nodes`; the edge profile's ingest gets readings over MQTT,
   :func:`warm_latest`);
2. starts the service the way a user does, in a process of its own (``kgtwin serve``:
   FalkorDB + DuckDB, ingest and worker in process; or ``kgtwin api`` on the test
   servers' Neo4j + InfluxDB + Mosquitto, with ``--workers`` API processes, 1 by default),
   no auth (loopback edge profile), log level ``warning`` (no access log line per request);
3. drives it from a third process (``_load``): ``--concurrency`` keep-alive HTTP/1.1
   connections, for ``--duration`` seconds per query and mode:

   - ``max``: every connection sends its next request as soon as the last one answered
     (closed loop): the throughput the server sustains; by Little's law its latency is
     concurrency / throughput, so it says little about latency under a given load;
   - ``@N/s``: requests are due at a fixed rate (open loop, the issue's "at >= 500
     requests/s"), spread over the same connections; latency counts from when a request
     was due, so a server that falls behind is charged for the wait (no coordinated
     omission).

The load generator is a minimal HTTP/1.1 client on asyncio (uvloop): httpx spent about
0.3 ms of CPU per request, a quarter of what the server spends on the single-twin query,
on the same two cores. Every answer is checked (status 200, no GraphQL ``errors``).
Besides p50/p99 and requests/s, each row gives the server process's CPU time per request
(``/proc``): on a shared machine it is the figure other processes do not distort. On a
quiet machine, "machine CPU" (every process, ``/proc/stat``) is what one request costs the
server, its backends and the load generator together: the machine's cores divided by it
bound the throughput, and with it, by Little's law, the latency a closed loop can reach.
"load avg" is the machine's one-minute load average as the row ends: above the core count,
other work shared the cores and the latencies are inflated.

``--profile out.prof`` runs the server under cProfile and writes the stats when it stops;
``--gc`` tunes the server's garbage collector after start-up (:func:`tune_gc`), to
measure what that would change.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import cProfile
import json
import logging
import os
import platform
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

ROOM = "dtmi:kgtwin:space:Room;1"
SINGLE = """query($id: ID!) { twin(id: $id) { properties latest(name: "temperature") { value time } } }"""
LIST = """{ twins(model: "dtmi:kgtwin:space:Room;1", first: 50) {
  nodes { id latest(name: "temperature") { value time } } } }"""
ROOMS = """{ twins(model: "dtmi:kgtwin:space:Room;1",
               where: { property: "area", gte: 20.0, lt: 50.0 }, first: 50) {
  nodes { id latest(name: "temperature") { value }
          telemetry(name: "temperature", start: "-1h", every: "5m", fn: "mean") { time value } } } }"""
QUERIES = {
    "twin(id) { properties latest }": SINGLE,
    "twins(first: 50) { id latest }": LIST,
    "50 rooms { latest telemetry(5m) }": ROOMS,
}
RATES = ("max,500,250", "max,100,50", "max,20,10")
"""Default loads per query: closed loop, then fixed rates (the issue's 500/s for ``twin(id)``)."""
POINT_EVERY = timedelta(minutes=1)
HISTORY = timedelta(minutes=70)


# -- the data set -------------------------------------------------------------------------------


def room_ids(rooms: int) -> list[str]:
    return [f"room-b{i:04d}" for i in range(rooms)]


def load_data(graph: Any, telemetry: Any, rooms: int) -> list[str]:
    """The demo plus ``rooms`` rooms (area 15-64 m2) and their temperature history; every room id."""
    from api.context import twin_context
    from kgtwin.demo import demo_elements, load_demo
    from telemetry.points import TelemetryPoint

    load_demo(graph)
    context = twin_context("bench", graph)
    assert context.twins is not None
    generated = room_ids(rooms)
    for i, twin_id in enumerate(generated):
        context.twins.put_twin(twin_id, ROOM, {"name": f"Room B{i}", "area": 15.0 + i % 50, "volume": 90.0})
    demo_rooms = [e.id for e in demo_elements() if getattr(e, "model", None) == ROOM]
    every = demo_rooms + generated
    now = datetime.now(UTC)
    steps = int(HISTORY / POINT_EVERY)
    points = [
        TelemetryPoint(
            "telemetry",
            "Room",
            {"twin_id": twin_id},
            {"temperature": 20.0 + (k % 30) / 10},
            int((now - k * POINT_EVERY).timestamp() * 1e9),
        )
        for twin_id in every
        for k in range(steps)
    ]
    for start in range(0, len(points), 5000):
        telemetry.write(points[start : start + 5000])
    return every


# -- the server ---------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def cpu_seconds(pid: int) -> float:
    """CPU time (user + system) of process ``pid`` and its children so far, from /proc: what the
    load cost the server (its API workers included), whatever else the machine ran meanwhile
    (the backends' own processes excluded)."""
    import psutil

    process = psutil.Process(pid)
    total = 0.0
    for one in [process, *process.children(recursive=True)]:
        times = one.cpu_times()
        total += times.user + times.system
    return total


def machine_busy_seconds() -> float:
    """CPU time every process of the machine used so far, all cores (/proc/stat, idle and iowait
    excluded): the server, the backends and the load generator together, on a quiet machine."""
    values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9]]
    idle = values[3] + values[4]
    return (sum(values) - idle) / os.sysconf("SC_CLK_TCK")


@contextlib.contextmanager
def server(
    command: str, env: dict[str, str], workdir: Path, broker_port: int, profile: Path | None, tuned_gc: bool
) -> Iterator[tuple[str, int]]:
    """``kgtwin <command>`` in its own process on a free port; its base URL once ready."""
    import httpx

    port = free_port()
    full_env = {
        **os.environ,
        "KGTWIN_BROKER_URL": f"embedded://127.0.0.1:{broker_port}",
        **env,
        "KGTWIN_HOST": "127.0.0.1",
        "KGTWIN_PORT": str(port),
        "KGTWIN_LOG_LEVEL": "warning",
        "KGTWIN_EXECUTOR_URL": "local://?workers=1",
    }
    argv = [sys.executable, __file__, "_serve", *(["--profile", str(profile)] if profile else [])]
    argv += ["--gc", command] if tuned_gc else [command]
    log = (workdir / f"server-{command}.log").open("wb")
    process = subprocess.Popen(argv, env=full_env, cwd=workdir, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"the server stopped (exit {process.returncode}); see {log.name}")
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(url + "/readyz", timeout=2).status_code == 200:
                    break
            if time.monotonic() > deadline:
                raise RuntimeError(f"the server did not get ready; see {log.name}")
            time.sleep(0.5)
        yield url, process.pid
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(60)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()


WARM_VALUE = 22.22
"""The temperature the bench's devices publish: no point of the stored history has it."""


def copy_latest_to_nodes(graph: Any, ids: list[str]) -> None:
    """Each room's newest temperature on its node, as a separate ``kgtwin ingest`` leaves it.

    In the cloud profile ingest runs in a process of its own and copies every twin's last
    values onto its node (``graph.latest``) once a second; ``kgtwin api`` answers
    ``latest`` from them. No ingest runs beside the bench's ``kgtwin api``, so the bench
    writes what it would have, with the same code.
    """
    from graph.latest import write_latest

    at = time.time_ns()
    write_latest(graph, {twin_id: ({"temperature": WARM_VALUE}, {"temperature": at}) for twin_id in ids})


def warm_latest(url: str, broker_port: int, ids: list[str]) -> None:
    """Publish one reading per room over MQTT, as devices do, and wait until the API answers it.

    In the edge profile ``latest`` is served from ingest's last-value cache, which holds
    every twin that reported since the service started: a running site's steady state.
    """
    import httpx

    from ingest.broker import MqttBroker

    broker = MqttBroker("127.0.0.1", broker_port, prefer_v5=False, client_id="bench-devices")
    try:
        stamp = int(time.time() * 1000)
        for twin_id in ids:
            payload = json.dumps({"temperature": WARM_VALUE, "ts": stamp}).encode()
            broker.publish(f"kgtwin/twins/{twin_id}/telemetry", payload)
    finally:
        broker.close()
    body = {"query": SINGLE, "variables": {"id": ids[-1]}}
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        found = httpx.post(url + "/graphql", json=body, timeout=5).json()
        if (found["data"]["twin"]["latest"] or {}).get("value") == WARM_VALUE:
            return
        time.sleep(0.2)
    raise RuntimeError("the published readings did not reach the API within 30 s")


def tune_gc() -> None:
    """What ``--gc`` tries: freeze what start-up allocated, collect the young generation less often.

    Under concurrent requests Python's cyclic GC runs full collections over every object
    start-up left (schema, ontology, drivers: ~170,000) several times a second; frozen,
    they are never traversed again, and a larger first generation promotes fewer of the
    in-flight requests' objects.
    """
    import gc

    def settle() -> None:
        gc.collect()
        gc.freeze()
        gc.set_threshold(20_000, 10, 10)

    # After start-up: the first request the server answers is a readiness probe.
    import uvicorn

    started = uvicorn.Server.startup

    async def startup(self: Any, *args: Any, **kwargs: Any) -> None:
        await started(self, *args, **kwargs)
        settle()

    uvicorn.Server.startup = startup  # type: ignore[method-assign]


def serve(argv: Sequence[str]) -> None:
    """The server process: kgtwin's own CLI, under cProfile when asked, with ``--gc`` tuned."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--profile", type=Path)
    parser.add_argument("--gc", action="store_true")
    parser.add_argument("command")
    args = parser.parse_args(argv)
    from kgtwin.cli import main as kgtwin

    if args.gc:
        tune_gc()
    sys.argv = ["kgtwin", args.command]
    if args.profile is None:
        kgtwin()
        return
    profiler = cProfile.Profile()
    try:
        profiler.runcall(kgtwin)
    except (SystemExit, KeyboardInterrupt):
        pass
    finally:
        profiler.dump_stats(args.profile)


# -- the load generator -------------------------------------------------------------------------


@dataclass
class Result:
    """One query's run in one mode: latencies in ms, answered requests, errors, wall seconds."""

    latencies: list[float]
    errors: int
    seconds: float
    first_error: str = ""

    @property
    def rate(self) -> float:
        return len(self.latencies) / self.seconds

    def pct(self, q: float) -> float:
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(len(ordered) * q))] if ordered else float("nan")


async def _drive(
    host: str, port: int, bodies: list[bytes], concurrency: int, duration: float, rate: float | None
) -> Result:
    requests = [
        b"POST /graphql HTTP/1.1\r\nHost: %s:%d\r\nContent-Type: application/json\r\n"
        b"Accept: application/json\r\nContent-Length: %d\r\n\r\n%s" % (host.encode(), port, len(b), b)
        for b in bodies
    ]
    latencies: list[float] = []
    errors = [0, ""]
    counter = [0]
    begin = time.perf_counter() + 0.2
    end = begin + duration

    async def connection() -> None:
        reader, writer = await asyncio.open_connection(host, port)
        try:
            while True:
                n = counter[0]
                counter[0] += 1
                due = begin + n / rate if rate else max(time.perf_counter(), begin)
                if due >= end or time.perf_counter() >= end:
                    return  # what was due but not sent in time shows as a lower rate
                wait = due - time.perf_counter()
                if wait > 0:
                    await asyncio.sleep(wait)
                writer.write(requests[n % len(requests)])
                head = await reader.readuntil(b"\r\n\r\n")
                length = int(head.lower().split(b"content-length:", 1)[1].split(b"\r\n", 1)[0])
                body = await reader.readexactly(length)
                done = time.perf_counter()
                if not head.startswith(b"HTTP/1.1 200") or b'"errors"' in body:
                    errors[0] = int(errors[0]) + 1
                    errors[1] = errors[1] or (head + body)[:300].decode(errors="replace")
                else:
                    latencies.append((done - due) * 1000)
        finally:
            writer.close()

    await asyncio.gather(*(connection() for _ in range(concurrency)))
    return Result(latencies, int(errors[0]), time.perf_counter() - begin, str(errors[1]))


def load(argv: Sequence[str]) -> None:
    """The load process: reads its job as JSON on stdin, prints its Result as JSON."""
    import uvloop

    job = json.loads(sys.stdin.read())
    bodies = [json.dumps(b).encode() for b in job["bodies"]]
    result = uvloop.run(
        _drive(job["host"], job["port"], bodies, job["concurrency"], job["duration"], job["rate"])
    )
    # A file, not stdout: hundreds of kilobytes of latencies came back cut short through the pipe.
    Path(job["result"]).write_text(json.dumps(vars(result)))


def drive(
    url: str, bodies: list[dict[str, Any]], concurrency: int, duration: float, rate: float | None
) -> Result:
    host, port = url.removeprefix("http://").split(":")
    job = {"host": host, "port": int(port), "bodies": bodies, "concurrency": concurrency}
    with tempfile.TemporaryDirectory(prefix="kgtwin-load-") as folder:
        job |= {"duration": duration, "rate": rate, "result": str(Path(folder) / "result.json")}
        subprocess.run([sys.executable, __file__, "_load"], input=json.dumps(job), text=True, check=True)
        found = json.loads(Path(job["result"]).read_text())
    return Result(found["latencies"], found["errors"], found["seconds"], found["first_error"])


# -- the setups ---------------------------------------------------------------------------------


@contextlib.contextmanager
def embedded(folder: Path, rooms: int) -> Iterator[tuple[str, dict[str, str], list[str]]]:
    """FalkorDB and DuckDB files written here, then handed to ``kgtwin serve`` (they lock them)."""
    from graph.falkordb import FalkorGraphStore
    from telemetry.duckdb import DuckDbTelemetryStore

    graph = FalkorGraphStore(folder / "graph")
    telemetry = DuckDbTelemetryStore(folder / "telemetry.duckdb")
    try:
        ids = load_data(graph, telemetry, rooms)
    finally:
        telemetry.close()
        graph.close()
    env = {
        "KGTWIN_GRAPH_URL": f"falkordb:///{folder / 'graph'}",
        "KGTWIN_TELEMETRY_URL": f"duckdb:///{folder / 'telemetry.duckdb'}",
    }
    yield "serve", env, ids


@contextlib.contextmanager
def servers(folder: Path, rooms: int) -> Iterator[tuple[str, dict[str, str], list[str]]]:
    """The test servers' Neo4j, InfluxDB and Mosquitto (tests/servers), for ``kgtwin api``.

    Mosquitto carries the change events between API workers (``--workers 2``), as in production.
    """
    from graph.neo4j import Neo4jGraphStore
    from telemetry.influx import InfluxTelemetryStore
    from tests.servers.influxdb_server import start_influxdb
    from tests.servers.mosquitto_server import start_mosquitto
    from tests.servers.neo4j_server import start_neo4j

    (folder / "neo4j").mkdir()
    (folder / "influxdb").mkdir()
    mosquitto = start_mosquitto(folder / "mosquitto")
    neo4j = start_neo4j(folder / "neo4j")
    try:
        influx = start_influxdb(folder / "influxdb")
        try:
            graph = Neo4jGraphStore(neo4j.url)
            telemetry = InfluxTelemetryStore(influx.url, influx.token, influx.org, influx.bucket)
            try:
                graph.ensure_schema()
                ids = load_data(graph, telemetry, rooms)
                copy_latest_to_nodes(graph, ids)
            finally:
                telemetry.close()
                graph.close()
            host = influx.url.split("://", 1)[1]
            env = {
                "KGTWIN_GRAPH_URL": neo4j.url,
                "KGTWIN_TELEMETRY_URL": f"influxdb://{influx.token}@{host}?org={influx.org}&bucket={influx.bucket}",
                "KGTWIN_BROKER_URL": mosquitto.url,
            }
            yield "api", env, ids
        finally:
            influx.stop()
    finally:
        neo4j.stop()
        mosquitto.stop()


SETUPS = {
    "embedded": ("FalkorDB + DuckDB (kgtwin serve)", embedded),
    "servers": ("Neo4j + InfluxDB + Mosquitto (kgtwin api)", servers),
}


def rates_for(spec: str | None, index: int) -> str | None:
    """The rates of the ``index``-th chosen query: one list for all, or the ``index``-th of several."""
    if spec is None:
        return None
    lists = spec.split(";")
    return lists[index] if len(lists) > 1 else lists[0]


def run_queries(
    table: Any, title: str, url: str, pid: int, ids: list[str], chosen: list[tuple[str, str]], args: Any
) -> None:
    """Every chosen query in every mode against one running server, one table row each."""
    for label, query in chosen:
        variables = [{"id": i} for i in ids] if "$id" in query else [{}]
        bodies = [{"query": query, "variables": v} for v in variables]
        drive(url, bodies, args.concurrency, 2.0, None)  # warm-up
        spec = rates_for(args.rates, chosen.index((label, query))) or RATES[list(QUERIES).index(label)]
        for rate in [None if r == "max" else float(r) for r in spec.split(",")]:
            cpu, busy = cpu_seconds(pid), machine_busy_seconds()
            r = drive(url, bodies, args.concurrency, args.duration, rate)
            after, busy_after = cpu_seconds(pid), machine_busy_seconds()
            per_request = (after - cpu) * 1000 / max(1, len(r.latencies))
            machine = (busy_after - busy) * 1000 / max(1, len(r.latencies))
            row = (
                title,
                label,
                "max" if rate is None else f"@{rate:g}/s",
                f"{r.rate:.0f}",
                f"{r.pct(0.5):.1f}",
                f"{r.pct(0.99):.1f}",
                f"{per_request:.2f}",
                f"{machine:.2f}",
                f"{os.getloadavg()[0]:.1f}",
                str(r.errors),
            )
            table.add_row(*row)
            print(" | ".join(row), flush=True)
            if r.errors:
                print(f"{label}: {r.first_error}", file=sys.stderr)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--setups", default="embedded,servers", help="embedded, servers or both")
    parser.add_argument("--queries", default=",".join(str(i) for i in range(len(QUERIES))), help="0,1,2")
    parser.add_argument("--rooms", type=int, default=200, help="generated rooms besides the demo's")
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--duration", type=float, default=10.0, help="seconds per query and mode")
    parser.add_argument(
        "--rates",
        help="max (closed loop) and/or requests/s, for every query; or one list per query, split by ';' "
        "(e.g. 'max,500,250;max,60,40,20')",
    )
    parser.add_argument("--profile", type=Path, help="cProfile the server; one file per setup")
    parser.add_argument("--gc", action="store_true", help="tune the server's garbage collector (tune_gc)")
    parser.add_argument(
        "--workers", default="1", help="API worker processes of `kgtwin api` (servers setup), e.g. 1,2"
    )
    args = parser.parse_args(argv)
    logging.getLogger("neo4j").setLevel(logging.ERROR)  # schema notifications while loading
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"GraphQL API, concurrency {args.concurrency}, {args.duration:g} s per row")
    worker_counts = [int(w) for w in args.workers.split(",")]
    columns = (
        "setup",
        "query",
        "load",
        "req/s",
        "p50 ms",
        "p99 ms",
        "server CPU ms/req",
        "machine CPU ms/req",
    )
    for column in (*columns, "load avg", "errors"):
        table.add_column(column, justify="left" if column in ("setup", "query", "load") else "right")
    chosen = [list(QUERIES.items())[int(i)] for i in args.queries.split(",")]
    for name in args.setups.split(","):
        base_title, setup = SETUPS[name]
        base_title += ", GC tuned" if args.gc else ""
        folder = Path(tempfile.mkdtemp(prefix=f"kgtwin-bench-api-{name}-"))
        try:
            with setup(folder, args.rooms) as (command, env, ids):
                # One process owns the embedded stores: several workers only for `kgtwin api`.
                for workers in worker_counts if command == "api" else [1]:
                    title = base_title + (f", {workers} workers" if workers > 1 else "")
                    profile = args.profile.with_suffix(f".{name}.{workers}.prof") if args.profile else None
                    broker_port = free_port()
                    served_env = env | {"KGTWIN_API_WORKERS": str(workers)}
                    with server(command, served_env, folder, broker_port, profile, args.gc) as (url, pid):
                        if command == "serve":
                            warm_latest(url, broker_port, ids)
                        run_queries(table, title, url, pid, ids, chosen, args)
        finally:
            shutil.rmtree(folder, ignore_errors=True)
    Console(width=150).print(table)
    print(
        f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}, "
        f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC; load average {os.getloadavg()[0]:.1f}"
    )


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "_serve":
        serve(sys.argv[2:])
    elif len(sys.argv) > 1 and sys.argv[1] == "_load":
        load(sys.argv[2:])
    else:
        main()
