"""Parsing and validating a query once per query text, not once per request.

Parsing and validating cost more than executing a small query (about 2 ms of CPU against
1 ms for ``twin(id) { properties latest }``: graphql-core walks the document once per
rule, some thirty of them), and front ends send the same few query texts over and over,
with variables. So the parsed document and the outcome of the spec's rules are kept per
query text, in bounded LRU caches (a flood of distinct texts only evicts).
Private to ``api.fastpath``: it calls Strawberry's own ``validate_document``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from functools import lru_cache
from typing import Any

from graphql import GraphQLError, specified_rules, validate
from strawberry.extensions import ParserCache, SchemaExtension
from strawberry.schema.schema import validate_document

QUERY_CACHE_SIZE = 512
"""Distinct query texts whose parsed document and validation outcome are kept."""

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
    cached parsed document, hence ``ParserCache`` first). The other rules are cached apart,
    by their classes: a hit when an extension reuses its rule classes, and otherwise one
    visit of the document by those rules alone, not by all thirty.
    """

    def on_validate(self) -> Iterator[None]:
        context = self.execution_context
        rules = context.validation_rules
        if rules and context.pre_execution_errors is None and context.graphql_document is not None:
            schema = context.schema._schema
            spec = tuple(rule for rule in rules if rule in _SPEC_RULES)
            other = tuple(rule for rule in rules if rule not in _SPEC_RULES)
            errors: list[GraphQLError] = list(_validate_by_spec(schema, context.graphql_document, spec))
            if other and not errors:
                errors += _validate_by_others(schema, context.graphql_document, other)
            context.pre_execution_errors = errors
        yield


def query_caches() -> list[Any]:
    """The schema extensions that keep parsed and validated queries (in this order)."""
    # Factories, not instances: an extension instance holds its request's execution context.
    return [lambda: ParserCache(maxsize=QUERY_CACHE_SIZE), SpecValidationCache]
