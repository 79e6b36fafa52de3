"""Bulk export of the twin graph through the ``GraphStore`` port (``docs/bulk-format.md``).

:func:`export_bulk` writes every model, twin and relationship in the format
``graph.importer`` reads, streaming twins in pages by id.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import IO, Any

from graph.bulk import relationship_line, twin_line, write_bulk
from graph.cypher import MAX_ROWS
from graph.model_store import GraphModelStore
from graph.physical import decode
from graph.store import GraphStore
from ontology.errors import KgtwinError

DEFAULT_PAGE = 1000

_TWIN_PAGE = "MATCH (t:Twin) WHERE t.id > $after RETURN t.id, t.model, t._document ORDER BY t.id LIMIT $n"
_RELATIONSHIPS_OF = """
UNWIND $ids AS id
MATCH (s:Twin {id: id})-[r]->(t:Twin)
RETURN s.id, r.id, type(r), t.id, r._document ORDER BY s.id, r.id
"""

Progress = Callable[[int], None]


def export_bulk(
    store: GraphStore, out: IO[str], *, page_size: int = DEFAULT_PAGE, progress: Progress | None = None
) -> int:
    """Write every model, twin and relationship as a bulk file; answers the lines written.

    Twins are read in pages of ``page_size`` by id (a cursor, not SKIP), and the
    relationships of each page of sources with one read, so memory stays constant.
    """
    count = 0

    def counted(lines: Iterator[dict[str, Any]]) -> Iterator[dict[str, Any]]:
        nonlocal count
        for line in lines:
            count += 1
            if progress is not None:
                progress(count)
            yield line

    models = (dict(m.document) for m in GraphModelStore(store).list())
    return write_bulk(
        out, counted(models), counted(_twins(store, page_size)), counted(_relationships(store, page_size))
    )


def _pages(store: GraphStore, page_size: int) -> Iterator[list[list[Any]]]:
    after = ""
    while True:
        rows = store.read(_TWIN_PAGE, {"after": after, "n": page_size}, max_rows=MAX_ROWS).rows
        if not rows:
            return
        yield rows
        after = rows[-1][0]


def _twins(store: GraphStore, page_size: int) -> Iterator[dict[str, Any]]:
    for page in _pages(store, page_size):
        for twin_id, model, document in page:
            yield twin_line(twin_id, model, decode({"id": twin_id, "_document": document}))


def _relationships(store: GraphStore, page_size: int) -> Iterator[dict[str, Any]]:
    for page in _pages(store, page_size):
        result = store.read(_RELATIONSHIPS_OF, {"ids": [row[0] for row in page]}, max_rows=MAX_ROWS)
        if result.truncated:
            raise KgtwinError(
                f"twins {page[0][0]!r}..{page[-1][0]!r} have over {MAX_ROWS} relationships; "
                "export with a smaller page size"
            )
        for source, rid, name, target, document in result.rows:
            yield relationship_line(source, rid, name, target, decode({"id": rid, "_document": document}))
