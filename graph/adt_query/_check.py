"""The rules of the language that no grammar can say, checked once per query.

``check`` walks a parsed query: it declares the collections (``FROM``, ``JOIN``,
``MATCH``), resolves every reference to a collection and a property path, and refuses
what ADT does not allow or kgtwin does not support, naming the construct and its place.
It is pure (no graph), so ``parse_query`` reports these errors too.
"""

from __future__ import annotations

import re

from graph.adt_query._functions import check_condition
from graph.adt_query._scope import Binding, Kind, Resolved, Scope
from graph.adt_query.errors import QueryInvalid
from graph.adt_query.syntax import AdtQuery, Collection, Edge, Position, Ref, Shape

MAX_JOINS = 5
"""ADT's limit, kept: each JOIN is one more hop the engine expands for every row."""


MAX_HOPS = 10
"""ADT's limit on a MATCH hop count (reference: MATCH clause, Limitations)."""


_RELATIONSHIP_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]*")


def check(query: AdtQuery) -> Scope:
    """The scope of ``query``, after checking every rule of the language; ``QueryInvalid`` if one fails."""
    scope = Scope()
    source = query.source
    if source.collection == Collection.RELATIONSHIPS:
        if query.joins or query.match:
            construct = "JOIN" if query.joins else "MATCH"
            raise QueryInvalid(
                f"FROM RELATIONSHIPS cannot be combined with {construct}",
                construct=construct,
                at=query.joins[0].at if query.joins else query.match.at if query.match else None,
            )
        binding = Binding(source.alias or "", Kind.RELATIONSHIP, "r0", named=bool(source.alias))
        scope.declare(binding, source.at)
        scope.implicit = binding
    elif query.match is not None:
        if query.joins:
            raise QueryInvalid(
                "JOIN and MATCH cannot be combined: write the JOINs as MATCH hops",
                construct="JOIN",
                at=query.joins[0].at,
            )
        _declare_match(query, scope)
    else:
        binding = Binding(source.alias or "", Kind.TWIN, "t0", named=bool(source.alias))
        scope.declare(binding, source.at)
        if query.joins:
            _declare_joins(query, scope)
        else:
            scope.implicit = binding
    _check_select(query, scope)
    if query.where is not None:
        check_condition(query.where, scope)
    return scope


def _declare_joins(query: AdtQuery, scope: Scope) -> None:
    if not query.source.alias:
        raise QueryInvalid(
            "JOIN needs a name for the FROM collection: FROM DIGITALTWINS T JOIN ... RELATED T.name",
            construct="JOIN",
            at=query.joins[0].at,
        )
    if len(query.joins) > MAX_JOINS:
        raise QueryInvalid(
            f"a query may have at most {MAX_JOINS} JOINs, this one has {len(query.joins)}",
            construct="JOIN",
            at=query.joins[MAX_JOINS].at,
            limit=MAX_JOINS,
        )
    for join in query.joins:
        source = scope.bindings.get(join.source)
        if source is None or source.kind != Kind.TWIN:
            what = "a relationship" if source is not None else "not a collection declared before"
            raise QueryInvalid(
                f"JOIN ... RELATED {join.source}.{join.relationship}: {join.source!r} is {what}; "
                "name a twin collection",
                construct=join.source,
                at=join.at,
            )
        _relationship_name(join.relationship, join.at)
        scope.declare(Binding(join.target, Kind.TWIN, scope.next_var(Kind.TWIN)), join.at)
        var = scope.next_var(Kind.RELATIONSHIP)
        scope.declare(Binding(join.alias or "", Kind.RELATIONSHIP, var, named=bool(join.alias)), join.at)


def _declare_match(query: AdtQuery, scope: Scope) -> None:
    match = query.match
    assert match is not None
    names = [n.alias for n in match.nodes if n.alias]
    if not names:
        raise QueryInvalid("MATCH needs at least one named twin", construct="MATCH", at=match.at)
    if query.source.alias and query.source.alias not in names:
        raise QueryInvalid(
            f"FROM DIGITALTWINS {query.source.alias} with MATCH: {query.source.alias!r} must be a twin "
            "of the pattern",
            construct=query.source.alias,
            at=query.source.at,
        )
    for node in match.nodes:
        if node.alias and node.alias not in scope.bindings:
            scope.declare(Binding(node.alias, Kind.TWIN, scope.next_var(Kind.TWIN)), node.at)
    for edge in match.edges:
        for name in edge.names:
            _relationship_name(name, edge.at)
        if edge.hops is not None:
            low, high = edge.hops.bounds()
            if high > MAX_HOPS:
                raise QueryInvalid(
                    f"a MATCH hop count is at most {MAX_HOPS}, not {high}",
                    construct="hops",
                    at=edge.at or match.at,
                    limit=MAX_HOPS,
                )
            if low > high or high < 1:
                raise QueryInvalid(
                    f"the hop count {edge.hops} matches no path (ADT reads *a..b as more than a, "
                    "at most b hops)",
                    construct="hops",
                    at=edge.at,
                )
            if edge.variable and high > 1:
                raise QueryInvalid(
                    f"relationship variable {edge.variable!r} with {edge.hops}: a variable is only "
                    "allowed on a single hop",
                    construct=edge.variable,
                    at=edge.at,
                )
        if single_hop(edge):
            var = scope.next_var(Kind.RELATIONSHIP)
            named = edge.variable is not None
            scope.declare(Binding(edge.variable or "", Kind.RELATIONSHIP, var, named=named), edge.at)


def single_hop(edge: Edge) -> bool:
    """Whether a MATCH edge is exactly one hop (its relationship is then bound and part of the row)."""
    return edge.hops is None or edge.hops.bounds() == (1, 1)


def _relationship_name(name: str, at: Position | None) -> None:
    if _RELATIONSHIP_NAME.fullmatch(name) is None:
        raise QueryInvalid(
            f"{name!r} is not a relationship name (DTDL names start with a letter)", construct=name, at=at
        )


def column_key(column_ref: Resolved, alias: str | None) -> str:
    """The key of a projected column in a result row: its ``AS`` name, else the collection's
    name or the property's last name, as ADT keys them."""
    if alias:
        return alias
    if not column_ref.path:
        return column_ref.binding.alias
    return column_ref.path[-1]


def _check_select(query: AdtQuery, scope: Scope) -> None:
    select = query.select
    if select.shape == Shape.COUNT and select.top is not None:
        raise QueryInvalid("TOP and COUNT() cannot be combined", construct="TOP", at=select.at)
    if select.shape != Shape.COLUMNS:
        return
    keys: dict[str, Ref] = {}
    for column in select.columns:
        resolved = scope.resolve(column.ref)
        if not resolved.path and not resolved.binding.named:
            raise QueryInvalid(
                "name the collection to project it: FROM DIGITALTWINS T ... SELECT T",
                construct=str(column.ref),
                at=column.ref.at,
            )
        if resolved.path and resolved.path[0] == "$metadata" and len(resolved.path) == 1:
            raise QueryInvalid(
                "project $metadata.$model or $metadata.$lastUpdateTime, or the twin itself",
                construct="$metadata",
                at=column.ref.at,
            )
        key = column_key(resolved, column.alias)
        if key in keys:
            raise QueryInvalid(
                f"two columns are named {key!r}; give one another name with AS",
                construct=key,
                at=column.ref.at,
            )
        keys[key] = column.ref
