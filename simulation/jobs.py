"""Simulation runs as jobs: ``SimulationRun`` nodes in the twin graph, and the store of them.

A run is asked for (``RunStore.create``: queued), claimed by one worker under a lease
(running), and ends succeeded, failed or cancelled. The graph is the queue: every
transition is **one** conditional write statement, because FalkorDB has no
multi-statement transactions and a statement is the unit both engines make atomic. A
claim first writes the run (``SET r._lock``), which on Neo4j takes the node's write lock
before the status is read, so two workers racing for one run serialise and only the
first sees it claimable; FalkorDB runs write queries one at a time anyway.

Each claim bumps ``attempts``; a worker's later writes (lease renewal, progress, the
outcome) are conditional on its ``worker`` id and that ``attempts`` number (a fencing
token), so a worker that lost its lease can never overwrite the run its successor owns.

Timestamps are UTC ISO 8601 with milliseconds and ``Z``, like twins'; they compare as
text, so ``leaseUntil < $now`` needs no date function on either engine. Lease expiry
uses the workers' clocks: keep them in NTP sync (skew shortens or lengthens a lease).
"""

from __future__ import annotations

import builtins
import json
import threading
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

import structlog

from graph.cursors import decode_cursor, encode_cursor
from graph.store import GraphStore
from graph.subgraph import SubgraphSpec
from graph.times import utc_text
from ontology.errors import BadRequest, Conflict, NotFound, ValidationFailed
from simulation._run_cypher import (
    CANCEL,
    CANDIDATES,
    CLAIM,
    CREATE,
    END,
    GET,
    JSON_KEYS,
    KEYS,
    LABEL,
    LIST,
    RENEW,
    REQUEUE,
    ROOTS,
    SUCCEED,
    SWEEP,
)

_log = structlog.get_logger("simulation.jobs")

MAX_REPLICATIONS = 10_000
MAX_PAGE = 1000
# Neo4j integers are signed 64-bit.
MAX_SEED = 2**63 - 1


class RunStatus(StrEnum):
    """Where a run is in its life; the last three are final."""

    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"

    @property
    def final(self) -> bool:
        return self in (RunStatus.SUCCEEDED, RunStatus.FAILED, RunStatus.CANCELLED)


@dataclass(frozen=True)
class SimulationRun:
    """One simulation asked for: what to simulate, and how far it got.

    ``subset`` is the ``SubgraphSpec`` as JSON (the API's form), ``scenario`` the
    scenario's JSON or ``None``. ``result`` is the JSON summary of a succeeded run (its
    series are in the time-series store, bucket ``simulation``, tagged with ``run_id``);
    ``error`` is ``{code, message, details}`` of a failed one. With ``compare`` the run
    executes the baseline and the scenario with common random numbers, and ``result``
    holds both summaries and their paired differences. ``worker``,
    ``lease_until`` and ``attempts`` say who holds it; ``cancel_requested`` is set when
    a cancel arrives while it runs.
    """

    id: str
    model: str
    subset: Mapping[str, Any]
    parameters: Mapping[str, Any]
    replications: int
    seed: int
    status: RunStatus
    created_at: str
    scenario: Mapping[str, Any] | None = None
    progress: float = 0.0
    started_at: str | None = None
    finished_at: str | None = None
    result: Mapping[str, Any] | None = None
    error: Mapping[str, Any] | None = None
    worker: str | None = None
    lease_until: str | None = None
    attempts: int = 0
    cancel_requested: bool = False
    compare: bool = False

    def to_dict(self) -> dict[str, Any]:
        """The run as JSON, with the API's camelCase names."""
        return {
            "id": self.id,
            "model": self.model,
            "subset": dict(self.subset),
            "scenario": None if self.scenario is None else dict(self.scenario),
            "parameters": dict(self.parameters),
            "replications": self.replications,
            "seed": self.seed,
            "compare": self.compare,
            "status": self.status.value,
            "progress": self.progress,
            "createdAt": self.created_at,
            "startedAt": self.started_at,
            "finishedAt": self.finished_at,
            "result": None if self.result is None else dict(self.result),
            "error": None if self.error is None else dict(self.error),
        }


