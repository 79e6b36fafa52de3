"""Scenarios edit the simulation's copy of the subgraph, never the original."""

from __future__ import annotations

import networkx as nx

from graph.subgraph import RELATIONSHIP_NAME
from simulation.scenario import Scenario
from tests.simulation.builders import chain, twin


def _graph() -> nx.MultiDiGraph:
    g = nx.MultiDiGraph()
    twin(g, "S", "Source", interarrivalTimeMean=60.0)
    twin(g, "M", "Machine", cycleTimeMean=50.0, scrapRate=0.1)
    twin(g, "K", "Sink")
    twin(g, "K2", "Sink")
    chain(g, "S", "M", "K")
    return g


def test_overrides_and_topology_edits_apply_to_a_copy() -> None:
    g = _graph()
    scenario = Scenario.model_validate(
        {
            "overrides": {"M": {"cycleTimeMean": 25.0, "scrapRate": None}},
            "removeRelationships": ["feeds:M:K:0"],
            "addFeeds": [{"source": "M", "target": "K2", "routingProbability": 1.0}],
        }
    )
    edited = scenario.apply(g)
    assert edited.nodes["M"]["cycleTimeMean"] == 25.0
    assert "scrapRate" not in edited.nodes["M"]
    assert not edited.has_edge("M", "K")
    assert [a[RELATIONSHIP_NAME] for _, _, a in edited.out_edges("M", data=True)] == ["feeds"]
    assert g.nodes["M"]["cycleTimeMean"] == 50.0
    assert g.has_edge("M", "K")
    assert not g.has_edge("M", "K2")


def test_removing_a_twin_removes_its_relationships() -> None:
    edited = Scenario(remove_twins=("K",)).apply(_graph())
    assert "K" not in edited
    assert edited.out_degree("M") == 0


def test_the_description_is_made_from_the_edits_when_absent() -> None:
    scenario = Scenario(overrides={"B2": {"capacity": 20}}, remove_twins=("M3",))
    assert scenario.describe() == "setting B2 capacity to 20, removing M3"
    assert Scenario(description="doubling buffer B2").describe() == "doubling buffer B2"
