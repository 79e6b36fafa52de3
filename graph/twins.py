"""Twin operations: create-or-replace, read and delete twins and their relationships.

:class:`TwinGraph` validates against the caller's :class:`~ontology.ModelSet` before it
writes anything, then sends one generated Cypher statement per change through the
``GraphStore`` port, so each change is atomic on both engines (FalkorDB has no
multi-statement transactions; each of its queries is atomic). Guards inside each
statement (same model, multiplicity) keep the change safe against concurrent writers.
Values only ever travel as parameters; labels and relationship types come from the
validated model set (``label_index``, DTDL names) and are backticked. The statements are
in ``graph._statements``. Every change renews the graph's version (``graph._version``)
before it is announced, so cached containment trees in any process see it.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from graph import _statements as sql
from graph._relationship_ops import RelationshipOps
from graph._version import bump
from graph.cypher import identifier
from graph.events import ChangeEvent, ChangeKind, EventBus, document_patch
from graph.physical import SYSTEM_KEYS, encode, new_etag
from graph.store import GraphStore
from graph.telemetry import TELEMETRY_COLUMN, ref_from_node, ref_problems, ref_properties
from graph.times import utc_now
from graph.twin import RelationshipPage as RelationshipPage
from graph.twin import Twin as Twin  # re-exported: callers read twins from here too
from graph.twin import TwinRelationship as TwinRelationship
from graph.twin_metadata import (
    METADATA_COLUMN,
    SourceTimes,
    encode_metadata,
    metadata_of,
    split_patch,
    stamp_document,
    stamp_patch,
)
from ontology.errors import BadRequest, Conflict, NotFound, PreconditionFailed, ValidationFailed
from ontology.instances import InstanceIssue, validator_for
from ontology.labels import label_index
from ontology.model import ModelSet
from ontology.patch import apply_patch
from telemetry.refs import TelemetryRef, default_ref

UNCONDITIONAL_ATTEMPTS = 16
"""How often a patch without an etag is applied again after losing its compare-and-set to another write."""


class TwinGraph(RelationshipOps):
    """The twins of one graph, checked against a model set given by the caller.

    ``models`` is the set, or a function answering the current one (a registry whose
    models change as they are uploaded: ``lambda: registry.models``). With ``events``,
    every change announces itself there once its statement has returned; a refused or
    failed change announces nothing. The relationship operations are inherited from
    ``graph._relationship_ops``.
    """

    def __init__(
        self,
        store: GraphStore,
        models: ModelSet | Callable[[], ModelSet],
        *,
        events: EventBus | None = None,
        guard: Callable[[str], None] | None = None,
    ) -> None:
        """``guard`` is called with each twin a change would touch, before it is made, and
        raises to refuse it: the cloud refuses changes to twins an edge site owns
        (``graph.sites.SiteOwnership``)."""
        self.store = store
        self._models = models
        self.events = events
        self.guard = guard
        store.ensure_schema()

    @property
    def models(self) -> ModelSet:
        """The model set twins are checked against now."""
        return self._models() if callable(self._models) else self._models

    def put_twin(
        self,
        twin_id: str,
        model: str,
        properties: Mapping[str, Any],
        *,
        telemetry: TelemetryRef | None = None,
        if_match: str | None = None,
        if_none_match: bool = False,
        source_times: SourceTimes | None = None,
    ) -> Twin:
        """Create twin ``twin_id`` or replace its properties; nothing is written when invalid.

        ``telemetry`` is where its series live; ``None`` gives the default of the model
        (``telemetry.default_ref``), also on a replace: a replace is the whole twin.
        ``if_match`` (an etag, or ``"*"`` for any version) makes it a replace only: the
        twin must exist with that etag (``PreconditionFailed`` otherwise, ``NotFound`` when
        absent); ``if_none_match`` (``If-None-Match: *``) makes it a create only
        (``PreconditionFailed`` when the id is taken). ``source_times`` are the properties'
        observation times (``graph.twin_metadata``); every property written is stamped now.
        Raises ``ValidationFailed`` listing every issue, and ``Conflict`` when the twin
        exists with another model (delete it first to change its model).
        """
        _require_id(twin_id, "twin id")
        self._writable(twin_id)
        self._check_twin(twin_id, model, properties)
        ref = self._checked_ref(twin_id, model, telemetry)
        now = utc_now()
        labels = "".join(":" + identifier(label) for label in label_index(self.models).labels(model))
        stamped = stamp_document(properties, self._components(model), now, source_times)
        system = {"id": twin_id, "model": model, "etag": new_etag(), "updatedAt": now}
        props = _node_props(properties, ref, {**system, METADATA_COLUMN: encode_metadata(stamped)})
        params = {"id": twin_id, "model": model, "now": now, "props": props, "ifMatch": if_match}
        template = sql.PUT_TWIN if if_match is None else sql.REPLACE_TWIN
        if if_none_match:
            template = sql.CREATE_TWIN
        try:
            result = self.store.write(template.format(labels=labels), params)
        except Conflict:
            if not if_none_match:
                raise
            raise PreconditionFailed(
                f"twin {twin_id!r} already exists (If-None-Match: * creates only)",
                details={"twinId": twin_id},
            ) from None
        if not result.rows:
            raise self._put_refused(twin_id, model, if_match)
        bump(self.store)
        twin = Twin.from_node(result.rows[0][0])
        before, old_ref = result.rows[0][1], result.rows[0][2]
        if before is None:
            self._emit(ChangeKind.TWIN_CREATED, twin.id, twin.updated_at, twin.model, _twin_data(twin))
        else:
            patch = document_patch(json.loads(before), twin.properties)
            data = _patch_data(twin, patch)
            if ref_from_node({TELEMETRY_COLUMN: old_ref}, model, twin_id, self.models) != twin.telemetry:
                data["telemetry"] = twin.telemetry.to_dict()
            self._emit(ChangeKind.TWIN_UPDATED, twin.id, twin.updated_at, twin.model, data)
        return twin

    def _put_refused(self, twin_id: str, model: str, if_match: str | None) -> Exception:
        """Why a put wrote nothing: another model, or (with ``if_match``) no such twin or another etag."""
        rows = self.store.read(sql.GET_TWIN, {"id": twin_id}).rows
        if not rows:
            return NotFound(
                f"twin {twin_id!r} does not exist, so no version matches {if_match}",
                details={"twinId": twin_id},
            )
        current = Twin.from_node(rows[0][0], self.models)
        if current.model != model:
            return Conflict(
                f"twin {twin_id!r} has model {current.model}; delete it to give it model {model}",
                details={"twinId": twin_id, "model": current.model},
            )
        return PreconditionFailed(
            f"twin {twin_id!r} has changed: its etag is {current.etag}, not {if_match}",
            details={"twinId": twin_id, "etag": current.etag, "ifMatch": if_match},
        )

    def _components(self, model: str) -> frozenset[str]:
        """The Component names of ``model`` (empty for a model not in the set)."""
        interface = self.models.get(model)
        return frozenset(interface.components) if interface is not None else frozenset()

    def _checked_ref(self, twin_id: str, model: str, telemetry: TelemetryRef | None) -> TelemetryRef:
        """``telemetry``, or the model's default; ``ValidationFailed`` naming what is wrong with it."""
        if telemetry is None:
            return default_ref(self.models, model, twin_id)
        problems = ref_problems(telemetry, twin_id)
        if problems:
            errors = [
                {"path": "/$telemetry" + path, "code": "TELEMETRY_INVALID", "message": message}
                for path, message in problems
            ]
            raise ValidationFailed(
                f"telemetry reference of twin {twin_id!r}: {problems[0][1]}",
                details={"twinId": twin_id, "errors": errors},
            )
        return telemetry

    def set_telemetry_ref(
        self, twin_id: str, telemetry: TelemetryRef | None, *, if_match: str | None = None
    ) -> Twin:
        """Point twin ``twin_id`` at other series (``None``: back to its model's default).

        Only the reference changes (with the etag and ``updatedAt``, as for any change);
        the write is a compare-and-set on the etag, like a patch. ``NotFound``,
        ``ValidationFailed`` for a bad reference, ``Conflict`` for a stale ``if_match``.
        """
        current = self._current(twin_id, if_match)
        ref = self._checked_ref(twin_id, current.model, telemetry)
        system = {"id": twin_id, "model": current.model, "etag": new_etag(), "updatedAt": utc_now()}
        system[METADATA_COLUMN] = encode_metadata(current.metadata)
        twin = self._compare_and_set(current, _node_props(current.properties, ref, system))
        data = {**_patch_data(twin, []), "telemetry": twin.telemetry.to_dict()}
        self._emit(ChangeKind.TWIN_UPDATED, twin.id, twin.updated_at, twin.model, data)
        return twin

    def patch_twin(
        self, twin_id: str, patch: Sequence[Mapping[str, Any]], *, if_match: str | None = None
    ) -> Twin:
        """Apply a JSON Patch (RFC 6902) to the twin's properties, only if its etag is ``if_match``.

        ``if_match`` ``None`` or ``"*"`` accepts any version. The write is a compare-and-set
        on the etag the patch was applied to, so a change in between is a
        ``PreconditionFailed`` rather than a lost update; without an etag the patch is
        applied again to the version that won (a few times: each lost round means another
        write succeeded), since the caller asked for any version. Nothing is written when
        the result is invalid. The telemetry reference is kept. Operations on
        ``/$metadata/<property>/sourceTime`` set observation times (``graph.twin_metadata``).
        """
        attempts = UNCONDITIONAL_ATTEMPTS if if_match in (None, "*") else 1
        while True:
            attempts -= 1
            try:
                return self._patch_once(self._current(twin_id, if_match), patch)
            except PreconditionFailed:
                if attempts == 0:
                    raise

    def _patch_once(self, current: Twin, patch: Sequence[Mapping[str, Any]]) -> Twin:
        """Apply ``patch`` to ``current`` and write it if the twin is still at ``current``'s etag."""
        twin_id = current.id
        components = self._components(current.model)
        operations, times = split_patch(patch, components)
        document = apply_patch(current.properties, operations)
        self._check_twin(twin_id, current.model, document)
        now = utc_now()
        base = metadata_of(current.metadata, current.properties, components, current.updated_at)
        stamped = stamp_patch(base, document, components, operations, times, now)
        system = {"id": twin_id, "model": current.model, "etag": new_etag(), "updatedAt": now}
        system[METADATA_COLUMN] = encode_metadata(stamped)
        twin = self._compare_and_set(current, _node_props(document, current.telemetry, system))
        data = _patch_data(twin, operations)
        self._emit(ChangeKind.TWIN_UPDATED, twin.id, twin.updated_at, twin.model, data)
        return twin

    def patch_component(
        self, twin_id: str, component: str, patch: Sequence[Mapping[str, Any]], *, if_match: str | None = None
    ) -> Twin:
        """Apply a JSON Patch to Component ``component`` of a twin (paths relative to it).

        ``NotFound`` when the twin's model has no such Component; a Component the twin
        does not hold yet is added first, so a patch can set its first property.
        """
        current = self._current(twin_id, if_match)
        if component not in self._components(current.model):
            raise NotFound(
                f"model {current.model} of twin {twin_id!r} has no component {component!r}",
                details={"twinId": twin_id, "component": component},
            )
        prefix = "/" + component.replace("~", "~0").replace("/", "~1")
        scoped: list[Mapping[str, Any]] = []
        if not isinstance(current.properties.get(component), dict):
            scoped.append({"op": "add", "path": prefix, "value": {}})
        for op in patch:
            moved = dict(op)
            for key in ("path", "from"):
                if isinstance(moved.get(key), str):
                    moved[key] = prefix + str(moved[key])
            scoped.append(moved)
        return self.patch_twin(twin_id, scoped, if_match=current.etag)

    def _current(self, twin_id: str, if_match: str | None) -> Twin:
        """The twin as stored, if its etag is ``if_match`` (``None`` or ``"*"``: any), about to be changed."""
        self._writable(twin_id)
        current = self.get_twin(twin_id)
        if if_match not in (None, "*", current.etag):
            raise PreconditionFailed(
                f"twin {twin_id!r} has changed: its etag is {current.etag}, not {if_match}",
                details={"twinId": twin_id, "etag": current.etag, "ifMatch": if_match},
            )
        return current

    def _compare_and_set(self, current: Twin, props: Mapping[str, Any]) -> Twin:
        """Write ``props`` over the node only if it still has ``current``'s etag."""
        result = self.store.write(
            sql.PATCH_TWIN, {"id": current.id, "expected": current.etag, "props": props}
        )
        if not result.rows:
            raise PreconditionFailed(
                f"twin {current.id!r} changed or was deleted while it was being written",
                details={"twinId": current.id, "ifMatch": current.etag},
            )
        bump(self.store)
        return Twin.from_node(result.rows[0][0])

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

    def _writable(self, *twin_ids: str) -> None:
        if self.guard is not None:
            for twin_id in twin_ids:
                self.guard(twin_id)

    def get_twin(self, twin_id: str) -> Twin:
        """Twin ``twin_id``; ``NotFound`` when there is none."""
        rows = self.store.read(sql.GET_TWIN, {"id": twin_id}).rows
        if not rows:
            raise NotFound(f"twin {twin_id!r} does not exist", details={"twinId": twin_id})
        return Twin.from_node(rows[0][0], self.models)

    def delete_twin(self, twin_id: str, *, cascade: bool = False, if_match: str | None = None) -> None:
        """Delete a twin; with relationships (either way) only when ``cascade``, which deletes them too.

        With ``if_match`` (an etag), only while the twin is at that version (``PreconditionFailed``).
        """
        self._writable(twin_id)
        params = {"id": twin_id, "cascade": cascade, "ifMatch": if_match}
        result = self.store.write(sql.DELETE_TWIN, params)
        if result.rows:
            bump(self.store)
            model, links = result.rows[0]
            at = utc_now()
            for rid, name, source, target, source_model in links:
                data = {"name": name, "target": target}
                self._emit(ChangeKind.RELATIONSHIP_DELETED, rid, at, source_model, data, source=source)
            self._emit(ChangeKind.TWIN_DELETED, twin_id, at, model, {})
            return
        links = self.store.read(sql.COUNT_LINKS, {"id": twin_id}).rows
        if not links:
            raise NotFound(f"twin {twin_id!r} does not exist", details={"twinId": twin_id})
        if if_match not in (None, "*"):
            self._current(twin_id, if_match)  # PreconditionFailed when the etag moved on
        raise Conflict(
            f"twin {twin_id!r} has {links[0][0]} relationships; delete them first or cascade",
            details={"twinId": twin_id, "relationships": links[0][0], "reason": "RELATIONSHIPS_EXIST"},
        )

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


def _twin_data(twin: Twin) -> dict[str, Any]:
    return {"etag": twin.etag, "properties": twin.properties, "telemetry": twin.telemetry.to_dict()}


def _node_props(document: Mapping[str, Any], ref: TelemetryRef, system: Mapping[str, Any]) -> dict[str, Any]:
    """Every property of a twin node: the encoded document, the system keys, the telemetry reference."""
    return {**encode(document, system), **ref_properties(ref)}


def _patch_data(twin: Twin, patch: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    return {"etag": twin.etag, "patch": [dict(op) for op in patch]}


def _require_id(value: str, what: str) -> None:
    if not isinstance(value, str) or not value:
        raise BadRequest(f"a {what} must be a non-empty string, not {value!r}")


def _issue(path: str, code: str, model: str) -> dict[str, str]:
    return {"path": path, "code": code, "message": f"model {model!r} is not in the model set"}
