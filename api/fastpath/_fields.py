"""Fast fields and plain leaves: which fields the fast path may complete itself, and how.

Private to ``api.fastpath``; every function here relies on how Strawberry builds its
graphql-core fields (the versions ``api.fastpath.TESTED`` names).
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Callable, Coroutine
from operator import attrgetter, methodcaller
from typing import Any, cast

from graphql import (
    GraphQLBoolean,
    GraphQLField,
    GraphQLFloat,
    GraphQLID,
    GraphQLInt,
    GraphQLNonNull,
    GraphQLString,
    Undefined,
    get_nullable_type,
    is_leaf_type,
)
from strawberry.schema.schema_converter import GraphQLCoreConverter
from strawberry.schema.types.base_scalars import DateTimeDefinition
from strawberry.types.field import StrawberryField
from strawberry.types.info import Info

FAST = "kgtwin.fast"
"""The metadata key ``api.fastpath.fast_field`` sets."""

Leaf = tuple[Callable[[Any], Any], Callable[[Any], Any], bool]
"""A plain leaf field: how to read it off its object, its scalar's serialiser, whether it is non-null."""
Plan = tuple[tuple[str, Leaf], ...]
"""An object's selection when every selected field is a plain leaf: response key and field."""
VALUE = ""
"""The key of a single field's value in the row :func:`complete_row` makes of it."""
ISOFORMAT: Callable[[Any], Any] = DateTimeDefinition.serialize or methodcaller("isoformat")
"""Strawberry's ``DateTime`` serialiser (``datetime.isoformat``)."""
PLAIN_SCALARS = (GraphQLString, GraphQLInt, GraphQLFloat, GraphQLBoolean, GraphQLID)
Outcome = tuple[Any, Any, BaseException | None]
"""A fast field started ahead for one item of a list: the item, its answer (a value or an
awaitable), or the error it raised."""


class Fast:
    """How to call a fast field's resolver: the function and its parameters' names."""

    __slots__ = ("definition", "function", "info", "is_async", "names", "takes_self")

    def __init__(self, definition: StrawberryField, field: GraphQLField) -> None:
        resolver = definition.base_resolver
        assert resolver is not None
        self.definition = definition
        self.function = cast(Callable[..., Any], resolver.wrapped_func)
        self.is_async = inspect.iscoroutinefunction(self.function)
        self.takes_self = resolver.self_parameter is not None
        self.info = resolver.info_parameter.name if resolver.info_parameter is not None else None
        # GraphQL argument name -> the resolver's parameter (camelCase -> snake_case).
        self.names = {
            name: arg.extensions[GraphQLCoreConverter.DEFINITION_BACKREF].python_name
            for name, arg in field.args.items()
        }

    def call(self, source: Any, kwargs: dict[str, Any], info: Any) -> Any:
        """The resolver's answer for ``source``; an ``async`` one is run as far as it can go now."""
        if self.is_async:
            return run_eagerly(self.coroutine(source, kwargs, info))
        if self.info is not None:
            kwargs[self.info] = Info(_raw_info=info, _field=self.definition)
        return self.function(source, **kwargs) if self.takes_self else self.function(**kwargs)

    def coroutine(self, source: Any, kwargs: dict[str, Any], info: Any) -> Coroutine[Any, Any, Any]:
        """The ``async`` resolver's coroutine for ``source``, not started."""
        if self.info is not None:
            kwargs[self.info] = Info(_raw_info=info, _field=self.definition)
        return cast(
            Coroutine[Any, Any, Any],
            self.function(source, **kwargs) if self.takes_self else self.function(**kwargs),
        )


def run_eagerly(coroutine: Coroutine[Any, Any, Any]) -> Any:
    """The coroutine's value when it finishes without waiting; else an awaitable of the rest."""
    try:
        waiting_on = coroutine.send(None)
    except StopIteration as done:
        return done.value
    return finish(coroutine, waiting_on)


