"""Twin updates and telemetry writes while an analyst's expensive Cypher query runs.

For each engine (embedded FalkorDB; Neo4j 5, the test server built by
``tests/servers/provision.sh``) the script loads 2,000 rooms, then measures, first with
nothing else running and then while an analyst's cartesian product runs for its whole
budget (``--budget``, stopped by the engine):

- ``twin update``: ``TwinGraph.patch_twin`` of a random room (what ``updateTwin`` calls),
  10 a second;
- ``latest onto twins``: the ingest's copy of 50 twins' latest values onto their nodes
  (``graph.latest.write_latest``), 5 a second;
- ``telemetry store``: 100 points written to the embedded DuckDB store, 5 a second (the
  store is not the graph: this row shows what the two cores' contention alone costs);
- ``twin read``: ``TwinGraph.get_twin``, 10 a second.

The analyst's query goes through ``GraphStore.read`` (``--path read``, what the API did
before issue 21) or ``GraphStore.analyst_read`` (``--path analyst``). Prints one row per
engine, workload and phase: count, p50, p99 and max latency in ms, and the CPU seconds of
this process per 1,000 operations. Compare rows of one run only: the machine is shared.
"""

from __future__ import annotations

import argparse
import logging
import random
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from rich.console import Console
from rich.table import Table

# bench/api.py would shadow the api package: the repository goes first on the path.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from api.context import twin_context
from graph.latest import write_latest
from graph.store import GraphStore
from graph.twins import TwinGraph
from ontology.errors import KgtwinError
from telemetry import TelemetryPoint
from telemetry.duckdb import DuckDbTelemetryStore

ROOM = "dtmi:kgtwin:space:Room;1"
ROOMS = 2000
CARTESIAN = "MATCH (a:Twin), (b:Twin), (c:Twin) WHERE a.id < b.id RETURN count(c)"


@dataclass
class Row:
    engine: str
    workload: str
    phase: str
    latencies: list[float]
    cpu_s: float

    def cells(self) -> list[str]:
        ordered = sorted(self.latencies)
        p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] if ordered else float("nan")
        per_k = self.cpu_s / max(1, len(ordered)) * 1000
        return [
            self.engine,
            self.workload,
            self.phase,
            str(len(ordered)),
            f"{statistics.median(ordered) * 1000:.1f}" if ordered else "-",
            f"{p99 * 1000:.1f}",
            f"{ordered[-1] * 1000:.1f}" if ordered else "-",
            f"{per_k:.2f}",
        ]


def load_rooms(graph: GraphStore) -> TwinGraph:
    graph.write("MATCH (n) DETACH DELETE n")
    context = twin_context("bench", graph)
    assert context.twins is not None
    for i in range(ROOMS):
        context.twins.put_twin(f"room-{i}", ROOM, {"name": f"Room {i}", "area": float(10 + i % 90)})
    return context.twins


def workloads(twins: TwinGraph, store: DuckDbTelemetryStore) -> dict[str, tuple[float, Callable[[], None]]]:
    rng = random.Random(7)

    def update() -> None:
        room = f"room-{rng.randrange(ROOMS)}"
        twins.patch_twin(room, [{"op": "replace", "path": "/area", "value": rng.uniform(10, 100)}])

    def latest() -> None:
        now = time.time_ns()
        batch = {
            f"room-{rng.randrange(ROOMS)}": ({"temperature": rng.uniform(18, 26)}, {"temperature": now})
            for _ in range(50)
        }
        write_latest(twins.store, batch)

    def points() -> None:
        now = time.time_ns()
        store.write(
            [
                TelemetryPoint("kgtwin", "Room", {"twin_id": f"room-{i}"}, {"temperature": 21.0}, now)
                for i in range(100)
            ]
        )

    def read() -> None:
        twins.get_twin(f"room-{rng.randrange(ROOMS)}")

    return {
        "twin update": (10.0, update),
        "latest onto twins": (5.0, latest),
        "telemetry store": (5.0, points),
        "twin read": (10.0, read),
    }


