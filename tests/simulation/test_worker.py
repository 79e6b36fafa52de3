"""The worker on both engines: outcomes, progress, cancel, the wall-clock limit, stopping."""

from __future__ import annotations

import threading
import time
from datetime import datetime

import pytest

from graph.store import GraphStore
from ontology.errors import ValidationFailed
from simulation.jobs import RunStatus, RunStore, SimulationRun
from simulation.runner import ResultSeries
from simulation.worker import RunContext, RunOutcome, Worker, series_points
from telemetry import MemoryTelemetryStore

SUBSET = {"roots": ["m1"], "relationships": ["feeds"], "maxDepth": 2}


def steps(run: SimulationRun, context: RunContext) -> RunOutcome:
    """Ten quick steps, reporting progress after each."""
    for i in range(10):
        context.progress((i + 1) / 10)
    series = ResultSeries("b1", "level", [(0.0, 0.0), (60.0, 2.0), (120.0, 3.0)])
    return RunOutcome({"throughput": 7.0, "seed": run.seed}, [series], ["m1", "b1"])


def until_cancelled(run: SimulationRun, context: RunContext) -> RunOutcome:
    """Runs until told to stop, as the runner does between replications."""
    while not context.cancelled():
        time.sleep(0.01)
    raise ValidationFailed("stopped")


@pytest.fixture
def runs(graph_store: GraphStore) -> RunStore:
    graph_store.write("UNWIND ['m1', 'b1'] AS id CREATE (:Twin {id: id, model: 'dtmi:ex:M;1'})")
    return RunStore(graph_store)


def _in_thread(worker: Worker) -> tuple[threading.Thread, list[SimulationRun | None]]:
    ended: list[SimulationRun | None] = []
    thread = threading.Thread(target=lambda: ended.append(worker.run_once()))
    thread.start()
    return thread, ended


def _wait_for(runs: RunStore, run_id: str, status: RunStatus, timeout_s: float = 10.0) -> SimulationRun:
    deadline = time.monotonic() + timeout_s
    while (run := runs.get(run_id)).status is not status:
        assert time.monotonic() < deadline, f"run stayed {run.status}"
        time.sleep(0.02)
    return run


def test_a_run_succeeds_with_its_summary_series_and_links(runs: RunStore) -> None:
    sink = MemoryTelemetryStore()
    progress: list[float] = []
    runs.events.subscribe(lambda run: progress.append(run.progress))
    run = runs.create("serial_line", SUBSET, seed=3)
    done = Worker(runs, steps, sink=sink).run_once()
    assert done is not None
    assert done.status is RunStatus.SUCCEEDED
    stored = runs.get(run.id)
    assert stored.result == {"throughput": 7.0, "seed": 3}
    assert stored.progress == 1.0
    assert progress == sorted(progress)
    assert progress[-1] == 1.0
    assert len(progress) >= 10
    assert [(p.tags["series"], p.fields["value"]) for p in sink.points()] == [
        ("level", 0.0),
        ("level", 2.0),
        ("level", 3.0),
    ]
    assert sink.points()[0].bucket == "simulation"
    assert sink.points()[0].tags == {"run_id": run.id, "twin_id": "b1", "series": "level"}
    assert sink.points()[1].time_ns - sink.points()[0].time_ns == 60 * 10**9
    linked = runs.store.query_rows("MATCH (:SimulationRun)-[:SIMULATED]->(t) RETURN t.id ORDER BY t.id")
    assert [row[0] for row in linked] == ["b1", "m1"]


def test_series_start_at_the_runs_creation_time(runs: RunStore) -> None:
    run = runs.create("serial_line", SUBSET)
    (point,) = series_points(run, [ResultSeries("b1", "level", [(1.5, 4.0)])])
    created = datetime.fromisoformat(run.created_at.replace("Z", "+00:00"))
    created_ms = int(created.timestamp()) * 1000 + int(run.created_at[20:23])
    assert point.time_ns == created_ms * 10**6 + 1_500_000_000


def test_bad_input_fails_the_run_with_the_message_and_writes_no_result(runs: RunStore) -> None:
    def bad(run: SimulationRun, context: RunContext) -> RunOutcome:
        raise ValidationFailed("flow model: twin b1: capacity must be positive", details={"twins": ["b1"]})

    sink = MemoryTelemetryStore()
    run = runs.create("serial_line", SUBSET)
    Worker(runs, bad, sink=sink).run_once()
    failed = runs.get(run.id)
    assert failed.status is RunStatus.FAILED
    assert failed.error == {
        "code": "VALIDATION_FAILED",
        "message": "flow model: twin b1: capacity must be positive",
        "details": {"twins": ["b1"]},
    }
    assert failed.result is None
    assert sink.points() == []
    assert runs.store.query_rows("MATCH (:SimulationRun)-[l:SIMULATED]->() RETURN count(l)") == [[0]]


