"""Live shadows: an FMU instance per shadowed twin, advancing in real time with its telemetry.

A :class:`ShadowWorker` claims shadows (``graph.shadows``) under a lease, up to its
capacity, and renews the leases every third of their length; a shadow it fails to renew
(stopped, or taken by another worker after a stall) is dropped at once. A worker that
dies renews nothing, and once the lease passes another claims the shadow.

**Time.** A shadow's steps lie on a grid of ``step`` seconds from the Unix epoch, the same
for every worker. Starting (or taking over), a worker instantiates the FMU at the grid
point ``historyS`` before now, sets its parameters from the twin's properties, the
constants and the telemetry values at that point, and replays the recorded telemetry up
to now (the inputs held at each step's start, as in batch runs). Then, at each grid
point ``t`` once the clock has passed it, it reads the twin's latest values, steps the FMU
over ``[t - step, t]`` with the inputs read one step earlier (zero-order hold), and writes
``<telemetry>.predicted`` and ``<telemetry>.residual`` (measured minus predicted) at ``t``
to the twin's own series. The shadows due together are stepped together: one ``latest``
read for all of them, one ``write`` of all their points (``ShadowWorker._tick``), so a
worker's store round trips per tick do not grow with its number of shadows. A residual
leaving its band publishes a ``shadow.drift`` change event (MQTT
``kgtwin/events/shadow.drift/<twin>``) once the point is written; coming back,
``shadow.recovered``. Replayed steps write their points too (rewriting what a dead worker wrote) but raise no
event. ``lags`` keeps how long after each live grid point its points were written.
"""

from __future__ import annotations

import math
import os
import socket
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import structlog

from graph.events import ChangeEvent, ChangeKind, EventBus
from graph.shadows import ShadowNodes, ShadowRecord
from graph.store import GraphStore
from graph.subgraph import MODEL, TELEMETRY, SubgraphSpec, select_subgraph
from ontology.dtmi import short_name
from ontology.errors import KgtwinError
from ontology.model import ModelSet
from simulation.fmu.archive import FmuVariable
from simulation.fmu.bindings import ConstantSource, LatestSource, PropertySource, check_value, scaled
from simulation.fmu.instance import FmuInstance, unpacked
from simulation.fmu.resample import resample
from simulation.fmu.runs import FmuSource
from simulation.fmu.shadow_spec import SUFFIXES, ShadowSpec, check_shadow, spec_of
from simulation.models.fmu import property_of
from telemetry.points import TelemetryPoint
from telemetry.refs import DEFAULT_BUCKET, TWIN_TAG, TelemetryRef
from telemetry.store import TelemetryStore

_log = structlog.get_logger("simulation.shadow")
PREDICTED, RESIDUAL = SUFFIXES
_REPLAY_BATCH = 5_000
"""Points of a replay written per call."""


def read_twin(graph: GraphStore, models: ModelSet, twin: str) -> dict[str, Any]:
    """The twin's properties, ``$model`` and ``$telemetry`` (``NotFound`` for a missing twin)."""
    found = select_subgraph(graph, models, SubgraphSpec(roots=(twin,), max_depth=0))
    return dict(found.nodes[twin])


class Shadows:
    """Start, stop and list shadows: what the API and the CLI call."""

    def __init__(
        self, nodes: ShadowNodes, library: FmuSource, graph: GraphStore, models: Callable[[], ModelSet]
    ) -> None:
        self.nodes = nodes
        self.library = library
        self.graph = graph
        self.models = models

    def start(self, twin: str, fmu: str, settings: Mapping[str, Any]) -> ShadowRecord:
        """Check everything, then store an active shadow; a worker picks it up within a second."""
        spec = spec_of(settings)
        stored = self.library.get(fmu)
        models = self.models()
        attributes = read_twin(self.graph, models, twin)
        check_shadow(spec, stored.description, stored.interface, str(attributes[MODEL]), models)
        return self.nodes.create(twin, fmu, spec.model_dump(mode="json", by_alias=True))

    def stop(self, shadow_id: str) -> ShadowRecord:
        return self.nodes.stop(shadow_id)

    def list(self, twin: str | None = None, status: str | None = None) -> list[ShadowRecord]:
        return self.nodes.list(twin, status)


