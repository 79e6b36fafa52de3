"""Subgraph selection: a part of the twin graph as a ``networkx.MultiDiGraph`` for simulations.

Two ways to say which part:

- a :class:`SubgraphSpec` (roots, relationship names, direction, maxDepth, model filter):
  the twins reached from the roots, and every relationship of those names between them
  (the subgraph they induce), fetched in one read per depth level plus one;
- an analyst's read-only Cypher query: the twins it returns (as nodes, in paths or in
  lists, or as ends of relationships it returns), and every relationship between them,
  in two reads.

The graph's nodes are twin ids with the twin's DTDL properties as attributes, plus
``$model``, ``$etag`` and ``$telemetry`` (its telemetry reference as JSON, so a simulation
reads a twin's own series even when it points at another system's); its edges are keyed
by relationship id and carry the relationship's DTDL properties plus
``$relationshipName`` (``$`` keys, as in DTDL's ``$metadata``, cannot clash with a DTDL
name).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import networkx as nx
from pydantic import BaseModel, ConfigDict, Field

from graph._traversal import (
    DEFAULT_MAX_TWINS,
    MAX_DEPTH,
    TWIN_KEYS,
    Direction,
    Edge,
    Move,
    check_max_twins,
    twin_columns,
    walk,
)
from graph.cypher import DEFAULT_TIMEOUT_S, MAX_ROWS
from graph.errors import LimitExceeded
from graph.physical import DOCUMENT, decode
from graph.store import GraphStore
from graph.telemetry import ref_from_node
from graph.twin import Twin, TwinRelationship
from ontology.errors import BadRequest
from ontology.labels import label_index
from ontology.model import ModelSet
from telemetry.refs import TelemetryRef, default_ref

MODEL = "$model"
ETAG = "$etag"
TELEMETRY = "$telemetry"
RELATIONSHIP_NAME = "$relationshipName"

_NODES = f"MATCH (t:Twin) WHERE t.id IN $ids RETURN {twin_columns('t')}"
_EDGES = f"""
MATCH (a:Twin)-[r]->(b:Twin) WHERE a.id IN $ids AND b.id IN $ids
RETURN type(r) AS name, r.id AS rel, r.`{DOCUMENT}` AS document, a.id AS source, b.id AS target
"""


class SubgraphSpec(BaseModel):
    """Which twins and relationships a simulation works on, as the API and the CLI send it.

    From ``roots``, follow relationships named in ``relationships`` (any name when empty)
    in ``direction`` up to ``maxDepth`` hops; with ``models``, only through twins of one
    of those models or of a model extending one (the roots are always included).
    """

    model_config = ConfigDict(frozen=True, populate_by_name=True, extra="forbid")

    roots: tuple[str, ...] = Field(min_length=1)
    relationships: tuple[str, ...] = ()
    direction: Direction = Direction.OUT
    max_depth: int = Field(default=1, ge=0, le=MAX_DEPTH, alias="maxDepth")
    models: tuple[str, ...] = ()


def select_subgraph(
    store: GraphStore, models: ModelSet, spec: SubgraphSpec, *, max_twins: int = DEFAULT_MAX_TWINS
) -> nx.MultiDiGraph:
    """The subgraph ``spec`` selects.

    ``NotFound`` for a missing root, ``LimitExceeded`` past ``max_twins`` twins.
    """
    unknown = [m for m in spec.models if m not in models]
    if unknown:
        raise BadRequest(f"model {unknown[0]!r} is not in the model set", details={"models": unknown})
    index = label_index(models)
    labels = tuple(dict.fromkeys(index.label(m) for m in spec.models))
    found = walk(
        store,
        spec.roots,
        [Move(spec.relationships, spec.direction)],
        spec.max_depth,
        labels=labels,
        close=True,
        max_twins=max_twins,
    )
    return _graph(found.nodes.values(), found.edges.values())


def subgraph_from_cypher(
    store: GraphStore,
    query: str,
    params: Mapping[str, Any] | None = None,
    *,
    timeout_s: float = DEFAULT_TIMEOUT_S,
    max_twins: int = DEFAULT_MAX_TWINS,
) -> nx.MultiDiGraph:
    """The twins an analyst's read-only ``query`` returns, with every relationship between them.

    The query runs in the engine's read-only mode (a write is ``CYPHER_WRITE_REFUSED``).
    Values that are not twins (numbers, strings) are ignored. More than ``max_twins``
    twins is ``LimitExceeded``.
    """
    check_max_twins(max_twins)
    result = store.read(query, params, timeout_s=timeout_s, max_rows=MAX_ROWS)
    if result.truncated:
        raise LimitExceeded("rows of the selecting query", MAX_ROWS)
    ids: dict[str, None] = {}
    for row in result.rows:
        _twin_ids(row, ids)
    if len(ids) > max_twins:
        raise LimitExceeded("twins in the subgraph", max_twins)
    wanted = {"ids": list(ids)}
    nodes = [
        dict(zip(TWIN_KEYS, row, strict=True))
        for row in store.query_rows(_NODES, wanted, timeout_s=timeout_s)
    ]
    edges = store.query_rows(_EDGES, wanted, timeout_s=timeout_s)
    if len(edges) > MAX_ROWS:
        raise LimitExceeded("relationships in the subgraph", MAX_ROWS)
    return _graph(
        nodes,
        (
            Edge(str(rel), str(name), str(s), str(t), decode({"id": rel, DOCUMENT: document}))
            for name, rel, document, s, t in edges
        ),
    )


def _twin_ids(value: Any, ids: dict[str, None]) -> None:
    """Collect twin ids from rendered values (``graph.cypher``): nodes, relationship ends, paths, lists."""
    if isinstance(value, Mapping):
        if "labels" in value and isinstance(value.get("id"), str):
            ids[value["id"]] = None
        elif {"type", "start", "end"} <= value.keys():
            for end in (value["start"], value["end"]):
                if isinstance(end, str):
                    ids[end] = None
        else:
            for item in value.values():
                _twin_ids(item, ids)
    elif isinstance(value, Sequence) and not isinstance(value, str):
        for item in value:
            _twin_ids(item, ids)


def _graph(nodes: Iterable[Mapping[str, Any]], edges: Iterable[Edge]) -> nx.MultiDiGraph:
    graph = nx.MultiDiGraph()
    for props in sorted(nodes, key=lambda p: str(p["id"])):
        twin_id, model = str(props["id"]), str(props["model"])
        ref = ref_from_node(props, model, twin_id)
        graph.add_node(
            twin_id, **decode(props), **{MODEL: model, ETAG: props["etag"], TELEMETRY: ref.to_dict()}
        )
    for edge in sorted(edges, key=lambda e: (e.source, e.id)):
        graph.add_edge(
            edge.source, edge.target, key=edge.id, **edge.properties, **{RELATIONSHIP_NAME: edge.name}
        )
    return graph


def subgraph_twins(graph: nx.MultiDiGraph, models: ModelSet) -> list[Twin]:
    """The twins of a selected subgraph, in its node order.

    Their nodes carry the telemetry reference but no timestamps: ``created_at`` and
    ``updated_at`` are empty.
    """
    found: list[Twin] = []
    for twin_id, data in graph.nodes(data=True):
        attrs = dict(data)
        model, etag = str(attrs.pop(MODEL)), str(attrs.pop(ETAG))
        stored = attrs.pop(TELEMETRY, None)
        ref = TelemetryRef.from_dict(stored) if stored is not None else default_ref(models, model, twin_id)
        found.append(Twin(twin_id, model, etag, "", "", ref, attrs))
    return found


def subgraph_relationships(graph: nx.MultiDiGraph) -> list[TwinRelationship]:
    """The relationships of a selected subgraph, in its edge order."""
    found: list[TwinRelationship] = []
    for source, target, key, data in graph.edges(keys=True, data=True):
        attrs = dict(data)
        name = str(attrs.pop(RELATIONSHIP_NAME))
        found.append(TwinRelationship(str(key), name, source, target, attrs))
    return found
