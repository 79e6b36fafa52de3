"""The ``Mutation`` root: models (modelers), twins and relationships (operators).

Every mutation is one change of the graph, validated against the ontology before anything
is written, and announced on the event bus (subscriptions, MQTT) once committed.
"""

from __future__ import annotations

import asyncio
from typing import Any

import strawberry
from strawberry.scalars import JSON

from api.fmus import FmuMutation
from api.roles import Permission
from api.shadows import ShadowMutation
from api.simulations import SimulationMutation
from api.types import Ctx, ModelNode, RelationshipNode, TwinNode, context
from graph.relabel import upload_models
from ontology.errors import BadRequest, NotFound


@strawberry.type
class Mutation(SimulationMutation, FmuMutation, ShadowMutation):
    @strawberry.mutation(description="Register a DTDL array of Interfaces, all or none (modelers).")
    async def upload_models(self, info: Ctx, models: JSON) -> list[ModelNode]:
        api = context(info, Permission.MODELS).api
        store, registry = api.require_graph(), api.require_registry()
        documents: Any = models
        if isinstance(documents, dict):
            documents = [documents]
        if not isinstance(documents, list) or not documents:
            raise BadRequest("models must be a DTDL Interface or a non-empty array of them")
        stored = await asyncio.to_thread(upload_models, store, registry, documents)
        return [ModelNode(dtmi=m.dtmi) for m in stored]

    @strawberry.mutation(description="Forbid new twins of a model; existing twins keep it (modelers).")
    async def decommission_model(self, info: Ctx, id: strawberry.ID) -> ModelNode:
        registry = context(info, Permission.MODELS).api.require_registry()
        stored = await asyncio.to_thread(registry.decommission, str(id))
        return ModelNode(dtmi=stored.dtmi)

    @strawberry.mutation(description="Forget a model no twin and no other model uses (modelers).")
    async def delete_model(self, info: Ctx, id: strawberry.ID) -> strawberry.ID:
        api = context(info, Permission.MODELS).api
        registry = api.require_registry()
        if api.model_store is None:
            raise BadRequest("this service keeps no models in the graph")
        await asyncio.to_thread(registry.delete, str(id), twin_count=api.model_store.twin_count)
        return id

    @strawberry.mutation(
        description="Create a twin, or replace the properties of the twin of that id and model."
    )
    async def create_twin(
        self, info: Ctx, id: strawberry.ID, model: str, properties: JSON | None = None
    ) -> TwinNode:
        api = context(info, Permission.WRITE_TWINS).api
        registry, twins = api.require_registry(), api.require_twins()
        document = _object(properties, "properties")

        def create() -> TwinNode:
            if registry.knows(model):  # another replica may have registered it a moment ago
                try:
                    twins.get_twin(str(id))
                except NotFound:
                    registry.ensure_instantiable(model)  # a decommissioned model takes no new twin
            return TwinNode(twin=twins.put_twin(str(id), model, document))

        return await asyncio.to_thread(create)

    @strawberry.mutation(
        description="Apply a JSON Patch (RFC 6902) to a twin's properties; ifMatch its etag."
    )
    async def update_twin(
        self, info: Ctx, id: strawberry.ID, patch: JSON, if_match: str | None = None
    ) -> TwinNode:
        twins = context(info, Permission.WRITE_TWINS).api.require_twins()
        if not isinstance(patch, list):
            raise BadRequest("patch must be a JSON Patch: an array of operations", details={"patch": patch})
        twin = await asyncio.to_thread(twins.patch_twin, str(id), patch, if_match=if_match)
        return TwinNode(twin=twin)

    @strawberry.mutation(
        description="Delete a twin; one with relationships only with cascade (which deletes them)."
    )
    async def delete_twin(self, info: Ctx, id: strawberry.ID, cascade: bool = False) -> strawberry.ID:
        twins = context(info, Permission.WRITE_TWINS).api.require_twins()
        await asyncio.to_thread(twins.delete_twin, str(id), cascade=cascade)
        return id

    @strawberry.mutation(
        description="Create relationship id (default name:target) from source to target, or replace it."
    )
    async def create_relationship(
        self,
        info: Ctx,
        source: strawberry.ID,
        target: strawberry.ID,
        name: str,
        properties: JSON | None = None,
        id: strawberry.ID | None = None,
    ) -> RelationshipNode:
        twins = context(info, Permission.WRITE_TWINS).api.require_twins()
        document = _object(properties, "properties")
        # A default id made of name and target: sending the same request twice changes nothing.
        rid = str(id) if id is not None else f"{name}:{target}"
        rel = await asyncio.to_thread(twins.put_relationship, str(source), rid, name, str(target), document)
        return RelationshipNode.of(rel)

    @strawberry.mutation(description="Delete relationship id of twin source.")
    async def delete_relationship(self, info: Ctx, source: strawberry.ID, id: strawberry.ID) -> strawberry.ID:
        twins = context(info, Permission.WRITE_TWINS).api.require_twins()
        await asyncio.to_thread(twins.delete_relationship, str(source), str(id))
        return id


def _object(value: Any, argument: str) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise BadRequest(f"{argument} must be a JSON object", details={"argument": argument})
    return value
