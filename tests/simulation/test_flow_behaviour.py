"""The flow model's behaviour: blocking, starving, routing, merging, failures, scrap, conveyors."""

from __future__ import annotations

import networkx as nx
import numpy as np
import pytest

from simulation import Scenario, compare, run_simulation
from simulation.local import LocalExecutor
from tests.simulation.builders import InProcessExecutor, chain, relate, twin

RUN = {"horizonS": 400_000.0, "warmupS": 20_000.0, "samples": 20}


def _line(buffer_capacity: int = 2) -> nx.MultiDiGraph:
    """A fast machine, a small buffer, then a slow one: the fast one blocks, the slow one limits."""
    g = nx.MultiDiGraph()
    twin(g, "S", "Source", interarrivalTimeMean=30.0, interarrivalTimeDistribution="constant")
    twin(g, "Q0", "Buffer", capacity=1000)
    twin(g, "FAST", "Machine", cycleTimeMean=40.0, cycleTimeDistribution="exponential")
    twin(g, "B2", "Buffer", capacity=buffer_capacity)
    twin(g, "SLOW", "Machine", cycleTimeMean=45.0, cycleTimeDistribution="exponential")
    twin(g, "K", "Sink")
    chain(g, "S", "Q0", "FAST", "B2", "SLOW", "K")
    return g


def test_blocking_and_starving_are_measured_and_the_bottleneck_named(executor: InProcessExecutor) -> None:
    result = run_simulation("flow", _line(), RUN, None, 5, 1, executor)
    twins = result.summary["twins"]
    assert twins["FAST"]["blocked"]["mean"] > 0.05
    assert twins["SLOW"]["starved"]["mean"] > 0.05
    assert twins["SLOW"]["blocked"]["mean"] == 0
    for machine in ("FAST", "SLOW"):
        shares = sum(twins[machine][k]["mean"] for k in ("utilisation", "blocked", "starved", "down"))
        assert shares == pytest.approx(1.0, abs=1e-6)
    assert result.summary["bottleneck"]["twin"] == "SLOW"
    # The slow machine limits the line below its capacity of 80 parts/h.
    assert result.summary["metrics"]["throughputPerHour"]["mean"] < 80


def test_doubling_a_buffer_raises_throughput_in_a_paired_comparison(executor: InProcessExecutor) -> None:
    scenario = Scenario(name="b2x2", description="doubling buffer B2", overrides={"B2": {"capacity": 4}})
    result = compare("flow", _line(), RUN, scenario, 8, 3, executor)
    throughput = result.summary["metrics"]["throughputPerHour"]
    assert throughput["difference"]["mean"] > 0
    assert throughput["difference"]["ci95"] < throughput["difference"]["mean"]
    assert result.summary["sentence"].startswith("doubling buffer B2 raises throughput by ")
    assert "% +/- " in result.summary["sentence"]
    # Common random numbers: the paired interval is narrower than either run's own.
    assert throughput["difference"]["ci95"] < throughput["baseline"]["ci95"]
    assert result.scenario.summary["scenario"] == "b2x2"


def test_routing_probabilities_split_the_parts(executor: InProcessExecutor) -> None:
    g = nx.MultiDiGraph()
    twin(g, "S", "Source", interarrivalTimeMean=10.0)
    twin(g, "M", "Machine", cycleTimeMean=1.0)
    twin(g, "K1", "Sink")
    twin(g, "K2", "Sink")
    twin(g, "K3", "Sink")
    chain(g, "S", "M")
    relate(g, "M", "K1", routingProbability=0.2)
    relate(g, "M", "K2")  # the two absent values share the remaining 0.8
    relate(g, "M", "K3")
    result = run_simulation("flow", g, RUN, None, 4, 1, executor)
    received = {k: result.summary["twins"][k]["partsReceived"]["mean"] for k in ("K1", "K2", "K3")}
    total = sum(received.values())
    assert received["K1"] / total == pytest.approx(0.2, abs=0.01)
    assert received["K2"] / total == pytest.approx(0.4, abs=0.01)


def test_two_lines_merge_in_a_buffer_and_at_a_station(executor: InProcessExecutor) -> None:
    g = nx.MultiDiGraph()
    for n in ("1", "2"):
        twin(g, f"S{n}", "Source", interarrivalTimeMean=100.0)
        twin(g, f"M{n}", "Machine", cycleTimeMean=20.0)
        chain(g, f"S{n}", f"M{n}", "B")
    twin(g, "B", "Buffer", capacity=10)
    twin(g, "A", "Machine", cycleTimeMean=20.0)
    twin(g, "C", "Machine", cycleTimeMean=20.0)
    twin(g, "D", "Machine", cycleTimeMean=5.0)
    twin(g, "K", "Sink")
    chain(g, "B", "A", "D", "K")
    relate(g, "S2", "C")
    chain(g, "C", "D")
    result = run_simulation("flow", g, RUN, None, 3, 1, executor)
    # Two sources at 36 parts/h each; S2 splits its parts between M2 and C. All of it leaves,
    # through the merge in B (A) and the merge at D (A and C).
    twins = result.summary["twins"]
    assert result.summary["metrics"]["throughputPerHour"]["mean"] == pytest.approx(72, rel=0.05)
    assert twins["C"]["partsProcessed"]["mean"] == pytest.approx(
        twins["M2"]["partsProcessed"]["mean"], rel=0.1
    )
    assert twins["D"]["partsProcessed"]["mean"] == pytest.approx(
        twins["A"]["partsProcessed"]["mean"] + twins["C"]["partsProcessed"]["mean"], abs=3
    )


