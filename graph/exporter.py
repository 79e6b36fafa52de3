"""Bulk export of the twin graph through the ``GraphStore`` port (``docs/bulk-format.md``).

:func:`export_bulk` writes every model, twin and relationship in the format
``graph.importer`` reads, streaming twins in pages by id.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Callable, Iterator
from typing import IO, Any

from graph.bulk import relationship_line, twin_line, write_bulk
from graph.cypher import MAX_ROWS
from graph.keyset import after as after_key
from graph.model_store import GraphModelStore
from graph.physical import decode
from graph.store import GraphStore
from graph.telemetry import TELEMETRY_COLUMN, ref_from_node, telemetry_column
from ontology.errors import KgtwinError
from ontology.model import ModelSet
from ontology.policy import DEFAULT_POLICY, DtdlPolicy
from ontology.registry import ModelRegistry
from telemetry.refs import TWIN_TAG, TelemetryRef, default_ref

DEFAULT_PAGE = 1000

_TWIN_COLUMNS = f"t.id, t.model, t._document, {telemetry_column('t')}"
# ``{after}``: the keyset condition "after the last id" (``graph.keyset``).
# ``{columns}``: whole twins, or only their ids (the relationships pass needs no more).
_TWIN_PAGE = "MATCH (t:Twin) WHERE {after} RETURN {columns} ORDER BY t.id LIMIT $n"
# About one twin in ``$k``, whatever its id: where the windows of a FalkorDB export end.
_WINDOW_ENDS = "MATCH (t:Twin) WHERE id(t) % $k = 0 RETURN t.id"
_LAST_NODE = "MATCH (t:Twin) RETURN max(id(t))"
# FalkorDB answers a range of internal ids from its label scan (no string comparison, no sort).
_IDS_IN_SPAN = "MATCH (t:Twin) WHERE id(t) >= $lo AND id(t) < $hi RETURN id(t), t.id"
# ``UNWIND`` makes one id seek per node; ``id(t) IN $nodes`` would scan every twin per page.
_TWINS_BY_NODE = f"UNWIND $nodes AS node MATCH (t:Twin) WHERE id(t) = node RETURN {_TWIN_COLUMNS}"
SCAN_SPAN = 50_000
"""Internal ids one scan query of a FalkorDB export covers."""
PASS_TWINS = 200_000
"""Twins (id and internal id) a FalkorDB export holds at once: its memory bound."""
_RELATIONSHIPS_OF = """
UNWIND $ids AS id
MATCH (s:Twin {id: id})-[r]->(t:Twin)
RETURN s.id, r.id, type(r), t.id, r._document ORDER BY s.id, r.id
"""

Progress = Callable[[int], None]


def export_bulk(
    store: GraphStore,
    out: IO[str],
    *,
    page_size: int = DEFAULT_PAGE,
    progress: Progress | None = None,
    policy: DtdlPolicy = DEFAULT_POLICY,
) -> int:
    """Write every model, twin and relationship as a bulk file; answers the lines written.

    The stored models are read with the service's DTDL ``policy``, as they were accepted.

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

    model_store = GraphModelStore(store)
    models = (dict(m.document) for m in model_store.list())
    ontology = ModelRegistry(model_store, policy=policy).models
    return write_bulk(
        out,
        counted(models),
        counted(_twins(store, ontology, page_size)),
        counted(_relationships(store, page_size)),
    )


def _pages(store: GraphStore, page_size: int, *, whole: bool = True) -> Iterator[list[list[Any]]]:
    """The twins in pages of ``page_size``, by id: each page asks for what sorts after the last id.

    A row is a twin's id, model, document and telemetry columns, or its id alone unless
    ``whole``.

    An engine with an ordered index (Neo4j) reads a page off ``Twin.id``'s. FalkorDB's is
    not ordered (it would find and sort every twin after the cursor for each page: N²/page)
    nor exact for string ranges (``string_index_ranges_exact``), so there
    :func:`_windowed_pages` does it without comparing ids in the engine.
    """
    if not store.capabilities.ordered_index:
        yield from _windowed_pages(store, page_size, whole=whole)
        return
    columns = _TWIN_COLUMNS if whole else "t.id"
    after = ""
    while True:
        params: dict[str, Any] = {"n": page_size}
        condition = after_key("t.id", after, params, capabilities=store.capabilities)
        rows = store.query_rows(_TWIN_PAGE.format(after=condition, columns=columns), params)
        if rows:
            yield rows
            after = rows[-1][0]
        if len(rows) < page_size:
            break


