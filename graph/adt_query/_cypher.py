"""A checked ADT query as one read-only Cypher statement, with every value a parameter.

The statement has one shape for every query::

    MATCH <FROM, each JOIN, or the MATCH chain>
    WHERE <the ADT WHERE> AND <after the last row of the previous page>
    WITH [DISTINCT] <the collections>, <the row's key> ORDER BY <key> LIMIT $limit
    RETURN <what the rows need>

- **Nothing from the query text is spliced** except what a grammar rule has already proven
  safe: relationship names (DTDL names, ``[A-Za-z][A-Za-z0-9_]*``, backticked) and
  property paths (names of ``[A-Za-z_][A-Za-z0-9_]*`` joined by dots, backticked). String,
  number and list literals, model ids and paging keys are parameters (``$p0``...).
- **Twins only.** Every twin of a pattern is ``:Twin``, and a variable-length hop only
  passes through twins, so models, simulation runs and kgtwin's bookkeeping nodes never
  appear.
- **Rows** are the distinct bindings of the row's collections (``Scope.identity``): the
  named twins and relationships, and each single hop's relationship (one row per
  relationship, as a SQL join gives). Variable-length hops bind nothing, so their rows
  are made distinct. Rows come ordered by their key (twin ids; a relationship's source
  id and id), which makes paging by key exact (``graph.adt_query._paging``).
- **Types.** Values are typed the way kgtwin stores DTDL (docs/graph-model.md): scalars
  as they are, Objects, Maps and Components flattened into ``a.b`` keys, arrays of
  scalars as lists. Both engines answer ``=`` on unlike values with false and an ordering
  of unlike values with null (undefined: no row), as ADT does; string functions and
  ``ARRAY_CONTAINS`` see a value of the wrong kind as null. The engines name types
  differently (:class:`Dialect`); everything else is the same text on both.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from graph.adt_query._check import single_hop
from graph.adt_query._conditions import Conditions, Descendants, Dialect, Params
from graph.adt_query._scope import Binding, Kind, Scope
from graph.adt_query.syntax import AdtQuery, Direction, Shape


@dataclass(frozen=True)
class KeyPart:
    """One column of a row's key: its Cypher expression."""

    expr: str


@dataclass
class Plan:
    """The statement of a query, and how to read its rows."""

    text: str
    params: dict[str, Any]
    key_width: int
    """How many leading columns of a row are its key."""
    fetched: list[Binding]
    """The collections whose elements follow the key, in order (a twin: one column, its
    properties; a relationship: four, its name, source id, target id and properties)."""
    count: bool = False


def translate(
    query: AdtQuery,
    scope: Scope,
    dialect: Dialect,
    descendants: Descendants,
    *,
    after: list[Any] | None = None,
    limit: int | None = None,
) -> Plan:
    """The Cypher of ``query`` (checked into ``scope``): rows after key ``after``, at most ``limit``."""
    params = Params()
    patterns, paths = _patterns(query, scope)
    conditions = []
    if query.where is not None:
        conditions.append(Conditions(scope, dialect, descendants, params).condition(query.where))
    identity = scope.identity
    keys = [part for binding in identity for part in _key(binding)]
    if after is not None:
        conditions.append(_after(keys, after, params))
    text = "\n".join(patterns)
    if conditions:
        text += "\nWHERE " + " AND ".join(conditions)
    if paths:
        # Tested after a WITH: FalkorDB (falkordblite 0.11) crashes on a named path in the
        # WHERE of its own MATCH. Only twins on the path, and at least its least hop count.
        carried = ", ".join(b.var for b in identity)
        along = ", ".join(f"nodes({path}) AS {path}nodes, length({path}) AS {path}hops" for path, _ in paths)
        tests = [f"all(n IN {path}nodes WHERE n:Twin)" for path, _ in paths]
        tests += [f"{path}hops >= {low}" for path, low in paths if low > 1]
        text += f"\nWITH {carried}, {along} WHERE {' AND '.join(tests)}"
    distinct = bool(paths)
    variables = ", ".join(b.var for b in identity)
    if query.select.shape == Shape.COUNT:
        if distinct:
            text += f"\nWITH DISTINCT {variables}"
        return Plan(text + "\nRETURN count(*) AS count", params.values, 0, [], count=True)
    fetched = _fetched(query, scope)
    named_keys = ", ".join(f"{part.expr} AS k{i}" for i, part in enumerate(keys))
    order = ", ".join(f"k{i}" for i in range(len(keys)))
    text += f"\nWITH {'DISTINCT ' if distinct else ''}{variables}, {named_keys}"
    text += f"\nORDER BY {order}"
    if limit is not None:
        text += f" LIMIT {params.add(limit)}"
    columns = [f"k{i}" for i in range(len(keys))]
    for binding in fetched:
        v = binding.var
        if binding.kind == Kind.TWIN:
            columns.append(f"properties({v})")
        else:
            columns += [f"type({v})", f"startNode({v}).id", f"endNode({v}).id", f"properties({v})"]
    text += "\nRETURN " + ", ".join(columns)
    return Plan(text, params.values, len(keys), fetched)


