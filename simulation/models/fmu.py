"""``fmu``: physics-based component models (FMUs, FMI 2.0/3.0 co-simulation) bound to twins.

One FMU instance per twin of the subgraph whose model is the FMU's Interface (or extends
it), for each FMU of the run; instances coupled by ``output`` bindings are stepped
together by the fixed-step master (``simulation.fmu.master``: Gauss-Seidel along the
bindings). Bindings (``simulation.fmu.bindings``) give each input and parameter its
value; those given as distributions are drawn per twin and replication from the twin's
own stream, so replications give 95% intervals and scenarios keep common random numbers.

The parameters (``simulation.fmu.parameters``) must carry ``$resolved``: the worker adds it
when the run starts (``simulation.fmu.runs.resolve``) with the FMUs' files and the
telemetry the bindings read, so a plan is plain data that any executor can step.

Results: per twin and recorded output, ``<output>.final``, ``.mean``, ``.min``, ``.max``;
the run's series ``(twin, <output>)`` sampled every ``ceil(steps / samples)`` steps.
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import networkx as nx
import numpy as np
from pydantic import BaseModel

from ontology.errors import ValidationFailed
from simulation.fmu.archive import FmuDescription
from simulation.fmu.bindings import (
    ConstantSource,
    Distribution,
    DistributionSource,
    LatestSource,
    OutputSource,
    PropertySource,
    SeriesSource,
    Source,
    check_value,
    scaled,
)
from simulation.fmu.master import Component, CoSimulation, Coupling, Unit, run, stepping_order
from simulation.fmu.parameters import TELEMETRY, FmuParameters
from simulation.fmu.resample import resample
from simulation.models._base import Problems, Replication, relationship, twin_stream


@dataclass(frozen=True)
class FmuPlan:
    """The co-simulation to step, and the parameters it came from."""

    cosim: CoSimulation
    parameters: FmuParameters


class FmuModel:
    """The ``fmu`` model (see the module docstring)."""

    name: ClassVar[str] = "fmu"
    parameters: ClassVar[type[BaseModel]] = FmuParameters
    headline: ClassVar[tuple[str, str]] = ("meanOutput", "the mean recorded output")

    def prepare(self, graph: nx.MultiDiGraph, parameters: BaseModel) -> FmuPlan:
        """The plan; ``ValidationFailed`` naming each twin whose bindings cannot be answered."""
        assert isinstance(parameters, FmuParameters)
        if parameters.resolved is None:
            raise ValidationFailed(
                "fmu model: the parameters are not resolved; a run reads its FMUs and telemetry "
                "when it starts (simulation.fmu.runs.resolve)",
                details={"model": "fmu", "parameter": "/$resolved"},
            )
        problems = Problems("fmu")
        components: list[Component] = []
        placed: list[tuple[str, int, dict[str, Source]]] = []
        for n, found in enumerate(parameters.resolved):
            description = FmuDescription.from_dict(found["description"])
            components.append(
                Component(
                    fmu=str(found["fmu"]),
                    sha256=str(found["sha256"]),
                    path=str(found["path"]),
                    description=description,
                    outputs=tuple(found["outputs"]),
                )
            )
            twins = [t for t in found["twins"] if t in graph]
            if not twins:
                models = sorted({str(a.get("$model")) for _, a in graph.nodes(data=True)})
                problems.add(
                    f"FMU {found['fmu']} serves {found['interface']}, and no twin of the subgraph is one "
                    f"(its models: {', '.join(models)})",
                    twins=sorted(graph)[:20],
                    parameter=f"/fmus/{n}" if parameters.fmu is None else "/fmu",
                )
            placed += [(t, n, parameters.bindings_of(n)) for t in twins]
        problems.raise_if_any()
        index = {(twin, n): i for i, (twin, n, _) in enumerate(placed)}
        steps = parameters.steps
        units = [
            _unit(graph, parameters, components, placed, index, i, steps, problems)
            for i in range(len(placed))
        ]
        problems.raise_if_any()
        edges = [(s, i) for i, u in enumerate(units) for c in u.couplings for s, _ in c.sources]
        order = stepping_order([u.twin for u in units], edges)
        position = {old: new for new, old in enumerate(order)}
        ordered = tuple(
            Unit(
                u.twin,
                u.component,
                u.fixed,
                u.draws,
                u.series,
                tuple(
                    Coupling(c.variable, tuple((position[s], o) for s, o in c.sources), c.combine, c.default)
                    for c in u.couplings
                ),
            )
            for u in (units[i] for i in order)
        )
        samples = parameters.samples
        every = 0 if samples == 0 else max(1, math.ceil(steps / samples))
        cosim = CoSimulation(tuple(components), ordered, parameters.step, steps, every)
        return FmuPlan(cosim, parameters)

    def twins(self, plan: FmuPlan) -> list[str]:
        return sorted({u.twin for u in plan.cosim.units})

    def replicate(self, plan: FmuPlan, seed: np.random.SeedSequence) -> Replication:
        """Step every instance through the window with this replication's draws."""

        def draw(unit: Unit, variable: str, distribution: Distribution) -> float:
            rng = twin_stream(seed, unit.twin, zlib.crc32(variable.encode()))
            return _draw(distribution, rng)

        found = run(plan.cosim, draw)
        twin_metrics: dict[str, dict[str, float]] = {}
        means: list[float] = []
        for (twin, name), stats in found.stats.items():
            twin_metrics.setdefault(twin, {}).update({f"{name}.{k}": v for k, v in stats.items()})
            means.append(stats["mean"])
        metrics = {"steps": float(found.steps)}
        if means:
            metrics["meanOutput"] = math.fsum(means) / len(means)
        return Replication(
            metrics=metrics,
            twin_metrics=twin_metrics,
            times=found.times,
            series=found.samples,
            events=found.steps,
        )

    def summarise(self, plan: FmuPlan, replications: Sequence[Replication]) -> dict[str, Any]:
        """The FMUs, the coupling order and the window."""
        cosim = plan.cosim
        return {
            "fmus": [
                {"fmu": c.fmu, "model": c.description.model_name, "outputs": list(c.outputs)}
                for c in cosim.components
            ],
            "coupling": "gauss-seidel",
            "order": [u.twin for u in cosim.units],
            "window": {
                "start": plan.parameters.start.isoformat(),
                "stop": plan.parameters.stop.isoformat(),
                "step": cosim.step,
                "steps": cosim.steps,
            },
        }


