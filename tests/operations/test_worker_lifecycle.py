"""Workers replaced one at a time while runs are queued: every run completes exactly once.

Two real ``kgtwin worker`` processes share the run queue in Neo4j. Each in turn gets
SIGTERM while it holds a run: it turns unready at once, puts the run back in the queue,
exits 0 within the grace, and a new process takes its place. Every run ends succeeded,
and across all four processes each run succeeded once (their logs and their metrics).
"""

from __future__ import annotations

import itertools
import json
import logging
import signal
import time
from collections import Counter
from collections.abc import Callable

import httpx
import pytest

from api.context import twin_context
from graph.neo4j import Neo4jGraphStore
from simulation.jobs import RunStatus, RunStore, SimulationRun
from simulation.worker import check_request
from tests.operations.conftest import Servers, Service

pytestmark = [pytest.mark.neo4j, pytest.mark.influxdb, pytest.mark.timeout(600)]

# The run store reads properties a queued run does not have yet; Neo4j warns of each.
logging.getLogger("neo4j.notifications").setLevel(logging.ERROR)

GRACE_S = 20.0
RUNS = 8
REPS = 40
LINE = [
    ("S", "Source", {"interarrivalTimeMean": 60.0, "interarrivalTimeDistribution": "exponential"}),
    ("B1", "Buffer", {"capacity": 4}),
    ("M1", "Machine", {"cycleTimeMean": 50.0, "cycleTimeDistribution": "exponential"}),
    ("K", "Sink", {}),
]


def flow_line(graph: Neo4jGraphStore) -> None:
    """The base ontology, and a source, a buffer, a machine and a sink joined by ``feeds``."""
    twin_context("test", graph)
    twins = [
        {
            "id": twin_id,
            "model": f"dtmi:kgtwin:production:{kind};1",
            "etag": 'W/"1"',
            "createdAt": "2026-11-25T08:00:00.000Z",
            "updatedAt": "2026-11-25T08:00:00.000Z",
            "_document": json.dumps(properties),
        }
        for twin_id, kind, properties in LINE
    ]
    graph.write("UNWIND $twins AS t CREATE (n:Twin) SET n = t", {"twins": twins})
    pairs = [[a[0], b[0]] for a, b in itertools.pairwise(LINE)]
    graph.write(
        "UNWIND $pairs AS p MATCH (a:Twin {id: p[0]}), (b:Twin {id: p[1]}) "
        "CREATE (a)-[:feeds {id: 'f-' + p[0], _document: '{}'}]->(b)",
        {"pairs": pairs},
    )


def ended_in(worker: Service) -> Counter[tuple[str, str]]:
    """How often ``worker``'s log says it ended each run, by run and status."""
    return Counter((r["run"], r["status"]) for r in worker.records() if r["event"] == "run.ended")


def succeeded_in(worker: Service) -> int:
    """The runs ``worker``'s log says it ended succeeded."""
    return sum(count for (_, status), count in ended_in(worker).items() if status == "succeeded")


def held_by(runs: RunStore, ids: list[str], worker: Service) -> SimulationRun | None:
    """The run ``worker`` (its process) holds now, if any."""
    for run_id in ids:
        run = runs.get(run_id)
        if run.status is RunStatus.RUNNING and f":{worker.process.pid}:" in (run.worker or ""):
            return run
    return None


