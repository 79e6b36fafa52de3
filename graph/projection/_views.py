"""Projected twins as they come back: only the fields read, decoded the way the walks decode them.

Private to ``graph.projection``; :class:`TwinView` and :class:`PageView` are re-exported there.
Each value is made as ``Twin.from_node``, ``relationships_of_each`` and
``neighbours_of_each`` make it, so a projected read answers what they answer.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from graph._traversal import DEFAULT_MAX_TWINS
from graph.cypher import MAX_ROWS
from graph.errors import LimitExceeded
from graph.latest import LATEST_AT_PREFIX, LATEST_PREFIX
from graph.physical import DOCUMENT, CorruptTwin, decode
from graph.projection._fields import Neighbours, Relationships, TwinFields
from graph.search import page_cursor
from graph.telemetry import TELEMETRY_COLUMN, ref_from_node
from graph.twin import TwinRelationship, latest_from_node
from ontology.model import ModelSet
from telemetry.points import Sample
from telemetry.refs import TelemetryRef


@dataclass(slots=True, eq=False)
class TwinView:
    """What a projected read brought of one twin: its id, and what its ``TwinFields`` asked, no more.

    Fields not asked stay None (or empty); ``stored`` holds properties read as stored, by key.
    """

    id: str
    model: str | None = None
    etag: str | None = None
    created_at: str | None = None
    updated_at: str | None = None
    properties: dict[str, Any] | None = None
    telemetry: TelemetryRef | None = None
    stored: dict[str, Any] = field(default_factory=dict)
    latest: dict[str, Sample] = field(default_factory=dict)
    relationships: dict[Relationships, list[TwinRelationship]] = field(default_factory=dict)
    neighbours: dict[Neighbours, list[TwinView]] = field(default_factory=dict)


@dataclass(slots=True, eq=False)
class PageView:
    """One page of projected twins, as ``graph.TwinPage`` has it; ``total`` when the read counted."""

    twins: list[TwinView]
    has_next: bool
    sort_keys: list[Any]
    order_by: str
    query: str
    """The fingerprint of the page's query (``graph.search.query_fingerprint``) its cursors carry."""
    total: int | None = None

    def cursor(self, index: int) -> str:
        """The cursor that resumes after ``twins[index]`` (``graph.TwinPage.cursor``)."""
        twin = self.twins[index]
        return page_cursor(self.query, self.order_by, self.sort_keys[index], twin.id, twin.properties)


def view_of(row: Sequence[Any], fields: TwinFields, models: ModelSet | None) -> TwinView:
    """The twin of a projection (``graph.projection._statement.projection``).

    ``models`` serves nodes written before telemetry references existed, as in
    ``Twin.from_node``. Raises ``CorruptTwin`` for a node without a system property, and
    ``LimitExceeded`` past the walks' limits, where the walks would fail too.
    """
    values = iter(row)
    view = TwinView(_text(next(values), "id", None))
    if fields.model or fields.telemetry:
        view.model = _text(next(values), "model", view.id)
    if fields.etag:
        view.etag = _text(next(values), "etag", view.id)
    if fields.created_at:
        view.created_at = _text(next(values), "createdAt", view.id)
    if fields.updated_at:
        view.updated_at = _text(next(values), "updatedAt", view.id)
    if fields.document:
        view.properties = decode({"id": view.id, DOCUMENT: next(values)})
    if fields.telemetry:
        assert view.model is not None
        view.telemetry = ref_from_node({TELEMETRY_COLUMN: next(values)}, view.model, view.id, models)
    for key in fields.stored:
        view.stored[key] = next(values)
    if fields.latest:
        view.latest = latest_from_node(dict(_latest_pairs(fields.latest, values)))
    for read in fields.relationships:
        view.relationships[read] = _relationships(view.id, next(values), read)
    for neighbours in fields.neighbours:
        view.neighbours[neighbours] = _neighbours(view.id, next(values), neighbours)
    return view


def _text(value: Any, key: str, twin_id: str | None) -> str:
    if value is None:
        raise CorruptTwin(f"graph element {twin_id!r} has no {key} property", details={"id": twin_id})
    return str(value)


def _latest_pairs(names: tuple[str, ...], values: Iterator[Any]) -> Iterator[tuple[str, Any]]:
    for name in names:
        yield LATEST_PREFIX + name, next(values)
        yield LATEST_AT_PREFIX + name, next(values)


def _relationships(twin_id: str, rows: list[list[Any]], read: Relationships) -> list[TwinRelationship]:
    """Each relationship once, outgoing by id, then incoming by source and id (``relationships_of_each``)."""
    if len(rows) > MAX_ROWS:
        raise LimitExceeded("rows of one walk step", MAX_ROWS)
    found: dict[tuple[str, str], TwinRelationship] = {}
    for row in rows:
        rel_id, source = str(row[0]), str(row[2])
        properties = decode({"id": row[0], DOCUMENT: row[4]}) if read.properties else {}
        found[(source, rel_id)] = TwinRelationship(rel_id, str(row[1]), source, str(row[3]), properties)
    return sorted(found.values(), key=lambda r: (r.source != twin_id, r.source, r.id))


def _neighbours(twin_id: str, rows: list[list[Any]], read: Neighbours) -> list[TwinView]:
    """The twins one relationship away, each once, the twin left out, by id (``neighbours_of_each``)."""
    unique: dict[str, list[Any]] = {}
    for row in rows:
        if row[0] != twin_id:
            unique.setdefault(row[0], row)
    if len(unique) > DEFAULT_MAX_TWINS:
        raise LimitExceeded("twins in the walk", DEFAULT_MAX_TWINS)
    # Twins reached by a walk carry no telemetry reference defaults from models (Twin.from_node).
    return [view_of(unique[key], read.fields, None) for key in sorted(unique)]
