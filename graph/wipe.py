"""Deleting every twin, relationship and model: what an ADT deletion job does.

Twins go in batches (``DETACH DELETE`` takes their relationships along), so a large graph
is never one huge transaction; then the models and their ``EXTENDS`` edges. Everything
else kgtwin keeps in the graph (API keys, event routes, simulation runs, job records) is
left alone. Both version tokens are renewed, so every process's caches and registries
see the change. No change event is published per twin: subscribers of a graph that was
wiped re-read it (``ChangeKind`` has no "everything deleted").
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from graph._version import bump, bump_models
from graph.store import GraphStore

BATCH = 5000

_TWINS = "MATCH (t:Twin) WITH t LIMIT $n DETACH DELETE t RETURN count(*)"
_MODELS = "MATCH (m:Model) WHERE NOT m:Twin WITH m LIMIT $n DETACH DELETE m RETURN count(*)"


@dataclass(frozen=True)
class Wiped:
    """How many twins and models a wipe deleted."""

    twins: int
    models: int


def delete_all(store: GraphStore, *, cancelled: Callable[[], bool] = lambda: False) -> Wiped:
    """Delete every twin (with its relationships) and every model, ``BATCH`` at a time.

    ``cancelled`` is asked between batches; once it answers true the wipe stops where it is.
    """
    counts = []
    for statement in (_TWINS, _MODELS):
        total = 0
        while not cancelled():
            rows = store.write(statement, {"n": BATCH}).rows
            deleted = int(rows[0][0]) if rows else 0
            total += deleted
            if deleted < BATCH:
                break
        counts.append(total)
    bump(store)
    bump_models(store)
    return Wiped(twins=counts[0], models=counts[1])
