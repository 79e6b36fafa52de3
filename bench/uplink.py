"""Benchmark the edge's uplink: forwarding overhead, queue bytes per point, catch-up after an outage.

Run ``python bench/uplink.py`` (``--outage-s 600 --rate 500`` for the issue's 10-minute
outage at 500 points/s; the default is a 60-second outage). Three measurements, each
printed as a table with CPU per unit of work beside wall time:

1. **forwarding overhead**: the edge's store writes (DuckDB, batches of ``--batch``
   points, as ingest writes them) with and without ``ForwardingTelemetryStore``, whose
   only extra work is encoding the batch and one fsync'd insert in the uplink queue.
   CPU seconds per point of this process, median of ``--repeats`` runs, and the ratio.
2. **disk per queued point**: the queue file and its write-ahead log after queueing the
   outage's backlog, divided by the points in it.
3. **catch-up**: the outage's backlog (``outage-s * rate`` points, in messages of
   ``--batch`` points) is queued while the broker is unreachable; then a real Mosquitto
   comes up with a receiver (embedded FalkorDB for its high-water marks, an in-memory
   store) and the forwarder drains the backlog while a live stream goes on at ``--rate``
   points/s. Drain rate = backlog points / time until the receiver applied the last
   backlog message; the target is at least 5x the live rate.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from graph.events import EventBus
from graph.falkordb import FalkorGraphStore
from graph.model_store import GraphModelStore
from graph.twins import TwinGraph
from ingest.subscriber import SessionOptions
from ingest.uplink import Forwarder, ForwardingTelemetryStore, UplinkOptions
from ingest.uplink_queue import UplinkQueue
from ingest.uplink_receiver import UplinkReceiver
from ontology.registry import ModelRegistry
from telemetry.duckdb import DuckDbTelemetryStore
from telemetry.memory import MemoryTelemetryStore
from telemetry.points import TelemetryPoint
from tests.servers.mosquitto_server import start_mosquitto

SITE = "bench-site"
T0_NS = 1_780_000_000 * 10**9


def batch(first: int, size: int) -> list[TelemetryPoint]:
    """``size`` points of 100 sensors with 4 fields each, one instant per point."""
    return [
        TelemetryPoint(
            "kgtwin",
            "Sensor",
            {"twin_id": f"sensor-{(first + i) % 100}"},
            {"value": float(first + i), "t": 21.5, "rh": 40.25, "ok": True},
            T0_NS + (first + i) * 10**6,
        )
        for i in range(size)
    ]


def overhead(work: Path, points: int, size: int, repeats: int) -> list[tuple[str, float, float]]:
    """(setup, wall µs per point, CPU µs per point), medians of ``repeats`` runs each."""
    batches = [batch(i * size, size) for i in range(points // size)]
    found: dict[str, tuple[list[float], list[float]]] = {"plain": ([], []), "forwarding": ([], [])}
    for run in range(repeats):
        for name in ("plain", "forwarding"):
            store = DuckDbTelemetryStore(work / f"{name}-{run}.duckdb")
            queue = UplinkQueue(work / f"{name}-{run}.sqlite3")
            target = ForwardingTelemetryStore(store, queue) if name == "forwarding" else store
            wall, cpu = time.perf_counter(), time.process_time()
            for points_batch in batches:
                target.write(points_batch)
            found[name][0].append((time.perf_counter() - wall) / points * 1e6)
            found[name][1].append((time.process_time() - cpu) / points * 1e6)
            store.close()
            queue.close()
    return [(name, statistics.median(w), statistics.median(c)) for name, (w, c) in found.items()]


def catch_up(work: Path, backlog: int, size: int, rate: int) -> dict[str, float]:
    queue = UplinkQueue(work / "catchup.sqlite3")
    edge_store = ForwardingTelemetryStore(MemoryTelemetryStore(), queue)
    for first in range(0, backlog, size):
        edge_store.write(batch(first, size))
    last_backlog = queue.last_sequence()
    disk = queue.size_bytes()
    broker = start_mosquitto(work / "mosquitto")
    graph = FalkorGraphStore(work / "cloud-graph")
    try:
        model_store = GraphModelStore(graph)
        registry = ModelRegistry(model_store)
        twins = TwinGraph(graph, lambda: registry.models, events=EventBus())
        options = SessionOptions(host=broker.host, port=broker.port, client_id="bench-receiver", filters=())
        receiver = UplinkReceiver(options, twins, MemoryTelemetryStore())
        receiver.start()
        forwarder = Forwarder(
            queue,
            UplinkOptions(host=broker.host, port=broker.port, site=SITE, client_id="bench-edge"),
            lambda: b'{"models":[],"twins":[],"relationships":[]}',
        )
        stop_live = threading.Event()

        def live() -> None:
            # The live stream: ``rate`` points/s in batches of 50, as devices keep publishing.
            first, began = backlog, time.monotonic()
            while not stop_live.is_set():
                edge_store.write(batch(first, 50))
                first += 50
                delay = began + (first - backlog) / rate - time.monotonic()
                if delay > 0:
                    stop_live.wait(delay)

        feeder = threading.Thread(target=live, daemon=True)
        cpu = time.process_time()
        began = time.perf_counter()
        forwarder.start()
        feeder.start()
        while True:
            counts = receiver.counts().get(SITE)
            if counts is not None and counts.high_water >= last_backlog + 1:  # + the start's snapshot
                break
            time.sleep(0.02)
        seconds = time.perf_counter() - began
        cpu_s = time.process_time() - cpu
        stop_live.set()
        feeder.join()
        forwarder.stop(drain_s=10)
        receiver.stop()
    finally:
        graph.close()
        broker.stop()
        queue.close()
    return {"points": backlog, "seconds": seconds, "rate": backlog / seconds, "cpu_s": cpu_s, "disk": disk}


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--outage-s", type=int, default=60, help="length of the outage (seconds)")
    parser.add_argument("--rate", type=int, default=500, help="live points per second")
    parser.add_argument("--batch", type=int, default=250, help="points per store write / uplink message")
    parser.add_argument("--points", type=int, default=100_000, help="points written for the overhead runs")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    load = os.getloadavg()
    print(f"load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}, {os.cpu_count()} cores")
    with tempfile.TemporaryDirectory(prefix="kgtwin-bench-uplink-") as tmp:
        work = Path(tmp)
        rows = overhead(work, args.points, args.batch, args.repeats)
        print(f"\n1. forwarding overhead: DuckDB writes of {args.batch} points, median of {args.repeats}")
        print(f"{'setup':<12} {'wall µs/point':>14} {'CPU µs/point':>13}")
        for name, wall, cpu in rows:
            print(f"{name:<12} {wall:>14.2f} {cpu:>13.2f}")
        plain_cpu, forwarding_cpu = rows[0][2], rows[1][2]
        print(f"CPU per point with forwarding: {forwarding_cpu / plain_cpu:.2f}x the store write alone")
        backlog = args.outage_s * args.rate
        found = catch_up(work, backlog, args.batch, args.rate)
        print(f"\n2. disk per queued point: {found['disk'] / backlog:.1f} bytes ({backlog} points queued)")
        print(f"\n3. catch-up after a {args.outage_s} s outage at {args.rate} points/s, live stream on")
        head = ("backlog points", "drain s", "points/s", "x live", "CPU s", "CPU µs/point")
        print(f"{head[0]:>15} {head[1]:>8} {head[2]:>10} {head[3]:>7} {head[4]:>6} {head[5]:>13}")
        rate, cpu_s = found["rate"], found["cpu_s"]
        print(
            f"{backlog:>15} {found['seconds']:>8.2f} {rate:>10.0f} {rate / args.rate:>7.1f} "
            f"{cpu_s:>6.2f} {cpu_s / backlog * 1e6:>13.1f}"
        )
    load = os.getloadavg()
    print(f"\nload average after: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")


if __name__ == "__main__":
    main()
