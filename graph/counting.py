"""Counting twins in one read, without reading them: those a search matches, those of each model.

``count_twins`` answers how many twins ``find_twins`` would page through for the same
model and filter: the same label (subtypes included) and the same translation of the
filter (``graph.search``), so the two never disagree on what matches, and a bad
property path or operator is the same ``BadRequest``. The engine counts from its label
scan; no twin crosses the wire, so a count of 100,000 twins is one small answer instead
of a hundred pages of 1,000.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from graph.search import Filter, filter_condition, model_label
from graph.store import GraphStore
from ontology.errors import BadRequest
from ontology.model import ModelSet


def count_twins(store: GraphStore, models: ModelSet, model: str, where: Filter | None = None) -> int:
    """How many twins of ``model`` (or of a model extending it) match ``where``.

    Raises ``BadRequest`` for an unknown model, a property path the model does not have,
    or an operator that does not fit the property, exactly as ``find_twins`` does.
    """
    if model not in models:
        raise BadRequest(f"model {model!r} is not in the model set", details={"model": model})
    params: dict[str, Any] = {}
    condition = f" WHERE {filter_condition(models, model, where, params)}" if where is not None else ""
    label = model_label(models, model)
    rows = store.query_rows(f"MATCH (t:{label}){condition} RETURN count(t) AS twins", params)
    return int(rows[0][0]) if rows else 0


_BY_MODEL = "MATCH (t:Twin) WHERE t.model IN $models RETURN t.model AS model, count(t) AS twins"


def count_by_model(store: GraphStore, models: Sequence[str]) -> dict[str, int]:
    """How many twins have exactly each model of ``models`` (subtypes not included), in one read."""
    counts = dict.fromkeys(models, 0)
    for model, n in store.query_rows(_BY_MODEL, {"models": list(counts)}):
        counts[str(model)] = int(n)
    return counts
