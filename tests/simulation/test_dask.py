"""The Dask executor on a real ``LocalCluster`` of two worker processes.

The same seed must give the same result whichever executor ran the replications: this
process, the local process pool, or the cluster.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator

import networkx as nx
import pytest

from ontology.errors import BackendUnavailable
from simulation.dask import DaskExecutor
from simulation.local import LocalExecutor
from simulation.runner import run_simulation
from tests.simulation.builders import InProcessExecutor, chain, twin

PARAMETERS = {"horizonS": 50_000.0, "warmupS": 1_000.0, "samples": 20}


@pytest.fixture(scope="module")
def dask_executor() -> Iterator[DaskExecutor]:
    executor = DaskExecutor(None, local_workers=2)
    try:
        yield executor
    finally:
        executor.close()


def line() -> nx.MultiDiGraph:
    """Source -> buffer -> machine -> buffer -> machine -> sink, with failures."""
    g = nx.MultiDiGraph()
    twin(g, "S", "Source", interarrivalTimeMean=60.0, interarrivalTimeDistribution="exponential")
    twin(g, "B1", "Buffer", capacity=5)
    twin(g, "M1", "Machine", cycleTimeMean=45.0, cycleTimeDistribution="exponential", mtbf=8.0, mttr=0.5)
    twin(g, "B2", "Buffer", capacity=3)
    twin(g, "M2", "Machine", cycleTimeMean=50.0, cycleTimeDistribution="exponential")
    twin(g, "K", "Sink")
    chain(g, "S", "B1", "M1", "B2", "M2", "K")
    return g


def pid_after(delay_s: float) -> int:
    time.sleep(delay_s)
    return os.getpid()


def test_the_cluster_runs_work_in_two_other_processes(dask_executor: DaskExecutor) -> None:
    assert dask_executor.workers == 2
    pids = dask_executor.map(pid_after, [0.2] * 8)
    assert len(set(pids)) == 2
    assert os.getpid() not in pids


def test_results_keep_the_order_of_the_items(dask_executor: DaskExecutor) -> None:
    assert dask_executor.map(abs, list(range(-50, 0))) == list(range(50, 0, -1))


def test_same_seed_same_result_on_every_executor(dask_executor: DaskExecutor) -> None:
    graph = line()
    expected = run_simulation("flow", graph, PARAMETERS, None, 6, 42, InProcessExecutor())
    pool = LocalExecutor(2)
    try:
        local = run_simulation("flow", graph, PARAMETERS, None, 6, 42, pool)
    finally:
        pool.close()
    on_dask = run_simulation("flow", graph, PARAMETERS, None, 6, 42, dask_executor)
    for result in (local, on_dask):
        assert result.summary == expected.summary
        assert result.series == expected.series
        assert result.twins == expected.twins
    other_seed = run_simulation("flow", graph, PARAMETERS, None, 6, 43, dask_executor)
    assert other_seed.summary != expected.summary


def test_an_unreachable_scheduler_is_a_clear_error() -> None:
    with pytest.raises(BackendUnavailable, match=r"127\.0\.0\.1:9"):
        DaskExecutor("tcp://127.0.0.1:9", timeout_s=1)
