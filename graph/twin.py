"""What the twin operations hand back: a twin as stored, and one of its relationships.

Kept apart from ``graph.twins`` (the operations) because searches, walks and the API read
twins too; ``Twin.from_node`` is the one place a node's properties become a twin.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from graph.latest import LATEST_AT_PREFIX, LATEST_PREFIX
from graph.physical import DOCUMENT, decode
from graph.telemetry import ref_from_node
from graph.twin_metadata import METADATA_COLUMN, decode_metadata
from ontology.model import ModelSet
from telemetry.points import Sample
from telemetry.refs import TelemetryRef


@dataclass(frozen=True)
class Twin:
    """A digital twin as stored: its identity, model, version and DTDL property document.

    ``latest`` holds the newest telemetry values the ingest service copied onto the node
    (``graph.latest``), by telemetry name. They are state of the series, not of the twin:
    they are not in ``properties``, and two reads of one version of a twin are equal
    whatever values arrived in between. ``metadata`` is the per-property metadata as stored
    (``graph.twin_metadata``: when each property was written and observed), ``{}`` for a
    node written without it.
    """

    id: str
    model: str
    etag: str
    created_at: str
    updated_at: str
    telemetry: TelemetryRef
    properties: dict[str, Any] = field(default_factory=dict)
    latest: Mapping[str, Sample] = field(default_factory=dict, compare=False)
    metadata: Mapping[str, Any] = field(default_factory=dict, compare=False)

    @classmethod
    def from_node(cls, props: Mapping[str, Any], models: ModelSet | None = None) -> Twin:
        """The twin stored in a node's properties (see docs/graph-model.md).

        ``models`` only serves nodes written before telemetry references existed: their
        default reference then lists the model's fields.
        """
        twin_id, model = str(props["id"]), str(props["model"])
        return cls(
            id=twin_id,
            model=model,
            etag=str(props["etag"]),
            created_at=str(props["createdAt"]),
            updated_at=str(props["updatedAt"]),
            telemetry=ref_from_node(props, model, twin_id, models),
            properties=decode(props),
            latest=latest_from_node(props),
            metadata=decode_metadata(props.get(METADATA_COLUMN)),
        )


def latest_from_node(props: Mapping[str, Any]) -> dict[str, Sample]:
    """The last values on a node: each ``_latest.<name>`` with its ``_latestAt.<name>`` time.

    Reads that fetch only a twin's own columns (searches, walks) carry none. A value
    without a time, or with a time or value ``graph.latest`` would not have written (the
    node was edited by hand in Cypher), is left out: the reader then asks the
    time-series store, as it would for a twin nothing was copied onto.
    """
    found: dict[str, Sample] = {}
    for key, value in props.items():
        if not key.startswith(LATEST_PREFIX) or not isinstance(value, _VALUE_TYPES):
            continue
        name = key[len(LATEST_PREFIX) :]
        at = _utc(props.get(LATEST_AT_PREFIX + name))
        if at is not None:
            found[name] = Sample(at, value)
    return found


_VALUE_TYPES = (bool, int, float, str)
"""The types of ``telemetry.FieldValue``: all a store keeps of a point's field."""


def _utc(text: object) -> datetime | None:
    """An aware UTC time from ISO 8601 text; without an offset it is UTC, the zone ``graph.latest`` writes."""
    if not isinstance(text, str):
        return None
    try:
        at = datetime.fromisoformat(text)
        return at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)
    except (ValueError, OverflowError):  # not a date, or out of range once in UTC
        return None


@dataclass(frozen=True)
class TwinRelationship:
    """One relationship: ``name`` is the DTDL relationship (the edge type), ``id`` is unique per source.

    ``etag`` is its version (a weak ETag like a twin's); ``""`` where the reader did not fetch it.
    """

    id: str
    name: str
    source: str
    target: str
    properties: dict[str, Any] = field(default_factory=dict)
    etag: str = field(default="", compare=False)

    @classmethod
    def from_edge(cls, name: str, source: str, target: str, props: Mapping[str, Any]) -> TwinRelationship:
        """The relationship stored in an edge: ``name`` its type, ``source`` and ``target`` the twin
        ids at its ends, ``props`` its properties (``id``, ``etag`` and the document,
        docs/graph-model.md). The one place an edge becomes a relationship.

        Edges written before relationships had etags (and by bulk imports) carry none:
        theirs is then derived from the edge's id and document, so it still changes
        exactly when the relationship does.
        """
        etag = props.get("etag")
        if not isinstance(etag, str) or not etag:
            digest = hashlib.sha256(f"{props.get('id')}\0{props.get(DOCUMENT)}".encode()).hexdigest()
            etag = f'W/"{digest[:8]}-{digest[8:12]}-{digest[12:16]}-{digest[16:20]}-{digest[20:32]}"'
        return cls(str(props["id"]), str(name), str(source), str(target), decode(props), etag)


@dataclass(frozen=True)
class RelationshipPage:
    """One page of a twin's relationships, and the cursor of the next (``None`` on the last page).

    The cursor (``graph.cursors``) is the last relationship's sort key, so a page after it
    starts right behind it even when relationships were added or deleted in between.
    """

    relationships: list[TwinRelationship]
    after: str | None
