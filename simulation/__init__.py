"""Simulation: SimPy models built from subgraphs of the twin graph, run by executors.

Public surface: the ``Executor`` port (the local executor lives in ``simulation.local``);
``run_simulation`` and ``compare`` with their results; ``Scenario``; the model registry;
runs as jobs (``RunStore``, ``SimulationRun``) and the ``Worker`` that runs them
(the Dask executor lives in ``simulation.dask``).
"""

from simulation.executor import Executor
from simulation.jobs import RunEvents, RunPage, RunStatus, RunStore, SimulationRun
from simulation.models import available_models, get_model
from simulation.runner import (
    ComparisonResult,
    ResultSeries,
    SimulationCancelled,
    SimulationResult,
    compare,
    run_simulation,
)
from simulation.scenario import AddFeeds, Scenario
from simulation.worker import RunContext, RunOutcome, Worker

__all__ = [
    "AddFeeds",
    "ComparisonResult",
    "Executor",
    "ResultSeries",
    "RunContext",
    "RunEvents",
    "RunOutcome",
    "RunPage",
    "RunStatus",
    "RunStore",
    "Scenario",
    "SimulationCancelled",
    "SimulationResult",
    "SimulationRun",
    "Worker",
    "available_models",
    "compare",
    "get_model",
    "run_simulation",
]