def replace(
    old: Service, runs: RunStore, ids: list[str], start: Callable[[], Service]
) -> tuple[Service, str]:
    """SIGTERM ``old`` once it holds a run; check it turns unready, exits 0 and handed its run back.

    Answers its successor, started once it has gone, and the id of the run it handed back.
    """
    # A run near its end may finish before the signal reaches the worker, leaving nothing to
    # hand back: wait until it holds one with most of its replications ahead of it (progress
    # is written at every heartbeat, at most a second apart).
    deadline = time.monotonic() + 120
    while (held := held_by(runs, ids, old)) is None or held.progress > 0.25:
        assert time.monotonic() < deadline, "the worker never held a run early in its course"
        time.sleep(0.05)
    assert httpx.get(f"{old.url}/readyz").status_code == 200
    old.process.send_signal(signal.SIGTERM)
    time.sleep(0.05)  # the signal reaches the process
    answers = []
    while old.process.poll() is None:
        try:
            answers.append(httpx.get(f"{old.url}/readyz", timeout=5).status_code)
        except httpx.TimeoutException:  # a busy machine: ask again
            continue
        except httpx.TransportError:  # its health port is closed: it is on its way out
            break
        time.sleep(0.02)
    # Unready from the signal on, never ready again. (On a loaded machine the worker may hand
    # its run back and close the health port before the first probe is answered.)
    assert 200 not in answers, answers
    began = time.monotonic()
    assert old.process.wait(GRACE_S + 5) == 0, old.text()[-3000:]
    assert time.monotonic() - began < GRACE_S
    # The run handed back is the one it held when the signal came: on a quiet machine the run
    # seen above may have ended just before, and the worker claimed the next one.
    handed_back = [run_id for (run_id, status) in ended_in(old) if status == "queued"]
    assert len(handed_back) == 1, old.text()[-3000:]
    successor = start()
    successor.wait_ready()
    return successor, handed_back[0]


def test_replacing_each_worker_while_runs_are_queued_completes_every_run_exactly_once(
    servers: Servers, services: Callable[..., Service]
) -> None:
    graph = Neo4jGraphStore(servers.graph_url)
    try:
        flow_line(graph)
        runs = RunStore(graph, validate=check_request)
        runs.ensure_schema()
        parameters, subset = {"horizonS": 200_000.0, "samples": 0}, {"roots": ["S"], "maxDepth": 5}
        ids = []
        for seed in range(RUNS):
            ids.append(runs.create("flow", subset, parameters=parameters, replications=REPS, seed=seed).id)
        env = servers.env() | {
            "KGTWIN_EXECUTOR_URL": "local://?workers=1",
            "KGTWIN_SHUTDOWN_GRACE_S": str(GRACE_S),
        }
        names = itertools.count(1)

        def start() -> Service:
            return services(["worker"], f"worker-{next(names)}", env)

        first, second = start(), start()
        first.wait_ready()
        second.wait_ready()
        third, requeued_first = replace(first, runs, ids, start)
        fourth, requeued_second = replace(second, runs, ids, start)

        deadline = time.monotonic() + 400
        while not all(runs.get(i).status.final for i in ids):
            assert time.monotonic() < deadline, [runs.get(i).status for i in ids]
            time.sleep(0.5)
        final = [runs.get(i) for i in ids]
        assert [r.status for r in final] == [RunStatus.SUCCEEDED] * RUNS
        for requeued in (requeued_first, requeued_second):
            assert runs.get(requeued).attempts >= 2  # claimed again after it was handed back

        ended = sum((ended_in(w) for w in (first, second, third, fourth)), Counter[tuple[str, str]]())
        assert {run_id: ended[(run_id, "succeeded")] for run_id in ids} == dict.fromkeys(ids, 1)
        assert ended_in(first)[(requeued_first, "queued")] == 1  # handed back by the stopped workers
        assert ended_in(second)[(requeued_second, "queued")] == 1

        succeeded = (("outcome", "succeeded"),)
        for survivor in (third, fourth):  # the metrics tell what the logs tell
            scraped = survivor.metrics()
            logged = succeeded_in(survivor)
            assert scraped.get(("kgtwin_worker_runs_ended_total", succeeded), 0) == logged
            assert scraped[("kgtwin_worker_runs_claimed_total", ())] >= logged
            assert scraped[("kgtwin_worker_replications_total", ())] >= REPS * logged
        assert [w.terminate() for w in (third, fourth)] == [0, 0]
    finally:
        graph.close()
