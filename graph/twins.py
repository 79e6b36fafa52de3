"""Twin operations: create-or-replace, read and delete twins and their relationships.

:class:`TwinGraph` validates against the caller's :class:`~ontology.ModelSet` before it
writes anything, then sends one generated Cypher statement per change through the
``GraphStore`` port, so each change is atomic on both engines (FalkorDB has no
multi-statement transactions; each of its queries is atomic). Guards inside each
statement (same model, multiplicity) keep the change safe against concurrent writers.
Values only ever travel as parameters; labels and relationship types come from the
validated model set (``label_index``, DTDL names) and are backticked.
"""

from __future__ import annotations

import copy
import json
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from graph.cypher import identifier
from graph.events import ChangeEvent, ChangeKind, EventBus, document_patch, utc_now
from graph.physical import SYSTEM_KEYS, decode, encode
from graph.store import GraphStore
from ontology.errors import BadRequest, Conflict, NotFound, ValidationFailed
from ontology.instances import InstanceIssue, validator_for
from ontology.labels import label_index
from ontology.model import ModelSet
from ontology.patch import apply_patch

_PUT_TWIN = """
MERGE (t:Twin {{id: $id}})
WITH t, t.model AS previous, t._document AS before, coalesce(t.createdAt, $now) AS created
WHERE previous IS NULL OR previous = $model
SET t = $props, t.createdAt = created
SET t{labels}
RETURN properties(t) AS twin, before
"""
# Compare-and-set on the etag: no row back means another writer got there first.
_PATCH_TWIN = """
MATCH (t:Twin {id: $id})
WITH t, t.createdAt AS created
WHERE t.etag = $expected
SET t = $props, t.createdAt = created
RETURN properties(t) AS twin
"""
_GET_TWIN = "MATCH (t:Twin {id: $id}) RETURN properties(t) AS twin"
# Answers the model and the relationships it deletes along, for the change events.
_DELETE_TWIN = """
MATCH (t:Twin {id: $id})
OPTIONAL MATCH (t)-[r]-()
WITH t, collect(DISTINCT CASE WHEN r IS NULL THEN null
    ELSE [r.id, type(r), startNode(r).id, endNode(r).id, startNode(r).model] END) AS links
WHERE size(links) = 0 OR $cascade
WITH t, t.model AS model, links
DETACH DELETE t
RETURN model, links
"""
_COUNT_LINKS = "MATCH (t:Twin {id: $id}) OPTIONAL MATCH (t)-[r]-() RETURN count(r) AS links, t.id AS id"
# Unless the source already has maxMultiplicity other relationships of that name, replaces
# the one of the same id from the same source (whatever its name) and creates the new one;
# when refused it changes nothing. Writing to the source first takes Neo4j's write lock on
# it for the transaction, so concurrent writers count one after the other (FalkorDB runs
# write queries one at a time anyway).
_PUT_RELATIONSHIP = """
MATCH (s:Twin {{id: $source}}), (t:Twin {{id: $target}})
SET s._lock = true REMOVE s._lock
WITH s, t
OPTIONAL MATCH (s)-[same:{type}]->() WHERE same.id <> $rid
WITH s, t, count(same) AS existing
WHERE $max IS NULL OR existing < $max
OPTIONAL MATCH (s)-[old {{id: $rid}}]->()
WITH s, t, old, old IS NOT NULL AS replaced
DELETE old
WITH DISTINCT s, t, replaced
CREATE (s)-[r:{type}]->(t)
SET r = $props
RETURN properties(r) AS rel, replaced
"""
_COUNT_NAMED = "MATCH (s:Twin {{id: $source}})-[r:{type}]->() WHERE r.id <> $rid RETURN count(r) AS n"
_DELETE_RELATIONSHIP = """
MATCH (s:Twin {id: $source})-[r {id: $rid}]->(t)
WITH s, r, type(r) AS name, t.id AS target
DELETE r
RETURN name, target, s.model AS model
"""
_OUTGOING = """
MATCH (s:Twin {id: $id}) OPTIONAL MATCH (s)-[r]->(t:Twin)
RETURN type(r) AS name, properties(r) AS rel, s.id AS source, t.id AS target ORDER BY rel.id
"""
_INCOMING = """
MATCH (t:Twin {id: $id}) OPTIONAL MATCH (s:Twin)-[r]->(t)
RETURN type(r) AS name, properties(r) AS rel, s.id AS source, t.id AS target ORDER BY source, rel.id
"""


