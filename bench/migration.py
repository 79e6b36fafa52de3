"""Moving every twin of a model version to the next: the time and CPU per twin as the model grows.

Run ``python bench/migration.py`` (``--twins 20000 100000``, ``--engine both``). For each
size, a graph holds that many twins of ``dtmi:bench:migration:Room;1`` and as many of
another model between them; ``graph.migration.migrate_twins`` first checks every Room
against ``Room;2`` (a new optional property) and then moves them, in batches of
``--batch``. The table gives the wall time, twins per second and CPU per twin (this
process plus the engine's), and the growth from the smallest size to the largest: a
migration reads each twin once, so its time per twin should stay flat (target: CPU per
twin grows at most 1.5x). Neo4j is started from tests/servers unless
``KGTWIN_BENCH_NEO4J_URL`` names an empty one.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import logging
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import psutil
from rich.console import Console
from rich.table import Table

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import _engines as engines

from graph.migration import migrate_twins
from graph.store import GraphStore
from ontology import parse
from ontology.model import ModelSet

CTX = "dtmi:dtdl:context;3"
ROOM_1, ROOM_2, OTHER = (f"dtmi:bench:migration:{name}" for name in ("Room;1", "Room;2", "Other;1"))
WRITE_BATCH = 5_000
GROWTH_TARGET = 1.5


def models() -> ModelSet:
    name = {"@type": "Property", "name": "name", "schema": "string"}
    area = {"@type": "Property", "name": "area", "schema": "double"}
    return parse(
        [
            {"@context": CTX, "@id": ROOM_1, "@type": "Interface", "contents": [name]},
            {"@context": CTX, "@id": ROOM_2, "@type": "Interface", "contents": [name, area]},
            {"@context": CTX, "@id": OTHER, "@type": "Interface", "contents": [name]},
        ]
    )


@dataclass
class Result:
    engine: str
    twins: int
    check_s: float
    check_cpu_us: float
    move_s: float
    move_cpu_us: float
    migrated: int


def fill(store: GraphStore, twins: int) -> None:
    """``twins`` Rooms of version 1, each followed by a twin of another model."""
    for start in range(0, twins, WRITE_BATCH):
        rows = [
            {
                "id": f"{kind}-{n:07}",
                "model": model,
                "etag": 'W/"1"',
                "_document": json.dumps({"name": f"n{n}"}),
            }
            for n in range(start, min(start + WRITE_BATCH, twins))
            for kind, model in (("room", ROOM_1), ("other", OTHER))
        ]
        store.write("UNWIND $rows AS row CREATE (t:Twin) SET t = row", {"rows": rows})


def cpu_seconds(engine: psutil.Process | None) -> float:
    return time.process_time() + (sum(engine.cpu_times()[:2]) if engine is not None else 0.0)


def measure(
    store: GraphStore, engine_name: str, engine: psutil.Process | None, sizes: list[int], batch: int
) -> list[Result]:
    found = []
    for twins in sizes:
        store.write("MATCH (n) DETACH DELETE n")
        fill(store, twins)
        timed = []
        for migrate in (False, True):
            wall, cpu = time.perf_counter(), cpu_seconds(engine)
            report = migrate_twins(store, models(), ROOM_1, ROOM_2, batch, migrate=migrate)
            timed.append((time.perf_counter() - wall, (cpu_seconds(engine) - cpu) * 1e6 / twins, report))
        (check_s, check_cpu, checked), (move_s, move_cpu, moved) = timed
        if checked.twins != twins or moved.migrated != twins:
            raise SystemExit(f"{engine_name}: checked {checked.twins}, moved {moved.migrated} of {twins}")
        found.append(Result(engine_name, twins, check_s, check_cpu, move_s, move_cpu, moved.migrated))
        print(
            f"{dt.datetime.now(dt.UTC):%H:%M:%S} {engine_name} {twins:,}: "
            f"check {check_s:.1f} s, move {move_s:.1f} s",
            flush=True,
        )
    return found


def run_falkordb(sizes: list[int], batch: int) -> list[Result]:
    with engines.falkordb("kgtwin-bench-migration-") as (store, pid, _):
        store.ensure_schema()
        return measure(store, "falkordb", psutil.Process(pid) if pid else None, sizes, batch)


def run_neo4j(sizes: list[int], batch: int) -> list[Result]:
    with engines.neo4j("kgtwin-bench-migration-") as (store, pid, _):
        store.ensure_schema()
        return measure(store, "neo4j", psutil.Process(pid) if pid else None, sizes, batch)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--twins", type=int, nargs="+", default=[20_000, 100_000])
    parser.add_argument("--engine", choices=("falkordb", "neo4j", "both"), default="both")
    parser.add_argument("--batch", type=int, default=500)
    args = parser.parse_args()
    logging.getLogger("neo4j.notifications").setLevel(logging.ERROR)
    console = Console(width=None if sys.stdout.isatty() else 200)
    console.print(
        f"{dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC, {os.cpu_count()} cores, load {os.getloadavg()[0]:.1f}"
    )
    sizes = sorted(args.twins)
    results: list[Result] = []
    for engine in ("falkordb", "neo4j") if args.engine == "both" else (args.engine,):
        results += (run_falkordb if engine == "falkordb" else run_neo4j)(sizes, args.batch)
    table = Table(title=f"migrate_twins, batches of {args.batch} (CPU: this process + the engine)")
    for column in (
        "engine",
        "twins of the model",
        "check s",
        "twins/s",
        "CPU µs/twin",
        "move s",
        "twins/s",
        "CPU µs/twin",
    ):
        table.add_column(column, justify="left" if column == "engine" else "right")
    for r in results:
        table.add_row(
            r.engine,
            f"{r.twins:,}",
            f"{r.check_s:.1f}",
            f"{r.twins / r.check_s:,.0f}",
            f"{r.check_cpu_us:.0f}",
            f"{r.move_s:.1f}",
            f"{r.twins / r.move_s:,.0f}",
            f"{r.move_cpu_us:.0f}",
        )
    console.print(table)
    for engine in {r.engine for r in results}:
        mine = [r for r in results if r.engine == engine]
        if len(mine) >= 2:
            small, large = mine[0], mine[-1]
            check, move = large.check_cpu_us / small.check_cpu_us, large.move_cpu_us / small.move_cpu_us
            met = "yes" if max(check, move) <= GROWTH_TARGET else "no"
            console.print(
                f"{engine}: CPU per twin {small.twins:,} -> {large.twins:,}: check {check:.2f}x, "
                f"move {move:.2f}x (target <= {GROWTH_TARGET}x: {met})"
            )


if __name__ == "__main__":
    main()
