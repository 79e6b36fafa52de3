"""Property-based: any subgraph is either refused with ValidationFailed or simulates cleanly."""

from __future__ import annotations

import networkx as nx
import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ontology.errors import ValidationFailed
from simulation.models.flow import MODEL, FlowParameters
from tests.simulation.builders import relate, twin

ROLES = ("Source", "Machine", "Buffer", "Conveyor", "Sink", "dtmi:kgtwin:space:Room;1")
VALUES = st.one_of(st.none(), st.integers(-2, 5), st.floats(-1.0, 100.0), st.sampled_from(["x", "normal"]))
PROPERTIES = (
    "interarrivalTimeMean",
    "cycleTimeMean",
    "cycleTimeDistribution",
    "cycleTimeStdDev",
    "capacity",
    "length",
    "speed",
    "mtbf",
    "mttr",
    "scrapRate",
)


@st.composite
def subgraphs(draw: st.DrawFn) -> nx.MultiDiGraph:
    g = nx.MultiDiGraph()
    n = draw(st.integers(1, 6))
    for i in range(n):
        properties = {p: v for p in PROPERTIES if (v := draw(VALUES)) is not None}
        twin(g, f"T{i}", draw(st.sampled_from(ROLES)), **properties)
    for _ in range(draw(st.integers(0, 9))):
        a, b = draw(st.integers(0, n - 1)), draw(st.integers(0, n - 1))
        probability = draw(st.one_of(st.none(), st.floats(-0.5, 1.5)))
        extra = {} if probability is None else {"routingProbability": probability}
        relate(g, f"T{a}", f"T{b}", draw(st.sampled_from(["feeds", "feeds", "serves"])), **extra)
    return g


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(subgraphs())
def test_a_subgraph_is_refused_cleanly_or_simulated(graph: nx.MultiDiGraph) -> None:
    parameters = FlowParameters(horizon_s=2000.0, samples=5)
    try:
        plan = MODEL.prepare(graph, parameters)
    except ValidationFailed as error:
        problems = error.details["problems"]
        plan = None
    if plan is None:
        assert problems
        assert all(p["message"] for p in problems)
        return
    outcome = MODEL.replicate(plan, np.random.SeedSequence(0))
    assert outcome.events > 0
    assert outcome.metrics["throughputPerHour"] >= 0
