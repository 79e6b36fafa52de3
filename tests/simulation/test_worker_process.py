"""Workers as real processes: one killed mid-run, and ``kgtwin worker`` stopped by SIGTERM."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from graph.falkordb import FalkorGraphStore
from graph.store import GraphStore
from graph.times import parse_utc
from simulation.jobs import RunStatus, RunStore, SimulationRun
from simulation.worker import RunContext, RunOutcome, Worker

ROOT = Path(__file__).resolve().parents[2]
SUBSET = {"roots": ["m1"]}
# A worker whose job runs until cancelled, on the graph named by argv.
SLOW_WORKER = """
import sys, time
from pathlib import Path
from simulation.jobs import RunStore
from simulation.worker import Worker
kind, where = sys.argv[1], sys.argv[2]
if kind == "falkordb":
    from graph.falkordb import FalkorGraphStore
    store = FalkorGraphStore(Path(where))
else:
    from graph.neo4j import Neo4jGraphStore
    store = Neo4jGraphStore(where)
def slow(run, context):
    while not context.cancelled():
        time.sleep(0.05)
    raise RuntimeError("stopped")
Worker(RunStore(store), slow, lease_s=4.0, name="doomed").run_once()
"""


def _where(graph_store: GraphStore, request: pytest.FixtureRequest) -> tuple[str, str]:
    if isinstance(graph_store, FalkorGraphStore):
        return "falkordb", str(graph_store.data_dir)
    return "neo4j", str(request.getfixturevalue("neo4j_url"))


def _wait_for(runs: RunStore, run_id: str, status: RunStatus, timeout_s: float = 60.0) -> SimulationRun:
    deadline = time.monotonic() + timeout_s
    while (run := runs.get(run_id)).status is not status:
        assert time.monotonic() < deadline, f"run stayed {run.status}"
        time.sleep(0.05)
    return run


def done(run: SimulationRun, context: RunContext) -> RunOutcome:
    return RunOutcome({"ok": True}, (), ["m1"])


def test_a_killed_workers_run_is_claimed_again_after_its_lease(
    graph_store: GraphStore, request: pytest.FixtureRequest
) -> None:
    graph_store.write("CREATE (:Twin {id: 'm1', model: 'dtmi:ex:M;1'})")
    runs = RunStore(graph_store)
    run = runs.create("serial_line", SUBSET)
    worker = subprocess.Popen([sys.executable, "-c", SLOW_WORKER, *_where(graph_store, request)], cwd=ROOT)
    try:
        _wait_for(runs, run.id, RunStatus.RUNNING)
        time.sleep(1.5)  # a heartbeat or two
    finally:
        os.kill(worker.pid, signal.SIGKILL)
        worker.wait()
    orphan = runs.get(run.id)
    assert orphan.status is RunStatus.RUNNING
    assert orphan.worker == "doomed"
    assert orphan.lease_until is not None
    assert Worker(runs, done).run_once() is None  # the lease has not expired yet
    wait_s = (parse_utc(orphan.lease_until) - datetime.now(UTC)).total_seconds()
    time.sleep(max(0.0, wait_s) + 0.2)
    rerun = Worker(runs, done, name="heir").run_once()
    assert rerun is not None
    assert rerun.status is RunStatus.SUCCEEDED
    assert runs.get(run.id).attempts == 2


def test_kgtwin_worker_requeues_its_run_on_sigterm_and_exits_0(
    flow_line: GraphStore, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    kind, where = _where(flow_line, request)
    graph_url = f"falkordb:///{where}" if kind == "falkordb" else where
    runs = RunStore(flow_line)
    parameters = {"horizonS": 400_000.0, "samples": 0}
    run = runs.create("flow", {"roots": ["S"], "maxDepth": 5}, parameters=parameters, replications=60)
    env = {
        **os.environ,
        "KGTWIN_GRAPH_URL": graph_url,
        "KGTWIN_TELEMETRY_URL": f"duckdb:///{tmp_path / 'telemetry.duckdb'}",
        "KGTWIN_EXECUTOR_URL": "local://?workers=1",
        "KGTWIN_CONFIG": str(tmp_path / "none.toml"),
        "KGTWIN_HEALTH_PORT": "0",  # not under test here; another process may hold 8001
    }
    kgtwin = Path(sys.executable).parent / "kgtwin"
    worker = subprocess.Popen([kgtwin, "worker"], cwd=tmp_path, env=env, stderr=subprocess.PIPE, text=True)
    try:
        running = _wait_for(runs, run.id, RunStatus.RUNNING)
        assert running.attempts == 1
        worker.send_signal(signal.SIGTERM)
        code = worker.wait(30)
    finally:
        if worker.poll() is None:
            worker.kill()
    assert code == 0, worker.stderr.read() if worker.stderr else ""
    requeued = runs.get(run.id)
    assert requeued.status is RunStatus.QUEUED
    assert requeued.worker is None
