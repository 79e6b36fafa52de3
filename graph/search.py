"""Finding twins by model, with property filters, sorted and paged by cursor.

``find_twins`` matches twins by the label of a model, which twins of every model extending
it carry too (``ontology.label_index``), so the engine starts from a label scan. Filters
name DTDL properties by their path (``flow``, ``location.lat``, ``tags.area``); each path
is checked against the model before it is written, backticked, into the query, and every
value travels as a parameter.

Paging is by cursor, never by OFFSET: the cursor holds the last twin's sort key and id
(a total order: ids are unique), and the next page starts strictly after that pair
(``graph.keyset``), so twins created or deleted between two pages do not shift the rest:
a walk returns every twin present from its start to its end exactly once. A twin whose
sort property changes during a walk is met where it then sorts. Twins without the sort
property come last, in either order. A cursor also holds a fingerprint of its query
(model, filter, sort): given to another query, or forged, it is ``BadRequest``.
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from graph import keyset
from graph._traversal import TWIN_KEYS, twin_columns
from graph.cursors import decode_cursor, encode_cursor
from graph.cypher import identifier
from graph.physical import flatten
from graph.store import GraphStore
from graph.twin import Twin
from ontology.errors import BadRequest
from ontology.labels import label_index
from ontology.model import ArraySchema, EnumSchema, MapSchema, ModelSet, ObjectSchema, PrimitiveSchema, Schema

MAX_PAGE = 1000
_CURSOR_VERSION = 2
"""Bumped when a cursor's meaning changes: an older cursor is then refused, never misread."""
# System properties a filter or sort may name besides the model's DTDL properties.
_SYSTEM = {"id": "string", "model": "string", "createdAt": "dateTime", "updatedAt": "dateTime"}
_COMPARE = {"eq": "=", "ne": "<>", "gt": ">", "gte": ">=", "lt": "<", "lte": "<="}
_MAP_KEY_FORBIDDEN = "`"
# JSON types of DTDL scalars as stored (dates, times, durations and uuids are strings).
_JSON_TYPES: dict[str, type | tuple[type, ...]] = {
    "boolean": bool,
    "integer": int,
    "long": int,
    "double": (int, float),
    "float": (int, float),
    "Array": list,
    **dict.fromkeys(("string", "date", "dateTime", "time", "duration", "uuid", "bytes"), str),
}


class Operator(StrEnum):
    """How a property is compared with a value."""

    EQ = "eq"
    NE = "ne"
    GT = "gt"
    GTE = "gte"
    LT = "lt"
    LTE = "lte"
    IN = "in"
    """The property equals one of the values (a list)."""
    CONTAINS = "contains"
    """A string property contains the value; an array property has it as an element."""


@dataclass(frozen=True)
class Condition:
    """``property`` (a DTDL property path such as ``location.lat``, or ``id``) ``op`` ``value``.

    A twin without the property matches no condition.
    """

    property: str
    op: Operator | str
    value: Any


@dataclass(frozen=True)
class AllOf:
    """Every filter holds (AND)."""

    filters: tuple[Filter, ...]


@dataclass(frozen=True)
class AnyOf:
    """At least one filter holds (OR)."""

    filters: tuple[Filter, ...]


Filter = Condition | AllOf | AnyOf


@dataclass(frozen=True)
class TwinPage:
    """One page of twins; pass ``end_cursor`` as ``after`` for the next one while ``has_next``.

    Each twin has a cursor of its own (:meth:`cursor`): passed as ``after``, it resumes
    right after that twin (a Relay edge's cursor). They are made when asked for.
    """

    twins: list[Twin]
    has_next: bool
    sort_keys: list[Any] = field(default_factory=list)
    """Each twin's value of the sort property as the engine answered it (None where it has none)."""
    order_by: str = "id"
    descending: bool = False
    query: str = ""
    """The fingerprint of the query (:func:`query_fingerprint`) the cursors belong to."""

    def cursor(self, index: int) -> str:
        """The cursor that resumes after ``twins[index]``."""
        twin = self.twins[index]
        return page_cursor(self.query, self.order_by, self.sort_keys[index], twin.id, twin.properties)

    @property
    def cursors(self) -> list[str]:
        """Each twin's cursor, in page order."""
        return [self.cursor(i) for i in range(len(self.twins))]

    @property
    def end_cursor(self) -> str | None:
        """The cursor of the page's last twin (None for an empty page)."""
        return self.cursor(len(self.twins) - 1) if self.twins else None


