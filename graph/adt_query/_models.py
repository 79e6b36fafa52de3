"""Which models pass ``IS_OF_MODEL(dtmi)``: the model itself and every model extending it.

ADT's ``IS_OF_MODEL`` follows inheritance. Twins store their model's exact id (with its
version), so the test is ``t.model IN [ids]``, the ids computed here: from the caller's
model set when it has one (the API's registry), else from the graph's own ``(:Model)``
nodes and their ``EXTENDS`` edges (``graph.GraphModelStore``), read once per query that
needs them. A model id nobody extends, or that is not registered, stands for itself only.
"""

from __future__ import annotations

from collections.abc import Callable

from graph.store import GraphStore
from ontology.model import ModelSet

_HIERARCHY = """
MATCH (m:Model) WHERE NOT m:Twin
OPTIONAL MATCH (m)-[:EXTENDS]->(parent:Model)
RETURN m.id, collect(parent.id)
"""


def descendants_in(models: ModelSet) -> Callable[[str], list[str]]:
    """``dtmi`` and the models of ``models`` extending it (directly or not), sorted."""

    def find(dtmi: str) -> list[str]:
        found = {d for d in models if d != dtmi and models.is_a(d, dtmi)}
        return sorted({dtmi, *found})

    return find


def descendants_in_graph(store: GraphStore) -> Callable[[str], list[str]]:
    """As :func:`descendants_in`, from the models stored in the graph (read on first use)."""
    children: dict[str, set[str]] | None = None

    def find(dtmi: str) -> list[str]:
        nonlocal children
        if children is None:
            children = {}
            for model, parents in store.query_rows(_HIERARCHY):
                for parent in parents or ():
                    children.setdefault(str(parent), set()).add(str(model))
        found = {dtmi}
        frontier = [dtmi]
        while frontier:  # breadth-first; a cycle cannot loop since found grows
            for child in children.get(frontier.pop(), ()):
                if child not in found:
                    found.add(child)
                    frontier.append(child)
        return sorted(found)

    return find
