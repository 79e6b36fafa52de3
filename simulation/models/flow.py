"""``flow``: material flow through a production line, with blocking, starving and failures.

Twins of Source, Machine, Conveyor, Buffer and Sink joined by ``feeds`` relationships
become SimPy processes and channels (``_flow_engine``). A Source releases parts at
random interarrival times; a Machine has ``capacity`` parallel slots, each working one
part per cycle; a Conveyor is a station whose ``capacity`` slots each take
``length / speed`` seconds; a Buffer holds up to ``capacity`` parts for the stations it
feeds; a Sink counts what leaves. A part goes along one ``feeds`` relationship, drawn
with the ``routingProbability`` of each (absent ones share what is left evenly). Parts
merge in a Buffer, or at a station fed by several others (the first finished part that
finds an idle slot goes in).

Failures follow ``mtbf`` / ``mttr`` (hours, exponential) and are operation-dependent:
a slot ages only while it works, so a starved machine does not fail.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, Literal

import networkx as nx
import numpy as np
import simpy
from pydantic import BaseModel, ConfigDict, Field

from ontology.errors import ValidationFailed
from simulation.models import _flow_engine as engine
from simulation.models._base import Replication, events_processed, twin_stream
from simulation.models._distributions import Duration, uniforms
from simulation.models._flow_plan import Buffer, FlowPlan, Station, build_plan
from simulation.stats import estimate, percentile

Kind = Literal["source", "machine", "conveyor", "buffer", "sink"]

DEFAULT_KINDS: dict[str, Kind] = {
    "dtmi:kgtwin:production:Source;1": "source",
    "dtmi:kgtwin:production:Machine;1": "machine",
    "dtmi:kgtwin:production:Conveyor;1": "conveyor",
    "dtmi:kgtwin:production:Buffer;1": "buffer",
    "dtmi:kgtwin:production:Sink;1": "sink",
}
_CYCLE, _FAILURE, _REPAIR, _UNIFORM = 0, 1, 2, 3


class FlowParameters(BaseModel):
    """Run parameters of the flow model (twin properties carry the rest).

    ``kinds`` maps further DTDL model ids to a flow role, for models that extend the
    base ones (``{"dtmi:acme:Press;1": "machine"}``).
    """

    model_config = ConfigDict(frozen=True, populate_by_name=True, extra="forbid")

    horizon_s: float = Field(default=7 * 86400.0, gt=0, alias="horizonS")
    warmup_s: float = Field(default=0.0, ge=0, alias="warmupS")
    samples: int = Field(default=100, ge=0, le=10_000)
    kinds: dict[str, Kind] = Field(default_factory=dict)


@dataclass
class _Run:
    """One replication's live objects, kept together for the end-of-run tally."""

    env: simpy.Environment
    totals: engine.FlowTotals
    states: dict[str, engine.StationState]
    channels: dict[str, engine.Channel]
    sinks: dict[str, engine.Sink]


class FlowModel:
    """The ``flow`` model (see the module docstring)."""

    name: ClassVar[str] = "flow"
    parameters: ClassVar[type[BaseModel]] = FlowParameters
    headline: ClassVar[tuple[str, str]] = ("throughputPerHour", "throughput")

    def prepare(self, graph: nx.MultiDiGraph, parameters: BaseModel) -> FlowPlan:
        """The plan, after checking every twin, relationship and parameter."""
        assert isinstance(parameters, FlowParameters)
        if parameters.warmup_s >= parameters.horizon_s:
            message = "warmupS must be shorter than horizonS"
            raise ValidationFailed(
                f"flow model: {message}",
                details={
                    "model": "flow",
                    "problems": [{"message": message, "twins": [], "parameter": "/warmupS"}],
                },
            )
        kinds: dict[str, str] = {**DEFAULT_KINDS, **parameters.kinds}
        return build_plan(graph, kinds, parameters.horizon_s, parameters.warmup_s, parameters.samples)

    def twins(self, plan: FlowPlan) -> list[str]:
        """Every flow twin of the plan."""
        return plan.twins

    def replicate(self, plan: FlowPlan, seed: np.random.SeedSequence) -> Replication:
        """One run of the line until the horizon."""
        run = _build(plan, seed)
        times: list[float] = []
        levels: dict[str, list[float]] = {b: [] for b in run.channels if b in plan.buffer_ids}
        if plan.samples:
            run.env.process(_sampler(run, plan, times, levels))
        run.env.run(until=plan.horizon)
        outcome = _tally(run, plan)
        outcome.times = times
        outcome.series = {(b, "level"): v for b, v in levels.items()}
        for b, values in levels.items():
            # The mean of evenly spaced samples: an estimate of the time-average level.
            outcome.twin_metrics[b]["meanLevel"] = float(np.mean(values)) if values else float("nan")
        outcome.events = events_processed(run.env)
        return outcome

    def summarise(self, plan: FlowPlan, replications: Sequence[Replication]) -> dict[str, Any]:
        """The bottleneck (the station most often the most active one), and twins not in the flow."""
        stations = [s.id for s in plan.stations if s.kind != "source"]
        if not stations or not replications:
            return {"bottleneck": None, "ignoredTwins": list(plan.ignored)}
        picks = Counter(max(stations, key=lambda s: (r.twin_metrics[s]["active"], s)) for r in replications)
        twin, count = max(picks.items(), key=lambda item: (item[1], item[0]))
        active = {s: estimate([r.twin_metrics[s]["active"] for r in replications]) for s in stations}
        ranking = sorted(active.items(), key=lambda item: (-item[1].mean, item[0]))
        return {
            "bottleneck": {
                "twin": twin,
                "share": count / len(replications),
                "active": active[twin].to_dict(),
                "method": "highest active share (working + down) per replication",
                "ranking": [{"twin": s, "active": e.to_dict()} for s, e in ranking[:5]],
            },
            "ignoredTwins": list(plan.ignored),
        }