def _windowed_pages(store: GraphStore, page_size: int, *, whole: bool) -> Iterator[list[list[Any]]]:
    """Pages by id on FalkorDB, in time linear in the twins and memory bounded by ``PASS_TWINS``.

    One scan samples one twin in ``page_size`` by internal id: sorted, their ids cut the id
    space into windows of about a page. Then, pass by pass, a scan of internal-id ranges
    (which FalkorDB answers from its label scan) gathers the ids of the next windows'
    twins, as many windows as ``PASS_TWINS`` twins allow; each window is sorted here, and its
    twins are read by internal id a page at a time. Ids are compared by code point, as
    FalkorDB's ``ORDER BY`` does. A twin present from the start to the end of the export is
    in exactly one window and is read once; one created or deleted meanwhile may or may not
    be.
    """
    ends = sorted(str(row[0]) for row in store.query_rows(_WINDOW_ENDS, {"k": page_size}))
    last = store.query_rows(_LAST_NODE, {})
    if not last or last[0][0] is None:
        return
    last_node = int(last[0][0])
    windows = len(ends) + 1
    per_pass = max(1, PASS_TWINS // page_size)
    for first in range(0, windows, per_pass):
        members: list[list[tuple[str, int]]] = [[] for _ in range(min(per_pass, windows - first))]
        for lo in range(0, last_node + 1, SCAN_SPAN):
            for node, twin_id in store.query_rows(_IDS_IN_SPAN, {"lo": lo, "hi": lo + SCAN_SPAN}):
                window = bisect_left(ends, twin_id) - first
                if 0 <= window < len(members):
                    members[window].append((str(twin_id), int(node)))
        for window_members in members:
            window_members.sort()
            for start in range(0, len(window_members), page_size):
                chunk = window_members[start : start + page_size]
                if not whole:  # the scan found the ids: nothing more to read
                    yield [[twin_id] for twin_id, _ in chunk]
                    continue
                rows = {
                    row[0]: row for row in store.query_rows(_TWINS_BY_NODE, {"nodes": [n for _, n in chunk]})
                }
                page = [rows[twin_id] for twin_id, _ in chunk if twin_id in rows]
                if page:
                    yield page


def _twins(store: GraphStore, models: ModelSet, page_size: int) -> Iterator[dict[str, Any]]:
    """Twin lines; a twin's telemetry reference only when it is not its model's default."""
    defaults: dict[str, TelemetryRef] = {}
    for page in _pages(store, page_size):
        for twin_id, model, document, pairs in page:
            ref = ref_from_node({TELEMETRY_COLUMN: pairs}, model, twin_id, models)
            if model not in defaults:
                defaults[model] = default_ref(models, model, "")
            default = defaults[model]
            is_default = (ref.bucket, ref.measurement, ref.fields, dict(ref.tags)) == (
                default.bucket,
                default.measurement,
                default.fields,
                {TWIN_TAG: twin_id},
            )
            properties = decode({"id": twin_id, "_document": document})
            yield twin_line(twin_id, model, properties, None if is_default else ref.to_dict())


def _relationships(store: GraphStore, page_size: int) -> Iterator[dict[str, Any]]:
    for page in _pages(store, page_size, whole=False):
        rows = store.query_rows(_RELATIONSHIPS_OF, {"ids": [row[0] for row in page]})
        if len(rows) > MAX_ROWS:
            raise KgtwinError(
                f"twins {page[0][0]!r}..{page[-1][0]!r} have over {MAX_ROWS} relationships; "
                "export with a smaller page size"
            )
        for source, rid, name, target, document in rows:
            yield relationship_line(source, rid, name, target, decode({"id": rid, "_document": document}))
