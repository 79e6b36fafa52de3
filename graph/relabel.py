"""Relabelling twins when a model upload changes the labels their models map to.

A twin carries one label per Interface of its model and its ancestors, each the shortest
unique suffix of the DTMI (``ontology.labels``). Uploading a model can lengthen existing
labels: once ``dtmi:b:Pump;1`` joins ``dtmi:a:Pump;1``, both become ``a_Pump`` and
``b_Pump``, and the twins labelled ``Pump`` would fall out of every query by model. So
after an upload, :func:`relabel_twins` compares the label sets of every model before and
after and rewrites the twins whose labels changed: one statement per model, matched by its
old own label and its ``model`` property.

Callers that upload models (the importer here, the API's model upload) call it with the
model set before and after the upload. A process still holding the old model set writes
old labels until it reloads its models; running ``relabel_twins`` again (the same two sets)
fixes those twins too, since it only looks at what the twins should carry.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from graph._version import bump
from graph.cypher import identifier
from graph.store import GraphStore
from ontology.labels import label_index
from ontology.model import ModelSet
from ontology.model_store import StoredModel
from ontology.registry import ModelRegistry

_RELABEL = """
MATCH (t:Twin:{old}) WHERE t.model = $model
{remove}SET t{add}
RETURN count(t)
"""


@dataclass(frozen=True)
class Relabelled:
    """The twins of one model that were given new labels."""

    model: str
    removed: tuple[str, ...]
    added: tuple[str, ...]
    twins: int


def label_changes(before: ModelSet, after: ModelSet) -> list[tuple[str, tuple[str, ...], tuple[str, ...]]]:
    """``(model, old labels, new labels)`` for each model of ``before`` whose labels differ in ``after``."""
    old, new = label_index(before), label_index(after)
    changes = []
    for dtmi in sorted(before):
        if dtmi in after and old.labels(dtmi) != new.labels(dtmi):
            changes.append((dtmi, old.labels(dtmi), new.labels(dtmi)))
    return changes


def relabel_twins(store: GraphStore, before: ModelSet, after: ModelSet) -> list[Relabelled]:
    """Give the twins of every model whose labels changed between ``before`` and ``after`` the new ones.

    Answers what changed, model by model (models without twins too, with ``twins`` 0).
    """
    done: list[Relabelled] = []
    for dtmi, old, new in label_changes(before, after):
        removed = tuple(label for label in old if label not in new)
        added = tuple(label for label in new if label not in old)
        remove = "REMOVE t" + _labels(removed) + "\n" if removed else ""
        query = _RELABEL.format(old=identifier(old[0]), remove=remove, add=_labels(new))
        rows = store.write(query, {"model": dtmi}).rows
        done.append(Relabelled(dtmi, removed, added, int(rows[0][0]) if rows else 0))
    if any(change.twins for change in done):
        bump(store)
    return done


def upload_models(store: GraphStore, registry: ModelRegistry, documents: list[Any]) -> list[StoredModel]:
    """Register ``documents`` (all or nothing), then relabel twins whose labels they changed.

    A new model can lengthen the labels of registered ones (``Room`` becomes ``core_Room``
    once a second ``Room`` arrives, ontology.labels); the twins already carrying the old
    labels are rewritten so that analysts' Cypher keeps matching them.
    """
    before = registry.models
    stored = registry.upload(documents)
    relabel_twins(store, before, registry.models)
    return stored


def _labels(labels: tuple[str, ...]) -> str:
    # Labels come from DTMI segments ([A-Za-z][A-Za-z0-9_]*, DTDL §DTMI): checked, never raw input.
    return "".join(":" + identifier(label) for label in labels)
