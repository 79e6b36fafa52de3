"""Benchmark the ADT query language: parse+translate per query, and end-to-end pages on both engines.

Run ``python bench/adt_query.py`` (``--floors 4`` for a quick check, ``--engine falkordb``
or ``neo4j`` for one engine). It builds a seeded building of the ADT query tests' models
(``tests/graph/adt_building.py``): one site, ``--floors`` floors of ``--rooms`` rooms, four
pieces of equipment per room (two pumps feeding a tank, an air handler serving the room),
about 3,000 twins and 6,000 relationships by default, imported with ``graph.import_bulk``
into embedded FalkorDB (a temporary directory) and Neo4j (the test server started in a
temporary directory, or an empty database at ``KGTWIN_BENCH_NEO4J_URL``).

For each query it prints the median time to parse, check and translate it (no engine,
``--translations`` runs), then the p50/p99 wall time of ``run_query`` for one page of 100
rows (``--runs`` runs after a warm-up) with this process's CPU time per query beside it,
and the engine's CPU per query where the engine is a local process (embedded FalkorDB's
redis-server; the Neo4j the script started).
"""

from __future__ import annotations

import argparse
import io
import json
import logging
import os
import random
import statistics
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import psutil
from rich.console import Console
from rich.table import Table

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import _engines as engines

from graph import import_bulk
from graph.adt_query import parse_query, run_query
from graph.adt_query._check import check
from graph.adt_query._conditions import DIALECTS
from graph.adt_query._cypher import translate
from graph.store import GraphStore
from tests.graph.adt_building import AHU, DOCS, EQUIPMENT, FLOOR, PUMP, ROOM, SITE, TANK

WARMUP = 3

QUERIES = {
    "by $dtId": "SELECT * FROM DIGITALTWINS T WHERE T.$dtId = 'room-2-17'",
    "model + filter": f"SELECT * FROM DIGITALTWINS T WHERE IS_OF_MODEL(T, '{ROOM}') AND T.temperature > 24",
    "count by model": f"SELECT COUNT() FROM DIGITALTWINS WHERE IS_OF_MODEL('{EQUIPMENT}')",
    "projection": "SELECT T.name, T.capacity AS seats FROM DIGITALTWINS T "
    f"WHERE IS_OF_MODEL(T, '{ROOM}', exact)",
    "string function": "SELECT T.$dtId FROM DIGITALTWINS T WHERE STARTSWITH(T.name, 'Room 1-')",
    "JOIN, 1 hop": "SELECT R FROM DIGITALTWINS F JOIN R RELATED F.contains WHERE F.$dtId = 'floor-1'",
    "JOIN, 2 hops": "SELECT R FROM DIGITALTWINS S JOIN F RELATED S.contains JOIN R RELATED F.contains "
    "WHERE S.$dtId = 'site-1' AND R.occupied = true",
    "MATCH chain": "SELECT E FROM DIGITALTWINS MATCH (F)-[:contains]->(R)<-[:locatedIn]-(E) "
    "WHERE F.$dtId = 'floor-1'",
    "MATCH *..2": "SELECT R FROM DIGITALTWINS MATCH (S)-[:contains*..2]->(R) WHERE S.$dtId = 'site-1'",
    "relationships": "SELECT * FROM RELATIONSHIPS R WHERE R.$relationshipName = 'feeds' AND R.flow > 5",
}


def building(floors: int, rooms: int, seed: int = 7) -> bytes:
    """The building as a bulk NDJSON file (docs/bulk-format.md)."""
    rng = random.Random(seed)
    lines: list[object] = [{"Section": "Header"}, {"fileVersion": "1.0.0"}, {"Section": "Models"}, *DOCS]
    twins: list[dict[str, object]] = [{"$dtId": "site-1", "$metadata": {"$model": SITE}, "name": "Site"}]
    rels: list[dict[str, object]] = []

    def rel(source: str, rid: str, name: str, target: str, **props: object) -> None:
        rels.append(
            {"$dtId": source, "$relationshipId": rid, "$relationshipName": name, "$targetId": target, **props}
        )

    for f in range(floors):
        floor = f"floor-{f}"
        twins.append({"$dtId": floor, "$metadata": {"$model": FLOOR}, "name": f"Floor {f}", "level": f})
        rel("site-1", f"c-{f}", "contains", floor)
        for r in range(rooms):
            room = f"room-{f}-{r}"
            twins.append({
                "$dtId": room, "$metadata": {"$model": ROOM}, "name": f"Room {f}-{r}",
                "capacity": rng.randint(1, 60), "occupied": rng.random() < 0.5,
                "temperature": round(rng.uniform(18, 28), 1),
            })  # fmt: skip
            rel(floor, f"c-{r}", "contains", room)
            equipment = [
                (f"pump-{f}-{r}-a", PUMP),
                (f"pump-{f}-{r}-b", PUMP),
                (f"tank-{f}-{r}", TANK),
                (f"ahu-{f}-{r}", AHU),
            ]
            for twin_id, model in equipment:
                twins.append({"$dtId": twin_id, "$metadata": {"$model": model}, "name": twin_id})
                rel(twin_id, "l-1", "locatedIn", room)
            for pump in equipment[:2]:
                rel(
                    pump[0],
                    "f-1",
                    "feeds",
                    equipment[2][0],
                    medium="water",
                    flow=round(rng.uniform(0, 10), 1),
                )
            rel(equipment[3][0], "s-1", "serves", room, priority=rng.randint(1, 3))
    lines += [{"Section": "Twins"}, *twins, {"Section": "Relationships"}, *rels]
    return "\n".join(json.dumps(line) for line in lines).encode()


