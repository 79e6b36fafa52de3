"""Bad input fails before any replication runs, with a message naming twins and parameters."""

from __future__ import annotations

from typing import Any

import networkx as nx
import pytest

from ontology.errors import ValidationFailed
from simulation import Scenario, compare, run_simulation
from tests.simulation.builders import InProcessExecutor, chain, relate, twin


def _line() -> nx.MultiDiGraph:
    g = nx.MultiDiGraph()
    twin(g, "S", "Source", interarrivalTimeMean=60.0)
    twin(g, "M1", "Machine", cycleTimeMean=50.0)
    twin(g, "B1", "Buffer", capacity=5)
    twin(g, "M2", "Machine", cycleTimeMean=50.0)
    twin(g, "K", "Sink")
    chain(g, "S", "M1", "B1", "M2", "K")
    return g


def _fails(
    executor: InProcessExecutor, graph: nx.MultiDiGraph, model: str = "flow", **kwargs: Any
) -> ValidationFailed:
    parameters = kwargs.pop("parameters", {"horizonS": 1000.0})
    with pytest.raises(ValidationFailed) as caught:
        run_simulation(model, graph, parameters, kwargs.pop("scenario", None), 2, 1, executor)
    assert executor.items == 0, "no replication may run on bad input"
    return caught.value


def _problem_twins(error: ValidationFailed) -> list[str]:
    return [t for p in error.details["problems"] for t in p["twins"]]


def test_a_subset_without_a_source_is_refused(executor: InProcessExecutor) -> None:
    g = _line()
    g.remove_node("S")
    error = _fails(executor, g)
    assert "no Source" in error.message
    assert error.code == "VALIDATION_FAILED"


def test_a_cycle_of_stations_without_a_buffer_is_refused_naming_its_twins(
    executor: InProcessExecutor,
) -> None:
    g = _line()
    relate(g, "M2", "M1", routingProbability=0.1)
    relate(g, "M2", "K", routingProbability=0.9)
    g.remove_edge("M2", "K", key="feeds:M2:K:0")
    twin(g, "M3", "Machine", cycleTimeMean=10.0)
    chain(g, "M1", "M3")
    g.remove_edge("M1", "B1")
    chain(g, "M3", "M1")
    error = _fails(executor, g)
    assert "has no Buffer" in error.message
    assert {"M1", "M3"} <= set(_problem_twins(error))


def test_a_cycle_through_a_buffer_is_allowed(executor: InProcessExecutor) -> None:
    g = _line()
    g.remove_edge("M2", "K", key="feeds:M2:K:0")
    relate(g, "M2", "K", routingProbability=0.8)
    relate(g, "M2", "B1", routingProbability=0.2)  # rework loop through B1
    result = run_simulation("flow", g, {"horizonS": 100_000.0}, None, 2, 1, executor)
    assert result.summary["metrics"]["partsOut"]["mean"] > 0


def test_a_missing_parameter_names_the_twin_and_the_property(executor: InProcessExecutor) -> None:
    g = _line()
    del g.nodes["M2"]["cycleTimeMean"]
    error = _fails(executor, g)
    assert "'M2' has no cycleTimeMean" in error.message
    assert error.details["problems"][0] == {
        "message": "twin 'M2' has no cycleTimeMean",
        "twins": ["M2"],
        "parameter": "cycleTimeMean",
    }


def test_a_negative_parameter_names_the_twin_and_the_property(executor: InProcessExecutor) -> None:
    g = _line()
    g.nodes["B1"]["capacity"] = -3
    error = _fails(executor, g)
    assert error.details["problems"][0]["twins"] == ["B1"]
    assert error.details["problems"][0]["parameter"] == "capacity"
    assert "capacity is -3" in error.message


def test_every_problem_is_listed_at_once(executor: InProcessExecutor) -> None:
    g = _line()
    g.nodes["B1"]["capacity"] = -3
    g.nodes["M1"]["cycleTimeMean"] = 0
    g.nodes["M2"]["mtbf"] = 5.0
    error = _fails(executor, g)
    parameters = {(p["twins"][0], p.get("parameter")) for p in error.details["problems"]}
    assert parameters >= {("B1", "capacity"), ("M1", "cycleTimeMean"), ("M2", "mttr")}


