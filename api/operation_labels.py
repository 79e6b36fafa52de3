"""Names each GraphQL operation for the metrics and the slow-request log, and counts open subscriptions.

A schema extension, because only the GraphQL layer knows a request's operation type and
top-level field, and it knows them on every transport: over HTTP the names go into the
request's state, where ``api.observation`` reads them once the response is sent; over a
websocket a subscription is reported open when it starts and closed when it ends, however
it ends (the client completes it, the socket closes, the server shuts down).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from graphql import DocumentNode, FieldNode, OperationDefinitionNode
from strawberry.extensions import SchemaExtension

from api.context import RequestContext
from api.observation import OPERATION

MULTIPLE = "multiple"
"""The field label of an operation that selects several top-level fields."""


def top_level_field(document: DocumentNode | None, operation_name: str | None) -> str:
    """The one top-level field the operation selects (aliases resolved), ``multiple``, or empty.

    Labels stay bounded by the schema: a field name, never a client's alias or argument.
    """
    if document is None:
        return ""
    for definition in document.definitions:
        if not isinstance(definition, OperationDefinitionNode):
            continue
        named = definition.name.value if definition.name is not None else None
        if operation_name is not None and named != operation_name:
            continue
        selections = definition.selection_set.selections
        if len(selections) == 1 and isinstance(selections[0], FieldNode):
            return selections[0].name.value
        return MULTIPLE
    return ""


class OperationLabels(SchemaExtension):
    """Leaves ``(type, field, name)`` of an HTTP operation in its request; counts open subscriptions."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._subscription: str | None = None

    def on_execute(self) -> Iterator[None]:
        # Reached once the document is parsed and valid, for queries, mutations and the start
        # of a subscription alike.
        context = self.execution_context
        found = context.context
        request = found.request if isinstance(found, RequestContext) else None
        if isinstance(found, RequestContext) and request is not None:
            kind = context.operation_type.value
            field = top_level_field(context.graphql_document, context.operation_name)
            if kind == "subscription":
                found.api.observability.observer.subscription_opened(field)
                self._subscription = field
            elif request.scope["type"] == "http":
                request.scope.setdefault("state", {})[OPERATION] = (kind, field, context.operation_name)
        yield

    def on_operation(self) -> Iterator[None]:
        try:
            yield
        finally:  # also when the operation is cancelled: a subscription completed or its socket closed
            self._operation_ended()

    def _operation_ended(self) -> None:
        context = self.execution_context
        found = context.context
        if not isinstance(found, RequestContext):
            return
        if self._subscription is not None:
            found.api.observability.observer.subscription_closed(self._subscription)
            self._subscription = None
            return
        request = found.request
        if request is not None and request.scope["type"] == "http":
            state = request.scope.setdefault("state", {})
            if OPERATION not in state:  # never executed: a syntax or validation error, a limit
                state[OPERATION] = ("invalid", "", context.operation_name)
