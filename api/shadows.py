"""Live shadows in GraphQL: ``startShadow``, ``stopShadow`` and ``shadows``.

A shadow (``simulation.fmu.shadow``) is stored at once and picked up by a worker (the one
in ``kgtwin serve``, or a ``kgtwin worker``) within a second; its predictions appear as
the twin's telemetry ``<name>.predicted`` and ``<name>.residual``, readable with
``latest`` and ``telemetry``, and a residual leaving its band is a ``shadow.drift`` event
(``shadowEvents`` here, MQTT ``kgtwin/events/shadow.drift/<twin>``). Starting and
stopping need ``SIMULATE`` (operators); listing needs ``READ``.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator
from typing import Any

import strawberry
from strawberry.scalars import JSON

from api.roles import Permission
from api.types import Ctx, context
from graph.events import ChangeKind
from graph.shadows import ShadowRecord
from ontology.errors import BadRequest
from simulation.fmu.shadow import Shadows

_SHADOW_KINDS = frozenset({ChangeKind.SHADOW_DRIFT, ChangeKind.SHADOW_RECOVERED})


def shadows_of(info: Ctx, permission: Permission) -> Shadows:
    return context(info, permission).api.require_shadows()


@strawberry.type(name="Shadow", description="A live shadow: an FMU following one twin in real time.")
class ShadowNode:
    id: strawberry.ID
    twin: strawberry.ID
    fmu: strawberry.ID
    status: str = strawberry.field(description="active, stopped or failed.")
    step: float
    bindings: JSON
    outputs: JSON
    history_s: float
    created_at: str
    worker: str | None = strawberry.field(description="The worker running it now, if any.")
    lease_until: str | None
    attempts: int = strawberry.field(description="How many times a worker has claimed it.")
    error: JSON | None

    @classmethod
    def of(cls, record: ShadowRecord) -> ShadowNode:
        spec = dict(record.spec)
        return cls(
            id=strawberry.ID(record.id),
            twin=strawberry.ID(record.twin),
            fmu=strawberry.ID(record.fmu),
            status=record.status,
            step=float(spec.get("step", 0.0)),
            bindings=JSON(spec.get("bindings", {})),
            outputs=JSON(spec.get("outputs", {})),
            history_s=float(spec.get("historyS", 0.0)),
            created_at=record.created_at,
            worker=record.worker,
            lease_until=record.lease_until,
            attempts=record.attempts,
            error=JSON(dict(record.error)) if record.error is not None else None,
        )


@strawberry.type(
    description="A shadow's residual left its band (shadow.drift) or came back (shadow.recovered)."
)
class ShadowEvent:
    kind: str
    twin: strawberry.ID
    at: str
    data: JSON = strawberry.field(
        description="shadow, output, telemetry, residual, predicted, measured, band, time."
    )


@strawberry.type
class ShadowQuery:
    @strawberry.field(description="Live shadows, of one twin or one status if given.")
    async def shadows(
        self, info: Ctx, twin: strawberry.ID | None = None, status: str | None = None
    ) -> list[ShadowNode]:
        shadows = shadows_of(info, Permission.READ)
        found = await asyncio.to_thread(shadows.list, None if twin is None else str(twin), status)
        return [ShadowNode.of(r) for r in found]


@strawberry.type
class ShadowMutation:
    @strawberry.mutation(
        description="Start a live shadow of twin with FMU fmu: bindings, outputs {name: {telemetry, band}}, "
        "step in seconds, historyS replayed when a worker (re)starts it (operators)."
    )
    async def start_shadow(
        self,
        info: Ctx,
        twin: strawberry.ID,
        fmu: strawberry.ID,
        outputs: JSON,
        step: float,
        bindings: JSON | None = None,
        history_s: float | None = None,
    ) -> ShadowNode:
        shadows = shadows_of(info, Permission.SIMULATE)
        settings: dict[str, Any] = {"bindings": _object(bindings, "bindings") or {}, "step": step}
        settings["outputs"] = _object(outputs, "outputs")
        if history_s is not None:
            settings["historyS"] = history_s
        record = await asyncio.to_thread(shadows.start, str(twin), str(fmu), settings)
        return ShadowNode.of(record)

    @strawberry.mutation(description="Stop a live shadow (operators).")
    async def stop_shadow(self, info: Ctx, id: strawberry.ID) -> ShadowNode:
        shadows = shadows_of(info, Permission.SIMULATE)
        return ShadowNode.of(await asyncio.to_thread(shadows.stop, str(id)))


@strawberry.type
class ShadowSubscription:
    @strawberry.subscription(description="Drift events of live shadows, of these twins if given.")
    async def shadow_events(
        self, info: Ctx, twins: list[strawberry.ID] | None = None
    ) -> AsyncGenerator[ShadowEvent, None]:
        api = context(info).api
        wanted = {str(t) for t in twins} if twins is not None else None
        with api.events.stream() as stream:
            async for event in stream:
                if event.kind not in _SHADOW_KINDS or (wanted is not None and event.id not in wanted):
                    continue
                yield ShadowEvent(
                    kind=event.kind.value,
                    twin=strawberry.ID(event.id),
                    at=event.at,
                    data=JSON(dict(event.data)),
                )


def _object(value: object, name: str) -> dict[str, Any] | None:
    if value is None:
        return None
    if not isinstance(value, dict):
        raise BadRequest(f"{name} must be a JSON object", details={"argument": name})
    return value
