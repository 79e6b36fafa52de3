"""The twin graph at a glance: a bounded set of twins, every relationship among them, and counts.

A front end opens on this view, as ADT Explorer opens on "SELECT * FROM digitaltwins":
the first ``first`` twins in id order (of one model and its subtypes, or of any), the
relationships between them, and how many twins match in all, so that it can say "1,000
of 12,345 twins" and offer a narrower view. Three reads, whatever the number of twins:
the twins, their relationships, the count.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from graph._traversal import TWIN_KEYS, twin_columns
from graph.physical import DOCUMENT, decode
from graph.search import model_label
from graph.store import GraphStore
from graph.twin import Twin, TwinRelationship
from ontology.errors import BadRequest
from ontology.model import ModelSet

MAX_OVERVIEW_TWINS = 10_000
"""The most twins one overview holds: what a browser can still draw and lay out."""

_TWINS = "MATCH (t:{label}) RETURN {columns} ORDER BY t.id LIMIT $n"
_COUNT = "MATCH (t:{label}) RETURN count(t)"
_RELATIONSHIPS = f"""
MATCH (a:Twin)-[r]->(b:Twin) WHERE a.id IN $ids AND b.id IN $ids
RETURN r.id, type(r), a.id, b.id, r.`{DOCUMENT}`
"""
_TWIN_COUNT = "MATCH (t:Twin) RETURN count(t)"
_RELATIONSHIP_COUNT = "MATCH (:Twin)-[r]->(:Twin) RETURN count(r)"


@dataclass(frozen=True)
class Overview:
    """Twins in id order, the relationships among them, and how many twins match in all."""

    twins: list[Twin]
    relationships: list[TwinRelationship]
    total: int

    @property
    def truncated(self) -> bool:
        """True when more twins match than the overview holds."""
        return self.total > len(self.twins)


def overview(store: GraphStore, models: ModelSet, *, first: int, model: str | None = None) -> Overview:
    """The first ``first`` twins (of ``model`` or a model extending it, when given) and their relationships.

    ``BadRequest`` for an unknown model or ``first`` outside 1..:data:`MAX_OVERVIEW_TWINS`.
    """
    if not 1 <= first <= MAX_OVERVIEW_TWINS:
        raise BadRequest(
            f"first must be between 1 and {MAX_OVERVIEW_TWINS}, not {first}", details={"first": first}
        )
    if model is not None and model not in models:
        raise BadRequest(f"model {model!r} is not in the model set", details={"model": model})
    label = model_label(models, model) if model is not None else "Twin"
    rows = store.query_rows(_TWINS.format(label=label, columns=twin_columns("t")), {"n": first})
    twins = [Twin.from_node(dict(zip(TWIN_KEYS, row, strict=True)), models) for row in rows]
    ids = [twin.id for twin in twins]
    relationships = [
        TwinRelationship(str(rel), str(name), str(source), str(target), _properties(rel, document))
        for rel, name, source, target, document in (
            store.query_rows(_RELATIONSHIPS, {"ids": ids}) if ids else []
        )
    ]
    relationships.sort(key=lambda r: (r.source, r.id))
    total = len(twins)
    if total == first:  # there may be more: count them
        counted = store.query_rows(_COUNT.format(label=label))
        total = int(counted[0][0]) if counted else total
    return Overview(twins, relationships, total)


def count_elements(store: GraphStore) -> tuple[int, int]:
    """How many twins and relationships between twins the graph holds (not runs' or keys' edges)."""
    twins = store.query_rows(_TWIN_COUNT)
    relationships = store.query_rows(_RELATIONSHIP_COUNT)
    return (int(twins[0][0]) if twins else 0, int(relationships[0][0]) if relationships else 0)


def _properties(rel: Any, document: Any) -> dict[str, Any]:
    return decode({"id": rel, DOCUMENT: document})
