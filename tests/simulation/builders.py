"""Subgraphs built by hand for the simulation tests, and an executor in this process."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from itertools import pairwise
from typing import Any, TypeVar

import networkx as nx

from graph.subgraph import MODEL, RELATIONSHIP_NAME

T = TypeVar("T")
R = TypeVar("R")
P = "dtmi:kgtwin:production:"


class InProcessExecutor:
    """The ``Executor`` port run in this process; counts the replications it was given."""

    workers = 1

    def __init__(self) -> None:
        self.calls = 0
        self.items = 0

    def map(self, fn: Callable[[T], R], items: Sequence[T]) -> list[R]:
        self.calls += 1
        self.items += len(items)
        return [fn(item) for item in items]

    def close(self) -> None:
        pass


def twin(graph: nx.MultiDiGraph, twin_id: str, model: str, **properties: Any) -> None:
    """Add a twin of ``model`` (a short production name like ``Machine``, or a full DTMI)."""
    dtmi = model if model.startswith("dtmi:") else f"{P}{model};1"
    graph.add_node(twin_id, **{MODEL: dtmi, **properties})


def relate(graph: nx.MultiDiGraph, source: str, target: str, name: str = "feeds", **properties: Any) -> None:
    """Add a relationship ``name`` from ``source`` to ``target``."""
    key = f"{name}:{source}:{target}:{graph.number_of_edges(source, target)}"
    graph.add_edge(source, target, key=key, **{RELATIONSHIP_NAME: name, **properties})


def chain(graph: nx.MultiDiGraph, *twins: str) -> None:
    """``feeds`` along ``twins`` in order."""
    for a, b in pairwise(twins):
        relate(graph, a, b)
