"""What an operation costs before it runs: its depth and the number of fields it may answer.

Complexity counts fields, a field under a list counting once per item (its ``first``,
``last``, ``limit``, ``pageSize`` or ``size`` argument, else 10). Depth counts nested
fields. Both are computed in one pass over the document, in time linear in its size: a
named fragment is costed once, however many times and wherever it is spread (spreading it
once per path grows exponentially with nested spreads: a 984-byte document once took 38 s).
Costs saturate just past the limit, so no number grows without bound.

Introspection counts too, exactly: ``__schema`` and ``__type`` cost the number of fields
their answer will have, read off this schema (the schema is known, so nothing needs
guessing), each schema element costed once per selection. They do not count towards
depth: the introspection query of GraphiQL nests ``ofType`` deeper than any twin query,
and its size is what bounds it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from graphql import (
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLArgument,
    GraphQLDirective,
    GraphQLEnumType,
    GraphQLEnumValue,
    GraphQLField,
    GraphQLInputField,
    GraphQLInputObjectType,
    GraphQLInterfaceType,
    GraphQLList,
    GraphQLNamedType,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLSchema,
    GraphQLUnionType,
    InlineFragmentNode,
    IntValueNode,
    SelectionSetNode,
)
from graphql.type.introspection import SchemaMetaFieldDef, TypeMetaFieldDef, TypeNameMetaFieldDef

# Arguments that bound the size of a list field; without one a list counts this many items.
PAGE_ARGUMENTS = ("first", "last", "limit", "pageSize", "size")
DEFAULT_LIST_SIZE = 10
_META_FIELDS = {
    "__schema": SchemaMetaFieldDef,
    "__type": TypeMetaFieldDef,
    "__typename": TypeNameMetaFieldDef,
}


@dataclass(frozen=True)
class Cost:
    """An operation's complexity (saturated at ``limit + 1``) and depth."""

    complexity: int
    depth: int


class OperationCost:
    """Costs the operations of one document against one schema, each fragment once.

    ``fragments`` gives a fragment's definition by name (graphql-core's
    ``ValidationContext.get_fragment``); an unknown or cyclic spread costs nothing, as the
    spec's own rules report it.
    """

    def __init__(
        self,
        schema: GraphQLSchema,
        fragments: Callable[[str], FragmentDefinitionNode | None],
        max_complexity: int,
    ) -> None:
        self.schema = schema
        self.fragments = fragments
        self.cap = max_complexity + 1
        self._done: dict[str, tuple[int, int]] = {}
        self._active: set[str] = set()
        self._introspection = _Introspection(schema, self.cap, fragments)

    def operation(self, selection_set: SelectionSetNode, root: GraphQLNamedType | None) -> Cost:
        complexity, depth = self._selections(selection_set, root)
        return Cost(complexity, depth)

    def _selections(
        self, selection_set: SelectionSetNode, parent: GraphQLNamedType | None
    ) -> tuple[int, int]:
        cost = depth = 0
        for selection in selection_set.selections:
            if isinstance(selection, FieldNode):
                field_cost, field_depth = self._field(selection, parent)
            elif isinstance(selection, InlineFragmentNode):
                owner = parent
                if selection.type_condition is not None:
                    owner = self.schema.get_type(selection.type_condition.name.value)
                field_cost, field_depth = self._selections(selection.selection_set, owner)
            elif isinstance(selection, FragmentSpreadNode):
                field_cost, field_depth = self._fragment(selection.name.value)
            else:  # pragma: no cover - the three kinds of selection are all there is
                continue
            cost = min(self.cap, cost + field_cost)
            depth = max(depth, field_depth)
            if cost == self.cap:  # refused whatever follows: no need to look further
                break
        return cost, depth

    def _fragment(self, name: str) -> tuple[int, int]:
        done = self._done.get(name)
        if done is not None:
            return done
        fragment = self.fragments(name)
        if fragment is None or name in self._active:
            return 0, 0
        self._active.add(name)
        owner = self.schema.get_type(fragment.type_condition.name.value)
        found = self._done[name] = self._selections(fragment.selection_set, owner)
        self._active.discard(name)
        return found

    def _field(self, field: FieldNode, parent: GraphQLNamedType | None) -> tuple[int, int]:
        name = field.name.value
        if name in ("__schema", "__type"):
            return self._introspection.root(field), 0
        if field.selection_set is None:
            return 1, 1
        field_type = _field_type(parent, name)
        inner_cost, inner_depth = self._selections(field.selection_set, _named(field_type))
        return min(self.cap, 1 + list_size(field, field_type) * inner_cost), 1 + inner_depth


def list_size(field: FieldNode, field_type: Any) -> int:
    """How many items a field under a list is counted for: its page argument, else a default."""
    while isinstance(field_type, GraphQLNonNull):
        field_type = field_type.of_type
    if not isinstance(field_type, GraphQLList):
        return 1
    for argument in field.arguments or ():
        if argument.name.value in PAGE_ARGUMENTS and isinstance(argument.value, IntValueNode):
            return max(1, int(argument.value.value))
    return DEFAULT_LIST_SIZE


