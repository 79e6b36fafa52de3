"""Models in the twin graph: the ontology's ``ModelStore`` port kept as ``Model`` nodes.

Each stored model is one ``(:Model)`` node with its DTMI (``id``, unique on both engines),
the uploaded document as JSON text (``document``), ``uploadedAt``, ``decommissioned`` and
``seq``, the upload order. An ``EXTENDS`` edge goes from a model to each stored model its
document names in ``extends``, so analysts can walk the hierarchy in Cypher. Models and
twins live (and are backed up) together. Every change is one statement, so a batch is
stored whole or not at all; with an :class:`~graph.events.EventBus` each successful change
is announced after it is written.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from graph._version import bump_models, models_version
from graph.cypher import MAX_ROWS
from graph.events import ChangeEvent, ChangeKind, EventBus
from graph.store import GraphStore
from ontology.errors import Conflict, NotFound
from ontology.model_store import StoredModel

# One aggregation both numbers the batch after the stored models and checks no DTMI is
# taken (an aggregation without grouping keys answers one row even on an empty graph).
# The EXTENDS part unwinds a never-empty list so the statement always answers its count.
_ADD = """
OPTIONAL MATCH (old:Model) WHERE NOT old:Twin
WITH coalesce(max(old.seq), 0) AS base, sum(CASE WHEN old.id IN $ids THEN 1 ELSE 0 END) AS taken
WHERE taken = 0
UNWIND $models AS model
CREATE (m:Model)
SET m = model.props, m.seq = base + model.ord
WITH collect(m.id) AS created
UNWIND CASE WHEN size($links) = 0 THEN [null] ELSE $links END AS link
OPTIONAL MATCH (a:Model {id: link.source}) WHERE a.id IN created
OPTIONAL MATCH (b:Model {id: link.target}) WHERE NOT b:Twin
FOREACH (_ IN CASE WHEN a IS NULL OR b IS NULL THEN [] ELSE [1] END | CREATE (a)-[:EXTENDS]->(b))
RETURN DISTINCT size(created) AS created
"""
_TAKEN = "MATCH (m:Model) WHERE m.id IN $ids AND NOT m:Twin RETURN m.id ORDER BY m.id"
_FIELDS = "m.id, m.document, m.uploadedAt, m.decommissioned"
_GET = f"MATCH (m:Model {{id: $id}}) WHERE NOT m:Twin RETURN {_FIELDS}"
_LIST = f"MATCH (m:Model) WHERE NOT m:Twin RETURN {_FIELDS} ORDER BY m.seq, m.uploadedAt, m.id"
_FLAG = """
MATCH (m:Model {id: $id}) WHERE NOT m:Twin
SET m.decommissioned = $flag
RETURN m.id
"""
_DELETE = """
MATCH (m:Model {id: $id}) WHERE NOT m:Twin
DETACH DELETE m
RETURN count(*) AS deleted
"""
_TWIN_COUNT = "MATCH (t:Twin {model: $dtmi}) RETURN count(t) AS twins"


_RENEWALS_KEPT = 64
"""How many of its own renewals of the models' token a ``GraphModelStore`` remembers."""


