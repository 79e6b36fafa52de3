"""The run store on both engines: queueing, paging, cancelling, and claims under a lease."""

from __future__ import annotations

import threading
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from graph.store import GraphStore
from ontology.errors import BadRequest, Conflict, NotFound, ValidationFailed
from simulation.jobs import RunStatus, RunStore, SimulationRun

LEASE = timedelta(seconds=30)
SUBSET = {"roots": ["m1"], "relationships": ["feeds"], "maxDepth": 3}


class Clock:
    """A clock the test moves by hand, for lease expiry."""

    def __init__(self) -> None:
        self.at = datetime(2026, 11, 25, 8, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.at


def _twins(store: GraphStore, *ids: str) -> None:
    store.write("UNWIND $ids AS id CREATE (:Twin {id: id, model: 'dtmi:ex:M;1'})", {"ids": list(ids)})


def _count(store: GraphStore, query: str) -> int:
    return int(store.query_rows(query)[0][0])


@pytest.fixture
def runs(graph_store: GraphStore) -> RunStore:
    _twins(graph_store, "m1", "m2", "b1")
    return RunStore(graph_store)


def test_a_created_run_is_queued_and_read_back(runs: RunStore) -> None:
    run = runs.create("serial_line", SUBSET, parameters={"hours": 8}, replications=5, seed=42)
    got = runs.get(run.id)
    assert got == run
    assert got.status is RunStatus.QUEUED
    assert got.subset == {
        "roots": ["m1"],
        "relationships": ["feeds"],
        "direction": "out",
        "maxDepth": 3,
        "models": [],
    }
    assert got.created_at.endswith("Z")
    assert got.to_dict()["parameters"] == {"hours": 8}


def test_bad_requests_name_the_culprit_and_write_nothing(runs: RunStore) -> None:
    with pytest.raises(NotFound, match="ghost"):
        runs.create("serial_line", {"roots": ["m1", "ghost"]})
    with pytest.raises(ValidationFailed, match="replications"):
        runs.create("serial_line", SUBSET, replications=0)
    with pytest.raises(ValidationFailed, match="subset"):
        runs.create("serial_line", {"roots": []})
    with pytest.raises(ValidationFailed, match="parameters"):
        runs.create("serial_line", SUBSET, parameters={"x": float("nan")})
    assert _count(runs.store, "MATCH (r:SimulationRun) RETURN count(r)") == 0


def test_the_runners_validator_refuses_before_writing(graph_store: GraphStore) -> None:
    _twins(graph_store, "m1")

    def validate(model: str, parameters: Mapping[str, Any], scenario: Mapping[str, Any] | None) -> None:
        if parameters.get("rate", 0) < 0:
            raise ValidationFailed(f"{model} model: parameter /rate: must be >= 0")

    runs = RunStore(graph_store, validate=validate)
    with pytest.raises(ValidationFailed, match="/rate"):
        runs.create("serial_line", SUBSET, parameters={"rate": -1})
    assert _count(graph_store, "MATCH (r:SimulationRun) RETURN count(r)") == 0


def test_list_pages_newest_first_by_cursor(graph_store: GraphStore) -> None:
    _twins(graph_store, "m1")
    clock = Clock()
    runs = RunStore(graph_store, clock=clock)
    made = []
    for _ in range(5):
        made.append(runs.create("serial_line", SUBSET))
        clock.at += timedelta(seconds=1)
    runs.cancel(made[1].id)
    seen: list[SimulationRun] = []
    page = runs.list(first=2)
    seen += page.runs
    while page.has_next:
        page = runs.list(first=2, after=page.end_cursor)
        seen += page.runs
    assert [r.id for r in seen] == [r.id for r in reversed(made)]
    assert [r.id for r in runs.list(RunStatus.CANCELLED).runs] == [made[1].id]
    with pytest.raises(BadRequest, match="cursor"):
        runs.list(after="not-a-cursor")


def test_cancel_stops_a_queued_run_and_flags_a_running_one(runs: RunStore) -> None:
    queued = runs.create("serial_line", SUBSET)
    assert runs.cancel(queued.id).status is RunStatus.CANCELLED
    running = runs.create("serial_line", SUBSET)
    claimed = runs.claim("w1", LEASE)
    assert claimed is not None
    assert claimed.id == running.id
    flagged = runs.cancel(running.id)
    assert flagged.status is RunStatus.RUNNING
    assert flagged.cancel_requested
    assert runs.renew(claimed, LEASE, 0.5) is True
    assert runs.claim("w2", LEASE) is None
    with pytest.raises(NotFound):
        runs.cancel("no-such-run")


def test_cancelling_a_finished_run_is_a_conflict(runs: RunStore) -> None:
    runs.create("serial_line", SUBSET)
    claimed = runs.claim("w1", LEASE)
    assert claimed is not None
    runs.succeed(claimed, {"throughput": 1.0}, ["m1", "m2"])
    with pytest.raises(Conflict, match="succeeded"):
        runs.cancel(claimed.id)


def test_success_keeps_the_summary_and_links_the_twins_covered(runs: RunStore) -> None:
    runs.create("serial_line", SUBSET)
    claimed = runs.claim("w1", LEASE)
    assert claimed is not None
    done = runs.succeed(claimed, {"throughput": 12.5}, ["m1", "m2", "deleted-meanwhile"])
    assert done is not None
    assert done.status is RunStatus.SUCCEEDED
    assert done.progress == 1.0
    assert runs.get(claimed.id).result == {"throughput": 12.5}
    linked = runs.store.query_rows(
        "MATCH (:SimulationRun {id: $id})-[:SIMULATED]->(t:Twin) RETURN t.id ORDER BY t.id",
        {"id": claimed.id},
    )
    assert [row[0] for row in linked] == ["m1", "m2"]


def test_an_expired_lease_is_claimed_again_and_fences_the_old_worker(graph_store: GraphStore) -> None:
    _twins(graph_store, "m1")
    clock = Clock()
    runs = RunStore(graph_store, clock=clock)
    run = runs.create("serial_line", SUBSET)
    first = runs.claim("w1", LEASE)
    assert first is not None
    assert first.attempts == 1
    clock.at += LEASE - timedelta(seconds=1)
    assert runs.claim("w2", LEASE) is None
    clock.at += timedelta(seconds=2)
    second = runs.claim("w2", LEASE)
    assert second is not None
    assert second.id == run.id
    assert (second.worker, second.attempts) == ("w2", 2)
    assert runs.renew(first, LEASE, 0.9) is None
    assert runs.succeed(first, {"late": True}, []) is None
    assert runs.fail(first, {"message": "late"}) is None
    assert runs.get(run.id).status is RunStatus.RUNNING


def test_a_run_whose_worker_died_after_a_cancel_is_swept(graph_store: GraphStore) -> None:
    _twins(graph_store, "m1")
    clock = Clock()
    runs = RunStore(graph_store, clock=clock)
    run = runs.create("serial_line", SUBSET)
    assert runs.claim("w1", LEASE) is not None
    runs.cancel(run.id)
    assert runs.sweep() == []
    clock.at += LEASE * 2
    assert [r.id for r in runs.sweep()] == [run.id]
    assert runs.get(run.id).status is RunStatus.CANCELLED


def test_racing_workers_claim_each_run_once(graph_store: GraphStore) -> None:
    _twins(graph_store, "m1")
    runs = RunStore(graph_store)
    made = {runs.create("serial_line", SUBSET).id for _ in range(12)}
    claims: dict[str, list[str]] = {f"w{i}": [] for i in range(4)}
    start = threading.Barrier(len(claims))

    def work(worker: str) -> None:
        start.wait()
        while (run := runs.claim(worker, LEASE)) is not None:
            claims[worker].append(run.id)

    threads = [threading.Thread(target=work, args=(w,)) for w in claims]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    taken = [run_id for ids in claims.values() for run_id in ids]
    assert sorted(taken) == sorted(made)
    stored = graph_store.query_rows("MATCH (r:SimulationRun) RETURN r.attempts, r.status")
    assert all(attempts == 1 and status == "running" for attempts, status in stored)


def test_progress_and_changes_are_published(runs: RunStore) -> None:
    seen: list[tuple[str, str]] = []
    stop = runs.events.subscribe(lambda run: seen.append((run.id, run.status.value)))
    run = runs.create("serial_line", SUBSET)
    runs.cancel(run.id)
    stop()
    runs.create("serial_line", SUBSET)
    assert seen == [(run.id, "queued"), (run.id, "cancelled")]


def test_the_run_index_can_be_ensured_again(runs: RunStore) -> None:
    runs.ensure_schema()
    runs.ensure_schema()
    run = runs.create("serial_line", SUBSET)
    assert runs.get(run.id).id == run.id
