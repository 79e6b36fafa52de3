"""Bulk import and export of the twin graph through the ``GraphStore`` port.

:func:`import_bulk` streams a bulk file (``graph.bulk``) in batches: models not yet
registered are uploaded, every twin and relationship is validated against the ontology,
and valid lines are written with ``UNWIND ... MERGE`` statements, so a re-run changes
nothing and a failed import can be fixed and run again. Invalid lines are reported with
their numbers and skipped (like Azure Digital Twins import jobs); ``dry_run`` validates
everything and writes nothing. Nodes and edges get the same physical shape
``TwinGraph`` writes (``docs/graph-model.md``). :func:`export_bulk` writes the same format.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import IO, Any

from graph.bulk import (
    BulkIssue,
    BulkLine,
    Section,
    read_bulk,
    relationship_line,
    relationship_properties,
    twin_document,
    twin_line,
    write_bulk,
)
from graph.cypher import MAX_ROWS, identifier
from graph.model_store import GraphModelStore
from graph.physical import SYSTEM_KEYS, decode, encode
from graph.store import GraphStore
from ontology.errors import KgtwinError
from ontology.instances import InstanceIssue, validator_for
from ontology.labels import label_index
from ontology.model import ModelSet
from ontology.parser import parse
from ontology.registry import ModelRegistry

DEFAULT_BATCH = 1000
MAX_ISSUES = 1000

# Unchanged twins (same model, same document) are left alone, etag included: a re-run writes nothing.
_MERGE_TWINS = """
UNWIND $rows AS row
MERGE (t:Twin {{id: row.id}})
WITH t, row, t._document AS before, coalesce(t.createdAt, $now) AS created
WHERE before IS NULL OR before <> row.props._document
SET t = row.props, t.createdAt = created
SET t{labels}
RETURN count(t) AS written
"""
_MODELS_OF = "UNWIND $ids AS id MATCH (t:Twin {id: id}) RETURN t.id, t.model"
# MERGE by (source, id): an edge of that id to another target or of another name is replaced.
# maxMultiplicity: the aggregation runs over the whole batch before any write, so edges of
# this batch are counted by ``row.before`` (those ahead of it in the batch), the others in the graph.
_MERGE_RELATIONSHIPS = """
UNWIND $rows AS row
MATCH (s:Twin {{id: row.source}}), (t:Twin {{id: row.target}})
OPTIONAL MATCH (s)-[same:{type}]->() WHERE NOT same.id IN row.batch
WITH s, t, row, count(same) AS existing
WHERE row.max IS NULL OR existing + row.before < row.max
OPTIONAL MATCH (s)-[old]->(o:Twin) WHERE old.id = row.rid AND (type(old) <> $name OR o.id <> row.target)
DELETE old
WITH s, t, row
MERGE (s)-[r:{type} {{id: row.rid}}]->(t)
SET r = row.props
RETURN row.line AS line
"""
_TWIN_PAGE = "MATCH (t:Twin) WHERE t.id > $after RETURN t.id, t.model, t._document ORDER BY t.id LIMIT $n"
_RELATIONSHIPS_OF = """
UNWIND $ids AS id
MATCH (s:Twin {id: id})-[r]->(t:Twin)
RETURN s.id, r.id, type(r), t.id, r._document ORDER BY s.id, r.id
"""

Progress = Callable[[int], None]


@dataclass
class ImportReport:
    """What an import did: counts of lines written (or that would be, in a dry run) and the refused lines.

    ``issues`` holds the first ``MAX_ISSUES`` refused lines; ``issue_count`` counts them all.
    """

    dry_run: bool = False
    models: int = 0
    twins: int = 0
    relationships: int = 0
    issues: list[BulkIssue] = field(default_factory=list)
    issue_count: int = 0

    @property
    def ok(self) -> bool:
        return self.issue_count == 0

    def refuse(self, issue: BulkIssue) -> None:
        self.issue_count += 1
        if len(self.issues) < MAX_ISSUES:
            self.issues.append(issue)


def import_bulk(
    store: GraphStore,
    stream: IO[bytes],
    *,
    dry_run: bool = False,
    batch_size: int = DEFAULT_BATCH,
    progress: Progress | None = None,
) -> ImportReport:
    """Import a bulk file read from ``stream``; ``progress`` is told the bytes read so far."""
    store.ensure_schema()
    job = _Import(store, dry_run, max(1, batch_size))
    lines = read_bulk(stream)
    for line in lines:
        if progress is not None:
            progress(line.offset)
        if line.issue is not None:
            job.report.refuse(line.issue)
        elif line.section is Section.MODELS:
            job.model_lines.append(line)
        elif line.section is Section.TWINS:
            job.twin(line)
        elif line.section is Section.RELATIONSHIPS:
            job.relationship(line)
    job.finish()
    return job.report


class _Import:
    """One import run: the models, then batches of twins per label set, then of relationships."""

    def __init__(self, store: GraphStore, dry_run: bool, batch_size: int) -> None:
        self.store = store
        self.dry_run = dry_run
        self.batch_size = batch_size
        self.report = ImportReport(dry_run=dry_run)
        self.model_lines: list[BulkLine] = []
        self.models: ModelSet | None = None
        self.twins: dict[tuple[str, ...], list[tuple[int, dict[str, Any]]]] = defaultdict(list)
        self.pending_twins: list[tuple[BulkLine, str, str]] = []
        self.relationships: list[BulkLine] = []
        # Dry run only: the file's valid twins, which are not in the graph to check targets against.
        self.seen: dict[str, str] = {}
        self.now = _now()

    def ontology(self) -> ModelSet:
        """The registered models, once the file's Models section is uploaded (or parsed, in a dry run)."""
        if self.models is None:
            self.models = self._load_models()
        return self.models

    def _load_models(self) -> ModelSet:
        model_store = GraphModelStore(self.store)
        registry = ModelRegistry(model_store)
        new: list[BulkLine] = []
        for line in self.model_lines:
            dtmi = line.value["@id"]
            stored = model_store.get(dtmi)
            if stored is None:
                new.append(line)
            elif stored.document != line.value:
                message = f"model {dtmi} is registered with another document; upload a new version instead"
                self.report.refuse(BulkIssue(line.line, "MODEL_CONFLICT", message))
        if not new:
            return registry.models
        documents = [line.value for line in new]
        try:
            if self.dry_run:
                models = registry.models.merged(parse(documents, known=registry.models))
            else:
                registry.upload(documents)
                models = registry.models
        except KgtwinError as exc:
            where = ", ".join(str(line.line) for line in new)
            self.report.refuse(
                BulkIssue(new[0].line, str(exc.code), f"models of lines {where}: {exc.message}")
            )
            return registry.models
        self.report.models += len(new)
        return models

    def twin(self, line: BulkLine) -> None:
        models = self.ontology()
        value = line.value
        twin_id, model = value["$dtId"], value["$metadata"]["$model"]
        if model not in models:
            self.report.refuse(BulkIssue(line.line, "MODEL_UNKNOWN", f"model {model} is not registered"))
            return
        document = twin_document(value)
        issues = validator_for(models, model).validate_properties(document) + _reserved(document)
        if issues:
            self._refuse_all(line.line, f"twin {twin_id!r}", issues)
            return
        self.pending_twins.append((line, twin_id, model))
        if len(self.pending_twins) >= self.batch_size:
            self._flush_twins()

    def _flush_twins(self) -> None:
        """Refuse twins whose id is taken by a twin of another model, then write the rest by label set."""
        pending, self.pending_twins = self.pending_twins, []
        if not pending:
            return
        existing = self._models_of({twin_id for _, twin_id, _ in pending})
        models = self.ontology()
        labels_of = label_index(models)
        for line, twin_id, model in pending:
            other = existing.get(twin_id) or (self.seen.get(twin_id) if self.dry_run else None)
            if other is not None and other != model:
                message = f"twin {twin_id!r} has model {other}; delete it to give it model {model}"
                self.report.refuse(BulkIssue(line.line, "CONFLICT", message))
                continue
            self.report.twins += 1
            if self.dry_run:
                self.seen[twin_id] = model
                continue
            system = {"id": twin_id, "model": model, "etag": f'W/"{uuid.uuid4()}"', "updatedAt": self.now}
            group = self.twins[labels_of.labels(model)]
            group.append((line.line, {"id": twin_id, "props": encode(twin_document(line.value), system)}))
        for labels, rows in list(self.twins.items()):
            if rows:
                text = "".join(":" + identifier(label) for label in labels)
                self.store.write(
                    _MERGE_TWINS.format(labels=text), {"rows": [r for _, r in rows], "now": self.now}
                )
        self.twins.clear()

    def relationship(self, line: BulkLine) -> None:
        if self.pending_twins:
            self._flush_twins()
        self.relationships.append(line)
        if len(self.relationships) >= self.batch_size:
            self._flush_relationships()

    def _flush_relationships(self) -> None:
        """Validate a batch against its sources' and targets' models (one read), then write it by name."""
        batch, self.relationships = self.relationships, []
        if not batch:
            return
        models = self.ontology()
        ids = {line.value["$dtId"] for line in batch} | {line.value["$targetId"] for line in batch}
        known = self._models_of(ids)
        if self.dry_run:
            known.update({twin_id: self.seen[twin_id] for twin_id in ids if twin_id in self.seen})
        by_name: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for line in batch:
            row = self._relationship_row(line, models, known)
            if row is not None:
                self.report.relationships += 1
                by_name[line.value["$relationshipName"]].append(row)
        if self.dry_run:
            return
        for name, rows in by_name.items():
            _number_by_source(rows)
            query = _MERGE_RELATIONSHIPS.format(type=identifier(name))
            written = {row[0] for row in self.store.write(query, {"rows": rows, "name": name}).rows}
            for row in rows:
                if row["line"] not in written:
                    self.report.relationships -= 1
                    message = (
                        f"relationship {row['rid']!r} of {row['source']!r}: the source would have more than "
                        f"{row['max']} {name!r} relationships, the maxMultiplicity of its model"
                    )
                    self.report.refuse(BulkIssue(row["line"], "CONFLICT", message))

    def _relationship_row(
        self, line: BulkLine, models: ModelSet, known: Mapping[str, str]
    ) -> dict[str, Any] | None:
        value = line.value
        source, rid, name, target = (
            value["$dtId"],
            value["$relationshipId"],
            value["$relationshipName"],
            value["$targetId"],
        )
        what = f"relationship {rid!r} of {source!r}"
        for twin_id, role in ((source, "source"), (target, "target")):
            if twin_id not in known:
                self.report.refuse(
                    BulkIssue(line.line, "NOT_FOUND", f"{what}: its {role} twin {twin_id!r} does not exist")
                )
                return None
        properties = relationship_properties(value)
        issues = validator_for(models, known[source]).validate_relationship(name, properties) + _reserved(
            properties
        )
        declared = models[known[source]].relationships.get(name)
        if (
            declared is not None
            and declared.target is not None
            and not models.is_a(known[target], declared.target)
        ):
            message = f"{name!r} must point to a {declared.target}, and {target!r} is a {known[target]}"
            issues.append(InstanceIssue("/$targetId", "TARGET_MODEL_INVALID", message))
        if issues:
            self._refuse_all(line.line, what, issues)
            return None
        assert declared is not None  # validate_relationship reported an unknown name
        return {
            "line": line.line,
            "source": source,
            "target": target,
            "rid": rid,
            "max": declared.max_multiplicity,
            "props": encode(properties, {"id": rid}),
        }

    def _models_of(self, ids: set[str]) -> dict[str, str]:
        rows = self.store.read(_MODELS_OF, {"ids": sorted(ids)}, max_rows=MAX_ROWS).rows
        return {str(twin_id): str(model) for twin_id, model in rows}

    def _refuse_all(self, line: int, what: str, issues: list[InstanceIssue]) -> None:
        for issue in issues:
            self.report.refuse(BulkIssue(line, issue.code, f"{what}: {issue.path or '/'}: {issue.message}"))

    def finish(self) -> None:
        self.ontology()
        self._flush_twins()
        self._flush_relationships()


