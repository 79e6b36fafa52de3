"""A live shadow taken over between two real ``kgtwin worker`` processes (the cloud profile).

Both workers share a Neo4j graph, an InfluxDB store and an FMU folder, as workers on a
cluster do. The one holding the shadow's lease is killed with SIGKILL (it releases
nothing); the other must claim the shadow once the lease has passed, and no earlier, and
carry on writing its predictions.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from api.context import twin_context
from graph.fmus import FmuNodes
from graph.neo4j import Neo4jGraphStore
from graph.shadows import ShadowNodes, ShadowRecord
from graph.times import parse_utc
from simulation.fmu.library import FmuLibrary
from simulation.fmu.shadow import Shadows
from simulation.fmu.store import FmuFiles
from telemetry.influx import InfluxTelemetryStore
from telemetry.points import TelemetryPoint
from tests.conftest import InfluxTarget
from tests.simulation.fmus import BuiltFmus

KGTWIN = str(Path(sys.executable).parent / "kgtwin")
ROOM = "dtmi:kgtwin:space:Room;1"
LEASE_S = 4.0

pytestmark = pytest.mark.neo4j


def _wait[T](condition: Callable[[], T | None], what: str, timeout_s: float = 120.0) -> T:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        found = condition()
        if found:
            return found
        time.sleep(0.1)
    raise AssertionError(f"{what}: not within {timeout_s} s")


def holder(record: ShadowRecord) -> ShadowRecord | None:
    """The record when a worker holds it."""
    return record if record.worker else None


def taker(record: ShadowRecord, held: ShadowRecord) -> ShadowRecord | None:
    """The record when a worker other than ``held``'s holds it."""
    return record if record.worker and record.worker != held.worker else None


def test_a_killed_workers_shadow_is_taken_over_by_the_other_worker_after_its_lease(
    neo4j_url: str, influx: InfluxTarget, test_fmus: BuiltFmus, tmp_path: Path
) -> None:
    graph = Neo4jGraphStore(neo4j_url)
    graph.write("MATCH (n) DETACH DELETE n")
    telemetry = InfluxTelemetryStore(influx.url, influx.token, influx.org, influx.bucket)
    api = twin_context("test", graph)
    assert api.twins is not None
    assert api.registry is not None
    twin = f"room-{os.getpid()}-{time.time_ns()}"  # its own series in the session's InfluxDB
    api.twins.put_twin(twin, ROOM, {"thermalCapacitance": 2000.0, "envelopeConductance": 250.0})
    ref = api.twins.get_twin(twin).telemetry
    fmus = FmuNodes(graph)
    fmus.ensure_schema()
    library = FmuLibrary(fmus, FmuFiles(tmp_path / "fmus"))
    fmu = library.add(test_fmus.room.read_bytes(), ROOM, name="room.fmu")
    nodes = ShadowNodes(graph)
    nodes.ensure_schema()
    models = api.registry.models
    halt = threading.Event()

    def thermometer() -> None:  # the room's measured temperature, every 0.2 s
        while not halt.is_set():
            point = TelemetryPoint(
                ref.bucket, ref.measurement, dict(ref.tags), {"temperature": 21.0}, time.time_ns()
            )
            telemetry.write([point])
            halt.wait(0.2)

    feeder = threading.Thread(target=thermometer, daemon=True)
    feeder.start()
    env = {k: v for k, v in os.environ.items() if not k.startswith("KGTWIN_")}
    env |= {
        "KGTWIN_CONFIG": str(tmp_path / "none.toml"),
        "KGTWIN_GRAPH_URL": neo4j_url,
        "KGTWIN_TELEMETRY_URL": influx.kgtwin_url,
        "KGTWIN_EXECUTOR_URL": "local://?workers=1",
        "KGTWIN_FMU_DIR": str(tmp_path / "fmus"),
        "KGTWIN_SHADOW_LEASE_S": str(LEASE_S),
        "KGTWIN_HEALTH_PORT": "0",  # two workers on one host: neither needs the health port
    }
    workers: dict[int, subprocess.Popen[bytes]] = {}

    def start_worker(name: str) -> subprocess.Popen[bytes]:
        log = (tmp_path / f"{name}.log").open("w")
        process = subprocess.Popen([KGTWIN, "worker"], cwd=tmp_path, env=env, stdout=log, stderr=log)
        workers[process.pid] = process
        return process

    def logs() -> str:
        return "\n".join(f"--- {p.name}\n{p.read_text()}" for p in sorted(tmp_path.glob("*.log")))

    def predicted_since(since: datetime) -> bool:
        found = telemetry.query(
            [ref], "temperature.predicted", since, datetime.now(UTC) + timedelta(seconds=5)
        )
        return bool(found[0])

    try:
        time.sleep(1.0)
        shadow = Shadows(nodes, library, graph, lambda: models).start(
            twin,
            fmu.id,
            {
                "bindings": {
                    "C": {"property": "thermalCapacitance", "scale": 1000.0},
                    "UA": {"property": "envelopeConductance"},
                    "T0": {"latest": "temperature"},
                    "T_out": {"constant": 21.0},
                },
                "outputs": {"T": {"telemetry": "temperature", "band": 0.5}},
                "step": 0.5,
                "historyS": 2.0,
            },
        )
        first = start_worker("first")
        held = _wait(lambda: holder(nodes.get(shadow.id)), "first claim")
        assert f":{first.pid}:" in str(held.worker), logs()
        _wait(lambda: predicted_since(datetime.now(UTC) - timedelta(seconds=3)), "first predictions")
        second = start_worker("second")
        _wait(lambda: "worker.starting" in (tmp_path / "second.log").read_text(), "second worker up")
        time.sleep(1.0)  # the second worker is polling for shadows, and finds it held
        held = nodes.get(shadow.id)
        assert f":{first.pid}:" in str(held.worker), logs()

        first.send_signal(signal.SIGKILL)
        first.wait(30)
        killed = datetime.now(UTC)
        assert held.lease_until is not None
        lease_until = parse_utc(held.lease_until)
        taken = _wait(lambda: taker(nodes.get(shadow.id), held), "takeover", 60.0)
        took = datetime.now(UTC)
        assert f":{second.pid}:" in str(taken.worker), logs()
        assert taken.status == "active"
        assert taken.attempts == held.attempts + 1
        # Claimed once the lease had passed (never while the dead worker still held it), and
        # within a lease of the kill plus the claim poll (1 s) and this loop's reads.
        assert parse_utc(str(taken.lease_until)) - timedelta(seconds=LEASE_S) >= lease_until
        assert (took - killed).total_seconds() <= LEASE_S + 2.5, (took - killed, logs())
        _wait(lambda: predicted_since(took), "the second worker's predictions", 30.0)

        second.send_signal(signal.SIGTERM)
        assert second.wait(60) == 0, logs()
        assert "Traceback" not in (tmp_path / "second.log").read_text(), logs()
    finally:
        halt.set()
        feeder.join(5)
        for process in workers.values():
            if process.poll() is None:
                process.kill()
                process.wait(30)
        telemetry.close()
        graph.close()
