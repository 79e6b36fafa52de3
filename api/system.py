"""The service describing itself: who is calling (``GET /me``) and what runs (``GET /system``).

``/me`` tells a front end the caller's roles and permissions, so it can leave out the
actions the caller may not take instead of letting them fail.

``/system`` is the twin's own deployment in the five dimensions of a digital twin:
physical entities (devices seen by ingest, messages, dead letters), virtual models
(models, twins, simulation runs), data (the graph and time-series backends, pinged now),
services (the processes: API, ingest, worker) and connection (the broker, the open
subscriptions). What only the composition root knows (which services run in this
process, the ingest's counters) comes from the :data:`DeploymentReport` it hands over;
the rest is read from the :class:`~api.context.ApiContext`.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

from fastapi import APIRouter, Request

from api.context import ApiContext, principal_of
from api.roles import Permission
from graph.overview import count_elements
from simulation.jobs import RunStatus

_RECENT_RUNS = 5


@dataclass(frozen=True)
class IngestFigures:
    """The in-process ingest's counters since it started."""

    devices: int
    """Twins that sent at least one value."""
    messages: int
    values: int
    dead_letters: dict[str, int]
    """Rejected messages by reason (they went to the dead-letter topic)."""
    spooled_points: int
    """Points kept on disk while the time-series store did not answer."""
    connected: bool


@dataclass(frozen=True)
class ServiceState:
    """One service of the deployment, as this process sees it."""

    name: str
    """api, ingest or worker."""
    state: str
    """running, stopping, disconnected, or elsewhere (another process; see its own /healthz)."""
    detail: str = ""


@dataclass(frozen=True)
class Deployment:
    """What the composition root reports: the profile, its services, the ingest's figures."""

    profile: str
    """edge (kgtwin serve: everything in one process) or api (kgtwin api)."""
    services: list[ServiceState] = field(default_factory=list)
    ingest: IngestFigures | None = None
    broker: str | None = None
    """The broker's address, without credentials."""


DeploymentReport = Callable[[], Deployment]
"""Called on each ``/system`` request (cheap: counters and flags, no I/O)."""


def system_router(context: ApiContext, report: DeploymentReport) -> APIRouter:
    """``GET /me`` and ``GET /system`` over ``context`` and the composition root's ``report``."""
    router = APIRouter(tags=["system"])
    started = time.monotonic()

    @router.get("/me", summary="The caller: name, roles and permissions.")
    def me(request: Request) -> dict[str, Any]:
        principal = principal_of(request.state)
        return {
            "name": principal.name,
            "roles": sorted(role.value for role in principal.roles),
            "permissions": sorted(p.value for p in principal.permissions),
        }

    @router.get("/system", summary="This deployment in the five dimensions of a digital twin.")
    async def system(request: Request) -> dict[str, Any]:
        principal_of(request.state).require(Permission.READ)
        deployment = report()
        backends, virtual = await asyncio.gather(
            asyncio.to_thread(context.health), asyncio.to_thread(_virtual, context)
        )
        broker = next((vars(b) for b in backends if b.port == "broker"), None)
        return {
            "version": context.version,
            "profile": deployment.profile,
            "uptimeS": round(time.monotonic() - started, 1),
            "physical": _camel(asdict(deployment.ingest)) if deployment.ingest is not None else None,
            "virtual": virtual,
            "data": {"backends": [vars(b) for b in backends if b.port != "broker"]},
            "services": [{"pid": os.getpid(), **asdict(s)} for s in deployment.services],
            "connection": {
                "broker": {**broker, "address": deployment.broker} if broker is not None else None,
                "telemetrySubscriptions": context.latest.watchers if context.latest is not None else None,
            },
        }

    return router


def _virtual(context: ApiContext) -> dict[str, Any]:
    """Models, twins and relationships, and the simulation runs: queued, running, the latest."""
    graph, registry = context.require_graph(), context.require_registry()
    stored = registry.list(include_decommissioned=True)
    twins, relationships = count_elements(graph)
    runs: dict[str, Any] | None = None
    if context.runs is not None:
        active = {
            status.value: len(context.runs.list(status, first=100).runs)
            for status in (RunStatus.QUEUED, RunStatus.RUNNING)
        }
        recent = context.runs.list(None, first=_RECENT_RUNS).runs
        runs = {
            **active,
            "recent": [
                {"id": r.id, "model": r.model, "status": r.status.value, "createdAt": r.created_at}
                for r in recent
            ],
        }
    return {
        "models": len(stored),
        "decommissionedModels": sum(1 for m in stored if m.decommissioned),
        "twins": twins,
        "relationships": relationships,
        "runs": runs,
    }


def _camel(values: dict[str, Any]) -> dict[str, Any]:
    def camel(name: str) -> str:
        head, *rest = name.split("_")
        return head + "".join(part.capitalize() for part in rest)

    return {camel(key): value for key, value in values.items()}
