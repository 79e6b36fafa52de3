"""Analysts' read-only Cypher: limits, and the JSON shape of results on every engine.

Each adapter turns its driver's graph values into the neutral :class:`GraphNode`,
:class:`GraphEdge` and :class:`GraphPath` below; :func:`render_rows` turns those into the
JSON objects analysts see, identical on Neo4j and FalkorDB:

- node: ``{"id", "labels", "properties"}`` where ``id`` is the twin's ``id`` property and
  ``labels`` are sorted (Neo4j keeps labels as a set, so order carries no meaning);
- relationship: ``{"id", "type", "start", "end", "properties"}``, ``start`` and ``end``
  being the twin ids of its end nodes;
- path: the list ``[node, relationship, node, ...]`` from start to end.

An engine hands over a bare relationship with internal ids of its end nodes only; the
adapter resolves those to twin ids with one more read (``resolve``).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from graph.errors import LimitExceeded
from ontology.errors import BadRequest

DEFAULT_TIMEOUT_S = 30.0
DEFAULT_MAX_ROWS = 10_000
# Hard ceilings a caller cannot raise: a read must not tie up the engine or the API's memory.
MAX_TIMEOUT_S = 600.0
MAX_ROWS = 100_000

_EXPLAIN = re.compile(r"\s*EXPLAIN\b", re.IGNORECASE)
# DTDL names and graph labels are [A-Za-z][A-Za-z0-9_]* (DTDL §DTMI, §Content name).
_IDENTIFIER = re.compile(r"[A-Za-z][A-Za-z0-9_]*")


@dataclass(frozen=True, slots=True)
class GraphNode:
    """A node as a driver returned it; ``key`` is the engine's internal id."""

    key: Any
    labels: tuple[str, ...]
    properties: Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class GraphEdge:
    """A relationship as a driver returned it; ``start_key``/``end_key`` are internal node ids."""

    key: Any
    type: str
    start_key: Any
    end_key: Any
    properties: Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class GraphPath:
    """A path: its nodes in order and the relationships between them."""

    nodes: tuple[GraphNode, ...]
    edges: tuple[GraphEdge, ...]


def check_limits(timeout_s: float, max_rows: int) -> None:
    """Refuse a time budget or row cap outside what the engine may be asked for."""
    if not 0 < timeout_s <= MAX_TIMEOUT_S:
        if timeout_s > MAX_TIMEOUT_S:
            raise LimitExceeded("timeout_s", int(MAX_TIMEOUT_S))
        raise BadRequest(f"timeout_s must be positive, not {timeout_s}")
    if max_rows > MAX_ROWS:
        raise LimitExceeded("max_rows", MAX_ROWS)
    if max_rows < 1:
        raise BadRequest(f"max_rows must be at least 1, not {max_rows}")


def is_explain(query: str) -> bool:
    """Whether ``query`` asks for its plan (``EXPLAIN ...``) rather than its rows."""
    return _EXPLAIN.match(query) is not None


def identifier(name: str) -> str:
    """``name`` backticked for Cypher text, after checking it is a DTDL name or graph label."""
    if _IDENTIFIER.fullmatch(name) is None:
        raise BadRequest(f"{name!r} is not a valid label or relationship name")
    return f"`{name}`"


def render_rows(
    rows: Iterable[Sequence[Any]], resolve: Callable[[list[Any]], Mapping[Any, Any]]
) -> list[list[Any]]:
    """Rows of driver values (already neutralised) as JSON data.

    ``resolve`` maps internal node ids to twin ids for relationship ends whose nodes are
    not in the result; it is called at most once.
    """
    rows = [list(row) for row in rows]
    known: dict[Any, Any] = {}
    wanted: set[Any] = set()
    for row in rows:
        for value in row:
            _collect(value, known, wanted)
    missing = [key for key in wanted if key not in known]
    if missing:
        known.update(resolve(missing))
    return [[_render(value, known) for value in row] for row in rows]


