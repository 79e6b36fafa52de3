"""Benchmark the twin graph on both engines: loading, walks, search and subgraph selection, by size.

Run ``python bench/graph.py`` (``--twins 10000`` for a quick check, ``--twins 100000
1000000`` to see how each cost grows, ``--engine falkordb`` or ``neo4j`` for one engine).
For each size it generates a seeded campus and factory (``bench/_campus.py``: sites,
buildings, floors, zones, rooms, equipment and points in the base ontology, about two
relationships per twin), loads it into embedded FalkorDB (a temporary directory) and Neo4j
(the test server started in a temporary directory, or an empty database at
``KGTWIN_BENCH_NEO4J_URL``), then times the queries: a twin by id, a floor's containment
tree (cached, and walked), the large building's tree (while it is under 20,000 twins), a
room's neighbours, a find with a property filter, a 1,000-twin subgraph, and the 50-room
graph-plus-telemetry GraphQL query (``bench/_rooms_query.py``). Every row gives the CPU
per unit of work (this process + the engine's) beside wall time, which other load on the
machine distorts far less. One engine holds every size in turn (wiped between them); the
first size is loaded twice, on the engine just started and warm, later sizes once, warm.

Targets from the graph issue (at 100,000 twins):

- bulk import >= 20,000 elements/s into Neo4j, >= 50,000/s into FalkorDB, RSS < 500 MB;
- containment tree of a 10,000-twin building p50 < 20 ms; one-hop neighbours p50 < 3 ms;
- find-by-model with a property filter over 100,000 twins p50 < 30 ms;
- subgraph of 1,000 twins to networkx p50 < 100 ms.

and from the scale issue, between the smallest and the largest size: point and
neighbourhood queries (by id, a floor's tree, neighbours, the subgraph, the 50-room query)
grow <= 1.5x in p50; the warm import's rate at the largest size is >= 0.8x that at the
smallest; the import's own memory (this process's growth during it, the generated campus
excluded) stays < 500 MB: it caps its memos (``graph.importer.MEMO_LIMIT``).

The load is ``graph.importer.import_bulk`` reading a bulk file written beforehand (not
timed): validation, models, ``UNWIND ... MERGE`` batches. Where kgtwin has no importer
(``graph.bulk`` missing) it falls back to batched ``UNWIND ... CREATE`` statements through
``GraphStore.write`` writing the nodes and edges ``TwinGraph`` writes (same labels, same
encoded properties) without validation; the table names which one ran.
"""

from __future__ import annotations

import argparse
import datetime as dt
import io
import logging
import math
import os
import platform
import statistics
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from itertools import cycle, islice
from pathlib import Path
from typing import Any

import psutil
from rich.console import Console
from rich.table import Table

# This script is itself named graph.py: put the repository first on the path so that
# ``import graph`` finds the package, not this file.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import _engines as engines
from _campus import ENTITY, Campus, generate
from _rooms_query import rooms_client

from graph import (
    Condition,
    LimitExceeded,
    SubgraphSpec,
    TwinGraph,
    containment_tree,
    find_twins,
    neighbours,
    select_subgraph,
)
from graph.cypher import identifier
from graph.physical import encode
from graph.store import GraphStore
from ontology import base_model_set, base_models, label_index
from ontology.model import ModelSet