@dataclass
class _Running:
    """One claimed shadow: its FMU instance and where it is on the grid."""

    record: ShadowRecord
    spec: ShadowSpec
    instance: FmuInstance
    ref: TelemetryRef
    inputs: list[tuple[FmuVariable, str, float]]
    outputs: list[tuple[FmuVariable, str, tuple[float, float] | None]]
    grid_s: float
    held: list[float] = field(default_factory=list)
    outside: dict[str, bool] = field(default_factory=dict)

    @property
    def next_at(self) -> float:
        return self.grid_s + self.spec.step

    @property
    def names(self) -> list[str]:
        """The telemetry it reads: its inputs' and its outputs' measured values."""
        return list(dict.fromkeys([n for _, n, _ in self.inputs] + [t for _, t, _ in self.outputs]))


class ShadowWorker:
    """Runs the shadows it holds (see the module docstring); :meth:`serve` until :meth:`stop`."""

    def __init__(
        self,
        nodes: ShadowNodes,
        library: FmuSource,
        graph: GraphStore,
        models: Callable[[], ModelSet],
        telemetry: TelemetryStore,
        *,
        events: EventBus | None = None,
        lease_s: float = 10.0,
        capacity: int = 200,
        claim_every_s: float = 1.0,
        name: str | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.nodes, self.library, self.graph, self.models = nodes, library, graph, models
        self.telemetry = telemetry
        self.events = events
        self.lease = timedelta(seconds=lease_s)
        self.capacity = capacity
        self.claim_every_s = claim_every_s
        self.name = name or f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self.clock = clock
        self.running: dict[str, _Running] = {}
        self.lags: deque[float] = deque(maxlen=100_000)
        self._stop = threading.Event()

    def stop(self) -> None:
        self._stop.set()

    def serve(self) -> None:
        """Claim, renew and step until stopped; then give every shadow back for another worker."""
        next_claim = next_renew = 0.0
        try:
            while not self._stop.is_set():
                now = self.clock()
                try:
                    if now >= next_renew:
                        self._renew(now)
                        next_renew = now + self.lease.total_seconds() / 3
                    if now >= next_claim:
                        self._claim(now)
                        next_claim = now + self.claim_every_s
                    self._tick(self.clock())
                except KgtwinError as exc:  # a backend blip: say so and carry on
                    _log.warning("shadow.poll_failed", worker=self.name, error=exc.message)
                except Exception:
                    _log.exception("shadow.poll_crashed", worker=self.name)
                due = min((r.next_at for r in self.running.values()), default=now + 0.2)
                self._stop.wait(
                    min(max(due - self.clock(), 0.005), 0.2, max(next_claim - self.clock(), 0.005))
                )
        finally:
            for running in list(self.running.values()):
                self._drop(running, release=True)

    def _claim(self, now: float) -> None:
        free = self.capacity - len(self.running)
        moment = datetime.fromtimestamp(now, UTC)
        for record in self.nodes.claim(self.name, self.lease, moment, free):
            try:
                self.running[record.id] = self._start(record, self.clock())
                _log.info("shadow.started", shadow=record.id, twin=record.twin, attempt=record.attempts)
            except KgtwinError as exc:
                _log.warning("shadow.failed", shadow=record.id, error=exc.message)
                self.nodes.fail(record, exc.to_dict())
            # Starting one takes a replay: those already running keep to their grid meanwhile.
            self._tick(self.clock())

    def _renew(self, now: float) -> None:
        moment = datetime.fromtimestamp(now, UTC)
        for running in list(self.running.values()):
            if not self.nodes.renew(running.record, self.lease, moment):
                _log.info("shadow.dropped", shadow=running.record.id, worker=self.name)
                self._drop(running, release=False)

    def _drop(self, running: _Running, *, release: bool) -> None:
        self.running.pop(running.record.id, None)
        running.instance.close()
        if release:
            try:
                self.nodes.release(running.record)
            except KgtwinError as exc:
                _log.warning("shadow.release_failed", shadow=running.record.id, error=exc.message)

    def _start(self, record: ShadowRecord, now: float) -> _Running:
        spec = spec_of(record.spec)
        stored = self.library.get(record.fmu)
        attributes = read_twin(self.graph, self.models(), record.twin)
        ref = telemetry_ref_of(attributes, record.twin)
        description = stored.description
        step = spec.step
        start = math.floor((now - spec.history_s) / step) * step
        at_start = datetime.fromtimestamp(start, UTC)
        sources = spec.sources()
        parameters: list[tuple[FmuVariable, Any]] = []
        inputs: list[tuple[FmuVariable, str, float]] = []
        for name, source in sources.items():
            variable = description.variable(name)
            assert variable is not None  # checked when the shadow was started
            if isinstance(source, ConstantSource):
                parameters.append((variable, check_value(variable, source.constant, f"/bindings/{name}")))
            elif isinstance(source, PropertySource):
                value = property_of(attributes, source.property)
                if value is not None:
                    value = scaled(value, source)
                    parameters.append((variable, check_value(variable, value, f"/bindings/{name}")))
            elif isinstance(source, LatestSource):
                if variable.causality == "input":
                    inputs.append((variable, source.latest, source.scale))
                else:
                    value = self._value_at(ref, source.latest, at_start, spec.history_s + 86400.0)
                    if value is not None:
                        value = scaled(value, source)
                        parameters.append((variable, check_value(variable, value, f"/bindings/{name}")))
        outputs = [(description.variable(n), spec.telemetry_of(n), o.limits) for n, o in spec.outputs.items()]
        instance = FmuInstance(
            description, unpacked(stored.path, stored.reference.sha256, description), record.twin
        )
        try:
            instance.start(0.0, parameters)
            running = _Running(record, spec, instance, ref, inputs, outputs, start)  # type: ignore[arg-type]
            self._replay(running, now)
        except BaseException:
            instance.close()
            raise
        return running

    def _value_at(self, ref: TelemetryRef, name: str, at: datetime, lookback_s: float) -> float | None:
        """The value at ``at``: the last before it, else (a twin newer than the replay) the first after."""
        since = at - timedelta(seconds=lookback_s)
        samples = self.telemetry.query([ref], name, since, datetime.fromtimestamp(self.clock(), UTC))[0]
        numbers = [(s.time, float(s.value)) for s in samples if _number(s.value)]
        before = [v for t, v in numbers if t <= at]
        if before:
            return before[-1]
        return numbers[0][1] if numbers else None

    def _replay(self, running: _Running, now: float) -> None:
        """Step through recorded telemetry from the grid start to the last grid point before now."""
        step = running.spec.step
        steps = int((now - running.grid_s) // step)
        start = datetime.fromtimestamp(running.grid_s, UTC)
        since = start - timedelta(seconds=running.spec.history_s + 86400.0)
        until = datetime.fromtimestamp(now, UTC)
        series: dict[str, list[float]] = {}
        for name in running.names:
            samples = self.telemetry.query([running.ref], name, since, until)[0]
            known = [[(s.time - start).total_seconds(), float(s.value)] for s in samples if _number(s.value)]
            series[name] = resample(known, step, steps + 1, "hold") if known else [math.nan] * (steps + 1)
        running.held = [series[n][0] * f for _, n, f in running.inputs]
        points = []
        for k in range(steps):
            measured = {t: series[t][k + 1] for _, t, _ in running.outputs}
            current = [series[n][k + 1] * f for _, n, f in running.inputs]
            points.append(self._step(running, measured, current, None))
        for first in range(0, len(points), _REPLAY_BATCH):
            self.telemetry.write(points[first : first + _REPLAY_BATCH])

    def _tick(self, now: float) -> None:
        """Step every shadow due by ``now``, all together: per round one read and one write.

        A round reads the latest values of every due shadow's telemetry in one ``latest``
        call, steps each shadow once, and writes all their predictions and residuals in one
        ``write``; the drift events follow the write, so a subscriber told of a drift reads
        the residual that caused it. A shadow more than one step behind takes one more
        round per step, with the same values.
        """
        while not self._stop.is_set():
            due = [r for r in self.running.values() if r.next_at <= now]
            if not due:
                return
            names = list(dict.fromkeys(n for r in due for n in r.names))
            found = self.telemetry.latest([r.ref for r in due], names)
            points: list[TelemetryPoint] = []
            events: list[ChangeEvent] = []
            for running, latest in zip(due, found, strict=True):
                values = {n: float(s.value) for n, s in latest.items() if _number(s.value)}
                measured = {t: values.get(t, math.nan) for _, t, _ in running.outputs}
                current = [values.get(n, math.nan) * f for _, n, f in running.inputs]
                points.append(self._step(running, measured, current, events))
            self.telemetry.write(points)
            written = self.clock()
            self.lags.extend(written - r.grid_s for r in due)
            if self.events is not None:
                for event in events:
                    self.events.publish(event)

    def _step(
        self,
        running: _Running,
        measured: Mapping[str, float],
        current: list[float],
        events: list[ChangeEvent] | None,
    ) -> TelemetryPoint:
        """One grid step: inputs held from the previous point, outputs predicted for the next.

        The point to write at the new grid point is handed back; drift events go to
        ``events`` (``None`` while replaying history: no events then).
        """
        held = [c if math.isnan(h) else h for h, c in zip(running.held, current, strict=True)]
        settable = [(v, x) for (v, _, _), x in zip(running.inputs, held, strict=True) if not math.isnan(x)]
        if settable:
            running.instance.set_values(settable)
        running.instance.step(running.spec.step)
        running.grid_s += running.spec.step
        running.held = current
        predicted = running.instance.get_reals([v for v, _, _ in running.outputs])
        fields: dict[str, float] = {}
        for (variable, name, limits), value in zip(running.outputs, predicted, strict=True):
            fields[name + PREDICTED] = value
            actual = measured.get(name, math.nan)
            if math.isnan(actual):
                continue
            residual = actual - value
            fields[name + RESIDUAL] = residual
            if limits is not None:
                event = self._band(running, variable.name, name, residual, value, actual, limits)
                if event is not None and events is not None:
                    events.append(event)
        return TelemetryPoint(
            bucket=running.ref.bucket,
            measurement=running.ref.measurement,
            tags=dict(running.ref.tags),
            fields=fields,
            time_ns=round(running.grid_s * 1e9),
        )

    def _band(
        self,
        running: _Running,
        output: str,
        name: str,
        residual: float,
        predicted: float,
        measured: float,
        limits: tuple[float, float],
    ) -> ChangeEvent | None:
        """The drift (or recovery) event when the residual crossed its band's edge, else ``None``."""
        outside = not limits[0] <= residual <= limits[1]
        was = running.outside.get(name, False)
        running.outside[name] = outside
        if outside == was:
            return None
        kind = ChangeKind.SHADOW_DRIFT if outside else ChangeKind.SHADOW_RECOVERED
        data = {
            "shadow": running.record.id,
            "fmu": running.record.fmu,
            "output": output,
            "telemetry": name,
            "residual": residual,
            "predicted": predicted,
            "measured": measured,
            "band": list(limits),
            "time": datetime.fromtimestamp(running.grid_s, UTC).isoformat().replace("+00:00", "Z"),
        }
        return ChangeEvent.now(kind, running.record.twin, model=None, data=data)


def telemetry_ref_of(attributes: Mapping[str, Any], twin: str) -> TelemetryRef:
    """The twin's telemetry reference, as its subgraph node carries it (``graph.subgraph``)."""
    own = attributes.get(TELEMETRY)
    if isinstance(own, Mapping):
        return TelemetryRef.from_dict(own)
    return TelemetryRef(DEFAULT_BUCKET, short_name(str(attributes.get(MODEL, ""))), {TWIN_TAG: twin})


def _number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)
