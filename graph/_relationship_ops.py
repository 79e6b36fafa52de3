"""The relationship half of ``TwinGraph``: put, read, patch and delete relationships.

Split from ``graph.twins`` by concept; ``TwinGraph`` inherits it, so callers see one
object. Like the twin operations, each change is one statement with its guards inside
(multiplicity, create-only, compare-and-set on the edge's document and etag), validated
against the source's model before anything is written and announced once it returned.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from graph import _statements as sql
from graph._version import bump
from graph.cursors import decode_cursor, encode_cursor
from graph.cypher import identifier
from graph.events import ChangeKind, EventBus
from graph.keyset import after as after_key
from graph.physical import DOCUMENT, SYSTEM_KEYS, encode, new_etag
from graph.store import GraphStore
from graph.times import utc_now
from graph.twin import RelationshipPage, Twin, TwinRelationship
from ontology.errors import BadRequest, Conflict, NotFound, PreconditionFailed, ValidationFailed
from ontology.instances import InstanceIssue, validator_for
from ontology.model import ModelSet
from ontology.patch import apply_patch


class RelationshipOps(ABC):
    """Relationship operations over ``store``, checked against ``models`` (see ``TwinGraph``)."""

    store: GraphStore
    events: EventBus | None

    @property
    @abstractmethod
    def models(self) -> ModelSet:
        """The model set relationships are checked against now."""

    @abstractmethod
    def get_twin(self, twin_id: str) -> Twin:
        """Twin ``twin_id``; ``NotFound`` when there is none."""

    @abstractmethod
    def _writable(self, *twin_ids: str) -> None:
        """Raise when this graph may not change these twins (a site's, in the cloud)."""

    @abstractmethod
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
        """Publish a committed change."""

    def put_relationship(
        self,
        source_id: str,
        relationship_id: str,
        name: str,
        target_id: str,
        properties: Mapping[str, Any] | None = None,
        *,
        if_none_match: bool = False,
    ) -> TwinRelationship:
        """Create relationship ``relationship_id`` of ``source_id`` or replace it.

        ``name`` must be a relationship of the source's model, the target's model must be
        (or extend) its ``target``, and the source may hold at most ``maxMultiplicity`` of them.
        With ``if_none_match`` (``If-None-Match: *``) it only creates: ``PreconditionFailed``
        when the source already has a relationship of that id.
        """
        _require_id(relationship_id)
        self._writable(source_id, target_id)
        properties = dict(properties or {})
        source = self.get_twin(source_id)
        target = self.get_twin(target_id)
        declared = self._check_relationship(source, relationship_id, name, target, properties)
        edge_type = identifier(name)
        props = encode(properties, {"id": relationship_id, "etag": new_etag()})
        params = {
            "source": source_id,
            "target": target_id,
            "rid": relationship_id,
            "max": declared,
            "props": props,
            "createOnly": if_none_match,
        }
        result = self.store.write(sql.PUT_RELATIONSHIP.format(type=edge_type), params)
        if not result.rows:
            raise self._relationship_refused(source, relationship_id, name, declared, if_none_match)
        bump(self.store)
        rel, replaced = result.rows[0]
        created = TwinRelationship.from_edge(name, source_id, target_id, rel)
        kind = ChangeKind.RELATIONSHIP_UPDATED if replaced else ChangeKind.RELATIONSHIP_CREATED
        data = {"name": name, "target": target_id, "properties": created.properties}
        self._emit(kind, relationship_id, utc_now(), source.model, data, source=source_id)
        return created

    def _check_relationship(
        self, source: Twin, relationship_id: str, name: str, target: Twin, properties: Mapping[str, Any]
    ) -> int | None:
        """``ValidationFailed`` unless the relationship follows the source's model; its maxMultiplicity."""
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
                    f"{name!r} must point to a {declared.target}, and {target.id!r} is a {target.model}",
                )
            )
        if issues:
            raise ValidationFailed(
                f"relationship {relationship_id!r} of {source.id!r}: {issues[0].message}",
                details={
                    "sourceId": source.id,
                    "relationshipId": relationship_id,
                    "errors": [i.to_dict() for i in issues],
                },
            )
        assert declared is not None  # validate_relationship reported an unknown name
        return declared.max_multiplicity

    def _relationship_refused(
        self, source: Twin, relationship_id: str, name: str, maximum: int | None, create_only: bool
    ) -> Exception:
        """Why a put wrote nothing: the id is taken (create only), or the source holds maxMultiplicity."""
        if create_only and self._edge(source.id, relationship_id) is not None:
            return PreconditionFailed(
                f"twin {source.id!r} already has a relationship {relationship_id!r}",
                details={"sourceId": source.id, "relationshipId": relationship_id},
            )
        existing = self.store.read(
            sql.COUNT_NAMED.format(type=identifier(name)), {"source": source.id, "rid": relationship_id}
        ).rows
        count = existing[0][0] if existing else "?"
        return Conflict(
            f"twin {source.id!r} already has {count} {name!r} relationships, "
            f"the maxMultiplicity ({maximum}) of {source.model}",
            details={"sourceId": source.id, "name": name, "maxMultiplicity": maximum},
        )

    def get_relationship(self, source_id: str, relationship_id: str) -> TwinRelationship:
        """Relationship ``relationship_id`` of twin ``source_id``; ``NotFound`` naming which is missing."""
        found = self._edge(source_id, relationship_id)
        if found is None:
            raise _no_relationship(source_id, relationship_id)
        return found[0]

    def _edge(
        self, source_id: str, relationship_id: str
    ) -> tuple[TwinRelationship, Mapping[str, Any]] | None:
        """The relationship and its raw edge properties; None without one (``NotFound`` without the twin)."""
        rows = self.store.read(sql.GET_RELATIONSHIP, {"source": source_id, "rid": relationship_id}).rows
        if not rows:
            raise NotFound(f"twin {source_id!r} does not exist", details={"twinId": source_id})
        name, rel, source, target = rows[0]
        if rel is None:
            return None
        return TwinRelationship.from_edge(str(name), str(source), str(target), rel), rel

    def patch_relationship(
        self,
        source_id: str,
        relationship_id: str,
        patch: Sequence[Mapping[str, Any]],
        *,
        if_match: str | None = None,
    ) -> TwinRelationship:
        """Apply a JSON Patch to a relationship's properties, only if its etag is ``if_match``.

        The write is a compare-and-set on the edge as read, so a change in between is a
        ``PreconditionFailed`` rather than a lost update; nothing is written when the
        result does not follow the source's model.
        """
        self._writable(source_id)
        current, raw = self._current_edge(source_id, relationship_id, if_match)
        properties = apply_patch(current.properties, patch)
        source = self.get_twin(source_id)
        target = self.get_twin(current.target)
        self._check_relationship(source, relationship_id, current.name, target, properties)
        props = encode(properties, {"id": relationship_id, "etag": new_etag()})
        params = {
            "source": source_id,
            "rid": relationship_id,
            "before": raw.get(DOCUMENT),
            "etag": raw.get("etag") or "",
            "props": props,
        }
        rows = self.store.write(sql.PATCH_RELATIONSHIP, params).rows
        if not rows:
            raise PreconditionFailed(
                f"relationship {relationship_id!r} of {source_id!r} changed or was deleted while it was "
                "being written",
                details={"sourceId": source_id, "relationshipId": relationship_id},
            )
        bump(self.store)
        rel, name, target_id, model = rows[0]
        updated = TwinRelationship.from_edge(str(name), source_id, str(target_id), rel)
        data = {"name": updated.name, "target": updated.target, "properties": updated.properties}
        self._emit(ChangeKind.RELATIONSHIP_UPDATED, relationship_id, utc_now(), model, data, source=source_id)
        return updated

    def _current_edge(
        self, source_id: str, relationship_id: str, if_match: str | None
    ) -> tuple[TwinRelationship, Mapping[str, Any]]:
        found = self._edge(source_id, relationship_id)
        if found is None:
            raise _no_relationship(source_id, relationship_id)
        current, raw = found
        if if_match not in (None, "*", current.etag):
            raise PreconditionFailed(
                f"relationship {relationship_id!r} of {source_id!r} has changed: its etag is "
                f"{current.etag}, not {if_match}",
                details={"sourceId": source_id, "relationshipId": relationship_id, "etag": current.etag},
            )
        return current, raw

    def delete_relationship(
        self, source_id: str, relationship_id: str, *, if_match: str | None = None
    ) -> None:
        """Delete relationship ``relationship_id`` of twin ``source_id``; ``NotFound`` if absent.

        With ``if_match`` (an etag), only while the relationship is at that version.
        """
        self._writable(source_id)
        params: dict[str, Any] = {"source": source_id, "rid": relationship_id, "before": None, "etag": ""}
        if if_match not in (None, "*"):
            _, raw = self._current_edge(source_id, relationship_id, if_match)
            params |= {"before": raw.get(DOCUMENT), "etag": raw.get("etag") or ""}
        rows = self.store.write(sql.DELETE_RELATIONSHIP, params).rows
        if not rows:
            if params["before"] is not None:
                raise PreconditionFailed(
                    f"relationship {relationship_id!r} of {source_id!r} changed while it was being deleted",
                    details={"sourceId": source_id, "relationshipId": relationship_id},
                )
            raise NotFound(
                f"twin {source_id!r} has no relationship {relationship_id!r}",
                details={"sourceId": source_id, "relationshipId": relationship_id},
            )
        bump(self.store)
        at = utc_now()
        for name, target, model in rows:
            data = {"name": name, "target": target}
            self._emit(ChangeKind.RELATIONSHIP_DELETED, relationship_id, at, model, data, source=source_id)

    def relationships(self, twin_id: str, name: str | None = None) -> list[TwinRelationship]:
        """The relationships going out of ``twin_id`` (only those named ``name``, if given), by id."""
        found = self._list(sql.OUTGOING, twin_id)
        return found if name is None else [r for r in found if r.name == name]

    def incoming_relationships(self, twin_id: str) -> list[TwinRelationship]:
        """The relationships pointing at ``twin_id``, by source then id."""
        return self._list(sql.INCOMING, twin_id)

    def relationship_page(
        self, twin_id: str, *, name: str | None = None, after: str | None = None, size: int = 100
    ) -> RelationshipPage:
        """Up to ``size`` relationships going out of ``twin_id`` (named ``name``, if given), by id,
        from behind the cursor ``after`` (a previous page's ``after``; ``BadRequest`` if forged)."""
        key = _cursor(after, 1)
        params: dict[str, Any] = {"id": twin_id, "name": name, "n": max(1, size) + 1}
        caps = self.store.capabilities
        condition = "true" if key is None else after_key("r.id", key[0], params, capabilities=caps)
        statement = sql.OUTGOING_PAGE.format(after=condition)
        return _page(self._list(statement, twin_id, params), size, lambda r: [r.id])

    def incoming_page(self, twin_id: str, *, after: str | None = None, size: int = 100) -> RelationshipPage:
        """Up to ``size`` relationships pointing at ``twin_id``, by source then id, from behind ``after``."""
        key = _cursor(after, 2)
        params: dict[str, Any] = {"id": twin_id, "n": max(1, size) + 1}
        condition = "true"
        if key is not None:
            caps = self.store.capabilities
            source, rid = key
            params["afterSource"] = source
            later_source = after_key("s.id", source, params, capabilities=caps)
            later_id = after_key("r.id", rid, params, capabilities=caps)
            condition = f"({later_source} OR (s.id = $afterSource AND {later_id}))"
        statement = sql.INCOMING_PAGE.format(after=condition)
        return _page(self._list(statement, twin_id, params), size, lambda r: [r.source, r.id])

    def _list(
        self, query: str, twin_id: str, params: Mapping[str, Any] | None = None
    ) -> list[TwinRelationship]:
        rows = self.store.read(query, dict(params) if params is not None else {"id": twin_id}).rows
        if not rows:
            raise NotFound(f"twin {twin_id!r} does not exist", details={"twinId": twin_id})
        return [
            TwinRelationship.from_edge(str(name), str(source), str(target), rel)
            for name, rel, source, target in rows
            if rel is not None
        ]


def _cursor(after: str | None, length: int) -> list[str] | None:
    """The sort key a relationship page's cursor holds; ``BadRequest`` for one no page made."""
    if after is None:
        return None
    key = decode_cursor(after, length)
    if key is None or not all(isinstance(part, str) for part in key):
        raise BadRequest("the continuation token is invalid", details={"continuationToken": after[:100]})
    return key


def _page(
    found: list[TwinRelationship], size: int, key: Callable[[TwinRelationship], list[str]]
) -> RelationshipPage:
    """The first ``size`` of ``found`` (read one further), with the cursor behind them if more follow."""
    size = max(1, size)
    if len(found) <= size:
        return RelationshipPage(found, None)
    return RelationshipPage(found[:size], encode_cursor(key(found[size - 1])))


def _no_relationship(source_id: str, relationship_id: str) -> NotFound:
    return NotFound(
        f"twin {source_id!r} has no relationship {relationship_id!r}",
        details={"sourceId": source_id, "relationshipId": relationship_id},
    )


def _require_id(value: str) -> None:
    if not isinstance(value, str) or not value:
        raise BadRequest(f"a relationship id must be a non-empty string, not {value!r}")