class GraphModelStore:
    """The registry's model documents as ``Model`` nodes of the twin graph (a ``ModelStore``)."""

    def __init__(self, store: GraphStore, *, events: EventBus | None = None) -> None:
        self.store = store
        self.events = events
        # Token this store wrote -> the token it replaced, the newest few (changed_since).
        self._renewed: dict[str, str | None] = {}
        # Creates the unique constraints on Twin.id and Model.id if missing.
        store.ensure_schema()

    def add(self, models: Sequence[StoredModel]) -> None:
        """Store every model of one upload, or none: ``Conflict`` if any DTMI is taken."""
        if not models:
            return
        ids = [m.dtmi for m in models]
        twice = sorted({d for d in ids if ids.count(d) > 1})
        if twice:
            raise Conflict(f"model {twice[0]} appears twice in one upload", details={"dtmis": twice})
        params = {
            "ids": ids,
            "models": [{"ord": i + 1, "props": _props(m)} for i, m in enumerate(models)],
            "links": [{"source": m.dtmi, "target": t} for m in models for t in extended(m.document)],
        }
        # The constraint on Model.id refuses a DTMI taken by a concurrent writer with a
        # Conflict, and the statement is undone whole.
        rows = self.store.write(_ADD, params).rows
        if not rows or rows[0][0] != len(models):
            taken = [str(row[0]) for row in self.store.read(_TAKEN, {"ids": ids}).rows]
            raise Conflict(f"model {(taken or ids)[0]} already exists", details={"dtmis": taken})
        self._renew()
        for m in models:
            self._emit(ChangeKind.MODEL_UPLOADED, m.dtmi, {"document": m.document})

    def get(self, dtmi: str) -> StoredModel | None:
        """The stored model ``dtmi``, or None."""
        rows = self.store.read(_GET, {"id": dtmi}).rows
        return _stored(rows[0]) if rows else None

    def list(self) -> list[StoredModel]:
        """Every stored model, in upload order."""
        return [_stored(row) for row in self.store.read(_LIST, max_rows=MAX_ROWS).rows]

    def set_decommissioned(self, dtmi: str, decommissioned: bool) -> None:
        """Flag model ``dtmi``; ``NotFound`` if it is not stored."""
        if not self.store.write(_FLAG, {"id": dtmi, "flag": decommissioned}).rows:
            raise _not_found(dtmi)
        self._renew()
        self._emit(ChangeKind.MODEL_DECOMMISSIONED, dtmi, {"decommissioned": decommissioned})

    def delete(self, dtmi: str) -> None:
        """Forget model ``dtmi`` and its ``EXTENDS`` edges; ``NotFound`` if it is not stored."""
        rows = self.store.write(_DELETE, {"id": dtmi}).rows
        if not rows or rows[0][0] == 0:
            raise _not_found(dtmi)
        self._renew()
        self._emit(ChangeKind.MODEL_DELETED, dtmi, {})

    def version(self) -> str | None:
        """A token that changes whenever a model is stored, flagged or deleted, by any process."""
        return models_version(self.store)

    def changed_since(self, seen: str | None, version: str | None) -> bool:
        """Whether anything but this store's own writes moved the models' token from ``seen`` to ``version``.

        A registry that wrote through this store already holds its own changes; it needs
        a reload only when another writer's renewal is on the way from the one to the
        other (or the way is not known: more than :data:`_RENEWALS_KEPT` renewals ago).
        """
        token = version
        for _ in range(len(self._renewed) + 1):
            if token == seen:
                return False
            if token is None or token not in self._renewed:
                return True
            token = self._renewed[token]
        return True

    def _renew(self) -> None:
        before, after = bump_models(self.store)
        self._renewed[after] = before
        if len(self._renewed) > _RENEWALS_KEPT:
            del self._renewed[next(iter(self._renewed))]

    def twin_count(self, dtmi: str) -> int:
        """How many twins have model ``dtmi``: the ``twin_count`` of ``ModelRegistry.delete``."""
        rows = self.store.read(_TWIN_COUNT, {"dtmi": dtmi}).rows
        return int(rows[0][0]) if rows else 0

    def _emit(self, kind: ChangeKind, dtmi: str, data: Mapping[str, Any]) -> None:
        if self.events is not None:
            self.events.publish(ChangeEvent.now(kind, dtmi, model=dtmi, data=copy.deepcopy(dict(data))))


def extended(document: Mapping[str, Any]) -> list[str]:
    """The DTMIs a model document's ``extends`` names (a string or a list); inline Interfaces are skipped."""
    value = document.get("extends")
    items = value if isinstance(value, list) else [value]
    return [item for item in items if isinstance(item, str)]


def _props(model: StoredModel) -> dict[str, Any]:
    return {
        "id": model.dtmi,
        "document": json.dumps(model.document, separators=(",", ":"), sort_keys=True),
        "uploadedAt": model.uploaded_at.isoformat(),
        "decommissioned": model.decommissioned,
    }


def _stored(row: Sequence[Any]) -> StoredModel:
    dtmi, document, uploaded_at, decommissioned = row
    return StoredModel(
        dtmi=str(dtmi),
        document=json.loads(document),
        # isoformat() and back: the same instant, offset and precision as uploaded.
        uploaded_at=datetime.fromisoformat(str(uploaded_at)),
        decommissioned=bool(decommissioned),
    )


def _not_found(dtmi: str) -> NotFound:
    return NotFound(f"model {dtmi} does not exist", details={"dtmi": dtmi})