BATCH = 2_000
WARMUP = 3
RUNS = {
    "by_id": 200,
    "floor": 100,
    "floor_walked": 30,
    "building": 30,
    "neighbours": 200,
    "find": 30,
    "subgraph": 30,
    "rooms": 30,
}
TARGETS_MS = {
    "by_id": math.inf,
    "floor": math.inf,
    "floor_walked": math.inf,
    "building": 20.0,
    "neighbours": 3.0,
    "find": 30.0,
    "subgraph": 100.0,
    "rooms": math.inf,
}
QUERY_NAMES = {
    "by_id": "a twin by id (TwinGraph.get_twin)",
    "floor": "containment tree of a floor",
    "floor_walked": "  the same, walked (cached=False)",
    "building": "containment tree of the large building",
    "neighbours": "one-hop neighbours of a room (both ways)",
    "find": "find Entity where ratedPower >= 45",
    "subgraph": "subgraph of a factory hall -> networkx",
    "rooms": "50-room GraphQL query (graph + telemetry)",
}
GROWTH_NAMES = {"floor_walked": "containment tree of a floor, walked"}
GROWTH_BOUNDED = {"by_id", "floor", "floor_walked", "neighbours", "subgraph", "rooms"}
"""Point and neighbourhood queries: their cost should not follow the graph's size."""
GROWTH_LIMIT = 1.5
IMPORT_RATE = {"falkordb": 50_000, "neo4j": 20_000}
IMPORT_RATE_KEPT = 0.8
"""The import's rate at the largest size, at least this share of its rate at the smallest."""
IMPORT_RSS_MB = 500
NOW = "2026-01-01T00:00:00.000Z"


@dataclass
class Row:
    benchmark: str
    engine: str
    size: str
    p50: str
    p99_or_rate: str
    target: str
    met: bool | None
    cpu: str = ""


@dataclass
class LoadStats:
    method: str
    seconds: float
    elements: int
    peak_rss: int
    base_rss: int
    peak_engine_rss: int | None
    cpu_seconds: float = math.nan
    """CPU time of this process and the engine during the load: robust to other load on the machine."""


@dataclass
class SizeResult:
    """What one size of campus measured, for the growth rows."""

    twins: int
    load: LoadStats
    timings: dict[str, Timing]


class RssSampler:
    """Peak resident memory of this process (and of an engine process) while a block runs."""

    def __init__(self, engine_pid: int | None) -> None:
        self._me = psutil.Process()
        self._engine = psutil.Process(engine_pid) if engine_pid else None
        self.peak = self.peak_engine = 0
        self._stop = threading.Event()

    def _sample(self) -> None:
        self.peak = max(self.peak, self._me.memory_info().rss)
        if self._engine is not None:
            self.peak_engine = max(self.peak_engine, self._engine.memory_info().rss)

    def _run(self) -> None:
        while not self._stop.wait(0.05):
            self._sample()

    @contextmanager
    def running(self) -> Iterator[None]:
        thread = threading.Thread(target=self._run, daemon=True)
        self._sample()
        thread.start()
        try:
            yield
        finally:
            self._stop.set()
            thread.join()
            self._sample()


def _batches(items: Sequence[Any], size: int) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def load_unwind(store: GraphStore, models: ModelSet, campus: Campus) -> None:
    """Write the campus as ``TwinGraph`` would shape it, ``BATCH`` twins or edges per statement."""
    index = label_index(models)
    by_model: dict[str, list[Any]] = {}
    for twin in campus.twins:
        by_model.setdefault(twin.model, []).append(twin)
    for model, twins in by_model.items():
        labels = "".join(":" + identifier(label) for label in index.labels(model))
        query = f"UNWIND $rows AS row CREATE (t:Twin{labels}) SET t = row"
        for chunk in _batches(twins, BATCH):
            system = {"model": model, "etag": 'W/"bench"', "createdAt": NOW, "updatedAt": NOW}
            store.write(query, {"rows": [encode(t.properties, {"id": t.id, **system}) for t in chunk]})
    by_name: dict[str, list[Any]] = {}
    for rel in campus.relationships:
        by_name.setdefault(rel.name, []).append(rel)
    for name, rels in by_name.items():
        query = (
            "UNWIND $rows AS row MATCH (s:Twin {id: row.s}) MATCH (t:Twin {id: row.t}) "
            f"CREATE (s)-[r:{identifier(name)}]->(t) SET r = row.p"
        )
        for chunk in _batches(rels, BATCH):
            rows = [{"s": r.source, "t": r.target, "p": encode(r.properties, {"id": r.id})} for r in chunk]
            store.write(query, {"rows": rows})


def write_bulk_file(campus: Campus, path: Path) -> bool:
    """Write the campus as a bulk file for ``graph.importer``; false when kgtwin has no importer yet."""
    try:
        from graph.bulk import relationship_line, twin_line, write_bulk
    except ImportError:
        return False
    with path.open("w", encoding="utf-8") as out:
        write_bulk(
            out,
            base_models(),
            (twin_line(t.id, t.model, t.properties) for t in campus.twins),
            (relationship_line(r.source, r.id, r.name, r.target, r.properties) for r in campus.relationships),
        )
    return True


