"""Benchmark an update without downtime: two ``kgtwin api`` behind HAProxy, each replaced under load.

Run ``python bench/rolling_update.py`` (``--rate 100 --seconds 60`` by default). It starts
the test servers (Neo4j, InfluxDB, Mosquitto, from tests/servers) in a temporary folder,
two ``kgtwin api`` processes, and HAProxy checking their ``/readyz`` (Debian's
``haproxy``); then drives GraphQL through HAProxy, open loop, half reads of one twin and
half JSON Patch writes, and replaces each process in turn a quarter and 60% of the way in
(SIGTERM: it drains and stops; a new process starts on its port and is taken back into
rotation once ready). Everything is ``tests/operations/rolling.py``, which the CI-length
test runs too. With ``KGTWIN_TEST_NEO4J_URL``, ``KGTWIN_TEST_INFLUX_URL`` and
``KGTWIN_TEST_MQTT_URL`` set (as for the tests), it uses those servers instead.

The table gives the requests and their latency (from when each was due) in steady state
and during each switch (from the SIGTERM to HAProxy sending to the new process), and the
failed requests, which must be none.
"""

from __future__ import annotations

import argparse
import itertools
import os
import platform
import shutil
import sys
import tempfile
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rate", type=float, default=100.0, help="requests per second")
    parser.add_argument("--seconds", type=float, default=60.0)
    args = parser.parse_args(argv)

    from rich.console import Console
    from rich.table import Table

    from tests.operations.conftest import Service
    from tests.operations.rolling import haproxy_binary, rolling_update
    from tests.servers.influxdb_server import start_influxdb
    from tests.servers.mosquitto_server import start_mosquitto
    from tests.servers.neo4j_server import start_neo4j

    haproxy = haproxy_binary()
    if haproxy is None:
        raise SystemExit("haproxy is not installed (apt-get install haproxy)")
    folder = Path(tempfile.mkdtemp(prefix="kgtwin-bench-rolling-"))
    started = []
    try:
        if all(os.environ.get(f"KGTWIN_TEST_{name}_URL") for name in ("NEO4J", "INFLUX", "MQTT")):
            # Servers already running (the variables the test fixtures read).
            graph_url = os.environ["KGTWIN_TEST_NEO4J_URL"]
            telemetry_url = os.environ["KGTWIN_TEST_INFLUX_URL"]
            broker_url = os.environ["KGTWIN_TEST_MQTT_URL"]
        else:
            neo4j = start_neo4j(folder / "neo4j")
            started.append(neo4j)
            influx = start_influxdb(folder / "influxdb")
            started.append(influx)
            mosquitto = start_mosquitto(folder / "mosquitto")
            started.append(mosquitto)
            host = influx.url.split("://", 1)[1]
            graph_url, broker_url = neo4j.url, mosquitto.url
            telemetry_url = f"influxdb://{influx.token}@{host}?org={influx.org}&bucket={influx.bucket}"
        env = {
            "KGTWIN_GRAPH_URL": graph_url,
            "KGTWIN_TELEMETRY_URL": telemetry_url,
            "KGTWIN_BROKER_URL": broker_url,
            "KGTWIN_LOG_LEVEL": "warning",
        }
        services: list[Service] = []
        count = itertools.count()

        def start(name: str, port: int) -> Service:
            service = Service(["api"], folder / "services", f"{name}-{next(count)}", env, port=port)
            services.append(service)
            return service

        try:
            report = rolling_update(start, folder, rate=args.rate, seconds=args.seconds, haproxy=haproxy)
        finally:
            for service in services:
                service.kill()
    finally:
        for server in reversed(started):
            server.stop()
        shutil.rmtree(folder, ignore_errors=True)

    table = Table(title=f"Rolling update behind HAProxy, {args.rate:g} requests/s for {args.seconds:g} s")
    for column in ("window", "requests", "p50 ms", "p99 ms", "max ms"):
        table.add_column(column, justify="left" if column == "window" else "right")
    for window, requests, p50, p99, worst in report.rows():
        table.add_row(window, str(requests), f"{p50:.1f}", f"{p99:.1f}", f"{worst:.1f}")
    Console(width=120).print(table)
    for switch in report.switches:
        print(
            f"switch {switch.name}: {switch.ended - switch.began:.1f} s from SIGTERM to the new process "
            f"in rotation; the old one stopped in {switch.stop_seconds:.1f} s, having spent "
            f"{switch.cpu_ms_per_request:.1f} ms of CPU on each of its {switch.requests} requests"
        )
    failures = report.failures
    print(f"failed requests: {len(failures)} of {len(report.load.outcomes)}")
    for failure in failures[:5]:
        print(f"  at {failure.due:.1f} s ({failure.kind}): {failure.error}")
    print(
        f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}, {datetime.now(UTC):%Y-%m-%d %H:%M} UTC; "
        f"load average {os.getloadavg()[0]:.1f}"
    )
    if failures:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
