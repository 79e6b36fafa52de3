"""The flow model against queueing theory: where the answer is known, the simulation finds it.

Each analytic value must lie in the 95% confidence interval over replications. The
seeds are fixed, so the tests are deterministic; long horizons and a warm-up keep the
intervals tight enough that a wrong model would fall outside them.
"""

from __future__ import annotations

import networkx as nx

from simulation import run_simulation
from simulation.stats import Estimate
from tests.simulation.builders import InProcessExecutor, chain, twin

RUN = {"horizonS": 2_000_000.0, "warmupS": 100_000.0, "samples": 0}


def _estimate(data: dict[str, float]) -> Estimate:
    return Estimate(data["mean"], data["ci95"], int(data["n"]))


def test_mm1_throughput_lead_time_and_utilisation_match_theory(executor: InProcessExecutor) -> None:
    lam, mu = 1 / 60, 1 / 48  # rho = 0.8
    g = nx.MultiDiGraph()
    twin(g, "S", "Source", interarrivalTimeMean=1 / lam, interarrivalTimeDistribution="exponential")
    twin(g, "Q", "Buffer", capacity=10**9)
    twin(g, "M", "Machine", cycleTimeMean=1 / mu, cycleTimeDistribution="exponential")
    twin(g, "K", "Sink")
    chain(g, "S", "Q", "M", "K")
    result = run_simulation("flow", g, RUN, None, 12, 11, executor)
    metrics = result.summary["metrics"]
    assert _estimate(metrics["throughputPerHour"]).contains(lam * 3600)
    assert _estimate(metrics["leadTimeMean"]).contains(1 / (mu - lam))  # W = 240 s
    assert _estimate(metrics["wip"]).contains(lam / (mu - lam))  # L = 4
    assert _estimate(result.summary["twins"]["M"]["utilisation"]).contains(lam / mu)


def test_md1_waiting_time_matches_pollaczek_khinchine(executor: InProcessExecutor) -> None:
    lam, service = 1 / 60, 45.0  # rho = 0.75, constant service
    rho = lam * service
    g = nx.MultiDiGraph()
    twin(g, "S", "Source", interarrivalTimeMean=1 / lam)
    twin(g, "Q", "Buffer", capacity=10**9)
    twin(g, "M", "Machine", cycleTimeMean=service, cycleTimeDistribution="constant")
    twin(g, "K", "Sink")
    chain(g, "S", "Q", "M", "K")
    result = run_simulation("flow", g, RUN, None, 12, 5, executor)
    waiting = rho * service / (2 * (1 - rho))  # Pollaczek-Khinchine for M/D/1: 67.5 s
    lead = _estimate(result.summary["metrics"]["leadTimeMean"])
    assert Estimate(lead.mean - service, lead.ci95, lead.n).contains(waiting)


def test_tandem_jackson_line_matches_theory(executor: InProcessExecutor) -> None:
    lam, mu1, mu2 = 1 / 60, 1 / 40, 1 / 50
    g = nx.MultiDiGraph()
    twin(g, "S", "Source", interarrivalTimeMean=1 / lam)
    twin(g, "Q1", "Buffer", capacity=10**9)
    twin(g, "M1", "Machine", cycleTimeMean=1 / mu1, cycleTimeDistribution="exponential")
    twin(g, "Q2", "Buffer", capacity=10**9)
    twin(g, "M2", "Machine", cycleTimeMean=1 / mu2, cycleTimeDistribution="exponential")
    twin(g, "K", "Sink")
    chain(g, "S", "Q1", "M1", "Q2", "M2", "K")
    result = run_simulation("flow", g, RUN, None, 12, 3, executor)
    metrics = result.summary["metrics"]
    lead = 1 / (mu1 - lam) + 1 / (mu2 - lam)  # 120 + 300 = 420 s
    assert _estimate(metrics["throughputPerHour"]).contains(lam * 3600)
    assert _estimate(metrics["leadTimeMean"]).contains(lead)
    assert _estimate(metrics["wip"]).contains(lam * lead)
    assert _estimate(result.summary["twins"]["M2"]["utilisation"]).contains(lam / mu2)


def test_mmc_machine_with_three_slots_matches_erlang_c(executor: InProcessExecutor) -> None:
    lam, mu, c = 1 / 20, 1 / 50, 3  # offered load a = 2.5, rho = 5/6
    a = lam / mu
    rho = a / c
    terms = sum(a**k / _factorial(k) for k in range(c))
    tail = a**c / _factorial(c) / (1 - rho)
    wait_probability = tail / (terms + tail)
    waiting = wait_probability / (c * mu - lam)
    g = nx.MultiDiGraph()
    twin(g, "S", "Source", interarrivalTimeMean=1 / lam)
    twin(g, "Q", "Buffer", capacity=10**9)
    twin(g, "M", "Machine", cycleTimeMean=1 / mu, cycleTimeDistribution="exponential", capacity=c)
    twin(g, "K", "Sink")
    chain(g, "S", "Q", "M", "K")
    result = run_simulation("flow", g, RUN, None, 12, 2, executor)
    assert _estimate(result.summary["metrics"]["leadTimeMean"]).contains(waiting + 1 / mu)
    assert _estimate(result.summary["twins"]["M"]["utilisation"]).contains(rho)


def _factorial(n: int) -> int:
    out = 1
    for k in range(2, n + 1):
        out *= k
    return out
