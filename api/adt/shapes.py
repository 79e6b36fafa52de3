"""ADT's JSON shapes: twins, components, relationships, models, routes and jobs, in and out.

One renderer per kind, used by every route that answers it (``GET /digitaltwins/{id}``,
``PUT``, query results...), so a twin looks the same wherever it appears. A twin:

    {"$dtId": id, "$etag": etag, <properties>, <component>: {<properties>, "$metadata": {...}},
     "$metadata": {"$model": dtmi, "$lastUpdateTime": t, <property>: {"lastUpdateTime": t, ...}}}
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from graph.event_routes import EventRoute
from graph.jobs import BulkJob, JobKind
from graph.twin import Twin, TwinRelationship
from graph.twin_metadata import COMPONENT_UPDATE, metadata_of, source_times, without_metadata
from ontology.errors import BadRequest, NotFound, ValidationFailed
from ontology.model import ModelSet
from ontology.model_store import StoredModel

TWIN_ID = "$dtId"
ETAG = "$etag"
METADATA = "$metadata"
MODEL = "$model"
LAST_UPDATE = "$lastUpdateTime"


def components_of(models: ModelSet, model: str) -> frozenset[str]:
    """The Component names of ``model`` (empty for a model no longer registered)."""
    interface = models.get(model)
    return frozenset(interface.components) if interface is not None else frozenset()


def twin_body(twin: Twin, models: ModelSet) -> dict[str, Any]:
    """Twin ``twin`` as ADT shows it."""
    components = components_of(models, twin.model)
    meta = metadata_of(twin.metadata, twin.properties, components, twin.updated_at)
    body: dict[str, Any] = {TWIN_ID: twin.id, ETAG: twin.etag}
    top: dict[str, Any] = {MODEL: twin.model, LAST_UPDATE: twin.updated_at}
    for name, value in twin.properties.items():
        if name in components and isinstance(value, Mapping):
            body[name] = component_body(value, meta.get(name, {}), twin.updated_at)
        else:
            body[name] = value
            top[name] = meta.get(name, {"lastUpdateTime": twin.updated_at})
    for name in sorted(components - twin.properties.keys()):
        body[name] = {METADATA: {}}  # declared, never written: ADT shows an empty Component
    body[METADATA] = top
    return body


def component_body(value: Mapping[str, Any], meta: Mapping[str, Any], updated_at: str) -> dict[str, Any]:
    """A Component's properties with its own ``$metadata``."""
    inner: dict[str, Any] = {LAST_UPDATE: meta.get(COMPONENT_UPDATE, updated_at)}
    inner |= {k: v for k, v in meta.items() if k != COMPONENT_UPDATE}
    return {**value, METADATA: inner}


def component_of(twin: Twin, models: ModelSet, component: str) -> dict[str, Any]:
    """Component ``component`` of a twin as ADT's ``GET .../components/{path}`` answers it."""
    body = twin_body(twin, models)
    value = body.get(component)
    if component not in components_of(models, twin.model) or not isinstance(value, dict):
        raise NotFound(
            f"model {twin.model} of twin {twin.id!r} has no component {component!r}",
            details={"twinId": twin.id, "component": component},
        )
    return value


def twin_input(body: Any, models: ModelSet) -> tuple[str, dict[str, Any], dict[str, Any]]:
    """The model, property document and source times of a twin as ADT's ``PUT`` sends it."""
    if not isinstance(body, dict):
        raise BadRequest("a digital twin is a JSON object", details={"path": ""})
    metadata = body.get(METADATA)
    model = metadata.get(MODEL) if isinstance(metadata, dict) else None
    if not isinstance(model, str) or not model:
        raise ValidationFailed(
            "a digital twin names its model in $metadata.$model",
            details={
                "errors": [{"path": "/$metadata/$model", "code": "MODEL_MISSING", "message": "required"}]
            },
        )
    components = components_of(models, model)
    return model, without_metadata(body, components), source_times(body, components)


def relationship_body(rel: TwinRelationship) -> dict[str, Any]:
    """A relationship as ADT shows it."""
    return {
        "$relationshipId": rel.id,
        ETAG: rel.etag,
        "$sourceId": rel.source,
        "$relationshipName": rel.name,
        "$targetId": rel.target,
        **rel.properties,
    }


def incoming_body(rel: TwinRelationship, prefix: str) -> dict[str, Any]:
    """An incoming relationship as ADT lists it: the link is this surface's path of the relationship."""
    return {
        "$relationshipId": rel.id,
        "$sourceId": rel.source,
        "$relationshipName": rel.name,
        "$relationshipLink": f"{prefix}/digitaltwins/{rel.source}/relationships/{rel.id}",
    }


def relationship_input(body: Any) -> tuple[str, str, dict[str, Any]]:
    """The name, target and properties of a relationship as ADT's ``PUT`` sends it."""
    if not isinstance(body, dict):
        raise BadRequest("a relationship is a JSON object", details={"path": ""})
    name, target = body.get("$relationshipName"), body.get("$targetId")
    missing = [
        k for k, v in (("$relationshipName", name), ("$targetId", target)) if not isinstance(v, str) or not v
    ]
    if missing:
        raise ValidationFailed(
            f"a relationship needs {' and '.join(missing)}",
            details={
                "errors": [{"path": f"/{k}", "code": "FIELD_MISSING", "message": "required"} for k in missing]
            },
        )
    return str(name), str(target), {k: v for k, v in body.items() if not k.startswith("$")}


def model_data(stored: StoredModel, *, include_definition: bool) -> dict[str, Any]:
    """A model as ADT's ``DigitalTwinsModelData``: id, language maps, upload time, decommissioned."""
    document = stored.document
    data: dict[str, Any] = {
        "id": stored.dtmi,
        "displayName": _language_map(document.get("displayName")),
        "description": _language_map(document.get("description")),
        "uploadTime": stored.uploaded_at.isoformat().replace("+00:00", "Z"),
        "decommissioned": stored.decommissioned,
    }
    if include_definition:
        data["model"] = document
    return data


def _language_map(value: object) -> dict[str, str]:
    # DTDL §Display string: a string (in the default language, "en") or a language map.
    if isinstance(value, str):
        return {"en": value}
    if isinstance(value, Mapping):
        return {str(k): str(v) for k, v in value.items()}
    return {}


def route_body(route: EventRoute) -> dict[str, Any]:
    return {"id": route.id, "endpointName": route.endpoint_name, "filter": route.filter}


def job_body(job: BulkJob) -> dict[str, Any]:
    """An import or deletion job as ADT shows it (times absent until they happened)."""
    body: dict[str, Any] = {"id": job.id}
    if job.kind is JobKind.IMPORT:
        body |= {"inputBlobUri": job.input, "outputBlobUri": job.output}
    body |= {"status": job.status.value, "createdDateTime": job.created}
    if job.kind is JobKind.IMPORT:
        body["lastActionDateTime"] = job.last_action
    if job.finished is not None:
        body["finishedDateTime"] = job.finished
    if job.purge is not None:
        body["purgeDateTime"] = job.purge
    if job.error_code is not None:
        body["error"] = {"code": job.error_code, "message": job.error_message or "", "details": []}
    return body