def _unit(
    graph: nx.MultiDiGraph,
    parameters: FmuParameters,
    components: Sequence[Component],
    placed: Sequence[tuple[str, int, Mapping[str, Source]]],
    index: Mapping[tuple[str, int], int],
    i: int,
    steps: int,
    problems: Problems,
) -> Unit:
    twin, n, bindings = placed[i]
    description = components[n].description
    fixed: list[tuple[str, Any]] = []
    draws: list[tuple[str, Distribution]] = []
    series: list[tuple[str, tuple[float, ...]]] = []
    couplings: list[Coupling] = []
    for name, source in bindings.items():
        variable = description.variable(name)
        assert variable is not None  # checked with the request
        where = f"/bindings/{name}"
        origin = getattr(source, "twin", None) or twin
        if isinstance(source, ConstantSource):
            fixed.append((name, check_value(variable, source.constant, where)))
        elif isinstance(source, DistributionSource):
            draws.append((name, source.distribution))
        elif isinstance(source, PropertySource):
            value = property_of(graph.nodes[origin], source.property)
            if value is None:
                problems.add(
                    f"twin {origin!r} has no property {source.property!r}", twins=[origin], parameter=where
                )
                continue
            try:
                fixed.append((name, check_value(variable, scaled(value, source), where)))
            except ValidationFailed as exc:
                problems.add(f"twin {origin!r}: {exc.message}", twins=[origin], parameter=where)
        elif isinstance(source, LatestSource):
            latest = graph.nodes[origin].get(TELEMETRY, {}).get("latest", {}).get(source.latest)
            if latest is None:
                problems.add(
                    f"twin {origin!r} has no {source.latest!r} value before the window's start",
                    twins=[origin],
                    parameter=where,
                )
                continue
            fixed.append((name, check_value(variable, scaled(latest, source), where)))
        elif isinstance(source, SeriesSource):
            points = graph.nodes[origin].get(TELEMETRY, {}).get("series", {}).get(source.series) or []
            if not points:
                problems.add(
                    f"twin {origin!r} has no {source.series!r} points in or just before the window",
                    twins=[origin],
                    parameter=where,
                )
                continue
            grid = resample(points, parameters.step, steps, source.interpolation)
            series.append((name, tuple(v * source.scale for v in grid)))
        elif isinstance(source, OutputSource):
            coupled = _coupled(graph, twin, source, placed, index, components)
            if not coupled and source.default is None:
                problems.add(
                    f"twin {twin!r}: no twin related by {source.along!r} ({source.direction}) "
                    f"has an FMU with output {source.output!r}",
                    twins=[twin],
                    parameter=where,
                )
                continue
            couplings.append(Coupling(name, tuple(coupled), source.combine, source.default))
    return Unit(twin, n, tuple(fixed), tuple(draws), tuple(series), tuple(couplings))


def _coupled(
    graph: nx.MultiDiGraph,
    twin: str,
    source: OutputSource,
    placed: Sequence[tuple[str, int, Mapping[str, Source]]],
    index: Mapping[tuple[str, int], int],
    components: Sequence[Component],
) -> list[tuple[int, str]]:
    edges = graph.in_edges(twin, data=True) if source.direction == "in" else graph.out_edges(twin, data=True)
    related = sorted(
        {(a if source.direction == "in" else b) for a, b, d in edges if relationship(d) == source.along}
    )
    found: list[tuple[int, str]] = []
    for other in related:
        for n, component in enumerate(components):
            unit = index.get((other, n))
            if unit is not None and component.description.variable(source.output) is not None:
                found.append((unit, source.output))
    return found


def property_of(attributes: Mapping[str, Any], path: str) -> Any:
    """A twin property by name, or by JSON Pointer (RFC 6901) into its document."""
    if not path.startswith("/"):
        return attributes.get(path)
    value: Any = attributes
    for part in path[1:].split("/"):
        key = part.replace("~1", "/").replace("~0", "~")
        if isinstance(value, Mapping):
            value = value.get(key)
        elif isinstance(value, list) and key.isdigit() and int(key) < len(value):
            value = value[int(key)]
        else:
            return None
    return value


def _draw(d: Distribution, rng: np.random.Generator) -> float:
    if d.kind == "normal":
        value = float(rng.normal(d.mean, d.std))
    elif d.kind == "lognormal":
        sigma2 = math.log1p((d.std / d.mean) ** 2)
        value = float(rng.lognormal(math.log(d.mean) - sigma2 / 2, math.sqrt(sigma2)))
    elif d.kind == "uniform":
        assert d.low is not None
        assert d.high is not None
        return float(rng.uniform(d.low, d.high))
    else:
        assert d.low is not None
        assert d.high is not None
        assert d.mode is not None
        return float(rng.triangular(d.low, d.mode, d.high))
    low = -math.inf if d.low is None else d.low
    high = math.inf if d.high is None else d.high
    return min(max(value, low), high)


MODEL = FmuModel()
__all__ = ["MODEL", "FmuModel", "FmuPlan"]
