"""Runs of the real ``flow`` model through the worker, from the graph to the stored result."""

from __future__ import annotations

import pytest

from graph.store import GraphStore
from graph.subgraph import SubgraphSpec, select_subgraph
from ontology.errors import ValidationFailed
from ontology.model import ModelSet
from simulation.jobs import RunStatus, RunStore
from simulation.local import LocalExecutor
from simulation.runner import compare, run_simulation
from simulation.scenario import Scenario
from simulation.worker import Worker, check_request, simulation_job
from telemetry import MemoryTelemetryStore
from tests.simulation.builders import InProcessExecutor

SUBSET = {"roots": ["S"], "relationships": ["feeds"], "maxDepth": 5}
PARAMETERS = {"horizonS": 20_000.0, "samples": 5}


def no_models() -> ModelSet:
    return ModelSet({})


def test_a_flow_run_stores_the_runners_result(flow_line: GraphStore) -> None:
    runs = RunStore(flow_line, validate=check_request)
    run = runs.create("flow", SUBSET, parameters=PARAMETERS, replications=4, seed=9)
    sink = MemoryTelemetryStore()
    pool = LocalExecutor(2)
    try:
        Worker(runs, simulation_job(flow_line, no_models, pool), sink=sink).run_once()
    finally:
        pool.close()
    done = runs.get(run.id)
    assert done.status is RunStatus.SUCCEEDED, done.error
    graph = select_subgraph(flow_line, no_models(), SubgraphSpec.model_validate(SUBSET))
    direct = run_simulation("flow", graph, PARAMETERS, None, 4, 9, InProcessExecutor())
    assert done.result == direct.summary
    stored = {(p.tags["twin_id"], p.tags["series"]) for p in sink.points()}
    assert stored == {(s.twin, s.name) for s in direct.series}
    assert len(sink.points()) == sum(len(s.points) for s in direct.series)
    linked = flow_line.query_rows("MATCH (:SimulationRun)-[:SIMULATED]->(t:Twin) RETURN t.id ORDER BY t.id")
    assert [row[0] for row in linked] == sorted(direct.twins)


def test_a_scenario_naming_a_twin_outside_the_subset_fails_the_run(flow_line: GraphStore) -> None:
    runs = RunStore(flow_line, validate=check_request)
    scenario = {"name": "faster", "overrides": {"ghost-machine": {"cycleTimeMean": 10.0}}}
    run = runs.create("flow", SUBSET, parameters=PARAMETERS, scenario=scenario, replications=2)
    Worker(runs, simulation_job(flow_line, no_models, InProcessExecutor())).run_once()
    failed = runs.get(run.id)
    assert failed.status is RunStatus.FAILED
    assert failed.error is not None
    assert failed.error["code"] == "VALIDATION_FAILED"
    assert "ghost-machine" in failed.error["message"]
    assert flow_line.query_rows("MATCH (:SimulationRun)-[l:SIMULATED]->() RETURN count(l)") == [[0]]


@pytest.mark.parametrize(
    ("model", "parameters", "scenario", "named"),
    [
        ("no-such-model", {}, None, "no-such-model"),
        ("flow", {"horizonS": -1}, None, "/horizonS"),
        ("flow", {"colour": "red"}, None, "/colour"),
        ("flow", {}, {"overrides": 3}, "/scenario/overrides"),
    ],
)
def test_bad_requests_are_refused_before_anything_is_written(
    flow_line: GraphStore,
    model: str,
    parameters: dict[str, object],
    scenario: dict[str, object] | None,
    named: str,
) -> None:
    runs = RunStore(flow_line, validate=check_request)
    with pytest.raises(ValidationFailed, match=named):
        runs.create(model, SUBSET, parameters=parameters, scenario=scenario)
    assert flow_line.query_rows("MATCH (r:SimulationRun) RETURN count(r)") == [[0]]


def test_a_comparison_run_stores_baseline_scenario_and_their_difference(flow_line: GraphStore) -> None:
    runs = RunStore(flow_line, validate=check_request)
    scenario = {"name": "bigger buffer", "overrides": {"B1": {"capacity": 20}}}
    run = runs.create(
        "flow", SUBSET, parameters=PARAMETERS, scenario=scenario, replications=3, seed=4, compare=True
    )
    assert runs.get(run.id).compare
    sink = MemoryTelemetryStore()
    Worker(runs, simulation_job(flow_line, no_models, InProcessExecutor()), sink=sink).run_once()
    done = runs.get(run.id)
    assert done.status is RunStatus.SUCCEEDED, done.error
    assert done.result is not None
    graph = select_subgraph(flow_line, no_models(), SubgraphSpec.model_validate(SUBSET))
    direct = compare("flow", graph, PARAMETERS, Scenario.model_validate(scenario), 3, 4, InProcessExecutor())
    assert done.result["sentence"] == direct.summary["sentence"]
    assert done.result["baseline"] == direct.baseline.summary
    assert done.result["scenario"] == direct.scenario.summary
    variants = {p.tags["series"].split("/", 1)[0] for p in sink.points()}
    assert variants == {"baseline", "scenario"}


def test_a_comparison_without_a_scenario_is_refused(flow_line: GraphStore) -> None:
    runs = RunStore(flow_line, validate=check_request)
    with pytest.raises(ValidationFailed, match="needs a scenario"):
        runs.create("flow", SUBSET, parameters=PARAMETERS, compare=True)
    assert flow_line.query_rows("MATCH (r:SimulationRun) RETURN count(r)") == [[0]]