@dataclass(frozen=True)
class RunPage:
    """One page of runs, newest first; pass ``end_cursor`` as ``after`` for the next."""

    runs: list[SimulationRun]
    end_cursor: str | None
    has_next: bool


RunListener = Callable[[SimulationRun], None]


class RunEvents:
    """In-process fan-out of run changes (status and progress), for GraphQL subscriptions.

    Every change a ``RunStore`` makes, and every progress step a worker of this process
    reports, is published as the run's new snapshot. Listeners run in the publisher's
    thread (keep them short); one that raises is logged and skipped. Another process's
    worker is seen through the node instead: it writes ``progress`` at every heartbeat.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._listeners: list[RunListener] = []

    def subscribe(self, listener: RunListener) -> Callable[[], None]:
        """Call ``listener(run)`` on every change from now on; returns the unsubscriber."""
        with self._lock:
            self._listeners.append(listener)

        def unsubscribe() -> None:
            with self._lock:
                if listener in self._listeners:
                    self._listeners.remove(listener)

        return unsubscribe

    def publish(self, run: SimulationRun) -> None:
        with self._lock:
            listeners = list(self._listeners)
        for listener in listeners:
            try:
                listener(run)
            except Exception:
                # A broken subscriber must not fail the worker or undo a committed change.
                _log.exception("run.listener_failed", run=run.id)


def _now() -> datetime:
    return datetime.now(UTC)


Validator = Callable[[str, Mapping[str, Any], Mapping[str, Any] | None], None]
"""Checks a model name, its parameters and a scenario; raises ``ValidationFailed``."""


class RunStore:
    """Simulation runs kept as ``SimulationRun`` nodes of the twin graph.

    ``validate`` is the runner's check of a model name, its parameters and a scenario
    (``simulation.worker.check_request``), so a bad request is refused before anything is
    written; ``clock`` is for tests of leases.
    """

    def __init__(
        self,
        store: GraphStore,
        *,
        validate: Validator | None = None,
        events: RunEvents | None = None,
        clock: Callable[[], datetime] = _now,
    ) -> None:
        self.store = store
        self.events = events or RunEvents()
        self._validate = validate
        self._clock = clock

    def now(self) -> str:
        """The store's clock, as its timestamps are written."""
        return utc_text(self._clock())

    def ensure_schema(self) -> None:
        """Index ``SimulationRun.id`` (ids are UUIDs: no uniqueness constraint is needed)."""
        if self.store.capabilities.index_if_not_exists:
            self.store.write(f"CREATE INDEX simulation_run_id IF NOT EXISTS FOR (r:{LABEL}) ON (r.id)")
            return
        try:
            self.store.write(f"CREATE INDEX FOR (r:{LABEL}) ON (r.id)")
        except BadRequest as exc:  # the engine has no IF NOT EXISTS for indexes (FalkorDB)
            if "already indexed" not in exc.message:
                raise

    def create(
        self,
        model: str,
        subset: SubgraphSpec | Mapping[str, Any],
        *,
        parameters: Mapping[str, Any] | None = None,
        scenario: Mapping[str, Any] | None = None,
        replications: int = 1,
        seed: int = 0,
        compare: bool = False,
    ) -> SimulationRun:
        """Queue a run, after checking everything that can be checked without running it.

        ``compare`` asks for a what-if comparison: baseline and scenario with common random
        numbers (it needs a scenario).

        ``ValidationFailed`` names the offending field or parameter, ``NotFound`` the
        subset's roots that are not twins; either way nothing is written.
        """
        spec = _spec(subset)
        params = dict(parameters or {})
        if not 1 <= replications <= MAX_REPLICATIONS:
            raise ValidationFailed(
                f"replications must be 1..{MAX_REPLICATIONS}, not {replications}",
                details={"pointer": "/replications"},
            )
        if not 0 <= seed <= MAX_SEED:
            raise ValidationFailed(f"seed must be 0..2**63-1, not {seed}", details={"pointer": "/seed"})
        for name, value in (("parameters", params), ("scenario", scenario)):
            try:
                json.dumps(value, allow_nan=False)
            except (TypeError, ValueError) as exc:
                raise ValidationFailed(
                    f"{name} are not JSON: {exc}", details={"pointer": f"/{name}"}
                ) from exc
        if compare and scenario is None:
            raise ValidationFailed(
                "a comparison run needs a scenario to compare with the baseline",
                details={"pointer": "/scenario"},
            )
        if self._validate is not None:
            self._validate(model, params, scenario)
        rows = self.store.query_rows(ROOTS, {"ids": list(spec.roots)})
        found = {row[0] for row in rows}
        missing = [root for root in spec.roots if root not in found]
        if missing:
            raise NotFound(f"subset roots are not twins: {', '.join(missing)}", details={"twins": missing})
        run = SimulationRun(
            id=str(uuid.uuid4()),
            model=model,
            subset=spec.model_dump(mode="json", by_alias=True),
            scenario=None if scenario is None else dict(scenario),
            parameters=params,
            replications=replications,
            seed=seed,
            status=RunStatus.QUEUED,
            created_at=self.now(),
            compare=compare,
        )
        self.store.write(CREATE, {"props": _properties(run)})
        self.events.publish(run)
        return run

    def get(self, run_id: str) -> SimulationRun:
        """The run ``run_id``; ``NotFound`` when there is none."""
        rows = self.store.query_rows(GET, {"id": run_id})
        if not rows:
            raise NotFound(f"simulation run {run_id!r} does not exist", details={"run": run_id})
        return _run(rows[0])

    def list(self, status: RunStatus | None = None, first: int = 100, after: str | None = None) -> RunPage:
        """Runs newest first, optionally of one status, paged by cursor (never by offset)."""
        if not 1 <= first <= MAX_PAGE:
            raise BadRequest(f"first must be 1..{MAX_PAGE}, not {first}")
        at, last = _decode_cursor(after, status) if after else (None, None)
        rows = self.store.query_rows(
            LIST,
            {"status": None if status is None else status.value, "at": at, "id": last, "limit": first + 1},
        )
        runs = [_run(row) for row in rows[:first]]
        has_next = len(rows) > first
        cursor = _encode_cursor(runs[-1], status) if runs and has_next else None
        return RunPage(runs, cursor, has_next)

    def cancel(self, run_id: str) -> SimulationRun:
        """Cancel a queued run at once, or ask a running one's worker to stop it.

        ``Conflict`` when the run has already ended.
        """
        rows = self.store.write(CANCEL, {"id": run_id, "now": self.now()}).rows
        if not rows:
            raise NotFound(f"simulation run {run_id!r} does not exist", details={"run": run_id})
        run = _run(rows[0])
        if run.status in (RunStatus.SUCCEEDED, RunStatus.FAILED):
            raise Conflict(
                f"simulation run {run_id!r} has already {run.status.value}", details={"run": run_id}
            )
        self.events.publish(run)
        return run

    # The worker's side: claim, renew, end.

    def claim(self, worker: str, lease: timedelta) -> SimulationRun | None:
        """Take the oldest claimable run for ``worker`` until ``lease`` from now, if any."""
        for _ in range(3):
            now = self._clock()
            params = {"now": utc_text(now), "limit": 16}
            candidates = [row[0] for row in self.store.query_rows(CANDIDATES, params)]
            if not candidates:
                return None
            for run_id in candidates:
                rows = self.store.write(
                    CLAIM,
                    {"id": run_id, "worker": worker, "now": utc_text(now), "until": utc_text(now + lease)},
                ).rows
                if rows:
                    run = _run(rows[0])
                    self.events.publish(run)
                    return run
        return None

    def renew(self, run: SimulationRun, lease: timedelta, progress: float) -> bool | None:
        """Extend ``run``'s lease and record its progress.

        Answers whether a cancel was asked for, or ``None`` when the lease was lost (the run
        was reclaimed or cancelled after expiring): its worker must then drop it.
        """
        now = self._clock()
        rows = self.store.write(
            RENEW, {**_owner(run), "until": utc_text(now + lease), "progress": float(progress)}
        ).rows
        return bool(rows[0][0]) if rows else None

    def succeed(
        self, run: SimulationRun, result: Mapping[str, Any], twins: Sequence[str]
    ) -> SimulationRun | None:
        """Record the summary and link the twins covered; ``None`` if the lease was lost."""
        params = {**_owner(run), "now": self.now(), "result": _dumps(result), "twins": list(twins)}
        return self._end(SUCCEED, params)

    def fail(self, run: SimulationRun, error: Mapping[str, Any]) -> SimulationRun | None:
        return self._end(END, {**_owner(run), "status": "failed", "now": self.now(), "error": _dumps(error)})

    def mark_cancelled(self, run: SimulationRun) -> SimulationRun | None:
        return self._end(END, {**_owner(run), "status": "cancelled", "now": self.now(), "error": None})

    def requeue(self, run: SimulationRun) -> SimulationRun | None:
        """Give the run back to the queue (a worker stopping); ``attempts`` keeps counting."""
        return self._end(REQUEUE, _owner(run))

    def sweep(self) -> builtins.list[SimulationRun]:
        """Cancel the runs whose cancel was asked for and whose worker is gone."""
        runs = [_run(row) for row in self.store.write(SWEEP, {"now": self.now()}).rows]
        for run in runs:
            self.events.publish(run)
        return runs

    def _end(self, query: str, params: Mapping[str, Any]) -> SimulationRun | None:
        rows = self.store.write(query, params).rows
        if not rows:
            return None
        run = _run(rows[0])
        self.events.publish(run)
        return run