def page_cursor(
    query: str, order_by: str, sort_key: Any, twin_id: str, properties: dict[str, Any] | None
) -> str:
    """The cursor that resumes a page of ``query`` right after twin ``twin_id``.

    ``properties``, the twin's document, is needed when the sort key is a double
    (:func:`float_sort`): FalkorDB answers doubles to 15 digits, and a cursor on the
    rounded value would repeat the twin; the document holds the exact value.
    """
    if isinstance(sort_key, float) and order_by not in _SYSTEM and properties is not None:
        sort_key = flatten(properties).get(order_by, sort_key)
    return encode_cursor([query, sort_key, twin_id])


def query_fingerprint(model: str, where: Filter | None, order_by: str, descending: bool) -> str:
    """A short digest of what a page lists and in which order: a cursor is refused by any other query."""
    text = json.dumps([_CURSOR_VERSION, model, _filter_json(where), order_by, descending], sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _filter_json(where: Filter | None) -> Any:
    if where is None:
        return None
    if isinstance(where, Condition):
        return [where.property, str(where.op), where.value]
    return ["all" if isinstance(where, AllOf) else "any", [_filter_json(f) for f in where.filters]]


def find_twins(
    store: GraphStore,
    models: ModelSet,
    model: str,
    *,
    where: Filter | None = None,
    order_by: str = "id",
    descending: bool = False,
    first: int = 100,
    after: str | None = None,
) -> TwinPage:
    """Twins of ``model`` or of a model extending it, matching ``where``, ordered by ``order_by`` then id.

    Raises ``BadRequest`` for an unknown model, a property path the model does not have,
    an operator that does not fit the property, a page size outside 1..1000, or a
    cursor from another query.
    """
    page = page_statement(
        store, models, model, where=where, order_by=order_by, descending=descending, first=first, after=after
    )
    query = page.text + f" RETURN {twin_columns('t')}, {_LATEST_PAIRS} AS latest, {page.sort_key} AS sortKey"
    rows = store.query_rows(query, page.params)
    kept = rows[:first]
    return TwinPage(
        [_twin(row) for row in kept],
        len(rows) > first,
        [row[-1] for row in kept],
        order_by,
        descending,
        page.fingerprint,
    )


@dataclass(frozen=True)
class PageStatement:
    """How a page's twins are matched, sorted and cut, for a statement that then returns their columns.

    :attr:`text` binds the page's twins to ``t``, one more than the page (to tell whether
    another page follows), sorted; the caller adds the ``RETURN`` of what it reads of each
    twin, :attr:`sort_key` among it for the cursors. The parts serve a reader that counts
    every match in the same statement: :attr:`label` and :attr:`condition` (the filter alone,
    on ``t``; its values are in :attr:`params`, as the others). :attr:`float_sort`: the sort
    key is a double, and a cursor needs each twin's document (:func:`page_cursor`).
    """

    pattern: str
    where: str
    order: str
    params: dict[str, Any]
    sort_key: str
    label: str
    condition: str | None
    fingerprint: str
    float_sort: bool

    @property
    def text(self) -> str:
        return f"MATCH {self.pattern}{self.where} WITH t ORDER BY {self.order} LIMIT $limit"


def page_statement(
    store: GraphStore,
    models: ModelSet,
    model: str,
    *,
    where: Filter | None = None,
    order_by: str = "id",
    descending: bool = False,
    first: int = 100,
    after: str | None = None,
) -> PageStatement:
    """How :func:`find_twins` finds a page, for readers that return other columns of its twins.

    Raises what :func:`find_twins` raises for its arguments.
    """
    if model not in models:
        raise BadRequest(f"model {model!r} is not in the model set", details={"model": model})
    if not 1 <= first <= MAX_PAGE:
        raise BadRequest(f"first must be between 1 and {MAX_PAGE}, not {first}", details={"first": first})
    params: dict[str, Any] = {"limit": first + 1}
    condition = filter_condition(models, model, where, params) if where is not None else None
    clauses = [condition] if condition is not None else []
    sort_key, sort_schema = _property(models, model, order_by)
    if not isinstance(sort_schema, PrimitiveSchema | EnumSchema):
        raise BadRequest(f"cannot sort by {order_by!r}: it is not a scalar", details={"orderBy": order_by})
    key = f"t.{sort_key}"
    fingerprint = query_fingerprint(model, where, order_by, descending)
    caps = store.capabilities
    order = " DESC" if descending else ""
    label = model_label(models, model)
    if order_by == "id" and caps.ordered_index:
        # Every twin has an id (the unique Twin.id index): a range on it lets an engine that
        # reads its index in order (Neo4j) stop after ``first`` matches instead of sorting
        # every twin of the model (no id is empty, so ``> ''`` keeps them all). FalkorDB's
        # range index is not ordered: there the range would scan every twin, so the label
        # scan stays.
        if after is not None:
            last_id = _decode_cursor(after, fingerprint, sort_schema, order_by)[1]
            clauses.append(keyset.after("t.id", last_id, params, descending=descending, capabilities=caps))
        else:
            clauses.append("t.id > ''")
        sort = f"t.id{order}"
        pattern = f"(t:Twin:{label})"
    elif order_by == "id":
        # The engine finds every twin of the model and sorts them (FalkorDB). Every twin has
        # an id, unique, so the id alone is the whole order: no missing-key rank and no
        # tie-break, which would each be computed for every twin (a fifth of the engine's
        # CPU for a page of 200,000 rooms). The page still costs in proportion to the model's
        # twins: FalkorDB's index is neither ordered nor exact on strings beyond ASCII
        # (graph.keyset), so no range over it can stand in for the scan.
        if after is not None:
            last_id = _decode_cursor(after, fingerprint, sort_schema, order_by)[1]
            clauses.append(keyset.after("t.id", last_id, params, descending=descending, capabilities=caps))
        sort = f"t.id{order}"
        pattern = f"(t:{label})"
    else:
        if after is not None:
            last_key, last_id = _decode_cursor(after, fingerprint, sort_schema, order_by)
            id_after = keyset.after("t.id", last_id, params, descending=descending, capabilities=caps)
            if last_key is None:
                clauses.append(f"({key} IS NULL AND {id_after})")
            else:
                key_after = keyset.after(key, last_key, params, descending=descending, capabilities=caps)
                params["lastKey"] = last_key
                clauses.append(f"({key_after} OR ({key} = $lastKey AND {id_after}) OR {key} IS NULL)")
        sort = f"({key} IS NULL), {key}{order}, t.id{order}"
        pattern = f"(t:{label})"
    # Sort and cut in WITH, then project: engines would otherwise build every matching
    # twin's columns (its whole document) before keeping the first ``first + 1``. RETURN
    # keeps WITH's order on both engines (tests/graph/test_search.py pages every sort).
    where_text = " WHERE " + " AND ".join(clauses) if clauses else ""
    float_sort = (
        order_by not in _SYSTEM
        and isinstance(sort_schema, PrimitiveSchema)
        and (sort_schema.kind in ("double", "float"))
    )
    return PageStatement(pattern, where_text, sort, params, key, label, condition, fingerprint, float_sort)


# The last telemetry values ingest copied onto the node (``graph.latest``), as [key, value]
# pairs: a page of twins then answers ``latest`` without a time-series query.
_LATEST_PAIRS = "[k IN keys(t) WHERE k STARTS WITH '_latest' | [k, t[k]]]"


def _twin(row: list[Any]) -> Twin:
    """A twin of a page: its :data:`TWIN_KEYS` columns, then its last values' pairs."""
    props = dict(zip(TWIN_KEYS, row, strict=False))
    props.update((str(pair[0]), pair[1]) for pair in row[len(TWIN_KEYS)] or ())
    return Twin.from_node(props)


def model_label(models: ModelSet, model: str) -> str:
    """The label, quoted for Cypher, that every twin of ``model`` or of a model extending it carries."""
    return identifier(label_index(models).label(model))


def filter_condition(models: ModelSet, model: str, where: Filter, params: dict[str, Any]) -> str:
    """The Cypher condition of ``where``; values go into ``params`` as ``$v0``, ``$v1``, ..."""
    if isinstance(where, AllOf | AnyOf):
        if not where.filters:
            raise BadRequest("an allOf/anyOf filter needs at least one filter")
        joiner = " AND " if isinstance(where, AllOf) else " OR "
        return "(" + joiner.join(filter_condition(models, model, f, params) for f in where.filters) + ")"
    key, schema = _property(models, model, where.property)
    try:
        op = Operator(where.op)
    except ValueError:
        raise BadRequest(
            f"unknown operator {where.op!r}; use one of {', '.join(o.value for o in Operator)}",
            details={"property": where.property, "op": str(where.op)},
        ) from None
    if op == Operator.IN and not isinstance(where.value, list | tuple):
        raise BadRequest(
            f"'in' on {where.property!r} needs a list of values", details={"property": where.property}
        )
    if op == Operator.CONTAINS and not (
        isinstance(schema, ArraySchema) or (isinstance(schema, PrimitiveSchema) and schema.kind == "string")
    ):
        raise BadRequest(
            f"'contains' needs a string or array property; {where.property!r} is neither",
            details={"property": where.property},
        )
    element = schema.element if op == Operator.CONTAINS and isinstance(schema, ArraySchema) else schema
    for value in where.value if op == Operator.IN else [where.value]:
        _check_value(element, value, where.property)
    name = f"v{len(params)}"
    params[name] = list(where.value) if op == Operator.IN else where.value
    if op in _COMPARE:
        return f"t.{key} {_COMPARE[op]} ${name}"
    if op == Operator.IN:
        return f"t.{key} IN ${name}"
    if isinstance(schema, ArraySchema):
        return f"${name} IN t.{key}"
    return f"t.{key} CONTAINS ${name}"


def _check_value(schema: Schema, value: Any, path: str) -> None:
    """Refuse a value of the wrong JSON type for a scalar property (no engine would ever match it)."""
    kind = schema.value_schema if isinstance(schema, EnumSchema) else getattr(schema, "kind", None)
    expected = _JSON_TYPES.get(str(kind))
    if expected is None:
        return
    if isinstance(value, bool) != (expected is bool) or not isinstance(value, expected):
        raise BadRequest(
            f"{path!r} is a {kind}; {value!r} cannot match it",
            details={"property": path, "value": value, "schema": kind},
        )


def _property(models: ModelSet, model: str, path: str) -> tuple[str, Schema]:
    """The backticked graph key of property ``path`` of ``model`` and its schema; ``BadRequest`` if none."""
    if path in _SYSTEM:
        return f"`{path}`", PrimitiveSchema(_SYSTEM[path], "")
    head, *rest = path.split(".")
    # A property of a model extending ``model`` counts too: twins of other subtypes lack it
    # and so match no condition on it (the first extending model by DTMI gives the schema).
    declared = next(
        (
            found
            for dtmi in (model, *sorted(d for d in models if d != model and models.is_a(d, model)))
            if (found := models[dtmi].properties.get(head)) is not None
        ),
        None,
    )
    if declared is None:
        raise BadRequest(
            f"neither {model} nor a model extending it has a property {head!r}",
            details={"model": model, "property": path},
        )
    schema: Schema = declared.schema
    for segment in rest:
        if isinstance(schema, ObjectSchema):
            field = next((f for f in schema.fields if f.name == segment), None)
            if field is None:
                raise BadRequest(f"{path!r}: the object has no field {segment!r}", details={"property": path})
            schema = field.schema
        elif isinstance(schema, MapSchema) and segment and _MAP_KEY_FORBIDDEN not in segment:
            schema = schema.value
        else:
            raise BadRequest(
                f"{path!r}: {segment!r} is not a field of this property", details={"property": path}
            )
    if isinstance(schema, ObjectSchema | MapSchema):
        raise BadRequest(f"{path!r} is an object; name one of its fields", details={"property": path})
    # Each segment is a DTDL name or a Map key without a backtick, so backticks quote it whole.
    return f"`{path}`", schema


def _decode_cursor(cursor: str, query: str, schema: Schema, order_by: str) -> tuple[Any, str]:
    """The sort key and twin id a cursor of ``query`` holds; ``BadRequest`` for any other text.

    A cursor is opaque to clients, but it travels through them: a forged one is checked
    as carefully as a filter value, so that it can only ever start a page somewhere.
    """
    parts = decode_cursor(cursor, 3)
    if parts is None:
        raise BadRequest("the cursor is not one this query returned", details={"after": cursor})
    fingerprint, key, twin_id = parts
    if fingerprint != query:
        raise BadRequest(
            "the cursor belongs to another query (model, filter or sort order)", details={"after": cursor}
        )
    if not isinstance(twin_id, str) or not twin_id:
        raise BadRequest("the cursor is not one this query returned", details={"after": cursor})
    if key is not None:
        try:
            _check_value(schema, key, order_by)
        except BadRequest:
            raise BadRequest("the cursor is not one this query returned", details={"after": cursor}) from None
        if (isinstance(key, float) and not math.isfinite(key)) or (
            isinstance(key, int) and not -(2**63) <= key < 2**63
        ):
            raise BadRequest("the cursor is not one this query returned", details={"after": cursor})
    return key, twin_id
