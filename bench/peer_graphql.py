"""Benchmark kgtwin's GraphQL reads side by side with the Neo4j GraphQL Library on the same data.

Run ``python bench/peer_graphql.py`` (``--duration 5 --repetitions 1`` for a quick look,
``--servers kgtwin`` to load kgtwin alone). The script

1. installs the peer, ``@neo4j/graphql`` on ``@apollo/server`` (Node), with ``npm ci`` from
   ``bench/peer/package.json`` and its lock into ``~/.cache/kgtwin-bench/peer`` (again only
   when the lock changes);
2. starts the Neo4j test server (``tests/servers``) and InfluxDB, and loads the data with
   kgtwin's bulk import: 50 floors of 100 rooms each (``contains``), every room with a name,
   an area and a volume, 70 temperature points a minute apart, and its newest value on its
   node as a separate ``kgtwin ingest`` leaves it;
3. writes the peer's type definitions for kgtwin's node layout (docs/graph-model.md: a
   twin is ``:Twin`` plus its models' labels, DTDL properties flattened onto the node,
   relationships typed by their DTDL name) and starts it, one Node process, beside one
   ``kgtwin api`` process (one uvicorn worker, no auth, log level warning);
4. checks that both answer every query the same (the peer's answer, reshaped);
5. loads each server alone, ``--repetitions`` times in alternating order, per query a
   2-second warm-up, then a closed loop (``--concurrency`` connections, each sending its
   next request when the last answered) and an open loop at a fixed rate (latency counted
   from when each request was due), ``--duration`` seconds each, with ``bench/api.py``'s
   load generator (a process of its own);
6. prints per query and server the medians over the repetitions: requests/s, p50 and p99,
   the server's CPU per request and Neo4j's CPU per request (from ``/proc``: what other
   processes on a shared machine do not distort), and the kgtwin/peer ratios.

The queries: one room by id with three properties; the first 50 rooms by id with three
properties; a floor and its 100 rooms (one hop) with three properties each; and, kgtwin
only (the peer has no time series), one room and 50 rooms with ``latest`` and
``telemetry`` (5-minute means over the last hour).
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import logging
import os
import platform
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.api import cpu_seconds, drive, free_port, server  # noqa: E402

PEER_DIR = ROOT / "bench" / "peer"
CACHE = Path(os.environ.get("KGTWIN_BENCH_CACHE", Path.home() / ".cache" / "kgtwin-bench"))
FLOORS, ROOMS_PER_FLOOR = 50, 100
ROOM = "dtmi:kgtwin:space:Room;1"
FLOOR = "dtmi:kgtwin:space:Floor;1"
POINT_EVERY = timedelta(minutes=1)
HISTORY = timedelta(minutes=70)

# The peer's schema: one type per model, on the labels kgtwin gives its twins.
TYPE_DEFS = """
type Room @node(labels: ["Room", "Twin"]) {
  id: ID!
  name: String
  area: Float
  volume: Float
}

