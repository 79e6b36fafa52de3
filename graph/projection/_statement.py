"""The Cypher of a projected read: one list expression per twin, nested for its neighbours.

Private to ``graph.projection``. A twin is projected as ``[id, <the columns its fields ask>,
<one list per relationships read>, <one list per neighbours read>]``, in the order
``graph.projection._views`` reads them back; relationships and neighbours are pattern
comprehensions on the twin's variable, so the whole answer is one statement whatever the
nesting. Relationship names are checked as identifiers and property keys are DTDL names
(``stored_key``) before they are written into the text; values travel as parameters.
"""

from __future__ import annotations

from functools import lru_cache
from itertools import count

from graph._traversal import Direction
from graph.cypher import identifier
from graph.latest import LATEST_AT_PREFIX, LATEST_PREFIX
from graph.physical import DOCUMENT
from graph.projection._fields import Neighbours, Relationships, TwinFields
from graph.search import PageStatement
from graph.telemetry import TELEMETRY_COLUMN
from ontology.errors import BadRequest


@lru_cache(maxsize=256)
def twin_statement(fields: TwinFields) -> str:
    """One twin by ``$id``: one row of one column, the twin's projection (no row: no such twin)."""
    return f"MATCH (t:Twin {{id: $id}}) RETURN {projection('t', fields, count(1))}"


def page_statement_text(page: PageStatement, fields: TwinFields, *, total: bool) -> str:
    """One row: how many twins match over every page (null unless ``total``), then the page's
    twins as a list of ``[projection, sort key]`` in page order.

    One row, not one per twin: drivers spend more on each row than on the values in it
    (the Python driver about 35 µs of CPU a row, so 51 rows cost three times one). The
    count comes first, so that a page past the last twin still has it.
    """
    shown = projection("t", fields, count(1))
    if not total:
        return f"{page.text} RETURN null AS total, collect([{shown}, {page.sort_key}]) AS page"
    condition = f" WHERE {page.condition}" if page.condition is not None else ""
    return (
        f"MATCH (t:{page.label}){condition} WITH count(t) AS total"
        f" OPTIONAL MATCH {page.pattern}{page.where} WITH total, t ORDER BY {page.order} LIMIT $limit"
        f" WITH total, collect(CASE WHEN t IS NULL THEN NULL ELSE [{shown}, {page.sort_key}] END) AS page"
        " RETURN total, page"
    )


def projection(var: str, fields: TwinFields, names: count[int]) -> str:
    """The list expression of what ``fields`` reads of twin ``var``.

    ``names`` numbers the variables of the pattern comprehensions: FalkorDB answers a
    comprehension nothing when another one in the same expression binds the same name.
    """
    parts = [f"{var}.id"]
    if fields.model or fields.telemetry:
        parts.append(f"{var}.model")
    parts += [f"{var}.{key}" for key, wanted in _SYSTEM if getattr(fields, wanted)]
    if fields.document:
        parts.append(f"{var}.`{DOCUMENT}`")
    if fields.telemetry:
        parts.append(f"{var}.`{TELEMETRY_COLUMN}`")
    parts += [f"{var}.{_quoted(key)}" for key in fields.stored]
    for name in fields.latest:
        parts += [f"{var}.{_quoted(LATEST_PREFIX + name)}", f"{var}.{_quoted(LATEST_AT_PREFIX + name)}"]
    parts += [_relationships(var, read, names) for read in fields.relationships]
    parts += [_neighbours(var, read, names) for read in fields.neighbours]
    return "[" + ", ".join(parts) + "]"


_SYSTEM = (("etag", "etag"), ("createdAt", "created_at"), ("updatedAt", "updated_at"))


def _quoted(key: str) -> str:
    # A backtick cannot be quoted in a property key on FalkorDB (nor is one ever stored).
    if "`" in key:
        raise BadRequest(f"no stored key may hold a backtick: {key!r}", details={"key": key})
    return f"`{key}`"


def _types(name: str | None) -> str:
    return ":" + identifier(name) if name else ""


def _relationships(var: str, read: Relationships, names: count[int]) -> str:
    """``[rel id, name, source id, target id(, document)]`` of each relationship; both ways for BOTH."""
    parts = []
    for direction in (Direction.OUT, Direction.IN):
        if read.direction not in (direction, Direction.BOTH):
            continue
        n = next(names)
        rel, other = f"r{n}", f"o{n}"
        ends = f"{var}.id, {other}.id" if direction == Direction.OUT else f"{other}.id, {var}.id"
        document = f", {rel}.`{DOCUMENT}`" if read.properties else ""
        types = _types(read.name)
        arrow = f"-[{rel}{types}]->" if direction == Direction.OUT else f"<-[{rel}{types}]-"
        parts.append(f"[({var}){arrow}({other}:Twin) | [{rel}.id, type({rel}), {ends}{document}]]")
    return " + ".join(parts)


def _neighbours(var: str, read: Neighbours, names: count[int]) -> str:
    """The projection of each twin one relationship away (repeated once per relationship)."""
    other = f"n{next(names)}"
    types = _types(read.name)
    arrow = {
        Direction.OUT: f"-[{types}]->",
        Direction.IN: f"<-[{types}]-",
        Direction.BOTH: f"-[{types}]-",
    }[read.direction]
    return f"[({var}){arrow}({other}:Twin) | {projection(other, read.fields, names)}]"