def _spec(subset: SubgraphSpec | Mapping[str, Any]) -> SubgraphSpec:
    if isinstance(subset, SubgraphSpec):
        return subset
    try:
        return SubgraphSpec.model_validate(subset)
    except ValueError as exc:
        raise ValidationFailed(
            f"subset is not a subgraph spec: {exc}", details={"pointer": "/subset"}
        ) from exc


def _owner(run: SimulationRun) -> dict[str, Any]:
    return {"id": run.id, "worker": run.worker, "attempts": run.attempts}


def _dumps(value: Any) -> str:
    return json.dumps(value, sort_keys=True, allow_nan=False)


def _properties(run: SimulationRun) -> dict[str, Any]:
    """The node's properties: JSON text for the nested values (engines store scalars only)."""
    props = {
        "id": run.id,
        "model": run.model,
        "subset": _dumps(run.subset),
        "parameters": _dumps(run.parameters),
        "replications": run.replications,
        "seed": run.seed,
        "status": run.status.value,
        "progress": run.progress,
        "createdAt": run.created_at,
        "attempts": run.attempts,
        "cancelRequested": run.cancel_requested,
        "compare": run.compare,
    }
    if run.scenario is not None:
        props["scenario"] = _dumps(run.scenario)
    return props


def _run(row: Sequence[Any]) -> SimulationRun:
    values = dict(zip(KEYS, row, strict=True))
    for key in JSON_KEYS:
        if values[key] is not None:
            values[key] = json.loads(values[key])
    return SimulationRun(
        id=values["id"],
        model=values["model"],
        subset=values["subset"],
        scenario=values["scenario"],
        parameters=values["parameters"],
        replications=int(values["replications"]),
        seed=int(values["seed"]),
        status=RunStatus(values["status"]),
        progress=float(values["progress"] or 0.0),
        created_at=values["createdAt"],
        started_at=values["startedAt"],
        finished_at=values["finishedAt"],
        result=values["result"],
        error=values["error"],
        worker=values["worker"],
        lease_until=values["leaseUntil"],
        attempts=int(values["attempts"] or 0),
        cancel_requested=bool(values["cancelRequested"]),
        compare=bool(values["compare"]),
    )


def _encode_cursor(run: SimulationRun, status: RunStatus | None) -> str:
    # Runs are listed by (createdAt, id), a total order that never changes for a run; the
    # status filter travels along so that a cursor resumes only the list it came from.
    return encode_cursor([None if status is None else status.value, run.created_at, run.id])


def _decode_cursor(cursor: str, status: RunStatus | None) -> tuple[str, str]:
    parts = decode_cursor(cursor, 3)
    if parts is None or not all(isinstance(part, str) for part in parts[1:]):
        raise BadRequest(f"malformed cursor {cursor!r}", details={"cursor": cursor})
    if parts[0] != (None if status is None else status.value):
        raise BadRequest("the cursor belongs to a list of another status", details={"cursor": cursor})
    return parts[1], parts[2]
