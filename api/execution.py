"""How GraphQL operations execute: graphql-core's executor with a short path for plain values.

A list of 50 rooms with their temperature in 5-minute windows is some 1,500 fields, most
of them the ``time`` or ``value`` of one of 650 points. graphql-core spends about 10 µs on
each field (a path, a resolve-info object, argument coercion, the resolver, three levels
of ``complete_value``) and as much again on each point (a path, the object's sub-fields,
their results gathered). Yet a field Strawberry resolves by attribute (no resolver, no
permission, no field extension, no argument) whose type is a scalar or an enum is one
attribute read and the scalar's serialisation; and an object whose selected fields are
all such fields is a dict of them. :class:`KgtwinExecutor` completes those directly.

Anything out of the ordinary takes graphql-core's own path, from the start of the field,
object or list, so errors keep their message, path and ``extensions`` and nothing is
answered differently: a null for a non-null field, a value the scalar refuses, an
attribute missing, an exception or an awaitable as a value, an object type with an
``is_type_of`` check, ``@defer`` or ``@stream``, resolver middleware (a schema extension
with a ``resolve`` hook). Attribute reads have no side effect, so doing one twice is safe.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from operator import attrgetter, methodcaller
from typing import Any

from graphql import (
    GraphQLField,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLOutputType,
    Undefined,
    is_leaf_type,
)
from graphql.execution.collect_fields import FieldDetailsList
from graphql.pyutils import Path
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext
from strawberry.schema.schema_converter import GraphQLCoreConverter
from strawberry.schema.types.base_scalars import DateTimeDefinition
from strawberry.types.field import StrawberryField

_Leaf = tuple[Callable[[Any], Any], Callable[[Any], Any], bool]
"""A plain leaf field: how to read it off its object, its scalar's serialiser, whether it is non-null."""
_Plan = tuple[tuple[str, _Leaf], ...]
"""An object's selection when every selected field is a plain leaf: response key and field."""
_VALUE = ""
"""The key of a single field's value in the row :func:`_complete_row` makes of it."""
_ISOFORMAT: Callable[[Any], Any] = DateTimeDefinition.serialize or methodcaller("isoformat")
"""Strawberry's ``DateTime`` serialiser (``datetime.isoformat``)."""