def test_failures_take_the_share_mttr_over_mtbf_of_working_time(executor: InProcessExecutor) -> None:
    g = nx.MultiDiGraph()
    twin(g, "S", "Source", interarrivalTimeMean=1.0, interarrivalTimeDistribution="constant")
    twin(g, "Q", "Buffer", capacity=5)
    twin(g, "M", "Machine", cycleTimeMean=60.0, mtbf=2.0, mttr=0.5)
    twin(g, "K", "Sink")
    chain(g, "S", "Q", "M", "K")
    result = run_simulation("flow", g, {"horizonS": 3_000_000.0, "samples": 0}, None, 5, 2, executor)
    m = result.summary["twins"]["M"]
    assert m["utilisation"]["mean"] + m["down"]["mean"] == pytest.approx(1.0, abs=1e-3)
    assert m["down"]["mean"] / m["utilisation"]["mean"] == pytest.approx(0.25, rel=0.1)


def test_scrap_removes_parts_from_the_flow(executor: InProcessExecutor) -> None:
    g = nx.MultiDiGraph()
    twin(g, "S", "Source", interarrivalTimeMean=10.0)
    twin(g, "M", "Machine", cycleTimeMean=1.0, scrapRate=0.1)
    twin(g, "K", "Sink")
    chain(g, "S", "M", "K")
    metrics = run_simulation("flow", g, RUN, None, 3, 1, executor).summary["metrics"]
    share = metrics["scrapped"]["mean"] / (metrics["scrapped"]["mean"] + metrics["partsOut"]["mean"])
    assert share == pytest.approx(0.1, abs=0.01)


def test_a_conveyor_delays_by_length_over_speed(executor: InProcessExecutor) -> None:
    g = nx.MultiDiGraph()
    twin(g, "S", "Source", interarrivalTimeMean=10.0, interarrivalTimeDistribution="constant")
    twin(g, "C", "Conveyor", length=30.0, speed=0.5, capacity=10)
    twin(g, "K", "Sink")
    chain(g, "S", "C", "K")
    metrics = run_simulation("flow", g, RUN, None, 2, 1, executor).summary["metrics"]
    assert metrics["leadTimeMean"]["mean"] == pytest.approx(60.0)
    assert metrics["throughputPerHour"]["mean"] == pytest.approx(360.0, rel=0.001)


def test_buffer_levels_are_sampled_series(executor: InProcessExecutor) -> None:
    result = run_simulation("flow", _line(), RUN, None, 2, 1, executor)
    series = {(s.twin, s.name): s for s in result.series}
    assert set(series) == {("Q0", "level"), ("B2", "level")}
    points = series[("B2", "level")].points
    assert len(points) == 20
    assert points[-1][0] == pytest.approx(RUN["horizonS"])
    assert all(0 <= level <= 2 for _, level in points)
    assert result.twins == ["B2", "FAST", "K", "Q0", "S", "SLOW"]


def test_same_seed_same_result_whichever_executor_runs_it(executor: InProcessExecutor) -> None:
    here = run_simulation("flow", _line(), RUN, None, 4, 9, executor)
    pool = LocalExecutor(2)
    try:
        there = run_simulation("flow", _line(), RUN, None, 4, 9, pool)
    finally:
        pool.close()
    assert there.to_dict() == here.to_dict()
    other = run_simulation("flow", _line(), RUN, None, 4, 10, executor)
    assert other.summary["metrics"] != here.summary["metrics"]


def test_progress_is_reported_and_a_cancelled_run_stops(executor: InProcessExecutor) -> None:
    from simulation import SimulationCancelled

    seen: list[float] = []
    run_simulation("flow", _line(), RUN, None, 3, 1, executor, progress=seen.append)
    assert seen[0] == 0.0
    assert seen[-1] == 1.0
    assert seen == sorted(seen)
    with pytest.raises(SimulationCancelled):
        run_simulation("flow", _line(), RUN, None, 3, 1, executor, cancelled=lambda: len(seen) > 0)


def test_events_are_the_simpy_events_step_processed() -> None:
    from simulation.models.flow import MODEL, FlowParameters

    g = nx.MultiDiGraph()
    twin(g, "S", "Source", interarrivalTimeMean=10.0, interarrivalTimeDistribution="constant")
    twin(g, "M", "Machine", cycleTimeMean=5.0)
    twin(g, "K", "Sink")
    chain(g, "S", "M", "K")
    outcome = MODEL.replicate(MODEL.prepare(g, FlowParameters(horizon_s=100.0, samples=0)), _seed())
    # Two process starts, nine arrivals (t = 10..90), per part the starved slot's wake-up and
    # its cycle, and the event that ends the run at t = 100: 2 + 9 + 2 * 9 + 1.
    assert outcome.events == 30


def _seed() -> np.random.SeedSequence:
    return np.random.SeedSequence(0)
