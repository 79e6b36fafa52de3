"""Benchmark the ``flow`` simulation: events per second per core, and the speed-up from workers.

Run ``python bench/simulation.py`` (``--stations 100 --days 1`` for a quick check). It
generates a seeded line of ``--stations`` machines (default 1,000) with a Buffer between
each pair, a Source in front and a Sink at the end, simulates ``--days`` (default 7) of
it ``--replications`` times (default 10) through :func:`simulation.run_simulation` on
each executor and worker count asked for, repeats each measurement ``--repeat`` times,
and prints one table of medians. Targets from the simulation issue:

- ``flow`` >= 150,000 events/s per core;
- >= 1.7x speed-up from 1 to 2 local worker processes.

An *event* is one SimPy event popped and processed by ``Environment.step`` (timeouts,
the handover events of channels, process starts): ``simulation.models._base.events_processed``
reads SimPy's own event counter, so nothing is estimated. Events per second per core is
the events of all replications divided by the processor seconds the replications took
(``time.process_time`` in each worker, summed): on a shared machine elapsed time also
counts the time other processes held the core. The elapsed-time rate is printed beside
it. The wall time is the whole ``run_simulation`` call, pool start-up excluded (a pool
is started and warmed before it is timed); the speed-up is wall time with 1 worker over
wall time with n.

Other executors join through :data:`EXECUTORS` (name -> factory taking a worker count):
``--executor local --executor dask`` measures each, in one run. Per row, besides events:
replications per second (replications over the wall time of the call) and the CPU seconds
of one replication (the workers' processor time summed, over the replications), the
figures the sizing guide (docs/scaling.md) multiplies; and the machine's one-minute load
average as the row's last measurement ended (above the core count, other work shared the
cores and wall times are inflated; the CPU figures hold).
"""

from __future__ import annotations

import argparse
import cProfile
import datetime as dt
import os
import platform
import pstats
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import networkx as nx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from graph.subgraph import MODEL, RELATIONSHIP_NAME
from simulation import Executor, run_simulation
from simulation.local import LocalExecutor

_P = "dtmi:kgtwin:production:"


class InProcess:
    """Replications one after the other in this process (for profiling; workers = 1)."""

    workers = 1

    def map(self, fn: Callable[[object], object], items: list[object]) -> list[object]:
        return [fn(item) for item in items]

    def close(self) -> None:
        pass


def _dask(workers: int) -> Executor:
    """A LocalCluster of ``workers`` single-threaded processes (dask imported only when asked)."""
    from simulation.dask import DaskExecutor

    return DaskExecutor(None, local_workers=workers)


EXECUTORS: dict[str, Callable[[int], Executor]] = {
    "local": lambda workers: LocalExecutor(workers),
    "dask": _dask,
    "inprocess": lambda workers: InProcess(),  # type: ignore[dict-item]
}
"""Executors the benchmark can measure; another module may add one (``EXECUTORS["dask"] = ...``)."""


def line(stations: int, seed: int = 7) -> nx.MultiDiGraph:
    """A serial line: Source -> M1 -> B1 -> M2 -> ... -> M<n> -> Sink, seeded cycle times.

    Cycle means vary from 50 to 70 s (normal, 10% spread), buffers hold 3 to 8 parts,
    every machine fails (MTBF 4 to 12 h, MTTR 5 to 30 min), and the Source offers a part
    every 55 s: the line is saturated, so blocking and starving both happen.
    """
    import random

    rnd = random.Random(seed)
    g = nx.MultiDiGraph()
    g.add_node("source", **{MODEL: _P + "Source;1", "interarrivalTimeMean": 55.0})
    g.add_node("sink", **{MODEL: _P + "Sink;1"})
    previous = "source"
    for i in range(1, stations + 1):
        machine = f"M{i:04d}"
        mean = rnd.uniform(50.0, 70.0)
        g.add_node(
            machine,
            **{
                MODEL: _P + "Machine;1",
                "cycleTimeMean": mean,
                "cycleTimeDistribution": "normal",
                "cycleTimeStdDev": mean / 10,
                "mtbf": rnd.uniform(4.0, 12.0),
                "mttr": rnd.uniform(5.0, 30.0) / 60,
            },
        )
        g.add_edge(previous, machine, key=f"f{previous}", **{RELATIONSHIP_NAME: "feeds"})
        if i < stations:
            buffer = f"B{i:04d}"
            g.add_node(buffer, **{MODEL: _P + "Buffer;1", "capacity": rnd.randint(3, 8)})
            g.add_edge(machine, buffer, key=f"f{machine}", **{RELATIONSHIP_NAME: "feeds"})
            previous = buffer
        else:
            g.add_edge(machine, "sink", key=f"f{machine}", **{RELATIONSHIP_NAME: "feeds"})
    return g


