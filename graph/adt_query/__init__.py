"""The Azure Digital Twins query language on kgtwin's twin graph, translated to read-only Cypher.

``parse_query(text)`` answers the syntax tree (``graph.adt_query.syntax``) after every check
that needs no graph; ``run_query(store, text, max_items=..., continuation=...)`` answers
one page of rows. docs/adt-query.md is the language as kgtwin supports it, and how it
differs from ADT's.

**Rows.** Every item of ``AdtQueryPage.items`` is a dict, keyed as ADT keys its result:

- ``SELECT * FROM DIGITALTWINS`` (or ``SELECT TOP(n)``, without JOIN or MATCH): ADT
  answers bare twins; the item is ``{"$twin": Twin}``.
- ``SELECT * FROM RELATIONSHIPS``: ``{"$relationship": TwinRelationship}``.
- ``SELECT *`` with JOIN or MATCH: every named collection, ``{"T": Twin, "R": TwinRelationship}``.
- projections of collections (``SELECT T, CT, R``): ``{"T": Twin, "CT": Twin, "R": TwinRelationship}``.
- projections of properties (``SELECT T.name, T.$dtId, R.$sourceId AS s``): the JSON value
  under the property's last name (``name``, ``$dtId``) or its ``AS`` name (``s``); a
  property a row lacks is left out of that item, as ADT does.
- ``SELECT COUNT()``: one item, ``{"COUNT": n}``.

Twins and relationships are ``graph.Twin`` and ``graph.TwinRelationship``, built by
``Twin.from_node`` and ``TwinRelationship.from_edge``; the API renders them in ADT's JSON.

**Errors.** ``QueryInvalid`` (a ``BadRequest``, code ``BAD_REQUEST``) names the construct
that is wrong or outside the language and where it starts (``details``: ``construct``,
``line``, ``column``), including a refused continuation token. Values of the query are
always Cypher parameters, never spliced into the statement.
"""

from graph.adt_query._check import MAX_HOPS, MAX_JOINS
from graph.adt_query._functions import FUNCTIONS
from graph.adt_query._paging import TOKEN_TTL_S
from graph.adt_query._parse import MAX_CONDITIONS, MAX_DEPTH, MAX_IN_VALUES, MAX_QUERY_CHARS
from graph.adt_query._run import (
    COUNT_KEY,
    MAX_ITEMS,
    RELATIONSHIP_KEY,
    TWIN_KEY,
    AdtQueryPage,
    parse_query,
    run_query,
)
from graph.adt_query.errors import QueryInvalid
from graph.adt_query.syntax import AdtQuery

__all__ = [
    "COUNT_KEY",
    "FUNCTIONS",
    "MAX_CONDITIONS",
    "MAX_DEPTH",
    "MAX_HOPS",
    "MAX_IN_VALUES",
    "MAX_ITEMS",
    "MAX_JOINS",
    "MAX_QUERY_CHARS",
    "RELATIONSHIP_KEY",
    "TOKEN_TTL_S",
    "TWIN_KEY",
    "AdtQuery",
    "AdtQueryPage",
    "QueryInvalid",
    "parse_query",
    "run_query",
]