def _patterns(query: AdtQuery, scope: Scope) -> tuple[list[str], list[tuple[str, int]]]:
    """The MATCH clauses, and the name and least hop count of each variable-length hop's path
    (rows then repeat: several paths may join the same twins)."""
    if query.source.collection.value == "RELATIONSHIPS":
        return ["MATCH (:Twin)-[r0]->(:Twin)"], []
    if query.match is None:
        lines = ["MATCH (t0:Twin)"]
        bindings = iter(scope.order[1:])
        for join in query.joins:
            target, rel = next(bindings), next(bindings)
            source = scope.bindings[join.source].var
            lines.append(f"MATCH ({source})-[{rel.var}:`{join.relationship}`]->({target.var}:Twin)")
        return lines, []
    return _chain(query, scope)


def _chain(query: AdtQuery, scope: Scope) -> tuple[list[str], list[tuple[str, int]]]:
    """The MATCH chain as one pattern per hop, joined by their shared twins (``MATCH a, b, c``).

    One MATCH keeps Cypher's rule that a relationship is used once per row (ADT: "a
    relationship is traversed only once"); the anonymous twins between hops get variables
    of their own so the hops join up, and each variable-length hop is a named path so that
    its inner nodes can be checked to be twins.

    A variable-length hop is always sent as ``*1..most`` and its least count checked on the
    path's length: FalkorDB (falkordblite 0.11) answers nothing, or crashes, for an exact
    count of two or more (``*2..2``) when it walks the hop against its direction.
    """
    match = query.match
    assert match is not None
    relationships = iter(b for b in scope.order if b.kind == Kind.RELATIONSHIP)
    node_vars = [scope.bindings[n.alias].var if n.alias else f"a{i}" for i, n in enumerate(match.nodes)]
    parts: list[str] = []
    paths: list[tuple[str, int]] = []
    for i, edge in enumerate(match.edges):
        left, right = _arrow(edge.direction)
        names = ":" + "|".join(f"`{n}`" for n in edge.names) if edge.names else ""
        if single_hop(edge):
            inner, prefix = next(relationships).var + names, ""
        else:
            assert edge.hops is not None
            low, high = edge.hops.bounds()
            inner, prefix = f"{names}*1..{high}", f"path{i} = "
            paths.append((f"path{i}", low))
        parts.append(f"{prefix}({node_vars[i]}:Twin){left}[{inner}]{right}({node_vars[i + 1]}:Twin)")
    if not match.edges:
        parts.append(f"({node_vars[0]}:Twin)")
    return ["MATCH " + ", ".join(parts)], paths


def _arrow(direction: Direction) -> tuple[str, str]:
    """The arrow of a Cypher edge for ``direction``: its left and right ends."""
    return {Direction.OUT: ("-", "->"), Direction.IN: ("<-", "-"), Direction.ANY: ("-", "-")}[direction]


def _key(binding: Binding) -> list[KeyPart]:
    if binding.kind == Kind.TWIN:
        return [KeyPart(f"{binding.var}.id")]
    return [KeyPart(f"startNode({binding.var}).id"), KeyPart(f"{binding.var}.id")]


def _after(keys: list[KeyPart], after: list[Any], params: Params) -> str:
    """Rows whose key comes after ``after`` (lexicographically, column by column)."""
    names = [params.add(value) for value in after]
    clauses = []
    for i in range(len(keys)):
        equal = [f"{keys[j].expr} = {names[j]}" for j in range(i)]
        clauses.append("(" + " AND ".join([*equal, f"{keys[i].expr} > {names[i]}"]) + ")")
    return "(" + " OR ".join(clauses) + ")"


def _fetched(query: AdtQuery, scope: Scope) -> list[Binding]:
    """The collections a page's rows need: all named ones for ``*``, else those projected."""
    if query.select.shape != Shape.COLUMNS:
        named = scope.named
        if named:
            return named
        return [scope.order[0]]  # FROM without a name: the twin (or relationship) itself
    wanted = {scope.resolve(c.ref).binding.var for c in query.select.columns}
    return [b for b in scope.order if b.var in wanted]
