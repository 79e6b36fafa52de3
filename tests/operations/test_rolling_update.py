"""Updates without downtime: two ``kgtwin api`` behind HAProxy, each replaced under steady load.

The issue's run of ``tests/operations/rolling.py`` (``bench/rolling_update.py`` prints it as
a table): 100 GraphQL requests a second, half reads and half writes, for 60 seconds or
until the second switch is over; each process in turn gets SIGTERM, drains, stops, and a
new one takes its port. Not one request may fail. The latency in steady state and during
each switch is printed.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.conftest import unavailable
from tests.operations.conftest import Servers, Service
from tests.operations.rolling import haproxy_binary, rolling_update

# In CI (the machine to itself) and on request: at 100 requests/s it wants the machine's
# two cores (the API spends about 6 ms of CPU per request; Neo4j, HAProxy and the load
# more). On a shared 2-core machine at load 8-20 it passed each time, no request failed,
# but took 2.7-4.4 minutes while the backlog drained (docs/deployment.md).
pytestmark = [
    pytest.mark.neo4j,
    pytest.mark.influxdb,
    pytest.mark.mosquitto,
    pytest.mark.timeout(900),
    pytest.mark.skipif(
        not (os.environ.get("KGTWIN_TEST_ROLLING") or os.environ.get("CI")),
        reason="set KGTWIN_TEST_ROLLING=1 to run the rolling update under load (CI runs it; 3-4 minutes)",
    ),
]

# The 100 requests/s for 60 s (KGTWIN_TEST_ROLLING_RATE and _SECONDS change them).
RATE = float(os.environ.get("KGTWIN_TEST_ROLLING_RATE", "100"))
SECONDS = float(os.environ.get("KGTWIN_TEST_ROLLING_SECONDS", "60"))


def test_replacing_each_api_process_behind_a_load_balancer_fails_no_request(
    servers: Servers, services: Callable[..., Service], tmp_path: Path
) -> None:
    haproxy = haproxy_binary()
    if haproxy is None:
        unavailable("haproxy is not installed (Debian package haproxy; .ci/run installs it)")
        return
    env = servers.env() | {"KGTWIN_SHUTDOWN_GRACE_S": "20", "KGTWIN_SHUTDOWN_DRAIN_S": "5"}

    def start(name: str, port: int) -> Service:
        return services(["api"], name, env, port=port)

    report = rolling_update(start, tmp_path, rate=RATE, seconds=SECONDS, haproxy=haproxy)
    outcomes = report.load.outcomes
    print(f"\n{len(outcomes)} requests at {RATE:g}/s; window, requests, p50 ms, p99 ms, max ms:")
    for row in report.rows():
        print(f"  {row[0]:<10} {row[1]:>6} {row[2]:>8.1f} {row[3]:>8.1f} {row[4]:>8.1f}")
    for switch in report.switches:
        print(
            f"  process {switch.name} stopped in {switch.stop_seconds:.1f} s; before: {switch.requests} "
            f"requests, {switch.cpu_ms_per_request:.1f} ms of its CPU each"
        )
    print(f"  load average at the end: {os.getloadavg()[0]:.1f}")
    assert len(outcomes) >= int(RATE * SECONDS)  # longer when the switches outlast SECONDS
    assert {o.kind for o in outcomes} == {"read", "write"}
    assert report.failures == [], report.failures[:5]
    assert all(s.stop_seconds < 20 for s in report.switches)