def _build(plan: FlowPlan, seed: np.random.SeedSequence) -> _Run:
    env = simpy.Environment()
    totals = engine.FlowTotals(env, plan.warmup)
    channels: dict[str, engine.Channel] = {}
    for buffer in plan.buffers:
        channel = engine.Channel(env, buffer.capacity)
        channel.items.extend([0.0] * buffer.initial)
        totals.wip += buffer.initial
        channels[buffer.id] = channel
    for station in plan.stations:
        if station.kind != "source" and station.input is None:
            channels[station.id] = engine.Channel(env, 0)
    sinks = {s: engine.Sink(env, totals) for s in plan.sinks}
    targets: dict[str, engine.Target] = {**channels, **sinks}
    states: dict[str, engine.StationState] = {}
    for station in plan.stations:
        state = states[station.id] = engine.StationState(station.slots)
        outs = [targets[t] for t in station.targets]
        us = uniforms(twin_stream(seed, station.id, _UNIFORM))
        if station.kind == "source":
            draws = station.time.stream(twin_stream(seed, station.id, _CYCLE))
            env.process(
                engine.arrivals(
                    env, state, state.marks[0], outs, station.cumulative, draws, station.batch, us, totals
                )
            )
            continue
        source = channels[station.input or station.id]
        for n in range(station.slots):
            # Every slot draws from its own streams, so a change of capacity keeps the others'.
            rng = twin_stream(seed, station.id, _CYCLE + 4 * n)
            failures = repairs = None
            if station.mtbf is not None and station.mttr is not None:
                failures = Duration("exponential", station.mtbf).stream(
                    twin_stream(seed, station.id, _FAILURE + 4 * n)
                )
                repairs = Duration("exponential", station.mttr).stream(
                    twin_stream(seed, station.id, _REPAIR + 4 * n)
                )
            env.process(
                engine.slot(
                    env, state, state.marks[n], source, outs, station.cumulative, station.time.stream(rng),
                    failures, repairs, us, station.scrap, totals,
                )
            )  # fmt: skip
    return _Run(env, totals, states, channels, sinks)


def _sampler(run: _Run, plan: FlowPlan, times: list[float], levels: Mapping[str, list[float]]) -> Any:
    """Buffer levels at ``samples`` evenly spaced times (the last one at the horizon)."""
    step = plan.horizon / plan.samples
    channels = [(run.channels[b].items, levels[b]) for b in levels]
    for k in range(1, plan.samples + 1):
        # Sample just before the horizon so the last sample is taken inside the run.
        yield run.env.timeout(step if k < plan.samples else step * (1 - 1e-9))
        times.append(k * step)
        for items, values in channels:
            values.append(float(len(items)))


def _tally(run: _Run, plan: FlowPlan) -> Replication:
    horizon, warmup = plan.horizon, plan.warmup
    span = horizon - warmup
    totals = run.totals
    totals.close(horizon)
    leads = sorted(totals.lead_times)
    metrics = {
        "throughputPerHour": totals.out / span * 3600.0,
        "partsOut": float(totals.out),
        "scrapped": float(totals.scrapped),
        "wip": totals.area / span,
        "leadTimeMean": float(np.mean(leads)) if leads else float("nan"),
        "leadTimeP50": percentile(leads, 0.5),
        "leadTimeP90": percentile(leads, 0.9),
        "leadTimeP95": percentile(leads, 0.95),
        "leadTimeP99": percentile(leads, 0.99),
    }
    twins: dict[str, dict[str, float]] = {}
    for station in plan.stations:
        state = run.states[station.id]
        engine.close_marks(state, horizon, warmup)
        if station.kind == "source":
            twins[station.id] = {
                "partsReleased": float(state.processed),
                "blocked": state.blocked / span,
            }
            continue
        capacity = span * station.slots
        twins[station.id] = {
            "utilisation": state.busy / capacity,
            "blocked": state.blocked / capacity,
            "starved": state.starved / capacity,
            "down": state.down / capacity,
            "active": (state.busy + state.down) / capacity,
            "partsProcessed": float(state.processed),
            "scrapped": float(state.scrapped),
        }
    for buffer in plan.buffers:
        twins[buffer.id] = {"finalLevel": float(len(run.channels[buffer.id].items))}
    for sink_id, sink in run.sinks.items():
        twins[sink_id] = {"partsReceived": float(sink.received)}
    return Replication(metrics=metrics, twin_metrics=twins)


MODEL = FlowModel()
__all__ = ["MODEL", "Buffer", "FlowModel", "FlowParameters", "FlowPlan", "Station"]
