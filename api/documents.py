"""GraphQL documents: parsed once per query text, within a token budget, on every transport.

Front ends send the same few query texts over and over, so a parsed document is kept per
text in a bounded LRU cache, shared by every request (``api.graphql_http`` parses before
it executes, to choose the operation and the status code; the executor then finds the
same document here). The parser stops at ``max_tokens`` tokens (graphql-core's own limit):
the cost of parsing and of every validation rule grows with the document, and a document
is the one input of a request whose size the complexity rule cannot see before parsing.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from functools import lru_cache

from graphql import DocumentNode, GraphQLError, GraphQLSyntaxError, OperationDefinitionNode, parse
from strawberry.extensions import SchemaExtension

from api.limits import limits_of
from ontology.errors import ErrorCode

QUERY_CACHE_SIZE = 512
"""Distinct query texts whose parsed document (and validation outcome, ``api.schema``) are kept."""


@lru_cache(maxsize=QUERY_CACHE_SIZE)
def _parse(query: str, max_tokens: int) -> DocumentNode:
    return parse(query, max_tokens=max_tokens)


def parse_query(query: str, max_tokens: int) -> DocumentNode:
    """The document of ``query``; raises a ``GraphQLError`` coded ``BAD_REQUEST`` or ``LIMIT_EXCEEDED``.

    A syntax error is not cached (``lru_cache`` keeps results only): a text that fails
    is parsed again when sent again, which the token budget keeps cheap.
    """
    try:
        return _parse(query, max_tokens)
    except GraphQLSyntaxError as error:
        code = ErrorCode.LIMIT_EXCEEDED if "more than" in error.message else ErrorCode.BAD_REQUEST
        message = (
            f"the document has more than {max_tokens} tokens (KGTWIN_GRAPHQL_MAX_TOKENS)"
            if code == ErrorCode.LIMIT_EXCEEDED
            else error.message
        )
        raise GraphQLError(
            message, source=error.source, positions=error.positions, extensions={"code": str(code)}
        ) from None


def choose_operation(document: DocumentNode, operation_name: str | None) -> OperationDefinitionNode:
    """The operation a request runs (GraphQL spec §6.1 GetOperation); a request error otherwise.

    Without ``operationName`` a document must hold exactly one operation: running the
    first of several (a mutation, perhaps) would do what the caller may not have meant.
    """
    operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    if operation_name is None:
        if len(operations) == 1:
            return operations[0]
        message = (
            "the document holds no operation"
            if not operations
            else "the document holds several operations: name the one to run in operationName"
        )
        raise GraphQLError(message, extensions={"code": str(ErrorCode.BAD_REQUEST)})
    for operation in operations:
        if operation.name is not None and operation.name.value == operation_name:
            return operation
    raise GraphQLError(
        f"the document has no operation named {operation_name!r}",
        extensions={"code": str(ErrorCode.BAD_REQUEST)},
    )


class DocumentCache(SchemaExtension):
    """Parse through :func:`parse_query`, within the token budget of the app serving the request."""

    def on_parse(self) -> Iterator[None]:
        context = self.execution_context
        max_tokens = limits_of(context.context).graphql_max_tokens
        # Strawberry parses itself when no document is set here, with these options, and
        # reports a syntax error as the operation's error on every transport.
        context.parse_options["max_tokens"] = max_tokens
        if context.graphql_document is None and context.query is not None:
            with contextlib.suppress(GraphQLError):
                context.graphql_document = parse_query(context.query, max_tokens)
        yield