async def finish(coroutine: Coroutine[Any, Any, Any], waiting_on: Any) -> Any:
    """Run a coroutine started by hand to its end, as the event loop's task would.

    ``await future`` hands its task the future; the task wakes when it is done and
    resumes the coroutine, which reads the result itself. A bare ``yield`` asks for one
    turn of the loop. Cancelling this awaitable cancels the coroutine where it waits.
    """
    while True:
        error: BaseException | None = None
        future = waiting_on if isinstance(waiting_on, asyncio.Future) else None
        try:
            if future is not None:
                future._asyncio_future_blocking = False
                await future  # its outcome is the coroutine's to read, below
            else:
                await asyncio.sleep(0)
        except BaseException as exc:
            if future is None or not future.done():  # this awaitable was cancelled while it waited
                error = exc
        try:
            waiting_on = coroutine.send(None) if error is None else coroutine.throw(error)
        except StopIteration as done:
            return done.value


def resume(coroutine: Coroutine[Any, Any, Any], waiting_on: Any) -> tuple[Any, BaseException | None]:
    """Go on with a resolver paused on ``waiting_on``: its value, an awaitable of the rest, or its error."""
    if not (isinstance(waiting_on, asyncio.Future) and waiting_on.done()):
        return finish(coroutine, waiting_on), None
    waiting_on._asyncio_future_blocking = False
    try:
        again = coroutine.send(None)
    except StopIteration as done:
        return done.value, None
    except Exception as exc:
        return None, exc
    return finish(coroutine, again), None


def fast_resolver(field: GraphQLField) -> Fast | None:
    """How to call ``field``'s resolver directly, if it is a :func:`fast_field` and may be.

    Strawberry calls a resolver without permission classes or field extensions through
    ``_resolver`` (``_async_resolver`` for a coroutine function; ``strawberry.schema.
    schema_converter``): it converts the arguments (unchanged for built-in scalars), adds
    ``self`` and ``info``, and calls the function (awaiting a coroutine). Anything else (a
    ``parent`` or ``root`` parameter, an enum or input argument, another schema's exception
    handlers) is left to Strawberry.
    """
    definition = field.extensions.get(GraphQLCoreConverter.DEFINITION_BACKREF)
    if not isinstance(definition, StrawberryField) or not definition.metadata.get(FAST):
        return None
    resolver = definition.base_resolver
    if (
        resolver is None
        or definition.permission_classes
        or definition.extensions
        or resolver.parent_parameter is not None
        or resolver.root_parameter is not None
        or getattr(field.resolve, "__name__", None)
        != ("_async_resolver" if definition.is_async else "_resolver")
    ):
        return None
    if any(get_nullable_type(arg.type) not in PLAIN_SCALARS for arg in field.args.values()):
        return None
    return Fast(definition, field)


def plain_leaf(field: GraphQLField) -> Leaf | None:
    """How to read and serialise a field Strawberry resolves by attribute, if it is a scalar or enum.

    Strawberry gives a field without resolver, permission, extension or exception
    handler (``is_basic_field``) its ``_get_basic_result`` (``strawberry.schema.
    schema_converter``), which calls the schema's ``default_resolver`` (``getattr``
    unless configured) with the field's Python name; ``attrgetter`` does the same without
    three Python calls. Any other resolver may check or compute something: not plain; nor
    is a field of a schema configured with another ``default_resolver``.

    A fast field that takes nothing but ``self`` (``TwinNode.id``) is read the same way:
    it is the reading function.
    """
    resolve = field.resolve
    definition = field.extensions.get(GraphQLCoreConverter.DEFINITION_BACKREF)
    if field.args or not isinstance(definition, StrawberryField):
        return None
    read: Callable[[Any], Any]
    fast = fast_resolver(field)
    if fast is not None and fast.takes_self and fast.info is None and not fast.is_async:
        read = fast.function
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


def complete_row(plan: Plan, source: Any) -> dict[str, Any] | None:
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
