"""FMUs for modelers (REST, multipart) and for front ends (GraphQL): upload, list, inspect, delete.

``POST /fmus?for=<DTMI>`` takes one ``.fmu`` file as multipart ``file`` (``curl -F
file=@room.fmu``) and answers 201 with the stored FMU: its id, SHA-256 and inspected
variables (inputs, outputs, parameters with units and start values). A bad FMU is a 422
naming what is wrong, and nothing is stored. Writing needs ``Permission.MODELS``
(modelers); reading needs ``READ``. GraphQL has ``fmus``, ``fmu(id)`` and ``deleteFmu``.
"""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

import strawberry
from fastapi import APIRouter, File, Query, Request, UploadFile
from fastapi.responses import JSONResponse
from strawberry.scalars import JSON

from api.context import ApiContext, principal_of
from api.roles import Permission
from api.types import Ctx, context
from ontology.errors import BadRequest
from simulation.fmu.library import FmuLibrary, StoredFmu


def library_of(api: ApiContext) -> FmuLibrary:
    return api.require_fmus()


def fmu_json(stored: StoredFmu) -> dict[str, Any]:
    """An FMU as the API shows it: the reference and its description, variables grouped."""
    found = stored.reference.to_dict()
    variables = found.pop("variables", [])
    found["inputs"] = [v for v in variables if v["causality"] == "input"]
    found["outputs"] = [v for v in variables if v["causality"] == "output"]
    found["parameters"] = [v for v in variables if v["causality"] == "parameter"]
    found["variables"] = variables
    return found


def fmu_router(api: ApiContext) -> APIRouter:
    router = APIRouter(prefix="/fmus", tags=["fmus"])

    @router.post("", summary="Upload an FMU for the Interface `for` (modelers).", status_code=201)
    async def upload(
        request: Request,
        file: Annotated[UploadFile, File(description="The .fmu archive.")],
        interface: Annotated[str, Query(alias="for", min_length=1, max_length=4096, description="A DTMI.")],
    ) -> JSONResponse:
        principal_of(request.state).require(Permission.MODELS)
        library = library_of(api)
        data = await file.read(library.max_bytes + 1)
        name = file.filename or "upload.fmu"
        registry = api.registry
        models = registry.models if registry is not None else None
        stored = await asyncio.to_thread(library.add, data, interface, name=name, models=models)
        return JSONResponse(fmu_json(stored), status_code=201)

    @router.get("", summary="The FMUs, or those serving one Interface.")
    async def list_fmus(
        request: Request, interface: Annotated[str | None, Query(alias="for", max_length=4096)] = None
    ) -> list[dict[str, Any]]:
        principal_of(request.state).require(Permission.READ)
        found = await asyncio.to_thread(library_of(api).list, interface)
        return [fmu_json(s) for s in found]

    @router.get("/{fmu_id}", summary="One FMU: its variables, units and start values.")
    async def get_fmu(request: Request, fmu_id: str) -> dict[str, Any]:
        principal_of(request.state).require(Permission.READ)
        return fmu_json(await asyncio.to_thread(library_of(api).get, fmu_id))

    @router.delete("/{fmu_id}", summary="Delete an FMU no active shadow runs (modelers).", status_code=204)
    async def delete_fmu(request: Request, fmu_id: str) -> None:
        principal_of(request.state).require(Permission.MODELS)
        await asyncio.to_thread(delete, api, fmu_id)

    return router


def delete(api: ApiContext, fmu_id: str) -> None:
    """Delete FMU ``fmu_id``; ``Conflict`` while an active shadow runs it."""
    library_of(api).delete(fmu_id)


@strawberry.type(name="Fmu", description="An FMU stored for a DTDL Interface, with its variables.")
class FmuNode:
    id: strawberry.ID
    sha256: str
    name: str
    size: int
    uploaded_at: str
    interface: str = strawberry.field(description="The DTMI of the Interface whose twins it simulates.")
    fmi_version: str
    model_name: str
    generation_tool: str | None
    platforms: list[str]
    inputs: JSON
    outputs: JSON
    parameters: JSON
    variables: JSON = strawberry.field(description="Every variable: name, causality, type, unit, start.")

    @classmethod
    def of(cls, stored: StoredFmu) -> FmuNode:
        found = fmu_json(stored)
        return cls(
            id=strawberry.ID(found["id"]),
            sha256=found["sha256"],
            name=found["name"],
            size=found["size"],
            uploaded_at=found["uploadedAt"],
            interface=found["interface"],
            fmi_version=found["fmiVersion"],
            model_name=found["modelName"],
            generation_tool=found["generationTool"],
            platforms=list(found["platforms"]),
            inputs=JSON(found["inputs"]),
            outputs=JSON(found["outputs"]),
            parameters=JSON(found["parameters"]),
            variables=JSON(found["variables"]),
        )


@strawberry.type
class FmuQuery:
    @strawberry.field(description="The FMUs stored, or those serving one Interface.")
    async def fmus(self, info: Ctx, interface: str | None = None) -> list[FmuNode]:
        library = library_of(context(info).api)
        return [FmuNode.of(s) for s in await asyncio.to_thread(library.list, interface)]

    @strawberry.field(description="One FMU and its variables.")
    async def fmu(self, info: Ctx, id: strawberry.ID) -> FmuNode:
        library = library_of(context(info).api)
        return FmuNode.of(await asyncio.to_thread(library.get, str(id)))


@strawberry.type
class FmuMutation:
    @strawberry.mutation(description="Delete an FMU that no active shadow runs (modelers).")
    async def delete_fmu(self, info: Ctx, id: strawberry.ID) -> strawberry.ID:
        api = context(info, Permission.MODELS).api
        if not str(id):
            raise BadRequest("id must not be empty", details={"argument": "id"})
        await asyncio.to_thread(delete, api, str(id))
        return id
