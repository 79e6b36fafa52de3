"""Projected reads: a twin or a page of twins with only the fields asked, in one statement.

A GraphQL request names exactly what it wants of each twin (a few properties, its
neighbours' names), and the general reads bring everything: the whole node, its document
and telemetry reference decoded, then one more read per level of neighbours. A projected
read is told what to bring (:class:`TwinFields`) and brings only that, in one statement:
the twin (by id) or the page (``graph.search``'s matching, sort and index-ordered cut),
the columns asked, each property read as stored where the node holds it exactly
(:func:`stored_key`; the document is decoded only when a property is not), the count of
every match, and relationships and neighbours one hop away as pattern comprehensions,
nested as deep as asked.

Each value is decoded as the general reads decode it (``Twin.from_node``,
``relationships_of_each``, ``neighbours_of_each``), so the answers are theirs; a read
they would refuse (a corrupt node, too many twins) raises here too. Neighbours further
than one hop are left to the walks (``graph.queries``): a pattern of variable length
enumerates every path, and on a graph with cycles (``contains`` beside ``isPartOf``)
their number grows exponentially with the depth, where a walk reads each level once.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from graph.projection._fields import Neighbours, Relationships, TwinFields, stored_key
from graph.projection._statement import page_statement_text, twin_statement
from graph.projection._views import PageView, TwinView, view_of
from graph.search import Filter, page_statement
from graph.store import GraphStore
from ontology.model import ModelSet


def prepare(fields: TwinFields) -> None:
    """Check ``fields`` make a statement (``BadRequest`` for a relationship name that is no
    identifier), before anything is read; the statement is kept for the reads."""
    twin_statement(fields)


def read_twin(store: GraphStore, models: ModelSet, twin_id: str, fields: TwinFields) -> TwinView | None:
    """Twin ``twin_id`` with ``fields``, or None when there is none (``TwinGraph.get_twin``'s twin)."""
    rows = store.query_rows(twin_statement(fields), {"id": twin_id})
    return view_of(rows[0][0], fields, models) if rows else None


@dataclass(frozen=True)
class PageRead:
    """A page read checked and written, ready to run (:func:`page_read`)."""

    statement: str
    params: dict[str, Any]
    fields: TwinFields
    first: int
    order_by: str
    query: str
    total: bool

    def run(self, store: GraphStore) -> PageView:
        """The page, as ``graph.find_twins`` finds it, with the fields asked of each twin."""
        [[counted, rows]] = store.query_rows(self.statement, self.params)
        kept = rows[: self.first]
        return PageView(
            [view_of(row[0], self.fields, None) for row in kept],
            len(rows) > self.first,
            [row[1] for row in kept],
            self.order_by,
            self.query,
            int(counted) if self.total else None,
        )


def page_read(
    store: GraphStore,
    models: ModelSet,
    model: str,
    fields: TwinFields,
    *,
    where: Filter | None = None,
    order_by: str = "id",
    descending: bool = False,
    first: int = 100,
    after: str | None = None,
    total: bool = False,
) -> PageRead:
    """``graph.find_twins``'s page with ``fields`` of each twin; with ``total``, ``count_twins`` too.

    Raises what ``find_twins`` raises for its arguments, before anything is read.
    """
    page = page_statement(
        store, models, model, where=where, order_by=order_by, descending=descending, first=first, after=after
    )
    if page.float_sort and not fields.document:
        # A cursor on a double sort key takes the exact value from the document (graph.search.page_cursor).
        fields = replace(fields, document=True)
    statement = page_statement_text(page, fields, total=total)
    return PageRead(statement, page.params, fields, first, order_by, page.fingerprint, total)


def read_page(store: GraphStore, models: ModelSet, model: str, fields: TwinFields, **page: Any) -> PageView:
    """:func:`page_read`, run."""
    return page_read(store, models, model, fields, **page).run(store)


__all__ = [
    "Neighbours",
    "PageRead",
    "PageView",
    "Relationships",
    "TwinFields",
    "TwinView",
    "page_read",
    "prepare",
    "read_page",
    "read_twin",
    "stored_key",
]
