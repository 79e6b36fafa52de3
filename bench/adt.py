"""Benchmark the Azure Digital Twins surface as an ADT application sees it: Microsoft's SDK over TLS.

Run ``python bench/adt.py`` (``--calls 100`` for a quick look). It starts ``kgtwin serve``
the way ``tests/adt`` does (embedded FalkorDB, DuckDB and broker; https with a throw-away
CA; API keys; no rate limit), uploads a thermostat and ``--rooms`` rooms, then makes
``--calls`` sequential calls of each operation with ``azure-digitaltwins-core`` (one
connection, closed loop) and prints a table: median and p90 latency, and the server
process's CPU time per call (``/proc``), the figure other processes on a shared machine do
not distort. ``graphql twin(id)`` is the same read through GraphQL on the same
connection, for comparison with ``get_digital_twin``.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from azure.digitaltwins.core import DigitalTwinsClient  # noqa: E402
from azure.digitaltwins.core._generated.models import QueryTwinsOptions  # noqa: E402

from tests.adt.conftest import ApiKeyCredential, start_server  # noqa: E402
from tests.adt.tls import make_certificates  # noqa: E402
from tests.graph.adt_models import DOCS, ROOM, THERMOSTAT  # noqa: E402
from tests.servers.process import free_port  # noqa: E402


def cpu_seconds(pid: int) -> float:
    """CPU time (user + system) of process ``pid`` so far, from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def measure(name: str, calls: int, pid: int, call: Callable[[int], Any]) -> tuple[str, float, float, float]:
    """``calls`` sequential calls: (name, median ms, p90 ms, server CPU ms per call)."""
    call(0)  # warm: first-use caches, connection
    times = []
    cpu_before = cpu_seconds(pid)
    for n in range(calls):
        start = time.perf_counter()
        call(n)
        times.append((time.perf_counter() - start) * 1000)
    cpu = (cpu_seconds(pid) - cpu_before) * 1000 / calls
    times.sort()
    return name, statistics.median(times), times[int(len(times) * 0.9)], cpu


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--calls", type=int, default=300)
    parser.add_argument("--rooms", type=int, default=100)
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="kgtwin-bench-adt-"))
    certificates = make_certificates(folder / "tls")
    broker = free_port()
    settings = {"KGTWIN_BROKER_URL": f"embedded://127.0.0.1:{broker}", "KGTWIN_LOG_LEVEL": "warning"}
    server = start_server("falkordb", "serve", folder, certificates, settings, ("127.0.0.1", broker))
    try:
        pid = server.process.pid
        client = DigitalTwinsClient(
            server.endpoint, ApiKeyCredential(server.admin_key), connection_verify=str(certificates.ca)
        )
        client.create_models(DOCS)
        client.upsert_digital_twin("bench-thermo", {"$metadata": {"$model": THERMOSTAT}, "setpoint": 20.0})
        for n in range(args.rooms):
            room = f"bench-room-{n:04d}"
            client.upsert_digital_twin(room, {"$metadata": {"$model": ROOM}, "name": room, "area": float(n)})
            client.upsert_relationship(
                "bench-thermo", f"c{n}", {"$relationshipName": "controls", "$targetId": room}
            )
        page = QueryTwinsOptions(max_items_per_page=1000)
        by_model = f"SELECT * FROM DIGITALTWINS T WHERE IS_OF_MODEL(T, '{ROOM}')"
        join = "SELECT R FROM DIGITALTWINS T JOIN R RELATED T.controls WHERE T.$dtId = 'bench-thermo'"
        gql = """query($id: ID!) { twin(id: $id) { id etag properties } }"""
        http = server.http()
        operations: list[tuple[str, Callable[[int], Any]]] = [
            ("get_digital_twin", lambda n: client.get_digital_twin("bench-room-0001")),
            (
                "graphql twin(id) (same read)",
                lambda n: http.post(
                    "/graphql", json={"query": gql, "variables": {"id": "bench-room-0001"}}
                ).json(),
            ),
            (
                "upsert_digital_twin (replace)",
                lambda n: client.upsert_digital_twin(
                    "bench-room-0002", {"$metadata": {"$model": ROOM}, "name": f"r{n}", "area": 2.0}
                ),
            ),
            (
                "update_digital_twin (1 op)",
                lambda n: client.update_digital_twin(
                    "bench-thermo", [{"op": "replace", "path": "/setpoint", "value": 20.0 + n % 5}]
                ),
            ),
            (
                "publish_telemetry",
                lambda n: client.publish_telemetry("bench-thermo", {"temperature": 20.0 + n % 7}),
            ),
            (
                f"query IS_OF_MODEL ({args.rooms} twins)",
                lambda n: list(client.query_twins(by_model, query_twins_options=page)),
            ),
            (
                f"query JOIN ({args.rooms} twins)",
                lambda n: list(client.query_twins(join, query_twins_options=page)),
            ),
            ("list_relationships", lambda n: list(client.list_relationships("bench-thermo"))),
        ]
        rows = [measure(name, args.calls, pid, call) for name, call in operations]
        http.close()
    finally:
        server.stop()
    load = os.getloadavg()
    print(
        f"kgtwin ADT surface, {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {platform.node()}, "
        f"{os.cpu_count()} cores, load average {load[0]:.1f}; "
        f"{args.calls} sequential calls each, one connection"
    )
    print("| operation | median ms | p90 ms | server CPU ms/call |\n|---|---:|---:|---:|")
    for name, median, p90, cpu in rows:
        print(f"| {name} | {median:.1f} | {p90:.1f} | {cpu:.2f} |")


if __name__ == "__main__":
    main()
