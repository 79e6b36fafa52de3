"""What-if scenarios: edits applied to the simulation's own copy of a subgraph.

A scenario changes twin properties (a machine's cycle time, a buffer's capacity) and the
topology (remove a twin, add or remove a ``feeds`` relationship). It never touches the
twin graph: :meth:`Scenario.apply` returns an edited copy of the networkx subgraph, and
every twin it names must be in that subgraph, so a typo fails before anything runs.
"""

from __future__ import annotations

from typing import Any

import networkx as nx
from pydantic import BaseModel, ConfigDict, Field

from graph.subgraph import RELATIONSHIP_NAME
from ontology.errors import ValidationFailed

JSONValue = str | int | float | bool | None


class AddFeeds(BaseModel):
    """A new ``feeds`` relationship from ``source`` to ``target``."""

    model_config = ConfigDict(frozen=True, populate_by_name=True, extra="forbid")

    source: str
    target: str
    routing_probability: float | None = Field(default=None, ge=0, le=1, alias="routingProbability")
    relationship: str = "feeds"


class Scenario(BaseModel):
    """A what-if: property overrides per twin, then topology edits, in that order.

    ``overrides`` maps a twin id to the properties to set (``null`` removes one).
    ``removeTwins`` removes twins with all their relationships; ``removeRelationships``
    removes relationships by id; ``addFeeds`` adds relationships. ``description`` names
    the scenario in the comparison sentence ("doubling buffer B2"); without it one is
    made from the edits.
    """

    model_config = ConfigDict(frozen=True, populate_by_name=True, extra="forbid")

    name: str = "scenario"
    description: str | None = None
    overrides: dict[str, dict[str, JSONValue]] = Field(default_factory=dict)
    remove_twins: tuple[str, ...] = Field(default=(), alias="removeTwins")
    remove_relationships: tuple[str, ...] = Field(default=(), alias="removeRelationships")
    add_feeds: tuple[AddFeeds, ...] = Field(default=(), alias="addFeeds")

    def apply(self, graph: nx.MultiDiGraph) -> nx.MultiDiGraph:
        """An edited copy of ``graph``; ``ValidationFailed`` naming twins that are not in it."""
        self.check(graph)
        edited: nx.MultiDiGraph = graph.copy()
        for twin, properties in self.overrides.items():
            node = edited.nodes[twin]
            for name, value in properties.items():
                if value is None:
                    node.pop(name, None)
                else:
                    node[name] = value
        edited.remove_nodes_from(self.remove_twins)
        for source, target, key in [(s, t, k) for s, t, k in edited.edges(keys=True)]:
            if key in self.remove_relationships:
                edited.remove_edge(source, target, key)
        for n, edge in enumerate(self.add_feeds):
            attributes: dict[str, Any] = {RELATIONSHIP_NAME: edge.relationship}
            if edge.routing_probability is not None:
                attributes["routingProbability"] = edge.routing_probability
            edited.add_edge(edge.source, edge.target, key=f"scenario:{self.name}:{n}", **attributes)
        return edited

    def check(self, graph: nx.MultiDiGraph) -> None:
        """Every twin and relationship the scenario names is in ``graph``."""
        named = [
            *((t, "overrides") for t in self.overrides),
            *((t, "removeTwins") for t in self.remove_twins),
            *((e.source, "addFeeds") for e in self.add_feeds),
            *((e.target, "addFeeds") for e in self.add_feeds),
        ]
        outside = sorted({t for t, _ in named if t not in graph})
        if outside:
            where = sorted({field for t, field in named if t in outside})
            raise ValidationFailed(
                f"scenario {self.name!r} names twins outside the simulated subgraph: {', '.join(outside)}",
                details={"scenario": self.name, "twins": outside, "fields": where},
            )
        removed = set(self.remove_twins)
        dangling = sorted({t for e in self.add_feeds for t in (e.source, e.target) if t in removed})
        if dangling:
            raise ValidationFailed(
                f"scenario {self.name!r} adds relationships to twins it removes: {', '.join(dangling)}",
                details={"scenario": self.name, "twins": dangling},
            )
        keys = {k for _, _, k in graph.edges(keys=True)}
        unknown = sorted(set(self.remove_relationships) - keys)
        if unknown:
            raise ValidationFailed(
                f"scenario {self.name!r} removes relationships not in the subgraph: {', '.join(unknown)}",
                details={"scenario": self.name, "relationships": unknown},
            )

    def describe(self) -> str:
        """The scenario in words, for the comparison sentence."""
        if self.description:
            return self.description
        parts = [
            f"setting {twin} {name} to {value}" if value is not None else f"clearing {twin} {name}"
            for twin, properties in self.overrides.items()
            for name, value in properties.items()
        ]
        parts += [f"removing {twin}" for twin in self.remove_twins]
        parts += [f"removing relationship {rel}" for rel in self.remove_relationships]
        parts += [f"adding {e.relationship} {e.source} -> {e.target}" for e in self.add_feeds]
        return ", ".join(parts) or f"scenario {self.name!r}"
