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
migrated and the failed with their reasons. Every endpoint needs ``Permission.MODELS``.
"""

from __future__ import annotations

import io
import json
import uuid
import zipfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, File, Query, Request, Security, UploadFile
from fastapi.responses import JSONResponse
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, ConfigDict, Field

from api.context import ApiContext, principal_of, upload_models
from api.roles import Permission
from graph.cypher import identifier
from graph.events import ChangeEvent, ChangeKind, EventBus
from graph.store import GraphStore
from ontology.errors import BadRequest, ValidationFailed
from ontology.evolution import evolution_report
from ontology.instances import InstanceIssue
from ontology.labels import label_index
from ontology.model import ModelSet
from ontology.parser import MAX_DOCUMENT_BYTES, parse_partial
from ontology.rdf import from_rdf
from ontology.registry import ModelRegistry

MAX_FILES = 10_000
MAX_UNZIPPED_BYTES = 256 * 1024 * 1024
MAX_BATCH = 5_000
_REPORTED = 1_000

_PAGE = """
MATCH (t:Twin {model: $model}) WHERE t.id > $after
RETURN t.id, t._document, t.etag ORDER BY t.id LIMIT $n
"""
_OUTGOING = "MATCH (t:Twin)-[r]->(:Twin) WHERE t.id IN $ids RETURN DISTINCT t.id, type(r)"
_INCOMING = "MATCH (s:Twin)-[r]->(t:Twin) WHERE t.id IN $ids RETURN DISTINCT t.id, s.model, type(r)"
# Compare-and-set on each twin's etag: a twin changed since it was validated is left as it is.
_MIGRATE = """
UNWIND $rows AS row
MATCH (t:Twin {{id: row.id}})
WHERE t.model = $old AND t.etag = row.etag
SET t.model = $new, t.etag = row.next, t.updatedAt = $now
{labels}
RETURN t.id
"""


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


@dataclass
class _Population:
    """What moving the twins of one version to another does, accumulated batch by batch."""

    source: str
    target: str
    twins: int = 0
    valid: int = 0
    migrated: int = 0
    batches: int = 0
    failed: list[dict[str, Any]] = field(default_factory=list)
    failed_count: int = 0
    diff: dict[str, Any] = field(default_factory=dict)

    def fail(self, twin_id: str, issues: Sequence[dict[str, Any]]) -> None:
        self.failed_count += 1
        if len(self.failed) < _REPORTED:
            self.failed.append({"twinId": twin_id, "issues": list(issues)})

    def to_dict(self, *, migrated: bool) -> dict[str, Any]:
        report: dict[str, Any] = {
            "from": self.source,
            "to": self.target,
            **self.diff,
            "twins": self.twins,
            "ready": self.valid,
            "blockedCount": self.failed_count,
            "blocked": self.failed,
            "truncated": self.failed_count > len(self.failed),
        }
        if migrated:
            report |= {"migrated": self.migrated, "batches": self.batches}
        return report


def modeling_router(context: ApiContext) -> APIRouter:
    """The modelers' REST endpoints on ``context``'s registry and graph."""
    router = APIRouter(prefix="/models", tags=["modeling"], dependencies=[Depends(_modeler)])

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
        graph, registry, _ = context.require_graph()
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
        graph, registry, _ = context.require_graph()
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
        graph, registry, _ = context.require_graph()
        _check_pair(registry, source, target)
        return _run(graph, registry.models, source, target, MAX_BATCH, migrate=False).to_dict(migrated=False)

    @router.post("/migrations", summary="Move the twins of one version to the next, validated, in batches.")
    def migrate(request: MigrationRequest) -> dict[str, Any]:
        graph, registry, _ = context.require_graph()
        _check_pair(registry, request.source, request.target)
        registry.ensure_instantiable(request.target)
        run = _run(
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
        _run(graph, models, old, new, MAX_BATCH, migrate=False).to_dict(migrated=False)
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


# -- evolution and migration --------------------------------------------------------------------


def _run(
    graph: GraphStore,
    models: ModelSet,
    source: str,
    target: str,
    batch: int,
    *,
    migrate: bool,
    events: EventBus | None = None,
) -> _Population:
    """Check (and with ``migrate``, move) every twin of ``source``, ``batch`` twins at a time."""
    run = _Population(source, target)
    labels = _relabel(models, source, target)
    after = ""
    while True:
        rows = graph.query_rows(_PAGE, {"model": source, "after": after, "n": batch})
        if not rows:
            break
        after = str(rows[-1][0])
        run.twins += len(rows)
        twins = [(str(twin_id), json.loads(document), str(etag)) for twin_id, document, etag in rows]
        report = evolution_report(models, source, target, [(t, doc) for t, doc, _ in twins])
        if not run.diff:
            run.diff = {
                k: v for k, v in report.to_dict().items() if k not in ("from", "to", "twins", "ready")
            }
        issues = {m.twin_id: [_issue(i) for i in m.issues] for m in report.twins}
        for twin_id, problems in _relationship_issues(
            graph, models, target, [t for t, _, _ in twins]
        ).items():
            issues[twin_id].extend(problems)
        ready = [(t, etag) for t, _, etag in twins if not issues[t]]
        run.valid += len(ready)
        for twin_id, found in issues.items():
            if found:
                run.fail(twin_id, found)
        if migrate:
            run.batches += 1
        if migrate and ready:
            moved = _move(graph, events, source, target, labels, ready)
            run.migrated += len(moved)
            for twin_id, _ in ready:
                if twin_id not in moved:
                    run.fail(twin_id, [_conflict(twin_id)])
        if len(rows) < batch:
            break
    return run


def _relationship_issues(
    graph: GraphStore, models: ModelSet, target: str, ids: list[str]
) -> dict[str, list[dict[str, Any]]]:
    """Relationships a twin would break as a ``target``: its own undeclared, others' target rules."""
    found: dict[str, list[dict[str, Any]]] = {}
    declared = models[target].relationships
    for twin_id, name in graph.query_rows(_OUTGOING, {"ids": ids}):
        if name not in declared:
            found.setdefault(str(twin_id), []).append(
                {
                    "path": f"/$relationships/{name}",
                    "code": "RELATIONSHIP_REMOVED",
                    "message": f"{target} declares no relationship {name!r}, and the twin has one",
                }
            )
    for twin_id, source_model, name in graph.query_rows(_INCOMING, {"ids": ids}):
        source = models.get(str(source_model))
        relationship = source.relationships.get(str(name)) if source is not None else None
        if relationship is not None and relationship.target and not models.is_a(target, relationship.target):
            found.setdefault(str(twin_id), []).append(
                {
                    "path": f"/$incoming/{name}",
                    "code": "TARGET_MODEL_INVALID",
                    "message": f"{name!r} of {source_model} must point to a {relationship.target}, "
                    f"and {target} is not one",
                }
            )
    return found


