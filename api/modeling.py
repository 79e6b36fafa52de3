"""REST for modelers: upload DTDL folders or Turtle ontologies, check and migrate versions.

GraphQL's ``uploadModels`` takes JSON; modelers hold files. These endpoints take what
they have: several ``.json`` files (a folder, picked in a browser or sent by ``curl -F``),
a ``.zip`` of a folder, or a Turtle ontology (turned into DTDL by ``ontology.from_rdf``).

A DTMI never changes meaning, so a changed model is a new version. Before twins use it,
``GET /models/evolution`` (or an upload with ``dryRun``) says what would break: each twin
of the old version that would not validate against the new one, and why, including
relationships the new version no longer declares and relationships of other twins whose
declared target the new version no longer satisfies. ``POST /models/migrations`` then
moves the twins that validate, in batches, each batch one statement, and reports the
migrated and the failed with their reasons (``graph.migration`` does both). Every
endpoint needs ``Permission.MODELS``.
"""

from __future__ import annotations

import io
import zipfile
from collections.abc import Iterator, Sequence
from typing import Annotated, Any

from fastapi import APIRouter, Depends, File, Query, Request, Security, UploadFile
from fastapi.responses import JSONResponse
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, ConfigDict, Field

from api.context import ApiContext, principal_of
from api.roles import Permission
from graph.migration import migrate_twins
from graph.relabel import upload_models
from graph.store import GraphStore
from ontology.errors import BadRequest, ValidationFailed
from ontology.parser import MAX_DOCUMENT_BYTES, parse_partial
from ontology.rdf import from_rdf
from ontology.registry import ModelRegistry

MAX_FILES = 10_000
MAX_UNZIPPED_BYTES = 256 * 1024 * 1024
MAX_BATCH = 5_000


# Declared for the OpenAPI document (Swagger's "Authorize", clients' generators); the
# credentials themselves are checked by api.auth before a request gets here.
_API_KEY = APIKeyHeader(name="X-API-Key", auto_error=False, description="An API key: kgt_...")
_BEARER = HTTPBearer(auto_error=False, description="An OIDC access token, or an API key")


def _modeler(
    request: Request,
    _key: Annotated[str | None, Security(_API_KEY)] = None,
    _token: Annotated[HTTPAuthorizationCredentials | None, Security(_BEARER)] = None,
) -> None:
    principal_of(request.state).require(Permission.MODELS)


class MigrationRequest(BaseModel):
    """Move the twins of model ``from`` to ``to``, a later version of the same DTMI path."""

    model_config = ConfigDict(populate_by_name=True, extra="forbid")

    source: str = Field(alias="from", min_length=1, max_length=4096, description="The version twins use now.")
    target: str = Field(alias="to", min_length=1, max_length=4096, description="The version to move them to.")
    batch_size: int = Field(default=500, alias="batchSize", ge=1, le=MAX_BATCH)
    dry_run: bool = Field(default=False, alias="dryRun", description="Report only; change nothing.")


def modeling_router(context: ApiContext) -> APIRouter:
    """The modelers' REST endpoints on ``context``'s registry and graph."""

    def follow_models() -> None:
        context.follow_models()

    router = APIRouter(
        prefix="/models", tags=["modeling"], dependencies=[Depends(_modeler), Depends(follow_models)]
    )

    @router.post(
        "/files",
        summary="Upload DTDL files (several .json, or a .zip of a folder) as one batch.",
        response_model=None,
    )
    def upload_files(
        files: Annotated[list[UploadFile], File(description="DTDL .json files, or .zip archives of them.")],
        dry_run: Annotated[
            bool, Query(alias="dryRun", description="Validate and report; store nothing.")
        ] = False,
    ) -> JSONResponse:
        graph, registry = context.require_graph(), context.require_registry()
        named = list(_documents(files))
        return _upload(graph, registry, [n for n, _ in named], [d for _, d in named], dry_run, [])

    @router.post("/turtle", summary="Upload an RDFS/OWL ontology in Turtle, as DTDL.", response_model=None)
    def upload_turtle(
        file: Annotated[UploadFile, File(description="The ontology, in Turtle.")],
        namespace: Annotated[str, Query(max_length=2048, description="DTMI prefix of new Interfaces.")] = (
            "dtmi:imported"
        ),
        version: Annotated[int, Query(ge=2, le=4, description="DTDL version to write.")] = 3,
        dry_run: Annotated[
            bool, Query(alias="dryRun", description="Validate and report; store nothing.")
        ] = False,
    ) -> JSONResponse:
        graph, registry = context.require_graph(), context.require_registry()
        text = _text(file.filename or "ontology.ttl", file.file.read(MAX_UNZIPPED_BYTES + 1))
        imported = from_rdf(text, namespace=namespace, version=version)
        names = [f"{file.filename or 'ontology.ttl'}#{i}" for i in range(len(imported.documents))]
        dropped = [{"subject": n.subject, "message": n.message} for n in imported.dropped]
        documents: list[str | dict[str, Any]] = list(imported.documents)
        return _upload(graph, registry, names, documents, dry_run, dropped)

    @router.get("/evolution", summary="What would break if the twins of one version moved to another.")
    def evolution(
        source: Annotated[str, Query(alias="from", min_length=1, max_length=4096)],
        target: Annotated[str, Query(alias="to", min_length=1, max_length=4096)],
    ) -> dict[str, Any]:
        graph, registry = context.require_graph(), context.require_registry()
        _check_pair(registry, source, target)
        report = migrate_twins(graph, registry.models, source, target, MAX_BATCH, migrate=False)
        return report.to_dict(migrated=False)

    @router.post("/migrations", summary="Move the twins of one version to the next, validated, in batches.")
    def migrate(request: MigrationRequest) -> dict[str, Any]:
        graph, registry = context.require_graph(), context.require_registry()
        _check_pair(registry, request.source, request.target)
        registry.ensure_instantiable(request.target)
        run = migrate_twins(
            graph,
            registry.models,
            request.source,
            request.target,
            request.batch_size,
            migrate=not request.dry_run,
            events=context.events,
        )
        return run.to_dict(migrated=not request.dry_run)

    return router