def import_file(store: GraphStore, path: Path, campus: Campus) -> None:
    from graph.importer import import_bulk

    with path.open("rb") as stream:
        report = import_bulk(store, stream)
    expected = (len(campus.twins), len(campus.relationships))
    if not report.ok or (report.twins, report.relationships) != expected:
        raise SystemExit(f"bulk import refused lines: {report.issue_count} issues, first {report.issues[:3]}")


def measure_load(
    store: GraphStore, models: ModelSet, campus: Campus, engine_pid: int | None, workdir: Path
) -> LoadStats:
    """Load with ``graph.importer`` from a bulk file when kgtwin has it, else with UNWIND batches."""
    bulk = workdir / "campus.ndjson"
    importer = write_bulk_file(campus, bulk)
    store.ensure_schema()
    sampler = RssSampler(engine_pid)
    base = psutil.Process().memory_info().rss
    engine = psutil.Process(engine_pid) if engine_pid else None
    engine_cpu = sum(engine.cpu_times()[:2]) if engine else math.nan
    with sampler.running():
        start, cpu = time.perf_counter(), time.process_time()
        if importer:
            import_file(store, bulk, campus)
        else:
            load_unwind(store, models, campus)
        seconds = time.perf_counter() - start
        cpu = time.process_time() - cpu
    if engine is not None:
        cpu += sum(engine.cpu_times()[:2]) - engine_cpu
    elements = len(campus.twins) + len(campus.relationships)
    method = "bulk import (graph.importer, from file)" if importer else "load (UNWIND batches)"
    return LoadStats(method, seconds, elements, sampler.peak, base, sampler.peak_engine or None, cpu)


@dataclass
class Timing:
    """p50 and p99 in ms of one query, and the CPU it cost (this process + the engine) per call."""

    p50: float
    p99: float
    cpu_ms: float


class CpuClock:
    """CPU seconds of this process and of the engine's process, read together."""

    def __init__(self, engine_pid: int | None) -> None:
        self._engine = psutil.Process(engine_pid) if engine_pid else None

    def seconds(self) -> float:
        engine = sum(self._engine.cpu_times()[:2]) if self._engine is not None else 0.0
        return time.process_time() + engine


def percentiles(run: Callable[[int], object], runs: int, clock: CpuClock) -> Timing:
    """p50 and p99 in ms of ``run(i)`` over ``runs`` calls, after ``WARMUP`` unmeasured ones."""
    for i in range(WARMUP):
        run(i)
    times = []
    cpu = clock.seconds()
    for i in range(runs):
        start = time.perf_counter()
        run(i)
        times.append((time.perf_counter() - start) * 1000)
    cpu_ms = (clock.seconds() - cpu) * 1000 / runs
    times.sort()
    return Timing(statistics.median(times), times[max(0, math.ceil(0.99 * len(times)) - 1)], cpu_ms)


