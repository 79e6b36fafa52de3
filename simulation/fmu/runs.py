"""An ``fmu`` run before it runs: the request checked, then the FMUs and telemetry it needs read.

:func:`check_run` is what ``startSimulation`` can check before queueing: the parameters,
each FMU exists, every binding against the FMU's variables and the Interface the FMU
serves, every coupled output against the FMUs of the run. :func:`resolve` runs in the
worker when the run starts (``simulation.worker.simulation_job``'s ``prepare`` hook):
it adds each FMU's file and description and the twins it applies to (its Interface or
one extending it) to the parameters under ``$resolved``, and the telemetry the bindings
read to the subgraph's nodes (``$fmuTelemetry``), so that planning and stepping need no
database, on any executor.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from typing import Any, Protocol

import networkx as nx

from graph.subgraph import MODEL
from ontology.errors import ValidationFailed
from ontology.model import ModelSet
from simulation.fmu.bindings import (
    LatestSource,
    OutputSource,
    SeriesSource,
    check_bindings,
    check_interface,
    check_outputs,
)
from simulation.fmu.library import StoredFmu
from simulation.fmu.parameters import TELEMETRY, FmuParameters, parameters_of
from simulation.jobs import Validator
from simulation.params import telemetry_ref
from simulation.worker import PrepareInputs, check_request
from telemetry.refs import TelemetryRef
from telemetry.store import TelemetryStore


class FmuSource(Protocol):
    """Where a run finds its FMUs (``simulation.fmu.library.FmuLibrary``)."""

    def get(self, fmu_id: str) -> StoredFmu: ...


def check_run(parameters: Mapping[str, Any], library: FmuSource, models: ModelSet | None) -> FmuParameters:
    """Everything about an ``fmu`` request that needs no twin; ``ValidationFailed`` / ``NotFound``."""
    checked = parameters_of(parameters)
    found = [library.get(spec.fmu) for _, spec in checked.specs()]
    outputs_of = {name for stored in found for name in (v.name for v in stored.description.outputs)}
    for n, ((pointer, spec), stored) in enumerate(zip(checked.specs(), found, strict=True)):
        bindings = checked.bindings_of(n)
        check_bindings(stored.description, bindings, f"{pointer}/bindings")
        if spec.outputs is not None:
            check_outputs(stored.description, spec.outputs, f"{pointer}/outputs")
        for name, source in bindings.items():
            if isinstance(source, OutputSource) and source.output not in outputs_of:
                raise ValidationFailed(
                    f"binding {pointer}/bindings/{name}: no FMU of this run has an output {source.output!r}",
                    details={"pointer": f"{pointer}/bindings/{name}"},
                )
        if models is not None:
            interface = models.get(stored.interface)
            if interface is not None:
                check_interface(interface, bindings, f"{pointer}/bindings")
    return checked


def resolve(
    graph: nx.MultiDiGraph,
    parameters: Mapping[str, Any],
    library: FmuSource,
    models: ModelSet,
    history: TelemetryStore | None,
) -> tuple[nx.MultiDiGraph, dict[str, Any]]:
    """The subgraph with the telemetry the bindings read, and the parameters with ``$resolved``."""
    checked = check_run(parameters, library, models)
    edited: nx.MultiDiGraph = graph.copy()
    resolved: list[dict[str, Any]] = []
    wanted: dict[tuple[str, str], set[str]] = {}  # (kind, field) -> twins
    for n, (_, spec) in enumerate(checked.specs()):
        stored = library.get(spec.fmu)
        twins = sorted(
            t for t, a in graph.nodes(data=True) if _is_a(models, str(a.get(MODEL, "")), stored.interface)
        )
        description = stored.description
        outputs = (
            spec.outputs
            if spec.outputs is not None
            else [v.name for v in description.outputs if v.kind == "real"]
        )
        resolved.append(
            {
                "fmu": stored.id,
                "sha256": stored.reference.sha256,
                "path": str(stored.path),
                "interface": stored.interface,
                "description": description.to_dict(),
                "twins": twins,
                "outputs": list(outputs),
            }
        )
        for source in checked.bindings_of(n).values():
            if isinstance(source, LatestSource | SeriesSource):
                kind = "latest" if isinstance(source, LatestSource) else "series"
                field = source.latest if isinstance(source, LatestSource) else source.series
                sources = [source.twin] if source.twin is not None else twins
                wanted.setdefault((kind, field), set()).update(sources)
    outside = sorted({t for twins in wanted.values() for t in twins if t not in graph})
    if outside:
        raise ValidationFailed(
            f"fmu model: bindings read twins outside the simulated subgraph: {', '.join(outside)}",
            details={"model": "fmu", "twins": outside},
        )
    if wanted and history is None:
        raise ValidationFailed(
            "fmu model: bindings read telemetry, and this worker has no time-series store",
            details={"model": "fmu"},
        )
    if history is not None:
        _read_telemetry(edited, checked, wanted, history)
    return edited, {**dict(parameters), "$resolved": resolved}


def _read_telemetry(
    graph: nx.MultiDiGraph,
    checked: FmuParameters,
    wanted: Mapping[tuple[str, str], set[str]],
    history: TelemetryStore,
) -> None:
    """One store query per (kind, field) for every twin asking for it."""
    start, stop = checked.start, checked.stop
    since = start - timedelta(seconds=checked.lookback_s)
    for (kind, field), twins in sorted(wanted.items()):
        ordered = sorted(twins)
        refs: list[TelemetryRef] = [telemetry_ref(graph, t) for t in ordered]
        until = start + timedelta(microseconds=1) if kind == "latest" else stop
        answers = history.query(refs, field, since, until)
        for twin, samples in zip(ordered, answers, strict=True):
            slot = graph.nodes[twin].setdefault(TELEMETRY, {"latest": {}, "series": {}})
            numbers = [(s.time, float(s.value)) for s in samples if _number(s.value)]
            if kind == "latest":
                if numbers:
                    slot["latest"][field] = numbers[-1][1]
            else:
                slot["series"][field] = [[_seconds(at, start), value] for at, value in numbers]


def _seconds(at: datetime, start: datetime) -> float:
    return (at - start).total_seconds()


def _number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _is_a(models: ModelSet, model: str, interface: str) -> bool:
    if model == interface:
        return True
    return model in models and interface in models and models.is_a(model, interface)


def prepare_hook(library: FmuSource, history: TelemetryStore | None) -> PrepareInputs:
    """The worker's ``prepare`` step: :func:`resolve` for ``fmu`` runs, nothing for other models."""

    def prepare(
        model: str, graph: nx.MultiDiGraph, parameters: Mapping[str, Any], models: ModelSet
    ) -> tuple[nx.MultiDiGraph, Mapping[str, Any]]:
        if model != "fmu":
            return graph, parameters
        return resolve(graph, parameters, library, models, history)

    return prepare


def request_check(library: FmuSource, models: Callable[[], ModelSet]) -> Validator:
    """``RunStore``'s validator for ``fmu`` runs: :func:`check_run` after the plain checks."""

    def validate(model: str, parameters: Mapping[str, Any], scenario: Mapping[str, Any] | None) -> None:
        check_request(model, parameters, scenario)
        if model == "fmu":
            if "$resolved" in parameters:
                raise ValidationFailed(
                    "fmu model: $resolved is written by the worker, not given",
                    details={"model": "fmu", "parameter": "/$resolved"},
                )
            check_run(parameters, library, models())

    return validate
