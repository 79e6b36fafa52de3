"""Simulation runs through GraphQL: start, read, list, follow, cancel; a real worker runs them."""

from __future__ import annotations

import itertools
import threading
from typing import Any

import pytest

from ontology.model import ModelSet
from simulation.worker import Worker, simulation_job
from tests.api.conftest import Api
from tests.api.test_graphql_subscriptions import next_data, subscription
from tests.simulation.builders import InProcessExecutor

pytestmark = pytest.mark.timeout(180)

P = "dtmi:kgtwin:production:"
LINE = [
    ("S", "Source", {"interarrivalTimeMean": 60.0, "interarrivalTimeDistribution": "exponential"}),
    ("B1", "Buffer", {"capacity": 4}),
    ("M1", "Machine", {"cycleTimeMean": 50.0, "cycleTimeDistribution": "exponential"}),
    ("K", "Sink", {}),
]
START = """mutation($model: String!, $subset: JSON!, $parameters: JSON, $replications: Int!) {
  startSimulation(
    model: $model, subset: $subset, parameters: $parameters, replications: $replications, seed: 7
  ) {
    id status progress model subset parameters replications seed
  }
}"""
CREATE_TWIN = (
    "mutation($id: ID!, $m: String!, $p: JSON) { createTwin(id: $id, model: $m, properties: $p) { id } }"
)
SUBSET = {"roots": ["S"], "relationships": ["feeds"], "maxDepth": 5}
PARAMETERS = {"horizonS": 20000.0, "samples": 5}


def flow_line(api: Api) -> None:
    for twin_id, kind, props in LINE:
        api.data(CREATE_TWIN, {"id": twin_id, "m": f"{P}{kind};1", "p": props})
    for (a, _, _), (b, _, _) in itertools.pairwise(LINE):
        api.data(
            'mutation($a: ID!, $b: ID!) { createRelationship(source: $a, target: $b, name: "feeds") { id } }',
            {"a": a, "b": b},
        )


def start(api: Api, **overrides: Any) -> dict[str, Any]:
    variables = {"model": "flow", "subset": SUBSET, "parameters": PARAMETERS, "replications": 3, **overrides}
    run: dict[str, Any] = api.data(START, variables)["startSimulation"]
    return run


def worker(api: Api) -> Worker:
    assert api.context.runs is not None
    return Worker(api.context.runs, simulation_job(api.graph, lambda: ModelSet({}), InProcessExecutor()))


def test_start_run_and_read_a_simulation(api: Api) -> None:
    flow_line(api)
    run = start(api)
    assert run["status"] == "QUEUED"
    assert run["subset"]["roots"] == ["S"]
    worker(api).run_once()
    done = api.data(
        "query($id: ID!) { simulationRun(id: $id) { status progress result error finishedAt } }",
        {"id": run["id"]},
    )
    assert done["simulationRun"]["status"] == "SUCCEEDED", done
    assert done["simulationRun"]["result"]
    listed = api.data("{ simulationRuns(status: SUCCEEDED) { nodes { id } hasNextPage endCursor } }")
    assert [r["id"] for r in listed["simulationRuns"]["nodes"]] == [run["id"]]
    assert api.data('{ simulationRun(id: "nope") { id } }') == {"simulationRun": None}


def test_progress_is_followed_until_the_run_ends(api: Api) -> None:
    flow_line(api)
    run = start(api, replications=20)
    query = "subscription($id: ID!) { simulationProgress(id: $id) { status progress } }"
    with subscription(api, query, {"id": run["id"]}) as ws:
        first = next_data(ws)["simulationProgress"]
        thread = threading.Thread(target=worker(api).run_once)
        thread.start()
        seen = [first]
        while seen[-1]["status"] not in ("SUCCEEDED", "FAILED", "CANCELLED"):
            seen.append(next_data(ws)["simulationProgress"])
        thread.join(60)
        ended = ws.receive_json()
    assert first == {"status": "QUEUED", "progress": 0.0}
    assert seen[-1]["status"] == "SUCCEEDED"
    assert "RUNNING" in {s["status"] for s in seen}
    assert ended["type"] == "complete"


def test_cancel_a_queued_run(api: Api) -> None:
    flow_line(api)
    run = start(api)
    cancelled = api.data("mutation($id: ID!) { cancelSimulation(id: $id) { status } }", {"id": run["id"]})
    assert cancelled["cancelSimulation"]["status"] == "CANCELLED"
    assert api.error('mutation { cancelSimulation(id: "nope") { id } }')["extensions"]["code"] == "NOT_FOUND"


@pytest.mark.parametrize(
    ("overrides", "code"),
    [
        ({"model": "no-such-model"}, "VALIDATION_FAILED"),
        ({"parameters": {"horizonS": -1}}, "VALIDATION_FAILED"),
        ({"subset": {"roots": ["ghost"]}}, "NOT_FOUND"),
        ({"subset": {"roots": []}}, "VALIDATION_FAILED"),
        ({"subset": ["S"]}, "BAD_REQUEST"),
        ({"replications": 0}, "VALIDATION_FAILED"),
    ],
)
def test_bad_simulation_requests_name_what_is_wrong(api: Api, overrides: dict[str, Any], code: str) -> None:
    flow_line(api)
    variables = {"model": "flow", "subset": SUBSET, "parameters": PARAMETERS, "replications": 1, **overrides}
    assert api.error(START, variables)["extensions"]["code"] == code
    assert api.data("{ simulationRuns { nodes { id } } }")["simulationRuns"]["nodes"] == []


def test_progress_of_an_unknown_run_is_not_found(api: Api) -> None:
    with subscription(api, 'subscription { simulationProgress(id: "nope") { status } }') as ws:
        message = ws.receive_json()
    errors = message["payload"]["errors"] if message["type"] == "next" else message["payload"]
    assert errors[0]["extensions"]["code"] == "NOT_FOUND"


def test_a_what_if_comparison_reports_the_difference_in_words(api: Api) -> None:
    flow_line(api)
    run = api.data(
        """mutation($subset: JSON!, $parameters: JSON, $scenario: JSON) {
          startSimulation(model: "flow", subset: $subset, parameters: $parameters, scenario: $scenario,
                          replications: 3, seed: 7, compare: true) { id compare status }
        }""",
        {"subset": SUBSET, "parameters": PARAMETERS, "scenario": {"overrides": {"B1": {"capacity": 8}}}},
    )["startSimulation"]
    assert run["compare"] is True
    worker(api).run_once()
    done = api.data("query($id: ID!) { simulationRun(id: $id) { status result } }", {"id": run["id"]})
    assert done["simulationRun"]["status"] == "SUCCEEDED"
    result = done["simulationRun"]["result"]
    assert isinstance(result["sentence"], str)
    assert "%" in result["sentence"]
    assert set(result) >= {"baseline", "scenario"}


def test_a_comparison_without_a_scenario_is_a_validation_error(api: Api) -> None:
    flow_line(api)
    error = api.error(
        """mutation($subset: JSON!) {
          startSimulation(model: "flow", subset: $subset, compare: true) { id }
        }""",
        {"subset": SUBSET},
    )
    assert error["extensions"]["code"] == "VALIDATION_FAILED"
    assert "needs a scenario" in error["message"]