def query_timings(
    store: GraphStore, models: ModelSet, campus: Campus, clock: CpuClock, workdir: Path
) -> tuple[dict[str, Timing], dict[str, str]]:
    """Every query of the benchmark on the loaded campus: its timing and the size it covered."""
    timings: dict[str, Timing] = {}
    sizes: dict[str, str] = {}
    twins = TwinGraph(store, lambda: models)
    ids = [t.id for t in campus.twins[:: max(1, len(campus.twins) // 500)]]
    timings["by_id"] = percentiles(lambda i: twins.get_twin(ids[i % len(ids)]), RUNS["by_id"], clock)
    sizes["by_id"] = f"{len(ids)} ids in turn"

    floors = campus.floors[:: max(1, len(campus.floors) // 50)]
    sizes["floor"] = f"{len(containment_tree(store, floors[0]).ids()):,} twins"
    for floor in floors:  # each floor's tree in the cache first: this row is the cached answer
        containment_tree(store, floor)
    timings["floor"] = percentiles(
        lambda i: containment_tree(store, floors[i % len(floors)]), RUNS["floor"], clock
    )
    sizes["floor_walked"] = sizes["floor"]
    timings["floor_walked"] = percentiles(
        lambda i: containment_tree(store, floors[i % len(floors)], cached=False), RUNS["floor_walked"], clock
    )
    try:
        tree = containment_tree(store, campus.large_building, max_twins=20_000)
    except LimitExceeded:
        pass  # the large building is a tenth of the twins: past 200,000 its tree passes the limit
    else:
        sizes["building"] = f"{len(tree.ids()):,} twins"
        timings["building"] = percentiles(
            lambda _: containment_tree(store, campus.large_building, max_twins=20_000),
            RUNS["building"],
            clock,
        )

    rooms = list(islice(cycle(campus.rooms[:: max(1, len(campus.rooms) // 200)]), 200))
    reached = statistics.mean(len(neighbours(store, r, direction="both")) for r in rooms[:20])
    sizes["neighbours"] = f"{reached:.0f} twins"
    timings["neighbours"] = percentiles(
        lambda i: neighbours(store, rooms[i % len(rooms)], direction="both"), RUNS["neighbours"], clock
    )

    where = Condition("ratedPower", "gte", 45.0)
    page = find_twins(store, models, ENTITY, where=where, first=100)
    assert len(page.twins) == 100, "the filter should match more than a page"
    sizes["find"] = f"{len(campus.twins):,} Entity, first 100"
    timings["find"] = percentiles(
        lambda _: find_twins(store, models, ENTITY, where=where, first=100), RUNS["find"], clock
    )

    specs = [
        SubgraphSpec(
            roots=(hall,), relationships=("locatedIn", "feeds", "hasPoint"), direction="in", maxDepth=1
        )
        for hall in campus.halls
    ]
    sub = select_subgraph(store, models, specs[0])
    sizes["subgraph"] = f"{sub.number_of_nodes():,} twins, {sub.number_of_edges():,} rels"
    timings["subgraph"] = percentiles(
        lambda i: select_subgraph(store, models, specs[i % len(specs)]), RUNS["subgraph"], clock
    )

    with rooms_client(store, campus.rooms, workdir) as ask:
        sizes["rooms"] = "50 rooms, latest + 12 windows each"
        timings["rooms"] = percentiles(ask, RUNS["rooms"], clock)
    return timings, sizes


def query_rows(timings: dict[str, Timing], sizes: dict[str, str], engine: str, twins: int) -> list[Row]:
    rows = []
    for key, timing in timings.items():
        target = TARGETS_MS[key]
        met = None if math.isinf(target) else timing.p50 < target
        rows.append(
            Row(
                QUERY_NAMES[key],
                engine,
                f"{twins:,}: {sizes[key]}",
                f"{timing.p50:,.1f} ms",
                f"{timing.p99:,.1f} ms",
                "" if math.isinf(target) else f"p50 < {target:g} ms",
                met,
                f"{timing.cpu_ms:,.2f} ms",
            )
        )
    return rows


def export_row(store: GraphStore, engine: str, twins: int) -> Row:
    """One ``graph.exporter.export_bulk`` of the whole graph into memory (lines per second)."""
    from graph.exporter import export_bulk

    start = time.perf_counter()
    lines = export_bulk(store, io.StringIO())
    seconds = time.perf_counter() - start
    return Row(
        "bulk export (graph.exporter)",
        engine,
        f"{twins:,}: {lines:,} lines",
        f"{seconds:,.1f} s total",
        f"{lines / seconds:,.0f} lines/s",
        "",
        None,
    )


def load_rows(stats: LoadStats, engine: str, campus: Campus, when: str) -> list[Row]:
    rate = stats.elements / stats.seconds
    size = f"{len(campus.twins):,} twins + {len(campus.relationships):,} rels"
    target = IMPORT_RATE[engine]
    engine_rss = f", engine {stats.peak_engine_rss / 2**20:,.0f} MB" if stats.peak_engine_rss else ""
    growth = stats.peak_rss - stats.base_rss
    return [
        Row(
            f"{stats.method}: {when}",
            engine,
            size,
            f"{stats.seconds:,.1f} s total",
            f"{rate:,.0f} elements/s",
            f">= {target:,}/s",
            rate >= target,
            f"{stats.cpu_seconds * 1e6 / stats.elements:,.1f} µs/element",
        ),
        Row(
            f"load: RSS of this process: {when}",
            engine,
            f"before {stats.base_rss / 2**20:,.0f} MB (campus held)",
            f"peak {stats.peak_rss / 2**20:,.0f} MB{engine_rss}",
            f"+{growth / 2**20:,.0f} MB during the import",
            f"growth < {IMPORT_RSS_MB} MB",
            growth < IMPORT_RSS_MB * 2**20,
        ),
    ]


def growth_rows(engine: str, results: list[SizeResult]) -> list[Row]:
    """The largest size against the smallest: each query's p50 ratio, the import's rate and memory."""
    small, large = results[0], results[-1]
    label = f"{small.twins:,} -> {large.twins:,}"
    rows = []
    for key in (k for k in QUERY_NAMES if k in small.timings and k in large.timings):
        a, b = small.timings[key], large.timings[key]
        ratio = b.p50 / a.p50
        bounded = key in GROWTH_BOUNDED
        rows.append(
            Row(
                f"growth: {GROWTH_NAMES.get(key, QUERY_NAMES[key])}",
                engine,
                label,
                f"{a.p50:,.1f} -> {b.p50:,.1f} ms ({ratio:.2f}x)",
                f"CPU {a.cpu_ms:,.2f} -> {b.cpu_ms:,.2f} ms ({b.cpu_ms / a.cpu_ms:.2f}x)",
                f"p50 <= {GROWTH_LIMIT}x" if bounded else "(grows with the data)",
                ratio <= GROWTH_LIMIT if bounded else None,
            )
        )
    ra, rb = small.load.elements / small.load.seconds, large.load.elements / large.load.seconds
    cpu_a = small.load.cpu_seconds / small.load.elements
    cpu_b = large.load.cpu_seconds / large.load.elements
    rows.append(
        Row(
            "growth: import rate (warm engine)",
            engine,
            label,
            f"{ra:,.0f} -> {rb:,.0f}/s ({rb / ra:.2f}x)",
            f"CPU/element {cpu_b / cpu_a:.2f}x",
            f">= {IMPORT_RATE_KEPT:.1f}x",
            rb / ra >= IMPORT_RATE_KEPT,
        )
    )
    ga, gb = (r.load.peak_rss - r.load.base_rss for r in (small, large))
    rows.append(
        Row(
            "growth: import's own memory",
            engine,
            label,
            f"+{ga / 2**20:,.0f} -> +{gb / 2**20:,.0f} MB",
            f"data {large.twins / small.twins:.0f}x",
            f"< {IMPORT_RSS_MB} MB",
            gb < IMPORT_RSS_MB * 2**20,
        )
    )
    return rows


def wipe(store: GraphStore) -> None:
    """Delete everything (models and the version node included), in slices the engines take easily."""
    while store.write("MATCH (n) WITH n LIMIT 20000 DETACH DELETE n RETURN count(*)").rows[0][0]:
        pass


def measure_sizes(
    store: GraphStore,
    models: ModelSet,
    sizes: Sequence[int],
    engine: str,
    engine_pid: int | None,
    workdir: Path,
) -> list[Row]:
    """Load and query each size in turn on one engine; then the growth from the first size to the last.

    The engine's first load runs on an engine that has done nothing yet: Neo4j's JVM
    compiles Cypher's runtime and its own write paths then, which doubles its CPU time for
    that load. A server in service has long been warm, so the first size is loaded twice
    (after a wipe, into the same empty graph) and every later size once, into a warm
    engine: the rates compared are warm ones.
    """
    rows: list[Row] = []
    results: list[SizeResult] = []
    clock = CpuClock(engine_pid)
    for n, twins in enumerate(sizes):
        campus = generate(twins)
        log(f"{engine}: generated {len(campus.twins):,} twins, {len(campus.relationships):,} relationships")
        measured: list[Row] = []
        if n == 0:
            first = measure_load(store, models, campus, engine_pid, workdir)
            measured += load_rows(first, engine, campus, "engine just started")
            wipe(store)
        load = measure_load(store, models, campus, engine_pid, workdir)
        measured += load_rows(load, engine, campus, "warm engine")
        log(f"{engine}: loaded {len(campus.twins):,} twins in {load.seconds:,.1f} s; querying")
        timings, described = query_timings(store, models, campus, clock, workdir)
        measured += query_rows(timings, described, engine, len(campus.twins))
        measured.append(export_row(store, engine, len(campus.twins)))
        results.append(SizeResult(len(campus.twins), load, timings))
        if n > 0:
            measured += growth_rows(engine, [results[0], results[-1]])
        # Printed now: a run stopped before its largest size still shows the sizes it finished.
        print_rows(f"{engine}, {len(campus.twins):,} twins (load average {os.getloadavg()[0]:.1f})", measured)
        rows += measured
        del campus
        if n + 1 < len(sizes):
            wipe(store)
            (workdir / "telemetry.duckdb").unlink(missing_ok=True)
    return rows


def run_falkordb(models: ModelSet, sizes: Sequence[int]) -> list[Row]:
    with engines.falkordb("kgtwin-bench-falkordb-") as (store, pid, folder):
        return measure_sizes(store, models, sizes, "falkordb", pid, folder)


def run_neo4j(models: ModelSet, sizes: Sequence[int]) -> list[Row]:
    with engines.neo4j("kgtwin-bench-neo4j-") as (store, pid, folder):
        return measure_sizes(store, models, sizes, "neo4j", pid, folder)


CONSOLE = Console(width=None if sys.stdout.isatty() else 250)


def print_rows(title: str, rows: Sequence[Row]) -> None:
    table = Table(title=title)
    columns = ("benchmark", "engine", "size", "p50", "p99 / rate", "CPU per unit", "target", "met?")
    for column in columns:
        table.add_column(column, justify="left" if column in ("benchmark", "engine") else "right")
    for row in rows:
        met = "" if row.met is None else ("yes" if row.met else "[red]no[/red]")
        table.add_row(row.benchmark, row.engine, row.size, row.p50, row.p99_or_rate, row.cpu, row.target, met)
    CONSOLE.print(table)


def log(message: str) -> None:
    """A progress line with the time and the machine's load (``uptime``'s 1-minute average)."""
    print(f"{dt.datetime.now(dt.UTC):%H:%M:%S} load {os.getloadavg()[0]:.1f}: {message}", flush=True)


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    memory = psutil.virtual_memory().total / 2**30
    return (
        f"{cpu}, {os.cpu_count()} cores, {memory:.0f} GiB, Python {platform.python_version()}, "
        f"{dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--twins",
        type=int,
        nargs="+",
        default=[100_000],
        help="about how many twins to generate; several sizes run in turn and are compared",
    )
    parser.add_argument("--engine", choices=("falkordb", "neo4j", "both"), default="both")
    args = parser.parse_args()
    # The Neo4j driver logs a warning per query naming a relationship type no twin has yet
    # (``isPartOf`` in the containment walk); they would bury the table.
    logging.getLogger("neo4j.notifications").setLevel(logging.ERROR)
    console = CONSOLE
    console.print(f"machine: {machine()}, load average {'/'.join(f'{x:.1f}' for x in os.getloadavg())}")
    models = base_model_set()
    rows: list[Row] = []
    engines = ("falkordb", "neo4j") if args.engine == "both" else (args.engine,)
    for engine in engines:
        run = run_falkordb if engine == "falkordb" else run_neo4j
        rows += run(models, sorted(args.twins))
    runs = ", ".join(f"{k} {v}" for k, v in RUNS.items())
    print_rows(f"twin graph benchmarks, every size (p50/p99 of {runs} runs after {WARMUP} warm-up)", rows)
    console.print(f"finished {dt.datetime.now(dt.UTC):%H:%M} UTC, load average {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
