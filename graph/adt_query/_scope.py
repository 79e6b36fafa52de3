"""What each name of a query stands for, and the rules of the language that no grammar can say.

``check`` walks a parsed query once: it declares the collections (``FROM``, ``JOIN``,
``MATCH``), resolves every reference to a collection and a property path, and refuses
what ADT does not allow or kgtwin does not support, naming the construct and its place.
It is pure (no graph), so ``parse_query`` reports these errors too.

Collections get Cypher variables of kgtwin's own (``t0``, ``r0``...), never the user's
names, so no alias can collide with a Cypher keyword or another variable.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from enum import StrEnum

from graph.adt_query.errors import QueryInvalid
from graph.adt_query.syntax import (
    AdtQuery,
    And,
    Bare,
    Call,
    Collection,
    Compare,
    Condition,
    Direction,
    Literal,
    Membership,
    Not,
    Operand,
    Or,
    Position,
    Ref,
    Shape,
)

MAX_JOINS = 5
"""ADT's limit, kept: each JOIN is one more hop the engine expands for every row."""
MAX_HOPS = 10
"""ADT's limit on a MATCH hop count (reference: MATCH clause, Limitations)."""
# DTDL §Content name: what a relationship may be called (also a safe Cypher identifier).
_RELATIONSHIP_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]*")

FUNCTIONS = {
    "IS_OF_MODEL": (1, 3),
    "IS_DEFINED": (1, 1),
    "IS_NULL": (1, 1),
    "IS_BOOL": (1, 1),
    "IS_NUMBER": (1, 1),
    "IS_STRING": (1, 1),
    "IS_PRIMITIVE": (1, 1),
    "IS_OBJECT": (1, 1),
    "STARTSWITH": (2, 2),
    "ENDSWITH": (2, 2),
    "CONTAINS": (2, 2),
    "ARRAY_CONTAINS": (2, 2),
}
"""The functions and how many arguments each takes."""
# Spellings the reference also uses (its overview and its reserved keywords).
_SYNONYMS = {"STARTS_WITH": "STARTSWITH", "ENDS_WITH": "ENDSWITH"}

TWIN_SYSTEM = {"$dtid": "$dtId", "$etag": "$etag"}
TWIN_METADATA = {"$model": "$model", "$lastupdatetime": "$lastUpdateTime"}
RELATIONSHIP_SYSTEM = {
    "$relationshipid": "$relationshipId",
    "$sourceid": "$sourceId",
    "$targetid": "$targetId",
    "$relationshipname": "$relationshipName",
    "$etag": "$etag",
}


class Kind(StrEnum):
    """What a collection holds."""

    TWIN = "twin"
    RELATIONSHIP = "relationship"


@dataclass(frozen=True)
class Binding:
    """A collection of the query: its name as written (``""`` when unnamed) and its Cypher variable.

    ``named``: the user named it, so ``SELECT *`` returns it and it is one of the row's
    identity (a JOIN's unnamed relationship is part of the identity too: ``identity``).
    """

    alias: str
    kind: Kind
    var: str
    named: bool = True
    identity: bool = True


@dataclass(frozen=True)
class Resolved:
    """A reference resolved: the collection, and the property path in it (``()``: the collection).

    System names are spelled canonically (``$dtId``, ``$metadata``, ``$model``).
    """

    binding: Binding
    path: tuple[str, ...]

    @property
    def system(self) -> bool:
        return bool(self.path) and self.path[0].startswith("$")


