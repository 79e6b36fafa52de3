"""What every simulation model gives the runner, and what one replication gives back.

A model turns a validated subgraph into a *plan* (plain, picklable data: the part of the
twin graph it simulates, with every parameter checked), then runs the plan once per
replication with its own random streams. The runner never looks inside a plan; it only
ships it to the executor's workers and aggregates the :class:`Replication` results.
"""

from __future__ import annotations

import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, Protocol, TypeVar

import networkx as nx
import numpy as np
from pydantic import BaseModel

from graph.subgraph import MODEL, RELATIONSHIP_NAME
from ontology.errors import ValidationFailed

P = TypeVar("P")


@dataclass
class Replication:
    """The outcome of one replication: numbers the runner turns into means and intervals.

    ``metrics`` are whole-system values (throughput, mean lead time); ``twin_metrics``
    hold values per twin (a machine's utilisation). ``series`` are sampled at the
    shared ``times`` (seconds of simulated time), keyed by (twin id, series name).
    ``events`` counts the SimPy events ``env.step`` processed; ``wall_s`` and ``cpu_s``
    are the elapsed and processor time the replication took (the runner measures both),
    so events per second can be reported honestly on a busy machine too.
    """

    metrics: dict[str, float]
    twin_metrics: dict[str, dict[str, float]] = field(default_factory=dict)
    times: list[float] = field(default_factory=list)
    series: dict[tuple[str, str], list[float]] = field(default_factory=dict)
    labels: dict[str, str] = field(default_factory=dict)
    events: int = 0
    wall_s: float = 0.0
    cpu_s: float = 0.0


class SimulationModel(Protocol[P]):
    """A simulation model: a parameter schema, a validating planner and one replication."""

    name: ClassVar[str]
    parameters: ClassVar[type[BaseModel]]
    headline: ClassVar[tuple[str, str]]
    """The metric a comparison sentence speaks of, and how to name it ("throughput")."""

    def prepare(self, graph: nx.MultiDiGraph, parameters: BaseModel) -> P:
        """Check the subgraph and parameters and build the plan; ``ValidationFailed`` on bad input."""
        ...

    def twins(self, plan: P) -> list[str]:
        """The twins the plan covers."""
        ...

    def replicate(self, plan: P, seed: np.random.SeedSequence) -> Replication:
        """Run the plan once with the random streams of ``seed``."""
        ...

    def summarise(self, plan: P, replications: Sequence[Replication]) -> dict[str, Any]:
        """Model-specific findings across replications (the bottleneck), merged into the summary."""
        ...


def twin_stream(seed: np.random.SeedSequence, twin: str, purpose: int = 0) -> np.random.Generator:
    """The random stream of one twin in one replication.

    Keyed by the twin id, not by its position, so a scenario that removes or adds twins
    leaves every other twin's stream unchanged: common random numbers stay aligned.
    """
    key = (*seed.spawn_key, zlib.crc32(twin.encode()), purpose)
    return np.random.Generator(np.random.PCG64(np.random.SeedSequence(seed.entropy, spawn_key=key)))


def events_processed(env: Any) -> int:
    """How many events ``env.step`` has popped and processed so far.

    SimPy numbers every scheduled event from one counter (``Environment._eid``); what
    is still queued was scheduled but not processed. Reading the private counter costs
    nothing per event, where counting inside ``step`` would slow every event down.
    """
    scheduled: int = next(env._eid)  # the next id is the number already handed out
    return scheduled - len(env._queue)


def model_of(attributes: Mapping[str, Any]) -> str:
    """The DTDL model id of a twin node."""
    return str(attributes.get(MODEL, ""))


def relationship(attributes: Mapping[str, Any]) -> str:
    """The relationship name of an edge."""
    return str(attributes.get(RELATIONSHIP_NAME, ""))


class Problems:
    """Collects everything wrong with a subgraph, so one error lists all of it."""

    def __init__(self, model: str) -> None:
        self._model = model
        self.items: list[dict[str, Any]] = []

    def add(self, message: str, *, twins: Sequence[str] = (), parameter: str | None = None) -> None:
        """Record one problem, naming the twins and the parameter at fault."""
        item: dict[str, Any] = {"message": message, "twins": list(twins)}
        if parameter is not None:
            item["parameter"] = parameter
        self.items.append(item)

    def raise_if_any(self) -> None:
        """``ValidationFailed`` listing every problem, the first one in the message."""
        if not self.items:
            return
        first = self.items[0]
        more = f" (and {len(self.items) - 1} more problems)" if len(self.items) > 1 else ""
        raise ValidationFailed(
            f"{self._model} model: {first['message']}{more}",
            details={"model": self._model, "problems": self.items},
        )


def number(
    problems: Problems,
    twin: str,
    attributes: Mapping[str, Any],
    name: str,
    *,
    default: float | None = None,
    minimum: float = 0.0,
    strict: bool = False,
) -> float:
    """A non-negative (``strict``: positive) number property, or ``default`` when absent.

    Absent without a default, or out of range, is a problem naming the twin and property;
    the return value is then a harmless placeholder (the caller raises before using it).
    """
    value = attributes.get(name)
    if value is None:
        if default is None:
            problems.add(f"twin {twin!r} has no {name}", twins=[twin], parameter=name)
            return 1.0
        return default
    if isinstance(value, bool) or not isinstance(value, int | float) or value != value:
        problems.add(f"twin {twin!r}: {name} must be a number, not {value!r}", twins=[twin], parameter=name)
        return 1.0
    if value < minimum or (strict and value <= minimum):
        bound = "greater than" if strict else "at least"
        problems.add(
            f"twin {twin!r}: {name} is {value}, must be {bound} {minimum}", twins=[twin], parameter=name
        )
        return 1.0
    return float(value)
