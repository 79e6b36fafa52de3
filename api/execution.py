"""How GraphQL operations execute: graphql-core's executor with a short path for plain values.

A list of 50 rooms with their temperature in 5-minute windows is some 1,500 fields, most
of them the ``time`` or ``value`` of one of 650 points. graphql-core spends about 10 µs on
each field (a path, a resolve-info object, argument coercion, the resolver, three levels
of ``complete_value``) and as much again on each point (a path, the object's sub-fields,
their results gathered). Yet a field Strawberry resolves by attribute (no resolver, no
permission, no field extension, no argument) whose type is a scalar or an enum is one
attribute read and the scalar's serialisation; and an object whose selected fields are
all such fields is a dict of them. :class:`KgtwinExecutor` completes those directly.

Fields marked :data:`DIRECT` (``latest`` and ``telemetry`` of a twin) are resolvers with
plain scalar arguments, asked once per twin of a list: graphql-core coerces their
arguments for each twin, and Strawberry converts them again and calls the resolver through
five layers, some 25 µs a field before the resolver runs. :class:`KgtwinExecutor` coerces a
field's arguments once per request and calls the resolver itself; the value is then
completed, and any error reported, by graphql-core as usual.

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
from typing import Any, cast

from graphql import (
    GraphQLBoolean,
    GraphQLField,
    GraphQLFloat,
    GraphQLID,
    GraphQLInt,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLOutputType,
    GraphQLString,
    Undefined,
    get_nullable_type,
    is_leaf_type,
)
from graphql.execution.collect_fields import FieldDetailsList
from graphql.execution.values import get_argument_values
from graphql.pyutils import Path
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext
from strawberry.schema.schema_converter import GraphQLCoreConverter
from strawberry.schema.types.base_scalars import DateTimeDefinition
from strawberry.types.field import StrawberryField
from strawberry.types.info import Info

_Leaf = tuple[Callable[[Any], Any], Callable[[Any], Any], bool]
"""A plain leaf field: how to read it off its object, its scalar's serialiser, whether it is non-null."""
_Plan = tuple[tuple[str, _Leaf], ...]
"""An object's selection when every selected field is a plain leaf: response key and field."""
_VALUE = ""
"""The key of a single field's value in the row :func:`_complete_row` makes of it."""
_ISOFORMAT: Callable[[Any], Any] = DateTimeDefinition.serialize or methodcaller("isoformat")
"""Strawberry's ``DateTime`` serialiser (``datetime.isoformat``)."""

DIRECT = "kgtwin.direct"
"""``strawberry.field(metadata={DIRECT: True})``: a resolver the executor may call itself.

The promise it makes: its arguments are built-in scalars (which Strawberry hands over
unchanged), it reads nothing of ``info`` but the context, it has no side effect (beyond
DataLoader loads, which a second call finds cached), and it has no permission class or
field extension. One that takes nothing but ``self`` is read like an attribute. The
executor checks all it can (:func:`_direct_resolver`) and otherwise lets Strawberry call it.
"""
_PLAIN_SCALARS = (GraphQLString, GraphQLInt, GraphQLFloat, GraphQLBoolean, GraphQLID)