@dataclass(frozen=True)
class Twin:
    """A digital twin as stored: its identity, model, version and DTDL property document."""

    id: str
    model: str
    etag: str
    created_at: str
    updated_at: str
    properties: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_node(cls, props: Mapping[str, Any]) -> Twin:
        """The twin stored in a node's properties (see docs/graph-model.md)."""
        return cls(
            id=str(props["id"]),
            model=str(props["model"]),
            etag=str(props["etag"]),
            created_at=str(props["createdAt"]),
            updated_at=str(props["updatedAt"]),
            properties=decode(props),
        )


@dataclass(frozen=True)
class TwinRelationship:
    """One relationship: ``name`` is the DTDL relationship (the edge type), ``id`` is unique per source."""

    id: str
    name: str
    source: str
    target: str
    properties: dict[str, Any] = field(default_factory=dict)


class TwinGraph:
    """The twins of one graph, checked against one model set (given by the caller).

    With ``events``, every change announces itself there once its statement has returned;
    a refused or failed change announces nothing.
    """

    def __init__(self, store: GraphStore, models: ModelSet, *, events: EventBus | None = None) -> None:
        self.store = store
        self.models = models
        self.events = events
        store.ensure_schema()

    def put_twin(self, twin_id: str, model: str, properties: Mapping[str, Any]) -> Twin:
        """Create twin ``twin_id`` or replace its properties; nothing is written when invalid.

        Raises ``ValidationFailed`` listing every issue, and ``Conflict`` when the twin
        exists with another model (delete it first to change its model).
        """
        _require_id(twin_id, "twin id")
        self._check_twin(twin_id, model, properties)
        now = _now()
        labels = "".join(":" + identifier(label) for label in label_index(self.models).labels(model))
        props = encode(properties, {"id": twin_id, "model": model, "etag": _etag(), "updatedAt": now})
        result = self.store.write(
            _PUT_TWIN.format(labels=labels), {"id": twin_id, "model": model, "now": now, "props": props}
        )
        if not result.rows:
            current = self.get_twin(twin_id)
            raise Conflict(
                f"twin {twin_id!r} has model {current.model}; delete it to give it model {model}",
                details={"twinId": twin_id, "model": current.model},
            )
        twin = Twin.from_node(result.rows[0][0])
        before = result.rows[0][1]
        if before is None:
            self._emit(ChangeKind.TWIN_CREATED, twin.id, twin.updated_at, twin.model, _twin_data(twin))
        else:
            patch = document_patch(json.loads(before), twin.properties)
            self._emit(
                ChangeKind.TWIN_UPDATED, twin.id, twin.updated_at, twin.model, _patch_data(twin, patch)
            )
        return twin

    def patch_twin(
        self, twin_id: str, patch: Sequence[Mapping[str, Any]], *, if_match: str | None = None
    ) -> Twin:
        """Apply a JSON Patch (RFC 6902) to the twin's properties, only if its etag is ``if_match``.

        ``if_match`` ``None`` or ``"*"`` accepts any version. The write is a compare-and-set
        on the etag the patch was applied to, so a change in between is a ``Conflict``
        rather than a lost update. Nothing is written when the result is invalid.
        """
        current = self.get_twin(twin_id)
        if if_match not in (None, "*", current.etag):
            raise Conflict(
                f"twin {twin_id!r} has changed: its etag is {current.etag}, not {if_match}",
                details={"twinId": twin_id, "etag": current.etag, "ifMatch": if_match},
            )
        document = apply_patch(current.properties, patch)
        self._check_twin(twin_id, current.model, document)
        props = encode(
            document, {"id": twin_id, "model": current.model, "etag": _etag(), "updatedAt": _now()}
        )
        result = self.store.write(_PATCH_TWIN, {"id": twin_id, "expected": current.etag, "props": props})
        if not result.rows:
            raise Conflict(
                f"twin {twin_id!r} changed or was deleted while it was being patched",
                details={"twinId": twin_id, "ifMatch": current.etag},
            )
        twin = Twin.from_node(result.rows[0][0])
        self._emit(ChangeKind.TWIN_UPDATED, twin.id, twin.updated_at, twin.model, _patch_data(twin, patch))
        return twin

    def _check_twin(self, twin_id: str, model: str, properties: Mapping[str, Any]) -> None:
        """Raise ``ValidationFailed`` listing every issue of a twin document of ``model``."""
        if model not in self.models:
            raise ValidationFailed(
                f"model {model!r} is not known",
                details={"twinId": twin_id, "errors": [_issue("/$metadata/$model", "MODEL_UNKNOWN", model)]},
            )
        issues = validator_for(self.models, model).validate_properties(properties)
        issues += [
            InstanceIssue(f"/{name}", "PROPERTY_RESERVED", f"{name!r} is a system property of the twin graph")
            for name in properties
            if name in SYSTEM_KEYS
        ]
        if issues:
            raise ValidationFailed(
                f"twin {twin_id!r} does not follow {model}: {issues[0].path}: {issues[0].message}"
                + (f" (and {len(issues) - 1} more)" if len(issues) > 1 else ""),
                details={"twinId": twin_id, "dtmi": model, "errors": [i.to_dict() for i in issues]},
            )

    def get_twin(self, twin_id: str) -> Twin:
        """Twin ``twin_id``; ``NotFound`` when there is none."""
        rows = self.store.read(_GET_TWIN, {"id": twin_id}).rows
        if not rows:
            raise NotFound(f"twin {twin_id!r} does not exist", details={"twinId": twin_id})
        return Twin.from_node(rows[0][0])

    def delete_twin(self, twin_id: str, *, cascade: bool = False) -> None:
        """Delete a twin; with relationships (either way) only when ``cascade``, which deletes them too."""
        result = self.store.write(_DELETE_TWIN, {"id": twin_id, "cascade": cascade})
        if result.rows:
            model, links = result.rows[0]
            at = utc_now()
            for rid, name, source, target, source_model in links:
                data = {"name": name, "target": target}
                self._emit(ChangeKind.RELATIONSHIP_DELETED, rid, at, source_model, data, source=source)
            self._emit(ChangeKind.TWIN_DELETED, twin_id, at, model, {})
            return
        links = self.store.read(_COUNT_LINKS, {"id": twin_id}).rows
        if not links:
            raise NotFound(f"twin {twin_id!r} does not exist", details={"twinId": twin_id})
        raise Conflict(
            f"twin {twin_id!r} has {links[0][0]} relationships; delete them first or cascade",
            details={"twinId": twin_id, "relationships": links[0][0]},
        )

    def put_relationship(
        self,
        source_id: str,
        relationship_id: str,
        name: str,
        target_id: str,
        properties: Mapping[str, Any] | None = None,
    ) -> TwinRelationship:
        """Create relationship ``relationship_id`` of ``source_id`` or replace it.

        ``name`` must be a relationship of the source's model, the target's model must be
        (or extend) its ``target``, and the source may hold at most ``maxMultiplicity`` of them.
        """
        _require_id(relationship_id, "relationship id")
        properties = dict(properties or {})
        source = self.get_twin(source_id)
        target = self.get_twin(target_id)
        issues = validator_for(self.models, source.model).validate_relationship(name, properties)
        issues += [
            InstanceIssue(f"/{key}", "PROPERTY_RESERVED", f"{key!r} is a system property of the twin graph")
            for key in properties
            if key in SYSTEM_KEYS
        ]
        declared = self.models[source.model].relationships.get(name)
        if (
            declared is not None
            and declared.target is not None
            and not self.models.is_a(target.model, declared.target)
        ):
            issues.append(
                InstanceIssue(
                    "/$targetId",
                    "TARGET_MODEL_INVALID",
                    f"{name!r} must point to a {declared.target}, and {target_id!r} is a {target.model}",
                )
            )
        if issues:
            raise ValidationFailed(
                f"relationship {relationship_id!r} of {source_id!r}: {issues[0].message}",
                details={
                    "sourceId": source_id,
                    "relationshipId": relationship_id,
                    "errors": [i.to_dict() for i in issues],
                },
            )
        assert declared is not None  # validate_relationship reported an unknown name
        edge_type = identifier(name)
        props = encode(properties, {"id": relationship_id})
        params = {
            "source": source_id,
            "target": target_id,
            "rid": relationship_id,
            "max": declared.max_multiplicity,
            "props": props,
        }
        result = self.store.write(_PUT_RELATIONSHIP.format(type=edge_type), params)
        if not result.rows:
            existing = self.store.read(
                _COUNT_NAMED.format(type=edge_type), {"source": source_id, "rid": relationship_id}
            ).rows
            count = existing[0][0] if existing else "?"
            raise Conflict(
                f"twin {source_id!r} already has {count} {name!r} relationships, "
                f"the maxMultiplicity ({declared.max_multiplicity}) of {source.model}",
                details={"sourceId": source_id, "name": name, "maxMultiplicity": declared.max_multiplicity},
            )
        rel, replaced = result.rows[0]
        created = TwinRelationship(relationship_id, name, source_id, target_id, decode(rel))
        kind = ChangeKind.RELATIONSHIP_UPDATED if replaced else ChangeKind.RELATIONSHIP_CREATED
        data = {"name": name, "target": target_id, "properties": created.properties}
        self._emit(kind, relationship_id, utc_now(), source.model, data, source=source_id)
        return created

    def delete_relationship(self, source_id: str, relationship_id: str) -> None:
        """Delete relationship ``relationship_id`` of twin ``source_id``; ``NotFound`` if absent."""
        rows = self.store.write(_DELETE_RELATIONSHIP, {"source": source_id, "rid": relationship_id}).rows
        if not rows:
            raise NotFound(
                f"twin {source_id!r} has no relationship {relationship_id!r}",
                details={"sourceId": source_id, "relationshipId": relationship_id},
            )
        at = utc_now()
        for name, target, model in rows:
            data = {"name": name, "target": target}
            self._emit(ChangeKind.RELATIONSHIP_DELETED, relationship_id, at, model, data, source=source_id)

    def relationships(self, twin_id: str) -> list[TwinRelationship]:
        """The relationships going out of ``twin_id``, by id."""
        return self._list(_OUTGOING, twin_id)

    def incoming_relationships(self, twin_id: str) -> list[TwinRelationship]:
        """The relationships pointing at ``twin_id``, by source then id."""
        return self._list(_INCOMING, twin_id)

    def _emit(
        self,
        kind: ChangeKind,
        id: str,
        at: str,
        model: str | None,
        data: Mapping[str, Any],
        *,
        source: str | None = None,
    ) -> None:
        """Publish a committed change (callers only get here once the write statement returned)."""
        if self.events is not None:
            # A copy: subscribers must not be able to change the twin the caller got back.
            self.events.publish(ChangeEvent(kind, id, at, model, copy.deepcopy(dict(data)), source))

    def _list(self, query: str, twin_id: str) -> list[TwinRelationship]:
        rows = self.store.read(query, {"id": twin_id}).rows
        if not rows:
            raise NotFound(f"twin {twin_id!r} does not exist", details={"twinId": twin_id})
        return [
            TwinRelationship(str(rel["id"]), str(name), str(source), str(target), decode(rel))
            for name, rel, source, target in rows
            if rel is not None
        ]


def _twin_data(twin: Twin) -> dict[str, Any]:
    return {"etag": twin.etag, "properties": twin.properties}


def _patch_data(twin: Twin, patch: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    return {"etag": twin.etag, "patch": [dict(op) for op in patch]}


def _require_id(value: str, what: str) -> None:
    if not isinstance(value, str) or not value:
        raise BadRequest(f"a {what} must be a non-empty string, not {value!r}")


def _issue(path: str, code: str, model: str) -> dict[str, str]:
    return {"path": path, "code": code, "message": f"model {model!r} is not in the model set"}


def _now() -> str:
    """UTC time in ISO 8601 with milliseconds and ``Z``: sorts as text, filterable in Cypher."""
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _etag() -> str:
    return f'W/"{uuid.uuid4()}"'