# -- upload -------------------------------------------------------------------------------------


def _documents(files: Sequence[UploadFile]) -> Iterator[tuple[str, str]]:
    """``(name, text)`` of every DTDL document uploaded: each .json file, each .json inside a .zip."""
    count = 0
    for upload in files:
        name = upload.filename or "upload"
        data = upload.file.read(MAX_UNZIPPED_BYTES + 1)
        if name.lower().endswith(".zip") or data[:4] == b"PK\x03\x04":
            entries = _unzip(name, data)
        else:
            entries = iter([(name, data)])
        for entry, content in entries:
            count += 1
            if count > MAX_FILES:
                raise BadRequest(f"more than {MAX_FILES} files in one upload")
            if len(content) > MAX_DOCUMENT_BYTES:
                raise BadRequest(f"{entry}: larger than {MAX_DOCUMENT_BYTES} bytes", details={"file": entry})
            yield entry, _text(entry, content)


def _unzip(name: str, data: bytes) -> Iterator[tuple[str, bytes]]:
    """The ``.json`` entries of a zip archive, read with bounds (a zip's stated sizes may lie)."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        total = 0
        for info in archive.infolist():
            base = info.filename.rsplit("/", 1)[-1]
            if info.is_dir() or not base.lower().endswith(".json") or base.startswith("."):
                continue
            if info.filename.startswith("__MACOSX/"):
                continue
            with archive.open(info) as member:
                content = member.read(MAX_DOCUMENT_BYTES + 1)
            total += len(content)
            if total > MAX_UNZIPPED_BYTES:
                raise BadRequest(f"{name}: more than {MAX_UNZIPPED_BYTES} bytes unzipped")
            yield f"{name}/{info.filename}", content
    except (zipfile.BadZipFile, zipfile.LargeZipFile, NotImplementedError, EOFError, ValueError) as exc:
        raise BadRequest(f"{name}: not a readable zip archive: {exc}", details={"file": name}) from None


def _text(name: str, data: bytes) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise BadRequest(f"{name}: not UTF-8 text: {exc}", details={"file": name}) from None


def _upload(
    graph: GraphStore,
    registry: ModelRegistry,
    names: Sequence[str],
    documents: Sequence[str | dict[str, Any]],
    dry_run: bool,
    dropped: list[dict[str, str]],
) -> JSONResponse:
    """Validate a batch against the registry, report what its new versions would break, store it."""
    if not documents:
        raise BadRequest("no DTDL document in the upload (.json files, or a .zip of them)")
    registry.refresh()  # the batch may use a model another replica uploaded a moment ago
    result = parse_partial(documents, known=registry.models)
    if result.errors:
        errors = [
            {
                "file": names[e.document],
                "path": e.path,
                "code": str(e.code),
                "message": e.message,
                "dtmi": e.dtmi,
            }
            for e in result.errors
        ]
        first = errors[0]
        more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
        raise ValidationFailed(
            f"{first['file']}:{first['path']}: {first['message']}{more}", details={"errors": errors}
        )
    models = registry.models.merged(result.models)
    evolution = [
        migrate_twins(graph, models, old, new, MAX_BATCH, migrate=False).to_dict(migrated=False)
        for new in result.models
        if (old := _previous(registry, new)) is not None
    ]
    stored: list[str] = []
    if not dry_run:
        stored = [m.dtmi for m in upload_models(graph, registry, list(documents))]
    body = {
        "dryRun": dry_run,
        "models": sorted(result.models) if dry_run else stored,
        "evolution": evolution,
        "dropped": dropped,
    }
    return JSONResponse(body, status_code=200 if dry_run else 201)


def _previous(registry: ModelRegistry, dtmi: str) -> str | None:
    """The latest registered version of ``dtmi``'s path older than ``dtmi``, if any."""
    older = [d for d in registry.versions(dtmi) if _version(d) < _version(dtmi)]
    return older[-1] if older else None


def _version(dtmi: str) -> tuple[int, ...]:
    _, _, version = dtmi.partition(";")
    return tuple(int(p) for p in version.split(".") if p.isdigit())


def _check_pair(registry: ModelRegistry, source: str, target: str) -> None:
    registry.resolve(source)
    registry.resolve(target)
    if source.split(";", 1)[0] != target.split(";", 1)[0] or source == target:
        raise BadRequest(
            f"{target} is not another version of {source}: a migration moves twins between versions "
            "of one DTMI; to change a twin's type, delete it and create it again",
            details={"from": source, "to": target},
        )
