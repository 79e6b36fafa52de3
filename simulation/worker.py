"""The simulation worker: claims queued runs, runs them under a lease, records the outcome.

A worker takes the oldest claimable run (``RunStore.claim``), runs its job in a thread
and, while it runs, renews the lease and records progress at every heartbeat (at most
one second apart). It stops the job, through the ``cancelled`` callable every job gets,
when:

- a cancel was asked for (seen at the next heartbeat, at once when asked in this process):
  the run ends ``cancelled``;
- the wall-clock limit passes: the run ends ``failed`` with a ``TIMEOUT`` error;
- the worker is told to stop (SIGTERM): the run goes back to the queue for another
  worker, and this one returns;
- the lease was lost (the worker stalled past it and another took the run): the worker
  drops the run without writing anything.

The run's state is written as soon as the worker decides, then the job is given
``grace_s`` to return. A job that ignores ``cancelled`` cannot be killed (it is a thread)
and is abandoned; its late result is refused because every write is fenced by the
worker's id and attempt number. A worker that dies (SIGKILL, power loss) writes
nothing: its run is claimed again once its lease expires.

Result series go to the time-series store, bucket ``simulation``, measurement
``simulation``, tagged ``run_id``, ``twin_id`` and ``series``, field ``value``; a point's
time is the run's ``createdAt`` plus its simulated time, so rerunning a reclaimed run
rewrites the same points (the store's writes are idempotent). They are written before
the run is marked succeeded: a reader who sees ``succeeded`` sees all of them.
"""

from __future__ import annotations

import os
import socket
import threading
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import timedelta
from typing import Any, Protocol

import networkx as nx
import structlog
from pydantic import ValidationError

from graph.store import GraphStore
from graph.subgraph import SubgraphSpec, select_subgraph
from graph.times import parse_utc
from ontology.errors import ErrorCode, KgtwinError, ValidationFailed
from ontology.model import ModelSet
from simulation.executor import Executor
from simulation.jobs import RunStore, SimulationRun
from simulation.models import get_model
from simulation.params import resolve_parameters
from simulation.runner import ResultSeries, compare, run_simulation
from simulation.scenario import Scenario
from telemetry.points import TelemetryPoint
from telemetry.store import TelemetryStore

_log = structlog.get_logger("simulation.worker")

FROM_TELEMETRY = "fromTelemetry"
BUCKET = "simulation"
MEASUREMENT = "simulation"
_BATCH = 5000


@dataclass(frozen=True)
class RunOutcome:
    """What a finished job hands back: the JSON summary, its series, the twins it covered."""

    summary: Mapping[str, Any]
    series: Sequence[ResultSeries] = ()
    twins: Sequence[str] = ()


class RunContext(Protocol):
    """What a job may call while it runs (from any thread)."""

    def progress(self, fraction: float) -> None:
        """Report how far the run is, 0..1."""
        ...

    def cancelled(self) -> bool:
        """Whether the job should stop now (cancel, time limit, worker stopping)."""
        ...


RunJob = Callable[[SimulationRun, RunContext], RunOutcome]
"""Runs one simulation; raises ``KgtwinError`` for bad input, naming twins and parameters."""

PrepareInputs = Callable[
    [str, nx.MultiDiGraph, Mapping[str, Any], ModelSet], tuple[nx.MultiDiGraph, Mapping[str, Any]]
]
"""Reads what a model needs from outside the graph before it plans (the FMU files of an
``fmu`` run): ``(model, subgraph, parameters, models) -> (subgraph, parameters)``."""


@dataclass
class _Attempt:
    """One run of one job by this worker: the job's thread reports here."""

    run: SimulationRun
    runs: RunStore
    deadline: float
    stop: threading.Event = field(default_factory=threading.Event)
    fraction: float = 0.0
    outcome: RunOutcome | None = None
    error: BaseException | None = None
    _published: float = field(default=-1.0)

    def progress(self, fraction: float) -> None:
        self.fraction = min(1.0, max(0.0, float(fraction)))
        if self.fraction - self._published >= 0.01 or self.fraction == 1.0:
            self._published = self.fraction
            self.runs.events.publish(replace(self.run, progress=self.fraction))

    def cancelled(self) -> bool:
        return self.stop.is_set() or time.monotonic() > self.deadline

    def work(self, job: RunJob) -> None:
        try:
            self.outcome = job(self.run, self)
        except BaseException as exc:  # handed to the worker thread, which records it
            self.error = exc


