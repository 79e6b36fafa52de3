"""Benchmark FMU co-simulation: steps per second, kgtwin's overhead over fmpy, a 1,000-twin day, shadow lag.

Run ``python bench/fmu.py`` (``--twins 100 --hours 2 --shadow-s 10`` for a quick check).
It prints one table. Rows:

1. **steps/s of one FMU in one process**, kgtwin's master (``simulation.fmu.master.run``,
   one unit, inputs set and outputs read every step and recorded) against the plainest fmpy
   loop on the same FMU (``setReal``, ``doStep``, ``getReal``), for the tests' RC room
   (pythonfmu) and OpenModelica's Mass_Damper (C, from gemseo-fmu, when it can be fetched).
   Median of ``--repeat`` runs of ``--steps`` steps; the overhead is kgtwin's CPU time per
   step over fmpy's (target <= 1.2x).
2. **``--twins`` rooms with one FMU each over ``--hours`` at a 60 s step** through
   ``run_simulation("fmu", ...)`` on the local process pool and on a local Dask cluster
   (2 workers each), ``--replications`` replications (one replication is one task: its
   twins are stepped in one process, so the replications are what use the cores).
3. **live shadow lag**: ``--shadows`` shadows at a 1 s step on embedded FalkorDB and DuckDB,
   fed by a thread writing each room's temperature every 0.5 s, for ``--shadow-s`` seconds;
   the lag is how long after each grid point its prediction and residual were written
   (target p99 < 1 s).

CPU seconds are given beside wall seconds: the machine has 2 cores shared with other work.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import networkx as nx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from graph.fmus import FmuReference
from graph.subgraph import MODEL
from simulation import run_simulation
from simulation.fmu.archive import inspect_fmu
from simulation.fmu.instance import unpacked
from simulation.fmu.library import StoredFmu
from simulation.fmu.master import Component, CoSimulation, Unit, run
from simulation.fmu.runs import resolve
from simulation.fmu.store import sha256_of
from simulation.stats import percentile
from tests.simulation.fmus import build_all, exported_fmu

ROOM = "dtmi:kgtwin:space:Room;1"


def fmpy_loop(path: Path, steps: int, step: float) -> tuple[float, float]:
    """fmpy alone: the loop a hand-written co-simulation would run."""
    from fmpy import extract, read_model_description
    from fmpy.fmi2 import FMU2Slave

    md = read_model_description(str(path))
    folder = extract(str(path))
    fmu = FMU2Slave(
        guid=md.guid, unzipDirectory=folder, modelIdentifier=md.coSimulation.modelIdentifier, instanceName="a"
    )
    fmu.instantiate()
    fmu.setupExperiment(startTime=0.0)
    fmu.enterInitializationMode()
    fmu.exitInitializationMode()
    ins = [v.valueReference for v in md.modelVariables if v.causality == "input"]
    outs = [v.valueReference for v in md.modelVariables if v.causality == "output"]
    values = [1.0] * len(ins)
    recorded = []
    wall, cpu = time.perf_counter(), time.process_time()
    t = 0.0
    for _ in range(steps):
        fmu.setReal(ins, values)
        fmu.doStep(currentCommunicationPoint=t, communicationStepSize=step)
        t += step
        recorded.append(fmu.getReal(outs))
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    fmu.terminate()
    fmu.freeInstance()
    return wall, cpu


def kgtwin_loop(path: Path, steps: int, step: float) -> tuple[float, float]:
    data = path.read_bytes()
    description = inspect_fmu(data)
    component = Component(
        "x", sha256_of(data), str(path), description, tuple(v.name for v in description.outputs)
    )
    series = tuple((v.name, (1.0,) * steps) for v in description.inputs)
    cosim = CoSimulation((component,), (Unit("a", 0, series=series),), step, steps, 1)
    unpacked(path, component.sha256, description)
    wall, cpu = time.perf_counter(), time.process_time()
    run(cosim, lambda *a: 0.0)
    return time.perf_counter() - wall, time.process_time() - cpu


class Library:
    def __init__(self, path: Path) -> None:
        data = path.read_bytes()
        self.description = inspect_fmu(data)
        self.sha = sha256_of(data)
        self.path = path

    def get(self, fmu_id: str) -> StoredFmu:
        ref = FmuReference(fmu_id, self.sha, "room.fmu", 0, "", ROOM, self.description.to_dict())
        return StoredFmu(ref, self.description, self.path)


def rooms_day(
    path: Path, twins: int, hours: int, replications: int, executor: Any
) -> tuple[float, float, int]:
    graph = nx.MultiDiGraph()
    for i in range(twins):
        graph.add_node(
            f"room-{i:04d}", **{MODEL: ROOM, "thermalCapacitance": 1500.0 + i, "envelopeConductance": 200.0}
        )
    start = dt.datetime(2026, 11, 24, tzinfo=dt.UTC)
    request = {
        "fmu": "room",
        "bindings": {
            "C": {"property": "thermalCapacitance", "scale": 1000.0},
            "UA": {"property": "envelopeConductance"},
            "T_out": {"constant": 5.0},
            "Q": {"distribution": {"kind": "uniform", "low": 0.0, "high": 3000.0}},
        },
        "start": start.isoformat(),
        "stop": (start + dt.timedelta(hours=hours)).isoformat(),
        "step": 60.0,
        "samples": 24,
    }
    from ontology.model import ModelSet

    graph, resolved = resolve(graph, request, Library(path), ModelSet({}), None)
    wall = time.perf_counter()
    result = run_simulation("fmu", graph, resolved, None, replications, 1, executor)
    steps = int(result.performance["events"])
    return time.perf_counter() - wall, result.performance["replicationCpuSeconds"], steps


def shadow_lag(path: Path, shadows: int, seconds: float) -> tuple[list[float], list[float], float]:
    """Every live step's lag, the lags once every shadow runs, and process CPU-s per live step."""
    from api.context import twin_context
    from graph.falkordb import FalkorGraphStore
    from graph.fmus import FmuNodes
    from graph.shadows import ShadowNodes
    from simulation.fmu.library import FmuLibrary
    from simulation.fmu.shadow import Shadows, ShadowWorker
    from simulation.fmu.store import FmuFiles
    from telemetry.duckdb import DuckDbTelemetryStore
    from telemetry.points import TelemetryPoint

    folder = Path(tempfile.mkdtemp(prefix="bench-fmu-"))
    graph = FalkorGraphStore(folder / "graph")
    telemetry = DuckDbTelemetryStore(folder / "telemetry.duckdb")
    try:
        api = twin_context("bench", graph)
        assert api.twins is not None
        assert api.registry is not None
        rooms = [f"room-{i:03d}" for i in range(shadows)]
        for room in rooms:
            api.twins.put_twin(room, ROOM, {"thermalCapacitance": 2000.0, "envelopeConductance": 250.0})
        nodes = FmuNodes(graph)
        nodes.ensure_schema()
        library = FmuLibrary(nodes, FmuFiles(folder / "fmus"))
        fmu = library.add(path.read_bytes(), ROOM, name="room.fmu")
        shadow_nodes = ShadowNodes(graph)
        shadow_nodes.ensure_schema()
        models = api.registry.models
        service = Shadows(shadow_nodes, library, graph, lambda: models)
        halt = threading.Event()

        def device() -> None:
            while not halt.is_set():
                now = time.time_ns()
                telemetry.write(
                    [
                        TelemetryPoint("telemetry", "Room", {"twin_id": r}, {"temperature": 21.0}, now)
                        for r in rooms
                    ]
                )
                halt.wait(0.5)

        feeder = threading.Thread(target=device, daemon=True)
        feeder.start()
        time.sleep(1.0)
        for room in rooms:
            service.start(
                room,
                fmu.id,
                {
                    "bindings": {
                        "C": {"property": "thermalCapacitance", "scale": 1000.0},
                        "T_out": {"constant": 21.0},
                    },
                    "outputs": {"T": {"telemetry": "temperature", "band": 0.5}},
                    "step": 1.0,
                    "historyS": 5.0,
                },
            )
        worker = ShadowWorker(shadow_nodes, library, graph, lambda: models, telemetry, capacity=shadows)
        runner = threading.Thread(target=worker.serve, daemon=True)
        runner.start()
        began = time.monotonic()
        while len(worker.running) < shadows and time.monotonic() - began < seconds:
            time.sleep(0.05)
        time.sleep(2.0)  # the steps of shadows that waited for the others to start are caught up
        steady_from, cpu_from = len(worker.lags), time.process_time()
        time.sleep(max(seconds - (time.monotonic() - began), 1.0))
        steady = list(worker.lags)[steady_from:]
        cpu = (time.process_time() - cpu_from) / max(len(steady), 1)
        worker.stop()
        runner.join(10)
        halt.set()
        feeder.join(5)
        return sorted(worker.lags), sorted(steady), cpu
    finally:
        telemetry.close()
        graph.close()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--steps", type=int, default=20_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--twins", type=int, default=1000)
    parser.add_argument("--hours", type=int, default=24)
    parser.add_argument("--replications", type=int, default=2)
    parser.add_argument("--shadows", type=int, default=50)
    parser.add_argument("--shadow-s", type=float, default=30.0)
    parser.add_argument("--executor", action="append", choices=["local", "dask"])
    parser.add_argument(
        "--part", action="append", choices=["steps", "day", "shadows"], help="only these parts (default: all)"
    )
    args = parser.parse_args()
    print(
        f"# bench/fmu.py {dt.date.today()} {platform.node()} {platform.processor() or platform.machine()} "
        f"{os.cpu_count()} cores, python {platform.python_version()}, load {os.getloadavg()[0]:.1f}"
    )
    parts = set(args.part or ["steps", "day", "shadows"])
    fmus = [("room (pythonfmu)", build_all().room)] if "steps" in parts else []
    exported = exported_fmu()
    if exported is not None and "steps" in parts:
        fmus.append(("Mass_Damper (OpenModelica)", exported))
    print(f"{'measure':<48} {'value':>14} {'note'}")
    for name, path in fmus:
        ours = [kgtwin_loop(path, args.steps, 0.001) for _ in range(args.repeat)]
        plain = [fmpy_loop(path, args.steps, 0.001) for _ in range(args.repeat)]
        ours_cpu = statistics.median(c for _, c in ours) / args.steps
        plain_cpu = statistics.median(c for _, c in plain) / args.steps
        ours_wall = statistics.median(w for w, _ in ours) / args.steps
        plain_wall = statistics.median(w for w, _ in plain) / args.steps
        print(f"{name + ': kgtwin steps/s (CPU)':<48} {1 / ours_cpu:>14,.0f} wall {1 / ours_wall:,.0f}/s")
        print(
            f"{name + ': fmpy loop steps/s (CPU)':<48} {1 / plain_cpu:>14,.0f} wall {1 / plain_wall:,.0f}/s"
        )
        print(f"{name + ': kgtwin / fmpy CPU per step':<48} {ours_cpu / plain_cpu:>14.2f} target <= 1.2")
    room = build_all().room
    for kind in args.executor or ["local", "dask"] if "day" in parts else []:
        if kind == "local":
            from simulation.local import LocalExecutor

            executor: Any = LocalExecutor(2)
        else:
            from simulation.dask import DaskExecutor

            executor = DaskExecutor(None, local_workers=2)
        try:
            rooms_day(room, 10, 1, 2, executor)  # warm the workers (imports, unpacked FMU)
            wall, cpu, steps = rooms_day(room, args.twins, args.hours, args.replications, executor)
        finally:
            executor.close()
        label = f"{args.twins} rooms x {args.hours} h @60 s, {args.replications} repl., {kind}"
        rate = steps / cpu
        print(f"{label:<48} {wall:>12.1f} s CPU {cpu:.1f} s, {rate:,.0f} steps per CPU-s, {steps:,} steps")
    if "shadows" not in parts:
        return
    lags, steady, cpu = shadow_lag(room, args.shadows, args.shadow_s)
    for label, found in (("all live steps", lags), ("once all run", steady)):
        if found:
            p50, p99 = percentile(found, 0.5), percentile(found, 0.99)
            label = f"{args.shadows} shadows @1 s, {label}: lag p50 / p99"
            print(f"{label:<48} {p50:>7.3f} / {p99:.3f} s ({len(found)} steps, target p99 < 1 s)")
    print(f"{'shadows: process CPU per live shadow step':<48} {cpu * 1000:>12.2f} ms")


if __name__ == "__main__":
    main()