@dataclass
class Scope:
    """The collections of a query, in the order they were declared."""

    bindings: dict[str, Binding] = field(default_factory=dict)
    order: list[Binding] = field(default_factory=list)
    implicit: Binding | None = None
    """Where a property named without its collection belongs (a query with one collection)."""

    def declare(self, binding: Binding, at: Position | None) -> Binding:
        if binding.named:
            if binding.alias in self.bindings:
                raise QueryInvalid(
                    f"the name {binding.alias!r} is used for two collections", construct=binding.alias, at=at
                )
            self.bindings[binding.alias] = binding
        self.order.append(binding)
        return binding

    def next_var(self, kind: Kind) -> str:
        prefix = "t" if kind == Kind.TWIN else "r"
        return f"{prefix}{sum(1 for b in self.order if b.kind == kind)}"

    @property
    def identity(self) -> list[Binding]:
        """The collections whose elements make a row what it is (its paging key)."""
        return [b for b in self.order if b.identity]

    @property
    def named(self) -> list[Binding]:
        return [b for b in self.order if b.named]

    def resolve(self, ref: Ref) -> Resolved:
        """The collection and path ``ref`` names; ``QueryInvalid`` if it names nothing here."""
        head, *rest = ref.parts
        binding = self.bindings.get(head)
        if binding is not None:
            return Resolved(binding, _canonical(binding, tuple(rest), ref))
        # Unqualified, a name is a property of the one collection; a dotted name with an unknown
        # head in a query that names its collections is a mistyped collection, not a nested path.
        if self.implicit is not None and (len(ref.parts) == 1 or not self.bindings):
            return Resolved(self.implicit, _canonical(self.implicit, ref.parts, ref))
        known = ", ".join(sorted(self.bindings)) or "none"
        near = [a for a in self.bindings if a.lower() == head.lower()]
        hint = f"; did you mean {near[0]!r}?" if near else f" (collections: {known})"
        raise QueryInvalid(
            f"{head!r} is not a collection of this query; with several collections name the one a "
            f"property belongs to{hint}",
            construct=head,
            at=ref.at,
        )


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


def single_hop(edge: object) -> bool:
    """Whether a MATCH edge is exactly one hop (its relationship is then bound and part of the row)."""
    hops = getattr(edge, "hops", None)
    return hops is None or hops.bounds() == (1, 1)


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


def check_condition(condition: Condition, scope: Scope) -> None:
    """Check a ``WHERE`` condition: every name resolves, every function is known and well used."""
    stack: list[Condition] = [condition]
    while stack:
        item = stack.pop()
        if isinstance(item, And | Or):
            stack.extend(reversed(item.conditions))  # left to right, so the first error is reported
        elif isinstance(item, Not):
            stack.append(item.condition)
        elif isinstance(item, Compare):
            for operand in (item.left, item.right):
                _value_operand(operand, scope, f"the comparison {item.op.value}")
        elif isinstance(item, Membership):
            _value_operand(item.operand, scope, "IN" if not item.negated else "NIN")
        elif isinstance(item, Bare):
            _bare(item, scope)


def _bare(item: Bare, scope: Scope) -> None:
    operand = item.operand
    if isinstance(operand, Call):
        check_call(operand, scope)
    elif not (isinstance(operand, Literal) and isinstance(operand.value, bool)):
        raise QueryInvalid(
            f"{operand} alone is not a condition: compare it (= true) or test it with a function",
            construct=str(operand),
            at=item.at,
        )


def _value_operand(operand: Operand, scope: Scope, where: str) -> None:
    if isinstance(operand, Call):
        raise QueryInvalid(
            f"{operand.name}() in {where}: a function is a condition by itself, not a value",
            construct=operand.name,
            at=operand.at,
        )
    if isinstance(operand, Ref):
        property_of(operand, scope, where)


def property_of(ref: Ref, scope: Scope, where: str) -> Resolved:
    """``ref`` resolved as a property (not a whole collection)."""
    resolved = scope.resolve(ref)
    if not resolved.path:
        raise QueryInvalid(
            f"{ref} is a collection; {where} takes one of its properties", construct=str(ref), at=ref.at
        )
    if resolved.path == ("$metadata",):
        raise QueryInvalid(
            "name $metadata.$model or $metadata.$lastUpdateTime", construct="$metadata", at=ref.at
        )
    return resolved


def function_name(call: Call) -> str:
    """A call's function in canonical spelling (``startswith`` -> ``STARTSWITH``)."""
    name = call.name.upper()
    return _SYNONYMS.get(name, name)


def check_call(call: Call, scope: Scope) -> None:
    name = function_name(call)
    if name not in FUNCTIONS:
        known = ", ".join(sorted(FUNCTIONS))
        raise QueryInvalid(
            f"unknown function {call.name!r}; the functions are {known}", construct=call.name, at=call.at
        )
    low, high = FUNCTIONS[name]
    if not low <= len(call.args) <= high:
        wanted = str(low) if low == high else f"{low} to {high}"
        raise QueryInvalid(
            f"{name} takes {wanted} argument(s), not {len(call.args)}", construct=name, at=call.at
        )
    if name == "IS_OF_MODEL":
        model_test(call, scope)
        return
    for arg in call.args:
        if isinstance(arg, Call):
            raise QueryInvalid(
                f"{name}({arg.name}(...)): functions do not nest", construct=arg.name, at=arg.at
            )
        if isinstance(arg, Ref):
            property_of(arg, scope, name)
    if name in {"STARTSWITH", "ENDSWITH", "CONTAINS"}:
        text = call.args[1]
        if isinstance(text, Literal) and not isinstance(text.value, str):
            raise QueryInvalid(f"{name} compares with a string, not {text}", construct=name, at=text.at)