def _field_type(owner: GraphQLNamedType | None, name: str) -> Any:
    meta = _META_FIELDS.get(name)
    if meta is not None:
        return meta.type
    if isinstance(owner, GraphQLObjectType | GraphQLInterfaceType):
        field = owner.fields.get(name)
        return field.type if field is not None else None
    return None


def _named(field_type: Any) -> GraphQLNamedType | None:
    while isinstance(field_type, GraphQLNonNull | GraphQLList):
        field_type = field_type.of_type
    return field_type if isinstance(field_type, GraphQLNamedType) else None


# -- introspection: the size of the answer, read off the schema ---------------------------------

_Element = Any
"""A schema element an introspection object stands for: the schema, a type, a field, ..."""


class _Introspection:
    """The number of fields an introspection selection answers, on this schema.

    Each (selection set, schema element) pair is costed once, so a selection asked of the
    same type many times over (``ofType`` chains, types reached from many fields) costs
    its work once; every sum stops at the cap.
    """

    def __init__(
        self,
        schema: GraphQLSchema,
        cap: int,
        fragments: Callable[[str], FragmentDefinitionNode | None],
    ) -> None:
        self.schema = schema
        self.cap = cap
        self.fragments = fragments
        self._memo: dict[tuple[int, int], int] = {}

    def root(self, field: FieldNode) -> int:
        if field.selection_set is None:
            return 1
        if field.name.value == "__schema":
            return min(self.cap, 1 + self._cost(field.selection_set, self.schema))
        # __type(name: ...) answers one type, or null; the largest type is the bound.
        return min(self.cap, 1 + max((self._cost(field.selection_set, t) for t in self._types()), default=0))

    def _types(self) -> list[GraphQLNamedType]:
        return list(self.schema.type_map.values())

    def _cost(self, selection_set: SelectionSetNode, element: _Element) -> int:
        key = (id(selection_set), id(element))
        found = self._memo.get(key)
        if found is not None:
            return found
        self._memo[key] = self.cap  # a cycle through the same pair costs the cap
        cost = 0
        for field in self._fields(selection_set, set()):
            cost += 1
            if field.selection_set is not None:
                for child in _children(self.schema, element, field.name.value):
                    cost += self._cost(field.selection_set, child)
                    if cost >= self.cap:
                        break
            if cost >= self.cap:
                cost = self.cap
                break
        self._memo[key] = cost
        return cost

    def _fields(self, selection_set: SelectionSetNode, seen: set[str]) -> Iterator[FieldNode]:
        for selection in selection_set.selections:
            if isinstance(selection, FieldNode):
                yield selection
            elif isinstance(selection, InlineFragmentNode):
                yield from self._fields(selection.selection_set, seen)
            elif isinstance(selection, FragmentSpreadNode) and selection.name.value not in seen:
                fragment = self.fragments(selection.name.value)
                if fragment is not None:
                    yield from self._fields(fragment.selection_set, seen | {selection.name.value})


def _children(schema: GraphQLSchema, element: _Element, name: str) -> Iterable[_Element]:
    """The schema elements the introspection field ``name`` of ``element`` answers."""
    if isinstance(element, GraphQLSchema):
        return _schema_children(element, name)
    if isinstance(element, GraphQLField | GraphQLArgument | GraphQLInputField):
        if name == "type":
            return [element.type]
        if name == "args" and isinstance(element, GraphQLField):
            return list(element.args.values())
        return []
    if isinstance(element, GraphQLDirective):
        return list(element.args.values()) if name == "args" else []
    if isinstance(element, GraphQLEnumValue):
        return []
    return _type_children(schema, element, name)


def _schema_children(schema: GraphQLSchema, name: str) -> list[_Element]:
    roots = {"queryType": schema.query_type, "mutationType": schema.mutation_type}
    roots["subscriptionType"] = schema.subscription_type
    if name == "types":
        return list(schema.type_map.values())
    if name == "directives":
        return list(schema.directives)
    found = roots.get(name)
    return [found] if found is not None else []


def _type_children(schema: GraphQLSchema, element: _Element, name: str) -> list[_Element]:
    if isinstance(element, GraphQLNonNull | GraphQLList):
        return [element.of_type] if name == "ofType" else []
    if name == "fields" and isinstance(element, GraphQLObjectType | GraphQLInterfaceType):
        return list(element.fields.values())
    if name == "interfaces" and isinstance(element, GraphQLObjectType | GraphQLInterfaceType):
        return list(element.interfaces)
    if name == "possibleTypes" and isinstance(element, GraphQLInterfaceType | GraphQLUnionType):
        return list(schema.get_possible_types(element))
    if name == "enumValues" and isinstance(element, GraphQLEnumType):
        return list(element.values.values())
    if name == "inputFields" and isinstance(element, GraphQLInputObjectType):
        return list(element.fields.values())
    return []