class KgtwinExecutor(StrawberryGraphQLCoreExecutionContext):
    """Strawberry's executor, completing plain leaf fields and objects of them directly.

    One executor runs one operation (graphql-core builds it per request), so what it
    learns about the operation's selections is kept on it, and so are the ISO strings of
    the instants it answered: the windows of 50 rooms' series are the same dozen instants.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Strawberry hands every operation a manager; it wraps resolvers only when it holds middleware.
        manager = self.middleware_manager
        self._short = manager is None or not manager.middlewares
        # Keyed like graphql-core's collect_subfields memo; the list is kept so its id stays unique.
        self._plans: dict[tuple[GraphQLObjectType, int], tuple[FieldDetailsList, _Plan | None]] = {}
        self._fields: dict[int, _Plan | None] = {}  # by the id of a field of the schema
        self._instants: dict[tuple[datetime, timedelta | None], str] = {}

    def execute_field(
        self,
        parent_type: GraphQLObjectType,
        source: Any,
        field_details_list: FieldDetailsList,
        path: Path,
        position_context: Any,
    ) -> Any:
        field = parent_type.fields.get(field_details_list[0].node.name.value)
        plan = self._field_plan(field) if self._short and field is not None else None
        row = _complete_row(plan, source) if plan is not None else None
        if row is not None:
            return row[_VALUE]
        return super().execute_field(parent_type, source, field_details_list, path, position_context)

    def complete_object_value(
        self,
        return_type: GraphQLObjectType,
        field_details_list: FieldDetailsList,
        info: Any,
        path: Path,
        result: Any,
        position_context: Any,
    ) -> Any:
        plan = self._plan(return_type, field_details_list)
        row = _complete_row(plan, result) if plan is not None else None
        if row is not None:
            return row
        return super().complete_object_value(
            return_type, field_details_list, info, path, result, position_context
        )

    def complete_iterable_value(
        self,
        item_type: GraphQLOutputType,
        field_details_list: FieldDetailsList,
        info: Any,
        path: Path,
        items: Any,
        position_context: Any,
    ) -> Any:
        rows = self._complete_rows(item_type, field_details_list, items)
        if rows is not None:
            return rows
        return super().complete_iterable_value(
            item_type, field_details_list, info, path, items, position_context
        )

    def _complete_rows(
        self, item_type: GraphQLOutputType, field_details_list: FieldDetailsList, items: Any
    ) -> list[Any] | None:
        """A list of plain objects completed, or None where graphql-core's path must run."""
        non_null = isinstance(item_type, GraphQLNonNull)
        object_type = item_type.of_type if isinstance(item_type, GraphQLNonNull) else item_type
        if not isinstance(items, list | tuple) or not isinstance(object_type, GraphQLObjectType):
            return None
        # A directive on the list field may be @stream: incremental delivery is graphql-core's.
        if any(details.node.directives for details in field_details_list):
            return None
        plan = self._plan(object_type, field_details_list)
        if plan is None:
            return None
        rows: list[Any] = []
        for item in items:
            row = _complete_row(plan, item) if item is not None else None
            if row is None and (item is not None or non_null):
                return None
            rows.append(row)
        return rows

    def _plan(self, object_type: GraphQLObjectType, field_details_list: FieldDetailsList) -> _Plan | None:
        """The object's selection when it is all plain leaves; None when anything else is selected."""
        key = (object_type, id(field_details_list))
        found = self._plans.get(key)
        if found is None:
            found = self._plans[key] = (field_details_list, self._make_plan(object_type, field_details_list))
        return found[1]

    def _make_plan(
        self, object_type: GraphQLObjectType, field_details_list: FieldDetailsList
    ) -> _Plan | None:
        if not self._short or object_type.is_type_of is not None:
            return None
        collected = self.collect_subfields(object_type, field_details_list)
        if collected.new_defer_usages or collected.forbidden_directive_instances:
            return None
        plan: list[tuple[str, _Leaf]] = []
        for response_key, fields in collected.grouped_field_set.items():
            field = object_type.fields.get(fields[0].node.name.value)
            single = self._field_plan(field) if field is not None else None
            if single is None or any(details.defer_usage is not None for details in fields):
                return None
            plan.append((response_key, single[0][1]))
        return tuple(plan)

    def _field_plan(self, field: GraphQLField) -> _Plan | None:
        """A plain leaf field as the plan of a row of one value (``_VALUE``)."""
        key = id(field)
        if key not in self._fields:
            leaf = _plain_leaf(field)
            if leaf is not None and leaf[1] is _ISOFORMAT:
                leaf = (leaf[0], self._isoformat, leaf[2])
            self._fields[key] = ((_VALUE, leaf),) if leaf is not None else None
        return self._fields[key]

    def _isoformat(self, value: Any) -> Any:
        """``DateTime``'s serialisation, once per instant and UTC offset (what the string shows)."""
        if type(value) is not datetime:
            return _ISOFORMAT(value)
        key = (value, value.utcoffset())
        found = self._instants.get(key)
        if found is None:
            found = self._instants[key] = _ISOFORMAT(value)
        return found


def _plain_leaf(field: GraphQLField) -> _Leaf | None:
    """How to read and serialise a field Strawberry resolves by attribute, if it is a scalar or enum.

    Strawberry gives a field without resolver, permission, extension or exception
    handler (``is_basic_field``) its ``_get_basic_result`` (``strawberry.schema.
    schema_converter``), which calls the schema's ``default_resolver`` (``getattr``
    unless configured) with the field's Python name; ``attrgetter`` does the same without
    three Python calls. Any other resolver may check or compute something: not plain; nor
    is a field of a schema configured with another ``default_resolver``.
    """
    resolve = field.resolve
    definition = field.extensions.get(GraphQLCoreConverter.DEFINITION_BACKREF)
    if (
        field.args
        or not isinstance(definition, StrawberryField)
        or not definition.is_basic_field
        or definition.default_resolver is not getattr
        or getattr(resolve, "__name__", None) != "_get_basic_result"
    ):
        return None
    field_type = field.type
    non_null = isinstance(field_type, GraphQLNonNull)
    if isinstance(field_type, GraphQLNonNull):
        field_type = field_type.of_type
    if not is_leaf_type(field_type):
        return None
    return attrgetter(definition.python_name), field_type.coerce_output_value, non_null


def _complete_row(plan: _Plan, source: Any) -> dict[str, Any] | None:
    """What graphql-core answers for the plain leaf fields of ``source``; None where it would raise.

    One loop with the checks inline: it runs for every point of every series.
    """
    row: dict[str, Any] = {}
    try:
        for response_key, (read, serialize, non_null) in plan:
            value = read(source)
            if value is None or value is Undefined:
                if non_null:
                    return None
                row[response_key] = None
                continue
            if isinstance(value, Exception):
                return None
            coerced = serialize(value)
            if coerced is None or coerced is Undefined:
                return None
            row[response_key] = coerced
    except Exception:  # graphql-core's path raises it again, located at the field
        return None
    return row
