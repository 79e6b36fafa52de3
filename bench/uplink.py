"""Benchmark the edge's uplink: forwarding overhead, queue bytes per point, catch-up after an outage.

Run ``python bench/uplink.py`` (``--outage-s 600 --rate 500`` for the issue's 10-minute
outage at 500 points/s; the default is a 60-second outage). Three measurements, each
printed as a table with CPU per unit of work beside wall time:

1. **forwarding overhead**: ingest's work per batch of ``--batch`` messages (one point
   of 4 fields each, to 100 rooms of an embedded FalkorDB graph): decode, resolve, validate
   (``ingest.pipeline``) and store (DuckDB), with and without ``ForwardingTelemetryStore``,
   whose only extra work is encoding the batch and one fsync'd insert in the uplink queue.
   CPU per point of this process (all its threads), median of ``--repeats`` runs, plain and
   forwarding alternating in each run, and the ratio; the store write alone beside it.
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

import orjson

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from graph.events import EventBus
from graph.falkordb import FalkorGraphStore
from graph.model_store import GraphModelStore
from graph.telemetry import telemetry_targets
from graph.twins import TwinGraph
from ingest.messages import MessageDecoder
from ingest.pipeline import Models, Pipeline
from ingest.subscriber import Inbound, SessionOptions
from ingest.targets import TwinTargets
from ingest.uplink import Forwarder, ForwardingTelemetryStore, UplinkOptions
from ingest.uplink_queue import UplinkQueue
from ingest.uplink_receiver import UplinkReceiver
from ontology.base import base_models
from ontology.registry import ModelRegistry
from telemetry.duckdb import DuckDbTelemetryStore
from telemetry.memory import MemoryTelemetryStore
from telemetry.points import TelemetryPoint
from tests.servers.mosquitto_server import start_mosquitto

SITE = "bench-site"
T0_NS = 1_780_000_000 * 10**9
ROOMS = 100
ROOM = "dtmi:kgtwin:space:Room;1"


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


def messages(first: int, size: int) -> list[Inbound]:
    """``size`` room readings of 4 fields, as ingest takes them from the broker."""
    found = []
    for i in range(first, first + size):
        payload = {"temperature": 21.0 + i % 7, "humidity": 40.5, "co2": 420.0 + i % 50, "occupancy": i % 9}
        payload["ts"] = T0_NS // 10**6 + i
        found.append(
            Inbound(f"kgtwin/twins/room-{i % ROOMS}/telemetry", orjson.dumps(payload), i, 1, T0_NS, 1)
        )
    return found


def ingest_pipeline(work: Path) -> tuple[Pipeline, FalkorGraphStore]:
    """Ingest's decode-resolve-validate step over an embedded graph of ``ROOMS`` rooms."""
    graph = FalkorGraphStore(work / "ingest-graph")
    model_store = GraphModelStore(graph)
    registry = ModelRegistry(model_store)
    if not registry.models.interfaces:
        registry.upload(base_models())
    twins = TwinGraph(graph, lambda: registry.models)
    for i in range(ROOMS):
        twins.put_twin(f"room-{i}", ROOM, {"name": f"Room {i}"})
    pipeline = Pipeline(
        MessageDecoder(),
        TwinTargets(lambda ids: telemetry_targets(graph, ids)),
        Models(lambda: registry.models),
    )
    return pipeline, graph


def overhead(work: Path, points: int, size: int, repeats: int) -> list[tuple[str, float, float]]:
    """(setup, wall µs per point, CPU µs per point), medians of ``repeats`` runs each.

    Rows: ingest's work per point without and with forwarding, then the store write alone
    without and with forwarding (the points made once by the pipeline, written again).
    """
    pipeline, graph = ingest_pipeline(work)
    batches = [messages(i * size, size) for i in range(points // size)]
    pipeline.process(batches[0])  # the twin cache fills: not measured
    names = ("ingest plain", "ingest forwarding", "store plain", "store forwarding")
    found: dict[str, tuple[list[float], list[float]]] = {name: ([], []) for name in names}
    for run in range(repeats):
        for name in names:
            store = DuckDbTelemetryStore(work / f"{run}-{name.replace(' ', '-')}.duckdb")
            queue = UplinkQueue(work / f"{run}-{name.replace(' ', '-')}.sqlite3")
            target = ForwardingTelemetryStore(store, queue) if name.endswith("forwarding") else store
            ready = None if name.startswith("ingest") else [pipeline.process(b).points for b in batches]
            wall, cpu = time.perf_counter(), time.process_time()
            if ready is None:
                for message_batch in batches:
                    target.write(pipeline.process(message_batch).points)
            else:
                for point_batch in ready:
                    target.write(point_batch)
            found[name][0].append((time.perf_counter() - wall) / points * 1e6)
            found[name][1].append((time.process_time() - cpu) / points * 1e6)
            store.close()
            queue.close()
    graph.close()
    return [(name, statistics.median(w), statistics.median(c)) for name, (w, c) in found.items()], found


def paired(
    found: dict[str, tuple[list[float], list[float]]], plain: str, forwarding: str
) -> tuple[float, float]:
    """Median over runs of (forwarding - plain) CPU µs per point and of forwarding / plain.

    Each run measures both one after the other, so the machine's load, which drifts over
    minutes on a shared machine, cancels within a pair better than between two medians.
    """
    pairs = list(zip(found[plain][1], found[forwarding][1], strict=True))
    return statistics.median(f - p for p, f in pairs), statistics.median(f / p for p, f in pairs)


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
    parser.add_argument("--skip-catch-up", action="store_true", help="measure the overhead only")
    args = parser.parse_args()
    load = os.getloadavg()
    print(f"load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}, {os.cpu_count()} cores")
    with tempfile.TemporaryDirectory(prefix="kgtwin-bench-uplink-") as tmp:
        work = Path(tmp)
        rows, runs = overhead(work, args.points, args.batch, args.repeats)
        print(
            f"\n1. forwarding overhead: batches of {args.batch} messages (1 point of 4 fields each), "
            f"median of {args.repeats}"
        )
        print(f"{'setup':<18} {'wall µs/point':>14} {'CPU µs/point':>13}")
        for name, wall, cpu in rows:
            print(f"{name:<18} {wall:>14.2f} {cpu:>13.2f}")
        ingest_added, ingest_ratio = paired(runs, "ingest plain", "ingest forwarding")
        store_added, store_ratio = paired(runs, "store plain", "store forwarding")
        print(
            f"forwarding adds {ingest_added:+.2f} µs CPU per point = {(ingest_ratio - 1) * 100:+.1f}% of "
            f"ingest CPU per point (target <= +15%); to the store write alone {store_added:+.2f} µs "
            f"({(store_ratio - 1) * 100:+.1f}%); medians of the {args.repeats} paired runs"
        )
        if args.skip_catch_up:
            load = os.getloadavg()
            print(f"\nload average after: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")
            return
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
