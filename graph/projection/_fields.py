"""What a projected read brings of each twin, and which properties it may read as stored.

Private to ``graph.projection``; the types are re-exported there.
"""

from __future__ import annotations

from dataclasses import dataclass

from graph._traversal import Direction
from ontology.model import EnumSchema, ModelSet, ObjectSchema, PrimitiveSchema, Property, Schema

_EXACT_KINDS = frozenset(
    {"boolean", "integer", "long", "string", "date", "dateTime", "time", "duration", "uuid", "bytes"}
)
"""Primitive schemas whose value a node holds exactly as the document does (a scalar or a string)."""
_FLOAT_KINDS = frozenset({"double", "float"})
_CACHE_KEY = "graph.projection.stored_keys"


@dataclass(frozen=True)
class Relationships:
    """The relationships named ``name`` (any when None) of each twin read, in ``direction``.

    ``properties``: decode each relationship's DTDL properties too.
    """

    name: str | None
    direction: Direction
    properties: bool = True


@dataclass(frozen=True)
class Neighbours:
    """The twins one relationship named ``name`` (any when None) away, in ``direction``, with ``fields``."""

    name: str | None
    direction: Direction
    fields: TwinFields


@dataclass(frozen=True)
class TwinFields:
    """What a read brings of each twin besides its id: only these travel from the engine.

    ``stored`` names node keys holding a property as stored (:func:`stored_key`), read
    without decoding the document; ``document`` decodes the whole DTDL document.
    ``telemetry`` parses the telemetry reference; ``latest`` reads the last values the
    ingest copied onto the node, for these telemetry names.
    """

    model: bool = False
    etag: bool = False
    created_at: bool = False
    updated_at: bool = False
    document: bool = False
    stored: tuple[str, ...] = ()
    telemetry: bool = False
    latest: tuple[str, ...] = ()
    relationships: tuple[Relationships, ...] = ()
    neighbours: tuple[Neighbours, ...] = ()


def stored_key(models: ModelSet, path: str, *, exact_floats: bool) -> str | None:
    """The node key that holds property ``path`` exactly as the twin's document does; None if none may.

    A property is flattened onto the node (``graph.physical``), but the flattened value is
    the document's only for a scalar reached through Objects: a Map key may hold a dot, an
    array's numbers are widened, an Object is many keys. So ``path`` qualifies when some
    model declares its first segment and, in every model that does, it leads through Object
    fields to a boolean, integer, string or time, an Enum, or (``exact_floats``, where the
    engine returns doubles to the last bit) a double. Anything else is read from the document.
    """
    cache = models.cache.setdefault(_CACHE_KEY, {})
    key = (path, exact_floats)
    if key not in cache:
        cache[key] = _stored_key(models, path, exact_floats)
    found: str | None = cache[key]
    return found


def _stored_key(models: ModelSet, path: str, exact_floats: bool) -> str | None:
    head, *rest = path.split(".")
    declared = [found for dtmi in models if (found := models[dtmi].contents.get(head)) is not None]
    if not declared:
        return None
    for content in declared:
        # A Component (or any other content) of that name is no Property: read the document.
        if not isinstance(content, Property) or not _exact(content.schema, rest, exact_floats):
            return None
    return path


def _exact(schema: Schema, rest: list[str], exact_floats: bool) -> bool:
    for segment in rest:
        if not isinstance(schema, ObjectSchema):
            return False
        field = next((f for f in schema.fields if f.name == segment), None)
        if field is None:
            return False
        schema = field.schema
    if isinstance(schema, EnumSchema):
        return True
    if not isinstance(schema, PrimitiveSchema):
        return False
    return schema.kind in _EXACT_KINDS or (exact_floats and schema.kind in _FLOAT_KINDS)