class Worker:
    """Claims and runs simulation runs one at a time until :meth:`stop` is called."""

    def __init__(
        self,
        runs: RunStore,
        job: RunJob,
        *,
        sink: TelemetryStore | None = None,
        lease_s: float = 30.0,
        time_limit_s: float = 3600.0,
        poll_s: float = 1.0,
        grace_s: float = 10.0,
        name: str | None = None,
    ) -> None:
        if lease_s <= 0 or time_limit_s <= 0:
            raise ValueError("the lease and the time limit must be positive")
        self.runs = runs
        self.job = job
        self.sink = sink
        self.lease = timedelta(seconds=lease_s)
        self.time_limit_s = time_limit_s
        self.poll_s = poll_s
        self.grace_s = grace_s
        # The heartbeat must renew well before the lease runs out, even on a slow write.
        self.heartbeat_s = min(lease_s / 3, 1.0)
        self.name = name or f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self._stop = threading.Event()

    def stop(self) -> None:
        """Stop after the current run is requeued (safe from a signal handler)."""
        self._stop.set()

    @property
    def stopping(self) -> bool:
        return self._stop.is_set()

    def serve(self) -> None:
        """Claim and run runs until stopped; wait ``poll_s`` when the queue is empty."""
        _log.info("worker.started", worker=self.name)
        while not self._stop.is_set():
            try:
                self.runs.sweep()
                done = self.run_once()
            except KgtwinError as exc:  # the graph is away: say so and try again later
                _log.warning("worker.poll_failed", worker=self.name, error=exc.message)
                done = None
            except Exception:
                # A bug must not silently end the worker of `kgtwin serve`: log it, go on.
                _log.exception("worker.poll_crashed", worker=self.name)
                done = None
            if done is None:
                self._stop.wait(self.poll_s)
        _log.info("worker.stopped", worker=self.name)

    def run_once(self) -> SimulationRun | None:
        """Claim one run and run it to its end; ``None`` when nothing was claimable."""
        if self._stop.is_set():
            return None
        run = self.runs.claim(self.name, self.lease)
        if run is None:
            return None
        _log.info("run.started", run=run.id, model=run.model, attempt=run.attempts, worker=self.name)
        return self._execute(run)

    def _execute(self, run: SimulationRun) -> SimulationRun:
        attempt = _Attempt(run, self.runs, deadline=time.monotonic() + self.time_limit_s)

        def cancel_at_once(changed: SimulationRun) -> None:
            # A cancel asked in this process needs no heartbeat to be seen.
            if changed.id == run.id and changed.cancel_requested:
                attempt.stop.set()

        unsubscribe = self.runs.events.subscribe(cancel_at_once)
        thread = threading.Thread(target=attempt.work, args=(self.job,), name=f"run-{run.id}", daemon=True)
        ended: SimulationRun | None = None
        try:
            thread.start()
            reason = self._watch(attempt, thread)
            if reason is not None:
                attempt.stop.set()
                ended = self._interrupt(attempt, reason)
                thread.join(self.grace_s)
                if thread.is_alive():
                    _log.warning("run.not_stopping", run=run.id, reason=reason, grace_s=self.grace_s)
            else:
                ended = self._finish(attempt)
        finally:
            # Whatever went wrong here, the job must not run on unwatched.
            attempt.stop.set()
            unsubscribe()
        final = ended or run
        _log.info("run.ended", run=run.id, status=final.status.value, worker=self.name)
        return final

    def _watch(self, attempt: _Attempt, thread: threading.Thread) -> str | None:
        """Heartbeat until the job returns (``None``) or must be stopped (the reason)."""
        while True:
            thread.join(self.heartbeat_s)
            if not thread.is_alive():
                return None
            if self._stop.is_set():
                return "requeue"
            if time.monotonic() > attempt.deadline:
                return "timeout"
            try:
                answer = self.runs.renew(attempt.run, self.lease, attempt.fraction)
            except KgtwinError as exc:
                # A blip of the graph: keep running; if it outlasts the lease, the next
                # renewal finds the run taken and the worker drops it.
                _log.warning("run.renew_failed", run=attempt.run.id, error=exc.message)
                continue
            if answer is None:
                return "lost"
            if answer or attempt.stop.is_set():
                return "cancel"

    def _interrupt(self, attempt: _Attempt, reason: str) -> SimulationRun | None:
        run = attempt.run
        if reason == "requeue":
            return self.runs.requeue(run)
        if reason == "timeout":
            return self.runs.fail(run, self._timeout(run))
        if reason == "cancel":
            return self.runs.mark_cancelled(run)
        _log.warning("run.lease_lost", run=run.id, worker=self.name)
        return None

    def _timeout(self, run: SimulationRun) -> dict[str, Any]:
        limit = f"{self.time_limit_s:g} s"
        message = f"simulation run {run.id} exceeded the wall-clock limit of {limit} and was stopped"
        return {"code": str(ErrorCode.TIMEOUT), "message": message, "details": {"limitS": self.time_limit_s}}

    def _finish(self, attempt: _Attempt) -> SimulationRun | None:
        """Record what the job returned (or raised) once its thread is done."""
        run = attempt.run
        if attempt.stop.is_set():
            return self.runs.mark_cancelled(run)
        if time.monotonic() > attempt.deadline:
            return self.runs.fail(run, self._timeout(run))
        if attempt.error is not None:
            return self.runs.fail(run, _error(run, attempt.error))
        assert attempt.outcome is not None
        outcome = attempt.outcome
        try:
            if self.sink is not None:
                points = series_points(run, outcome.series)
                for start in range(0, len(points), _BATCH):
                    self.sink.write(points[start : start + _BATCH])
            return self.runs.succeed(run, outcome.summary, outcome.twins)
        except KgtwinError as exc:
            return self.runs.fail(run, exc.to_dict())
        except (TypeError, ValueError) as exc:  # a summary that is not JSON
            return self.runs.fail(run, _error(run, exc))


