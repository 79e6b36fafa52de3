"""Breadth-first expansion of the twin graph: one read per depth level, never one per twin.

Neighbours, the containment tree and subgraph selection all walk the graph the same way:
from the twins of the current level (the *frontier*), follow a few *moves* (relationship
names in one direction) to the next level. Each level is one statement that matches the
frontier by ``Twin.id`` (index seek) and expands one hop, so the cost grows with the twins
and relationships reached, not with the number of paths as a variable-length pattern
(``-[*1..n]->``) does on FalkorDB; it also lets a model filter prune the walk and mix
directions (``contains`` down, ``isPartOf`` up) in one level.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from graph.cypher import MAX_ROWS, identifier
from graph.errors import LimitExceeded
from graph.physical import DOCUMENT, decode
from graph.store import GraphStore
from graph.telemetry import TELEMETRY_COLUMN
from ontology.errors import BadRequest, NotFound

MAX_DEPTH = 10
"""The deepest walk a caller may ask for: keeps a read bounded on a dense graph."""
DEFAULT_MAX_TWINS = 10_000

TWIN_KEYS = ("id", "model", "etag", "createdAt", "updatedAt", DOCUMENT, TELEMETRY_COLUMN)
"""The node properties a walk reads: what ``Twin.from_node`` needs (no flattened copies).

