"""``impact``: which twins lose supply when others fail, and how available each one is.

The dependency graph is the subgraph's ``feeds``, ``serves`` and ``controls``
relationships (``relationships`` chooses others): an edge A -> B means B depends on A.

Supply semantics: a twin is *supplied* when it is up and, for every relationship name
that reaches it, at least one twin reaching it by that name is supplied. Suppliers of
one name are redundant (a Room served by two VAVs keeps its service while either
works); different names are all needed (a pump fed by a tank and controlled by a PLC
stops when either is lost). Supply starts at twins nothing reaches (the least fixpoint),
so a loop with no such origin is never supplied, and a loop does not keep itself going
once its outside supply fails.

Two analyses in one run:

- deterministic: the twins that lose supply when the ``failed`` twins fail, and the
  criticality of every twin (how many others lose supply when it alone fails);
- Monte Carlo (SimPy): twins with ``mtbf`` and ``mttr`` (hours) alternate exponential up
  and down times from an all-up start; each replication measures the share of the
  horizon each twin was up and was supplied. Twins without them never fail.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Generator, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import networkx as nx
import numpy as np
import simpy
from pydantic import BaseModel, ConfigDict, Field
from simpy.events import Event

from simulation.models._base import Problems, Replication, events_processed, number, relationship, twin_stream

_HOUR = 3600.0


class ImpactParameters(BaseModel):
    """Run parameters of the impact model."""

    model_config = ConfigDict(frozen=True, populate_by_name=True, extra="forbid")

    relationships: tuple[str, ...] = ("feeds", "serves", "controls")
    failed: tuple[str, ...] = ()
    horizon_s: float = Field(default=365 * 86400.0, gt=0, alias="horizonS")
    samples: int = Field(default=100, ge=0, le=10_000)


@dataclass(frozen=True)
class ImpactPlan:
    """The dependency graph as index lists, the failing twins and the analysis settings.

    ``needs[i]`` lists, per relationship name reaching twin ``i``, the twins supplying it.
    """

    twins: tuple[str, ...]
    needs: tuple[tuple[tuple[int, ...], ...], ...]
    dependents: tuple[tuple[int, ...], ...]
    mtbf: tuple[float | None, ...]
    mttr: tuple[float | None, ...]
    failed: tuple[str, ...]
    consumers: tuple[int, ...]
    horizon: float
    samples: int


def supplied(plan: ImpactPlan, up: Sequence[bool]) -> list[bool]:
    """Which twins are supplied when ``up`` says which work (the least fixpoint, in O(edges))."""
    n = len(plan.twins)
    missing = [len(groups) for groups in plan.needs]  # names still without a supplied supplier
    met = [[False] * len(groups) for groups in plan.needs]
    group_of: list[dict[int, list[int]]] = [defaultdict(list) for _ in range(n)]
    for i, groups in enumerate(plan.needs):
        for g, suppliers in enumerate(groups):
            for s in suppliers:
                group_of[i][s].append(g)
    result = [False] * n
    frontier = [i for i in range(n) if up[i] and missing[i] == 0]
    for i in frontier:
        result[i] = True
    while frontier:
        s = frontier.pop()
        for i in plan.dependents[s]:
            if result[i]:
                continue
            for g in group_of[i][s]:
                if not met[i][g]:
                    met[i][g] = True
                    missing[i] -= 1
            if missing[i] == 0 and up[i]:
                result[i] = True
                frontier.append(i)
    return result


class ImpactModel:
    """The ``impact`` model (see the module docstring)."""

    name: ClassVar[str] = "impact"
    parameters: ClassVar[type[BaseModel]] = ImpactParameters
    headline: ClassVar[tuple[str, str]] = ("availability", "the supply availability of end consumers")

    def prepare(self, graph: nx.MultiDiGraph, parameters: BaseModel) -> ImpactPlan:
        """The plan; ``ValidationFailed`` for failed twins outside the subgraph or bad mtbf/mttr."""
        assert isinstance(parameters, ImpactParameters)
        problems = Problems("impact")
        twins = tuple(sorted(graph))
        index = {t: i for i, t in enumerate(twins)}
        outside = sorted(set(parameters.failed) - set(index))
        if outside:
            problems.add(
                f"failed names twins outside the subgraph: {', '.join(outside)}",
                twins=outside,
                parameter="failed",
            )
        wanted = set(parameters.relationships)
        by_name: list[dict[str, set[int]]] = [defaultdict(set) for _ in twins]
        dependents: list[set[int]] = [set() for _ in twins]
        for s, t, attributes in graph.edges(data=True):
            name = relationship(attributes)
            if name in wanted and s != t:
                by_name[index[t]][name].add(index[s])
                dependents[index[s]].add(index[t])
        mtbf: list[float | None] = []
        mttr: list[float | None] = []
        for twin in twins:
            attributes = graph.nodes[twin]
            has = [attributes.get(k) is not None for k in ("mtbf", "mttr")]
            if any(has) and not all(has):
                missing = "mttr" if has[0] else "mtbf"
                problems.add(
                    f"twin {twin!r} has mtbf or mttr but not {missing}", twins=[twin], parameter=missing
                )
            if all(has):
                mtbf.append(number(problems, twin, attributes, "mtbf", strict=True) * _HOUR)
                mttr.append(number(problems, twin, attributes, "mttr", strict=True) * _HOUR)
            else:
                mtbf.append(None)
                mttr.append(None)
        problems.raise_if_any()
        return ImpactPlan(
            twins=twins,
            needs=tuple(tuple(tuple(sorted(g)) for _, g in sorted(names.items())) for names in by_name),
            dependents=tuple(tuple(sorted(d)) for d in dependents),
            mtbf=tuple(mtbf),
            mttr=tuple(mttr),
            failed=tuple(sorted(set(parameters.failed))),
            consumers=tuple(i for i, d in enumerate(dependents) if not d and by_name[i]),
            horizon=parameters.horizon_s,
            samples=parameters.samples,
        )

    def twins(self, plan: ImpactPlan) -> list[str]:
        """Every twin of the subgraph."""
        return list(plan.twins)

    def replicate(self, plan: ImpactPlan, seed: np.random.SeedSequence) -> Replication:
        """Failures and repairs until the horizon; time up and time supplied per twin."""
        env = simpy.Environment()
        tracker = _Tracker(plan)
        for i, twin in enumerate(plan.twins):
            if plan.mtbf[i] is not None:
                env.process(_life(env, tracker, i, twin_stream(seed, twin)))
        times: list[float] = []
        series: dict[str, list[float]] = {plan.twins[c]: [] for c in plan.consumers}
        if plan.samples:
            env.process(_sampler(env, tracker, plan, times, series))
        env.run(until=plan.horizon)
        tracker.update(plan.horizon)
        twin_metrics = {
            twin: {
                "availability": tracker.up_time[i] / plan.horizon,
                "supplyAvailability": tracker.supplied_time[i] / plan.horizon,
                "failures": float(tracker.failures[i]),
            }
            for i, twin in enumerate(plan.twins)
        }
        consumers = plan.consumers or tuple(range(len(plan.twins)))
        availability = math.fsum(tracker.supplied_time[c] for c in consumers) / len(consumers) / plan.horizon
        return Replication(
            metrics={
                "availability": availability,
                "failures": float(sum(tracker.failures)),
            },
            twin_metrics=twin_metrics,
            times=times,
            series={(t, "supplied"): v for t, v in series.items()},
            events=events_processed(env),
        )

    def summarise(self, plan: ImpactPlan, replications: Sequence[Replication]) -> dict[str, Any]:
        """The deterministic analysis: lost supply for ``failed``, criticality of every twin."""
        everyone = supplied(plan, [True] * len(plan.twins))
        lost: list[str] = []
        if plan.failed:
            failed = set(plan.failed)
            after = supplied(plan, [t not in failed for t in plan.twins])
            lost = [t for i, t in enumerate(plan.twins) if everyone[i] and not after[i] and t not in failed]
        criticality = []
        for i, twin in enumerate(plan.twins):
            if not plan.dependents[i]:
                continue
            up = [True] * len(plan.twins)
            up[i] = False
            after = supplied(plan, up)
            knocked = [
                plan.twins[j] for j in range(len(plan.twins)) if j != i and everyone[j] and not after[j]
            ]
            criticality.append((len(knocked), twin, knocked))
        criticality.sort(key=lambda c: (-c[0], c[1]))
        return {
            "failed": list(plan.failed),
            "lostSupply": lost,
            "neverSupplied": [t for i, t in enumerate(plan.twins) if not everyone[i]],
            "criticality": [{"twin": t, "loses": n, "twins": k[:50]} for n, t, k in criticality],
            "endConsumers": [plan.twins[c] for c in plan.consumers],
        }


class _Tracker:
    """Up and supplied state of every twin in one replication, with accumulated times."""

    def __init__(self, plan: ImpactPlan) -> None:
        n = len(plan.twins)
        self.plan = plan
        self.up = [True] * n
        self.supplied = supplied(plan, self.up)
        self.up_time = [0.0] * n
        self.supplied_time = [0.0] * n
        self.failures = [0] * n
        self.last = 0.0

    def update(self, now: float) -> None:
        """Credit the time since the last change to the twins up or supplied through it."""
        span = now - self.last
        if span > 0:
            for i in range(len(self.up)):
                if self.up[i]:
                    self.up_time[i] += span
                if self.supplied[i]:
                    self.supplied_time[i] += span
        self.last = now

    def change(self, now: float, twin: int, up: bool) -> None:
        """Twin ``twin`` failed or was repaired at ``now``."""
        self.update(now)
        self.up[twin] = up
        if not up:
            self.failures[twin] += 1
        self.supplied = supplied(self.plan, self.up)


def _life(
    env: simpy.Environment, tracker: _Tracker, twin: int, rng: np.random.Generator
) -> Generator[Event, Any, None]:
    """One twin's alternation of exponential up and down times."""
    mtbf, mttr = tracker.plan.mtbf[twin], tracker.plan.mttr[twin]
    assert mtbf is not None
    assert mttr is not None
    while True:
        yield env.timeout(rng.exponential(mtbf))
        tracker.change(env.now, twin, up=False)
        yield env.timeout(rng.exponential(mttr))
        tracker.change(env.now, twin, up=True)


def _sampler(
    env: simpy.Environment,
    tracker: _Tracker,
    plan: ImpactPlan,
    times: list[float],
    series: dict[str, list[float]],
) -> Generator[Event, Any, None]:
    """Whether each end consumer is supplied, at ``samples`` evenly spaced times."""
    step = plan.horizon / plan.samples
    for k in range(1, plan.samples + 1):
        yield env.timeout(step if k < plan.samples else step * (1 - 1e-9))
        times.append(k * step)
        for c in plan.consumers:
            series[plan.twins[c]].append(1.0 if tracker.supplied[c] else 0.0)


MODEL = ImpactModel()
__all__ = ["MODEL", "ImpactModel", "ImpactParameters", "ImpactPlan", "supplied"]