def test_a_crashing_job_fails_the_run_without_stopping_the_worker(runs: RunStore) -> None:
    def crash(run: SimulationRun, context: RunContext) -> RunOutcome:
        raise ZeroDivisionError("division by zero")

    first = runs.create("serial_line", SUBSET)
    second = runs.create("serial_line", SUBSET)
    worker = Worker(runs, crash)
    worker.run_once()
    worker.run_once()
    for run in (first, second):
        error = runs.get(run.id).error
        assert error is not None
        assert "ZeroDivisionError" in error["message"]


def test_cancel_in_this_process_stops_a_running_run_at_once(runs: RunStore) -> None:
    stopped: list[float] = []

    def noting(run: SimulationRun, context: RunContext) -> RunOutcome:
        while not context.cancelled():
            time.sleep(0.01)
        stopped.append(time.monotonic())
        raise ValidationFailed("stopped")

    run = runs.create("serial_line", SUBSET)
    thread, ended = _in_thread(Worker(runs, noting, lease_s=30))
    _wait_for(runs, run.id, RunStatus.RUNNING)
    runs.cancel(run.id)
    committed = time.monotonic()
    thread.join(5)
    assert stopped[0] - committed < 0.5  # no heartbeat needed: the job saw it at once
    assert ended[0] is not None
    assert ended[0].status is RunStatus.CANCELLED
    assert runs.get(run.id).status is RunStatus.CANCELLED


def test_cancel_from_another_process_is_seen_at_the_next_heartbeat(runs: RunStore) -> None:
    run = runs.create("serial_line", SUBSET)
    elsewhere = RunStore(runs.store)  # another process's store: no shared events
    thread, _ = _in_thread(Worker(runs, until_cancelled, lease_s=1.5))
    _wait_for(runs, run.id, RunStatus.RUNNING)
    elsewhere.cancel(run.id)
    _wait_for(elsewhere, run.id, RunStatus.CANCELLED, timeout_s=3)
    thread.join(5)
    assert not thread.is_alive()


def test_the_wall_clock_limit_fails_a_runaway_run(runs: RunStore) -> None:
    run = runs.create("serial_line", SUBSET)
    started = time.monotonic()
    Worker(runs, until_cancelled, time_limit_s=0.5).run_once()
    assert time.monotonic() - started < 3
    failed = runs.get(run.id)
    assert failed.status is RunStatus.FAILED
    assert failed.error is not None
    assert failed.error["code"] == "TIMEOUT"
    assert "wall-clock limit of 0.5 s" in failed.error["message"]


def test_a_job_ignoring_cancel_is_marked_at_the_limit_and_abandoned(runs: RunStore) -> None:
    release = threading.Event()

    def stubborn(run: SimulationRun, context: RunContext) -> RunOutcome:
        release.wait(10)
        return RunOutcome({"late": True})

    run = runs.create("serial_line", SUBSET)
    Worker(runs, stubborn, time_limit_s=0.3, grace_s=0.2).run_once()
    assert runs.get(run.id).status is RunStatus.FAILED
    release.set()


def test_a_stopping_worker_puts_its_run_back_in_the_queue(runs: RunStore) -> None:
    run = runs.create("serial_line", SUBSET)
    worker = Worker(runs, until_cancelled)
    thread, _ended = _in_thread(worker)
    _wait_for(runs, run.id, RunStatus.RUNNING)
    worker.stop()
    thread.join(5)
    requeued = runs.get(run.id)
    assert requeued.status is RunStatus.QUEUED
    assert requeued.worker is None
    assert Worker(runs, steps).run_once() is not None
    assert runs.get(run.id).attempts == 2


def test_serve_drains_the_queue_until_stopped(runs: RunStore) -> None:
    made = [runs.create("serial_line", SUBSET, seed=i) for i in range(3)]
    worker = Worker(runs, steps, poll_s=0.05)
    thread = threading.Thread(target=worker.serve)
    thread.start()
    for run in made:
        _wait_for(runs, run.id, RunStatus.SUCCEEDED)
    worker.stop()
    thread.join(5)
    assert not thread.is_alive()


def test_progress_reaches_the_node_at_the_heartbeat(runs: RunStore) -> None:
    def halfway(run: SimulationRun, context: RunContext) -> RunOutcome:
        context.progress(0.5)
        while not context.cancelled():
            time.sleep(0.01)
        raise ValidationFailed("stopped")

    run = runs.create("serial_line", SUBSET)
    elsewhere = RunStore(runs.store)  # what the API of another process reads
    worker = Worker(runs, halfway)
    thread, _ = _in_thread(worker)
    try:
        deadline = time.monotonic() + 5
        while elsewhere.get(run.id).progress != 0.5:
            assert time.monotonic() < deadline
            time.sleep(0.05)
    finally:
        worker.stop()
        thread.join(5)