def _relabel(models: ModelSet, source: str, target: str) -> str:
    """The Cypher that swaps a twin's labels from ``source``'s ancestry to ``target``'s."""
    index = label_index(models)
    before, after = index.labels(source), index.labels(target)
    gone = [label for label in before if label not in after]
    new = [label for label in after if label not in before]
    parts = []
    if gone:
        parts.append("REMOVE t" + "".join(":" + identifier(label) for label in gone))
    if new:
        parts.append("SET t" + "".join(":" + identifier(label) for label in new))
    return "\n".join(parts)


def _move(
    graph: GraphStore,
    events: EventBus | None,
    source: str,
    target: str,
    labels: str,
    twins: list[tuple[str, str]],
) -> set[str]:
    """Rewrite the model of ``twins`` (id, etag) in one statement; the ids it moved.

    Each moved twin is announced as ``twin.updated`` with an empty patch (its properties
    are unchanged), its new etag and ``previousModel``, so subscribers see the new model.
    """
    rows = [{"id": twin_id, "etag": etag, "next": f'W/"{uuid.uuid4()}"'} for twin_id, etag in twins]
    now = datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    result = graph.write(
        _MIGRATE.format(labels=labels), {"rows": rows, "old": source, "new": target, "now": now}
    )
    moved = {str(row[0]) for row in result.rows}
    if events is not None:
        for row in rows:
            if row["id"] in moved:
                data = {"etag": row["next"], "patch": [], "previousModel": source}
                events.publish(ChangeEvent(ChangeKind.TWIN_UPDATED, row["id"], now, target, data))
    return moved


def _issue(issue: InstanceIssue) -> dict[str, Any]:
    return issue.to_dict()


def _conflict(twin_id: str) -> dict[str, Any]:
    return {
        "path": "",
        "code": "CONFLICT",
        "message": f"twin {twin_id!r} changed or was deleted while it was being migrated",
    }