def _number_by_source(rows: list[dict[str, Any]]) -> None:
    """Give each row the relationship ids of its source in this batch and how many come before it."""
    batch: dict[str, list[str]] = defaultdict(list)
    for row in rows:
        ids = batch[row["source"]]
        row["before"] = len(ids) if row["rid"] not in ids else ids.index(row["rid"])
        if row["rid"] not in ids:
            ids.append(row["rid"])
        row["batch"] = ids
    for row in rows:
        row["batch"] = list(batch[row["source"]])


def _reserved(document: Mapping[str, Any]) -> list[InstanceIssue]:
    return [
        InstanceIssue(f"/{name}", "PROPERTY_RESERVED", f"{name!r} is a system property of the twin graph")
        for name in document
        if name in SYSTEM_KEYS
    ]


def export_bulk(
    store: GraphStore, out: IO[str], *, page_size: int = DEFAULT_BATCH, progress: Progress | None = None
) -> int:
    """Write every model, twin and relationship as a bulk file; answers the lines written.

    Twins are read in pages of ``page_size`` by id (a cursor, not SKIP), and the
    relationships of each page of sources with one read, so memory stays constant.
    """
    count = 0

    def counted(lines: Iterator[dict[str, Any]]) -> Iterator[dict[str, Any]]:
        nonlocal count
        for line in lines:
            count += 1
            if progress is not None:
                progress(count)
            yield line

    models = (dict(m.document) for m in GraphModelStore(store).list())
    return write_bulk(
        out, counted(models), counted(_twins(store, page_size)), counted(_relationships(store, page_size))
    )


def _pages(store: GraphStore, page_size: int) -> Iterator[list[list[Any]]]:
    after = ""
    while True:
        rows = store.read(_TWIN_PAGE, {"after": after, "n": page_size}, max_rows=MAX_ROWS).rows
        if not rows:
            return
        yield rows
        after = rows[-1][0]


def _twins(store: GraphStore, page_size: int) -> Iterator[dict[str, Any]]:
    for page in _pages(store, page_size):
        for twin_id, model, document in page:
            yield twin_line(twin_id, model, decode({"id": twin_id, "_document": document}))


def _relationships(store: GraphStore, page_size: int) -> Iterator[dict[str, Any]]:
    for page in _pages(store, page_size):
        result = store.read(_RELATIONSHIPS_OF, {"ids": [row[0] for row in page]}, max_rows=MAX_ROWS)
        if result.truncated:
            raise KgtwinError(
                f"twins {page[0][0]!r}..{page[-1][0]!r} have over {MAX_ROWS} relationships; "
                "export with a smaller page size"
            )
        for source, rid, name, target, document in result.rows:
            yield relationship_line(source, rid, name, target, decode({"id": rid, "_document": document}))


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