@contextmanager
def measuring(
    loads: dict[str, tuple[float, Callable[[], None]]],
) -> Iterator[dict[str, list[float]]]:
    """Run every workload at its rate in its own thread until the block ends; their latencies."""
    stop = threading.Event()
    found: dict[str, list[float]] = {name: [] for name in loads}

    def pace(name: str, rate: float, operation: Callable[[], None]) -> None:
        while not stop.is_set():
            started = time.perf_counter()
            try:
                operation()
            except KgtwinError as exc:  # a conflict of two updates: counted as answered
                logging.getLogger("bench").debug("%s: %s", name, exc.code)
            took = time.perf_counter() - started
            found[name].append(took)
            stop.wait(max(0.0, 1 / rate - took))

    threads = [threading.Thread(target=pace, args=(n, r, op)) for n, (r, op) in loads.items()]
    for thread in threads:
        thread.start()
    try:
        yield found
    finally:
        stop.set()
        for thread in threads:
            thread.join()


def run_engine(name: str, graph: GraphStore, folder: Path, budget_s: float, path: str) -> list[Row]:
    twins = load_rooms(graph)
    store = DuckDbTelemetryStore(folder / f"{name}.duckdb")
    loads = workloads(twins, store)
    rows: list[Row] = []
    try:
        with measuring(loads):  # warm: plans compiled and cached, connections open, JIT done
            time.sleep(3.0)
        cpu = time.process_time()
        with measuring(loads) as idle:
            time.sleep(budget_s)
        idle_cpu = time.process_time() - cpu
        analyst: Callable[..., object] = graph.analyst_read if path == "analyst" else graph.read
        cpu = time.process_time()
        with measuring(loads) as busy:
            started = time.monotonic()
            try:
                analyst(CARTESIAN, timeout_s=budget_s)
                outcome = "answered"
            except KgtwinError as exc:
                outcome = exc.code
            ran = time.monotonic() - started
        busy_cpu = time.process_time() - cpu
        for workload in loads:
            rows.append(Row(name, workload, "idle", idle[workload], idle_cpu / len(loads)))
            rows.append(
                Row(
                    name,
                    workload,
                    f"analyst ({outcome} after {ran:.1f} s)",
                    busy[workload],
                    busy_cpu / len(loads),
                )
            )
    finally:
        store.close()
    return rows


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--engines", default="falkordb,neo4j")
    parser.add_argument("--budget", type=float, default=10.0, help="the analyst query's budget, s")
    parser.add_argument("--path", choices=["read", "analyst"], default="analyst")
    args = parser.parse_args(argv)
    logging.getLogger("neo4j").setLevel(logging.ERROR)
    rows: list[Row] = []
    with tempfile.TemporaryDirectory(prefix="kgtwin-bench-analyst-") as tmp:
        folder = Path(tmp)
        for engine in args.engines.split(","):
            if engine == "falkordb":
                from graph.falkordb import FalkorGraphStore

                falkor = FalkorGraphStore(folder / "falkordb")
                falkor.ensure_schema()
                try:
                    rows += run_engine("falkordb", falkor, folder, args.budget, args.path)
                finally:
                    falkor.close()
            elif engine == "neo4j":
                from graph.neo4j import Neo4jGraphStore
                from tests.servers.neo4j_server import start_neo4j

                (folder / "neo4j").mkdir()
                server = start_neo4j(folder / "neo4j")
                try:
                    neo4j = Neo4jGraphStore(server.url)
                    neo4j.ensure_schema()
                    rows += run_engine("neo4j", neo4j, folder, args.budget, args.path)
                    neo4j.close()
                finally:
                    server.stop()
    table = Table(title=f"While an analyst's query runs ({args.path} path, budget {args.budget:g} s)")
    for column in ("engine", "workload", "phase", "n", "p50 ms", "p99 ms", "max ms", "CPU s / 1k ops"):
        table.add_column(column)
    for row in rows:
        table.add_row(*row.cells())
    Console(width=160).print(table)


if __name__ == "__main__":
    main()