def test_routing_probabilities_that_do_not_sum_to_one_are_refused(executor: InProcessExecutor) -> None:
    g = _line()
    twin(g, "K2", "Sink")
    g.remove_edge("M2", "K", key="feeds:M2:K:0")
    relate(g, "M2", "K", routingProbability=0.5)
    relate(g, "M2", "K2", routingProbability=0.2)
    error = _fails(executor, g)
    assert error.details["problems"][0]["parameter"] == "routingProbability"
    assert "M2" in error.message


def test_a_subset_of_no_twins_is_refused(executor: InProcessExecutor) -> None:
    error = _fails(executor, nx.MultiDiGraph())
    assert "holds no twins" in error.message


@pytest.mark.parametrize("model", ["flow", "impact", "thermal"])
def test_an_empty_subset_is_refused_by_every_model(executor: InProcessExecutor, model: str) -> None:
    assert "holds no twins" in _fails(executor, nx.MultiDiGraph(), model, parameters={}).message


def test_an_unknown_model_name_is_refused_naming_the_known_ones(executor: InProcessExecutor) -> None:
    error = _fails(executor, _line(), "fluid-dynamics")
    assert "unknown simulation model 'fluid-dynamics'" in error.message
    assert error.details["known"] == ["flow", "fmu", "impact", "thermal"]


def test_a_scenario_naming_a_twin_outside_the_subset_is_refused(executor: InProcessExecutor) -> None:
    scenario = Scenario(overrides={"M9": {"cycleTimeMean": 30.0}}, remove_twins=("X",))
    error = _fails(executor, _line(), scenario=scenario)
    assert error.details["twins"] == ["M9", "X"]
    assert "outside the simulated subgraph: M9, X" in error.message


def test_a_comparison_checks_the_scenario_before_running_the_baseline(executor: InProcessExecutor) -> None:
    scenario = Scenario.model_validate({"addFeeds": [{"source": "M2", "target": "NOPE"}]})
    with pytest.raises(ValidationFailed, match="NOPE"):
        compare("flow", _line(), {"horizonS": 1000.0}, scenario, 2, 1, executor)
    assert executor.items == 0


def test_a_scenario_that_breaks_the_line_is_refused_before_running(executor: InProcessExecutor) -> None:
    scenario = Scenario(overrides={"M1": {"cycleTimeMean": -1.0}})
    with pytest.raises(ValidationFailed, match="M1"):
        compare("flow", _line(), {"horizonS": 1000.0}, scenario, 2, 1, executor)
    assert executor.items == 0


def test_unknown_run_parameters_are_refused_with_a_pointer(executor: InProcessExecutor) -> None:
    error = _fails(executor, _line(), parameters={"horizonS": -5})
    assert error.details["problems"][0]["parameter"] == "/horizonS"
    error = _fails(executor, _line(), parameters={"horizon": 5})
    assert error.details["problems"][0]["parameter"] == "/horizon"


def test_unresolved_telemetry_parameters_are_refused(executor: InProcessExecutor) -> None:
    error = _fails(executor, _line(), parameters={"fromTelemetry": []})
    assert "resolve_parameters" in error.message


def test_a_buffer_feeding_a_station_with_other_suppliers_is_refused(executor: InProcessExecutor) -> None:
    g = _line()
    relate(g, "S", "M2", routingProbability=0.5)
    g.remove_edge("S", "M1")
    relate(g, "S", "M1", routingProbability=0.5)
    error = _fails(executor, g)
    assert "merge the flows in the Buffer" in error.message
    assert set(error.details["problems"][0]["twins"]) == {"M2", "B1", "S"}


def test_a_station_that_feeds_nothing_is_refused(executor: InProcessExecutor) -> None:
    g = _line()
    g.remove_node("K")
    error = _fails(executor, g)
    assert "'M2' feeds nothing" in error.message