class _Direct:
    """How to call a :data:`DIRECT` field's resolver: the function and its parameters' names."""

    __slots__ = ("definition", "function", "info", "names", "takes_self")

    def __init__(self, definition: StrawberryField, field: GraphQLField) -> None:
        resolver = definition.base_resolver
        assert resolver is not None
        self.definition = definition
        self.function = cast(Callable[..., Any], resolver.wrapped_func)
        self.takes_self = resolver.self_parameter is not None
        self.info = resolver.info_parameter.name if resolver.info_parameter is not None else None
        # GraphQL argument name -> the resolver's parameter (camelCase -> snake_case).
        self.names = {
            name: arg.extensions[GraphQLCoreConverter.DEFINITION_BACKREF].python_name
            for name, arg in field.args.items()
        }


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
        self._directs: dict[int, _Direct | None] = {}  # by the id of a field of the schema
        self._arguments: dict[int, dict[str, Any]] = {}  # by the id of a field node of the operation

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
        direct = self._direct(field) if self._short and field is not None else None
        if direct is not None and field is not None:
            return self._call_direct(
                direct, field, parent_type, source, field_details_list, path, position_context
            )
        return super().execute_field(parent_type, source, field_details_list, path, position_context)

    def _call_direct(
        self,
        direct: _Direct,
        field: GraphQLField,
        parent_type: GraphQLObjectType,
        source: Any,
        field_details_list: FieldDetailsList,
        path: Path,
        position_context: Any,
    ) -> Any:
        """graphql-core's ``execute_field`` for a :data:`DIRECT` field, arguments coerced once a request."""
        return_type = field.type
        nodes = [details.node for details in field_details_list]
        info = self.build_resolve_info(field, nodes, parent_type, path)
        try:
            kwargs = self._direct_arguments(direct, field, nodes[0])
            if direct.info is not None:
                kwargs[direct.info] = Info(_raw_info=info, _field=direct.definition)
            result = direct.function(source, **kwargs) if direct.takes_self else direct.function(**kwargs)
            if self.is_awaitable(result):
                return self.complete_awaitable_value(
                    return_type, field_details_list, info, path, result, position_context
                )
            completed = self.complete_value(
                return_type, field_details_list, info, path, result, position_context
            )
        except Exception as raw_error:
            self.handle_field_error(raw_error, return_type, field_details_list, path)
            return None
        if self.is_awaitable(completed):
            return self._await_completed(completed, return_type, field_details_list, path)
        return completed

    async def _await_completed(
        self, completed: Any, return_type: GraphQLOutputType, field_details_list: FieldDetailsList, path: Path
    ) -> Any:
        try:
            return await completed
        except Exception as raw_error:
            self.handle_field_error(raw_error, return_type, field_details_list, path)
            return None

    def _direct_arguments(self, direct: _Direct, field: GraphQLField, node: Any) -> dict[str, Any]:
        """The resolver's keyword arguments for ``node``: one coercion for all the twins of a list.

        Raises what graphql-core's coercion raises (reported at the field, as it would be).
        """
        found = self._arguments.get(id(node))
        if found is None:
            coerced = get_argument_values(field, node, self.variable_values)
            found = self._arguments[id(node)] = {direct.names[name]: value for name, value in coerced.items()}
        return dict(found)

    def _direct(self, field: GraphQLField) -> _Direct | None:
        key = id(field)
        if key not in self._directs:
            self._directs[key] = _direct_resolver(field)
        return self._directs[key]

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


def _direct_resolver(field: GraphQLField) -> _Direct | None:
    """How to call ``field``'s resolver directly, if it is marked :data:`DIRECT` and may be.

    Strawberry calls a synchronous resolver without permission classes or field extensions
    through ``_resolver`` (``strawberry.schema.schema_converter``): it converts the
    arguments (unchanged for built-in scalars), adds ``self`` and ``info``, and calls the
    function. Anything else (an async resolver, a ``parent`` or ``root`` parameter, an
    enum or input argument, another schema's exception handlers) is left to Strawberry.
    """
    definition = field.extensions.get(GraphQLCoreConverter.DEFINITION_BACKREF)
    if not isinstance(definition, StrawberryField) or not definition.metadata.get(DIRECT):
        return None
    resolver = definition.base_resolver
    if (
        resolver is None
        or definition.is_async
        or definition.permission_classes
        or definition.extensions
        or resolver.parent_parameter is not None
        or resolver.root_parameter is not None
        or getattr(field.resolve, "__name__", None) != "_resolver"
    ):
        return None
    if any(get_nullable_type(arg.type) not in _PLAIN_SCALARS for arg in field.args.values()):
        return None
    return _Direct(definition, field)


def _plain_leaf(field: GraphQLField) -> _Leaf | None:
    """How to read and serialise a field Strawberry resolves by attribute, if it is a scalar or enum.

    Strawberry gives a field without resolver, permission, extension or exception
    handler (``is_basic_field``) its ``_get_basic_result`` (``strawberry.schema.
    schema_converter``), which calls the schema's ``default_resolver`` (``getattr``
    unless configured) with the field's Python name; ``attrgetter`` does the same without
    three Python calls. Any other resolver may check or compute something: not plain; nor
    is a field of a schema configured with another ``default_resolver``.

    A :data:`DIRECT` resolver that takes nothing but ``self`` (``TwinNode.id``) is read
    the same way: it is the reading function.
    """
    resolve = field.resolve
    definition = field.extensions.get(GraphQLCoreConverter.DEFINITION_BACKREF)
    if field.args or not isinstance(definition, StrawberryField):
        return None
    read: Callable[[Any], Any]
    direct = _direct_resolver(field)
    if direct is not None and direct.takes_self and direct.info is None:
        read = direct.function
    elif (
        definition.is_basic_field
        and definition.default_resolver is getattr
        and getattr(resolve, "__name__", None) == "_get_basic_result"
    ):
        read = attrgetter(definition.python_name)
    else:
        return None
    field_type = field.type
    non_null = isinstance(field_type, GraphQLNonNull)
    if isinstance(field_type, GraphQLNonNull):
        field_type = field_type.of_type
    if not is_leaf_type(field_type):
        return None
    return read, field_type.coerce_output_value, non_null


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