def median_us(action: Callable[[], object], runs: int) -> float:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        action()
        times.append(time.perf_counter() - started)
    return statistics.median(times) * 1e6


def translation_times(runs: int) -> dict[str, float]:
    """Median microseconds to parse, check and translate each query (both dialects alike)."""

    def once(text: str) -> None:
        query = parse_query(text)
        translate(query, check(query), DIALECTS["neo4j"], lambda dtmi: [dtmi], limit=101)

    return {name: median_us(lambda text=text: once(text), runs) for name, text in QUERIES.items()}


def end_to_end(
    store: GraphStore, engine_pid: int | None, runs: int
) -> dict[str, tuple[float, float, float, float | None]]:
    """Per query: p50 and p99 ms of one page of 100, and ms of CPU per query here and in the engine."""
    engine = psutil.Process(engine_pid) if engine_pid else None
    found = {}
    for name, text in QUERIES.items():
        for _ in range(WARMUP):
            run_query(store, text)
        times = []
        cpu_before = time.process_time()
        engine_before = sum(engine.cpu_times()[:2]) if engine else 0.0
        for _ in range(runs):
            started = time.perf_counter()
            run_query(store, text)
            times.append(time.perf_counter() - started)
        ours = (time.process_time() - cpu_before) / runs * 1e3
        theirs = (sum(engine.cpu_times()[:2]) - engine_before) / runs * 1e3 if engine else None
        times.sort()
        p99 = times[min(len(times) - 1, round(len(times) * 0.99))]
        found[name] = (statistics.median(times) * 1e3, p99 * 1e3, ours, theirs)
    return found


@contextmanager
def falkordb(data: bytes) -> Iterator[tuple[GraphStore, int | None]]:
    with engines.falkordb("kgtwin-bench-adtq-") as (store, pid, _):
        import_bulk(store, io.BytesIO(data))
        yield store, pid


@contextmanager
def neo4j(data: bytes) -> Iterator[tuple[GraphStore, int | None]]:
    with engines.neo4j("kgtwin-bench-adtq-neo4j-") as (store, pid, _):
        import_bulk(store, io.BytesIO(data))
        yield store, pid


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--floors", type=int, default=6)
    parser.add_argument("--rooms", type=int, default=100, help="rooms per floor")
    parser.add_argument("--runs", type=int, default=50)
    parser.add_argument("--translations", type=int, default=2000)
    parser.add_argument("--engine", choices=("falkordb", "neo4j", "both"), default="both")
    args = parser.parse_args()
    logging.getLogger("neo4j.notifications").setLevel(logging.ERROR)
    console = Console(width=None if sys.stdout.isatty() else 200)
    data = building(args.floors, args.rooms)
    twins = 1 + args.floors * (1 + args.rooms * 5)
    console.print(f"building: {twins:,} twins; load {os.getloadavg()[0]:.2f} (1 min), {os.cpu_count()} cores")
    translated = translation_times(args.translations)
    results: dict[str, dict[str, tuple[float, float, float, float | None]]] = {}
    for engine in ("falkordb", "neo4j") if args.engine == "both" else (args.engine,):
        console.print(f"{engine}: importing and querying ...")
        with (falkordb if engine == "falkordb" else neo4j)(data) as (store, pid):
            results[engine] = end_to_end(store, pid, args.runs)
    table = Table(
        title=f"ADT queries: one page of 100 rows, p50/p99 of {args.runs} runs after {WARMUP} warm-up"
    )
    table.add_column("query")
    table.add_column("parse+translate p50", justify="right")
    for engine in results:
        table.add_column(f"{engine} p50 / p99 ms", justify="right")
        table.add_column(f"{engine} CPU ms/query (here + engine)", justify="right")
    for name in QUERIES:
        cells = [name, f"{translated[name]:.0f} µs"]
        for numbers in results.values():
            p50, p99, ours, theirs = numbers[name]
            cells += [f"{p50:.1f} / {p99:.1f}", f"{ours:.2f} + {'?' if theirs is None else f'{theirs:.2f}'}"]
        table.add_row(*cells)
    console.print(table)


if __name__ == "__main__":
    main()
