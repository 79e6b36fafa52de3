"""The co-simulation master: FMU instances of many twins stepped together at a fixed step.

**Coupling order.** Every macro step ``t_k -> t_k + h`` steps the instances one after the
other in a fixed order: the topological order of the couplings (an instance whose input is
another's output comes after it), ties and the members of a cycle by twin id. Before its
step an instance gets its inputs: series values at ``t_k`` and, for a coupled input, the
source's current output, which is the value at ``t_k + h`` when the source stepped earlier
in this macro step and the value at ``t_k`` when it comes later (the back edge of a
cycle). This is **Gauss-Seidel** along the bindings, with a one-step lag on the edges
that close a cycle (Jacobi there). Inputs are held constant over a step (zero-order hold;
FMI co-simulation communicates at the communication points only).

Outputs are read after each step; a recorded output is sampled at ``t_0`` and every
``record_every`` steps, and its mean, minimum, maximum and final value are taken over
every step.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import networkx as nx

from simulation.fmu.archive import FmuDescription
from simulation.fmu.bindings import Distribution
from simulation.fmu.instance import FmuInstance, unpacked

Combine = Callable[[Sequence[float]], float]
_COMBINE: dict[str, Combine] = {
    "sum": math.fsum,
    "mean": lambda v: math.fsum(v) / len(v),
    "min": min,
    "max": max,
}


@dataclass(frozen=True)
class Component:
    """One FMU taking part in a run: its file, description and the outputs it records."""

    fmu: str
    sha256: str
    path: str
    description: FmuDescription
    outputs: tuple[str, ...]


@dataclass(frozen=True)
class Coupling:
    """An input fed by outputs of other units (indexes into the run's units), combined."""

    variable: str
    sources: tuple[tuple[int, str], ...]
    combine: str = "sum"
    default: float | None = None


@dataclass(frozen=True)
class Unit:
    """One FMU instance for one twin: what it is set to at start, and what feeds it each step.

    ``fixed`` values are set at initialisation; ``draws`` are drawn per replication and set
    at initialisation too; ``series`` give an input's value at each step's start.
    """

    twin: str
    component: int
    fixed: tuple[tuple[str, Any], ...] = ()
    draws: tuple[tuple[str, Distribution], ...] = ()
    series: tuple[tuple[str, tuple[float, ...]], ...] = ()
    couplings: tuple[Coupling, ...] = ()


@dataclass(frozen=True)
class CoSimulation:
    """Everything one replication steps, in stepping order (see the module docstring)."""

    components: tuple[Component, ...]
    units: tuple[Unit, ...]
    step: float
    steps: int
    record_every: int = 1
    """Record outputs every this many steps (0: never)."""


@dataclass
class Trajectory:
    """What one replication produced: sampled outputs and their statistics per (twin, output)."""

    times: list[float] = field(default_factory=list)
    samples: dict[tuple[str, str], list[float]] = field(default_factory=dict)
    stats: dict[tuple[str, str], dict[str, float]] = field(default_factory=dict)
    steps: int = 0


def stepping_order(twins: Sequence[str], edges: Sequence[tuple[int, int]]) -> list[int]:
    """Unit indexes in stepping order: sources before the units they feed; cycles by twin id."""
    graph = nx.DiGraph()
    graph.add_nodes_from(range(len(twins)))
    graph.add_edges_from(edges)
    condensed = nx.condensation(graph)
    order: list[int] = []

    def key(c: int) -> tuple[str, int]:
        return min((twins[u], u) for u in condensed.nodes[c]["members"])

    for component in nx.lexicographical_topological_sort(condensed, key=key):
        order.extend(sorted(condensed.nodes[component]["members"], key=lambda u: (twins[u], u)))
    return order


def run(cosim: CoSimulation, draw: Callable[[Unit, str, Distribution], float]) -> Trajectory:
    """Step every unit from 0 to ``steps * step`` seconds; ``draw`` answers the distributions."""
    folders = [unpacked(Path(c.path), c.sha256, c.description) for c in cosim.components]
    instances: list[FmuInstance] = []
    try:
        for unit in cosim.units:
            component = cosim.components[unit.component]
            instances.append(FmuInstance(component.description, folders[unit.component], unit.twin))
        return _step_all(cosim, instances, draw)
    finally:
        for instance in instances:
            instance.close()


def _step_all(
    cosim: CoSimulation, instances: list[FmuInstance], draw: Callable[[Unit, str, Distribution], float]
) -> Trajectory:
    units, h = cosim.units, cosim.step
    inputs, outputs, recorded, wanted = [], [], [], []
    for unit, instance in zip(units, instances, strict=True):
        description = cosim.components[unit.component].description
        variable = description.variable
        start = [(variable(n), v) for n, v in unit.fixed]
        start += [(variable(n), draw(unit, n, d)) for n, d in unit.draws]
        start += [(variable(n), values[0]) for n, values in unit.series if values]
        instance.start(0.0, [(v, value) for v, value in start if v is not None])
        fed = [variable(n) for n, _ in unit.series] + [variable(c.variable) for c in unit.couplings]
        inputs.append(instance.real_port([v for v in fed if v is not None]))
        names = list(cosim.components[unit.component].outputs)
        coupled = {name for other in units for c in other.couplings for u, name in c.sources}
        read = list(dict.fromkeys([*names, *sorted(coupled & {v.name for v in description.outputs})]))
        outputs.append(instance.real_port([variable(n) for n in read if variable(n) is not None]))  # type: ignore[misc]
        recorded.append(read)
        wanted.append(len(names))
    current = [port.get() for port in outputs]
    index = [{name: i for i, name in enumerate(read)} for read in recorded]
    feeds = [
        [
            (
                [(source, index[source][name]) for source, name in c.sources],
                _COMBINE[c.combine],
                c.default,
            )
            for c in unit.couplings
        ]
        for unit in units
    ]
    series = [[values for _, values in unit.series] for unit in units]
    trajectory = Trajectory()
    every = cosim.record_every
    sums = [list(values[: wanted[u]]) for u, values in enumerate(current)]
    lows = [list(values[: wanted[u]]) for u, values in enumerate(current)]
    highs = [list(values[: wanted[u]]) for u, values in enumerate(current)]
    samples: list[list[list[float]]] = [
        [[v] for v in values[: wanted[u]]] for u, values in enumerate(current)
    ]
    if every:
        trajectory.times.append(0.0)
    else:
        samples = [[[] for _ in values[: wanted[u]]] for u, values in enumerate(current)]
    for k in range(cosim.steps):
        for u, instance in enumerate(instances):
            feeding = feeds[u]
            if series[u] or feeding:
                given = [values[k] for values in series[u]]
                for sources, combine, default in feeding:
                    found = [current[s][i] for s, i in sources]
                    given.append(combine(found) if found else (default or 0.0))
                inputs[u].set(given)
            instance.step(h)
            values = outputs[u].get()
            current[u] = values
            n = wanted[u]
            if n:
                total, low, high = sums[u], lows[u], highs[u]
                for i in range(n):
                    v = values[i]
                    total[i] += v
                    if v < low[i]:
                        low[i] = v
                    elif v > high[i]:
                        high[i] = v
                if every and (k + 1) % every == 0:
                    for i in range(n):
                        samples[u][i].append(values[i])
        if every and (k + 1) % every == 0:
            trajectory.times.append((k + 1) * h)
    count = cosim.steps + 1
    for u, unit in enumerate(units):
        for i, name in enumerate(recorded[u][: wanted[u]]):
            key = (unit.twin, name)
            trajectory.samples[key] = samples[u][i]
            trajectory.stats[key] = {
                "final": current[u][i],
                "mean": sums[u][i] / count,
                "min": lows[u][i],
                "max": highs[u][i],
            }
    trajectory.steps = cosim.steps * len(units)
    return trajectory
