"""Parsing and validating a query once per query text, not once per request.

Parsing and validating cost more than executing a small query (about 2 ms of CPU against
1 ms for ``twin(id) { properties latest }``: graphql-core walks the document once per
rule, some thirty of them), and front ends send the same few query texts over and over,
with variables. So the parsed document and the outcome of the spec's rules are kept per
query text, in bounded LRU caches (a flood of distinct texts only evicts).
Private to ``api.fastpath``: it calls Strawberry's own ``validate_document``.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Iterator, Sequence
from functools import lru_cache
from typing import Any

from graphql import ASTValidationRule, DocumentNode, GraphQLError, GraphQLSchema, specified_rules, validate
from strawberry.extensions import SchemaExtension
from strawberry.schema.schema import validate_document

from api.documents import QUERY_CACHE_SIZE, DocumentCache, parse_query
from api.limits import Limits, limit_rule

_SPEC_RULES = frozenset(specified_rules)
_validate_by_spec: Callable[..., list[GraphQLError]] = lru_cache(maxsize=QUERY_CACHE_SIZE)(validate_document)
# Its own cache, so that rule classes built per request (never hit) cannot evict the above.
_validate_by_others: Callable[..., list[GraphQLError]] = lru_cache(maxsize=QUERY_CACHE_SIZE)(validate)


class SpecValidationCache(SchemaExtension):
    """Validate a document against the spec's rules once per query text; other rules every time.

    Strawberry's own ``ValidationCache`` keys on the whole rule set, and the rule set is
    not the same from one request to the next: ``api.limits`` adds a depth and complexity
    rule built for the limits of the app serving the request. The spec's rules are the
    same module-level classes on every request, so their outcome is cached (the key is the
    cached parsed document, hence ``DocumentCache`` first). The other rules are cached apart,
    by their classes: a hit when an extension reuses its rule classes, and otherwise one
    visit of the document by those rules alone, not by all thirty.
    """

    def on_validate(self) -> Iterator[None]:
        context = self.execution_context
        rules = context.validation_rules
        document = context.graphql_document
        if rules and context.pre_execution_errors is None and document is not None:
            context.pre_execution_errors = validation_errors(context.schema._schema, document, rules)
        yield


def validation_errors(
    graphql_schema: GraphQLSchema, document: DocumentNode, rules: Sequence[type[ASTValidationRule]]
) -> list[GraphQLError]:
    """The errors of ``document`` under ``rules``, each half from its cache (see ``SpecValidationCache``)."""
    spec = tuple(rule for rule in rules if rule in _SPEC_RULES)
    other = tuple(rule for rule in rules if rule not in _SPEC_RULES)
    errors: list[GraphQLError] = list(_validate_by_spec(graphql_schema, document, spec))
    if other and not errors:
        errors += _validate_by_others(graphql_schema, document, other)
    return errors


def prevalidate(graphql_schema: GraphQLSchema, document: DocumentNode, limits: Limits) -> None:
    """Validate ``document`` as the executor will for an app with ``limits``, filling the caches.

    ``api.graphql_http`` calls it in a worker thread before executing: validating a large
    document costs tens of milliseconds, which must not hold up the event loop (and every
    other request with it); the executor then finds the outcome cached. The rules are the
    executor's: Strawberry's defaults, then the depth and complexity rule ``GraphQLLimits``
    appends.
    """
    rule = limit_rule(limits.graphql_max_depth, limits.graphql_max_complexity)
    validation_errors(graphql_schema, document, (*specified_rules, rule))


PreparedKey = tuple[int, str, int, int, int]
"""A schema (its ``id``), a query text and the limits it was validated under: tokens, depth, complexity."""


class PreparedDocuments:
    """The query texts already parsed and validated, so a request can skip the worker thread.

    ``api.graphql_http`` parses and validates a document off the event loop (a large one
    costs tens of milliseconds), but handing a cached one to a worker thread costs far
    more than looking it up: the hops were about a fifth of a small query's server CPU.
    So texts are remembered here once :func:`prepare` has filled the parse and validation
    caches for them, and the next request with the same text and limits finds its
    document on the event loop. Kept to half the caches' size, least recently used out
    first as there, so a text found here is still in them but after a flood of other
    texts; then the executor parses or validates it again, on the event loop.
    """

    def __init__(self, size: int = QUERY_CACHE_SIZE // 2) -> None:
        self.size = size
        self._documents: OrderedDict[PreparedKey, DocumentNode] = OrderedDict()
        self._lock = threading.Lock()  # prepare() records from worker threads

    def find(self, key: PreparedKey) -> DocumentNode | None:
        with self._lock:
            document = self._documents.get(key)
            if document is not None:
                self._documents.move_to_end(key)
            return document

    def record(self, key: PreparedKey, document: DocumentNode) -> None:
        with self._lock:
            self._documents[key] = document
            self._documents.move_to_end(key)
            while len(self._documents) > self.size:
                self._documents.popitem(last=False)


_PREPARED = PreparedDocuments()


def _key(graphql_schema: GraphQLSchema, query: str, limits: Limits) -> PreparedKey:
    depth, complexity = limits.graphql_max_depth, limits.graphql_max_complexity
    return (id(graphql_schema), query, limits.graphql_max_tokens, depth, complexity)


def prepared(graphql_schema: GraphQLSchema, query: str, limits: Limits) -> DocumentNode | None:
    """The document of ``query`` when it was parsed and validated for ``graphql_schema`` under ``limits``."""
    return _PREPARED.find(_key(graphql_schema, query, limits))


def prepare(graphql_schema: GraphQLSchema, query: str, limits: Limits) -> DocumentNode:
    """Parse and validate ``query`` (blocking: call it in a worker thread), filling every cache.

    Raises what :func:`api.documents.parse_query` raises; validation errors are not raised
    but cached, for the executor to report.
    """
    document = parse_query(query, limits.graphql_max_tokens)
    prevalidate(graphql_schema, document, limits)
    _PREPARED.record(_key(graphql_schema, query, limits), document)
    return document


def query_caches() -> list[Any]:
    """The schema extensions that keep parsed and validated queries (in this order)."""
    # Classes, not instances: an extension instance holds its request's execution context.
    return [DocumentCache, SpecValidationCache]