type Floor @node(labels: ["Floor", "Twin"]) {
  id: ID!
  name: String
  level: Int
  contains: [Room!]! @relationship(type: "contains", direction: OUT)
}
"""


def floor_id(f: int) -> str:
    return f"floor-{f:02d}"


def room_id(f: int, r: int) -> str:
    return f"room-{f:02d}-{r:03d}"


@dataclass(frozen=True)
class Query:
    """One logical query as each server is asked it, and how each answer reads as the same thing."""

    label: str
    kgtwin: str
    peer: str | None
    variables: Callable[[int], dict[str, Any]]
    """The variables of the request numbered ``n`` (the load cycles through a few hundred)."""
    kgtwin_answer: Callable[[dict[str, Any]], Any]
    peer_answer: Callable[[dict[str, Any]], Any]
    rate: float
    """The fixed rate, requests per second, of the open loop."""


PROPS = 'name: property(name: "name") area: property(name: "area") volume: property(name: "volume")'
LATEST = 'latest(name: "temperature") { value time }'
SERIES = 'telemetry(name: "temperature", start: "-1h", every: "5m") { time value }'


def _room_of(n: int) -> dict[str, Any]:
    return {"id": room_id(n % FLOORS, (n * 7) % ROOMS_PER_FLOOR)}


def _floor_of(n: int) -> dict[str, Any]:
    return {"id": floor_id(n % FLOORS)}


def _rooms_sorted(rooms: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return sorted(rooms, key=lambda room: room["id"])


QUERIES = [
    Query(
        "one room by id, 3 properties",
        f"query($id: ID!) {{ twin(id: $id) {{ id {PROPS} }} }}",
        "query($id: ID!) { rooms(where: { id: { eq: $id } }) { id name area volume } }",
        _room_of,
        lambda data: data["twin"],
        lambda data: data["rooms"][0],
        300,
    ),
    Query(
        "first 50 rooms, id + 3 properties",
        f'{{ twins(model: "{ROOM}", first: 50) {{ nodes {{ id {PROPS} }} }} }}',
        "{ rooms(limit: 50, sort: [{ id: ASC }]) { id name area volume } }",
        lambda n: {},
        lambda data: data["twins"]["nodes"],
        lambda data: data["rooms"],
        100,
    ),
    Query(
        "a floor and its 100 rooms (one hop)",
        f'query($id: ID!) {{ twin(id: $id) {{ id name: property(name: "name") '
        f'neighbors(relationship: "contains") {{ id {PROPS} }} }} }}',
        "query($id: ID!) { floors(where: { id: { eq: $id } }) { id name "
        "contains(sort: [{ id: ASC }]) { id name area volume } } }",
        _floor_of,
        lambda data: {**data["twin"], "neighbors": _rooms_sorted(data["twin"]["neighbors"])},
        lambda data: {
            "id": data["floors"][0]["id"],
            "name": data["floors"][0]["name"],
            "neighbors": _rooms_sorted(data["floors"][0]["contains"]),
        },
        100,
    ),
    Query(
        "one room, latest + telemetry (kgtwin only)",
        f"query($id: ID!) {{ twin(id: $id) {{ id {PROPS} {LATEST} {SERIES} }} }}",
        None,
        _room_of,
        lambda data: data["twin"],
        lambda data: data,
        200,
    ),
    Query(
        "50 rooms, latest + telemetry (kgtwin only)",
        f'{{ twins(model: "{ROOM}", first: 50) {{ nodes {{ id {PROPS} {LATEST} {SERIES} }} }} }}',
        None,
        lambda n: {},
        lambda data: data["twins"]["nodes"],
        lambda data: data,
        40,
    ),
]


# -- the data -----------------------------------------------------------------------------------


def load_graph(neo4j_url: str) -> list[str]:
    """The floors and rooms, imported into Neo4j with kgtwin's bulk import; the room ids.

    Each room also gets its newest temperature on its node, as a separate ``kgtwin ingest``
    leaves it (``bench/api.py``'s :func:`copy_latest_to_nodes`).
    """
    from bench.api import copy_latest_to_nodes
    from graph.bulk import relationship_line, twin_line, write_bulk
    from graph.importer import import_bulk
    from graph.neo4j import Neo4jGraphStore
    from ontology.base import base_models

    floors = [floor_id(f) for f in range(FLOORS)]
    rooms = [room_id(f, r) for f in range(FLOORS) for r in range(ROOMS_PER_FLOOR)]
    twins = [twin_line(fid, FLOOR, {"name": f"Floor {f}", "level": f}) for f, fid in enumerate(floors)]
    twins += [
        twin_line(rid, ROOM, {"name": f"Room {i}", "area": 12.5 + i % 40, "volume": 30.0 + i % 90})
        for i, rid in enumerate(rooms)
    ]
    edges = [
        relationship_line(floor_id(f), f"contains:{room_id(f, r)}", "contains", room_id(f, r), {})
        for f in range(FLOORS)
        for r in range(ROOMS_PER_FLOOR)
    ]
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "floors.ndjson"
        with path.open("w", encoding="utf-8") as out:
            write_bulk(out, base_models(), iter(twins), iter(edges))
        graph = Neo4jGraphStore(neo4j_url)
        try:
            with path.open("rb") as stream:
                report = import_bulk(graph, stream)
            if not report.ok or report.twins != len(twins) or report.relationships != len(edges):
                raise SystemExit(f"the bulk import refused lines: {report.issues[:3]}")
            copy_latest_to_nodes(graph, rooms)
        finally:
            graph.close()
    return rooms


def load_telemetry(store: Any, rooms: Sequence[str]) -> None:
    """Each room's temperature, one point a minute over the last 70 minutes."""
    from telemetry.points import TelemetryPoint

    now = datetime.now(UTC)
    points = [
        TelemetryPoint(
            "telemetry",
            "Room",
            {"twin_id": rid},
            {"temperature": 20.0 + (k % 30) / 10},
            int((now - k * POINT_EVERY).timestamp() * 1e9),
        )
        for rid in rooms
        for k in range(int(HISTORY / POINT_EVERY))
    ]
    for start in range(0, len(points), 20_000):
        store.write(points[start : start + 20_000])


# -- the peer -----------------------------------------------------------------------------------


def install_peer() -> Path:
    """``npm ci`` of bench/peer into the cache, unless the cached install has the same lock."""
    target = CACHE / "peer"
    lock = (PEER_DIR / "package-lock.json").read_bytes()
    stamp = target / ".installed"
    digest = hashlib.sha256(lock).hexdigest()
    if not stamp.is_file() or stamp.read_text() != digest:
        target.mkdir(parents=True, exist_ok=True)
        for name in ("package.json", "package-lock.json"):
            shutil.copyfile(PEER_DIR / name, target / name)
        subprocess.run(["npm", "ci", "--no-audit", "--no-fund"], cwd=target, check=True)
        stamp.write_text(digest)
    shutil.copyfile(PEER_DIR / "server.mjs", target / "server.mjs")
    return target


@contextlib.contextmanager
def peer_server(folder: Path, neo4j_url: str, workdir: Path) -> Iterator[tuple[str, int]]:
    """The peer on a free port, in one Node process: its base URL and pid once it serves."""
    import httpx

    port = free_port()
    type_defs = workdir / "peer-typedefs.graphql"
    type_defs.write_text(TYPE_DEFS)
    log = (workdir / "server-peer.log").open("wb")
    env = {**os.environ, "NODE_ENV": "production"}
    process = subprocess.Popen(
        ["node", "server.mjs", neo4j_url, str(port), str(type_defs)],
        cwd=folder,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"the peer stopped (exit {process.returncode}); see {log.name}")
            with contextlib.suppress(httpx.HTTPError):
                answer = httpx.post(url + "/graphql", json={"query": "{ __typename }"}, timeout=2)
                if answer.status_code == 200:
                    break
            if time.monotonic() > deadline:
                raise RuntimeError(f"the peer did not start; see {log.name}")
            time.sleep(0.3)
        yield url, process.pid
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()


# -- checking and loading -----------------------------------------------------------------------


def ask(url: str, query: str, variables: dict[str, Any]) -> dict[str, Any]:
    import httpx

    answer = httpx.post(url + "/graphql", json={"query": query, "variables": variables}, timeout=30)
    body: dict[str, Any] = answer.json()
    if answer.status_code != 200 or body.get("errors"):
        raise SystemExit(f"{url} answered {answer.status_code}: {json.dumps(body)[:500]}")
    data: dict[str, Any] = body["data"]
    return data


def check_same(kgtwin: str, peer: str | None, queries: Sequence[Query]) -> None:
    """Each query's answers, reshaped, are equal on both servers (for a few variables each)."""
    for query in queries:
        for n in (0, 1, 17):
            variables = query.variables(n)
            ours = query.kgtwin_answer(ask(kgtwin, query.kgtwin, variables))
            if not ours:
                raise SystemExit(f"kgtwin answered nothing to {query.label!r} with {variables}")
            if peer is None or query.peer is None:
                continue
            theirs = query.peer_answer(ask(peer, query.peer, variables))
            if ours != theirs:
                raise SystemExit(
                    f"the answers to {query.label!r} differ with {variables}:\n"
                    f"kgtwin: {json.dumps(ours)[:400]}\npeer:   {json.dumps(theirs)[:400]}"
                )


@dataclass
class Run:
    """One load of one server with one query in one mode."""

    rate: float
    p50: float
    p99: float
    server_cpu_ms: float
    neo4j_cpu_ms: float
    errors: int


def load_once(
    url: str, pid: int, neo4j_pid: int, query: Query, text: str, args: argparse.Namespace, rate: float | None
) -> Run:
    bodies = [{"query": text, "variables": query.variables(n)} for n in range(500)]
    cpu, engine = cpu_seconds(pid), cpu_seconds(neo4j_pid)
    result = drive(url, bodies, args.concurrency, args.duration, rate)
    served = max(1, len(result.latencies))
    if result.errors:
        print(f"{query.label}: {result.errors} errors, first: {result.first_error}", file=sys.stderr)
    return Run(
        result.rate,
        result.pct(0.5),
        result.pct(0.99),
        (cpu_seconds(pid) - cpu) * 1000 / served,
        (cpu_seconds(neo4j_pid) - engine) * 1000 / served,
        result.errors,
    )


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--servers", default="kgtwin,peer", help="kgtwin, peer or both")
    parser.add_argument("--queries", default=",".join(str(i) for i in range(len(QUERIES))), help="0,1,2,3,4")
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--duration", type=float, default=10.0, help="seconds per query, mode and server")
    parser.add_argument("--repetitions", type=int, default=3)
    parser.add_argument("--modes", default="max,rate", help="max (closed loop) and/or rate (fixed)")
    parser.add_argument("--profile", type=Path, help="cProfile kgtwin's server into this file")
    args = parser.parse_args(argv)
    logging.getLogger("neo4j").setLevel(logging.ERROR)
    from telemetry.influx import InfluxTelemetryStore
    from tests.servers import neo4j_server
    from tests.servers.influxdb_server import start_influxdb
    from tests.servers.neo4j_server import start_neo4j

    # On a shared machine under load Neo4j may take minutes to start: the bench waits.
    neo4j_server.START_TIMEOUT_S = max(neo4j_server.START_TIMEOUT_S, 600.0)

    names = args.servers.split(",")
    chosen = [QUERIES[int(i)] for i in args.queries.split(",")]
    peer_folder = install_peer() if "peer" in names else None
    folder = Path(tempfile.mkdtemp(prefix="kgtwin-bench-peer-"))
    runs: dict[tuple[str, str, str], list[Run]] = {}
    try:
        (folder / "neo4j").mkdir()
        (folder / "influxdb").mkdir()
        neo4j = start_neo4j(folder / "neo4j")
        influx = start_influxdb(folder / "influxdb")
        with contextlib.ExitStack() as stack:
            stack.callback(neo4j.stop)
            stack.callback(influx.stop)
            began = time.monotonic()
            rooms = load_graph(neo4j.url)
            telemetry = InfluxTelemetryStore(influx.url, influx.token, influx.org, influx.bucket)
            try:
                load_telemetry(telemetry, rooms)
            finally:
                telemetry.close()
            took = time.monotonic() - began
            print(f"loaded {FLOORS * ROOMS_PER_FLOOR} rooms in {FLOORS} floors in {took:.0f} s")
            host = influx.url.split("://", 1)[1]
            env = {
                "KGTWIN_GRAPH_URL": neo4j.url,
                "KGTWIN_TELEMETRY_URL": f"influxdb://{influx.token}@{host}?org={influx.org}&bucket={influx.bucket}",
            }
            targets: dict[str, tuple[str, int]] = {}
            if "kgtwin" in names:
                targets["kgtwin"] = stack.enter_context(
                    server("api", env, folder, free_port(), args.profile, False)
                )
            if peer_folder is not None:
                targets["peer"] = stack.enter_context(peer_server(peer_folder, neo4j.url, folder))
            if "kgtwin" in targets:
                check_same(targets["kgtwin"][0], targets["peer"][0] if "peer" in targets else None, chosen)
            neo4j_pid = neo4j.process.process.pid
            for repetition in range(args.repetitions):
                order = list(targets) if repetition % 2 == 0 else list(reversed(targets))
                for name in order:
                    url, pid = targets[name]
                    for query in chosen:
                        text = query.kgtwin if name == "kgtwin" else query.peer
                        if text is None:
                            continue
                        bodies = [{"query": text, "variables": query.variables(n)} for n in range(500)]
                        drive(url, bodies, args.concurrency, 2.0, None)  # warm-up
                        for mode in args.modes.split(","):
                            rate = None if mode == "max" else query.rate
                            run = load_once(url, pid, neo4j_pid, query, text, args, rate)
                            runs.setdefault((query.label, name, mode), []).append(run)
                            print(
                                f"{repetition + 1} {name:6} {query.label:45} {mode:4} {run.rate:7.0f}/s "
                                f"p50 {run.p50:6.1f} p99 {run.p99:6.1f} ms, server {run.server_cpu_ms:5.2f} "
                                f"Neo4j {run.neo4j_cpu_ms:5.2f} ms/req, errors {run.errors}",
                                flush=True,
                            )
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    report(runs, chosen, args)


def _median(runs: list[Run], field: str) -> float:
    return statistics.median(getattr(run, field) for run in runs)


def report(
    runs: dict[tuple[str, str, str], list[Run]], chosen: Sequence[Query], args: argparse.Namespace
) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(
        title=f"GraphQL reads, kgtwin vs @neo4j/graphql: {args.concurrency} connections, "
        f"{args.duration:g} s per row, median of {args.repetitions}"
    )
    for column in (
        "query",
        "load",
        "server",
        "req/s",
        "p50 ms",
        "p99 ms",
        "server CPU ms/req",
        "Neo4j CPU ms/req",
    ):
        table.add_column(column, justify="left" if column in ("query", "load", "server") else "right")
    for query in chosen:
        for mode in args.modes.split(","):
            load = "closed" if mode == "max" else f"@{query.rate:g}/s"
            found = {
                name: runs[(query.label, name, mode)]
                for name in ("kgtwin", "peer")
                if (query.label, name, mode) in runs
            }
            for name, measured in found.items():
                table.add_row(
                    query.label,
                    load,
                    name,
                    f"{_median(measured, 'rate'):.0f}",
                    f"{_median(measured, 'p50'):.1f}",
                    f"{_median(measured, 'p99'):.1f}",
                    f"{_median(measured, 'server_cpu_ms'):.2f}",
                    f"{_median(measured, 'neo4j_cpu_ms'):.2f}",
                )
            if len(found) == 2:
                ours, theirs = found["kgtwin"], found["peer"]
                table.add_row(
                    query.label,
                    load,
                    "kgtwin/peer",
                    f"{_median(ours, 'rate') / _median(theirs, 'rate'):.2f}x",
                    f"{_median(ours, 'p50') / _median(theirs, 'p50'):.2f}x",
                    f"{_median(ours, 'p99') / _median(theirs, 'p99'):.2f}x",
                    f"{_median(ours, 'server_cpu_ms') / _median(theirs, 'server_cpu_ms'):.2f}x",
                    f"{_median(ours, 'neo4j_cpu_ms') / _median(theirs, 'neo4j_cpu_ms'):.2f}x",
                )
    Console(width=170).print(table)
    print(
        f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}, "
        f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC; load average {os.getloadavg()[0]:.1f}"
    )


if __name__ == "__main__":
    main()
