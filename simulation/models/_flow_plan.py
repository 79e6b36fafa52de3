"""From a subgraph to a checked flow plan: who feeds whom, with which parameters.

Every rule a line must satisfy is checked here, before any replication, and every
violation is reported at once, naming its twins and properties:

- at least one Source; every Source, Machine, Conveyor and Buffer feeds something;
- required properties present and in range (Machine ``cycleTimeMean`` > 0, Buffer
  ``capacity`` >= 0, Conveyor ``length`` and ``speed`` > 0, ``mtbf`` with ``mttr``...);
- the routing probabilities leaving a twin sum to 1 (absent ones share the rest);
- a Buffer feeds only Machines and Conveyors that take from it alone (parts merge
  *in* a Buffer, or at a station fed directly by several stations);
- every cycle of ``feeds`` passes through a Buffer (a loop of stations alone can
  deadlock with every slot blocked).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import networkx as nx

from simulation.models._base import Problems, model_of, number, relationship
from simulation.models._distributions import KINDS, Duration

_HOUR = 3600.0


@dataclass(frozen=True)
class Station:
    """A Source, Machine or Conveyor: ``slots`` parallel processes and where their parts go.

    ``input`` is the Buffer the station takes from, or ``None`` when upstream stations
    hand parts to it directly. ``time`` is the interarrival time of a Source and the
    cycle (or transport) time of the others; ``mtbf``/``mttr`` are in seconds.
    """

    id: str
    kind: str
    slots: int
    time: Duration
    targets: tuple[str, ...]
    cumulative: list[float]
    input: str | None = None
    mtbf: float | None = None
    mttr: float | None = None
    scrap: float = 0.0
    batch: int = 1


@dataclass(frozen=True)
class Buffer:
    """A Buffer: a FIFO store of ``capacity`` parts, ``initial`` of them there at time 0."""

    id: str
    capacity: int
    initial: int


@dataclass(frozen=True)
class FlowPlan:
    """A checked line, ready to replicate: plain data, cheap to send to a worker."""

    stations: tuple[Station, ...]
    buffers: tuple[Buffer, ...]
    sinks: tuple[str, ...]
    horizon: float
    warmup: float
    samples: int
    ignored: tuple[str, ...] = ()
    buffer_ids: frozenset[str] = field(default_factory=frozenset)

    @property
    def twins(self) -> list[str]:
        """The flow twins, sorted."""
        return sorted([*(s.id for s in self.stations), *(b.id for b in self.buffers), *self.sinks])


def build_plan(
    graph: nx.MultiDiGraph, kinds: Mapping[str, str], horizon: float, warmup: float, samples: int
) -> FlowPlan:
    """The plan for ``graph``; ``ValidationFailed`` listing every problem found."""
    problems = Problems("flow")
    role = {t: kinds[model_of(a)] for t, a in graph.nodes(data=True) if model_of(a) in kinds}
    ignored = tuple(sorted(t for t in graph if t not in role))
    if not role:
        problems.add(
            "the subgraph holds no Source, Machine, Conveyor, Buffer or Sink",
            twins=sorted(graph)[:20],
        )
        problems.raise_if_any()
    if "source" not in role.values():
        problems.add("the subgraph has no Source: nothing enters the line", twins=sorted(role)[:20])
    feeds = nx.MultiDiGraph()
    feeds.add_nodes_from(role)
    for s, t, key, attributes in graph.edges(keys=True, data=True):
        if relationship(attributes) == "feeds" and s in role and t in role and role[s] != "sink":
            feeds.add_edge(s, t, key=key, **attributes)
    routes = {t: _routing(problems, feeds, t) for t in feeds if role[t] != "sink"}
    _check_buffers(problems, feeds, role)
    _check_cycles(problems, feeds, role)
    stations, buffers = [], []
    for twin in sorted(role):
        attributes = graph.nodes[twin]
        kind = role[twin]
        if kind == "buffer":
            capacity = number(problems, twin, attributes, "capacity", minimum=0)
            initial = number(problems, twin, attributes, "initialLevel", default=0)
            if initial > capacity:
                problems.add(
                    f"twin {twin!r}: initialLevel {initial:g} exceeds capacity {capacity:g}",
                    twins=[twin],
                    parameter="initialLevel",
                )
            buffers.append(Buffer(twin, _integer(capacity), _integer(initial)))
        elif kind != "sink":
            stations.append(_station(problems, twin, kind, attributes, feeds, role, routes.get(twin)))
    problems.raise_if_any()
    return FlowPlan(
        stations=tuple(stations),
        buffers=tuple(buffers),
        sinks=tuple(sorted(t for t, k in role.items() if k == "sink")),
        horizon=horizon,
        warmup=warmup,
        samples=samples,
        ignored=ignored,
        buffer_ids=frozenset(b.id for b in buffers),
    )


def _station(
    problems: Problems,
    twin: str,
    kind: str,
    attributes: Mapping[str, Any],
    feeds: nx.MultiDiGraph,
    role: Mapping[str, str],
    route: tuple[tuple[str, ...], list[float]] | None,
) -> Station:
    targets, cumulative = route or ((), [])
    if kind == "source":
        interarrival = _duration(problems, twin, attributes, "interarrivalTime", "exponential")
        batch = number(problems, twin, attributes, "batchSize", default=1, minimum=1)
        return Station(twin, kind, 1, interarrival, targets, cumulative, batch=_integer(batch))
    if kind == "conveyor":
        length = number(problems, twin, attributes, "length", strict=True)
        speed = number(problems, twin, attributes, "speed", strict=True)
        time = Duration("constant", length / speed)
    else:
        time = _duration(problems, twin, attributes, "cycleTime", "constant")
    slots = _integer(number(problems, twin, attributes, "capacity", default=1, minimum=1))
    mtbf = attributes.get("mtbf")
    mttr = attributes.get("mttr")
    if (mtbf is None) != (mttr is None):
        missing = "mttr" if mttr is None else "mtbf"
        problems.add(f"twin {twin!r} has mtbf or mttr but not {missing}", twins=[twin], parameter=missing)
        mtbf = mttr = None
    if mtbf is not None:
        mtbf = number(problems, twin, attributes, "mtbf", strict=True) * _HOUR
        mttr = number(problems, twin, attributes, "mttr", strict=True) * _HOUR
    scrap = number(problems, twin, attributes, "scrapRate", default=0.0)
    if scrap >= 1:
        problems.add(f"twin {twin!r}: scrapRate {scrap} must be below 1", twins=[twin], parameter="scrapRate")
    predecessors = list(feeds.predecessors(twin))
    source = predecessors[0] if len(predecessors) == 1 and role[predecessors[0]] == "buffer" else None
    return Station(twin, kind, slots, time, targets, cumulative, source, mtbf, mttr, scrap)


def _duration(
    problems: Problems, twin: str, attributes: Mapping[str, Any], prefix: str, default: str
) -> Duration:
    """A time distribution from ``<prefix>Mean``, ``Distribution``, ``StdDev``, ``Min`` and ``Max``."""
    mean = number(problems, twin, attributes, f"{prefix}Mean", strict=True)
    kind = attributes.get(f"{prefix}Distribution", default)
    if kind not in KINDS:
        problems.add(
            f"twin {twin!r}: {prefix}Distribution {kind!r} is not one of {', '.join(KINDS)}",
            twins=[twin],
            parameter=f"{prefix}Distribution",
        )
        return Duration("constant", mean)
    std, low, high = 0.0, 0.0, math.inf
    if kind in ("normal", "lognormal"):
        std = number(problems, twin, attributes, f"{prefix}StdDev")
    if kind in ("triangular", "uniform"):
        low = number(problems, twin, attributes, f"{prefix}Min")
        high = number(problems, twin, attributes, f"{prefix}Max")
    elif kind == "normal":
        low = number(problems, twin, attributes, f"{prefix}Min", default=0.0)
        high = number(problems, twin, attributes, f"{prefix}Max", default=math.inf)
    duration = Duration(kind, mean, std, low, high)
    if kind in ("triangular", "uniform") and not low <= high:
        problems.add(
            f"twin {twin!r}: {prefix}Min exceeds {prefix}Max", twins=[twin], parameter=f"{prefix}Min"
        )
    elif kind == "triangular" and not low <= duration.mode <= high:
        problems.add(
            f"twin {twin!r}: no triangular distribution on [{low:g}, {high:g}] has mean {mean:g}",
            twins=[twin],
            parameter=f"{prefix}Mean",
        )
    return duration


def _routing(problems: Problems, feeds: nx.MultiDiGraph, twin: str) -> tuple[tuple[str, ...], list[float]]:
    """Targets of ``twin`` and the cumulative routing probabilities (last one exactly 1)."""
    edges = sorted(feeds.out_edges(twin, keys=True, data=True), key=lambda e: (e[1], e[2]))
    if not edges:
        problems.add(f"twin {twin!r} feeds nothing: its parts have nowhere to go", twins=[twin])
        return (), []
    given = [e[3].get("routingProbability") for e in edges]
    if any(p is not None and (not isinstance(p, int | float) or p < 0 or p > 1) for p in given):
        problems.add(
            f"twin {twin!r}: a routingProbability is outside 0..1",
            twins=[twin, *(e[1] for e in edges)],
            parameter="routingProbability",
        )
        return tuple(e[1] for e in edges), [1.0] * len(edges)
    fixed = math.fsum(p for p in given if p is not None)
    free = sum(p is None for p in given)
    rest = 1.0 - fixed
    if rest < -1e-9 or (free == 0 and abs(rest) > 1e-9):
        problems.add(
            f"twin {twin!r}: the routingProbability values of its feeds sum to {fixed:g}, not 1",
            twins=[twin, *(e[1] for e in edges)],
            parameter="routingProbability",
        )
    share = max(rest, 0.0) / free if free else 0.0
    cumulative, total = [], 0.0
    for p in given:
        total += share if p is None else float(p)
        cumulative.append(total)
    cumulative[-1] = 1.0  # bisect on U in [0, 1) must always land on a target
    return tuple(e[1] for e in edges), cumulative


def _check_buffers(problems: Problems, feeds: nx.MultiDiGraph, role: Mapping[str, str]) -> None:
    for buffer in (t for t, k in role.items() if k == "buffer"):
        for target in sorted(set(feeds.successors(buffer))):
            if role[target] not in ("machine", "conveyor"):
                problems.add(
                    f"Buffer {buffer!r} feeds {role[target]} {target!r}; a Buffer feeds Machines, Conveyors",
                    twins=[buffer, target],
                )
            elif set(feeds.predecessors(target)) != {buffer}:
                others = sorted(set(feeds.predecessors(target)) - {buffer})
                problems.add(
                    f"{target!r} takes from Buffer {buffer!r} and also from {', '.join(others)}; "
                    "merge the flows in the Buffer instead",
                    twins=[target, buffer, *others],
                )


def _check_cycles(problems: Problems, feeds: nx.MultiDiGraph, role: Mapping[str, str]) -> None:
    stations = nx.DiGraph(feeds.subgraph([t for t, k in role.items() if k != "buffer"]))
    for component in nx.strongly_connected_components(stations):
        looped = len(component) > 1 or any(stations.has_edge(t, t) for t in component)
        if looped:
            twins = sorted(component)
            problems.add(
                f"the feeds cycle through {', '.join(twins)} has no Buffer: it can deadlock",
                twins=twins,
            )


def _integer(value: float) -> int:
    return round(value) if math.isfinite(value) else 0
