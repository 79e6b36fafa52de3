"""Writing a bulk import's validated twins (``graph.importer``), one batch at a time.

The importer sorts a batch's twins into those the graph does not hold (created with
``UNWIND ... CREATE`` of positional rows, ``graph._rows``) and those it does (merged by
id, and left alone when their model, document and reference are unchanged, so a re-run
writes nothing), grouped by label set. Once the batch's statements returned, the graph's
version is renewed and the change events published (``graph._import_events``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from graph._import_events import BatchOutbox
from graph._rows import map_literal, positional
from graph.cypher import identifier
from graph.events import EventBus
from graph.physical import encode, new_etags
from graph.store import GraphStore, Statement
from ontology.errors import Conflict

# New elements travel as positional rows (lists, no maps): Bolt and FalkorDB's parameter
# text (graph._falkor_params) both send lists of scalars fastest; the keys are in the text.
_CREATE_TWINS = "UNWIND $rows AS r CREATE (t:Twin{labels} {{{props}}})"
# Unchanged twins (same model, same document) are left alone, etag included: a re-run writes nothing.
# ``_telemetry`` is the reference as canonical JSON text: it differs exactly when the reference does.
_MERGE_TWINS = """
UNWIND $rows AS row
MERGE (t:Twin {{id: row.id}})
WITH t, row, t._document AS before, coalesce(t.createdAt, $now) AS created, t._telemetry AS ref
WHERE before IS NULL OR before <> row.props._document
    OR t._telemetry IS NULL OR t._telemetry <> row.props._telemetry
SET t = row.props, t.createdAt = created
SET t{labels}
RETURN t.id, before, ref
"""


@dataclass(slots=True)  # not frozen: a frozen dataclass is built a third slower, for every twin
class PendingTwin:
    """A valid twin line waiting for its batch: the node properties it will get, reference included."""

    line: int
    id: str
    model: str
    document: dict[str, Any]
    ref: dict[str, Any]


Groups = Mapping[tuple[str, ...], Mapping[str, PendingTwin]]
"""Twins to write by label set, then by id (the last line of a repeated id wins)."""


@dataclass(slots=True)
class TwinBatch:
    """A batch's statements, built by the importing thread so the writer thread only sends them.

    ``created``: per label set, its ``CREATE`` statements and its twins with their etags;
    ``merged``: per label set, its ``MERGE`` statement and its twins with their etags, by id.
    """

    created: list[tuple[list[Statement], list[tuple[PendingTwin, str]]]]
    merged: list[tuple[Statement, dict[str, tuple[PendingTwin, str]]]]


def prepare_twins(store: GraphStore, now: str, created: Groups, merged: Groups) -> TwinBatch:
    """The statements that create the ``created`` twins and merge the ``merged`` ones."""
    batch = TwinBatch([], [])
    for labels, by_id in created.items():
        twins = list(zip(by_id.values(), new_etags(len(by_id)), strict=True))
        props = [_node(twin, now, tag, created=True) for twin, tag in twins]
        statements = []
        for keys, values in positional(props):
            text = _CREATE_TWINS.format(labels=_labels(labels), props=map_literal(keys, "r", 0))
            statements.append(store.prepare(text, {"rows": values}))
        batch.created.append((statements, twins))
    for labels, by_id in merged.items():
        tags = new_etags(len(by_id))
        tagged = {twin.id: (twin, tag) for twin, tag in zip(by_id.values(), tags, strict=True)}
        maps = [{"id": twin.id, "props": _node(twin, now, tag)} for twin, tag in tagged.values()]
        query = _MERGE_TWINS.format(labels=_labels(labels))
        batch.merged.append((store.prepare(query, {"rows": maps, "now": now}), tagged))
    return batch


def write_twins(store: GraphStore, events: EventBus | None, now: str, batch: TwinBatch) -> None:
    """Run a batch's statements, then announce it."""
    outbox = BatchOutbox(store, events, now)
    for statements, twins in batch.created:
        for statement in statements:
            try:
                store.send(statement)
            except Conflict as exc:
                raise Conflict(
                    "another writer created twins of this import while it ran; run the import "
                    f"again (it is idempotent): {exc.message}"
                ) from exc
        for twin, tag in twins:
            outbox.twin_created(twin.id, twin.model, tag, twin.document, twin.ref)
    for statement, tagged in batch.merged:
        for twin_id, before, old_ref in store.send(statement).rows:
            t, tag = tagged[twin_id]
            if before is None:  # deleted between the batch's read and its write: created again
                outbox.twin_created(t.id, t.model, tag, t.document, t.ref)
            else:
                outbox.twin_replaced(t.id, t.model, tag, t.document, t.ref, before, old_ref)
    outbox.commit()


def _node(twin: PendingTwin, now: str, etag: str, *, created: bool = False) -> dict[str, Any]:
    """The node properties of ``twin``: encoded document, system keys (``etag``: a new one), reference."""
    system = {"id": twin.id, "model": twin.model, "etag": etag, "updatedAt": now}
    if created:
        system["createdAt"] = now
    return {**encode(twin.document, system), **twin.ref}


def _labels(labels: tuple[str, ...]) -> str:
    return "".join(":" + identifier(label) for label in labels)