@dataclass(frozen=True)
class ModelTest:
    """``IS_OF_MODEL([collection,] 'dtmi' [, exact])`` read: which twins, which model, how."""

    binding: Binding
    model: str
    exact: bool


def model_test(call: Call, scope: Scope) -> ModelTest:
    """Read ``IS_OF_MODEL``'s arguments (reference: IS_OF_MODEL) or refuse them by name."""
    args = list(call.args)
    exact = False
    if (
        args
        and isinstance(args[-1], Ref)
        and len(args[-1].parts) == 1
        and args[-1].parts[0].lower() == "exact"
    ):
        exact = True
        args.pop()
    binding = scope.implicit
    if len(args) == 2:
        first = args.pop(0)
        if not isinstance(first, Ref) or len(first.parts) != 1 or first.parts[0] not in scope.bindings:
            raise QueryInvalid(
                f"IS_OF_MODEL's first argument must name a twin collection, not {first}",
                construct="IS_OF_MODEL",
                at=call.at,
            )
        binding = scope.bindings[first.parts[0]]
    if len(args) != 1 or not isinstance(args[0], Literal) or not isinstance(args[0].value, str):
        raise QueryInvalid(
            "IS_OF_MODEL takes a model id as a string: IS_OF_MODEL([twins,] 'dtmi:...;1' [, exact])",
            construct="IS_OF_MODEL",
            at=call.at,
        )
    if binding is None:
        raise QueryInvalid(
            "IS_OF_MODEL must name its twin collection when the query has several",
            construct="IS_OF_MODEL",
            at=call.at,
        )
    if binding.kind != Kind.TWIN:
        raise QueryInvalid(
            "IS_OF_MODEL tests twins, and this collection holds relationships",
            construct="IS_OF_MODEL",
            at=call.at,
        )
    return ModelTest(binding, args[0].value, exact)


def _canonical(binding: Binding, path: tuple[str, ...], ref: Ref) -> tuple[str, ...]:
    """``path`` with system names spelled canonically; ``QueryInvalid`` for one the collection lacks."""
    if not path or not path[0].startswith("$"):
        for part in path[1:]:
            if part.startswith("$"):
                raise QueryInvalid(f"{part} inside a property is not supported", construct=part, at=ref.at)
        return path
    head = path[0].lower()
    if binding.kind == Kind.RELATIONSHIP:
        if head in RELATIONSHIP_SYSTEM and len(path) == 1:
            return (RELATIONSHIP_SYSTEM[head],)
        known = ", ".join(sorted(RELATIONSHIP_SYSTEM.values()))
        raise QueryInvalid(
            f"relationships have no {'.'.join(path)}; they have {known}", construct=path[0], at=ref.at
        )
    if head in TWIN_SYSTEM and len(path) == 1:
        return (TWIN_SYSTEM[head],)
    if head == "$metadata":
        if len(path) == 1:
            return ("$metadata",)
        if len(path) == 2 and path[1].lower() in TWIN_METADATA:
            return ("$metadata", TWIN_METADATA[path[1].lower()])
        raise QueryInvalid(
            f"{'.'.join(path)} is not supported: twins' metadata here are $metadata.$model "
            "and $metadata.$lastUpdateTime",
            construct=".".join(path),
            at=ref.at,
        )
    raise QueryInvalid(
        f"twins have no {path[0]}; they have $dtId, $etag, $metadata.$model and $metadata.$lastUpdateTime",
        construct=path[0],
        at=ref.at,
    )


def uses_direction(direction: Direction) -> tuple[str, str]:
    """The arrow of a Cypher edge for ``direction``: its left and right ends."""
    return {Direction.OUT: ("-", "->"), Direction.IN: ("<-", "-"), Direction.ANY: ("-", "-")}[direction]