@dataclass
class Measurement:
    """One timed run: wall seconds, events, and the seconds the replications took together."""

    wall_s: float
    events: float
    replication_s: float
    replication_cpu_s: float
    replications: int
    load_1m: float
    """The machine's one-minute load average when the run ended."""


def measure(
    executor: Executor, graph: nx.MultiDiGraph, days: float, replications: int, seed: int
) -> Measurement:
    """One ``run_simulation`` of the flow model on ``executor``, timed."""
    parameters = {"horizonS": days * 86400, "warmupS": 3600, "samples": 50}
    started = time.perf_counter()
    result = run_simulation("flow", graph, parameters, None, replications, seed, executor)
    wall = time.perf_counter() - started
    performance = result.performance
    return Measurement(
        wall,
        performance["events"],
        performance["replicationSeconds"],
        performance["replicationCpuSeconds"],
        replications,
        os.getloadavg()[0],
    )


def profile(graph: nx.MultiDiGraph, days: float, top: int) -> None:
    """cProfile of one replication in this process, the ``top`` functions by own time."""
    parameters = {"horizonS": days * 86400, "warmupS": 3600, "samples": 50}
    profiler = cProfile.Profile()
    profiler.enable()
    run_simulation("flow", graph, parameters, None, 1, 1, InProcess())  # type: ignore[arg-type]
    profiler.disable()
    pstats.Stats(profiler).sort_stats("tottime").print_stats(top)


def _cpu() -> str:
    """The processor's model name (Linux), else the machine type."""
    try:
        for row in Path("/proc/cpuinfo").read_text().splitlines():
            if row.startswith("model name"):
                return row.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.machine()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--stations", type=int, default=1000)
    parser.add_argument("--days", type=float, default=7.0)
    parser.add_argument("--replications", type=int, default=10)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--executor", action="append", choices=sorted(EXECUTORS), default=None)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--profile", type=int, default=0, help="print the top N functions of one replication")
    args = parser.parse_args()
    graph = line(args.stations)
    if args.profile:
        profile(graph, args.days, args.profile)
        return
    print(
        f"# flow: {args.stations} stations, {args.days:g} simulated days, {args.replications} replications; "
        f"{_cpu()}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}, {dt.date.today()}; medians of {args.repeat}"
    )
    print(
        "| executor | workers | wall s | replications/s | CPU-s per replication | events "
        "| events/CPU-s per core | events/elapsed-s | speed-up | load |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for name in args.executor or ["local"]:
        executors = {workers: EXECUTORS[name](workers) for workers in args.workers}
        runs: dict[int, list[Measurement]] = {workers: [] for workers in args.workers}
        try:
            for workers, executor in executors.items():
                # Start the workers and import the models in them before timing.
                measure(executor, line(3), 0.1, 2 * workers, args.seed)
            # Interleaved, so that a change in the machine's load affects every worker count.
            for _ in range(args.repeat):
                for workers, executor in executors.items():
                    runs[workers].append(measure(executor, graph, args.days, args.replications, args.seed))
                    done = runs[workers][-1]
                    print(f"  {name} x{workers}: {done.wall_s:.1f} s", file=sys.stderr, flush=True)
        finally:
            for executor in executors.values():
                executor.close()
        walls = {workers: statistics.median(r.wall_s for r in measured) for workers, measured in runs.items()}
        for workers, measured in runs.items():
            cpu_rate = statistics.median(r.events / r.replication_cpu_s for r in measured)
            rate = statistics.median(r.events / r.replication_s for r in measured)
            speedup = f"{walls[1] / walls[workers]:.2f}x" if 1 in walls else "-"
            per_s = statistics.median(r.replications / r.wall_s for r in measured)
            cpu_each = statistics.median(r.replication_cpu_s / r.replications for r in measured)
            load = ", ".join(f"{r.load_1m:.1f}" for r in measured)
            print(
                f"| {name} | {workers} | {walls[workers]:.1f} | {per_s:.2f} | {cpu_each:.2f} "
                f"| {measured[0].events:,.0f} | {cpu_rate:,.0f} | {rate:,.0f} | {speedup} | {load} |",
                flush=True,
            )


if __name__ == "__main__":
    main()