def _collect(value: Any, known: dict[Any, Any], wanted: set[Any]) -> None:
    if isinstance(value, GraphNode):
        known[value.key] = value.properties.get("id")
    elif isinstance(value, GraphEdge):
        wanted.update((value.start_key, value.end_key))
    elif isinstance(value, GraphPath):
        for node in value.nodes:
            known[node.key] = node.properties.get("id")
    elif isinstance(value, list | tuple):
        for item in value:
            _collect(item, known, wanted)
    elif isinstance(value, Mapping):
        for item in value.values():
            _collect(item, known, wanted)


def _render(value: Any, ids: Mapping[Any, Any]) -> Any:
    if isinstance(value, GraphNode):
        return {
            "id": value.properties.get("id"),
            "labels": sorted(value.labels),
            "properties": dict(value.properties),
        }
    if isinstance(value, GraphEdge):
        return {
            "id": value.properties.get("id"),
            "type": value.type,
            "start": ids.get(value.start_key),
            "end": ids.get(value.end_key),
            "properties": dict(value.properties),
        }
    if isinstance(value, GraphPath):
        items: list[Any] = [_render(value.nodes[0], ids)]
        for edge, node in zip(value.edges, value.nodes[1:], strict=True):
            items += [_render(edge, ids), _render(node, ids)]
        return items
    if isinstance(value, list | tuple):
        return [_render(item, ids) for item in value]
    if isinstance(value, Mapping):
        return {str(k): _render(v, ids) for k, v in value.items()}
    return value


# EXPLAIN answers one row per plan operator, indented four spaces per level (FalkorDB's layout).
PLAN_COLUMNS = ["plan"]


_INT64 = (-(2**63), 2**63 - 1)


MAX_PARAM_DEPTH = 32
"""How deeply parameters may nest lists and maps (kgtwin's own nest three; both drivers recurse)."""


def check_params(params: Mapping[str, Any] | None) -> None:
    """Refuse integers neither engine can hold, and nesting deeper than the drivers can pack.

    Both engines' integers are signed 64-bit. Neo4j's driver fails a larger one with an
    ``OverflowError`` halfway through packing the request, leaving the connection unusable
    for a while; FalkorDB silently changes it. Both drivers write parameters recursively,
    so a parameter nested some thousand levels deep failed inside the driver and was
    answered ``BACKEND_UNAVAILABLE``. An analyst's JSON parameter may hold any of these,
    so both adapters call this first.
    """
    # Containers wait on a stack with their depth; their scalars are checked in a tight loop
    # with exact types first: an import batch carries millions of strings, and isinstance
    # against ``Mapping`` (an ABC) costs several times a type comparison.
    stack: list[tuple[Any, int]] = [(dict(params or {}), 1)]
    while stack:
        value, depth = stack.pop()
        if depth > MAX_PARAM_DEPTH:
            raise BadRequest(
                f"Cypher parameters refused: lists and maps nested more than {MAX_PARAM_DEPTH} deep",
                details={"maxDepth": MAX_PARAM_DEPTH},
            )
        for item in value.values() if type(value) is dict else value:
            kind = type(item)
            if kind is str or kind is float or kind is bool or item is None:
                continue
            if kind is int:
                _check_int(item)
            elif kind is list or kind is tuple or kind is dict:
                stack.append((item, depth + 1))
            elif isinstance(item, bool):
                continue
            elif isinstance(item, int):
                _check_int(item)
            elif isinstance(item, Mapping):
                stack.append((dict(item), depth + 1))
            elif isinstance(item, list | tuple):
                stack.append((item, depth + 1))


def _check_int(value: int) -> None:
    if not _INT64[0] <= value <= _INT64[1]:
        raise BadRequest(
            f"Cypher parameters refused: {value} does not fit a 64-bit integer",
            details={"value": str(value)},
        )
