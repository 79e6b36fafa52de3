"""Simulation runs in GraphQL: start, cancel, read, list, and follow a run's progress.

Runs are jobs in the twin graph (``simulation.jobs.RunStore``); a worker (in this process
on the edge, or ``kgtwin worker`` elsewhere) claims and runs them. ``simulationProgress``
hears this process's changes at once (``RunEvents``) and reads the run's node every
``RUN_POLL_S`` for a worker in another process, and ends after the run's final state.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator
from enum import Enum
from typing import Any

import strawberry
from strawberry.scalars import JSON

from api.roles import Permission
from api.types import Ctx, context
from ontology.errors import BadRequest, NotFound
from simulation.jobs import RunStatus, RunStore, SimulationRun

RUN_POLL_S = 1.0
"""How often simulationProgress reads the run for a worker of another process."""


@strawberry.enum(description="Where a run is in its life; SUCCEEDED, FAILED and CANCELLED are final.")
class SimulationStatus(Enum):
    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"


@strawberry.type(name="SimulationRun", description="One simulation asked for, and how far it got.")
class SimulationRunNode:
    id: strawberry.ID
    model: str = strawberry.field(description="The simulation model (flow, thermal, failure ...).")
    subset: JSON = strawberry.field(description="The subgraph spec: roots, relationships, maxDepth ...")
    scenario: JSON | None
    parameters: JSON
    replications: int
    seed: int
    compare: bool = strawberry.field(
        description="A what-if comparison: baseline and scenario with common random numbers."
    )
    status: SimulationStatus
    progress: float = strawberry.field(description="Share of replications done, 0 to 1.")
    created_at: str
    started_at: str | None
    finished_at: str | None
    result: JSON | None = strawberry.field(description="The summary of a succeeded run.")
    error: JSON | None = strawberry.field(description="{code, message, details} of a failed run.")

    @classmethod
    def of(cls, run: SimulationRun) -> SimulationRunNode:
        return cls(
            id=strawberry.ID(run.id),
            model=run.model,
            subset=JSON(dict(run.subset)),
            scenario=JSON(dict(run.scenario)) if run.scenario is not None else None,
            parameters=JSON(dict(run.parameters)),
            replications=run.replications,
            seed=run.seed,
            compare=run.compare,
            status=SimulationStatus(run.status.value),
            progress=run.progress,
            created_at=run.created_at,
            started_at=run.started_at,
            finished_at=run.finished_at,
            result=JSON(dict(run.result)) if run.result is not None else None,
            error=JSON(dict(run.error)) if run.error is not None else None,
        )


@strawberry.type(description="One page of runs, newest first.")
class SimulationRunPage:
    nodes: list[SimulationRunNode]
    end_cursor: str | None
    has_next_page: bool


def runs_of(info: Ctx, permission: Permission = Permission.READ) -> RunStore:
    """The run store, once the caller is allowed ``permission``."""
    return context(info, permission).api.require_runs()


@strawberry.type
class SimulationQuery:
    @strawberry.field(description="One simulation run; null when there is none.")
    async def simulation_run(self, info: Ctx, id: strawberry.ID) -> SimulationRunNode | None:
        runs = runs_of(info)
        found = await asyncio.to_thread(_get_or_none, runs, str(id))
        return SimulationRunNode.of(found) if found is not None else None

    @strawberry.field(description="Simulation runs newest first, optionally of one status.")
    async def simulation_runs(
        self, info: Ctx, status: SimulationStatus | None = None, first: int = 100, after: str | None = None
    ) -> SimulationRunPage:
        runs = runs_of(info)
        wanted = RunStatus(status.value) if status is not None else None
        page = await asyncio.to_thread(runs.list, wanted, first, after)
        return SimulationRunPage(
            nodes=[SimulationRunNode.of(r) for r in page.runs],
            end_cursor=page.end_cursor,
            has_next_page=page.has_next,
        )


@strawberry.type
class SimulationMutation:
    @strawberry.mutation(description="Queue a simulation of model on a subgraph (operators).")
    async def start_simulation(
        self,
        info: Ctx,
        model: str,
        subset: JSON,
        scenario: JSON | None = None,
        parameters: JSON | None = None,
        replications: int = 1,
        seed: int = 0,
        compare: bool = False,
    ) -> SimulationRunNode:
        runs = runs_of(info, Permission.SIMULATE)
        spec = _object(subset, "subset")
        if spec is None:
            raise BadRequest("subset must be a JSON object", details={"argument": "subset"})
        run = await asyncio.to_thread(
            runs.create,
            model,
            spec,
            parameters=_object(parameters, "parameters"),
            scenario=_object(scenario, "scenario"),
            replications=replications,
            seed=seed,
            compare=compare,
        )
        return SimulationRunNode.of(run)

    @strawberry.mutation(description="Cancel a queued run, or ask a running one to stop (operators).")
    async def cancel_simulation(self, info: Ctx, id: strawberry.ID) -> SimulationRunNode:
        runs = runs_of(info, Permission.SIMULATE)
        return SimulationRunNode.of(await asyncio.to_thread(runs.cancel, str(id)))


@strawberry.type
class SimulationSubscription:
    @strawberry.subscription(
        description="The run now, then each change of status or progress, until it ends."
    )
    async def simulation_progress(
        self, info: Ctx, id: strawberry.ID
    ) -> AsyncGenerator[SimulationRunNode, None]:
        runs = runs_of(info)
        loop = asyncio.get_running_loop()
        changes: asyncio.Queue[SimulationRun] = asyncio.Queue()

        def heard(run: SimulationRun) -> None:
            if run.id == str(id):
                loop.call_soon_threadsafe(changes.put_nowait, run)

        unsubscribe = runs.events.subscribe(heard)
        try:
            run = await asyncio.to_thread(runs.get, str(id))  # NotFound for an unknown run
            last: tuple[RunStatus, float] | None = None
            while True:
                if (run.status, run.progress) != last:
                    last = (run.status, run.progress)
                    yield SimulationRunNode.of(run)
                if run.status.final:
                    return
                try:
                    run = await asyncio.wait_for(changes.get(), RUN_POLL_S)
                except TimeoutError:
                    run = await asyncio.to_thread(runs.get, str(id))
        finally:
            unsubscribe()


def _get_or_none(runs: RunStore, run_id: str) -> SimulationRun | None:
    try:
        return runs.get(run_id)
    except NotFound:
        return None


def _object(value: object, name: str) -> dict[str, Any] | None:
    """A JSON object argument; ``BadRequest`` for any other JSON value."""
    if value is None:
        return None
    if not isinstance(value, dict):
        raise BadRequest(f"{name} must be a JSON object", details={"argument": name})
    return value
