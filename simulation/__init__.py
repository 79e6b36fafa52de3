"""Simulation: SimPy models built from subgraphs of the twin graph, run by executors.

Public surface: the ``Executor`` port. The local executor lives in ``simulation.local``.
"""

from simulation.executor import Executor

__all__ = ["Executor"]
