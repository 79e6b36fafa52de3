"""What the twin operations hand back: a twin as stored, and one of its relationships.

Kept apart from ``graph.twins`` (the operations) because searches, walks and the API read
twins too; ``Twin.from_node`` is the one place a node's properties become a twin.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from graph.physical import decode
from graph.telemetry import TelemetryRef, ref_from_node
from ontology.model import ModelSet


@dataclass(frozen=True)
class Twin:
    """A digital twin as stored: its identity, model, version and DTDL property document."""

    id: str
    model: str
    etag: str
    created_at: str
    updated_at: str
    telemetry: TelemetryRef
    properties: dict[str, Any] = field(default_factory=dict)

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
        )


@dataclass(frozen=True)
class TwinRelationship:
    """One relationship: ``name`` is the DTDL relationship (the edge type), ``id`` is unique per source."""

    id: str
    name: str
    source: str
    target: str
    properties: dict[str, Any] = field(default_factory=dict)
