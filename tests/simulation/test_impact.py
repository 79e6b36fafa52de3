"""The impact model: supply semantics over feeds / serves / controls, and availability."""

from __future__ import annotations

import networkx as nx
import pytest

from ontology.errors import ValidationFailed
from simulation import run_simulation
from simulation.models.impact import MODEL, ImpactParameters, supplied
from tests.simulation.builders import InProcessExecutor, relate, twin

PUMP = "dtmi:kgtwin:fluid:Pump;1"
TANK = "dtmi:kgtwin:fluid:Tank;1"
EQUIPMENT = "dtmi:kgtwin:asset:Equipment;1"


def _plant() -> nx.MultiDiGraph:
    """Two redundant pumps fill a tank that feeds a machine controlled by a PLC; an AHU serves a room."""
    g = nx.MultiDiGraph()
    twin(g, "P1", PUMP, mtbf=1000.0, mttr=10.0)
    twin(g, "P2", PUMP, mtbf=1000.0, mttr=10.0)
    twin(g, "T", TANK)
    twin(g, "PLC", EQUIPMENT, mtbf=5000.0, mttr=5.0)
    twin(g, "M", "Machine", cycleTimeMean=1.0)
    relate(g, "P1", "T")
    relate(g, "P2", "T")
    relate(g, "T", "M")
    relate(g, "PLC", "M", "controls")
    return g


def _lost(graph: nx.MultiDiGraph, *failed: str) -> list[str]:
    parameters = ImpactParameters(failed=failed, samples=0)
    plan = MODEL.prepare(graph, parameters)
    return list(MODEL.summarise(plan, [])["lostSupply"])


def test_redundant_suppliers_of_one_relationship_keep_supply_until_all_fail() -> None:
    assert _lost(_plant(), "P1") == []
    assert _lost(_plant(), "P1", "P2") == ["M", "T"]


def test_suppliers_of_different_relationships_are_all_needed() -> None:
    assert _lost(_plant(), "PLC") == ["M"]


def test_a_loop_does_not_keep_itself_supplied_once_its_origin_fails() -> None:
    g = nx.MultiDiGraph()
    for t in ("SRC", "A", "B"):
        twin(g, t, EQUIPMENT)
    relate(g, "SRC", "A")
    relate(g, "A", "B")
    relate(g, "B", "A")  # recirculation
    assert _lost(g, "SRC") == ["A", "B"]
    plan = MODEL.prepare(g, ImpactParameters(samples=0))
    assert supplied(plan, [True, True, True]) == [True, True, True]


def test_criticality_ranks_twins_by_what_they_alone_knock_out() -> None:
    plan = MODEL.prepare(_plant(), ImpactParameters(samples=0))
    ranking = MODEL.summarise(plan, [])["criticality"]
    assert ranking[0] == {"twin": "PLC", "loses": 1, "twins": ["M"]}
    by_twin = {c["twin"]: c["loses"] for c in ranking}
    assert by_twin == {"PLC": 1, "T": 1, "P1": 0, "P2": 0}


def test_monte_carlo_availability_matches_the_analytic_value(executor: InProcessExecutor) -> None:
    parameters = {"horizonS": 20 * 365 * 86400.0, "samples": 0}
    result = run_simulation("impact", _plant(), parameters, None, 10, 4, executor)
    q = 10 / 1010  # a pump's unavailability
    expected = (1 - q * q) * 5000 / 5005
    availability = result.summary["metrics"]["availability"]
    assert abs(availability["mean"] - expected) <= availability["ci95"]
    pump = result.summary["twins"]["P1"]["availability"]
    assert abs(pump["mean"] - (1 - q)) <= pump["ci95"]
    assert result.summary["endConsumers"] == ["M"]


def test_failed_twins_outside_the_subset_are_refused(executor: InProcessExecutor) -> None:
    with pytest.raises(ValidationFailed, match="outside the subgraph: X") as caught:
        run_simulation("impact", _plant(), {"failed": ["X"]}, None, 2, 1, executor)
    assert caught.value.details["problems"][0]["parameter"] == "failed"
    assert executor.items == 0