The last is the telemetry reference as JSON text (``graph.telemetry``)."""


DOCUMENT_KEYS = TWIN_KEYS[:-1]
""":data:`TWIN_KEYS` without the telemetry reference: for reads that build no ``Twin``
(subgraphs)."""


def twin_columns(var: str, *, telemetry: bool = True) -> str:
    """The ``RETURN`` columns of :data:`TWIN_KEYS` (or :data:`DOCUMENT_KEYS`) for node ``var``."""
    return ", ".join(f"{var}.`{key}`" for key in (TWIN_KEYS if telemetry else DOCUMENT_KEYS))


_ROOTS = f"MATCH (t:Twin) WHERE t.id IN $roots RETURN {twin_columns('t')}"
# ``a`` is the frontier twin, at the source or the target end of the edge (``{left}``/``{right}``
# draw the arrow); ``b`` is the other end, and the edge columns say source and target, so no
# startNode() is needed.
# The frontier has a MATCH of its own: in one pattern FalkorDB may start from ``b`` with a
# label scan when the arrow points at ``a``; alone, ``a`` is found by the Twin.id index.
# Only the columns the caller needs travel: the edge's ends and ``_document`` only when it
# wants edges, the reached twin's columns only on a step that reaches twins.
_STEP = """
MATCH (a:Twin) WHERE a.id IN $frontier
MATCH (a){left}[r{types}]{right}(b:Twin){where}
RETURN a.id AS at, type(r) AS name, r.id AS rel{extra}
"""
_EDGE = ", {source}.id AS source, {target}.id AS target, r.`" + DOCUMENT + "` AS relDocument"
_TWIN = ", " + twin_columns("b")
_TWIN_DOCUMENT = ", " + twin_columns("b", telemetry=False)


class Direction(StrEnum):
    """Which way relationships are followed from a twin: out of it, into it, or both."""

    OUT = "out"
    IN = "in"
    BOTH = "both"


@dataclass(frozen=True)
class Move:
    """Follow relationships named ``names`` (any name when empty) in ``direction``."""

    names: tuple[str, ...] = ()
    direction: Direction = Direction.OUT


@dataclass(frozen=True)
class Edge:
    """A relationship met on the walk, with its decoded DTDL properties."""

    id: str
    name: str
    source: str
    target: str
    properties: dict[str, Any]


@dataclass
class Walk:
    """What a walk reached: twins (node properties) with their depth, and relationships.

    ``parent`` is the twin each one was first reached from (roots have none).
    """

    nodes: dict[str, Mapping[str, Any]] = field(default_factory=dict)
    depth: dict[str, int] = field(default_factory=dict)
    parent: dict[str, str] = field(default_factory=dict)
    edges: dict[tuple[str, str, str], Edge] = field(default_factory=dict)


def check_depth(max_depth: int) -> None:
    if not isinstance(max_depth, int) or max_depth < 0:
        raise BadRequest(f"maxDepth must be a non-negative integer, not {max_depth!r}")
    if max_depth > MAX_DEPTH:
        raise LimitExceeded("maxDepth", MAX_DEPTH)


def check_max_twins(max_twins: int) -> None:
    if max_twins > MAX_ROWS:
        raise LimitExceeded("maxTwins", MAX_ROWS)
    if max_twins < 1:
        raise BadRequest(f"maxTwins must be at least 1, not {max_twins}")


def walk(
    store: GraphStore,
    roots: Sequence[str],
    moves: Sequence[Move],
    max_depth: int,
    *,
    labels: Sequence[str] = (),
    close: bool = False,
    edges: bool = True,
    max_twins: int = DEFAULT_MAX_TWINS,
    telemetry: bool = True,
) -> Walk:
    """Expand from ``roots`` by ``moves`` up to ``max_depth`` hops, one read per level.

    ``labels``: only twins carrying one of them are reached (roots are always kept).
    ``close``: also collect the relationships between twins of the last level and the
    twins reached, so the edges are those of the subgraph the reached twins induce.
    ``telemetry``: read each twin's telemetry reference too (``Twin.from_node`` needs it).
    ``edges``: collect the relationships met (with their properties); without, ``edges``
    stays empty and the reads carry no relationship properties.
    Raises ``NotFound`` for a missing root and ``LimitExceeded`` past ``max_twins``.
    """
    check_depth(max_depth)
    check_max_twins(max_twins)
    found = walk_roots(store, roots)
    result = Walk()
    for twin_id in roots:
        result.nodes[twin_id] = found[twin_id]
        result.depth[twin_id] = 0
    frontier = list(dict.fromkeys(roots))
    query = step_query(moves, labels, kept=False, edges=edges, twins=True, telemetry=telemetry)
    keys = TWIN_KEYS if telemetry else DOCUMENT_KEYS
    nodes, depths, parents = result.nodes, result.depth, result.parent
    # Columns: at, name, rel, [source, target, relDocument], then the twin's TWIN_KEYS,
    # the first being the id of the twin reached (``b``, the other end from ``at``).
    first_twin = 6 if edges else 3
    for depth in range(1, max_depth + 1):
        if not frontier:
            break
        reached: list[str] = []
        rows = _read(store, query, {"frontier": frontier, "labels": list(labels)})
        # Engines return rows in no set order; sorting makes "first parent" deterministic.
        rows.sort(key=_row_order)
        for row in rows:
            at, other = row[0], row[first_twin]
            if other not in nodes:
                if len(nodes) >= max_twins:
                    raise LimitExceeded("twins in the walk", max_twins)
                nodes[other] = dict(zip(keys, row[first_twin:], strict=True))
                depths[other] = depth
                parents[other] = at
                reached.append(other)
            if edges:
                _add_edge(result, row)
        frontier = reached
    if close and edges and frontier:
        params = {"frontier": frontier, "labels": list(labels), "kept": list(result.nodes)}
        for row in _read(store, step_query(moves, labels, kept=True, edges=True, twins=False), params):
            _add_edge(result, row)
    return result


def _row_order(row: list[Any]) -> tuple[str, str, str]:
    return (row[0], row[1], str(row[2]))


def walk_roots(store: GraphStore, roots: Sequence[str]) -> dict[str, Mapping[str, Any]]:
    """The node properties of each root; ``NotFound`` naming the first one missing."""
    if len(roots) > MAX_ROWS:
        raise LimitExceeded("roots", MAX_ROWS)
    rows = _read(store, _ROOTS, {"roots": list(roots)})
    found: dict[str, Mapping[str, Any]] = {
        str(row[0]): dict(zip(TWIN_KEYS, row, strict=True)) for row in rows
    }
    for twin_id in roots:
        if twin_id not in found:
            raise NotFound(f"twin {twin_id!r} does not exist", details={"twinId": twin_id})
    return found


def step_query(
    moves: Sequence[Move],
    labels: Sequence[str],
    *,
    kept: bool,
    edges: bool = True,
    twins: bool = True,
    telemetry: bool = True,
) -> str:
    """One hop out of ``$frontier`` along every move (a ``UNION ALL`` of one MATCH per direction).

    ``edges`` adds the relationship's document, ``twins`` the reached twin's columns (with
    its telemetry reference unless ``telemetry`` is false).
    """
    extra = (_EDGE if edges else "") + ((_TWIN if telemetry else _TWIN_DOCUMENT) if twins else "")
    parts: list[str] = []
    conditions = ["any(label IN labels(b) WHERE label IN $labels)"] if labels else []
    if kept:
        conditions.append("b.id IN $kept")
    where = " WHERE " + " AND ".join(conditions) if conditions else ""
    for move in moves:
        types = ":" + "|".join(identifier(name) for name in move.names) if move.names else ""
        directions = (Direction.OUT, Direction.IN) if move.direction == Direction.BOTH else (move.direction,)
        for direction in directions:
            outward = direction == Direction.OUT
            text = _STEP.format(
                left="-" if outward else "<-",
                right="->" if outward else "-",
                types=types,
                where=where,
                extra=extra.format(source="a" if outward else "b", target="b" if outward else "a"),
            )
            parts.append(text.strip())
    return "\nUNION ALL\n".join(parts)


def _add_edge(result: Walk, row: Sequence[Any]) -> None:
    """Record the relationship of a step row (``at, name, rel, source, target, relDocument, ...``)."""
    source, target = row[3], row[4]
    if source in result.nodes and target in result.nodes:
        edge = Edge(
            str(row[2]), str(row[1]), str(source), str(target), decode({"id": row[2], DOCUMENT: row[5]})
        )
        result.edges[(edge.source, edge.target, edge.id)] = edge


def _read(store: GraphStore, query: str, params: Mapping[str, Any]) -> list[list[Any]]:
    rows = store.query_rows(query, params)
    if len(rows) > MAX_ROWS:
        raise LimitExceeded("rows of one walk step", MAX_ROWS)
    return rows
