"""Running an ADT query: parse and check, translate, read one page, shape its rows.

One read for the page, plus one for the model hierarchy when ``IS_OF_MODEL`` needs it and
one for the token key when paging (``graph.adt_query._paging``). The page's rows are read
in the engine's read-only mode (``GraphStore.query_rows``) within ``timeout_s``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from graph.adt_query import _paging
from graph.adt_query._check import check, column_key
from graph.adt_query._conditions import DIALECTS, NEO4J
from graph.adt_query._cypher import Plan, translate
from graph.adt_query._models import descendants_in, descendants_in_graph
from graph.adt_query._parse import parse
from graph.adt_query._scope import Kind, Scope
from graph.adt_query.errors import QueryInvalid
from graph.adt_query.syntax import AdtQuery, Collection, Shape
from graph.cypher import DEFAULT_TIMEOUT_S
from graph.store import GraphStore
from graph.twin import Twin, TwinRelationship
from ontology.model import ModelSet

MAX_ITEMS = 1_000
"""The most rows one page may hold (ADT's own page holds at most 100 by default)."""
TWIN_KEY = "$twin"
RELATIONSHIP_KEY = "$relationship"
COUNT_KEY = "COUNT"
_MISSING = object()


@dataclass(frozen=True)
class AdtQueryPage:
    """One page of a query's rows, and the token for the next page (None on the last one)."""

    items: list[dict[str, object]]
    continuation: str | None


def parse_query(text: str) -> AdtQuery:
    """The syntax tree of ``text``, after every check that needs no graph; ``QueryInvalid`` otherwise."""
    query = parse(text)
    check(query)
    return query


def run_query(
    store: GraphStore,
    text: str,
    *,
    max_items: int = 100,
    continuation: str | None = None,
    timeout_s: float | None = None,
    models: ModelSet | None = None,
    now: Callable[[], float] | None = None,
) -> AdtQueryPage:
    """One page of the rows of ADT query ``text`` on ``store``.

    ``max_items``: rows per page (1 to :data:`MAX_ITEMS`). ``continuation``: the token of
    the previous page. ``models``: the registry's models, for ``IS_OF_MODEL``'s
    inheritance (without, the graph's stored models are read). ``now``: the clock that
    dates tokens (tests). Raises ``QueryInvalid`` (a ``BadRequest``) for a query outside
    the language or a refused token, and the store's errors (``QueryTimeout``...).
    """
    if isinstance(max_items, bool) or not isinstance(max_items, int) or not 1 <= max_items <= MAX_ITEMS:
        raise QueryInvalid(
            f"max_items must be a whole number from 1 to {MAX_ITEMS}, not {max_items!r}",
            construct="max-items-per-page",
            limit=MAX_ITEMS,
        )
    query, scope = _checked(text) if isinstance(text, str) else (parse(text), Scope())
    clock = {} if now is None else {"now": now}
    position = None
    if continuation is not None:
        position = _paging.redeem(_paging.graph_secret(store, create=False), text, continuation, **clock)
    served = position.served if position else 0
    top = query.select.top
    wanted = max_items if top is None else min(max_items, top - served)
    if wanted <= 0:
        return AdtQueryPage([], None)
    descendants = descendants_in(models) if models is not None else descendants_in_graph(store)
    plan = translate(
        query,
        scope,
        DIALECTS.get(store.backend, NEO4J),
        descendants,
        after=position.key if position else None,
        limit=wanted + 1,
    )
    rows = store.query_rows(plan.text, plan.params, timeout_s=timeout_s or DEFAULT_TIMEOUT_S)
    if plan.count:
        return AdtQueryPage([{COUNT_KEY: int(rows[0][0]) if rows else 0}], None)
    page = rows[:wanted]
    items = [_item(row, plan, query, scope) for row in page]
    more = len(rows) > wanted and (top is None or served + len(page) < top)
    token = None
    if more and page:
        secret = _paging.graph_secret(store, create=True)
        assert secret is not None
        last = list(page[-1][: plan.key_width])
        token = _paging.issue(secret, text, _paging.Position(last, served + len(page)), **clock)
    return AdtQueryPage(items, token)


@lru_cache(maxsize=256)
def _checked(text: str) -> tuple[AdtQuery, Scope]:
    """A query parsed and checked, kept for the next call with the same text: a client paging
    through a result sends it again for every page. Neither is changed once made."""
    query = parse(text)
    return query, check(query)


def _item(row: Sequence[Any], plan: Plan, query: AdtQuery, scope: Scope) -> dict[str, object]:
    """A result row as ADT keys it (see the package docstring)."""
    found: dict[str, tuple[Twin | TwinRelationship, Mapping[str, Any]]] = {}
    i = plan.key_width
    for binding in plan.fetched:
        if binding.kind == Kind.TWIN:
            props = row[i]
            found[binding.var] = (Twin.from_node(props), props)
            i += 1
        else:
            name, source, target, props = row[i : i + 4]
            found[binding.var] = (TwinRelationship.from_edge(name, source, target, props), props)
            i += 4
    if query.select.shape == Shape.STAR:
        if not query.joins and query.match is None:
            key = TWIN_KEY if query.source.collection == Collection.DIGITALTWINS else RELATIONSHIP_KEY
            return {key: found[plan.fetched[0].var][0]}
        return {b.alias: found[b.var][0] for b in plan.fetched}
    item: dict[str, object] = {}
    for column in query.select.columns:
        resolved = scope.resolve(column.ref)
        element, props = found[resolved.binding.var]
        value = element if not resolved.path else _project(element, props, resolved.path)
        if value is not _MISSING:
            item[column_key(resolved, column.alias)] = value
    return item


def _project(element: Twin | TwinRelationship, props: Mapping[str, Any], path: tuple[str, ...]) -> object:
    """A property of a twin or relationship as JSON, or ``_MISSING`` (ADT then leaves the key out)."""
    if isinstance(element, Twin):
        system: dict[tuple[str, ...], object] = {
            ("$dtId",): element.id,
            ("$etag",): element.etag,
            ("$metadata", "$model"): element.model,
            ("$metadata", "$lastUpdateTime"): element.updated_at,
        }
    else:
        system = {
            ("$relationshipId",): element.id,
            ("$sourceId",): element.source,
            ("$targetId",): element.target,
            ("$relationshipName",): element.name,
            ("$etag",): props.get("etag", _MISSING),
        }
    if path in system:
        return system[path]
    value: object = element.properties
    for part in path:
        if not isinstance(value, dict) or part not in value:
            return _MISSING
        value = value[part]
    return value
