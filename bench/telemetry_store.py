"""Benchmark the two telemetry stores: bulk writes, latest values and windowed queries.

Run ``python bench/telemetry_store.py`` (``--messages 20000`` for a quick check, ``--store
duckdb`` or ``influxdb`` for one store). It writes 100,000 messages of 10 float fields
(1,000,000 points) from 10,000 twins, one message per twin every 10 s, in batches of 500
messages (5,000 points) through ``TelemetryStore.write``, into DuckDB (a temporary file)
and InfluxDB (the test server started in a temporary directory, or an empty bucket at
``KGTWIN_BENCH_INFLUX_URL``), then times ``latest`` and a windowed ``query`` of 50 twins.
Targets from the ingest issue, for the whole ingest path (so the store alone must be
well above): >= 100,000 points/s into DuckDB, >= 50,000 points/s into InfluxDB.

The points are built before the clock starts: the figure is the store's own cost (line
protocol or numpy columns, the database call), not the generator's. The last column is
the store's size on disk per point once it is closed (DuckDB: its file; InfluxDB: its
engine folder, WAL and TSM files as a fresh server leaves them, before any later
compaction), for sizing; not measured with ``KGTWIN_BENCH_INFLUX_URL``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from rich.console import Console
from rich.table import Table

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from telemetry.duckdb import DuckDbTelemetryStore
from telemetry.influx import InfluxTelemetryStore
from telemetry.points import Aggregate, TelemetryPoint
from telemetry.refs import TelemetryRef
from telemetry.store import TelemetryStore

FIELDS = tuple(f"v{i}" for i in range(10))
BUCKET = "telemetry"
MEASUREMENT = "Sensor"
PERIOD_S = 10
T0_NS = int(dt.datetime(2026, 11, 25, tzinfo=dt.UTC).timestamp()) * 1_000_000_000
QUERY_TWINS = 50
WARMUP = 3
DISK: dict[str, int] = {}
"""Bytes on disk of each store the benchmark closed, by store name."""


def disk_bytes(folder: Path) -> int:
    return sum(f.stat().st_size for f in folder.rglob("*") if f.is_file())


def messages(count: int, twins: int) -> list[TelemetryPoint]:
    """``count`` messages round-robin over ``twins``: each twin reports every PERIOD_S seconds."""
    rng = random.Random(6)
    tags = [{"twin_id": f"sensor-{n:05d}"} for n in range(twins)]
    return [
        TelemetryPoint(
            BUCKET,
            MEASUREMENT,
            tags[n % twins],
            {name: rng.uniform(0, 100) for name in FIELDS},
            T0_NS + (n // twins) * PERIOD_S * 1_000_000_000,
        )
        for n in range(count)
    ]


def refs(twins: int) -> list[TelemetryRef]:
    step = max(1, twins // QUERY_TWINS)
    return [
        TelemetryRef(BUCKET, MEASUREMENT, {"twin_id": f"sensor-{n:05d}"}, FIELDS)
        for n in range(0, twins, step)[:QUERY_TWINS]
    ]


def timings(action: Callable[[], object], runs: int) -> list[float]:
    for _ in range(WARMUP):
        action()
    result = []
    for _ in range(runs):
        start = time.perf_counter()
        action()
        result.append(time.perf_counter() - start)
    return result


def p(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def measure(
    name: str, store: TelemetryStore, points: list[TelemetryPoint], twins: int, batch: int, runs: int
) -> list[str]:
    start = time.perf_counter()
    for i in range(0, len(points), batch):
        store.write(points[i : i + batch])
    elapsed = time.perf_counter() - start
    values = len(points) * len(FIELDS)
    chosen = refs(twins)
    latest = timings(lambda: store.latest(chosen), runs)
    span_s = (len(points) // twins) * PERIOD_S
    t0 = dt.datetime.fromtimestamp(T0_NS / 1e9, dt.UTC)
    every = max(PERIOD_S, span_s // 60)  # about 60 windows over the whole history

    def windowed() -> object:
        return store.query(
            chosen, "v3", t0, t0 + dt.timedelta(seconds=span_s), every_s=every, fn=Aggregate.MEAN
        )

    window = timings(windowed, runs)
    checked = store.latest(chosen[:1])[0]
    assert set(checked) == set(FIELDS), f"{name}: latest gave {sorted(checked)}"
    return [
        name,
        f"{values:,} points in {elapsed:.1f} s",
        f"{values / elapsed:,.0f}",
        f"{statistics.median(latest) * 1000:.1f} / {p(latest, 0.99) * 1000:.1f}",
        f"{statistics.median(window) * 1000:.1f} / {p(window, 0.99) * 1000:.1f} ({every} s windows)",
    ]


@contextmanager
def duckdb_store() -> Iterator[TelemetryStore]:
    with tempfile.TemporaryDirectory(prefix="kgtwin-bench-duckdb-") as tmp:
        store = DuckDbTelemetryStore(Path(tmp) / "telemetry.duckdb")
        try:
            yield store
        finally:
            store.close()
            DISK["duckdb"] = disk_bytes(Path(tmp))


@contextmanager
def influx_store() -> Iterator[TelemetryStore]:
    if url := os.environ.get("KGTWIN_BENCH_INFLUX_URL"):
        from kgtwin.backends import parse_telemetry_url
        from kgtwin.urls import InfluxUrl

        parsed = parse_telemetry_url(url)
        assert isinstance(parsed, InfluxUrl)
        store = InfluxTelemetryStore(parsed.url, parsed.token, parsed.org, parsed.bucket)
        try:
            yield store
        finally:
            store.close()
        return
    from tests.servers.influxdb_server import start_influxdb

    with tempfile.TemporaryDirectory(prefix="kgtwin-bench-influxdb-") as tmp:
        server = start_influxdb(Path(tmp))
        store = InfluxTelemetryStore(server.url, server.token, server.org, server.bucket, timeout_ms=60_000)
        try:
            yield store
        finally:
            store.close()
            server.stop()
            DISK["influxdb"] = disk_bytes(Path(tmp))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=100_000)
    parser.add_argument("--twins", type=int, default=10_000)
    parser.add_argument("--batch", type=int, default=500, help="messages per write (x10 points)")
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--store", choices=["duckdb", "influxdb", "both"], default="both")
    args = parser.parse_args()
    points = messages(args.messages, args.twins)
    table = Table(
        title=f"Telemetry stores ({platform.processor() or platform.machine()}, {os.cpu_count()} cores)"
    )
    columns = ("store", "write", "points/s", "latest of 50 p50/p99 ms", "windowed mean of 50 p50/p99 ms")
    for column in (*columns, "bytes/point on disk"):
        table.add_column(column)
    stores = {"duckdb": duckdb_store, "influxdb": influx_store}
    for name, opener in stores.items():
        if args.store in (name, "both"):
            with opener() as store:
                row = measure(name, store, points, args.twins, args.batch, args.runs)
            on_disk = DISK.get(name)
            per_point = f"{on_disk / (len(points) * len(FIELDS)):.1f}" if on_disk else "not measured"
            table.add_row(*row, per_point)
    Console().print(table)


if __name__ == "__main__":
    main()