def series_points(run: SimulationRun, series: Sequence[ResultSeries]) -> list[TelemetryPoint]:
    """The points of ``series`` as the time-series store keeps them (see the module doc)."""
    # createdAt has millisecond precision, which a double holds exactly in milliseconds.
    origin = round(parse_utc(run.created_at).timestamp() * 1000) * 1_000_000
    return [
        TelemetryPoint(
            bucket=BUCKET,
            measurement=MEASUREMENT,
            tags={"run_id": run.id, "twin_id": one.twin, "series": one.name},
            fields={"value": float(value)},
            time_ns=origin + round(at * 1e9),
        )
        for one in series
        for at, value in one.points
    ]


def _error(run: SimulationRun, exc: BaseException) -> dict[str, Any]:
    if isinstance(exc, KgtwinError):
        return exc.to_dict()
    # Not one of ours: a bug in a model or the runner. The log keeps the traceback.
    _log.error("run.crashed", run=run.id, exc_info=exc)
    return {"code": "INTERNAL", "message": f"simulation failed: {type(exc).__name__}: {exc}", "details": {}}


def check_request(model: str, parameters: Mapping[str, Any], scenario: Mapping[str, Any] | None) -> None:
    """The checks a run request can pass before any twin is read: ``RunStore``'s validator.

    ``ValidationFailed`` names the unknown model (and the known ones), each offending
    parameter as a JSON Pointer, or the scenario's first problem.
    """
    checked = get_model(model)
    # Requests for measured values are answered when the run starts (they need the subgraph).
    given = {k: v for k, v in parameters.items() if k != FROM_TELEMETRY}
    try:
        checked.parameters.model_validate(given)
    except ValidationError as exc:
        problems = [
            {"parameter": "/" + "/".join(str(p) for p in e["loc"]), "message": e["msg"]}
            for e in exc.errors(include_url=False, include_input=False)
        ]
        first = problems[0]
        raise ValidationFailed(
            f"{model} model: parameter {first['parameter']}: {first['message']}",
            details={"model": model, "problems": problems},
        ) from None
    if scenario is not None:
        _scenario(scenario)


def simulation_job(
    graph: GraphStore,
    models: Callable[[], ModelSet],
    executor: Executor,
    history: TelemetryStore | None = None,
    prepare: PrepareInputs | None = None,
) -> RunJob:
    """The job that runs a ``SimulationRun`` with ``simulation.runner`` on ``executor``.

    It selects the run's subgraph from ``graph`` (``models`` answers the current model
    set), answers ``fromTelemetry`` parameters from ``history`` as of the run's creation
    (so a rerun reads the same window), lets ``prepare`` add what the model reads from
    elsewhere, runs the replications, and hands back the summary, the series and the twins.
    """

    def job(run: SimulationRun, context: RunContext) -> RunOutcome:
        spec = SubgraphSpec.model_validate(run.subset)
        model_set = models()
        subgraph = select_subgraph(graph, model_set, spec)
        parameters: Mapping[str, Any] = run.parameters
        if FROM_TELEMETRY in parameters and history is not None:
            subgraph, parameters = resolve_parameters(
                subgraph, parameters, history, parse_utc(run.created_at)
            )
        if prepare is not None:
            subgraph, parameters = prepare(run.model, subgraph, parameters, model_set)
        scenario = None if run.scenario is None else _scenario(run.scenario)
        if run.compare and scenario is not None:
            comparison = compare(
                run.model,
                subgraph,
                parameters,
                scenario,
                run.replications,
                run.seed,
                executor,
                progress=context.progress,
                cancelled=context.cancelled,
            )
            summary = {
                **comparison.summary,
                "baseline": comparison.baseline.summary,
                "scenario": comparison.scenario.summary,
            }
            series = [
                *(_variant(s, "baseline") for s in comparison.baseline.series),
                *(_variant(s, "scenario") for s in comparison.scenario.series),
            ]
            return RunOutcome(summary, series, comparison.scenario.twins)
        result = run_simulation(
            run.model,
            subgraph,
            parameters,
            scenario,
            run.replications,
            run.seed,
            executor,
            progress=context.progress,
            cancelled=context.cancelled,
        )
        return RunOutcome(result.summary, result.series, result.twins)

    return job


def _variant(series: ResultSeries, variant: str) -> ResultSeries:
    """A comparison's series, named for the side it belongs to (``baseline/level``)."""
    return ResultSeries(series.twin, f"{variant}/{series.name}", series.points)


def _scenario(data: Mapping[str, Any]) -> Scenario:
    try:
        return Scenario.model_validate(data)
    except ValidationError as exc:
        first = exc.errors(include_url=False, include_input=False)[0]
        pointer = "/scenario/" + "/".join(str(p) for p in first["loc"])
        raise ValidationFailed(f"scenario {pointer}: {first['msg']}", details={"pointer": pointer}) from None
