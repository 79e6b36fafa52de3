"""The executor of the fast path: graphql-core's, completing plain leaves and fast fields itself.

Private to ``api.fastpath`` (the module doc there says what it does and why).
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Coroutine, Sequence
from datetime import datetime, timedelta
from typing import Any

from graphql import GraphQLField, GraphQLNonNull, GraphQLObjectType, GraphQLOutputType, get_nullable_type
from graphql.execution.collect_fields import DeferUsage, FieldDetailsList, GroupedFieldSet
from graphql.execution.values import get_argument_values
from graphql.pyutils import Path
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext

from api.fastpath._compiled import Root, answer, compile_query
from api.fastpath._fields import (
    ISOFORMAT,
    VALUE,
    Fast,
    Leaf,
    Outcome,
    Plan,
    complete_row,
    fast_resolver,
    plain_leaf,
    resume,
)


class FastExecutor(StrawberryGraphQLCoreExecutionContext):
    """Strawberry's executor, completing plain leaves and fast fields directly (see the module).

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
        self._plans: dict[tuple[GraphQLObjectType, int], tuple[FieldDetailsList, Plan | None]] = {}
        self._fields: dict[int, Plan | None] = {}  # by the id of a field of the schema
        self._instants: dict[tuple[datetime, timedelta | None], str] = {}
        self._fasts: dict[int, Fast | None] = {}  # by the id of a field of the schema
        self._arguments: dict[int, dict[str, Any]] = {}  # by the id of a field node of the operation
        # Fast fields started ahead for a list's items, by (id of the field's details, id of the item).
        self._started: dict[tuple[int, int], Outcome] = {}

    def build_per_event_executor(self, payload: Any) -> FastExecutor:
        """The executor of one subscription event, with memos of its own.

        graphql-core makes it a shallow copy of the subscription's executor, so every memo
        keyed by the identity of a selection list would be shared: each event collects its
        root fields into new lists, and a subscription that lives for hours would keep every
        event's entries (about 300 bytes an event for ``telemetry``). What is keyed by the
        schema's or the document's own nodes stays shared: it is the same for every event.
        """
        executor = super().build_per_event_executor(payload)
        assert isinstance(executor, FastExecutor)  # a copy of this one
        executor._relevant_sub_fields = {}
        executor._plans = {}
        executor._instants = {}
        executor._started = {}
        return executor

    def execute_collected_root_fields(
        self,
        root_type: GraphQLObjectType,
        root_value: Any,
        grouped_field_set: GroupedFieldSet,
        serially: bool,
        new_defer_usages: Sequence[DeferUsage],
    ) -> Any:
        """A query of twins compiled to projected reads (``_compiled.py``); anything else as graphql-core."""
        roots = None
        if self._short and not serially and not new_defer_usages:
            roots = compile_query(self, root_type, grouped_field_set)
        if roots is None:
            return super().execute_collected_root_fields(
                root_type, root_value, grouped_field_set, serially, new_defer_usages
            )
        return self._answer_compiled(roots, root_type, root_value, grouped_field_set, new_defer_usages)

    async def _answer_compiled(
        self,
        roots: list[Root],
        root_type: GraphQLObjectType,
        root_value: Any,
        grouped_field_set: GroupedFieldSet,
        new_defer_usages: Sequence[DeferUsage],
    ) -> Any:
        data = await answer(self, roots)
        if data is not None:
            return data
        plain = super().execute_collected_root_fields(
            root_type, root_value, grouped_field_set, False, new_defer_usages
        )
        return await plain if self.is_awaitable(plain) else plain

    def execute_field(
        self,
        parent_type: GraphQLObjectType,
        source: Any,
        field_details_list: FieldDetailsList,
        path: Path,
        position_context: Any,
    ) -> Any:
        field = parent_type.fields.get(field_details_list[0].node.name.value)
        if not self._short or field is None:
            return super().execute_field(parent_type, source, field_details_list, path, position_context)
        plan = self._field_plan(field)
        row = complete_row(plan, source) if plan is not None else None
        if row is not None:
            return row[VALUE]
        fast = self._fast(field)
        if fast is not None:
            return self._call_fast(
                fast, field, parent_type, source, field_details_list, path, position_context
            )
        return super().execute_field(parent_type, source, field_details_list, path, position_context)

    def _call_fast(
        self,
        fast: Fast,
        field: GraphQLField,
        parent_type: GraphQLObjectType,
        source: Any,
        field_details_list: FieldDetailsList,
        path: Path,
        position_context: Any,
    ) -> Any:
        """graphql-core's ``execute_field`` for a fast field, arguments coerced once a request."""
        return_type = field.type
        nodes = [details.node for details in field_details_list]
        info = self.build_resolve_info(field, nodes, parent_type, path)
        started = self._started.pop((id(field_details_list), id(source)), None)
        try:
            if started is not None and started[0] is source:
                _, result, error = started
                if error is not None:
                    raise error
            else:
                result = fast.call(source, self._fast_arguments(fast, field, nodes[0]), info)
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

    def _fast_arguments(self, fast: Fast, field: GraphQLField, node: Any) -> dict[str, Any]:
        """The resolver's keyword arguments for ``node``: one coercion for all the twins of a list.

        Raises what graphql-core's coercion raises (reported at the field, as it would be).
        """
        found = self._arguments.get(id(node))
        if found is None:
            coerced = get_argument_values(field, node, self.variable_values)
            found = self._arguments[id(node)] = {fast.names[name]: value for name, value in coerced.items()}
        return dict(found)

    def _fast(self, field: GraphQLField) -> Fast | None:
        key = id(field)
        if key not in self._fasts:
            self._fasts[key] = fast_resolver(field)
        return self._fasts[key]

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
        row = complete_row(plan, result) if plan is not None else None
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
        waiting = self._start_ahead(item_type, field_details_list, info, items)
        if waiting is not None:
            return self._complete_when_started(
                waiting, item_type, field_details_list, info, path, items, position_context
            )
        return super().complete_iterable_value(
            item_type, field_details_list, info, path, items, position_context
        )

    async def _complete_when_started(
        self,
        waiting: _Waiting,
        item_type: GraphQLOutputType,
        field_details_list: FieldDetailsList,
        info: Any,
        path: Path,
        items: Any,
        position_context: Any,
    ) -> Any:
        futures, paused = waiting
        if futures:
            await asyncio.wait(futures)
        for key, item, coroutine, waiting_on in paused:
            self._started[key] = (item, *resume(coroutine, waiting_on))
        try:
            completed = super().complete_iterable_value(
                item_type, field_details_list, info, path, items, position_context
            )
            return await completed if self.is_awaitable(completed) else completed
        finally:
            # A list whose completion stopped early (a null where none may be) leaves some
            # answers unread: an awaitable among them is closed, never left pending.
            for key, *_ in paused:
                left = self._started.pop(key, None)
                if left is not None and inspect.iscoroutine(left[1]):
                    left[1].close()

    def _start_ahead(
        self, item_type: GraphQLOutputType, field_details_list: FieldDetailsList, info: Any, items: Any
    ) -> _Waiting | None:
        """Start the ``async`` fast fields selected on a list's items, for every item.

        Their loads are made in one go, so the DataLoaders batch them; the items' fields
        then find their answers in ``_started``. The futures the paused resolvers wait on
        are returned, to be awaited (once, for all) before the items complete; None when
        every resolver finished at once or none was started.
        """
        object_type = get_nullable_type(item_type)
        if (
            not self._short
            or not isinstance(object_type, GraphQLObjectType)
            or object_type.is_type_of is not None
            or not isinstance(items, list | tuple)
            or any(details.node.directives for details in field_details_list)
        ):
            return None
        collected = self.collect_subfields(object_type, field_details_list)
        if collected.new_defer_usages:
            return None
        futures: dict[int, asyncio.Future[Any]] = {}
        paused: list[tuple[tuple[int, int], Any, Coroutine[Any, Any, Any], Any]] = []
        for fields in collected.grouped_field_set.values():
            field = object_type.fields.get(fields[0].node.name.value)
            fast = self._fast(field) if field is not None else None
            if field is None or fast is None or not fast.is_async:
                continue
            if any(details.defer_usage is not None for details in fields):
                continue
            nodes = [details.node for details in fields]
            try:
                kwargs = self._fast_arguments(fast, field, nodes[0])
            except Exception:  # noqa: S112 - each item's field raises it again, at its own path
                continue
            field_info = self.build_resolve_info(field, nodes, object_type, info.path)
            for item in items:
                if item is None:
                    continue
                key = (id(fields), id(item))
                try:
                    coroutine = fast.coroutine(item, dict(kwargs), field_info)
                    waiting_on = coroutine.send(None)
                except StopIteration as done:
                    self._started[key] = (item, done.value, None)
                except Exception as exc:
                    self._started[key] = (item, None, exc)
                else:
                    paused.append((key, item, coroutine, waiting_on))
                    if isinstance(waiting_on, asyncio.Future):
                        futures[id(waiting_on)] = waiting_on
        return (list(futures.values()), paused) if paused else None

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
            row = complete_row(plan, item) if item is not None else None
            if row is None and (item is not None or non_null):
                return None
            rows.append(row)
        return rows

    def _plan(self, object_type: GraphQLObjectType, field_details_list: FieldDetailsList) -> Plan | None:
        """The object's selection when it is all plain leaves; None when anything else is selected."""
        key = (object_type, id(field_details_list))
        found = self._plans.get(key)
        if found is None:
            found = self._plans[key] = (field_details_list, self._make_plan(object_type, field_details_list))
        return found[1]

    def _make_plan(self, object_type: GraphQLObjectType, field_details_list: FieldDetailsList) -> Plan | None:
        if not self._short or object_type.is_type_of is not None:
            return None
        collected = self.collect_subfields(object_type, field_details_list)
        if collected.new_defer_usages or collected.forbidden_directive_instances:
            return None
        plan: list[tuple[str, Leaf]] = []
        for response_key, fields in collected.grouped_field_set.items():
            field = object_type.fields.get(fields[0].node.name.value)
            single = self._field_plan(field) if field is not None else None
            if single is None or any(details.defer_usage is not None for details in fields):
                return None
            plan.append((response_key, single[0][1]))
        return tuple(plan)

    def _field_plan(self, field: GraphQLField) -> Plan | None:
        """A plain leaf field as the plan of a row of one value (``_VALUE``)."""
        key = id(field)
        if key not in self._fields:
            leaf = plain_leaf(field)
            if leaf is not None and leaf[1] is ISOFORMAT:
                leaf = (leaf[0], self.isoformat, leaf[2])
            self._fields[key] = ((VALUE, leaf),) if leaf is not None else None
        return self._fields[key]

    def isoformat(self, value: Any) -> Any:
        """``DateTime``'s serialisation, once per instant and UTC offset (what the string shows)."""
        if type(value) is not datetime:
            return ISOFORMAT(value)
        key = (value, value.utcoffset())
        found = self._instants.get(key)
        if found is None:
            found = self._instants[key] = ISOFORMAT(value)
        return found


_Waiting = tuple[
    list["asyncio.Future[Any]"], list[tuple[tuple[int, int], Any, Coroutine[Any, Any, Any], Any]]
]
"""What a list's fast fields started ahead wait on: the futures, and each paused resolver."""
