"""Bulk import of the twin graph through the ``GraphStore`` port (``docs/bulk-format.md``).

:func:`import_bulk` streams a bulk file (``graph.bulk``) in batches: models not yet
registered are uploaded, every twin and relationship is validated against the ontology,
and valid lines are written so that a re-run changes nothing and a failed import can be
fixed and run again. Each batch first reads which of its twins and edges exist (one read),
then creates the new ones with ``UNWIND ... CREATE``, merges changed twins, rewrites
changed edges and leaves unchanged ones alone. Invalid lines are reported with their
numbers and skipped (like Azure Digital Twins import jobs); ``dry_run`` validates
everything and writes nothing. Nodes and edges get the same physical shape ``TwinGraph``
writes (``docs/graph-model.md``). ``graph.exporter`` writes the same format.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import IO, Any

from graph.bulk import BulkIssue, BulkLine, Section, read_bulk, twin_document
from graph.cypher import MAX_ROWS, identifier
from graph.model_store import GraphModelStore
from graph.physical import DOCUMENT, SYSTEM_KEYS, encode
from graph.store import GraphStore
from ontology.errors import KgtwinError
from ontology.instances import InstanceIssue, validator_for
from ontology.labels import LabelIndex, label_index
from ontology.model import ModelSet, Relationship
from ontology.parser import parse
from ontology.registry import ModelRegistry

DEFAULT_BATCH = 5000
_RELATIONSHIP_KEYS = frozenset({"$dtId", "$relationshipId", "$relationshipName", "$targetId"})
MAX_ISSUES = 1000

# Twins not in the graph when their batch was read are created; the others merged by id.
_CREATE_TWINS = "UNWIND $rows AS row CREATE (t:Twin{labels}) SET t = row"
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
# Relationships are kept by (source, id): the edges of a batch's ids, one read per batch.
_EDGES_OF = """
UNWIND $groups AS g
MATCH (s:Twin {id: g.source})
WITH s, g
MATCH (s)-[r]->(t:Twin) WHERE r.id IN g.ids
RETURN s.id, r.id, type(r), t.id, r._document
"""
# maxMultiplicity: the edges of that name a source has, besides those of ids in the batch.
# (``WITH`` keeps the planner on the id index, whatever its statistics of a young graph say.)
_COUNT_OTHERS = """
UNWIND $groups AS g
MATCH (s:Twin {{id: g.source}})
WITH s, g
MATCH (s)-[r:{type}]->() WHERE NOT r.id IN g.ids
RETURN g.source, count(r)
"""
_DELETE_EDGES = "UNWIND $rows AS row MATCH (:Twin {id: row.source})-[r]->() WHERE r.id = row.rid DELETE r"
_CREATE_EDGES = """
UNWIND $rows AS row
MATCH (s:Twin {{id: row.source}}) MATCH (t:Twin {{id: row.target}})
CREATE (s)-[r:{type}]->(t) SET r = row.props
RETURN count(r)
"""
_UPDATE_EDGES = """
UNWIND $rows AS row
MATCH (:Twin {{id: row.source}})-[r:{type}]->(:Twin {{id: row.target}}) WHERE r.id = row.props.id
SET r = row.props
RETURN count(r)
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
        self.labels: LabelIndex | None = None
        self.pending_twins: list[tuple[int, str, str, dict[str, Any]]] = []
        self.relationships: list[BulkLine] = []
        # Dry run only: the file's valid twins, which are not in the graph to check targets against.
        self.seen: dict[str, str] = {}
        self.now = _now()
        self.declared: dict[tuple[str, str], Relationship | None] = {}
        self.fits: dict[tuple[str, str], bool] = {}

    def ontology(self) -> ModelSet:
        """The registered models, once the file's Models section is uploaded (or parsed, in a dry run)."""
        if self.models is None:
            self.models = self._load_models()
            self.labels = label_index(self.models)
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
        issues = validator_for(models, model).validate_properties(document)
        if issues or not SYSTEM_KEYS.isdisjoint(document):
            self._refuse_all(line.line, f"twin {twin_id!r}", issues + _reserved(document))
            return
        self.pending_twins.append((line.line, twin_id, model, document))
        if len(self.pending_twins) >= self.batch_size:
            self._flush_twins()

    def _flush_twins(self) -> None:
        """Refuse twins whose id is taken by a twin of another model, then write the rest by label set.

        Twins the graph does not hold are created, the others merged (left alone when unchanged).
        """
        pending, self.pending_twins = self.pending_twins, []
        if not pending:
            return
        existing = self._models_of({twin_id for _, twin_id, _, _ in pending})
        batch: dict[str, str] = {}
        created: dict[tuple[str, ...], dict[str, dict[str, Any]]] = defaultdict(dict)
        merged: dict[tuple[str, ...], list[dict[str, Any]]] = defaultdict(list)
        assert self.labels is not None
        for number, twin_id, model, document in pending:
            other = existing.get(twin_id) or batch.get(twin_id) or self.seen.get(twin_id)
            if other is not None and other != model:
                message = f"twin {twin_id!r} has model {other}; delete it to give it model {model}"
                self.report.refuse(BulkIssue(number, "CONFLICT", message))
                continue
            self.report.twins += 1
            batch[twin_id] = model
            if self.dry_run:
                self.seen[twin_id] = model
                continue
            system = {"id": twin_id, "model": model, "etag": f'W/"{uuid.uuid4()}"', "updatedAt": self.now}
            labels = self.labels.labels(model)
            if twin_id in existing:
                merged[labels].append({"id": twin_id, "props": encode(document, system)})
            else:  # the last line of an id repeated in the batch wins, as a merge would have it
                created[labels][twin_id] = encode(document, {**system, "createdAt": self.now})
        for labels, by_id in created.items():
            text = _labels(labels)
            self.store.write(_CREATE_TWINS.format(labels=text), {"rows": list(by_id.values())})
        for labels, rows in merged.items():
            self.store.write(_MERGE_TWINS.format(labels=_labels(labels)), {"rows": rows, "now": self.now})

    def relationship(self, line: BulkLine) -> None:
        if self.pending_twins:
            self._flush_twins()
        self.relationships.append(line)
        if len(self.relationships) >= self.batch_size:
            self._flush_relationships()

    def _flush_relationships(self) -> None:
        """Validate a batch against its sources' and targets' models (one read), then write it."""
        batch, self.relationships = self.relationships, []
        if not batch:
            return
        models = self.ontology()
        ids = {line.value["$dtId"] for line in batch} | {line.value["$targetId"] for line in batch}
        known = self._models_of(ids)
        if self.dry_run:
            known.update({twin_id: self.seen[twin_id] for twin_id in ids if twin_id in self.seen})
        rows = [row for line in batch if (row := self._relationship_row(line, models, known)) is not None]
        if self.dry_run:
            self.report.relationships += len(rows)
            return
        rows = self._within_multiplicity(rows)
        self.report.relationships += len(rows)
        self._write_relationships(rows)

    def _within_multiplicity(self, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """The rows that keep their source within ``maxMultiplicity``; the others are refused.

        A row counts the source's edges of its name in the graph (but those of ids in the
        batch, which it rewrites) and the ids of that source and name ahead of it in the batch.
        """
        ids: dict[tuple[str, str], list[str]] = defaultdict(list)
        for row in rows:
            if row["max"] is not None:
                same = ids[row["source"], row["name"]]
                if row["rid"] not in same:
                    same.append(row["rid"])
        if not ids:
            return rows
        others: dict[tuple[str, str], int] = {}
        for name in {name for _, name in ids}:
            groups = [{"source": s, "ids": v} for (s, n), v in ids.items() if n == name]
            query = _COUNT_OTHERS.format(type=identifier(name))
            for source, count in self.store.read(query, {"groups": groups}, max_rows=MAX_ROWS).rows:
                others[str(source), name] = int(count)
        kept = []
        for row in rows:
            key = row["source"], row["name"]
            if row["max"] is None or others.get(key, 0) + ids[key].index(row["rid"]) < row["max"]:
                kept.append(row)
                continue
            message = (
                f"relationship {row['rid']!r} of {row['source']!r}: the source would have more than "
                f"{row['max']} {row['name']!r} relationships, the maxMultiplicity of its model"
            )
            self.report.refuse(BulkIssue(row["line"], "CONFLICT", message))
        return kept

    def _write_relationships(self, rows: list[dict[str, Any]]) -> None:
        """Create new edges, rewrite changed ones (another target or name: replaced), skip the same."""
        final = {(row["source"], row["rid"]): row for row in rows}  # a repeated id: the last line wins
        groups: dict[str, list[str]] = defaultdict(list)
        for source, rid in final:
            groups[source].append(rid)
        found: dict[tuple[str, str], list[tuple[str, str, Any]]] = defaultdict(list)
        query = {"groups": [{"source": s, "ids": v} for s, v in groups.items()]}
        for source, rid, name, target, document in self.store.read(_EDGES_OF, query, max_rows=MAX_ROWS).rows:
            found[str(source), str(rid)].append((str(name), str(target), document))
        removed: list[dict[str, str]] = []
        created: dict[str, list[dict[str, Any]]] = defaultdict(list)
        updated: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for key, row in final.items():
            sent = {"source": row["source"], "target": row["target"], "props": row["props"]}
            old = found.get(key)
            if not old:
                created[row["name"]].append(sent)
            elif len(old) == 1 and old[0][:2] == (row["name"], row["target"]):
                if old[0][2] != row["props"][DOCUMENT]:
                    updated[row["name"]].append(sent)
            else:
                removed.append({"source": row["source"], "rid": row["rid"]})
                created[row["name"]].append(sent)
        if removed:
            self.store.write(_DELETE_EDGES, {"rows": removed})
        short = False
        for template, by_name in ((_UPDATE_EDGES, updated), (_CREATE_EDGES, created)):
            for name, sent_rows in by_name.items():
                result = self.store.write(template.format(type=identifier(name)), {"rows": sent_rows})
                short = short or int(result.rows[0][0]) < len(sent_rows)
        if short:  # a source or target was deleted since the batch was validated
            there = self._models_of({row["source"] for row in rows} | {row["target"] for row in rows})
            for row in rows:
                if row["source"] not in there or row["target"] not in there:
                    self.report.relationships -= 1
                    what = f"relationship {row['rid']!r} of {row['source']!r}"
                    message = f"{what}: its source or target was deleted"
                    self.report.refuse(BulkIssue(row["line"], "NOT_FOUND", message))

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
        if source not in known or target not in known:
            role, twin_id = ("source", source) if source not in known else ("target", target)
            message = f"relationship {rid!r} of {source!r}: its {role} twin {twin_id!r} does not exist"
            self.report.refuse(BulkIssue(line.line, "NOT_FOUND", message))
            return None
        properties = {k: v for k, v in value.items() if k not in _RELATIONSHIP_KEYS}
        declared = self._declared(models, known[source], name)
        issues: list[InstanceIssue] = []
        if properties or declared is None:
            validator = validator_for(models, known[source])
            issues = validator.validate_relationship(name, properties) + _reserved(properties)
        if declared is not None and declared.target is not None:
            fits = self.fits.get((known[target], declared.target))
            if fits is None:
                fits = self.fits[known[target], declared.target] = models.is_a(known[target], declared.target)
            if not fits:
                message = f"{name!r} must point to a {declared.target}, and {target!r} is a {known[target]}"
                issues.append(InstanceIssue("/$targetId", "TARGET_MODEL_INVALID", message))
        if issues:
            self._refuse_all(line.line, f"relationship {rid!r} of {source!r}", issues)
            return None
        assert declared is not None  # validate_relationship reported an unknown name
        return {
            "line": line.line,
            "source": source,
            "target": target,
            "rid": rid,
            "name": name,
            "max": declared.max_multiplicity,
            "props": encode(properties, {"id": rid}) if properties else {"id": rid, DOCUMENT: "{}"},
        }

    def _declared(self, models: ModelSet, model: str, name: str) -> Relationship | None:
        """The relationship ``name`` of ``model`` (cached: ``Interface.relationships`` builds a dict)."""
        key = model, name
        if key not in self.declared:
            self.declared[key] = models[model].relationships.get(name)
        return self.declared[key]

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


def _labels(labels: tuple[str, ...]) -> str:
    return "".join(":" + identifier(label) for label in labels)


def _reserved(document: Mapping[str, Any]) -> list[InstanceIssue]:
    return [
        InstanceIssue(f"/{name}", "PROPERTY_RESERVED", f"{name!r} is a system property of the twin graph")
        for name in document
        if name in SYSTEM_KEYS
    ]


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
